//! `wasi:cli`: `environment`, `exit`, `stdin` / `stdout` / `stderr`, and the terminal
//! interfaces. Arguments and variables are the preview1 context's: the arguments the
//! executable was started with and only the granted variables (`--env`). Strings that are
//! not UTF-8 on the host reach the guest with U+FFFD in place of the bad bytes.

use super::WasiP2;
use std::sync::Arc;

use wafer_abi::{TrapKind, VmCtx};

use super::io::Stream;
use super::table::{Kind, Resource};
use super::{drop_resource, insert, IFACE};
use crate::canon::{self, fault, finish, memory, ret_area, Area, Fault};

unsafe fn get_environment(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 8, 4)?;
    let pairs: Vec<(String, String)> = crate::wasi::ctx::with(|c| {
        c.env
            .iter()
            .map(|kv| {
                let at = kv.iter().position(|&b| b == b'=').unwrap_or(kv.len());
                let value = kv.get(at + 1..).unwrap_or_default();
                (
                    String::from_utf8_lossy(&kv[..at]).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                )
            })
            .collect()
    });
    let l = unsafe { canon::lower_string_pairs(vmctx, &pairs) }?;
    Area::new(8)
        .list(0, l)
        .store(&unsafe { memory(vmctx) }?, ret)
}

unsafe fn get_arguments(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 8, 4)?;
    let args: Vec<String> = crate::wasi::ctx::with(|c| {
        c.args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    });
    let l = unsafe { canon::lower_strings(vmctx, &args) }?;
    Area::new(8)
        .list(0, l)
        .store(&unsafe { memory(vmctx) }?, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_environment(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { get_environment(vmctx, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_arguments(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { get_arguments(vmctx, ret) })
}

/// `initial-cwd`: `none`; a guest has no working directory, only its preopens.
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_initial_cwd(vmctx: *mut VmCtx, retptr: i32) {
    let run = || -> Result<(), Fault> {
        let mem = unsafe { memory(vmctx) }?;
        let ret = ret_area(&mem, retptr, 12, 4)?;
        Area::new(12).store(&mem, ret)
    };
    finish(IFACE, run())
}

/// `exit(status: result)`: 0 for ok, 1 for err; any other discriminant is a trap.
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_exit(_vmctx: *mut VmCtx, status: i32) {
    match status {
        0 | 1 => crate::threads::exit_process(status),
        other => finish(
            IFACE,
            Err::<(), _>(fault(
                TrapKind::Unreachable,
                format!("exit: {other} is not a result discriminant (0 ok, 1 err)"),
            )),
        ),
    }
}

/// `exit-with-code(status-code: u8)`: the low 8 bits, as the canonical ABI lifts a `u8`.
#[no_mangle]
pub unsafe extern "C" fn wafer_p2_exit_with_code(_vmctx: *mut VmCtx, code: i32) {
    crate::threads::exit_process(code & 0xff)
}

fn stdio_stream(vmctx: *mut VmCtx, fd: i32) -> i32 {
    let stream = Arc::new(Stream::stdio(fd));
    let r = if fd == 0 {
        Resource::InputStream(stream)
    } else {
        Resource::OutputStream(stream)
    };
    finish(IFACE, insert(vmctx, r))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_stdin(vmctx: *mut VmCtx) -> i32 {
    stdio_stream(vmctx, 0)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_stdout(vmctx: *mut VmCtx) -> i32 {
    stdio_stream(vmctx, 1)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_stderr(vmctx: *mut VmCtx) -> i32 {
    stdio_stream(vmctx, 2)
}

/// `get-terminal-std*`: `some` only when the standard stream is a terminal.
unsafe fn terminal(vmctx: *mut VmCtx, fd: i32, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 8, 4)?;
    let mut a = Area::new(8);
    if unsafe { libc::isatty(fd) } == 1 {
        let r = if fd == 0 {
            Resource::TerminalInput
        } else {
            Resource::TerminalOutput
        };
        let handle = insert(vmctx, r)?;
        let at = a.case(0, 1, 4);
        a.u32(at, handle as u32);
    }
    a.store(&unsafe { memory(vmctx) }?, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_terminal_stdin(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { terminal(vmctx, 0, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_terminal_stdout(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { terminal(vmctx, 1, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_get_terminal_stderr(vmctx: *mut VmCtx, ret: i32) {
    finish(IFACE, unsafe { terminal(vmctx, 2, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_terminal_input(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::TerminalInput)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_terminal_output(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::TerminalOutput)
}

impl crate::glue::wasi_cli::environment::Host for WasiP2 {}
impl crate::glue::wasi_cli::exit::Host for WasiP2 {}
impl crate::glue::wasi_cli::stdin::Host for WasiP2 {}
impl crate::glue::wasi_cli::stdout::Host for WasiP2 {}
impl crate::glue::wasi_cli::stderr::Host for WasiP2 {}
impl crate::glue::wasi_cli::terminal_input::Host for WasiP2 {}
impl crate::glue::wasi_cli::terminal_output::Host for WasiP2 {}
impl crate::glue::wasi_cli::terminal_stdin::Host for WasiP2 {}
impl crate::glue::wasi_cli::terminal_stdout::Host for WasiP2 {}
impl crate::glue::wasi_cli::terminal_stderr::Host for WasiP2 {}
