//! The byte encoding of what the build hands the runtime in sections of the executable (the
//! component plan, an invocation): little-endian `u32`s, strings as a length and UTF-8 bytes,
//! options as a 0/1 tag. Reading checks every length against what is left, so damaged data is
//! an error, never a panic.

use alloc::string::String;
use alloc::vec::Vec;

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

/// A 0 tag for `None`, else a 1 tag and what `put` writes.
pub(crate) fn put_opt<T>(out: &mut Vec<u8>, v: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

/// Reads what the `put_*` functions wrote; errors are one of its two messages.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    /// The message for data that ends early or holds a bad tag.
    pub damaged: &'static str,
    /// The message for a string that is not UTF-8.
    pub not_utf8: &'static str,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.bytes.len() < n {
            return Err(self.damaged);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    pub fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, &'static str> {
        let b = self.take(8)?;
        let mut v = [0u8; 8];
        v.copy_from_slice(b);
        Ok(u64::from_le_bytes(v))
    }
    pub fn string(&mut self) -> Result<String, &'static str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| self.not_utf8)
    }
    /// What [`put_opt`] wrote, read back with `f`.
    pub fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, &'static str>,
    ) -> Result<Option<T>, &'static str> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            _ => Err(self.damaged),
        }
    }
}
