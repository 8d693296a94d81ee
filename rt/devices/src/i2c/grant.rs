//! Which buses and addresses a driver may use, and the check every request passes before a
//! backend sees it. The grants come from the executable's capabilities (`wafer build --i2c
//! LABEL=DEVICE:ADDR,ADDR[:ro]`); nothing else opens a bus.

use std::sync::OnceLock;

use super::bus::Op;

/// One granted bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I2cGrant {
    /// The name the guest opens it by (`open-i2c`).
    pub label: String,
    /// The host bus: an i2c-dev path (`/dev/i2c-1`), or a bus name of the simulation.
    pub device: String,
    /// The 7-bit addresses the driver may talk to.
    pub addresses: Vec<u8>,
    /// Refuses `write`, and any write in a transaction that is not followed by a read: the
    /// driver may select a register and read it, never change one. A convention for
    /// register-pointer devices, stated where it is enforced.
    pub read_only: bool,
}

/// What a request does, for the read-only rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    WriteRead,
}

impl I2cGrant {
    /// The 7-bit address to use, or why the request is refused.
    pub fn check(&self, address: u16, access: Access) -> Result<u8, String> {
        let Ok(addr) = u8::try_from(address) else {
            return Err(format!(
                "address {address:#x} is not a 7-bit address (10-bit addressing is not supported)"
            ));
        };
        if addr > 0x7F {
            return Err(format!(
                "address {address:#x} is not a 7-bit address (10-bit addressing is not supported)"
            ));
        }
        if !self.addresses.contains(&addr) {
            return Err(format!(
                "address {addr:#04x} on bus {} is not granted (granted: {})",
                self.label,
                self.addresses
                    .iter()
                    .map(|a| format!("{a:#04x}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if self.read_only && access == Access::Write {
            return Err(format!(
                "bus {} is granted read-only: write refused",
                self.label
            ));
        }
        Ok(addr)
    }

    /// [`check`](Self::check) for a transaction: read-only buses accept a write only when a
    /// read follows it (register selection).
    pub fn check_ops(&self, address: u16, ops: &[Op<'_>]) -> Result<u8, String> {
        let addr = self.check(address, Access::Read)?;
        if self.read_only {
            let lone_write = ops.iter().enumerate().any(|(i, op)| {
                matches!(op, Op::Write(_)) && !matches!(ops.get(i + 1), Some(Op::Read(_)))
            });
            if lone_write {
                return Err(format!(
                    "bus {} is granted read-only: a write not followed by a read is refused",
                    self.label
                ));
            }
        }
        Ok(addr)
    }
}

static GRANTS: OnceLock<Vec<I2cGrant>> = OnceLock::new();

/// The i2c grants of an executable's decoded capabilities.
pub fn from_capabilities(caps: &wafer_abi::capabilities::Capabilities) -> Vec<I2cGrant> {
    caps.i2c
        .iter()
        .map(|g| I2cGrant {
            label: String::from_utf8_lossy(&g.label).into_owned(),
            device: String::from_utf8_lossy(&g.device).into_owned(),
            addresses: g.addresses.clone(),
            read_only: g.read_only,
        })
        .collect()
}

/// Installs the executable's grants; only the first call takes effect (called at startup).
pub fn set_grants(grants: Vec<I2cGrant>) {
    let _ = GRANTS.set(grants);
}

pub fn grants() -> &'static [I2cGrant] {
    GRANTS.get().map_or(&[], Vec::as_slice)
}

pub fn find(label: &str) -> Option<&'static I2cGrant> {
    grants().iter().find(|g| g.label == label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(read_only: bool) -> I2cGrant {
        I2cGrant {
            label: "sensors".into(),
            device: "/dev/i2c-1".into(),
            addresses: vec![0x76, 0x77],
            read_only,
        }
    }

    #[test]
    fn addresses_outside_the_grant_are_refused() {
        let g = grant(false);
        assert_eq!(g.check(0x76, Access::Write), Ok(0x76));
        assert!(g
            .check(0x50, Access::Read)
            .unwrap_err()
            .contains("not granted"));
        // 10-bit tricks: 0x176 truncated to a byte would be 0x76.
        for tricky in [0x80, 0x176, 0x3F6, 0xFF76, 0x7876] {
            assert!(
                g.check(tricky, Access::Read).unwrap_err().contains("7-bit"),
                "{tricky:#x}"
            );
        }
    }

    #[test]
    fn read_only_allows_register_reads_only() {
        let g = grant(true);
        assert!(g.check(0x76, Access::WriteRead).is_ok());
        assert!(g.check(0x76, Access::Write).is_err());
        let mut buf = [0u8; 2];
        assert!(g
            .check_ops(0x76, &[Op::Write(&[0xD0]), Op::Read(&mut buf)])
            .is_ok());
        assert!(g.check_ops(0x76, &[Op::Write(&[0xF4, 1])]).is_err());
        assert!(g
            .check_ops(0x76, &[Op::Read(&mut buf), Op::Write(&[1])])
            .is_err());
    }
}
