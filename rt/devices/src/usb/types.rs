//! The values WASI-USB passes around, as plain Rust data.

/// How one packet of an isochronous transfer ended (`iso-packet-status` of the 2026 WASI-USB
/// transfers interface, in the order of its cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum IsoStatus {
    Success,
    Error,
    TimedOut,
    Cancelled,
    Stall,
    NoDevice,
    Overflow,
}

/// One packet of a completed isochronous transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoPacket {
    pub actual_length: u32,
    pub status: IsoStatus,
}

/// `libusb-error`, in the order of its WIT cases (the canonical ABI's enum byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum UsbError {
    Io = 0,
    InvalidParam = 1,
    Access = 2,
    NoDevice = 3,
    NotFound = 4,
    Busy = 5,
    Timeout = 6,
    Overflow = 7,
    Pipe = 8,
    Interrupted = 9,
    NoMem = 10,
    NotSupported = 11,
    Other = 12,
}

/// `usb-speed`, in WIT order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Speed {
    Unknown = 0,
    Low = 1,
    Full = 2,
    High = 3,
    Super = 4,
    SuperPlus = 5,
    SuperPlusX2 = 6,
}

/// `device-location`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub bus: u8,
    pub address: u8,
    pub port: u8,
    pub speed: Speed,
}

pub const DT_DEVICE: u8 = 1;
pub const DT_CONFIG: u8 = 2;
pub const DT_STRING: u8 = 3;
pub const DT_INTERFACE: u8 = 4;
pub const DT_ENDPOINT: u8 = 5;

/// The 18-byte device descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub usb_version: u16,
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    pub max_packet_size0: u8,
    pub vendor_id: u16,
    pub product_id: u16,
    pub device_version: u16,
    pub manufacturer_index: u8,
    pub product_index: u8,
    pub serial_index: u8,
    pub num_configurations: u8,
}

impl DeviceDescriptor {
    pub fn parse(raw: &[u8]) -> Result<DeviceDescriptor, UsbError> {
        if raw.len() < 18 || raw[1] != DT_DEVICE {
            return Err(UsbError::Io);
        }
        let w = |at: usize| u16::from_le_bytes([raw[at], raw[at + 1]]);
        Ok(DeviceDescriptor {
            length: raw[0],
            descriptor_type: raw[1],
            usb_version: w(2),
            class: raw[4],
            subclass: raw[5],
            protocol: raw[6],
            max_packet_size0: raw[7],
            vendor_id: w(8),
            product_id: w(10),
            device_version: w(12),
            manufacturer_index: raw[14],
            product_index: raw[15],
            serial_index: raw[16],
            num_configurations: raw[17],
        })
    }

    pub fn to_bytes(&self) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[0] = self.length;
        b[1] = self.descriptor_type;
        b[2..4].copy_from_slice(&self.usb_version.to_le_bytes());
        b[4] = self.class;
        b[5] = self.subclass;
        b[6] = self.protocol;
        b[7] = self.max_packet_size0;
        b[8..10].copy_from_slice(&self.vendor_id.to_le_bytes());
        b[10..12].copy_from_slice(&self.product_id.to_le_bytes());
        b[12..14].copy_from_slice(&self.device_version.to_le_bytes());
        b[14] = self.manufacturer_index;
        b[15] = self.product_index;
        b[16] = self.serial_index;
        b[17] = self.num_configurations;
        b
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub address: u8,
    pub attributes: u8,
    pub max_packet_size: u16,
    pub interval: u8,
    pub refresh: u8,
    pub synch_address: u8,
}

impl EndpointDescriptor {
    /// The transfer type in bits 0..1 of `bmAttributes`.
    pub fn transfer_type(&self) -> TransferType {
        match self.attributes & 3 {
            0 => TransferType::Control,
            1 => TransferType::Isochronous,
            2 => TransferType::Bulk,
            _ => TransferType::Interrupt,
        }
    }
}

/// One (interface, alternate setting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub number: u8,
    pub alternate_setting: u8,
    pub endpoints: Vec<EndpointDescriptor>,
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    pub index: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDescriptor {
    pub length: u8,
    pub descriptor_type: u8,
    pub total_length: u16,
    pub interfaces: Vec<InterfaceDescriptor>,
    pub value: u8,
    pub index: u8,
    pub attributes: u8,
    pub max_power: u8,
}

impl ConfigDescriptor {
    /// Parses a configuration descriptor with everything that follows it (`wTotalLength`
    /// bytes); class-specific descriptors between them are skipped, as libusb keeps them only
    /// in `extra`. `index` is the configuration's index among the device's configurations.
    pub fn parse(raw: &[u8], index: u8) -> Result<ConfigDescriptor, UsbError> {
        if raw.len() < 9 || raw[0] < 9 || raw[1] != DT_CONFIG {
            return Err(UsbError::Io);
        }
        let total = u16::from_le_bytes([raw[2], raw[3]]);
        let body = &raw[..(total as usize).min(raw.len())];
        let mut config = ConfigDescriptor {
            length: raw[0],
            descriptor_type: raw[1],
            total_length: total,
            interfaces: Vec::new(),
            value: raw[5],
            index,
            attributes: raw[7],
            max_power: raw[8],
        };
        let mut at = raw[0] as usize;
        while at + 2 <= body.len() {
            let len = body[at] as usize;
            if len < 2 || at + len > body.len() {
                return Err(UsbError::Io);
            }
            let d = &body[at..at + len];
            match d[1] {
                DT_INTERFACE if len >= 9 => config.interfaces.push(InterfaceDescriptor {
                    length: d[0],
                    descriptor_type: d[1],
                    number: d[2],
                    alternate_setting: d[3],
                    endpoints: Vec::new(),
                    class: d[5],
                    subclass: d[6],
                    protocol: d[7],
                    index: d[8],
                }),
                DT_ENDPOINT if len >= 7 => {
                    let Some(iface) = config.interfaces.last_mut() else {
                        return Err(UsbError::Io);
                    };
                    iface.endpoints.push(EndpointDescriptor {
                        length: d[0],
                        descriptor_type: d[1],
                        address: d[2],
                        attributes: d[3],
                        max_packet_size: u16::from_le_bytes([d[4], d[5]]),
                        interval: d[6],
                        refresh: d.get(7).copied().unwrap_or(0),
                        synch_address: d.get(8).copied().unwrap_or(0),
                    });
                }
                _ => {}
            }
            at += len;
        }
        Ok(config)
    }

    /// The endpoint with this address in the given alternate settings.
    pub fn endpoint(&self, address: u8, alts: &[(u8, u8)]) -> Option<(u8, EndpointDescriptor)> {
        self.interfaces
            .iter()
            .filter(|i| {
                alts.iter()
                    .find(|(n, _)| *n == i.number)
                    .map_or(i.alternate_setting == 0, |(_, a)| *a == i.alternate_setting)
            })
            .find_map(|i| {
                i.endpoints
                    .iter()
                    .find(|e| e.address == address)
                    .map(|e| (i.number, *e))
            })
    }
}

/// `transfer-type`, in WIT order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    Control,
    Bulk,
    Interrupt,
    Isochronous,
}

/// A control request: the 8-byte setup packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    pub request_type: u8,
    pub request: u8,
    pub value: u16,
    pub index: u16,
    pub length: u16,
}

impl Setup {
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.request_type;
        b[1] = self.request;
        b[2..4].copy_from_slice(&self.value.to_le_bytes());
        b[4..6].copy_from_slice(&self.index.to_le_bytes());
        b[6..8].copy_from_slice(&self.length.to_le_bytes());
        b
    }
}

/// One transfer as the guest asked for it, checked by the runtime: for OUT transfers `data`
/// holds exactly `length` bytes, for IN transfers it is empty and up to `length` bytes come
/// back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRequest {
    pub kind: TransferType,
    /// Endpoint address with its direction bit (0 for control).
    pub endpoint: u8,
    /// Control transfers only; its `length` is the transfer's buffer size.
    pub setup: Option<Setup>,
    pub length: u32,
    pub data: Vec<u8>,
    /// 0 waits for ever.
    pub timeout_ms: u32,
    pub stream_id: u32,
    pub iso_packets: u32,
}

impl TransferRequest {
    pub fn is_in(&self) -> bool {
        match self.setup {
            Some(s) => s.is_in(),
            None => self.endpoint & 0x80 != 0,
        }
    }
}

/// `event` flags of hotplug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Arrived,
    Left,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_configuration_with_class_descriptors_between() {
        let raw = [
            9, 2, 41, 0, 1, 1, 0, 0xA0, 50, // config
            9, 4, 0, 0, 2, 3, 1, 1, 0, // interface 0 alt 0, HID boot keyboard
            9, 0x21, 0x11, 1, 0, 1, 0x22, 63, 0, // HID descriptor (skipped)
            7, 5, 0x81, 3, 8, 0, 10, // interrupt IN
            7, 5, 0x01, 3, 8, 0, 10, // interrupt OUT
        ];
        let c = ConfigDescriptor::parse(&raw[..41], 0).unwrap();
        assert_eq!(c.total_length, 41);
        assert_eq!(c.value, 1);
        assert_eq!(c.interfaces.len(), 1);
        let i = &c.interfaces[0];
        assert_eq!((i.class, i.subclass, i.protocol), (3, 1, 1));
        assert_eq!(i.endpoints.len(), 2);
        assert_eq!(i.endpoints[0].transfer_type(), TransferType::Interrupt);
        assert_eq!(c.endpoint(0x81, &[]).map(|(n, _)| n), Some(0));
        assert!(c.endpoint(0x82, &[]).is_none());
        assert!(ConfigDescriptor::parse(&raw[..8], 0).is_err());
        let mut bad = raw;
        bad[18] = 0; // a zero-length descriptor would loop for ever
        assert!(ConfigDescriptor::parse(&bad[..41], 0).is_err());
    }

    #[test]
    fn device_descriptor_round_trips() {
        let d = DeviceDescriptor {
            length: 18,
            descriptor_type: 1,
            usb_version: 0x0200,
            class: 0xEF,
            subclass: 2,
            protocol: 1,
            max_packet_size0: 64,
            vendor_id: 0x2341,
            product_id: 0x8057,
            device_version: 0x0100,
            manufacturer_index: 1,
            product_index: 2,
            serial_index: 3,
            num_configurations: 1,
        };
        assert_eq!(DeviceDescriptor::parse(&d.to_bytes()).unwrap(), d);
        assert!(DeviceDescriptor::parse(&d.to_bytes()[..17]).is_err());
    }
}
