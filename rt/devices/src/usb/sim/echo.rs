//! An echo device shaped like the Arduino echo firmware of the WASI-USB research prototype
//! (VID:PID 2341:8057): one vendor-specific interface whose bulk and interrupt IN endpoints
//! send back what was written to the OUT endpoint of the same type.

use std::collections::VecDeque;

use super::device::{self, Function};
use crate::usb::types::{DeviceDescriptor, Setup, TransferType, UsbError};

pub const BULK_IN: u8 = 0x81;
pub const BULK_OUT: u8 = 0x01;
pub const INTERRUPT_IN: u8 = 0x82;
pub const INTERRUPT_OUT: u8 = 0x02;
/// What the firmware buffers before it stops accepting data (it then NAKs the OUT endpoint).
const QUEUE_LIMIT: usize = 1 << 20;

pub struct Echo {
    vendor: u16,
    product: u16,
    serial: String,
    bulk: VecDeque<u8>,
    /// Interrupt data keeps its packet boundaries: one report in, one report out.
    interrupt: VecDeque<Vec<u8>>,
}

impl Echo {
    pub fn new(vendor: u16, product: u16, serial: String) -> Echo {
        Echo {
            vendor,
            product,
            serial,
            bulk: VecDeque::new(),
            interrupt: VecDeque::new(),
        }
    }
}

impl Function for Echo {
    fn device_descriptor(&self) -> DeviceDescriptor {
        device::device(0x0200, [0xEF, 2, 1], self.vendor, self.product, 0x0100)
    }

    fn config_descriptor(&self) -> Vec<u8> {
        let mut body = device::interface(0, 4, [0xFF, 0, 0], 0).to_vec();
        body.extend_from_slice(&device::endpoint(BULK_IN, TransferType::Bulk, 64, 0));
        body.extend_from_slice(&device::endpoint(BULK_OUT, TransferType::Bulk, 64, 0));
        body.extend_from_slice(&device::endpoint(
            INTERRUPT_IN,
            TransferType::Interrupt,
            64,
            1,
        ));
        body.extend_from_slice(&device::endpoint(
            INTERRUPT_OUT,
            TransferType::Interrupt,
            64,
            1,
        ));
        device::configuration(1, 100, &body)
    }

    fn strings(&self) -> Vec<String> {
        vec!["Arduino LLC".into(), "Echo".into(), self.serial.clone()]
    }

    fn class_request(&mut self, _: &Setup, _: &[u8]) -> Option<Result<Vec<u8>, UsbError>> {
        None
    }

    fn out(&mut self, ep: u8, data: &[u8]) -> Result<(), UsbError> {
        let queued = self.bulk.len() + self.interrupt.iter().map(Vec::len).sum::<usize>();
        if queued + data.len() > QUEUE_LIMIT {
            return Err(UsbError::Timeout);
        }
        match ep {
            BULK_OUT => self.bulk.extend(data),
            _ => {
                // An interrupt transfer longer than a packet arrives as packets.
                for packet in data.chunks(64) {
                    self.interrupt.push_back(packet.to_vec());
                }
                if data.is_empty() {
                    self.interrupt.push_back(Vec::new());
                }
            }
        }
        Ok(())
    }

    fn input(&mut self, ep: u8, max: usize) -> Option<Result<Vec<u8>, UsbError>> {
        match ep {
            BULK_IN => {
                if self.bulk.is_empty() {
                    return None;
                }
                let n = max.min(self.bulk.len());
                Some(Ok(self.bulk.drain(..n).collect()))
            }
            _ => {
                let packet = self.interrupt.pop_front()?;
                if packet.len() > max {
                    return Some(Err(UsbError::Overflow));
                }
                Some(Ok(packet))
            }
        }
    }

    fn reset(&mut self) {
        self.bulk.clear();
        self.interrupt.clear();
    }
}
