//! A USB flash-drive block driver running inside the sandbox: bulk-only transport and SCSI
//! are spoken by this guest (src/bot.rs), WASI-USB only moves the bulk transfers. It writes
//! 1 MiB chunks of a deterministic pattern, reads them back, checks them, and reports the
//! device's identity, its capacity and the throughput.
//!
//! usage: usb-storage [LBA ...]   (default: four chunks spread over the disk)
//!
//! The chunks are overwritten: run it on a disk whose data does not matter. A kernel driver
//! bound to the interface (usb-storage on Linux) is detached for the run and attached again
//! afterwards.

mod bot;

use std::process::exit;
use std::time::Instant;

use wafer_sdk::usb::{ConfigValue, Device, Handle, LibusbError};

const CHUNK: usize = 1 << 20;
const TIMEOUT_MS: u32 = 10_000;
const DEFAULT_CHUNKS: u64 = 4;

/// The bulk endpoints of one BOT interface, through WASI-USB.
struct UsbPipe<'a> {
    handle: &'a Handle,
    interface: u8,
    bulk_in: u8,
    bulk_out: u8,
}

impl bot::Pipe for UsbPipe<'_> {
    type Error = LibusbError;

    fn send(&mut self, data: &[u8]) -> Result<(), LibusbError> {
        self.handle.bulk_out(self.bulk_out, data, TIMEOUT_MS)
    }

    fn receive(&mut self, len: u32) -> Result<Vec<u8>, LibusbError> {
        self.handle.bulk_in(self.bulk_in, len, TIMEOUT_MS)
    }

    fn stalled(e: &LibusbError) -> bool {
        *e == LibusbError::Pipe
    }

    fn clear_halt(&mut self, bulk_in: bool) -> Result<(), LibusbError> {
        let ep = if bulk_in { self.bulk_in } else { self.bulk_out };
        self.handle.handle.clear_halt(ep)
    }

    fn class_reset(&mut self) -> Result<(), LibusbError> {
        self.handle
            .control_out(0x21, 0xFF, 0, self.interface as u16, &[], TIMEOUT_MS)
    }
}

/// A mass-storage BOT interface (class 08, SCSI transparent 06, bulk-only 50): the
/// configuration value, the interface number and its bulk IN and OUT endpoints.
fn find_interface(dev: &Device) -> Option<(u8, u8, u8, u8)> {
    let config = dev.device.get_configuration_descriptor(0).ok()?;
    config.interfaces.iter().find_map(|i| {
        if (
            i.interface_class,
            i.interface_subclass,
            i.interface_protocol,
        ) != (8, 6, 0x50)
        {
            return None;
        }
        let bulk = |dir_in: bool| {
            i.endpoints
                .iter()
                .find(|e| e.attributes & 3 == 2 && (e.endpoint_address & 0x80 != 0) == dir_in)
                .map(|e| e.endpoint_address)
        };
        Some((
            config.configuration_value,
            i.interface_number,
            bulk(true)?,
            bulk(false)?,
        ))
    })
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("usb-storage: {what}: {e}");
    exit(1)
}

struct Usb(LibusbError);

impl std::fmt::Display for Usb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(1e-9)
}

fn main() {
    let lbas: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| fail("usage", format!("{a:?} is not an LBA")))
        })
        .collect();

    let devices = Device::list().unwrap_or_else(|e| fail("listing devices", Usb(e)));
    let Some((dev, (config, interface, bulk_in, bulk_out))) =
        devices.iter().find_map(|d| Some((d, find_interface(d)?)))
    else {
        fail(
            "no mass-storage device",
            "none granted and plugged in has a bulk-only SCSI interface",
        )
    };
    let d = &dev.descriptor;
    println!(
        "device {:04x}:{:04x} at bus {} address {}, interface {interface}, bulk IN {bulk_in:#04x} OUT {bulk_out:#04x}",
        d.vendor_id, d.product_id, dev.location.bus_number, dev.location.device_address
    );
    let h = dev.open().unwrap_or_else(|e| fail("open", Usb(e)));

    // The kernel's usb-storage driver owns the interface on a real machine: borrow it.
    let detached = match h.handle.kernel_driver_active(interface) {
        Ok(true) => {
            h.handle
                .detach_kernel_driver(interface)
                .unwrap_or_else(|e| fail("detaching the kernel driver", Usb(e)));
            println!("kernel driver detached from interface {interface}");
            true
        }
        Ok(false) | Err(LibusbError::NotSupported) => false,
        Err(e) => fail("kernel-driver-active", Usb(e)),
    };
    // Setting the active configuration again would reset the device: only when unconfigured.
    if h.handle.get_configuration().unwrap_or(0) != config {
        h.handle
            .set_configuration(ConfigValue::Value(config))
            .unwrap_or_else(|e| fail("set-configuration", Usb(e)));
    }
    h.handle
        .claim_interface(interface)
        .unwrap_or_else(|e| fail("claim-interface", Usb(e)));

    let pipe = UsbPipe {
        handle: &h,
        interface,
        bulk_in,
        bulk_out,
    };
    let ok = run(bot::Disk::new(pipe), &lbas);

    let _ = h.handle.release_interface(interface);
    if detached {
        match h.handle.attach_kernel_driver(interface) {
            Ok(()) => println!("kernel driver attached again"),
            Err(e) => eprintln!("usb-storage: attaching the kernel driver again: {e:?}"),
        }
    }
    exit(if ok { 0 } else { 1 })
}

fn run(mut disk: bot::Disk<UsbPipe<'_>>, lbas: &[u64]) -> bool {
    let id = disk
        .start()
        .unwrap_or_else(|e| fail("starting the unit", e));
    println!(
        "INQUIRY: {} {} {}{}",
        id.vendor,
        id.product,
        id.revision,
        if id.removable { " (removable)" } else { "" }
    );
    let bytes = disk.blocks * disk.block_size as u64;
    println!(
        "capacity: {} blocks of {} bytes ({:.1} MiB)",
        disk.blocks,
        disk.block_size,
        bytes as f64 / (1 << 20) as f64
    );
    let chunk_blocks = (CHUNK / disk.block_size as usize) as u64;
    if disk.blocks < chunk_blocks {
        fail("capacity", "the disk is smaller than one 1 MiB chunk");
    }
    let lbas: Vec<u64> = if lbas.is_empty() {
        // Spread over the disk: first and last chunk and evenly between, block-aligned to 8.
        let span = disk.blocks - chunk_blocks;
        let n = DEFAULT_CHUNKS.min(disk.blocks / chunk_blocks);
        (0..n)
            .map(|i| {
                if n == 1 {
                    0
                } else {
                    span * i / (n - 1) / 8 * 8
                }
            })
            .collect()
    } else {
        lbas.to_vec()
    };

    let block = disk.block_size as u64;
    let mut chunk = vec![0u8; CHUNK];
    let mut write_time = 0.0;
    for &lba in &lbas {
        bot::fill_pattern(&mut chunk, lba * block);
        let start = Instant::now();
        disk.write(lba, &chunk)
            .unwrap_or_else(|e| fail(&format!("writing at LBA {lba}"), e));
        write_time += start.elapsed().as_secs_f64();
        println!("wrote 1 MiB at LBA {lba}");
    }
    let total = lbas.len() * CHUNK;
    println!(
        "write: {} MiB in {:.3} s, {:.1} MB/s",
        lbas.len(),
        write_time,
        mb_per_s(total, write_time)
    );

    let mut read_time = 0.0;
    let mut bad = Vec::new();
    for &lba in &lbas {
        let start = Instant::now();
        let back = disk
            .read(lba, CHUNK)
            .unwrap_or_else(|e| fail(&format!("reading at LBA {lba}"), e));
        read_time += start.elapsed().as_secs_f64();
        bot::fill_pattern(&mut chunk, lba * block);
        if back != chunk {
            let at = back
                .iter()
                .zip(&chunk)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            println!("MISMATCH in the chunk at LBA {lba}, first at byte {at}");
            bad.push(lba);
        }
    }
    println!(
        "read: {} MiB in {:.3} s, {:.1} MB/s",
        lbas.len(),
        read_time,
        mb_per_s(total, read_time)
    );
    if bad.is_empty() {
        println!("verified {} MiB", lbas.len());
        true
    } else {
        println!("FAILED: {} of {} chunks differ", bad.len(), lbas.len());
        false
    }
}
