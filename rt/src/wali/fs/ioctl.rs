//! `ioctl`: only the requests in [`REQUESTS`], each with the size and direction of its
//! argument; every other request answers `ENOTTY` without reaching the kernel (an ioctl's
//! argument may hold pointers or be any size, so an unknown one cannot be checked).
//!
//! Accepted: the terminal requests `TCGETS`, `TCSETS`, `TCSETSW`, `TCSETSF` (the kernel's
//! 36-byte `struct termios`), `TCSBRK`, `TCSBRKP`, `TCXONC`, `TCFLSH` (integer arguments),
//! `TIOCGWINSZ`, `TIOCSWINSZ` (`struct winsize`), `TIOCGPGRP`, `TIOCSPGRP`, `TIOCGSID`,
//! `TIOCOUTQ`, `TIOCSCTTY`, `TIOCNOTTY`, `TIOCEXCL`, `TIOCNXCL`, the pseudo-terminal pair
//! `TIOCGPTN` and `TIOCSPTLCK` (what `ptsname`/`unlockpt` use), and the generic `FIONREAD`,
//! `FIONBIO`, `FIOASYNC`, `FIOCLEX`, `FIONCLEX` (the upstream ioctl test uses `FIONBIO` and
//! `FIONREAD` on a socket pair). `TIOCSTI`, which pushes input into a terminal another
//! program reads, is deliberately absent.
//!
//! Request numbers, argument layouts and the termios bits are the same on x86-64, aarch64
//! and riscv64 (all three use the generic `ioctls.h` and `termbits.h`), so nothing is
//! translated; arguments are still copied through a runtime buffer of exactly the listed
//! size, so the kernel never touches more guest memory than was checked.

use super::{buffer, get, put, sys};
use crate::wali::{int, Args, Call, Errno, Handler, SysResult};

pub(super) fn handler(name: &str) -> Option<Handler> {
    (name == "ioctl").then_some(ioctl as Handler)
}

/// How a request uses its third argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    /// Not used.
    None,
    /// An integer passed by value.
    Value,
    /// A pointer to this many bytes the kernel reads.
    In(usize),
    /// A pointer to this many bytes the kernel writes.
    Out(usize),
}

/// The kernel's `struct termios` (not the C library's larger one).
const TERMIOS: usize = 36;
const WINSIZE: usize = 8;
const INT: usize = 4;

/// `(request, its argument)` for every request the runtime accepts.
const REQUESTS: &[(u32, Arg)] = &[
    (0x5401, Arg::Out(TERMIOS)),  // TCGETS
    (0x5402, Arg::In(TERMIOS)),   // TCSETS
    (0x5403, Arg::In(TERMIOS)),   // TCSETSW
    (0x5404, Arg::In(TERMIOS)),   // TCSETSF
    (0x5409, Arg::Value),         // TCSBRK
    (0x540A, Arg::Value),         // TCXONC
    (0x540B, Arg::Value),         // TCFLSH
    (0x540C, Arg::None),          // TIOCEXCL
    (0x540D, Arg::None),          // TIOCNXCL
    (0x540E, Arg::Value),         // TIOCSCTTY
    (0x540F, Arg::Out(INT)),      // TIOCGPGRP
    (0x5410, Arg::In(INT)),       // TIOCSPGRP
    (0x5411, Arg::Out(INT)),      // TIOCOUTQ
    (0x5413, Arg::Out(WINSIZE)),  // TIOCGWINSZ
    (0x5414, Arg::In(WINSIZE)),   // TIOCSWINSZ
    (0x541B, Arg::Out(INT)),      // FIONREAD
    (0x5421, Arg::In(INT)),       // FIONBIO
    (0x5422, Arg::None),          // TIOCNOTTY
    (0x5425, Arg::Value),         // TCSBRKP
    (0x5429, Arg::Out(INT)),      // TIOCGSID
    (0x5450, Arg::None),          // FIONCLEX
    (0x5451, Arg::None),          // FIOCLEX
    (0x5452, Arg::In(INT)),       // FIOASYNC
    (0x8004_5430, Arg::Out(INT)), // TIOCGPTN
    (0x4004_5431, Arg::In(INT)),  // TIOCSPTLCK
];

fn ioctl(call: &Call, args: &Args) -> SysResult {
    let request = int(args, 1) as u32;
    let Some(&(_, kind)) = REQUESTS.iter().find(|(r, _)| *r == request) else {
        return Err(Errno(libc::ENOTTY));
    };
    let host = |arg: u64| sys(libc::SYS_ioctl, [args[0], u64::from(request), arg]);
    match kind {
        Arg::None => host(0),
        Arg::Value => host(args[2]),
        Arg::In(size) => {
            let mut copy = get(call, args[2], size as u64)?;
            host(copy.as_mut_ptr() as u64)
        }
        Arg::Out(size) => {
            buffer(call, args[2], size as u64)?;
            let mut out = vec![0u8; size];
            let r = host(out.as_mut_ptr() as u64)?;
            put(call, args[2], &out)?;
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_hosts_numbers() {
        let find = |r: u64| REQUESTS.iter().find(|(q, _)| u64::from(*q) == r);
        assert_eq!(find(libc::TCGETS).unwrap().1, Arg::Out(TERMIOS));
        assert_eq!(find(libc::TIOCGWINSZ).unwrap().1, Arg::Out(WINSIZE));
        assert_eq!(find(libc::FIONREAD).unwrap().1, Arg::Out(INT));
        assert_eq!(find(libc::FIONBIO).unwrap().1, Arg::In(INT));
        assert_eq!(find(libc::FIOCLEX).unwrap().1, Arg::None);
        assert_eq!(find(libc::TIOCGPTN).unwrap().1, Arg::Out(INT));
        assert_eq!(find(libc::TIOCSPTLCK).unwrap().1, Arg::In(INT));
        assert!(find(libc::TIOCSTI).is_none());
        assert_eq!(std::mem::size_of::<libc::winsize>(), WINSIZE);
    }
}
