//! `args_*` and `environ_*`: the command line and the granted variables.

use alloc::vec::Vec;

use crate::app;
use crate::errno::{self, Errno};
use crate::table;

/// Writes a list of NUL-terminated strings as `args_get`/`environ_get` lay them out: the
/// pointer array at `ptrs`, the strings one after another at `buf`. Both ranges are checked
/// before anything is written, as natively.
fn write_string_list(list: &[Vec<u8>], ptrs: u32, buf: u32) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    app::range(ptrs, list.len() as u64 * 4)?;
    app::range(buf, total)?;
    let mut pointers = Vec::with_capacity(list.len() * 4);
    let mut strings = Vec::with_capacity(total as usize);
    for item in list {
        pointers.extend_from_slice(&(buf + strings.len() as u32).to_le_bytes());
        strings.extend_from_slice(item);
        strings.push(0);
    }
    app::write(ptrs, &pointers)?;
    app::write(buf, &strings)
}

fn write_list_sizes(list: &[Vec<u8>], count_ptr: u32, size_ptr: u32) -> Result<(), Errno> {
    let total: u64 = list.iter().map(|a| a.len() as u64 + 1).sum();
    let count = u32::try_from(list.len()).map_err(|_| errno::OVERFLOW)?;
    let total = u32::try_from(total).map_err(|_| errno::OVERFLOW)?;
    app::range(count_ptr, 4)?;
    app::range(size_ptr, 4)?;
    app::write_u32(count_ptr, count)?;
    app::write_u32(size_ptr, total)
}

pub fn args_get(argv: i32, argv_buf: i32) -> Result<(), Errno> {
    table::with(|t| write_string_list(&t.args, argv as u32, argv_buf as u32))
}

pub fn args_sizes_get(argc: i32, buf_size: i32) -> Result<(), Errno> {
    table::with(|t| write_list_sizes(&t.args, argc as u32, buf_size as u32))
}

pub fn environ_get(environ: i32, environ_buf: i32) -> Result<(), Errno> {
    table::with(|t| write_string_list(&t.env, environ as u32, environ_buf as u32))
}

pub fn environ_sizes_get(count: i32, buf_size: i32) -> Result<(), Errno> {
    table::with(|t| write_list_sizes(&t.env, count as u32, buf_size as u32))
}
