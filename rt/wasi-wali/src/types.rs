//! Constants and byte layouts of `wasi_snapshot_preview1` that more than one call needs, as
//! the native host (`rt/src/wasi/types.rs`) has them.

use crate::errno::Errno;
use crate::sys::{Stat, Timespec};

pub use wafer_abi::wasi_p1::{
    dirent, fdflags, fdstat, fstflags, lookupflags, nanos, oflags, rights, size,
};

/// `filetype` values, and the type of a Linux file mode or directory entry.
pub mod filetype {
    pub use wafer_abi::wasi_p1::filetype::*;
    pub use wafer_abi::wasi_p1::filetype_of::{dirent as from_dirent, mode as from_mode};
}

/// `clockid` values.
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype` values, `subclockflags` and `eventrwflags`.
pub mod event {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
    pub const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
    pub const EVENTRWFLAGS_HANGUP: u16 = 1;
}

/// `whence` values (the same numbers as Linux's).
pub mod whence {
    pub const SET: i32 = 0;
    pub const CUR: i32 = 1;
    pub const END: i32 = 2;
}

/// Offsets inside a `subscription` (48 bytes) and an `event` (32 bytes).
pub mod offset {
    /// subscription: userdata u64.
    pub const SUB_USERDATA: u32 = 0;
    /// subscription: tag u8 of the union.
    pub const SUB_TAG: u32 = 8;
    /// subscription_clock: id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40.
    pub const SUB_CLOCK_ID: u32 = 16;
    pub const SUB_CLOCK_TIMEOUT: u32 = 24;
    pub const SUB_CLOCK_FLAGS: u32 = 40;
    /// subscription_fd_readwrite: fd u32 @16.
    pub const SUB_FD: u32 = 16;
}

/// `filestat` of a `struct stat`.
pub fn filestat(st: &Stat) -> [u8; size::FILESTAT as usize] {
    wafer_abi::wasi_p1::Filestat {
        dev: st.dev,
        ino: st.ino,
        mode: st.mode,
        nlink: st.nlink,
        size: st.size as u64,
        atim: (st.atime, st.atime_nsec),
        mtim: (st.mtime, st.mtime_nsec),
        ctim: (st.ctime, st.ctime_nsec),
    }
    .encode()
}

/// The `timespec` pair for `utimensat` from WASI times and `fstflags`.
pub fn utimens(atim: u64, mtim: u64, flags: u16) -> Result<[Timespec; 2], Errno> {
    let ts = |(sec, nsec)| Timespec { sec, nsec };
    let [a, m] = wafer_abi::wasi_p1::utimens(atim, mtim, flags)?;
    Ok([ts(a), ts(m)])
}
