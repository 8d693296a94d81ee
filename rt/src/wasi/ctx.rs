//! The guest's view of the outside world: its arguments, its environment and its descriptor
//! table, built once at startup from the executable's capabilities.
//!
//! # Threads
//!
//! A wasi-threads guest runs several native threads, each with its own instance, and all of
//! them share one context: a [`SharedCtx`], a [`WasiCtx`] behind a mutex. Every thread holds
//! a handle to it in a thread-local; a new thread starts with a fresh, empty context (which
//! also gives every unit test its own) until it [`adopt`]s the one its creator [`share`]d.
//!
//! [`with`] locks the context for the length of one closure. No call holds the lock across a
//! host call that can block indefinitely (or for long): those look up the descriptor and
//! check its rights under the lock, take a clone of its [`Host`] out of the table
//! ([`FdEntry::hold`]) and make the syscall after the lock is released. The clone keeps the
//! host descriptor open, so a concurrent `fd_close` or `fd_renumber` on another thread takes
//! the descriptor out of the table at once (later calls get `EBADF`) while the host close
//! waits for the last call using it, and the number cannot be reused for something else in
//! between.
//!
//! Without the lock: `fd_read`, `fd_write`, `fd_pread`, `fd_pwrite`, `poll_oneoff` (the waits
//! that can block indefinitely), `path_open` (opening a FIFO waits for the other end), and
//! `fd_sync`, `fd_datasync`, `fd_allocate`, `fd_filestat_set_size` (they can take long).
//! Holding it for their short duration: every other call on the table (`fd_close`,
//! `fd_renumber`, `fd_seek`, `fd_tell`, `fd_advise`, `fd_fdstat_*`, `fd_filestat_get`,
//! `fd_filestat_set_times`, `fd_prestat_*`, `fd_readdir`), every `path_*` call but
//! `path_open` (they only resolve paths with `O_PATH` and act with one `*at()` call), and
//! `args_*` / `environ_*`. Calls that never look at the context (`clock_*`, `random_get`,
//! `proc_*`, `sched_yield`, `sock_*`) take no lock.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, PoisonError};

use wafer_abi::capabilities::{self, Capabilities, EnvGrant};

use super::errno::{self, Errno};
use super::types::{filetype, rights};

/// The host side of a guest descriptor. A clone held by a call keeps an owned descriptor open
/// until the call is done, whatever happens to the table entry meanwhile.
#[derive(Clone)]
pub enum Host {
    /// A standard stream of the process: never closed by the guest, because the runtime still
    /// reports traps on stderr.
    Stdio(RawFd),
    /// Closed when the table entry and every call holding a clone have let go of it.
    Owned(Arc<OwnedFd>),
}

impl Host {
    pub fn raw(&self) -> RawFd {
        match self {
            Host::Stdio(fd) => *fd,
            Host::Owned(fd) => fd.as_raw_fd(),
        }
    }
}

impl AsRawFd for Host {
    fn as_raw_fd(&self) -> RawFd {
        self.raw()
    }
}

/// One entry of the guest's descriptor table.
pub struct FdEntry {
    pub host: Host,
    pub filetype: u8,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// The name the guest sees, for a preopened directory.
    pub preopen: Option<Vec<u8>>,
    /// `fdflags` sync bits the file was opened with (Linux cannot change them later).
    pub sync_flags: u16,
    /// The directory listing `fd_readdir` serves cookies from, taken at cookie 0.
    pub listing: Option<Vec<super::dir::Listing>>,
}

impl FdEntry {
    pub fn new(host: OwnedFd, filetype: u8, base: u64, inheriting: u64) -> FdEntry {
        FdEntry {
            host: Host::Owned(Arc::new(host)),
            filetype,
            rights_base: base,
            rights_inheriting: inheriting,
            preopen: None,
            sync_flags: 0,
            listing: None,
        }
    }

    /// The host descriptor number; valid only while the context is locked (see [`Self::hold`]).
    pub fn raw(&self) -> RawFd {
        self.host.raw()
    }

    /// The host descriptor, if this one holds every right in `needed`; for use while the
    /// context stays locked.
    pub fn with_rights(&self, needed: u64) -> Result<RawFd, Errno> {
        self.check(needed).map(|()| self.raw())
    }

    /// A clone of the host side, if this descriptor holds every right in `needed`: it stays
    /// open for as long as the clone lives, so the call can release the lock before using it.
    pub fn hold(&self, needed: u64) -> Result<Host, Errno> {
        self.check(needed).map(|()| self.host.clone())
    }

    fn check(&self, needed: u64) -> Result<(), Errno> {
        if self.rights_base & needed == needed {
            Ok(())
        } else {
            Err(errno::NOTCAPABLE)
        }
    }

    /// A directory's host descriptor for a path call needing `needed`.
    pub fn dir(&self, needed: u64) -> Result<RawFd, Errno> {
        if self.filetype != filetype::DIRECTORY {
            return Err(errno::NOTDIR);
        }
        self.with_rights(needed)
    }
}

/// Highest descriptor number a guest can hold; a table this large is a runaway guest.
const MAX_FDS: usize = 1 << 16;

#[derive(Default)]
pub struct WasiCtx {
    pub args: Vec<Vec<u8>>,
    /// `KEY=VALUE` entries, in the order granted.
    pub env: Vec<Vec<u8>>,
    fds: Vec<Option<FdEntry>>,
}

impl WasiCtx {
    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|e| e.as_ref())
            .ok_or(errno::BADF)
    }

    pub fn get_mut(&mut self, fd: i32) -> Result<&mut FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(|e| e.as_mut())
            .ok_or(errno::BADF)
    }

    /// The preopened directories, in descriptor order (WASI 0.2's `get-directories`).
    pub fn preopens(&self) -> impl Iterator<Item = &FdEntry> {
        self.fds.iter().flatten().filter(|e| e.preopen.is_some())
    }

    /// Puts `entry` at the lowest free number.
    pub fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
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

    pub fn remove(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        self.get(fd)?;
        Ok(self.fds[fd as usize].take().expect("checked above"))
    }

    /// `fd_renumber`: `to` must be open; it is closed and `from` takes its number. Returns
    /// the entry that was at `to`: dropping it closes its host descriptor (stdio excepted),
    /// which the caller does once the context is unlocked.
    pub fn renumber(&mut self, from: i32, to: i32) -> Result<Option<FdEntry>, Errno> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(None);
        }
        let entry = self.fds[from as usize].take();
        Ok(std::mem::replace(&mut self.fds[to as usize], entry))
    }

    /// Adds the standard streams that are open in the process.
    fn add_stdio(&mut self) {
        for fd in 0..3 {
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            if unsafe { libc::fstat(fd, &mut st) } != 0 {
                self.fds.push(None);
                continue;
            }
            let kind = filetype::from_mode(st.st_mode);
            // A terminal is not seekable: wasi-libc's isatty() looks for exactly that.
            let base = if kind == filetype::CHARACTER_DEVICE {
                rights::STDIO & !(rights::FD_SEEK | rights::FD_TELL)
            } else {
                rights::STDIO
            };
            self.fds.push(Some(FdEntry {
                host: Host::Stdio(fd),
                filetype: kind,
                rights_base: base,
                rights_inheriting: 0,
                preopen: None,
                sync_flags: 0,
                listing: None,
            }));
        }
    }
}

/// A handle to a context that several threads share.
#[derive(Clone, Default)]
pub struct SharedCtx(Arc<Mutex<WasiCtx>>);

impl SharedCtx {
    /// Runs `f` with the context locked. A thread that panicked while holding the lock leaves
    /// the context usable: every change to it is complete or not made.
    pub fn with<R>(&self, f: impl FnOnce(&mut WasiCtx) -> R) -> R {
        let mut ctx = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut ctx)
    }
}

thread_local! {
    /// The calling thread's handle: a fresh, empty context until [`adopt`] replaces it.
    static CTX: RefCell<SharedCtx> = RefCell::new(SharedCtx::default());
}

/// The calling thread's context, for a thread it starts to [`adopt`].
pub fn share() -> SharedCtx {
    CTX.with(|c| c.borrow().clone())
}

/// Makes the calling thread use `ctx` (its previous context is dropped with its last handle).
/// Not from inside [`with`].
pub fn adopt(ctx: SharedCtx) {
    let old = CTX.with(|c| c.replace(ctx));
    drop(old);
}

/// Runs `f` on the calling thread's context, locked for the duration of `f` (which must not
/// call `with` again: the lock is not reentrant).
pub fn with<R>(f: impl FnOnce(&mut WasiCtx) -> R) -> R {
    CTX.with(|c| c.borrow().with(f))
}

/// Replaces what the calling thread's context holds, for every thread sharing it; the old
/// descriptors are closed after the lock is released.
fn replace(ctx: WasiCtx) {
    let old = with(|c| std::mem::replace(c, ctx));
    drop(old);
}

/// Empties the context, closing every descriptor it holds: for an executable whose WASI is
/// wafer's WASI module (`crate::wasi_over_wali`), once the kernel sandbox has been built from
/// the granted directories the context opened.
pub fn release() {
    replace(WasiCtx::default());
}

/// Sets the arguments the guest sees.
pub fn set_args(args: Vec<Vec<u8>>) {
    with(|c| c.args = args);
}

pub use wafer_abi::wasi_p1::preopen_rights;

/// Builds the context from the executable's encoded capabilities: decodes them, applies
/// `WAFER_DIR_MAP`, opens every granted directory and collects the granted variables; returns
/// the grants as they apply here (re-pointing applied). Every failure is a message for the
/// user: the driver must not start with less (or more) than it was built for.
pub fn init(encoded: &[u8], args: Vec<Vec<u8>>) -> Result<Capabilities, String> {
    let mut caps = capabilities::decode(encoded).map_err(|e| e.to_string())?;
    if let Some(map) = std::env::var_os(capabilities::DIR_MAP_ENV) {
        use std::os::unix::ffi::OsStrExt;
        let map = capabilities::parse_dir_map(map.as_bytes()).map_err(|e| e.to_string())?;
        capabilities::apply_dir_map(&mut caps, &map).map_err(|e| e.to_string())?;
    }
    replace(build(&caps, args)?);
    Ok(caps)
}

fn build(caps: &Capabilities, args: Vec<Vec<u8>>) -> Result<WasiCtx, String> {
    let mut ctx = WasiCtx {
        args,
        ..WasiCtx::default()
    };
    ctx.add_stdio();
    for dir in &caps.dirs {
        let fd = open_dir(&dir.host).map_err(|e| {
            format!(
                "cannot open granted directory {} (the guest's {}): {e}",
                String::from_utf8_lossy(&dir.host),
                String::from_utf8_lossy(&dir.guest)
            )
        })?;
        let (base, inheriting) = preopen_rights(dir.read_only);
        let mut entry = FdEntry::new(fd, filetype::DIRECTORY, base, inheriting);
        entry.preopen = Some(dir.guest.clone());
        // Preopens must be numbered from 3 on without gaps: wasi-libc stops its scan at the
        // first EBADF. A closed standard stream keeps its slot empty, so push past it.
        while ctx.fds.len() < 3 {
            ctx.fds.push(None);
        }
        ctx.fds.push(Some(entry));
    }
    for grant in &caps.env {
        match grant {
            EnvGrant::Fixed { key, value } => ctx.env.push([&key[..], b"=", value].concat()),
            EnvGrant::Pass { key } => {
                use std::os::unix::ffi::{OsStrExt, OsStringExt};
                let name = std::ffi::OsStr::from_bytes(key);
                if let Some(value) = std::env::var_os(name) {
                    ctx.env.push([&key[..], b"=", &value.into_vec()].concat());
                }
            }
        }
    }
    Ok(ctx)
}

fn open_dir(path: &[u8]) -> Result<OwnedFd, std::io::Error> {
    let c = CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
pub(crate) fn install(caps: &Capabilities) {
    replace(build(caps, Vec::new()).expect("test capabilities"));
}
