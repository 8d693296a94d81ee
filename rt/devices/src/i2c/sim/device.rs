//! What a simulated device sees of the bus: starts, bytes and stops, as a target does.

/// A device model. The bus calls `start` for each (repeated) start condition addressed to the
/// device, then `write` or `read` per byte, and `stop` once at the end of the transaction.
pub trait Device {
    /// How many consecutive 7-bit addresses the device answers (a 24C16 answers eight).
    fn span(&self) -> u8 {
        1
    }
    /// A start addressed to `base + offset`, for a read or a write.
    fn start(&mut self, offset: u8, read: bool);
    /// A byte from the controller; `false` is a NACK.
    fn write(&mut self, byte: u8) -> bool;
    /// The next byte the device sends.
    fn read(&mut self) -> u8;
    /// The stop condition.
    fn stop(&mut self);
    /// What the device shows a person, if anything (an LCD's screen).
    fn dump(&self) -> Option<String> {
        None
    }
}
