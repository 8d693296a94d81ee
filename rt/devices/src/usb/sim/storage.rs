//! A USB flash drive: mass storage, bulk-only transport (BOT), SCSI transparent command set,
//! over an image file of 512-byte blocks.
//!
//! The host sends a 31-byte command block wrapper (CBW) to the bulk OUT endpoint, then the
//! data stage moves on bulk IN or OUT, then the device answers a 13-byte command status
//! wrapper (CSW) on bulk IN. Commands: INQUIRY, TEST UNIT READY, REQUEST SENSE, READ
//! CAPACITY(10), READ(10), WRITE(10), MODE SENSE(6); others fail with ILLEGAL REQUEST sense
//! data. A CBW that is not valid halts both bulk endpoints until a reset recovery (class
//! reset, then CLEAR_FEATURE on each), as the BOT specification requires.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::device::{self, Function};
use crate::usb::types::{DeviceDescriptor, Setup, TransferType, UsbError};

pub const BULK_IN: u8 = 0x81;
pub const BULK_OUT: u8 = 0x02;
pub const BLOCK: u64 = 512;
const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;

/// Sense key, additional sense code.
type Sense = (u8, u8);
const NO_SENSE: Sense = (0, 0);
const ILLEGAL_OPCODE: Sense = (0x05, 0x20);
const LBA_OUT_OF_RANGE: Sense = (0x05, 0x21);
const INVALID_FIELD: Sense = (0x05, 0x24);
const MEDIUM_ERROR: Sense = (0x03, 0x11);

enum Stage {
    /// Waiting for a CBW.
    Command,
    /// Sending `data` (at `sent`) then the CSW.
    DataIn {
        tag: u32,
        data: Vec<u8>,
        sent: usize,
        expected: u32,
        status: u8,
    },
    /// Receiving `expected` bytes for a WRITE(10) at `lba`.
    DataOut {
        tag: u32,
        lba: u64,
        received: Vec<u8>,
        expected: u32,
    },
    /// The CSW is next on bulk IN.
    Status { csw: [u8; 13] },
    /// A bad CBW: stalled until reset recovery.
    Halted,
}

pub struct Storage {
    image: File,
    blocks: u64,
    stage: Stage,
    sense: Sense,
    halts: Vec<u8>,
}

fn csw(tag: u32, residue: u32, status: u8) -> [u8; 13] {
    let mut c = [0u8; 13];
    c[0..4].copy_from_slice(&CSW_SIGNATURE.to_le_bytes());
    c[4..8].copy_from_slice(&tag.to_le_bytes());
    c[8..12].copy_from_slice(&residue.to_le_bytes());
    c[12] = status;
    c
}

impl Storage {
    /// A drive over `image`, whose length (a multiple of 512) gives the capacity.
    pub fn new(image: File) -> Result<Storage, String> {
        let len = image.metadata().map_err(|e| e.to_string())?.len();
        if len == 0 || !len.is_multiple_of(BLOCK) {
            return Err(format!(
                "a storage image must be a non-empty multiple of {BLOCK} bytes (it has {len})"
            ));
        }
        Ok(Storage {
            image,
            blocks: len / BLOCK,
            stage: Stage::Command,
            sense: NO_SENSE,
            halts: Vec::new(),
        })
    }

    fn lba_range(&self, cb: &[u8]) -> Result<(u64, u64), Sense> {
        let lba = u32::from_be_bytes([cb[2], cb[3], cb[4], cb[5]]) as u64;
        let count = u16::from_be_bytes([cb[7], cb[8]]) as u64;
        if lba + count > self.blocks {
            return Err(LBA_OUT_OF_RANGE);
        }
        Ok((lba, count))
    }

    /// Runs a command that has no data-out stage: its data-in bytes, or the sense to report.
    fn execute(&mut self, cb: &[u8]) -> Result<Vec<u8>, Sense> {
        match cb[0] {
            0x00 => Ok(Vec::new()),
            0x03 => {
                let mut s = vec![0u8; 18];
                s[0] = 0x70;
                s[2] = self.sense.0;
                s[7] = 10;
                s[12] = self.sense.1;
                self.sense = NO_SENSE;
                Ok(s)
            }
            0x12 => {
                let mut inq = vec![0u8; 36];
                inq[1] = 0x80; // removable
                inq[2] = 0x04; // SPC-2
                inq[3] = 0x02;
                inq[4] = 31;
                inq[8..16].copy_from_slice(b"wafer   ");
                inq[16..32].copy_from_slice(b"Sim Flash Drive ");
                inq[32..36].copy_from_slice(b"1.00");
                Ok(inq)
            }
            0x1A => Ok(vec![3, 0, 0, 0]),
            0x25 => {
                let mut cap = Vec::with_capacity(8);
                cap.extend_from_slice(&((self.blocks - 1) as u32).to_be_bytes());
                cap.extend_from_slice(&(BLOCK as u32).to_be_bytes());
                Ok(cap)
            }
            0x28 => {
                let (lba, count) = self.lba_range(cb)?;
                let mut data = vec![0u8; (count * BLOCK) as usize];
                self.image
                    .read_exact_at(&mut data, lba * BLOCK)
                    .map_err(|_| MEDIUM_ERROR)?;
                Ok(data)
            }
            0x1E | 0x35 => Ok(Vec::new()), // PREVENT ALLOW MEDIUM REMOVAL, SYNCHRONIZE CACHE
            _ => Err(ILLEGAL_OPCODE),
        }
    }

    fn command(&mut self, cbw: &[u8]) -> Result<(), UsbError> {
        let valid = cbw.len() == 31
            && u32::from_le_bytes([cbw[0], cbw[1], cbw[2], cbw[3]]) == CBW_SIGNATURE
            && cbw[13] == 0
            && (1..=16).contains(&cbw[14]);
        if !valid {
            self.stage = Stage::Halted;
            self.halts = vec![BULK_IN, BULK_OUT];
            return Err(UsbError::Pipe);
        }
        let tag = u32::from_le_bytes([cbw[4], cbw[5], cbw[6], cbw[7]]);
        let expected = u32::from_le_bytes([cbw[8], cbw[9], cbw[10], cbw[11]]);
        let data_in = cbw[12] & 0x80 != 0;
        let cb = &cbw[15..15 + cbw[14] as usize];
        let mut padded = [0u8; 16];
        padded[..cb.len()].copy_from_slice(cb);

        if padded[0] == 0x2A {
            match self.lba_range(&padded) {
                Ok((lba, count)) if !data_in && count * BLOCK == expected as u64 => {
                    self.stage = Stage::DataOut {
                        tag,
                        lba,
                        received: Vec::with_capacity(expected as usize),
                        expected,
                    };
                    if expected == 0 {
                        self.finish_write();
                    }
                }
                Ok(_) => {
                    self.sense = INVALID_FIELD;
                    self.stage = Stage::Status {
                        csw: csw(tag, expected, 2),
                    };
                }
                Err(sense) => {
                    self.sense = sense;
                    self.stage = Stage::Status {
                        csw: csw(tag, expected, 1),
                    };
                }
            }
            return Ok(());
        }
        let (data, status) = match self.execute(&padded) {
            Ok(d) => (d, 0),
            Err(sense) => {
                self.sense = sense;
                (Vec::new(), 1)
            }
        };
        self.stage = if expected == 0 || !data_in {
            // Nothing to send: the host gets the residue in the CSW.
            Stage::Status {
                csw: csw(tag, expected, status),
            }
        } else {
            let mut data = data;
            data.truncate(expected as usize);
            Stage::DataIn {
                tag,
                data,
                sent: 0,
                expected,
                status,
            }
        };
        Ok(())
    }

    fn finish_write(&mut self) {
        let Stage::DataOut {
            tag, lba, received, ..
        } = std::mem::replace(&mut self.stage, Stage::Command)
        else {
            return;
        };
        let status = match self.image.write_all_at(&received, lba * BLOCK) {
            Ok(()) => 0,
            Err(_) => {
                self.sense = MEDIUM_ERROR;
                1
            }
        };
        self.stage = Stage::Status {
            csw: csw(tag, 0, status),
        };
    }
}

impl Function for Storage {
    fn device_descriptor(&self) -> DeviceDescriptor {
        device::device(0x0200, [0, 0, 0], 0x0781, 0x5567, 0x0100)
    }

    fn config_descriptor(&self) -> Vec<u8> {
        let mut body = device::interface(0, 2, [8, 6, 0x50], 0).to_vec();
        body.extend_from_slice(&device::endpoint(BULK_IN, TransferType::Bulk, 512, 0));
        body.extend_from_slice(&device::endpoint(BULK_OUT, TransferType::Bulk, 512, 0));
        device::configuration(1, 200, &body)
    }

    fn strings(&self) -> Vec<String> {
        vec![
            "wafer".into(),
            "Sim Flash Drive".into(),
            "0123456789AB".into(),
        ]
    }

    fn class_request(&mut self, s: &Setup, _: &[u8]) -> Option<Result<Vec<u8>, UsbError>> {
        match (s.request_type, s.request) {
            // Get Max LUN: one logical unit.
            (0xA1, 0xFE) => Some(Ok(vec![0])),
            // Bulk-Only Mass Storage Reset: ready for a CBW (the halts stay until cleared).
            (0x21, 0xFF) => {
                self.stage = Stage::Command;
                Some(Ok(Vec::new()))
            }
            _ => None,
        }
    }

    fn out(&mut self, _: u8, data: &[u8]) -> Result<(), UsbError> {
        match &mut self.stage {
            Stage::Command => self.command(data),
            Stage::DataOut {
                received, expected, ..
            } => {
                let room = *expected as usize - received.len();
                received.extend_from_slice(&data[..data.len().min(room)]);
                if received.len() == *expected as usize {
                    self.finish_write();
                }
                Ok(())
            }
            // Data the device does not expect: phase error, stall.
            _ => {
                self.halts = vec![BULK_OUT];
                Err(UsbError::Pipe)
            }
        }
    }

    fn input(&mut self, _: u8, max: usize) -> Option<Result<Vec<u8>, UsbError>> {
        match &mut self.stage {
            Stage::DataIn {
                tag,
                data,
                sent,
                expected,
                status,
            } => {
                let n = max.min(data.len() - *sent);
                let chunk = data[*sent..*sent + n].to_vec();
                *sent += n;
                if *sent == data.len() {
                    let residue = *expected - data.len() as u32;
                    let (tag, status) = (*tag, *status);
                    self.stage = Stage::Status {
                        csw: csw(tag, residue, status),
                    };
                    if residue > 0 && n == 0 {
                        // Less data than announced: the device stalls IN, the host clears it
                        // and reads the CSW (BOT 6.7.2).
                        self.halts = vec![BULK_IN];
                        return Some(Err(UsbError::Pipe));
                    }
                }
                Some(Ok(chunk))
            }
            Stage::Status { csw } => {
                let bytes = csw.to_vec();
                if max < bytes.len() {
                    return Some(Err(UsbError::Overflow));
                }
                self.stage = Stage::Command;
                Some(Ok(bytes))
            }
            // Nothing to send: NAK.
            Stage::Command | Stage::DataOut { .. } => None,
            Stage::Halted => Some(Err(UsbError::Pipe)),
        }
    }

    fn reset(&mut self) {
        self.stage = Stage::Command;
        self.sense = NO_SENSE;
    }

    fn take_halts(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.halts)
    }
}
