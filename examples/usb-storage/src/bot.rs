//! A USB mass-storage block driver: bulk-only transport (BOT, USB Mass Storage Class
//! Bulk-Only Transport 1.0) carrying SCSI commands (SPC/SBC: INQUIRY, TEST UNIT READY,
//! REQUEST SENSE, READ CAPACITY(10), READ(10), WRITE(10)).
//!
//! It knows nothing of how bytes reach the device: a [`Pipe`] moves them. The usb-storage
//! example drives it through WASI-USB; the native benchmark (benches/native, `usb-native`)
//! compiles this same file against the runtime's USB traits, so both run identical logic.

use std::fmt;

const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;
const CBW_LEN: usize = 31;
const CSW_LEN: u32 = 13;

/// The two bulk endpoints of a BOT interface and the way to recover them.
pub trait Pipe {
    type Error: fmt::Debug;
    /// One bulk OUT transfer of all of `data`.
    fn send(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// One bulk IN transfer of at most `len` bytes.
    fn receive(&mut self, len: u32) -> Result<Vec<u8>, Self::Error>;
    /// Whether the transfer failed because the endpoint stalled (halted).
    fn stalled(e: &Self::Error) -> bool;
    /// CLEAR_FEATURE(ENDPOINT_HALT) on bulk IN (`true`) or bulk OUT.
    fn clear_halt(&mut self, bulk_in: bool) -> Result<(), Self::Error>;
    /// The class-specific Bulk-Only Mass Storage Reset (BOT 3.1).
    fn class_reset(&mut self) -> Result<(), Self::Error>;
}

/// Sense data: key, additional sense code and qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
}

#[derive(Debug)]
pub enum Error<E> {
    /// The USB transfer itself failed.
    Transport(E),
    /// The device answered CHECK CONDITION; `sense` is what REQUEST SENSE then said.
    Check {
        command: &'static str,
        sense: Option<Sense>,
    },
    /// The device broke the protocol (bad CSW, phase error): it was reset.
    Protocol(String),
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "USB transfer failed: {e:?}"),
            Error::Check {
                command,
                sense: Some(s),
            } => write!(
                f,
                "{command} failed: sense key {:#x}, ASC {:#04x}, ASCQ {:#04x}",
                s.key, s.asc, s.ascq
            ),
            Error::Check {
                command,
                sense: None,
            } => write!(f, "{command} failed (no sense data)"),
            Error::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

/// The direction and size of a command's data stage.
enum Data<'a> {
    None,
    In(u32),
    Out(&'a [u8]),
}

/// What INQUIRY says about the device.
#[derive(Clone, Debug)]
pub struct Identity {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub removable: bool,
}

/// A logical unit (LUN 0) reached through a BOT interface.
pub struct Disk<P: Pipe> {
    pipe: P,
    tag: u32,
    /// Bytes per block, from READ CAPACITY (512 until then).
    pub block_size: u32,
    /// Number of blocks, from READ CAPACITY.
    pub blocks: u64,
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

impl<P: Pipe> Disk<P> {
    pub fn new(pipe: P) -> Disk<P> {
        Disk {
            pipe,
            tag: 0,
            block_size: 512,
            blocks: 0,
        }
    }

    /// Brings the unit up: INQUIRY, TEST UNIT READY until it is ready (a device reports a
    /// power-on UNIT ATTENTION first), READ CAPACITY(10).
    pub fn start(&mut self) -> Result<Identity, Error<P::Error>> {
        let identity = self.inquiry()?;
        let mut attempts = 0;
        loop {
            match self.test_unit_ready() {
                Ok(()) => break,
                // UNIT ATTENTION and NOT READY clear by themselves; anything else is final.
                Err(Error::Check { sense: Some(s), .. })
                    if matches!(s.key, 2 | 6) && attempts < 10 =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.read_capacity()?;
        Ok(identity)
    }

    pub fn inquiry(&mut self) -> Result<Identity, Error<P::Error>> {
        let data = self.command("INQUIRY", &[0x12, 0, 0, 0, 36, 0], Data::In(36))?;
        if data.len() < 36 {
            return Err(Error::Protocol(format!(
                "INQUIRY answered {} bytes",
                data.len()
            )));
        }
        Ok(Identity {
            vendor: ascii(&data[8..16]),
            product: ascii(&data[16..32]),
            revision: ascii(&data[32..36]),
            removable: data[1] & 0x80 != 0,
        })
    }

    pub fn test_unit_ready(&mut self) -> Result<(), Error<P::Error>> {
        self.command("TEST UNIT READY", &[0; 6], Data::None)
            .map(drop)
    }

    pub fn request_sense(&mut self) -> Result<Sense, Error<P::Error>> {
        let data = self.transport("REQUEST SENSE", &[0x03, 0, 0, 0, 18, 0], Data::In(18))?;
        let (data, status) = data;
        if status != 0 || data.len() < 14 {
            return Err(Error::Protocol("REQUEST SENSE failed".into()));
        }
        Ok(Sense {
            key: data[2] & 0x0F,
            asc: data[12],
            ascq: data[13],
        })
    }

    pub fn read_capacity(&mut self) -> Result<(u64, u32), Error<P::Error>> {
        let data = self.command(
            "READ CAPACITY(10)",
            &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            Data::In(8),
        )?;
        if data.len() < 8 {
            return Err(Error::Protocol(format!(
                "READ CAPACITY answered {} bytes",
                data.len()
            )));
        }
        let last = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        let size = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
        if size == 0 || last == u32::MAX {
            // u32::MAX asks for READ CAPACITY(16): a disk over 2 TiB, not this driver's case.
            return Err(Error::Protocol(format!(
                "capacity {last}+1 blocks of {size} bytes"
            )));
        }
        self.blocks = last as u64 + 1;
        self.block_size = size;
        Ok((self.blocks, size))
    }

    fn rw10(opcode: u8, lba: u64, count: u16) -> [u8; 10] {
        let l = (lba as u32).to_be_bytes();
        let c = count.to_be_bytes();
        [opcode, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0]
    }

    fn check_range(&self, lba: u64, bytes: usize) -> Result<u16, Error<P::Error>> {
        let bs = self.block_size as usize;
        let count = bytes / bs;
        if !bytes.is_multiple_of(bs)
            || count > u16::MAX as usize
            || lba + count as u64 > self.blocks.min(u32::MAX as u64 + 1)
        {
            return Err(Error::Protocol(format!(
                "{bytes} bytes at LBA {lba} do not fit READ/WRITE(10) on {} blocks of {bs}",
                self.blocks
            )));
        }
        Ok(count as u16)
    }

    /// READ(10) of `len` bytes (whole blocks) from `lba`.
    pub fn read(&mut self, lba: u64, len: usize) -> Result<Vec<u8>, Error<P::Error>> {
        let count = self.check_range(lba, len)?;
        let data = self.command(
            "READ(10)",
            &Self::rw10(0x28, lba, count),
            Data::In(len as u32),
        )?;
        if data.len() != len {
            return Err(Error::Protocol(format!(
                "READ(10) returned {} of {len} bytes",
                data.len()
            )));
        }
        Ok(data)
    }

    /// WRITE(10) of `data` (whole blocks) at `lba`.
    pub fn write(&mut self, lba: u64, data: &[u8]) -> Result<(), Error<P::Error>> {
        let count = self.check_range(lba, data.len())?;
        self.command("WRITE(10)", &Self::rw10(0x2A, lba, count), Data::Out(data))
            .map(drop)
    }

    /// A command that must succeed: on CHECK CONDITION its sense data is fetched.
    fn command(
        &mut self,
        name: &'static str,
        cb: &[u8],
        data: Data,
    ) -> Result<Vec<u8>, Error<P::Error>> {
        let (bytes, status) = self.transport(name, cb, data)?;
        if status == 0 {
            return Ok(bytes);
        }
        Err(Error::Check {
            command: name,
            sense: self.request_sense().ok(),
        })
    }

    /// One BOT exchange: CBW, data stage, CSW. Returns the data and the CSW status (0 passed,
    /// 1 failed); a phase error or a broken CSW resets the device (BOT 5.3.4).
    fn transport(
        &mut self,
        name: &'static str,
        cb: &[u8],
        data: Data,
    ) -> Result<(Vec<u8>, u8), Error<P::Error>> {
        self.tag = self.tag.wrapping_add(1);
        let (length, flags) = match data {
            Data::None => (0, 0),
            Data::In(n) => (n, 0x80),
            Data::Out(d) => (d.len() as u32, 0),
        };
        let mut cbw = [0u8; CBW_LEN];
        cbw[0..4].copy_from_slice(&CBW_SIGNATURE.to_le_bytes());
        cbw[4..8].copy_from_slice(&self.tag.to_le_bytes());
        cbw[8..12].copy_from_slice(&length.to_le_bytes());
        cbw[12] = flags;
        cbw[14] = cb.len() as u8;
        cbw[15..15 + cb.len()].copy_from_slice(cb);
        if let Err(e) = self.pipe.send(&cbw) {
            if P::stalled(&e) {
                self.reset_recovery()?;
                return Err(Error::Protocol(format!(
                    "{name}: the device refused the command block"
                )));
            }
            return Err(Error::Transport(e));
        }

        // Data stage: a stall ends it early; the CSW follows once the halt is cleared (BOT 6.7.2).
        let received = match data {
            Data::None => Vec::new(),
            Data::In(n) => match self.pipe.receive(n) {
                Ok(d) => d,
                Err(e) if P::stalled(&e) => {
                    self.pipe.clear_halt(true).map_err(Error::Transport)?;
                    Vec::new()
                }
                Err(e) => return Err(Error::Transport(e)),
            },
            Data::Out(d) => {
                match self.pipe.send(d) {
                    Ok(()) => {}
                    Err(e) if P::stalled(&e) => {
                        self.pipe.clear_halt(false).map_err(Error::Transport)?
                    }
                    Err(e) => return Err(Error::Transport(e)),
                }
                Vec::new()
            }
        };

        let csw = match self.pipe.receive(CSW_LEN) {
            Ok(c) => c,
            // One retry after clearing a stall on bulk IN (BOT 6.7.2, case "host expects CSW").
            Err(e) if P::stalled(&e) => {
                self.pipe.clear_halt(true).map_err(Error::Transport)?;
                self.pipe.receive(CSW_LEN).map_err(Error::Transport)?
            }
            Err(e) => return Err(Error::Transport(e)),
        };
        let valid = csw.len() == CSW_LEN as usize
            && u32::from_le_bytes([csw[0], csw[1], csw[2], csw[3]]) == CSW_SIGNATURE
            && u32::from_le_bytes([csw[4], csw[5], csw[6], csw[7]]) == self.tag;
        if !valid || csw[12] > 1 {
            self.reset_recovery()?;
            let what = if valid {
                "phase error"
            } else {
                "invalid status wrapper"
            };
            return Err(Error::Protocol(format!("{name}: {what}")));
        }
        Ok((received, csw[12]))
    }

    /// Reset recovery (BOT 5.3.4): class reset, then clear both halts.
    fn reset_recovery(&mut self) -> Result<(), Error<P::Error>> {
        self.pipe.class_reset().map_err(Error::Transport)?;
        self.pipe.clear_halt(true).map_err(Error::Transport)?;
        self.pipe.clear_halt(false).map_err(Error::Transport)
    }
}

/// The deterministic test pattern: the bytes at disk offset `offset` (a multiple of 8) onward,
/// so any chunk can be checked wherever it lands and a misplaced write shows.
pub fn fill_pattern(buf: &mut [u8], offset: u64) {
    for (i, word) in buf.chunks_mut(8).enumerate() {
        let v = pattern_word(offset / 8 + i as u64).to_le_bytes();
        word.copy_from_slice(&v[..word.len()]);
    }
}

/// splitmix64 of the word index: cheap, and no two nearby words alike.
pub fn pattern_word(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
