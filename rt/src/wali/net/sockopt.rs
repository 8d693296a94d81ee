//! `getsockopt` and `setsockopt`. Option values are opaque bytes to the kernel's generic code,
//! so safety depends on what each option does with them: most read or write at most
//! `optlen` bytes, and those are checked and passed on (the length copied once, so the
//! kernel uses what was checked). The exceptions are listed in [`RULES`]: values holding a
//! user pointer (a BPF program) are rebuilt with a checked host pointer, values whose length
//! the kernel reads from inside them are bounded by `optlen`, and administration interfaces
//! whose structures carry user pointers are refused.
//!
//! Only the option levels listed in [`LEVELS`] (whose options were reviewed) are accepted;
//! others answer `ENOPROTOOPT`, as for an option the kernel does not know. Option numbers
//! and value layouts are the same for the guest and all three hosts.

use super::super::{Args, Call, Errno, SysResult};
use super::{out, reg, same};

// Levels (`SOL_*` / `IPPROTO_*`).
const SOL_IP: i32 = 0;
const SOL_SOCKET: i32 = 1;
const SOL_TCP: i32 = 6;
const SOL_UDP: i32 = 17;
const SOL_IPV6: i32 = 41;
const SOL_ICMPV6: i32 = 58;
const SOL_UDPLITE: i32 = 136;
const SOL_RAW: i32 = 255;
const SOL_PACKET: i32 = 263;
const SOL_NETLINK: i32 = 270;
const SOL_TLS: i32 = 282;

/// Levels whose options were reviewed.
pub const LEVELS: &[i32] = &[
    SOL_IP,
    SOL_SOCKET,
    SOL_TCP,
    SOL_UDP,
    SOL_IPV6,
    SOL_ICMPV6,
    SOL_UDPLITE,
    SOL_RAW,
    SOL_PACKET,
    SOL_NETLINK,
    SOL_TLS,
];

/// What happens to one option's value beyond the default check of `optlen` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// A `struct sock_fprog` (`{u16 len; struct sock_filter *filter}`: 8 bytes in the guest,
    /// 16 on the host), rebuilt around the checked program.
    Filter,
    /// `PACKET_FANOUT_DATA`: a descriptor (4 bytes) or a `sock_fprog`.
    FanoutData,
    /// `SO_GET_FILTER`: `optlen` counts 8-byte instructions, not bytes.
    FilterBlocks,
    /// A header and a list of `entry`-byte sources, as many as the u32 at `count_at` says
    /// (the kernel trusts that count, not `optlen`): the value goes through a host copy whose
    /// count is cut to what fits in `optlen`.
    SourceList {
        count_at: usize,
        header: usize,
        entry: usize,
    },
    /// Refused with `ENOPROTOOPT`.
    Refused,
}

/// Which of the two calls a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Get,
    Set,
    Both,
}

/// The exceptions: (level, first and last option number, call, rule).
const RULES: &[(i32, i32, i32, Dir, Rule)] = &[
    // SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF: a guest pointer to a classic BPF program.
    (SOL_SOCKET, 26, 26, Dir::Set, Rule::Filter),
    (SOL_SOCKET, 51, 51, Dir::Set, Rule::Filter),
    // SO_GET_FILTER (the same number as SO_ATTACH_FILTER).
    (SOL_SOCKET, 26, 26, Dir::Get, Rule::FilterBlocks),
    (SOL_PACKET, 22, 22, Dir::Set, Rule::FanoutData),
    // IP_MSFILTER: struct ip_msfilter, numsrc at 12, 4-byte addresses from 16.
    (SOL_IP, 41, 41, Dir::Get, SOURCES_V4),
    // MCAST_MSFILTER: struct group_filter, numsrc at 140, sockaddr_storage list from 144.
    (SOL_IP, 48, 48, Dir::Get, SOURCES_GROUP),
    (SOL_IPV6, 48, 48, Dir::Get, SOURCES_GROUP),
    // TCP_ZEROCOPY_RECEIVE: a mapping address and a control-buffer pointer inside.
    (SOL_TCP, 35, 35, Dir::Both, Rule::Refused),
    // TCP_AO_GET_KEYS: writes as many keys as a count inside the value says.
    (SOL_TCP, 41, 41, Dir::Get, Rule::Refused),
    // Netfilter table administration (iptables, arptables, ebtables; ip6tables): user
    // pointers inside (and CAP_NET_ADMIN needed anyway).
    (SOL_IP, 64, 67, Dir::Both, Rule::Refused),
    (SOL_IP, 96, 99, Dir::Both, Rule::Refused),
    (SOL_IP, 128, 131, Dir::Both, Rule::Refused),
    (SOL_IPV6, 64, 65, Dir::Both, Rule::Refused),
];

const SOURCES_V4: Rule = Rule::SourceList {
    count_at: 12,
    header: 16,
    entry: 4,
};
const SOURCES_GROUP: Rule = Rule::SourceList {
    count_at: 140,
    header: 144,
    entry: 128,
};

/// Size of the guest's `struct sock_fprog`.
const GUEST_FPROG: u64 = 8;
/// Size of one `struct sock_filter` instruction.
const FILTER_INSN: u64 = 8;
/// The most of a source-list value copied through the host.
const MAX_SOURCE_LIST: u64 = 1 << 20;

/// The rule for an option, `None` for plain bytes.
fn rule(level: i32, name: i32, dir: Dir) -> Result<Option<Rule>, Errno> {
    if !LEVELS.contains(&level) {
        return Err(Errno(libc::ENOPROTOOPT));
    }
    let found = RULES.iter().find(|&&(l, first, last, d, _)| {
        l == level && (first..=last).contains(&name) && (d == dir || d == Dir::Both)
    });
    match found.map(|r| r.4) {
        Some(Rule::Refused) => Err(Errno(libc::ENOPROTOOPT)),
        other => Ok(other),
    }
}

/// `setsockopt(fd, level, name, const void *optval, socklen_t optlen)`.
pub fn setsockopt(call: &Call, a: &Args) -> SysResult {
    let (level, name) = (a[1] as i32, a[2] as i32);
    let (optval, optlen) = (a[3], a[4]);
    if (optlen as i32) < 0 {
        return Err(Errno(libc::EINVAL));
    }
    let with = |value: u64, len: u64| same(call, [a[0], a[1], a[2], value, len, 0]);
    match rule(level, name, Dir::Set)? {
        Some(Rule::Filter) => set_filter(call, optval, optlen, with),
        Some(Rule::FanoutData) if optlen == GUEST_FPROG => set_filter(call, optval, optlen, with),
        Some(Rule::FanoutData) if optlen != 4 => Err(Errno(libc::EINVAL)),
        _ => with(reg(call.mem.optional(optval, optlen)?), optlen),
    }
}

/// Rebuilds a guest `sock_fprog` for the kernel.
fn set_filter(
    call: &Call,
    optval: u64,
    optlen: u64,
    with: impl Fn(u64, u64) -> SysResult,
) -> SysResult {
    if optlen != GUEST_FPROG {
        return Err(Errno(libc::EINVAL));
    }
    let b = call.mem.read_bytes(optval, GUEST_FPROG)?;
    let len = u16::from_le_bytes([b[0], b[1]]);
    let program = u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
    let filter = if len == 0 {
        // The kernel refuses an empty program without reading it.
        0
    } else {
        reg(call.mem.range(program, u64::from(len) * FILTER_INSN)?)
    };
    let host = libc::sock_fprog {
        len,
        filter: filter as usize as *mut libc::sock_filter,
    };
    with(reg(&host), std::mem::size_of::<libc::sock_fprog>() as u64)
}

/// `getsockopt(fd, level, name, void *optval, socklen_t *optlen)`.
pub fn getsockopt(call: &Call, a: &Args) -> SysResult {
    let (level, name) = (a[1] as i32, a[2] as i32);
    let (optval, optlen_ptr) = (a[3], a[4]);
    let rule = rule(level, name, Dir::Get)?;
    let mut len = call.mem.read_u32(optlen_ptr)?;
    if (len as i32) < 0 {
        return Err(Errno(libc::EINVAL));
    }
    let value = match rule {
        Some(Rule::SourceList {
            count_at,
            header,
            entry,
        }) if u64::from(len) >= header as u64 && optval != 0 => {
            return get_source_list(call, a, len, (count_at, header, entry));
        }
        Some(Rule::FilterBlocks) => call.mem.optional(optval, u64::from(len) * FILTER_INSN)?,
        _ => call.mem.optional(optval, u64::from(len))?,
    };
    same(call, [a[0], a[1], a[2], reg(value), out(&mut len), 0])?;
    call.mem.write_u32(optlen_ptr, len)?;
    Ok(0)
}

/// A source-list value through a host copy whose count fits the copy.
fn get_source_list(
    call: &Call,
    a: &Args,
    len: u32,
    (count_at, header, entry): (usize, usize, usize),
) -> SysResult {
    let (optval, optlen_ptr) = (a[3], a[4]);
    let size = u64::from(len).min(MAX_SOURCE_LIST);
    let mut copy = call.mem.read_bytes(optval, size)?;
    let room = ((size as usize - header) / entry) as u32;
    let at = count_at..count_at + 4;
    let count = u32::from_le_bytes(copy[at.clone()].try_into().unwrap_or([0; 4]));
    copy[at].copy_from_slice(&count.min(room).to_le_bytes());
    let mut host_len = size as u32;
    same(
        call,
        [
            a[0],
            a[1],
            a[2],
            out(copy.as_mut_ptr()),
            out(&mut host_len),
            0,
        ],
    )?;
    let written = (host_len as usize).min(copy.len());
    call.mem.write_bytes(optval, &copy[..written])?;
    call.mem.write_u32(optlen_ptr, host_len)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    const EFAULT: Errno = Errno(libc::EFAULT);
    const EINVAL: Errno = Errno(libc::EINVAL);
    const ENOPROTOOPT: Errno = Errno(libc::ENOPROTOOPT);

    fn tcp(g: &mut Guest) -> u64 {
        g.run(
            "socket",
            &[libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0],
        )
        .unwrap() as u64
    }

    fn udp(g: &mut Guest) -> u64 {
        g.run(
            "socket",
            &[libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0],
        )
        .unwrap() as u64
    }

    #[test]
    fn plain_options_round_trip_with_checked_lengths() {
        let mut g = Guest::new(0x100);
        let fd = tcp(&mut g);
        let (sol, reuse) = (libc::SOL_SOCKET as u64, libc::SO_REUSEADDR as u64);
        g.put_u32(0x10, 1);
        assert_eq!(g.run("setsockopt", &[fd, sol, reuse, 0x10, 4]), Ok(0));
        assert_eq!(g.run("setsockopt", &[fd, sol, reuse, 0xFE, 4]), Err(EFAULT));
        assert_eq!(
            g.run("setsockopt", &[fd, sol, reuse, 0x10, 0x8000_0000]),
            Err(EINVAL)
        );
        g.put_u32(0x20, 4);
        g.put_u32(0x24, 0);
        assert_eq!(g.run("getsockopt", &[fd, sol, reuse, 0x24, 0x20]), Ok(0));
        assert_eq!(g.u32_at(0x24), 1);
        // A length claiming more room than there is, a negative one, one out of memory.
        g.put_u32(0x20, 0x100);
        assert_eq!(
            g.run("getsockopt", &[fd, sol, reuse, 0x24, 0x20]),
            Err(EFAULT)
        );
        g.put_u32(0x20, u32::MAX);
        assert_eq!(
            g.run("getsockopt", &[fd, sol, reuse, 0x24, 0x20]),
            Err(EINVAL)
        );
        assert_eq!(
            g.run("getsockopt", &[fd, sol, reuse, 0x24, 0xFE]),
            Err(EFAULT)
        );
        // Unknown options still reach the kernel, unknown levels do not.
        g.put_u32(0x20, 4);
        assert_eq!(
            g.run("getsockopt", &[fd, sol, 99999, 0x24, 0x20]),
            Err(ENOPROTOOPT)
        );
        assert_eq!(
            g.run("setsockopt", &[fd, 132, 1, 0x10, 4]),
            Err(ENOPROTOOPT),
            "SOL_SCTP was not reviewed"
        );
        close(fd as i64);
    }

    #[test]
    fn pointer_carrying_options_are_refused() {
        let mut g = Guest::new(0x1000);
        let fd = tcp(&mut g);
        g.put_u32(0x10, 0x100);
        for (level, name) in [
            (6, 35),
            (6, 41),
            (0, 64),
            (0, 65),
            (0, 96),
            (0, 129),
            (41, 64),
        ] {
            assert_eq!(
                g.run("getsockopt", &[fd, level, name, 0x100, 0x10]),
                Err(ENOPROTOOPT),
                "{level}/{name}"
            );
        }
        assert_eq!(
            g.run("setsockopt", &[fd, 0, 64, 0x100, 0x100]),
            Err(ENOPROTOOPT)
        );
        close(fd as i64);
    }

    #[test]
    fn filter_programs_are_rebuilt_and_checked() {
        let mut g = Guest::new(0x1000);
        let fd = udp(&mut g);
        let (sol, attach) = (libc::SOL_SOCKET as u64, 26);
        // "ret #0xFFFF" (BPF_RET | BPF_K): accept everything.
        g.put(0x200, &[0x06, 0, 0, 0, 0xFF, 0xFF, 0, 0]);
        g.put(0x10, &1u16.to_le_bytes());
        g.put_u32(0x14, 0x200);
        assert_eq!(g.run("setsockopt", &[fd, sol, attach, 0x10, 8]), Ok(0));
        // The guest's struct is 8 bytes: anything else is refused, as the kernel does for
        // a wrong size (and a host-sized value would carry a raw pointer).
        assert_eq!(
            g.run("setsockopt", &[fd, sol, attach, 0x10, 16]),
            Err(EINVAL)
        );
        // A program running past the end of memory, or wrapping.
        g.put(0x10, &0x200u16.to_le_bytes());
        g.put_u32(0x14, 0xF08);
        assert_eq!(
            g.run("setsockopt", &[fd, sol, attach, 0x10, 8]),
            Err(EFAULT)
        );
        g.put_u32(0x14, 0xFFFF_FFF8);
        assert_eq!(
            g.run("setsockopt", &[fd, sol, attach, 0x10, 8]),
            Err(EFAULT)
        );
        // SO_GET_FILTER counts instructions: 1 instruction is 8 bytes.
        g.put_u32(0x20, 1);
        assert_eq!(g.run("getsockopt", &[fd, sol, attach, 0xFF8, 0x20]), Ok(0));
        assert_eq!(g.bytes(0xFF8, 8), &[0x06, 0, 0, 0, 0xFF, 0xFF, 0, 0]);
        assert_eq!(g.u32_at(0x20), 1);
        g.put_u32(0x20, 2);
        assert_eq!(
            g.run("getsockopt", &[fd, sol, attach, 0xFF8, 0x20]),
            Err(EFAULT)
        );
        close(fd as i64);
    }

    #[test]
    fn source_lists_are_bounded_by_the_length() {
        let mut g = Guest::new(0x1000);
        let fd = udp(&mut g);
        let ip = 0u64;
        // Join 224.1.1.1 on any interface with one allowed source (IP_ADD_SOURCE_MEMBERSHIP:
        // struct ip_mreq_source {multiaddr, interface, sourceaddr}).
        g.put(0x100, &[224, 1, 1, 1, 0, 0, 0, 0, 10, 0, 0, 1]);
        if g.run("setsockopt", &[fd, ip, 39, 0x100, 12]).is_err() {
            // No multicast route in this environment.
            close(fd as i64);
            return;
        }
        g.put(0x100, &[224, 1, 1, 1, 0, 0, 0, 0, 10, 0, 0, 2]);
        assert_eq!(g.run("setsockopt", &[fd, ip, 39, 0x100, 12]), Ok(0));
        // IP_MSFILTER: claim room for 1000 sources in a 20-byte value at the end of memory.
        let at = 0x1000 - 20;
        g.put(at, &[224, 1, 1, 1, 0, 0, 0, 0]);
        g.put_u32(at + 8, 0);
        g.put_u32(at + 12, 1000);
        g.put_u32(0x20, 20);
        assert_eq!(g.run("getsockopt", &[fd, ip, 41, at as u64, 0x20]), Ok(0));
        assert_eq!(g.u32_at(at + 12), 2, "numsrc reports all sources");
        assert_eq!(g.u32_at(0x20), 20, "but only one was written");
        close(fd as i64);
    }
}
