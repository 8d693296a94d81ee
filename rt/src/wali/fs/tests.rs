//! The family's handlers called directly against a fake guest memory: hostile pointers,
//! lengths and arrays, the process memory file under every spelling (on both open paths),
//! and ordinary calls whose results are checked against the host.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};

use super::open::{open_aside, open_here};
use crate::guest_mem::tests::FakeGuest;
use crate::wali::arch::fcntl::guest;
use crate::wali::mem::Mem;
use crate::wali::{Call, Errno, SysResult};

const MEM: usize = 0x10000;
const EFAULT: SysResult = Err(Errno(libc::EFAULT));
const EINVAL: SysResult = Err(Errno(libc::EINVAL));
const EACCES: SysResult = Err(Errno(libc::EACCES));

/// Every syscall this family answers.
const NAMES: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "fstat",
    "lstat",
    "lseek",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "pipe",
    "dup",
    "dup2",
    "fcntl",
    "flock",
    "fsync",
    "fdatasync",
    "ftruncate",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "mkdir",
    "rmdir",
    "link",
    "unlink",
    "symlink",
    "readlink",
    "chmod",
    "fchmod",
    "chown",
    "fchown",
    "umask",
    "statfs",
    "fstatfs",
    "chroot",
    "getdents64",
    "fadvise",
    "openat",
    "mkdirat",
    "fchownat",
    "newfstatat",
    "unlinkat",
    "linkat",
    "symlinkat",
    "readlinkat",
    "fchmodat",
    "faccessat",
    "utimensat",
    "dup3",
    "pipe2",
    "renameat2",
    "statx",
    "faccessat2",
];

/// Calls the handler of `name` with `args` (the rest 0) against `g`'s memory.
fn call(g: &mut FakeGuest, name: &str, args: &[u64]) -> SysResult {
    let syscall = wafer_abi::wali::syscall(name).expect("in the table");
    let handler = super::handler(name).expect("handled by this family");
    let vmctx = g.vmctx();
    // SAFETY: the fake context lives as long as `g`.
    let mem = unsafe { Mem::from_vmctx(vmctx) }.unwrap();
    let call = Call {
        vmctx,
        mem,
        syscall,
    };
    let mut all = [0u64; 6];
    all[..args.len()].copy_from_slice(args);
    handler(&call, &all)
}

/// A signed C int as the adapter widens it.
fn s(v: i64) -> u64 {
    v as u64
}

fn put_str(g: &mut FakeGuest, at: usize, s: &str) -> u64 {
    g.bytes[at..at + s.len()].copy_from_slice(s.as_bytes());
    g.bytes[at + s.len()] = 0;
    at as u64
}

/// A fresh path under the temporary directory (removed by [`Scratch`]'s drop).
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wafer-wali-fs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn close(fd: i64) {
    // SAFETY: a descriptor the test made.
    unsafe { libc::close(fd as i32) };
}

fn host_pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: our own array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

#[test]
fn the_family_answers_exactly_its_implemented_syscalls() {
    for name in NAMES {
        let s = wafer_abi::wali::syscall(name).unwrap();
        assert!(s.implemented, "{name}");
        assert!(super::handler(name).is_some(), "{name}");
    }
    for s in wafer_abi::wali::SYSCALLS {
        if super::handler(s.name).is_some() {
            assert!(
                NAMES.contains(&s.name),
                "{} is handled but not listed",
                s.name
            );
        }
    }
}

#[test]
fn buffers_are_checked_for_their_whole_length() {
    let mut g = FakeGuest::new(MEM);
    let (r, w) = host_pipe();
    let (r, w) = (r as u64, w as u64);
    let end = MEM as u64;
    // Past the end, straddling it, wrapping around 4 GiB, above 4 GiB, and NULL.
    assert_eq!(call(&mut g, "write", &[w, end - 2, 4]), EFAULT);
    assert_eq!(call(&mut g, "write", &[w, 0xFFFF_FFF0, 0x20]), EFAULT);
    assert_eq!(call(&mut g, "write", &[w, 0x10, 0xFFFF_FFFF]), EFAULT);
    assert_eq!(call(&mut g, "write", &[w, 1 << 32, 1]), EFAULT);
    assert_eq!(call(&mut g, "write", &[w, 0, 1]), EFAULT);
    assert_eq!(call(&mut g, "read", &[r, end, 1]), EFAULT);
    assert_eq!(call(&mut g, "pread64", &[r, end - 1, 2, 0]), EFAULT);
    assert_eq!(call(&mut g, "pwrite64", &[w, end - 1, 2, 0]), EFAULT);
    // A null buffer of length 0 is the kernel's business (a pipe answers 0).
    assert_eq!(call(&mut g, "write", &[w, 0, 0]), Ok(0));
    // The last byte of memory is fine.
    g.bytes[MEM - 1] = b'z';
    assert_eq!(call(&mut g, "write", &[w, end - 1, 1]), Ok(1));
    assert_eq!(call(&mut g, "read", &[r, 0x100, 8]), Ok(1));
    assert_eq!(g.bytes[0x100], b'z');
    close(r as i64);
    close(w as i64);
}

#[test]
fn iovec_arrays_are_copied_once_and_checked_entry_by_entry() {
    let mut g = FakeGuest::new(MEM);
    let (r, w) = host_pipe();
    let (r, w) = (r as u64, w as u64);
    g.bytes[0x200..0x205].copy_from_slice(b"hello");
    // iov[0] = {0x200, 3}, iov[1] = {0x203, 2}
    g.put_u32(0x100, 0x200);
    g.put_u32(0x104, 3);
    g.put_u32(0x108, 0x203);
    g.put_u32(0x10C, 2);
    assert_eq!(call(&mut g, "writev", &[w, 0x100, 2]), Ok(5));
    g.put_u32(0x300, 0x400);
    g.put_u32(0x304, 5);
    assert_eq!(call(&mut g, "readv", &[r, 0x300, 1]), Ok(5));
    assert_eq!(&g.bytes[0x400..0x405], b"hello");
    // Counts: negative, above IOV_MAX.
    assert_eq!(call(&mut g, "writev", &[w, 0x100, s(-1)]), EINVAL);
    assert_eq!(call(&mut g, "writev", &[w, 0x100, 1025]), EINVAL);
    assert_eq!(
        call(&mut g, "readv", &[r, 0x100, s(i32::MIN as i64)]),
        EINVAL
    );
    // The array partly outside memory.
    let last = MEM as u64 - 8;
    g.put_u32(last as usize, 0x200);
    g.put_u32(last as usize + 4, 1);
    assert_eq!(call(&mut g, "writev", &[w, last, 2]), EFAULT);
    assert_eq!(call(&mut g, "writev", &[w, 0xFFFF_FFF8, 2]), EFAULT);
    // One entry outside memory, one wrapping, one null with a length: nothing is written.
    for (base, len) in [(MEM as u32 - 1, 2), (0xFFFF_FFFF, 2), (0, 1)] {
        g.put_u32(0x108, base);
        g.put_u32(0x10C, len);
        assert_eq!(call(&mut g, "writev", &[w, 0x100, 2]), EFAULT);
    }
    // A zero count touches nothing, wherever the array is.
    assert_eq!(call(&mut g, "writev", &[w, 0xFFFF_FFFF, 0]), Ok(0));
    let mut pending = 0i32;
    // SAFETY: our own int.
    unsafe { libc::ioctl(r as i32, libc::FIONREAD, &mut pending) };
    assert_eq!(pending, 0, "a refused writev wrote nothing");
    close(r as i64);
    close(w as i64);
}

#[test]
fn paths_must_end_inside_memory() {
    let mut g = FakeGuest::new(MEM);
    // No NUL before the end of memory.
    g.bytes[MEM - 4..].copy_from_slice(b"/tmp");
    let unterminated = MEM as u64 - 4;
    assert_eq!(call(&mut g, "open", &[unterminated, 0, 0]), EFAULT);
    assert_eq!(call(&mut g, "stat", &[unterminated, 0x100]), EFAULT);
    assert_eq!(call(&mut g, "mkdir", &[unterminated, 0o700]), EFAULT);
    assert_eq!(call(&mut g, "open", &[MEM as u64, 0, 0]), EFAULT);
    assert_eq!(call(&mut g, "open", &[1 << 32, 0, 0]), EFAULT);
    // NULL paths fail as they do natively.
    assert_eq!(call(&mut g, "open", &[0, 0, 0]), EFAULT);
    assert_eq!(call(&mut g, "unlink", &[0]), EFAULT);
    let x = put_str(&mut g, 0x100, "/x");
    assert_eq!(call(&mut g, "rename", &[0, x]), EFAULT);
    assert_eq!(call(&mut g, "symlinkat", &[x, s(-100), 0]), EFAULT);
}

#[test]
fn out_structs_are_checked() {
    let mut g = FakeGuest::new(MEM);
    let root = put_str(&mut g, 0x100, "/");
    let end = MEM as u64;
    assert_eq!(call(&mut g, "stat", &[root, end - 143]), EFAULT);
    assert_eq!(call(&mut g, "stat", &[root, 0]), EFAULT);
    assert_eq!(call(&mut g, "lstat", &[root, 1 << 32]), EFAULT);
    assert_eq!(call(&mut g, "fstat", &[0, end - 100]), EFAULT);
    assert_eq!(
        call(&mut g, "newfstatat", &[s(-100), root, end - 1, 0]),
        EFAULT
    );
    assert_eq!(
        call(&mut g, "statx", &[s(-100), root, 0, 0xfff, end - 255]),
        EFAULT
    );
    assert_eq!(call(&mut g, "statfs", &[root, end - 119]), EFAULT);
    assert_eq!(call(&mut g, "fstatfs", &[0, end - 1]), EFAULT);
    assert_eq!(call(&mut g, "getcwd", &[end - 2, 4096]), EFAULT);
    assert_eq!(call(&mut g, "getcwd", &[0x200, 0xFFFF_FFFF]), EFAULT);
    assert_eq!(call(&mut g, "readlink", &[root, end - 1, 16]), EFAULT);
    assert_eq!(call(&mut g, "getdents64", &[0, 0x200, s(-1)]), EFAULT);
    assert_eq!(call(&mut g, "pipe", &[end - 4]), EFAULT);
    assert_eq!(call(&mut g, "pipe2", &[0, 0]), EFAULT);
    assert_eq!(
        call(&mut g, "utimensat", &[s(-100), root, end - 16, 0]),
        EFAULT
    );
    // A missing path is ENOENT even with a bad buffer, as the kernel orders it.
    let missing = put_str(&mut g, 0x300, "/nonexistent/wafer");
    assert_eq!(
        call(&mut g, "stat", &[missing, 0]),
        Err(Errno(libc::ENOENT))
    );
}

#[test]
fn stat_writes_the_guests_layout() {
    let dir = Scratch::new();
    let file = dir.path("f");
    std::fs::write(&file, [7u8; 100]).unwrap();
    let mut g = FakeGuest::new(MEM);
    let p = put_str(&mut g, 0x100, &file);
    for name in ["stat", "lstat"] {
        g.bytes[0x1000..0x1000 + 144].fill(0xAA);
        assert_eq!(call(&mut g, name, &[p, 0x1000]), Ok(0));
        let size = u64::from_le_bytes(g.bytes[0x1030..0x1038].try_into().unwrap());
        let mode = g.u32_at(0x1018);
        assert_eq!(size, 100, "{name}");
        assert_eq!(mode & libc::S_IFMT, libc::S_IFREG, "{name}");
        assert_eq!(
            u64::from_le_bytes(g.bytes[0x1010..0x1018].try_into().unwrap()),
            1
        );
    }
    let fd = call(&mut g, "open", &[p, 0, 0]).unwrap();
    assert_eq!(call(&mut g, "fstat", &[fd as u64, 0x2000]), Ok(0));
    assert_eq!(&g.bytes[0x1000..0x1090], &g.bytes[0x2000..0x2090]);
    close(fd);
}

#[test]
fn fcntl_commands_and_locks() {
    let dir = Scratch::new();
    let file = dir.path("locked");
    std::fs::write(&file, b"data").unwrap();
    let mut g = FakeGuest::new(MEM);
    let p = put_str(&mut g, 0x100, &file);
    let rdwr_append = 0o2 | 0o2000;
    let fd = call(&mut g, "open", &[p, rdwr_append, 0]).unwrap() as u64;
    let fl = call(&mut g, "fcntl", &[fd, guest::F_GETFL as u64, 0]).unwrap() as i32;
    assert_eq!(fl & (0o3 | 0o2000), rdwr_append as i32);
    // Unknown commands and commands the runtime leaves out.
    for cmd in [9999, 8 /* F_SETOWN */, 1024 /* F_SETLEASE */, -1] {
        assert_eq!(call(&mut g, "fcntl", &[fd, s(cmd), 0]), EINVAL, "{cmd}");
    }
    // struct flock out of memory, above 4 GiB, NULL.
    for at in [MEM as u64 - 16, 1 << 32, 0] {
        assert_eq!(
            call(&mut g, "fcntl", &[fd, guest::F_GETLK as u64, at]),
            EFAULT
        );
    }
    // A write lock, then F_GETLK from the same process reports the region unlocked.
    let lock = 0x400;
    g.bytes[lock..lock + 32].fill(0);
    g.bytes[lock..lock + 2].copy_from_slice(&(libc::F_WRLCK as i16).to_le_bytes());
    g.bytes[lock + 16..lock + 24].copy_from_slice(&4i64.to_le_bytes());
    let lk = lock as u64;
    assert_eq!(
        call(&mut g, "fcntl", &[fd, guest::F_SETLK as u64, lk]),
        Ok(0)
    );
    assert_eq!(
        call(&mut g, "fcntl", &[fd, guest::F_GETLK as u64, lk]),
        Ok(0)
    );
    let ty = i16::from_le_bytes([g.bytes[lock], g.bytes[lock + 1]]);
    assert_eq!(ty, libc::F_UNLCK as i16);
    let dup = call(&mut g, "fcntl", &[fd, guest::F_DUPFD_CLOEXEC as u64, 100]).unwrap();
    assert!(dup >= 100);
    assert_eq!(
        call(&mut g, "fcntl", &[dup as u64, guest::F_GETFD as u64, 0]),
        Ok(i64::from(libc::FD_CLOEXEC))
    );
    close(dup);
    close(fd as i64);
}

#[test]
fn ioctl_accepts_only_its_list() {
    let mut g = FakeGuest::new(MEM);
    let (r, w) = host_pipe();
    let (r, w) = (r as u64, w as u64);
    for request in [
        0xDEAD_BEEFu32,
        0x5412, /* TIOCSTI */
        0x541C, /* TIOCLINUX */
        0,
    ] {
        assert_eq!(
            call(&mut g, "ioctl", &[r, s(request as i32 as i64), 0x100]),
            Err(Errno(libc::ENOTTY)),
            "{request:#x}"
        );
    }
    let fionread = libc::FIONREAD;
    assert_eq!(
        call(&mut g, "ioctl", &[r, fionread, MEM as u64 - 2]),
        EFAULT
    );
    assert_eq!(call(&mut g, "ioctl", &[r, fionread, 0]), EFAULT);
    assert_eq!(call(&mut g, "ioctl", &[r, libc::FIONBIO, 0]), EFAULT);
    assert_eq!(
        call(&mut g, "ioctl", &[r, libc::TCGETS, MEM as u64 - 35]),
        EFAULT
    );
    g.bytes[0x200] = b'x';
    assert_eq!(call(&mut g, "write", &[w, 0x200, 1]), Ok(1));
    g.put_u32(0x300, 0xFFFF_FFFF);
    assert_eq!(call(&mut g, "ioctl", &[r, fionread, 0x300]), Ok(0));
    assert_eq!(g.u32_at(0x300), 1);
    // A pipe is no terminal.
    assert_eq!(
        call(&mut g, "ioctl", &[r, libc::TCGETS, 0x400]),
        Err(Errno(libc::ENOTTY))
    );
    close(r as i64);
    close(w as i64);
}

#[test]
fn pipes_and_dups() {
    let mut g = FakeGuest::new(MEM);
    let o_cloexec = guest::O_CLOEXEC as u64;
    assert_eq!(call(&mut g, "pipe2", &[0x100, o_cloexec]), Ok(0));
    let (r, w) = (g.u32_at(0x100) as u64, g.u32_at(0x104) as u64);
    assert_eq!(
        call(&mut g, "fcntl", &[r, guest::F_GETFD as u64, 0]),
        Ok(i64::from(libc::FD_CLOEXEC))
    );
    // dup2 onto itself answers the descriptor; onto a closed one, EBADF.
    assert_eq!(call(&mut g, "dup2", &[w, w]), Ok(w as i64));
    assert_eq!(
        call(&mut g, "dup2", &[1_000_000, 1_000_000]),
        Err(Errno(libc::EBADF))
    );
    assert_eq!(call(&mut g, "dup3", &[w, w, 0]), EINVAL);
    close(r as i64);
    close(w as i64);
}

#[test]
fn chroot_is_refused() {
    let mut g = FakeGuest::new(MEM);
    let root = put_str(&mut g, 0x100, "/");
    assert_eq!(call(&mut g, "chroot", &[root]), Err(Errno(libc::EPERM)));
}

/// Every spelling of a process memory file the tests try, with the flags of each attempt.
fn mem_spellings(dir: &Scratch) -> Vec<String> {
    let pid = std::process::id();
    // SAFETY: plain syscall.
    let tid = unsafe { libc::gettid() };
    let link = dir.path("mem-link");
    let chain = dir.path("mem-chain");
    let _ = std::os::unix::fs::symlink("/proc/self/mem", &link);
    let _ = std::os::unix::fs::symlink(&link, &chain);
    vec![
        "/proc/self/mem".into(),
        "//proc/self/mem".into(),
        "/proc/./self/../self/mem".into(),
        "/proc/thread-self/mem".into(),
        format!("/proc/{pid}/mem"),
        format!("/proc/{pid}/task/{tid}/mem"),
        format!("/proc/self/task/{pid}/mem"),
        "/proc/self/root/proc/self/mem".into(),
        format!("/proc/self/fd/../../{pid}/mem"),
        link,
        chain,
    ]
}

const O_PATH: i32 = 0o10000000;

#[test]
fn process_memory_is_refused_under_every_spelling() {
    // The kernel itself lets this process open its memory file: the refusals are the
    // runtime's.
    // SAFETY: a static path.
    let control = unsafe { libc::open(c"/proc/self/mem".as_ptr(), libc::O_RDWR) };
    assert!(control >= 0);
    close(i64::from(control));
    let dir = Scratch::new();
    let mut g = FakeGuest::new(MEM);
    for spelling in mem_spellings(&dir) {
        for flags in [0o2, 0o0, 0o1 | guest::O_CLOEXEC, O_PATH, guest::O_NOFOLLOW] {
            let p = put_str(&mut g, 0x100, &spelling);
            let got = call(&mut g, "open", &[p, flags as u64, 0]);
            // O_NOFOLLOW on the symlinks themselves is ELOOP, also refused.
            assert!(got.is_err(), "{spelling} {flags:#o}: {got:?}");
            let path = CString::new(spelling.as_str()).unwrap();
            let at = super::AT_FDCWD;
            let host = crate::wali::arch::fcntl::open_flags_to_host(flags);
            assert!(open_here(at, &path, host, 0).is_err(), "{spelling}");
            assert!(open_aside(at, &path, host, 0, false).is_err(), "{spelling}");
            if flags != guest::O_NOFOLLOW {
                assert_eq!(got, EACCES, "{spelling} {flags:#o}");
                assert_eq!(open_here(at, &path, host, 0), EACCES, "{spelling}");
                assert_eq!(open_aside(at, &path, host, 0, false), EACCES, "{spelling}");
            }
        }
    }
}

#[test]
fn process_memory_is_refused_through_directories_and_descriptors() {
    let mut g = FakeGuest::new(MEM);
    let proc_self = put_str(&mut g, 0x100, "/proc/self");
    let dirfd = call(
        &mut g,
        "open",
        &[proc_self, (O_PATH | guest::O_DIRECTORY) as u64, 0],
    )
    .expect("a directory of procfs opens");
    let mem = put_str(&mut g, 0x200, "mem");
    assert_eq!(call(&mut g, "openat", &[dirfd as u64, mem, 2, 0]), EACCES);
    assert_eq!(call(&mut g, "openat", &[dirfd as u64, mem, 0, 0]), EACCES);
    let through_fd = put_str(&mut g, 0x300, &format!("/proc/self/fd/{dirfd}/mem"));
    assert_eq!(call(&mut g, "open", &[through_fd, 2, 0]), EACCES);
    // A descriptor of the memory file that the guest did not get from open (here the
    // test's own) is refused when reopened through /proc/self/fd.
    // SAFETY: a static path.
    let own = unsafe { libc::open(c"/proc/self/mem".as_ptr(), libc::O_PATH) };
    assert!(own >= 0);
    let reopen = put_str(&mut g, 0x400, &format!("/proc/self/fd/{own}"));
    assert_eq!(call(&mut g, "open", &[reopen, 2, 0]), EACCES);
    assert_eq!(call(&mut g, "open", &[reopen, O_PATH as u64, 0]), EACCES);
    close(i64::from(own));
    close(dirfd);
    // Other files of procfs, and the memory file's neighbours, open as usual.
    for fine in [
        "/proc/self/maps",
        "/proc/self/status",
        "/proc/meminfo",
        "/proc/self",
    ] {
        let p = put_str(&mut g, 0x500, fine);
        let fd = call(&mut g, "open", &[p, 0, 0]).unwrap_or_else(|e| panic!("{fine}: {e:?}"));
        close(fd);
    }
}

#[test]
fn the_private_table_path_opens_like_the_shared_one() {
    let dir = Scratch::new();
    let file = dir.path("aside");
    let path = CString::new(file.as_str()).unwrap();
    let creat = libc::O_CREAT | libc::O_RDWR;
    let fd = open_aside(super::AT_FDCWD, &path, creat, 0o600, true).unwrap();
    // SAFETY: a descriptor of our own.
    assert_eq!(
        unsafe { libc::write(fd as i32, b"abc".as_ptr().cast(), 3) },
        3
    );
    // SAFETY: as above.
    let fd_flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
    assert_eq!(fd_flags, libc::FD_CLOEXEC);
    close(fd);
    assert_eq!(std::fs::read(&file).unwrap(), b"abc");
    let excl = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;
    assert_eq!(
        open_aside(super::AT_FDCWD, &path, excl, 0o600, false),
        Err(Errno(libc::EEXIST))
    );
    let fd = open_aside(super::AT_FDCWD, &path, libc::O_RDONLY, 0, false).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::fcntl(fd as i32, libc::F_GETFD) }, 0);
    close(fd);
}
