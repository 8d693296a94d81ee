//! The round-trip benchmark of the 2024 WASI-USB paper, against its API (`wadu436:usb@0.0.1`):
//! the Arduino echo device (2341:8057) sends back what is written to it. For bulk (OUT 0x01,
//! IN 0x81) and interrupt (OUT 0x02, IN 0x82) transfers of 4, 16 and 32 bytes, it writes a
//! payload, reads the echo, checks it, `rounds` times, and prints the median round trip.
//!
//! usage: paper-ping [rounds]   (default 200)
//!
//! The API has no error type: a failing transfer traps (the runtime says why on stderr). A
//! wrong echo is this program's failure: it says so and exits with 1.

wit_bindgen::generate!({
    path: "../../wit/deps/wadu436-usb",
    world: "wadu436:usb/guest",
    generate_all,
});

use std::process::exit;
use std::time::Instant;

use wadu436::usb::device::{UsbDevice, UsbEndpoint, UsbInterface};
use wadu436::usb::types::{Direction, Filter, TransferType};

const VENDOR: u16 = 0x2341;
const PRODUCT: u16 = 0x8057;
const SIZES: [usize; 3] = [4, 16, 32];

/// The echo device's four endpoints.
struct Echo {
    bulk_out: UsbEndpoint,
    bulk_in: UsbEndpoint,
    interrupt_out: UsbEndpoint,
    interrupt_in: UsbEndpoint,
}

fn fail(why: String) -> ! {
    eprintln!("paper-ping: {why}");
    exit(1)
}

/// Interface 0 of configuration 1, after selecting that configuration.
fn interface_zero(dev: &UsbDevice) -> UsbInterface {
    let config = dev
        .configurations()
        .into_iter()
        .find(|c| c.descriptor().number == 1)
        .unwrap_or_else(|| fail("the device has no configuration 1".into()));
    dev.select_configuration(&config);
    config
        .interfaces()
        .into_iter()
        .find(|i| {
            let d = i.descriptor();
            (d.interface_number, d.alternate_setting) == (0, 0)
        })
        .unwrap_or_else(|| fail("configuration 1 has no interface 0".into()))
}

fn endpoints(interface: &UsbInterface) -> Echo {
    let mut all = interface.endpoints();
    let mut take = |kind: TransferType, direction: Direction, number: u8| {
        let at = all
            .iter()
            .position(|e| {
                let d = e.descriptor();
                (d.transfer_type, d.direction, d.endpoint_number) == (kind, direction, number)
            })
            .unwrap_or_else(|| {
                fail(format!(
                    "interface 0 has no {kind:?} {direction:?} endpoint {number}"
                ))
            });
        all.swap_remove(at)
    };
    Echo {
        bulk_out: take(TransferType::Bulk, Direction::Out, 1),
        bulk_in: take(TransferType::Bulk, Direction::In, 1),
        interrupt_out: take(TransferType::Interrupt, Direction::Out, 2),
        interrupt_in: take(TransferType::Interrupt, Direction::In, 2),
    }
}

/// `rounds` round trips of `size` bytes: the median in microseconds, or the first bad echo.
fn ping(
    dev: &UsbDevice,
    echo: &Echo,
    interrupt: bool,
    size: usize,
    rounds: u32,
) -> Result<f64, String> {
    let mut times = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        let payload: Vec<u8> = (0..size)
            .map(|i| (i as u32 * 29 + round * 7) as u8)
            .collect();
        let start = Instant::now();
        let back = if interrupt {
            dev.write_interrupt(&echo.interrupt_out, &payload);
            dev.read_interrupt(&echo.interrupt_in, 64)
        } else {
            dev.write_bulk(&echo.bulk_out, &payload);
            dev.read_bulk(&echo.bulk_in, 64)
        };
        times.push(start.elapsed().as_secs_f64() * 1e6);
        if back != payload {
            return Err(format!(
                "round {round}: sent {payload:?}, got back {back:?}"
            ));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn main() {
    let rounds: u32 = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .unwrap_or_else(|_| fail(format!("rounds: {a:?} is not a number"))),
        None => 200,
    }
    .max(1);
    let filter = Filter {
        vendor_id: Some(VENDOR),
        product_id: Some(PRODUCT),
        class_code: None,
        subclass_code: None,
        protocol_code: None,
        serial_number: None,
    };
    let dev = UsbDevice::request_device(&filter).unwrap_or_else(|| {
        fail(format!(
            "no echo device {VENDOR:04x}:{PRODUCT:04x} (granted and plugged in?)"
        ))
    });
    dev.open();
    let interface = interface_zero(&dev);
    dev.claim_interface(&interface);
    let echo = endpoints(&interface);

    let mut failed = false;
    for interrupt in [false, true] {
        let kind = if interrupt { "interrupt" } else { "bulk" };
        for size in SIZES {
            match ping(&dev, &echo, interrupt, size, rounds) {
                Ok(median) => {
                    println!("{kind} {size} bytes: {rounds} round trips ok, median {median:.1} us")
                }
                Err(why) => {
                    println!("{kind} {size} bytes: FAILED {why}");
                    failed = true;
                }
            }
        }
    }
    dev.release_interface(&interface);
    dev.close();
    exit(failed as i32)
}
