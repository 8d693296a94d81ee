//! A HID boot keyboard: its interrupt IN endpoint sends 8-byte boot reports (modifiers,
//! reserved, six key codes) typing a configured text, each key pressed then released; after
//! the text it has nothing more to say (it NAKs, so a read times out).

use std::collections::VecDeque;

use super::device::{self, Function};
use crate::usb::types::{DeviceDescriptor, Setup, TransferType, UsbError};

pub const REPORT_IN: u8 = 0x81;
const LEFT_SHIFT: u8 = 0x02;

/// The boot keyboard report descriptor (HID 1.11, appendix B.1).
const REPORT_DESCRIPTOR: [u8; 63] = [
    0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x05, 0x07, 0x19, 0xE0, 0x29, 0xE7, 0x15, 0x00, 0x25, 0x01,
    0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01,
    0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
    0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xC0,
];

/// The HID usage (and whether shift is held) that types `c` on a US layout.
pub fn usage(c: char) -> Option<(u8, u8)> {
    Some(match c {
        'a'..='z' => (0, 4 + (c as u8 - b'a')),
        'A'..='Z' => (LEFT_SHIFT, 4 + (c as u8 - b'A')),
        '1'..='9' => (0, 30 + (c as u8 - b'1')),
        '0' => (0, 39),
        '\n' => (0, 40),
        '\t' => (0, 43),
        ' ' => (0, 44),
        '-' => (0, 45),
        '=' => (0, 46),
        '.' => (0, 55),
        ',' => (0, 54),
        '/' => (0, 56),
        '!' => (LEFT_SHIFT, 30),
        '?' => (LEFT_SHIFT, 56),
        _ => return None,
    })
}

pub struct Keyboard {
    text: String,
    reports: VecDeque<[u8; 8]>,
    idle: u8,
    protocol: u8,
    leds: u8,
}

impl Keyboard {
    /// A keyboard that types `text`; characters without a US-layout key are refused.
    pub fn new(text: &str) -> Result<Keyboard, String> {
        if let Some(c) = text.chars().find(|c| usage(*c).is_none()) {
            return Err(format!("the keyboard has no key for {c:?}"));
        }
        let mut k = Keyboard {
            text: text.to_string(),
            reports: VecDeque::new(),
            idle: 0,
            protocol: 1,
            leds: 0,
        };
        k.reset();
        Ok(k)
    }
}

impl Function for Keyboard {
    fn device_descriptor(&self) -> DeviceDescriptor {
        device::device(0x0110, [0, 0, 0], 0x046D, 0xC31C, 0x4920)
    }

    fn config_descriptor(&self) -> Vec<u8> {
        let mut body = device::interface(0, 1, [3, 1, 1], 0).to_vec();
        let len = (REPORT_DESCRIPTOR.len() as u16).to_le_bytes();
        body.extend_from_slice(&[9, 0x21, 0x11, 0x01, 0, 1, 0x22, len[0], len[1]]);
        body.extend_from_slice(&device::endpoint(REPORT_IN, TransferType::Interrupt, 8, 10));
        device::configuration(1, 100, &body)
    }

    fn strings(&self) -> Vec<String> {
        vec![
            "Logitech".into(),
            "USB Keyboard".into(),
            "SIMKBD0001".into(),
        ]
    }

    fn class_request(&mut self, s: &Setup, data: &[u8]) -> Option<Result<Vec<u8>, UsbError>> {
        Some(Ok(match (s.request_type, s.request) {
            // GET_DESCRIPTOR(report) to the interface.
            (0x81, 6) if s.value >> 8 == 0x22 => REPORT_DESCRIPTOR.to_vec(),
            // GET_REPORT: the keys held now (none between reports).
            (0xA1, 1) => vec![0; 8],
            (0xA1, 2) => vec![self.idle],
            (0xA1, 3) => vec![self.protocol],
            // SET_REPORT: the LED byte.
            (0x21, 9) => {
                self.leds = data.first().copied().unwrap_or(0);
                Vec::new()
            }
            (0x21, 10) => {
                self.idle = (s.value >> 8) as u8;
                Vec::new()
            }
            (0x21, 11) => {
                self.protocol = s.value as u8;
                Vec::new()
            }
            _ => return None,
        }))
    }

    fn out(&mut self, _: u8, _: &[u8]) -> Result<(), UsbError> {
        Err(UsbError::Pipe)
    }

    fn input(&mut self, _: u8, max: usize) -> Option<Result<Vec<u8>, UsbError>> {
        let report = self.reports.pop_front()?;
        if max < report.len() {
            return Some(Err(UsbError::Overflow));
        }
        Some(Ok(report.to_vec()))
    }

    fn reset(&mut self) {
        self.reports.clear();
        for c in self.text.chars() {
            let (modifiers, key) = usage(c).expect("checked in new");
            self.reports.push_back([modifiers, 0, key, 0, 0, 0, 0, 0]);
            self.reports.push_back([0; 8]);
        }
    }
}
