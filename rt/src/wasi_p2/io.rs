//! `wasi:io`: `error`, `poll` and `streams`.
//!
//! A stream is a host descriptor (a standard stream, or a file opened through
//! `wasi:filesystem`) with a position when it reads or writes a file at an offset. Streams
//! over pipes, terminals, sockets and character devices wait with `poll(2)`; streams over
//! regular files and block devices are always ready. Writes are unbuffered: a write is on
//! the host when it returns, so `flush` has nothing to do; `check-write` grants a permit
//! that `write` and `write-zeroes` use up (more than it permitted is a trap, as the WIT
//! says). A failed operation yields `last-operation-failed` once and the
//! stream is closed from then on; end of input is `closed`.
//!
//! Pollables are timers on the monotonic clock or a stream's readiness. `poll` copies what it
//! waits on out of the handle table, so the table's lock is never held while it blocks: one
//! `ppoll(2)` over every descriptor, bounded by the nearest deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use wafer_abi::TrapKind;

use super::table::{Kind, Resource};
use super::{own, remove_resource, with_table, WasiP2};
use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{fault, Buffer, Fault};
use crate::glue::wasi_io::{error, poll, streams};
use crate::wasi::ctx::Host;
use crate::wasi::errno::{self, Errno};

/// What an `error` resource says: the failed operation and, for a host error, its errno
/// (WASI preview1 numbering, which `filesystem-error-code` maps).
pub struct IoError {
    pub errno: Option<Errno>,
    pub message: String,
}

impl IoError {
    fn host(what: &str, e: Errno) -> IoError {
        IoError {
            errno: Some(e),
            message: format!("{what} failed: {}", super::filesystem::code_name(e)),
        }
    }
}

/// A `stream-error`.
pub enum StreamError {
    Failed(IoError),
    Closed,
}

/// The most one `read` returns, and what `check-write` permits, for a stream that waits
/// (pipe, terminal) and for one over a file.
const WAITING_CHUNK: u64 = 64 << 10;
const FILE_CHUNK: u64 = 1 << 20;
/// The most `blocking-write-and-flush` and `blocking-write-zeroes-and-flush` take at once.
const BLOCKING_MAX: u64 = 4096;

/// An input or output stream.
pub struct Stream {
    host: Host,
    /// Readiness comes from `poll(2)` (not a regular file or block device).
    waits: bool,
    /// Reads or writes at `pos` (a file stream) rather than at the descriptor's own offset.
    positioned: bool,
    /// Writes go to the end of the file.
    append: bool,
    pos: AtomicU64,
    closed: AtomicBool,
    /// What the last `check-write` permitted and no `write` has used yet.
    permit: AtomicU64,
}

impl Stream {
    fn new(host: Host, positioned: bool, append: bool, pos: u64) -> Stream {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let waits = if unsafe { libc::fstat(host.raw(), &mut st) } == 0 {
            !matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFBLK)
        } else {
            false
        };
        Stream {
            host,
            waits,
            positioned,
            append,
            pos: AtomicU64::new(pos),
            closed: AtomicBool::new(false),
            permit: AtomicU64::new(0),
        }
    }

    /// A standard stream of the process (never closed by the guest).
    pub fn stdio(fd: i32) -> Stream {
        Stream::new(Host::Stdio(fd), false, false, 0)
    }

    /// A stream over a file at `offset` (or at its end, for `append`).
    pub fn file(host: Host, offset: u64, append: bool) -> Stream {
        Stream::new(host, true, append, offset)
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn chunk(&self) -> u64 {
        if self.waits {
            WAITING_CHUNK
        } else {
            FILE_CHUNK
        }
    }

    /// Ends the stream after a failed operation.
    fn failed(&self, what: &str, e: Errno) -> StreamError {
        self.close();
        if e == errno::PIPE {
            StreamError::Closed
        } else {
            StreamError::Failed(IoError::host(what, e))
        }
    }

    /// Up to `len` bytes; with `block`, waits for at least one (or the end).
    pub fn read(&self, len: u64, block: bool) -> Result<Vec<u8>, StreamError> {
        if self.closed() {
            return Err(StreamError::Closed);
        }
        let n = len.min(self.chunk()) as usize;
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; n];
        let fd = self.host.raw();
        loop {
            if self.waits && !wait_fd(fd, libc::POLLIN, if block { -1 } else { 0 }) {
                return Ok(Vec::new());
            }
            let r = unsafe {
                if self.positioned {
                    libc::pread(
                        fd,
                        buf.as_mut_ptr() as *mut libc::c_void,
                        n,
                        self.pos.load(Ordering::Acquire) as libc::off_t,
                    )
                } else {
                    libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, n)
                }
            };
            if r < 0 {
                match errno::last_raw() {
                    libc::EINTR => continue,
                    libc::EAGAIN if block => continue,
                    libc::EAGAIN => return Ok(Vec::new()),
                    e => return Err(self.failed("read", errno::from_host(e))),
                }
            }
            if r == 0 {
                self.close();
                return Err(StreamError::Closed);
            }
            self.pos.fetch_add(r as u64, Ordering::AcqRel);
            buf.truncate(r as usize);
            return Ok(buf);
        }
    }

    /// How much the next write may carry: 0 while a pipe or terminal is full.
    pub fn check_write(&self) -> Result<u64, StreamError> {
        let permit = self.room()?;
        self.permit.store(permit, Ordering::Release);
        Ok(permit)
    }

    /// How much could be written now without waiting.
    fn room(&self) -> Result<u64, StreamError> {
        if self.closed() {
            return Err(StreamError::Closed);
        }
        if self.waits && !wait_fd(self.host.raw(), libc::POLLOUT, 0) {
            return Ok(0);
        }
        Ok(self.chunk())
    }

    /// Uses `len` bytes of the last `check-write`'s permit: writing more than it permitted
    /// is a trap.
    fn take_permit(&self, len: u64) -> Result<(), Fault> {
        self.permit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| p.checked_sub(len))
            .map(drop)
            .map_err(|p| {
                fault(
                    TrapKind::Unreachable,
                    format!("a write of {len} bytes exceeds the {p} that check-write permitted"),
                )
            })
    }

    /// Writes all of `data` (waiting while a pipe is full).
    pub fn write_all(&self, mut data: &[u8]) -> Result<(), StreamError> {
        if self.closed() {
            return Err(StreamError::Closed);
        }
        let fd = self.host.raw();
        while !data.is_empty() {
            let r = unsafe {
                if self.positioned {
                    let at = if self.append {
                        match crate::wasi::fd::fstat(fd) {
                            Ok(st) => st.st_size as u64,
                            Err(e) => return Err(self.failed("write", e)),
                        }
                    } else {
                        self.pos.load(Ordering::Acquire)
                    };
                    libc::pwrite(
                        fd,
                        data.as_ptr() as *const libc::c_void,
                        data.len(),
                        at as libc::off_t,
                    )
                } else {
                    libc::write(fd, data.as_ptr() as *const libc::c_void, data.len())
                }
            };
            if r < 0 {
                match errno::last_raw() {
                    libc::EINTR => continue,
                    libc::EAGAIN => {
                        wait_fd(fd, libc::POLLOUT, -1);
                        continue;
                    }
                    e => return Err(self.failed("write", errno::from_host(e))),
                }
            }
            if !self.append {
                self.pos.fetch_add(r as u64, Ordering::AcqRel);
            }
            data = &data[r as usize..];
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StreamError> {
        if self.closed() {
            Err(StreamError::Closed)
        } else {
            Ok(())
        }
    }
}

/// Waits up to `timeout_ms` (-1: for ever) for `events` on `fd`; whether it is ready (an
/// error or hang-up counts: the operation will say what happened).
fn wait_fd(fd: i32, events: i16, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r < 0 && errno::last_raw() == libc::EINTR {
            continue;
        }
        return r != 0;
    }
}

/// What a pollable waits for.
#[derive(Clone)]
pub enum Pollable {
    /// The monotonic clock reaching this many nanoseconds.
    Timer(u64),
    /// A stream becoming readable (`POLLIN`) or writable (`POLLOUT`).
    Stream(Arc<Stream>, i16),
}

fn monotonic_now() -> u64 {
    crate::wasi::clock::now(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// Waits until at least one of `list` is ready; the indices of those that are, in order.
/// Blocks without any lock held.
pub fn wait(list: &[Pollable], block: bool) -> Vec<u32> {
    loop {
        let now = monotonic_now();
        let mut ready = Vec::new();
        let mut fds = Vec::new();
        let mut fd_index = Vec::new();
        let mut deadline: Option<u64> = None;
        for (i, p) in list.iter().enumerate() {
            match p {
                Pollable::Timer(at) if *at <= now => ready.push(i as u32),
                Pollable::Timer(at) => deadline = Some(deadline.map_or(*at, |d| d.min(*at))),
                Pollable::Stream(s, _) if !s.waits || s.closed() => ready.push(i as u32),
                Pollable::Stream(s, events) => {
                    fds.push(libc::pollfd {
                        fd: s.host.raw(),
                        events: *events,
                        revents: 0,
                    });
                    fd_index.push(i as u32);
                }
            }
        }
        let timeout = if !ready.is_empty() || !block {
            Some(0)
        } else {
            deadline.map(|d| d - now)
        };
        let ts = timeout.map(|ns| libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        let r = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                ts_ptr,
                std::ptr::null(),
            )
        };
        if r > 0 {
            for (p, i) in fds.iter().zip(&fd_index) {
                if p.revents != 0 {
                    ready.push(*i);
                }
            }
            ready.sort_unstable();
        }
        if !ready.is_empty() || !block {
            return ready;
        }
        // Timed out (a timer is due now), interrupted, or woken early: look again.
    }
}

// ---- error ------------------------------------------------------------------------------------

impl error::Host for WasiP2 {
    fn error_to_debug_string(cx: &mut Cx, this: Borrow<error::Error>) -> Result<String, Fault> {
        with_table(cx.vmctx, |t| {
            t.error(this.index()).map(|e| e.message.clone())
        })
    }

    fn drop_error(cx: &mut Cx, handle: Own<error::Error>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::Error)
    }
}

// ---- poll -------------------------------------------------------------------------------------

fn pollable(cx: &Cx, this: Borrow<poll::Pollable>) -> Result<Pollable, Fault> {
    with_table(cx.vmctx, |t| t.pollable(this.index()))
}

impl poll::Host for WasiP2 {
    fn pollable_ready(cx: &mut Cx, this: Borrow<poll::Pollable>) -> Result<bool, Fault> {
        let p = pollable(cx, this)?;
        Ok(!wait(&[p], false).is_empty())
    }

    fn pollable_block(cx: &mut Cx, this: Borrow<poll::Pollable>) -> Result<(), Fault> {
        let p = pollable(cx, this)?;
        wait(&[p], true);
        Ok(())
    }

    fn poll(cx: &mut Cx, in_: Vec<Borrow<poll::Pollable>>) -> Result<Vec<u32>, Fault> {
        if in_.is_empty() {
            return Err(fault(
                TrapKind::Unreachable,
                "poll was given an empty list of pollables",
            ));
        }
        let list = with_table(cx.vmctx, |t| {
            in_.iter()
                .map(|h| t.pollable(h.index()))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(wait(&list, true))
    }

    fn drop_pollable(cx: &mut Cx, handle: Own<poll::Pollable>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::Pollable)
    }
}

// ---- streams ----------------------------------------------------------------------------------

/// A stream method's result as the WIT types it.
type Answer<T> = Result<Result<T, streams::StreamError>, Fault>;

/// What a stream operation answers the guest: `last-operation-failed` hands it a new `error`.
fn answer<T>(cx: &Cx, r: Result<T, StreamError>) -> Answer<T> {
    Ok(match r {
        Ok(v) => Ok(v),
        Err(StreamError::Closed) => Err(streams::StreamError::Closed),
        Err(StreamError::Failed(e)) => Err(streams::StreamError::LastOperationFailed(own(
            cx.vmctx,
            Resource::Error(e),
        )?)),
    })
}

fn input(cx: &Cx, this: Borrow<streams::InputStream>) -> Result<Arc<Stream>, Fault> {
    with_table(cx.vmctx, |t| t.input(this.index()))
}

fn output(cx: &Cx, this: Borrow<streams::OutputStream>) -> Result<Arc<Stream>, Fault> {
    with_table(cx.vmctx, |t| t.output(this.index()))
}

fn read(cx: &Cx, this: Borrow<streams::InputStream>, len: u64, block: bool) -> Answer<Buffer> {
    let r = input(cx, this)?.read(len, block).map(Buffer::from);
    answer(cx, r)
}

fn skip(cx: &Cx, this: Borrow<streams::InputStream>, len: u64, block: bool) -> Answer<u64> {
    let r = input(cx, this)?.read(len, block).map(|b| b.len() as u64);
    answer(cx, r)
}

/// A pollable for `stream` becoming ready for `events`.
fn subscribe(cx: &Cx, stream: Arc<Stream>, events: i16) -> Result<Own<poll::Pollable>, Fault> {
    own(
        cx.vmctx,
        Resource::Pollable(Pollable::Stream(stream, events)),
    )
}

/// `write` and `blocking-write-and-flush` (at most [`BLOCKING_MAX`] bytes).
fn write(cx: &Cx, this: Borrow<streams::OutputStream>, data: Buffer, blocking: bool) -> Answer<()> {
    if blocking && data.len() as u64 > BLOCKING_MAX {
        return Err(fault(
            TrapKind::Unreachable,
            format!(
                "blocking-write-and-flush of {} bytes: at most {BLOCKING_MAX} at once",
                data.len()
            ),
        ));
    }
    let stream = output(cx, this)?;
    if !blocking {
        stream.take_permit(data.len() as u64)?;
    }
    let r = stream.write_all(&data);
    answer(cx, r)
}

fn flush(cx: &Cx, this: Borrow<streams::OutputStream>) -> Answer<()> {
    let r = output(cx, this)?.flush();
    answer(cx, r)
}

fn write_zeroes(
    cx: &Cx,
    this: Borrow<streams::OutputStream>,
    len: u64,
    blocking: bool,
) -> Answer<()> {
    if blocking && len > BLOCKING_MAX {
        return Err(fault(
            TrapKind::Unreachable,
            format!(
                "blocking-write-zeroes-and-flush of {len} bytes: at most {BLOCKING_MAX} at once"
            ),
        ));
    }
    let stream = output(cx, this)?;
    if !blocking {
        stream.take_permit(len)?;
    }
    let zeroes = [0u8; 4096];
    let mut left = len;
    let mut r = stream.flush();
    while r.is_ok() && left > 0 {
        let n = left.min(zeroes.len() as u64);
        r = stream.write_all(&zeroes[..n as usize]);
        left -= n;
    }
    answer(cx, r)
}

fn splice(
    cx: &Cx,
    this: Borrow<streams::OutputStream>,
    src: Borrow<streams::InputStream>,
    len: u64,
    block: bool,
) -> Answer<u64> {
    let out = output(cx, this)?;
    let input = input(cx, src)?;
    let r = out.room().and_then(|permit| {
        let want = if block { len } else { len.min(permit) };
        let data = input.read(want, block)?;
        out.write_all(&data)?;
        Ok(data.len() as u64)
    });
    answer(cx, r)
}

impl streams::Host for WasiP2 {
    fn input_stream_read(
        cx: &mut Cx,
        this: Borrow<streams::InputStream>,
        len: u64,
    ) -> Answer<Buffer> {
        read(cx, this, len, false)
    }

    fn input_stream_blocking_read(
        cx: &mut Cx,
        this: Borrow<streams::InputStream>,
        len: u64,
    ) -> Answer<Buffer> {
        read(cx, this, len, true)
    }

    fn input_stream_skip(cx: &mut Cx, this: Borrow<streams::InputStream>, len: u64) -> Answer<u64> {
        skip(cx, this, len, false)
    }

    fn input_stream_blocking_skip(
        cx: &mut Cx,
        this: Borrow<streams::InputStream>,
        len: u64,
    ) -> Answer<u64> {
        skip(cx, this, len, true)
    }

    fn input_stream_subscribe(
        cx: &mut Cx,
        this: Borrow<streams::InputStream>,
    ) -> Result<Own<poll::Pollable>, Fault> {
        subscribe(cx, input(cx, this)?, libc::POLLIN)
    }

    fn output_stream_check_write(cx: &mut Cx, this: Borrow<streams::OutputStream>) -> Answer<u64> {
        let r = output(cx, this)?.check_write();
        answer(cx, r)
    }

    fn output_stream_write(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        contents: Buffer,
    ) -> Answer<()> {
        write(cx, this, contents, false)
    }

    fn output_stream_blocking_write_and_flush(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        contents: Buffer,
    ) -> Answer<()> {
        write(cx, this, contents, true)
    }

    fn output_stream_flush(cx: &mut Cx, this: Borrow<streams::OutputStream>) -> Answer<()> {
        flush(cx, this)
    }

    fn output_stream_blocking_flush(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
    ) -> Answer<()> {
        flush(cx, this)
    }

    fn output_stream_subscribe(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
    ) -> Result<Own<poll::Pollable>, Fault> {
        subscribe(cx, output(cx, this)?, libc::POLLOUT)
    }

    fn output_stream_write_zeroes(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        len: u64,
    ) -> Answer<()> {
        write_zeroes(cx, this, len, false)
    }

    fn output_stream_blocking_write_zeroes_and_flush(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        len: u64,
    ) -> Answer<()> {
        write_zeroes(cx, this, len, true)
    }

    fn output_stream_splice(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        src: Borrow<streams::InputStream>,
        len: u64,
    ) -> Answer<u64> {
        splice(cx, this, src, len, false)
    }

    fn output_stream_blocking_splice(
        cx: &mut Cx,
        this: Borrow<streams::OutputStream>,
        src: Borrow<streams::InputStream>,
        len: u64,
    ) -> Answer<u64> {
        splice(cx, this, src, len, true)
    }

    fn drop_input_stream(cx: &mut Cx, handle: Own<streams::InputStream>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::InputStream)
    }

    fn drop_output_stream(cx: &mut Cx, handle: Own<streams::OutputStream>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::OutputStream)
    }
}
