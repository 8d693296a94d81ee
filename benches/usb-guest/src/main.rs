//! USB operation cost measured from inside a wafer driver, the same operations as benches/native
//! (`usb-native`): echo round trips (OUT then IN, checked) on bulk and interrupt endpoints
//! with 4, 16 and 32-byte payloads, and 1 MiB WRITE(10)/READ(10) through the usb-storage
//! example's own bulk-only/SCSI code (examples/usb-storage/src/bot.rs).
//!
//! Usage: `usb-bench ITERATIONS CHUNKS` with the echo device (2341:8057) and a flash drive
//! (0781:5567) of at least 4 MiB granted. Prints `<operation> <ns per op>` lines.

// Only part of the driver is exercised here (no identity printed).
#[allow(dead_code)]
#[path = "../../../examples/usb-storage/src/bot.rs"]
mod bot;

use std::time::Instant;

use wafer_sdk::usb::{ConfigValue, Device, Handle, LibusbError};

const TIMEOUT_MS: u32 = 1000;
const CHUNK: usize = 1 << 20;

struct UsbPipe<'a>(&'a Handle);

impl bot::Pipe for UsbPipe<'_> {
    type Error = LibusbError;
    fn send(&mut self, data: &[u8]) -> Result<(), LibusbError> {
        self.0.bulk_out(0x02, data, TIMEOUT_MS)
    }
    fn receive(&mut self, len: u32) -> Result<Vec<u8>, LibusbError> {
        self.0.bulk_in(0x81, len, TIMEOUT_MS)
    }
    fn stalled(e: &LibusbError) -> bool {
        *e == LibusbError::Pipe
    }
    fn clear_halt(&mut self, bulk_in: bool) -> Result<(), LibusbError> {
        self.0.handle.clear_halt(if bulk_in { 0x81 } else { 0x02 })
    }
    fn class_reset(&mut self) -> Result<(), LibusbError> {
        self.0.control_out(0x21, 0xFF, 0, 0, &[], TIMEOUT_MS)
    }
}

fn open(devices: &[Device], vendor: u16, product: u16) -> Handle {
    let dev = devices
        .iter()
        .find(|d| (d.descriptor.vendor_id, d.descriptor.product_id) == (vendor, product))
        .unwrap_or_else(|| panic!("{vendor:04x}:{product:04x} granted and plugged in"));
    let h = dev.open().expect("open");
    h.handle
        .set_configuration(ConfigValue::Value(1))
        .expect("set-configuration");
    h.handle.claim_interface(0).expect("claim-interface");
    h
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|s| s.parse::<u32>().expect("a number"));
    let iterations = args.next().unwrap_or(100_000).max(1);
    let chunks = args.next().unwrap_or(64).max(1);
    let devices = Device::list().expect("list-devices");

    let echo = open(&devices, 0x2341, 0x8057);
    let mut check = 0u32;
    for (kind, out_ep, in_ep) in [("bulk", 0x01, 0x81), ("interrupt", 0x02, 0x82)] {
        for size in [4usize, 16, 32] {
            let payload: Vec<u8> = (0..size as u8).map(|i| i.wrapping_mul(37)).collect();
            let start = Instant::now();
            for _ in 0..iterations {
                let back = if kind == "bulk" {
                    echo.bulk_out(out_ep, &payload, TIMEOUT_MS)
                        .and_then(|()| echo.bulk_in(in_ep, 64, TIMEOUT_MS))
                } else {
                    echo.interrupt_out(out_ep, &payload, TIMEOUT_MS)
                        .and_then(|()| echo.interrupt_in(in_ep, 64, TIMEOUT_MS))
                }
                .expect("round trip");
                assert!(back == payload, "echo answered {back:?}");
                check = check.wrapping_add(back[size - 1] as u32);
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
            println!("{kind}_rt_{size} {ns:.1}");
        }
    }

    let drive = open(&devices, 0x0781, 0x5567);
    let mut disk = bot::Disk::new(UsbPipe(&drive));
    disk.start().expect("the drive starts");
    let slots = (disk.blocks / (CHUNK as u64 / 512)).min(4);
    let mut chunk = vec![0u8; CHUNK];
    bot::fill_pattern(&mut chunk, 0);
    let start = Instant::now();
    for i in 0..chunks {
        disk.write(i as u64 % slots * 2048, &chunk)
            .expect("WRITE(10)");
    }
    let write = start.elapsed().as_nanos() as f64 / f64::from(chunks);
    // Only the transfers are timed; the check runs after, the same for both sides.
    let mut elapsed = std::time::Duration::ZERO;
    for i in 0..chunks {
        let start = Instant::now();
        let back = disk.read(i as u64 % slots * 2048, CHUNK).expect("READ(10)");
        elapsed += start.elapsed();
        assert!(back == chunk, "the chunk read back differs");
        check = check.wrapping_add(back[CHUNK - 1] as u32);
    }
    let read = elapsed.as_nanos() as f64 / f64::from(chunks);
    println!("write_1m {write:.1}");
    println!("read_1m {read:.1}");
    println!("check {check}");
}
