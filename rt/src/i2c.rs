//! The imported functions of `wasi:i2c/i2c`, `wasi:i2c/delay` and `wafer:hal/buses`, lowered
//! the way wit-bindgen's guest code calls them (canonical ABI, wasm32):
//!
//! | import | wasm signature | return area |
//! |---|---|---|
//! | `[method]i2c.transaction` | (self, address, ops_ptr, ops_len, retptr) | 12 bytes, align 4 |
//! | `[method]i2c.read` | (self, address, len: i64, retptr) | 12 bytes, align 4 |
//! | `[method]i2c.write` | (self, address, data_ptr, data_len, retptr) | 3 bytes, align 1 |
//! | `[method]i2c.write-read` | (self, address, ptr, len, read_len: i64, retptr) | 12 bytes, align 4 |
//! | `[method]delay.delay-ns` | (self, ns) | – |
//! | `[resource-drop]i2c`, `[resource-drop]delay` | (handle) | – |
//! | `open-i2c` | (label_ptr, label_len, retptr) | 8 bytes, align 4 |
//! | `open-delay` | () -> handle | – |
//!
//! Lists the guest passes are copied out of its memory after a range check; lists returned are
//! allocated in the guest through its exported `cabi_realloc(0, 0, align, size)`, and the range
//! it answers is checked too. What the component model makes a trap is a trap here: a pointer
//! or list outside memory, a misaligned return area, an unknown variant tag, a label that is
//! not UTF-8, a bad `cabi_realloc` answer (`out of bounds memory access`), and a handle the
//! instance does not own (`unknown handle`: never issued, dropped, or of the other resource
//! type). What the bus or the grant refuses is an `error-code`: an address outside the grant
//! (or above 0x7f) is `other` and never reaches the bus; `WAFER_TRACE=i2c` says why.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is the live `vmctx` of the calling instance.

#![allow(clippy::missing_safety_doc)]

use std::sync::{Arc, Mutex};
use wafer_abi::{TrapKind, VmCtx};

use crate::canon::{
    self, fault, guest_alloc, lower_bytes, memory, oob, read_list, ret_area, Buffer, Fault,
};
use crate::guest_mem::GuestMemory;
use crate::instance::Instance;
use crate::resources::Table;
use wafer_devices::i2c::bus::{Bus, ErrorCode, Op};
use wafer_devices::i2c::grant::{self, Access, I2cGrant};
use wafer_devices::i2c::trace::trace;

/// The largest single transfer: i2c-dev's message length is 16 bits, and every backend keeps
/// the same limit so a driver behaves the same on the simulation.
pub const MAX_TRANSFER: u64 = 0xFFFF;

/// An open bus. Each has its own lock, taken for the length of one transfer after the handle
/// table's lock is released, so threads using different buses do not wait for each other.
type SharedBus = Arc<Mutex<Box<dyn Bus + Send>>>;

enum Resource {
    I2c {
        grant: &'static I2cGrant,
        bus: SharedBus,
    },
    Delay,
}

/// One instance's I2C and delay handles.
#[derive(Default)]
pub struct Handles {
    table: Table<Resource>,
}

impl Handles {
    fn insert(&mut self, r: Resource) -> Result<u32, Fault> {
        self.table
            .insert(r)
            .ok_or_else(|| fault(TrapKind::UnknownHandle, "handle table full"))
    }

    fn get(&mut self, handle: i32) -> Option<&mut Resource> {
        self.table.get_mut(handle)
    }

    fn bus(&mut self, handle: i32) -> Result<(&'static I2cGrant, SharedBus), Fault> {
        match self.get(handle) {
            Some(Resource::I2c { grant, bus }) => Ok((*grant, Arc::clone(bus))),
            _ => Err(fault(
                TrapKind::UnknownHandle,
                format!("i2c handle {handle} is not owned by this instance"),
            )),
        }
    }

    fn remove(&mut self, handle: i32, want_bus: bool) -> Result<(), Fault> {
        let ok = matches!(
            (self.get(handle), want_bus),
            (Some(Resource::I2c { .. }), true) | (Some(Resource::Delay), false)
        );
        if !ok {
            let what = if want_bus { "i2c" } else { "delay" };
            return Err(fault(
                TrapKind::UnknownHandle,
                format!("{what} handle {handle} is not owned by this instance"),
            ));
        }
        self.table.remove(handle);
        Ok(())
    }
}

/// The calling instance's handle table (see [`crate::instance::HostState`]).
fn with_handles<T>(vmctx: *mut VmCtx, f: impl FnOnce(&mut Handles) -> T) -> T {
    // SAFETY: host functions are called by compiled code with the caller's live vmctx.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    f(&mut crate::instance::lock(&instance.host_state().i2c))
}

/// Ends a host call: a fault becomes the trap, after everything it owns is dropped.
fn finish(vmctx: *mut VmCtx, outcome: Result<(), Fault>) {
    let _ = vmctx;
    canon::finish("i2c", outcome)
}

/// Writes a `result<list<u8>, error-code>` (or the list-of-lists variant, same shape).
fn write_list_result(
    vmctx: *mut VmCtx,
    retptr: u32,
    result: Result<(u32, u32), ErrorCode>,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let mut area = [0u8; 12];
    match result {
        Ok((ptr, len)) => {
            area[4..8].copy_from_slice(&ptr.to_le_bytes());
            area[8..12].copy_from_slice(&len.to_le_bytes());
        }
        Err(e) => {
            let (case, payload) = e.encode();
            area[0] = 1;
            area[4] = case;
            area[5] = payload;
        }
    }
    mem.write_bytes(retptr, &area)
        .map_err(|_| oob("return area outside memory"))
}

fn check_len(len: u64) -> Result<usize, ErrorCode> {
    if len > MAX_TRANSFER {
        trace(|| format!("a transfer of {len} bytes is longer than the limit of {MAX_TRANSFER}"));
        return Err(ErrorCode::Other);
    }
    Ok(len as usize)
}

fn refuse(why: String) -> ErrorCode {
    trace(|| why);
    ErrorCode::Other
}

/// Runs `f` on the bus behind `handle` once the grant allows `address`.
fn on_bus<T>(
    vmctx: *mut VmCtx,
    handle: i32,
    f: impl FnOnce(&'static I2cGrant, &mut (dyn Bus + Send)) -> Result<T, ErrorCode>,
) -> Result<Result<T, ErrorCode>, Fault> {
    let (grant, bus) = with_handles(vmctx, |h| h.bus(handle))?;
    let mut bus = crate::instance::lock(&bus);
    Ok(f(grant, bus.as_mut()))
}

fn traced(
    grant: &I2cGrant,
    what: &str,
    address: u8,
    r: Result<(), ErrorCode>,
) -> Result<(), ErrorCode> {
    if let Err(e) = r {
        trace(|| format!("{what} at {address:#04x} on bus {}: {e:?}", grant.label));
    }
    r
}

unsafe fn read_impl(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    len: i64,
    retptr: i32,
) -> Result<(), Fault> {
    unsafe { read_into_guest(vmctx, this, address, None, len, retptr) }
}

unsafe fn write_read_impl(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    wptr: i32,
    wlen: i32,
    read_len: i64,
    retptr: i32,
) -> Result<(), Fault> {
    unsafe { read_into_guest(vmctx, this, address, Some((wptr, wlen)), read_len, retptr) }
}

/// `read`, and `write-read` when `write` names the guest's (pointer, length) of bytes to send
/// first: once the grant allows the address, `read_len` bytes come back to the guest as
/// `result<list<u8>, error-code>` at `retptr`.
unsafe fn read_into_guest(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    write: Option<(i32, i32)>,
    read_len: i64,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 12, 4)?;
    let out = match write {
        Some((ptr, len)) => Some(read_list(&mem, ptr as u32, len as u32)?),
        None => None,
    };
    let data = on_bus(vmctx, this, |grant, bus| {
        let access = if out.is_some() {
            Access::WriteRead
        } else {
            Access::Read
        };
        let addr = grant.check(address as u16, access).map_err(refuse)?;
        if let Some(out) = &out {
            check_len(out.len() as u64)?;
        }
        let mut buf = Buffer::zeroed(check_len(read_len as u64)?);
        let (what, result) = match &out {
            Some(out) => ("write-read", bus.write_read(addr, out, &mut buf)),
            None => ("read", bus.read(addr, &mut buf)),
        };
        traced(grant, what, addr, result)?;
        Ok(buf)
    })?;
    let lowered = match data {
        Ok(bytes) => Ok(unsafe { lower_bytes(vmctx, &bytes) }?),
        Err(e) => Err(e),
    };
    write_list_result(vmctx, retptr, lowered)
}

unsafe fn write_impl(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 3, 1)?;
    let data = read_list(&mem, ptr as u32, len as u32)?;
    let result = on_bus(vmctx, this, |grant, bus| {
        let addr = grant.check(address as u16, Access::Write).map_err(refuse)?;
        check_len(data.len() as u64)?;
        traced(grant, "write", addr, bus.write(addr, &data))
    })?;
    let area = match result {
        Ok(()) => [0, 0, 0],
        Err(e) => {
            let (case, payload) = e.encode();
            [1, case, payload]
        }
    };
    mem.write_bytes(retptr, &area)
        .map_err(|_| oob("return area outside memory"))
}

/// A transaction's operations as read from guest memory.
enum OwnedOp {
    Read(usize),
    Write(Buffer),
}

fn read_ops(mem: &GuestMemory, ptr: u32, count: u32) -> Result<Vec<OwnedOp>, Fault> {
    if !ptr.is_multiple_of(8) {
        return Err(oob(format!("operation list {ptr:#x} is not 8-aligned")));
    }
    let bytes = read_list(
        mem,
        ptr,
        count
            .checked_mul(16)
            .ok_or_else(|| oob("operation list too long"))?,
    )
    .map_err(|_| oob(format!("operation list {ptr:#x}x{count} is outside memory")))?;
    let mut ops = Vec::new();
    for (i, op) in bytes.chunks_exact(16).enumerate() {
        let word = |at: usize| u32::from_le_bytes(op[at..at + 4].try_into().expect("4 bytes"));
        ops.push(match op[0] {
            0 => {
                let len = u64::from_le_bytes(op[8..16].try_into().expect("8 bytes"));
                // Over-long reads are refused with an error code below, not allocated here.
                OwnedOp::Read(len.min(MAX_TRANSFER + 1) as usize)
            }
            1 => OwnedOp::Write(read_list(mem, word(8), word(12))?),
            tag => return Err(oob(format!("operation {i} has the unknown tag {tag}"))),
        });
    }
    Ok(ops)
}

unsafe fn transaction_impl(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    ops_ptr: i32,
    ops_len: i32,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 12, 4)?;
    let ops = read_ops(&mem, ops_ptr as u32, ops_len as u32)?;
    let data = on_bus(vmctx, this, |grant, bus| {
        let mut reads: Vec<Vec<u8>> = Vec::new();
        for op in &ops {
            match op {
                OwnedOp::Read(n) => reads.push(vec![0u8; check_len(*n as u64)?]),
                OwnedOp::Write(w) => {
                    check_len(w.len() as u64)?;
                }
            }
        }
        let mut read_bufs = reads.iter_mut();
        let mut bus_ops: Vec<Op<'_>> = ops
            .iter()
            .map(|op| match op {
                OwnedOp::Read(_) => Op::Read(read_bufs.next().expect("one buffer per read")),
                OwnedOp::Write(w) => Op::Write(w),
            })
            .collect();
        let addr = grant.check_ops(address as u16, &bus_ops).map_err(refuse)?;
        traced(
            grant,
            "transaction",
            addr,
            bus.transaction(addr, &mut bus_ops),
        )?;
        drop(bus_ops);
        Ok(reads)
    })?;
    let lowered = match data {
        Ok(reads) => {
            let mut pairs = Vec::with_capacity(reads.len() * 8);
            for r in &reads {
                let (p, l) = unsafe { lower_bytes(vmctx, r) }?;
                pairs.extend_from_slice(&p.to_le_bytes());
                pairs.extend_from_slice(&l.to_le_bytes());
            }
            let outer = unsafe { guest_alloc(vmctx, 4, pairs.len() as u32) }?;
            unsafe { memory(vmctx) }?
                .write_bytes(outer, &pairs)
                .map_err(|_| oob("list outside memory"))?;
            Ok((outer, reads.len() as u32))
        }
        Err(e) => Err(e),
    };
    write_list_result(vmctx, retptr, lowered)
}

/// Opens the bus `g` grants and stores it in the caller's table: its handle, or why the
/// backend could not open it (a full table is the fault).
fn open_bus(vmctx: *mut VmCtx, g: &'static I2cGrant) -> Result<Result<u32, String>, Fault> {
    match wafer_devices::i2c::backend::open(g) {
        Ok(bus) => with_handles(vmctx, |h| {
            h.insert(Resource::I2c {
                grant: g,
                bus: Arc::new(Mutex::new(bus)),
            })
        })
        .map(Ok),
        Err(why) => Ok(Err(why.to_string())),
    }
}

unsafe fn open_i2c_impl(vmctx: *mut VmCtx, ptr: i32, len: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 8, 4)?;
    let label = String::from_utf8(read_list(&mem, ptr as u32, len as u32)?.to_vec())
        .map_err(|_| oob("the bus label is not UTF-8"))?;
    // open-error: 0 not-granted, 1 unavailable.
    let opened = match grant::find(&label) {
        None => {
            trace(|| format!("open-i2c {label:?}: no bus is granted under that label"));
            Err(0u8)
        }
        Some(g) => match open_bus(vmctx, g)? {
            Ok(handle) => Ok(handle),
            Err(why) => {
                // Always said: the deployment, not the driver, has to fix this.
                eprintln!("wafer: i2c: cannot open bus {label} ({}): {why}", g.device);
                Err(1u8)
            }
        },
    };
    let mut area = [0u8; 8];
    match opened {
        Ok(handle) => area[4..8].copy_from_slice(&handle.to_le_bytes()),
        Err(code) => {
            area[0] = 1;
            area[4] = code;
        }
    }
    mem.write_bytes(retptr, &area)
        .map_err(|_| oob("return area outside memory"))
}

fn sleep_ns(ns: u32) {
    let mut left = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        let mut rem = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: both pointers are live locals.
        let r = unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &left, &mut rem) };
        if r != libc::EINTR {
            return;
        }
        left = rem;
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_read(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    len: i64,
    retptr: i32,
) {
    finish(vmctx, unsafe {
        read_impl(vmctx, this, address, len, retptr)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_write(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    finish(vmctx, unsafe {
        write_impl(vmctx, this, address, ptr, len, retptr)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_write_read(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    ptr: i32,
    len: i32,
    read_len: i64,
    retptr: i32,
) {
    finish(vmctx, unsafe {
        write_read_impl(vmctx, this, address, ptr, len, read_len, retptr)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_transaction(
    vmctx: *mut VmCtx,
    this: i32,
    address: i32,
    ops: i32,
    count: i32,
    retptr: i32,
) {
    finish(vmctx, unsafe {
        transaction_impl(vmctx, this, address, ops, count, retptr)
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_drop_i2c(vmctx: *mut VmCtx, handle: i32) {
    finish(vmctx, with_handles(vmctx, |h| h.remove(handle, true)))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_delay_ns(vmctx: *mut VmCtx, this: i32, ns: i32) {
    let owned = with_handles(vmctx, |h| matches!(h.get(this), Some(Resource::Delay)));
    if owned {
        sleep_ns(ns as u32);
    }
    finish(
        vmctx,
        if owned {
            Ok(())
        } else {
            Err(fault(
                TrapKind::UnknownHandle,
                format!("delay handle {this} is not owned by this instance"),
            ))
        },
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_drop_delay(vmctx: *mut VmCtx, handle: i32) {
    finish(vmctx, with_handles(vmctx, |h| h.remove(handle, false)))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_open_i2c(vmctx: *mut VmCtx, ptr: i32, len: i32, retptr: i32) {
    finish(vmctx, unsafe { open_i2c_impl(vmctx, ptr, len, retptr) })
}

/// `$root` `get-i2c-bus: func() -> i2c`, the world-level getter some published worlds use:
/// the one granted bus (`wafer build` refuses the module unless exactly one is granted). A
/// bus that cannot be opened is a trap, since the function has no error case.
#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_get_i2c_bus(vmctx: *mut VmCtx) -> i32 {
    let opened = match grant::grants() {
        [g] => match open_bus(vmctx, g) {
            Ok(Ok(handle)) => Ok(handle),
            Ok(Err(why)) => Err(fault(
                TrapKind::UnknownHandle,
                format!(
                    "get-i2c-bus: cannot open bus {} ({}): {why}",
                    g.label, g.device
                ),
            )),
            Err(f) => Err(f),
        },
        grants => Err(fault(
            TrapKind::UnknownHandle,
            format!(
                "get-i2c-bus needs exactly one granted bus, and {} are granted",
                grants.len()
            ),
        )),
    };
    match opened {
        Ok(handle) => handle as i32,
        Err(f) => {
            finish(vmctx, Err(f));
            0
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_i2c_open_delay(vmctx: *mut VmCtx) -> i32 {
    match with_handles(vmctx, |h| h.insert(Resource::Delay)) {
        Ok(handle) => handle as i32,
        Err(f) => {
            finish(vmctx, Err(f));
            0
        }
    }
}

/// Implements the generated `Host` traits of WASI-I2C and `wafer:hal`.
pub struct I2c;
impl crate::glue::wasi_i2c::i2c::Host for I2c {}
impl crate::glue::wasi_i2c::delay::Host for I2c {}
impl crate::glue::wafer_hal::buses::Host for I2c {}
impl crate::glue::wafer_hal::single_bus::Host for I2c {}
