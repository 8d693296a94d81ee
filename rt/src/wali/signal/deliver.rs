//! Delivery: running the guest's handlers for the signals pending on the calling thread, at a
//! safe point of compiled code or when a syscall returns.
//!
//! A handler is the function at its index in table 0, called like `call_indirect` would:
//! the index must be in bounds and the entry non-null, and its type must be `(i32) -> ()`,
//! called with the signal number, or `(i32, i32, i32) -> ()`, called with the signal number,
//! a guest `siginfo_t` and a null `ucontext` (the `SA_SIGINFO` shape; the handler's type,
//! not the flag, decides, as a C handler of either shape works natively). Anything else is
//! the matching `call_indirect` trap. While it runs, the thread's mask gains `sa_mask` and
//! the signal itself (unless `SA_NODEFER`); the mask before it comes back when it returns,
//! as `rt_sigreturn` would restore it. `SA_RESETHAND` resets the action first.
//!
//! The `siginfo_t` (128 bytes) goes on the guest's C stack, below its stack pointer, which
//! moves past it for the handler's duration; with `SA_ONSTACK` and an alternate stack set
//! (see [`super::altstack`]) the handler's stack starts at the top of that stack instead.

use std::sync::atomic::Ordering::SeqCst;

use wafer_abi::{valtype, ArrayCall, FuncRef, TrapKind, ValueSlot, VmCtx};

use super::action::{self, Action, SIG_DFL, SIG_IGN};
use super::altstack::{self, GuestStack};
use super::state::{self, bit, Slot};
use crate::instance::Instance;
use crate::signature::intern;
use crate::table::Table;
use crate::trap;
use crate::wali::arch::signal::{guest, SIGINFO_SHARED, SIGINFO_SIZE};
use crate::wali::mem::Mem;

/// What one delivery did.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Guest handlers run.
    pub handlers: u32,
    /// Whether every one of them had `SA_RESTART`.
    pub restart: bool,
}

/// Delivers every signal the calling thread can take now, lowest number first, until none is
/// left (handlers may raise more).
pub fn deliver(vmctx: *mut VmCtx) -> Outcome {
    let slot = state::current();
    let mut outcome = Outcome {
        handlers: 0,
        restart: true,
    };
    loop {
        // Cleared before looking, so a signal recorded meanwhile sets it again.
        slot.lower();
        let ready = state::deliverable(slot);
        if ready == 0 {
            return outcome;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        if state::take(slot, sig) {
            run(vmctx, slot, sig, &mut outcome);
        }
    }
}

fn run(vmctx: *mut VmCtx, slot: &Slot, sig: i32, outcome: &mut Outcome) {
    let action = action::get(sig);
    match action.handler {
        SIG_IGN => {}
        SIG_DFL => action::perform_default(sig),
        _ => {
            if action.flags & guest::SA_RESETHAND != 0 {
                action::reset_to_default(sig);
            }
            let before = slot.mask.load(SeqCst);
            let mut during = before | action.mask;
            if action.flags & guest::SA_NODEFER == 0 {
                during |= bit(sig);
            }
            state::set_mask(slot, during);
            outcome.handlers += 1;
            outcome.restart &= action.flags & guest::SA_RESTART != 0;
            call_handler(vmctx, sig, &action);
            state::set_mask(slot, before);
        }
    }
}

/// A handler call, checked and with its stack prepared.
struct Prepared {
    trampoline: ArrayCall,
    code: *const u8,
    callee: *mut VmCtx,
    values: [ValueSlot; 3],
    /// The stack pointer global and the value to put back.
    stack_pointer: Option<(*mut ValueSlot, ValueSlot)>,
    /// An auto-disarmed alternate stack to restore.
    disarmed: Option<GuestStack>,
}

fn call_handler(vmctx: *mut VmCtx, sig: i32, action: &Action) {
    let mut call = match prepare(vmctx, sig, action) {
        Ok(call) => call,
        // SAFETY: called from compiled code through a libcall or the syscall entry; the
        // frames in between own nothing.
        Err(kind) => unsafe { trap::raise(kind) },
    };
    // SAFETY: the trampoline of the callee's exact type, with its code and context; a trap
    // in the handler unwinds through frames that own nothing.
    unsafe { (call.trampoline)(call.code, call.callee, call.values.as_mut_ptr()) };
    if let Some((global, value)) = call.stack_pointer {
        // SAFETY: the instance's own global slot.
        unsafe { *global = value };
    }
    if let Some(stack) = call.disarmed {
        altstack::set(stack);
    }
}

fn prepare(vmctx: *mut VmCtx, sig: i32, action: &Action) -> Result<Prepared, TrapKind> {
    // SAFETY: delivery runs on behalf of compiled code with its live context.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let (func, params) = resolve(instance, action.handler)?;
    let trampoline = trampoline(func, params)?;
    let sp_global = altstack::stack_pointer(instance);
    // SAFETY: the instance's own global slot.
    let old_sp = sp_global.map(|g| unsafe { (*g).lo } as u32);
    let mut sp = old_sp;
    let mut disarmed = None;
    let alt = altstack::get();
    if action.flags & guest::SA_ONSTACK != 0 && alt.enabled() {
        if let (Some(current), Some(top)) = (old_sp, alt.top()) {
            if !alt.contains(current) {
                sp = Some(top);
                if alt.auto_disarm() {
                    disarmed = Some(alt);
                    altstack::disable();
                }
            }
        }
    }
    let mut values = [
        ValueSlot::scalar(u64::from(sig as u32)),
        ValueSlot::ZERO,
        ValueSlot::ZERO,
    ];
    if params == 3 {
        if let Some(top) = sp {
            let at = write_siginfo(vmctx, sig, top)?;
            values[1] = ValueSlot::scalar(u64::from(at));
            sp = Some(at);
        }
    }
    let stack_pointer = match (sp_global, old_sp) {
        (Some(global), Some(old)) if sp != old_sp => {
            // SAFETY: the instance's own global slot.
            unsafe { *global = ValueSlot::scalar(u64::from(sp.unwrap_or(old))) };
            Some((global, ValueSlot::scalar(u64::from(old))))
        }
        _ => None,
    };
    Ok(Prepared {
        trampoline,
        code: func.code,
        callee: func.vmctx,
        values,
        stack_pointer,
        disarmed,
    })
}

/// Table 0's entry `index` as a handler: the function and how many parameters it takes.
fn resolve(instance: &Instance, index: u32) -> Result<(&FuncRef, usize), TrapKind> {
    let def = instance
        .table_def(0)
        .ok_or(TrapKind::IndirectCallOutOfBounds)?;
    // SAFETY: the instance's live table; nothing else borrows it on this thread now.
    let table = unsafe { Table::from_def(def) };
    if table.elem_type() != valtype::FUNCREF {
        return Err(TrapKind::BadSignature);
    }
    let entry = table
        .get(u64::from(index))
        .ok_or(TrapKind::IndirectCallOutOfBounds)?;
    // SAFETY: a non-null funcref element points at a live `FuncRef`.
    let func = unsafe { (entry as *const FuncRef).as_ref() }.ok_or(TrapKind::IndirectCallToNull)?;
    let params = if func.type_id == intern(&[valtype::I32], &[]) {
        1
    } else if func.type_id == intern(&[valtype::I32; 3], &[]) {
        3
    } else {
        return Err(TrapKind::BadSignature);
    };
    Ok((func, params))
}

/// The array-call trampoline for `(i32 x params) -> ()`, from the callee's own module.
fn trampoline(func: &FuncRef, params: usize) -> Result<ArrayCall, TrapKind> {
    let want = &[valtype::I32; 3][..params];
    // SAFETY: a funcref's context is a live instance's; descriptor slices are static.
    let owner = unsafe { Instance::from_vmctx(func.vmctx) };
    unsafe { owner.descriptor().types.as_slice() }
        .iter()
        .find(|t| unsafe { t.params.as_slice() == want && t.results.as_slice().is_empty() })
        .map(|t| t.array_call)
        .ok_or(TrapKind::BadSignature)
}

/// Writes the guest `siginfo_t` of `sig` below `sp` (16-byte aligned); returns its address.
fn write_siginfo(vmctx: *mut VmCtx, sig: i32, sp: u32) -> Result<u32, TrapKind> {
    let at = sp
        .checked_sub(SIGINFO_SIZE as u32)
        .ok_or(TrapKind::StackOverflow)?
        & !15;
    let mut info = [0u8; SIGINFO_SIZE];
    info[..SIGINFO_SHARED].copy_from_slice(&state::info(sig));
    info[0..4].copy_from_slice(&sig.to_le_bytes());
    // SAFETY: the calling instance's live context.
    let mem = unsafe { Mem::from_vmctx(vmctx) }.map_err(|_| TrapKind::MemoryOutOfBounds)?;
    mem.write_bytes(u64::from(at), &info)
        .map_err(|_| TrapKind::MemoryOutOfBounds)?;
    Ok(at)
}
