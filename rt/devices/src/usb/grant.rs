//! Which USB devices, interfaces and endpoints a driver may use, and the checks every request
//! passes before a backend sees it. The grants come from the executable's capabilities
//! (`wafer build --usb VID:PID[:if=N,...][:ep=0xNN,...]`); a device no grant names is never
//! listed, announced or opened.

use std::sync::OnceLock;

use super::types::{DeviceDescriptor, Setup};

pub use wafer_abi::capabilities::UsbGrant;

/// The standard requests a driver may send to the device itself whatever its grant: they
/// read state or select what the device's own descriptors offer. Anything else addressed to
/// the device (SET_ADDRESS, SET_DESCRIPTOR, SET_FEATURE on the device, vendor requests to the
/// device) needs an unrestricted grant.
fn harmless_device_request(s: &Setup) -> bool {
    matches!(
        (s.request_type, s.request),
        (0x80, 0) // GET_STATUS
            | (0x80, 6) // GET_DESCRIPTOR
            | (0x80, 8) // GET_CONFIGURATION
            | (0x00, 9) // SET_CONFIGURATION
    )
}

/// The grant that covers a device, if any.
pub fn grant_for<'a>(grants: &'a [UsbGrant], d: &DeviceDescriptor) -> Option<&'a UsbGrant> {
    grants
        .iter()
        .find(|g| g.vendor == d.vendor_id && g.product == d.product_id)
}

/// Why an interface is refused, if it is.
pub fn check_interface(g: &UsbGrant, interface: u8) -> Result<(), String> {
    match &g.interfaces {
        Some(list) if !list.contains(&interface) => Err(format!(
            "interface {interface} of {:04x}:{:04x} is not granted (granted: {})",
            g.vendor,
            g.product,
            list.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
        )),
        _ => Ok(()),
    }
}

/// Why an endpoint is refused, if it is; `interface` is the one the endpoint belongs to.
pub fn check_endpoint(g: &UsbGrant, endpoint: u8, interface: Option<u8>) -> Result<(), String> {
    if let Some(list) = &g.endpoints {
        if !list.contains(&endpoint) {
            return Err(format!(
                "endpoint {endpoint:#04x} of {:04x}:{:04x} is not granted (granted: {})",
                g.vendor,
                g.product,
                wafer_abi::capabilities::format_addresses(list)
            ));
        }
    }
    if let Some(i) = interface {
        check_interface(g, i)?;
    }
    Ok(())
}

/// Why a control request is refused, if it is: requests to an interface or endpoint are
/// checked like claims and transfers; requests to the device itself are limited unless the
/// grant restricts nothing.
pub fn check_control(g: &UsbGrant, s: &Setup) -> Result<(), String> {
    match s.request_type & 0x1F {
        1 => check_interface(g, s.index as u8),
        2 => {
            let ep = s.index as u8;
            if ep & 0x7F == 0 {
                Ok(())
            } else {
                check_endpoint(g, ep, None)
            }
        }
        _ if g.interfaces.is_none() && g.endpoints.is_none() => Ok(()),
        _ if harmless_device_request(s) => Ok(()),
        _ => Err(format!(
            "control request {:#04x}/{:#04x} to the device {:04x}:{:04x} needs a grant without interface or endpoint limits",
            s.request_type, s.request, g.vendor, g.product
        )),
    }
}

static GRANTS: OnceLock<Vec<UsbGrant>> = OnceLock::new();

/// Installs the executable's grants; only the first call takes effect (called at startup).
pub fn set_grants(grants: Vec<UsbGrant>) {
    let _ = GRANTS.set(grants);
}

pub fn grants() -> &'static [UsbGrant] {
    GRANTS.get().map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(interfaces: Option<Vec<u8>>, endpoints: Option<Vec<u8>>) -> UsbGrant {
        UsbGrant {
            vendor: 0x2341,
            product: 0x8057,
            interfaces,
            endpoints,
        }
    }

    fn setup(request_type: u8, request: u8, index: u16) -> Setup {
        Setup {
            request_type,
            request,
            value: 0,
            index,
            length: 0,
        }
    }

    #[test]
    fn limits_interfaces_endpoints_and_device_requests() {
        let open = grant(None, None);
        assert!(check_interface(&open, 3).is_ok());
        assert!(check_control(&open, &setup(0x40, 0x22, 0)).is_ok());

        let g = grant(Some(vec![0]), Some(vec![0x81, 0x01]));
        assert!(check_interface(&g, 0).is_ok());
        assert!(check_interface(&g, 1).unwrap_err().contains("not granted"));
        assert!(check_endpoint(&g, 0x81, Some(0)).is_ok());
        assert!(check_endpoint(&g, 0x82, Some(0)).is_err());
        assert!(check_endpoint(&g, 0x81, Some(1)).is_err());
        // GET_DESCRIPTOR to the device passes; SET_ADDRESS and vendor requests do not.
        assert!(check_control(&g, &setup(0x80, 6, 0)).is_ok());
        assert!(check_control(&g, &setup(0x00, 5, 0)).is_err());
        assert!(check_control(&g, &setup(0xC0, 1, 0)).is_err());
        // To an interface / endpoint: by the grant.
        assert!(check_control(&g, &setup(0x21, 0xFF, 0)).is_ok());
        assert!(check_control(&g, &setup(0x21, 0xFF, 1)).is_err());
        assert!(check_control(&g, &setup(0x02, 1, 0x81)).is_ok());
        assert!(check_control(&g, &setup(0x02, 1, 0x83)).is_err());
    }
}
