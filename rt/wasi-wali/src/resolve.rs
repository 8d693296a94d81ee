//! Resolving an app path beneath a directory descriptor, without `openat2`.
//!
//! The native host hands each path to `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`;
//! this module cannot count on that call, so it walks the path itself, one component at a
//! time. Every step opens a single name relative to a descriptor the walk holds, always with
//! `O_NOFOLLOW`, so the kernel never follows a symlink and never walks more than one name on
//! its own. A symlink met on the way is read with `readlinkat` and its text put in place of
//! the component (an absolute target is an escape: `ENOTCAPABLE`; more than 40 expansions:
//! `ELOOP`, the kernel's limit). `..` never reaches the kernel: the walk keeps the
//! directories it entered on a stack and goes back to the one it came from, so it cannot climb
//! above the starting directory (that is `ENOTCAPABLE`), and a directory renamed elsewhere
//! meanwhile cannot take the walk with it on the way up. A directory swapped for a symlink
//! between two calls, or during one, is therefore either opened as the directory it was or
//! read as a symlink and checked like any other: nothing outside the starting directory is
//! reached through it. (What the walk cannot see is a directory it already holds being
//! moved out by someone else; names below it are then looked up where it went, as if the
//! lookup had happened just before the move.)
//!
//! The final component is opened as the native host's `openat2` call would treat it (trailing
//! slash, `.` and `..`, `O_CREAT`/`O_EXCL` with a final symlink, ...), and every descriptor the
//! walk opens is closed on every path out of it, errors included.

use alloc::vec::Vec;

use crate::errno::{self, Errno};
use crate::sys::{self, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH};

/// Most symlinks one resolution expands (Linux's `MAXSYMLINKS`).
const MAX_LINKS: u32 = 40;

/// Most directory descriptors one walk keeps open: deeper paths keep the names of the levels
/// further up and reopen them from the start, one name at a time, if `..` climbs back there.
const HOLD: usize = 64;

/// A kernel descriptor this module opened; closed when dropped.
pub struct Fd(i32);

impl Fd {
    /// Takes ownership of the kernel descriptor `fd`.
    pub fn own(fd: i32) -> Fd {
        Fd(fd)
    }

    pub fn raw(&self) -> i32 {
        self.0
    }

    /// Hands the descriptor over (to a table entry, which closes it from then on).
    pub fn into_raw(self) -> i32 {
        let fd = self.0;
        core::mem::forget(self);
        fd
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        let _ = sys::close(self.0);
    }
}

/// A directory a path resolved to: the starting descriptor itself or one opened on the way.
pub struct Dir {
    base: i32,
    held: Option<Fd>,
}

impl Dir {
    pub fn fd(&self) -> i32 {
        self.held.as_ref().map_or(self.base, Fd::raw)
    }
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)` for one name, tried again after `EINTR` and
/// `EAGAIN` as the native host retries `openat2` (then `EAGAIN`).
fn open_one(dir: i32, name: &[u8], flags: i32, mode: u32) -> Result<Fd, Errno> {
    for _ in 0..64 {
        let r = sys::openat_raw(dir, name, flags | O_CLOEXEC, mode)?;
        match sys::linux_errno(r) {
            None => return Ok(Fd(r as i32)),
            Some(errno::linux::EINTR | errno::linux::EAGAIN) => continue,
            Some(e) => return Err(errno::from_linux(e)),
        }
    }
    Err(errno::AGAIN)
}

/// The target of the symlink `name` in `dir` (`name` empty: the symlink `dir` is open on), or
/// `None` if it is none.
fn read_link(dir: i32, name: &[u8]) -> Option<Vec<u8>> {
    let mut buf = alloc::vec![0u8; sys::PATH_MAX];
    let n = sys::readlinkat(dir, name, &mut buf).ok()?;
    // Linux keeps targets shorter than PATH_MAX; a full buffer may have been cut.
    if n >= buf.len() {
        return None;
    }
    buf.truncate(n);
    Some(buf)
}

/// A directory the walk entered: its name in the one above, and its descriptor while it is
/// among the innermost [`HOLD`].
struct Level {
    name: Vec<u8>,
    fd: Option<Fd>,
}

/// One resolution in progress.
struct Walk {
    base: i32,
    /// The directories entered below `base`, innermost last (its descriptor always open).
    held: Vec<Level>,
    links: u32,
    /// The path left to walk starts at `pos`; symlink targets are spliced in.
    todo: Vec<u8>,
    pos: usize,
}

impl Walk {
    fn new(base: i32, path: &[u8]) -> Walk {
        Walk {
            base,
            held: Vec::new(),
            links: 0,
            todo: path.to_vec(),
            pos: 0,
        }
    }

    /// The directory the walk is in.
    fn cur(&self) -> i32 {
        self.held
            .last()
            .and_then(|l| l.fd.as_ref())
            .map_or(self.base, Fd::raw)
    }

    /// Enters the directory `name` of the current one, open at `fd`.
    fn push(&mut self, name: Vec<u8>, fd: Fd) {
        self.held.push(Level { name, fd: Some(fd) });
        if let Some(i) = self.held.len().checked_sub(HOLD + 1) {
            self.held[i].fd = None;
        }
    }

    /// The next component as its range in `todo`, and whether nothing but slashes follows
    /// it (the path's last component). Leaves `pos` just after it.
    fn next(&mut self) -> (usize, usize, bool) {
        let len = self.todo.len();
        while self.pos < len && self.todo[self.pos] == b'/' {
            self.pos += 1;
        }
        let start = self.pos;
        let end = self.todo[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(len, |i| start + i);
        self.pos = end;
        let last = self.todo[end..].iter().all(|&b| b == b'/');
        (start, end, last)
    }

    /// `..`: back to the directory the walk came from; none above the start.
    fn up(&mut self) -> Result<(), Errno> {
        self.held.pop().ok_or(errno::NOTCAPABLE)?;
        if self.held.last().is_some_and(|l| l.fd.is_none()) {
            self.reopen()?;
        }
        Ok(())
    }

    /// Reopens the innermost levels (all closed) from `base`, one recorded name at a time,
    /// as every step opens: no symlink followed, so a concurrent change fails the walk
    /// rather than leading it elsewhere.
    fn reopen(&mut self) -> Result<(), Errno> {
        let keep = self.held.len().saturating_sub(HOLD);
        let mut above: Option<Fd> = None;
        for i in 0..self.held.len() {
            let dir = match i.checked_sub(1) {
                Some(up) if up >= keep => self.held[up].fd.as_ref().map_or(-1, Fd::raw),
                _ => above.as_ref().map_or(self.base, Fd::raw),
            };
            let fd = open_one(
                dir,
                &self.held[i].name,
                O_PATH | O_DIRECTORY | O_NOFOLLOW,
                0,
            )?;
            if i >= keep {
                self.held[i].fd = Some(fd);
            } else {
                above = Some(fd);
            }
        }
        Ok(())
    }

    /// Puts the symlink `target` in place of the component that ends at `pos`.
    fn splice(&mut self, target: Vec<u8>) -> Result<(), Errno> {
        if self.links >= MAX_LINKS {
            return Err(errno::LOOP);
        }
        self.links += 1;
        if target.first() == Some(&b'/') {
            return Err(errno::NOTCAPABLE);
        }
        // An empty target names the directory holding the link.
        let mut todo = if target.is_empty() {
            alloc::vec![b'.']
        } else {
            target
        };
        todo.extend_from_slice(&self.todo[self.pos..]);
        self.todo = todo;
        self.pos = 0;
        Ok(())
    }

    /// Walks into the directory named by the component `todo[start..end]`: `.`, `..`, or a
    /// name, which must be a directory or a symlink (expanded in its place: `Ok(false)`).
    fn enter(&mut self, start: usize, end: usize) -> Result<bool, Errno> {
        let name = &self.todo[start..end];
        match name {
            b"" | b"." => return Ok(true),
            b".." => return self.up().map(|()| true),
            _ => {}
        }
        match open_one(self.cur(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0) {
            Ok(fd) => {
                self.push(name.to_vec(), fd);
                Ok(true)
            }
            // A symlink is no directory to an O_NOFOLLOW open.
            Err(e @ (errno::NOTDIR | errno::LOOP)) => match read_link(self.cur(), name) {
                Some(target) => self.splice(target).map(|()| false),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The directory the walk ended in.
    fn into_dir(mut self) -> Dir {
        Dir {
            base: self.base,
            held: self.held.pop().and_then(|l| l.fd),
        }
    }
}

/// Native's checks on a path before any resolution.
fn check(path: &[u8]) -> Result<(), Errno> {
    if path.first() == Some(&b'/') {
        return Err(errno::NOTCAPABLE);
    }
    if path.contains(&0) {
        return Err(errno::INVAL);
    }
    Ok(())
}

/// The directory `path` names beneath `dir`, every symlink followed: what
/// `openat2(dir, path, O_PATH | O_DIRECTORY)` with `RESOLVE_BENEATH` opens. A path that stays
/// at `dir` itself opens nothing.
fn resolve_dir(dir: i32, path: &[u8]) -> Result<Dir, Errno> {
    check(path)?;
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    let mut w = Walk::new(dir, path);
    loop {
        let (start, end, last) = w.next();
        if w.enter(start, end)? && last {
            return Ok(w.into_dir());
        }
    }
}

/// Opens `path` beneath `dir` with `flags` (`O_*`, x86-64 values) and `mode`, as the native
/// host's `openat2(dir, path, flags | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`
/// does: the same descriptor or the same error.
pub fn open_beneath(dir: i32, path: &[u8], flags: i32, mode: u32) -> Result<Fd, Errno> {
    check(path)?;
    // The kernel refuses O_CREAT | O_DIRECTORY (Linux 6.4 on) before looking at the path:
    // ask it with an empty one, which it would refuse next.
    if flags & (O_CREAT | O_DIRECTORY) == O_CREAT | O_DIRECTORY
        && open_one(dir, b"", flags, mode).err() == Some(errno::INVAL)
    {
        return Err(errno::INVAL);
    }
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    let mode = if flags & O_CREAT != 0 { mode } else { 0 };
    // O_CREAT | O_EXCL never follows a final symlink (it is an existing name).
    let follow = flags & O_NOFOLLOW == 0 && flags & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL;
    let mut w = Walk::new(dir, path);
    loop {
        let (start, end, last) = w.next();
        if !last {
            w.enter(start, end)?;
            continue;
        }
        // A final `.` or `..` is the directory itself, opened as asked (so O_CREAT gets
        // EISDIR or EEXIST and a write EISDIR, from the kernel).
        match &w.todo[start..end] {
            b"." => return open_one(w.cur(), b".", flags, mode),
            b".." => {
                w.up()?;
                return open_one(w.cur(), b".", flags, mode);
            }
            _ => {}
        }
        if end < w.todo.len() {
            // A trailing slash: creating is EISDIR; otherwise the name must be a directory,
            // symlinks followed whatever O_NOFOLLOW says.
            if flags & O_CREAT != 0 {
                return Err(errno::ISDIR);
            }
            if w.enter(start, end)? {
                return open_one(w.cur(), b".", flags, mode);
            }
            continue;
        }
        let name = &w.todo[start..end];
        let opened = open_one(w.cur(), name, flags | O_NOFOLLOW, mode);
        if !follow {
            return opened;
        }
        // A final symlink to follow: an O_PATH open gets the link itself, any other open
        // ELOOP (ENOTDIR with O_DIRECTORY).
        let target = match opened {
            Ok(fd) if flags & O_PATH != 0 => match sys::fstat(fd.raw()) {
                Ok(st) if st.kind() == sys::S_IFLNK => match read_link(fd.raw(), b"") {
                    Some(target) => target,
                    None => return Ok(fd),
                },
                _ => return Ok(fd),
            },
            Err(e @ (errno::LOOP | errno::NOTDIR)) => match read_link(w.cur(), name) {
                Some(target) => target,
                None => return Err(e),
            },
            other => return other,
        };
        w.splice(target)?;
    }
}

/// What the last component of a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    Normal,
    /// `.`
    Dot,
    /// `..`
    DotDot,
}

/// A path split into its resolved parent directory and final name.
pub struct Parent {
    pub dir: Dir,
    /// The final component, a trailing `/` kept (the kernel then insists on a directory; it
    /// never walks further).
    pub name: Vec<u8>,
    pub last: Last,
}

impl Parent {
    pub fn fd(&self) -> i32 {
        self.dir.fd()
    }
}

/// Resolves the parent of `path` beneath `dir`; the final name is left for the `*at()` call.
pub fn parent(dir: i32, path: &[u8]) -> Result<Parent, Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    check(path)?;
    let trimmed_len = path.len() - path.iter().rev().take_while(|&&b| b == b'/').count();
    let trimmed = &path[..trimmed_len];
    let (dir_part, last): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (&trimmed[..i + 1], &trimmed[i + 1..]),
        None => (b".", trimmed),
    };
    let kind = match last {
        b"." => Last::Dot,
        b".." => Last::DotDot,
        _ => Last::Normal,
    };
    let parent = resolve_dir(dir, dir_part)?;
    let mut name = last.to_vec();
    if trimmed_len < path.len() {
        name.push(b'/');
    }
    Ok(Parent {
        dir: parent,
        name,
        last: kind,
    })
}

/// Requires `p`'s final component to be a plain name: for `.` or `..` the call fails with
/// `errno`, the kernel's answer for that call, once the path is known to stay inside `dir`.
pub fn require_name(p: &Parent, dir: i32, path: &[u8], errno: Errno) -> Result<(), Errno> {
    if p.last == Last::Normal {
        Ok(())
    } else {
        Err(dot_error(dir, path, errno))
    }
}

/// `errno` if `path` (ending in `.` or `..`) stays beneath `dir`, else why not.
pub fn dot_error(dir: i32, path: &[u8], errno: Errno) -> Errno {
    match resolve_dir(dir, path) {
        Ok(_) => errno,
        Err(e) => e,
    }
}

/// Opens what `path` names as an `O_PATH` descriptor, following a final symlink only if
/// `follow`.
pub fn open_path(dir: i32, path: &[u8], follow: bool) -> Result<Fd, Errno> {
    if path.is_empty() {
        return Err(errno::NOENT);
    }
    let nofollow = if follow { 0 } else { O_NOFOLLOW };
    open_beneath(dir, path, O_PATH | nofollow, 0)
}
