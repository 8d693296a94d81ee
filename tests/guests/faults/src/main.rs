//! What a driver sees when things fail under it (cli/tests/faults.rs):
//! - `usb-unplug`: a bulk read waiting on the echo device when it is unplugged;
//! - `i2c-remove`: an LM75 read every 10 ms until the sensor leaves the bus;
//! - `enospc`: a file grown in 4 KiB steps until the file system is full, then removed and
//!   the file system used again.
//!
//! Each prints what happened and exits 0: the failure is an error value, not the end.

use embedded_hal::i2c::{Error as _, I2c};
use std::io::Write;
use wafer_sdk::usb::{ConfigValue, Device};
use wafer_sdk::I2cBus;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("usb-unplug") => {
            let devices = Device::list().expect("list-devices");
            let dev = devices
                .iter()
                .find(|d| d.descriptor.vendor_id == 0x2341)
                .expect("the echo device is plugged in");
            let h = dev.open().expect("open");
            h.handle
                .set_configuration(ConfigValue::Value(1))
                .expect("set-configuration");
            h.handle.claim_interface(0).expect("claim-interface");
            h.bulk_out(0x01, b"ping", 1000).expect("bulk out");
            println!("echo: {:?}", h.bulk_in(0x81, 64, 1000).expect("bulk in"));
            // Nothing was written: the read waits until the device answers, or leaves.
            println!("waiting read: {:?}", h.bulk_in(0x81, 64, 5000));
            println!("next write: {:?}", h.bulk_out(0x01, b"ping", 1000));
            println!("list: {} devices", Device::list().map_or(0, |d| d.len()));
        }
        Some("i2c-remove") => {
            let mut bus = I2cBus::open("sensors").expect("bus `sensors` granted");
            let mut reg = [0u8; 2];
            let mut reads = 0;
            let error = loop {
                match bus.write_read(0x48, &[0], &mut reg) {
                    Ok(()) => reads += 1,
                    Err(e) => break e,
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            };
            println!("{reads} reads, then: {:?}", error.kind());
            println!("again: {:?}", bus.write_read(0x48, &[0], &mut reg).map_err(|e| e.kind()));
        }
        Some("enospc") => {
            let chunk = [0x5au8; 4096];
            let mut f = std::fs::File::create("/work/fill").expect("create");
            let mut written = 0usize;
            let error = loop {
                match f.write_all(&chunk) {
                    Ok(()) => written += chunk.len(),
                    Err(e) => break e,
                }
                if written > 64 << 20 {
                    panic!("wrote 64 MiB without the file system filling");
                }
            };
            drop(f);
            println!("wrote {written} bytes, then: {error}");
            std::fs::remove_file("/work/fill").expect("remove");
            std::fs::write("/work/small", b"room again\n").expect("write after freeing");
            println!("after removing it: {:?}", std::fs::read_to_string("/work/small"));
        }
        _ => {
            eprintln!("usage: faults usb-unplug|i2c-remove|enospc");
            std::process::exit(2);
        }
    }
}
