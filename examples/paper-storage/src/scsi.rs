//! SCSI commands over USB mass-storage bulk-only transport (BOT 1.0): each command is a
//! 31-byte command block wrapper (CBW) on bulk OUT, an optional data stage, and a 13-byte
//! command status wrapper (CSW) on bulk IN. Commands: TEST UNIT READY, REQUEST SENSE,
//! INQUIRY, READ CAPACITY(10), READ(10), WRITE(10), for LUN 0.
//!
//! Transfers go through the 2024 API, whose errors trap: a stalled endpoint ends the run
//! there, so there is no reset recovery here; a failed or malformed CSW is an `Err`.

use crate::wadu436::usb::device::{UsbDevice, UsbEndpoint};

const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;
const CSW_LEN: u64 = 13;

/// What INQUIRY says.
pub struct Identity {
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

/// The data stage of a command.
enum Data<'a> {
    None,
    In(u32),
    Out(&'a [u8]),
}

/// LUN 0 of a bulk-only interface.
pub struct Disk<'a> {
    device: &'a UsbDevice,
    bulk_in: &'a UsbEndpoint,
    bulk_out: &'a UsbEndpoint,
    tag: u32,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

fn rw10(opcode: u8, lba: u64, blocks: u16) -> [u8; 10] {
    let l = (lba as u32).to_be_bytes();
    let n = blocks.to_be_bytes();
    [opcode, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
}

impl<'a> Disk<'a> {
    pub fn new(device: &'a UsbDevice, bulk_in: &'a UsbEndpoint, bulk_out: &'a UsbEndpoint) -> Self {
        Disk {
            device,
            bulk_in,
            bulk_out,
            tag: 0,
        }
    }

    /// One BOT exchange: the data received and the CSW status (0 passed, 1 failed).
    fn transport(&mut self, name: &str, cb: &[u8], data: Data) -> Result<(Vec<u8>, u8), String> {
        self.tag = self.tag.wrapping_add(1);
        let (length, flags) = match data {
            Data::None => (0, 0),
            Data::In(n) => (n, 0x80),
            Data::Out(d) => (d.len() as u32, 0),
        };
        let mut cbw = [0u8; 31];
        cbw[0..4].copy_from_slice(&CBW_SIGNATURE.to_le_bytes());
        cbw[4..8].copy_from_slice(&self.tag.to_le_bytes());
        cbw[8..12].copy_from_slice(&length.to_le_bytes());
        cbw[12] = flags;
        cbw[14] = cb.len() as u8;
        cbw[15..15 + cb.len()].copy_from_slice(cb);
        self.device.write_bulk(self.bulk_out, &cbw);

        let received = match data {
            Data::None => Vec::new(),
            Data::In(n) => self.device.read_bulk(self.bulk_in, n as u64),
            Data::Out(d) => {
                let sent = self.device.write_bulk(self.bulk_out, d);
                if sent != d.len() as u64 {
                    return Err(format!("{name}: {sent} of {} bytes sent", d.len()));
                }
                Vec::new()
            }
        };

        let csw = self.device.read_bulk(self.bulk_in, CSW_LEN);
        let word = |at: usize| u32::from_le_bytes([csw[at], csw[at + 1], csw[at + 2], csw[at + 3]]);
        if csw.len() != CSW_LEN as usize || word(0) != CSW_SIGNATURE || word(4) != self.tag {
            return Err(format!("{name}: invalid command status wrapper {csw:02x?}"));
        }
        match csw[12] {
            status @ (0 | 1) => Ok((received, status)),
            _ => Err(format!("{name}: phase error")),
        }
    }

    /// A command that must pass; a failure says what REQUEST SENSE says.
    fn command(&mut self, name: &str, cb: &[u8], data: Data) -> Result<Vec<u8>, String> {
        match self.transport(name, cb, data)? {
            (bytes, 0) => Ok(bytes),
            _ => Err(format!("{name} failed: {}", self.sense()?)),
        }
    }

    /// REQUEST SENSE: key, additional sense code and qualifier.
    fn sense(&mut self) -> Result<String, String> {
        let (s, status) = self.transport("REQUEST SENSE", &[0x03, 0, 0, 0, 18, 0], Data::In(18))?;
        if status != 0 || s.len() < 14 {
            return Err("REQUEST SENSE failed".into());
        }
        Ok(format!(
            "sense key {:#x}, ASC {:#04x}, ASCQ {:#04x}",
            s[2] & 0x0F,
            s[12],
            s[13]
        ))
    }

    pub fn inquiry(&mut self) -> Result<Identity, String> {
        let d = self.command("INQUIRY", &[0x12, 0, 0, 0, 36, 0], Data::In(36))?;
        if d.len() < 36 {
            return Err(format!("INQUIRY answered {} bytes", d.len()));
        }
        Ok(Identity {
            vendor: text(&d[8..16]),
            product: text(&d[16..32]),
            revision: text(&d[32..36]),
        })
    }

    /// TEST UNIT READY until it passes (a drive reports UNIT ATTENTION after power-on, NOT
    /// READY while it spins up): a few tries.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..10 {
            match self.transport("TEST UNIT READY", &[0; 6], Data::None)? {
                (_, 0) => return Ok(()),
                _ => last = self.sense()?,
            }
        }
        Err(format!("TEST UNIT READY kept failing: {last}"))
    }

    /// READ CAPACITY(10): (number of blocks, bytes per block).
    pub fn read_capacity(&mut self) -> Result<(u64, u32), String> {
        let d = self.command(
            "READ CAPACITY(10)",
            &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            Data::In(8),
        )?;
        if d.len() < 8 {
            return Err(format!("READ CAPACITY(10) answered {} bytes", d.len()));
        }
        let last = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let size = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        if size == 0 || last == u32::MAX {
            return Err(format!(
                "capacity {last}+1 blocks of {size} bytes: not for READ(10)"
            ));
        }
        Ok((last as u64 + 1, size))
    }

    /// WRITE(10) of `blocks` blocks (all of `data`) at `lba`.
    pub fn write(&mut self, lba: u64, blocks: u16, data: &[u8]) -> Result<(), String> {
        let name = format!("WRITE(10) at LBA {lba}");
        self.command(&name, &rw10(0x2A, lba, blocks), Data::Out(data))
            .map(drop)
    }

    /// READ(10) of `blocks` blocks (`bytes` in all) from `lba`.
    pub fn read(&mut self, lba: u64, blocks: u16, bytes: u32) -> Result<Vec<u8>, String> {
        let name = format!("READ(10) at LBA {lba}");
        self.command(&name, &rw10(0x28, lba, blocks), Data::In(bytes))
    }
}
