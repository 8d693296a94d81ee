//! Which host syscalls the seccomp filter lets through: the one table from each WALI syscall
//! to the host syscalls its implementation makes ([`MAP`]), and what the runtime itself makes
//! whatever the module imports ([`RUNTIME`]) or when it imports certain helpers ([`bundles`]).
//!
//! The map was reviewed against the families' code (`fs`, `mm`, `process`, `net`, `signal`,
//! `misc`); where a family may take either road, both are listed: the x86-64 form and its
//! generic `*at` (or `clone`, `ppoll`, `pselect6`, `eventfd2`, ...) form, and for calls the C
//! library makes on the runtime's behalf (glibc's `stat` is `newfstatat`, its `fstat` may be
//! `fstat` or `newfstatat`) every form glibc uses on the three ISAs. A name a family adds
//! later without a row here answers `ENOSYS` under the sandbox; the test
//! `every_implemented_syscall_has_a_row` catches that at `cargo test` time.
//!
//! Host syscalls are named by their libc constants, so a typo does not compile; the few an
//! ISA lacks are [`ABSENT`] there and left out of its filter.

use libc::c_long;

/// A host syscall number; [`ABSENT`] where this ISA has no such syscall.
pub type Nr = c_long;
/// Marks a syscall this ISA does not have.
pub const ABSENT: Nr = -1;

/// Host syscall numbers by name (lower case, as the kernel names them).
#[allow(non_upper_case_globals)]
pub mod h {
    use super::Nr;
    pub use libc::{
        SYS_accept as accept, SYS_accept4 as accept4, SYS_bind as bind, SYS_brk as brk,
        SYS_chdir as chdir, SYS_chroot as chroot, SYS_clock_getres as clock_getres,
        SYS_clock_gettime as clock_gettime, SYS_clock_nanosleep as clock_nanosleep,
        SYS_clone as clone, SYS_close as close, SYS_connect as connect, SYS_dup as dup,
        SYS_dup3 as dup3, SYS_epoll_create1 as epoll_create1, SYS_epoll_ctl as epoll_ctl,
        SYS_epoll_pwait as epoll_pwait, SYS_eventfd2 as eventfd2, SYS_execve as execve,
        SYS_execveat as execveat, SYS_exit as exit, SYS_exit_group as exit_group,
        SYS_faccessat as faccessat, SYS_faccessat2 as faccessat2, SYS_fadvise64 as fadvise64,
        SYS_fallocate as fallocate, SYS_fchdir as fchdir, SYS_fchmod as fchmod,
        SYS_fchmodat as fchmodat, SYS_fchown as fchown, SYS_fchownat as fchownat,
        SYS_fcntl as fcntl, SYS_fdatasync as fdatasync, SYS_flock as flock,
        SYS_fremovexattr as fremovexattr, SYS_fsetxattr as fsetxattr, SYS_fstat as fstat,
        SYS_fstatfs as fstatfs, SYS_fsync as fsync, SYS_ftruncate as ftruncate, SYS_futex as futex,
        SYS_getcpu as getcpu, SYS_getcwd as getcwd, SYS_getdents64 as getdents64,
        SYS_getegid as getegid, SYS_geteuid as geteuid, SYS_getgid as getgid,
        SYS_getgroups as getgroups, SYS_getpeername as getpeername, SYS_getpgid as getpgid,
        SYS_getpid as getpid, SYS_getppid as getppid, SYS_getrandom as getrandom,
        SYS_getrusage as getrusage, SYS_getsid as getsid, SYS_getsockname as getsockname,
        SYS_getsockopt as getsockopt, SYS_gettid as gettid, SYS_gettimeofday as gettimeofday,
        SYS_getuid as getuid, SYS_ioctl as ioctl, SYS_kill as kill,
        SYS_landlock_add_rule as landlock_add_rule,
        SYS_landlock_create_ruleset as landlock_create_ruleset,
        SYS_landlock_restrict_self as landlock_restrict_self, SYS_linkat as linkat,
        SYS_listen as listen, SYS_lremovexattr as lremovexattr, SYS_lseek as lseek,
        SYS_lsetxattr as lsetxattr, SYS_madvise as madvise, SYS_memfd_create as memfd_create,
        SYS_mincore as mincore, SYS_mkdirat as mkdirat, SYS_mmap as mmap, SYS_mprotect as mprotect,
        SYS_mremap as mremap, SYS_msync as msync, SYS_munmap as munmap, SYS_nanosleep as nanosleep,
        SYS_newfstatat as newfstatat, SYS_openat as openat, SYS_openat2 as openat2,
        SYS_pipe2 as pipe2, SYS_ppoll as ppoll, SYS_prctl as prctl, SYS_pread64 as pread64,
        SYS_preadv as preadv, SYS_prlimit64 as prlimit64, SYS_pselect6 as pselect6,
        SYS_pwrite64 as pwrite64, SYS_pwritev as pwritev, SYS_read as read,
        SYS_readlinkat as readlinkat, SYS_readv as readv, SYS_recvfrom as recvfrom,
        SYS_recvmmsg as recvmmsg, SYS_recvmsg as recvmsg, SYS_removexattr as removexattr,
        SYS_renameat2 as renameat2, SYS_restart_syscall as restart_syscall, SYS_rseq as rseq,
        SYS_rt_sigaction as rt_sigaction, SYS_rt_sigpending as rt_sigpending,
        SYS_rt_sigprocmask as rt_sigprocmask, SYS_rt_sigreturn as rt_sigreturn,
        SYS_rt_sigsuspend as rt_sigsuspend, SYS_sched_getaffinity as sched_getaffinity,
        SYS_sched_yield as sched_yield, SYS_seccomp as seccomp, SYS_sendmmsg as sendmmsg,
        SYS_sendmsg as sendmsg, SYS_sendto as sendto, SYS_set_robust_list as set_robust_list,
        SYS_set_tid_address as set_tid_address, SYS_setgid as setgid, SYS_setgroups as setgroups,
        SYS_setitimer as setitimer, SYS_setpgid as setpgid, SYS_setregid as setregid,
        SYS_setresgid as setresgid, SYS_setresuid as setresuid, SYS_setreuid as setreuid,
        SYS_setsid as setsid, SYS_setsockopt as setsockopt, SYS_setuid as setuid,
        SYS_setxattr as setxattr, SYS_shutdown as shutdown, SYS_sigaltstack as sigaltstack,
        SYS_socket as socket, SYS_socketpair as socketpair, SYS_statfs as statfs,
        SYS_statx as statx, SYS_symlinkat as symlinkat, SYS_sysinfo as sysinfo,
        SYS_tgkill as tgkill, SYS_tkill as tkill, SYS_umask as umask, SYS_uname as uname,
        SYS_unlinkat as unlinkat, SYS_unshare as unshare, SYS_utimensat as utimensat,
        SYS_wait4 as wait4, SYS_waitid as waitid, SYS_write as write, SYS_writev as writev,
    };

    // The per-ISA facts: x86-64's legacy calls (the other two ISAs have only the generic
    // forms), and numbers the libc crate does not name on every ISA.
    #[cfg(target_arch = "x86_64")]
    pub use libc::{
        SYS_access as access, SYS_arch_prctl as arch_prctl, SYS_chmod as chmod, SYS_chown as chown,
        SYS_creat as creat, SYS_dup2 as dup2, SYS_epoll_create as epoll_create,
        SYS_epoll_wait as epoll_wait, SYS_eventfd as eventfd, SYS_fchmodat2 as fchmodat2,
        SYS_fork as fork, SYS_futimesat as futimesat, SYS_getpgrp as getpgrp,
        SYS_getrlimit as getrlimit, SYS_lchown as lchown, SYS_link as link, SYS_lstat as lstat,
        SYS_mkdir as mkdir, SYS_open as open, SYS_pipe as pipe, SYS_poll as poll,
        SYS_readlink as readlink, SYS_rename as rename, SYS_renameat as renameat,
        SYS_rmdir as rmdir, SYS_select as select, SYS_setrlimit as setrlimit, SYS_stat as stat,
        SYS_symlink as symlink, SYS_unlink as unlink, SYS_utime as utime, SYS_utimes as utimes,
        SYS_vfork as vfork,
    };
    #[cfg(target_arch = "x86_64")]
    pub const riscv_hwprobe: Nr = super::ABSENT;

    #[cfg(not(target_arch = "x86_64"))]
    mod legacy {
        use super::super::ABSENT;
        use super::Nr;
        pub const access: Nr = ABSENT;
        pub const arch_prctl: Nr = ABSENT;
        pub const chmod: Nr = ABSENT;
        pub const chown: Nr = ABSENT;
        pub const creat: Nr = ABSENT;
        pub const dup2: Nr = ABSENT;
        pub const epoll_create: Nr = ABSENT;
        pub const epoll_wait: Nr = ABSENT;
        pub const eventfd: Nr = ABSENT;
        pub const fork: Nr = ABSENT;
        pub const futimesat: Nr = ABSENT;
        pub const getpgrp: Nr = ABSENT;
        pub const lchown: Nr = ABSENT;
        pub const link: Nr = ABSENT;
        pub const lstat: Nr = ABSENT;
        pub const mkdir: Nr = ABSENT;
        pub const open: Nr = ABSENT;
        pub const pipe: Nr = ABSENT;
        pub const poll: Nr = ABSENT;
        pub const readlink: Nr = ABSENT;
        pub const rename: Nr = ABSENT;
        pub const rmdir: Nr = ABSENT;
        pub const select: Nr = ABSENT;
        pub const stat: Nr = ABSENT;
        pub const symlink: Nr = ABSENT;
        pub const unlink: Nr = ABSENT;
        pub const utime: Nr = ABSENT;
        pub const utimes: Nr = ABSENT;
        pub const vfork: Nr = ABSENT;
        // Generic numbers (asm-generic/unistd.h) the libc crate leaves out on these ISAs.
        pub const getrlimit: Nr = 163;
        pub const setrlimit: Nr = 164;
        pub const fchmodat2: Nr = 452;
    }
    #[cfg(not(target_arch = "x86_64"))]
    pub use legacy::*;

    /// `renameat` exists on aarch64 but not on riscv64 (which has only `renameat2`).
    #[cfg(target_arch = "aarch64")]
    pub const renameat: Nr = 38;
    #[cfg(target_arch = "riscv64")]
    pub const renameat: Nr = super::ABSENT;
    #[cfg(target_arch = "aarch64")]
    pub const riscv_hwprobe: Nr = super::ABSENT;
    /// Static glibc asks the kernel for the CPU's extensions at startup (Linux 6.4+).
    #[cfg(target_arch = "riscv64")]
    pub const riscv_hwprobe: Nr = 258;
}

/// Calls that change a file's metadata (mode, owner, times, extended attributes). Landlock
/// (up to ABI 7) does not limit them at all, so the filter lets them through only when the
/// build granted a read-write directory (see the module documentation of `sandbox`).
pub const METADATA: &[Nr] = &[
    h::chmod,
    h::fchmod,
    h::fchmodat,
    h::fchmodat2,
    h::chown,
    h::fchown,
    h::fchownat,
    h::lchown,
    h::utimensat,
    h::utimes,
    h::futimesat,
    h::utime,
    h::setxattr,
    h::lsetxattr,
    h::fsetxattr,
    h::removexattr,
    h::lremovexattr,
    h::fremovexattr,
];

/// What `fs::open` makes around the `openat` itself (x86-64's `open` is listed too, for a
/// family that would pass it through): it checks the new descriptor
/// (`fstatfs`, glibc's `fstat` and `stat`, `readlink` of `/proc/thread-self/fd/N`), and with
/// other threads alive it opens in a helper thread with a private descriptor table
/// (`unshare(CLONE_FILES)`, the filter refuses every other `unshare` flag) and passes the
/// descriptor back over a `socketpair` (`sendmsg`/`recvmsg`).
const OPEN_CHECKS: &[Nr] = &[
    h::openat,
    h::open,
    h::close,
    h::fstatfs,
    h::fstat,
    h::newfstatat,
    h::statx,
    h::stat,
    h::readlink,
    h::readlinkat,
    h::socketpair,
    h::sendmsg,
    h::recvmsg,
    h::unshare,
];

/// What `mm` makes for every one of its calls: pages replaced in place (`mmap` with
/// `MAP_FIXED`, `mprotect`, `madvise`, `msync`), `mincore` to tell whether a failed
/// replacement left a hole, and for file mappings `fstat` (what the file is) and `pread64`
/// (a private mapping is a copy read into linear memory).
const MM: &[Nr] = &[
    h::mmap,
    h::munmap,
    h::mremap,
    h::mprotect,
    h::madvise,
    h::msync,
    h::mincore,
    h::fstat,
    h::newfstatat,
    h::pread64,
];

/// Every implemented WALI syscall (by its name without `SYS_`) and the host syscalls its
/// handler makes.
pub const MAP: &[(&str, &[Nr])] = &[
    // fs: files, descriptors, metadata, directories (rt/src/wali/fs)
    ("read", &[h::read]),
    ("write", &[h::write]),
    ("open", OPEN_CHECKS),
    ("openat", OPEN_CHECKS),
    ("close", &[h::close]),
    ("stat", &[h::stat, h::newfstatat, h::statx]),
    ("fstat", &[h::fstat, h::newfstatat, h::statx]),
    ("lstat", &[h::lstat, h::newfstatat, h::statx]),
    ("newfstatat", &[h::newfstatat, h::statx]),
    ("statx", &[h::statx, h::newfstatat]),
    ("statfs", &[h::statfs]),
    ("fstatfs", &[h::fstatfs]),
    ("lseek", &[h::lseek]),
    ("pread64", &[h::pread64]),
    ("pwrite64", &[h::pwrite64]),
    ("readv", &[h::readv]),
    ("writev", &[h::writev]),
    ("fsync", &[h::fsync]),
    ("fdatasync", &[h::fdatasync]),
    ("ftruncate", &[h::ftruncate]),
    ("fadvise", &[h::fadvise64]),
    ("flock", &[h::flock]),
    ("ioctl", &[h::ioctl]),
    ("dup", &[h::dup]),
    ("dup2", &[h::dup2, h::dup3, h::fcntl]),
    ("dup3", &[h::dup3]),
    ("pipe", &[h::pipe, h::pipe2]),
    ("pipe2", &[h::pipe2]),
    ("fcntl", &[h::fcntl]),
    ("access", &[h::access, h::faccessat, h::faccessat2]),
    ("faccessat", &[h::faccessat, h::faccessat2]),
    ("faccessat2", &[h::faccessat2, h::faccessat]),
    ("chmod", &[h::chmod, h::fchmodat]),
    ("fchmod", &[h::fchmod]),
    ("fchmodat", &[h::fchmodat, h::fchmodat2]),
    ("chown", &[h::chown, h::fchownat]),
    ("fchown", &[h::fchown]),
    ("fchownat", &[h::fchownat]),
    ("utimensat", &[h::utimensat]),
    ("umask", &[h::umask]),
    ("getcwd", &[h::getcwd]),
    ("chdir", &[h::chdir]),
    ("fchdir", &[h::fchdir]),
    ("chroot", &[h::chroot]),
    ("getdents64", &[h::getdents64]),
    ("mkdir", &[h::mkdir, h::mkdirat]),
    ("mkdirat", &[h::mkdirat]),
    ("rmdir", &[h::rmdir, h::unlinkat]),
    ("unlink", &[h::unlink, h::unlinkat]),
    ("unlinkat", &[h::unlinkat]),
    ("rename", &[h::rename, h::renameat, h::renameat2]),
    ("renameat2", &[h::renameat2]),
    ("link", &[h::link, h::linkat]),
    ("linkat", &[h::linkat]),
    ("symlink", &[h::symlink, h::symlinkat]),
    ("symlinkat", &[h::symlinkat]),
    ("readlink", &[h::readlink, h::readlinkat]),
    ("readlinkat", &[h::readlinkat]),
    // mm: inside linear memory (rt/src/wali/mm)
    ("mmap", MM),
    ("munmap", MM),
    ("mprotect", MM),
    ("mremap", MM),
    ("msync", MM),
    ("madvise", MM),
    ("brk", MM),
    // net: sockets, polling, event descriptors (rt/src/wali/net)
    ("socket", &[h::socket]),
    ("socketpair", &[h::socketpair]),
    ("connect", &[h::connect]),
    ("bind", &[h::bind]),
    ("listen", &[h::listen]),
    ("accept", &[h::accept, h::accept4]),
    ("accept4", &[h::accept4]),
    ("shutdown", &[h::shutdown]),
    ("getsockname", &[h::getsockname]),
    ("getpeername", &[h::getpeername]),
    ("sendto", &[h::sendto]),
    ("recvfrom", &[h::recvfrom]),
    ("sendmsg", &[h::sendmsg]),
    ("recvmsg", &[h::recvmsg]),
    ("setsockopt", &[h::setsockopt]),
    ("getsockopt", &[h::getsockopt]),
    ("poll", &[h::poll, h::ppoll]),
    ("ppoll", &[h::ppoll]),
    ("select", &[h::select, h::pselect6]),
    ("pselect6", &[h::pselect6]),
    ("epoll_create1", &[h::epoll_create1]),
    ("epoll_ctl", &[h::epoll_ctl]),
    ("epoll_pwait", &[h::epoll_pwait, h::epoll_wait]),
    ("eventfd", &[h::eventfd, h::eventfd2]),
    ("eventfd2", &[h::eventfd2]),
    // process: processes, threads, credentials, limits (rt/src/wali/process)
    ("getpid", &[h::getpid]),
    ("getppid", &[h::getppid]),
    ("gettid", &[h::gettid]),
    ("fork", &[h::fork, h::clone]),
    ("execve", &[h::execve, h::execveat]),
    ("exit", &[h::exit, h::exit_group]),
    ("exit_group", &[h::exit_group]),
    ("wait4", &[h::wait4, h::waitid]),
    // signal::kill asks for its process group to tell whether a signal reaches itself.
    ("kill", &[h::kill, h::getpgrp, h::getpgid]),
    ("tkill", &[h::tkill, h::tgkill]),
    ("uname", &[h::uname]),
    ("getrlimit", &[h::getrlimit, h::prlimit64]),
    ("setrlimit", &[h::setrlimit, h::prlimit64]),
    ("prlimit64", &[h::prlimit64]),
    ("getrusage", &[h::getrusage]),
    ("sysinfo", &[h::sysinfo]),
    ("getuid", &[h::getuid]),
    ("geteuid", &[h::geteuid]),
    ("getgid", &[h::getgid]),
    ("getegid", &[h::getegid]),
    ("setuid", &[h::setuid]),
    ("setgid", &[h::setgid]),
    ("setreuid", &[h::setreuid]),
    ("setregid", &[h::setregid]),
    ("setresuid", &[h::setresuid]),
    ("setresgid", &[h::setresgid]),
    ("getgroups", &[h::getgroups]),
    ("setgroups", &[h::setgroups]),
    ("setpgid", &[h::setpgid]),
    ("getpgid", &[h::getpgid]),
    ("setsid", &[h::setsid]),
    ("getsid", &[h::getsid]),
    ("prctl", &[h::prctl]),
    ("sched_getaffinity", &[h::sched_getaffinity]),
    ("sched_yield", &[h::sched_yield]),
    ("set_tid_address", &[h::set_tid_address]),
    ("futex", &[h::futex]),
    // signal (rt/src/wali/signal)
    ("rt_sigaction", &[h::rt_sigaction]),
    ("rt_sigprocmask", &[h::rt_sigprocmask]),
    ("rt_sigpending", &[h::rt_sigpending]),
    ("rt_sigsuspend", &[h::rt_sigsuspend]),
    ("rt_sigreturn", &[]),
    ("sigaltstack", &[h::sigaltstack]),
    ("setitimer", &[h::setitimer]),
    // misc: time, randomness (rt/src/wali/misc)
    ("nanosleep", &[h::nanosleep, h::clock_nanosleep]),
    ("clock_nanosleep", &[h::clock_nanosleep]),
    ("clock_gettime", &[h::clock_gettime]),
    ("clock_getres", &[h::clock_getres]),
    ("gettimeofday", &[h::gettimeofday, h::clock_gettime]),
    ("getrandom", &[h::getrandom]),
];

/// What the runtime itself makes once the guest runs, whatever the module imports: memory
/// (linear memory growth, the C library's allocator, thread stacks), threads (glibc's
/// `pthread_create` tries `clone3`, which the filter leaves out, and falls back to `clone`),
/// signals (the trap handlers and their return), time, the random keys of Rust's hash maps,
/// thread names (`prctl(PR_SET_NAME)`; the filter refuses other options), trap reports and
/// diagnostics on stderr (`write`), and ending the process or a thread.
pub const RUNTIME: &[Nr] = &[
    h::write,
    h::close,
    h::mmap,
    h::mprotect,
    h::munmap,
    h::mremap,
    h::brk,
    h::madvise,
    h::futex,
    h::sched_yield,
    h::sched_getaffinity,
    h::clone,
    h::set_robust_list,
    h::rseq,
    h::gettid,
    h::getpid,
    h::tgkill,
    h::rt_sigaction,
    h::rt_sigprocmask,
    h::rt_sigreturn,
    h::sigaltstack,
    h::restart_syscall,
    h::getrlimit,
    h::prlimit64,
    h::clock_gettime,
    h::clock_nanosleep,
    h::nanosleep,
    h::getrandom,
    h::prctl,
    h::exit,
    h::exit_group,
];

/// What the runtime makes for the helper imports and other interfaces a WALI module may use
/// besides syscalls.
pub fn bundles(import_module: &str, field: &str) -> &'static [Nr] {
    match (import_module, field) {
        // The environment file: a memfd written once (the guest opens /proc/self/fd/N).
        ("wali", "__get_init_envfile") => &[h::memfd_create, h::write],
        // WASI preview1 next to WALI: what rt/src/wasi makes.
        ("wasi_snapshot_preview1" | "wasi_unstable", _) => WASI,
        _ => &[],
    }
}

/// rt/src/wasi's host calls (for a module that imports WASI functions as well as WALI).
const WASI: &[Nr] = &[
    h::read,
    h::readv,
    h::preadv,
    h::pread64,
    h::write,
    h::writev,
    h::pwritev,
    h::pwrite64,
    h::lseek,
    h::fcntl,
    h::ioctl,
    h::fstat,
    h::newfstatat,
    h::statx,
    h::fsync,
    h::fdatasync,
    h::ftruncate,
    h::fallocate,
    h::fadvise64,
    h::openat,
    h::openat2,
    h::open,
    h::getdents64,
    h::mkdirat,
    h::unlinkat,
    h::renameat,
    h::renameat2,
    h::linkat,
    h::symlinkat,
    h::readlinkat,
    h::utimensat,
    h::ppoll,
    h::poll,
    h::pipe2,
    h::clock_gettime,
    h::clock_getres,
    h::getrandom,
    h::sched_yield,
    h::kill,
    h::tgkill,
    h::close,
];

/// What a program that a WALI program `execve`s needs to start (static glibc and musl
/// startup, the dynamic loader's first steps), and what a wafer executable needs to install
/// its own sandbox inside this one (which can only narrow it).
pub const EXEC: &[Nr] = &[
    h::execve,
    h::execveat,
    h::arch_prctl,
    h::riscv_hwprobe,
    h::set_tid_address,
    h::set_robust_list,
    h::rseq,
    h::brk,
    h::mmap,
    h::mprotect,
    h::munmap,
    h::prlimit64,
    h::getrandom,
    h::uname,
    h::open,
    h::openat,
    h::read,
    h::pread64,
    h::close,
    h::fstat,
    h::newfstatat,
    h::statx,
    h::readlink,
    h::readlinkat,
    h::access,
    h::faccessat,
    h::getuid,
    h::geteuid,
    h::getgid,
    h::getegid,
    h::landlock_create_ruleset,
    h::landlock_add_rule,
    h::landlock_restrict_self,
    h::seccomp,
];

/// The host syscalls the map names for WALI syscall `name`.
pub fn for_syscall(name: &str) -> Option<&'static [Nr]> {
    MAP.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, calls)| *calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wafer_abi::wali::SYSCALLS;

    #[test]
    fn every_implemented_syscall_has_a_row() {
        for s in SYSCALLS.iter().filter(|s| s.implemented) {
            assert!(
                for_syscall(s.name).is_some(),
                "SYS_{} is implemented but the sandbox's map has no row for it",
                s.name
            );
        }
        for (name, _) in MAP {
            let known = SYSCALLS.iter().find(|s| s.name == *name);
            assert!(
                known.is_some_and(|s| s.implemented),
                "{name} is no WALI syscall"
            );
            assert_eq!(MAP.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
        }
    }

    #[test]
    fn the_map_agrees_with_the_table_numbers() {
        // Where a WALI syscall's own host number exists, its row allows it: a family that
        // passes the call through as is must find it in the filter.
        for s in SYSCALLS.iter().filter(|s| s.implemented) {
            let Some(nr) = crate::wali::host_nr(s) else {
                continue;
            };
            let row = for_syscall(s.name).unwrap_or_default();
            // rt_sigreturn is refused by the signal family and chroot by fs: no host call.
            if row.is_empty() {
                continue;
            }
            assert!(
                row.contains(&nr) || RUNTIME.contains(&nr),
                "SYS_{}: its own host number {nr} is not in its row",
                s.name
            );
        }
    }

    #[test]
    fn absent_numbers_are_only_the_legacy_ones_here() {
        let all = MAP
            .iter()
            .flat_map(|(_, c)| c.iter())
            .chain(RUNTIME)
            .chain(EXEC)
            .chain(WASI)
            .chain(METADATA);
        let absent = all.filter(|&&n| n == ABSENT).count();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(absent, 1, "only riscv_hwprobe is absent on x86-64");
        } else {
            assert!(absent > 1);
        }
    }
}
