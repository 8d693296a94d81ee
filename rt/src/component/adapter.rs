//! Calls from one component into a function another component lifted (the plan's
//! [`Adapter`]s). The caller's core code calls a trampoline of the entry object with its flat
//! arguments; the trampoline stores them into value slots and calls
//! [`wafer_rt_adapter_call`], which, following the canonical ABI:
//!
//! 1. lifts the arguments from the caller's flat values (or, past 16 of them, from the
//!    caller's memory at the one pointer it passes), checking every pointer, length,
//!    alignment, discriminant, `char` and string;
//! 2. lowers them into the callee: lists and strings allocated with the callee's realloc, and
//!    past 16 flat values the whole parameter tuple in a callee allocation passed by pointer;
//! 3. calls the callee's core function;
//! 4. lifts its result: from its flat value, or from the callee's memory at the pointer it
//!    returns when the result takes more than one flat value;
//! 5. lowers the result into the caller: allocating with the caller's realloc, and storing at
//!    the return pointer the caller passed last when it takes more than one flat value;
//! 6. calls the callee's post-return with the callee's core results.
//!
//! A check failing, or the callee trapping, traps the caller, with the reason on stderr.

use std::sync::OnceLock;

use wafer_abi::component::{Adapter, CoreRef, FuncType, ValType};
use wafer_abi::{extern_kind, valtype, ValueSlot, VmCtx};

use super::values::{self, FlatReader, Side};
use crate::canon::{fault, oob, Fault};
use crate::instance::{CallError, Instance};

/// An adapter with the instances and functions it names looked up.
struct Resolved {
    name: String,
    spec: Adapter,
    /// The caller's and the lifted function's core signatures.
    lowered: (Vec<u8>, Vec<u8>),
    lifted: (Vec<u8>, Vec<u8>),
    callee: (&'static Instance, u32),
    callee_memory: Option<&'static Instance>,
    callee_realloc: Option<(&'static Instance, u32)>,
    post_return: Option<(&'static Instance, u32)>,
    caller_memory: Option<&'static Instance>,
    caller_realloc: Option<(&'static Instance, u32)>,
}

// SAFETY: a component's instances live until the process exits, and a component runs on
// one thread (components have no threads of their own); the table is written while the
// plan is instantiated, before any adapter runs, and only read afterwards.
unsafe impl Send for Resolved {}
unsafe impl Sync for Resolved {}

static ADAPTERS: OnceLock<Box<[OnceLock<Resolved>]>> = OnceLock::new();

/// Makes room for the plan's `count` adapters.
pub fn init(count: usize) {
    let _ = ADAPTERS.set((0..count).map(|_| OnceLock::new()).collect());
}

/// Looks up what adapter `index` names among the instances created so far (an adapter's
/// instances always precede every instance importing it). Done once, when the first
/// instance importing it is created.
pub fn resolve(index: u32, spec: &Adapter, instances: &[&'static Instance]) -> Result<(), String> {
    let table = ADAPTERS.get().ok_or("the adapters were not initialised")?;
    let slot = table
        .get(index as usize)
        .ok_or_else(|| format!("no adapter {index}"))?;
    if slot.get().is_some() {
        return Ok(());
    }
    let name = spec.name.clone();
    let instance = |i: u32| {
        instances.get(i as usize).copied().ok_or_else(|| {
            format!("the call of {name} names core instance {i}, which does not exist yet")
        })
    };
    let func = |r: &CoreRef, params: &[u8], results: &[u8], what: &str| -> Result<_, String> {
        let inst = instance(r.0)?;
        let f = inst
            .export(r.1.as_bytes())
            .filter(|e| e.kind == extern_kind::FUNC)
            .ok_or_else(|| format!("the {what} {:?} of the call of {name} is not exported", r.1))?;
        if !values::core_type_is(inst, f.index, params, results) {
            return Err(format!(
                "the {what} {:?} of the call of {name} does not have the canonical core type",
                r.1
            ));
        }
        Ok((inst, f.index))
    };
    let lowered = spec.ty.lowered_signature();
    let lifted = spec.ty.lifted_signature();
    let callee = func(&spec.callee, &lifted.0, &lifted.1, "lifted function")?;
    let realloc = |r: &Option<CoreRef>| {
        r.as_ref()
            .map(|r| func(r, &values::REALLOC_PARAMS, &[valtype::I32], "realloc"))
            .transpose()
    };
    let callee_realloc = realloc(&spec.callee_realloc)?;
    let caller_realloc = realloc(&spec.caller_realloc)?;
    let post_return = spec
        .callee_post_return
        .as_ref()
        .map(|r| func(r, &lifted.1, &[], "post-return function"))
        .transpose()?;
    let memory = |m: &Option<CoreRef>, realloc: Option<(&'static Instance, u32)>| {
        m.as_ref()
            .map(|m| {
                super::memory_owner(
                    instance(m.0)?,
                    &m.1,
                    realloc.map(|r| r.0),
                    &format!("the call of {name}"),
                )
            })
            .transpose()
    };
    let resolved = Resolved {
        callee_memory: memory(&spec.callee_memory, callee_realloc)?,
        caller_memory: memory(&spec.caller_memory, caller_realloc)?,
        name: name.clone(),
        spec: spec.clone(),
        lowered,
        lifted,
        callee,
        callee_realloc,
        post_return,
        caller_realloc,
    };
    let _ = slot.set(resolved);
    Ok(())
}

/// The runtime half of every adapter trampoline: `values` holds the caller's flat arguments
/// (as many slots as the lowered signature has parameters, at least one) and receives its flat
/// result.
///
/// # Safety
/// Called only by the trampolines the compiler emits, with `values` holding at least
/// `max(params, results, 1)` slots.
#[no_mangle]
pub unsafe extern "C" fn wafer_rt_adapter_call(
    _vmctx: *mut VmCtx,
    index: u32,
    slots: *mut ValueSlot,
) {
    let outcome = match ADAPTERS.get().and_then(|t| t.get(index as usize)?.get()) {
        Some(a) => {
            let params = a.lowered.0.len();
            let count = params.max(a.lowered.1.len()).max(1);
            // SAFETY: the trampoline's slots, as the contract above says.
            let values = unsafe { std::slice::from_raw_parts_mut(slots, count) };
            call(a, values).map_err(|f| Fault {
                kind: f.kind,
                why: format!("call of {}: {}", a.name, f.why),
            })
        }
        None => Err(oob(format!(
            "adapter {index} was called before the core instances it calls exist"
        ))),
    };
    if let Err(Fault { kind, why }) = outcome {
        eprintln!("wafer: {why}");
        drop(why);
        // SAFETY: nothing in this frame needs dropping any more; the caller is wasm code.
        unsafe { crate::trap::raise(kind) }
    }
}

fn call(a: &Resolved, values: &mut [ValueSlot]) -> Result<(), Fault> {
    let ty = &a.spec.ty;
    let caller = Side {
        who: "the caller",
        memory: a.caller_memory,
        realloc: a.caller_realloc,
    };
    let callee = Side {
        who: "the callee",
        memory: a.callee_memory,
        realloc: a.callee_realloc,
    };
    // The canonical ABI lowers to scalars only: each slot holds its value in `lo`.
    let args: Vec<u64> = values[..a.lowered.0.len()].iter().map(|s| s.lo).collect();

    // 1. The arguments, out of the caller.
    let params = ValType::Record(ty.params.clone());
    let args_val = if ty.params_in_memory() {
        let ptr = args[0] as u32;
        let mem = caller.memory()?;
        caller.check(&mem, ptr, &params, "the parameters at")?;
        values::load(&caller, &mem, &params, ptr)?
    } else {
        let mut flat = FlatReader {
            slots: &args,
            at: 0,
        };
        values::lift_flat(&caller, &params, &mut flat)?
    };
    let ret_ptr = ty.result_in_memory().then(|| args[args.len() - 1] as u32);

    // 2.-4. and 6.: into the callee, the call, its result out of the callee, post-return.
    let result = call_with_values(
        &callee,
        ty,
        a.callee,
        (a.lifted.0.len(), a.lifted.1.len()),
        a.post_return,
        args_val,
    )?;

    // 5. The result into the caller.
    if let (Some(result_ty), Some(result)) = (&ty.result, result) {
        match ret_ptr {
            Some(ptr) => {
                let mem = caller.memory()?;
                caller.check(&mem, ptr, result_ty, "the return area")?;
                values::store(&caller, result_ty, result, ptr)?;
            }
            None => {
                let mut flat = Vec::with_capacity(1);
                values::lower_flat(&caller, result_ty, result, &mut flat)?;
                for (slot, v) in values.iter_mut().zip(flat) {
                    *slot = ValueSlot::scalar(v);
                }
            }
        }
    }
    Ok(())
}

/// Calls a lifted function with arguments the caller already holds as values (the record of
/// its parameters): lowers them into the callee (flat, or past 16 flat values into a callee
/// allocation passed by pointer), calls `func` (whose core signature has `core` = (params,
/// results) values), lifts the result (flat, or from the callee's memory at the pointer it
/// returns), then runs the post-return function, the result being the caller's copy by then.
pub fn call_with_values(
    callee: &Side,
    ty: &FuncType,
    (func_instance, func): (&'static Instance, u32),
    core: (usize, usize),
    post_return: Option<(&'static Instance, u32)>,
    args: values::Val,
) -> Result<Option<values::Val>, Fault> {
    let params = ValType::Record(ty.params.clone());
    let mut callee_args = Vec::with_capacity(core.0);
    if ty.params_in_memory() {
        let ptr = callee.alloc(params.align(), params.size())?;
        values::store(callee, &params, args, ptr)?;
        callee_args.push(u64::from(ptr));
    } else {
        values::lower_flat(callee, &params, args, &mut callee_args)?;
    }

    let mut slots = callee_args;
    slots.resize(core.0.max(core.1).max(1), 0);
    match func_instance.call_scalars(func, &mut slots) {
        Ok(()) => {}
        Err(CallError::Trap(t)) => return Err(fault(t.kind, "the callee trapped")),
        Err(CallError::Invalid(msg)) => return Err(oob(msg)),
    }
    let core_results = slots[..core.1].to_vec();

    let result = match &ty.result {
        None => None,
        Some(result_ty) if ty.result_in_memory() => {
            let ptr = core_results[0] as u32;
            let mem = callee.memory()?;
            callee.check(&mem, ptr, result_ty, "the result at")?;
            Some(values::load(callee, &mem, result_ty, ptr)?)
        }
        Some(result_ty) => {
            let mut flat = FlatReader {
                slots: &core_results,
                at: 0,
            };
            Some(values::lift_flat(callee, result_ty, &mut flat)?)
        }
    };

    // The callee may free what it returned.
    if let Some((inst, post)) = post_return {
        let mut slots = core_results;
        slots.resize(slots.len().max(1), 0);
        match inst.call_scalars(post, &mut slots) {
            Ok(()) => {}
            Err(CallError::Trap(t)) => {
                return Err(fault(t.kind, "the callee's post-return function trapped"))
            }
            Err(CallError::Invalid(msg)) => return Err(oob(msg)),
        }
    }
    Ok(result)
}
