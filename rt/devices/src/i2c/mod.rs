//! I2C buses: what `wasi:i2c@0.2.0-draft` reaches, independent of how a guest calls it.
//!
//! - [`bus`]: the one trait every backend implements (embedded-hal's transaction model) and the
//!   interface's error codes.
//! - [`grant`]: which buses and addresses a driver was granted, and the check every transfer
//!   passes before it reaches a backend.
//! - [`backend`]: picks the backend at run time (`WAFER_I2C_BACKEND=linux|sim`, default linux).
//! - [`linux`]: i2c-dev (`/dev/i2c-N`) through `I2C_RDWR`, with SMBus fallbacks.
//! - [`sim`]: software device models (EEPROM, BME280, TMP102/LM75, HD44780 behind a PCF8574).

pub mod backend;
pub mod bus;
pub mod grant;
pub mod linux;
pub mod sim;
pub mod trace;
