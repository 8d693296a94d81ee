//! `wasi_snapshot_preview1` as its witx defines it, shared by the runtime's native WASI host
//! (`rt/src/wasi`) and wafer's WASI module over WALI (`rt/wasi-wali`), so that the two give the
//! same answers: errno values and the mapping from Linux's, rights (with the sets a preopen
//! holds and hands down), flags, and the sizes of the structs a guest reads and writes.

/// WASI errno values, and the mapping from Linux's.
pub mod errno {
    pub type Errno = i32;

    macro_rules! errnos {
        ($( $name:ident = $value:literal, $linux:ident = $number:literal; )*) => {
            $( pub const $name: Errno = $value; )*

            /// Linux errno numbers (the generic numbering of x86_64, aarch64 and riscv64).
            pub mod linux {
                $( pub const $linux: i32 = $number; )*
            }

            /// Maps a Linux `errno` to WASI's numbering; anything without a WASI counterpart
            /// is `EIO`.
            pub fn from_linux(e: i32) -> Errno {
                match e {
                    $( $number => $name, )*
                    _ => IO,
                }
            }
        };
    }

    pub const SUCCESS: Errno = 0;
    errnos! {
        TOOBIG = 1, E2BIG = 7;
        ACCES = 2, EACCES = 13;
        ADDRINUSE = 3, EADDRINUSE = 98;
        ADDRNOTAVAIL = 4, EADDRNOTAVAIL = 99;
        AFNOSUPPORT = 5, EAFNOSUPPORT = 97;
        AGAIN = 6, EAGAIN = 11;
        ALREADY = 7, EALREADY = 114;
        BADF = 8, EBADF = 9;
        BADMSG = 9, EBADMSG = 74;
        BUSY = 10, EBUSY = 16;
        CANCELED = 11, ECANCELED = 125;
        CHILD = 12, ECHILD = 10;
        CONNABORTED = 13, ECONNABORTED = 103;
        CONNREFUSED = 14, ECONNREFUSED = 111;
        CONNRESET = 15, ECONNRESET = 104;
        DEADLK = 16, EDEADLK = 35;
        DESTADDRREQ = 17, EDESTADDRREQ = 89;
        DOM = 18, EDOM = 33;
        DQUOT = 19, EDQUOT = 122;
        EXIST = 20, EEXIST = 17;
        FAULT = 21, EFAULT = 14;
        FBIG = 22, EFBIG = 27;
        HOSTUNREACH = 23, EHOSTUNREACH = 113;
        IDRM = 24, EIDRM = 43;
        ILSEQ = 25, EILSEQ = 84;
        INPROGRESS = 26, EINPROGRESS = 115;
        INTR = 27, EINTR = 4;
        INVAL = 28, EINVAL = 22;
        IO = 29, EIO = 5;
        ISCONN = 30, EISCONN = 106;
        ISDIR = 31, EISDIR = 21;
        LOOP = 32, ELOOP = 40;
        MFILE = 33, EMFILE = 24;
        MLINK = 34, EMLINK = 31;
        MSGSIZE = 35, EMSGSIZE = 90;
        MULTIHOP = 36, EMULTIHOP = 72;
        NAMETOOLONG = 37, ENAMETOOLONG = 36;
        NETDOWN = 38, ENETDOWN = 100;
        NETRESET = 39, ENETRESET = 102;
        NETUNREACH = 40, ENETUNREACH = 101;
        NFILE = 41, ENFILE = 23;
        NOBUFS = 42, ENOBUFS = 105;
        NODEV = 43, ENODEV = 19;
        NOENT = 44, ENOENT = 2;
        NOEXEC = 45, ENOEXEC = 8;
        NOLCK = 46, ENOLCK = 37;
        NOLINK = 47, ENOLINK = 67;
        NOMEM = 48, ENOMEM = 12;
        NOMSG = 49, ENOMSG = 42;
        NOPROTOOPT = 50, ENOPROTOOPT = 92;
        NOSPC = 51, ENOSPC = 28;
        NOSYS = 52, ENOSYS = 38;
        NOTCONN = 53, ENOTCONN = 107;
        NOTDIR = 54, ENOTDIR = 20;
        NOTEMPTY = 55, ENOTEMPTY = 39;
        NOTRECOVERABLE = 56, ENOTRECOVERABLE = 131;
        NOTSOCK = 57, ENOTSOCK = 88;
        NOTSUP = 58, EOPNOTSUPP = 95;
        NOTTY = 59, ENOTTY = 25;
        NXIO = 60, ENXIO = 6;
        OVERFLOW = 61, EOVERFLOW = 75;
        OWNERDEAD = 62, EOWNERDEAD = 130;
        PERM = 63, EPERM = 1;
        PIPE = 64, EPIPE = 32;
        PROTO = 65, EPROTO = 71;
        PROTONOSUPPORT = 66, EPROTONOSUPPORT = 93;
        PROTOTYPE = 67, EPROTOTYPE = 91;
        RANGE = 68, ERANGE = 34;
        ROFS = 69, EROFS = 30;
        SPIPE = 70, ESPIPE = 29;
        SRCH = 71, ESRCH = 3;
        STALE = 72, ESTALE = 116;
        TIMEDOUT = 73, ETIMEDOUT = 110;
        TXTBSY = 74, ETXTBSY = 26;
        XDEV = 75, EXDEV = 18;
    }
    /// The descriptor lacks the right the call needs, or a path leaves its directory.
    pub const NOTCAPABLE: Errno = 76;
}

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
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
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
    /// `iovec` and `ciovec`: a buffer pointer and length, both u32.
    pub const IOVEC: u64 = 8;
}

/// The rights of a preopened directory and the rights it hands down: a read-write preopen
/// holds every directory right and hands down every file and directory right; a read-only one
/// (`--ro-dir`) only those that look, and those that read a file.
pub const fn preopen_rights(read_only: bool) -> (u64, u64) {
    if read_only {
        (rights::DIR_READ, rights::DIR_READ | rights::FILE_READ)
    } else {
        (rights::DIR, rights::DIR | rights::FILE)
    }
}

/// Linux's `S_IFMT` file types and `d_type` values (the same on every Linux target).
pub mod linux_types {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFSOCK: u32 = 0o140000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFIFO: u32 = 0o010000;
    pub const DT_UNKNOWN: u8 = 0;
    pub const DT_FIFO: u8 = 1;
    pub const DT_CHR: u8 = 2;
    pub const DT_DIR: u8 = 4;
    pub const DT_BLK: u8 = 6;
    pub const DT_REG: u8 = 8;
    pub const DT_LNK: u8 = 10;
    pub const DT_SOCK: u8 = 12;
}

/// The WASI file type of Linux file modes and directory entries.
pub mod filetype_of {
    use super::filetype::*;
    use super::linux_types::*;

    /// The WASI type of a Linux `st_mode`. Pipes have no WASI type: "unknown", as other
    /// runtimes report them.
    pub const fn mode(mode: u32) -> u8 {
        match mode & S_IFMT {
            S_IFBLK => BLOCK_DEVICE,
            S_IFCHR => CHARACTER_DEVICE,
            S_IFDIR => DIRECTORY,
            S_IFREG => REGULAR_FILE,
            S_IFSOCK => SOCKET_STREAM,
            S_IFLNK => SYMBOLIC_LINK,
            _ => UNKNOWN,
        }
    }

    /// The WASI type of a Linux `d_type` (`None`: the kernel does not say, `DT_UNKNOWN`).
    pub const fn dirent(d_type: u8) -> Option<u8> {
        Some(match d_type {
            DT_BLK => BLOCK_DEVICE,
            DT_CHR => CHARACTER_DEVICE,
            DT_DIR => DIRECTORY,
            DT_REG => REGULAR_FILE,
            DT_SOCK => SOCKET_STREAM,
            DT_LNK => SYMBOLIC_LINK,
            DT_FIFO => UNKNOWN,
            _ => return None,
        })
    }
}

/// Nanoseconds of a (seconds, nanoseconds) pair, wrapping.
pub const fn nanos(sec: i64, nsec: i64) -> u64 {
    (sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nsec as u64)
}

/// What `filestat` reports of a file, from its Linux `stat`.
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    /// Linux `st_mode`.
    pub mode: u32,
    pub nlink: u64,
    pub size: u64,
    /// (seconds, nanoseconds) pairs.
    pub atim: (i64, i64),
    pub mtim: (i64, i64),
    pub ctim: (i64, i64),
}

impl Filestat {
    /// `filestat`: dev @0, ino @8, filetype @16, nlink @24, size @32, atim @40, mtim @48,
    /// ctim @56.
    pub fn encode(&self) -> [u8; size::FILESTAT as usize] {
        let mut b = [0u8; size::FILESTAT as usize];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = filetype_of::mode(self.mode);
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&nanos(self.atim.0, self.atim.1).to_le_bytes());
        b[48..56].copy_from_slice(&nanos(self.mtim.0, self.mtim.1).to_le_bytes());
        b[56..64].copy_from_slice(&nanos(self.ctim.0, self.ctim.1).to_le_bytes());
        b
    }
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

/// Linux's `utimensat` markers in `tv_nsec`.
pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// The two (seconds, nanoseconds) pairs `utimensat`/`futimens` take for WASI times and
/// `fstflags` (`UTIME_NOW` or `UTIME_OMIT` in the nanoseconds where asked); `EINVAL` for
/// unknown flags or a time both given and "now".
pub fn utimens(atim: u64, mtim: u64, flags: u16) -> Result<[(i64, i64); 2], errno::Errno> {
    use fstflags::*;
    if flags & !ALL != 0
        || flags & (ATIM | ATIM_NOW) == ATIM | ATIM_NOW
        || flags & (MTIM | MTIM_NOW) == MTIM | MTIM_NOW
    {
        return Err(errno::INVAL);
    }
    let one = |time: u64, set: u16, now: u16| {
        if flags & now != 0 {
            (0, UTIME_NOW)
        } else if flags & set != 0 {
            ((time / 1_000_000_000) as i64, (time % 1_000_000_000) as i64)
        } else {
            (0, UTIME_OMIT)
        }
    };
    Ok([one(atim, ATIM, ATIM_NOW), one(mtim, MTIM, MTIM_NOW)])
}
