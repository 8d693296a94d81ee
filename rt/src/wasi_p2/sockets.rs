//! `wasi:sockets`: the network a WASI 0.2 program may use, which is none. wafer grants
//! sockets only to WALI programs (`--net`); a WASI 0.2 program gets its `instance-network`
//! handle, every attempt to make a socket answers `access-denied` (the error WASI defines
//! for what the sandbox forbids) and every name lookup `permanent-resolver-failure` (as
//! wasmtime answers when lookups are not allowed). Since no socket, datagram stream or
//! address stream can ever exist, every method of one (and its drop) is called with a handle
//! this guest does not own: the trap `unknown handle`, as for any forged handle.
//!
//! | function | answer |
//! |---|---|
//! | `instance-network` | a `network` handle |
//! | `create-tcp-socket`, `create-udp-socket` | `err(access-denied)` |
//! | `resolve-addresses` | `err(permanent-resolver-failure)` |
//! | `[resource-drop]network` | the handle is gone |
//! | methods and drops of the socket resources | trap: unknown handle |

use super::table::{Kind, Resource};
use super::{own, remove_resource, with_table, WasiP2};
use crate::canon::typed::{Borrow, Cx, Own};
use crate::canon::{unknown_handle, Fault};
use crate::glue::wasi_clocks::monotonic_clock::Duration;
use crate::glue::wasi_io::poll::Pollable;
use crate::glue::wasi_io::streams::{InputStream, OutputStream};
use crate::glue::wasi_sockets::ip_name_lookup::{self, ResolveAddressStream};
use crate::glue::wasi_sockets::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Network,
};
use crate::glue::wasi_sockets::tcp::{self, ShutdownType, TcpSocket};
use crate::glue::wasi_sockets::udp::{
    self, IncomingDatagram, IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream,
    UdpSocket,
};
use crate::glue::wasi_sockets::{instance_network, tcp_create_socket, udp_create_socket};

/// What creating a socket answers.
type Created<R> = Result<Result<Own<R>, ErrorCode>, Fault>;

impl tcp_create_socket::Host for WasiP2 {
    fn create_tcp_socket(_: &mut Cx, _: IpAddressFamily) -> Created<TcpSocket> {
        Ok(Err(ErrorCode::AccessDenied))
    }
}

impl udp_create_socket::Host for WasiP2 {
    fn create_udp_socket(_: &mut Cx, _: IpAddressFamily) -> Created<UdpSocket> {
        Ok(Err(ErrorCode::AccessDenied))
    }
}

impl instance_network::Host for WasiP2 {
    fn instance_network(cx: &mut Cx) -> Result<Own<Network>, Fault> {
        own(cx.vmctx, Resource::Network)
    }
}

impl network::Host for WasiP2 {
    fn drop_network(cx: &mut Cx, handle: Own<Network>) -> Result<(), Fault> {
        remove_resource(cx.vmctx, handle.index(), Kind::Network)
    }
}

/// The fault of every call on a socket resource: no such resource can exist.
fn no_socket(handle: i32) -> Fault {
    let mut f = unknown_handle("socket", handle);
    f.why
        .push_str(" (no socket can exist: WASI 0.2 programs are granted no network)");
    f
}

/// Methods and drops of a socket resource, given as `fn name(this: handle type, other
/// parameter types...) -> WIT result type;`: each faults with [`no_socket`].
macro_rules! no_socket_methods {
    ($( fn $name:ident($this:ident: $handle:ty $(, $arg:ty)*) -> $ret:ty; )*) => {
        $(
            fn $name(_: &mut Cx, $this: $handle $(, _: $arg)*) -> Result<$ret, Fault> {
                Err(no_socket($this.index()))
            }
        )*
    };
}

impl ip_name_lookup::Host for WasiP2 {
    fn resolve_addresses(
        cx: &mut Cx,
        network: Borrow<Network>,
        _name: String,
    ) -> Created<ResolveAddressStream> {
        with_table(cx.vmctx, |t| {
            t.get(network.index(), Kind::Network).map(drop)
        })?;
        Ok(Err(ErrorCode::PermanentResolverFailure))
    }

    no_socket_methods! {
        fn resolve_address_stream_resolve_next_address(this: Borrow<ResolveAddressStream>)
            -> Result<Option<IpAddress>, ErrorCode>;
        fn resolve_address_stream_subscribe(this: Borrow<ResolveAddressStream>) -> Own<Pollable>;
        fn drop_resolve_address_stream(handle: Own<ResolveAddressStream>) -> ();
    }
}

impl tcp::Host for WasiP2 {
    no_socket_methods! {
        fn tcp_socket_start_bind(this: Borrow<TcpSocket>, Borrow<Network>, IpSocketAddress)
            -> Result<(), ErrorCode>;
        fn tcp_socket_finish_bind(this: Borrow<TcpSocket>) -> Result<(), ErrorCode>;
        fn tcp_socket_start_connect(this: Borrow<TcpSocket>, Borrow<Network>, IpSocketAddress)
            -> Result<(), ErrorCode>;
        fn tcp_socket_finish_connect(this: Borrow<TcpSocket>)
            -> Result<(Own<InputStream>, Own<OutputStream>), ErrorCode>;
        fn tcp_socket_start_listen(this: Borrow<TcpSocket>) -> Result<(), ErrorCode>;
        fn tcp_socket_finish_listen(this: Borrow<TcpSocket>) -> Result<(), ErrorCode>;
        fn tcp_socket_accept(this: Borrow<TcpSocket>)
            -> Result<(Own<TcpSocket>, Own<InputStream>, Own<OutputStream>), ErrorCode>;
        fn tcp_socket_local_address(this: Borrow<TcpSocket>)
            -> Result<IpSocketAddress, ErrorCode>;
        fn tcp_socket_remote_address(this: Borrow<TcpSocket>)
            -> Result<IpSocketAddress, ErrorCode>;
        fn tcp_socket_is_listening(this: Borrow<TcpSocket>) -> bool;
        fn tcp_socket_address_family(this: Borrow<TcpSocket>) -> IpAddressFamily;
        fn tcp_socket_set_listen_backlog_size(this: Borrow<TcpSocket>, u64)
            -> Result<(), ErrorCode>;
        fn tcp_socket_keep_alive_enabled(this: Borrow<TcpSocket>) -> Result<bool, ErrorCode>;
        fn tcp_socket_set_keep_alive_enabled(this: Borrow<TcpSocket>, bool)
            -> Result<(), ErrorCode>;
        fn tcp_socket_keep_alive_idle_time(this: Borrow<TcpSocket>)
            -> Result<Duration, ErrorCode>;
        fn tcp_socket_set_keep_alive_idle_time(this: Borrow<TcpSocket>, Duration)
            -> Result<(), ErrorCode>;
        fn tcp_socket_keep_alive_interval(this: Borrow<TcpSocket>)
            -> Result<Duration, ErrorCode>;
        fn tcp_socket_set_keep_alive_interval(this: Borrow<TcpSocket>, Duration)
            -> Result<(), ErrorCode>;
        fn tcp_socket_keep_alive_count(this: Borrow<TcpSocket>) -> Result<u32, ErrorCode>;
        fn tcp_socket_set_keep_alive_count(this: Borrow<TcpSocket>, u32)
            -> Result<(), ErrorCode>;
        fn tcp_socket_hop_limit(this: Borrow<TcpSocket>) -> Result<u8, ErrorCode>;
        fn tcp_socket_set_hop_limit(this: Borrow<TcpSocket>, u8) -> Result<(), ErrorCode>;
        fn tcp_socket_receive_buffer_size(this: Borrow<TcpSocket>) -> Result<u64, ErrorCode>;
        fn tcp_socket_set_receive_buffer_size(this: Borrow<TcpSocket>, u64)
            -> Result<(), ErrorCode>;
        fn tcp_socket_send_buffer_size(this: Borrow<TcpSocket>) -> Result<u64, ErrorCode>;
        fn tcp_socket_set_send_buffer_size(this: Borrow<TcpSocket>, u64)
            -> Result<(), ErrorCode>;
        fn tcp_socket_subscribe(this: Borrow<TcpSocket>) -> Own<Pollable>;
        fn tcp_socket_shutdown(this: Borrow<TcpSocket>, ShutdownType) -> Result<(), ErrorCode>;
        fn drop_tcp_socket(handle: Own<TcpSocket>) -> ();
    }
}

impl udp::Host for WasiP2 {
    no_socket_methods! {
        fn udp_socket_start_bind(this: Borrow<UdpSocket>, Borrow<Network>, IpSocketAddress)
            -> Result<(), ErrorCode>;
        fn udp_socket_finish_bind(this: Borrow<UdpSocket>) -> Result<(), ErrorCode>;
        fn udp_socket_stream(this: Borrow<UdpSocket>, Option<IpSocketAddress>)
            -> Result<(Own<IncomingDatagramStream>, Own<OutgoingDatagramStream>), ErrorCode>;
        fn udp_socket_local_address(this: Borrow<UdpSocket>)
            -> Result<IpSocketAddress, ErrorCode>;
        fn udp_socket_remote_address(this: Borrow<UdpSocket>)
            -> Result<IpSocketAddress, ErrorCode>;
        fn udp_socket_address_family(this: Borrow<UdpSocket>) -> IpAddressFamily;
        fn udp_socket_unicast_hop_limit(this: Borrow<UdpSocket>) -> Result<u8, ErrorCode>;
        fn udp_socket_set_unicast_hop_limit(this: Borrow<UdpSocket>, u8)
            -> Result<(), ErrorCode>;
        fn udp_socket_receive_buffer_size(this: Borrow<UdpSocket>) -> Result<u64, ErrorCode>;
        fn udp_socket_set_receive_buffer_size(this: Borrow<UdpSocket>, u64)
            -> Result<(), ErrorCode>;
        fn udp_socket_send_buffer_size(this: Borrow<UdpSocket>) -> Result<u64, ErrorCode>;
        fn udp_socket_set_send_buffer_size(this: Borrow<UdpSocket>, u64)
            -> Result<(), ErrorCode>;
        fn udp_socket_subscribe(this: Borrow<UdpSocket>) -> Own<Pollable>;
        fn incoming_datagram_stream_receive(this: Borrow<IncomingDatagramStream>, u64)
            -> Result<Vec<IncomingDatagram>, ErrorCode>;
        fn incoming_datagram_stream_subscribe(this: Borrow<IncomingDatagramStream>)
            -> Own<Pollable>;
        fn outgoing_datagram_stream_check_send(this: Borrow<OutgoingDatagramStream>)
            -> Result<u64, ErrorCode>;
        fn outgoing_datagram_stream_send(this: Borrow<OutgoingDatagramStream>,
            Vec<OutgoingDatagram>) -> Result<u64, ErrorCode>;
        fn outgoing_datagram_stream_subscribe(this: Borrow<OutgoingDatagramStream>)
            -> Own<Pollable>;
        fn drop_udp_socket(handle: Own<UdpSocket>) -> ();
        fn drop_incoming_datagram_stream(handle: Own<IncomingDatagramStream>) -> ();
        fn drop_outgoing_datagram_stream(handle: Own<OutgoingDatagramStream>) -> ();
    }
}
