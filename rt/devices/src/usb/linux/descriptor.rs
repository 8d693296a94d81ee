//! Raw configuration descriptors from libusb's parsed ones. libusb hands out only the parsed
//! tree, but keeps every descriptor it does not parse (class-specific ones: HID, CDC, audio,
//! interface associations) in the `extra` bytes of the node it follows, so writing the tree
//! back in order gives the bytes the device sent.

use rusb::ffi;

use super::super::types::UsbError;
use super::error_from_code;

/// Configuration descriptor number `index` of `device`, as raw bytes.
pub fn raw_config(device: *mut ffi::libusb_device, index: u8) -> Result<Vec<u8>, UsbError> {
    let mut config: *const ffi::libusb_config_descriptor = std::ptr::null();
    // SAFETY: `device` is a live libusb device (its owner holds a reference); libusb fills
    // `config` only on success.
    let rc = unsafe { ffi::libusb_get_config_descriptor(device, index, &mut config) };
    if rc < 0 {
        return Err(error_from_code(rc));
    }
    // SAFETY: libusb returned a well-formed tree that stays valid until freed below.
    let raw = unsafe { serialize(&*config) };
    // SAFETY: `config` came from libusb_get_config_descriptor and is freed once.
    unsafe { ffi::libusb_free_config_descriptor(config) };
    Ok(raw)
}

/// `extra`/`extra_length` as a slice (empty when libusb kept none).
unsafe fn extra<'a>(ptr: *const u8, len: i32) -> &'a [u8] {
    if ptr.is_null() || len <= 0 {
        &[]
    } else {
        // SAFETY: libusb's contract: `extra` holds `extra_length` bytes.
        unsafe { std::slice::from_raw_parts(ptr, len as usize) }
    }
}

unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller passes one of libusb's arrays with its count.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

unsafe fn serialize(c: &ffi::libusb_config_descriptor) -> Vec<u8> {
    let mut out = vec![
        9,
        c.bDescriptorType,
        0,
        0, // wTotalLength, known at the end
        c.bNumInterfaces,
        c.bConfigurationValue,
        c.iConfiguration,
        c.bmAttributes,
        c.bMaxPower,
    ];
    out.extend_from_slice(unsafe { extra(c.extra, c.extra_length) });
    for iface in unsafe { slice(c.interface, c.bNumInterfaces as usize) } {
        let alts = unsafe { slice(iface.altsetting, iface.num_altsetting.max(0) as usize) };
        for alt in alts {
            out.extend_from_slice(&[
                9,
                alt.bDescriptorType,
                alt.bInterfaceNumber,
                alt.bAlternateSetting,
                alt.bNumEndpoints,
                alt.bInterfaceClass,
                alt.bInterfaceSubClass,
                alt.bInterfaceProtocol,
                alt.iInterface,
            ]);
            out.extend_from_slice(unsafe { extra(alt.extra, alt.extra_length) });
            for ep in unsafe { slice(alt.endpoint, alt.bNumEndpoints as usize) } {
                let mp = ep.wMaxPacketSize.to_le_bytes();
                let full = [
                    7,
                    ep.bDescriptorType,
                    ep.bEndpointAddress,
                    ep.bmAttributes,
                    mp[0],
                    mp[1],
                    ep.bInterval,
                    ep.bRefresh,
                    ep.bSynchAddress,
                ];
                // Audio-class endpoints are 9 bytes long (bRefresh, bSynchAddress); every other
                // endpoint descriptor is 7.
                if ep.bLength >= 9 {
                    let mut nine = full;
                    nine[0] = 9;
                    out.extend_from_slice(&nine);
                } else {
                    out.extend_from_slice(&full[..7]);
                }
                out.extend_from_slice(unsafe { extra(ep.extra, ep.extra_length) });
            }
        }
    }
    let total = u16::try_from(out.len()).unwrap_or(u16::MAX);
    out[2..4].copy_from_slice(&total.to_le_bytes());
    out
}
