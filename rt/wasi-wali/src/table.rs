//! The app's view of the outside world: its descriptor table, arguments and environment,
//! built on the first exported call from the WALI command line and the grants blob, as the
//! native host's `ctx.rs` builds its context.
//!
//! Numbering is the native host's: the standard streams 0..2 (a slot stays empty for a
//! stream the process does not have open), then the preopens from 3 without gaps, then the
//! lowest free number for every new descriptor. This module is single-threaded (the lead
//! refuses threaded apps in this mode), so there is no lock: [`with`] hands out the table for
//! one closure and traps if it is re-entered.
//!
//! Public API, for every call family:
//! - [`with`]`(|t| ...)`: the table (initialised on first use);
//! - [`Table::get`] / [`Table::get_mut`]: an open descriptor or `EBADF`;
//! - [`Entry::with_rights`]`(needed)`: its kernel fd if it holds every right in `needed`,
//!   else `ENOTCAPABLE`; [`Entry::dir`]`(needed)`: the same for a path call's directory
//!   (`ENOTDIR` first if it is not one); [`Entry::check`]: the rights test alone;
//! - [`Entry::new`]`(kfd, filetype, base, inheriting)`: a new entry that owns `kfd` (closed
//!   when the entry is dropped); set `sync_flags` for `path_open`;
//! - [`Table::insert`]: puts an entry at the lowest free number (`EMFILE` past 65536; the
//!   entry, and so its kernel fd, is dropped then);
//! - [`Table::remove`], [`Table::renumber`]: `fd_close` and `fd_renumber`;
//! - [`Entry::listing`]: `fd_readdir`'s listing state, a `Vec<`[`Listing`]`>` taken at
//!   cookie 0 and kept with the descriptor.

use alloc::vec::Vec;
use core::cell::UnsafeCell;

use crate::app;
use crate::errno::{self, Errno};
use crate::sys;
use crate::types::{filetype, rights};
use wafer_abi::wasi_over_wali::Preopen;

/// One directory entry of an `fd_readdir` listing.
#[derive(Clone, Debug)]
pub struct Listing {
    pub name: Vec<u8>,
    pub ino: u64,
    pub filetype: u8,
}

/// One entry of the app's descriptor table.
pub struct Entry {
    /// The kernel descriptor (this module's, through WALI).
    kfd: i32,
    /// A standard stream of the process: never closed by the app (the runtime still reports
    /// traps on stderr), only taken out of the table.
    stdio: bool,
    pub filetype: u8,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// The name the app sees, for a preopened directory.
    pub preopen: Option<Vec<u8>>,
    /// `fdflags` sync bits the file was opened with (Linux cannot change them later).
    pub sync_flags: u16,
    /// The listing `fd_readdir` serves cookies from, taken at cookie 0.
    pub listing: Option<Vec<Listing>>,
}

impl Entry {
    /// An entry owning the kernel descriptor `kfd`.
    pub fn new(kfd: i32, filetype: u8, base: u64, inheriting: u64) -> Entry {
        Entry {
            kfd,
            stdio: false,
            filetype,
            rights_base: base,
            rights_inheriting: inheriting,
            preopen: None,
            sync_flags: 0,
            listing: None,
        }
    }

    /// The kernel descriptor.
    pub fn raw(&self) -> i32 {
        self.kfd
    }

    /// `ENOTCAPABLE` unless this descriptor holds every right in `needed`.
    pub fn check(&self, needed: u64) -> Result<(), Errno> {
        if self.rights_base & needed == needed {
            Ok(())
        } else {
            Err(errno::NOTCAPABLE)
        }
    }

    /// The kernel descriptor, if this one holds every right in `needed`.
    pub fn with_rights(&self, needed: u64) -> Result<i32, Errno> {
        self.check(needed).map(|()| self.kfd)
    }

    /// A directory's kernel descriptor for a path call needing `needed` (`ENOTDIR` if this
    /// is no directory, then `ENOTCAPABLE`).
    pub fn dir(&self, needed: u64) -> Result<i32, Errno> {
        if self.filetype != filetype::DIRECTORY {
            return Err(errno::NOTDIR);
        }
        self.with_rights(needed)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.stdio {
            let _ = sys::close(self.kfd);
        }
    }
}

const FD_CLOEXEC: i64 = 1;

/// Highest descriptor number an app can hold; a table this large is a runaway app.
const MAX_FDS: usize = 1 << 16;

pub struct Table {
    /// The arguments, `argv[0]` first.
    pub args: Vec<Vec<u8>>,
    /// `KEY=VALUE` entries, in the order granted.
    pub env: Vec<Vec<u8>>,
    fds: Vec<Option<Entry>>,
}

impl Table {
    /// The open descriptor `fd`, or `EBADF`.
    pub fn get(&self, fd: i32) -> Result<&Entry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|e| e.as_ref())
            .ok_or(errno::BADF)
    }

    /// The open descriptor `fd`, or `EBADF`, to change.
    pub fn get_mut(&mut self, fd: i32) -> Result<&mut Entry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(|e| e.as_mut())
            .ok_or(errno::BADF)
    }

    /// Puts `entry` at the lowest free number and returns it (`EMFILE`: the entry is
    /// dropped, which closes its kernel descriptor).
    pub fn insert(&mut self, entry: Entry) -> Result<u32, Errno> {
        let index = match self.fds.iter().position(|e| e.is_none()) {
            Some(i) => i,
            None if self.fds.len() < MAX_FDS => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return Err(errno::MFILE),
        };
        self.fds[index] = Some(entry);
        Ok(index as u32)
    }

    /// Takes `fd` out of the table (`EBADF` if not open); dropping the entry closes it.
    pub fn remove(&mut self, fd: i32) -> Result<Entry, Errno> {
        self.get(fd)?;
        self.fds[fd as usize].take().ok_or(errno::BADF)
    }

    /// `fd_renumber`: both must be open; what was at `to` is returned (dropping it closes
    /// it) and `from` takes its number.
    pub fn renumber(&mut self, from: i32, to: i32) -> Result<Option<Entry>, Errno> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(None);
        }
        let entry = self.fds[from as usize].take();
        Ok(core::mem::replace(&mut self.fds[to as usize], entry))
    }

    /// The standard streams the process has open (an `fstat` that fails leaves the slot
    /// empty), as the native `add_stdio`. A descriptor 0..2 marked close-on-exec is none:
    /// nothing inherited across `exec` can be, so the runtime opened it into the number of a
    /// stream the process started without (natively that stream's slot is empty).
    fn add_stdio(&mut self) {
        for fd in 0..3 {
            let inherited = sys::fcntl(fd, sys::F_GETFD, 0).is_ok_and(|fl| fl & FD_CLOEXEC == 0);
            let st = match sys::fstat(fd) {
                Ok(st) if inherited => st,
                _ => {
                    self.fds.push(None);
                    continue;
                }
            };
            let kind = filetype::from_mode(st.mode);
            // A terminal is not seekable: wasi-libc's isatty() looks for exactly that.
            let base = if kind == filetype::CHARACTER_DEVICE {
                rights::STDIO & !(rights::FD_SEEK | rights::FD_TELL)
            } else {
                rights::STDIO
            };
            let mut entry = Entry::new(fd, kind, base, 0);
            entry.stdio = true;
            self.fds.push(Some(entry));
        }
    }
}

/// Prints `wafer: <parts>` and a newline on stderr and exits with status 1.
fn fail(parts: &[&[u8]]) -> ! {
    let mut msg = Vec::new();
    msg.extend_from_slice(b"wafer: ");
    for p in parts {
        msg.extend_from_slice(p);
    }
    msg.push(b'\n');
    let mut done = 0;
    while done < msg.len() {
        match sys::write(2, &msg[done..]) {
            Ok(n) if n > 0 => done += n,
            _ => break,
        }
    }
    sys::exit(1)
}

fn decimal(mut n: u32) -> Vec<u8> {
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

fn build() -> Table {
    let mut t = Table {
        args: sys::args(),
        env: Vec::new(),
        fds: Vec::new(),
    };
    t.add_stdio();
    let blob = app::grants();
    let Some((env, dirs)) = wafer_abi::wasi_over_wali::decode_grants(&blob) else {
        fail(&[b"the runtime's grants are damaged"]);
    };
    t.env = env.into_iter().map(<[u8]>::to_vec).collect();
    for Preopen {
        guest,
        host,
        read_only,
    } in dirs
    {
        let flags = sys::O_RDONLY | sys::O_DIRECTORY | sys::O_CLOEXEC;
        let opened = loop {
            match sys::openat_raw(sys::AT_FDCWD, host, flags, 0) {
                Ok(r) if sys::linux_errno(r) == Some(errno::linux::EINTR) => continue,
                Ok(r) => break sys::linux_errno(r).map_or(Ok(r as i32), Err),
                Err(_) => break Err(errno::linux::EINVAL),
            }
        };
        let kfd = match opened {
            Ok(fd) => fd,
            Err(e) => fail(&[
                b"cannot open granted directory ",
                host,
                b" (the guest's ",
                guest,
                b"): ",
                errno::linux_message(e).as_bytes(),
                b" (os error ",
                &decimal(e as u32),
                b")",
            ]),
        };
        let (base, inheriting) = wafer_abi::wasi_p1::preopen_rights(read_only);
        let mut entry = Entry::new(kfd, filetype::DIRECTORY, base, inheriting);
        entry.preopen = Some(guest.to_vec());
        // Preopens are numbered from 3 on without gaps: wasi-libc stops its scan at the first
        // EBADF. A closed standard stream keeps its slot empty.
        while t.fds.len() < 3 {
            t.fds.push(None);
        }
        t.fds.push(Some(entry));
    }
    t
}

struct Global {
    table: UnsafeCell<Option<Table>>,
    busy: UnsafeCell<bool>,
}

// Only one thread ever runs this module.
unsafe impl Sync for Global {}

static GLOBAL: Global = Global {
    table: UnsafeCell::new(None),
    busy: UnsafeCell::new(false),
};

/// Builds the table now if no call has yet (every export does this first, so a failing
/// preopen ends the process before the app sees anything).
pub fn init() {
    with(|_| ());
}

/// Runs `f` on the table (built on first use). Not re-entrant: a nested call traps.
pub fn with<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    unsafe {
        if *GLOBAL.busy.get() {
            core::arch::wasm32::unreachable();
        }
        *GLOBAL.busy.get() = true;
        let slot = &mut *GLOBAL.table.get();
        if slot.is_none() {
            *slot = Some(build());
        }
        let r = match slot.as_mut() {
            Some(t) => f(t),
            None => core::arch::wasm32::unreachable(),
        };
        *GLOBAL.busy.get() = false;
        r
    }
}
