//! The runtime's side of `--wasi-over-wali` (`wafer_abi::wasi_over_wali`): the channel through
//! which wafer's WASI module, a wasm module of its own, reaches the app's memory.
//!
//! This is the whole of the trusted code that WASI needs in such an executable, besides the
//! WALI syscall layer the module calls: two copies whose ranges are checked against both
//! memories as they are at the call, and the grants the module serves. The app never sees the
//! module's memory, and the module sees the app's only here.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code of the WASI module,
//! whose first argument is its live `vmctx`.

#![allow(clippy::missing_safety_doc)]

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

use wafer_abi::capabilities::Capabilities;
use wafer_abi::wasi_over_wali::{encode_grants, Preopen, FAULT};
use wafer_abi::{MemoryDef, VmCtx};

use crate::guest_mem::GuestMemory;
use crate::instance::Instance;

/// The app's memory (null until the app is instantiated, or if it has none).
static CLIENT: AtomicPtr<MemoryDef> = AtomicPtr::new(std::ptr::null_mut());

/// Makes `app`'s memory the one the channel reaches (when the plan has instantiated it; the
/// instance lives as long as the process). Before that every copy answers [`FAULT`].
pub fn set_client(app: &'static Instance) {
    set_client_memory(app.memory_def());
}

fn set_client_memory(def: *mut MemoryDef) {
    CLIENT.store(def, Ordering::Release);
}

/// The app's memory as it is now, and the calling module's.
unsafe fn memories(vmctx: *mut VmCtx) -> Option<(GuestMemory, GuestMemory)> {
    // SAFETY: the client's memory lives as long as the process; `vmctx` is the caller's.
    let app = unsafe { GuestMemory::from_def(CLIENT.load(Ordering::Acquire)) }.ok()?;
    let local = unsafe { GuestMemory::from_vmctx(vmctx) }.ok()?;
    Some((app, local))
}

/// Copies `len` bytes from `from` at `src` to `to` at `dst` after checking both ranges.
fn copy(from: &GuestMemory, src: i32, to: &GuestMemory, dst: i32, len: i32) -> i32 {
    let len = u64::from(len as u32);
    match (from.range(src as u32, len), to.range(dst as u32, len)) {
        (Ok(s), Ok(d)) => {
            // SAFETY: both ranges lie inside live memories (whose bases never move). They are
            // different memories, but `copy` would be sound even if they overlapped.
            unsafe { std::ptr::copy(s, d, len as usize) };
            0
        }
        _ => FAULT,
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wow_app_read(
    vmctx: *mut VmCtx,
    local: i32,
    app: i32,
    len: i32,
) -> i32 {
    match unsafe { memories(vmctx) } {
        Some((a, l)) => copy(&a, app, &l, local, len),
        None => FAULT,
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wow_app_write(
    vmctx: *mut VmCtx,
    app: i32,
    local: i32,
    len: i32,
) -> i32 {
    match unsafe { memories(vmctx) } {
        Some((a, l)) => copy(&l, local, &a, app, len),
        None => FAULT,
    }
}

static GRANTS: OnceLock<Vec<u8>> = OnceLock::new();

/// Takes the grants over from the native WASI context, which the runtime set up as for any
/// driver (it checked the granted directories and resolved the environment, and the kernel
/// sandbox was built from its descriptors), then releases that context: the WASI module opens
/// its own descriptors, and the process's numbers 0 to 2 are again what it was started with.
/// `caps` are the grants as they apply here (`WAFER_DIR_MAP` applied).
pub fn take_grants(caps: &Capabilities) {
    let env = crate::wasi::ctx::with(|c| c.env.clone());
    let dirs: Vec<Preopen> = caps
        .dirs
        .iter()
        .map(|d| Preopen {
            guest: &d.guest,
            host: &d.host,
            read_only: d.read_only,
        })
        .collect();
    let _ = GRANTS.set(encode_grants(env.iter().map(Vec::as_slice), &dirs));
    crate::wasi::ctx::release();
}

/// The grants blob's length; the blob is written to `buf` when `cap` holds it (-1 if that
/// range is outside the module's memory).
#[no_mangle]
pub unsafe extern "C" fn wafer_wow_grants(vmctx: *mut VmCtx, buf: i32, cap: i32) -> i32 {
    let blob = GRANTS.get().map_or(&[][..], Vec::as_slice);
    if blob.len() as u64 <= u64::from(cap as u32) {
        let written =
            unsafe { GuestMemory::from_vmctx(vmctx) }.and_then(|m| m.write_bytes(buf as u32, blob));
        if written.is_err() {
            return -1;
        }
    }
    blob.len() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_mem::tests::FakeGuest;

    #[test]
    fn the_channel_checks_both_ranges_and_copies_nothing_on_failure() {
        let mut module = FakeGuest::new(0x100);
        let mut app = FakeGuest::new(0x200);
        let vm = module.vmctx();
        // No app instantiated yet: every copy is refused.
        unsafe {
            assert_eq!(wafer_wow_app_read(vm, 0, 0, 1), FAULT);
            assert_eq!(wafer_wow_app_write(vm, 0, 0, 0), FAULT);
        }
        set_client_memory(app.memory_def());
        app.bytes[0x1F0..0x200].copy_from_slice(b"0123456789abcdef");
        unsafe {
            assert_eq!(wafer_wow_app_read(vm, 0x10, 0x1F0, 16), 0);
            // Ranges past either end, wrapping, or of a negative (huge) length.
            assert_eq!(wafer_wow_app_read(vm, 0x10, 0x1F1, 16), FAULT);
            assert_eq!(wafer_wow_app_read(vm, 0xF1, 0x1F0, 16), FAULT);
            assert_eq!(wafer_wow_app_read(vm, 0, -1, 2), FAULT);
            assert_eq!(wafer_wow_app_read(vm, -1, 0, 2), FAULT);
            assert_eq!(wafer_wow_app_read(vm, 0, 0, -1), FAULT);
            assert_eq!(wafer_wow_app_write(vm, 0x1F8, 0x10, 16), FAULT);
            assert_eq!(wafer_wow_app_write(vm, 0, 0xF8, 16), FAULT);
            assert_eq!(wafer_wow_app_write(vm, 0x200, 0, 0), 0);
            assert_eq!(wafer_wow_app_write(vm, 0x201, 0, 0), FAULT);
            assert_eq!(wafer_wow_app_write(vm, 0x20, 0x10, 4), 0);
        }
        assert_eq!(&module.bytes[0x10..0x20], b"0123456789abcdef");
        assert_eq!(&app.bytes[0x20..0x24], b"0123");
        assert!(
            app.bytes[..0x20].iter().all(|&b| b == 0),
            "a refused write copied"
        );
        assert!(
            module.bytes[0x20..].iter().all(|&b| b == 0),
            "a refused read copied"
        );
        set_client_memory(std::ptr::null_mut());
    }
}
