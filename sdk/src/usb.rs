//! WASI-USB (`component:usb@0.2.1`): the bindings wit-bindgen generates from
//! `../wit/deps/usb`, and a thin blocking layer for the common case (one transfer, wait for
//! it) that keeps the proposal's own calls reachable.
//!
//! ```ignore
//! use wafer_sdk::usb::{self, Device};
//! for dev in Device::list()? {                        // only devices the build granted
//!     if dev.descriptor.vendor_id == 0x2341 {
//!         let h = dev.open()?;
//!         h.bulk_out(0x01, b"ping", 1000)?;
//!         let echo = h.bulk_in(0x81, 64, 1000)?;
//!     }
//! }
//! ```

wit_bindgen::generate!({
    path: "../wit/deps/usb",
    world: "component:usb/guest",
    generate_all,
    additional_derives: [PartialEq, Eq],
});

pub use component::usb::configuration::ConfigValue;
pub use component::usb::descriptors::{
    ConfigurationDescriptor, DeviceDescriptor, EndpointDescriptor, InterfaceDescriptor,
};
pub use component::usb::device::{DeviceHandle, DeviceLocation, UsbDevice, UsbSpeed};
pub use component::usb::errors::LibusbError;
pub use component::usb::transfers::{
    await_transfer, Transfer, TransferOptions, TransferSetup, TransferType,
};

/// GET_DESCRIPTOR's descriptor types.
pub const DT_STRING: u8 = 3;

/// A listed device with what `list-devices` said about it.
pub struct Device {
    pub device: UsbDevice,
    pub descriptor: DeviceDescriptor,
    pub location: DeviceLocation,
}

impl Device {
    /// The devices present that this driver was granted (`init` first).
    pub fn list() -> Result<Vec<Device>, LibusbError> {
        component::usb::device::init()?;
        Ok(component::usb::device::list_devices()?
            .into_iter()
            .map(|(device, descriptor, location)| Device {
                device,
                descriptor,
                location,
            })
            .collect())
    }

    pub fn open(&self) -> Result<Handle, LibusbError> {
        Ok(Handle {
            handle: self.device.open()?,
        })
    }
}

/// An open device with blocking transfers.
pub struct Handle {
    pub handle: DeviceHandle,
}

impl Handle {
    /// One transfer: new, submit, await. `data` is the OUT payload (its length is the buffer
    /// size); for IN transfers pass `&[]` and `len`.
    pub fn transfer(
        &self,
        kind: TransferType,
        setup: TransferSetup,
        endpoint: u8,
        data: &[u8],
        len: u32,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, LibusbError> {
        let size = if data.is_empty() { len } else { data.len() as u32 };
        let xfer = self.handle.new_transfer(
            kind,
            setup,
            size,
            TransferOptions {
                endpoint,
                timeout_ms,
                stream_id: 0,
                iso_packets: 0,
            },
        )?;
        xfer.submit_transfer(data)?;
        await_transfer(xfer)
    }

    fn no_setup() -> TransferSetup {
        TransferSetup {
            bm_request_type: 0,
            b_request: 0,
            w_value: 0,
            w_index: 0,
        }
    }

    pub fn control_in(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        len: u16,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, LibusbError> {
        let setup = TransferSetup {
            bm_request_type: request_type | 0x80,
            b_request: request,
            w_value: value,
            w_index: index,
        };
        self.transfer(TransferType::Control, setup, 0, &[], len as u32, timeout_ms)
    }

    pub fn control_out(
        &self,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        data: &[u8],
        timeout_ms: u32,
    ) -> Result<(), LibusbError> {
        let setup = TransferSetup {
            bm_request_type: request_type & 0x7F,
            b_request: request,
            w_value: value,
            w_index: index,
        };
        self.transfer(TransferType::Control, setup, 0, data, 0, timeout_ms)
            .map(drop)
    }

    pub fn bulk_out(&self, endpoint: u8, data: &[u8], timeout_ms: u32) -> Result<(), LibusbError> {
        self.transfer(TransferType::Bulk, Self::no_setup(), endpoint, data, 0, timeout_ms)
            .map(drop)
    }

    pub fn bulk_in(&self, endpoint: u8, len: u32, timeout_ms: u32) -> Result<Vec<u8>, LibusbError> {
        self.transfer(TransferType::Bulk, Self::no_setup(), endpoint, &[], len, timeout_ms)
    }

    pub fn interrupt_out(&self, endpoint: u8, data: &[u8], timeout_ms: u32) -> Result<(), LibusbError> {
        self.transfer(TransferType::Interrupt, Self::no_setup(), endpoint, data, 0, timeout_ms)
            .map(drop)
    }

    pub fn interrupt_in(&self, endpoint: u8, len: u32, timeout_ms: u32) -> Result<Vec<u8>, LibusbError> {
        self.transfer(TransferType::Interrupt, Self::no_setup(), endpoint, &[], len, timeout_ms)
    }

    /// String descriptor `index` in the device's first language, read with GET_DESCRIPTOR
    /// (the proposal has no call for it on purpose). Index 0 is "no string".
    pub fn string_descriptor(&self, index: u8, timeout_ms: u32) -> Result<Option<String>, LibusbError> {
        if index == 0 {
            return Ok(None);
        }
        let langs = self.control_in(0x80, 6, (DT_STRING as u16) << 8, 0, 255, timeout_ms)?;
        let lang = match langs.get(2..4) {
            Some(l) => u16::from_le_bytes([l[0], l[1]]),
            None => return Ok(None),
        };
        let raw = self.control_in(0x80, 6, (DT_STRING as u16) << 8 | index as u16, lang, 255, timeout_ms)?;
        if raw.len() < 2 || raw[1] != DT_STRING {
            return Err(LibusbError::Io);
        }
        let end = (raw[0] as usize).min(raw.len());
        let units: Vec<u16> = raw[2..end]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Some(String::from_utf16_lossy(&units)))
    }
}
