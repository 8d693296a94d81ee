//! Landlock through its three raw syscalls (`landlock_create_ruleset`, `landlock_add_rule`,
//! `landlock_restrict_self`: 444, 445 and 446 on all three ISAs), degraded by the kernel's
//! ABI version: a ruleset handles only the rights its ABI knows (asking for more is
//! `EINVAL`), so every right below is masked with [`fs_rights`] / [`net_rights`] /
//! [`scopes`] for the running kernel. What each version adds is in the table of the parent
//! module's documentation.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::wali::Errno;

/// `LANDLOCK_CREATE_RULESET_VERSION`: asks for the ABI version instead of a ruleset.
const CREATE_RULESET_VERSION: u32 = 1 << 0;
const RULE_PATH_BENEATH: u32 = 1;
const RULE_NET_PORT: u32 = 2;

// Filesystem rights (`LANDLOCK_ACCESS_FS_*`).
pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
pub const MAKE_CHAR: u64 = 1 << 6;
pub const MAKE_DIR: u64 = 1 << 7;
pub const MAKE_REG: u64 = 1 << 8;
pub const MAKE_SOCK: u64 = 1 << 9;
pub const MAKE_FIFO: u64 = 1 << 10;
pub const MAKE_BLOCK: u64 = 1 << 11;
pub const MAKE_SYM: u64 = 1 << 12;
/// ABI 2: moving or linking a file into another directory.
pub const REFER: u64 = 1 << 13;
/// ABI 3: `truncate`, `ftruncate`, `open(O_TRUNC)`.
pub const TRUNCATE: u64 = 1 << 14;
/// ABI 5: `ioctl` on character and block devices.
pub const IOCTL_DEV: u64 = 1 << 15;

// Network rights (`LANDLOCK_ACCESS_NET_*`, ABI 4).
pub const BIND_TCP: u64 = 1 << 0;
pub const CONNECT_TCP: u64 = 1 << 1;

// Scopes (`LANDLOCK_SCOPE_*`, ABI 6): IPC with processes outside the sandbox.
pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub const SCOPE_SIGNAL: u64 = 1 << 1;

/// The highest ABI version this module knows; a newer kernel is used as this version.
pub const KNOWN_ABI: u32 = 7;

/// The filesystem rights ABI `abi` handles.
pub fn fs_rights(abi: u32) -> u64 {
    let mut rights = (1 << 13) - 1; // EXECUTE ..= MAKE_SYM
    if abi >= 2 {
        rights |= REFER;
    }
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    if abi == 0 {
        0
    } else {
        rights
    }
}

/// The network rights ABI `abi` handles.
pub fn net_rights(abi: u32) -> u64 {
    if abi >= 4 {
        BIND_TCP | CONNECT_TCP
    } else {
        0
    }
}

/// The scopes ABI `abi` knows.
pub fn scopes(abi: u32) -> u64 {
    if abi >= 6 {
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    } else {
        0
    }
}

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPortAttr {
    allowed_access: u64,
    port: u64,
}

fn check(r: libc::c_long) -> Result<libc::c_long, Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// The running kernel's Landlock ABI version (clamped to [`KNOWN_ABI`]); `ENOSYS` when the
/// kernel has no Landlock, `EOPNOTSUPP` when it is built in but not enabled at boot.
pub fn abi() -> Result<u32, Errno> {
    // SAFETY: the version query reads no memory.
    let v = check(unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    })?;
    Ok((v as u32).min(KNOWN_ABI))
}

/// A ruleset being built: what it handles (everything not allowed by a rule is denied).
pub struct Ruleset {
    fd: OwnedFd,
    fs: u64,
    net: u64,
}

impl Ruleset {
    /// A ruleset handling every filesystem right of `abi`, the TCP rights when `handle_net`
    /// (and the ABI has them), and the `scoped` IPC scopes the ABI knows.
    pub fn new(abi: u32, handle_net: bool, scoped: u64) -> Result<Ruleset, Errno> {
        let attr = RulesetAttr {
            handled_access_fs: fs_rights(abi),
            handled_access_net: if handle_net { net_rights(abi) } else { 0 },
            scoped: scoped & scopes(abi),
        };
        // Older kernels know a shorter struct; the fields they lack are zero here anyway.
        let size = match abi {
            0..=3 => 8,
            4 | 5 => 16,
            _ => std::mem::size_of::<RulesetAttr>(),
        };
        // SAFETY: `attr` is a live struct of at least `size` bytes.
        let fd = check(unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        })?;
        Ok(Ruleset {
            // SAFETY: a fresh descriptor the kernel gave us.
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
            fs: attr.handled_access_fs,
            net: attr.handled_access_net,
        })
    }

    /// Allows `access` (masked to what the ruleset handles) beneath the file or directory
    /// open at `parent`.
    pub fn allow_path(&self, parent: RawFd, access: u64) -> Result<(), Errno> {
        let access = access & self.fs;
        if access == 0 {
            return Ok(());
        }
        let attr = PathBeneathAttr {
            allowed_access: access,
            parent_fd: parent,
        };
        // SAFETY: `attr` lives through the call.
        check(unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0u32,
            )
        })
        .map(drop)
    }

    /// Allows `access` (`BIND_TCP` / `CONNECT_TCP`) on TCP port `port`; nothing to do when the
    /// ruleset does not handle the network.
    pub fn allow_port(&self, port: u16, access: u64) -> Result<(), Errno> {
        let access = access & self.net;
        if access == 0 {
            return Ok(());
        }
        let attr = NetPortAttr {
            allowed_access: access,
            port: u64::from(port),
        };
        // SAFETY: `attr` lives through the call.
        check(unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_NET_PORT,
                &attr as *const NetPortAttr,
                0u32,
            )
        })
        .map(drop)
    }

    /// Restricts the calling thread (and every thread and process it creates from now on)
    /// to this ruleset. `no_new_privs` must be set already.
    pub fn restrict_self(self) -> Result<(), Errno> {
        // SAFETY: plain syscall on our descriptor.
        check(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, self.fd.as_raw_fd(), 0u32) })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    //! Each sandbox is installed in a forked child, so the test process stays unrestricted;
    //! the child reports one errno per probe through a pipe (0: it worked).

    use super::*;
    use crate::wali::sandbox::testing::{errno_of, in_child, set_no_new_privs, Scratch};
    use std::ffi::CString;

    fn open(path: &CString, flags: i32) -> i32 {
        // SAFETY: a C string prepared before the fork.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
        if fd >= 0 {
            // SAFETY: our own descriptor.
            unsafe { libc::close(fd) };
        }
        errno_of(fd as libc::c_long)
    }

    fn c(p: &std::path::Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    fn open_dir(p: &std::path::Path) -> OwnedFd {
        let c = c(p);
        // SAFETY: a C string we own.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        assert!(fd >= 0, "{}", p.display());
        // SAFETY: fresh descriptor.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn rights_grow_with_the_abi() {
        assert_eq!(fs_rights(0), 0);
        assert_eq!(fs_rights(1), 0x1FFF);
        assert_eq!(fs_rights(2), 0x3FFF);
        assert_eq!(fs_rights(3), 0x7FFF);
        assert_eq!(fs_rights(4), 0x7FFF);
        assert_eq!(fs_rights(5), 0xFFFF);
        assert_eq!(fs_rights(7), 0xFFFF);
        assert_eq!((net_rights(3), net_rights(4)), (0, 3));
        assert_eq!((scopes(5), scopes(6)), (0, 3));
    }

    #[test]
    fn grants_limit_opens_in_a_child_at_every_abi() {
        let Ok(running) = abi() else {
            eprintln!("no Landlock on this kernel: skipped");
            return;
        };
        // A ruleset built for an older ABI behaves as that ABI's kernel would: what it does
        // not handle is allowed. So every degraded sandbox is tested here on a new kernel.
        for abi in 1..=running {
            check_grants_at(abi);
        }
    }

    fn check_grants_at(abi: u32) {
        let tmp = Scratch::new();
        let (rw, ro, out) = (
            tmp.path().join("rw"),
            tmp.path().join("ro"),
            tmp.path().join("out"),
        );
        for d in [&rw, &ro, &out] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("f"), b"x").unwrap();
        }
        let rw_fd = open_dir(&rw);
        let ro_fd = open_dir(&ro);
        let r = Ruleset::new(abi, true, scopes(abi)).unwrap();
        r.allow_path(
            rw_fd.as_raw_fd(),
            fs_rights(abi) & !(MAKE_CHAR | MAKE_BLOCK),
        )
        .unwrap();
        r.allow_path(ro_fd.as_raw_fd(), READ_FILE | READ_DIR | EXECUTE)
            .unwrap();
        // Taken by the child (its own copy of the cell); the parent's copy is dropped.
        let ruleset = std::cell::Cell::new(Some(r));

        // A memfd reopened through /proc/self/fd, as WALI's environment file is.
        // SAFETY: static name.
        let memfd = unsafe { libc::memfd_create(c"t".as_ptr(), 0) };
        assert!(memfd >= 0);
        let memfd_path = CString::new(format!("/proc/self/fd/{memfd}")).unwrap();
        let (rw_f, ro_f, out_f) = (c(&rw.join("f")), c(&ro.join("f")), c(&out.join("f")));
        let (rw_new, ro_new) = (c(&rw.join("new")), c(&ro.join("new")));
        let (ro_dir, out_dir) = (c(&ro), c(&out));
        let (mv_from, mv_to) = (c(&rw.join("f")), c(&ro.join("moved")));
        std::fs::create_dir(rw.join("sub")).unwrap();
        std::fs::write(rw.join("g"), b"x").unwrap();
        let (reparent_from, reparent_to) = (c(&rw.join("g")), c(&rw.join("sub/g")));
        let setup = || {
            set_no_new_privs();
            ruleset.take().is_some_and(|r| r.restrict_self().is_ok())
        };
        let results = in_child(
            &setup,
            &[
                &|| open(&rw_f, libc::O_RDWR),
                &|| open(&rw_new, libc::O_WRONLY | libc::O_CREAT),
                &|| open(&ro_f, libc::O_RDONLY),
                &|| open(&ro_f, libc::O_WRONLY),
                &|| open(&ro_new, libc::O_WRONLY | libc::O_CREAT),
                &|| open(&out_f, libc::O_RDONLY),
                &|| open(&out_dir, libc::O_RDONLY | libc::O_DIRECTORY),
                &|| open(&ro_dir, libc::O_RDONLY | libc::O_DIRECTORY),
                &|| open(&memfd_path, libc::O_RDONLY),
                // SAFETY: C strings prepared before the fork.
                &|| errno_of(unsafe { libc::rename(mv_from.as_ptr(), mv_to.as_ptr()) } as _),
                &|| {
                    errno_of(
                        unsafe { libc::rename(reparent_from.as_ptr(), reparent_to.as_ptr()) } as _,
                    )
                },
                &|| {
                    errno_of(unsafe { libc::mkdir(c"/tmp/wafer-landlock-no".as_ptr(), 0o755) } as _)
                },
                &|| open(&ro_f, libc::O_RDONLY | libc::O_TRUNC),
                // SAFETY: signal 0 only asks whether the parent could be signalled.
                &|| errno_of(unsafe { libc::kill(libc::getppid(), 0) } as _),
            ],
        );
        let expected = [
            0,
            0,
            0,
            libc::EACCES,
            libc::EACCES,
            libc::EACCES,
            libc::EACCES,
            0,
            0,
            // Into a read-only grant: refused.
            libc::EACCES,
            // Into another directory of a read-write grant: ABI 1 cannot ("refer").
            if abi >= 2 { 0 } else { libc::EXDEV },
            libc::EACCES,
            // Truncation is Landlock's from ABI 3 (before, the seccomp filter refuses it).
            if abi >= 3 { libc::EACCES } else { 0 },
            // Signals leave the sandbox until ABI 6 scopes them.
            if abi >= 6 { libc::EPERM } else { 0 },
        ];
        assert_eq!(results, expected, "Landlock ABI {abi}");
        // SAFETY: our own descriptor.
        unsafe { libc::close(memfd) };
    }

    #[test]
    fn tcp_ports_are_limited_in_a_child() {
        let Ok(abi) = abi() else { return };
        if abi < 4 {
            eprintln!("Landlock ABI {abi} has no network rules: skipped");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let other_port = other.local_addr().unwrap().port();
        let connect = |port: u16| {
            // SAFETY: plain socket calls on our own structs.
            unsafe {
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                let mut a: libc::sockaddr_in = std::mem::zeroed();
                a.sin_family = libc::AF_INET as u16;
                a.sin_port = port.to_be();
                a.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
                let r = libc::connect(
                    s,
                    (&a as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
                let e = errno_of(r as _);
                libc::close(s);
                e
            }
        };
        // Every ABI with network rules (4 on), as in the filesystem test.
        for abi in 4..=abi {
            let r = Ruleset::new(abi, true, 0).unwrap();
            r.allow_port(port, CONNECT_TCP).unwrap();
            let ruleset = std::cell::Cell::new(Some(r));
            let setup = || {
                set_no_new_privs();
                ruleset.take().is_some_and(|r| r.restrict_self().is_ok())
            };
            let results = in_child(&setup, &[&|| connect(port), &|| connect(other_port)]);
            assert_eq!(results, [0, libc::EACCES], "Landlock ABI {abi}");
        }
    }
}
