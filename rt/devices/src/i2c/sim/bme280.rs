//! Bosch BME280 combined humidity, pressure and temperature sensor, following the datasheet's
//! register map (section 5): chip id 0x60 at 0xD0, soft reset at 0xE0, calibration at
//! 0x88–0xA1 and 0xE1–0xE7, ctrl_hum 0xF2, status 0xF3, ctrl_meas 0xF4, config 0xF5, and the
//! raw data at 0xF7–0xFE.
//!
//! The model is given physical values and finds the raw ADC readings whose compensation (the
//! datasheet's integer formulas, section 4.2.3) gives them back, so any driver that implements
//! the datasheet reads those values. A measurement completes as soon as ctrl_meas selects
//! forced or normal mode; forced mode then returns to sleep, as the part does. A channel whose
//! oversampling is "skipped" keeps its reset value (0x80000, or 0x8000 for humidity).

use super::device::Device;

pub const CHIP_ID: u8 = 0x60;

const REG_CALIB_00: usize = 0x88;
const REG_H1: usize = 0xA1;
const REG_CHIP_ID: usize = 0xD0;
const REG_RESET: usize = 0xE0;
const REG_CALIB_26: usize = 0xE1;
const REG_CTRL_HUM: usize = 0xF2;
const REG_STATUS: usize = 0xF3;
const REG_CTRL_MEAS: usize = 0xF4;
const REG_CONFIG: usize = 0xF5;
const REG_PRESS_MSB: usize = 0xF7;
const SOFT_RESET: u8 = 0xB6;

/// Trimming parameters. Temperature and pressure are the worked example of Bosch's BMP280
/// datasheet (section 3.12); humidity are a real BME280's.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    pub t1: u16,
    pub t2: i16,
    pub t3: i16,
    pub p: (u16, [i16; 8]),
    pub h1: u8,
    pub h2: i16,
    pub h3: u8,
    pub h4: i16,
    pub h5: i16,
    pub h6: i8,
}

pub const CALIBRATION: Calibration = Calibration {
    t1: 27504,
    t2: 26435,
    t3: -1000,
    p: (36477, [-10685, 3024, 2855, 140, -7, 15500, -14600, 6000]),
    h1: 75,
    h2: 362,
    h3: 0,
    h4: 313,
    h5: 50,
    h6: 30,
};

impl Calibration {
    /// `t_fine` and the temperature in 0.01 °C (datasheet `BME280_compensate_T_int32`).
    pub fn temperature(&self, adc_t: i32) -> (i32, i32) {
        let t1 = self.t1 as i32;
        let var1 = (((adc_t >> 3) - (t1 << 1)) * self.t2 as i32) >> 11;
        let d = (adc_t >> 4) - t1;
        let var2 = (((d * d) >> 12) * self.t3 as i32) >> 14;
        let t_fine = var1 + var2;
        (t_fine, (t_fine * 5 + 128) >> 8)
    }

    /// Pressure in Pa as Q24.8 (`BME280_compensate_P_int64`).
    pub fn pressure(&self, adc_p: i32, t_fine: i32) -> u32 {
        let (p1, [p2, p3, p4, p5, p6, p7, p8, p9]) = self.p;
        let [p1, p2, p3, p4, p5, p6, p7, p8, p9] = [
            p1 as i64, p2 as i64, p3 as i64, p4 as i64, p5 as i64, p6 as i64, p7 as i64, p8 as i64,
            p9 as i64,
        ];
        let mut var1 = t_fine as i64 - 128000;
        let mut var2 = var1 * var1 * p6;
        var2 += (var1 * p5) << 17;
        var2 += p4 << 35;
        var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12);
        var1 = (((1i64 << 47) + var1) * p1) >> 33;
        if var1 == 0 {
            return 0;
        }
        let mut p = 1048576 - adc_p as i64;
        p = (((p << 31) - var2) * 3125) / var1;
        let var1 = (p9 * (p >> 13) * (p >> 13)) >> 25;
        let var2 = (p8 * p) >> 19;
        (((p + var1 + var2) >> 8) + (p7 << 4)) as u32
    }

    /// Relative humidity in %RH as Q22.10 (`bme280_compensate_H_int32`).
    pub fn humidity(&self, adc_h: i32, t_fine: i32) -> u32 {
        let (h1, h2, h3, h4, h5, h6) = (
            self.h1 as i32,
            self.h2 as i32,
            self.h3 as i32,
            self.h4 as i32,
            self.h5 as i32,
            self.h6 as i32,
        );
        let mut v = t_fine - 76800;
        v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15)
            * (((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192)
                >> 14);
        v -= ((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4;
        v = v.clamp(0, 419430400);
        (v >> 12) as u32
    }

    /// The calibration registers as the part lays them out: 0x88..=0xA1 and 0xE1..=0xE7.
    fn registers(&self) -> ([u8; 26], [u8; 7]) {
        let mut pt = [0u8; 26];
        let words: [u16; 12] = [
            self.t1,
            self.t2 as u16,
            self.t3 as u16,
            self.p.0,
            self.p.1[0] as u16,
            self.p.1[1] as u16,
            self.p.1[2] as u16,
            self.p.1[3] as u16,
            self.p.1[4] as u16,
            self.p.1[5] as u16,
            self.p.1[6] as u16,
            self.p.1[7] as u16,
        ];
        for (i, w) in words.iter().enumerate() {
            pt[i * 2..i * 2 + 2].copy_from_slice(&w.to_le_bytes());
        }
        pt[25] = self.h1;
        let h4 = self.h4 as u16;
        let h5 = self.h5 as u16;
        let [h2l, h2h] = (self.h2 as u16).to_le_bytes();
        let h = [
            h2l,
            h2h,
            self.h3,
            (h4 >> 4) as u8,
            ((h5 & 0xF) << 4) as u8 | (h4 & 0xF) as u8,
            (h5 >> 4) as u8,
            self.h6 as u8,
        ];
        (pt, h)
    }
}

/// The smallest `x` in `0..=max` with `f(x) >= target`, for non-decreasing `f`.
fn search(max: i32, target: i64, f: impl Fn(i32) -> i64) -> i32 {
    let (mut lo, mut hi) = (0, max);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if f(mid) >= target {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// What the sensor measures.
#[derive(Clone, Copy, Debug)]
pub struct Environment {
    pub celsius: f64,
    pub pascal: f64,
    pub humidity_pct: f64,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            celsius: 22.0,
            pascal: 101325.0,
            humidity_pct: 45.0,
        }
    }
}

/// Raw 20-bit temperature and pressure and 16-bit humidity readings for `env`.
pub fn raw_readings(cal: &Calibration, env: &Environment) -> (i32, i32, i32) {
    let max20 = (1 << 20) - 1;
    let adc_t = search(max20, (env.celsius * 100.0).round() as i64, |x| {
        cal.temperature(x).1 as i64
    });
    let t_fine = cal.temperature(adc_t).0;
    // Pressure falls as the reading rises: search on the negated value.
    let adc_p = search(max20, -((env.pascal * 256.0).round() as i64), |x| {
        -(cal.pressure(x, t_fine) as i64)
    });
    let adc_h = search(0xFFFF, (env.humidity_pct * 1024.0).round() as i64, |x| {
        cal.humidity(x, t_fine) as i64
    });
    (adc_t, adc_p, adc_h)
}

pub struct Bme280 {
    regs: [u8; 256],
    pointer: u8,
    /// In a write, the next byte is a register address (else the data for `pointer`).
    expect_register: bool,
    /// ctrl_hum takes effect only when ctrl_meas is written next.
    humidity_oversampling: u8,
    raw: (i32, i32, i32),
}

impl Bme280 {
    pub fn new(env: Environment) -> Bme280 {
        let mut regs = [0u8; 256];
        let (pt, h) = CALIBRATION.registers();
        regs[REG_CALIB_00..REG_CALIB_00 + 26].copy_from_slice(&pt);
        regs[REG_CALIB_26..REG_CALIB_26 + 7].copy_from_slice(&h);
        debug_assert_eq!(regs[REG_H1], CALIBRATION.h1);
        regs[REG_CHIP_ID] = CHIP_ID;
        let mut dev = Bme280 {
            regs,
            pointer: 0,
            expect_register: true,
            humidity_oversampling: 0,
            raw: raw_readings(&CALIBRATION, &env),
        };
        dev.reset();
        dev
    }

    fn reset(&mut self) {
        for r in [REG_CTRL_HUM, REG_STATUS, REG_CTRL_MEAS, REG_CONFIG] {
            self.regs[r] = 0;
        }
        self.regs[REG_PRESS_MSB..REG_PRESS_MSB + 8]
            .copy_from_slice(&[0x80, 0, 0, 0x80, 0, 0, 0x80, 0]);
        self.humidity_oversampling = 0;
    }

    /// A 20-bit reading at the resolution its oversampling gives (16 bits at x1, one more bit
    /// per step, 20 with the IIR filter on).
    fn resolved(&self, raw: i32, osrs: u8) -> i32 {
        let filter_on = (self.regs[REG_CONFIG] >> 2) & 7 != 0;
        let bits = if filter_on {
            20
        } else {
            15 + osrs.min(5) as i32
        };
        raw & !((1 << (20 - bits)) - 1)
    }

    fn measure(&mut self) {
        let meas = self.regs[REG_CTRL_MEAS];
        let (osrs_t, osrs_p) = (meas >> 5, (meas >> 2) & 7);
        let (t, p, h) = self.raw;
        let t = if osrs_t == 0 {
            0x80000
        } else {
            self.resolved(t, osrs_t)
        };
        let p = if osrs_p == 0 {
            0x80000
        } else {
            self.resolved(p, osrs_p)
        };
        let h = if self.humidity_oversampling == 0 {
            0x8000
        } else {
            h
        };
        let data = [
            (p >> 12) as u8,
            (p >> 4) as u8,
            ((p & 0xF) << 4) as u8,
            (t >> 12) as u8,
            (t >> 4) as u8,
            ((t & 0xF) << 4) as u8,
            (h >> 8) as u8,
            h as u8,
        ];
        self.regs[REG_PRESS_MSB..REG_PRESS_MSB + 8].copy_from_slice(&data);
    }

    fn write_register(&mut self, reg: usize, value: u8) {
        match reg {
            REG_RESET if value == SOFT_RESET => self.reset(),
            REG_CTRL_HUM => self.regs[reg] = value & 7,
            REG_CONFIG => self.regs[reg] = value & 0xFD,
            REG_CTRL_MEAS => {
                self.humidity_oversampling = self.regs[REG_CTRL_HUM] & 7;
                self.regs[reg] = value;
                match value & 3 {
                    0 => {}
                    3 => self.measure(),
                    _ => {
                        self.measure();
                        self.regs[reg] = value & !3;
                    }
                }
            }
            // Everything else is read-only.
            _ => {}
        }
    }
}

impl Device for Bme280 {
    fn start(&mut self, _offset: u8, _read: bool) {
        self.expect_register = true;
    }

    fn write(&mut self, byte: u8) -> bool {
        if self.expect_register {
            self.pointer = byte;
        } else {
            self.write_register(self.pointer as usize, byte);
        }
        self.expect_register = !self.expect_register;
        true
    }

    fn read(&mut self) -> u8 {
        let byte = match self.pointer as usize {
            REG_RESET => 0,
            r => self.regs[r],
        };
        self.pointer = self.pointer.wrapping_add(1);
        byte
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(d: &mut Bme280, bytes: &[u8]) {
        d.start(0, false);
        for &b in bytes {
            d.write(b);
        }
        d.stop();
    }

    fn read(d: &mut Bme280, reg: u8, n: usize) -> Vec<u8> {
        write(d, &[reg]);
        d.start(0, true);
        (0..n).map(|_| d.read()).collect()
    }

    #[test]
    fn datasheet_example_compensates() {
        // BMP280 datasheet section 3.12: adc_T 519888 → 25.08 °C, adc_P 415148 → 100653 Pa.
        let (t_fine, t) = CALIBRATION.temperature(519888);
        assert_eq!(t, 2508);
        let p = CALIBRATION.pressure(415148, t_fine) as f64 / 256.0;
        assert!((p - 100653.0).abs() < 2.0, "{p}");
    }

    #[test]
    fn raw_readings_give_back_the_environment() {
        let env = Environment::default();
        let (t, p, h) = raw_readings(&CALIBRATION, &env);
        let (t_fine, c) = CALIBRATION.temperature(t);
        assert_eq!(c, 2200);
        let pa = CALIBRATION.pressure(p, t_fine) as f64 / 256.0;
        assert!((pa - 101325.0).abs() < 1.0, "{pa}");
        let rh = CALIBRATION.humidity(h, t_fine) as f64 / 1024.0;
        assert!((rh - 45.0).abs() < 0.1, "{rh}");
    }

    #[test]
    fn registers_follow_the_datasheet() {
        let mut d = Bme280::new(Environment::default());
        assert_eq!(read(&mut d, 0xD0, 1), vec![0x60]);
        let calib = read(&mut d, 0x88, 26);
        assert_eq!(u16::from_le_bytes([calib[0], calib[1]]), 27504);
        assert_eq!(calib[25], 75);
        let h = read(&mut d, 0xE1, 7);
        assert_eq!(i16::from_le_bytes([h[0], h[1]]), 362);
        assert_eq!(((h[3] as i16) << 4) | (h[4] & 0xF) as i16, 313);
        assert_eq!(((h[5] as i16) << 4) | (h[4] >> 4) as i16, 50);
        assert_eq!(read(&mut d, 0xF7, 8), vec![0x80, 0, 0, 0x80, 0, 0, 0x80, 0]);

        // ctrl_hum x1, then ctrl_meas 0x25: temperature x1 (001), pressure x1 (001), forced (01).
        write(&mut d, &[0xF2, 0x01, 0xF4, 0x25]);
        assert_eq!(read(&mut d, 0xF4, 1), vec![0x24], "back to sleep");
        let data = read(&mut d, 0xF7, 8);
        let adc_t = ((data[3] as i32) << 12) | ((data[4] as i32) << 4) | (data[5] as i32 >> 4);
        assert_eq!(adc_t & 0xF, 0, "16-bit resolution at x1 without filter");
        let c = CALIBRATION.temperature(adc_t).1;
        assert!((2195..=2205).contains(&c), "{c}");
        assert_ne!(&data[6..], &[0x80, 0]);

        // Soft reset restores the reset values.
        write(&mut d, &[0xE0, 0xB6]);
        assert_eq!(read(&mut d, 0xF2, 4), vec![0, 0, 0, 0]);
        assert_eq!(read(&mut d, 0xD0, 1), vec![0x60], "id is read-only");
    }

    #[test]
    fn skipped_channels_keep_reset_values() {
        let mut d = Bme280::new(Environment::default());
        write(&mut d, &[0xF4, 0x21]);
        let data = read(&mut d, 0xF7, 8);
        assert_eq!(&data[..3], &[0x80, 0, 0]);
        assert_eq!(
            &data[6..],
            &[0x80, 0],
            "ctrl_hum was 0 when ctrl_meas was written"
        );
    }
}
