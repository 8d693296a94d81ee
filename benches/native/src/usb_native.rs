//! The native side of the USB benchmark: the operations of benches/usb-guest, on the same
//! backend (the simulation named by `WAFER_USB_SIM`), called directly from Rust through the
//! runtime's USB traits, and timed the same way. The storage part compiles the usb-storage
//! example's own bulk-only/SCSI code (examples/usb-storage/src/bot.rs) against those traits,
//! so the difference to the guest's figures is everything wafer adds: the wasm code, the
//! canonical ABI, the grant checks, the handle table and the copies across the sandbox.
//!
//! Usage: `usb-native ITERATIONS CHUNKS`; prints the same lines as the guest.

// Only part of the driver is exercised here (no identity printed).
#[allow(dead_code)]
#[path = "../../../examples/usb-storage/src/bot.rs"]
mod bot;

use std::time::Instant;

use wafer_devices::usb::host::{Handle, Host};
use wafer_devices::usb::sim;
use wafer_devices::usb::types::{Setup, TransferRequest, TransferType, UsbError};

const TIMEOUT_MS: u32 = 1000;
const CHUNK: usize = 1 << 20;

/// One transfer, submitted and awaited, as the SDK's blocking layer does it.
fn transfer(
    h: &mut dyn Handle,
    kind: TransferType,
    endpoint: u8,
    setup: Option<Setup>,
    data: &[u8],
    len: u32,
) -> Result<Vec<u8>, UsbError> {
    h.submit(TransferRequest {
        kind,
        endpoint,
        setup,
        length: if data.is_empty() {
            len
        } else {
            data.len() as u32
        },
        data: data.to_vec(),
        timeout_ms: TIMEOUT_MS,
        stream_id: 0,
        iso_packets: 0,
    })?
    .wait()
}

struct NativePipe<'a>(&'a mut dyn Handle);

impl bot::Pipe for NativePipe<'_> {
    type Error = UsbError;
    fn send(&mut self, data: &[u8]) -> Result<(), UsbError> {
        transfer(self.0, TransferType::Bulk, 0x02, None, data, 0).map(drop)
    }
    fn receive(&mut self, len: u32) -> Result<Vec<u8>, UsbError> {
        transfer(self.0, TransferType::Bulk, 0x81, None, &[], len)
    }
    fn stalled(e: &UsbError) -> bool {
        *e == UsbError::Pipe
    }
    fn clear_halt(&mut self, bulk_in: bool) -> Result<(), UsbError> {
        self.0.clear_halt(if bulk_in { 0x81 } else { 0x02 })
    }
    fn class_reset(&mut self) -> Result<(), UsbError> {
        let setup = Setup {
            request_type: 0x21,
            request: 0xFF,
            value: 0,
            index: 0,
            length: 0,
        };
        transfer(self.0, TransferType::Control, 0, Some(setup), &[], 0).map(drop)
    }
}

fn open(host: &mut dyn Host, vendor: u16, product: u16) -> Box<dyn Handle> {
    let devices = host.devices().expect("devices");
    let dev = devices
        .iter()
        .find(|d| (d.descriptor.vendor_id, d.descriptor.product_id) == (vendor, product))
        .unwrap_or_else(|| panic!("{vendor:04x}:{product:04x} in the simulation"));
    let mut h = host.open(dev.key).expect("open");
    h.set_configuration(Some(1)).expect("set-configuration");
    h.claim_interface(0).expect("claim-interface");
    h
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|s| s.parse::<u32>().expect("a number"));
    let iterations = args.next().unwrap_or(100_000).max(1);
    let chunks = args.next().unwrap_or(64).max(1);
    let simulation = sim::global().unwrap_or_else(|e| panic!("simulation: {e}"));
    let mut host = sim::SimHost::new(simulation);

    let mut echo = open(&mut host, 0x2341, 0x8057);
    let mut check = 0u32;
    for (name, kind, out_ep, in_ep) in [
        ("bulk", TransferType::Bulk, 0x01, 0x81),
        ("interrupt", TransferType::Interrupt, 0x02, 0x82),
    ] {
        for size in [4usize, 16, 32] {
            let payload: Vec<u8> = (0..size as u8).map(|i| i.wrapping_mul(37)).collect();
            let start = Instant::now();
            for _ in 0..iterations {
                let back = transfer(echo.as_mut(), kind, out_ep, None, &payload, 0)
                    .and_then(|_| transfer(echo.as_mut(), kind, in_ep, None, &[], 64))
                    .expect("round trip");
                assert!(back == payload, "echo answered {back:?}");
                check = check.wrapping_add(back[size - 1] as u32);
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
            println!("{name}_rt_{size} {ns:.1}");
        }
    }

    let mut drive = open(&mut host, 0x0781, 0x5567);
    let mut disk = bot::Disk::new(NativePipe(drive.as_mut()));
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
