//! `sigaltstack`, virtualised: each thread's guest alternate stack is a range of linear
//! memory the runtime records, reports and honours for `SA_ONSTACK` handlers by pointing the
//! guest's stack pointer there. It is never installed on the host: the runtime's own
//! alternate stack (for trap handling) stays.

use std::cell::Cell;

use wafer_abi::{valtype, ValueSlot, VmCtx, VmctxLayout};

use super::super::{Args, Call, Errno, SysResult};
use crate::instance::Instance;
use crate::wali::arch::signal::guest;

/// One guest `stack_t`: `{u32 ss_sp; i32 ss_flags; u32 ss_size}`, 12 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestStack {
    pub sp: u32,
    pub flags: i32,
    pub size: u32,
}

impl GuestStack {
    pub const SIZE: u64 = 12;
    const DISABLED: GuestStack = GuestStack {
        sp: 0,
        flags: guest::SS_DISABLE,
        size: 0,
    };

    fn from_bytes(b: &[u8]) -> GuestStack {
        let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        GuestStack {
            sp: word(0),
            flags: word(4) as i32,
            size: word(8),
        }
    }

    fn to_bytes(self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.sp.to_le_bytes());
        b[4..8].copy_from_slice(&self.flags.to_le_bytes());
        b[8..12].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    pub fn enabled(&self) -> bool {
        self.size != 0
    }

    /// Whether a guest stack pointer lies on this stack (Linux's `on_sig_stack`: never for
    /// an auto-disarming stack).
    pub fn contains(&self, sp: u32) -> bool {
        self.flags & guest::SS_AUTODISARM == 0
            && sp > self.sp
            && u64::from(sp - self.sp) <= u64::from(self.size)
    }

    /// The 16-byte aligned top, if it is a 32-bit address.
    pub fn top(&self) -> Option<u32> {
        let top = u64::from(self.sp) + u64::from(self.size);
        u32::try_from(top & !15).ok()
    }

    pub fn auto_disarm(&self) -> bool {
        self.flags & guest::SS_AUTODISARM != 0
    }
}

thread_local! {
    static ALT: Cell<GuestStack> = const { Cell::new(GuestStack::DISABLED) };
}

pub fn get() -> GuestStack {
    ALT.with(Cell::get)
}

pub fn set(stack: GuestStack) {
    ALT.with(|a| a.set(stack));
}

pub fn disable() {
    set(GuestStack::DISABLED);
}

/// The guest's C stack pointer global: by wasm-ld's convention (every WALI toolchain links
/// with it) global 0, a defined mutable i32 (`__stack_pointer`). `None` for a module that
/// does not follow it.
pub fn stack_pointer(instance: &Instance) -> Option<*mut ValueSlot> {
    // SAFETY: descriptor slices are static data.
    let first = unsafe { instance.descriptor().globals.as_slice() }.first()?;
    let usable = first.imported == 0 && first.ty == valtype::I32 && first.mutable != 0;
    usable.then(|| instance.global_ptr(0)).flatten()
}

/// The calling instance's guest stack pointer, if it has one (and an instance: unit tests
/// call handlers with a bare context).
pub fn guest_sp(vmctx: *mut VmCtx) -> Option<u32> {
    // SAFETY: a live context; its instance field is null only in unit tests.
    let has_instance = unsafe {
        !((vmctx as *const u8).add(VmctxLayout::INSTANCE as usize) as *const *const u8)
            .read()
            .is_null()
    };
    if !has_instance {
        return None;
    }
    // SAFETY: as above, with an instance.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    // SAFETY: the global's slot lives in the instance.
    stack_pointer(instance).map(|g| unsafe { (*g).lo } as u32)
}

/// `sigaltstack(ss, old_ss)`, as Linux orders its checks: `ss` is read first (EFAULT), a
/// change while running on the stack is EPERM, an unknown mode EINVAL, a stack smaller than
/// MINSIGSTKSZ ENOMEM, and `old_ss` (the state before the call) is written only on success.
pub fn sigaltstack(call: &Call, args: &Args) -> SysResult {
    let (ss, old_ss) = (args[0], args[1]);
    let new = if ss != 0 {
        Some(GuestStack::from_bytes(
            &call.mem.read_bytes(ss, GuestStack::SIZE)?,
        ))
    } else {
        None
    };
    let current = get();
    let on_it = guest_sp(call.vmctx).is_some_and(|sp| current.contains(sp));
    if let Some(new) = new {
        if on_it {
            return Err(Errno(libc::EPERM));
        }
        let mode = new.flags & !guest::SS_AUTODISARM;
        if mode != 0 && mode != guest::SS_ONSTACK && mode != guest::SS_DISABLE {
            return Err(Errno(libc::EINVAL));
        }
        if mode == guest::SS_DISABLE {
            set(GuestStack {
                sp: 0,
                size: 0,
                flags: new.flags,
            });
        } else if new.size < guest::MINSIGSTKSZ {
            return Err(Errno(libc::ENOMEM));
        } else {
            set(new);
        }
    }
    if old_ss != 0 {
        let state = if !current.enabled() {
            guest::SS_DISABLE
        } else if on_it {
            guest::SS_ONSTACK
        } else {
            0
        };
        let report = GuestStack {
            flags: state | (current.flags & guest::SS_AUTODISARM),
            ..current
        };
        call.mem.write_bytes(old_ss, &report.to_bytes())?;
    }
    Ok(0)
}
