//! Facts that differ between the guest's view of Linux (x86-64 layouts and flag values, as
//! every WALI guest is built) and the host's, kept in one place, one module per topic. On an
//! x86-64 host every conversion here is the identity (the compiler removes it).
//!
//! Syscall numbers are not here: they come from the spec's table (`wafer_abi::wali`), and
//! [`super::host_nr`] picks the host's.

pub mod epoll;
pub mod fcntl;
pub mod signal;
pub mod socket;
pub mod stat;
