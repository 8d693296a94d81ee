//! `wasi:random`: `random`, `insecure` and `insecure-seed`, all from the kernel's
//! `getrandom(2)` (the insecure variants are simply as good as the secure ones).

use super::WasiP2;
use crate::canon::typed::Cx;
use crate::canon::{oob, Buffer, Fault};
use crate::glue::wasi_random::{insecure, insecure_seed, random};

/// Fills `buf` with random bytes.
fn fill(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            filled += n as usize;
        }
        // n < 0: EINTR (or EAGAIN before the pool is ready): try again.
    }
}

fn u64() -> u64 {
    let mut v = [0u8; 8];
    fill(&mut v);
    u64::from_le_bytes(v)
}

/// `len` random bytes (a `list<u8>`, so at most what a wasm32 memory can hold).
fn bytes(len: u64) -> Result<Buffer, Fault> {
    let len =
        u32::try_from(len).map_err(|_| oob(format!("{len} random bytes do not fit in memory")))?;
    let mut buf = Buffer::zeroed(len as usize);
    fill(&mut buf);
    Ok(buf)
}

impl random::Host for WasiP2 {
    fn get_random_bytes(_: &mut Cx, len: u64) -> Result<Buffer, Fault> {
        bytes(len)
    }
    fn get_random_u64(_: &mut Cx) -> Result<u64, Fault> {
        Ok(u64())
    }
}

impl insecure::Host for WasiP2 {
    fn get_insecure_random_bytes(_: &mut Cx, len: u64) -> Result<Buffer, Fault> {
        bytes(len)
    }
    fn get_insecure_random_u64(_: &mut Cx) -> Result<u64, Fault> {
        Ok(u64())
    }
}

impl insecure_seed::Host for WasiP2 {
    fn insecure_seed(_: &mut Cx) -> Result<(u64, u64), Fault> {
        Ok((u64(), u64()))
    }
}
