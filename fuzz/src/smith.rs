//! The wasm-smith configuration: what generated modules may contain. It follows what wafer
//! compiles: a proposal wafer gains is switched on here in the same change.

use arbitrary::Unstructured;

use crate::rng::Rng;

/// Largest memory a generated module declares (initial and maximum; every memory has one),
/// so hashing the whole memory after each call stays cheap.
pub const MAX_MEMORY_BYTES: u64 = 2 << 20;

/// Fuel for the whole module (a global wasm-smith counts down at every loop iteration and call,
/// trapping `unreachable` at zero). Little enough that it runs out before either engine's stack
/// does: how deep each engine's stack goes is its own resource limit, not a difference in
/// meaning.
pub const FUEL: u32 = 1_000;

/// Modules of the core target: no imports, every item exported.
pub fn core_config() -> wasm_smith::Config {
    wasm_smith::Config {
        max_imports: 0,
        min_types: 1,
        min_funcs: 2,
        max_funcs: 12,
        export_everything: true,
        canonicalize_nans: true,
        max_memories: 1,
        max_memory32_bytes: MAX_MEMORY_BYTES,
        memory_max_size_required: true,
        max_tables: 2,
        max_table_elements: 1_000,
        table_max_size_required: true,
        max_instructions: 200,
        max_types: 20,
        max_globals: 10,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 20,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        // Relaxed SIMD stays off: its results may differ between engines by design.
        simd_enabled: true,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        compact_imports_enabled: false,
        allow_start_export: true,
        ..Default::default()
    }
}

/// The core module of `seed`, with fuel for termination.
pub fn core_module(seed: u64) -> Vec<u8> {
    let bytes = Rng::new(seed).bytes(64 * 1024);
    let mut u = Unstructured::new(&bytes);
    let mut m = wasm_smith::Module::new(core_config(), &mut u).expect("wasm-smith makes a module");
    m.ensure_termination(FUEL).expect("fuel");
    canonicalize_conversions(m.to_bytes())
}

/// wasm-smith canonicalises the NaNs of arithmetic but not of `f32.demote_f64`,
/// `f64.promote_f32` and their vector forms (`f32x4.demote_f64x2_zero`,
/// `f64x2.promote_low_f32x4`), whose NaN payload the spec leaves to the engine (RISC-V's
/// conversion returns the canonical NaN, x86_64 and aarch64 keep the payload). This rewrite
/// passes each such result through an added function that canonicalises NaNs, so that
/// results, memory and globals are deterministic. Only for modules without imported functions
/// (the added functions are numbered after the defined ones).
pub fn canonicalize_conversions(wasm: Vec<u8>) -> Vec<u8> {
    use wasmparser::{Parser, Payload};
    let needs = Parser::new(0).parse_all(&wasm).flatten().any(|p| match p {
        Payload::CodeSectionEntry(body) => body.get_operators_reader().is_ok_and(|mut r| {
            std::iter::from_fn(|| (!r.eof()).then(|| r.read().ok()).flatten())
                .any(|op| Conversion::of(&op).is_some())
        }),
        _ => false,
    });
    if !needs {
        return wasm;
    }
    let mut module = wasm_encoder::Module::new();
    let mut rewrite = Canonicalize::default();
    use wasm_encoder::reencode::Reencode;
    match rewrite.parse_core_module(&mut module, Parser::new(0), &wasm) {
        Ok(()) => module.finish(),
        Err(_) => wasm,
    }
}

/// The conversions whose NaN results are canonicalised, in the order of the added functions.
#[derive(Clone, Copy)]
enum Conversion {
    F32,
    F64,
    F32x4,
    F64x2,
}

impl Conversion {
    const ALL: [Conversion; 4] = [
        Conversion::F32,
        Conversion::F64,
        Conversion::F32x4,
        Conversion::F64x2,
    ];

    fn of(op: &wasmparser::Operator) -> Option<Conversion> {
        use wasmparser::Operator as O;
        match op {
            O::F32DemoteF64 => Some(Conversion::F32),
            O::F64PromoteF32 => Some(Conversion::F64),
            O::F32x4DemoteF64x2Zero => Some(Conversion::F32x4),
            O::F64x2PromoteLowF32x4 => Some(Conversion::F64x2),
            _ => None,
        }
    }

    fn ty(self) -> wasm_encoder::ValType {
        use wasm_encoder::ValType;
        match self {
            Conversion::F32 => ValType::F32,
            Conversion::F64 => ValType::F64,
            Conversion::F32x4 | Conversion::F64x2 => ValType::V128,
        }
    }

    /// The body of `(x) -> x, with every NaN lane the canonical NaN`.
    fn canonicalising_body(self) -> Vec<wasm_encoder::Instruction<'static>> {
        use wasm_encoder::{BlockType, Instruction as I};
        let lanes = |eq: I<'static>, nan: I<'static>| {
            // bitselect(x, nan, x == x): x where a lane is a number, the NaN elsewhere.
            vec![
                I::LocalGet(0),
                nan,
                I::LocalGet(0),
                I::LocalGet(0),
                eq,
                I::V128Bitselect,
                I::End,
            ]
        };
        let scalar = |eq: I<'static>, nan: I<'static>| {
            vec![
                I::LocalGet(0),
                I::LocalGet(0),
                eq,
                I::If(BlockType::Result(self.ty())),
                I::LocalGet(0),
                I::Else,
                nan,
                I::End,
                I::End,
            ]
        };
        match self {
            Conversion::F32 => scalar(I::F32Eq, I::F32Const(f32::NAN.into())),
            Conversion::F64 => scalar(I::F64Eq, I::F64Const(f64::NAN.into())),
            Conversion::F32x4 => {
                let nan =
                    u128::from(f32::NAN.to_bits()) * 0x0000_0001_0000_0001_0000_0001_0000_0001;
                lanes(I::F32x4Eq, I::V128Const(nan as i128))
            }
            Conversion::F64x2 => {
                let nan = u128::from(f64::NAN.to_bits()) * (1 << 64 | 1);
                lanes(I::F64x2Eq, I::V128Const(nan as i128))
            }
        }
    }
}

#[derive(Default)]
struct Canonicalize {
    /// Index of the first added type (one per [`Conversion`], in order).
    first_type: Option<u32>,
    /// Index of the first added function (one per [`Conversion`], in order).
    first_func: Option<u32>,
}

impl wasm_encoder::reencode::Reencode for Canonicalize {
    type Error = std::convert::Infallible;

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_type_section(self, types, section)?;
        self.first_type = Some(types.len());
        for c in Conversion::ALL {
            types.ty().function([c.ty()], [c.ty()]);
        }
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_function_section(self, functions, section)?;
        let first_type = self
            .first_type
            .expect("a type section before the function section");
        self.first_func = Some(functions.len());
        for i in 0..Conversion::ALL.len() as u32 {
            functions.function(first_type + i);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        use wasm_encoder::Instruction;
        let first = self.first_func.expect("a function section before the code");
        let mut f = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let after = Conversion::of(&op).map(|c| first + c as u32);
            f.instruction(&self.instruction(op)?);
            if let Some(c) = after {
                f.instruction(&Instruction::Call(c));
            }
        }
        code.function(&f);
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        wasm_encoder::reencode::utils::parse_code_section(self, code, section)?;
        for c in Conversion::ALL {
            let mut f = wasm_encoder::Function::new([]);
            for i in c.canonicalising_body() {
                f.instruction(&i);
            }
            code.function(&f);
        }
        Ok(())
    }
}
