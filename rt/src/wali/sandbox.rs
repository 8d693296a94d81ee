//! The kernel sandbox of a WALI program: a WALI guest makes Linux syscalls, and wafer's
//! promise (a program reaches only what its build granted) is kept by the kernel itself.
//! Before the guest is instantiated, [`enter`] installs
//!
//! - a **Landlock** ruleset ([`landlock`]): the `--dir` grants (every right but making device
//!   nodes and device ioctls) and `--ro-dir` grants (read files, list directories, execute)
//!   are the only places the program can open, create, remove, rename or truncate anything;
//!   TCP `bind`/`connect` reach only the ports of `--net tcp-bind:`/`tcp-connect:`; signals
//!   and abstract Unix sockets stay inside the sandbox;
//! - a **seccomp** filter ([`seccomp`]): only the host syscalls that the handlers of the
//!   module's imported WALI syscalls make ([`hostcalls::MAP`]), plus what the runtime itself
//!   needs ([`hostcalls::RUNTIME`]), with a few argument checks: which sockets may be created,
//!   no executable memory, no namespaces, no `TIOCSTI`, no TCP Fast Open past Landlock.
//!
//! `no_new_privs` is set first (both need it; no set-uid program can regain privileges), and
//! everything is inherited by every thread and child process (and by programs the guest
//! `execve`s: a wafer executable run that way sandboxes itself further inside). Landlock
//! confines the calling thread and what it creates afterwards, so [`enter`] runs, and checks
//! that it runs, while the process has its main thread only. WALI paths are the host's own:
//! a grant is its host directory (a `::GUEST` name means nothing to a WALI program). The runtime has opened what it
//! needs before (the granted directories, the standard streams); the environment file is a
//! memfd the guest reopens through `/proc/self/fd/N`, which Landlock lets through (memfds live
//! on an internal mount outside every path hierarchy). Without grants a WALI program can open
//! only `/dev/null`, `/dev/zero`, `/dev/full` (read and write) and `/dev/random`,
//! `/dev/urandom` (read): sources and sinks that reveal nothing about the machine.
//!
//! # What a refused call answers
//!
//! - a host syscall outside the filter: `ENOSYS`, so a program (and glibc inside the
//!   runtime: `clone3` falls back to `clone`) sees a clean failure rather than a silent kill;
//! - what the grants do not cover: `EACCES` (Landlock's own answer; the filter uses it too for
//!   sockets, metadata changes without a read-write grant, read-only truncation on old ABIs);
//! - what no sandboxed program may do: `EPERM` (namespaces, `TIOCSTI`, `PR_SET_MM`, ...);
//! - a syscall through another ABI's table (i386 `int 0x80`, x32 numbers): the process is
//!   killed (`SIGSYS`).
//!
//! # Landlock ABI versions
//!
//! The ruleset is built for the running kernel's ABI (a newer one is used as ABI 7):
//!
//! | ABI | Linux | Landlock adds | what the sandbox gets |
//! |---|---|---|---|
//! | 1 | 5.13 | file access rights (execute, read, write, read dir, remove, make files, dirs, symlinks, fifos, sockets, devices) | `--dir`/`--ro-dir` enforced; moving or linking a file to another directory is always refused (`EXDEV`) |
//! | 2 | 5.19 | refer | renames and links between directories of read-write grants |
//! | 3 | 6.2 | truncate | truncation checked by Landlock. Below 3 the filter refuses `O_TRUNC` on a read-only open and leaves out `openat2` and `creat` (whose flags it cannot read); `ftruncate` needs a writable descriptor, which Landlock checks at open |
//! | 4 | 6.7 | TCP bind and connect ports | `--net tcp-connect:`/`tcp-bind:` enforced. Below 4 an executable with TCP grants does not start (see below) |
//! | 5 | 6.10 | ioctl_dev | device ioctls on devices opened inside the sandbox are refused (wafer grants none) |
//! | 6 | 6.12 | scoping: signals, abstract Unix sockets | `kill`/`tkill`/`tgkill` reach only the program and its children; abstract Unix sockets only inside the sandbox, unless `--net unix`/`all`. Below 6, signals reach the user's other processes |
//! | 7 | 6.15 | audit logging controls | nothing more to enforce |
//!
//! What Landlock does not limit at any of these versions: looking at paths (`stat`,
//! `access`, `readlink`, `chdir`, `getcwd`: names, sizes and modes are visible, contents are
//! not), descriptors opened before the sandbox (the standard streams), connecting to named
//! Unix sockets (so `socket(AF_UNIX)` needs `--net unix`), UDP and other protocols (so the
//! filter allows only TCP sockets for `tcp-*` grants), and metadata changes (`chmod`,
//! `chown`, `utimensat`, xattrs: the filter allows those only when the build granted a
//! read-write directory, and then they can reach any file the user owns: a known gap).
//!
//! # When the kernel cannot sandbox
//!
//! Under qemu-user (seccomp and Landlock would apply to the emulator, not the program; it is
//! recognised by the kernel reporting the host's syscall numbers in
//! `/proc/thread-self/syscall`),
//! on a kernel without Landlock or seccomp, or with TCP grants below Landlock ABI 4, the
//! executable prints one line (`wafer: kernel sandbox unavailable ...`) and does not start:
//! an executable that quietly ran with the user's full authority somewhere would break the
//! promise exactly where nobody looks. `WAFER_ALLOW_UNSANDBOXED=1` runs it anyway, with
//! one warning line and whatever part of the sandbox the kernel can enforce (under qemu-user:
//! none). `--wali-unrestricted` builds an executable that never sandboxes (shown by `wafer
//! inspect`).
//!
//! # Switches (for debugging; each prints what it does)
//!
//! - `WAFER_TRACE=sandbox`: the policy (ABI, rules, number of host syscalls allowed) and a
//!   self-test: a host syscall outside every filter (`getcpu`) made after installation, with
//!   its answer (`-38`, `ENOSYS`);
//! - `WAFER_WALI_SECCOMP=off`: no syscall filter (Landlock still applies), to tell whether a
//!   failure comes from the filter.

pub mod hostcalls;
pub mod landlock;
pub mod seccomp;

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use wafer_abi::capabilities::{Capabilities, NetGrant};
use wafer_abi::{extern_kind, ModuleDescriptor};

use super::Errno;
use hostcalls::Nr;
use landlock::Ruleset;

/// Runs the program even where the kernel cannot sandbox it (value `1`).
pub const ALLOW_UNSANDBOXED_ENV: &str = "WAFER_ALLOW_UNSANDBOXED";
/// `off` leaves out the seccomp filter (debugging).
pub const SECCOMP_ENV: &str = "WAFER_WALI_SECCOMP";

/// Whether the module imports anything from `wali` (only those are sandboxed here; other
/// modules reach the host through WASI, whose own checks keep them inside their grants).
pub fn applies(desc: &ModuleDescriptor) -> bool {
    // SAFETY: descriptors are static data emitted by the compiler.
    unsafe { desc.imports.as_slice() }
        .iter()
        .any(|i| unsafe { i.module.as_slice() } == wafer_abi::wali::MODULE.as_bytes())
}

/// What the module imports, as the sandbox needs it.
struct Imports {
    /// Host syscalls the handlers and helpers of the imports make.
    calls: BTreeSet<Nr>,
    prctl: bool,
    execve: bool,
}

fn imports(desc: &ModuleDescriptor) -> Imports {
    let mut out = Imports {
        calls: hostcalls::RUNTIME.iter().copied().collect(),
        prctl: false,
        execve: false,
    };
    // SAFETY: descriptors are static data emitted by the compiler.
    for import in unsafe { desc.imports.as_slice() } {
        if import.kind != extern_kind::FUNC {
            continue;
        }
        // SAFETY: as above.
        let (module, field) = unsafe { (import.module.as_slice(), import.field.as_slice()) };
        let (Ok(module), Ok(field)) = (std::str::from_utf8(module), std::str::from_utf8(field))
        else {
            continue;
        };
        out.calls.extend(hostcalls::bundles(module, field));
        if module != wafer_abi::wali::MODULE {
            continue;
        }
        let Some(name) = field.strip_prefix(wafer_abi::wali::SYSCALL_PREFIX) else {
            continue;
        };
        // Unimplemented names are bound to a stub answering ENOSYS: no host call.
        if let Some(calls) = hostcalls::for_syscall(name) {
            out.calls.extend(calls);
        }
        out.prctl |= name == "prctl";
        out.execve |= name == "execve";
    }
    if out.execve {
        out.calls.extend(hostcalls::EXEC);
    }
    out
}

/// The sockets the grants allow.
fn sockets(caps: &Capabilities) -> seccomp::Sockets {
    let mut s = seccomp::Sockets::default();
    for g in &caps.net {
        match g {
            NetGrant::All => s.all = true,
            NetGrant::Unix => s.unix = true,
            NetGrant::TcpConnect(_) | NetGrant::TcpBind(_) => s.tcp = true,
        }
    }
    s
}

/// What the kernel can enforce here.
struct Support {
    /// The Landlock ABI (0: none, or not usable for this process).
    abi: u32,
    seccomp: bool,
    /// Why the kernel cannot sandbox this program completely, if it cannot.
    missing: Option<String>,
}

fn probe(caps: &Capabilities) -> Support {
    if emulated() {
        return Support {
            abi: 0,
            seccomp: false,
            missing: Some(
                "kernel sandbox unavailable under qemu-user: seccomp and Landlock would confine \
                 the emulator, not this program"
                    .into(),
            ),
        };
    }
    let (abi, no_landlock) = match landlock::abi() {
        Ok(abi) => (abi, None),
        Err(Errno(e)) if e == libc::EOPNOTSUPP => (
            0,
            Some("Landlock is built into this kernel but not enabled (lsm= boot parameter)"),
        ),
        Err(_) => (
            0,
            Some("this kernel has no Landlock (Linux 5.13 or later, CONFIG_SECURITY_LANDLOCK)"),
        ),
    };
    let seccomp = seccomp::available().is_ok();
    let tcp_ports = caps
        .net
        .iter()
        .any(|g| matches!(g, NetGrant::TcpConnect(_) | NetGrant::TcpBind(_)));
    let missing = if let Some(why) = no_landlock {
        Some(format!("kernel sandbox unavailable: {why}"))
    } else if !seccomp {
        Some("kernel sandbox unavailable: this kernel has no seccomp filters".into())
    } else if tcp_ports && landlock::net_rights(abi) == 0 {
        Some(format!(
            "kernel sandbox incomplete: this kernel's Landlock (ABI {abi}) cannot limit TCP \
             ports (ABI 4, Linux 6.7, can)"
        ))
    } else {
        None
    };
    Support {
        abi,
        seccomp,
        missing,
    }
}

/// Whether this process runs under a user-mode emulator (qemu-user): the kernel reports the
/// number of the syscall a thread is in to `/proc/thread-self/syscall`, and for this very
/// `read` it is the host's number, not this ISA's, when every syscall is translated. (qemu
/// rewrites what it knows of `/proc/self`, `maps`, `exe`, `auxv`, ..., but not this.)
fn emulated() -> bool {
    // SAFETY: a static path; the descriptor is ours.
    let fd = unsafe {
        libc::open(
            c"/proc/thread-self/syscall".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut buf = [0u8; 32];
    // SAFETY: reads into our own buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return false;
    }
    let text = &buf[..n as usize];
    let first = text.split(|&b| b == b' ').next().unwrap_or_default();
    match std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.parse::<libc::c_long>().ok())
    {
        Some(nr) => nr != libc::SYS_read,
        None => false, // "running": not inside a syscall, cannot tell
    }
}

/// Whether the process has one thread (procfs counts threads in the link count of
/// `/proc/self/task`: two plus one per thread); yes when it cannot tell.
fn single_threaded() -> bool {
    // SAFETY: plain data the kernel fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a static path and our own buffer.
    let r = unsafe { libc::stat(c"/proc/self/task".as_ptr(), &mut st) };
    r != 0 || st.st_nlink == 3
}

fn env_is(name: &str, value: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == value)
}

/// The Landlock rights of a grant.
fn dir_rights(abi: u32, read_only: bool) -> u64 {
    use landlock::{EXECUTE, IOCTL_DEV, MAKE_BLOCK, MAKE_CHAR, READ_DIR, READ_FILE};
    if read_only {
        EXECUTE | READ_FILE | READ_DIR
    } else {
        // Device nodes would be authority beyond the directory (a root-run program could
        // make one for a disk), and devices' ioctls are not the directory's to grant.
        landlock::fs_rights(abi) & !(MAKE_CHAR | MAKE_BLOCK | IOCTL_DEV)
    }
}

/// Devices every WALI program may open: (path, read-write).
const DEVICES: &[(&std::ffi::CStr, bool)] = &[
    (c"/dev/null", true),
    (c"/dev/zero", true),
    (c"/dev/full", true),
    (c"/dev/random", false),
    (c"/dev/urandom", false),
];

/// The Landlock ruleset of `caps` for ABI `abi`.
fn ruleset(abi: u32, caps: &Capabilities) -> Result<(Ruleset, usize), String> {
    let sockets = sockets(caps);
    let mut scoped = landlock::SCOPE_SIGNAL;
    if !sockets.unix && !sockets.all {
        scoped |= landlock::SCOPE_ABSTRACT_UNIX_SOCKET;
    }
    let failed = |what: &str, e: Errno| {
        format!(
            "cannot build the kernel sandbox ({what}): {}",
            std::io::Error::from_raw_os_error(e.0)
        )
    };
    let ruleset = Ruleset::new(abi, !sockets.all, scoped).map_err(|e| failed("ruleset", e))?;
    let mut rules = 0;
    // The granted directories, through the very descriptors the runtime opened for them
    // (after WAFER_DIR_MAP): WASI descriptors 3, 4, ... in grant order.
    for (i, dir) in caps.dirs.iter().enumerate() {
        let fd = crate::wasi::ctx::with(|c| {
            c.get(3 + i as i32)
                .ok()
                .filter(|e| e.preopen.as_deref() == Some(&dir.guest[..]))
                .map(|e| e.raw())
        })
        .ok_or_else(|| {
            format!(
                "granted directory {} is not open",
                String::from_utf8_lossy(&dir.host)
            )
        })?;
        ruleset
            .allow_path(fd, dir_rights(abi, dir.read_only))
            .map_err(|e| failed("a directory rule", e))?;
        rules += 1;
    }
    for (path, read_write) in DEVICES {
        // SAFETY: a static path; the descriptor is closed below.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            continue; // a minimal container may lack some
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let access = if *read_write {
            landlock::READ_FILE | landlock::WRITE_FILE | landlock::TRUNCATE
        } else {
            landlock::READ_FILE
        };
        ruleset
            .allow_path(fd.as_raw_fd(), access)
            .map_err(|e| failed("a device rule", e))?;
        rules += 1;
    }
    for g in &caps.net {
        let (ports, access) = match g {
            NetGrant::TcpConnect(p) => (p, landlock::CONNECT_TCP),
            NetGrant::TcpBind(p) => (p, landlock::BIND_TCP),
            NetGrant::Unix | NetGrant::All => continue,
        };
        for &port in ports {
            ruleset
                .allow_port(port, access)
                .map_err(|e| failed("a port rule", e))?;
            rules += 1;
        }
    }
    Ok((ruleset, rules))
}

/// Sandboxes the process for the WALI module `desc` with its grants `caps`; called once, by
/// the main thread before any other thread exists (Landlock restricts the calling thread and
/// what it creates afterwards), after the runtime has opened what it needs and before the
/// guest is instantiated. `Err` is the message for the user: the program must not start.
pub fn enter(desc: &ModuleDescriptor, caps: &Capabilities) -> Result<(), String> {
    if caps.wali_unrestricted {
        return Ok(());
    }
    let support = probe(caps);
    let abi = support.abi;
    if let Some(why) = &support.missing {
        if !env_is(ALLOW_UNSANDBOXED_ENV, "1") {
            return Err(format!(
                "{why}; refusing to run ({ALLOW_UNSANDBOXED_ENV}=1 runs it with the user's full \
                 authority)"
            ));
        }
        if abi == 0 && !support.seccomp {
            eprintln!(
                "wafer: {why}; running with the user's full authority ({ALLOW_UNSANDBOXED_ENV}=1)"
            );
            return Ok(());
        }
        eprintln!(
            "wafer: {why}; running with what the kernel can enforce ({ALLOW_UNSANDBOXED_ENV}=1)"
        );
    }
    let imports = imports(desc);
    let ruleset = if abi > 0 {
        Some(ruleset(abi, caps)?)
    } else {
        None
    };
    let seccomp_on = support.seccomp && !env_is(SECCOMP_ENV, "off");
    let program = seccomp::program(&seccomp::Rules {
        allowed: imports.calls.clone(),
        sockets: sockets(caps),
        metadata: caps.dirs.iter().any(|d| !d.read_only),
        // Below ABI 3 (or without Landlock) truncation is the filter's to refuse.
        refuse_read_only_truncation: abi < 3,
        prctl_any: imports.prctl,
        exec: imports.execve,
        // SAFETY: plain syscall.
        pid: unsafe { libc::getpid() } as u32,
    });

    if !single_threaded() {
        return Err(
            "cannot enter the kernel sandbox: other threads run already, and Landlock would not \
             confine them"
                .into(),
        );
    }
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "cannot set no_new_privs: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut rules = 0;
    if let Some((ruleset, count)) = ruleset {
        rules = count;
        ruleset.restrict_self().map_err(|e| {
            format!(
                "cannot enter the Landlock sandbox: {}",
                std::io::Error::from_raw_os_error(e.0)
            )
        })?;
    }
    if seccomp_on {
        seccomp::install(&program).map_err(|e| {
            format!(
                "cannot install the syscall filter: {}",
                std::io::Error::from_raw_os_error(e.0)
            )
        })?;
    } else if support.seccomp {
        eprintln!("wafer: {SECCOMP_ENV}=off: no syscall filter (Landlock still applies)");
    }
    if env_is("WAFER_TRACE", "sandbox") {
        // SAFETY: a harmless syscall no filter allows.
        let probe = unsafe { libc::syscall(hostcalls::h::getcpu, 0usize, 0usize, 0usize) };
        let probe = if probe < 0 {
            -i64::from(Errno::last().0)
        } else {
            probe
        };
        eprintln!(
            "wafer: sandbox: Landlock ABI {abi}, {rules} rules; seccomp {}: {} host syscalls \
             allowed ({} instructions); self-test: getcpu = {probe}",
            if seccomp_on { "on" } else { "off" },
            imports.calls.len(),
            program.len(),
        );
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! What the sandbox's tests share: a scratch directory, and running probes in a forked
    //! child that restricts itself, so the test process stays unrestricted.

    use super::Errno;
    use std::ffi::CString;
    use std::path::{Path, PathBuf};

    pub struct Scratch(PathBuf);

    impl Scratch {
        pub fn new() -> Scratch {
            let template = std::env::temp_dir().join("wafer-sandbox-test-XXXXXX");
            let raw = CString::new(template.to_str().unwrap()).unwrap().into_raw();
            // SAFETY: a writable NUL-terminated template we own.
            let made = unsafe { libc::mkdtemp(raw) };
            assert!(!made.is_null());
            // SAFETY: the pointer into_raw gave.
            let c = unsafe { CString::from_raw(raw) };
            Scratch(PathBuf::from(c.into_string().unwrap()))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub fn set_no_new_privs() {
        // SAFETY: plain prctl.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    }

    /// The errno of a libc-style result; 0 when it worked.
    pub fn errno_of(r: libc::c_long) -> i32 {
        if r < 0 {
            Errno::last().0
        } else {
            0
        }
    }

    /// Runs `probes` in a forked child after `setup` (which restricts it) and returns what
    /// each returned. The child makes only raw calls on data prepared before the fork, and
    /// reports through a pipe.
    pub fn in_child(setup: &dyn Fn() -> bool, probes: &[&dyn Fn() -> i32]) -> Vec<i32> {
        let mut pipe = [0i32; 2];
        // SAFETY: our own array.
        assert_eq!(
            unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) },
            0
        );
        // SAFETY: the child runs only raw syscalls and ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if setup() { 0 } else { 99 };
            for probe in probes {
                let r: i32 = if code == 0 { probe() } else { -1 };
                // SAFETY: writes our own integer.
                unsafe { libc::write(pipe[1], (&r as *const i32).cast(), 4) };
            }
            // SAFETY: ends the child without the parent's exit handlers.
            unsafe { libc::_exit(code) };
        }
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(pipe[1]) };
        let mut out = Vec::new();
        loop {
            let mut r = 0i32;
            // SAFETY: reads into our own integer.
            let n = unsafe { libc::read(pipe[0], (&mut r as *mut i32).cast(), 4) };
            if n != 4 {
                break;
            }
            out.push(r);
        }
        let mut status = 0;
        // SAFETY: our own descriptor and child.
        unsafe {
            libc::close(pipe[0]);
            libc::waitpid(pid, &mut status, 0);
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child's sandbox setup failed (status {status:#x})"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_harness_is_not_single_threaded() {
        // enter() refuses to run here, where Landlock would confine one thread of many.
        let other =
            std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        assert!(!single_threaded());
        other.join().unwrap();
    }

    #[test]
    fn a_native_run_is_not_taken_for_an_emulated_one() {
        // From a test thread too (the main thread sits in another syscall meanwhile).
        assert!(!emulated());
    }

    #[test]
    fn grants_become_rights_and_sockets() {
        let rw = dir_rights(7, false);
        assert_eq!(rw & (landlock::MAKE_CHAR | landlock::MAKE_BLOCK), 0);
        assert_ne!(rw & landlock::REFER, 0);
        assert_eq!(dir_rights(1, false) & landlock::REFER, 0);
        assert_eq!(
            dir_rights(7, true),
            landlock::READ_FILE | landlock::READ_DIR | landlock::EXECUTE
        );
        let caps = Capabilities {
            net: vec![NetGrant::TcpConnect(vec![80]), NetGrant::Unix],
            ..Capabilities::default()
        };
        assert_eq!(
            sockets(&caps),
            seccomp::Sockets {
                all: false,
                unix: true,
                tcp: true
            }
        );
    }
}
