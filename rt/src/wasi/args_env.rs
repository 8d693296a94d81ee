//! `args_*` and `environ_*`: the executable's arguments and the granted variables.

use wafer_abi::VmCtx;

use super::call;
use super::errno::{self, Errno};
use crate::guest_mem::GuestMemory;

/// Writes a list of NUL-terminated strings as `args_get`/`environ_get` lay them out.
fn write_string_list(
    mem: &GuestMemory,
    list: &[Vec<u8>],
    ptrs: u32,
    buf: u32,
) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    mem.range(ptrs, list.len() as u64 * 4)?;
    mem.range(buf, total)?;
    let mut at = buf;
    for (i, item) in list.iter().enumerate() {
        mem.write_u32(ptrs + i as u32 * 4, at)?;
        mem.write_bytes(at, item)?;
        mem.write_bytes(at + item.len() as u32, &[0])?;
        at += item.len() as u32 + 1;
    }
    Ok(())
}

fn write_list_sizes(
    mem: &GuestMemory,
    list: &[Vec<u8>],
    count_ptr: u32,
    size_ptr: u32,
) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    let count = u32::try_from(list.len()).map_err(|_| errno::OVERFLOW)?;
    let total = u32::try_from(total).map_err(|_| errno::OVERFLOW)?;
    mem.range(count_ptr, 4)?;
    mem.range(size_ptr, 4)?;
    mem.write_u32(count_ptr, count)?;
    mem.write_u32(size_ptr, total)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_args_get(vmctx: *mut VmCtx, argv: i32, argv_buf: i32) -> i32 {
    unsafe {
        call(vmctx, |m, c| {
            write_string_list(m, &c.args, argv as u32, argv_buf as u32)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_args_sizes_get(
    vmctx: *mut VmCtx,
    argc: i32,
    buf_size: i32,
) -> i32 {
    unsafe {
        call(vmctx, |m, c| {
            write_list_sizes(m, &c.args, argc as u32, buf_size as u32)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_environ_get(
    vmctx: *mut VmCtx,
    environ: i32,
    environ_buf: i32,
) -> i32 {
    unsafe {
        call(vmctx, |m, c| {
            write_string_list(m, &c.env, environ as u32, environ_buf as u32)
        })
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_environ_sizes_get(
    vmctx: *mut VmCtx,
    count: i32,
    buf_size: i32,
) -> i32 {
    unsafe {
        call(vmctx, |m, c| {
            write_list_sizes(m, &c.env, count as u32, buf_size as u32)
        })
    }
}
