//! WASI 0.2 names: the command world's `run` export, and how an import's version finds the
//! runtime's implementation.
//!
//! The functions themselves (`wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:filesystem`,
//! `wasi:random`, and `wasi:sockets`, which grants no network) are rows of the generated
//! [`crate::WIT_FUNCS`], listed under `<package>/<interface>@0.2`: any 0.2.x version a guest
//! imports (Rust's wasm32-wasip2 imports 0.2.0, 0.2.4 and 0.2.6 in one module) binds to the
//! same implementation, as wasmtime binds them by semver.

/// Whether `name` is the instance a WASI 0.2 command exports, `wasi:cli/run@0.2.<x>`, which
/// the runtime calls (any 0.2.x).
pub fn is_cli_run(name: &str) -> bool {
    name.strip_prefix("wasi:cli/run@")
        .is_some_and(|v| v.starts_with("0.2."))
}

/// Whether `name` is that instance's `run` as a core module exports it,
/// `wasi:cli/run@0.2.<x>#run`.
pub fn is_cli_run_export(name: &str) -> bool {
    name.strip_suffix("#run").is_some_and(is_cli_run)
}

/// The interface key under which [`crate::WIT_FUNCS`] lists `module`'s functions: for
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

#[cfg(test)]
mod tests {
    use super::{interface, is_cli_run, is_cli_run_export};

    #[test]
    fn command_run_names() {
        assert!(is_cli_run("wasi:cli/run@0.2.0") && is_cli_run("wasi:cli/run@0.2.12"));
        assert!(!is_cli_run("wasi:cli/run@0.3.0") && !is_cli_run("wasi:cli/run"));
        assert!(is_cli_run_export("wasi:cli/run@0.2.3#run"));
        assert!(
            !is_cli_run_export("wasi:cli/run@0.2.3") && !is_cli_run_export("wasi:cli/run@0.2.3#go")
        );
    }

    #[test]
    fn versions_match_by_semver() {
        assert_eq!(
            interface("wasi:io/streams@0.2.6"),
            Some("wasi:io/streams@0.2")
        );
        assert_eq!(
            interface("wasi:cli/environment@0.2.0"),
            Some("wasi:cli/environment@0.2")
        );
        assert_eq!(interface("wasi:io/streams@0.2"), None);
        assert_eq!(interface("wasi:io/streams@0.3.0"), None);
        assert_eq!(interface("wasi:io/streams@0.2.0-rc-2023-11-10"), None);
        assert_eq!(interface("wasi:i2c/i2c@0.2.0-draft"), None);
        assert_eq!(interface("wasi_snapshot_preview1"), None);
        assert_eq!(interface("other:io/streams@0.2.1"), None);
    }
}
