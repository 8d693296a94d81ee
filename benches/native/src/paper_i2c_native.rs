//! The native side of the paper's I2C cold path (`benches/paper.sh`): the work of
//! examples/paper-tm1650 and examples/paper-hts221, done directly from Rust on the same
//! backend (the simulation named by `WAFER_I2C_SIM`), from exec to exit.
//!
//! Usage: `paper-i2c-native tm1650` (six one-byte writes showing `12.34`) or
//! `paper-i2c-native hts221` (a one-shot temperature reading, printed like the guest's).

use wafer_devices::i2c::bus::Bus;
use wafer_devices::i2c::sim;

fn reg(bus: &mut impl Bus, r: u8) -> u8 {
    let mut b = [0u8];
    bus.write_read(0x5F, &[r], &mut b).expect("hts221 read");
    b[0]
}

fn reg16(bus: &mut impl Bus, r: u8) -> f64 {
    i16::from_le_bytes([reg(bus, r), reg(bus, r + 1)]) as f64
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let simulation = sim::global().unwrap_or_else(|e| panic!("simulation: {e}"));
    match which.as_str() {
        "tm1650" => {
            let mut bus = sim::SharedBus(simulation.bus("display").expect("a bus `display`"));
            // Display off, "12.34" (segment codes of 1, 2 with its point, 3, 4), display on.
            bus.write(0x24, &[0x00]).expect("tm1650");
            for (i, b) in [0x06u8, 0x5B | 0x80, 0x4F, 0x66].iter().enumerate() {
                bus.write(0x34 + i as u8, &[*b]).expect("tm1650");
            }
            bus.write(0x24, &[0x21]).expect("tm1650");
        }
        "hts221" => {
            let mut bus = sim::SharedBus(simulation.bus("sensor").expect("a bus `sensor`"));
            assert_eq!(reg(&mut bus, 0x0F), 0xBC, "WHO_AM_I");
            bus.write(0x5F, &[0x20, 0x80]).expect("power on");
            bus.write(0x5F, &[0x21, 0x01]).expect("one shot");
            while reg(&mut bus, 0x27) & 0b11 != 0b11 {}
            let msb = reg(&mut bus, 0x35) as u16;
            let t0 = (((msb & 0x3) << 8) | reg(&mut bus, 0x32) as u16) as f64 / 8.0;
            let t1 = (((msb & 0xC) << 6) | reg(&mut bus, 0x33) as u16) as f64 / 8.0;
            let (x0, x1) = (reg16(&mut bus, 0x3C), reg16(&mut bus, 0x3E));
            let t = t0 + (reg16(&mut bus, 0x2A) - x0) * (t1 - t0) / (x1 - x0);
            println!("ok(\"{t:.1} C\")");
        }
        _ => {
            eprintln!("usage: paper-i2c-native tm1650|hts221");
            std::process::exit(2);
        }
    }
}
