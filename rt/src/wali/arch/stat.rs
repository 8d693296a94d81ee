//! File metadata structs: the guest's x86-64 layouts against the host's.
//!
//! - `struct stat`: x86-64 has its own 144-byte layout (`st_nlink` is 64-bit and comes before
//!   `st_mode`); aarch64 and riscv64 share the generic 128-byte one (32-bit `st_nlink` after
//!   `st_mode`, 32-bit `st_blksize`). The runtime always stats into the host's `libc::stat`
//!   and writes the guest's layout field by field from [`STAT_FIELDS`].
//! - `struct statfs`: the same 120 bytes on the three ISAs (every word a 64-bit `long`), so
//!   [`statfs_to_guest`] is the identity.
//! - `struct statx`: defined once for every ISA by the kernel (256 bytes), no translation.

/// Size of the guest's `struct stat`.
pub const STAT_SIZE: usize = 144;
/// Size of `struct statfs` (guest and every host).
pub const STATFS_SIZE: usize = 120;
/// Size of `struct statx` (guest and every host).
pub const STATX_SIZE: usize = 256;

const _: () = assert!(std::mem::size_of::<libc::statfs>() == STATFS_SIZE);

/// `(offset, size)` in the guest's `struct stat` of each value [`stat_values`] gives, in that
/// order. Bytes not named here (padding, `__unused`) are zero.
const STAT_FIELDS: [(usize, usize); 16] = [
    (0, 8),   // st_dev
    (8, 8),   // st_ino
    (16, 8),  // st_nlink
    (24, 4),  // st_mode
    (28, 4),  // st_uid
    (32, 4),  // st_gid
    (40, 8),  // st_rdev
    (48, 8),  // st_size
    (56, 8),  // st_blksize
    (64, 8),  // st_blocks
    (72, 8),  // st_atime
    (80, 8),  // st_atime_nsec
    (88, 8),  // st_mtime
    (96, 8),  // st_mtime_nsec
    (104, 8), // st_ctime
    (112, 8), // st_ctime_nsec
];

// The casts are needed: the field types differ between hosts (`st_nlink` is 32-bit on
// aarch64 and riscv64, `st_blksize` signed 32-bit...).
#[allow(clippy::unnecessary_cast)]
fn stat_values(st: &libc::stat) -> [u64; 16] {
    [
        st.st_dev as u64,
        st.st_ino as u64,
        st.st_nlink as u64,
        st.st_mode as u64,
        st.st_uid as u64,
        st.st_gid as u64,
        st.st_rdev as u64,
        st.st_size as u64,
        st.st_blksize as u64,
        st.st_blocks as u64,
        st.st_atime as u64,
        st.st_atime_nsec as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec as u64,
        st.st_ctime as u64,
        st.st_ctime_nsec as u64,
    ]
}

/// The guest's bytes for the host's `struct stat`.
pub fn stat_to_guest(st: &libc::stat) -> [u8; STAT_SIZE] {
    let mut out = [0u8; STAT_SIZE];
    for ((at, size), v) in STAT_FIELDS.into_iter().zip(stat_values(st)) {
        out[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
    }
    out
}

/// The guest's bytes for the host kernel's `struct statfs` (the same layout everywhere).
pub fn statfs_to_guest(host: &[u8; STATFS_SIZE]) -> [u8; STATFS_SIZE] {
    *host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout_is_x86_64s() {
        // SAFETY: plain data.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_dev = 0x0102;
        st.st_ino = 0x0304;
        st.st_nlink = 7;
        st.st_mode = 0o100644;
        st.st_uid = 1000;
        st.st_gid = 1001;
        st.st_size = 0x1122_3344_5566;
        st.st_blksize = 4096;
        st.st_blocks = 8;
        st.st_mtime = 1_700_000_000;
        st.st_mtime_nsec = 999;
        let g = stat_to_guest(&st);
        let u64_at = |at: usize| u64::from_le_bytes(g[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(g[at..at + 4].try_into().unwrap());
        assert_eq!((u64_at(0), u64_at(8), u64_at(16)), (0x0102, 0x0304, 7));
        assert_eq!((u32_at(24), u32_at(28), u32_at(32)), (0o100644, 1000, 1001));
        assert_eq!(
            (u64_at(48), u64_at(56), u64_at(64)),
            (0x1122_3344_5566, 4096, 8)
        );
        assert_eq!((u64_at(88), u64_at(96)), (1_700_000_000, 999));
        #[cfg(target_arch = "x86_64")]
        {
            // On x86-64 the guest's layout is the host's.
            // SAFETY: reading plain data as bytes.
            let host: [u8; STAT_SIZE] = unsafe { std::mem::transmute(st) };
            assert_eq!(g, host);
        }
    }
}
