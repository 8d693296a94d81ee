//! The devices wafer drivers reach, each bus behind one small trait (in the spirit of
//! embedded-hal), with the backends that implement it: `linux` for real boards and `sim`
//! (software device models) for tests, demos and development without hardware. The grants
//! that limit a driver live beside the buses they limit.
//!
//! The runtime (`wafer-rt`) turns guest calls into calls on these traits; benchmarks and
//! native comparison programs use them directly, so both measure the same backend.

pub mod i2c;
pub mod usb;
