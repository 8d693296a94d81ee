//! A hostile guest: thread B keeps using a handle (through its own copy of the handle number)
//! while thread A drops it; the handle was opened on the main thread. The runtime must treat B
//! exactly as it treats a single thread using a dropped handle: the component model's trap
//! (`wasm trap: unknown handle`, exit status 134), never a crash, a hang, or a call that
//! reaches a device through a freed handle. In `usb-close` mode A closes the device handle
//! instead (`device-handle.close`), which the interface defines: B's next call answers
//! `no-device` and the program ends normally.
//!
//!     drop-race i2c         # bus `bus`, a bme280 at 0x76; ends with the trap
//!     drop-race usb         # an echo device 2341:8057; ends with the trap
//!     drop-race usb-close   # the same device; exits 0
//!
//! Exit statuses other than the trap's: 0 (usb-close went as expected), 1 (a wrong answer or
//! error), 2 (bad arguments or setup), 3 (B never trapped), 4 (B never got going).

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use threads_devices::wait_until;
use wafer_sdk::usb::{ConfigValue, Device, DeviceHandle, Handle, LibusbError};
use wafer_sdk::wafer::hal::buses::open_i2c;
use wafer_sdk::wasi::i2c::i2c::I2c;

/// Successful uses by B before A may drop the handle.
const USES_BEFORE_DROP: u32 = 100;
/// B gives up (and the program says B never trapped) after this many uses.
const MAX_USES: u32 = 1_000_000;
const START_LIMIT: Duration = Duration::from_secs(10);
const TIMEOUT_MS: u32 = 5000;

/// B's successful uses so far.
static USES: AtomicU32 = AtomicU32::new(0);

fn exit(status: i32, why: &str) -> ! {
    println!("{why}");
    std::process::exit(status)
}

/// Runs `drop_it` on thread A once B (running `use_once` on its own thread until it is told
/// to stop by an `Err`, or traps) has used the handle [`USES_BEFORE_DROP`] times. Returns B's
/// error, if it stopped with one.
fn race<U, D>(mut use_once: U, drop_it: D) -> String
where
    U: FnMut() -> Result<(), String> + Send + 'static,
    D: FnOnce() + Send + 'static,
{
    let b = thread::spawn(move || {
        for _ in 0..MAX_USES {
            use_once()?;
            USES.fetch_add(1, Ordering::Release);
        }
        Ok(())
    });
    let a = thread::spawn(move || {
        if !wait_until(START_LIMIT, || {
            USES.load(Ordering::Acquire) >= USES_BEFORE_DROP
        }) {
            exit(4, "B never got going");
        }
        println!("A: dropping the handle B is using");
        drop_it();
    });
    a.join().expect("thread A");
    match b.join().expect("thread B") {
        Ok(()) => exit(3, "B never trapped"),
        Err(why) => why,
    }
}

fn i2c() -> ! {
    let bus = open_i2c("bus").unwrap_or_else(|e| exit(2, &format!("open-i2c: {e:?}")));
    let number = bus.handle();
    let why = race(
        move || {
            // SAFETY (of the guest's own bookkeeping): B's copy is never dropped by B.
            let alias = ManuallyDrop::new(unsafe { I2c::from_handle(number) });
            match alias.write_read(0x76, &[0xD0], 1) {
                Ok(id) if id == [0x60] => Ok(()),
                other => Err(format!("B: unexpected answer {other:?}")),
            }
        },
        move || drop(bus),
    );
    exit(1, &why)
}

/// Opens the echo device and readies it for bulk transfers.
fn echo() -> Handle {
    let devices = Device::list().unwrap_or_else(|e| exit(2, &format!("list-devices: {e:?}")));
    let Some(device) = devices.first() else {
        exit(2, "no echo device");
    };
    let h = device
        .open()
        .unwrap_or_else(|e| exit(2, &format!("open: {e:?}")));
    let ready = h
        .handle
        .set_configuration(ConfigValue::Value(1))
        .and_then(|()| h.handle.claim_interface(0));
    if let Err(e) = ready {
        exit(2, &format!("configuring: {e:?}"));
    }
    h
}

/// One bulk round trip on B's copy of the handle numbered `number`.
fn round_trip(number: u32) -> Result<(), LibusbError> {
    // SAFETY (of the guest's own bookkeeping): B's copy is never dropped by B.
    let alias = ManuallyDrop::new(Handle {
        handle: unsafe { DeviceHandle::from_handle(number) },
    });
    let payload = USES.load(Ordering::Relaxed).to_le_bytes();
    alias.bulk_out(0x01, &payload, TIMEOUT_MS)?;
    let back = alias.bulk_in(0x81, 64, TIMEOUT_MS)?;
    if back == payload {
        Ok(())
    } else {
        Err(LibusbError::Other)
    }
}

fn usb(close: bool) -> ! {
    let h = echo();
    let number = h.handle.handle();
    let why = race(
        move || {
            round_trip(number).map_err(|e| match e {
                LibusbError::NoDevice => "no-device".to_string(),
                other => format!("{other:?}"),
            })
        },
        move || {
            if close {
                // The resource stays; only the device behind it is closed.
                h.handle.close();
                std::mem::forget(h);
            } else {
                drop(h);
            }
        },
    );
    if close && why == "no-device" {
        exit(0, "B: no-device once the handle was closed");
    }
    exit(1, &format!("B: unexpected error {why}"))
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("i2c") => i2c(),
        Some("usb") => usb(false),
        Some("usb-close") => usb(true),
        _ => exit(2, "usage: drop-race i2c|usb|usb-close"),
    }
}
