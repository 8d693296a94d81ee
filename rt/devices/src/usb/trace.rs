//! `WAFER_TRACE=usb` (a comma-separated list of topics): the runtime says on stderr why it
//! refused or failed a USB request. Guests never see these messages.

use std::sync::OnceLock;

pub const TRACE_ENV: &str = "WAFER_TRACE";

pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var(TRACE_ENV)
            .map(|v| v.split(',').any(|t| matches!(t.trim(), "usb" | "all")))
            .unwrap_or(false)
    })
}

/// Prints `msg` when tracing is on; `msg` is built only then.
pub fn trace(msg: impl FnOnce() -> String) {
    if enabled() {
        eprintln!("wafer: usb: {}", msg());
    }
}
