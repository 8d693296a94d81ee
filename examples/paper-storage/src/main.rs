//! The mass-storage benchmark of the 2024 WASI-USB paper, against its API (`wadu436:usb@0.0.1`):
//! a USB flash-drive driver speaking SCSI over bulk-only transport (src/scsi.rs) that writes
//! `MiB` MiB of a deterministic pattern in 1 MiB chunks from LBA 8192, reads them back,
//! verifies them, and reports the throughput of each direction.
//!
//! usage: paper-storage [MiB]   (default 8)
//!
//! The drive is found by its interface (class 8 mass storage, subclass 6 SCSI transparent,
//! protocol 0x50 bulk-only) through the device's configuration, interface and endpoint
//! resources. The data at those blocks is overwritten: run it on a disk that does not matter.
//! The API has no error type: a failing transfer traps; a failed command status or a wrong
//! byte read back is this program's failure (exit 1).

wit_bindgen::generate!({
    path: "../../wit/deps/wadu436-usb",
    world: "wadu436:usb/guest",
    generate_all,
});

mod scsi;

use std::process::exit;
use std::time::Instant;

use wadu436::usb::device::{UsbConfiguration, UsbDevice, UsbEndpoint, UsbInterface};
use wadu436::usb::types::{Direction, TransferType};

const MIB: usize = 1 << 20;
const START_LBA: u64 = 8192;
const DEFAULT_MIB: u64 = 8;

/// A bulk-only mass-storage interface of a device.
struct Drive {
    device: UsbDevice,
    configuration: UsbConfiguration,
    interface: UsbInterface,
    bulk_in: UsbEndpoint,
    bulk_out: UsbEndpoint,
}

fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("paper-storage: {why}");
    exit(1)
}

/// The bulk endpoint of `interface` in `direction`.
fn bulk(interface: &UsbInterface, direction: Direction) -> Option<UsbEndpoint> {
    interface.endpoints().into_iter().find(|e| {
        let d = e.descriptor();
        d.transfer_type == TransferType::Bulk && d.direction == direction
    })
}

/// The first device with a bulk-only SCSI interface in one of its configurations.
fn find_drive() -> Option<Drive> {
    for device in UsbDevice::enumerate() {
        for configuration in device.configurations() {
            for interface in configuration.interfaces() {
                let d = interface.descriptor();
                if (
                    d.interface_class,
                    d.interface_subclass,
                    d.interface_protocol,
                ) != (8, 6, 0x50)
                {
                    continue;
                }
                let (Some(bulk_in), Some(bulk_out)) = (
                    bulk(&interface, Direction::In),
                    bulk(&interface, Direction::Out),
                ) else {
                    continue;
                };
                return Some(Drive {
                    device,
                    configuration,
                    interface,
                    bulk_in,
                    bulk_out,
                });
            }
        }
    }
    None
}

/// The value of the test pattern's 8-byte word at disk byte `offset` (a multiple of 8):
/// splitmix64 of the word's index, so a chunk misplaced on the disk shows.
fn pattern_word(offset: u64) -> u64 {
    let mut z = (offset / 8).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fill(chunk: &mut [u8], offset: u64) {
    for (i, word) in chunk.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&pattern_word(offset + i as u64 * 8).to_le_bytes());
    }
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(1e-9)
}

fn main() {
    let mib: u64 = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| fail(format!("MiB: {a:?} is not a positive number"))),
        None => DEFAULT_MIB,
    };
    let drive = find_drive().unwrap_or_else(|| {
        fail("no mass-storage device: none granted and plugged in has a bulk-only SCSI interface")
    });
    let d = drive.device.descriptor();
    let (config, iface) = (
        drive.configuration.descriptor().number,
        drive.interface.descriptor().interface_number,
    );
    let (ep_in, ep_out) = (drive.bulk_in.descriptor(), drive.bulk_out.descriptor());
    println!(
        "device {:04x}:{:04x} {} {}, configuration {config}, interface {iface}, bulk IN {:#04x} OUT {:#04x}",
        d.vendor_id,
        d.product_id,
        d.manufacturer_name.as_deref().unwrap_or("?"),
        d.product_name.as_deref().unwrap_or("?"),
        0x80 | ep_in.endpoint_number,
        ep_out.endpoint_number,
    );

    drive.device.open();
    if drive.device.active_configuration().descriptor().number != config {
        drive.device.select_configuration(&drive.configuration);
    }
    drive.device.claim_interface(&drive.interface);
    let ok = {
        let mut disk = scsi::Disk::new(&drive.device, &drive.bulk_in, &drive.bulk_out);
        run(&mut disk, mib).unwrap_or_else(|e| fail(e))
    };
    drive.device.release_interface(&drive.interface);
    drive.device.close();
    exit(if ok { 0 } else { 1 })
}

/// Brings the unit up, writes, reads back and verifies: whether every byte came back.
fn run(disk: &mut scsi::Disk, mib: u64) -> Result<bool, String> {
    let id = disk.inquiry()?;
    println!("INQUIRY: {} {} {}", id.vendor, id.product, id.revision);
    disk.wait_ready()?;
    let (blocks, block_size) = disk.read_capacity()?;
    println!(
        "capacity: {blocks} blocks of {block_size} bytes ({:.1} MiB)",
        (blocks * block_size as u64) as f64 / MIB as f64
    );
    let chunk_blocks = (MIB / block_size as usize) as u64;
    if !MIB.is_multiple_of(block_size as usize) {
        return Err(format!("blocks of {block_size} bytes do not divide 1 MiB"));
    }
    if START_LBA + mib * chunk_blocks > blocks {
        return Err(format!(
            "{mib} MiB from LBA {START_LBA} do not fit a disk of {blocks} blocks"
        ));
    }
    let total = mib as usize * MIB;
    let mut chunk = vec![0u8; MIB];

    let mut seconds = 0.0;
    for i in 0..mib {
        let lba = START_LBA + i * chunk_blocks;
        fill(&mut chunk, lba * block_size as u64);
        let start = Instant::now();
        disk.write(lba, chunk_blocks as u16, &chunk)?;
        seconds += start.elapsed().as_secs_f64();
    }
    println!(
        "write: {total} bytes ({mib} MiB) at LBA {START_LBA} in {seconds:.3} s, {:.1} MB/s",
        mb_per_s(total, seconds)
    );

    let mut seconds = 0.0;
    let mut bad = 0;
    for i in 0..mib {
        let lba = START_LBA + i * chunk_blocks;
        let start = Instant::now();
        let back = disk.read(lba, chunk_blocks as u16, MIB as u32)?;
        seconds += start.elapsed().as_secs_f64();
        fill(&mut chunk, lba * block_size as u64);
        if back != chunk {
            let at = back.iter().zip(&chunk).position(|(a, b)| a != b);
            println!(
                "MISMATCH in the chunk at LBA {lba}: {} bytes back, first difference at {at:?}",
                back.len()
            );
            bad += 1;
        }
    }
    println!(
        "read: {total} bytes ({mib} MiB) in {seconds:.3} s, {:.1} MB/s",
        mb_per_s(total, seconds)
    );
    if bad == 0 {
        println!("verified {mib} MiB");
    } else {
        println!("FAILED: {bad} of {mib} chunks differ");
    }
    Ok(bad == 0)
}
