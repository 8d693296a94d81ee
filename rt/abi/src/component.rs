//! A component's instance graph as `wafer build` resolves it: which core modules to
//! instantiate, in which order, with which imports, and which export to run. Nested components
//! are inlined at build time, so the runtime sees only core instances and never parses wasm.
//!
//! The plan travels in the executable as bytes ([`Plan::encode`], section [`SECTION`]); the
//! modules it names are the executable's module descriptors, in their order.
//!
//! An import of a core instance is one of:
//! - another core instance's export, by name ([`Binding::Export`]);
//! - a runtime host function, which the build already bound by relocation (the import's
//!   `host_code`, as for a core-module driver). With a [`HostContext`] (the canonical options
//!   of its `canon lower` name a memory) it is called with the context of a core instance
//!   whose memory 0 is that memory, and allocates with the `realloc` the options name;
//!   without one (no memory, and `resource.drop`), with the calling instance's context.
//! - an [`Adapter`]: a call into a function another component (or the same one) lifted. The
//!   import's relocation names a trampoline of the entry object ([`adapter_symbol`]) with the
//!   caller's flat core signature, which hands its arguments to the runtime's
//!   [`crate::SYM_ADAPTER_CALL`]; the runtime copies the values between the two memories as
//!   the canonical ABI lays them out ([`ValType`] is the type tree that drives it).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::{put_opt, put_str, put_u32, Reader};

/// The section holding an executable's plan.
pub const SECTION: &str = ".wafer.component";

/// First bytes of an encoded plan; a plan of another version is refused.
const MAGIC: &[u8; 8] = b"wafer-c2";

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// Core instances, in instantiation order; an instance refers only to earlier ones.
    pub instances: Vec<CoreInstance>,
    /// The lifted `wasi:cli/run#run` the executable calls.
    pub run: RunExport,
    /// Calls from one component's core code into a lifted function, by [`Binding::Adapter`]
    /// index.
    pub adapters: Vec<Adapter>,
    /// The core instance whose memory the `wafer:wasi-over-wali` channel reaches (the app of
    /// an executable built `--wasi-over-wali`; see [`crate::wasi_over_wali`]).
    pub channel_client: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreInstance {
    /// Index of the module among the executable's descriptors.
    pub module: u32,
    /// One binding per import of the module, in the module's import order.
    pub imports: Vec<Binding>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Export `name` of the earlier core instance `instance`.
    Export { instance: u32, name: String },
    /// The host function the import's relocation names.
    Host { context: Option<HostContext> },
    /// Adapter `index` of [`Plan::adapters`], whose trampoline the import's relocation names.
    Adapter { index: u32 },
}

/// The import module a compiler-side binding uses for an adapter (its field is the index).
pub const ADAPTER_MODULE: &str = "wafer:adapter";

/// The entry object's trampoline for adapter `index`.
pub fn adapter_symbol(index: u32) -> String {
    alloc::format!("wafer_adapter_{index}")
}

/// An export of a core instance: (instance, export name).
pub type CoreRef = (u32, String);

/// A `canon lower` of a lifted function: everything the runtime needs to pass a call from the
/// caller's core code to the callee's and back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// What the callee is, for messages (its core export name).
    pub name: String,
    pub ty: FuncType,
    /// The lifted core function.
    pub callee: CoreRef,
    /// The lifting's canonical options (string encoding UTF-8; others are refused at build).
    pub callee_memory: Option<CoreRef>,
    pub callee_realloc: Option<CoreRef>,
    pub callee_post_return: Option<CoreRef>,
    /// The lowering's canonical options.
    pub caller_memory: Option<CoreRef>,
    pub caller_realloc: Option<CoreRef>,
}

/// A component-level function type, with every type name resolved away.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub result: Option<ValType>,
}

/// A component value type as the canonical ABI sees it: records and tuples are [`Record`]s;
/// variants, enums, options and results are [`Variant`]s (a case without payload is `None`).
///
/// [`Record`]: ValType::Record
/// [`Variant`]: ValType::Variant
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValType {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<ValType>),
    Record(Vec<ValType>),
    Variant(Vec<Option<ValType>>),
    /// Flags with this many labels (1 to 32; more are refused at build time).
    Flags(u32),
}

/// Flat parameters past this many go through memory.
pub const MAX_FLAT_PARAMS: usize = 16;
/// Flat results past this many go through memory.
pub const MAX_FLAT_RESULTS: usize = 1;

fn align_up(offset: u32, align: u32) -> u32 {
    offset.div_ceil(align) * align
}

impl ValType {
    /// Byte alignment in linear memory.
    pub fn align(&self) -> u32 {
        match self {
            ValType::Bool | ValType::S8 | ValType::U8 => 1,
            ValType::S16 | ValType::U16 => 2,
            ValType::S32 | ValType::U32 | ValType::F32 | ValType::Char => 4,
            ValType::S64 | ValType::U64 | ValType::F64 => 8,
            ValType::String | ValType::List(_) => 4,
            ValType::Record(fields) => fields.iter().map(ValType::align).max().unwrap_or(1),
            ValType::Variant(cases) => {
                Self::discriminant_size(cases.len()).max(Self::payload_align(cases))
            }
            ValType::Flags(n) => Self::flags_size(*n).min(4),
        }
    }

    /// Byte size in linear memory (a multiple of the alignment).
    pub fn size(&self) -> u32 {
        match self {
            ValType::Bool | ValType::S8 | ValType::U8 => 1,
            ValType::S16 | ValType::U16 => 2,
            ValType::S32 | ValType::U32 | ValType::F32 | ValType::Char => 4,
            ValType::S64 | ValType::U64 | ValType::F64 => 8,
            ValType::String | ValType::List(_) => 8,
            ValType::Record(fields) => {
                let mut at = 0;
                for f in fields {
                    at = align_up(at, f.align()) + f.size();
                }
                align_up(at, self.align())
            }
            ValType::Variant(cases) => {
                let payload = cases.iter().flatten().map(ValType::size).max().unwrap_or(0);
                align_up(Self::payload_offset(cases) + payload, self.align())
            }
            ValType::Flags(n) => Self::flags_size(*n),
        }
    }

    /// Offsets of a record's fields.
    pub fn field_offsets(fields: &[ValType]) -> Vec<u32> {
        let mut at = 0;
        fields
            .iter()
            .map(|f| {
                at = align_up(at, f.align());
                let here = at;
                at += f.size();
                here
            })
            .collect()
    }

    /// Bytes of a variant's discriminant with `cases` cases.
    pub fn discriminant_size(cases: usize) -> u32 {
        match cases {
            0..=0x100 => 1,
            0x101..=0x1_0000 => 2,
            _ => 4,
        }
    }

    fn payload_align(cases: &[Option<ValType>]) -> u32 {
        cases
            .iter()
            .flatten()
            .map(ValType::align)
            .max()
            .unwrap_or(1)
    }

    /// Where a variant's payload starts, after the discriminant.
    pub fn payload_offset(cases: &[Option<ValType>]) -> u32 {
        align_up(
            Self::discriminant_size(cases.len()),
            Self::payload_align(cases),
        )
    }

    fn flags_size(n: u32) -> u32 {
        match n {
            0..=8 => 1,
            9..=16 => 2,
            _ => 4 * n.div_ceil(32),
        }
    }

    /// Appends the core types ([`crate::valtype`] codes) of the flattened value.
    pub fn flatten(&self, out: &mut Vec<u8>) {
        use crate::valtype::{F32, F64, I32, I64};
        match self {
            ValType::S64 | ValType::U64 => out.push(I64),
            ValType::F32 => out.push(F32),
            ValType::F64 => out.push(F64),
            ValType::String | ValType::List(_) => out.extend([I32, I32]),
            ValType::Record(fields) => fields.iter().for_each(|f| f.flatten(out)),
            ValType::Variant(cases) => {
                out.push(I32);
                let mut joined: Vec<u8> = Vec::new();
                for case in cases.iter().flatten() {
                    let mut flat = Vec::new();
                    case.flatten(&mut flat);
                    for (i, t) in flat.into_iter().enumerate() {
                        match joined.get_mut(i) {
                            None => joined.push(t),
                            Some(have) if *have == t => {}
                            Some(have) if matches!((*have, t), (I32, F32) | (F32, I32)) => {
                                *have = I32
                            }
                            Some(have) => *have = I64,
                        }
                    }
                }
                out.extend(joined);
            }
            ValType::Flags(n) => out.extend(core::iter::repeat_n(I32, n.div_ceil(32) as usize)),
            _ => out.push(I32),
        }
    }

    /// The number of flat core values.
    pub fn flat_count(&self) -> usize {
        let mut out = Vec::new();
        self.flatten(&mut out);
        out.len()
    }
}

impl FuncType {
    /// The parameters as one tuple (how they are laid out when they go through memory).
    pub fn params_tuple(&self) -> ValType {
        ValType::Record(self.params.clone())
    }

    fn flat_params(&self) -> Vec<u8> {
        let mut flat = Vec::new();
        self.params.iter().for_each(|p| p.flatten(&mut flat));
        flat
    }

    fn flat_results(&self) -> Vec<u8> {
        let mut flat = Vec::new();
        if let Some(r) = &self.result {
            r.flatten(&mut flat);
        }
        flat
    }

    /// Whether the parameters go through memory.
    pub fn params_in_memory(&self) -> bool {
        self.flat_params().len() > MAX_FLAT_PARAMS
    }

    /// Whether the result goes through memory.
    pub fn result_in_memory(&self) -> bool {
        self.flat_results().len() > MAX_FLAT_RESULTS
    }

    /// The core signature `canon lower` gives the caller: parameters past 16 flat values as
    /// one pointer to them in the caller's memory, a result past one flat value through a
    /// return pointer appended to the parameters.
    pub fn lowered_signature(&self) -> (Vec<u8>, Vec<u8>) {
        use crate::valtype::I32;
        let mut params = self.flat_params();
        if params.len() > MAX_FLAT_PARAMS {
            params = alloc::vec![I32];
        }
        let mut results = self.flat_results();
        if results.len() > MAX_FLAT_RESULTS {
            params.push(I32);
            results.clear();
        }
        (params, results)
    }

    /// The core signature `canon lift` expects of the callee: parameters past 16 flat values
    /// as one pointer to them in its memory (allocated with its realloc), a result past one
    /// flat value returned as a pointer to it.
    pub fn lifted_signature(&self) -> (Vec<u8>, Vec<u8>) {
        use crate::valtype::I32;
        let mut params = self.flat_params();
        if params.len() > MAX_FLAT_PARAMS {
            params = alloc::vec![I32];
        }
        let mut results = self.flat_results();
        if results.len() > MAX_FLAT_RESULTS {
            results = alloc::vec![I32];
        }
        (params, results)
    }
}

/// The memory and allocator a host function works with, as the canonical options name them.
/// The runtime calls the function with the context of the realloc's instance when that
/// instance's memory 0 is the memory (the preview1 adapter's case: it imports the main
/// module's memory and allocates with its own `cabi_import_realloc`), else of the memory's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostContext {
    /// The exported memory: (core instance, export name).
    pub memory: (u32, String),
    /// The exported `realloc` function, if the options name one.
    pub realloc: Option<(u32, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RunExport {
    /// The core instance exporting the function.
    pub instance: u32,
    /// Its core export: for [`RunKind::CliRun`] `() -> i32`, the flat `result` (0 ok, 1 err);
    /// for [`RunKind::Start`] a preview1 command's `() -> ()`.
    pub name: String,
    /// The `post-return` option's export of the same instance, if any.
    pub post_return: Option<String>,
    pub kind: RunKind,
}

/// How the executable runs its [`RunExport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RunKind {
    /// A lifted `wasi:cli/run#run`: exit 0 for ok, 1 for err.
    #[default]
    CliRun,
    /// A core module's `_start`: exit 0 when it returns (the command ends earlier through
    /// `proc_exit` otherwise).
    Start,
}

impl Plan {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, self.instances.len() as u32);
        for i in &self.instances {
            put_u32(&mut out, i.module);
            put_u32(&mut out, i.imports.len() as u32);
            for b in &i.imports {
                match b {
                    Binding::Export { instance, name } => {
                        out.push(0);
                        put_u32(&mut out, *instance);
                        put_str(&mut out, name);
                    }
                    Binding::Host { context: None } => out.push(1),
                    Binding::Adapter { index } => {
                        out.push(3);
                        put_u32(&mut out, *index);
                    }
                    Binding::Host {
                        context: Some(HostContext { memory, realloc }),
                    } => {
                        out.push(2);
                        put_u32(&mut out, memory.0);
                        put_str(&mut out, &memory.1);
                        match realloc {
                            None => out.push(0),
                            Some((instance, name)) => {
                                out.push(1);
                                put_u32(&mut out, *instance);
                                put_str(&mut out, name);
                            }
                        }
                    }
                }
            }
        }
        put_u32(&mut out, self.run.instance);
        put_str(&mut out, &self.run.name);
        put_opt_str(&mut out, self.run.post_return.as_deref());
        out.push(match self.run.kind {
            RunKind::CliRun => 0,
            RunKind::Start => 1,
        });
        put_opt(&mut out, self.channel_client, put_u32);
        put_u32(&mut out, self.adapters.len() as u32);
        for a in &self.adapters {
            put_str(&mut out, &a.name);
            put_func_type(&mut out, &a.ty);
            put_ref(&mut out, &a.callee);
            for r in [
                &a.callee_memory,
                &a.callee_realloc,
                &a.callee_post_return,
                &a.caller_memory,
                &a.caller_realloc,
            ] {
                match r {
                    None => out.push(0),
                    Some(r) => {
                        out.push(1);
                        put_ref(&mut out, r);
                    }
                }
            }
        }
        out
    }

    /// Decodes what [`Plan::encode`] wrote and checks that every instance refers only to
    /// earlier ones (the module indices are the runtime's to check against its descriptors).
    pub fn decode(bytes: &[u8]) -> Result<Plan, &'static str> {
        let mut r = Reader {
            bytes,
            damaged: "the component plan is truncated or damaged",
            not_utf8: "a name in the component plan is not UTF-8",
        };
        if r.take(MAGIC.len())? != MAGIC {
            return Err("the component plan was written by another version of wafer");
        }
        let count = r.u32()?;
        let mut instances = Vec::new();
        for index in 0..count {
            let module = r.u32()?;
            let n = r.u32()?;
            let mut imports = Vec::new();
            for _ in 0..n {
                let earlier = |i: u32| {
                    if i < index {
                        Ok(i)
                    } else {
                        Err("a core instance refers to a later one")
                    }
                };
                imports.push(match r.u8()? {
                    0 => Binding::Export {
                        instance: earlier(r.u32()?)?,
                        name: r.string()?,
                    },
                    1 => Binding::Host { context: None },
                    2 => {
                        let memory = (earlier(r.u32()?)?, r.string()?);
                        let realloc = match r.u8()? {
                            0 => None,
                            1 => Some((earlier(r.u32()?)?, r.string()?)),
                            _ => return Err("bad realloc in the component plan"),
                        };
                        Binding::Host {
                            context: Some(HostContext { memory, realloc }),
                        }
                    }
                    3 => Binding::Adapter { index: r.u32()? },
                    _ => return Err("unknown binding in the component plan"),
                });
            }
            instances.push(CoreInstance { module, imports });
        }
        let run = RunExport {
            instance: r.u32()?,
            name: r.string()?,
            post_return: r.opt_string()?,
            kind: match r.u8()? {
                0 => RunKind::CliRun,
                1 => RunKind::Start,
                _ => return Err("unknown run kind in the component plan"),
            },
        };
        if run.instance >= count {
            return Err("the run export names a core instance that does not exist");
        }
        let channel_client = match r.u8()? {
            0 => None,
            1 => match r.u32()? {
                i if i < count => Some(i),
                _ => return Err("the channel names a core instance that does not exist"),
            },
            _ => return Err("bad channel client in the component plan"),
        };
        let known = |(i, name): CoreRef| {
            if i < count {
                Ok((i, name))
            } else {
                Err("an adapter names a core instance that does not exist")
            }
        };
        let n = r.u32()?;
        let mut adapters = Vec::new();
        for _ in 0..n {
            let name = r.string()?;
            let ty = r.func_type()?;
            let callee = known(r.core_ref()?)?;
            let mut refs = [None, None, None, None, None];
            for slot in refs.iter_mut() {
                *slot = match r.u8()? {
                    0 => None,
                    1 => Some(known(r.core_ref()?)?),
                    _ => return Err("bad option in the component plan"),
                };
            }
            let [callee_memory, callee_realloc, callee_post_return, caller_memory, caller_realloc] =
                refs;
            adapters.push(Adapter {
                name,
                ty,
                callee,
                callee_memory,
                callee_realloc,
                callee_post_return,
                caller_memory,
                caller_realloc,
            });
        }
        for i in &instances {
            for b in &i.imports {
                if let Binding::Adapter { index } = b {
                    if *index as usize >= adapters.len() {
                        return Err("a binding names an adapter that does not exist");
                    }
                }
            }
        }
        if !r.bytes.is_empty() {
            return Err("trailing bytes after the component plan");
        }
        Ok(Plan {
            instances,
            run,
            adapters,
            channel_client,
        })
    }
}

fn put_ref(out: &mut Vec<u8>, (instance, name): &CoreRef) {
    put_u32(out, *instance);
    put_str(out, name);
}

fn put_func_type(out: &mut Vec<u8>, ty: &FuncType) {
    put_u32(out, ty.params.len() as u32);
    for p in &ty.params {
        put_val_type(out, p);
    }
    match &ty.result {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            put_val_type(out, r);
        }
    }
}

fn put_val_type(out: &mut Vec<u8>, ty: &ValType) {
    let simple = [
        ValType::Bool,
        ValType::S8,
        ValType::U8,
        ValType::S16,
        ValType::U16,
        ValType::S32,
        ValType::U32,
        ValType::S64,
        ValType::U64,
        ValType::F32,
        ValType::F64,
        ValType::Char,
        ValType::String,
    ];
    if let Some(code) = simple.iter().position(|t| t == ty) {
        out.push(code as u8);
        return;
    }
    match ty {
        ValType::List(elem) => {
            out.push(20);
            put_val_type(out, elem);
        }
        ValType::Record(fields) => {
            out.push(21);
            put_u32(out, fields.len() as u32);
            fields.iter().for_each(|f| put_val_type(out, f));
        }
        ValType::Variant(cases) => {
            out.push(22);
            put_u32(out, cases.len() as u32);
            for c in cases {
                match c {
                    None => out.push(0),
                    Some(t) => {
                        out.push(1);
                        put_val_type(out, t);
                    }
                }
            }
        }
        ValType::Flags(n) => {
            out.push(23);
            put_u32(out, *n);
        }
        _ => unreachable!("simple types are handled above"),
    }
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    put_opt(out, s, put_str);
}

impl Reader<'_> {
    fn core_ref(&mut self) -> Result<CoreRef, &'static str> {
        Ok((self.u32()?, self.string()?))
    }
    fn func_type(&mut self) -> Result<FuncType, &'static str> {
        let n = self.u32()?;
        let mut params = Vec::new();
        for _ in 0..n {
            params.push(self.val_type(0)?);
        }
        let result = match self.u8()? {
            0 => None,
            1 => Some(self.val_type(0)?),
            _ => return Err("bad function type in the component plan"),
        };
        Ok(FuncType { params, result })
    }
    fn val_type(&mut self, depth: u32) -> Result<ValType, &'static str> {
        // The compiler writes types a validated component declares; a deeper one is damage.
        if depth > 100 {
            return Err("a type in the component plan nests too deeply");
        }
        let simple = [
            ValType::Bool,
            ValType::S8,
            ValType::U8,
            ValType::S16,
            ValType::U16,
            ValType::S32,
            ValType::U32,
            ValType::S64,
            ValType::U64,
            ValType::F32,
            ValType::F64,
            ValType::Char,
            ValType::String,
        ];
        let code = self.u8()?;
        if let Some(t) = simple.get(code as usize) {
            return Ok(t.clone());
        }
        Ok(match code {
            20 => ValType::List(Box::new(self.val_type(depth + 1)?)),
            21 => {
                let n = self.u32()?;
                let mut fields = Vec::new();
                for _ in 0..n {
                    fields.push(self.val_type(depth + 1)?);
                }
                if fields.is_empty() {
                    return Err("an empty record in the component plan");
                }
                ValType::Record(fields)
            }
            22 => {
                let n = self.u32()?;
                let mut cases = Vec::new();
                for _ in 0..n {
                    cases.push(match self.u8()? {
                        0 => None,
                        1 => Some(self.val_type(depth + 1)?),
                        _ => return Err("bad variant case in the component plan"),
                    });
                }
                if cases.is_empty() {
                    return Err("a variant without cases in the component plan");
                }
                ValType::Variant(cases)
            }
            23 => match self.u32()? {
                n @ 1..=32 => ValType::Flags(n),
                _ => return Err("bad flags in the component plan"),
            },
            _ => return Err("unknown type in the component plan"),
        })
    }
    fn opt_string(&mut self) -> Result<Option<String>, &'static str> {
        self.opt(|r| r.string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn plans_round_trip_and_refuse_forward_references() {
        let plan = Plan {
            instances: vec![
                CoreInstance {
                    module: 1,
                    imports: vec![],
                },
                CoreInstance {
                    module: 0,
                    imports: vec![
                        Binding::Export {
                            instance: 0,
                            name: "0".to_string(),
                        },
                        Binding::Host { context: None },
                    ],
                },
                CoreInstance {
                    module: 2,
                    imports: vec![Binding::Host {
                        context: Some(HostContext {
                            memory: (1, "memory".to_string()),
                            realloc: Some((0, "cabi_import_realloc".to_string())),
                        }),
                    }],
                },
            ],
            run: RunExport {
                instance: 1,
                name: "wasi:cli/run@0.2.0#run".to_string(),
                post_return: None,
                kind: RunKind::Start,
            },
            channel_client: Some(1),
            adapters: vec![Adapter {
                name: "read".to_string(),
                ty: FuncType {
                    params: vec![ValType::String, ValType::Flags(3)],
                    result: Some(ValType::Variant(vec![
                        Some(ValType::List(Box::new(ValType::U8))),
                        None,
                        Some(ValType::Record(vec![ValType::Char, ValType::F64])),
                    ])),
                },
                callee: (0, "f".to_string()),
                callee_memory: Some((0, "memory".to_string())),
                callee_realloc: None,
                callee_post_return: Some((0, "post".to_string())),
                caller_memory: Some((2, "m".to_string())),
                caller_realloc: Some((2, "r".to_string())),
            }],
        };
        let bytes = plan.encode();
        assert_eq!(Plan::decode(&bytes), Ok(plan.clone()));
        let mut forward = plan;
        forward.instances[1].imports[0] = Binding::Export {
            instance: 1,
            name: "x".to_string(),
        };
        assert!(Plan::decode(&forward.encode()).is_err());
        assert!(Plan::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn layouts_and_flattening_follow_the_canonical_abi() {
        use crate::valtype::{F32, I32, I64};
        let result = ValType::Variant(vec![
            Some(ValType::List(Box::new(ValType::U8))),
            Some(ValType::String),
        ]);
        assert_eq!((result.size(), result.align()), (12, 4));
        let mut flat = Vec::new();
        result.flatten(&mut flat);
        assert_eq!(flat, [I32, I32, I32]);
        let mixed = ValType::Variant(vec![Some(ValType::F32), Some(ValType::U64), None]);
        assert_eq!((mixed.size(), mixed.align()), (16, 8));
        let mut flat = Vec::new();
        mixed.flatten(&mut flat);
        assert_eq!(flat, [I32, I64]);
        let f = ValType::Variant(vec![Some(ValType::F32), Some(ValType::U32)]);
        let mut flat = Vec::new();
        f.flatten(&mut flat);
        assert_eq!(flat, [I32, I32]);
        let only_float = ValType::Variant(vec![Some(ValType::F32), None]);
        let mut flat = Vec::new();
        only_float.flatten(&mut flat);
        assert_eq!(flat, [I32, F32]);
        let rec = ValType::Record(vec![ValType::U8, ValType::U32, ValType::U16]);
        assert_eq!((rec.size(), rec.align()), (12, 4));
        assert_eq!(
            ValType::field_offsets(&[ValType::U8, ValType::U32, ValType::U16]),
            [0, 4, 8]
        );
        assert_eq!(
            (ValType::Flags(9).size(), ValType::Flags(9).align()),
            (2, 2)
        );
        let ty = FuncType {
            params: vec![ValType::String],
            result: Some(result),
        };
        assert_eq!(ty.lowered_signature(), (vec![I32, I32, I32], vec![]));
        assert_eq!(ty.lifted_signature(), (vec![I32, I32], vec![I32]));
        let many = FuncType {
            params: vec![ValType::U64; 17],
            result: Some(ValType::U8),
        };
        assert_eq!(many.lowered_signature(), (vec![I32], vec![I32]));
    }
}
