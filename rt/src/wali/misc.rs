//! WALI syscalls: misc (being implemented).

use super::Handler;

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    let _ = name;
    None
}
