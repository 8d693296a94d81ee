//! Constants and byte layouts of `wasi_snapshot_preview1` that more than one call needs: the
//! shared ones (`wafer_abi::wasi_p1`, also wafer's WASI module's), and their host forms.

pub use wafer_abi::wasi_p1::{
    dirent, fdflags, fdstat, fstflags, lookupflags, oflags, rights, size,
};

/// `filetype` values, and the type of host files.
pub mod filetype {
    pub use wafer_abi::wasi_p1::filetype::*;
    use wafer_abi::wasi_p1::filetype_of;

    /// The WASI type of a host `st_mode`.
    pub fn from_mode(mode: libc::mode_t) -> u8 {
        filetype_of::mode(mode)
    }

    /// The WASI type of a `d_type` from readdir (`None`: the host does not say).
    pub fn from_dirent(d_type: u8) -> Option<u8> {
        filetype_of::dirent(d_type)
    }
}

// `stat` field types differ between targets (st_nlink is 32-bit on aarch64 and riscv64).
#[allow(clippy::unnecessary_cast)]
/// `filestat` of a host `stat`.
pub fn filestat(st: &libc::stat) -> [u8; size::FILESTAT as usize] {
    wafer_abi::wasi_p1::Filestat {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mode: st.st_mode,
        nlink: st.st_nlink as u64,
        size: st.st_size as u64,
        atim: (st.st_atime as i64, st.st_atime_nsec as i64),
        mtim: (st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctim: (st.st_ctime as i64, st.st_ctime_nsec as i64),
    }
    .encode()
}

/// The host `timespec` pair for `utimensat`/`futimens` from WASI times and `fstflags`.
pub fn utimens(atim: u64, mtim: u64, flags: u16) -> Result<[libc::timespec; 2], super::Errno> {
    let ts = |(sec, nsec): (i64, i64)| libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    };
    let [a, m] = wafer_abi::wasi_p1::utimens(atim, mtim, flags)?;
    Ok([ts(a), ts(m)])
}
