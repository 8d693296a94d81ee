//! WASI preview1 as a wasm module over WALI (`wafer build --wasi-over-wali`): the executable
//! carries the app and wafer's own WASI module (`rt/wasi-wali`), which implements every
//! preview1 function with `wali` syscalls. The app's `wasi_snapshot_preview1` imports bind to
//! that module's exports; the runtime's native WASI host functions are not linked.
//!
//! The two modules share no memory. The WASI module reaches the app's memory only through the
//! channel below ([`CHANNEL_MODULE`]), whose functions check both ranges on every copy, and
//! reaches the kernel only through WALI, under the kernel sandbox of a WALI program. The
//! channel is reserved: `wafer build` refuses it in any other module.
//!
//! The grants blob ([`encode_grants`], [`decode_grants`]) tells the module what the
//! executable was granted, after deploy-time re-pointing: the environment, then the
//! preopened directories. Little-endian: `u32` count, then per entry a `u32`-length-prefixed
//! `KEY=VALUE`; `u32` count, then per directory its guest name and host path (each
//! `u32`-length-prefixed) and a `u32` read-only flag.

use alloc::vec::Vec;

// `host_funcs!` names the parameter types through `valtype`.
use crate::valtype;
use crate::HostFunc;

/// The import module of the channel.
pub const CHANNEL_MODULE: &str = "wafer:wasi-over-wali";

/// What a channel copy answers for a range outside either memory: WASI's `EFAULT`.
pub const FAULT: i32 = 21;

host_funcs! {
    /// The channel: `app_read(local, app, len)` and `app_write(app, local, len)` copy `len`
    /// bytes between the app's memory and the WASI module's, answering 0 or [`FAULT`];
    /// `grants(buf, cap)` answers the grants blob's length and writes it when it fits.
    pub static CHANNEL_FUNCS;
    CHANNEL_MODULE, "app_read"(I32, I32, I32) -> (I32) => "wafer_wow_app_read";
    CHANNEL_MODULE, "app_write"(I32, I32, I32) -> (I32) => "wafer_wow_app_write";
    CHANNEL_MODULE, "grants"(I32, I32) -> (I32) => "wafer_wow_grants";
}

/// A preopened directory as the WASI module receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen<'a> {
    pub guest: &'a [u8],
    pub host: &'a [u8],
    pub read_only: bool,
}

/// The grants blob for `env` (`KEY=VALUE` entries) and `dirs`.
pub fn encode_grants<'a>(env: impl IntoIterator<Item = &'a [u8]>, dirs: &[Preopen<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    let env: Vec<&[u8]> = env.into_iter().collect();
    out.extend_from_slice(&(env.len() as u32).to_le_bytes());
    for e in env {
        put(&mut out, e);
    }
    out.extend_from_slice(&(dirs.len() as u32).to_le_bytes());
    for d in dirs {
        put(&mut out, d.guest);
        put(&mut out, d.host);
        out.extend_from_slice(&u32::from(d.read_only).to_le_bytes());
    }
    out
}

/// What [`encode_grants`] wrote: the environment and the directories; `None` if damaged.
pub fn decode_grants(blob: &[u8]) -> Option<(Vec<&[u8]>, Vec<Preopen<'_>>)> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn u32(&mut self) -> Option<u32> {
            let (head, rest) = self.0.split_at_checked(4)?;
            self.0 = rest;
            Some(u32::from_le_bytes(head.try_into().ok()?))
        }
        fn bytes(&mut self) -> Option<&'a [u8]> {
            let n = self.u32()? as usize;
            let (head, rest) = self.0.split_at_checked(n)?;
            self.0 = rest;
            Some(head)
        }
    }
    let mut r = R(blob);
    let mut env = Vec::new();
    for _ in 0..r.u32()? {
        env.push(r.bytes()?);
    }
    let mut dirs = Vec::new();
    for _ in 0..r.u32()? {
        let (guest, host) = (r.bytes()?, r.bytes()?);
        let read_only = match r.u32()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        dirs.push(Preopen {
            guest,
            host,
            read_only,
        });
    }
    r.0.is_empty().then_some((env, dirs))
}

/// The channel function for an import of [`CHANNEL_MODULE`].
pub fn channel_func(name: &str) -> Option<&'static HostFunc> {
    CHANNEL_FUNCS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_round_trip_and_damage_is_refused() {
        let dirs = [
            Preopen {
                guest: b"/data",
                host: b"/srv/x",
                read_only: false,
            },
            Preopen {
                guest: b".",
                host: b"/tmp",
                read_only: true,
            },
        ];
        let env: [&[u8]; 2] = [b"K=V", b"A=b=c"];
        let blob = encode_grants(env, &dirs);
        let (e, d) = decode_grants(&blob).unwrap();
        assert_eq!(e, env);
        assert_eq!(d, dirs);
        for cut in 0..blob.len() {
            assert!(decode_grants(&blob[..cut]).is_none(), "cut at {cut}");
        }
    }
}
