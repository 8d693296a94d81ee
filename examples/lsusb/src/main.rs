//! lsusb for a wafer driver: the USB devices this executable was granted, with their device,
//! configuration, interface and endpoint descriptors, and their strings (read with
//! GET_DESCRIPTOR control transfers, as the proposal intends).

use wafer_sdk::usb::{Device, LibusbError, UsbSpeed};

const TIMEOUT_MS: u32 = 1000;

fn speed(s: UsbSpeed) -> &'static str {
    match s {
        UsbSpeed::Unknown => "unknown",
        UsbSpeed::Low => "1.5M",
        UsbSpeed::Full => "12M",
        UsbSpeed::High => "480M",
        UsbSpeed::Super => "5000M",
        UsbSpeed::SuperPlus => "10000M",
        UsbSpeed::SuperPlusX2 => "20000M",
    }
}

fn kind(attributes: u8) -> &'static str {
    ["Control", "Isochronous", "Bulk", "Interrupt"][(attributes & 3) as usize]
}

fn show(dev: &Device) -> Result<(), LibusbError> {
    let d = &dev.descriptor;
    let l = &dev.location;
    let handle = dev.open()?;
    let string = |i: u8| -> String {
        match handle.string_descriptor(i, TIMEOUT_MS) {
            Ok(Some(s)) => s,
            Ok(None) => String::new(),
            Err(e) => format!("<{e:?}>"),
        }
    };
    println!(
        "Bus {:03} Device {:03}: ID {:04x}:{:04x} {} {}",
        l.bus_number,
        l.device_address,
        d.vendor_id,
        d.product_id,
        string(d.manufacturer_index),
        string(d.product_index)
    );
    println!("  port {} speed {}", l.port_number, speed(l.speed));
    println!(
        "  bcdUSB {:x}.{:02x}  class {:02x}/{:02x}/{:02x}  bMaxPacketSize0 {}  bcdDevice {:x}.{:02x}",
        d.usb_version_bcd >> 8,
        d.usb_version_bcd & 0xFF,
        d.device_class,
        d.device_subclass,
        d.device_protocol,
        d.max_packet_size0,
        d.device_version_bcd >> 8,
        d.device_version_bcd & 0xFF
    );
    println!("  iSerial {} {}", d.serial_number_index, string(d.serial_number_index));
    for index in 0..d.num_configurations {
        let c = dev.device.get_configuration_descriptor(index)?;
        println!(
            "  Configuration {}: wTotalLength {} bmAttributes {:#04x} MaxPower {}mA",
            c.configuration_value,
            c.total_length,
            c.attributes,
            c.max_power as u32 * 2
        );
        for i in &c.interfaces {
            println!(
                "    Interface {} alt {}: class {:02x}/{:02x}/{:02x}, {} endpoints",
                i.interface_number,
                i.alternate_setting,
                i.interface_class,
                i.interface_subclass,
                i.interface_protocol,
                i.endpoints.len()
            );
            for e in &i.endpoints {
                println!(
                    "      Endpoint {:#04x} {} {} wMaxPacketSize {} bInterval {}",
                    e.endpoint_address,
                    if e.endpoint_address & 0x80 != 0 { "IN" } else { "OUT" },
                    kind(e.attributes),
                    e.max_packet_size,
                    e.interval
                );
            }
        }
    }
    Ok(())
}

fn main() {
    let devices = match Device::list() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lsusb: listing devices: {e:?}");
            std::process::exit(1);
        }
    };
    println!("{} device(s)", devices.len());
    let mut failed = false;
    for dev in &devices {
        if let Err(e) = show(dev) {
            eprintln!(
                "lsusb: {:04x}:{:04x}: {e:?}",
                dev.descriptor.vendor_id, dev.descriptor.product_id
            );
            failed = true;
        }
    }
    std::process::exit(failed as i32);
}
