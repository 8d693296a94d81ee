//! The native side of the I2C benchmark: the operations of benches/i2c-guest, called on the
//! same backend (the simulation named by `WAFER_I2C_SIM`) directly from Rust, timed the same
//! way. The difference to the guest's figures is everything wafer adds: the wasm code, the
//! canonical ABI, the grant check and the handle table.
//!
//! Usage: `i2c-native ITERATIONS`; prints the same lines as the guest.

use std::time::Instant;
use wafer_devices::i2c::bus::Bus;
use wafer_devices::i2c::sim;

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let simulation = sim::global().unwrap_or_else(|e| panic!("simulation: {e}"));
    let mut bus = sim::SharedBus(simulation.bus("bench").expect("a bus named `bench`"));

    let mut register = [0u8; 2];
    let start = Instant::now();
    for _ in 0..iterations {
        bus.write_read(0x48, &[0x00], &mut register)
            .expect("lm75 read");
    }
    let write_read = start.elapsed();

    let mut block = [0u8; 32];
    let start = Instant::now();
    for _ in 0..iterations {
        bus.read(0x50, &mut block).expect("eeprom read");
    }
    let read = start.elapsed();

    println!(
        "write_read_2 {:.1}",
        write_read.as_nanos() as f64 / f64::from(iterations)
    );
    println!(
        "read_32 {:.1}",
        read.as_nanos() as f64 / f64::from(iterations)
    );
    println!(
        "check {:02x}{:02x} {:02x}",
        register[0], register[1], block[31]
    );
}
