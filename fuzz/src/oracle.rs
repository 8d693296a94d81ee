//! The reference engine: wasmtime, in process. It runs a module first and decides what the
//! wafer executable will be asked (the commands) and what it must answer (the outcomes): the
//! results or the trap of every call, and the whole instance state after it.

use std::collections::HashMap;

use wafer_abi::spec_script::{Digest, REF_NULL, REF_OTHER};
use wafer_abi::{valtype, TrapKind};
use wafer_tests::protocol::{Command, Outcome, Value};
use wasmparser::{ExternalKind, Parser, Payload};
use wasmtime::{Engine, Instance, Module, Ref, Store, Trap, Val, ValType};

use crate::rng::Rng;

/// What one module's run asks and expects.
pub struct Plan {
    pub commands: Vec<Command>,
    pub expected: Vec<Outcome>,
    /// Calls made (each followed by a state comparison).
    pub calls: usize,
}

pub struct Reference {
    engine: Engine,
}

impl Default for Reference {
    fn default() -> Self {
        Self::new()
    }
}

impl Reference {
    pub fn new() -> Reference {
        let mut config = wasmtime::Config::new();
        // As deep as wafer's 1 MiB wasm stack and more (within the 2 MiB of a test thread's
        // native stack): the modules' fuel ends a deep recursion before either limit.
        config.max_wasm_stack(3 << 19);
        // What a module computes does not depend on how well it is optimised; compiling
        // without the optimiser halves the reference's share of a run.
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        Reference {
            engine: Engine::new(&config).expect("a wasmtime engine"),
        }
    }

    /// Runs `wasm` as instance number `instance`: instantiation, then `calls` calls of every
    /// exported function with arguments from `rng`, a state reading after each.
    pub fn plan(&self, wasm: &[u8], instance: usize, rng: &mut Rng, calls: usize) -> Plan {
        let mut plan = Plan {
            commands: vec![Command::Instantiate {
                module: instance,
                instance,
            }],
            expected: Vec::new(),
            calls: 0,
        };
        let module = match Module::new(&self.engine, wasm) {
            Ok(m) => m,
            Err(e) => {
                plan.expected
                    .push(Outcome::Error(format!("wasmtime refused the module: {e}")));
                return plan;
            }
        };
        let mut store = Store::new(&self.engine, ());
        let inst = match Instance::new(&mut store, &module, &[]) {
            Ok(i) => i,
            Err(e) => {
                plan.expected.push(failure(&e));
                return plan;
            }
        };
        plan.expected.push(Outcome::Ok(Vec::new()));
        let items = Items::of(wasm);
        let mut world = World {
            store,
            inst,
            items,
            funcs: HashMap::new(),
        };
        world.index_functions();
        let exports: Vec<(String, wasmtime::FuncType)> = module
            .exports()
            .filter_map(|e| Some((e.name().to_string(), e.ty().func()?.clone())))
            .collect();
        for (name, ty) in exports {
            for _ in 0..calls {
                let Some((args, vals)) = arguments(rng, &ty) else {
                    break;
                };
                let func = world.inst.get_func(&mut world.store, &name).unwrap();
                let mut results = vec![Val::I32(0); ty.results().len()];
                let outcome = match func.call(&mut world.store, &vals, &mut results) {
                    Ok(()) => Outcome::Ok(results.iter().map(value).collect()),
                    Err(e) => failure(&e),
                };
                plan.commands.push(Command::Invoke {
                    instance,
                    export: name.clone(),
                    args,
                });
                plan.expected.push(outcome);
                plan.commands.push(Command::State { instance });
                plan.expected.push(world.state());
                plan.calls += 1;
            }
        }
        plan
    }
}

/// A failed instantiation or call as the protocol reports it.
fn failure(e: &wasmtime::Error) -> Outcome {
    match e.downcast_ref::<Trap>() {
        Some(trap) => {
            let kind = trap_kind(*trap);
            Outcome::Trap {
                kind: kind as u8,
                message: kind.message().to_string(),
            }
        }
        None => Outcome::Error(format!("{e:#}")),
    }
}

/// wafer's name for a wasmtime trap. wasmtime has one code for an out-of-range index in both
/// `call_indirect` and the table instructions; [`crate::core::same`] accepts either of wafer's.
fn trap_kind(trap: Trap) -> TrapKind {
    match trap {
        Trap::StackOverflow => TrapKind::StackOverflow,
        Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        Trap::HeapMisaligned => TrapKind::UnalignedAtomic,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::AtomicWaitNonSharedMemory => TrapKind::WaitOnUnsharedMemory,
        Trap::NullReference => TrapKind::NullReference,
        // Nothing a module of the generated features can raise.
        _ => TrapKind::Unreachable,
    }
}

fn value(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x as u32),
        Val::I64(x) => Value::I64(*x as u64),
        Val::F32(b) => Value::F32(*b),
        Val::F64(b) => Value::F64(*b),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(None) => Value::FuncNull,
        Val::FuncRef(Some(_)) => Value::FuncNonNull,
        Val::ExternRef(None) => Value::ExternNull,
        // The generated calls never pass a host reference, so none can come back.
        Val::ExternRef(Some(_)) => Value::Extern(0),
        _ => Value::ExternNull,
    }
}

/// Arguments for a call of `ty`, as the protocol and as wasmtime values; `None` when a
/// parameter type cannot be passed from the script.
fn arguments(rng: &mut Rng, ty: &wasmtime::FuncType) -> Option<(Vec<Value>, Vec<Val>)> {
    let mut args = Vec::new();
    let mut vals = Vec::new();
    for p in ty.params() {
        let (a, v) = match p {
            ValType::I32 => {
                let x = rng.int(32) as u32;
                (Value::I32(x), Val::I32(x as i32))
            }
            ValType::I64 => {
                let x = rng.int(64);
                (Value::I64(x), Val::I64(x as i64))
            }
            ValType::F32 => {
                let b = rng.f32_bits();
                (Value::F32(b), Val::F32(b))
            }
            ValType::F64 => {
                let b = rng.f64_bits();
                (Value::F64(b), Val::F64(b))
            }
            ValType::V128 => {
                let bits = u128::from(rng.int(64)) << 64 | u128::from(rng.int(64));
                (Value::V128(bits), Val::V128(bits.into()))
            }
            ValType::Ref(r) if r.heap_type().is_func() => (Value::FuncNull, Val::FuncRef(None)),
            ValType::Ref(r) if r.heap_type().is_extern() => {
                (Value::ExternNull, Val::ExternRef(None))
            }
            _ => return None,
        };
        args.push(a);
        vals.push(v);
    }
    Some((args, vals))
}

/// Export names of the module's items by kind, in index order (each index once).
#[derive(Default)]
struct Items {
    memory: Option<String>,
    tables: Vec<String>,
    globals: Vec<String>,
    funcs: Vec<(u32, String)>,
}

impl Items {
    fn of(wasm: &[u8]) -> Items {
        let mut by_kind: Vec<(ExternalKind, u32, String)> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm).flatten() {
            if let Payload::ExportSection(r) = payload {
                for e in r.into_iter().flatten() {
                    by_kind.push((e.kind, e.index, e.name.to_string()));
                }
            }
        }
        by_kind.sort_by_key(|(k, i, _)| (*k as u8, *i));
        by_kind.dedup_by_key(|(k, i, _)| (*k as u8, *i));
        let mut items = Items::default();
        for (kind, index, name) in by_kind {
            match kind {
                ExternalKind::Memory if index == 0 => items.memory = Some(name),
                ExternalKind::Table => items.tables.push(name),
                ExternalKind::Global => items.globals.push(name),
                ExternalKind::Func => items.funcs.push((index, name)),
                _ => {}
            }
        }
        items
    }
}

struct World {
    store: Store<()>,
    inst: Instance,
    items: Items,
    /// Function reference address to function index, for table identities.
    funcs: HashMap<usize, u32>,
}

impl World {
    fn index_functions(&mut self) {
        for (index, name) in &self.items.funcs {
            if let Some(f) = self.inst.get_func(&mut self.store, name) {
                self.funcs
                    .insert(f.to_raw(&mut self.store) as usize, *index);
            }
        }
    }

    fn ident_func(&mut self, f: Option<wasmtime::Func>) -> u32 {
        match f {
            None => REF_NULL,
            Some(f) => {
                let raw = f.to_raw(&mut self.store) as usize;
                self.funcs.get(&raw).copied().unwrap_or(REF_OTHER)
            }
        }
    }

    /// The `state` answer wafer must give (`wafer_abi::spec_script::STATE`).
    fn state(&mut self) -> Outcome {
        let (mut memory, mut pages) = (Digest::default(), 0u64);
        if let Some(name) = self.items.memory.clone() {
            let mem = self.inst.get_memory(&mut self.store, &name).unwrap();
            let data = mem.data(&self.store);
            memory.bytes(data);
            pages = data.len() as u64 / 65536;
        }
        let mut tables = Digest::default();
        for name in self.items.tables.clone() {
            let table = self.inst.get_table(&mut self.store, &name).unwrap();
            let len = table.size(&self.store);
            tables.word(len);
            for i in 0..len {
                let ident = match table.get(&mut self.store, i) {
                    Some(Ref::Func(f)) => self.ident_func(f),
                    Some(Ref::Extern(None)) | None => REF_NULL,
                    Some(_) => REF_OTHER,
                };
                tables.table_entry(ident);
            }
        }
        let mut globals = Digest::default();
        for name in self.items.globals.clone() {
            let g = self.inst.get_global(&mut self.store, &name).unwrap();
            let (ty, bits) = match g.get(&mut self.store) {
                Val::I32(x) => (valtype::I32, u128::from(x as u32)),
                Val::I64(x) => (valtype::I64, u128::from(x as u64)),
                Val::F32(b) => (valtype::F32, u128::from(b)),
                Val::F64(b) => (valtype::F64, u128::from(b)),
                Val::V128(v) => (valtype::V128, v.as_u128()),
                Val::FuncRef(f) => (valtype::FUNCREF, u128::from(self.ident_func(f))),
                Val::ExternRef(None) => (valtype::EXTERNREF, u128::from(REF_NULL)),
                _ => (valtype::EXTERNREF, u128::from(REF_OTHER)),
            };
            globals.global(ty, bits);
        }
        Outcome::Ok(
            [pages, memory.0, tables.0, globals.0]
                .into_iter()
                .map(Value::I64)
                .collect(),
        )
    }
}
