//! `fd_readdir`: a directory's entries as a stream of `dirent`s, resumable at any cookie, as
//! the native host's `dir.rs` serves them.
//!
//! The listing is read in full (`getdents64`) when the app starts at cookie 0 and kept with
//! the descriptor, so cookie `n` always means "the `n`-th entry of that listing" however the
//! app splits its reads. `.` and `..` come first, then the kernel's order.

use alloc::vec::Vec;

use crate::app;
use crate::errno::{self, Errno};
use crate::resolve::Fd;
use crate::sys;
use crate::table::{self, Listing};
use crate::types::{self, filetype, rights as r};

/// Bytes of `linux_dirent64` records asked for per `getdents64`.
const DENTS: usize = 32 << 10;
/// Bytes of `dirent`s gathered here before each copy to the app.
const CHUNK: usize = 64 << 10;

/// Every entry of the directory open at `dir`.
fn list(dir: i32) -> Result<Vec<Listing>, Errno> {
    // A fresh descriptor: the listing's position must not be shared with the app's.
    let fd = Fd::own(sys::openat(
        dir,
        b".",
        sys::O_RDONLY | sys::O_DIRECTORY | sys::O_CLOEXEC,
        0,
    )?);
    let own = sys::fstat(fd.raw()).map(|st| st.ino).unwrap_or(0);
    let mut out = alloc::vec![
        Listing {
            name: b".".to_vec(),
            ino: own,
            filetype: filetype::DIRECTORY,
        },
        Listing {
            name: b"..".to_vec(),
            // The inode above a preopen is none of the app's business.
            ino: 0,
            filetype: filetype::DIRECTORY,
        },
    ];
    let mut buf = alloc::vec![0u8; DENTS];
    loop {
        let n = match sys::getdents64(fd.raw(), &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // A directory removed meanwhile ends its listing (glibc's readdir says so too).
            Err(errno::NOENT) => break,
            Err(e) => return Err(e),
        };
        // linux_dirent64: d_ino u64 @0, d_off i64 @8, d_reclen u16 @16, d_type u8 @18,
        // d_name @19 (NUL-terminated).
        let mut at = 0;
        while at + 19 <= n {
            let rec = &buf[at..n];
            let reclen = u16::from_le_bytes([rec[16], rec[17]]) as usize;
            if reclen < 19 || reclen > rec.len() {
                break;
            }
            let mut ino = [0u8; 8];
            ino.copy_from_slice(&rec[..8]);
            let d_type = rec[18];
            let raw_name = &rec[19..reclen];
            let name = &raw_name[..raw_name
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(raw_name.len())];
            at += reclen;
            let ino = u64::from_le_bytes(ino);
            // glibc's readdir, which the native host reads with, skips deleted (0) entries.
            if ino == 0 || name == b"." || name == b".." {
                continue;
            }
            let kind = filetype::from_dirent(d_type).unwrap_or_else(|| {
                sys::fstatat(fd.raw(), name, sys::AT_SYMLINK_NOFOLLOW)
                    .map(|st| filetype::from_mode(st.mode))
                    .unwrap_or(filetype::UNKNOWN)
            });
            out.push(Listing {
                name: name.to_vec(),
                ino,
                filetype: kind,
            });
        }
    }
    Ok(out)
}

/// `fd_readdir(fd, buf, buf_len, cookie, bufused)`.
pub fn fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32) -> i32 {
    let result = table::with(|t| {
        let entry = t.get_mut(fd)?;
        if entry.filetype != filetype::DIRECTORY {
            return Err(errno::NOTDIR);
        }
        let kfd = entry.with_rights(r::FD_READDIR)?;
        let (buf, buf_len) = (buf as u32, buf_len as u32);
        app::range(buf, buf_len as u64)?;
        app::range(bufused as u32, 4)?;
        if cookie == 0 || entry.listing.is_none() {
            entry.listing = Some(list(kfd)?);
        }
        let listing = entry.listing.as_deref().unwrap_or_default();
        // Entries are written whole while they fit; the one that does not is cut at the end
        // of the buffer, which tells the app to ask again with a bigger one.
        let mut used: u32 = 0;
        let mut pending: Vec<u8> = Vec::new();
        let mut flushed: u32 = 0;
        let start = usize::try_from(cookie as u64).unwrap_or(usize::MAX);
        for (i, e) in listing.iter().enumerate().skip(start) {
            let header = types::dirent(i as u64 + 1, e.ino, e.name.len() as u32, e.filetype);
            for part in [&header[..], &e.name[..]] {
                let room = (buf_len - used) as usize;
                let n = part.len().min(room);
                pending.extend_from_slice(&part[..n]);
                used += n as u32;
            }
            if pending.len() >= CHUNK {
                app::write(buf + flushed, &pending)?;
                flushed += pending.len() as u32;
                pending.clear();
            }
            if used == buf_len {
                break;
            }
        }
        app::write(buf + flushed, &pending)?;
        app::write_u32(bufused as u32, used)
    });
    match result {
        Ok(()) => errno::SUCCESS,
        Err(e) => e,
    }
}
