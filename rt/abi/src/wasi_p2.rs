//! WASI 0.2 (`wasi:cli`, `wasi:io`, `wasi:clocks`, `wasi:filesystem`, `wasi:random`, and
//! `wasi:sockets`, which grants no network): the functions the runtime implements, lowered as the canonical ABI lowers them for wasm32 (the
//! same flat signatures whether a core module imports them directly or a component's
//! `canon lower` makes them).
//!
//! Interfaces are listed under `<package>/<interface>@0.2`: any 0.2.x version a guest
//! imports (Rust's wasm32-wasip2 imports 0.2.0, 0.2.4 and 0.2.6 in one module) binds to the
//! same implementation, as wasmtime binds them by semver.

use super::{valtype, HostFunc};

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

host_funcs! {
    /// The WASI 0.2 functions the runtime implements (see the module documentation).
    pub static WASI_P2_FUNCS;
    // The rest of wasi:cli, wasi:io, wasi:clocks and wasi:sockets binds through `WIT_FUNCS`;
    // these three stay here so that a discriminant out of range keeps its own message (see
    // the runtime's wasi_p2::cli and wasi_p2::sockets).
    "wasi:cli/exit@0.2", "exit"(I32) -> () => "wafer_p2_exit";
    "wasi:sockets/tcp-create-socket@0.2", "create-tcp-socket"(I32, I32) -> () => "wafer_p2_create_tcp_socket";
    "wasi:sockets/udp-create-socket@0.2", "create-udp-socket"(I32, I32) -> () => "wafer_p2_create_udp_socket";
    "wasi:filesystem/types@0.2", "[method]descriptor.read-via-stream"(I32, I64, I32) -> () => "wafer_p2_descriptor_read_via_stream";
    "wasi:filesystem/types@0.2", "[method]descriptor.write-via-stream"(I32, I64, I32) -> () => "wafer_p2_descriptor_write_via_stream";
    "wasi:filesystem/types@0.2", "[method]descriptor.append-via-stream"(I32, I32) -> () => "wafer_p2_descriptor_append_via_stream";
    "wasi:filesystem/types@0.2", "[method]descriptor.advise"(I32, I64, I64, I32, I32) -> () => "wafer_p2_descriptor_advise";
    "wasi:filesystem/types@0.2", "[method]descriptor.sync-data"(I32, I32) -> () => "wafer_p2_descriptor_sync_data";
    "wasi:filesystem/types@0.2", "[method]descriptor.get-flags"(I32, I32) -> () => "wafer_p2_descriptor_get_flags";
    "wasi:filesystem/types@0.2", "[method]descriptor.get-type"(I32, I32) -> () => "wafer_p2_descriptor_get_type";
    "wasi:filesystem/types@0.2", "[method]descriptor.set-size"(I32, I64, I32) -> () => "wafer_p2_descriptor_set_size";
    "wasi:filesystem/types@0.2", "[method]descriptor.set-times"(I32, I32, I64, I32, I32, I64, I32, I32) -> () => "wafer_p2_descriptor_set_times";
    "wasi:filesystem/types@0.2", "[method]descriptor.read"(I32, I64, I64, I32) -> () => "wafer_p2_descriptor_read";
    "wasi:filesystem/types@0.2", "[method]descriptor.write"(I32, I32, I32, I64, I32) -> () => "wafer_p2_descriptor_write";
    "wasi:filesystem/types@0.2", "[method]descriptor.read-directory"(I32, I32) -> () => "wafer_p2_descriptor_read_directory";
    "wasi:filesystem/types@0.2", "[method]descriptor.sync"(I32, I32) -> () => "wafer_p2_descriptor_sync";
    "wasi:filesystem/types@0.2", "[method]descriptor.create-directory-at"(I32, I32, I32, I32) -> () => "wafer_p2_descriptor_create_directory_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.stat"(I32, I32) -> () => "wafer_p2_descriptor_stat";
    "wasi:filesystem/types@0.2", "[method]descriptor.stat-at"(I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_stat_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.set-times-at"(I32, I32, I32, I32, I32, I64, I32, I32, I64, I32, I32) -> () => "wafer_p2_descriptor_set_times_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.link-at"(I32, I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_link_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.open-at"(I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_open_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.readlink-at"(I32, I32, I32, I32) -> () => "wafer_p2_descriptor_readlink_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.remove-directory-at"(I32, I32, I32, I32) -> () => "wafer_p2_descriptor_remove_directory_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.rename-at"(I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_rename_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.symlink-at"(I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_symlink_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.unlink-file-at"(I32, I32, I32, I32) -> () => "wafer_p2_descriptor_unlink_file_at";
    "wasi:filesystem/types@0.2", "[method]descriptor.is-same-object"(I32, I32) -> (I32) => "wafer_p2_descriptor_is_same_object";
    "wasi:filesystem/types@0.2", "[method]descriptor.metadata-hash"(I32, I32) -> () => "wafer_p2_descriptor_metadata_hash";
    "wasi:filesystem/types@0.2", "[method]descriptor.metadata-hash-at"(I32, I32, I32, I32, I32) -> () => "wafer_p2_descriptor_metadata_hash_at";
    "wasi:filesystem/types@0.2", "[resource-drop]descriptor"(I32) -> () => "wafer_p2_drop_descriptor";
    "wasi:filesystem/types@0.2", "[method]directory-entry-stream.read-directory-entry"(I32, I32) -> () => "wafer_p2_read_directory_entry";
    "wasi:filesystem/types@0.2", "[resource-drop]directory-entry-stream"(I32) -> () => "wafer_p2_drop_directory_entry_stream";
    "wasi:filesystem/types@0.2", "filesystem-error-code"(I32, I32) -> () => "wafer_p2_filesystem_error_code";
    "wasi:filesystem/preopens@0.2", "get-directories"(I32) -> () => "wafer_p2_get_directories";
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
