//! `epoll_ctl`, `epoll_pwait` and `eventfd`. The guest's `struct epoll_event` is x86-64's
//! packed one ([`arch::epoll`](super::super::arch::epoll)): handed to the kernel in place
//! where the host's is the same, translated through a host array elsewhere. `eventfd` exists
//! on x86-64 only and is `eventfd2(initval, 0)` elsewhere; the `EFD_*` and `EPOLL_CLOEXEC`
//! flags are the same on every host.

use super::super::arch::epoll as layout;
use super::super::arch::socket::guest;
use super::super::{host_nr, int, raw, Args, Call, Errno, SysResult};
use super::sigmask;
use super::{out, reg, same};

/// The most events one call translates on hosts with another layout (a call may always
/// return fewer than `maxevents`; the rest stay ready for the next one).
const BATCH: usize = 1024;

/// `eventfd(unsigned initval)`.
pub fn eventfd(call: &Call, a: &Args) -> SysResult {
    let nr = host_nr(call.syscall).unwrap_or(libc::SYS_eventfd2);
    raw(nr, [a[0], 0, 0, 0, 0, 0])
}

/// `epoll_ctl(epfd, op, fd, struct epoll_event*)`: the event is copied (and converted) once;
/// `EPOLL_CTL_DEL` ignores it, as the kernel does.
pub fn epoll_ctl(call: &Call, a: &Args) -> SysResult {
    let host;
    let event = if int(a, 1) == guest::EPOLL_CTL_DEL {
        0
    } else {
        let bytes = call.mem.read_bytes(a[3], layout::GUEST_SIZE)?;
        let bytes: &[u8; layout::GUEST_SIZE as usize] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Errno(libc::EFAULT))?;
        host = layout::to_host(bytes);
        reg(&host)
    };
    same(call, [a[0], a[1], a[2], event, 0, 0])
}

/// `epoll_pwait(epfd, struct epoll_event*, maxevents, timeout, const sigset_t*, size_t)`,
/// checking in the kernel's order: the mask, then `maxevents`, then the array.
pub fn epoll_pwait(call: &Call, a: &Args) -> SysResult {
    let mask = sigmask::read(call, a[4], a[5])?;
    let max = int(a, 2);
    if max <= 0 || max > layout::GUEST_MAX_EVENTS {
        return Err(Errno(libc::EINVAL));
    }
    let events = call.mem.array(a[1], max as u64, layout::GUEST_SIZE)?;
    sigmask::during(call, mask, |m| {
        if layout::SAME_LAYOUT {
            same(call, [a[0], reg(events), a[2], a[3], m, a[5]])
        } else {
            wait_translated(call, a, max as usize, m)
        }
    })
}

/// The wait through a host array, converted into the (already checked) guest array.
fn wait_translated(call: &Call, a: &Args, max: usize, mask_reg: u64) -> SysResult {
    let count = max.min(BATCH);
    let mut host = vec![libc::epoll_event { events: 0, u64: 0 }; count];
    let n = same(
        call,
        [
            a[0],
            out(host.as_mut_ptr()),
            count as u64,
            a[3],
            mask_reg,
            a[5],
        ],
    )?;
    let ready = host.get(..n as usize).ok_or(Errno(libc::EIO))?;
    let out: Vec<u8> = ready.iter().flat_map(layout::to_guest).collect();
    call.mem.write_bytes(a[1], &out)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const EFAULT: Errno = Errno(libc::EFAULT);
    const EINVAL: Errno = Errno(libc::EINVAL);

    fn event(g: &mut Guest, at: usize, events: u32, data: u64) {
        g.put_u32(at, events);
        g.put_u64(at + 4, data);
    }

    /// An epoll instance watching the reading end of a socket pair with data waiting.
    fn ready_epoll(g: &mut Guest, pair: &Pair) -> u64 {
        let ep = g.run("epoll_create1", &[0]).unwrap() as u64;
        event(g, 0x10, libc::EPOLLIN as u32, 0x1122_3344_5566_7788);
        let add = libc::EPOLL_CTL_ADD as u64;
        assert_eq!(g.run("epoll_ctl", &[ep, add, pair.b(), 0x10]), Ok(0));
        assert_eq!(unsafe { libc::write(pair.0, b"x".as_ptr().cast(), 1) }, 1);
        ep
    }

    #[test]
    fn events_come_back_in_the_guest_layout() {
        let mut g = Guest::new(0x1000);
        let pair = Pair::new(libc::SOCK_STREAM);
        let ep = ready_epoll(&mut g, &pair);
        g.put(0x100, &[0xEE; 24]);
        assert_eq!(g.run("epoll_pwait", &[ep, 0x100, 2, 0, 0, 8]), Ok(1));
        assert_eq!(g.u32_at(0x100), libc::EPOLLIN as u32);
        assert_eq!(g.bytes(0x104, 8), &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(g.bytes(0x10C, 4), &[0xEE; 4], "one 12-byte event only");
        close(ep as i64);
    }

    #[test]
    fn the_translated_path_writes_the_same_bytes() {
        let mut g = Guest::new(0x1000);
        let pair = Pair::new(libc::SOCK_STREAM);
        let ep = ready_epoll(&mut g, &pair);
        g.put(0x100, &[0xEE; 24]);
        let a = [ep, 0x100, 2, 0, 0, 8];
        let call = g.call("epoll_pwait");
        assert_eq!(wait_translated(&call, &a, 2, 0), Ok(1));
        assert_eq!(g.u32_at(0x100), libc::EPOLLIN as u32);
        assert_eq!(g.bytes(0x104, 8), &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(g.bytes(0x10C, 4), &[0xEE; 4]);
        close(ep as i64);
    }

    #[test]
    fn hostile_arguments_are_refused_in_the_kernels_order() {
        let mut g = Guest::new(0x1000);
        let pair = Pair::new(libc::SOCK_STREAM);
        let ep = ready_epoll(&mut g, &pair);
        let (add, del) = (libc::EPOLL_CTL_ADD as u64, libc::EPOLL_CTL_DEL as u64);
        // An event past the end of memory; DEL does not read it.
        assert_eq!(g.run("epoll_ctl", &[ep, add, pair.a(), 0xFF8]), Err(EFAULT));
        assert_eq!(
            g.run("epoll_ctl", &[ep, add, pair.a(), 0xFFFF_FFFC]),
            Err(EFAULT)
        );
        assert_eq!(
            g.run("epoll_ctl", &[ep, 0xDEAD, pair.b(), 0x10]),
            Err(EINVAL)
        );
        // maxevents: zero, negative, above the kernel's limit, larger than memory.
        assert_eq!(g.run("epoll_pwait", &[ep, 0x100, 0, 0, 0, 8]), Err(EINVAL));
        assert_eq!(
            g.run("epoll_pwait", &[ep, 0x100, cint(-1), 0, 0, 8]),
            Err(EINVAL)
        );
        assert_eq!(
            g.run("epoll_pwait", &[ep, 0x100, 200_000_000, 0, 0, 8]),
            Err(EINVAL)
        );
        assert_eq!(
            g.run("epoll_pwait", &[ep, 0x100, 1_000_000, 0, 0, 8]),
            Err(EFAULT)
        );
        // An array partly out of memory: 2 events need 24 bytes.
        assert_eq!(g.run("epoll_pwait", &[ep, 0xFF0, 2, 0, 0, 8]), Err(EFAULT));
        // The mask: size first, then its bytes.
        assert_eq!(
            g.run("epoll_pwait", &[ep, 0x100, 0, 0, 0x200, 16]),
            Err(EINVAL)
        );
        assert_eq!(
            g.run("epoll_pwait", &[ep, 0x100, 2, 0, 0xFFC, 8]),
            Err(EFAULT)
        );
        g.put_u64(0x200, u64::MAX);
        assert_eq!(g.run("epoll_pwait", &[ep, 0x100, 2, 0, 0x200, 8]), Ok(1));
        assert_eq!(g.run("epoll_ctl", &[ep, del, pair.b(), 0xFFFF_FFFC]), Ok(0));
        assert_eq!(g.run("epoll_pwait", &[ep, 0x100, 2, 0, 0, 8]), Ok(0));
        close(ep as i64);
    }

    #[test]
    fn eventfd_counts() {
        let mut g = Guest::new(0x100);
        let fd = g.run("eventfd", &[7]).unwrap();
        let mut v = 0u64;
        assert_eq!(
            unsafe { libc::read(fd as i32, (&mut v as *mut u64).cast(), 8) },
            8
        );
        assert_eq!(v, 7);
        close(fd);
        let fd = raw(libc::SYS_eventfd2, [3, 0, 0, 0, 0, 0]).unwrap();
        close(fd);
    }
}
