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
    "wasi:io/error@0.2", "[method]error.to-debug-string"(I32, I32) -> () => "wafer_p2_error_to_debug_string";
    "wasi:io/error@0.2", "[resource-drop]error"(I32) -> () => "wafer_p2_drop_error";
    "wasi:io/poll@0.2", "[method]pollable.ready"(I32) -> (I32) => "wafer_p2_pollable_ready";
    "wasi:io/poll@0.2", "[method]pollable.block"(I32) -> () => "wafer_p2_pollable_block";
    "wasi:io/poll@0.2", "poll"(I32, I32, I32) -> () => "wafer_p2_poll";
    "wasi:io/poll@0.2", "[resource-drop]pollable"(I32) -> () => "wafer_p2_drop_pollable";
    "wasi:io/streams@0.2", "[method]input-stream.read"(I32, I64, I32) -> () => "wafer_p2_input_read";
    "wasi:io/streams@0.2", "[method]input-stream.blocking-read"(I32, I64, I32) -> () => "wafer_p2_input_blocking_read";
    "wasi:io/streams@0.2", "[method]input-stream.skip"(I32, I64, I32) -> () => "wafer_p2_input_skip";
    "wasi:io/streams@0.2", "[method]input-stream.blocking-skip"(I32, I64, I32) -> () => "wafer_p2_input_blocking_skip";
    "wasi:io/streams@0.2", "[method]input-stream.subscribe"(I32) -> (I32) => "wafer_p2_input_subscribe";
    "wasi:io/streams@0.2", "[resource-drop]input-stream"(I32) -> () => "wafer_p2_drop_input_stream";
    "wasi:io/streams@0.2", "[method]output-stream.check-write"(I32, I32) -> () => "wafer_p2_output_check_write";
    "wasi:io/streams@0.2", "[method]output-stream.write"(I32, I32, I32, I32) -> () => "wafer_p2_output_write";
    "wasi:io/streams@0.2", "[method]output-stream.blocking-write-and-flush"(I32, I32, I32, I32) -> () => "wafer_p2_output_blocking_write_and_flush";
    "wasi:io/streams@0.2", "[method]output-stream.flush"(I32, I32) -> () => "wafer_p2_output_flush";
    "wasi:io/streams@0.2", "[method]output-stream.blocking-flush"(I32, I32) -> () => "wafer_p2_output_blocking_flush";
    "wasi:io/streams@0.2", "[method]output-stream.subscribe"(I32) -> (I32) => "wafer_p2_output_subscribe";
    "wasi:io/streams@0.2", "[method]output-stream.write-zeroes"(I32, I64, I32) -> () => "wafer_p2_output_write_zeroes";
    "wasi:io/streams@0.2", "[method]output-stream.blocking-write-zeroes-and-flush"(I32, I64, I32) -> () => "wafer_p2_output_blocking_write_zeroes_and_flush";
    "wasi:io/streams@0.2", "[method]output-stream.splice"(I32, I32, I64, I32) -> () => "wafer_p2_output_splice";
    "wasi:io/streams@0.2", "[method]output-stream.blocking-splice"(I32, I32, I64, I32) -> () => "wafer_p2_output_blocking_splice";
    "wasi:io/streams@0.2", "[resource-drop]output-stream"(I32) -> () => "wafer_p2_drop_output_stream";
    "wasi:clocks/monotonic-clock@0.2", "now"() -> (I64) => "wafer_p2_monotonic_now";
    "wasi:clocks/monotonic-clock@0.2", "resolution"() -> (I64) => "wafer_p2_monotonic_resolution";
    "wasi:clocks/monotonic-clock@0.2", "subscribe-instant"(I64) -> (I32) => "wafer_p2_monotonic_subscribe_instant";
    "wasi:clocks/monotonic-clock@0.2", "subscribe-duration"(I64) -> (I32) => "wafer_p2_monotonic_subscribe_duration";
    "wasi:clocks/wall-clock@0.2", "now"(I32) -> () => "wafer_p2_wall_now";
    "wasi:clocks/wall-clock@0.2", "resolution"(I32) -> () => "wafer_p2_wall_resolution";
    "wasi:cli/environment@0.2", "get-environment"(I32) -> () => "wafer_p2_get_environment";
    "wasi:cli/environment@0.2", "get-arguments"(I32) -> () => "wafer_p2_get_arguments";
    "wasi:cli/environment@0.2", "initial-cwd"(I32) -> () => "wafer_p2_initial_cwd";
    "wasi:cli/exit@0.2", "exit"(I32) -> () => "wafer_p2_exit";
    "wasi:cli/exit@0.2", "exit-with-code"(I32) -> () => "wafer_p2_exit_with_code";
    "wasi:cli/stdin@0.2", "get-stdin"() -> (I32) => "wafer_p2_get_stdin";
    "wasi:cli/stdout@0.2", "get-stdout"() -> (I32) => "wafer_p2_get_stdout";
    "wasi:cli/stderr@0.2", "get-stderr"() -> (I32) => "wafer_p2_get_stderr";
    "wasi:cli/terminal-input@0.2", "[resource-drop]terminal-input"(I32) -> () => "wafer_p2_drop_terminal_input";
    "wasi:cli/terminal-output@0.2", "[resource-drop]terminal-output"(I32) -> () => "wafer_p2_drop_terminal_output";
    "wasi:cli/terminal-stdin@0.2", "get-terminal-stdin"(I32) -> () => "wafer_p2_get_terminal_stdin";
    "wasi:cli/terminal-stdout@0.2", "get-terminal-stdout"(I32) -> () => "wafer_p2_get_terminal_stdout";
    "wasi:cli/terminal-stderr@0.2", "get-terminal-stderr"(I32) -> () => "wafer_p2_get_terminal_stderr";
    // wasi:sockets: no network for WASI 0.2 programs (see the runtime's wasi_p2::sockets).
    "wasi:sockets/network@0.2", "[resource-drop]network"(I32) -> () => "wafer_p2_drop_network";
    "wasi:sockets/instance-network@0.2", "instance-network"() -> (I32) => "wafer_p2_instance_network";
    "wasi:sockets/ip-name-lookup@0.2", "[method]resolve-address-stream.resolve-next-address"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/ip-name-lookup@0.2", "[method]resolve-address-stream.subscribe"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/ip-name-lookup@0.2", "resolve-addresses"(I32, I32, I32, I32) -> () => "wafer_p2_resolve_addresses";
    "wasi:sockets/ip-name-lookup@0.2", "[resource-drop]resolve-address-stream"(I32) -> () => "wafer_p2_no_socket_drop";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.start-bind"(I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_no_socket_address";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.finish-bind"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.start-connect"(I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_no_socket_address";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.finish-connect"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.start-listen"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.finish-listen"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.accept"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.local-address"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.remote-address"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.is-listening"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.address-family"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-listen-backlog-size"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.keep-alive-enabled"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-keep-alive-enabled"(I32, I32, I32) -> () => "wafer_p2_no_socket_set32";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.keep-alive-idle-time"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-keep-alive-idle-time"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.keep-alive-interval"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-keep-alive-interval"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.keep-alive-count"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-keep-alive-count"(I32, I32, I32) -> () => "wafer_p2_no_socket_set32";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.hop-limit"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-hop-limit"(I32, I32, I32) -> () => "wafer_p2_no_socket_set32";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.receive-buffer-size"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-receive-buffer-size"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.send-buffer-size"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.set-send-buffer-size"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.subscribe"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/tcp@0.2", "[method]tcp-socket.shutdown"(I32, I32, I32) -> () => "wafer_p2_no_socket_set32";
    "wasi:sockets/tcp@0.2", "[resource-drop]tcp-socket"(I32) -> () => "wafer_p2_no_socket_drop";
    "wasi:sockets/tcp-create-socket@0.2", "create-tcp-socket"(I32, I32) -> () => "wafer_p2_create_socket";
    "wasi:sockets/udp@0.2", "[method]udp-socket.start-bind"(I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_no_socket_address";
    "wasi:sockets/udp@0.2", "[method]udp-socket.finish-bind"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.stream"(I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32) -> () => "wafer_p2_no_socket_address";
    "wasi:sockets/udp@0.2", "[method]udp-socket.local-address"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.remote-address"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.address-family"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/udp@0.2", "[method]udp-socket.unicast-hop-limit"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.set-unicast-hop-limit"(I32, I32, I32) -> () => "wafer_p2_no_socket_set32";
    "wasi:sockets/udp@0.2", "[method]udp-socket.receive-buffer-size"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.set-receive-buffer-size"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/udp@0.2", "[method]udp-socket.send-buffer-size"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]udp-socket.set-send-buffer-size"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/udp@0.2", "[method]udp-socket.subscribe"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/udp@0.2", "[method]incoming-datagram-stream.receive"(I32, I64, I32) -> () => "wafer_p2_no_socket_set64";
    "wasi:sockets/udp@0.2", "[method]incoming-datagram-stream.subscribe"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/udp@0.2", "[method]outgoing-datagram-stream.check-send"(I32, I32) -> () => "wafer_p2_no_socket_ret";
    "wasi:sockets/udp@0.2", "[method]outgoing-datagram-stream.send"(I32, I32, I32, I32) -> () => "wafer_p2_no_socket_list";
    "wasi:sockets/udp@0.2", "[method]outgoing-datagram-stream.subscribe"(I32) -> (I32) => "wafer_p2_no_socket_get";
    "wasi:sockets/udp@0.2", "[resource-drop]udp-socket"(I32) -> () => "wafer_p2_no_socket_drop";
    "wasi:sockets/udp@0.2", "[resource-drop]incoming-datagram-stream"(I32) -> () => "wafer_p2_no_socket_drop";
    "wasi:sockets/udp@0.2", "[resource-drop]outgoing-datagram-stream"(I32) -> () => "wafer_p2_no_socket_drop";
    "wasi:sockets/udp-create-socket@0.2", "create-udp-socket"(I32, I32) -> () => "wafer_p2_create_socket";
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
