//! The traits every USB backend implements. They follow libusb's model, which is also the
//! model of the WASI-USB proposal: a host lists devices, a device is opened into a handle, a
//! handle submits asynchronous transfers that are awaited or cancelled.

use super::types::{DeviceDescriptor, Event, IsoPacket, Location, TransferRequest, UsbError};

/// A device as listed: `key` names it for later calls on the same host and stays the same
/// while it is plugged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub key: u64,
    pub descriptor: DeviceDescriptor,
    pub location: Location,
}

/// The USB host side: every device on the machine (the runtime filters by grant).
pub trait Host: Send {
    /// The devices present now.
    fn devices(&mut self) -> Result<Vec<DeviceInfo>, UsbError>;
    /// The raw configuration descriptor number `index` (all `wTotalLength` bytes).
    fn config_descriptor(&mut self, key: u64, index: u8) -> Result<Vec<u8>, UsbError>;
    /// The active `bConfigurationValue` (0: unconfigured).
    fn active_config(&mut self, key: u64) -> Result<u8, UsbError>;
    fn open(&mut self, key: u64) -> Result<Box<dyn Handle>, UsbError>;
    /// Starts recording arrivals and departures.
    fn enable_hotplug(&mut self) -> Result<(), UsbError>;
    /// What arrived or left since the last call (after [`enable_hotplug`](Self::enable_hotplug)).
    fn poll_events(&mut self) -> Vec<(Event, DeviceInfo)>;
}

/// An open device.
pub trait Handle: Send {
    fn get_configuration(&mut self) -> Result<u8, UsbError>;
    /// `None` unconfigures the device.
    fn set_configuration(&mut self, value: Option<u8>) -> Result<(), UsbError>;
    fn claim_interface(&mut self, interface: u8) -> Result<(), UsbError>;
    fn release_interface(&mut self, interface: u8) -> Result<(), UsbError>;
    fn set_alt_setting(&mut self, interface: u8, alt: u8) -> Result<(), UsbError>;
    fn clear_halt(&mut self, endpoint: u8) -> Result<(), UsbError>;
    fn reset(&mut self) -> Result<(), UsbError>;
    fn alloc_streams(&mut self, count: u32, endpoints: &[u8]) -> Result<(), UsbError>;
    fn free_streams(&mut self, endpoints: &[u8]) -> Result<(), UsbError>;
    fn kernel_driver_active(&mut self, interface: u8) -> Result<bool, UsbError>;
    fn detach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError>;
    fn attach_kernel_driver(&mut self, interface: u8) -> Result<(), UsbError>;
    /// Starts a transfer; the data of an OUT transfer is on its way when this returns.
    fn submit(&mut self, request: TransferRequest) -> Result<Box<dyn Pending>, UsbError>;
}

/// A submitted transfer.
pub trait Pending: Send {
    /// Waits for completion (or the request's timeout): the bytes an IN transfer received
    /// (without the setup packet), empty for OUT.
    fn wait(&mut self) -> Result<Vec<u8>, UsbError>;
    /// After a successful [`wait`](Self::wait) of an isochronous transfer, how each packet
    /// ended (the data `wait` returned is the packets' bytes one after the other); empty for
    /// other transfers.
    fn iso_packets(&self) -> Vec<IsoPacket> {
        Vec::new()
    }
    /// Asks the transfer to stop; a later [`wait`](Self::wait) answers `Interrupted` unless it
    /// had already completed.
    fn cancel(&mut self) -> Result<(), UsbError>;
}
