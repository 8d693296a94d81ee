//! Soak runs for long-lived drivers (benches/soak.sh): one operation repeated many times on
//! the simulated devices, so that the harness can compare the process's resident memory and
//! open descriptors after a warm-up with what they are at the end.
//!
//! Usage: `soak i2c|usb|files N`. After a first `mark ready` exchange, the first tenth of the N operations is the warm-up; then the
//! program prints `mark start` and waits for a line on stdin (the harness reads /proc
//! meanwhile), runs the rest, prints `mark end` and waits again.
//! - `i2c`: a 2-byte register read (write-read) of the LM75 at 0x48 on the bus `soak`;
//! - `usb`: a 16-byte bulk round trip on the echo device (2341:8057);
//! - `files`: opening, reading a byte of and closing one of four files in the granted `/work`.

use embedded_hal::i2c::I2c;
use std::io::{BufRead, Write};
use wafer_sdk::usb::{ConfigValue, Device};
use wafer_sdk::I2cBus;

fn mark(what: &str) {
    println!("mark {what}");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
}

/// Runs `op` `n` times, marking the end of the warm-up and the end.
fn soak(n: u64, mut op: impl FnMut(u64)) {
    // A first exchange, so that the stdio buffers exist before the figures that count.
    mark("ready");
    let warm = (n / 10).max(1);
    for i in 0..warm {
        op(i);
    }
    mark("start");
    for i in warm..n {
        op(i);
    }
    mark("end");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    match args.get(1).map(String::as_str) {
        Some("i2c") => {
            let mut bus = I2cBus::open("soak").expect("bus `soak` granted");
            let mut reg = [0u8; 2];
            soak(n, |_| bus.write_read(0x48, &[0x00], &mut reg).expect("lm75 read"));
        }
        Some("usb") => {
            let devices = Device::list().expect("list-devices");
            let dev = devices
                .iter()
                .find(|d| (d.descriptor.vendor_id, d.descriptor.product_id) == (0x2341, 0x8057))
                .expect("the echo device granted and plugged in");
            let h = dev.open().expect("open");
            h.handle
                .set_configuration(ConfigValue::Value(1))
                .expect("set-configuration");
            h.handle.claim_interface(0).expect("claim-interface");
            let payload: Vec<u8> = (0..16u8).collect();
            soak(n, |_| {
                h.bulk_out(0x01, &payload, 1000).expect("bulk out");
                let back = h.bulk_in(0x81, 64, 1000).expect("bulk in");
                assert_eq!(back, payload);
            });
        }
        Some("files") => {
            for i in 0..4 {
                std::fs::write(format!("/work/f{i}"), b"x").expect("create");
            }
            let mut byte = [0u8; 1];
            soak(n, |i| {
                let mut f = std::fs::File::open(format!("/work/f{}", i % 4)).expect("open");
                std::io::Read::read_exact(&mut f, &mut byte).expect("read");
            })
        }
        _ => {
            eprintln!("usage: soak i2c|usb|files N");
            std::process::exit(2);
        }
    }
}
