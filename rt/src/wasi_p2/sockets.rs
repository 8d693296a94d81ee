//! `wasi:sockets`: the network a WASI 0.2 program may use, which is none. wafer grants
//! sockets only to WALI programs (`--net`); a WASI 0.2 program gets its `instance-network`
//! handle, every attempt to make a socket answers `access-denied` (the error WASI defines
//! for what the sandbox forbids) and every name lookup `permanent-resolver-failure` (as
//! wasmtime answers when lookups are not allowed). Since no socket, datagram stream or
//! address stream can ever exist, every method of one (and its drop) is called with a handle
//! this guest does not own: the trap `unknown handle`, as for any forged handle.
//!
//! | import | wasm parameters | answer |
//! |---|---|---|
//! | `instance-network` | () | a `network` handle |
//! | `create-tcp-socket`, `create-udp-socket` | (address-family, retptr) | `err(access-denied)` |
//! | `resolve-addresses` | (network, name_ptr, name_len, retptr) | `err(permanent-resolver-failure)` |
//! | `[resource-drop]network` | (handle) | the handle is gone |
//! | methods and drops of the socket resources | (self, ...) | trap: unknown handle |

use super::WasiP2;
use wafer_abi::VmCtx;

use super::table::{Kind, Resource};
use super::{drop_resource, insert, with_table, IFACE};
use crate::canon::{fault, finish, lift_string, memory, ret_area, unknown_handle, Area, Fault};
use wafer_abi::TrapKind;

/// Cases of `wasi:sockets/network`'s `error-code`.
const ACCESS_DENIED: u8 = 1;
const PERMANENT_RESOLVER_FAILURE: u8 = 20;

/// Writes `result<_, error-code>`'s `err(code)` into the 8-byte return area at `retptr` (a
/// handle-sized ok payload, the error case at offset 4).
unsafe fn deny(vmctx: *mut VmCtx, retptr: i32, code: u8) -> Result<(), Fault> {
    let mem = unsafe { memory(vmctx) }?;
    let ret = ret_area(&mem, retptr, 8, 4)?;
    let mut a = Area::new(8);
    let at = a.case(0, 1, 4);
    a.u8(at, code);
    a.store(&mem, ret)
}

fn address_family(value: i32) -> Result<(), Fault> {
    match value {
        0 | 1 => Ok(()),
        other => Err(fault(
            TrapKind::MemoryOutOfBounds,
            format!("ip-address-family {other} does not exist"),
        )),
    }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_instance_network(vmctx: *mut VmCtx) -> i32 {
    finish(IFACE, insert(vmctx, Resource::Network))
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_drop_network(vmctx: *mut VmCtx, handle: i32) {
    drop_resource(vmctx, handle, Kind::Network)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_create_socket(vmctx: *mut VmCtx, family: i32, retptr: i32) {
    finish(
        IFACE,
        address_family(family).and_then(|()| unsafe { deny(vmctx, retptr, ACCESS_DENIED) }),
    )
}

#[no_mangle]
pub unsafe extern "C" fn wafer_p2_resolve_addresses(
    vmctx: *mut VmCtx,
    network: i32,
    name_ptr: i32,
    name_len: i32,
    retptr: i32,
) {
    let run = || -> Result<(), Fault> {
        with_table(vmctx, |t| t.get(network, Kind::Network).map(drop))?;
        lift_string(&unsafe { memory(vmctx) }?, name_ptr, name_len)?;
        unsafe { deny(vmctx, retptr, PERMANENT_RESOLVER_FAILURE) }
    };
    finish(IFACE, run())
}

/// The fault of every call on a socket resource: no such resource can exist.
fn no_socket(handle: i32) -> Fault {
    let mut f = unknown_handle("socket", handle);
    f.why
        .push_str(" (no socket can exist: WASI 0.2 programs are granted no network)");
    f
}

/// Methods and drops of `tcp-socket`, `udp-socket`, `incoming-datagram-stream`,
/// `outgoing-datagram-stream` and `resolve-address-stream`, one symbol per flat signature.
macro_rules! no_socket_methods {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? ; )*) => {
        $(
            #[no_mangle]
            pub unsafe extern "C" fn $name(_vmctx: *mut VmCtx, this: i32 $(, $arg: $ty)*) $(-> $ret)? {
                $( let _ = $arg; )*
                finish(IFACE, Err(no_socket(this)))
            }
        )*
    };
}

no_socket_methods! {
    wafer_p2_no_socket_drop();
    wafer_p2_no_socket_get() -> i32;
    wafer_p2_no_socket_ret(a: i32);
    wafer_p2_no_socket_set32(a: i32, b: i32);
    wafer_p2_no_socket_set64(a: i64, b: i32);
    wafer_p2_no_socket_list(a: i32, b: i32, c: i32);
    wafer_p2_no_socket_address(
        a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32, i: i32, j: i32,
        k: i32, l: i32, m: i32, n: i32
    );
}

impl crate::glue::wasi_sockets::network::Host for WasiP2 {}
impl crate::glue::wasi_sockets::instance_network::Host for WasiP2 {}
impl crate::glue::wasi_sockets::ip_name_lookup::Host for WasiP2 {}
impl crate::glue::wasi_sockets::tcp::Host for WasiP2 {}
impl crate::glue::wasi_sockets::tcp_create_socket::Host for WasiP2 {}
impl crate::glue::wasi_sockets::udp::Host for WasiP2 {}
impl crate::glue::wasi_sockets::udp_create_socket::Host for WasiP2 {}
