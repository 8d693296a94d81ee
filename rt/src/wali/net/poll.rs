//! `poll`, `ppoll`, `select` and `pselect6`. `struct pollfd` (8 bytes), `fd_set` (bit `fd`
//! of an array of 64-bit words), `struct timeval` and `struct timespec` (two 64-bit fields)
//! are the same for the guest and every host, so the arrays are checked and used in place.
//! `poll` and `select` exist on x86-64 only; elsewhere they become `ppoll` and `pselect6`
//! with their timeouts converted (and `select`'s remaining time written back, as Linux
//! does). `pselect6`'s sixth argument points at the guest's `{sigset pointer, size}` pair,
//! two 64-bit words (musl's `syscall_arg_t data[2]`), rebuilt with a checked mask copy.

use super::super::{host_nr, int, raw, Args, Call, Errno, SysResult};
use super::sigmask::{self, KERNEL_SIGSET};
use super::{out, reg, same};

const POLLFD: u64 = 8;
const TIMESPEC: u64 = 16;
/// Size of the guest's `{u64 sigset pointer, u64 size}` pair.
const SIGSET_PAIR: u64 = 16;

/// The checked `struct pollfd` array, or null for none.
fn pollfds(call: &Call, ptr: u64, nfds: u64) -> Result<u64, Errno> {
    if nfds == 0 {
        return Ok(0);
    }
    call.mem
        .array(ptr, nfds, POLLFD)
        .map(|p| reg(p))
        .map_err(|e| {
            // The kernel refuses more descriptors than the process may have before it looks
            // at the array.
            if nfds > open_file_limit() {
                Errno(libc::EINVAL)
            } else {
                e
            }
        })
}

fn open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        u64::MAX
    }
}

/// `poll(struct pollfd*, nfds_t, int timeout_ms)`.
pub fn poll(call: &Call, a: &Args) -> SysResult {
    let fds = pollfds(call, a[0], a[1])?;
    match host_nr(call.syscall) {
        Some(nr) => raw(nr, [fds, a[1], a[2], 0, 0, 0]),
        None => poll_as_ppoll(fds, a[1], int(a, 2)),
    }
}

/// `poll` through `ppoll`: a negative timeout waits forever.
fn poll_as_ppoll(fds: u64, nfds: u64, timeout_ms: i32) -> SysResult {
    let ts = (timeout_ms >= 0).then(|| libc::timespec {
        tv_sec: (timeout_ms / 1000).into(),
        tv_nsec: ((timeout_ms % 1000) * 1_000_000).into(),
    });
    let ts = ts.as_ref().map_or(0, |t| reg(t));
    raw(libc::SYS_ppoll, [fds, nfds, ts, 0, KERNEL_SIGSET, 0])
}

/// `ppoll(struct pollfd*, nfds_t, struct timespec*, const sigset_t*, size_t)`; the kernel
/// writes the remaining time into the timespec.
pub fn ppoll(call: &Call, a: &Args) -> SysResult {
    let fds = pollfds(call, a[0], a[1])?;
    let ts = call.mem.optional(a[2], TIMESPEC)?;
    let mask = sigmask::read(call, a[3], a[4])?;
    sigmask::during(call, mask, |m| same(call, [fds, a[1], reg(ts), m, a[4], 0]))
}

/// The three checked `fd_set`s of a select call for `n` descriptors (the kernel reads and
/// writes `ceil(n / 64)` words of each).
fn fd_sets(call: &Call, a: &Args) -> Result<[u64; 3], Errno> {
    let n = int(a, 0);
    if n < 0 {
        return Err(Errno(libc::EINVAL));
    }
    let bytes = (n as u64).div_ceil(64) * 8;
    let set = |ptr: u64| call.mem.optional(ptr, bytes).map(|p| reg(p));
    Ok([set(a[1])?, set(a[2])?, set(a[3])?])
}

/// `select(n, fd_set*, fd_set*, fd_set*, struct timeval*)`.
pub fn select(call: &Call, a: &Args) -> SysResult {
    let [r, w, e] = fd_sets(call, a)?;
    let tv = call.mem.optional(a[4], TIMESPEC)?;
    match host_nr(call.syscall) {
        Some(nr) => raw(nr, [a[0], r, w, e, reg(tv), 0]),
        None => select_as_pselect6(call, a, [r, w, e]),
    }
}

/// `select` through `pselect6`: the timeval becomes a timespec (normalized as Linux's select
/// does), and the time left goes back into the guest's timeval when the kernel reports it.
fn select_as_pselect6(call: &Call, a: &Args, [r, w, e]: [u64; 3]) -> SysResult {
    let tv = a[4];
    let mut ts = None;
    let mut zero = true;
    if tv != 0 {
        let sec = call.mem.read_u64(tv)? as i64;
        let usec = call.mem.read_u64(tv + 8)? as i64;
        zero = sec == 0 && usec == 0;
        ts = Some(libc::timespec {
            tv_sec: sec.wrapping_add(usec / 1_000_000),
            tv_nsec: (usec % 1_000_000) * 1000,
        });
    }
    let ts_reg = ts.as_mut().map_or(0, |t| out(t));
    let result = raw(libc::SYS_pselect6, [a[0], r, w, e, ts_reg, 0]);
    if let Some(t) = ts {
        // Linux reports the time left after a wait that had a (non-zero) timeout.
        let waited = matches!(result, Ok(_) | Err(Errno(libc::EINTR)));
        if waited && !zero {
            call.mem.write_u64(tv, t.tv_sec as u64)?;
            call.mem.write_u64(tv + 8, (t.tv_nsec / 1000) as u64)?;
        }
    }
    result
}

/// `pselect6(n, fd_set*, fd_set*, fd_set*, struct timespec*, {sigset_t *mask; size} *)`.
pub fn pselect6(call: &Call, a: &Args) -> SysResult {
    let [r, w, e] = fd_sets(call, a)?;
    let ts = call.mem.optional(a[4], TIMESPEC)?;
    if a[5] == 0 {
        return same(call, [a[0], r, w, e, reg(ts), 0]);
    }
    call.mem.range(a[5], SIGSET_PAIR)?;
    let (ptr, size) = (call.mem.read_u64(a[5])?, call.mem.read_u64(a[5] + 8)?);
    let mask = sigmask::read(call, ptr, size)?;
    sigmask::during(call, mask, |m| {
        let pair = [m, size];
        same(call, [a[0], r, w, e, reg(ts), reg(pair.as_ptr())])
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const EFAULT: Errno = Errno(libc::EFAULT);
    const EINVAL: Errno = Errno(libc::EINVAL);

    /// A pipe with one byte waiting in it, closed when dropped.
    struct Pipe([i32; 2]);

    impl Pipe {
        fn ready() -> Pipe {
            let mut p = [0; 2];
            assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
            assert_eq!(unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) }, 1);
            Pipe(p)
        }
        fn empty() -> Pipe {
            let mut p = [0; 2];
            assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
            Pipe(p)
        }
        fn rd(&self) -> i32 {
            self.0[0]
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            unsafe {
                libc::close(self.0[0]);
                libc::close(self.0[1]);
            }
        }
    }

    fn pollfd(g: &mut Guest, at: usize, fd: i32) {
        g.put(at, &fd.to_le_bytes());
        g.put(at + 4, &(libc::POLLIN as u16).to_le_bytes());
        g.put(at + 6, &[0, 0]);
    }

    #[test]
    fn poll_arrays_are_checked() {
        let mut g = Guest::new(0x100);
        let p = Pipe::ready();
        pollfd(&mut g, 0xF8, p.rd());
        assert_eq!(g.run("poll", &[0xF8, 1, 0]), Ok(1));
        assert_eq!(g.bytes(0xFE, 2), &(libc::POLLIN as u16).to_le_bytes());
        assert_eq!(g.run("poll", &[0xF8, 2, 0]), Err(EFAULT));
        assert_eq!(g.run("poll", &[0xFFFF_FFF8, 2, 0]), Err(EFAULT));
        // More descriptors than the process may open: EINVAL, as the kernel says first.
        assert_eq!(g.run("poll", &[0, u64::MAX, 0]), Err(EINVAL));
        assert_eq!(g.run("poll", &[0, 1 << 40, 0]), Err(EINVAL));
        // No descriptors: a sleep, whatever the pointer.
        assert_eq!(g.run("poll", &[0xFFFF_FFFF, 0, 1]), Ok(0));
        assert_eq!(g.run("ppoll", &[0xF8, 2, 0, 0, 8]), Err(EFAULT));
    }

    #[test]
    fn poll_as_ppoll_matches_poll() {
        let ready = Pipe::ready();
        let empty = Pipe::empty();
        for (p, want) in [(&ready, 1), (&empty, 0)] {
            let mut fd = libc::pollfd {
                fd: p.rd(),
                events: libc::POLLIN,
                revents: 0,
            };
            assert_eq!(poll_as_ppoll(out(&mut fd), 1, 5), Ok(want));
            assert_eq!(fd.revents != 0, want == 1);
        }
        let mut fd = libc::pollfd {
            fd: ready.rd(),
            events: libc::POLLIN,
            revents: 0,
        };
        assert_eq!(poll_as_ppoll(out(&mut fd), 1, -1), Ok(1));
    }

    #[test]
    fn ppoll_checks_its_timeout_and_mask() {
        let mut g = Guest::new(0x100);
        let p = Pipe::ready();
        pollfd(&mut g, 0x10, p.rd());
        g.put_u64(0x40, 0);
        g.put_u64(0x48, 1_000_000);
        g.put_u64(0x80, 0);
        assert_eq!(g.run("ppoll", &[0x10, 1, 0x40, 0x80, 8]), Ok(1));
        assert_eq!(g.run("ppoll", &[0x10, 1, 0xF8, 0, 8]), Err(EFAULT));
        assert_eq!(g.run("ppoll", &[0x10, 1, 0x40, 0x80, 128]), Err(EINVAL));
        assert_eq!(g.run("ppoll", &[0x10, 1, 0x40, 0xFC, 8]), Err(EFAULT));
        // Without a mask the size is not looked at.
        assert_eq!(g.run("ppoll", &[0x10, 1, 0x40, 0, 128]), Ok(1));
        // A bad timeout is the kernel's EINVAL.
        g.put_u64(0x48, 2_000_000_000);
        assert_eq!(g.run("ppoll", &[0x10, 1, 0x40, 0, 8]), Err(EINVAL));
    }

    fn fd_set(g: &mut Guest, at: usize, fd: i32) {
        g.put(at, &[0; 128]);
        g.fake.bytes[at + fd as usize / 8] |= 1 << (fd % 8);
    }

    #[test]
    fn select_sets_are_checked_for_the_words_the_kernel_uses() {
        let mut g = Guest::new(0x400);
        let p = Pipe::ready();
        let n = p.rd() as u64 + 1;
        fd_set(&mut g, 0x100, p.rd());
        assert_eq!(g.run("select", &[n, 0x100, 0, 0, 0]), Ok(1));
        // Only ceil(n/64) words are touched: a set 8 bytes from the end is fine for n <= 64.
        let word = g.bytes(0x100, 8).to_vec();
        g.put(0x3F8, &word);
        assert_eq!(g.run("select", &[n, 0x3F8, 0, 0, 0]), Ok(1));
        assert_eq!(g.run("select", &[65, 0x3F8, 0, 0, 0]), Err(EFAULT));
        assert_eq!(g.run("select", &[n, 0, 0x3FC, 0, 0]), Err(EFAULT));
        assert_eq!(g.run("select", &[cint(-1), 0, 0, 0, 0]), Err(EINVAL));
        assert_eq!(g.run("select", &[n, 0x100, 0, 0, 0x3F8]), Err(EFAULT));
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0x3FC, 0, 0]), Err(EFAULT));
    }

    #[test]
    fn select_as_pselect6_converts_the_timeout_both_ways() {
        let mut g = Guest::new(0x400);
        let p = Pipe::empty();
        let n = p.rd() as u64 + 1;
        fd_set(&mut g, 0x100, p.rd());
        // 2 ms on an empty pipe: all of it runs out, and zero comes back.
        g.put_u64(0x200, 0);
        g.put_u64(0x208, 2_000);
        let a = [n, 0x100, 0, 0, 0x200, 0];
        let call = g.call("select");
        let sets = fd_sets(&call, &a).unwrap();
        assert_eq!(select_as_pselect6(&call, &a, sets), Ok(0));
        assert_eq!((g.u32_at(0x200), g.u32_at(0x208)), (0, 0));
        // A pipe with data answers at once and leaves time over.
        let q = Pipe::ready();
        let n = q.rd() as u64 + 1;
        fd_set(&mut g, 0x100, q.rd());
        g.put_u64(0x200, 0);
        g.put_u64(0x208, 1_500_000); // normalized to 1 s + 500_000 us
        let a = [n, 0x100, 0, 0, 0x200, 0];
        let call = g.call("select");
        assert_eq!(
            select_as_pselect6(&call, &a, fd_sets(&call, &a).unwrap()),
            Ok(1)
        );
        assert!(g.u32_at(0x200) <= 1);
        assert!(g.u32_at(0x200) == 1 || g.u32_at(0x208) > 0);
        assert!(g.u32_at(0x208) < 1_000_000);
        // Negative times are EINVAL, as for select.
        g.put_u64(0x208, (-1i64) as u64);
        let call = g.call("select");
        assert_eq!(
            select_as_pselect6(&call, &a, fd_sets(&call, &a).unwrap()),
            Err(EINVAL)
        );
    }

    #[test]
    fn pselect6_rebuilds_its_mask_pair() {
        let mut g = Guest::new(0x400);
        let p = Pipe::ready();
        let n = p.rd() as u64 + 1;
        fd_set(&mut g, 0x100, p.rd());
        g.put_u64(0x300, 0); // the mask
        g.put_u64(0x380, 0x300); // {mask pointer, size}
        g.put_u64(0x388, 8);
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x380]), Ok(1));
        // Null mask pointer inside the pair: no mask change, size ignored.
        g.put_u64(0x380, 0);
        g.put_u64(0x388, 77);
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x380]), Ok(1));
        // A wrong size, a mask past the end or beyond 4 GiB, a pair past the end.
        g.put_u64(0x380, 0x300);
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x380]), Err(EINVAL));
        g.put_u64(0x388, 8);
        g.put_u64(0x380, 0x3FC);
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x380]), Err(EFAULT));
        g.put_u64(0x380, 1 << 32);
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x380]), Err(EFAULT));
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0, 0x3F8]), Err(EFAULT));
        // Timespec checked.
        assert_eq!(g.run("pselect6", &[n, 0x100, 0, 0, 0x3F8, 0]), Err(EFAULT));
    }
}
