//! WASI-I2C (`wasi:i2c/i2c` and `wasi:i2c/delay`, versioned and not) and wafer's bus getters
//! (`wafer:hal/buses` and the `single-bus` world's `get-i2c-bus`), as the generated `Host`
//! traits of [`crate::glue::wasi_i2c`] and [`crate::glue::wafer_hal`] for [`I2c`].
//!
//! The generated glue lifts what the guest passes and lowers what it gets back, trapping
//! where the component model traps: a pointer, list or return area outside memory or
//! misaligned, an unknown variant case, a label that is not UTF-8, a bad `cabi_realloc`
//! answer. What is left here is what the canonical ABI cannot check: a handle the instance
//! does not own (`unknown handle`: never issued, dropped, or of the other resource type) is a
//! trap too. What the bus or the grant refuses is an `error-code`: an address outside the
//! grant (or above 0x7f), or a transfer over [`MAX_TRANSFER`], is `other` and never reaches
//! the bus; `WAFER_TRACE=i2c` says why.
//!
//! Locking: the instance's handle table is locked only to look a handle up or change it; a
//! transfer then holds its bus's own lock, so threads on different buses do not wait for each
//! other.

use std::sync::{Arc, Mutex};
use wafer_abi::TrapKind;

use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{fault, Buffer, Fault};
use crate::glue::wafer_hal::{buses, single_bus};
use crate::glue::wasi_i2c::delay::{self, Delay};
use crate::glue::wasi_i2c::i2c::{self, Address, ErrorCode, NoAcknowledgeSource, Operation};
use crate::instance::Instance;
use crate::resources::Table;
use wafer_devices::i2c::bus::{self as dev, Bus, NackSource, Op};
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
            _ => Err(not_owned("i2c", handle)),
        }
    }

    fn remove(&mut self, handle: i32, want_bus: bool) -> Result<(), Fault> {
        let ok = matches!(
            (self.get(handle), want_bus),
            (Some(Resource::I2c { .. }), true) | (Some(Resource::Delay), false)
        );
        if !ok {
            return Err(not_owned(if want_bus { "i2c" } else { "delay" }, handle));
        }
        self.table.remove(handle);
        Ok(())
    }
}

fn not_owned(what: &str, handle: i32) -> Fault {
    fault(
        TrapKind::UnknownHandle,
        format!("{what} handle {handle} is not owned by this instance"),
    )
}

/// The calling instance's handle table (see [`crate::instance::HostState`]).
fn with_handles<T>(cx: &Cx, f: impl FnOnce(&mut Handles) -> T) -> T {
    // SAFETY: host functions are called by compiled code with the caller's live vmctx.
    let instance = unsafe { Instance::from_vmctx(cx.vmctx) };
    f(&mut crate::instance::lock(&instance.host_state().i2c))
}

/// The bus's `error-code` as the WIT spells it.
fn wit_error(e: dev::ErrorCode) -> ErrorCode {
    match e {
        dev::ErrorCode::Bus => ErrorCode::Bus,
        dev::ErrorCode::ArbitrationLoss => ErrorCode::ArbitrationLoss,
        dev::ErrorCode::NoAcknowledge(s) => ErrorCode::NoAcknowledge(match s {
            NackSource::Address => NoAcknowledgeSource::Address,
            NackSource::Data => NoAcknowledgeSource::Data,
            NackSource::Unknown => NoAcknowledgeSource::Unknown,
        }),
        dev::ErrorCode::Overrun => ErrorCode::Overrun,
        dev::ErrorCode::Other => ErrorCode::Other,
    }
}

fn check_len(len: u64) -> Result<usize, dev::ErrorCode> {
    if len > MAX_TRANSFER {
        trace(|| format!("a transfer of {len} bytes is longer than the limit of {MAX_TRANSFER}"));
        return Err(dev::ErrorCode::Other);
    }
    Ok(len as usize)
}

fn refuse(why: String) -> dev::ErrorCode {
    trace(|| why);
    dev::ErrorCode::Other
}

/// Runs `f` on the bus behind `this`; what the bus or the grant refused as the WIT's
/// `error-code`.
fn on_bus<T>(
    cx: &Cx,
    this: Borrow<i2c::I2c>,
    f: impl FnOnce(&'static I2cGrant, &mut (dyn Bus + Send)) -> Result<T, dev::ErrorCode>,
) -> Result<Result<T, ErrorCode>, Fault> {
    let (grant, bus) = with_handles(cx, |h| h.bus(this.index()))?;
    let mut bus = crate::instance::lock(&bus);
    Ok(f(grant, bus.as_mut()).map_err(wit_error))
}

fn traced(
    grant: &I2cGrant,
    what: &str,
    address: u8,
    r: Result<(), dev::ErrorCode>,
) -> Result<(), dev::ErrorCode> {
    if let Err(e) = r {
        trace(|| format!("{what} at {address:#04x} on bus {}: {e:?}", grant.label));
    }
    r
}

/// `read`, and `write-read` when `write` holds the bytes to send first: once the grant allows
/// the address, `read_len` bytes from the bus.
fn read(
    cx: &Cx,
    this: Borrow<i2c::I2c>,
    address: Address,
    write: Option<Buffer>,
    read_len: u64,
) -> Result<Result<Buffer, ErrorCode>, Fault> {
    on_bus(cx, this, |grant, bus| {
        let access = if write.is_some() {
            Access::WriteRead
        } else {
            Access::Read
        };
        let addr = grant.check(address, access).map_err(refuse)?;
        if let Some(out) = &write {
            check_len(out.len() as u64)?;
        }
        let mut buf = Buffer::zeroed(check_len(read_len)?);
        let (what, result) = match &write {
            Some(out) => ("write-read", bus.write_read(addr, out, &mut buf)),
            None => ("read", bus.read(addr, &mut buf)),
        };
        traced(grant, what, addr, result)?;
        Ok(buf)
    })
}

/// One buffer per read of the transaction, each checked against [`MAX_TRANSFER`] before it
/// is allocated, as are the writes.
fn read_buffers(ops: &[Operation]) -> Result<Vec<Buffer>, dev::ErrorCode> {
    let mut reads = Vec::new();
    for op in ops {
        match op {
            Operation::Read(n) => reads.push(Buffer::zeroed(check_len(*n)?)),
            Operation::Write(w) => {
                check_len(w.len() as u64)?;
            }
        }
    }
    Ok(reads)
}

fn transaction(
    cx: &Cx,
    this: Borrow<i2c::I2c>,
    address: Address,
    ops: Vec<Operation>,
) -> Result<Result<Vec<Buffer>, ErrorCode>, Fault> {
    on_bus(cx, this, |grant, bus| {
        let mut reads = read_buffers(&ops)?;
        let mut read_bufs = reads.iter_mut();
        let mut bus_ops: Vec<Op<'_>> = ops
            .iter()
            .map(|op| match op {
                Operation::Read(_) => Op::Read(read_bufs.next().expect("one buffer per read")),
                Operation::Write(w) => Op::Write(w),
            })
            .collect();
        let addr = grant.check_ops(address, &bus_ops).map_err(refuse)?;
        traced(
            grant,
            "transaction",
            addr,
            bus.transaction(addr, &mut bus_ops),
        )?;
        drop(bus_ops);
        Ok(reads)
    })
}

/// Opens the bus `g` grants and stores it in the caller's table: its handle, or why the
/// backend could not open it (a full table is the fault).
fn open_bus(cx: &Cx, g: &'static I2cGrant) -> Result<Result<Own<i2c::I2c>, String>, Fault> {
    match wafer_devices::i2c::backend::open(g) {
        Ok(bus) => with_handles(cx, |h| {
            h.insert(Resource::I2c {
                grant: g,
                bus: Arc::new(Mutex::new(bus)),
            })
        })
        .map(|handle| Ok(Own::new(handle))),
        Err(why) => Ok(Err(why.to_string())),
    }
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

/// Implements the generated `Host` traits of WASI-I2C and `wafer:hal`.
pub struct I2c;

impl i2c::Host for I2c {
    fn i2c_transaction(
        cx: &mut Cx,
        this: Borrow<i2c::I2c>,
        address: Address,
        operations: Vec<Operation>,
    ) -> Result<Result<Vec<Buffer>, ErrorCode>, Fault> {
        transaction(cx, this, address, operations)
    }

    fn i2c_read(
        cx: &mut Cx,
        this: Borrow<i2c::I2c>,
        address: Address,
        len: u64,
    ) -> Result<Result<Buffer, ErrorCode>, Fault> {
        read(cx, this, address, None, len)
    }

    fn i2c_write(
        cx: &mut Cx,
        this: Borrow<i2c::I2c>,
        address: Address,
        data: Buffer,
    ) -> Result<Result<(), ErrorCode>, Fault> {
        on_bus(cx, this, |grant, bus| {
            let addr = grant.check(address, Access::Write).map_err(refuse)?;
            check_len(data.len() as u64)?;
            traced(grant, "write", addr, bus.write(addr, &data))
        })
    }

    fn i2c_write_read(
        cx: &mut Cx,
        this: Borrow<i2c::I2c>,
        address: Address,
        write: Buffer,
        read_len: u64,
    ) -> Result<Result<Buffer, ErrorCode>, Fault> {
        read(cx, this, address, Some(write), read_len)
    }

    fn drop_i2c(cx: &mut Cx, handle: Own<i2c::I2c>) -> Result<(), Fault> {
        with_handles(cx, |h| h.remove(handle.index(), true))
    }
}

impl delay::Host for I2c {
    fn delay_delay_ns(cx: &mut Cx, this: Borrow<Delay>, ns: u32) -> Result<(), Fault> {
        let owned = with_handles(cx, |h| matches!(h.get(this.index()), Some(Resource::Delay)));
        if !owned {
            return Err(not_owned("delay", this.index()));
        }
        // The table is not locked while the caller sleeps.
        sleep_ns(ns);
        Ok(())
    }

    fn drop_delay(cx: &mut Cx, handle: Own<Delay>) -> Result<(), Fault> {
        with_handles(cx, |h| h.remove(handle.index(), false))
    }
}

impl buses::Host for I2c {
    fn open_i2c(
        cx: &mut Cx,
        label: String,
    ) -> Result<Result<Own<i2c::I2c>, buses::OpenError>, Fault> {
        let Some(g) = grant::find(&label) else {
            trace(|| format!("open-i2c {label:?}: no bus is granted under that label"));
            return Ok(Err(buses::OpenError::NotGranted));
        };
        Ok(open_bus(cx, g)?.map_err(|why| {
            // Always said: the deployment, not the driver, has to fix this.
            eprintln!("wafer: i2c: cannot open bus {label} ({}): {why}", g.device);
            buses::OpenError::Unavailable
        }))
    }

    fn open_delay(cx: &mut Cx) -> Result<Own<Delay>, Fault> {
        with_handles(cx, |h| h.insert(Resource::Delay)).map(Own::new)
    }
}

/// `get-i2c-bus: func() -> i2c`, the world-level getter some published worlds use: the one
/// granted bus (`wafer build` refuses the module unless exactly one is granted). A bus that
/// cannot be opened is a trap, since the function has no error case.
impl single_bus::Host for I2c {
    fn get_i2c_bus(cx: &mut Cx) -> Result<Own<i2c::I2c>, Fault> {
        let g = match grant::grants() {
            [g] => g,
            grants => {
                return Err(fault(
                    TrapKind::UnknownHandle,
                    format!(
                        "get-i2c-bus needs exactly one granted bus, and {} are granted",
                        grants.len()
                    ),
                ))
            }
        };
        open_bus(cx, g)?.map_err(|why| {
            fault(
                TrapKind::UnknownHandle,
                format!(
                    "get-i2c-bus: cannot open bus {} ({}): {why}",
                    g.label, g.device
                ),
            )
        })
    }
}
