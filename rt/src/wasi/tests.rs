//! Host calls driven the way a hostile guest would: pointers and lengths out of range, bad
//! descriptors, paths that try to leave their directory, rights that were not granted.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use wafer_abi::capabilities::{Capabilities, DirGrant, EnvGrant};

use super::args_env::*;
use super::clock::*;
use super::ctx;
use super::dir::*;
use super::errno;
use super::fd::*;
use super::path::*;
use super::poll::*;
use super::proc::*;
use super::types::{filetype, oflags, rights};
use crate::guest_mem::tests::FakeGuest;

/// A scratch directory removed when dropped (the runtime has no dev-dependencies).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let template = std::env::temp_dir().join("wafer-rt-test-XXXXXX");
        let c = CString::new(template.to_str().unwrap()).unwrap();
        let raw = c.into_raw();
        let made = unsafe { libc::mkdtemp(raw) };
        assert!(!made.is_null());
        let c = unsafe { CString::from_raw(raw) };
        Scratch(PathBuf::from(c.into_string().unwrap()))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox `box/` (with `box/file`, `box/sub/`) next to `secret` outside it, preopened as
/// fd 3 (read-write) and, the same directory, as fd 4 (read-only).
fn sandbox() -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let root = s.path().join("box");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("file"), b"inside").unwrap();
    std::fs::write(s.path().join("secret"), b"outside").unwrap();
    let host = root.to_str().unwrap().as_bytes().to_vec();
    ctx::install(&Capabilities {
        dirs: vec![
            DirGrant {
                guest: b"/box".to_vec(),
                host: host.clone(),
                read_only: false,
            },
            DirGrant {
                guest: b"/ro".to_vec(),
                host,
                read_only: true,
            },
        ],
        env: vec![EnvGrant::Fixed {
            key: b"MODE".to_vec(),
            value: b"test".to_vec(),
        }],
        ..Default::default()
    });
    (s, root)
}

fn put(g: &mut FakeGuest, at: usize, bytes: &[u8]) -> (i32, i32) {
    g.bytes[at..at + bytes.len()].copy_from_slice(bytes);
    (at as i32, bytes.len() as i32)
}

const PATH_AT: usize = 0x100;
const OUT: i32 = 0x800;

/// Opens `path` under `dir` for reading (following symlinks); the errno.
fn try_open(g: &mut FakeGuest, dir: i32, path: &[u8]) -> i32 {
    let (p, n) = put(g, PATH_AT, path);
    let vm = g.vmctx();
    unsafe {
        wafer_wasi_path_open(
            vm,
            dir,
            1,
            p,
            n,
            0,
            (rights::FD_READ | rights::FD_SEEK) as i64,
            0,
            0,
            OUT,
        )
    }
}

#[test]
fn fd_write_rejects_hostile_pointers() {
    ctx::install(&Capabilities::default());
    let mut g = FakeGuest::new(0x1000);
    g.put_u32(0, 0x100);
    g.put_u32(4, 3);
    g.put_u32(8, 0xFFFF_FFF0);
    g.put_u32(12, 0x20);
    let vm = g.vmctx();
    unsafe {
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 1, 0x0FFE), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 1, -16), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, i32::MAX, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, -1, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 1, -16, 2, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 2, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_read(vm, 0, 8, 1, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_pwrite(vm, 1, 8, 1, 0, 0x200), errno::FAULT);
        assert_eq!(wafer_wasi_fd_write(vm, 3, 0, 1, 0x200), errno::BADF);
        assert_eq!(wafer_wasi_fd_write(vm, -1, 0, 1, 0x200), errno::BADF);
        assert_eq!(wafer_wasi_fd_write(vm, 1 << 20, 0, 1, 0x200), errno::BADF);
    }
    assert_eq!(g.u32_at(0x200), 0, "nothing written on failure");
}

#[test]
fn fd_write_zero_iovecs_writes_nothing() {
    ctx::install(&Capabilities::default());
    let mut g = FakeGuest::new(0x100);
    g.put_u32(0x10, 99);
    let vm = g.vmctx();
    assert_eq!(
        unsafe { wafer_wasi_fd_write(vm, 2, 0, 0, 0x10) },
        errno::SUCCESS
    );
    assert_eq!(g.u32_at(0x10), 0);
}

#[test]
fn no_memory_is_efault() {
    let mut g = FakeGuest::without_memory();
    let vm = g.vmctx();
    unsafe {
        assert_eq!(wafer_wasi_fd_write(vm, 1, 0, 0, 0), errno::FAULT);
        assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 4), errno::FAULT);
        assert_eq!(wafer_wasi_random_get(vm, 0, 0), errno::FAULT);
        assert_eq!(wafer_wasi_clock_time_get(vm, 0, 0, 0), errno::FAULT);
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, 0, 1, 0, 0, 0, 0, 0),
            errno::FAULT
        );
        assert_eq!(wafer_wasi_poll_oneoff(vm, 0, 0, 1, 0), errno::FAULT);
    }
}

#[test]
fn args_layout_and_bounds() {
    ctx::install(&Capabilities::default());
    ctx::set_args(vec![b"prog".to_vec(), b"a b".to_vec()]);
    let mut g = FakeGuest::new(0x100);
    let vm = g.vmctx();
    unsafe {
        assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 4), 0);
        assert_eq!(wafer_wasi_args_sizes_get(vm, 0, 0xFE), errno::FAULT);
        assert_eq!(wafer_wasi_args_get(vm, 0x10, 0xFC), errno::FAULT);
        assert_eq!(wafer_wasi_args_get(vm, -4, 0x20), errno::FAULT);
        assert_eq!(wafer_wasi_args_get(vm, 0x10, 0x20), 0);
    }
    assert_eq!(g.u32_at(0), 2);
    assert_eq!(g.u32_at(4), 9);
    assert_eq!(g.u32_at(0x10), 0x20);
    assert_eq!(g.u32_at(0x14), 0x25);
    assert_eq!(&g.bytes[0x20..0x29], b"prog\0a b\0");
}

#[test]
fn environment_is_only_what_was_granted() {
    ctx::install(&Capabilities::default());
    let mut g = FakeGuest::new(0x100);
    g.put_u32(0, 7);
    g.put_u32(4, 7);
    let vm = g.vmctx();
    assert_eq!(unsafe { wafer_wasi_environ_sizes_get(vm, 0, 4) }, 0);
    assert_eq!((g.u32_at(0), g.u32_at(4)), (0, 0));

    std::env::set_var("WAFER_RT_TEST_PASSED", "yes");
    ctx::install(&Capabilities {
        dirs: vec![],
        env: vec![
            EnvGrant::Fixed {
                key: b"A".to_vec(),
                value: b"1".to_vec(),
            },
            EnvGrant::Pass {
                key: b"WAFER_RT_TEST_PASSED".to_vec(),
            },
            EnvGrant::Pass {
                key: b"WAFER_RT_TEST_UNSET".to_vec(),
            },
        ],
        ..Default::default()
    });
    unsafe {
        assert_eq!(wafer_wasi_environ_sizes_get(vm, 0, 4), 0);
        assert_eq!((g.u32_at(0), g.u32_at(4)), (2, 4 + 25));
        assert_eq!(wafer_wasi_environ_get(vm, 0x10, 0xF0), errno::FAULT);
        assert_eq!(wafer_wasi_environ_get(vm, 0x10, 0x20), 0);
    }
    assert_eq!(
        &g.bytes[0x20..0x20 + 29],
        b"A=1\0WAFER_RT_TEST_PASSED=yes\0"
    );
}

#[test]
fn clocks_random_and_sockets() {
    let mut g = FakeGuest::new(0x100);
    let vm = g.vmctx();
    unsafe {
        for id in 0..4 {
            assert_eq!(wafer_wasi_clock_time_get(vm, id, 1, 0x10), 0);
            assert_eq!(wafer_wasi_clock_res_get(vm, id, 0x18), 0);
        }
        assert_eq!(wafer_wasi_clock_time_get(vm, 9, 1, 0x10), errno::INVAL);
        assert_eq!(wafer_wasi_clock_res_get(vm, -1, 0x10), errno::INVAL);
        assert_eq!(wafer_wasi_clock_time_get(vm, 1, 1, 0xF9), errno::FAULT);
        assert_eq!(wafer_wasi_random_get(vm, 0x40, 0x40), 0);
        assert_eq!(wafer_wasi_random_get(vm, -16, 0x20), errno::FAULT);
        assert_eq!(wafer_wasi_random_get(vm, 0x80, 0x81), errno::FAULT);
        assert_eq!(wafer_wasi_sock_accept(vm, 0, 0, 0), 58);
        assert_eq!(wafer_wasi_sock_recv(vm, 0, 0, 0, 0, 0, 0), 58);
        assert_eq!(wafer_wasi_sock_send(vm, 0, 0, 0, 0, 0), 58);
        assert_eq!(wafer_wasi_sock_shutdown(vm, 0, 0), 58);
        assert_eq!(wafer_wasi_proc_raise(vm, 0), 0);
        assert_eq!(wafer_wasi_proc_raise(vm, 31), errno::INVAL);
        assert_eq!(wafer_wasi_proc_raise(vm, 16), 0, "SIGCHLD is ignored");
        assert_eq!(wafer_wasi_sched_yield(vm), 0);
    }
    assert_ne!(g.u32_at(0x10) as u64 | (g.u32_at(0x14) as u64) << 32, 0);
    assert!(g.bytes[0x40..0x80].iter().any(|b| *b != 0));
}

#[test]
fn stdio_fdstat_and_prestat() {
    let (_s, _root) = sandbox();
    let mut g = FakeGuest::new(0x100);
    let vm = g.vmctx();
    unsafe {
        assert_eq!(wafer_wasi_fd_fdstat_get(vm, 2, 0x10), 0);
        assert_eq!(wafer_wasi_fd_fdstat_get(vm, 2, 0xF0), errno::FAULT);
        assert_eq!(wafer_wasi_fd_fdstat_get(vm, 7, 0x10), errno::BADF);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 2, 0x10), errno::BADF);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 5, 0x10), errno::BADF);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 3, 0xFC), errno::FAULT);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 3, 0x10), 0);
        assert_eq!(g.u32_at(0x10), 0);
        assert_eq!(g.u32_at(0x14), 4);
        assert_eq!(
            wafer_wasi_fd_prestat_dir_name(vm, 3, 0x20, 3),
            errno::NAMETOOLONG
        );
        assert_eq!(wafer_wasi_fd_prestat_dir_name(vm, 3, 0xFE, 4), errno::FAULT);
        assert_eq!(wafer_wasi_fd_prestat_dir_name(vm, 3, 0x20, 4), 0);
        assert_eq!(wafer_wasi_fd_seek(vm, 2, 0, 7, 0x10), errno::INVAL);
        assert_eq!(wafer_wasi_fd_seek(vm, 2, 0, 0, 0xFC), errno::FAULT);
        assert_eq!(wafer_wasi_fd_fdstat_get(vm, 3, 0x40), 0);
    }
    assert_eq!(&g.bytes[0x20..0x24], b"/box");
    assert_eq!(g.bytes[0x40], 3, "a preopen is a directory");
    assert_eq!(
        u64::from_le_bytes(g.bytes[0x48..0x50].try_into().unwrap()),
        rights::DIR
    );
}

#[test]
fn escapes_are_refused() {
    let (s, root) = sandbox();
    std::os::unix::fs::symlink("/", root.join("to-root")).unwrap();
    std::os::unix::fs::symlink(s.path(), root.join("to-parent")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("up")).unwrap();
    std::fs::create_dir(root.join("hop")).unwrap();
    std::os::unix::fs::symlink("../to-parent", root.join("hop/chain")).unwrap();
    let mut g = FakeGuest::new(0x2000);
    for path in [
        &b"../secret"[..],
        b"/etc/passwd",
        b"to-root/etc/passwd",
        b"to-parent/secret",
        b"up",
        b"hop/chain/secret",
        b"sub/../../secret",
        b"sub/../sub/../../secret",
        b"..",
    ] {
        assert_eq!(
            try_open(&mut g, 3, path),
            errno::NOTCAPABLE,
            "{}",
            String::from_utf8_lossy(path)
        );
    }
    assert_eq!(
        try_open(&mut g, 3, b"sub/../file"),
        0,
        "staying inside is fine"
    );
    let vm = g.vmctx();
    unsafe {
        // Path calls on a final `..` of the preopen must not touch the directory above.
        let (p, n) = put(&mut g, PATH_AT, b"..");
        assert_eq!(
            wafer_wasi_path_filestat_get(vm, 3, 0, p, n, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_create_directory(vm, 3, p, n),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_remove_directory(vm, 3, p, n),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_filestat_set_times(vm, 3, 0, p, n, 0, 0, 10),
            errno::NOTCAPABLE
        );
        let (p, n) = put(&mut g, PATH_AT, b"../secret");
        assert_eq!(wafer_wasi_path_unlink_file(vm, 3, p, n), errno::NOTCAPABLE);
        let (q, m) = put(&mut g, PATH_AT + 0x40, b"stolen");
        assert_eq!(
            wafer_wasi_path_rename(vm, 3, p, n, 3, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_link(vm, 3, 0, p, n, 3, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_rename(vm, 3, q, m, 3, p, n),
            errno::NOTCAPABLE
        );
        let (p, n) = put(&mut g, PATH_AT, b"up");
        assert_eq!(
            wafer_wasi_path_link(vm, 3, 1, p, n, 3, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_filestat_get(vm, 3, 1, p, n, OUT),
            errno::NOTCAPABLE
        );
        // Without following, the link itself is inside and may be looked at.
        assert_eq!(wafer_wasi_path_filestat_get(vm, 3, 0, p, n, OUT), 0);
        assert_eq!(g.bytes[OUT as usize + 16], 7);
    }
    assert_eq!(std::fs::read(s.path().join("secret")).unwrap(), b"outside");
    assert!(!root.join("stolen").exists());
}

#[test]
fn hostile_path_arguments() {
    let (_s, _root) = sandbox();
    let mut g = FakeGuest::new(0x2000);
    let vm = g.vmctx();
    unsafe {
        // Path out of range, wrapping, huge, NUL inside.
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, 0x1FFF, 2, 0, 0, 0, 0, OUT),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, -1, 2, 0, 0, 0, 0, OUT),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, 0, -1, 0, 0, 0, 0, OUT),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, 0, 0x1800, 0, 0, 0, 0, OUT),
            errno::NAMETOOLONG
        );
        assert_eq!(
            wafer_wasi_path_create_directory(vm, 3, 0, 0x1800),
            errno::NAMETOOLONG
        );
        assert_eq!(
            wafer_wasi_path_unlink_file(vm, 3, 0x1000, i32::MAX),
            errno::FAULT
        );
        let (p, n) = put(&mut g, PATH_AT, b"fi\0le");
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0, OUT),
            errno::INVAL
        );
        let (p, n) = put(&mut g, PATH_AT, b"file");
        // Result pointer out of range: nothing is opened.
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0, 0x1FFE),
            errno::FAULT
        );
        assert_eq!(wafer_wasi_fd_close(vm, 5), errno::BADF);
        assert_eq!(
            wafer_wasi_path_filestat_get(vm, 3, 0, p, n, 0x1FC1),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_path_readlink(vm, 3, p, n, 0x1FF0, 0x20, OUT),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_path_readlink(vm, 3, p, n, 0x400, 0x20, -1),
            errno::FAULT
        );
        // Bad descriptors and descriptors of the wrong kind.
        assert_eq!(
            wafer_wasi_path_open(vm, 9, 0, p, n, 0, 0, 0, 0, OUT),
            errno::BADF
        );
        assert_eq!(
            wafer_wasi_path_open(vm, -3, 0, p, n, 0, 0, 0, 0, OUT),
            errno::BADF
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 1, 0, p, n, 0, 0, 0, 0, OUT),
            errno::NOTDIR
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0x10, 0, 0, 0, OUT),
            errno::INVAL
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0x100, OUT),
            errno::INVAL
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, rights::FD_READ as i64, 0, 0, OUT),
            0
        );
        let file = g.u32_at(OUT as usize) as i32;
        assert_eq!(file, 5);
        assert_eq!(
            wafer_wasi_path_open(vm, file, 0, p, n, 0, 0, 0, 0, OUT),
            errno::NOTDIR
        );
        assert_eq!(
            wafer_wasi_fd_readdir(vm, file, 0x400, 0x100, 0, OUT),
            errno::NOTDIR
        );
        assert_eq!(
            wafer_wasi_fd_readdir(vm, 3, 0x1F00, 0x200, 0, OUT),
            errno::FAULT
        );
        // Rights the file was not given.
        g.put_u32(0x300, 0x400);
        g.put_u32(0x304, 4);
        assert_eq!(
            wafer_wasi_fd_write(vm, file, 0x300, 1, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(wafer_wasi_fd_seek(vm, file, 0, 0, OUT), errno::NOTCAPABLE);
        assert_eq!(wafer_wasi_fd_read(vm, file, 0x300, 1, OUT), 0);
        assert_eq!(g.u32_at(OUT as usize), 4);
        assert_eq!(&g.bytes[0x400..0x404], b"insi");
        // Rights can be dropped, never added.
        assert_eq!(wafer_wasi_fd_fdstat_set_rights(vm, file, 0, 0), 0);
        assert_eq!(
            wafer_wasi_fd_read(vm, file, 0x300, 1, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_fd_fdstat_set_rights(vm, file, rights::FD_READ as i64, 0),
            errno::NOTCAPABLE
        );
    }
}

#[test]
fn read_only_directories_refuse_every_change() {
    let (_s, root) = sandbox();
    let mut g = FakeGuest::new(0x2000);
    let vm = g.vmctx();
    let write = (rights::FD_READ | rights::FD_WRITE) as i64;
    unsafe {
        let (p, n) = put(&mut g, PATH_AT, b"file");
        let (q, m) = put(&mut g, PATH_AT + 0x40, b"new");
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, p, n, 0, write, 0, 0, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, q, m, 1, 0, 0, 0, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, p, n, 8, 0, 0, 0, OUT),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_create_directory(vm, 4, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(wafer_wasi_path_unlink_file(vm, 4, p, n), errno::NOTCAPABLE);
        assert_eq!(
            wafer_wasi_path_rename(vm, 4, p, n, 4, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_rename(vm, 4, p, n, 3, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_link(vm, 4, 0, p, n, 4, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_symlink(vm, p, n, 4, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_path_filestat_set_times(vm, 4, 0, p, n, 0, 0, 10),
            errno::NOTCAPABLE
        );
        let (d, k) = put(&mut g, PATH_AT + 0x80, b"sub");
        assert_eq!(
            wafer_wasi_path_remove_directory(vm, 4, d, k),
            errno::NOTCAPABLE
        );
        // Reading works, and what is opened beneath is read-only too (also on the host).
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, p, n, 0, rights::FD_READ as i64, -1, 0, OUT),
            0
        );
        let file = g.u32_at(OUT as usize) as i32;
        assert_eq!(
            wafer_wasi_fd_filestat_set_size(vm, file, 0),
            errno::NOTCAPABLE
        );
        assert_eq!(
            wafer_wasi_fd_filestat_set_times(vm, file, 0, 0, 10),
            errno::NOTCAPABLE
        );
        assert_eq!(wafer_wasi_fd_allocate(vm, file, 0, 10), errno::NOTCAPABLE);
        let all_but_write = !rights::FD_WRITE as i64;
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, d, k, 2, all_but_write, -1, 0, OUT),
            0
        );
        let sub = g.u32_at(OUT as usize) as i32;
        assert_eq!(
            wafer_wasi_path_create_directory(vm, sub, q, m),
            errno::NOTCAPABLE
        );
        assert_eq!(wafer_wasi_fd_fdstat_get(vm, sub, 0x600), 0);
        let base = u64::from_le_bytes(g.bytes[0x608..0x610].try_into().unwrap());
        assert_eq!(base & rights::PATH_CREATE_FILE, 0);
    }
    assert_eq!(std::fs::read(root.join("file")).unwrap(), b"inside");
    assert!(!root.join("new").exists());
}

#[test]
fn renumber_and_close() {
    let (_s, _root) = sandbox();
    let mut g = FakeGuest::new(0x2000);
    let vm = g.vmctx();
    unsafe {
        let (p, n) = put(&mut g, PATH_AT, b"file");
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, rights::FD_READ as i64, 0, 0, OUT),
            0
        );
        let file = g.u32_at(OUT as usize) as i32;
        assert_eq!(
            wafer_wasi_fd_renumber(vm, file, 9),
            errno::BADF,
            "target must be open"
        );
        assert_eq!(wafer_wasi_fd_renumber(vm, 9, file), errno::BADF);
        // Over the read-only preopen: it is gone, and the file there is no directory.
        assert_eq!(wafer_wasi_fd_renumber(vm, file, 4), 0);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 4, 0x10), errno::BADF);
        assert_eq!(
            wafer_wasi_path_open(vm, 4, 0, p, n, 0, 0, 0, 0, OUT),
            errno::NOTDIR
        );
        assert_eq!(wafer_wasi_fd_close(vm, file), errno::BADF, "moved away");
        // Renumbering onto itself is allowed and changes nothing.
        assert_eq!(wafer_wasi_fd_renumber(vm, 3, 3), 0);
        assert_eq!(wafer_wasi_fd_prestat_get(vm, 3, 0x10), 0);
        // Closing stdio: gone for the guest, never for the runtime.
        assert_eq!(wafer_wasi_fd_close(vm, 0), 0);
        assert_eq!(wafer_wasi_fd_close(vm, 0), errno::BADF);
        assert_eq!(wafer_wasi_fd_read(vm, 0, 0x300, 0, OUT), errno::BADF);
        // The lowest free number is reused.
        assert_eq!(wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0, OUT), 0);
        assert_eq!(g.u32_at(OUT as usize), 0);
        assert_eq!(wafer_wasi_fd_close(vm, 3), 0, "a preopen may be closed");
        assert_eq!(
            wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0, OUT),
            errno::BADF
        );
    }
}

#[test]
fn readdir_with_small_buffers() {
    let (_s, _root) = sandbox();
    let mut g = FakeGuest::new(0x2000);
    let vm = g.vmctx();
    let mut names = Vec::new();
    let mut cookie = 0i64;
    unsafe {
        // 10 bytes cannot hold a header: the buffer is filled, so the guest asks again.
        assert_eq!(wafer_wasi_fd_readdir(vm, 3, 0x400, 10, 0, OUT), 0);
        assert_eq!(g.u32_at(OUT as usize), 10);
        // One entry at a time, resuming at each d_next.
        loop {
            assert_eq!(wafer_wasi_fd_readdir(vm, 3, 0x400, 24 + 8, cookie, OUT), 0);
            let used = g.u32_at(OUT as usize) as usize;
            if used == 0 {
                break;
            }
            let next = u64::from_le_bytes(g.bytes[0x400..0x408].try_into().unwrap());
            let len = g.u32_at(0x410) as usize;
            assert!(used >= 24 && len <= 8);
            names.push(String::from_utf8(g.bytes[0x418..0x418 + len].to_vec()).unwrap());
            cookie = next as i64;
        }
        assert_eq!(wafer_wasi_fd_readdir(vm, 3, 0x400, 0x100, 1000, OUT), 0);
        assert_eq!(g.u32_at(OUT as usize), 0, "past the end");
    }
    names.sort();
    assert_eq!(names, [".", "..", "file", "sub"]);
}

#[test]
fn poll_oneoff_sleeps_and_checks() {
    let (_s, _root) = sandbox();
    let mut g = FakeGuest::new(0x1000);
    // Subscription 0: relative monotonic clock, 20 ms.
    g.bytes[0..8].copy_from_slice(&7u64.to_le_bytes());
    g.bytes[8] = 0;
    g.put_u32(16, 1);
    g.bytes[24..32].copy_from_slice(&20_000_000u64.to_le_bytes());
    // Subscription 1: fd_read on a descriptor that does not exist.
    g.bytes[48..56].copy_from_slice(&9u64.to_le_bytes());
    g.bytes[56] = 1;
    g.put_u32(64, 77);
    let vm = g.vmctx();
    unsafe {
        assert_eq!(wafer_wasi_poll_oneoff(vm, 0, 0x200, 0, 0x300), errno::INVAL);
        assert_eq!(wafer_wasi_poll_oneoff(vm, 0, 0xFF0, 1, 0x300), errno::FAULT);
        assert_eq!(
            wafer_wasi_poll_oneoff(vm, 0xFF0, 0x200, 1, 0x300),
            errno::FAULT
        );
        assert_eq!(
            wafer_wasi_poll_oneoff(vm, 0, 0x200, i32::MAX, 0x300),
            errno::FAULT
        );
        let t0 = std::time::Instant::now();
        assert_eq!(wafer_wasi_poll_oneoff(vm, 0, 0x200, 1, 0x300), 0);
        assert!(t0.elapsed() >= std::time::Duration::from_millis(20));
        assert_eq!(g.u32_at(0x300), 1);
        assert_eq!(g.u32_at(0x200), 7);
        assert_eq!(g.bytes[0x208], 0, "no error");
        assert_eq!(g.bytes[0x20A], 0, "clock event");
        // With the bad descriptor: its error comes back at once.
        let t0 = std::time::Instant::now();
        assert_eq!(wafer_wasi_poll_oneoff(vm, 0, 0x200, 2, 0x300), 0);
        assert!(t0.elapsed() < std::time::Duration::from_millis(20));
        assert_eq!(g.u32_at(0x300), 1);
        assert_eq!(g.u32_at(0x200), 9);
        assert_eq!(g.bytes[0x208] as i32, errno::BADF);
        // A regular file is always ready.
        let (p, n) = put(&mut g, PATH_AT, b"file");
        assert_eq!(wafer_wasi_path_open(vm, 3, 0, p, n, 0, -1, 0, 0, OUT), 0);
        let file = g.u32_at(OUT as usize);
        g.put_u32(64, file);
        assert_eq!(wafer_wasi_poll_oneoff(vm, 48, 0x200, 1, 0x300), 0);
        assert_eq!(g.u32_at(0x300), 1);
        assert_eq!(g.bytes[0x20A], 1);
        assert_eq!(
            u64::from_le_bytes(g.bytes[0x210..0x218].try_into().unwrap()),
            6
        );
    }
}

#[test]
fn errno_mapping() {
    assert_eq!(errno::from_host(libc::ESPIPE), 70);
    assert_eq!(errno::from_host(libc::EBADF), 8);
    assert_eq!(errno::from_host(libc::ENOSYS), 52);
    assert_eq!(errno::from_host(libc::ENOENT), 44);
    assert_eq!(errno::from_host(libc::ENOTEMPTY), 55);
    assert_eq!(errno::from_host(libc::EXDEV), 75);
    assert_eq!(errno::from_host(9999), errno::IO);
    assert_eq!(errno::NOTCAPABLE, 76);
}

// Threads: several threads share one context, as the threads of a wasi-threads guest do.

/// Long enough for anything that is not stuck.
const PATIENCE: Duration = Duration::from_secs(10);

/// A pipe: its read end and its write end.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Hands `fd` to the guest with `base` rights; its guest number.
fn give(fd: OwnedFd, base: u64) -> i32 {
    ctx::with(|c| c.insert(ctx::FdEntry::new(fd, filetype::UNKNOWN, base, 0))).unwrap() as i32
}

/// How many hold the host side of guest descriptor `fd`: the table, and each call using it.
fn holders(fd: i32) -> usize {
    ctx::with(|c| match &c.get(fd).unwrap().host {
        ctx::Host::Owned(host) => Arc::strong_count(host),
        ctx::Host::Stdio(_) => 0,
    })
}

fn host_raw(fd: i32) -> RawFd {
    ctx::with(|c| c.get(fd).unwrap().raw())
}

fn gettid() -> i32 {
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Waits until `cond` holds, failing after [`PATIENCE`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until thread `tid` of this process sleeps in the kernel in one of `syscalls` (where
/// the kernel does not say which call, only that it sleeps).
fn wait_blocked_in(tid: i32, syscalls: &[libc::c_long]) {
    wait_until(&format!("thread {tid} blocks in {syscalls:?}"), || {
        let task = format!("/proc/self/task/{tid}");
        let stat = std::fs::read_to_string(format!("{task}/stat")).unwrap();
        let asleep = stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('S');
        let call = std::fs::read_to_string(format!("{task}/syscall"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<libc::c_long>().ok());
        asleep && call.is_none_or(|n| syscalls.contains(&n))
    });
}

/// The poll events of a host descriptor right now.
fn revents(fd: RawFd, events: i16) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    assert!(unsafe { libc::poll(&mut p, 1, 0) } >= 0);
    p.revents
}

fn host_write(fd: &OwnedFd, bytes: &[u8]) {
    let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

/// A guest memory with one iovec at 0 (16 bytes at 0x100) and the byte count at 0x10: enough
/// for one `fd_read`/`fd_write` call.
fn one_iovec_guest() -> FakeGuest {
    let mut g = FakeGuest::new(0x1000);
    g.put_u32(0, 0x100);
    g.put_u32(4, 16);
    g
}

#[test]
fn a_new_thread_has_its_own_context_until_it_adopts_one() {
    let (_s, _root) = sandbox();
    let shared = ctx::share();
    let (fresh, adopted) = std::thread::spawn(move || {
        let mut g = FakeGuest::new(0x100);
        let vm = g.vmctx();
        let fresh = unsafe { wafer_wasi_fd_prestat_get(vm, 3, 0x10) };
        ctx::adopt(shared);
        let adopted = unsafe { wafer_wasi_fd_prestat_get(vm, 3, 0x10) };
        // The adopting thread's changes are everyone's.
        assert_eq!(unsafe { wafer_wasi_fd_close(vm, 4) }, 0);
        (fresh, adopted)
    })
    .join()
    .unwrap();
    assert_eq!(fresh, errno::BADF, "a fresh context has no preopens");
    assert_eq!(adopted, 0);
    let mut g = FakeGuest::new(0x100);
    let vm = g.vmctx();
    assert_eq!(
        unsafe { wafer_wasi_fd_prestat_get(vm, 4, 0x10) },
        errno::BADF
    );
    assert_eq!(unsafe { wafer_wasi_fd_prestat_get(vm, 3, 0x10) }, 0);
}

#[test]
fn a_thread_panicking_with_the_lock_held_poisons_nothing() {
    let (_s, _root) = sandbox();
    let shared = ctx::share();
    let panicked = std::thread::spawn(move || {
        ctx::adopt(shared);
        ctx::with(|_| panic!("a host call panicked with the context locked"));
    })
    .join();
    assert!(panicked.is_err());
    let mut g = FakeGuest::new(0x100);
    let vm = g.vmctx();
    assert_eq!(unsafe { wafer_wasi_fd_prestat_get(vm, 3, 0x10) }, 0);
    assert_eq!(unsafe { wafer_wasi_fd_close(vm, 4) }, 0);
}

#[test]
fn threads_open_write_read_and_close_files_at_once() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 40;
    let (_s, root) = sandbox();
    let shared = ctx::share();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                ctx::adopt(shared);
                let mut g = FakeGuest::new(0x2000);
                let vm = g.vmctx();
                let name = format!("file-{t}");
                let (p, n) = put(&mut g, PATH_AT, name.as_bytes());
                let base = (rights::FD_READ | rights::FD_WRITE | rights::FD_SEEK) as i64;
                let create = (oflags::CREAT | oflags::TRUNC) as i32;
                for round in 0..ROUNDS {
                    let text = format!("thread {t} round {round}");
                    let (at, len) = put(&mut g, 0x400, text.as_bytes());
                    g.put_u32(0x300, at as u32);
                    g.put_u32(0x304, len as u32);
                    g.put_u32(0x308, 0x600);
                    g.put_u32(0x30C, 0x100);
                    unsafe {
                        assert_eq!(
                            wafer_wasi_path_open(vm, 3, 0, p, n, create, base, 0, 0, OUT),
                            0
                        );
                        let fd = g.u32_at(OUT as usize) as i32;
                        assert!(fd >= 5, "fd {fd} is a standard stream or a preopen");
                        assert_eq!(wafer_wasi_fd_write(vm, fd, 0x300, 1, 0x310), 0);
                        assert_eq!(g.u32_at(0x310), len as u32);
                        // Positioned, then from the start through the stream position.
                        assert_eq!(wafer_wasi_fd_pread(vm, fd, 0x308, 1, 0, 0x310), 0);
                        assert_eq!(g.u32_at(0x310), len as u32);
                        assert_eq!(&g.bytes[0x600..0x600 + len as usize], text.as_bytes());
                        g.bytes[0x600..0x700].fill(0);
                        assert_eq!(wafer_wasi_fd_seek(vm, fd, 0, 0, 0x318), 0);
                        assert_eq!(wafer_wasi_fd_read(vm, fd, 0x308, 1, 0x310), 0);
                        assert_eq!(g.u32_at(0x310), len as u32);
                        assert_eq!(&g.bytes[0x600..0x600 + len as usize], text.as_bytes());
                        assert_eq!(wafer_wasi_fd_close(vm, fd), 0);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..THREADS {
        let text = std::fs::read_to_string(root.join(format!("file-{t}"))).unwrap();
        assert_eq!(text, format!("thread {t} round {}", ROUNDS - 1));
    }
    // Every descriptor the threads opened is closed.
    assert_eq!(
        ctx::with(|c| (5..64).filter(|&fd| c.get(fd).is_ok()).count()),
        0
    );
}

#[test]
fn a_blocked_read_or_poll_does_not_hold_up_other_threads() {
    ctx::install(&Capabilities::default());
    let (waiting_r, waiting_w) = pipe();
    let (other_r, other_w) = pipe();
    let waiting = give(waiting_r, rights::FD_READ | rights::POLL_FD_READWRITE);
    let other = give(other_w, rights::FD_WRITE);
    let shared = ctx::share();

    // One thread reads the waiting pipe (4 bytes), one polls it: both block, nothing is
    // written yet.
    let (read_tx, read_rx) = mpsc::channel();
    let (tid_tx, tid_rx) = mpsc::channel();
    let reader = {
        let (shared, tid_tx) = (shared.clone(), tid_tx.clone());
        std::thread::spawn(move || {
            ctx::adopt(shared);
            let mut g = one_iovec_guest();
            g.put_u32(4, 4);
            let vm = g.vmctx();
            tid_tx.send(gettid()).unwrap();
            let e = unsafe { wafer_wasi_fd_read(vm, waiting, 0, 1, 0x10) };
            read_tx
                .send((e, g.u32_at(0x10), g.bytes[0x100..0x104].to_vec()))
                .unwrap();
        })
    };
    let (poll_tx, poll_rx) = mpsc::channel();
    let poller = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            ctx::adopt(shared);
            let mut g = FakeGuest::new(0x1000);
            g.bytes[0..8].copy_from_slice(&42u64.to_le_bytes());
            g.bytes[8] = 1; // fd_read
            g.put_u32(16, waiting as u32);
            let vm = g.vmctx();
            tid_tx.send(gettid()).unwrap();
            let e = unsafe { wafer_wasi_poll_oneoff(vm, 0, 0x200, 1, 0x300) };
            poll_tx
                .send((
                    e,
                    g.u32_at(0x300),
                    g.u32_at(0x200),
                    g.bytes[0x208],
                    g.bytes[0x20A],
                ))
                .unwrap();
        })
    };
    let tids = [tid_rx.recv().unwrap(), tid_rx.recv().unwrap()];

    // Meanwhile another thread looks at the table and writes to the other pipe. If the waiting
    // calls held the context locked, it would wait for them for ever.
    let (write_tx, write_rx) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        ctx::adopt(shared);
        for tid in tids {
            wait_blocked_in(tid, &[libc::SYS_readv, libc::SYS_ppoll]);
        }
        // The table's and one for each waiting call.
        let held = holders(waiting);
        let mut g = one_iovec_guest();
        g.bytes[0x100..0x104].copy_from_slice(b"ping");
        g.put_u32(4, 4);
        let vm = g.vmctx();
        write_tx
            .send((unsafe { wafer_wasi_fd_write(vm, other, 0, 1, 0x10) }, held))
            .unwrap();
    });
    // Longer than the writer waits for the others to block, so its own failure shows as such.
    let wrote = write_rx.recv_timeout(2 * PATIENCE);
    // Wake the waiting calls whatever happened; more than the read takes, so that the poll
    // still finds the pipe readable however the two threads are scheduled.
    host_write(&waiting_w, b"pongpong");
    let (wrote, held) = wrote.expect("fd_write waited for another thread's blocked fd_read");
    assert_eq!(wrote, 0);
    assert_eq!(held, 3, "each blocked call holds the descriptor");
    let mut buf = [0u8; 4];
    let n = unsafe { libc::read(other_r.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
    assert_eq!((n, &buf), (4, b"ping"));
    let (e, n, bytes) = read_rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!((e, n, &bytes[..]), (0, 4, &b"pong"[..]));
    let (e, nevents, userdata, error, kind) = poll_rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!((e, nevents, userdata, error, kind), (0, 1, 42, 0, 1));
    for t in [reader, poller, writer] {
        t.join().unwrap();
    }
    assert_eq!(holders(waiting), 1, "the calls let go of the descriptor");
}

#[test]
fn closing_a_descriptor_with_a_read_in_flight() {
    let (_s, _root) = sandbox();
    let (r, w) = pipe();
    let fd = give(r, rights::FD_READ);
    let pipe_raw = host_raw(fd);
    let shared = ctx::share();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (read_tx, read_rx) = mpsc::channel();
    let reader = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            ctx::adopt(shared);
            let mut g = one_iovec_guest();
            let vm = g.vmctx();
            tid_tx.send(gettid()).unwrap();
            let e = unsafe { wafer_wasi_fd_read(vm, fd, 0, 1, 0x10) };
            read_tx.send((e, g.u32_at(0x10), g.bytes[0x100])).unwrap();
        })
    };
    let tid = tid_rx.recv().unwrap();
    // Close on another thread (so a lock held by the read would fail the test, not hang it).
    let (close_tx, close_rx) = mpsc::channel();
    let closer = std::thread::spawn(move || {
        ctx::adopt(shared);
        wait_blocked_in(tid, &[libc::SYS_readv]);
        // The table's and the read's.
        let held = holders(fd);
        let mut g = one_iovec_guest();
        let vm = g.vmctx();
        let closed = unsafe { wafer_wasi_fd_close(vm, fd) };
        // Gone from the table at once.
        let after = unsafe {
            [
                wafer_wasi_fd_read(vm, fd, 0, 1, 0x10),
                wafer_wasi_fd_fdstat_get(vm, fd, 0x200),
                wafer_wasi_fd_close(vm, fd),
            ]
        };
        // The lowest free number is the closed one, yet the host cannot hand out the pipe's
        // descriptor again: it is still open.
        let (p, n) = put(&mut g, PATH_AT, b"file");
        let opened = unsafe { wafer_wasi_path_open(vm, 3, 0, p, n, 0, 0, 0, 0, OUT) };
        let reused = g.u32_at(OUT as usize) as i32;
        close_tx
            .send((held, closed, after, opened, reused, host_raw(reused)))
            .unwrap();
    });
    let closed = close_rx.recv_timeout(2 * PATIENCE);
    // Still open for the read: the write end has a reader.
    let ev = revents(w.as_raw_fd(), libc::POLLOUT);
    host_write(&w, b"x");
    let (held, closed, after, opened, reused, reused_raw) =
        closed.expect("fd_close waited for fd_read");
    assert_eq!(closed, 0);
    assert_eq!(after, [errno::BADF; 3]);
    assert_eq!((opened, reused), (0, fd));
    assert_ne!(
        reused_raw, pipe_raw,
        "the host reused the pipe's descriptor under the read"
    );
    assert_eq!(held, 2, "the read holds the descriptor");
    assert_eq!(ev & libc::POLLERR, 0, "the pipe was closed under the read");
    // The read completes with what was written.
    assert_eq!(read_rx.recv_timeout(PATIENCE).unwrap(), (0, 1, b'x'));
    reader.join().unwrap();
    closer.join().unwrap();
    // And only then is the pipe closed: no reader left.
    let ev = revents(w.as_raw_fd(), libc::POLLOUT);
    assert_ne!(ev & libc::POLLERR, 0, "the pipe stayed open after the read");
}
