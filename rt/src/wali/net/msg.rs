//! `sendmsg` and `recvmsg`: the guest's `struct msghdr` holds guest pointers, so it is read
//! once and rebuilt as a host `msghdr` whose every buffer was checked.
//!
//! The guest's layout (wasm32 musl with a 64-bit `long`, as the WALI spec's types give it),
//! 36 bytes:
//!
//! | offset | field |
//! |---|---|
//! | 0 | `void *msg_name` |
//! | 4 | `socklen_t msg_namelen` |
//! | 8 | `struct iovec *msg_iov` (guest iovecs: `{u32 base, u32 len}`) |
//! | 12 | `int msg_iovlen`, then 4 bytes of padding |
//! | 20 | `void *msg_control` |
//! | 24 | `socklen_t msg_controllen`, then 4 bytes of padding |
//! | 32 | `int msg_flags` |
//!
//! Control messages need no pointer translation: the guest's `struct cmsghdr` is
//! `{socklen_t cmsg_len; int pad; int cmsg_level; int cmsg_type}`, which is the kernel's
//! 16-byte header with `size_t cmsg_len` when the padding is zero, and the guest steps from
//! one message to the next with the kernel's 8-byte alignment. So what the kernel writes on
//! `recvmsg` is already the guest's layout, and on `sendmsg` the control buffer is copied and
//! each header's padding cleared (as musl does natively) so the kernel sees the 32-bit length.

use super::super::{Args, Call, Errno, SysResult};
use super::sock::SOCKADDR_MAX;
use super::{buffer, out, reg, same};

const GUEST_MSGHDR: u64 = 36;
const NAME: usize = 0;
const NAMELEN: usize = 4;
const IOV: usize = 8;
const IOVLEN: usize = 12;
const CONTROL: usize = 20;
const CONTROLLEN: usize = 24;
const FLAGS: usize = 32;

/// Size of a guest `struct iovec`.
const GUEST_IOVEC: u64 = 8;
/// The kernel's `UIO_MAXIOV`: more iovecs in a message is `EMSGSIZE`.
const MAX_IOV: u32 = 1024;
/// The header of a control message, guest and kernel alike.
const CMSG_HEADER: usize = 16;
/// Control buffers larger than this are refused with `ENOBUFS` before being copied (the
/// kernel's own limit, `net.core.optmem_max`, is far smaller by default).
const MAX_CONTROL: u64 = 1 << 20;

/// The guest's header, read once.
struct GuestMsg {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u32,
    control: u64,
    controllen: u32,
    flags: u32,
}

impl GuestMsg {
    fn read(call: &Call, ptr: u64) -> Result<GuestMsg, Errno> {
        let b = call.mem.read_bytes(ptr, GUEST_MSGHDR)?;
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Ok(GuestMsg {
            name: u64::from(u32_at(NAME)),
            namelen: u32_at(NAMELEN),
            iov: u64::from(u32_at(IOV)),
            iovlen: u32_at(IOVLEN),
            control: u64::from(u32_at(CONTROL)),
            controllen: u32_at(CONTROLLEN),
            flags: u32_at(FLAGS),
        })
    }
}

/// A host `msghdr` and the buffers it points into.
struct HostMsg {
    hdr: libc::msghdr,
    _iovecs: Vec<libc::iovec>,
    _control: Vec<u8>,
}

/// Host iovecs for the guest's `count` iovecs at `ptr`, each entry read once and checked.
fn iovecs(call: &Call, ptr: u64, count: u32) -> Result<Vec<libc::iovec>, Errno> {
    if count > MAX_IOV {
        return Err(Errno(libc::EMSGSIZE));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let raw = call.mem.read_bytes(ptr, u64::from(count) * GUEST_IOVEC)?;
    raw.chunks_exact(GUEST_IOVEC as usize)
        .map(|e| {
            let base = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let len = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            Ok(libc::iovec {
                iov_base: buffer(call, u64::from(base), u64::from(len))? as *mut libc::c_void,
                iov_len: len as usize,
            })
        })
        .collect()
}

/// Clears the padding after each 32-bit `cmsg_len` in a copied control buffer, walking the
/// messages the way the kernel will. Stops at a header that cannot be a message (the kernel
/// refuses those itself).
fn clear_cmsg_padding(control: &mut [u8]) {
    let mut at = 0usize;
    while control.len() - at >= CMSG_HEADER {
        control[at + 4..at + 8].fill(0);
        let len = u32::from_le_bytes([
            control[at],
            control[at + 1],
            control[at + 2],
            control[at + 3],
        ]) as usize;
        if len < CMSG_HEADER {
            break;
        }
        // Next header: the length rounded up to 8 (cannot overflow: len < 4 GiB).
        match at.checked_add((len + 7) & !7) {
            Some(next) if next <= control.len() => at = next,
            _ => break,
        }
    }
}

impl HostMsg {
    /// The host message for guest `m`; `sending` copies the control messages in, otherwise
    /// the kernel writes them straight into the checked guest buffer.
    fn new(call: &Call, m: &GuestMsg, sending: bool) -> Result<HostMsg, Errno> {
        // The kernel ignores the length of a null name, refuses a negative one and uses at
        // most a `sockaddr_storage` of a longer one.
        let (name, namelen) = if m.name == 0 {
            (0, 0)
        } else if (m.namelen as i32) < 0 {
            return Err(Errno(libc::EINVAL));
        } else {
            let len = u64::from(m.namelen).min(SOCKADDR_MAX);
            (reg(call.mem.range(m.name, len)?), len as u32)
        };
        let iovecs = iovecs(call, m.iov, m.iovlen)?;
        let mut control = Vec::new();
        let len = u64::from(m.controllen);
        let control_reg = if m.control == 0 || len == 0 {
            // The kernel answers a null buffer itself.
            0
        } else if sending && len > MAX_CONTROL {
            // Including the kernel's own limit of INT_MAX.
            return Err(Errno(libc::ENOBUFS));
        } else if sending {
            control = call.mem.read_bytes(m.control, len)?;
            clear_cmsg_padding(&mut control);
            reg(control.as_ptr())
        } else {
            reg(call.mem.range(m.control, len)?)
        };
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths), and this also
        // clears any padding fields the host's struct has.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = name as usize as *mut libc::c_void;
        hdr.msg_namelen = namelen;
        hdr.msg_iov = if iovecs.is_empty() {
            std::ptr::null_mut()
        } else {
            iovecs.as_ptr() as *mut libc::iovec
        };
        hdr.msg_iovlen = iovecs.len() as _;
        hdr.msg_control = control_reg as usize as *mut libc::c_void;
        hdr.msg_controllen = m.controllen as _;
        hdr.msg_flags = m.flags as i32;
        Ok(HostMsg {
            hdr,
            _iovecs: iovecs,
            _control: control,
        })
    }
}

/// `sendmsg(fd, const struct msghdr*, flags)`.
pub fn sendmsg(call: &Call, a: &Args) -> SysResult {
    let m = GuestMsg::read(call, a[1])?;
    let host = HostMsg::new(call, &m, true)?;
    same(call, [a[0], reg(&host.hdr), a[2], 0, 0, 0])
}

/// `recvmsg(fd, struct msghdr*, flags)`: after success the name and control lengths and the
/// flags go back into the guest's header.
pub fn recvmsg(call: &Call, a: &Args) -> SysResult {
    let m = GuestMsg::read(call, a[1])?;
    let mut host = HostMsg::new(call, &m, false)?;
    let n = same(call, [a[0], out(&mut host.hdr), a[2], 0, 0, 0])?;
    let base = a[1];
    if m.name != 0 {
        call.mem
            .write_u32(base + NAMELEN as u64, host.hdr.msg_namelen)?;
    }
    call.mem
        .write_u32(base + CONTROLLEN as u64, host.hdr.msg_controllen as u32)?;
    call.mem
        .write_u32(base + FLAGS as u64, host.hdr.msg_flags as u32)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const EFAULT: Errno = Errno(libc::EFAULT);

    /// Writes a guest msghdr at `at`.
    #[allow(clippy::too_many_arguments)]
    fn msghdr(
        g: &mut Guest,
        at: usize,
        name: u32,
        namelen: u32,
        iov: u32,
        iovlen: u32,
        control: u32,
        controllen: u32,
    ) {
        let mut b = [0xEEu8; 36]; // padding the guest never wrote
        for (off, v) in [
            (NAME, name),
            (NAMELEN, namelen),
            (IOV, iov),
            (IOVLEN, iovlen),
            (CONTROL, control),
            (CONTROLLEN, controllen),
            (FLAGS, 0),
        ] {
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        }
        g.put(at, &b);
    }

    fn iovec(g: &mut Guest, at: usize, base: u32, len: u32) {
        g.put_u32(at, base);
        g.put_u32(at + 4, len);
    }

    #[test]
    fn messages_round_trip_with_descriptors() {
        let mut g = Guest::new(0x1000);
        let pair = Pair::new(libc::SOCK_STREAM);
        // Send "PING" and one descriptor (SCM_RIGHTS) in a 20-byte control buffer, the
        // guest's CMSG_SPACE(sizeof(int)), with garbage in the header's padding.
        g.put(0x200, b"PING");
        iovec(&mut g, 0x100, 0x200, 4);
        let mut cmsg = [0u8; 20];
        cmsg[..4].copy_from_slice(&20u32.to_le_bytes());
        cmsg[4..8].copy_from_slice(&[0xAB; 4]);
        cmsg[8..12].copy_from_slice(&libc::SOL_SOCKET.to_le_bytes());
        cmsg[12..16].copy_from_slice(&libc::SCM_RIGHTS.to_le_bytes());
        cmsg[16..20].copy_from_slice(&(pair.0).to_le_bytes());
        g.put(0x300, &cmsg);
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0x300, 20);
        assert_eq!(g.run("sendmsg", &[pair.a(), 0x10, 0]), Ok(4));

        // Receive into two iovecs, with room for the control message.
        iovec(&mut g, 0x140, 0x400, 2);
        iovec(&mut g, 0x148, 0x500, 10);
        msghdr(&mut g, 0x60, 0, 0, 0x140, 2, 0x600, 24);
        assert_eq!(g.run("recvmsg", &[pair.b(), 0x60, 0]), Ok(4));
        assert_eq!(g.bytes(0x400, 2), b"PI");
        assert_eq!(g.bytes(0x500, 2), b"NG");
        // The kernel used CMSG_SPACE(4) = 24 bytes of the buffer.
        assert_eq!(g.u32_at(0x60 + CONTROLLEN), 24);
        assert_eq!(g.u32_at(0x600), 20);
        assert_eq!(
            g.u32_at(0x604),
            0,
            "the kernel's size_t length clears the padding"
        );
        assert_eq!(g.u32_at(0x608), libc::SOL_SOCKET as u32);
        assert_eq!(g.u32_at(0x60C), libc::SCM_RIGHTS as u32);
        // A new descriptor for the same open socket (its number depends on what other tests
        // hold open at the moment, so compare identities, not numbers).
        let received = g.u32_at(0x610) as i32;
        let identity = |fd: i32| {
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
            (st.st_dev, st.st_ino)
        };
        assert_ne!(received, pair.0);
        assert_eq!(identity(received), identity(pair.0));
        close(i64::from(received));
    }

    #[test]
    fn empty_messages_need_no_iovecs() {
        let mut g = Guest::new(0x100);
        let pair = Pair::new(libc::SOCK_STREAM);
        msghdr(&mut g, 0x10, 0, 0, 0, 0, 0, 0);
        assert_eq!(g.run("sendmsg", &[pair.a(), 0x10, 0]), Ok(0));
    }

    #[test]
    fn hostile_headers_are_refused() {
        let mut g = Guest::new(0x1000);
        let pair = Pair::new(libc::SOCK_DGRAM);
        let send = |g: &mut Guest| g.run("sendmsg", &[pair.a(), 0x10, 0]);
        // The header itself past the end of memory, or wrapping.
        assert_eq!(g.run("sendmsg", &[pair.a(), 0xFF0, 0]), Err(EFAULT));
        assert_eq!(g.run("recvmsg", &[pair.a(), 0xFFFF_FFF0, 0]), Err(EFAULT));
        // An iovec array partly out of memory.
        iovec(&mut g, 0xFF8, 0x200, 4);
        msghdr(&mut g, 0x10, 0, 0, 0xFF8, 2, 0, 0);
        assert_eq!(send(&mut g), Err(EFAULT));
        // Iovec lengths whose sum runs past the end, or whose base does.
        iovec(&mut g, 0x100, 0x200, 0xFFFF_FFFF);
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0, 0);
        assert_eq!(send(&mut g), Err(EFAULT));
        iovec(&mut g, 0x100, 0xFFFF_FFF0, 0x20);
        assert_eq!(send(&mut g), Err(EFAULT));
        // Too many iovecs, and a negative count.
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1025, 0, 0);
        assert_eq!(send(&mut g), Err(Errno(libc::EMSGSIZE)));
        msghdr(&mut g, 0x10, 0, 0, 0x100, u32::MAX, 0, 0);
        assert_eq!(send(&mut g), Err(Errno(libc::EMSGSIZE)));
        // Names: negative length, out of memory.
        iovec(&mut g, 0x100, 0x200, 4);
        msghdr(&mut g, 0x10, 0x200, 0x8000_0000, 0x100, 1, 0, 0);
        assert_eq!(send(&mut g), Err(Errno(libc::EINVAL)));
        msghdr(&mut g, 0x10, 0xFF0, 110, 0x100, 1, 0, 0);
        assert_eq!(send(&mut g), Err(EFAULT));
        // Control buffers: out of memory, huge, absurd.
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0xFF0, 0x20);
        assert_eq!(send(&mut g), Err(EFAULT));
        assert_eq!(g.run("recvmsg", &[pair.b(), 0x10, 0]), Err(EFAULT));
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0x100, 0x7FFF_FFFF);
        assert_eq!(send(&mut g), Err(Errno(libc::ENOBUFS)));
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0x100, 0x8000_0000);
        assert_eq!(send(&mut g), Err(Errno(libc::ENOBUFS)));
        // A control message whose length points past the buffer: the kernel refuses it.
        g.put(0x300, &[0xFF; 16]);
        msghdr(&mut g, 0x10, 0, 0, 0x100, 1, 0x300, 16);
        assert_eq!(send(&mut g), Err(Errno(libc::EINVAL)));
    }

    #[test]
    fn padding_is_cleared_along_the_chain_only() {
        let mut c = vec![0xAAu8; 64];
        c[..4].copy_from_slice(&20u32.to_le_bytes());
        c[24..28].copy_from_slice(&16u32.to_le_bytes());
        c[40..44].copy_from_slice(&3u32.to_le_bytes()); // too short: the walk stops here
        clear_cmsg_padding(&mut c);
        assert_eq!(&c[4..8], &[0; 4]);
        assert_eq!(&c[28..32], &[0; 4]);
        assert_eq!(&c[44..48], &[0; 4]);
        assert_eq!(&c[60..64], &[0xAA; 4]);
        // Lengths near 4 GiB and buffers shorter than a header.
        let mut c = vec![0xFFu8; 16];
        clear_cmsg_padding(&mut c);
        assert_eq!(&c[4..8], &[0; 4]);
        let mut short = vec![0xFFu8; 15];
        clear_cmsg_padding(&mut short);
        assert_eq!(short, vec![0xFF; 15]);
    }
}
