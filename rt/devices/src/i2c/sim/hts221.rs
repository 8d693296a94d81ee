//! ST HTS221 capacitive humidity and temperature sensor (7-bit address 0x5F), as its datasheet
//! describes the register interface:
//!
//! | register | address | what |
//! |---|---|---|
//! | `WHO_AM_I` | 0x0F | 0xBC |
//! | `AV_CONF` | 0x10 | averaging (0x1B after reset) |
//! | `CTRL_REG1` | 0x20 | PD (bit 7, power), BDU (bit 2), ODR (bits 1:0, 0 = one-shot) |
//! | `CTRL_REG2` | 0x21 | BOOT (bit 7), heater (bit 1), ONE_SHOT (bit 0, cleared when done) |
//! | `CTRL_REG3` | 0x22 | data-ready pin configuration |
//! | `STATUS_REG` | 0x27 | H_DA (bit 1), T_DA (bit 0): new data, cleared by reading it |
//! | `HUMIDITY_OUT` | 0x28–0x29 | raw humidity, s16 little-endian |
//! | `TEMP_OUT` | 0x2A–0x2B | raw temperature, s16 little-endian |
//! | calibration | 0x30–0x3F | H0_rH_x2, H1_rH_x2, T0_degC_x8, T1_degC_x8 (with their two high bits in 0x35), H0_T0_OUT (0x36), H1_T0_OUT (0x3A), T0_OUT (0x3C), T1_OUT (0x3E) |
//!
//! A write's first byte is the register address; bit 7 set makes it auto-increment over a
//! multi-byte read or write. New samples exist only while powered: continuously at the output
//! data rate, or once per ONE_SHOT. A driver converts by linear interpolation between the two
//! calibration points, as the datasheet gives; this model computes raw outputs so that the
//! interpolation yields the configured temperature and humidity.

use super::device::Device;

/// The two calibration points this part was "trimmed" with (typical of real parts).
const H0_RH_X2: u8 = 0x44; // 34.0 %RH
const H1_RH_X2: u8 = 0x98; // 76.0 %RH
const T0_DEGC_X8: u16 = 160; // 20.0 °C
const T1_DEGC_X8: u16 = 280; // 35.0 °C
const H0_T0_OUT: i16 = -1500;
const H1_T0_OUT: i16 = 5500;
const T0_OUT: i16 = -200;
const T1_OUT: i16 = 600;

pub const WHO_AM_I: u8 = 0xBC;

pub struct Hts221 {
    regs: [u8; 0x40],
    /// The raw outputs the environment gives (published into the registers when a sample is
    /// taken).
    humidity_out: i16,
    temp_out: i16,
    pointer: u8,
    increment: bool,
    /// Bytes of the current write after the address byte.
    written: u8,
}

/// The raw reading that interpolates to `value` between calibration points (x0, y0), (x1, y1)
/// in the datasheet's formula `value = y0 + (raw - x0) * (y1 - y0) / (x1 - x0)`.
fn raw_for(value: f64, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> i16 {
    let raw = x0 + (value - y0) * (x1 - x0) / (y1 - y0);
    raw.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
}

impl Hts221 {
    pub fn new(celsius: f64, humidity_pct: f64) -> Hts221 {
        let mut regs = [0u8; 0x40];
        regs[0x0F] = WHO_AM_I;
        regs[0x10] = 0x1B;
        regs[0x30] = H0_RH_X2;
        regs[0x31] = H1_RH_X2;
        regs[0x32] = T0_DEGC_X8 as u8;
        regs[0x33] = T1_DEGC_X8 as u8;
        regs[0x35] = ((T0_DEGC_X8 >> 8) as u8 & 3) | (((T1_DEGC_X8 >> 8) as u8 & 3) << 2);
        regs[0x36..0x38].copy_from_slice(&H0_T0_OUT.to_le_bytes());
        regs[0x3A..0x3C].copy_from_slice(&H1_T0_OUT.to_le_bytes());
        regs[0x3C..0x3E].copy_from_slice(&T0_OUT.to_le_bytes());
        regs[0x3E..0x40].copy_from_slice(&T1_OUT.to_le_bytes());
        Hts221 {
            regs,
            humidity_out: raw_for(
                humidity_pct,
                (H0_T0_OUT as f64, H0_RH_X2 as f64 / 2.0),
                (H1_T0_OUT as f64, H1_RH_X2 as f64 / 2.0),
            ),
            temp_out: raw_for(
                celsius,
                (T0_OUT as f64, T0_DEGC_X8 as f64 / 8.0),
                (T1_OUT as f64, T1_DEGC_X8 as f64 / 8.0),
            ),
            pointer: 0,
            increment: false,
            written: 0,
        }
    }

    fn powered(&self) -> bool {
        self.regs[0x20] & 0x80 != 0
    }

    /// A conversion: the outputs and both data-ready bits.
    fn sample(&mut self) {
        self.regs[0x28..0x2A].copy_from_slice(&self.humidity_out.to_le_bytes());
        self.regs[0x2A..0x2C].copy_from_slice(&self.temp_out.to_le_bytes());
        self.regs[0x27] |= 0b11;
    }

    fn write_register(&mut self, reg: u8, byte: u8) {
        match reg {
            // Read-only: identity, status, outputs, calibration.
            0x0F | 0x27..=0x2B | 0x30..=0x3F => {}
            0x21 => {
                // BOOT (bit 7) reloads the calibration, which never changes here, and clears
                // itself, as ONE_SHOT does once its sample is taken.
                self.regs[0x21] = byte & !0x81;
                if byte & 1 != 0 && self.powered() {
                    self.sample();
                }
            }
            0x20 => {
                self.regs[0x20] = byte & 0x87;
                // Continuous mode: a sample is ready as soon as the part runs.
                if self.powered() && byte & 3 != 0 {
                    self.sample();
                }
            }
            0x10 | 0x22 => self.regs[reg as usize] = byte,
            _ => {}
        }
    }

    fn advance(&mut self) {
        if self.increment {
            self.pointer = (self.pointer + 1) & 0x3F;
        }
    }
}

impl Device for Hts221 {
    fn start(&mut self, _offset: u8, read: bool) {
        if !read {
            self.written = 0;
        }
    }

    fn write(&mut self, byte: u8) -> bool {
        if self.written == 0 {
            self.pointer = byte & 0x3F;
            self.increment = byte & 0x80 != 0;
        } else {
            self.write_register(self.pointer, byte);
            self.advance();
        }
        self.written = self.written.saturating_add(1);
        true
    }

    fn read(&mut self) -> u8 {
        let reg = self.pointer;
        let byte = self.regs[reg as usize];
        match reg {
            // Reading an output clears its data-ready bit; in continuous mode the next
            // sample is ready at once (the model's time does not pass between reads).
            0x29 => self.regs[0x27] &= !0b10,
            0x2B => self.regs[0x27] &= !0b01,
            _ => {}
        }
        if self.regs[0x27] == 0 && self.powered() && self.regs[0x20] & 3 != 0 {
            self.sample();
        }
        self.advance();
        byte
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(d: &mut Hts221, reg: u8, n: usize) -> Vec<u8> {
        d.start(0, false);
        d.write(if n > 1 { reg | 0x80 } else { reg });
        d.start(0, true);
        (0..n).map(|_| d.read()).collect()
    }

    fn write(d: &mut Hts221, reg: u8, byte: u8) {
        d.start(0, false);
        d.write(reg);
        d.write(byte);
        d.stop();
    }

    /// The datasheet's conversion, as a driver does it.
    fn convert(d: &mut Hts221) -> (f64, f64) {
        let c = read(d, 0x30, 16);
        let s16 = |i: usize| i16::from_le_bytes([c[i], c[i + 1]]) as f64;
        let h0 = c[0] as f64 / 2.0;
        let h1 = c[1] as f64 / 2.0;
        let t0 = (((c[5] as u16 & 3) << 8) | c[2] as u16) as f64 / 8.0;
        let t1 = (((c[5] as u16 & 0xC) << 6) | c[3] as u16) as f64 / 8.0;
        let (h0_out, h1_out, t0_out, t1_out) = (s16(6), s16(10), s16(12), s16(14));
        let out = read(d, 0x28, 4);
        let h_out = i16::from_le_bytes([out[0], out[1]]) as f64;
        let t_out = i16::from_le_bytes([out[2], out[3]]) as f64;
        (
            t0 + (t_out - t0_out) * (t1 - t0) / (t1_out - t0_out),
            h0 + (h_out - h0_out) * (h1 - h0) / (h1_out - h0_out),
        )
    }

    #[test]
    fn identity_calibration_and_one_shot_conversion() {
        let mut d = Hts221::new(23.5, 61.0);
        assert_eq!(read(&mut d, 0x0F, 1), [WHO_AM_I]);
        assert_eq!(read(&mut d, 0x10, 1), [0x1B]);
        // Powered down: no data.
        assert_eq!(read(&mut d, 0x27, 1), [0]);
        write(&mut d, 0x20, 0x84); // PD, BDU, one-shot mode
        assert_eq!(read(&mut d, 0x27, 1), [0]);
        write(&mut d, 0x21, 0x01); // ONE_SHOT
        assert_eq!(read(&mut d, 0x21, 1), [0], "ONE_SHOT clears itself");
        assert_eq!(read(&mut d, 0x27, 1), [0b11]);
        let (t, h) = convert(&mut d);
        assert!((t - 23.5).abs() < 0.02, "{t}");
        assert!((h - 61.0).abs() < 0.01, "{h}");
        assert_eq!(
            read(&mut d, 0x27, 1),
            [0],
            "reading the outputs clears data-ready"
        );
    }

    #[test]
    fn continuous_mode_and_read_only_registers() {
        let mut d = Hts221::new(-10.0, 5.0);
        write(&mut d, 0x20, 0x81); // PD, 1 Hz
        assert_eq!(read(&mut d, 0x27, 1), [0b11]);
        let (t, h) = convert(&mut d);
        assert!((t + 10.0).abs() < 0.02, "{t}");
        assert!((h - 5.0).abs() < 0.01, "{h}");
        write(&mut d, 0x0F, 0x00);
        write(&mut d, 0x30, 0xFF);
        assert_eq!(read(&mut d, 0x0F, 1), [WHO_AM_I]);
        assert_eq!(read(&mut d, 0x30, 1), [H0_RH_X2]);
    }
}
