//! Pointer-register temperature sensors: TI TMP102 (12-bit, 16-bit configuration) and the LM75
//! family (9-bit LM75, 11-bit LM75B; 8-bit configuration). A write names the pointer register
//! (0 temperature, 1 configuration, 2 T_LOW/T_HYST, 3 T_HIGH/T_OS), then optionally the
//! register's bytes, most significant first; a read returns the pointed register, repeating it.
//! Temperatures are two's complement, left-justified in 16 bits.

use super::device::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tmp102,
    Lm75,
    Lm75b,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "tmp102" => Some(Kind::Tmp102),
            "lm75" => Some(Kind::Lm75),
            "lm75b" => Some(Kind::Lm75b),
            _ => None,
        }
    }

    fn bits(self) -> u32 {
        match self {
            Kind::Tmp102 => 12,
            Kind::Lm75 => 9,
            Kind::Lm75b => 11,
        }
    }
}

pub struct TempSensor {
    kind: Kind,
    /// Registers 0..=3 as 16-bit values (an LM75's configuration uses the high byte).
    regs: [u16; 4],
    pointer: usize,
    /// Bytes of the current write after the pointer byte.
    written: u8,
    /// Bytes of the current read.
    read_count: u8,
}

/// `celsius` in the left-justified format at `bits` of resolution (truncated toward zero as
/// the converter does; 0.0625 °C per LSB at 12 bits).
pub fn encode_temperature(celsius: f64, bits: u32) -> u16 {
    let lsb = 1.0 / (1u32 << (bits - 8)) as f64;
    let counts = (celsius / lsb).trunc() as i32;
    let counts = counts.clamp(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
    ((counts << (16 - bits)) as u16) & !((1u16 << (16 - bits)) - 1)
}

impl TempSensor {
    pub fn new(kind: Kind, celsius: f64) -> TempSensor {
        let config = match kind {
            Kind::Tmp102 => 0x60A0,
            Kind::Lm75 | Kind::Lm75b => 0x0000,
        };
        TempSensor {
            kind,
            regs: [
                encode_temperature(celsius, kind.bits()),
                config,
                encode_temperature(75.0, 9),
                encode_temperature(80.0, 9),
            ],
            pointer: 0,
            written: 0,
            read_count: 0,
        }
    }

    fn register_len(&self) -> u8 {
        if self.pointer == 1 && self.kind != Kind::Tmp102 {
            1
        } else {
            2
        }
    }
}

impl Device for TempSensor {
    fn start(&mut self, _offset: u8, read: bool) {
        if !read {
            self.written = 0;
        }
        self.read_count = 0;
    }

    fn write(&mut self, byte: u8) -> bool {
        if self.written == 0 {
            self.pointer = (byte & 3) as usize;
        } else if self.pointer != 0 && self.written <= self.register_len() {
            let r = &mut self.regs[self.pointer];
            *r = if self.written == 1 {
                (*r & 0x00FF) | (byte as u16) << 8
            } else {
                (*r & 0xFF00) | byte as u16
            };
            if self.pointer >= 2 {
                // Limits keep the 9-bit (LM75) or 12-bit (TMP102) resolution.
                let bits = if self.kind == Kind::Tmp102 { 12 } else { 9 };
                *r &= !((1u16 << (16 - bits)) - 1);
            }
        }
        self.written = self.written.saturating_add(1);
        true
    }

    fn read(&mut self) -> u8 {
        let [msb, lsb] = self.regs[self.pointer].to_be_bytes();
        let byte = if self.read_count.is_multiple_of(self.register_len()) {
            msb
        } else {
            lsb
        };
        self.read_count = self.read_count.wrapping_add(1);
        byte
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_reg(d: &mut TempSensor, reg: u8, n: usize) -> Vec<u8> {
        d.start(0, false);
        d.write(reg);
        d.start(0, true);
        (0..n).map(|_| d.read()).collect()
    }

    #[test]
    fn temperatures_match_the_datasheet_tables() {
        // TMP102 datasheet table: 25 °C = 0x190 (12-bit), -25 °C = 0xE70, 0.0625 = 0x001.
        assert_eq!(encode_temperature(25.0, 12) >> 4, 0x190);
        assert_eq!(encode_temperature(-25.0, 12) >> 4, 0xE70);
        assert_eq!(encode_temperature(0.0625, 12) >> 4, 0x001);
        // LM75: +25 °C = 0 0011 0010 (9-bit), -0.5 °C = 1 1111 1111.
        assert_eq!(encode_temperature(25.0, 9) >> 7, 0x032);
        assert_eq!(encode_temperature(-0.5, 9) >> 7, 0x1FF);
    }

    #[test]
    fn pointer_register_protocol() {
        let mut d = TempSensor::new(Kind::Tmp102, 21.5);
        assert_eq!(read_reg(&mut d, 0, 4), vec![0x15, 0x80, 0x15, 0x80]);
        assert_eq!(read_reg(&mut d, 1, 2), vec![0x60, 0xA0]);
        d.start(0, false);
        for b in [3, 0x40, 0x0F] {
            d.write(b);
        }
        assert_eq!(
            read_reg(&mut d, 3, 2),
            vec![0x40, 0x00],
            "limit keeps 12 bits"
        );
        // A read without a new pointer continues from the last one.
        d.start(0, true);
        assert_eq!(d.read(), 0x40);

        let mut lm = TempSensor::new(Kind::Lm75, 21.5);
        assert_eq!(read_reg(&mut lm, 0, 2), vec![0x15, 0x80]);
        assert_eq!(
            read_reg(&mut lm, 1, 2),
            vec![0, 0],
            "one configuration byte, repeated"
        );
    }
}
