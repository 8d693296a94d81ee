//! Constants and byte layouts of `wasi_snapshot_preview1` (as its witx defines them) that
//! more than one call needs.

/// `rights` bits.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// What reading a regular file needs.
    pub const FILE_READ: u64 = FD_READ
        | FD_SEEK
        | FD_TELL
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | FD_ADVISE
        | FD_FILESTAT_GET
        | POLL_FD_READWRITE;
    /// Every right that applies to a regular file.
    pub const FILE: u64 =
        FILE_READ | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE | FD_FILESTAT_SET_TIMES;
    /// What looking into a directory needs: nothing in it changes.
    pub const DIR_READ: u64 = PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_FILESTAT_GET
        | FD_FILESTAT_GET
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | FD_ADVISE
        | POLL_FD_READWRITE;
    /// Every right that applies to a directory.
    pub const DIR: u64 = DIR_READ
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// A standard stream: a readable and writable stream, seekable if the host's is.
    pub const STDIO: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

/// `filetype` values.
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;

    /// The WASI type of a host `st_mode`. Pipes have no WASI type: "unknown", as other
    /// runtimes report them.
    pub fn from_mode(mode: libc::mode_t) -> u8 {
        match mode & libc::S_IFMT {
            libc::S_IFBLK => BLOCK_DEVICE,
            libc::S_IFCHR => CHARACTER_DEVICE,
            libc::S_IFDIR => DIRECTORY,
            libc::S_IFREG => REGULAR_FILE,
            libc::S_IFSOCK => SOCKET_STREAM,
            libc::S_IFLNK => SYMBOLIC_LINK,
            _ => UNKNOWN,
        }
    }

    /// The WASI type of a `d_type` from readdir (`None`: the host does not say).
    pub fn from_dirent(d_type: u8) -> Option<u8> {
        Some(match d_type {
            libc::DT_BLK => BLOCK_DEVICE,
            libc::DT_CHR => CHARACTER_DEVICE,
            libc::DT_DIR => DIRECTORY,
            libc::DT_REG => REGULAR_FILE,
            libc::DT_SOCK => SOCKET_STREAM,
            libc::DT_LNK => SYMBOLIC_LINK,
            libc::DT_FIFO => UNKNOWN,
            _ => return None,
        })
    }
}

/// `fdflags` bits.
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
    pub const ALL: u16 = APPEND | DSYNC | NONBLOCK | RSYNC | SYNC;
    /// Flags fixed when a file is opened (Linux cannot change them later).
    pub const SYNCS: u16 = DSYNC | RSYNC | SYNC;
}

/// `oflags` bits.
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
    pub const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// `lookupflags` bits.
pub mod lookupflags {
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
}

/// `fstflags` bits.
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
    pub const ALL: u16 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// Sizes of the structs the guest reads and writes.
pub mod size {
    pub const FILESTAT: u64 = 64;
    pub const FDSTAT: u64 = 24;
    pub const DIRENT: usize = 24;
    pub const SUBSCRIPTION: u64 = 48;
    pub const EVENT: u64 = 32;
    pub const PRESTAT: u64 = 8;
}

fn nanos(sec: i64, nsec: i64) -> u64 {
    (sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nsec as u64)
}

// `stat` field types differ between targets (st_nlink is 32-bit on aarch64 and riscv64).
#[allow(clippy::unnecessary_cast)]
/// `filestat`: dev @0, ino @8, filetype @16, nlink @24, size @32, atim @40, mtim @48, ctim @56.
pub fn filestat(st: &libc::stat) -> [u8; size::FILESTAT as usize] {
    let mut b = [0u8; size::FILESTAT as usize];
    b[0..8].copy_from_slice(&(st.st_dev as u64).to_le_bytes());
    b[8..16].copy_from_slice(&(st.st_ino as u64).to_le_bytes());
    b[16] = filetype::from_mode(st.st_mode);
    b[24..32].copy_from_slice(&(st.st_nlink as u64).to_le_bytes());
    b[32..40].copy_from_slice(&(st.st_size as u64).to_le_bytes());
    b[40..48].copy_from_slice(&nanos(st.st_atime as i64, st.st_atime_nsec as i64).to_le_bytes());
    b[48..56].copy_from_slice(&nanos(st.st_mtime as i64, st.st_mtime_nsec as i64).to_le_bytes());
    b[56..64].copy_from_slice(&nanos(st.st_ctime as i64, st.st_ctime_nsec as i64).to_le_bytes());
    b
}

/// `fdstat`: filetype @0, flags @2, rights_base @8, rights_inheriting @16.
pub fn fdstat(kind: u8, flags: u16, base: u64, inheriting: u64) -> [u8; size::FDSTAT as usize] {
    let mut b = [0u8; size::FDSTAT as usize];
    b[0] = kind;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    b
}

/// `dirent` header: d_next @0, d_ino @8, d_namlen @16, d_type @20; the name follows.
pub fn dirent(next: u64, ino: u64, namlen: u32, kind: u8) -> [u8; size::DIRENT] {
    let mut b = [0u8; size::DIRENT];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&namlen.to_le_bytes());
    b[20] = kind;
    b
}

/// The host `timespec` pair for `utimensat`/`futimens` from WASI times and `fstflags`.
pub fn utimens(atim: u64, mtim: u64, flags: u16) -> Result<[libc::timespec; 2], super::Errno> {
    use super::errno;
    if flags & !fstflags::ALL != 0
        || flags & (fstflags::ATIM | fstflags::ATIM_NOW) == fstflags::ATIM | fstflags::ATIM_NOW
        || flags & (fstflags::MTIM | fstflags::MTIM_NOW) == fstflags::MTIM | fstflags::MTIM_NOW
    {
        return Err(errno::INVAL);
    }
    let one = |time: u64, set: u16, now: u16| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        };
        if flags & now != 0 {
            ts.tv_nsec = libc::UTIME_NOW;
        } else if flags & set != 0 {
            ts.tv_sec = (time / 1_000_000_000) as libc::time_t;
            ts.tv_nsec = (time % 1_000_000_000) as _;
        }
        ts
    };
    Ok([
        one(atim, fstflags::ATIM, fstflags::ATIM_NOW),
        one(mtim, fstflags::MTIM, fstflags::MTIM_NOW),
    ])
}
