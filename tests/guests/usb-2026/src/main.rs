//! A control transfer and a bulk round trip to the echo device (2341:8057) through the 2026
//! `await-transfer`: it borrows the transfer and answers a `transfer-result`; the guest drops
//! each transfer itself afterwards, and a borrowed transfer can be awaited again (it answers
//! `not-found`).

wit_bindgen::generate!({
    path: "../../../wit/usb-2026",
    world: "component:usb/guest",
    generate_all,
});

use component::usb::configuration::ConfigValue;
use component::usb::device::{self, DeviceHandle};
use component::usb::errors::LibusbError;
use component::usb::transfers::{
    await_transfer, Transfer, TransferOptions, TransferSetup, TransferType,
};

const NO_SETUP: TransferSetup = TransferSetup {
    bm_request_type: 0,
    b_request: 0,
    w_value: 0,
    w_index: 0,
};

fn bulk(h: &DeviceHandle, endpoint: u8, size: u32) -> Result<Transfer, LibusbError> {
    let opts = TransferOptions {
        endpoint,
        timeout_ms: 1000,
        stream_id: 0,
        iso_packets: 0,
    };
    h.new_transfer(TransferType::Bulk, NO_SETUP, size, opts)
}

fn run() -> Result<(), String> {
    fn e(what: &str) -> impl Fn(LibusbError) -> String + '_ {
        move |err| format!("{what}: {err:?}")
    }
    device::init().map_err(e("init"))?;
    let devices = device::list_devices().map_err(e("list"))?;
    let (dev, _, _) = devices
        .into_iter()
        .find(|(_, d, _)| (d.vendor_id, d.product_id) == (0x2341, 0x8057))
        .ok_or("no echo device")?;
    let h = dev.open().map_err(e("open"))?;
    h.set_configuration(ConfigValue::Value(1)).map_err(e("configure"))?;
    h.claim_interface(0).map_err(e("claim"))?;

    let payload: Vec<u8> = (0..16u8).map(|i| i * 7 + 1).collect();
    let out = bulk(&h, 0x01, payload.len() as u32).map_err(e("new OUT"))?;
    out.submit_transfer(&payload).map_err(e("submit OUT"))?;
    let sent = await_transfer(&out).map_err(e("await OUT"))?;
    // The transfer is still the guest's: awaiting it again is `not-found`, not a trap.
    let again = await_transfer(&out);
    drop(out);

    // A control IN transfer: GET_DESCRIPTOR(DEVICE), the 18-byte device descriptor.
    let get_descriptor = TransferSetup {
        bm_request_type: 0x80,
        b_request: 6,
        w_value: 0x0100,
        w_index: 0,
    };
    let opts = TransferOptions {
        endpoint: 0,
        timeout_ms: 1000,
        stream_id: 0,
        iso_packets: 0,
    };
    let control = h
        .new_transfer(TransferType::Control, get_descriptor, 18, opts)
        .map_err(e("new control"))?;
    control.submit_transfer(&[]).map_err(e("submit control"))?;
    let desc = await_transfer(&control).map_err(e("await control"))?;
    drop(control);

    let inn = bulk(&h, 0x81, 64).map_err(e("new IN"))?;
    inn.submit_transfer(&[]).map_err(e("submit IN"))?;
    let back = await_transfer(&inn).map_err(e("await IN"))?;
    drop(inn);
    println!(
        "OUT: {} bytes of data, {} packets; again: {:?}",
        sent.data.len(),
        sent.packets.len(),
        again.err().map(|e| e.name())
    );
    println!(
        "control: {} bytes, bLength {}, bDescriptorType {}",
        desc.data.len(),
        desc.data[0],
        desc.data[1]
    );
    println!(
        "IN: {} bytes, {} packets, {}",
        back.data.len(),
        back.packets.len(),
        if back.data == payload { "echoed" } else { "WRONG" }
    );
    Ok(())
}

fn main() {
    if let Err(why) = run() {
        eprintln!("usb-2026: {why}");
        std::process::exit(1);
    }
}
