//! `wasi_snapshot_preview1` as a wasm module of its own, shipped with wafer and linked with an
//! app built with `wafer build --wasi-over-wali`: the app's 46 preview1 imports bind to this
//! module's exports, and the runtime's native WASI host is not used.
//!
//! The module has two ways out and no other. It reaches the app's memory only through the
//! `wafer:wasi-over-wali` channel (`app_read`, `app_write`, which copy and bounds-check, and
//! `grants`, the executable's environment and preopens), and the kernel only through WALI
//! (`wali` imports, one per Linux syscall). Its behaviour mirrors the native host
//! (`rt/src/wasi/`) call for call: errnos, rights, descriptor numbering, `EFAULT` for a bad
//! app pointer, path checks. It is single-threaded and initialises itself on the first call.
//!
//! Where things live: [`table`] (descriptor table, arguments, environment, startup),
//! [`app`] (the channel), [`sys`] (the WALI imports), [`errno`], [`types`], `alloc.rs`
//! (the allocator). The calls: `args_env` (`args_*`, `environ_*`), `clock` (`clock_*`),
//! `fd` (every `fd_*` but `fd_readdir`'s listing), `dir` (`fd_readdir`), `path` (`path_*`)
//! over `resolve` (walking a path beneath a directory without leaving it), `poll`
//! (`poll_oneoff`), `proc` (`proc_*`, `sched_yield`, `random_get`, `sock_*`). This file holds
//! only the exports, each a thin wrapper.

#![no_std]

extern crate alloc;

// The allocator lives in alloc.rs; `alloc` itself names the standard crate.
pub mod app;
mod args_env;
mod clock;
mod dir;
pub mod errno;
mod fd;
#[path = "alloc.rs"]
mod heap;
mod path;
mod poll;
mod proc;
mod resolve;
pub mod sys;
pub mod table;
pub mod types;

use errno::Errno;

#[global_allocator]
static ALLOCATOR: heap::Allocator = heap::Allocator::new();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// A call's result as the errno it returns.
fn status(result: Result<(), Errno>) -> i32 {
    match result {
        Ok(()) => errno::SUCCESS,
        Err(e) => e,
    }
}

/// Runs `f` after the lazy start-up (grants, standard streams, preopens).
fn run(f: impl FnOnce() -> Result<(), Errno>) -> i32 {
    table::init();
    status(f())
}

// ---- arguments and environment ---------------------------------------------------------------

#[no_mangle]
pub extern "C" fn args_get(argv: i32, argv_buf: i32) -> i32 {
    run(|| args_env::args_get(argv, argv_buf))
}

#[no_mangle]
pub extern "C" fn args_sizes_get(argc: i32, buf_size: i32) -> i32 {
    run(|| args_env::args_sizes_get(argc, buf_size))
}

#[no_mangle]
pub extern "C" fn environ_get(environ: i32, environ_buf: i32) -> i32 {
    run(|| args_env::environ_get(environ, environ_buf))
}

#[no_mangle]
pub extern "C" fn environ_sizes_get(count: i32, buf_size: i32) -> i32 {
    run(|| args_env::environ_sizes_get(count, buf_size))
}

// ---- clocks ----------------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn clock_res_get(id: i32, resolution: i32) -> i32 {
    run(|| clock::clock_res_get(id, resolution))
}

#[no_mangle]
pub extern "C" fn clock_time_get(id: i32, precision: i64, time: i32) -> i32 {
    run(|| clock::clock_time_get(id, precision, time))
}

// ---- descriptors -----------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn fd_advise(fd: i32, offset: i64, len: i64, advice: i32) -> i32 {
    run(|| fd::fd_advise(fd, offset, len, advice))
}

#[no_mangle]
pub extern "C" fn fd_allocate(fd: i32, offset: i64, len: i64) -> i32 {
    run(|| fd::fd_allocate(fd, offset, len))
}

#[no_mangle]
pub extern "C" fn fd_close(fd: i32) -> i32 {
    run(|| fd::fd_close(fd))
}

#[no_mangle]
pub extern "C" fn fd_datasync(fd: i32) -> i32 {
    run(|| fd::fd_datasync(fd))
}

#[no_mangle]
pub extern "C" fn fd_fdstat_get(fd: i32, stat: i32) -> i32 {
    run(|| fd::fd_fdstat_get(fd, stat))
}

#[no_mangle]
pub extern "C" fn fd_fdstat_set_flags(fd: i32, flags: i32) -> i32 {
    run(|| fd::fd_fdstat_set_flags(fd, flags))
}

#[no_mangle]
pub extern "C" fn fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64) -> i32 {
    run(|| fd::fd_fdstat_set_rights(fd, base, inheriting))
}

#[no_mangle]
pub extern "C" fn fd_filestat_get(fd: i32, buf: i32) -> i32 {
    run(|| fd::fd_filestat_get(fd, buf))
}

#[no_mangle]
pub extern "C" fn fd_filestat_set_size(fd: i32, size: i64) -> i32 {
    run(|| fd::fd_filestat_set_size(fd, size))
}

#[no_mangle]
pub extern "C" fn fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, fst_flags: i32) -> i32 {
    run(|| fd::fd_filestat_set_times(fd, atim, mtim, fst_flags))
}

#[no_mangle]
pub extern "C" fn fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32) -> i32 {
    run(|| fd::fd_pread(fd, iovs, iovs_len, offset, nread))
}

#[no_mangle]
pub extern "C" fn fd_prestat_get(fd: i32, buf: i32) -> i32 {
    run(|| fd::fd_prestat_get(fd, buf))
}

#[no_mangle]
pub extern "C" fn fd_prestat_dir_name(fd: i32, path: i32, len: i32) -> i32 {
    run(|| fd::fd_prestat_dir_name(fd, path, len))
}

#[no_mangle]
pub extern "C" fn fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32) -> i32 {
    run(|| fd::fd_pwrite(fd, iovs, iovs_len, offset, nwritten))
}

#[no_mangle]
pub extern "C" fn fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> i32 {
    run(|| fd::fd_read(fd, iovs, iovs_len, nread))
}

#[no_mangle]
pub extern "C" fn fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32) -> i32 {
    table::init();
    dir::fd_readdir(fd, buf, buf_len, cookie, bufused)
}

#[no_mangle]
pub extern "C" fn fd_renumber(from: i32, to: i32) -> i32 {
    run(|| fd::fd_renumber(from, to))
}

#[no_mangle]
pub extern "C" fn fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32) -> i32 {
    run(|| fd::fd_seek(fd, offset, whence, newoffset))
}

#[no_mangle]
pub extern "C" fn fd_sync(fd: i32) -> i32 {
    run(|| fd::fd_sync(fd))
}

#[no_mangle]
pub extern "C" fn fd_tell(fd: i32, offset: i32) -> i32 {
    run(|| fd::fd_tell(fd, offset))
}

#[no_mangle]
pub extern "C" fn fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32) -> i32 {
    run(|| fd::fd_write(fd, iovs, iovs_len, nwritten))
}

// ---- paths (`path.rs`, whose functions answer the errno themselves) ------------------------

#[no_mangle]
pub extern "C" fn path_create_directory(fd: i32, path: i32, path_len: i32) -> i32 {
    table::init();
    path::path_create_directory(fd, path, path_len)
}

#[no_mangle]
pub extern "C" fn path_filestat_get(
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    buf: i32,
) -> i32 {
    table::init();
    path::path_filestat_get(fd, flags, path, path_len, buf)
}

#[no_mangle]
pub extern "C" fn path_filestat_set_times(
    fd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> i32 {
    table::init();
    path::path_filestat_set_times(fd, flags, path, path_len, atim, mtim, fst_flags)
}

#[no_mangle]
pub extern "C" fn path_link(
    old_fd: i32,
    old_flags: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    table::init();
    path::path_link(
        old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len,
    )
}

#[no_mangle]
#[allow(clippy::too_many_arguments)] // path_open's parameters, in their order
pub extern "C" fn path_open(
    fd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    fs_rights_base: i64,
    fs_rights_inheriting: i64,
    fdflags: i32,
    opened: i32,
) -> i32 {
    table::init();
    path::path_open(
        fd,
        dirflags,
        path,
        path_len,
        oflags,
        fs_rights_base,
        fs_rights_inheriting,
        fdflags,
        opened,
    )
}

#[no_mangle]
pub extern "C" fn path_readlink(
    fd: i32,
    path: i32,
    path_len: i32,
    buf: i32,
    buf_len: i32,
    bufused: i32,
) -> i32 {
    table::init();
    path::path_readlink(fd, path, path_len, buf, buf_len, bufused)
}

#[no_mangle]
pub extern "C" fn path_remove_directory(fd: i32, path: i32, path_len: i32) -> i32 {
    table::init();
    path::path_remove_directory(fd, path, path_len)
}

#[no_mangle]
pub extern "C" fn path_rename(
    fd: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    table::init();
    path::path_rename(fd, old_path, old_len, new_fd, new_path, new_len)
}

#[no_mangle]
pub extern "C" fn path_symlink(
    old_path: i32,
    old_len: i32,
    fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    table::init();
    path::path_symlink(old_path, old_len, fd, new_path, new_len)
}

#[no_mangle]
pub extern "C" fn path_unlink_file(fd: i32, path: i32, path_len: i32) -> i32 {
    table::init();
    path::path_unlink_file(fd, path, path_len)
}

// ---- the rest --------------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn poll_oneoff(input: i32, output: i32, nsubscriptions: i32, nevents: i32) -> i32 {
    run(|| poll::poll_oneoff(input, output, nsubscriptions, nevents))
}

#[no_mangle]
pub extern "C" fn proc_exit(code: i32) {
    table::init();
    proc::proc_exit(code)
}

#[no_mangle]
pub extern "C" fn proc_raise(sig: i32) -> i32 {
    run(|| proc::proc_raise(sig))
}

#[no_mangle]
pub extern "C" fn random_get(buf: i32, len: i32) -> i32 {
    run(|| proc::random_get(buf, len))
}

#[no_mangle]
pub extern "C" fn sched_yield() -> i32 {
    run(proc::sched_yield)
}

#[no_mangle]
pub extern "C" fn sock_accept(fd: i32, flags: i32, fd_out: i32) -> i32 {
    run(|| proc::sock_accept(fd, flags, fd_out))
}

#[no_mangle]
pub extern "C" fn sock_recv(
    fd: i32,
    ri_data: i32,
    ri_data_len: i32,
    ri_flags: i32,
    ro_datalen: i32,
    ro_flags: i32,
) -> i32 {
    run(|| proc::sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen, ro_flags))
}

#[no_mangle]
pub extern "C" fn sock_send(
    fd: i32,
    si_data: i32,
    si_data_len: i32,
    si_flags: i32,
    so_datalen: i32,
) -> i32 {
    run(|| proc::sock_send(fd, si_data, si_data_len, si_flags, so_datalen))
}

#[no_mangle]
pub extern "C" fn sock_shutdown(fd: i32, how: i32) -> i32 {
    run(|| proc::sock_shutdown(fd, how))
}
