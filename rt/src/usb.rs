//! The imported functions of WASI-USB (`component:usb@0.2.1`, also spelled `wasi:usb@0.2.1`),
//! lowered the way wit-bindgen's guest code calls them (canonical ABI, wasm32). Every
//! fallible function returns through a return area (its result flattens to more than one
//! value):
//!
//! | import | wasm parameters | return area |
//! |---|---|---|
//! | `init`, `enable-hotplug` | (retptr) | result<_, e>: 2 bytes, align 1 |
//! | `list-devices` | (retptr) | 12 bytes, align 4; elements 28 bytes, align 4 |
//! | `[method]usb-device.open` | (self, retptr) | result<handle, e>: 8 bytes, align 4 |
//! | `[method]usb-device.get-*configuration-descriptor*` | (self, [u8,] retptr) | 20 bytes, align 4 |
//! | `[method]device-handle.get-configuration` | (self, retptr) | result<u8, e>: 2 bytes |
//! | `[method]device-handle.set-configuration` | (self, case, value, retptr) | 2 bytes |
//! | `[method]device-handle.alloc-streams` | (self, n, ptr, len, retptr) | 2 bytes |
//! | `[method]device-handle.new-transfer` | (self, type, 4 setup fields, buf-size, 4 options, retptr) | 8 bytes, align 4 |
//! | `[method]device-handle.close` | (self) | – |
//! | `[method]transfer.submit-transfer` | (self, ptr, len, retptr) | 2 bytes |
//! | `await-transfer` | (transfer, retptr) | result<list<u8>, e>: 12 bytes, align 4 |
//! | `poll-events` | (retptr) | list: 8 bytes, align 4; elements 12 bytes, align 4 |
//! | `[resource-drop]usb-device` / `device-handle` / `transfer` | (handle) | – |
//!
//! What the component model makes a trap is a trap here, as in [`crate::i2c`]: a pointer,
//! list or return area outside memory or misaligned, an enum or variant case that does not
//! exist, a bad `cabi_realloc` answer, and a handle the instance does not own or of another
//! resource type (`unknown handle`). What the grant refuses answers `access` and never reaches
//! the device: a device outside the grant is never listed, announced or opened, an interface
//! or endpoint outside it is refused; `WAFER_TRACE=usb` says why.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is the live `vmctx` of the calling instance.

#![allow(clippy::missing_safety_doc, clippy::too_many_arguments)]

use std::sync::{Arc, Mutex};

use wafer_abi::{TrapKind, VmCtx};
use wafer_devices::usb::grant::{self, UsbGrant};
use wafer_devices::usb::host::{DeviceInfo, Handle, Host, Pending};
use wafer_devices::usb::trace::trace;
use wafer_devices::usb::types::{ConfigDescriptor, Setup, TransferRequest, TransferType, UsbError};

use crate::canon::{fault, memory, oob, ret_area, Fault};
use crate::guest_mem::GuestMemory;
use crate::instance::Instance;
use crate::resources::Table;

/// The largest transfer a guest may ask for: Linux's usbfs refuses more by default
/// (`usbfs_memory_mb` = 16), and the simulation keeps the same limit. Larger is `no-mem`.
pub const MAX_TRANSFER: u32 = 16 << 20;

type SharedHandle = Arc<Mutex<Option<Box<dyn Handle>>>>;

fn lock_handle(h: &SharedHandle) -> std::sync::MutexGuard<'_, Option<Box<dyn Handle>>> {
    h.lock().unwrap_or_else(|e| e.into_inner())
}

/// A device handle as the guest holds it: `None` inside once closed.
struct OpenDevice {
    grant: UsbGrant,
    handle: SharedHandle,
    /// The interface each endpoint address belongs to, over every configuration.
    endpoint_interfaces: Vec<(u8, u8)>,
}

enum TransferState {
    New(TransferRequest),
    Submitted(Box<dyn Pending>),
}

enum Resource {
    Device {
        info: DeviceInfo,
        grant: UsbGrant,
    },
    Handle(OpenDevice),
    Transfer {
        handle: SharedHandle,
        state: TransferState,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Device,
    Handle,
    Transfer,
}

impl Resource {
    fn kind(&self) -> Kind {
        match self {
            Resource::Device { .. } => Kind::Device,
            Resource::Handle(_) => Kind::Handle,
            Resource::Transfer { .. } => Kind::Transfer,
        }
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Device => "usb-device",
        Kind::Handle => "device-handle",
        Kind::Transfer => "transfer",
    }
}

/// One instance's USB state: the backend's host once `init` (or the first call) opened it, and
/// its device, device-handle and transfer resources.
#[derive(Default)]
pub struct Handles {
    host: Option<Box<dyn Host>>,
    table: Table<Resource>,
}

impl Handles {
    fn insert(&mut self, r: Resource) -> Result<u32, Fault> {
        self.table
            .insert(r)
            .ok_or_else(|| fault(TrapKind::UnknownHandle, "handle table full"))
    }

    fn get(&mut self, handle: i32, kind: Kind) -> Result<&mut Resource, Fault> {
        match self.table.get_mut(handle) {
            Some(r) if r.kind() == kind => Ok(r),
            _ => Err(fault(
                TrapKind::UnknownHandle,
                format!(
                    "{} handle {handle} is not owned by this instance",
                    kind_name(kind)
                ),
            )),
        }
    }

    fn remove(&mut self, handle: i32, kind: Kind) -> Result<Resource, Fault> {
        self.get(handle, kind)?;
        Ok(self.table.remove(handle).expect("checked by get"))
    }

    fn host(&mut self) -> Result<&mut Box<dyn Host>, UsbError> {
        if self.host.is_none() {
            match wafer_devices::usb::backend::open() {
                Ok(h) => self.host = Some(h),
                Err(why) => {
                    // Always said: the deployment, not the driver, has to fix this.
                    eprintln!("wafer: usb: cannot start the USB backend: {why}");
                    return Err(UsbError::Other);
                }
            }
        }
        Ok(self.host.as_mut().expect("just set"))
    }
}

fn with_handles<T>(vmctx: *mut VmCtx, f: impl FnOnce(&mut Handles) -> T) -> T {
    // SAFETY: host functions are called by compiled code with the caller's live vmctx.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    f(&mut crate::instance::lock(&instance.host_state().usb))
}

fn finish(outcome: Result<(), Fault>) {
    crate::canon::finish("usb", outcome)
}

fn refuse(why: String) -> UsbError {
    trace(|| why);
    UsbError::Access
}

fn traced<T>(what: &str, r: Result<T, UsbError>) -> Result<T, UsbError> {
    if let Err(e) = &r {
        trace(|| format!("{what}: {e:?}"));
    }
    r
}

// ---- writing results -------------------------------------------------------------------------

fn write(mem: &GuestMemory, at: u32, bytes: &[u8]) -> Result<(), Fault> {
    mem.write_bytes(at, bytes)
        .map_err(|_| oob("return area outside memory"))
}

/// `result<_, libusb-error>` (and `result<u8, _>`, `result<bool, _>`: the same 2 bytes).
fn write_small(mem: &GuestMemory, retptr: u32, r: Result<u8, UsbError>) -> Result<(), Fault> {
    write(
        mem,
        retptr,
        &match r {
            Ok(v) => [0, v],
            Err(e) => [1, e as u8],
        },
    )
}

/// `result<handle, libusb-error>`: 8 bytes.
fn write_handle(mem: &GuestMemory, retptr: u32, r: Result<u32, UsbError>) -> Result<(), Fault> {
    let mut area = [0u8; 8];
    match r {
        Ok(h) => area[4..8].copy_from_slice(&h.to_le_bytes()),
        Err(e) => {
            area[0] = 1;
            area[4] = e as u8;
        }
    }
    write(mem, retptr, &area)
}

/// `result<list<_>, libusb-error>`: 12 bytes.
fn write_list(
    mem: &GuestMemory,
    retptr: u32,
    r: Result<(u32, u32), UsbError>,
) -> Result<(), Fault> {
    let mut area = [0u8; 12];
    match r {
        Ok((ptr, len)) => {
            area[4..8].copy_from_slice(&ptr.to_le_bytes());
            area[8..12].copy_from_slice(&len.to_le_bytes());
        }
        Err(e) => {
            area[0] = 1;
            area[4] = e as u8;
        }
    }
    write(mem, retptr, &area)
}

/// Copies `bytes` into a fresh guest allocation of the given alignment; (pointer, length) with
/// the length counted in elements of `elem` bytes.
unsafe fn lower(
    vmctx: *mut VmCtx,
    align: u32,
    elem: u32,
    bytes: &[u8],
) -> Result<(u32, u32), Fault> {
    unsafe { crate::canon::lower_array(vmctx, align, elem, bytes) }
}

/// Lowers a configuration descriptor: one guest array of endpoints per interface, then the
/// interface array; returns the 16-byte record.
unsafe fn lower_config(vmctx: *mut VmCtx, c: &ConfigDescriptor) -> Result<[u8; 16], Fault> {
    let mut interfaces = Vec::with_capacity(c.interfaces.len() * 16);
    for i in &c.interfaces {
        let mut eps = Vec::with_capacity(i.endpoints.len() * 10);
        for e in &i.endpoints {
            let mps = e.max_packet_size.to_le_bytes();
            eps.extend_from_slice(&[
                e.length,
                e.descriptor_type,
                e.address,
                e.attributes,
                mps[0],
                mps[1],
                e.interval,
                e.refresh,
                e.synch_address,
                0,
            ]);
        }
        let (ptr, len) = unsafe { lower(vmctx, 2, 10, &eps) }?;
        interfaces.extend_from_slice(&[i.length, i.descriptor_type, i.number, i.alternate_setting]);
        interfaces.extend_from_slice(&ptr.to_le_bytes());
        interfaces.extend_from_slice(&len.to_le_bytes());
        interfaces.extend_from_slice(&[i.class, i.subclass, i.protocol, i.index]);
    }
    let (ptr, len) = unsafe { lower(vmctx, 4, 16, &interfaces) }?;
    let mut rec = [0u8; 16];
    rec[0] = c.length;
    rec[1] = c.descriptor_type;
    rec[2..4].copy_from_slice(&c.total_length.to_le_bytes());
    rec[4..8].copy_from_slice(&ptr.to_le_bytes());
    rec[8..12].copy_from_slice(&len.to_le_bytes());
    rec[12..16].copy_from_slice(&[c.value, c.index, c.attributes, c.max_power]);
    Ok(rec)
}

/// The 28-byte element of `list-devices`: handle, device descriptor from 4, location at 22.
fn device_element(handle: u32, info: &DeviceInfo) -> [u8; 28] {
    let d = &info.descriptor;
    let mut e = [0u8; 28];
    e[0..4].copy_from_slice(&handle.to_le_bytes());
    e[4] = d.length;
    e[5] = d.descriptor_type;
    e[6..8].copy_from_slice(&d.usb_version.to_le_bytes());
    e[8..12].copy_from_slice(&[d.class, d.subclass, d.protocol, d.max_packet_size0]);
    e[12..14].copy_from_slice(&d.vendor_id.to_le_bytes());
    e[14..16].copy_from_slice(&d.product_id.to_le_bytes());
    e[16..18].copy_from_slice(&d.device_version.to_le_bytes());
    e[18..22].copy_from_slice(&[
        d.manufacturer_index,
        d.product_index,
        d.serial_index,
        d.num_configurations,
    ]);
    let l = &info.location;
    e[22..26].copy_from_slice(&[l.bus, l.address, l.port, l.speed as u8]);
    e
}

// ---- implementations -------------------------------------------------------------------------

unsafe fn init_impl(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 2, 1)?;
    let r = with_handles(vmctx, |h| h.host().map(|_| 0));
    write_small(&mem, retptr, r)
}

/// Lists the granted devices present now, each as a new `usb-device` resource.
unsafe fn list_devices_impl(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 12, 4)?;
    let listed = with_handles(vmctx, |h| -> Result<Result<Vec<u8>, UsbError>, Fault> {
        let devices = match h.host().and_then(|host| host.devices()) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = Vec::new();
        for info in devices {
            let Some(g) = grant::grant_for(grant::grants(), &info.descriptor) else {
                trace(|| {
                    format!(
                        "{:04x}:{:04x} at {}-{} is not granted: not listed",
                        info.descriptor.vendor_id,
                        info.descriptor.product_id,
                        info.location.bus,
                        info.location.address
                    )
                });
                continue;
            };
            let handle = h.insert(Resource::Device {
                info,
                grant: g.clone(),
            })?;
            out.extend_from_slice(&device_element(handle, &info));
        }
        Ok(Ok(out))
    })?;
    let lowered = match listed {
        Ok(bytes) => Ok(unsafe { lower(vmctx, 4, 28, &bytes) }?),
        Err(e) => Err(e),
    };
    write_list(&unsafe { memory(vmctx) }?, retptr, lowered)
}

fn device_of(h: &mut Handles, this: i32) -> Result<(DeviceInfo, UsbGrant), Fault> {
    match h.get(this, Kind::Device)? {
        Resource::Device { info, grant } => Ok((*info, grant.clone())),
        _ => unreachable!("kind checked"),
    }
}

/// Every (endpoint address, interface) pair of the device's configurations.
fn endpoint_interfaces(host: &mut dyn Host, info: &DeviceInfo) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    for index in 0..info.descriptor.num_configurations {
        let Ok(raw) = host.config_descriptor(info.key, index) else {
            continue;
        };
        let Ok(c) = ConfigDescriptor::parse(&raw, index) else {
            continue;
        };
        for i in &c.interfaces {
            for e in &i.endpoints {
                if !out.contains(&(e.address, i.number)) {
                    out.push((e.address, i.number));
                }
            }
        }
    }
    out
}

unsafe fn open_impl(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 8, 4)?;
    let r = with_handles(vmctx, |h| -> Result<Result<u32, UsbError>, Fault> {
        let (info, grant) = device_of(h, this)?;
        let host = match h.host() {
            Ok(host) => host,
            Err(e) => return Ok(Err(e)),
        };
        let handle = match traced("open", host.open(info.key)) {
            Ok(handle) => handle,
            Err(e) => return Ok(Err(e)),
        };
        let endpoint_interfaces = endpoint_interfaces(host.as_mut(), &info);
        Ok(Ok(h.insert(Resource::Handle(OpenDevice {
            grant,
            handle: Arc::new(Mutex::new(Some(handle))),
            endpoint_interfaces,
        }))?))
    })?;
    write_handle(&mem, retptr, r)
}

/// Which configuration a descriptor call asks for.
enum Which {
    Index(u8),
    Value(u8),
    Active,
}

unsafe fn config_impl(
    vmctx: *mut VmCtx,
    this: i32,
    which: Which,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 20, 4)?;
    let found = with_handles(
        vmctx,
        |h| -> Result<Result<ConfigDescriptor, UsbError>, Fault> {
            let (info, _) = device_of(h, this)?;
            let host = match h.host() {
                Ok(host) => host,
                Err(e) => return Ok(Err(e)),
            };
            let by_value = |host: &mut Box<dyn Host>, value: u8| {
                (0..info.descriptor.num_configurations)
                    .find_map(|i| {
                        let raw = host.config_descriptor(info.key, i).ok()?;
                        ConfigDescriptor::parse(&raw, i)
                            .ok()
                            .filter(|c| c.value == value)
                    })
                    .ok_or(UsbError::NotFound)
            };
            Ok(match which {
                Which::Index(i) => host
                    .config_descriptor(info.key, i)
                    .and_then(|raw| ConfigDescriptor::parse(&raw, i)),
                Which::Value(v) => by_value(host, v),
                Which::Active => match host.active_config(info.key) {
                    Ok(0) => Err(UsbError::NotFound),
                    Ok(v) => by_value(host, v),
                    Err(e) => Err(e),
                },
            })
        },
    )?;
    let mut area = [0u8; 20];
    match found {
        Ok(c) => area[4..20].copy_from_slice(&unsafe { lower_config(vmctx, &c) }?),
        Err(e) => {
            area[0] = 1;
            area[4] = e as u8;
        }
    }
    write(&unsafe { memory(vmctx) }?, retptr, &area)
}

/// Runs `f` on the open device behind `this` (`no-device` once closed).
fn on_handle<T>(
    vmctx: *mut VmCtx,
    this: i32,
    f: impl FnOnce(&OpenDevice, &mut dyn Handle) -> Result<T, UsbError>,
) -> Result<Result<T, UsbError>, Fault> {
    with_handles(vmctx, |h| {
        let Resource::Handle(open) = h.get(this, Kind::Handle)? else {
            unreachable!("kind checked")
        };
        let shared = open.handle.clone();
        let mut guard = lock_handle(&shared);
        Ok(match guard.as_mut() {
            Some(handle) => f(open, handle.as_mut()),
            None => Err(UsbError::NoDevice),
        })
    })
}

/// A handle method answering `result<_, e>` (or a byte), after `retptr` is checked.
unsafe fn small_method(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
    what: &str,
    f: impl FnOnce(&OpenDevice, &mut dyn Handle) -> Result<u8, UsbError>,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 2, 1)?;
    let r = on_handle(vmctx, this, f)?;
    write_small(&mem, retptr, traced(what, r))
}

fn interface_ok(open: &OpenDevice, interface: u8) -> Result<(), UsbError> {
    grant::check_interface(&open.grant, interface).map_err(refuse)
}

/// Runs on every transfer: no allocation unless it refuses.
fn endpoint_ok(open: &OpenDevice, endpoint: u8) -> Result<(), UsbError> {
    grant::check_endpoint(&open.grant, endpoint, None).map_err(refuse)?;
    for &(_, i) in open
        .endpoint_interfaces
        .iter()
        .filter(|(e, _)| *e == endpoint)
    {
        grant::check_endpoint(&open.grant, endpoint, Some(i)).map_err(refuse)?;
    }
    Ok(())
}

fn unrestricted(open: &OpenDevice, what: &str) -> Result<(), UsbError> {
    if open.grant.interfaces.is_some() || open.grant.endpoints.is_some() {
        return Err(refuse(format!(
            "{what} on {:04x}:{:04x} needs a grant without interface or endpoint limits",
            open.grant.vendor, open.grant.product
        )));
    }
    Ok(())
}

fn read_endpoints(mem: &GuestMemory, ptr: i32, len: i32) -> Result<Vec<u8>, Fault> {
    let (ptr, len) = (ptr as u32, len as u32);
    // A copy, never a slice: other threads of the guest may be writing these bytes.
    mem.read_bytes(ptr, len, u64::MAX, crate::wasi::errno::FAULT)
        .map_err(|_| oob(format!("list {ptr:#x}+{len} is outside memory")))
}

unsafe fn streams_impl(
    vmctx: *mut VmCtx,
    this: i32,
    count: Option<u32>,
    ptr: i32,
    len: i32,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let endpoints = read_endpoints(&mem, ptr, len)?;
    unsafe {
        small_method(vmctx, this, retptr, "streams", |open, handle| {
            for e in &endpoints {
                endpoint_ok(open, *e)?;
            }
            match count {
                Some(n) => handle.alloc_streams(n, &endpoints),
                None => handle.free_streams(&endpoints),
            }
            .map(|()| 0)
        })
    }
}

unsafe fn new_transfer_impl(
    vmctx: *mut VmCtx,
    this: i32,
    kind: i32,
    setup: [i32; 4],
    buf_size: i32,
    options: [i32; 4],
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 8, 4)?;
    let kind = TransferType::from_wit(kind as u32)
        .ok_or_else(|| oob(format!("transfer-type {kind} does not exist")))?;
    let length = buf_size as u32;
    let [endpoint, timeout_ms, stream_id, iso_packets] = options.map(|v| v as u32);
    let endpoint = endpoint as u8;
    let r = with_handles(vmctx, |h| -> Result<Result<u32, UsbError>, Fault> {
        let Resource::Handle(open) = h.get(this, Kind::Handle)? else {
            unreachable!("kind checked")
        };
        let checked = (|| {
            if lock_handle(&open.handle).is_none() {
                return Err(UsbError::NoDevice);
            }
            if length > MAX_TRANSFER {
                trace(|| {
                    format!("a transfer of {length} bytes is over the limit of {MAX_TRANSFER}")
                });
                return Err(UsbError::NoMem);
            }
            let setup = match kind {
                TransferType::Control => {
                    let s = Setup {
                        request_type: setup[0] as u8,
                        request: setup[1] as u8,
                        value: setup[2] as u16,
                        index: setup[3] as u16,
                        length: u16::try_from(length).map_err(|_| {
                            trace(|| {
                                format!("a control transfer of {length} bytes does not fit wLength")
                            });
                            UsbError::InvalidParam
                        })?,
                    };
                    grant::check_control(&open.grant, &s).map_err(refuse)?;
                    Some(s)
                }
                _ => {
                    endpoint_ok(open, endpoint)?;
                    None
                }
            };
            Ok(TransferRequest {
                kind,
                endpoint: if setup.is_some() { 0 } else { endpoint },
                setup,
                length,
                data: Vec::new(),
                timeout_ms,
                stream_id,
                iso_packets,
            })
        })();
        let handle = open.handle.clone();
        Ok(match traced("new-transfer", checked) {
            Ok(request) => Ok(h.insert(Resource::Transfer {
                handle,
                state: TransferState::New(request),
            })?),
            Err(e) => Err(e),
        })
    })?;
    write_handle(&mem, retptr, r)
}

unsafe fn submit_impl(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 2, 1)?;
    mem.range(ptr as u32, len as u32 as u64).map_err(|_| {
        oob(format!(
            "list {:#x}+{} is outside memory",
            ptr as u32, len as u32
        ))
    })?;
    let r = with_handles(vmctx, |h| -> Result<Result<u8, UsbError>, Fault> {
        let Resource::Transfer { handle, state } = h.get(this, Kind::Transfer)? else {
            unreachable!("kind checked")
        };
        let TransferState::New(request) = state else {
            trace(|| "a transfer was submitted twice".into());
            return Ok(Err(UsbError::Busy));
        };
        let mut request = request.clone();
        if !request.is_in() {
            if len as u32 != request.length {
                trace(|| {
                    format!(
                        "an OUT transfer of {} bytes was given {} bytes",
                        request.length, len as u32
                    )
                });
                return Ok(Err(UsbError::InvalidParam));
            }
            // Checked above (a memory never shrinks); a copy, never a slice: other threads of
            // the guest may be writing these bytes.
            request.data = mem
                .read_bytes(ptr as u32, len as u32, u64::MAX, crate::wasi::errno::FAULT)
                .map_err(|_| oob("OUT data outside memory"))?;
        }
        let submitted = match lock_handle(handle).as_mut() {
            Some(device) => device.submit(request),
            None => Err(UsbError::NoDevice),
        };
        Ok(match traced("submit-transfer", submitted) {
            Ok(pending) => {
                *state = TransferState::Submitted(pending);
                Ok(0)
            }
            Err(e) => Err(e),
        })
    })?;
    write_small(&mem, retptr, r)
}

unsafe fn cancel_impl(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 2, 1)?;
    let r = with_handles(vmctx, |h| -> Result<Result<u8, UsbError>, Fault> {
        let Resource::Transfer { state, .. } = h.get(this, Kind::Transfer)? else {
            unreachable!("kind checked")
        };
        Ok(match state {
            TransferState::Submitted(p) => p.cancel().map(|()| 0),
            TransferState::New(_) => Err(UsbError::NotFound),
        })
    })?;
    write_small(&mem, retptr, r)
}

unsafe fn await_impl(vmctx: *mut VmCtx, this: i32, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 12, 4)?;
    // Owned: the transfer leaves the table whatever happens next.
    let resource = with_handles(vmctx, |h| h.remove(this, Kind::Transfer))?;
    let Resource::Transfer { state, .. } = resource else {
        unreachable!("kind checked")
    };
    // The wait runs with no host state borrowed: it may take as long as the timeout.
    let (result, limit) = match state {
        TransferState::Submitted(mut p) => (p.wait(), MAX_TRANSFER),
        TransferState::New(_) => (Err(UsbError::NotFound), 0),
    };
    let result = traced("await-transfer", result);
    let lowered = match result {
        Ok(data) if data.len() as u64 > limit as u64 => Err(UsbError::Overflow),
        Ok(data) => Ok(unsafe { lower(vmctx, 1, 1, &data) }?),
        Err(e) => Err(e),
    };
    write_list(&unsafe { memory(vmctx) }?, retptr, lowered)
}

unsafe fn poll_events_impl(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 8, 4)?;
    let bytes = with_handles(vmctx, |h| -> Result<Vec<u8>, Fault> {
        let events = match h.host.as_mut() {
            Some(host) => host.poll_events(),
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for (event, info) in events {
            let Some(g) = grant::grant_for(grant::grants(), &info.descriptor) else {
                continue;
            };
            let handle = h.insert(Resource::Device {
                info,
                grant: g.clone(),
            })?;
            let d = &info.descriptor;
            out.push(event.bits());
            out.push(0);
            out.extend_from_slice(&[info.location.bus, info.location.address]);
            out.extend_from_slice(&d.vendor_id.to_le_bytes());
            out.extend_from_slice(&d.product_id.to_le_bytes());
            out.extend_from_slice(&handle.to_le_bytes());
        }
        Ok(out)
    })?;
    let (ptr, len) = unsafe { lower(vmctx, 4, 12, &bytes) }?;
    let mut area = [0u8; 8];
    area[0..4].copy_from_slice(&ptr.to_le_bytes());
    area[4..8].copy_from_slice(&len.to_le_bytes());
    write(&unsafe { memory(vmctx) }?, retptr, &area)
}

unsafe fn enable_hotplug_impl(vmctx: *mut VmCtx, retptr: i32) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let retptr = ret_area(&mem, retptr, 2, 1)?;
    let r = with_handles(vmctx, |h| h.host().and_then(|host| host.enable_hotplug()));
    write_small(&mem, retptr, r.map(|()| 0))
}

// ---- exported symbols ------------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_init(vmctx: *mut VmCtx, retptr: i32) {
    finish(unsafe { init_impl(vmctx, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_list_devices(vmctx: *mut VmCtx, retptr: i32) {
    finish(unsafe { list_devices_impl(vmctx, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_device_open(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    finish(unsafe { open_impl(vmctx, this, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_device_config_descriptor(
    vmctx: *mut VmCtx,
    this: i32,
    index: i32,
    retptr: i32,
) {
    finish(unsafe { config_impl(vmctx, this, Which::Index(index as u8), retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_device_config_descriptor_by_value(
    vmctx: *mut VmCtx,
    this: i32,
    value: i32,
    retptr: i32,
) {
    finish(unsafe { config_impl(vmctx, this, Which::Value(value as u8), retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_device_active_config_descriptor(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
) {
    finish(unsafe { config_impl(vmctx, this, Which::Active, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_drop_device(vmctx: *mut VmCtx, handle: i32) {
    finish(with_handles(vmctx, |h| {
        h.remove(handle, Kind::Device).map(drop)
    }))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_get_configuration(
    vmctx: *mut VmCtx,
    this: i32,
    retptr: i32,
) {
    finish(unsafe {
        small_method(vmctx, this, retptr, "get-configuration", |_, d| {
            d.get_configuration()
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_set_configuration(
    vmctx: *mut VmCtx,
    this: i32,
    case: i32,
    value: i32,
    retptr: i32,
) {
    let config = match case {
        0 => Ok(None),
        1 => Ok(Some(value as u8)),
        _ => Err(oob(format!("config-value case {case} does not exist"))),
    };
    finish(config.and_then(|config| unsafe {
        small_method(vmctx, this, retptr, "set-configuration", |_, d| {
            d.set_configuration(config).map(|()| 0)
        })
    }))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_claim_interface(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "claim-interface", |o, d| {
            interface_ok(o, iface)?;
            d.claim_interface(iface).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_release_interface(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "release-interface", |o, d| {
            interface_ok(o, iface)?;
            d.release_interface(iface).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_set_interface_altsetting(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    alt: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "set-interface-altsetting", |o, d| {
            interface_ok(o, iface)?;
            d.set_alt_setting(iface, alt as u8).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_clear_halt(
    vmctx: *mut VmCtx,
    this: i32,
    endpoint: i32,
    retptr: i32,
) {
    let endpoint = endpoint as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "clear-halt", |o, d| {
            endpoint_ok(o, endpoint)?;
            d.clear_halt(endpoint).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_reset_device(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    finish(unsafe {
        small_method(vmctx, this, retptr, "reset-device", |o, d| {
            unrestricted(o, "reset-device")?;
            d.reset().map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_alloc_streams(
    vmctx: *mut VmCtx,
    this: i32,
    count: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    finish(unsafe { streams_impl(vmctx, this, Some(count as u32), ptr, len, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_free_streams(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    finish(unsafe { streams_impl(vmctx, this, None, ptr, len, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_kernel_driver_active(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "kernel-driver-active", |o, d| {
            interface_ok(o, iface)?;
            d.kernel_driver_active(iface).map(u8::from)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_detach_kernel_driver(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "detach-kernel-driver", |o, d| {
            interface_ok(o, iface)?;
            d.detach_kernel_driver(iface).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_attach_kernel_driver(
    vmctx: *mut VmCtx,
    this: i32,
    iface: i32,
    retptr: i32,
) {
    let iface = iface as u8;
    finish(unsafe {
        small_method(vmctx, this, retptr, "attach-kernel-driver", |o, d| {
            interface_ok(o, iface)?;
            d.attach_kernel_driver(iface).map(|()| 0)
        })
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_new_transfer(
    vmctx: *mut VmCtx,
    this: i32,
    kind: i32,
    request_type: i32,
    request: i32,
    value: i32,
    index: i32,
    buf_size: i32,
    endpoint: i32,
    timeout_ms: i32,
    stream_id: i32,
    iso_packets: i32,
    retptr: i32,
) {
    finish(unsafe {
        new_transfer_impl(
            vmctx,
            this,
            kind,
            [request_type, request, value, index],
            buf_size,
            [endpoint, timeout_ms, stream_id, iso_packets],
            retptr,
        )
    })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_handle_close(vmctx: *mut VmCtx, this: i32) {
    finish(with_handles(vmctx, |h| {
        let Resource::Handle(open) = h.get(this, Kind::Handle)? else {
            unreachable!("kind checked")
        };
        lock_handle(&open.handle).take();
        Ok(())
    }))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_drop_handle(vmctx: *mut VmCtx, handle: i32) {
    finish(with_handles(vmctx, |h| {
        h.remove(handle, Kind::Handle).map(drop)
    }))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_transfer_submit(
    vmctx: *mut VmCtx,
    this: i32,
    ptr: i32,
    len: i32,
    retptr: i32,
) {
    finish(unsafe { submit_impl(vmctx, this, ptr, len, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_transfer_cancel(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    finish(unsafe { cancel_impl(vmctx, this, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_await_transfer(vmctx: *mut VmCtx, this: i32, retptr: i32) {
    finish(unsafe { await_impl(vmctx, this, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_drop_transfer(vmctx: *mut VmCtx, handle: i32) {
    let removed = with_handles(vmctx, |h| h.remove(handle, Kind::Transfer));
    // A transfer still in flight is cancelled (and its completion reaped) when dropped,
    // outside the host state borrow.
    if let Ok(Resource::Transfer {
        state: TransferState::Submitted(mut p),
        ..
    }) = removed
    {
        let _ = p.cancel();
        drop(p);
        return;
    }
    finish(removed.map(drop))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_enable_hotplug(vmctx: *mut VmCtx, retptr: i32) {
    finish(unsafe { enable_hotplug_impl(vmctx, retptr) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_usb_poll_events(vmctx: *mut VmCtx, retptr: i32) {
    finish(unsafe { poll_events_impl(vmctx, retptr) })
}

/// Implements the generated `Host` traits of WASI-USB.
pub struct Usb;
impl crate::glue::component_usb::device::Host for Usb {}
impl crate::glue::component_usb::transfers::Host for Usb {}
impl crate::glue::component_usb::usb_hotplug::Host for Usb {}
impl crate::glue::component_usb_usb_2026::transfers::Host for Usb {}
