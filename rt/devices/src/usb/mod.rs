//! USB: what `component:usb@0.2.1` (WASI-USB) reaches, independent of how a guest calls it.
//!
//! - [`types`]: the interface's error cases, descriptors (and the parser of raw configuration
//!   descriptors every backend shares), transfer requests.
//! - [`host`]: the traits every backend implements: a [`host::Host`] lists devices and opens
//!   them, a [`host::Handle`] is an open device, a [`host::Pending`] a submitted transfer.
//! - [`grant`]: which devices (VID:PID), interfaces and endpoints a driver was granted, and the
//!   checks every request passes before it reaches a backend.
//! - [`backend`]: picks the backend at run time (`WAFER_USB_BACKEND=linux|sim`, default linux).
//! - [`linux`]: libusb (built from source, asynchronous transfers).
//! - [`sim`]: software devices with real descriptors (echo, mass storage, HID keyboard).
//! - [`shutdown`]: transfers cancelled when the process is told to end.

pub mod backend;
pub mod grant;
pub mod host;
pub mod linux;
pub mod shutdown;
pub mod sim;
pub mod trace;
pub mod types;
