//! Open flags, `*at` flags, fcntl commands and `struct flock`: the guest's x86-64 values
//! against the host's.
//!
//! - `O_*` (open, openat, fcntl `F_GETFL`/`F_SETFL`, pipe2): x86-64 and riscv64 both use
//!   the generic values; aarch64 moves four bits (`O_DIRECTORY`, `O_NOFOLLOW`, `O_DIRECT`,
//!   `O_LARGEFILE`; `O_TMPFILE` contains `O_DIRECTORY` and follows it). [`MOVED`] lists
//!   them; every other bit has the same value on the three ISAs.
//! - `AT_*` flags and `AT_FDCWD`: the same on the three, passed unchanged.
//! - fcntl commands, lock types (`F_RDLCK`...) and `FD_CLOEXEC`: the same on the three.
//! - `struct flock`: the same 32-byte layout on the three (`short l_type, l_whence; off_t
//!   l_start, l_len; pid_t l_pid`), and the guest's (wasm32 with a 64-bit `off_t`) too; it is
//!   still copied field by field ([`flock_from_guest`], [`flock_to_guest`]) so the kernel
//!   only ever sees the runtime's copy.

/// The guest's (x86-64) values the runtime interprets itself.
pub mod guest {
    pub const O_ACCMODE: i32 = 0o3;
    pub const O_CREAT: i32 = 0o100;
    pub const O_EXCL: i32 = 0o200;
    pub const O_NONBLOCK: i32 = 0o4000;
    pub const O_DIRECT: i32 = 0o40000;
    pub const O_LARGEFILE: i32 = 0o100000;
    pub const O_DIRECTORY: i32 = 0o200000;
    pub const O_NOFOLLOW: i32 = 0o400000;
    pub const O_CLOEXEC: i32 = 0o2000000;

    pub const AT_FDCWD: i32 = -100;
    pub const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
    pub const AT_REMOVEDIR: i32 = 0x200;

    pub const F_DUPFD: i32 = 0;
    pub const F_GETFD: i32 = 1;
    pub const F_SETFD: i32 = 2;
    pub const F_GETFL: i32 = 3;
    pub const F_SETFL: i32 = 4;
    pub const F_GETLK: i32 = 5;
    pub const F_SETLK: i32 = 6;
    pub const F_SETLKW: i32 = 7;
    pub const F_OFD_GETLK: i32 = 36;
    pub const F_OFD_SETLK: i32 = 37;
    pub const F_OFD_SETLKW: i32 = 38;
    pub const F_DUPFD_CLOEXEC: i32 = 1030;
    pub const F_SETPIPE_SZ: i32 = 1031;
    pub const F_GETPIPE_SZ: i32 = 1032;
}

/// `(guest bit, host bit)` for the open flags whose values differ on this host.
#[cfg(target_arch = "aarch64")]
pub const MOVED: &[(i32, i32)] = &[
    (guest::O_DIRECTORY, 0o40000),
    (guest::O_NOFOLLOW, 0o100000),
    (guest::O_DIRECT, 0o200000),
    (guest::O_LARGEFILE, 0o400000),
];
#[cfg(not(target_arch = "aarch64"))]
pub const MOVED: &[(i32, i32)] = &[];

fn remap(flags: i32, pairs: impl Iterator<Item = (i32, i32)> + Clone) -> i32 {
    let moved_from = pairs.clone().fold(0, |m, (from, _)| m | from);
    pairs.fold(flags & !moved_from, |out, (from, to)| {
        if flags & from != 0 {
            out | to
        } else {
            out
        }
    })
}

/// The host's spelling of the guest's open flags.
pub fn open_flags_to_host(flags: i32) -> i32 {
    remap(flags, MOVED.iter().copied())
}

/// The guest's spelling of the host's open flags (`F_GETFL`).
pub fn open_flags_to_guest(flags: i32) -> i32 {
    remap(flags, MOVED.iter().map(|&(g, h)| (h, g)))
}

/// Size of the guest's `struct flock`.
pub const FLOCK_SIZE: usize = 32;

/// `(offset, size)` of each field in the guest's `struct flock`, in declaration order:
/// `l_type`, `l_whence`, `l_start`, `l_len`, `l_pid`.
const FLOCK_FIELDS: [(usize, usize); 5] = [(0, 2), (2, 2), (8, 8), (16, 8), (24, 4)];

fn field(bytes: &[u8; FLOCK_SIZE], (at, size): (usize, usize)) -> i64 {
    let mut le = [0u8; 8];
    le[..size].copy_from_slice(&bytes[at..at + size]);
    // Sign-extend from the field's width: every flock field is signed.
    let shift = 64 - 8 * size as u32;
    (i64::from_le_bytes(le) << shift) >> shift
}

/// The host's `struct flock` for the guest's bytes.
pub fn flock_from_guest(bytes: &[u8; FLOCK_SIZE]) -> libc::flock {
    let [ty, whence, start, len, pid] = FLOCK_FIELDS.map(|f| field(bytes, f));
    // SAFETY: flock is plain data; all-zero is a valid value (and clears any padding).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty as libc::c_short;
    fl.l_whence = whence as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    fl.l_pid = pid as libc::pid_t;
    fl
}

/// The guest's bytes for the host's `struct flock`.
pub fn flock_to_guest(fl: &libc::flock) -> [u8; FLOCK_SIZE] {
    let values = [
        i64::from(fl.l_type),
        i64::from(fl.l_whence),
        fl.l_start,
        fl.l_len,
        i64::from(fl.l_pid),
    ];
    let mut out = [0u8; FLOCK_SIZE];
    for ((at, size), v) in FLOCK_FIELDS.into_iter().zip(values) {
        out[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_round_trip() {
        for flags in [
            0,
            guest::O_CREAT | guest::O_EXCL | 0o1,
            guest::O_DIRECTORY | guest::O_NOFOLLOW | guest::O_CLOEXEC,
            guest::O_DIRECT | guest::O_LARGEFILE | guest::O_NONBLOCK,
            0o20000000 | guest::O_DIRECTORY, // O_TMPFILE
        ] {
            assert_eq!(open_flags_to_guest(open_flags_to_host(flags)), flags);
        }
        // The host's own names for the flags the runtime interprets.
        assert_eq!(open_flags_to_host(guest::O_DIRECTORY), libc::O_DIRECTORY);
        assert_eq!(open_flags_to_host(guest::O_NOFOLLOW), libc::O_NOFOLLOW);
        assert_eq!(open_flags_to_host(guest::O_DIRECT), libc::O_DIRECT);
        assert_eq!(open_flags_to_host(guest::O_CLOEXEC), libc::O_CLOEXEC);
        assert_eq!(open_flags_to_host(guest::O_CREAT), libc::O_CREAT);
        assert_eq!(guest::AT_REMOVEDIR, libc::AT_REMOVEDIR);
        assert_eq!(guest::AT_SYMLINK_NOFOLLOW, libc::AT_SYMLINK_NOFOLLOW);
        assert_eq!(guest::F_OFD_SETLKW, libc::F_OFD_SETLKW);
        assert_eq!(guest::F_DUPFD_CLOEXEC, libc::F_DUPFD_CLOEXEC);
    }

    #[test]
    fn flock_round_trip() {
        let mut bytes = [0u8; FLOCK_SIZE];
        bytes[0..2].copy_from_slice(&1i16.to_le_bytes());
        bytes[2..4].copy_from_slice(&2i16.to_le_bytes());
        bytes[8..16].copy_from_slice(&(-5i64).to_le_bytes());
        bytes[16..24].copy_from_slice(&(1i64 << 40).to_le_bytes());
        bytes[24..28].copy_from_slice(&(-1i32).to_le_bytes());
        let fl = flock_from_guest(&bytes);
        assert_eq!((fl.l_type, fl.l_whence), (1, 2));
        assert_eq!((fl.l_start, fl.l_len, fl.l_pid), (-5, 1 << 40, -1));
        assert_eq!(flock_to_guest(&fl), bytes);
    }
}
