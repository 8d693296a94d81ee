//! Socket calls with address and data buffers: `socketpair`, `bind`, `connect`, `accept`,
//! `accept4`, `getsockname`, `getpeername`, `sendto`, `recvfrom`.
//!
//! Socket addresses have the same layout for the guest and every host. An address the guest
//! passes in is checked for its length (at most `sizeof(struct sockaddr_storage)`, as the
//! kernel requires); for one the kernel writes back, the length is copied from the guest
//! once, the buffer is checked for what the kernel may write (the length, capped at 128
//! bytes: the kernel never writes more), and the new length is copied back afterwards.

use super::super::arch::socket::guest;
use super::super::{Args, Call, Errno, SysResult};
use super::{buffer, out, reg, same};

/// `sizeof(struct sockaddr_storage)`: the most the kernel reads or writes of an address.
pub const SOCKADDR_MAX: u64 = guest::SOCKADDR_STORAGE as u64;

/// An address the guest passes in: (host pointer, length) for the kernel.
pub fn addr_in(call: &Call, ptr: u64, len: u64) -> Result<(u64, u64), Errno> {
    if len > SOCKADDR_MAX {
        return Err(Errno(libc::EINVAL));
    }
    if ptr == 0 {
        // The kernel answers a null address itself (EFAULT, or EINVAL for length 0).
        return Ok((0, len));
    }
    Ok((reg(call.mem.range(ptr, len)?), len))
}

/// An address the kernel writes back, with its in/out length.
pub struct AddrOut {
    /// Host address of the guest's buffer, or null.
    addr: u64,
    /// The guest's `socklen_t*`, 0 for none.
    len_ptr: u64,
    /// The length the kernel reads and updates.
    len: u32,
}

/// Whether a call writes the address length even without an address buffer (`getsockname`
/// and `getpeername` do; `accept` and `recvfrom` then leave the length alone).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LenWithoutAddr {
    Written,
    Ignored,
}

impl AddrOut {
    pub fn new(
        call: &Call,
        addr: u64,
        len_ptr: u64,
        without: LenWithoutAddr,
    ) -> Result<AddrOut, Errno> {
        if addr == 0 && without == LenWithoutAddr::Ignored {
            return Ok(AddrOut {
                addr: 0,
                len_ptr: 0,
                len: 0,
            });
        }
        let len = if len_ptr == 0 {
            // A buffer without a length: the kernel would fail (EFAULT) before writing it.
            if addr != 0 {
                return Err(Errno(libc::EFAULT));
            }
            0
        } else {
            call.mem.read_u32(len_ptr)?
        };
        let host = if addr == 0 {
            0
        } else {
            if (len as i32) < 0 {
                return Err(Errno(libc::EINVAL));
            }
            reg(call.mem.range(addr, u64::from(len).min(SOCKADDR_MAX))?)
        };
        Ok(AddrOut {
            addr: host,
            len_ptr,
            len,
        })
    }

    /// The address register for the kernel.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The length-pointer register for the kernel (the runtime's copy), or null.
    pub fn len(&mut self) -> u64 {
        if self.len_ptr == 0 {
            0
        } else {
            out(&mut self.len)
        }
    }

    /// After a successful call: the length the kernel left, back to the guest.
    pub fn finish(&self, call: &Call, result: SysResult) -> SysResult {
        let value = result?;
        if self.len_ptr != 0 {
            call.mem.write_u32(self.len_ptr, self.len)?;
        }
        Ok(value)
    }
}

/// `socketpair(domain, type, protocol, int sv[2])`.
pub fn socketpair(call: &Call, a: &Args) -> SysResult {
    let sv = call.mem.range(a[3], 8)?;
    same(call, [a[0], a[1], a[2], reg(sv), 0, 0])
}

/// `bind` and `connect(fd, const struct sockaddr*, socklen_t)`.
pub fn bind_or_connect(call: &Call, a: &Args) -> SysResult {
    let (addr, len) = addr_in(call, a[1], a[2])?;
    same(call, [a[0], addr, len, 0, 0, 0])
}

/// `accept(fd, struct sockaddr*, socklen_t*)`.
pub fn accept(call: &Call, a: &Args) -> SysResult {
    let mut out = AddrOut::new(call, a[1], a[2], LenWithoutAddr::Ignored)?;
    let r = same(call, [a[0], out.addr(), out.len(), 0, 0, 0]);
    out.finish(call, r)
}

/// `accept4(fd, struct sockaddr*, socklen_t*, flags)`; `SOCK_*` flags are the same on every
/// host.
pub fn accept4(call: &Call, a: &Args) -> SysResult {
    let mut out = AddrOut::new(call, a[1], a[2], LenWithoutAddr::Ignored)?;
    let r = same(call, [a[0], out.addr(), out.len(), a[3], 0, 0]);
    out.finish(call, r)
}

/// `getsockname` and `getpeername(fd, struct sockaddr*, socklen_t*)`.
pub fn name(call: &Call, a: &Args) -> SysResult {
    let mut out = AddrOut::new(call, a[1], a[2], LenWithoutAddr::Written)?;
    let r = same(call, [a[0], out.addr(), out.len(), 0, 0, 0]);
    out.finish(call, r)
}

/// `sendto(fd, buf, len, flags, const struct sockaddr*, socklen_t)`.
pub fn sendto(call: &Call, a: &Args) -> SysResult {
    let buf = buffer(call, a[1], a[2])?;
    // The kernel looks at the address only when there is one.
    let (addr, len) = if a[4] == 0 {
        (0, 0)
    } else {
        addr_in(call, a[4], a[5])?
    };
    same(call, [a[0], buf, a[2], a[3], addr, len])
}

/// `recvfrom(fd, buf, len, flags, struct sockaddr*, socklen_t*)`.
pub fn recvfrom(call: &Call, a: &Args) -> SysResult {
    let buf = buffer(call, a[1], a[2])?;
    let mut out = AddrOut::new(call, a[4], a[5], LenWithoutAddr::Ignored)?;
    let r = same(call, [a[0], buf, a[2], a[3], out.addr(), out.len()]);
    out.finish(call, r)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const EFAULT: Errno = Errno(libc::EFAULT);
    const EINVAL: Errno = Errno(libc::EINVAL);

    fn sockaddr_in(port: u16) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..2].copy_from_slice(&(libc::AF_INET as u16).to_le_bytes());
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b[4..8].copy_from_slice(&[127, 0, 0, 1]);
        b
    }

    fn udp(g: &mut Guest) -> i64 {
        g.run(
            "socket",
            &[libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0],
        )
        .unwrap()
    }

    #[test]
    fn bad_socketpair_arrays_fault() {
        let mut g = Guest::new(0x100);
        let unix = libc::AF_UNIX as u64;
        let stream = libc::SOCK_STREAM as u64;
        assert_eq!(g.run("socketpair", &[unix, stream, 0, 0xFC]), Err(EFAULT));
        assert_eq!(
            g.run("socketpair", &[unix, stream, 0, 1 << 32]),
            Err(EFAULT)
        );
        assert_eq!(g.run("socketpair", &[unix, stream, 0, 0xF8]), Ok(0));
        close(i64::from(g.u32_at(0xF8)));
        close(i64::from(g.u32_at(0xFC)));
    }

    #[test]
    fn incoming_addresses_are_checked() {
        let mut g = Guest::new(0x100);
        let fd = udp(&mut g);
        let f = fd as u64;
        g.put(0xF0, &sockaddr_in(0));
        // Longer than any address, a range past the end, one wrapping around 4 GiB.
        assert_eq!(g.run("bind", &[f, 0xF0, 129]), Err(EINVAL));
        assert_eq!(g.run("bind", &[f, 0xF8, 16]), Err(EFAULT));
        assert_eq!(g.run("bind", &[f, 0xFFFF_FFF8, 16]), Err(EFAULT));
        assert_eq!(g.run("bind", &[f, 0, 16]), Err(EFAULT));
        assert_eq!(g.run("connect", &[f, 0xF8, 16]), Err(EFAULT));
        assert_eq!(g.run("bind", &[f, 0xF0, 16]), Ok(0));
        // sendto checks its data and its address.
        g.put(0x10, b"hi");
        assert_eq!(g.run("sendto", &[f, 0xFF, 2, 0, 0xF0, 16]), Err(EFAULT));
        assert_eq!(g.run("sendto", &[f, 0x10, 2, 0, 0xF8, 16]), Err(EFAULT));
        assert_eq!(g.run("sendto", &[f, 0x10, 2, 0, 0xF0, 1000]), Err(EINVAL));
        close(fd);
    }

    #[test]
    fn outgoing_addresses_copy_their_length_once_and_back() {
        let mut g = Guest::new(0x100);
        let fd = udp(&mut g);
        let f = fd as u64;
        g.put(0x20, &sockaddr_in(0));
        assert_eq!(g.run("bind", &[f, 0x20, 16]), Ok(0));
        // A huge length near the end of memory: the kernel writes at most 128 bytes, and
        // only 16 here; the new length comes back.
        g.put_u32(0x10, 0x7FFF_FFF0);
        assert_eq!(g.run("getsockname", &[f, 0x70, 0x10]), Ok(0));
        assert_eq!(g.u32_at(0x10), 16);
        assert_eq!(&g.bytes(0x70, 2), &(libc::AF_INET as u16).to_le_bytes());
        // Too little room for 128 bytes where the length asks for them.
        g.put_u32(0x10, 200);
        assert_eq!(g.run("getsockname", &[f, 0xC0, 0x10]), Err(EFAULT));
        // Negative lengths, lengths out of memory, buffers without lengths.
        g.put_u32(0x10, u32::MAX);
        assert_eq!(g.run("getsockname", &[f, 0x70, 0x10]), Err(EINVAL));
        assert_eq!(g.run("getsockname", &[f, 0x70, 0xFE]), Err(EFAULT));
        assert_eq!(g.run("getpeername", &[f, 0x70, 0]), Err(EFAULT));
        // No buffer: getsockname still reports the length, recvfrom ignores it.
        g.put_u32(0x10, 0);
        assert_eq!(g.run("getsockname", &[f, 0, 0x10]), Ok(0));
        assert_eq!(g.u32_at(0x10), 16);
        assert_eq!(g.run("getsockname", &[f, 0, 0xFFFF]), Err(EFAULT));
        assert_eq!(
            g.run(
                "recvfrom",
                &[f, 0x80, 0x20, libc::MSG_DONTWAIT as u64, 0, 0xFFFF]
            ),
            Err(Errno(libc::EAGAIN))
        );
        // recvfrom with nothing queued, checked before it blocks.
        assert_eq!(
            g.run(
                "recvfrom",
                &[f, 0xF0, 0x20, libc::MSG_DONTWAIT as u64, 0, 0]
            ),
            Err(EFAULT)
        );
        assert_eq!(
            g.run(
                "recvfrom",
                &[f, 0x80, 0x20, libc::MSG_DONTWAIT as u64, 0, 0]
            ),
            Err(Errno(libc::EAGAIN))
        );
        close(fd);
    }

    #[test]
    fn datagrams_round_trip_with_their_source() {
        let mut g = Guest::new(0x200);
        let (s1, s2) = (udp(&mut g), udp(&mut g));
        g.put(0x20, &sockaddr_in(0));
        assert_eq!(g.run("bind", &[s1 as u64, 0x20, 16]), Ok(0));
        assert_eq!(g.run("bind", &[s2 as u64, 0x20, 16]), Ok(0));
        g.put_u32(0x10, 16);
        assert_eq!(g.run("getsockname", &[s2 as u64, 0x40, 0x10]), Ok(0));
        g.put(0x60, b"HELLO");
        assert_eq!(g.run("sendto", &[s1 as u64, 0x60, 5, 0, 0x40, 16]), Ok(5));
        g.put_u32(0x14, 16);
        assert_eq!(
            g.run("recvfrom", &[s2 as u64, 0x100, 64, 0, 0x80, 0x14]),
            Ok(5)
        );
        assert_eq!(g.bytes(0x100, 5), b"HELLO");
        assert_eq!(g.u32_at(0x14), 16);
        assert_eq!(&g.bytes(0x80, 2), &(libc::AF_INET as u16).to_le_bytes());
        close(s1);
        close(s2);
    }
}
