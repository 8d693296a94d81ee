//! The 2024 WASI-USB prototype (`wadu436:usb@0.0.1`, the API the NOMS 2025 WASI-USB paper
//! measured), as the generated `Host` trait of [`crate::glue::wadu436_usb::device`] for
//! [`Wadu436`], on the same backends as [`super`].
//!
//! The API is WebUSB-like and synchronous: a `usb-device` is opened in place, every transfer
//! waits for its end (a fixed 20 s timeout), and there is no error type: whatever the backend
//! answers other than success traps the guest, with a message naming the call and the error
//! (`wafer: usb: read-bulk on endpoint 0x81: timed out`). Kernel drivers are detached from the
//! active configuration's interfaces on `open`, as the reference host did (only from granted
//! interfaces here: one outside the grant keeps its driver), and attached again when the device
//! is closed or dropped, as libusb's automatic detaching does.
//!
//! Resources: a `usb-device` is a granted device with, once opened, its open handle; a
//! `usb-configuration`, `usb-interface` or `usb-endpoint` carries the descriptor facts it
//! answers and the device it came from (its owner). A handle of the wrong type, dropped or
//! never issued traps `unknown handle`; a part of another device passed to a device's method
//! traps too. The executable's `--usb` grants apply as in [`super`]: only granted devices are
//! enumerated or returned by `request-device`, and claiming an interface, using an endpoint or
//! sending a control request outside the grant traps with the reason (there is no `access`
//! error to answer).
//!
//! Strings (product, manufacturer, serial number, configuration and interface names) are read
//! with GET_DESCRIPTOR through the device's open handle, or one opened for the call; when that
//! fails (no permission to open it, a device without strings) they are `none`.
//!
//! Locking: as in [`super`], the instance's USB state is locked for one call, except while a
//! transfer waits: it waits on the device's shared handle alone.

use std::sync::{Arc, Mutex, Weak};

use wafer_abi::TrapKind;
use wafer_devices::usb::grant::{self, UsbGrant};
use wafer_devices::usb::host::{DeviceInfo, Handle};
use wafer_devices::usb::trace::trace;
use wafer_devices::usb::types::{self as dev, Setup, TransferRequest, UsbError, DT_STRING};

use super::{
    find_config, listed_grant, lock_handle, with_handles, Handles, SharedHandle, Which,
    MAX_TRANSFER,
};
use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{fault, unknown_handle, Buffer, Fault};
use crate::glue::wadu436_usb::descriptors::{
    ConfigurationDescriptor, DeviceDescriptor, EndpointDescriptor, InterfaceDescriptor,
};
use crate::glue::wadu436_usb::device::{
    self, UsbConfiguration, UsbDevice, UsbEndpoint, UsbInterface,
};
use crate::glue::wadu436_usb::types::{
    ControlSetup, ControlSetupRecipient, ControlSetupType, Direction, Filter, Speed, TransferType,
    Version,
};
use crate::resources::Table;

/// Every transfer's timeout, as the reference host had it.
pub const TIMEOUT_MS: u32 = 20_000;

/// The timeout of the runtime's own string requests: a device that does not answer them has
/// no strings.
const STRING_TIMEOUT_MS: u32 = 1_000;

/// Which device a part (configuration, interface, endpoint) came from.
#[derive(Clone)]
struct Owner {
    /// The `usb-device` resource's own number, never reused within the instance.
    id: u64,
    info: DeviceInfo,
    /// Its open handle while the device is the guest's (the part does not keep it open).
    handle: Weak<Mutex<Option<Box<dyn Handle>>>>,
}

/// A granted device; `handle` holds its open handle between `open` and `close`, `detached`
/// the interfaces whose kernel driver `open` detached.
struct Device {
    id: u64,
    info: DeviceInfo,
    grant: UsbGrant,
    handle: SharedHandle,
    detached: Vec<u8>,
}

impl Device {
    /// Closes the open handle, if any, giving the kernel back the interfaces `open` took.
    fn close(&mut self) {
        let Some(mut handle) = lock_handle(&self.handle).take() else {
            return;
        };
        for i in std::mem::take(&mut self.detached) {
            // The kernel's driver cannot bind while the interface is still claimed.
            let _ = handle.release_interface(i);
            let r = handle.attach_kernel_driver(i);
            trace(|| format!("close: attaching the kernel driver of interface {i}: {r:?}"));
        }
    }

    fn owner(&self) -> Owner {
        Owner {
            id: self.id,
            info: self.info,
            handle: Arc::downgrade(&self.handle),
        }
    }
}

/// A configuration and the index of its string (`iConfiguration`).
struct Configuration {
    desc: dev::ConfigDescriptor,
    string: u8,
}

/// An endpoint and the interface it belongs to.
#[derive(Clone, Copy)]
struct Endpoint {
    interface: u8,
    desc: dev::EndpointDescriptor,
}

enum Resource {
    Device(Device),
    Configuration(Owner, Configuration),
    Interface(Owner, dev::InterfaceDescriptor),
    Endpoint(Owner, Endpoint),
}

/// One instance's resources of this API (part of [`super::Handles`], beside the newer API's).
#[derive(Default)]
pub struct Resources {
    table: Table<Resource>,
    next_id: u64,
}

impl Resources {
    fn insert(&mut self, r: Resource) -> Result<u32, Fault> {
        self.table
            .insert(r)
            .ok_or_else(|| fault(TrapKind::UnknownHandle, "handle table full"))
    }

    fn insert_device(&mut self, info: DeviceInfo, grant: &UsbGrant) -> Result<u32, Fault> {
        self.next_id += 1;
        self.insert(Resource::Device(Device {
            id: self.next_id,
            info,
            grant: grant.clone(),
            handle: Arc::new(Mutex::new(None)),
            detached: Vec::new(),
        }))
    }

    fn device(&mut self, this: Borrow<UsbDevice>) -> Result<&mut Device, Fault> {
        match self.table.get_mut(this.index()) {
            Some(Resource::Device(d)) => Ok(d),
            _ => Err(unknown_handle("usb-device", this.index())),
        }
    }

    fn configuration(
        &mut self,
        this: Borrow<UsbConfiguration>,
    ) -> Result<(Owner, &Configuration), Fault> {
        match self.table.get_mut(this.index()) {
            Some(Resource::Configuration(o, c)) => Ok((o.clone(), c)),
            _ => Err(unknown_handle("usb-configuration", this.index())),
        }
    }

    fn interface(
        &mut self,
        this: Borrow<UsbInterface>,
    ) -> Result<(Owner, &dev::InterfaceDescriptor), Fault> {
        match self.table.get_mut(this.index()) {
            Some(Resource::Interface(o, i)) => Ok((o.clone(), i)),
            _ => Err(unknown_handle("usb-interface", this.index())),
        }
    }

    fn endpoint(&mut self, this: Borrow<UsbEndpoint>) -> Result<(Owner, Endpoint), Fault> {
        match self.table.get_mut(this.index()) {
            Some(Resource::Endpoint(o, e)) => Ok((o.clone(), *e)),
            _ => Err(unknown_handle("usb-endpoint", this.index())),
        }
    }

    /// Drops a handle of the resource type `what`, which `is` recognises.
    fn remove(&mut self, handle: i32, what: &str, is: fn(&Resource) -> bool) -> Result<(), Fault> {
        match self.table.get_mut(handle) {
            Some(r) if is(r) => {
                self.table.remove(handle);
                Ok(())
            }
            _ => Err(unknown_handle(what, handle)),
        }
    }
}

// ---- traps -----------------------------------------------------------------------------------

fn trap(why: String) -> Fault {
    fault(TrapKind::Unreachable, why)
}

/// What a backend error says, as libusb's `libusb_strerror` puts it.
fn describe(e: UsbError) -> &'static str {
    match e {
        UsbError::Io => "input/output error",
        UsbError::InvalidParam => "invalid parameter",
        UsbError::Access => "access denied (insufficient permissions)",
        UsbError::NoDevice => "no such device (it may have been disconnected)",
        UsbError::NotFound => "entity not found",
        UsbError::Busy => "resource busy",
        UsbError::Timeout => "timed out",
        UsbError::Overflow => "overflow",
        UsbError::Pipe => "pipe error (the endpoint stalled)",
        UsbError::Interrupted => "interrupted",
        UsbError::NoMem => "insufficient memory",
        UsbError::NotSupported => "not supported",
        UsbError::Other => "failed",
    }
}

/// A backend answer, or the trap `what: <error>`.
fn backend<T>(what: impl std::fmt::Display, r: Result<T, UsbError>) -> Result<T, Fault> {
    r.map_err(|e| trap(format!("{what}: {}", describe(e))))
}

/// A part of another device passed to a device's method.
fn not_its_own(what: &str, handle: u32, d: &Device) -> Fault {
    fault(
        TrapKind::UnknownHandle,
        format!(
            "{what} handle {handle} belongs to another usb-device than {:04x}:{:04x} (handle {})",
            d.info.descriptor.vendor_id, d.info.descriptor.product_id, d.id
        ),
    )
}

/// The device's open handle, or the trap saying `what` needs one.
fn opened(d: &Device, what: &str) -> Result<SharedHandle, Fault> {
    if lock_handle(&d.handle).is_none() {
        return Err(trap(format!(
            "{what}: usb-device {:04x}:{:04x} is not open (call open first)",
            d.info.descriptor.vendor_id, d.info.descriptor.product_id
        )));
    }
    Ok(d.handle.clone())
}

/// Runs `f` on the device's open handle; a backend error traps as `what`.
fn on_open<T>(
    d: &Device,
    what: &str,
    f: impl FnOnce(&mut dyn Handle) -> Result<T, UsbError>,
) -> Result<T, Fault> {
    let shared = opened(d, what)?;
    let mut guard = lock_handle(&shared);
    let handle = guard.as_mut().expect("checked by opened");
    backend(what, f(handle.as_mut()))
}

/// A grant refusal, as a trap naming the call (said on stderr whether tracing is on or not).
fn refused(what: &str, r: Result<(), String>) -> Result<(), Fault> {
    r.map_err(|why| trap(format!("{what}: {why}")))
}

// ---- strings ---------------------------------------------------------------------------------

/// One synchronous transfer on an open handle.
fn run(handle: &mut dyn Handle, request: TransferRequest) -> Result<Vec<u8>, UsbError> {
    handle.submit(request)?.wait()
}

fn get_descriptor(handle: &mut dyn Handle, value: u16, index: u16) -> Result<Vec<u8>, UsbError> {
    let setup = Setup {
        request_type: 0x80,
        request: 6,
        value,
        index,
        length: 255,
    };
    run(
        handle,
        TransferRequest {
            kind: dev::TransferType::Control,
            endpoint: 0,
            setup: Some(setup),
            length: 255,
            data: Vec::new(),
            timeout_ms: STRING_TIMEOUT_MS,
            stream_id: 0,
            iso_packets: 0,
        },
    )
}

/// String descriptor `index` in the device's first language (index 0: none).
fn read_string(handle: &mut dyn Handle, index: u8) -> Option<String> {
    if index == 0 {
        return None;
    }
    let langs = get_descriptor(handle, (DT_STRING as u16) << 8, 0).ok()?;
    let lang = match langs.get(2..4) {
        Some(l) => u16::from_le_bytes([l[0], l[1]]),
        None => 0x0409,
    };
    let raw = get_descriptor(handle, (DT_STRING as u16) << 8 | index as u16, lang).ok()?;
    if raw.len() < 2 || raw[1] != DT_STRING {
        return None;
    }
    let end = (raw[0] as usize).min(raw.len());
    let units: Vec<u16> = raw[2..end]
        .chunks_exact(2)
        .map(|u| u16::from_le_bytes([u[0], u[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// The strings at `indices` of the device `owner`, through its open handle or one opened for
/// the call.
fn strings(h: &mut Handles, owner: &Owner, indices: &[u8]) -> Vec<Option<String>> {
    if indices.iter().all(|i| *i == 0) {
        return vec![None; indices.len()];
    }
    let read = |handle: &mut dyn Handle| indices.iter().map(|i| read_string(handle, *i)).collect();
    if let Some(shared) = owner.handle.upgrade() {
        if let Some(handle) = lock_handle(&shared).as_mut() {
            return read(handle.as_mut());
        }
    }
    match h.host().and_then(|host| host.open(owner.info.key)) {
        Ok(mut handle) => read(handle.as_mut()),
        Err(e) => {
            trace(|| format!("no strings: opening the device failed: {e:?}"));
            vec![None; indices.len()]
        }
    }
}

/// One string of [`strings`].
fn string(h: &mut Handles, owner: &Owner, index: u8) -> Option<String> {
    strings(h, owner, &[index]).pop().flatten()
}

/// The configuration at `index` among the device's, with the index of its string.
fn configuration_at(
    h: &mut Handles,
    info: &DeviceInfo,
    index: u8,
) -> Result<Configuration, UsbError> {
    let raw = h.host()?.config_descriptor(info.key, index)?;
    Ok(Configuration {
        desc: dev::ConfigDescriptor::parse(&raw, index)?,
        string: raw[6],
    })
}

// ---- descriptors as the WIT spells them --------------------------------------------------------

/// (major, minor, subminor) of a BCD version: 0x0210 is 2.1.0.
fn version(bcd: u16) -> Version {
    let digit = |shift: u16| ((bcd >> shift) & 0xF) as u8;
    (digit(12) * 10 + digit(8), digit(4), digit(0))
}

fn wit_speed(s: dev::Speed) -> Speed {
    match s {
        dev::Speed::Unknown => Speed::Unknown,
        dev::Speed::Low => Speed::Low,
        dev::Speed::Full => Speed::Full,
        dev::Speed::High => Speed::High,
        dev::Speed::Super => Speed::Super,
        dev::Speed::SuperPlus | dev::Speed::SuperPlusX2 => Speed::Superplus,
    }
}

fn wit_transfer_type(t: dev::TransferType) -> TransferType {
    match t {
        dev::TransferType::Control => TransferType::Control,
        dev::TransferType::Isochronous => TransferType::Isochronous,
        dev::TransferType::Bulk => TransferType::Bulk,
        dev::TransferType::Interrupt => TransferType::Interrupt,
    }
}

fn type_name(t: dev::TransferType) -> &'static str {
    match t {
        dev::TransferType::Control => "control",
        dev::TransferType::Isochronous => "isochronous",
        dev::TransferType::Bulk => "bulk",
        dev::TransferType::Interrupt => "interrupt",
    }
}

fn wit_endpoint(e: &dev::EndpointDescriptor) -> EndpointDescriptor {
    EndpointDescriptor {
        endpoint_number: e.address & 0x0F,
        direction: if e.address & 0x80 != 0 {
            Direction::In
        } else {
            Direction::Out
        },
        transfer_type: wit_transfer_type(e.transfer_type()),
        max_packet_size: e.max_packet_size,
        interval: e.interval,
    }
}

/// `bMaxPower` in mA: units of 8 mA at SuperSpeed, 2 mA below.
fn max_power_ma(c: &dev::ConfigDescriptor, speed: dev::Speed) -> u16 {
    let unit = match speed {
        dev::Speed::Super | dev::Speed::SuperPlus | dev::Speed::SuperPlusX2 => 8,
        _ => 2,
    };
    c.max_power as u16 * unit
}

// ---- devices ---------------------------------------------------------------------------------

/// The devices present now that the grants let the guest see.
fn granted_devices(h: &mut Handles) -> Result<Vec<(DeviceInfo, &'static UsbGrant)>, Fault> {
    let devices = backend("enumerate", h.host().and_then(|host| host.devices()))?;
    Ok(devices
        .into_iter()
        .filter_map(|info| Some((info, listed_grant(&info)?)))
        .collect())
}

fn enumerate(cx: &Cx) -> Result<Vec<Own<UsbDevice>>, Fault> {
    with_handles(cx, |h| {
        let mut out = Vec::new();
        for (info, g) in granted_devices(h)? {
            out.push(Own::new(h.wadu436.insert_device(info, g)?));
        }
        Ok(out)
    })
}

fn request_device(cx: &Cx, filter: Filter) -> Result<Option<Own<UsbDevice>>, Fault> {
    with_handles(cx, |h| {
        for (info, g) in granted_devices(h)? {
            let d = &info.descriptor;
            let fits = |want: Option<u16>, have: u16| want.is_none_or(|w| w == have);
            if !(fits(filter.vendor_id, d.vendor_id)
                && fits(filter.product_id, d.product_id)
                && fits(filter.class_code.map(u16::from), d.class as u16)
                && fits(filter.subclass_code.map(u16::from), d.subclass as u16)
                && fits(filter.protocol_code.map(u16::from), d.protocol as u16))
            {
                continue;
            }
            if let Some(serial) = &filter.serial_number {
                // Not the guest's yet: no resource, nothing open.
                let owner = Owner {
                    id: 0,
                    info,
                    handle: Weak::new(),
                };
                if string(h, &owner, d.serial_index).as_deref() != Some(serial.as_str()) {
                    continue;
                }
            }
            return Ok(Some(Own::new(h.wadu436.insert_device(info, g)?)));
        }
        Ok(None)
    })
}

fn descriptor(cx: &Cx, this: Borrow<UsbDevice>) -> Result<DeviceDescriptor, Fault> {
    with_handles(cx, |h| {
        let owner = h.wadu436.device(this)?.owner();
        let raw = owner.info.descriptor;
        let indices = [raw.product_index, raw.manufacturer_index, raw.serial_index];
        let [product, manufacturer, serial] =
            <[Option<String>; 3]>::try_from(strings(h, &owner, &indices))
                .expect("three indices asked");
        Ok(DeviceDescriptor {
            product_name: product,
            manufacturer_name: manufacturer,
            serial_number: serial,
            usb_version: version(raw.usb_version),
            vendor_id: raw.vendor_id,
            product_id: raw.product_id,
            device_version: version(raw.device_version),
            device_class: raw.class,
            device_subclass: raw.subclass,
            device_protocol: raw.protocol,
            max_packet_size: raw.max_packet_size0,
        })
    })
}

fn configurations(cx: &Cx, this: Borrow<UsbDevice>) -> Result<Vec<Own<UsbConfiguration>>, Fault> {
    with_handles(cx, |h| {
        let owner = h.wadu436.device(this)?.owner();
        let mut out = Vec::new();
        for index in 0..owner.info.descriptor.num_configurations {
            let found = configuration_at(h, &owner.info, index);
            let config = backend(format_args!("configurations: configuration {index}"), found)?;
            let handle = h
                .wadu436
                .insert(Resource::Configuration(owner.clone(), config))?;
            out.push(Own::new(handle));
        }
        Ok(out)
    })
}

fn active_configuration(cx: &Cx, this: Borrow<UsbDevice>) -> Result<Own<UsbConfiguration>, Fault> {
    with_handles(cx, |h| {
        let owner = h.wadu436.device(this)?.owner();
        let found = h
            .host()
            .and_then(|host| find_config(host.as_mut(), &owner.info, Which::Active))
            .and_then(|c| configuration_at(h, &owner.info, c.index));
        let config = match found {
            Err(UsbError::NotFound) => {
                return Err(trap(
                    "active-configuration: the device is not configured".into(),
                ))
            }
            other => backend("active-configuration", other)?,
        };
        let handle = h.wadu436.insert(Resource::Configuration(owner, config))?;
        Ok(Own::new(handle))
    })
}

/// Opens the device (again: nothing) and detaches the kernel drivers of the active
/// configuration's granted interfaces.
fn open(cx: &Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
    with_handles(cx, |h| {
        let d = h.wadu436.device(this)?;
        if lock_handle(&d.handle).is_some() {
            return Ok(());
        }
        let (info, shared) = (d.info, d.handle.clone());
        let host = backend("open", h.host())?;
        let mut handle = backend("open", host.open(info.key))?;
        let interfaces: Vec<u8> = match find_config(host.as_mut(), &info, Which::Active) {
            Ok(c) => c.interfaces.iter().map(|i| i.number).collect(),
            Err(_) => Vec::new(),
        };
        let d = h.wadu436.device(this)?;
        for i in interfaces {
            if let Err(why) = grant::check_interface(&d.grant, i) {
                trace(|| format!("open: the kernel driver stays: {why}"));
                continue;
            }
            match handle.detach_kernel_driver(i) {
                Ok(()) => {
                    trace(|| format!("open: kernel driver detached from interface {i}"));
                    d.detached.push(i);
                }
                Err(UsbError::NotFound | UsbError::NotSupported) => {}
                Err(e) => {
                    let what = format!("open: detaching the kernel driver of interface {i}");
                    return backend(what, Err(e));
                }
            }
        }
        *lock_handle(&shared) = Some(handle);
        super::terminate::detached(&shared, &d.detached);
        Ok(())
    })
}

fn close(cx: &Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
    with_handles(cx, |h| {
        h.wadu436.device(this)?.close();
        Ok(())
    })
}

fn reset(cx: &Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
    with_handles(cx, |h| {
        let d = h.wadu436.device(this)?;
        refused("reset", super::unlimited_grant(&d.grant, "reset"))?;
        on_open(d, "reset", |handle| handle.reset())
    })
}

fn select_configuration(
    cx: &Cx,
    this: Borrow<UsbDevice>,
    config: Borrow<UsbConfiguration>,
) -> Result<(), Fault> {
    with_handles(cx, |h| {
        let (owner, c) = h.wadu436.configuration(config)?;
        let value = c.desc.value;
        let d = h.wadu436.device(this)?;
        if owner.id != d.id {
            return Err(not_its_own("usb-configuration", config.handle, d));
        }
        let what = format!("select-configuration {value}");
        on_open(d, &what, |handle| handle.set_configuration(Some(value)))
    })
}

/// `claim-interface` (`claim`) or `release-interface` on an interface of this device.
fn interface_call(
    cx: &Cx,
    this: Borrow<UsbDevice>,
    iface: Borrow<UsbInterface>,
    claim: bool,
) -> Result<(), Fault> {
    with_handles(cx, |h| {
        let (owner, i) = h.wadu436.interface(iface)?;
        let number = i.number;
        let d = h.wadu436.device(this)?;
        if owner.id != d.id {
            return Err(not_its_own("usb-interface", iface.handle, d));
        }
        let call = if claim {
            "claim-interface"
        } else {
            "release-interface"
        };
        let what = format!("{call} {number}");
        refused(&what, grant::check_interface(&d.grant, number))?;
        on_open(d, &what, |handle| match claim {
            true => handle.claim_interface(number),
            false => handle.release_interface(number),
        })
    })
}

/// The endpoint `ep` of this device, once the grant allows it: its facts, the device's open
/// handle and the name of the call for messages (`read-bulk on endpoint 0x81`).
fn endpoint_of(
    h: &mut Handles,
    this: Borrow<UsbDevice>,
    ep: Borrow<UsbEndpoint>,
    call: &str,
) -> Result<(Endpoint, SharedHandle, String), Fault> {
    let (owner, e) = h.wadu436.endpoint(ep)?;
    let d = h.wadu436.device(this)?;
    if owner.id != d.id {
        return Err(not_its_own("usb-endpoint", ep.handle, d));
    }
    let what = format!("{call} on endpoint {:#04x}", e.desc.address);
    refused(
        &what,
        grant::check_endpoint(&d.grant, e.desc.address, Some(e.interface)),
    )?;
    Ok((e, opened(d, &what)?, what))
}

fn clear_halt(cx: &Cx, this: Borrow<UsbDevice>, ep: Borrow<UsbEndpoint>) -> Result<(), Fault> {
    let (e, shared, what) = with_handles(cx, |h| endpoint_of(h, this, ep, "clear-halt"))?;
    let mut guard = lock_handle(&shared);
    match guard.as_mut() {
        Some(handle) => backend(what, handle.clear_halt(e.desc.address)),
        None => backend(what, Err(UsbError::NoDevice)),
    }
}

// ---- transfers -------------------------------------------------------------------------------

/// Submits `request` on the shared handle and waits for its end with no host state locked:
/// the received bytes (none for OUT).
fn transfer(shared: &SharedHandle, what: &str, request: TransferRequest) -> Result<Vec<u8>, Fault> {
    let submitted = match lock_handle(shared).as_mut() {
        Some(handle) => handle.submit(request),
        // Closed (by another thread) since the call checked it.
        None => Err(UsbError::NoDevice),
    };
    let mut pending = backend(what, submitted)?;
    let result = pending.wait();
    super::terminate::hold_if_ending();
    let data = backend(what, result)?;
    if data.len() as u64 > MAX_TRANSFER as u64 {
        return backend(what, Err(UsbError::Overflow));
    }
    Ok(data)
}

fn checked_length(what: &str, length: u64) -> Result<u32, Fault> {
    match u32::try_from(length) {
        Ok(n) if n <= MAX_TRANSFER => Ok(n),
        _ => Err(trap(format!(
            "{what}: {length} bytes is over the limit of {MAX_TRANSFER} bytes per transfer"
        ))),
    }
}

/// The request of a transfer on an endpoint, after checking the endpoint is of `kind` and
/// its direction is the call's (`data` `None` for IN).
fn endpoint_request(
    what: &str,
    e: &Endpoint,
    kind: dev::TransferType,
    length: u32,
    data: Option<Vec<u8>>,
) -> Result<TransferRequest, Fault> {
    let actual = e.desc.transfer_type();
    if actual != kind {
        return Err(trap(format!(
            "{what}: it is a {} endpoint, not {}",
            type_name(actual),
            type_name(kind)
        )));
    }
    let is_in = e.desc.address & 0x80 != 0;
    if is_in != data.is_none() {
        let (is, want) = if is_in { ("IN", "OUT") } else { ("OUT", "IN") };
        return Err(trap(format!("{what}: it is an {is} endpoint, not {want}")));
    }
    let iso_packets = match kind {
        dev::TransferType::Isochronous => length.div_ceil(iso_packet_size(&e.desc)).max(1),
        _ => 0,
    };
    Ok(TransferRequest {
        kind,
        endpoint: e.desc.address,
        setup: None,
        length,
        data: data.unwrap_or_default(),
        timeout_ms: TIMEOUT_MS,
        stream_id: 0,
        iso_packets,
    })
}

/// The bytes of one isochronous packet: `wMaxPacketSize` times its high-bandwidth
/// transactions per microframe.
fn iso_packet_size(e: &dev::EndpointDescriptor) -> u32 {
    let size = (e.max_packet_size & 0x7FF) as u32;
    let transactions = ((e.max_packet_size >> 11) & 3) as u32 + 1;
    (size * transactions).max(1)
}

/// An IN transfer of up to `length` bytes (`None`: one isochronous packet).
fn read(
    cx: &Cx,
    this: Borrow<UsbDevice>,
    ep: Borrow<UsbEndpoint>,
    call: &str,
    kind: dev::TransferType,
    length: Option<u64>,
) -> Result<Buffer, Fault> {
    let (e, shared, what) = with_handles(cx, |h| endpoint_of(h, this, ep, call))?;
    let length = match length {
        Some(n) => checked_length(&what, n)?,
        None => iso_packet_size(&e.desc),
    };
    let request = endpoint_request(&what, &e, kind, length, None)?;
    transfer(&shared, &what, request).map(Buffer::from)
}

/// An OUT transfer of all of `data`: its length.
fn write(
    cx: &Cx,
    this: Borrow<UsbDevice>,
    ep: Borrow<UsbEndpoint>,
    call: &str,
    kind: dev::TransferType,
    data: Buffer,
) -> Result<u64, Fault> {
    let (e, shared, what) = with_handles(cx, |h| endpoint_of(h, this, ep, call))?;
    let length = checked_length(&what, data.len() as u64)?;
    let request = endpoint_request(&what, &e, kind, length, Some(data.to_vec()))?;
    transfer(&shared, &what, request)?;
    Ok(length as u64)
}

/// The setup packet of a control request: direction from the call, type and recipient from
/// the record, `wLength` from the length asked or the data given.
fn setup_packet(r: &ControlSetup, is_in: bool, length: u16) -> Setup {
    let kind = match r.request_type {
        ControlSetupType::Standard => 0,
        ControlSetupType::Class => 1,
        ControlSetupType::Vendor => 2,
    };
    let recipient = match r.request_recipient {
        ControlSetupRecipient::Device => 0,
        ControlSetupRecipient::Interface => 1,
        ControlSetupRecipient::Endpoint => 2,
    };
    Setup {
        request_type: (is_in as u8) << 7 | kind << 5 | recipient,
        request: r.request,
        value: r.value,
        index: r.index,
        length,
    }
}

/// A control transfer (`data` `None` for IN, of `length` bytes).
fn control(
    cx: &Cx,
    this: Borrow<UsbDevice>,
    request: &ControlSetup,
    length: u16,
    data: Option<Vec<u8>>,
) -> Result<Vec<u8>, Fault> {
    let setup = setup_packet(request, data.is_none(), length);
    let call = if data.is_none() {
        "read-control"
    } else {
        "write-control"
    };
    let what = format!("{call} {:#04x}/{:#04x}", setup.request_type, setup.request);
    let shared = with_handles(cx, |h| {
        let d = h.wadu436.device(this)?;
        refused(&what, grant::check_control(&d.grant, &setup))?;
        opened(d, &what)
    })?;
    let request = TransferRequest {
        kind: dev::TransferType::Control,
        endpoint: 0,
        setup: Some(setup),
        length: length as u32,
        data: data.unwrap_or_default(),
        timeout_ms: TIMEOUT_MS,
        stream_id: 0,
        iso_packets: 0,
    };
    transfer(&shared, &what, request)
}

// ---- the generated trait ---------------------------------------------------------------------

/// Implements the generated `Host` trait of `wadu436:usb/device@0.0.1`.
pub struct Wadu436;

impl device::Host for Wadu436 {
    fn usb_device_enumerate(cx: &mut Cx) -> Result<Vec<Own<UsbDevice>>, Fault> {
        enumerate(cx)
    }

    fn usb_device_request_device(
        cx: &mut Cx,
        filter: Filter,
    ) -> Result<Option<Own<UsbDevice>>, Fault> {
        request_device(cx, filter)
    }

    fn usb_device_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
    ) -> Result<DeviceDescriptor, Fault> {
        descriptor(cx, this)
    }

    fn usb_device_speed(cx: &mut Cx, this: Borrow<UsbDevice>) -> Result<Speed, Fault> {
        with_handles(cx, |h| {
            Ok(wit_speed(h.wadu436.device(this)?.info.location.speed))
        })
    }

    fn usb_device_configurations(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
    ) -> Result<Vec<Own<UsbConfiguration>>, Fault> {
        configurations(cx, this)
    }

    fn usb_device_active_configuration(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
    ) -> Result<Own<UsbConfiguration>, Fault> {
        active_configuration(cx, this)
    }

    fn usb_device_open(cx: &mut Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
        open(cx, this)
    }

    fn usb_device_opened(cx: &mut Cx, this: Borrow<UsbDevice>) -> Result<bool, Fault> {
        with_handles(cx, |h| {
            Ok(lock_handle(&h.wadu436.device(this)?.handle).is_some())
        })
    }

    fn usb_device_reset(cx: &mut Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
        reset(cx, this)
    }

    fn usb_device_close(cx: &mut Cx, this: Borrow<UsbDevice>) -> Result<(), Fault> {
        close(cx, this)
    }

    fn usb_device_select_configuration(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        configuration: Borrow<UsbConfiguration>,
    ) -> Result<(), Fault> {
        select_configuration(cx, this, configuration)
    }

    fn usb_device_claim_interface(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        interface: Borrow<UsbInterface>,
    ) -> Result<(), Fault> {
        interface_call(cx, this, interface, true)
    }

    fn usb_device_release_interface(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        interface: Borrow<UsbInterface>,
    ) -> Result<(), Fault> {
        interface_call(cx, this, interface, false)
    }

    fn usb_device_clear_halt(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
    ) -> Result<(), Fault> {
        clear_halt(cx, this, endpoint)
    }

    fn usb_device_read_control(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        request: ControlSetup,
        length: u16,
    ) -> Result<Buffer, Fault> {
        control(cx, this, &request, length, None).map(Buffer::from)
    }

    fn usb_device_write_control(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        request: ControlSetup,
        data: Buffer,
    ) -> Result<u64, Fault> {
        let Ok(length) = u16::try_from(data.len()) else {
            return Err(trap(format!(
                "write-control: {} bytes do not fit wLength",
                data.len()
            )));
        };
        control(cx, this, &request, length, Some(data.to_vec()))?;
        Ok(length as u64)
    }

    fn usb_device_read_interrupt(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
        length: u64,
    ) -> Result<Buffer, Fault> {
        let kind = dev::TransferType::Interrupt;
        read(cx, this, endpoint, "read-interrupt", kind, Some(length))
    }

    fn usb_device_write_interrupt(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
        data: Buffer,
    ) -> Result<u64, Fault> {
        let kind = dev::TransferType::Interrupt;
        write(cx, this, endpoint, "write-interrupt", kind, data)
    }

    fn usb_device_read_bulk(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
        length: u64,
    ) -> Result<Buffer, Fault> {
        let kind = dev::TransferType::Bulk;
        read(cx, this, endpoint, "read-bulk", kind, Some(length))
    }

    fn usb_device_write_bulk(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
        data: Buffer,
    ) -> Result<u64, Fault> {
        let kind = dev::TransferType::Bulk;
        write(cx, this, endpoint, "write-bulk", kind, data)
    }

    fn usb_device_read_isochronous(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
    ) -> Result<Buffer, Fault> {
        let kind = dev::TransferType::Isochronous;
        read(cx, this, endpoint, "read-isochronous", kind, None)
    }

    fn usb_device_write_isochronous(
        cx: &mut Cx,
        this: Borrow<UsbDevice>,
        endpoint: Borrow<UsbEndpoint>,
        data: Buffer,
    ) -> Result<u64, Fault> {
        let kind = dev::TransferType::Isochronous;
        write(cx, this, endpoint, "write-isochronous", kind, data)
    }

    fn usb_configuration_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbConfiguration>,
    ) -> Result<ConfigurationDescriptor, Fault> {
        with_handles(cx, |h| {
            let (owner, c) = h.wadu436.configuration(this)?;
            let (number, attributes, index) = (c.desc.value, c.desc.attributes, c.string);
            let max_power = max_power_ma(&c.desc, owner.info.location.speed);
            Ok(ConfigurationDescriptor {
                number,
                description: string(h, &owner, index),
                self_powered: attributes & 0x40 != 0,
                remote_wakeup: attributes & 0x20 != 0,
                max_power,
            })
        })
    }

    fn usb_configuration_interfaces(
        cx: &mut Cx,
        this: Borrow<UsbConfiguration>,
    ) -> Result<Vec<Own<UsbInterface>>, Fault> {
        with_handles(cx, |h| {
            let (owner, c) = h.wadu436.configuration(this)?;
            let interfaces = c.desc.interfaces.clone();
            interfaces
                .into_iter()
                .map(|i| {
                    let handle = h.wadu436.insert(Resource::Interface(owner.clone(), i))?;
                    Ok(Own::new(handle))
                })
                .collect()
        })
    }

    fn usb_interface_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbInterface>,
    ) -> Result<InterfaceDescriptor, Fault> {
        with_handles(cx, |h| {
            let (owner, i) = h.wadu436.interface(this)?;
            let mut d = InterfaceDescriptor {
                interface_number: i.number,
                alternate_setting: i.alternate_setting,
                interface_class: i.class,
                interface_subclass: i.subclass,
                interface_protocol: i.protocol,
                interface_name: None,
            };
            let index = i.index;
            d.interface_name = string(h, &owner, index);
            Ok(d)
        })
    }

    fn usb_interface_endpoints(
        cx: &mut Cx,
        this: Borrow<UsbInterface>,
    ) -> Result<Vec<Own<UsbEndpoint>>, Fault> {
        with_handles(cx, |h| {
            let (owner, i) = h.wadu436.interface(this)?;
            let interface = i.number;
            let endpoints = i.endpoints.clone();
            endpoints
                .into_iter()
                .map(|desc| {
                    let e = Endpoint { interface, desc };
                    Ok(Own::new(
                        h.wadu436.insert(Resource::Endpoint(owner.clone(), e))?,
                    ))
                })
                .collect()
        })
    }

    fn usb_endpoint_descriptor(
        cx: &mut Cx,
        this: Borrow<UsbEndpoint>,
    ) -> Result<EndpointDescriptor, Fault> {
        with_handles(cx, |h| Ok(wit_endpoint(&h.wadu436.endpoint(this)?.1.desc)))
    }

    fn drop_usb_device(cx: &mut Cx, handle: Own<UsbDevice>) -> Result<(), Fault> {
        with_handles(cx, |h| {
            h.wadu436.device(Borrow::new(handle.handle))?.close();
            h.wadu436.remove(handle.index(), "usb-device", |r| {
                matches!(r, Resource::Device(_))
            })
        })
    }

    fn drop_usb_configuration(cx: &mut Cx, handle: Own<UsbConfiguration>) -> Result<(), Fault> {
        with_handles(cx, |h| {
            h.wadu436.remove(handle.index(), "usb-configuration", |r| {
                matches!(r, Resource::Configuration(..))
            })
        })
    }

    fn drop_usb_interface(cx: &mut Cx, handle: Own<UsbInterface>) -> Result<(), Fault> {
        with_handles(cx, |h| {
            h.wadu436.remove(handle.index(), "usb-interface", |r| {
                matches!(r, Resource::Interface(..))
            })
        })
    }

    fn drop_usb_endpoint(cx: &mut Cx, handle: Own<UsbEndpoint>) -> Result<(), Fault> {
        with_handles(cx, |h| {
            h.wadu436.remove(handle.index(), "usb-endpoint", |r| {
                matches!(r, Resource::Endpoint(..))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_versions_and_setup_packets() {
        assert_eq!(version(0x0210), (2, 1, 0));
        assert_eq!(version(0x0100), (1, 0, 0));
        assert_eq!(version(0x1234), (12, 3, 4));
        let r = ControlSetup {
            request_type: ControlSetupType::Class,
            request_recipient: ControlSetupRecipient::Interface,
            request: 0xFE,
            value: 0,
            index: 2,
        };
        let s = setup_packet(&r, true, 1);
        assert_eq!(
            (s.request_type, s.request, s.index, s.length),
            (0xA1, 0xFE, 2, 1)
        );
        let r = ControlSetup {
            request_type: ControlSetupType::Vendor,
            request_recipient: ControlSetupRecipient::Endpoint,
            ..r
        };
        assert_eq!(setup_packet(&r, false, 0).request_type, 0x42);
    }

    #[test]
    fn iso_packets_use_the_high_bandwidth_multiplier() {
        let mut e = dev::EndpointDescriptor {
            length: 7,
            descriptor_type: 5,
            address: 0x83,
            attributes: 1,
            max_packet_size: 1024,
            interval: 1,
            refresh: 0,
            synch_address: 0,
        };
        assert_eq!(iso_packet_size(&e), 1024);
        e.max_packet_size = 1024 | 2 << 11;
        assert_eq!(iso_packet_size(&e), 3072);
    }
}
