//! `wasi:random`: `random`, `insecure` and `insecure-seed`, all from the kernel's
//! `getrandom(2)` (the insecure variants are simply as good as the secure ones).

use wafer_abi::VmCtx;

use super::IFACE;
use crate::canon::{finish, guest_alloc, memory, oob, ret_area, Area, Fault};

/// Fills `len` bytes at host address `at` with random bytes.
fn fill(at: *mut u8, len: usize) {
    let mut filled = 0;
    while filled < len {
        let n = unsafe { libc::getrandom(at.add(filled) as *mut libc::c_void, len - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
        // n < 0: EINTR (or EAGAIN before the pool is ready): try again.
    }
}

fn u64() -> u64 {
    let mut v = [0u8; 8];
    fill(v.as_mut_ptr(), 8);
    u64::from_le_bytes(v)
}

/// `list<u8>` of `len` random bytes, written straight into the guest's allocation.
unsafe fn bytes(vmctx: *mut VmCtx, len: i64, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 8, 4)?;
    let len = u32::try_from(len as u64)
        .map_err(|_| oob(format!("{} random bytes do not fit in memory", len as u64)))?;
    let ptr = unsafe { guest_alloc(vmctx, 1, len) }?;
    let mem = unsafe { memory(vmctx) }?;
    let at = mem
        .range(ptr, len as u64)
        .map_err(|_| oob("random bytes outside memory"))?;
    fill(at, len as usize);
    Area::new(8).list(0, (ptr, len)).store(&mem, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_random_bytes(vmctx: *mut VmCtx, len: i64, ret: i32) {
    finish(IFACE, unsafe { bytes(vmctx, len, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_random_u64(_vmctx: *mut VmCtx) -> i64 {
    u64() as i64
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_insecure_random_bytes(vmctx: *mut VmCtx, len: i64, ret: i32) {
    finish(IFACE, unsafe { bytes(vmctx, len, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_insecure_random_u64(_vmctx: *mut VmCtx) -> i64 {
    u64() as i64
}

/// `insecure-seed`: `tuple<u64, u64>` (16 bytes, align 8).
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_insecure_seed(vmctx: *mut VmCtx, retptr: i32) {
    let run = || -> Result<(), Fault> {
        let mem = unsafe { memory(vmctx) }?;
        let ret = ret_area(&mem, retptr, 16, 8)?;
        Area::new(16).u64(0, u64()).u64(8, u64()).store(&mem, ret)
    };
    finish(IFACE, run())
}
