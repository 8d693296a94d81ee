//! Run-time choice of the USB backend: `WAFER_USB_BACKEND=linux` (default: libusb) or `sim`
//! (the simulation named by `WAFER_USB_SIM`).

use super::host::Host;
use super::{linux, sim};

pub const BACKEND_ENV: &str = "WAFER_USB_BACKEND";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Linux,
    Sim,
}

pub fn selected() -> Result<Backend, String> {
    match std::env::var(BACKEND_ENV).as_deref() {
        Err(_) | Ok("") | Ok("linux") => Ok(Backend::Linux),
        Ok("sim") => Ok(Backend::Sim),
        Ok(other) => Err(format!("{BACKEND_ENV}={other:?}: expected linux or sim")),
    }
}

/// The host of the selected backend.
pub fn open() -> Result<Box<dyn Host>, String> {
    match selected()? {
        Backend::Linux => Ok(Box::new(linux::LibusbHost::new()?)),
        Backend::Sim => Ok(Box::new(sim::SimHost::new(sim::global()?))),
    }
}
