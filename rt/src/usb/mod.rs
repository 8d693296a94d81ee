//! WASI-USB (`component:usb@0.2.1`, also spelled `wasi:usb@0.2.1`): `device`, `transfers` and
//! `usb-hotplug`, as the generated `Host` traits of [`crate::glue::component_usb`] for [`Usb`].
//!
//! The generated glue lifts what the guest passes and lowers what it gets back (descriptors
//! with their nested interface and endpoint lists, device lists, received data), trapping
//! where the component model traps, as in [`crate::i2c`]: a pointer, list or return area
//! outside memory or misaligned, an enum or variant case that does not exist, a bad
//! `cabi_realloc` answer. What is left here is what the canonical ABI cannot check: a handle
//! the instance does not own or of another resource type is a trap too (`unknown handle`).
//! What the grant refuses answers `access` and never reaches the device: a device outside the
//! grant is never listed, announced or opened, an interface or endpoint outside it is
//! refused; `WAFER_TRACE=usb` says why.
//!
//! The 2024 prototype of the same idea, `wadu436:usb@0.0.1`, is [`wadu436`]: its own resources
//! on the same backend host, grants and configuration lookups, which this module shares with it.
//!
//! Locking: the instance's USB state is locked for the length of one call, except while
//! `await-transfer` waits (the transfer leaves the table first) and while a dropped transfer
//! still in flight is cancelled; a guest is never called (`cabi_realloc`) under it, since the
//! glue lowers results after the method returns.

use std::sync::{Arc, Mutex};

use wafer_abi::TrapKind;
use wafer_devices::usb::grant::{self, UsbGrant};
use wafer_devices::usb::host::{DeviceInfo, Handle, Host as UsbHost, Pending};
use wafer_devices::usb::trace::trace;
use wafer_devices::usb::types::{self as dev, Setup, TransferRequest, UsbError};

use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{fault, Buffer, Fault};
use crate::glue::component_usb::configuration::ConfigValue;
use crate::glue::component_usb::descriptors::{
    ConfigurationDescriptor, DeviceDescriptor, EndpointDescriptor, InterfaceDescriptor,
};
use crate::glue::component_usb::device::{self, DeviceHandle, DeviceLocation, UsbDevice, UsbSpeed};
use crate::glue::component_usb::errors::LibusbError;
use crate::glue::component_usb::transfers::{
    self, Transfer, TransferOptions, TransferSetup, TransferType,
};
use crate::glue::component_usb::usb_hotplug::{self, Event, Info};
use crate::glue::component_usb_usb_2026::errors::LibusbError as Error2026;
use crate::glue::component_usb_usb_2026::transfers::{
    self as transfers_2026, IsoPacket, IsoPacketStatus, Transfer as Transfer2026, TransferResult,
};
use crate::instance::Instance;
use crate::resources::Table;

pub mod terminate;
pub mod wadu436;

/// The largest transfer a guest may ask for: Linux's usbfs refuses more by default
/// (`usbfs_memory_mb` = 16), and the simulation keeps the same limit. Larger is `no-mem`.
pub const MAX_TRANSFER: u32 = 16 << 20;

/// What most methods answer: a trap, or the WIT's `result<T, libusb-error>`.
type Answer<T> = Result<Result<T, LibusbError>, Fault>;

/// An open device several resources (or calls) reach: `None` inside once closed.
pub(crate) type SharedHandle = Arc<Mutex<Option<Box<dyn Handle>>>>;

pub(crate) fn lock_handle(h: &SharedHandle) -> std::sync::MutexGuard<'_, Option<Box<dyn Handle>>> {
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
    /// Awaited through the 2026 `await-transfer`, which leaves the transfer with the guest.
    Awaited,
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
/// its device, device-handle and transfer resources, and those of the 2024 prototype.
#[derive(Default)]
pub struct Handles {
    host: Option<Box<dyn UsbHost>>,
    table: Table<Resource>,
    wadu436: wadu436::Resources,
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

    pub(crate) fn host(&mut self) -> Result<&mut Box<dyn UsbHost>, UsbError> {
        if self.host.is_none() {
            match wafer_devices::usb::backend::open() {
                Ok(h) => {
                    terminate::install();
                    self.host = Some(h)
                }
                Err(why) => {
                    // Always said: the deployment, not the driver, has to fix this.
                    eprintln!("wafer: usb: cannot start the USB backend: {why}");
                    return Err(UsbError::Other);
                }
            }
        }
        Ok(self.host.as_mut().expect("just set"))
    }

    /// A new `usb-device` resource for `info`, which grant `g` lets the guest see.
    fn insert_device(&mut self, info: DeviceInfo, g: &UsbGrant) -> Result<Own<UsbDevice>, Fault> {
        let handle = self.insert(Resource::Device {
            info,
            grant: g.clone(),
        })?;
        Ok(Own::new(handle))
    }
}

/// The grant that lets the guest see a device it lists (both USB APIs); none, with the reason
/// traced, for a device it must not see.
pub(crate) fn listed_grant(info: &DeviceInfo) -> Option<&'static UsbGrant> {
    let g = grant::grant_for(grant::grants(), &info.descriptor);
    if g.is_none() {
        trace(|| {
            format!(
                "{:04x}:{:04x} at {}-{} is not granted: not listed",
                info.descriptor.vendor_id,
                info.descriptor.product_id,
                info.location.bus,
                info.location.address
            )
        });
    }
    g
}

pub(crate) fn with_handles<T>(cx: &Cx, f: impl FnOnce(&mut Handles) -> T) -> T {
    // Every USB call passes here first: none starts once the process is ending.
    terminate::hold_if_ending();
    // SAFETY: host functions are called by compiled code with the caller's live vmctx.
    let instance = unsafe { Instance::from_vmctx(cx.vmctx) };
    f(&mut crate::instance::lock(&instance.host_state().usb))
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

// ---- the backend's values as the WIT spells them ---------------------------------------------

fn wit_error(e: UsbError) -> LibusbError {
    match e {
        UsbError::Io => LibusbError::Io,
        UsbError::InvalidParam => LibusbError::InvalidParam,
        UsbError::Access => LibusbError::Access,
        UsbError::NoDevice => LibusbError::NoDevice,
        UsbError::NotFound => LibusbError::NotFound,
        UsbError::Busy => LibusbError::Busy,
        UsbError::Timeout => LibusbError::Timeout,
        UsbError::Overflow => LibusbError::Overflow,
        UsbError::Pipe => LibusbError::Pipe,
        UsbError::Interrupted => LibusbError::Interrupted,
        UsbError::NoMem => LibusbError::NoMem,
        UsbError::NotSupported => LibusbError::NotSupported,
        UsbError::Other => LibusbError::Other,
    }
}

fn wit_device_descriptor(d: &dev::DeviceDescriptor) -> DeviceDescriptor {
    DeviceDescriptor {
        length: d.length,
        descriptor_type: d.descriptor_type,
        usb_version_bcd: d.usb_version,
        device_class: d.class,
        device_subclass: d.subclass,
        device_protocol: d.protocol,
        max_packet_size0: d.max_packet_size0,
        vendor_id: d.vendor_id,
        product_id: d.product_id,
        device_version_bcd: d.device_version,
        manufacturer_index: d.manufacturer_index,
        product_index: d.product_index,
        serial_number_index: d.serial_index,
        num_configurations: d.num_configurations,
    }
}

fn wit_location(l: &dev::Location) -> DeviceLocation {
    DeviceLocation {
        bus_number: l.bus,
        device_address: l.address,
        port_number: l.port,
        speed: match l.speed {
            dev::Speed::Unknown => UsbSpeed::Unknown,
            dev::Speed::Low => UsbSpeed::Low,
            dev::Speed::Full => UsbSpeed::Full,
            dev::Speed::High => UsbSpeed::High,
            dev::Speed::Super => UsbSpeed::Super,
            dev::Speed::SuperPlus => UsbSpeed::SuperPlus,
            dev::Speed::SuperPlusX2 => UsbSpeed::SuperPlusX2,
        },
    }
}

fn wit_endpoint(e: &dev::EndpointDescriptor) -> EndpointDescriptor {
    EndpointDescriptor {
        length: e.length,
        descriptor_type: e.descriptor_type,
        endpoint_address: e.address,
        attributes: e.attributes,
        max_packet_size: e.max_packet_size,
        interval: e.interval,
        refresh: e.refresh,
        synch_address: e.synch_address,
    }
}

fn wit_interface(i: &dev::InterfaceDescriptor) -> InterfaceDescriptor {
    InterfaceDescriptor {
        length: i.length,
        descriptor_type: i.descriptor_type,
        interface_number: i.number,
        alternate_setting: i.alternate_setting,
        endpoints: i.endpoints.iter().map(wit_endpoint).collect(),
        interface_class: i.class,
        interface_subclass: i.subclass,
        interface_protocol: i.protocol,
        interface_index: i.index,
    }
}

fn wit_config(c: &dev::ConfigDescriptor) -> ConfigurationDescriptor {
    ConfigurationDescriptor {
        length: c.length,
        descriptor_type: c.descriptor_type,
        total_length: c.total_length,
        interfaces: c.interfaces.iter().map(wit_interface).collect(),
        configuration_value: c.value,
        configuration_index: c.index,
        attributes: c.attributes,
        max_power: c.max_power,
    }
}

fn backend_transfer_type(t: TransferType) -> dev::TransferType {
    match t {
        TransferType::Control => dev::TransferType::Control,
        TransferType::Bulk => dev::TransferType::Bulk,
        TransferType::Interrupt => dev::TransferType::Interrupt,
        TransferType::Isochronous => dev::TransferType::Isochronous,
    }
}

// ---- devices ---------------------------------------------------------------------------------

/// Lists the granted devices present now, each as a new `usb-device` resource.
fn list_devices(cx: &Cx) -> Answer<Vec<(Own<UsbDevice>, DeviceDescriptor, DeviceLocation)>> {
    with_handles(cx, |h| {
        let devices = match h.host().and_then(|host| host.devices()) {
            Ok(d) => d,
            Err(e) => return Ok(Err(wit_error(e))),
        };
        let mut out = Vec::new();
        for info in devices {
            let Some(g) = listed_grant(&info) else {
                continue;
            };
            let handle = h.insert_device(info, g)?;
            out.push((
                handle,
                wit_device_descriptor(&info.descriptor),
                wit_location(&info.location),
            ));
        }
        Ok(Ok(out))
    })
}

fn device_of(h: &mut Handles, this: Borrow<UsbDevice>) -> Result<(DeviceInfo, UsbGrant), Fault> {
    match h.get(this.index(), Kind::Device)? {
        Resource::Device { info, grant } => Ok((*info, grant.clone())),
        _ => unreachable!("kind checked"),
    }
}

/// Every (endpoint address, interface) pair of the device's configurations.
fn endpoint_interfaces(host: &mut dyn UsbHost, info: &DeviceInfo) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    for index in 0..info.descriptor.num_configurations {
        let Ok(raw) = host.config_descriptor(info.key, index) else {
            continue;
        };
        let Ok(c) = dev::ConfigDescriptor::parse(&raw, index) else {
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

fn open(cx: &Cx, this: Borrow<UsbDevice>) -> Answer<Own<DeviceHandle>> {
    with_handles(cx, |h| {
        let (info, grant) = device_of(h, this)?;
        let host = match h.host() {
            Ok(host) => host,
            Err(e) => return Ok(Err(wit_error(e))),
        };
        let handle = match traced("open", host.open(info.key)) {
            Ok(handle) => handle,
            Err(e) => return Ok(Err(wit_error(e))),
        };
        let endpoint_interfaces = endpoint_interfaces(host.as_mut(), &info);
        let handle = h.insert(Resource::Handle(OpenDevice {
            grant,
            handle: Arc::new(Mutex::new(Some(handle))),
            endpoint_interfaces,
        }))?;
        Ok(Ok(Own::new(handle)))
    })
}

/// Which configuration a descriptor call asks for.
pub(crate) enum Which {
    Index(u8),
    Value(u8),
    Active,
}

/// The configuration whose `bConfigurationValue` is `value`.
fn config_by_value(
    host: &mut dyn UsbHost,
    info: &DeviceInfo,
    value: u8,
) -> Result<dev::ConfigDescriptor, UsbError> {
    (0..info.descriptor.num_configurations)
        .find_map(|i| {
            let raw = host.config_descriptor(info.key, i).ok()?;
            dev::ConfigDescriptor::parse(&raw, i)
                .ok()
                .filter(|c| c.value == value)
        })
        .ok_or(UsbError::NotFound)
}

pub(crate) fn find_config(
    host: &mut dyn UsbHost,
    info: &DeviceInfo,
    which: Which,
) -> Result<dev::ConfigDescriptor, UsbError> {
    match which {
        Which::Index(i) => host
            .config_descriptor(info.key, i)
            .and_then(|raw| dev::ConfigDescriptor::parse(&raw, i)),
        Which::Value(v) => config_by_value(host, info, v),
        Which::Active => match host.active_config(info.key)? {
            0 => Err(UsbError::NotFound),
            v => config_by_value(host, info, v),
        },
    }
}

fn config(cx: &Cx, this: Borrow<UsbDevice>, which: Which) -> Answer<ConfigurationDescriptor> {
    with_handles(cx, |h| {
        let (info, _) = device_of(h, this)?;
        let found = h
            .host()
            .and_then(|host| find_config(host.as_mut(), &info, which));
        Ok(found.map(|c| wit_config(&c)).map_err(wit_error))
    })
}

// ---- device handles --------------------------------------------------------------------------

/// Runs `f` on the open device behind `this` (`no-device` once closed); `what` names the call
/// in the trace of what it refused.
fn on_handle<T>(
    cx: &Cx,
    this: Borrow<DeviceHandle>,
    what: &str,
    f: impl FnOnce(&OpenDevice, &mut dyn Handle) -> Result<T, UsbError>,
) -> Answer<T> {
    let r = with_handles(cx, |h| {
        let Resource::Handle(open) = h.get(this.index(), Kind::Handle)? else {
            unreachable!("kind checked")
        };
        let shared = open.handle.clone();
        let mut guard = lock_handle(&shared);
        Ok(match guard.as_mut() {
            Some(handle) => f(open, handle.as_mut()),
            None => Err(UsbError::NoDevice),
        })
    })?;
    Ok(traced(what, r).map_err(wit_error))
}

/// [`on_handle`] for a method on one interface, which the grant must allow first.
fn on_interface<T>(
    cx: &Cx,
    this: Borrow<DeviceHandle>,
    what: &str,
    interface: u8,
    f: impl FnOnce(&mut dyn Handle) -> Result<T, UsbError>,
) -> Answer<T> {
    on_handle(cx, this, what, |open, d| {
        interface_ok(open, interface)?;
        f(d)
    })
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
    unlimited_grant(&open.grant, what).map_err(refuse)
}

/// Why `what` (a call that affects the whole device) is refused, if it is: it needs a grant
/// without interface or endpoint limits.
pub(crate) fn unlimited_grant(g: &UsbGrant, what: &str) -> Result<(), String> {
    if g.interfaces.is_some() || g.endpoints.is_some() {
        return Err(format!(
            "{what} on {:04x}:{:04x} needs a grant without interface or endpoint limits",
            g.vendor, g.product
        ));
    }
    Ok(())
}

/// `alloc-streams` (`count` streams) or `free-streams` (none) on granted endpoints.
fn streams(
    cx: &Cx,
    this: Borrow<DeviceHandle>,
    count: Option<u32>,
    endpoints: &[u8],
) -> Answer<()> {
    on_handle(cx, this, "streams", |open, handle| {
        for e in endpoints {
            endpoint_ok(open, *e)?;
        }
        match count {
            Some(n) => handle.alloc_streams(n, endpoints),
            None => handle.free_streams(endpoints),
        }
    })
}

/// The request `new-transfer` describes, once the device is open and the grant allows it.
fn transfer_request(
    open: &OpenDevice,
    kind: TransferType,
    setup: &TransferSetup,
    length: u32,
    opts: &TransferOptions,
) -> Result<TransferRequest, UsbError> {
    if lock_handle(&open.handle).is_none() {
        return Err(UsbError::NoDevice);
    }
    if length > MAX_TRANSFER {
        trace(|| format!("a transfer of {length} bytes is over the limit of {MAX_TRANSFER}"));
        return Err(UsbError::NoMem);
    }
    let setup = match kind {
        TransferType::Control => {
            let s = Setup {
                request_type: setup.bm_request_type,
                request: setup.b_request,
                value: setup.w_value,
                index: setup.w_index,
                length: u16::try_from(length).map_err(|_| {
                    trace(|| format!("a control transfer of {length} bytes does not fit wLength"));
                    UsbError::InvalidParam
                })?,
            };
            grant::check_control(&open.grant, &s).map_err(refuse)?;
            Some(s)
        }
        _ => {
            endpoint_ok(open, opts.endpoint)?;
            None
        }
    };
    Ok(TransferRequest {
        kind: backend_transfer_type(kind),
        endpoint: if setup.is_some() { 0 } else { opts.endpoint },
        setup,
        length,
        data: Vec::new(),
        timeout_ms: opts.timeout_ms,
        stream_id: opts.stream_id,
        iso_packets: opts.iso_packets,
    })
}

fn new_transfer(
    cx: &Cx,
    this: Borrow<DeviceHandle>,
    kind: TransferType,
    setup: TransferSetup,
    length: u32,
    opts: TransferOptions,
) -> Answer<Own<Transfer>> {
    with_handles(cx, |h| {
        let Resource::Handle(open) = h.get(this.index(), Kind::Handle)? else {
            unreachable!("kind checked")
        };
        let checked = transfer_request(open, kind, &setup, length, &opts);
        let handle = open.handle.clone();
        Ok(match traced("new-transfer", checked) {
            Ok(request) => Ok(Own::new(h.insert(Resource::Transfer {
                handle,
                state: TransferState::New(request),
            })?)),
            Err(e) => Err(wit_error(e)),
        })
    })
}

fn close(cx: &Cx, this: Borrow<DeviceHandle>) -> Result<(), Fault> {
    with_handles(cx, |h| {
        let Resource::Handle(open) = h.get(this.index(), Kind::Handle)? else {
            unreachable!("kind checked")
        };
        lock_handle(&open.handle).take();
        Ok(())
    })
}

// ---- transfers -------------------------------------------------------------------------------

fn submit(cx: &Cx, this: Borrow<Transfer>, data: Buffer) -> Answer<()> {
    let r = with_handles(cx, |h| {
        let Resource::Transfer { handle, state } = h.get(this.index(), Kind::Transfer)? else {
            unreachable!("kind checked")
        };
        let TransferState::New(request) = state else {
            trace(|| "a transfer was submitted again".into());
            return Ok(Err(UsbError::Busy));
        };
        let mut request = request.clone();
        if !request.is_in() {
            if data.len() as u32 != request.length {
                trace(|| {
                    format!(
                        "an OUT transfer of {} bytes was given {} bytes",
                        request.length,
                        data.len()
                    )
                });
                return Ok(Err(UsbError::InvalidParam));
            }
            request.data = data.to_vec();
        }
        let submitted = match lock_handle(handle).as_mut() {
            Some(device) => device.submit(request),
            None => Err(UsbError::NoDevice),
        };
        Ok(traced("submit-transfer", submitted).map(|pending| {
            *state = TransferState::Submitted(pending);
        }))
    })?;
    Ok(r.map_err(wit_error))
}

fn cancel(cx: &Cx, this: Borrow<Transfer>) -> Answer<()> {
    with_handles(cx, |h| {
        let Resource::Transfer { state, .. } = h.get(this.index(), Kind::Transfer)? else {
            unreachable!("kind checked")
        };
        Ok(match state {
            TransferState::Submitted(p) => p.cancel().map_err(wit_error),
            TransferState::New(_) | TransferState::Awaited => Err(LibusbError::NotFound),
        })
    })
}

fn await_transfer(cx: &Cx, xfer: Own<Transfer>) -> Answer<Buffer> {
    // Owned: the transfer leaves the table whatever happens next.
    let resource = with_handles(cx, |h| h.remove(xfer.index(), Kind::Transfer))?;
    let Resource::Transfer { state, .. } = resource else {
        unreachable!("kind checked")
    };
    // The wait runs with no host state borrowed: it may take as long as the timeout.
    let result = match state {
        TransferState::Submitted(mut p) => {
            let r = p.wait();
            terminate::hold_if_ending();
            r
        }
        TransferState::New(_) | TransferState::Awaited => Err(UsbError::NotFound),
    };
    Ok(received(result))
}

/// What a wait brought, as the guest receives it: never more than a transfer can hold.
fn received(result: Result<Vec<u8>, UsbError>) -> Result<Buffer, LibusbError> {
    match traced("await-transfer", result) {
        Ok(data) if data.len() as u64 > MAX_TRANSFER as u64 => Err(LibusbError::Overflow),
        Ok(data) => Ok(Buffer::from(data)),
        Err(e) => Err(wit_error(e)),
    }
}

/// The 2026 `await-transfer`: the transfer stays the guest's, to drop itself (awaiting it
/// again answers `not-found`, submitting it again `busy`), and an isochronous transfer says
/// how each of its packets ended.
fn await_borrowed(cx: &Cx, xfer: Borrow<Transfer>) -> Answer<TransferResult> {
    let pending = with_handles(cx, |h| {
        let Resource::Transfer { state, .. } = h.get(xfer.index(), Kind::Transfer)? else {
            unreachable!("kind checked")
        };
        Ok(match std::mem::replace(state, TransferState::Awaited) {
            TransferState::Submitted(p) => Some(p),
            other => {
                *state = other;
                None
            }
        })
    })?;
    let Some(mut p) = pending else {
        return Ok(Err(LibusbError::NotFound));
    };
    // As for the owned form, the wait holds no host state.
    let result = p.wait();
    terminate::hold_if_ending();
    let data = received(result);
    let packets = p
        .iso_packets()
        .into_iter()
        .map(|packet| IsoPacket {
            actual_length: packet.actual_length,
            status: iso_status(packet.status),
        })
        .collect();
    Ok(data.map(|data| TransferResult { data, packets }))
}

fn iso_status(s: dev::IsoStatus) -> IsoPacketStatus {
    match s {
        dev::IsoStatus::Success => IsoPacketStatus::Success,
        dev::IsoStatus::Error => IsoPacketStatus::Error,
        dev::IsoStatus::TimedOut => IsoPacketStatus::TimedOut,
        dev::IsoStatus::Cancelled => IsoPacketStatus::Cancelled,
        dev::IsoStatus::Stall => IsoPacketStatus::Stall,
        dev::IsoStatus::NoDevice => IsoPacketStatus::NoDevice,
        dev::IsoStatus::Overflow => IsoPacketStatus::Overflow,
    }
}

fn drop_transfer(cx: &Cx, handle: Own<Transfer>) -> Result<(), Fault> {
    let removed = with_handles(cx, |h| h.remove(handle.index(), Kind::Transfer))?;
    // A transfer still in flight is cancelled (and its completion reaped) when dropped,
    // outside the host state lock.
    if let Resource::Transfer {
        state: TransferState::Submitted(mut p),
        ..
    } = removed
    {
        let _ = p.cancel();
    }
    Ok(())
}

// ---- hotplug ---------------------------------------------------------------------------------

/// The events since the last poll on granted devices, each with a new `usb-device` resource.
fn poll_events(cx: &Cx) -> Result<Vec<(Event, Info, Own<UsbDevice>)>, Fault> {
    with_handles(cx, |h| {
        let events = match h.host.as_mut() {
            Some(host) => host.poll_events(),
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for (event, info) in events {
            let Some(g) = grant::grant_for(grant::grants(), &info.descriptor) else {
                continue;
            };
            let handle = h.insert_device(info, g)?;
            let event = match event {
                dev::Event::Arrived => Event::ARRIVED,
                dev::Event::Left => Event::LEFT,
            };
            let about = Info {
                bus: info.location.bus,
                address: info.location.address,
                vendor: info.descriptor.vendor_id,
                product: info.descriptor.product_id,
            };
            out.push((event, about, handle));
        }
        Ok(out)
    })
}

// ---- the generated traits --------------------------------------------------------------------

/// Implements the generated `Host` traits of WASI-USB.
pub struct Usb;

impl device::Host for Usb {
    fn init(cx: &mut Cx) -> Answer<()> {
        Ok(with_handles(cx, |h| h.host().map(drop)).map_err(wit_error))
    }

    fn list_devices(
        cx: &mut Cx,
    ) -> Answer<Vec<(Own<UsbDevice>, DeviceDescriptor, DeviceLocation)>> {
        list_devices(cx)
    }

    fn usb_device_open(cx: &mut Cx, this: Borrow<UsbDevice>) -> Answer<Own<DeviceHandle>> {
        open(cx, this)
    }

    fn usb_device_get_configuration_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        config_index: u8,
    ) -> Answer<ConfigurationDescriptor> {
        config(cx, this, Which::Index(config_index))
    }

    fn usb_device_get_configuration_descriptor_by_value(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        config_value: u8,
    ) -> Answer<ConfigurationDescriptor> {
        config(cx, this, Which::Value(config_value))
    }

    fn usb_device_get_active_configuration_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
    ) -> Answer<ConfigurationDescriptor> {
        config(cx, this, Which::Active)
    }

    fn drop_usb_device(cx: &mut Cx, handle: Own<UsbDevice>) -> Result<(), Fault> {
        with_handles(cx, |h| h.remove(handle.index(), Kind::Device).map(drop))
    }

    fn device_handle_get_configuration(cx: &mut Cx, this: Borrow<DeviceHandle>) -> Answer<u8> {
        on_handle(cx, this, "get-configuration", |_, d| d.get_configuration())
    }

    fn device_handle_set_configuration(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        config: ConfigValue,
    ) -> Answer<()> {
        let config = match config {
            ConfigValue::Unconfigured => None,
            ConfigValue::Value(v) => Some(v),
        };
        on_handle(cx, this, "set-configuration", |_, d| {
            d.set_configuration(config)
        })
    }

    fn device_handle_claim_interface(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
    ) -> Answer<()> {
        on_interface(cx, this, "claim-interface", ifac, |d| {
            d.claim_interface(ifac)
        })
    }

    fn device_handle_release_interface(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
    ) -> Answer<()> {
        on_interface(cx, this, "release-interface", ifac, |d| {
            d.release_interface(ifac)
        })
    }

    fn device_handle_set_interface_altsetting(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
        alt_setting: u8,
    ) -> Answer<()> {
        on_interface(cx, this, "set-interface-altsetting", ifac, |d| {
            d.set_alt_setting(ifac, alt_setting)
        })
    }

    fn device_handle_clear_halt(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        endpoint: u8,
    ) -> Answer<()> {
        on_handle(cx, this, "clear-halt", |o, d| {
            endpoint_ok(o, endpoint)?;
            d.clear_halt(endpoint)
        })
    }

    fn device_handle_reset_device(cx: &mut Cx, this: Borrow<DeviceHandle>) -> Answer<()> {
        on_handle(cx, this, "reset-device", |o, d| {
            unrestricted(o, "reset-device")?;
            d.reset()
        })
    }

    fn device_handle_alloc_streams(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        num_streams: u32,
        endpoints: Buffer,
    ) -> Answer<()> {
        streams(cx, this, Some(num_streams), &endpoints)
    }

    fn device_handle_free_streams(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        endpoints: Buffer,
    ) -> Answer<()> {
        streams(cx, this, None, &endpoints)
    }

    fn device_handle_kernel_driver_active(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
    ) -> Answer<bool> {
        on_interface(cx, this, "kernel-driver-active", ifac, |d| {
            d.kernel_driver_active(ifac)
        })
    }

    fn device_handle_detach_kernel_driver(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
    ) -> Answer<()> {
        on_interface(cx, this, "detach-kernel-driver", ifac, |d| {
            d.detach_kernel_driver(ifac)
        })
    }

    fn device_handle_attach_kernel_driver(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        ifac: u8,
    ) -> Answer<()> {
        on_interface(cx, this, "attach-kernel-driver", ifac, |d| {
            d.attach_kernel_driver(ifac)
        })
    }

    fn device_handle_new_transfer(
        cx: &mut Cx,
        this: Borrow<DeviceHandle>,
        xfer_type: TransferType,
        setup: TransferSetup,
        buf_size: u32,
        opts: TransferOptions,
    ) -> Answer<Own<Transfer>> {
        new_transfer(cx, this, xfer_type, setup, buf_size, opts)
    }

    fn device_handle_close(cx: &mut Cx, this: Borrow<DeviceHandle>) -> Result<(), Fault> {
        close(cx, this)
    }

    fn drop_device_handle(cx: &mut Cx, handle: Own<DeviceHandle>) -> Result<(), Fault> {
        with_handles(cx, |h| h.remove(handle.index(), Kind::Handle).map(drop))
    }
}

impl transfers::Host for Usb {
    fn transfer_submit_transfer(cx: &mut Cx, this: Borrow<Transfer>, data: Buffer) -> Answer<()> {
        submit(cx, this, data)
    }

    fn transfer_cancel_transfer(cx: &mut Cx, this: Borrow<Transfer>) -> Answer<()> {
        cancel(cx, this)
    }

    fn await_transfer(cx: &mut Cx, xfer: Own<Transfer>) -> Answer<Buffer> {
        await_transfer(cx, xfer)
    }

    fn drop_transfer(cx: &mut Cx, handle: Own<Transfer>) -> Result<(), Fault> {
        drop_transfer(cx, handle)
    }
}

/// An answer in the 2026 revision's own copy of the error type (same cases, same order).
type Answer2026<T> = Result<Result<T, Error2026>, Fault>;

fn in_2026<T>(answer: Answer<T>) -> Answer2026<T> {
    Ok(match answer? {
        Ok(v) => Ok(v),
        Err(e) => Err(Error2026::from_case(e as u32)?),
    })
}

/// The 2026 revision of `transfers` (`wit/usb-2026`): the same transfers, awaited by borrow.
impl transfers_2026::Host for Usb {
    fn transfer_submit_transfer(
        cx: &mut Cx,
        this: Borrow<Transfer2026>,
        data: Buffer,
    ) -> Answer2026<()> {
        in_2026(submit(cx, Borrow::new(this.handle), data))
    }

    fn transfer_cancel_transfer(cx: &mut Cx, this: Borrow<Transfer2026>) -> Answer2026<()> {
        in_2026(cancel(cx, Borrow::new(this.handle)))
    }

    fn await_transfer(cx: &mut Cx, xfer: Borrow<Transfer2026>) -> Answer2026<TransferResult> {
        in_2026(await_borrowed(cx, Borrow::new(xfer.handle)))
    }

    fn drop_transfer(cx: &mut Cx, handle: Own<Transfer2026>) -> Result<(), Fault> {
        drop_transfer(cx, Own::new(handle.handle))
    }
}

impl usb_hotplug::Host for Usb {
    fn enable_hotplug(cx: &mut Cx) -> Answer<()> {
        let r = with_handles(cx, |h| h.host().and_then(|host| host.enable_hotplug()));
        Ok(r.map_err(wit_error))
    }

    fn poll_events(cx: &mut Cx) -> Result<Vec<(Event, Info, Own<UsbDevice>)>, Fault> {
        poll_events(cx)
    }
}
