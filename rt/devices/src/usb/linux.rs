//! The Linux backend: libusb (built from source by `rusb`'s `vendored` feature, so boards need
//! no libusb and drivers link statically) over usbfs (`/dev/bus/usb`) and sysfs.
//!
//! Devices are named by bus and address, which Linux does not reuse while a device stays
//! plugged in. Transfers use libusb's asynchronous API ([`transfer`]); descriptors come from
//! libusb's cache, read without opening the device. Hotplug uses libusb's callbacks (netlink
//! on Linux) when libusb has them, else the difference between two enumerations.

mod descriptor;
mod transfer;

use std::collections::HashMap;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex};

use rusb::constants::*;
use rusb::{ffi, Context, Device, DeviceHandle, UsbContext};

use super::host::{DeviceInfo, Handle, Host, Pending};
use super::types::{DeviceDescriptor, Event, Location, Speed, TransferRequest, UsbError};

/// libusb's error code as the interface's error.
pub(crate) fn error_from_code(code: c_int) -> UsbError {
    match code {
        LIBUSB_ERROR_IO => UsbError::Io,
        LIBUSB_ERROR_INVALID_PARAM => UsbError::InvalidParam,
        LIBUSB_ERROR_ACCESS => UsbError::Access,
        LIBUSB_ERROR_NO_DEVICE => UsbError::NoDevice,
        LIBUSB_ERROR_NOT_FOUND => UsbError::NotFound,
        LIBUSB_ERROR_BUSY => UsbError::Busy,
        LIBUSB_ERROR_TIMEOUT => UsbError::Timeout,
        LIBUSB_ERROR_OVERFLOW => UsbError::Overflow,
        LIBUSB_ERROR_PIPE => UsbError::Pipe,
        LIBUSB_ERROR_INTERRUPTED => UsbError::Interrupted,
        LIBUSB_ERROR_NO_MEM => UsbError::NoMem,
        LIBUSB_ERROR_NOT_SUPPORTED => UsbError::NotSupported,
        _ => UsbError::Other,
    }
}

fn error_from(e: rusb::Error) -> UsbError {
    match e {
        rusb::Error::Io => UsbError::Io,
        rusb::Error::InvalidParam => UsbError::InvalidParam,
        rusb::Error::Access => UsbError::Access,
        rusb::Error::NoDevice => UsbError::NoDevice,
        rusb::Error::NotFound => UsbError::NotFound,
        rusb::Error::Busy => UsbError::Busy,
        rusb::Error::Timeout => UsbError::Timeout,
        rusb::Error::Overflow => UsbError::Overflow,
        rusb::Error::Pipe => UsbError::Pipe,
        rusb::Error::Interrupted => UsbError::Interrupted,
        rusb::Error::NoMem => UsbError::NoMem,
        rusb::Error::NotSupported => UsbError::NotSupported,
        rusb::Error::BadDescriptor => UsbError::Io,
        rusb::Error::Other => UsbError::Other,
    }
}

fn key_of(device: &Device<Context>) -> u64 {
    (u64::from(device.bus_number()) << 8) | u64::from(device.address())
}

fn speed_of(device: &Device<Context>) -> Speed {
    match device.speed() {
        rusb::Speed::Low => Speed::Low,
        rusb::Speed::Full => Speed::Full,
        rusb::Speed::High => Speed::High,
        rusb::Speed::Super => Speed::Super,
        rusb::Speed::SuperPlus => Speed::SuperPlus,
        _ => Speed::Unknown,
    }
}

fn info_of(device: &Device<Context>) -> Result<DeviceInfo, UsbError> {
    let mut raw = std::mem::MaybeUninit::<ffi::libusb_device_descriptor>::uninit();
    // SAFETY: the device is live; libusb fills the whole struct on success (from its cache).
    let rc = unsafe { ffi::libusb_get_device_descriptor(device.as_raw(), raw.as_mut_ptr()) };
    if rc < 0 {
        return Err(error_from_code(rc));
    }
    // SAFETY: initialised by the successful call.
    let d = unsafe { raw.assume_init() };
    Ok(DeviceInfo {
        key: key_of(device),
        descriptor: DeviceDescriptor {
            length: d.bLength,
            descriptor_type: d.bDescriptorType,
            usb_version: d.bcdUSB,
            class: d.bDeviceClass,
            subclass: d.bDeviceSubClass,
            protocol: d.bDeviceProtocol,
            max_packet_size0: d.bMaxPacketSize0,
            vendor_id: d.idVendor,
            product_id: d.idProduct,
            device_version: d.bcdDevice,
            manufacturer_index: d.iManufacturer,
            product_index: d.iProduct,
            serial_index: d.iSerialNumber,
            num_configurations: d.bNumConfigurations,
        },
        location: Location {
            bus: device.bus_number(),
            address: device.address(),
            port: device.port_number(),
            speed: speed_of(device),
        },
    })
}

type EventQueue = Arc<Mutex<Vec<(Event, DeviceInfo)>>>;

/// Records libusb's hotplug callbacks; they run inside libusb's event handling, which
/// [`LibusbHost::poll_events`] drives.
struct Recorder(EventQueue);

impl rusb::Hotplug<Context> for Recorder {
    fn device_arrived(&mut self, device: Device<Context>) {
        if let Ok(info) = info_of(&device) {
            lock(&self.0).push((Event::Arrived, info));
        }
    }
    fn device_left(&mut self, device: Device<Context>) {
        // libusb keeps a departed device's descriptor, so it is named as it was.
        if let Ok(info) = info_of(&device) {
            lock(&self.0).push((Event::Left, info));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Hotplug {
    Off,
    /// libusb's callbacks, kept registered while the host lives.
    Callbacks {
        events: EventQueue,
        _registration: rusb::Registration<Context>,
    },
    /// No hotplug support in libusb: the devices seen last time, diffed on each poll.
    Polling(HashMap<u64, DeviceInfo>),
}

pub struct LibusbHost {
    context: Context,
    /// The devices of the last enumeration, by key.
    known: HashMap<u64, Device<Context>>,
    hotplug: Hotplug,
}

impl LibusbHost {
    pub fn new() -> Result<LibusbHost, String> {
        let context = Context::new().map_err(|e| {
            format!("libusb could not start ({e}): is usbfs (/dev/bus/usb) and sysfs (/sys) there?")
        })?;
        Ok(LibusbHost {
            context,
            known: HashMap::new(),
            hotplug: Hotplug::Off,
        })
    }

    fn enumerate(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        let list = self.context.devices().map_err(error_from)?;
        self.known.clear();
        let mut out = Vec::new();
        for device in list.iter() {
            // A device that vanished between listing and asking is simply not there.
            if let Ok(info) = info_of(&device) {
                self.known.insert(info.key, device);
                out.push(info);
            }
        }
        Ok(out)
    }

    fn device(&mut self, key: u64) -> Result<Device<Context>, UsbError> {
        if !self.known.contains_key(&key) {
            self.enumerate()?;
        }
        self.known.get(&key).cloned().ok_or(UsbError::NoDevice)
    }
}

impl Host for LibusbHost {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        self.enumerate()
    }

    fn config_descriptor(&mut self, key: u64, index: u8) -> Result<Vec<u8>, UsbError> {
        let device = self.device(key)?;
        descriptor::raw_config(device.as_raw(), index)
    }

    fn active_config(&mut self, key: u64) -> Result<u8, UsbError> {
        let device = self.device(key)?;
        match device.active_config_descriptor() {
            Ok(c) => Ok(c.number()),
            // libusb's answer for an unconfigured device.
            Err(rusb::Error::NotFound) => Ok(0),
            Err(e) => Err(error_from(e)),
        }
    }

    fn open(&mut self, key: u64) -> Result<Box<dyn Handle>, UsbError> {
        let device = self.device(key)?;
        let handle = device.open().map_err(error_from)?;
        Ok(Box::new(LibusbHandle {
            handle: Arc::new(handle),
        }))
    }

    fn enable_hotplug(&mut self) -> Result<(), UsbError> {
        if !matches!(self.hotplug, Hotplug::Off) {
            return Ok(());
        }
        self.hotplug = if rusb::has_hotplug() {
            let events = EventQueue::default();
            let registration = rusb::HotplugBuilder::new()
                .enumerate(false)
                .register(&self.context, Box::new(Recorder(Arc::clone(&events))))
                .map_err(error_from)?;
            Hotplug::Callbacks {
                events,
                _registration: registration,
            }
        } else {
            let now = self.enumerate()?;
            Hotplug::Polling(now.into_iter().map(|i| (i.key, i)).collect())
        };
        Ok(())
    }

    fn poll_events(&mut self) -> Vec<(Event, DeviceInfo)> {
        match &mut self.hotplug {
            Hotplug::Off => Vec::new(),
            Hotplug::Callbacks { events, .. } => {
                let events = Arc::clone(events);
                // Netlink messages are read by libusb's event loop: one round that does not
                // block delivers whatever arrived.
                let _ = self.context.handle_events(Some(std::time::Duration::ZERO));
                let taken = std::mem::take(&mut *lock(&events));
                taken
            }
            Hotplug::Polling(_) => {
                let Ok(now) = self.enumerate() else {
                    return Vec::new();
                };
                let Hotplug::Polling(before) = &mut self.hotplug else {
                    unreachable!("matched above")
                };
                let now: HashMap<u64, DeviceInfo> = now.into_iter().map(|i| (i.key, i)).collect();
                let mut out: Vec<(Event, DeviceInfo)> = before
                    .values()
                    .filter(|i| !now.contains_key(&i.key))
                    .map(|i| (Event::Left, *i))
                    .collect();
                out.extend(
                    now.values()
                        .filter(|i| !before.contains_key(&i.key))
                        .map(|i| (Event::Arrived, *i)),
                );
                *before = now;
                out
            }
        }
    }
}

/// An open device. Transfers share the libusb handle, so it stays open until the last
/// transfer in flight is gone even when the guest closes it first.
pub struct LibusbHandle {
    handle: Arc<DeviceHandle<Context>>,
}

impl LibusbHandle {
    fn streams(&mut self, endpoints: &[u8], count: Option<u32>) -> Result<(), UsbError> {
        let mut eps = endpoints.to_vec();
        let n = c_int::try_from(eps.len()).map_err(|_| UsbError::InvalidParam)?;
        let raw = self.handle.as_raw();
        // SAFETY: the handle is open; `eps` holds `n` endpoint addresses.
        let rc = unsafe {
            match count {
                Some(count) => ffi::libusb_alloc_streams(raw, count, eps.as_mut_ptr(), n),
                None => ffi::libusb_free_streams(raw, eps.as_mut_ptr(), n),
            }
        };
        if rc < 0 {
            Err(error_from_code(rc))
        } else {
            Ok(())
        }
    }
}

impl Handle for LibusbHandle {
    fn get_configuration(&mut self) -> Result<u8, UsbError> {
        self.handle.active_configuration().map_err(error_from)
    }
    fn set_configuration(&mut self, value: Option<u8>) -> Result<(), UsbError> {
        match value {
            Some(v) => self.handle.set_active_configuration(v),
            None => self.handle.unconfigure(),
        }
        .map_err(error_from)
    }
    fn claim_interface(&mut self, interface: u8) -> Result<(), UsbError> {
        self.handle.claim_interface(interface).map_err(error_from)
    }
    fn release_interface(&mut self, interface: u8) -> Result<(), UsbError> {
        self.handle.release_interface(interface).map_err(error_from)
    }
    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        self.handle
            .set_alternate_setting(interface, alt)
            .map_err(error_from)
    }
    fn clear_halt(&mut self, endpoint: u8) -> Result<(), UsbError> {
        self.handle.clear_halt(endpoint).map_err(error_from)
    }
    fn reset(&mut self) -> Result<(), UsbError> {
        self.handle.reset().map_err(error_from)
    }
    fn alloc_streams(&mut self, count: u32, endpoints: &[u8]) -> Result<(), UsbError> {
        self.streams(endpoints, Some(count))
    }
    fn free_streams(&mut self, endpoints: &[u8]) -> Result<(), UsbError> {
        self.streams(endpoints, None)
    }
    fn kernel_driver_active(&mut self, interface: u8) -> Result<bool, UsbError> {
        self.handle
            .kernel_driver_active(interface)
            .map_err(error_from)
    }
    fn detach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError> {
        self.handle
            .detach_kernel_driver(interface)
            .map_err(error_from)
    }
    fn attach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError> {
        self.handle
            .attach_kernel_driver(interface)
            .map_err(error_from)
    }
    fn submit(&mut self, request: TransferRequest) -> Result<Box<dyn Pending>, UsbError> {
        Ok(Box::new(transfer::LibusbTransfer::submit(
            &self.handle,
            request,
        )?))
    }
}
