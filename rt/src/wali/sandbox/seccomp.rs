//! The seccomp-bpf filter: a classic BPF program built here from the list of host syscalls
//! the sandbox allows and the few argument checks it makes, installed for every thread of
//! the process (`SECCOMP_FILTER_FLAG_TSYNC`).
//!
//! Shape of the program:
//!
//! 1. the architecture (`seccomp_data.arch`) must be this executable's; anything else (an
//!    i386 `int 0x80` on x86-64, say) kills the process, and so does an x32 syscall number
//!    (bit 30) on x86-64: no second syscall table can be reached;
//! 2. a binary search on the syscall number ([`tree`]) down to its verdict: allowed
//!    whatever the arguments (the kernel caches those verdicts per number, Linux 5.11+, so
//!    they cost nothing after installation), allowed only with certain arguments (a short
//!    block that returns on every path; the checks read only the low 32 bits of an
//!    argument: every checked argument is an `int` or a flag word the kernel truncates to 32
//!    bits), or refused by policy (`EACCES`: metadata changes without a read-write grant);
//! 3. any number not in the tree answers `ENOSYS`.

use std::collections::BTreeSet;

use super::hostcalls::{h, Nr, ABSENT, METADATA};
use crate::wali::Errno;

// Classic BPF opcodes.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

// Offsets in `struct seccomp_data`: nr (i32), arch (u32), instruction pointer (u64), then six
// u64 arguments. All three ISAs are little-endian, so an argument's low word comes first.
const NR: u32 = 0;
const ARCH: u32 = 4;
fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

/// The `AUDIT_ARCH_*` value of this executable's ISA (`EM_*` | 64-bit | little-endian).
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "riscv64")]
pub const AUDIT_ARCH: u32 = 0xC000_00F3;
/// x86-64's x32 ABI marks its syscall numbers with this bit.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
/// The answer of a syscall outside the filter.
pub const NOT_ALLOWED: u32 = errno(libc::ENOSYS);
/// The answer when the grants do not cover the call (sockets, metadata, `O_TRUNC`, ...).
pub const DENIED: u32 = errno(libc::EACCES);
/// The answer for what no sandboxed program may do (namespaces, `TIOCSTI`, `PR_SET_MM`, ...).
pub const FORBIDDEN: u32 = errno(libc::EPERM);

const fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA)
}

/// Which sockets `socket(2)` may create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sockets {
    /// `--net all`: any family, type and protocol.
    pub all: bool,
    /// `AF_UNIX` sockets (`--net unix`).
    pub unix: bool,
    /// `AF_INET`/`AF_INET6` TCP sockets (`--net tcp-*`; Landlock limits their ports).
    pub tcp: bool,
}

/// Everything the filter decides.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// The host syscalls to allow (some of them only with the argument checks below).
    pub allowed: BTreeSet<Nr>,
    pub sockets: Sockets,
    /// Metadata changes (chmod, chown, utimes, xattrs) allowed: a read-write grant exists.
    pub metadata: bool,
    /// Landlock below ABI 3 does not see truncation: refuse `O_TRUNC` on read-only opens,
    /// and leave out `truncate`-like calls whose flags the filter cannot read.
    pub refuse_read_only_truncation: bool,
    /// The module imports `prctl`: every option but `PR_SET_MM` (the process family checks
    /// the rest); otherwise only `PR_SET_NAME` (thread names).
    pub prctl_any: bool,
    /// The module imports `execve`: a program it runs may set `no_new_privs` to install its
    /// own sandbox (wafer executables do).
    pub exec: bool,
    /// This process's id: `prlimit64` may target it (or 0) only.
    pub pid: u32,
}

type Insn = libc::sock_filter;

fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: usize, jf: usize) -> Insn {
    Insn {
        code,
        jt: u8::try_from(jt).expect("a filter jump longer than 255 instructions"),
        jf: u8::try_from(jf).expect("a filter jump longer than 255 instructions"),
        k,
    }
}

/// A straight-line piece of a program with the two-instruction tests it is made of.
#[derive(Default)]
struct Block(Vec<Insn>);

impl Block {
    fn load(&mut self, offset: u32) -> &mut Self {
        self.0.push(stmt(LD_W_ABS, offset));
        self
    }
    fn and(&mut self, mask: u32) -> &mut Self {
        self.0.push(stmt(ALU_AND_K, mask));
        self
    }
    fn ret(&mut self, action: u32) -> &mut Self {
        self.0.push(stmt(RET_K, action));
        self
    }
    /// `if A == k: return action`.
    fn ret_if_eq(&mut self, k: u32, action: u32) -> &mut Self {
        self.0.push(jump(JEQ_K, k, 0, 1));
        self.ret(action)
    }
    /// `if A != k: return action`.
    fn ret_if_ne(&mut self, k: u32, action: u32) -> &mut Self {
        self.0.push(jump(JEQ_K, k, 1, 0));
        self.ret(action)
    }
    /// `if A & bits: return action`.
    fn ret_if_any(&mut self, bits: u32, action: u32) -> &mut Self {
        self.0.push(jump(JSET_K, bits, 0, 1));
        self.ret(action)
    }
    /// `if A == k: <then>` where `then` returns on every path.
    fn if_eq(&mut self, k: u32, then: Block) -> &mut Self {
        self.0.push(jump(JEQ_K, k, 0, then.0.len()));
        self.0.extend(then.0);
        self
    }
    fn take(&mut self) -> Block {
        Block(std::mem::take(&mut self.0))
    }
}

/// The argument checks of host syscall `nr`, a block returning on every path; `None` for a
/// syscall allowed whatever its arguments.
fn checks(nr: Nr, rules: &Rules) -> Option<Block> {
    let mut b = Block::default();
    let low = |b: &mut Block, i| {
        b.load(arg_low(i));
    };
    // Namespaces: nothing inside the sandbox may start with a fresh set of capabilities.
    const NAMESPACES: u32 = (libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET) as u32;
    match nr {
        n if n == h::socket && !rules.sockets.all => {
            low(&mut b, 0);
            b.ret_if_eq(
                libc::AF_UNIX as u32,
                if rules.sockets.unix { ALLOW } else { DENIED },
            );
            if rules.sockets.tcp {
                // TCP only: Landlock's port rules see TCP and nothing else (not UDP, SCTP,
                // MPTCP or raw sockets), so the type must be a stream and the protocol TCP.
                let mut tcp = Block::default();
                tcp.load(arg_low(1))
                    .and(0xF) // SOCK_TYPE_MASK: without SOCK_NONBLOCK / SOCK_CLOEXEC
                    .ret_if_ne(libc::SOCK_STREAM as u32, DENIED)
                    .load(arg_low(2))
                    .ret_if_eq(0, ALLOW)
                    .ret_if_eq(libc::IPPROTO_TCP as u32, ALLOW)
                    .ret(DENIED);
                let tcp6 = Block(tcp.0.clone());
                b.if_eq(libc::AF_INET as u32, tcp)
                    .if_eq(libc::AF_INET6 as u32, tcp6);
            }
            b.ret(DENIED);
        }
        n if n == h::socketpair && !rules.sockets.all => {
            // An anonymous pair reaches nothing outside the process: always allowed.
            low(&mut b, 0);
            b.ret_if_eq(libc::AF_UNIX as u32, ALLOW).ret(DENIED);
        }
        n if (n == h::sendto || n == h::sendmmsg || n == h::sendmsg)
            && rules.sockets.tcp
            && !rules.sockets.all =>
        {
            // TCP Fast Open connects from sendto/sendmsg without connect(2)'s check.
            low(&mut b, if n == h::sendmsg { 2 } else { 3 });
            b.ret_if_any(libc::MSG_FASTOPEN as u32, DENIED).ret(ALLOW);
        }
        n if n == h::ioctl => {
            // Pushing input into the terminal the program was started from would type
            // commands into the user's shell.
            low(&mut b, 1);
            b.ret_if_eq(libc::TIOCSTI as u32, FORBIDDEN)
                .ret_if_eq(libc::TIOCLINUX as u32, FORBIDDEN)
                .ret(ALLOW);
        }
        n if n == h::mmap || n == h::mprotect => {
            // Nothing the runtime or a guest does needs new executable memory.
            low(&mut b, 2);
            b.ret_if_any(libc::PROT_EXEC as u32, DENIED).ret(ALLOW);
        }
        n if n == h::clone => {
            low(&mut b, 0);
            b.ret_if_any(NAMESPACES, FORBIDDEN).ret(ALLOW);
        }
        n if n == h::unshare => {
            // fs::open's helper thread takes a private descriptor table; nothing else.
            low(&mut b, 0);
            b.and(!(libc::CLONE_FILES as u32))
                .ret_if_eq(0, ALLOW)
                .ret(FORBIDDEN);
        }
        n if n == h::prctl => {
            low(&mut b, 0);
            if rules.prctl_any {
                b.ret_if_eq(libc::PR_SET_MM as u32, FORBIDDEN).ret(ALLOW);
            } else {
                b.ret_if_eq(libc::PR_SET_NAME as u32, ALLOW);
                if rules.exec {
                    b.ret_if_eq(libc::PR_SET_NO_NEW_PRIVS as u32, ALLOW);
                }
                b.ret(FORBIDDEN);
            }
        }
        n if n == h::prlimit64 => {
            low(&mut b, 0);
            b.ret_if_eq(0, ALLOW)
                .ret_if_eq(rules.pid, ALLOW)
                .ret(FORBIDDEN);
        }
        n if n == h::madvise => {
            // Poisoning a page reaches the page cache other processes share (root only).
            low(&mut b, 2);
            b.ret_if_eq(libc::MADV_HWPOISON as u32, FORBIDDEN)
                .ret_if_eq(101, FORBIDDEN) // MADV_SOFT_OFFLINE
                .ret(ALLOW);
        }
        n if (n == h::openat || n == h::open) && rules.refuse_read_only_truncation => {
            low(&mut b, if n == h::open { 1 } else { 2 });
            b.and((libc::O_TRUNC | libc::O_ACCMODE) as u32)
                .ret_if_eq(libc::O_TRUNC as u32, DENIED) // O_TRUNC with O_RDONLY
                .ret(ALLOW);
        }
        _ => return None,
    }
    Some(b.take())
}

/// Builds the filter program for `rules`.
pub fn program(rules: &Rules) -> Vec<Insn> {
    let mut allowed = rules.allowed.clone();
    allowed.remove(&ABSENT);
    // Left out whatever the module imports: clone3's flags sit in memory where the filter
    // cannot check them (glibc falls back to clone on ENOSYS), and below Landlock ABI 3 so
    // do openat2's (which could truncate unseen) and creat's.
    allowed.remove(&libc::SYS_clone3);
    if rules.refuse_read_only_truncation {
        allowed.remove(&h::openat2);
        allowed.remove(&h::creat);
    }
    let mut refused = BTreeSet::new();
    if !rules.metadata {
        for nr in METADATA {
            if allowed.remove(nr) {
                refused.insert(*nr);
            }
        }
    }

    // What each syscall number leads to, in number order.
    let mut leaves: Vec<(u32, Block)> = Vec::new();
    for &nr in &allowed {
        // An argument block loads arguments, so it returns on every path rather than fall
        // back to comparing the syscall number.
        let leaf = checks(nr, rules).unwrap_or_else(|| {
            let mut b = Block::default();
            b.ret(ALLOW);
            b
        });
        leaves.push((nr as u32, leaf));
    }
    for nr in refused {
        let mut b = Block::default();
        b.ret(DENIED);
        leaves.push((nr as u32, b));
    }
    leaves.sort_by_key(|(nr, _)| *nr);

    let mut p = Block::default();
    p.load(ARCH).ret_if_ne(AUDIT_ARCH, KILL).load(NR);
    #[cfg(target_arch = "x86_64")]
    {
        p.0.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1));
        p.ret(KILL);
    }
    p.0.extend(tree(leaves).0);
    p.0
}

/// A binary search over the syscall number (in the accumulator) down to runs of a few
/// numbers compared one by one; every path ends in a return (`NOT_ALLOWED` for a number not
/// in `leaves`). A syscall takes about 2 log2(n) instructions, and so does each of the
/// kernel's per-number emulations when it installs the filter and caches the verdicts of
/// the numbers whose verdict depends on nothing else: a linear chain made installing cost
/// about 1.5 us per allowed syscall.
fn tree(mut leaves: Vec<(u32, Block)>) -> Block {
    let mut b = Block::default();
    if leaves.len() <= 4 {
        for (nr, leaf) in leaves {
            b.if_eq(nr, leaf);
        }
        b.ret(NOT_ALLOWED);
        return b;
    }
    let right = leaves.split_off(leaves.len() / 2);
    let pivot = right[0].0;
    let (left, right) = (tree(leaves), tree(right));
    // `if A >= pivot goto right`: the far jump is BPF_JA's 32-bit offset, not jt's 8 bits.
    b.0.push(jump(JGE_K, pivot, 0, 1));
    b.0.push(stmt(JA, left.0.len() as u32));
    b.0.extend(left.0);
    b.0.extend(right.0);
    b
}

/// Whether the kernel can filter syscalls and answer with an errno (seccomp-bpf,
/// `SECCOMP_RET_ERRNO`): `Err` with the reason otherwise.
pub fn available() -> Result<(), Errno> {
    let action: u32 = libc::SECCOMP_RET_ERRNO;
    // SAFETY: the kernel reads one u32 we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Installs `program` for every thread of the process. `no_new_privs` must be set.
pub fn install(program: &[Insn]) -> Result<(), Errno> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| Errno(libc::E2BIG))?,
        filter: program.as_ptr() as *mut Insn,
    };
    // SAFETY: the kernel copies the program, which lives through the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &prog as *const libc::sock_fprog,
        )
    };
    match r {
        0 => Ok(()),
        // TSYNC: another thread could not be synchronized (its id is the result).
        r if r > 0 => Err(Errno(libc::EBUSY)),
        _ => Err(Errno::last()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wali::sandbox::testing::{errno_of, in_child, set_no_new_privs};

    fn rules(calls: &[Nr]) -> Rules {
        Rules {
            allowed: calls.iter().copied().collect(),
            // SAFETY: plain syscall.
            pid: unsafe { libc::getpid() } as u32,
            ..Rules::default()
        }
    }

    /// What the test child itself needs after the filter: the pipe it reports through.
    const CHILD: &[Nr] = &[h::write, h::exit_group, h::exit, h::close];

    fn run(rules: &Rules, probes: &[&dyn Fn() -> i32]) -> Vec<i32> {
        let program = program(rules);
        in_child(
            &|| {
                set_no_new_privs();
                install(&program).is_ok()
            },
            probes,
        )
    }

    fn sys(nr: Nr, a: [u64; 3]) -> i32 {
        // SAFETY: the probes below pass integers and null pointers only.
        errno_of(unsafe { libc::syscall(nr, a[0], a[1], a[2]) })
    }

    #[test]
    fn the_program_is_small_and_well_formed() {
        let mut all = rules(&[]);
        for (_, calls) in super::super::hostcalls::MAP {
            all.allowed.extend(calls.iter());
        }
        all.allowed.extend(super::super::hostcalls::RUNTIME);
        all.sockets.tcp = true;
        all.refuse_read_only_truncation = true;
        let p = program(&all);
        assert!(p.len() < 600, "{} instructions", p.len());
        assert_eq!(p[0].code, LD_W_ABS);
        assert_eq!(p[0].k, ARCH);
        // Every jump lands inside the program, and every path ends in a return.
        for (i, insn) in p.iter().enumerate() {
            let far = match insn.code {
                JA => insn.k as usize,
                c if c & 0x07 == 0x05 => insn.jt.max(insn.jf) as usize,
                _ => continue,
            };
            assert!(i + 1 + far < p.len(), "instruction {i} jumps out");
        }
        assert_eq!(p.last().map(|i| i.code), Some(RET_K));
    }

    /// Runs `p` the way the kernel does, on one syscall with all arguments 0.
    fn eval(p: &[Insn], arch: u32, nr: u32) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => {
                    a = match i.k {
                        NR => nr,
                        ARCH => arch,
                        _ => 0,
                    }
                }
                ALU_AND_K => a &= i.k,
                RET_K => return i.k,
                JA => pc += i.k as usize,
                JEQ_K | JGE_K | JSET_K => {
                    let taken = match i.code {
                        JEQ_K => a == i.k,
                        JGE_K => a >= i.k,
                        _ => a & i.k != 0,
                    };
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_search_tree_gives_every_number_its_verdict() {
        let mut r = rules(&[]);
        for (_, calls) in super::super::hostcalls::MAP {
            r.allowed.extend(calls.iter());
        }
        r.allowed.extend(super::super::hostcalls::RUNTIME);
        for set in [r.allowed.clone(), rules(CHILD).allowed, BTreeSet::new()] {
            let r = Rules {
                allowed: set.clone(),
                ..rules(&[])
            };
            let p = program(&r);
            for nr in 0..1024u32 {
                let want = if !set.contains(&Nr::from(nr)) || nr == libc::SYS_clone3 as u32 {
                    if METADATA.contains(&Nr::from(nr)) && set.contains(&Nr::from(nr)) {
                        DENIED
                    } else {
                        NOT_ALLOWED
                    }
                } else if METADATA.contains(&Nr::from(nr)) {
                    DENIED // no read-write grant in these rules
                } else if checks(Nr::from(nr), &r).is_some() {
                    continue; // depends on arguments: see the tests below
                } else {
                    ALLOW
                };
                assert_eq!(eval(&p, AUDIT_ARCH, nr), want, "syscall {nr}");
            }
            assert_eq!(eval(&p, 0x4000_0003, 20), KILL, "i386");
        }
    }

    #[test]
    fn outside_the_filter_is_enosys_and_policy_is_enforced() {
        let mut r = rules(CHILD);
        r.allowed.extend([
            h::socket,
            h::socketpair,
            h::mmap,
            h::ioctl,
            h::unshare,
            h::prctl,
            h::getpid,
            h::sendto,
        ]);
        r.sockets = Sockets {
            all: false,
            unix: false,
            tcp: true,
        };
        let mut pair = [0i32; 2];
        let pair_ptr = pair.as_mut_ptr() as u64;
        let inet = libc::AF_INET as u64;
        let stream = (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64;
        let results = run(
            &r,
            &[
                // Not in the filter.
                &|| sys(h::getcpu, [0, 0, 0]),
                &|| sys(h::getppid, [0, 0, 0]),
                // In it.
                &|| sys(h::getpid, [0, 0, 0]),
                // Sockets: TCP yes, UDP and Unix no, socketpair(AF_UNIX) yes.
                &|| sys(h::socket, [inet, stream, 0]),
                &|| sys(h::socket, [inet, stream, libc::IPPROTO_TCP as u64]),
                &|| sys(h::socket, [inet, libc::SOCK_STREAM as u64, 132]), // SCTP
                &|| sys(h::socket, [inet, libc::SOCK_DGRAM as u64, 0]),
                &|| sys(h::socket, [libc::AF_UNIX as u64, stream, 0]),
                &|| {
                    sys(
                        h::socket,
                        [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0],
                    )
                },
                // SAFETY: our own array.
                &|| {
                    errno_of(unsafe {
                        libc::syscall(h::socketpair, libc::AF_UNIX, libc::SOCK_STREAM, 0, pair_ptr)
                    })
                },
                // No executable memory, no terminal injection, no namespaces.
                &|| {
                    sys(
                        h::mmap,
                        [0, 4096, (libc::PROT_READ | libc::PROT_EXEC) as u64],
                    )
                },
                &|| sys(h::ioctl, [0, u64::from(libc::TIOCSTI as u32), 0]),
                &|| sys(h::unshare, [libc::CLONE_NEWUSER as u64, 0, 0]),
                &|| sys(h::prctl, [libc::PR_SET_DUMPABLE as u64, 0, 0]),
                &|| {
                    sys(
                        h::prctl,
                        [libc::PR_SET_NAME as u64, c"t".as_ptr() as u64, 0],
                    )
                },
                // TCP Fast Open would connect without connect(2): refused; a plain sendto
                // reaches the kernel (which finds no such descriptor).
                // SAFETY: no memory is passed.
                &|| {
                    errno_of(unsafe {
                        libc::syscall(h::sendto, -1, 0, 0, libc::MSG_FASTOPEN, 0, 0)
                    })
                },
                // SAFETY: as above.
                &|| errno_of(unsafe { libc::syscall(h::sendto, -1, 0, 0, 0, 0, 0) }),
            ],
        );
        assert_eq!(
            results,
            [
                libc::ENOSYS,
                libc::ENOSYS,
                0,
                0,
                0,
                libc::EACCES,
                libc::EACCES,
                libc::EACCES,
                libc::EACCES,
                0,
                libc::EACCES,
                libc::EPERM,
                libc::EPERM,
                libc::EPERM,
                0,
                libc::EACCES,
                libc::EBADF,
            ]
        );
    }

    #[test]
    fn read_only_truncation_is_refused_below_landlock_abi_3() {
        let mut r = rules(CHILD);
        r.allowed.insert(h::openat);
        r.refuse_read_only_truncation = true;
        let path = c"/dev/null".as_ptr() as u64;
        let at = libc::AT_FDCWD as u64;
        let open = |flags: i32| -> i32 {
            // SAFETY: a static path.
            let fd = unsafe { libc::syscall(h::openat, at, path, flags, 0) };
            errno_of(fd)
        };
        let results = run(
            &r,
            &[
                &|| open(libc::O_RDONLY),
                &|| open(libc::O_RDONLY | libc::O_TRUNC),
                &|| open(libc::O_WRONLY | libc::O_TRUNC),
            ],
        );
        assert_eq!(results, [0, libc::EACCES, 0]);
    }

    /// A syscall through another ABI's table kills the process: i386's `int 0x80` and
    /// x32's numbers both enter the kernel with arguments the filter would misread.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn other_syscall_abis_kill_the_process() {
        for x32 in [false, true] {
            let program = program(&rules(CHILD));
            // SAFETY: the child runs raw syscalls and _exit only.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                set_no_new_privs();
                if install(&program).is_err() {
                    unsafe { libc::_exit(99) };
                }
                if x32 {
                    // getpid through x32's table.
                    unsafe { libc::syscall(libc::SYS_getpid | 0x4000_0000) };
                } else {
                    // i386 getpid (20) through int 0x80.
                    unsafe {
                        std::arch::asm!("int 0x80", inlateout("eax") 20 => _, options(nostack));
                    }
                }
                unsafe { libc::_exit(0) };
            }
            let mut status = 0;
            // SAFETY: our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
                "x32={x32}: status {status:#x}"
            );
        }
    }
}
