//! 24Cxx serial EEPROMs (24C01 to 24C64), as their datasheets describe them:
//!
//! - A write names the word address (one byte; two bytes from 24C32 up), then data bytes. Data is
//!   latched into the page buffer and committed on STOP only; the address counter increments
//!   within the page and wraps to the page's start, so a write longer than a page overwrites
//!   its own first bytes.
//! - A read continues from the current address (after a write: the address just named, which is
//!   the "random read" of a write-read) and rolls over the whole array.
//! - 24C04/08/16 take the high address bits from the device address (two, four or eight
//!   consecutive addresses).
//!
//! A write completes at once: the model has no 5 ms write cycle and never NACKs while busy.
//! With a backing file the array is loaded at start and saved after every committed write.

use std::path::PathBuf;

use super::device::Device;

#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub size: usize,
    pub page: usize,
    /// Word address bytes: 1 or 2.
    pub addr_bytes: u8,
}

/// The geometry of a part name (`24c02`, ...).
pub fn geometry(kind: &str) -> Option<Geometry> {
    let (size, page, addr_bytes) = match kind {
        "24c01" => (128, 8, 1),
        "24c02" => (256, 8, 1),
        "24c04" => (512, 16, 1),
        "24c08" => (1024, 16, 1),
        "24c16" => (2048, 16, 1),
        "24c32" => (4096, 32, 2),
        "24c64" => (8192, 32, 2),
        _ => return None,
    };
    Some(Geometry {
        size,
        page,
        addr_bytes,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Expecting the (next) word address byte; the count says how many are still due.
    Address(u8),
    Data,
    Reading,
}

pub struct Eeprom {
    geometry: Geometry,
    mem: Vec<u8>,
    pointer: usize,
    phase: Phase,
    block: usize,
    /// Bytes latched since the last start, committed on STOP.
    pending: Vec<(usize, u8)>,
    file: Option<PathBuf>,
}

impl Eeprom {
    /// A blank (all 0xFF) part, or one loaded from `file` (created on the first write when
    /// missing; a shorter file is padded with 0xFF).
    pub fn new(geometry: Geometry, file: Option<PathBuf>) -> Result<Eeprom, String> {
        let mut mem = vec![0xFF; geometry.size];
        if let Some(path) = &file {
            match std::fs::read(path) {
                Ok(bytes) => {
                    if bytes.len() > geometry.size {
                        return Err(format!(
                            "{} holds {} bytes, more than the part's {}",
                            path.display(),
                            bytes.len(),
                            geometry.size
                        ));
                    }
                    mem[..bytes.len()].copy_from_slice(&bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Ok(Eeprom {
            geometry,
            mem,
            pointer: 0,
            phase: Phase::Reading,
            block: 0,
            pending: Vec::new(),
            file,
        })
    }

    pub fn contents(&self) -> &[u8] {
        &self.mem
    }

    fn page_advance(&self, at: usize) -> usize {
        let page = self.geometry.page;
        at - at % page + (at + 1) % page
    }
}

impl Device for Eeprom {
    fn span(&self) -> u8 {
        if self.geometry.addr_bytes == 1 {
            (self.geometry.size / 256).max(1) as u8
        } else {
            1
        }
    }

    fn start(&mut self, offset: u8, read: bool) {
        // Data latched without a STOP is never written.
        self.pending.clear();
        self.block = offset as usize;
        self.phase = if read {
            Phase::Reading
        } else {
            Phase::Address(self.geometry.addr_bytes)
        };
    }

    fn write(&mut self, byte: u8) -> bool {
        match self.phase {
            Phase::Address(due) => {
                self.pointer = if self.geometry.addr_bytes == 2 {
                    if due == 2 {
                        (byte as usize) << 8
                    } else {
                        self.pointer | byte as usize
                    }
                } else {
                    self.block * 256 + byte as usize
                } % self.geometry.size;
                self.phase = if due > 1 {
                    Phase::Address(due - 1)
                } else {
                    Phase::Data
                };
            }
            Phase::Data => {
                self.pending.push((self.pointer, byte));
                self.pointer = self.page_advance(self.pointer);
            }
            Phase::Reading => return false,
        }
        true
    }

    fn read(&mut self) -> u8 {
        let byte = self.mem[self.pointer];
        self.pointer = (self.pointer + 1) % self.geometry.size;
        byte
    }

    fn stop(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        for (at, byte) in self.pending.drain(..) {
            self.mem[at] = byte;
        }
        if let Some(path) = &self.file {
            if let Err(e) = std::fs::write(path, &self.mem) {
                eprintln!(
                    "wafer: i2c sim: cannot save EEPROM to {}: {e}",
                    path.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(e: &mut Eeprom, bytes: &[u8]) {
        e.start(0, false);
        for &b in bytes {
            assert!(e.write(b));
        }
        e.stop();
    }

    fn read(e: &mut Eeprom, n: usize) -> Vec<u8> {
        e.start(0, true);
        let out = (0..n).map(|_| e.read()).collect();
        e.stop();
        out
    }

    #[test]
    fn page_write_wraps_within_the_page() {
        let mut e = Eeprom::new(geometry("24c02").unwrap(), None).unwrap();
        // Address 6 of the 8-byte page 0..8: bytes 3 and 4 wrap to addresses 0 and 1.
        write(&mut e, &[6, 0xA, 0xB, 0xC, 0xD]);
        assert_eq!(
            &e.contents()[..8],
            &[0xC, 0xD, 0xFF, 0xFF, 0xFF, 0xFF, 0xA, 0xB]
        );
        assert_eq!(e.contents()[8], 0xFF);
    }

    #[test]
    fn random_and_sequential_reads_roll_over() {
        let mut e = Eeprom::new(geometry("24c02").unwrap(), None).unwrap();
        write(&mut e, &[0xFE, 1, 2]);
        // Set the address without data (no write happens), then read across the end.
        write(&mut e, &[0xFE]);
        assert_eq!(read(&mut e, 3), vec![1, 2, 0xFF]);
        assert_eq!(read(&mut e, 1), vec![0xFF], "current address continues");
    }

    #[test]
    fn data_without_stop_is_discarded() {
        let mut e = Eeprom::new(geometry("24c02").unwrap(), None).unwrap();
        e.start(0, false);
        e.write(0x10);
        e.write(0x55);
        e.start(0, true); // repeated start: the latched byte is dropped
        e.stop();
        assert_eq!(e.contents()[0x10], 0xFF);
    }

    #[test]
    fn block_bits_and_two_byte_addresses() {
        let mut e = Eeprom::new(geometry("24c16").unwrap(), None).unwrap();
        assert_eq!(e.span(), 8);
        e.start(3, false);
        e.write(0x20);
        e.write(0x77);
        e.stop();
        assert_eq!(e.contents()[3 * 256 + 0x20], 0x77);

        let mut e = Eeprom::new(geometry("24c64").unwrap(), None).unwrap();
        write(&mut e, &[0x12, 0x34, 0x99]);
        assert_eq!(e.contents()[0x1234], 0x99);
    }

    #[test]
    fn backing_file_persists() {
        let dir = std::env::temp_dir().join(format!("wafer-eeprom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("e.bin");
        let _ = std::fs::remove_file(&path);
        let mut e = Eeprom::new(geometry("24c02").unwrap(), Some(path.clone())).unwrap();
        write(&mut e, &[0, 42]);
        let e2 = Eeprom::new(geometry("24c02").unwrap(), Some(path.clone())).unwrap();
        assert_eq!(e2.contents()[0], 42);
        std::fs::write(&path, vec![0u8; 300]).unwrap();
        assert!(Eeprom::new(geometry("24c02").unwrap(), Some(path)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
