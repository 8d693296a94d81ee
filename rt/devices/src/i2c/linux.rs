//! The Linux backend: i2c-dev (`/dev/i2c-N`) through raw ioctls.
//!
//! A transaction is one `I2C_RDWR` ioctl (repeated starts between messages, one stop). An
//! adapter without plain I2C (`I2C_FUNCS` lacks `I2C_FUNC_I2C`, e.g. i2c-i801) gets `write`,
//! `read`, `write-read` and transactions of those shapes as SMBus calls (quick, byte,
//! byte-data, word-data, I2C block); a transfer SMBus cannot express answers `other` rather
//! than becoming a different transfer.

use std::ffi::CString;

use super::bus::{Bus, ErrorCode, NackSource, Op};

// <linux/i2c-dev.h>, <linux/i2c.h>; the request type is C library-specific (musl: int).
const I2C_SLAVE: libc::Ioctl = 0x0703;
const I2C_FUNCS: libc::Ioctl = 0x0705;
const I2C_RDWR: libc::Ioctl = 0x0707;
const I2C_SMBUS: libc::Ioctl = 0x0720;
const I2C_M_RD: u16 = 0x0001;
const I2C_SMBUS_READ: u8 = 1;
const I2C_SMBUS_WRITE: u8 = 0;
const I2C_SMBUS_QUICK: u32 = 0;
const I2C_SMBUS_BYTE: u32 = 1;
const I2C_SMBUS_BYTE_DATA: u32 = 2;
const I2C_SMBUS_WORD_DATA: u32 = 3;
const I2C_SMBUS_I2C_BLOCK_DATA: u32 = 8;
const I2C_SMBUS_BLOCK_MAX: usize = 32;

pub mod func {
    pub const I2C: u64 = 0x0000_0001;
    pub const SMBUS_QUICK: u64 = 0x0001_0000;
    pub const SMBUS_READ_BYTE: u64 = 0x0002_0000;
    pub const SMBUS_WRITE_BYTE: u64 = 0x0004_0000;
    pub const SMBUS_READ_BYTE_DATA: u64 = 0x0008_0000;
    pub const SMBUS_WRITE_BYTE_DATA: u64 = 0x0010_0000;
    pub const SMBUS_READ_WORD_DATA: u64 = 0x0020_0000;
    pub const SMBUS_WRITE_WORD_DATA: u64 = 0x0040_0000;
    pub const SMBUS_READ_I2C_BLOCK: u64 = 0x0400_0000;
    pub const SMBUS_WRITE_I2C_BLOCK: u64 = 0x0800_0000;
}

#[repr(C)]
struct I2cMsg {
    addr: u16,
    flags: u16,
    len: u16,
    buf: *mut u8,
}

#[repr(C)]
struct I2cRdwrData {
    msgs: *mut I2cMsg,
    nmsgs: u32,
}

#[repr(C)]
struct SmbusIoctlData {
    read_write: u8,
    command: u8,
    size: u32,
    data: *mut [u8; I2C_SMBUS_BLOCK_MAX + 2],
}

/// The interface's error for a kernel errno (i2c-dev's fault codes, see the kernel's
/// Documentation/i2c/fault-codes.rst).
pub fn map_errno(errno: i32) -> ErrorCode {
    match errno {
        libc::ENXIO => ErrorCode::NoAcknowledge(NackSource::Address),
        libc::EREMOTEIO => ErrorCode::NoAcknowledge(NackSource::Unknown),
        libc::EAGAIN => ErrorCode::ArbitrationLoss,
        libc::ETIMEDOUT => ErrorCode::Bus,
        libc::EOVERFLOW => ErrorCode::Overrun,
        _ => ErrorCode::Other,
    }
}

/// One SMBus call: `(read_write, command, size, data bytes to send)`, and how many bytes of
/// the answer are the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbusCall {
    pub read_write: u8,
    pub command: u8,
    pub size: u32,
    /// The data block as the ioctl takes it (`byte`, `word` little-endian, or length + bytes).
    pub data: Vec<u8>,
    pub needs: u64,
}

/// The SMBus call that performs a write of `w` followed (after a repeated start) by a read of
/// `r` bytes, when the adapter's `funcs` allow one. `None` for "no plain write".
pub fn plan_smbus(w: Option<&[u8]>, r: Option<usize>, funcs: u64) -> Result<SmbusCall, String> {
    let call = |read_write, command, size, data: Vec<u8>, needs| SmbusCall {
        read_write,
        command,
        size,
        data,
        needs,
    };
    let plan = match (w, r) {
        (Some([]), None) => call(
            I2C_SMBUS_WRITE,
            0,
            I2C_SMBUS_QUICK,
            vec![],
            func::SMBUS_QUICK,
        ),
        (None, Some(0)) => call(
            I2C_SMBUS_READ,
            0,
            I2C_SMBUS_QUICK,
            vec![],
            func::SMBUS_QUICK,
        ),
        (Some(&[b]), None) => call(
            I2C_SMBUS_WRITE,
            b,
            I2C_SMBUS_BYTE,
            vec![],
            func::SMBUS_WRITE_BYTE,
        ),
        (None, Some(1)) => call(
            I2C_SMBUS_READ,
            0,
            I2C_SMBUS_BYTE,
            vec![],
            func::SMBUS_READ_BYTE,
        ),
        (Some(&[c, b]), None) if funcs & func::SMBUS_WRITE_BYTE_DATA != 0 => call(
            I2C_SMBUS_WRITE,
            c,
            I2C_SMBUS_BYTE_DATA,
            vec![b],
            func::SMBUS_WRITE_BYTE_DATA,
        ),
        (Some(&[c, lo, hi]), None) if funcs & func::SMBUS_WRITE_WORD_DATA != 0 => call(
            I2C_SMBUS_WRITE,
            c,
            I2C_SMBUS_WORD_DATA,
            vec![lo, hi],
            func::SMBUS_WRITE_WORD_DATA,
        ),
        (Some([c, rest @ ..]), None) if rest.len() <= I2C_SMBUS_BLOCK_MAX => {
            let mut data = vec![rest.len() as u8];
            data.extend_from_slice(rest);
            call(
                I2C_SMBUS_WRITE,
                *c,
                I2C_SMBUS_I2C_BLOCK_DATA,
                data,
                func::SMBUS_WRITE_I2C_BLOCK,
            )
        }
        (Some(&[c]), Some(1)) if funcs & func::SMBUS_READ_BYTE_DATA != 0 => call(
            I2C_SMBUS_READ,
            c,
            I2C_SMBUS_BYTE_DATA,
            vec![],
            func::SMBUS_READ_BYTE_DATA,
        ),
        (Some(&[c]), Some(2)) if funcs & func::SMBUS_READ_WORD_DATA != 0 => call(
            I2C_SMBUS_READ,
            c,
            I2C_SMBUS_WORD_DATA,
            vec![],
            func::SMBUS_READ_WORD_DATA,
        ),
        (Some(&[c]), Some(n)) if (1..=I2C_SMBUS_BLOCK_MAX).contains(&n) => call(
            I2C_SMBUS_READ,
            c,
            I2C_SMBUS_I2C_BLOCK_DATA,
            vec![n as u8],
            func::SMBUS_READ_I2C_BLOCK,
        ),
        _ => return Err("this transfer has no SMBus equivalent".into()),
    };
    if funcs & plan.needs == 0 {
        return Err(format!(
            "the adapter lacks the SMBus function {:#x}",
            plan.needs
        ));
    }
    Ok(plan)
}

pub struct LinuxBus {
    fd: i32,
    funcs: u64,
    path: String,
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl LinuxBus {
    pub fn open(path: &str) -> Result<LinuxBus, String> {
        let c = CString::new(path).map_err(|_| format!("{path:?} contains a NUL byte"))?;
        // SAFETY: plain syscalls on a descriptor this function owns.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("{path}: {}", std::io::Error::last_os_error()));
        }
        let bus = LinuxBus {
            fd,
            funcs: 0,
            path: path.to_string(),
        };
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFCHR {
            return Err(format!("{path} is not an i2c-dev character device"));
        }
        let mut funcs: libc::c_ulong = 0;
        if unsafe { libc::ioctl(fd, I2C_FUNCS, &mut funcs) } != 0 {
            return Err(format!(
                "{path}: I2C_FUNCS failed ({}): not an i2c-dev device?",
                std::io::Error::last_os_error()
            ));
        }
        let mut bus = bus;
        bus.funcs = funcs as u64;
        Ok(bus)
    }

    fn rdwr(&mut self, address: u8, ops: &mut [Op<'_>]) -> Result<(), ErrorCode> {
        let mut msgs = Vec::with_capacity(ops.len());
        for op in ops.iter_mut() {
            let (flags, len, buf) = match op {
                Op::Read(b) => (I2C_M_RD, b.len(), b.as_mut_ptr()),
                // The kernel only reads a write message's buffer.
                Op::Write(b) => (0, b.len(), b.as_ptr() as *mut u8),
            };
            msgs.push(I2cMsg {
                addr: address as u16,
                flags,
                len: u16::try_from(len).map_err(|_| ErrorCode::Other)?,
                buf,
            });
        }
        let mut data = I2cRdwrData {
            msgs: msgs.as_mut_ptr(),
            nmsgs: msgs.len() as u32,
        };
        // SAFETY: every message points into a live buffer of its stated length.
        if unsafe { libc::ioctl(self.fd, I2C_RDWR, &mut data) } < 0 {
            return Err(map_errno(last_errno()));
        }
        Ok(())
    }

    fn smbus(
        &mut self,
        address: u8,
        w: Option<&[u8]>,
        r: Option<&mut [u8]>,
    ) -> Result<(), ErrorCode> {
        let plan = plan_smbus(w, r.as_ref().map(|b| b.len()), self.funcs).map_err(|e| {
            super::trace::trace(|| format!("{}: {e}", self.path));
            ErrorCode::Other
        })?;
        // SAFETY: I2C_SLAVE takes the address as an integer argument.
        if unsafe { libc::ioctl(self.fd, I2C_SLAVE, address as libc::c_ulong) } < 0 {
            return Err(map_errno(last_errno()));
        }
        let mut block = [0u8; I2C_SMBUS_BLOCK_MAX + 2];
        block[..plan.data.len()].copy_from_slice(&plan.data);
        let mut args = SmbusIoctlData {
            read_write: plan.read_write,
            command: plan.command,
            size: plan.size,
            data: &mut block,
        };
        // SAFETY: `block` is the full union size the kernel may read or write.
        if unsafe { libc::ioctl(self.fd, I2C_SMBUS, &mut args) } < 0 {
            return Err(map_errno(last_errno()));
        }
        if let Some(out) = r {
            let got: &[u8] = match plan.size {
                I2C_SMBUS_QUICK => &[],
                I2C_SMBUS_BYTE | I2C_SMBUS_BYTE_DATA => &block[..1],
                I2C_SMBUS_WORD_DATA => &block[..2],
                _ => &block[1..1 + out.len()],
            };
            out.copy_from_slice(got);
        }
        Ok(())
    }

    fn plain_i2c(&self) -> bool {
        self.funcs & func::I2C != 0
    }
}

impl Drop for LinuxBus {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

impl Bus for LinuxBus {
    fn transaction(&mut self, address: u8, ops: &mut [Op<'_>]) -> Result<(), ErrorCode> {
        if self.plain_i2c() {
            return self.rdwr(address, ops);
        }
        match ops {
            [Op::Write(w)] => self.smbus(address, Some(w), None),
            [Op::Read(r)] => self.smbus(address, None, Some(r)),
            [Op::Write(w), Op::Read(r)] => self.smbus(address, Some(w), Some(r)),
            _ => {
                super::trace::trace(|| {
                    format!(
                        "{}: SMBus-only adapter cannot run this transaction",
                        self.path
                    )
                });
                Err(ErrorCode::Other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every SMBus function, no plain I2C.
    const ALL: u64 = !func::I2C;

    #[test]
    fn kernel_errors_map_onto_error_codes() {
        assert_eq!(
            map_errno(libc::ENXIO),
            ErrorCode::NoAcknowledge(NackSource::Address)
        );
        assert_eq!(
            map_errno(libc::EREMOTEIO),
            ErrorCode::NoAcknowledge(NackSource::Unknown)
        );
        assert_eq!(map_errno(libc::EAGAIN), ErrorCode::ArbitrationLoss);
        assert_eq!(map_errno(libc::ETIMEDOUT), ErrorCode::Bus);
        assert_eq!(map_errno(libc::EOVERFLOW), ErrorCode::Overrun);
        assert_eq!(map_errno(libc::EIO), ErrorCode::Other);
        assert_eq!(map_errno(libc::EOPNOTSUPP), ErrorCode::Other);
    }

    #[test]
    fn smbus_plans() {
        let p = plan_smbus(Some(&[0xD0]), Some(1), ALL).unwrap();
        assert_eq!(
            (p.size, p.command, p.read_write),
            (I2C_SMBUS_BYTE_DATA, 0xD0, 1)
        );
        let p = plan_smbus(Some(&[0xFA]), Some(2), ALL).unwrap();
        assert_eq!(p.size, I2C_SMBUS_WORD_DATA);
        let p = plan_smbus(Some(&[0xF7]), Some(8), ALL).unwrap();
        assert_eq!(
            (p.size, p.data.clone()),
            (I2C_SMBUS_I2C_BLOCK_DATA, vec![8])
        );
        let p = plan_smbus(Some(&[0xF4, 0x25]), None, ALL).unwrap();
        assert_eq!((p.size, p.data.clone()), (I2C_SMBUS_BYTE_DATA, vec![0x25]));
        let p = plan_smbus(Some(&[0x10, 1, 2, 3, 4]), None, ALL).unwrap();
        assert_eq!(
            (p.size, p.data.clone()),
            (I2C_SMBUS_I2C_BLOCK_DATA, vec![4, 1, 2, 3, 4])
        );
        assert_eq!(
            plan_smbus(Some(&[]), None, ALL).unwrap().size,
            I2C_SMBUS_QUICK
        );
        assert_eq!(plan_smbus(None, Some(1), ALL).unwrap().size, I2C_SMBUS_BYTE);
        // Not expressible: a plain multi-byte read, a two-byte register pointer, 33-byte reads.
        assert!(plan_smbus(None, Some(4), ALL).is_err());
        assert!(plan_smbus(Some(&[0, 1]), Some(4), ALL).is_err());
        assert!(plan_smbus(Some(&[0]), Some(33), ALL).is_err());
        // Missing adapter functions: a word read falls back to a block read, and without
        // either the transfer is refused.
        let p = plan_smbus(Some(&[0xFA]), Some(2), ALL & !func::SMBUS_READ_WORD_DATA).unwrap();
        assert_eq!(p.size, I2C_SMBUS_I2C_BLOCK_DATA);
        assert!(plan_smbus(Some(&[0xFA]), Some(2), func::SMBUS_QUICK).is_err());
    }

    #[test]
    fn opening_a_non_device_fails_cleanly() {
        assert!(LinuxBus::open("/dev/i2c-does-not-exist").is_err());
        assert!(LinuxBus::open("/dev/null")
            .err()
            .unwrap()
            .contains("I2C_FUNCS"));
        assert!(LinuxBus::open("/proc/version")
            .err()
            .unwrap()
            .contains("not an i2c-dev"));
    }
}
