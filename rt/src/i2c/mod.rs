//! WASI-I2C (`wasi:i2c@0.2.0-draft`) and wafer's `wafer:hal/buses` getter.
//!
//! - [`bus`]: the one trait every backend implements (embedded-hal's transaction model) and the
//!   interface's error codes.
//! - [`grant`]: which buses and addresses a driver was granted, and the check every transfer
//!   passes before it reaches a backend.
//! - [`backend`]: picks the backend at run time (`WAFER_I2C_BACKEND=linux|sim`, default linux).
//! - [`linux`]: i2c-dev (`/dev/i2c-N`) through `I2C_RDWR`, with SMBus fallbacks.
//! - [`sim`]: software device models (EEPROM, BME280, TMP102/LM75, HD44780 behind a PCF8574).
//! - [`host`]: the imported functions as compiled code calls them (canonical ABI lowering).

pub mod backend;
pub mod bus;
pub mod grant;
pub mod host;
pub mod linux;
pub mod sim;
pub mod trace;
