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

use super::WasiP2;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use wafer_abi::{TrapKind, VmCtx};

use super::table::{Kind, Resource};
use super::{drop_resource, insert, with_table, IFACE};
use crate::canon::{self, fault, finish, memory, read_array, read_list, ret_area, Area, Fault};
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

unsafe fn to_debug_string(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, 8, 4)?;
    let text = with_table(vmctx, |t| t.error(this).map(|e| e.message.clone()))?;
    let s = unsafe { canon::lower_string(vmctx, &text) }?;
    Area::new(8)
        .list(0, s)
        .store(&unsafe { memory(vmctx) }?, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_error_to_debug_string(vmctx: *mut VmCtx, this: i32, ret: i32) {
    finish(IFACE, unsafe { to_debug_string(vmctx, this, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_error(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::Error)
}

// ---- poll -------------------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_pollable_ready(vmctx: *mut VmCtx, this: i32) -> i32 {
    let p = finish(IFACE, with_table(vmctx, |t| t.pollable(this)));
    !wait(&[p], false).is_empty() as i32
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_pollable_block(vmctx: *mut VmCtx, this: i32) {
    let p = finish(IFACE, with_table(vmctx, |t| t.pollable(this)));
    wait(&[p], true);
}

unsafe fn poll(vmctx: *mut VmCtx, ptr: i32, len: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, 8, 4)?;
    let handles = read_array(&mem, ptr as u32, len as u32, 4, 4)?;
    if handles.is_empty() {
        return Err(fault(
            TrapKind::Unreachable,
            "poll was given an empty list of pollables",
        ));
    }
    let list = with_table(vmctx, |t| {
        handles
            .chunks_exact(4)
            .map(|h| t.pollable(i32::from_le_bytes(h.try_into().expect("4 bytes"))))
            .collect::<Result<Vec<_>, _>>()
    })?;
    drop(handles);
    let ready = wait(&list, true);
    drop(list);
    let bytes: Vec<u8> = ready.iter().flat_map(|i| i.to_le_bytes()).collect();
    let l = unsafe { canon::lower_array(vmctx, 4, 4, &bytes) }?;
    Area::new(8)
        .list(0, l)
        .store(&unsafe { memory(vmctx) }?, ret)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_poll(vmctx: *mut VmCtx, ptr: i32, len: i32, retptr: i32) {
    finish(IFACE, unsafe { poll(vmctx, ptr, len, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_pollable(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::Pollable)
}

// ---- streams: lowering results ----------------------------------------------------------------

/// A `stream-error` as (case, error handle): `last-operation-failed` owns a new `error`.
fn lower_stream_error(vmctx: *mut VmCtx, e: StreamError) -> Result<(u8, i32), Fault> {
    match e {
        StreamError::Failed(err) => Ok((0, insert(vmctx, Resource::Error(err))?)),
        StreamError::Closed => Ok((1, 0)),
    }
}

/// `result<u64, stream-error>`: 16 bytes, align 8.
unsafe fn store_u64(vmctx: *mut VmCtx, ret: u32, r: Result<u64, StreamError>) -> Result<(), Fault> {
    let mut a = Area::new(16);
    match r {
        Ok(v) => {
            let at = a.case(0, 0, 8);
            a.u64(at, v);
        }
        Err(e) => {
            let (case, handle) = lower_stream_error(vmctx, e)?;
            let at = a.case(0, 1, 8);
            let at = a.case(at, case, 4);
            a.u32(at, handle as u32);
        }
    }
    a.store(&unsafe { memory(vmctx) }?, ret)
}

/// `result<list<u8>, stream-error>` and `result<_, stream-error>`: 12 bytes, align 4.
unsafe fn store_list(
    vmctx: *mut VmCtx,
    ret: u32,
    r: Result<Option<(u32, u32)>, StreamError>,
) -> Result<(), Fault> {
    let mut a = Area::new(12);
    match r {
        Ok(list) => {
            let at = a.case(0, 0, 4);
            if let Some(l) = list {
                a.list(at, l);
            }
        }
        Err(e) => {
            let (case, handle) = lower_stream_error(vmctx, e)?;
            let at = a.case(0, 1, 4);
            let at = a.case(at, case, 4);
            a.u32(at, handle as u32);
        }
    }
    a.store(&unsafe { memory(vmctx) }?, ret)
}

// ---- input-stream -----------------------------------------------------------------------------

unsafe fn read(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    retptr: i32,
    block: bool,
) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 12, 4)?;
    let stream = with_table(vmctx, |t| t.input(this))?;
    let data = stream.read(len as u64, block);
    drop(stream);
    let lowered = match data {
        Ok(bytes) => Ok(Some(unsafe { canon::lower_bytes(vmctx, &bytes) }?)),
        Err(e) => Err(e),
    };
    unsafe { store_list(vmctx, ret, lowered) }
}

unsafe fn skip(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    retptr: i32,
    block: bool,
) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 16, 8)?;
    let stream = with_table(vmctx, |t| t.input(this))?;
    let r = stream.read(len as u64, block).map(|b| b.len() as u64);
    drop(stream);
    unsafe { store_u64(vmctx, ret, r) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_input_read(vmctx: *mut VmCtx, this: i32, len: i64, ret: i32) {
    finish(IFACE, unsafe { read(vmctx, this, len, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_input_blocking_read(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { read(vmctx, this, len, ret, true) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_input_skip(vmctx: *mut VmCtx, this: i32, len: i64, ret: i32) {
    finish(IFACE, unsafe { skip(vmctx, this, len, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_input_blocking_skip(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { skip(vmctx, this, len, ret, true) })
}

fn subscribe(vmctx: *mut VmCtx, this: i32, kind: Kind) -> Result<i32, Fault> {
    with_table(vmctx, |t| {
        let p = match kind {
            Kind::InputStream => Pollable::Stream(t.input(this)?, libc::POLLIN),
            _ => Pollable::Stream(t.output(this)?, libc::POLLOUT),
        };
        t.insert(Resource::Pollable(p))
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_input_subscribe(vmctx: *mut VmCtx, this: i32) -> i32 {
    finish(IFACE, subscribe(vmctx, this, Kind::InputStream))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_input_stream(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::InputStream)
}

// ---- output-stream ----------------------------------------------------------------------------

unsafe fn check_write(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 16, 8)?;
    let stream = with_table(vmctx, |t| t.output(this))?;
    let r = stream.check_write();
    drop(stream);
    unsafe { store_u64(vmctx, ret, r) }
}

/// `write` and `blocking-write-and-flush` (at most [`BLOCKING_MAX`] bytes).
unsafe fn write(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
    blocking: bool,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, 12, 4)?;
    let data = read_list(&mem, ptr as u32, len as u32)?;
    if blocking && data.len() as u64 > BLOCKING_MAX {
        return Err(fault(
            TrapKind::Unreachable,
            format!(
                "blocking-write-and-flush of {} bytes: at most {BLOCKING_MAX} at once",
                data.len()
            ),
        ));
    }
    let stream = with_table(vmctx, |t| t.output(this))?;
    if !blocking {
        stream.take_permit(data.len() as u64)?;
    }
    let r = stream.write_all(&data).map(|()| None);
    drop((stream, data));
    unsafe { store_list(vmctx, ret, r) }
}

unsafe fn flush(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 12, 4)?;
    let stream = with_table(vmctx, |t| t.output(this))?;
    let r = stream.flush().map(|()| None);
    drop(stream);
    unsafe { store_list(vmctx, ret, r) }
}

unsafe fn write_zeroes(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    retptr: i32,
    blocking: bool,
) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 12, 4)?;
    let len = len as u64;
    if blocking && len > BLOCKING_MAX {
        return Err(fault(
            TrapKind::Unreachable,
            format!(
                "blocking-write-zeroes-and-flush of {len} bytes: at most {BLOCKING_MAX} at once"
            ),
        ));
    }
    let stream = with_table(vmctx, |t| t.output(this))?;
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
    drop(stream);
    unsafe { store_list(vmctx, ret, r.map(|()| None)) }
}

unsafe fn splice(
    vmctx: *mut VmCtx,
    this: i32,
    src: i32,
    len: i64,
    retptr: i32,
    block: bool,
) -> Result<(), Fault> {
    let ret = ret_area(&unsafe { memory(vmctx) }?, retptr, 16, 8)?;
    let (out, input) = with_table(vmctx, |t| Ok::<_, Fault>((t.output(this)?, t.input(src)?)))?;
    let r = out.room().and_then(|permit| {
        let want = if block {
            len as u64
        } else {
            (len as u64).min(permit)
        };
        let data = input.read(want, block)?;
        out.write_all(&data)?;
        Ok(data.len() as u64)
    });
    drop((out, input));
    unsafe { store_u64(vmctx, ret, r) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_check_write(vmctx: *mut VmCtx, this: i32, ret: i32) {
    finish(IFACE, unsafe { check_write(vmctx, this, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_write(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
) {
    finish(IFACE, unsafe { write(vmctx, this, ptr, len, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_blocking_write_and_flush(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    ret: i32,
) {
    finish(IFACE, unsafe { write(vmctx, this, ptr, len, ret, true) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_flush(vmctx: *mut VmCtx, this: i32, ret: i32) {
    finish(IFACE, unsafe { flush(vmctx, this, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_blocking_flush(vmctx: *mut VmCtx, this: i32, ret: i32) {
    finish(IFACE, unsafe { flush(vmctx, this, ret) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_subscribe(vmctx: *mut VmCtx, this: i32) -> i32 {
    finish(IFACE, subscribe(vmctx, this, Kind::OutputStream))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_write_zeroes(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { write_zeroes(vmctx, this, len, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_blocking_write_zeroes_and_flush(
    vmctx: *mut VmCtx,
    this: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { write_zeroes(vmctx, this, len, ret, true) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_splice(
    vmctx: *mut VmCtx,
    this: i32,
    src: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { splice(vmctx, this, src, len, ret, false) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_output_blocking_splice(
    vmctx: *mut VmCtx,
    this: i32,
    src: i32,
    len: i64,
    ret: i32,
) {
    finish(IFACE, unsafe { splice(vmctx, this, src, len, ret, true) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_output_stream(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::OutputStream)
}

// Transitional: the generated traits, implemented as each interface moves to them.
impl crate::glue::wasi_io::error::Host for WasiP2 {}
impl crate::glue::wasi_io::poll::Host for WasiP2 {}
impl crate::glue::wasi_io::streams::Host for WasiP2 {}
