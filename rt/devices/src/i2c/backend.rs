//! Run-time choice of the backend behind granted buses: `WAFER_I2C_BACKEND=linux` (default:
//! i2c-dev at the grant's device path) or `sim` (the simulation named by `WAFER_I2C_SIM`, whose
//! bus is found by the grant's label, or else by its device).

use super::bus::Bus;
use super::grant::I2cGrant;
use super::{linux, sim};

pub const BACKEND_ENV: &str = "WAFER_I2C_BACKEND";

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

/// Opens the bus behind `grant`.
pub fn open(grant: &I2cGrant) -> Result<Box<dyn Bus + Send>, String> {
    match selected()? {
        Backend::Linux => Ok(Box::new(linux::LinuxBus::open(&grant.device)?)),
        Backend::Sim => {
            let sim = sim::global()?;
            let bus = sim
                .bus(&grant.label)
                .or_else(|| sim.bus(&grant.device))
                .ok_or_else(|| {
                    format!(
                        "the simulation has no bus named {} or {}",
                        grant.label, grant.device
                    )
                })?;
            Ok(Box::new(sim::SharedBus(bus)))
        }
    }
}
