//! What every simulated device shares: chapter 9 of the USB specification. A [`Function`] is
//! what makes a device an echo device, a disk or a keyboard (its descriptors, class requests and
//! endpoint data); [`SimDevice`] wraps it with the standard requests, the configuration and
//! alternate-setting state, and endpoint halts, as the hardware would.

use crate::usb::types::{
    ConfigDescriptor, DeviceDescriptor, Setup, TransferType, UsbError, DT_CONFIG, DT_DEVICE,
    DT_STRING,
};

/// The device-specific part of a simulated device.
pub trait Function: Send {
    fn device_descriptor(&self) -> DeviceDescriptor;
    /// The one configuration (value 1) with its interface, class and endpoint descriptors.
    fn config_descriptor(&self) -> Vec<u8>;
    /// String descriptors 1, 2, ... (index 0 is the language list).
    fn strings(&self) -> Vec<String>;
    /// A request the standard ones do not cover: `None` stalls it.
    fn class_request(&mut self, setup: &Setup, data: &[u8]) -> Option<Result<Vec<u8>, UsbError>>;
    /// Data the host sent to OUT endpoint `ep`. `Err(Pipe)` halts the endpoint.
    fn out(&mut self, ep: u8, data: &[u8]) -> Result<(), UsbError>;
    /// Data for IN endpoint `ep`, at most `max` bytes; `None` when the device has nothing yet
    /// (it NAKs). `Err(Pipe)` halts the endpoint.
    fn input(&mut self, ep: u8, max: usize) -> Option<Result<Vec<u8>, UsbError>>;
    /// Bus reset, or the configuration changed: back to the power-on state of the function.
    fn reset(&mut self);
    /// Endpoints the function wants halted (mass storage halts both bulk endpoints on a bad
    /// command block); drained by the device after each transfer.
    fn take_halts(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

pub struct SimDevice {
    function: Box<dyn Function>,
    config: ConfigDescriptor,
    /// Active configuration value (0: unconfigured). A device starts in its configuration,
    /// as the Linux kernel leaves a device it has enumerated (the real-kernel rig reports
    /// configuration 1 for a device no driver configured), so a guest that never calls
    /// set-configuration can transfer at once.
    active: u8,
    /// (interface, alternate setting) chosen by SET_INTERFACE.
    alts: Vec<(u8, u8)>,
    halted: Vec<u8>,
    /// Interfaces claimed through some open handle.
    pub claimed: Vec<u8>,
    /// Interfaces a (simulated) kernel driver is bound to (`kernel-driver=yes`): claiming one
    /// is `busy` until the driver is detached.
    pub kernel_driver: Vec<u8>,
}

fn utf16_descriptor(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().take(126).collect();
    let mut out = vec![(2 + units.len() * 2) as u8, DT_STRING];
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

impl SimDevice {
    pub fn new(function: Box<dyn Function>) -> SimDevice {
        let config = ConfigDescriptor::parse(&function.config_descriptor(), 0)
            .expect("simulated devices carry valid descriptors");
        SimDevice {
            function,
            active: config.value,
            config,
            alts: Vec::new(),
            halted: Vec::new(),
            claimed: Vec::new(),
            kernel_driver: Vec::new(),
        }
    }

    /// Every interface number of the configuration.
    pub fn interfaces(&self) -> Vec<u8> {
        self.config.interfaces.iter().map(|i| i.number).collect()
    }

    pub fn descriptor(&self) -> DeviceDescriptor {
        self.function.device_descriptor()
    }

    pub fn config_bytes(&self) -> Vec<u8> {
        self.function.config_descriptor()
    }

    pub fn config(&self) -> &ConfigDescriptor {
        &self.config
    }

    pub fn active(&self) -> u8 {
        self.active
    }

    pub fn has_interface(&self, number: u8) -> bool {
        self.config.interfaces.iter().any(|i| i.number == number)
    }

    pub fn set_configuration(&mut self, value: u8) -> Result<(), UsbError> {
        if value != 0 && value != self.config.value {
            return Err(UsbError::Pipe);
        }
        self.active = value;
        self.alts.clear();
        self.halted.clear();
        self.function.reset();
        Ok(())
    }

    pub fn set_interface(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        if self.active == 0 {
            return Err(UsbError::Pipe);
        }
        let Some(iface) = self
            .config
            .interfaces
            .iter()
            .find(|i| i.number == interface && i.alternate_setting == alt)
        else {
            return Err(UsbError::Pipe);
        };
        let endpoints: Vec<u8> = iface.endpoints.iter().map(|e| e.address).collect();
        self.halted.retain(|e| !endpoints.contains(e));
        self.alts.retain(|(n, _)| *n != interface);
        self.alts.push((interface, alt));
        Ok(())
    }

    pub fn clear_halt(&mut self, endpoint: u8) -> Result<(), UsbError> {
        if endpoint & 0x7F != 0 && self.endpoint(endpoint).is_none() {
            return Err(UsbError::NotFound);
        }
        self.halted.retain(|e| *e != endpoint);
        Ok(())
    }

    pub fn reset(&mut self) {
        // A port reset re-enumerates; libusb then restores the configuration it had.
        self.alts.clear();
        self.halted.clear();
        self.function.reset();
    }

    /// The interface an endpoint of the active alternate settings belongs to.
    pub fn endpoint(&self, address: u8) -> Option<(u8, TransferType)> {
        if self.active == 0 {
            return None;
        }
        self.config
            .endpoint(address, &self.alts)
            .map(|(i, e)| (i, e.transfer_type()))
    }

    /// A control transfer: `data` is the OUT stage; the answer is the IN stage, cut to
    /// `wLength` as the host controller would.
    pub fn control(&mut self, setup: &Setup, data: &[u8]) -> Result<Vec<u8>, UsbError> {
        let mut answer = self.standard(setup, data)?;
        answer.truncate(setup.length as usize);
        Ok(answer)
    }

    fn standard(&mut self, s: &Setup, data: &[u8]) -> Result<Vec<u8>, UsbError> {
        let [kind, index] = [(s.value >> 8) as u8, s.value as u8];
        match (s.request_type, s.request) {
            (0x80, 6) if kind == DT_DEVICE => Ok(self.descriptor().to_bytes().to_vec()),
            (0x80, 6) if kind == DT_CONFIG => match index {
                0 => {
                    let mut bytes = self.config_bytes();
                    // The configuration as the device reports it.
                    if bytes.len() > 1 {
                        bytes[1] = DT_CONFIG;
                    }
                    Ok(bytes)
                }
                _ => Err(UsbError::Pipe),
            },
            (0x80, 6) if kind == DT_STRING => {
                if index == 0 {
                    // One language: English (United States).
                    return Ok(vec![4, DT_STRING, 0x09, 0x04]);
                }
                let strings = self.function.strings();
                strings
                    .get(index as usize - 1)
                    .map(|t| utf16_descriptor(t))
                    .ok_or(UsbError::Pipe)
            }
            (0x80, 0) => Ok(vec![0, 0]),
            (0x81, 0) => Ok(vec![0, 0]),
            (0x82, 0) => Ok(vec![self.halted.contains(&(s.index as u8)) as u8, 0]),
            (0x80, 8) => Ok(vec![self.active]),
            (0x00, 9) => self.set_configuration(s.value as u8).map(|()| Vec::new()),
            (0x81, 10) if self.active != 0 && self.has_interface(s.index as u8) => Ok(vec![self
                .alts
                .iter()
                .find(|(n, _)| *n == s.index as u8)
                .map_or(0, |(_, a)| *a)]),
            (0x01, 11) => self
                .set_interface(s.index as u8, s.value as u8)
                .map(|()| Vec::new()),
            (0x02, 1) if s.value == 0 => self
                .clear_halt(s.index as u8)
                .map(|()| Vec::new())
                .map_err(|_| UsbError::Pipe),
            (0x02, 3) if s.value == 0 && self.endpoint(s.index as u8).is_some() => {
                self.halted.push(s.index as u8);
                Ok(Vec::new())
            }
            _ => self
                .function
                .class_request(s, data)
                .unwrap_or(Err(UsbError::Pipe)),
        }
    }

    fn usable(&self, ep: u8, kind: TransferType) -> Result<(), UsbError> {
        match self.endpoint(ep) {
            None => Err(UsbError::NotFound),
            Some((_, t)) if t != kind => Err(UsbError::InvalidParam),
            Some(_) if self.halted.contains(&ep) => Err(UsbError::Pipe),
            Some(_) => Ok(()),
        }
    }

    fn collect_halts(&mut self) {
        for ep in self.function.take_halts() {
            if !self.halted.contains(&ep) {
                self.halted.push(ep);
            }
        }
    }

    pub fn out(&mut self, ep: u8, kind: TransferType, data: &[u8]) -> Result<(), UsbError> {
        self.usable(ep, kind)?;
        let r = self.function.out(ep, data);
        if r == Err(UsbError::Pipe) {
            self.halted.push(ep);
        }
        self.collect_halts();
        r
    }

    pub fn input(
        &mut self,
        ep: u8,
        kind: TransferType,
        max: usize,
    ) -> Option<Result<Vec<u8>, UsbError>> {
        if let Err(e) = self.usable(ep, kind) {
            return Some(Err(e));
        }
        let r = self.function.input(ep, max);
        if matches!(r, Some(Err(UsbError::Pipe))) {
            self.halted.push(ep);
        }
        self.collect_halts();
        r
    }
}

/// Builds descriptors byte by byte.
pub fn interface(number: u8, endpoints: u8, class: [u8; 3], string: u8) -> [u8; 9] {
    [
        9, 4, number, 0, endpoints, class[0], class[1], class[2], string,
    ]
}

pub fn endpoint(address: u8, kind: TransferType, max_packet: u16, interval: u8) -> [u8; 7] {
    let attributes = match kind {
        TransferType::Control => 0,
        TransferType::Isochronous => 1,
        TransferType::Bulk => 2,
        TransferType::Interrupt => 3,
    };
    let mps = max_packet.to_le_bytes();
    [7, 5, address, attributes, mps[0], mps[1], interval]
}

/// A configuration descriptor (value 1, bus-powered, `max_power_ma`) around `body`.
pub fn configuration(interfaces: u8, max_power_ma: u16, body: &[u8]) -> Vec<u8> {
    let total = (9 + body.len()) as u16;
    let mut out = vec![9, DT_CONFIG];
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&[interfaces, 1, 0, 0x80, (max_power_ma / 2) as u8]);
    out.extend_from_slice(body);
    out
}

/// A device descriptor with one configuration and strings 1, 2, 3.
pub fn device(
    usb: u16,
    class: [u8; 3],
    vendor: u16,
    product: u16,
    release: u16,
) -> DeviceDescriptor {
    DeviceDescriptor {
        length: 18,
        descriptor_type: DT_DEVICE,
        usb_version: usb,
        class: class[0],
        subclass: class[1],
        protocol: class[2],
        max_packet_size0: 64,
        vendor_id: vendor,
        product_id: product,
        device_version: release,
        manufacturer_index: 1,
        product_index: 2,
        serial_index: 3,
        num_configurations: 1,
    }
}
