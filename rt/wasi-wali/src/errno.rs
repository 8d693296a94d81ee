//! WASI errno values and the mapping from Linux's (`wafer_abi::wasi_p1::errno`, the table the
//! native host uses too), and the texts of the few Linux errors this module prints itself.

pub use wafer_abi::wasi_p1::errno::*;

/// The C library's text for a Linux errno, for the few messages this module prints itself.
pub fn linux_message(e: i32) -> &'static str {
    match e {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        5 => "Input/output error",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        20 => "Not a directory",
        22 => "Invalid argument",
        23 => "Too many open files in system",
        24 => "Too many open files",
        36 => "File name too long",
        40 => "Too many levels of symbolic links",
        _ => "Unknown error",
    }
}
