//! Round-trip latency to the echo device (Arduino echo firmware, 2341:8057): writes a payload
//! to the OUT endpoint, reads it back from the IN endpoint, checks it, for bulk and interrupt
//! transfers of 4, 16 and 32 bytes.
//!
//! usage: usb-ping [rounds]   (default 200)

use std::time::Instant;

use wafer_sdk::usb::{ConfigValue, Device, Handle, LibusbError};

const VENDOR: u16 = 0x2341;
const PRODUCT: u16 = 0x8057;
const TIMEOUT_MS: u32 = 1000;

fn ping(h: &Handle, interrupt: bool, size: usize, rounds: u32) -> Result<f64, String> {
    let (out_ep, in_ep) = if interrupt { (0x02, 0x82) } else { (0x01, 0x81) };
    let mut latencies = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        let payload: Vec<u8> = (0..size).map(|i| (i as u32 * 31 + round) as u8).collect();
        let start = Instant::now();
        let back = if interrupt {
            h.interrupt_out(out_ep, &payload, TIMEOUT_MS)
                .and_then(|()| h.interrupt_in(in_ep, 64, TIMEOUT_MS))
        } else {
            h.bulk_out(out_ep, &payload, TIMEOUT_MS)
                .and_then(|()| h.bulk_in(in_ep, 64, TIMEOUT_MS))
        }
        .map_err(|e: LibusbError| format!("round {round}: {e:?}"))?;
        latencies.push(start.elapsed().as_secs_f64() * 1e6);
        if back != payload {
            return Err(format!("round {round}: sent {payload:?}, got back {back:?}"));
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies[latencies.len() / 2])
}

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("rounds must be a number"))
        .unwrap_or(200)
        .max(1);
    let devices = Device::list().unwrap_or_else(|e| {
        eprintln!("usb-ping: {e:?}");
        std::process::exit(1)
    });
    let Some(dev) = devices
        .iter()
        .find(|d| (d.descriptor.vendor_id, d.descriptor.product_id) == (VENDOR, PRODUCT))
    else {
        eprintln!("usb-ping: no echo device {VENDOR:04x}:{PRODUCT:04x} (granted and plugged in?)");
        std::process::exit(1)
    };
    let h = dev.open().unwrap_or_else(|e| {
        eprintln!("usb-ping: open: {e:?}");
        std::process::exit(1)
    });
    let setup = h
        .handle
        .set_configuration(ConfigValue::Value(1))
        .and_then(|()| h.handle.claim_interface(0));
    if let Err(e) = setup {
        eprintln!("usb-ping: configuring: {e:?}");
        std::process::exit(1);
    }
    let mut failed = false;
    for interrupt in [false, true] {
        for size in [4, 16, 32] {
            let kind = if interrupt { "interrupt" } else { "bulk" };
            match ping(&h, interrupt, size, rounds) {
                Ok(median) => println!("{kind} {size} bytes: {rounds} round trips ok, median {median:.1} us"),
                Err(e) => {
                    println!("{kind} {size} bytes: FAILED {e}");
                    failed = true;
                }
            }
        }
    }
    let _ = h.handle.release_interface(0);
    std::process::exit(failed as i32);
}
