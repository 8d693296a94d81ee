//! The bus abstraction every backend implements, shaped like embedded-hal 1.0's `I2c`.

/// `wasi:i2c/i2c` `error-code`, with the case numbers of its canonical ABI encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Bus,
    ArbitrationLoss,
    NoAcknowledge(NackSource),
    Overrun,
    Other,
}

/// `no-acknowledge-source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NackSource {
    Address,
    Data,
    Unknown,
}

/// One step of a transaction.
#[derive(Debug)]
pub enum Op<'a> {
    Read(&'a mut [u8]),
    Write(&'a [u8]),
}

/// One I2C bus. `address` is always a 7-bit address (checked before a backend sees it).
pub trait Bus {
    /// The operations back to back: one start, a repeated start between operations, one stop.
    fn transaction(&mut self, address: u8, ops: &mut [Op<'_>]) -> Result<(), ErrorCode>;

    fn read(&mut self, address: u8, buf: &mut [u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Op::Read(buf)])
    }

    fn write(&mut self, address: u8, data: &[u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Op::Write(data)])
    }

    fn write_read(&mut self, address: u8, data: &[u8], buf: &mut [u8]) -> Result<(), ErrorCode> {
        self.transaction(address, &mut [Op::Write(data), Op::Read(buf)])
    }
}
