//! `fd_readdir`: a directory's entries as a stream of `dirent`s, resumable at any cookie.
//!
//! The listing is read in full when the guest starts at cookie 0 and kept with the
//! descriptor, so cookie `n` always means "the `n`-th entry of that listing" however the
//! guest splits its reads. `.` and `..` come first, as other runtimes list them.

use std::ffi::CStr;

use wafer_abi::VmCtx;

use super::call;
use super::errno::{self, Errno};
use super::types::{self, filetype, rights as r};

/// One directory entry.
#[derive(Clone, Debug)]
pub struct Listing {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: u8,
}

/// Reads every entry of the directory open at `dir`.
pub fn list(dir: i32) -> Result<Vec<Listing>, Errno> {
    // A fresh descriptor: readdir's position must not be shared with the guest's.
    let fd = errno::check(unsafe {
        libc::openat(
            dir,
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    let stream = unsafe { libc::fdopendir(fd) };
    if stream.is_null() {
        let e = errno::last_host();
        unsafe { libc::close(fd) };
        return Err(e);
    }
    #[allow(clippy::unnecessary_cast)] // st_ino's type differs between targets
    let own = super::fd::fstat(fd).map(|st| st.st_ino as u64).unwrap_or(0);
    let mut out = vec![
        Listing {
            name: b".".to_vec(),
            ino: own,
            filetype: filetype::DIRECTORY,
        },
        Listing {
            name: b"..".to_vec(),
            // The inode above a preopen is none of the guest's business.
            ino: 0,
            filetype: filetype::DIRECTORY,
        },
    ];
    let result = loop {
        unsafe { *libc::__errno_location() = 0 };
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            let e = errno::last_raw();
            break if e == 0 {
                Ok(())
            } else {
                Err(errno::from_host(e))
            };
        }
        let ent = unsafe { &*ent };
        let name = unsafe { CStr::from_ptr(ent.d_name.as_ptr()) }.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = filetype::from_dirent(ent.d_type).unwrap_or_else(|| {
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let ok = unsafe {
                libc::fstatat(fd, ent.d_name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW)
            } == 0;
            if ok {
                filetype::from_mode(st.st_mode)
            } else {
                filetype::UNKNOWN
            }
        });
        out.push(Listing {
            name: name.to_vec(),
            ino: ent.d_ino as u64,
            filetype: kind,
        });
    };
    unsafe { libc::closedir(stream) };
    result.map(|()| out)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_fd_readdir(
    vmctx: *mut VmCtx,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
) -> i32 {
    unsafe {
        call(vmctx, |mem, c| {
            let entry = c.get_mut(fd)?;
            if entry.filetype != filetype::DIRECTORY {
                return Err(errno::NOTDIR);
            }
            let host = entry.with_rights(r::FD_READDIR)?;
            let (buf, buf_len) = (buf as u32, buf_len as u32);
            mem.range(buf, buf_len as u64)?;
            mem.range(bufused as u32, 4)?;
            if cookie == 0 || entry.listing.is_none() {
                entry.listing = Some(list(host)?);
            }
            let listing = entry.listing.as_deref().unwrap_or_default();
            // Entries are written whole while they fit; the one that does not fit is cut at
            // the end of the buffer, which tells the guest to ask again with a bigger one.
            let mut used: u32 = 0;
            let start = usize::try_from(cookie as u64).unwrap_or(usize::MAX);
            for (i, e) in listing.iter().enumerate().skip(start) {
                let header = types::dirent(i as u64 + 1, e.ino, e.name.len() as u32, e.filetype);
                for part in [&header[..], &e.name[..]] {
                    let room = buf_len - used;
                    used += mem.write_truncated(buf + used, room, part)?;
                }
                if used == buf_len {
                    break;
                }
            }
            mem.write_u32(bufused as u32, used)
        })
    }
}
