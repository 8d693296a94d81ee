//! `wasi:cli`: `environment`, `exit`, `stdin` / `stdout` / `stderr`, and the terminal
//! interfaces. Arguments and variables are the preview1 context's: the arguments the
//! executable was started with and only the granted variables (`--env`). Strings that are
//! not UTF-8 on the host reach the guest with U+FFFD in place of the bad bytes.

use std::sync::Arc;

use super::io::Stream;
use super::table::{Kind, Resource};
use super::{own, remove_resource, WasiP2};
use crate::canon::typed::{Cx, Own};
use crate::canon::Fault;
use crate::glue::wasi_cli::{
    environment, exit, stderr, stdin, stdout, terminal_input, terminal_output, terminal_stderr,
    terminal_stdin, terminal_stdout,
};
use crate::glue::wasi_io::streams::{InputStream, OutputStream};
use terminal_input::TerminalInput;
use terminal_output::TerminalOutput;

/// Host bytes as a guest string.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl environment::Host for WasiP2 {
    fn get_environment(_: &mut Cx) -> Result<Vec<(String, String)>, Fault> {
        Ok(crate::wasi::ctx::with(|c| {
            c.env
                .iter()
                .map(|kv| {
                    let at = kv.iter().position(|&b| b == b'=').unwrap_or(kv.len());
                    let value = kv.get(at + 1..).unwrap_or_default();
                    (lossy(&kv[..at]), lossy(value))
                })
                .collect()
        }))
    }

    fn get_arguments(_: &mut Cx) -> Result<Vec<String>, Fault> {
        Ok(crate::wasi::ctx::with(|c| {
            c.args.iter().map(|a| lossy(a)).collect()
        }))
    }

    /// `none`: a guest has no working directory, only its preopens.
    fn initial_cwd(_: &mut Cx) -> Result<Option<String>, Fault> {
        Ok(None)
    }
}

/// `exit(status: result)`: 0 for ok, 1 for err (any other discriminant traps in the glue).
impl exit::Host for WasiP2 {
    fn exit(_: &mut Cx, status: Result<(), ()>) -> Result<(), Fault> {
        crate::threads::exit_process(status.is_err() as i32)
    }

    /// The code as the canonical ABI lifts a `u8`: the low 8 bits.
    fn exit_with_code(_: &mut Cx, status_code: u8) -> Result<(), Fault> {
        crate::threads::exit_process(status_code as i32)
    }
}

/// A new handle to standard stream `fd`: an input stream for 0, an output stream otherwise.
fn stdio_stream<R>(cx: &Cx, fd: i32) -> Result<Own<R>, Fault> {
    let stream = Arc::new(Stream::stdio(fd));
    let r = if fd == 0 {
        Resource::InputStream(stream)
    } else {
        Resource::OutputStream(stream)
    };
    own(cx.vmctx, r)
}

impl stdin::Host for WasiP2 {
    fn get_stdin(cx: &mut Cx) -> Result<Own<InputStream>, Fault> {
        stdio_stream(cx, 0)
    }
}

impl stdout::Host for WasiP2 {
    fn get_stdout(cx: &mut Cx) -> Result<Own<OutputStream>, Fault> {
        stdio_stream(cx, 1)
    }
}

impl stderr::Host for WasiP2 {
    fn get_stderr(cx: &mut Cx) -> Result<Own<OutputStream>, Fault> {
        stdio_stream(cx, 2)
    }
}

/// `get-terminal-std*`: `some` only when standard stream `fd` is a terminal.
fn terminal<R>(cx: &Cx, fd: i32) -> Result<Option<Own<R>>, Fault> {
    if unsafe { libc::isatty(fd) } != 1 {
        return Ok(None);
    }
    let r = if fd == 0 {
        Resource::TerminalInput
    } else {
        Resource::TerminalOutput
    };
    own(cx.vmctx, r).map(Some)
}

impl terminal_stdin::Host for WasiP2 {
    fn get_terminal_stdin(cx: &mut Cx) -> Result<Option<Own<TerminalInput>>, Fault> {
        terminal(cx, 0)
    }
}

impl terminal_stdout::Host for WasiP2 {
    fn get_terminal_stdout(cx: &mut Cx) -> Result<Option<Own<TerminalOutput>>, Fault> {
        terminal(cx, 1)
    }
}

impl terminal_stderr::Host for WasiP2 {
    fn get_terminal_stderr(cx: &mut Cx) -> Result<Option<Own<TerminalOutput>>, Fault> {
        terminal(cx, 2)
    }
}

impl terminal_input::Host for WasiP2 {
    fn drop_terminal_input(cx: &mut Cx, handle: Own<TerminalInput>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::TerminalInput)
    }
}

impl terminal_output::Host for WasiP2 {
    fn drop_terminal_output(cx: &mut Cx, handle: Own<TerminalOutput>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::TerminalOutput)
    }
}
