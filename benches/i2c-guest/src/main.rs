//! I2C operation cost measured from inside a wafer driver: the same two operations as
//! benches/native (`i2c-native`), through wasi:i2c and the SDK's embedded-hal implementation.
//!
//! Usage: `i2c-bench ITERATIONS` on a bus labelled `bench` with an LM75 at 0x48 and a 24Cxx
//! EEPROM at 0x50. Prints `<operation> <ns per op>` lines; with ITERATIONS = 1 it is the
//! "exec to first completed transaction" program.

use embedded_hal::i2c::I2c;
use std::time::Instant;
use wafer_sdk::I2cBus;

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let mut bus = I2cBus::open("bench").expect("bus `bench` granted");

    let mut register = [0u8; 2];
    let start = Instant::now();
    for _ in 0..iterations {
        bus.write_read(0x48, &[0x00], &mut register).expect("lm75 read");
    }
    let write_read = start.elapsed();

    let mut block = [0u8; 32];
    let start = Instant::now();
    for _ in 0..iterations {
        bus.read(0x50, &mut block).expect("eeprom read");
    }
    let read = start.elapsed();

    println!("write_read_2 {:.1}", write_read.as_nanos() as f64 / f64::from(iterations));
    println!("read_32 {:.1}", read.as_nanos() as f64 / f64::from(iterations));
    println!("check {:02x}{:02x} {:02x}", register[0], register[1], block[31]);
}
