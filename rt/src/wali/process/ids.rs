//! Credentials: `setuid`, `setgid`, `setreuid`, `setregid`, `setresuid`, `setresgid`,
//! `getgroups`, `setgroups`. (The plain getters are passthroughs in the family's table.)
//!
//! The setters go through the C library, which applies a change to every thread of the
//! process as POSIX wants (the raw syscalls change only the calling thread): guest threads
//! and the runtime's own keep one identity. IDs are 32-bit everywhere; `-1` means "leave
//! unchanged" as it does natively.

use super::super::{check, int, Args, Call, Errno, Handler, SysResult};

/// The kernel's `NGROUPS_MAX`.
const NGROUPS_MAX: i32 = 65536;

pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "setuid" => setuid,
        "setgid" => setgid,
        "setreuid" => setreuid,
        "setregid" => setregid,
        "setresuid" => setresuid,
        "setresgid" => setresgid,
        "getgroups" => getgroups,
        "setgroups" => setgroups,
        _ => return None,
    })
}

/// Argument `i` as a uid/gid.
fn id(args: &Args, i: usize) -> u32 {
    int(args, i) as u32
}

fn result(r: libc::c_int) -> SysResult {
    check(r as libc::c_long)
}

fn setuid(_: &Call, a: &Args) -> SysResult {
    // SAFETY (every setter): plain C library calls with integer arguments.
    result(unsafe { libc::setuid(id(a, 0)) })
}

fn setgid(_: &Call, a: &Args) -> SysResult {
    result(unsafe { libc::setgid(id(a, 0)) })
}

fn setreuid(_: &Call, a: &Args) -> SysResult {
    result(unsafe { libc::setreuid(id(a, 0), id(a, 1)) })
}

fn setregid(_: &Call, a: &Args) -> SysResult {
    result(unsafe { libc::setregid(id(a, 0), id(a, 1)) })
}

fn setresuid(_: &Call, a: &Args) -> SysResult {
    result(unsafe { libc::setresuid(id(a, 0), id(a, 1), id(a, 2)) })
}

fn setresgid(_: &Call, a: &Args) -> SysResult {
    result(unsafe { libc::setresgid(id(a, 0), id(a, 1), id(a, 2)) })
}

/// The group-list size argument: the kernel's is an `int` (the table says `size_t`).
fn group_count(args: &Args) -> i32 {
    args[0] as u32 as i32
}

fn getgroups(call: &Call, args: &Args) -> SysResult {
    let size = group_count(args);
    if size < 0 {
        return Err(Errno(libc::EINVAL));
    }
    if size == 0 {
        // SAFETY: a count query writes nothing.
        return result(unsafe { libc::getgroups(0, std::ptr::null_mut()) });
    }
    // The kernel writes only as many entries as there are groups: ask into our own buffer
    // and copy those, so only their bytes need to lie in guest memory.
    let room = size.min(NGROUPS_MAX);
    let mut groups = vec![0 as libc::gid_t; room as usize];
    // SAFETY: `groups` has `room` entries.
    let n = result(unsafe { libc::getgroups(room, groups.as_mut_ptr()) })?;
    let bytes: Vec<u8> = groups[..n as usize]
        .iter()
        .flat_map(|g| g.to_le_bytes())
        .collect();
    if n > 0 {
        super::required(call, args[1], bytes.len() as u64)?;
        call.mem.write_bytes(args[1], &bytes)?;
    }
    Ok(n)
}

fn setgroups(call: &Call, args: &Args) -> SysResult {
    let size = group_count(args);
    if !(0..=NGROUPS_MAX).contains(&size) {
        return Err(Errno(libc::EINVAL));
    }
    let groups: Vec<libc::gid_t> = if size == 0 {
        Vec::new()
    } else {
        super::required(call, args[1], 4 * size as u64)?;
        call.mem
            .read_bytes(args[1], 4 * size as u64)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    // SAFETY: `groups` has `size` entries (or none for 0).
    result(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })
}
