//! The real-kernel rig's USB driver (tests/kernel/run.sh): lists the devices it was granted
//! on the guest's xHCI bus through the Linux backend (libusb over usbfs) and prints
//! `RESULT usb.<label>.<vid:pid>.<what> <value>` lines for tests/kernel/expect/usb.txt:
//! descriptors, strings read with GET_DESCRIPTOR, for a HID keyboard its report descriptor,
//! read after taking the interface from the kernel's usbhid and given back after, and for a
//! mass-storage device one bulk-only command (TEST UNIT READY) sent without ever calling
//! set-configuration: the configuration the kernel selected when it enumerated the device
//! is what a driver works in.
//!
//! Usage: kernel-usb LABEL

use wafer_sdk::usb::{Device, Handle, LibusbError, UsbSpeed};

const TIMEOUT_MS: u32 = 2000;

fn speed(s: UsbSpeed) -> &'static str {
    match s {
        UsbSpeed::Unknown => "unknown",
        UsbSpeed::Low => "low",
        UsbSpeed::Full => "full",
        UsbSpeed::High => "high",
        UsbSpeed::Super => "super",
        UsbSpeed::SuperPlus => "super-plus",
        UsbSpeed::SuperPlusX2 => "super-plus-x2",
    }
}

fn err(e: LibusbError) -> String {
    format!("err:{}", e.name())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Out {
    prefix: String,
}

impl Out {
    fn result(&self, key: &str, value: impl std::fmt::Display) {
        println!("RESULT {}.{key} {value}", self.prefix);
    }
}

fn show(dev: &Device, out: &Out) -> Result<(), LibusbError> {
    let d = &dev.descriptor;
    out.result(
        "device",
        format_args!(
            "usb{:x}.{:02x} class={:02x}/{:02x}/{:02x} mps0={} bcdDevice={:x}.{:02x} configs={}",
            d.usb_version_bcd >> 8,
            d.usb_version_bcd & 0xFF,
            d.device_class,
            d.device_subclass,
            d.device_protocol,
            d.max_packet_size0,
            d.device_version_bcd >> 8,
            d.device_version_bcd & 0xFF,
            d.num_configurations
        ),
    );
    out.result("speed", speed(dev.location.speed));
    for index in 0..d.num_configurations {
        let c = dev.device.get_configuration_descriptor(index)?;
        out.result(
            &format!("config{index}"),
            format_args!(
                "value={} total={} attributes={:#04x} maxpower={}mA interfaces={}",
                c.configuration_value,
                c.total_length,
                c.attributes,
                c.max_power as u32 * 2,
                c.interfaces.len()
            ),
        );
        for i in &c.interfaces {
            let eps: Vec<String> = i
                .endpoints
                .iter()
                .map(|e| {
                    format!(
                        "{:02x}/{}/{}/{}",
                        e.endpoint_address,
                        ["control", "iso", "bulk", "interrupt"][(e.attributes & 3) as usize],
                        e.max_packet_size,
                        e.interval
                    )
                })
                .collect();
            out.result(
                &format!(
                    "config{index}.if{}.{}",
                    i.interface_number, i.alternate_setting
                ),
                format_args!(
                    "class={:02x}/{:02x}/{:02x} endpoints={}",
                    i.interface_class,
                    i.interface_subclass,
                    i.interface_protocol,
                    eps.join(",")
                ),
            );
        }
    }
    let handle = dev.open()?;
    out.result(
        "active-config",
        match handle.handle.get_configuration() {
            Ok(v) => v.to_string(),
            Err(e) => err(e),
        },
    );
    for (what, index) in [
        ("manufacturer", d.manufacturer_index),
        ("product", d.product_index),
        ("serial", d.serial_number_index),
    ] {
        let s = match handle.string_descriptor(index, TIMEOUT_MS) {
            Ok(Some(s)) => s.replace(' ', "_"),
            Ok(None) => "none".into(),
            Err(e) => err(e),
        };
        out.result(&format!("string.{what}"), s);
    }
    let c = dev.device.get_configuration_descriptor(0)?;
    let keyboard = c.interfaces.iter().find(|i| {
        (
            i.interface_class,
            i.interface_subclass,
            i.interface_protocol,
        ) == (3, 1, 1)
    });
    if let Some(i) = keyboard {
        let ep = i.endpoints.first().map_or(0x81, |e| e.endpoint_address);
        hid(&handle, i.interface_number, ep, out);
    }
    let storage = c.interfaces.iter().find(|i| {
        (
            i.interface_class,
            i.interface_subclass,
            i.interface_protocol,
        ) == (8, 6, 0x50)
    });
    if let Some(i) = storage {
        let (mut ep_in, mut ep_out) = (0x81, 0x02);
        for e in &i.endpoints {
            if e.endpoint_address & 0x80 != 0 {
                ep_in = e.endpoint_address;
            } else {
                ep_out = e.endpoint_address;
            }
        }
        test_unit_ready(&handle, i.interface_number, ep_in, ep_out, out);
    }
    Ok(())
}

/// Takes a bulk-only mass-storage interface from the kernel and sends TEST UNIT READY (a
/// 31-byte CBW out, a 13-byte CSW in) in the configuration the kernel left active, then
/// gives the interface back.
fn test_unit_ready(handle: &Handle, interface: u8, ep_in: u8, ep_out: u8, out: &Out) {
    let h = &handle.handle;
    let show = |r: Result<(), LibusbError>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => err(e),
    };
    out.result("bot.detach", show(h.detach_kernel_driver(interface)));
    out.result("bot.claim", show(h.claim_interface(interface)));
    const TAG: u32 = 0x5741_4645;
    let mut cbw = [0u8; 31];
    cbw[0..4].copy_from_slice(b"USBC");
    cbw[4..8].copy_from_slice(&TAG.to_le_bytes());
    // No data phase, LUN 0, a 6-byte command block of zeros: TEST UNIT READY.
    cbw[14] = 6;
    let sent = handle.bulk_out(ep_out, &cbw, TIMEOUT_MS);
    out.result("bot.cbw-without-set-configuration", show(sent));
    let csw = handle.bulk_in(ep_in, 13, TIMEOUT_MS);
    out.result(
        "bot.csw",
        match csw {
            Ok(c) if c.len() == 13 && &c[0..4] == b"USBS" && c[4..8] == TAG.to_le_bytes() => {
                format!("ok status={}", c[12])
            }
            Ok(c) => format!("malformed:{}", hex(&c)),
            Err(e) => err(e),
        },
    );
    out.result("bot.release", show(h.release_interface(interface)));
    out.result("bot.attach", show(h.attach_kernel_driver(interface)));
}

/// Takes a HID interface from the kernel, reads its report descriptor and one report (none
/// comes: nobody types, so the read times out), and gives it back.
fn hid(handle: &Handle, interface: u8, endpoint: u8, out: &Out) {
    let h = &handle.handle;
    let show = |r: Result<(), LibusbError>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => err(e),
    };
    let active = h.kernel_driver_active(interface);
    out.result(
        "hid.kernel-driver-before",
        format_args!("{active:?}").to_string().to_lowercase(),
    );
    out.result("hid.detach", show(h.detach_kernel_driver(interface)));
    out.result(
        "hid.kernel-driver-detached",
        format_args!("{:?}", h.kernel_driver_active(interface))
            .to_string()
            .to_lowercase(),
    );
    out.result("hid.claim", show(h.claim_interface(interface)));
    // GET_DESCRIPTOR(HID report) to the interface.
    let report = handle.control_in(0x81, 6, 0x22 << 8, interface as u16, 256, TIMEOUT_MS);
    match report {
        Ok(r) => {
            out.result("hid.report-descriptor.length", r.len());
            out.result("hid.report-descriptor.head", hex(&r[..r.len().min(8)]));
        }
        Err(e) => out.result("hid.report-descriptor", err(e)),
    }
    out.result(
        "hid.interrupt-in",
        match handle.interrupt_in(endpoint, 8, 300) {
            Ok(r) => format!("data:{}", hex(&r)),
            Err(e) => err(e),
        },
    );
    out.result("hid.release", show(h.release_interface(interface)));
    out.result("hid.attach", show(h.attach_kernel_driver(interface)));
    out.result(
        "hid.kernel-driver-after",
        format_args!("{:?}", h.kernel_driver_active(interface))
            .to_string()
            .to_lowercase(),
    );
}

fn main() {
    let label = std::env::args().nth(1).unwrap_or_else(|| "usb".into());
    let devices = match Device::list() {
        Ok(d) => d,
        Err(e) => {
            println!("RESULT usb.{label}.list {}", err(e));
            std::process::exit(1);
        }
    };
    println!("RESULT usb.{label}.count {}", devices.len());
    let mut failed = false;
    for dev in &devices {
        let out = Out {
            prefix: format!(
                "usb.{label}.{:04x}:{:04x}",
                dev.descriptor.vendor_id, dev.descriptor.product_id
            ),
        };
        if let Err(e) = show(dev, &out) {
            out.result("error", err(e));
            failed = true;
        }
    }
    std::process::exit(failed as i32);
}
