//! wafer's ahead-of-time compiler: a WebAssembly module in, a relocatable native object out.
//!
//! The pipeline: `module.rs` parses and validates the module with wasmparser and refuses
//! unsupported features by name; `translate/` turns each function body into Cranelift IR
//! (functions are compiled in parallel); `object.rs` writes the machine code, the array-call
//! trampolines, the instantiation-time `init` function, the trap table and the module
//! descriptor (see `wafer_abi`) into one ELF object. No I/O: callers get bytes.

pub mod component;
mod descriptor;
mod entry;
pub mod error;
mod features;
mod host_imports;
mod host_stubs;
mod init_func;
mod isa;
mod module;
pub mod module_info;
mod object;
mod trampoline;
pub mod translate;

pub use error::{CompileError, Result};
pub use host_imports::{
    describe as describe_signature, shaped as host_func_shaped, shapes_of as import_shapes, Shapes,
};
pub use isa::{enabled_isa_flags, host_isa_flags, make_isa};

/// What `wafer build` refuses in a core module, by name: the WebAssembly proposals it needs
/// that wafer does not compile (`"tail-call"`, `"exception-handling, gc"`, ...), or else the
/// first construct of a supported proposal that wafer does not implement; `None` when the build
/// accepts all of it (or the module is malformed or invalid anyway, which the build reports
/// as such).
pub fn unsupported_features(wasm: &[u8]) -> Option<String> {
    let valid = wasmparser::Validator::new_with_features(features::supported())
        .validate_all(wasm)
        .is_ok();
    if !valid {
        return features::required_unsupported(wasm);
    }
    // The module-level checks of the build, without binding imports (inspect reports each
    // import on its own) and without translating the function bodies, whose every
    // instruction of a supported proposal is translated.
    let opts = module::ParseOptions {
        bounds_checks: BoundsChecks::Guard,
        pointer_type: cranelift_codegen::ir::types::I64,
        v128_type: cranelift_codegen::ir::types::I8X16,
        resolve_host_imports: false,
        signal_safe_points: false,
        import_bindings: None,
    };
    match module::parse(wasm, &opts) {
        Err(CompileError::Unsupported(what)) => Some(what),
        _ => None,
    }
}

use target_lexicon::Triple;
use wafer_abi::{BoundsChecks, EntryMode};

/// How to compile one module.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub triple: Triple,
    /// Extra Cranelift ISA flags, e.g. ("has_sse41","true"): the CPU features of a board or of
    /// `--cpu-features`.
    pub isa_flags: Vec<(String, String)>,
    pub bounds_checks: BoundsChecks,
    /// Build-time cap on memory pages (≤ 65536).
    pub memory_cap_pages: u32,
    /// Symbol prefix: descriptor is `<prefix>_module` (wafer_abi::descriptor_symbol).
    pub symbol_prefix: String,
    /// true (drivers): imports from wafer_abi::HOST_MODULES are bound statically to the runtime
    /// symbol of wafer_abi::HOST_FUNCS (ImportDesc.host_code relocation) after checking the
    /// signature; any other function/table/memory/global import is CompileError::UnknownImport.
    /// false (spec harness): every import is left for the runtime to bind by name (host_code
    /// null).
    pub resolve_host_imports: bool,
    /// Native stack for wasm code per thread, in bytes; `None` picks the default for the
    /// module's kind (1 MiB, or 4 MiB for a WALI program, as WALI's reference engine gives).
    pub wasm_stack: Option<u64>,
    /// WALI programs: check for pending signals at function entries and loop headers, so
    /// that a handler interrupts a CPU-bound loop (the default). Off, handlers run only when
    /// a syscall returns; for measuring what the checks cost.
    pub signal_safe_points: bool,
    /// For a core module of a component: per import, in order, the host function it is bound
    /// to (checked like a driver's host import), or `None` for an import the component plan
    /// links to another core instance. Takes the place of `resolve_host_imports`.
    pub import_bindings: Option<Vec<Option<component::HostImport>>>,
}

impl CompileOptions {
    /// The native target with its default flags, guard-page bounds checks, no memory cap
    /// below the wasm maximum, and host imports resolved (what a driver build wants).
    pub fn host(prefix: impl Into<String>) -> Self {
        CompileOptions {
            triple: Triple::host(),
            isa_flags: Vec::new(),
            bounds_checks: BoundsChecks::Guard,
            memory_cap_pages: wafer_abi::MAX_WASM_PAGES as u32,
            symbol_prefix: prefix.into(),
            resolve_host_imports: true,
            wasm_stack: None,
            signal_safe_points: true,
            import_bindings: None,
        }
    }
}

/// Longest prefix that leaves room for the longest suffix wafer appends.
const MAX_PREFIX_LEN: usize = 100;

/// Symbol prefixes become parts of linker symbols: keep them to C identifier characters.
fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && !prefix.starts_with(|c: char| c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CompileError::Codegen(format!(
            "symbol prefix {prefix:?} must be 1 to {MAX_PREFIX_LEN} ASCII letters, digits or \
             underscores, not starting with a digit"
        )))
    }
}

/// Compiles a wasm binary into a relocatable ELF object for `opts.triple`.
pub fn compile(wasm: &[u8], opts: &CompileOptions) -> Result<Vec<u8>> {
    check_prefix(&opts.symbol_prefix)?;
    let isa = make_isa(&opts.triple, &opts.isa_flags)?;
    let parsed = module::parse(
        wasm,
        &module::ParseOptions {
            bounds_checks: opts.bounds_checks,
            pointer_type: isa.pointer_type(),
            v128_type: translate::simd::v128_type(&*isa),
            resolve_host_imports: opts.resolve_host_imports,
            signal_safe_points: opts.signal_safe_points,
            import_bindings: opts.import_bindings.as_deref(),
        },
    )?;
    check_memory_cap(&parsed.info, opts.memory_cap_pages)?;
    let is_wali = parsed
        .info
        .imports
        .iter()
        .any(|i| i.module == wafer_abi::wali::MODULE);
    let wasm_stack = opts.wasm_stack.unwrap_or(if is_wali {
        wafer_abi::wali::DEFAULT_STACK
    } else {
        wafer_abi::DEFAULT_WASM_STACK
    });
    object::emit(
        parsed,
        isa,
        &object::ObjectOptions {
            prefix: &opts.symbol_prefix,
            memory_cap_pages: opts.memory_cap_pages,
            wasm_stack,
        },
    )
}

/// A module whose own memory starts above the build-time cap could never be instantiated:
/// say so when it is built, not when it runs on a board. (An imported memory is the
/// exporter's to size; `memory.grow` past the cap fails at run time as wasm says it may.)
fn check_memory_cap(info: &module_info::ModuleInfo, cap_pages: u32) -> Result<()> {
    match &info.memory {
        Some(memory) if !memory.imported && memory.initial_pages > u64::from(cap_pages) => {
            Err(CompileError::Limit(format!(
                "the module's memory starts at {} pages (64 KiB each), above the cap of {cap_pages} pages",
                memory.initial_pages
            )))
        }
        _ => Ok(()),
    }
}

/// An object that defines `main`, calling the runtime entry of `mode` (`EntryMode::rt_main`) with
/// (argc, argv, &[descriptors], count, mode,
/// capabilities, capabilities_len, plan, plan_len). `capabilities` is
/// `wafer_abi::capabilities::encode`'s output (empty for none), stored in section
/// `wafer_abi::capabilities::SECTION`; `plan` is what the mode reads (for
/// [`EntryMode::Invoke`], `wafer_abi::invoke::Invoke::encode`'s output; empty otherwise).
pub fn compile_entry(
    triple: &Triple,
    isa_flags: &[(String, String)],
    prefixes: &[String],
    mode: EntryMode,
    capabilities: &[u8],
    plan: &[u8],
) -> Result<Vec<u8>> {
    let isa = make_isa(triple, isa_flags)?;
    entry::emit(isa, prefixes, mode, capabilities, plan, &[])
}

/// The entry object of a component's executable: like [`compile_entry`] in
/// [`EntryMode::Component`], with the component's encoded plan
/// (`wafer_abi::component::Plan::encode`) in section `wafer_abi::component::SECTION` and the
/// trampolines of its adapters.
pub fn compile_component_entry(
    triple: &Triple,
    isa_flags: &[(String, String)],
    prefixes: &[String],
    capabilities: &[u8],
    plan: &wafer_abi::component::Plan,
) -> Result<Vec<u8>> {
    let isa = make_isa(triple, isa_flags)?;
    let adapters: Vec<(Vec<u8>, Vec<u8>)> = plan
        .adapters
        .iter()
        .map(|a| a.ty.lowered_signature())
        .collect();
    entry::emit(
        isa,
        prefixes,
        EntryMode::Component,
        capabilities,
        &plan.encode(),
        &adapters,
    )
}
