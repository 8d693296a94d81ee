//! The Linux backend (libusb through rusb, vendored) is not written yet: until it is, selecting
//! it fails when a driver first uses USB, naming the simulation as the working backend.
use super::host::{DeviceInfo, Handle, Host};
use super::types::{Event, UsbError};

pub struct LibusbHost;

impl LibusbHost {
    pub fn new() -> Result<LibusbHost, String> {
        Err(
            "the linux (libusb) backend is not available in this build; set WAFER_USB_BACKEND=sim"
                .into(),
        )
    }
}

impl Host for LibusbHost {
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError> {
        Err(UsbError::NotSupported)
    }
    fn config_descriptor(&mut self, _: u64, _: u8) -> Result<Vec<u8>, UsbError> {
        Err(UsbError::NotSupported)
    }
    fn active_config(&mut self, _: u64) -> Result<u8, UsbError> {
        Err(UsbError::NotSupported)
    }
    fn open(&mut self, _: u64) -> Result<Box<dyn Handle>, UsbError> {
        Err(UsbError::NotSupported)
    }
    fn enable_hotplug(&mut self) -> Result<(), UsbError> {
        Err(UsbError::NotSupported)
    }
    fn poll_events(&mut self) -> Vec<(Event, DeviceInfo)> {
        Vec::new()
    }
}
