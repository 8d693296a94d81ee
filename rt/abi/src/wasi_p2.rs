//! WASI 0.2 (`wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:filesystem`, `wasi:random`): the
//! functions the runtime implements, lowered as the canonical ABI lowers them for wasm32 (the
//! same flat signatures whether a core module imports them directly or a component's
//! `canon lower` makes them).
//!
//! Interfaces are listed under `<package>/<interface>@0.2`: any 0.2.x version a guest
//! imports (Rust's wasm32-wasip2 imports 0.2.0, 0.2.4 and 0.2.6 in one module) binds to the
//! same implementation, as wasmtime binds them by semver.

use super::HostFunc;

/// The interface key under which [`WASI_P2_FUNCS`] lists `module`'s functions: for
/// `wasi:<package>/<interface>@0.2.<patch>` (a released patch, no pre-release suffix) it is
/// `wasi:<package>/<interface>@0.2`; `None` for anything else.
pub fn interface(module: &str) -> Option<&str> {
    let (name, version) = module.split_once('@')?;
    if !name.starts_with("wasi:") || !name.contains('/') {
        return None;
    }
    let patch = version.strip_prefix("0.2.")?;
    if patch.is_empty() || !patch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(&module[..name.len() + "@0.2".len()])
}

/// The WASI 0.2 functions the runtime implements (none yet).
pub static WASI_P2_FUNCS: &[HostFunc] = &[];

#[cfg(test)]
mod tests {
    use super::interface;

    #[test]
    fn versions_match_by_semver() {
        assert_eq!(interface("wasi:io/streams@0.2.6"), Some("wasi:io/streams@0.2"));
        assert_eq!(interface("wasi:cli/environment@0.2.0"), Some("wasi:cli/environment@0.2"));
        assert_eq!(interface("wasi:io/streams@0.2"), None);
        assert_eq!(interface("wasi:io/streams@0.3.0"), None);
        assert_eq!(interface("wasi:io/streams@0.2.0-rc-2023-11-10"), None);
        assert_eq!(interface("wasi:i2c/i2c@0.2.0-draft"), None);
        assert_eq!(interface("wasi_snapshot_preview1"), None);
        assert_eq!(interface("other:io/streams@0.2.1"), None);
    }
}
