//! Four guest threads on simulated USB echo devices (2341:8057) at once. Each worker opens its
//! own echo device (listed by the main thread) and, every round: submits a bulk IN transfer
//! before the OUT transfer that feeds it and awaits both, queues three interrupt reports
//! before reading them back in order, and reads the active configuration with a control
//! transfer. Every round it also lists the devices, and uses one more echo device through a
//! handle the main thread opened and shares: an interrupt report and a bulk packet out, one
//! of each back, and the serial number string. What comes back from the shared device may be
//! another worker's, so the main thread checks that everything sent came back exactly once.
//!
//! Handles cross threads both ways: each worker's device handle goes back to the main thread,
//! which releases its interface and drops it; the shared handle is dropped by the last worker
//! to finish, after which the main thread can claim the shared device's interface again.
//! Listing once more at the end gives handles 1 to 5: nothing was leaked.
//!
//!     usb-threads [rounds=30]
//!
//! Expects five echo devices, in this order: serial W0, W1, W2, W3 and SHARED.

use std::sync::{Arc, Barrier};
use std::thread;

use threads_devices::{arg, finish, Tally};
use wafer_sdk::usb::{
    await_transfer, ConfigValue, Device, DeviceHandle, Handle, LibusbError, Transfer,
    TransferOptions, TransferSetup, TransferType, UsbDevice,
};

const WORKERS: usize = 4;
const VENDOR: u16 = 0x2341;
const PRODUCT: u16 = 0x8057;
const BULK_OUT: u8 = 0x01;
const BULK_IN: u8 = 0x81;
const INTERRUPT_OUT: u8 = 0x02;
const INTERRUPT_IN: u8 = 0x82;
/// Long enough never to be reached when the runtime is right, short enough to end a hang.
const TIMEOUT_MS: u32 = 5000;
/// The simulation gives devices addresses 2, 3, ... in file order.
const FIRST_ADDRESS: u8 = 2;
const SHARED_ADDRESS: u8 = FIRST_ADDRESS + WORKERS as u8;
const SHARED_SERIAL: &str = "SHARED";
/// The echo device's string descriptor index of its serial number.
const SERIAL_INDEX: u8 = 3;

fn fail(what: &str, e: LibusbError) -> ! {
    eprintln!("usb-threads: {what}: {e:?}");
    std::process::exit(1)
}

/// Creates and submits a bulk or interrupt transfer (`data` empty for IN).
fn start(
    h: &DeviceHandle,
    kind: TransferType,
    endpoint: u8,
    data: &[u8],
    size: u32,
) -> Result<Transfer, LibusbError> {
    let setup = TransferSetup {
        bm_request_type: 0,
        b_request: 0,
        w_value: 0,
        w_index: 0,
    };
    let options = TransferOptions {
        endpoint,
        timeout_ms: TIMEOUT_MS,
        stream_id: 0,
        iso_packets: 0,
    };
    let xfer = h.new_transfer(kind, setup, size, options)?;
    xfer.submit_transfer(data)?;
    Ok(xfer)
}

/// Bytes tagged with their sender: `kind`, worker, round and index, then filler from them.
fn tagged(kind: u8, w: usize, round: u32, index: u32, len: usize) -> Vec<u8> {
    let seed = (w as u32) << 24 | round << 8 | index;
    (0..len)
        .map(|i| match i {
            0 => kind | w as u8,
            1 => round as u8,
            2 => index as u8,
            _ => (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32) as u8) ^ i as u8,
        })
        .collect()
}

/// What worker `w` sends to the shared device in `round`: one interrupt report, one bulk
/// packet of exactly the IN length, so a read never takes part of another worker's packet.
fn shared_report(w: usize, round: u32) -> Vec<u8> {
    tagged(0xC0, w, round, 0, 16)
}

fn shared_packet(w: usize, round: u32) -> Vec<u8> {
    tagged(0xD0, w, round, 1, 64)
}

/// One round on the worker's own device.
fn own_round(h: &Handle, w: usize, round: u32, t: &mut Tally) {
    let d = &h.handle;
    // Bulk: the IN transfer waits in flight while the OUT transfer that feeds it goes out.
    let payload = tagged(0xB0, w, round, 0, 1 + (w * 7 + round as usize * 13) % 64);
    let echo = start(d, TransferType::Bulk, BULK_IN, &[], 64).and_then(|xfer_in| {
        let out = start(
            d,
            TransferType::Bulk,
            BULK_OUT,
            &payload,
            payload.len() as u32,
        )?;
        await_transfer(out)?;
        await_transfer(xfer_in)
    });
    t.same("bulk echo", &echo, &Ok(payload));
    // Interrupt: three reports queued, then read back in order.
    let reports: Vec<Vec<u8>> = (0..3).map(|k| tagged(0xE0, w, round, k, 8)).collect();
    for r in &reports {
        t.ok(
            "interrupt out",
            h.interrupt_out(INTERRUPT_OUT, r, TIMEOUT_MS),
        );
    }
    for r in &reports {
        let back = h.interrupt_in(INTERRUPT_IN, 64, TIMEOUT_MS);
        t.same("interrupt echo", &back, &Ok(r.clone()));
    }
    // Control: GET_CONFIGURATION.
    let config = h.control_in(0x80, 8, 0, 0, 1, TIMEOUT_MS);
    t.same("get configuration", &config, &Ok(vec![1]));
}

/// One round on the shared device: what came back (perhaps another worker's) is returned.
/// Every worker sends before it reads, so the device always holds at least as many packets
/// as there are reads in flight: no read waits for a packet that never comes.
fn shared_round(h: &Handle, w: usize, round: u32, t: &mut Tally) -> (Vec<u8>, Vec<u8>) {
    let report = h
        .interrupt_out(INTERRUPT_OUT, &shared_report(w, round), TIMEOUT_MS)
        .and_then(|()| h.interrupt_in(INTERRUPT_IN, 64, TIMEOUT_MS));
    let packet = h
        .bulk_out(BULK_OUT, &shared_packet(w, round), TIMEOUT_MS)
        .and_then(|()| h.bulk_in(BULK_IN, 64, TIMEOUT_MS));
    let serial = h.string_descriptor(SERIAL_INDEX, TIMEOUT_MS);
    t.same(
        "shared serial",
        &serial,
        &Ok(Some(SHARED_SERIAL.to_string())),
    );
    (
        t.ok("shared interrupt", report).unwrap_or_default(),
        t.ok("shared bulk", packet).unwrap_or_default(),
    )
}

/// Lists the devices: all five echo devices, at their addresses.
fn check_listing(t: &mut Tally) {
    let listed = Device::list().map(|devices| {
        let mut seen: Vec<(u16, u16, u8)> = devices
            .iter()
            .map(|d| {
                let id = (d.descriptor.vendor_id, d.descriptor.product_id);
                (id.0, id.1, d.location.device_address)
            })
            .collect();
        seen.sort();
        seen
    });
    let want: Vec<_> = (FIRST_ADDRESS..=SHARED_ADDRESS)
        .map(|a| (VENDOR, PRODUCT, a))
        .collect();
    t.same("device list", &listed, &Ok(want));
}

/// Opens `device` and readies it for transfers: configuration 1, interface 0.
fn open_echo(device: &UsbDevice, serial: &str, t: &mut Tally) -> Option<Handle> {
    let h = Handle {
        handle: t.ok("open", device.open())?,
    };
    let got = h.string_descriptor(SERIAL_INDEX, TIMEOUT_MS);
    t.same("serial", &got, &Ok(Some(serial.to_string())));
    t.ok(
        "set configuration",
        h.handle.set_configuration(ConfigValue::Value(1)),
    )?;
    t.ok("claim interface", h.handle.claim_interface(0))?;
    Some(h)
}

struct WorkerResult {
    tally: Tally,
    /// The worker's own device handle, handed back to the main thread.
    own: Option<Handle>,
    reports: Vec<Vec<u8>>,
    packets: Vec<Vec<u8>>,
}

fn worker(
    w: usize,
    device: UsbDevice,
    shared: Arc<Handle>,
    rounds: u32,
    gate: &Barrier,
) -> WorkerResult {
    let mut t = Tally::default();
    let own = open_echo(&device, &format!("W{w}"), &mut t);
    drop(device);
    let (mut reports, mut packets) = (Vec::new(), Vec::new());
    gate.wait();
    for round in 0..rounds {
        if let Some(h) = &own {
            own_round(h, w, round, &mut t);
        }
        let (report, packet) = shared_round(&shared, w, round, &mut t);
        reports.push(report);
        packets.push(packet);
        check_listing(&mut t);
    }
    WorkerResult {
        tally: t,
        own,
        reports,
        packets,
    }
}

/// Everything the workers sent to the shared device, sorted, against what came back, sorted.
fn check_shared(results: &[WorkerResult], rounds: u32, t: &mut Tally) {
    let sent = |f: fn(usize, u32) -> Vec<u8>| {
        let mut all: Vec<Vec<u8>> = (0..WORKERS)
            .flat_map(|w| (0..rounds).map(move |r| f(w, r)))
            .collect();
        all.sort();
        all
    };
    let mut reports: Vec<Vec<u8>> = results.iter().flat_map(|r| r.reports.clone()).collect();
    let mut packets: Vec<Vec<u8>> = results.iter().flat_map(|r| r.packets.clone()).collect();
    reports.sort();
    packets.sort();
    t.same(
        "shared interrupt reports, each back once",
        &reports,
        &sent(shared_report),
    );
    t.same(
        "shared bulk packets, each back once",
        &packets,
        &sent(shared_packet),
    );
}

fn main() {
    let rounds = arg(1, 30).max(1);
    println!("usb-threads: {WORKERS} workers, {rounds} rounds");
    let mut devices = Device::list().unwrap_or_else(|e| fail("list-devices", e));
    devices.sort_by_key(|d| d.location.device_address);
    let addresses: Vec<u8> = devices.iter().map(|d| d.location.device_address).collect();
    let want: Vec<u8> = (FIRST_ADDRESS..=SHARED_ADDRESS).collect();
    if addresses != want {
        eprintln!("usb-threads: expected echo devices at {want:?}, found {addresses:?}");
        std::process::exit(1);
    }
    let shared_device = devices.pop().expect("five devices").device;
    let mut setup = Tally::default();
    let Some(shared) = open_echo(&shared_device, SHARED_SERIAL, &mut setup) else {
        setup.print("setup");
        finish(&[&setup]);
    };
    let shared = Arc::new(shared);

    // Every worker starts at once, after the main thread let go of the shared handle.
    let gate = Arc::new(Barrier::new(WORKERS + 1));
    let workers: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(w, d)| {
            let (shared, gate) = (shared.clone(), gate.clone());
            thread::spawn(move || worker(w, d.device, shared, rounds, &gate))
        })
        .collect();
    drop(shared);
    gate.wait();
    let results: Vec<WorkerResult> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();

    setup.print("setup");
    let mut last = Tally::default();
    for (w, r) in results.iter().enumerate() {
        r.tally.print(&format!("worker {w}"));
        if let Some(own) = &r.own {
            last.ok(
                "release a worker's interface",
                own.handle.release_interface(0),
            );
        }
    }
    check_shared(&results, rounds, &mut last);
    let tallies: Vec<Tally> = results.into_iter().map(|r| r.tally).collect();

    // The shared handle is gone (dropped on a worker): its interface can be claimed again,
    // and nothing is left in the echo queues.
    if let Some(h) = open_echo(&shared_device, SHARED_SERIAL, &mut last) {
        let timed_out = Err(LibusbError::Timeout);
        let leftover = h.interrupt_in(INTERRUPT_IN, 64, 20);
        last.same("no interrupt report left over", &leftover, &timed_out);
        let leftover = h.bulk_in(BULK_IN, 64, 20);
        last.same("no bulk data left over", &leftover, &timed_out);
    }
    drop(shared_device);
    let handles: Vec<u32> = Device::list()
        .map(|ds| ds.iter().map(|d| d.device.handle()).collect())
        .unwrap_or_default();
    last.same("handles after every drop", &handles, &(1..=5).collect());
    last.print("shared device and handles");

    let mut all: Vec<&Tally> = vec![&setup];
    all.extend(tallies.iter());
    all.push(&last);
    finish(&all);
}
