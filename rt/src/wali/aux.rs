//! WALI's auxiliary imports: startup and teardown, the command line, the initial environment,
//! threads and non-local jumps.

use std::ffi::c_void;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::OnceLock;

use wafer_abi::{TrapKind, VmCtx};

use super::mem::Mem;

static ARGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// The command line the guest sees (`argv[0]` first), set once at startup.
pub fn set_args(args: Vec<Vec<u8>>) {
    let _ = ARGS.set(args);
}

fn args() -> &'static [Vec<u8>] {
    ARGS.get().map_or(&[], Vec::as_slice)
}

/// # Safety (every function below)
/// Called only by compiled wasm code with its live `vmctx`.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_init(_vmctx: *mut VmCtx) -> i32 {
    0
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wali_deinit(_vmctx: *mut VmCtx) -> i32 {
    0
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wali_proc_exit(_vmctx: *mut VmCtx, status: i32) {
    crate::threads::exit_process(status)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wali_cl_get_argc(_vmctx: *mut VmCtx) -> i32 {
    args().len() as i32
}

/// The length of argument `index` without its NUL; 0 for an index past the end.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_cl_get_argv_len(_vmctx: *mut VmCtx, index: i32) -> i32 {
    args()
        .get(index as u32 as usize)
        .map_or(0, |a| a.len() as i32)
}

/// Copies argument `index` and its NUL to `buf`; 0, or `-EFAULT` / `-EINVAL`.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_cl_copy_argv(vmctx: *mut VmCtx, buf: i32, index: i32) -> i32 {
    let Some(arg) = args().get(index as u32 as usize) else {
        return -libc::EINVAL;
    };
    let copy = unsafe { Mem::from_vmctx(vmctx) }.and_then(|mem| {
        let mut bytes = arg.clone();
        bytes.push(0);
        mem.write_bytes(u64::from(buf as u32), &bytes)
    });
    match copy {
        Ok(()) => 0,
        Err(e) => -e.0,
    }
}

/// The path of a file holding the initial environment, one `KEY=VALUE` per line, written to
/// `buf` (NUL-terminated); returns 1, or 0 when there is no environment to give or the path
/// does not fit. The file is an anonymous memory file (`memfd`) made once, so no temporary
/// file on disk can be raced or left behind; the guest opens it as `/proc/self/fd/<n>`.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_get_init_envfile(
    vmctx: *mut VmCtx,
    buf: i32,
    size: i32,
) -> i32 {
    static PATH: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    let Some(path) = PATH.get_or_init(env_file) else {
        return 0;
    };
    let (buf, size) = (u64::from(buf as u32), u64::from(size as u32));
    if path.len() as u64 + 1 > size {
        return 0;
    }
    let mut bytes = path.clone();
    bytes.push(0);
    match unsafe { Mem::from_vmctx(vmctx) }.and_then(|mem| mem.write_bytes(buf, &bytes)) {
        Ok(()) => 1,
        Err(_) => 0,
    }
}

fn env_file() -> Option<Vec<u8>> {
    let env = crate::wasi::ctx::with(|c| c.env.clone());
    if env.is_empty() {
        return None;
    }
    let name = c"wafer-env";
    // SAFETY: plain syscall with a static name.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor we own.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut text = Vec::new();
    for entry in &env {
        text.extend_from_slice(entry);
        text.push(b'\n');
    }
    let mut written = 0;
    while written < text.len() {
        let rest = &text[written..];
        // SAFETY: writes from our buffer to our descriptor.
        let n = unsafe { libc::write(fd, rest.as_ptr() as *const c_void, rest.len()) };
        if n <= 0 {
            return None;
        }
        written += n as usize;
    }
    // Kept open (and at offset 0 for each opener of /proc/self/fd/N) for the process's life.
    let fd = file.into_raw_fd();
    Some(format!("/proc/self/fd/{fd}").into_bytes())
}

/// `setjmp` / `sigsetjmp`: the first return is 0, as upstream engines give it. A later
/// `longjmp` back to it cannot be honoured by compiled frames (see [`wafer_wali_longjmp`]).
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_setjmp(_vmctx: *mut VmCtx, _env: i32) -> i32 {
    0
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wali_sigsetjmp(_vmctx: *mut VmCtx, _env: i32, _save: i32) -> i32 {
    0
}

/// `longjmp` ends the program with a trap that says why: jumping back into frames the
/// compiler laid out cannot be done soundly from the outside.
#[no_mangle]
pub unsafe extern "C" fn wafer_wali_longjmp(_vmctx: *mut VmCtx, _env: i32, _value: i32) {
    // SAFETY: called from compiled code; nothing owned is alive here.
    unsafe { crate::trap::raise(TrapKind::Longjmp) }
}
