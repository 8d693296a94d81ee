//! `struct epoll_event`: `{u32 events; u64 data}`. x86-64's kernel declares it packed (12
//! bytes, `data` at offset 4), and so does every WALI guest; aarch64 and riscv64 use the
//! natural layout (16 bytes, `data` at offset 8). Event bits (`EPOLLIN`, `EPOLLET`, ...) are
//! the same everywhere.

/// Size of one guest `struct epoll_event`.
pub const GUEST_SIZE: u64 = 12;

/// Offset of `data` in the guest's struct.
const GUEST_DATA: usize = 4;

/// Whether the host's `struct epoll_event` is the guest's, byte for byte (then arrays of them
/// may be handed to the kernel in place).
pub const SAME_LAYOUT: bool = std::mem::size_of::<libc::epoll_event>() as u64 == GUEST_SIZE;

/// `EP_MAX_EVENTS` as the guest's (x86-64) kernel computes it: larger `maxevents` is `EINVAL`.
pub const GUEST_MAX_EVENTS: i32 = i32::MAX / GUEST_SIZE as i32;

/// The host struct for guest bytes.
pub fn to_host(guest: &[u8; GUEST_SIZE as usize]) -> libc::epoll_event {
    let mut events = [0u8; 4];
    let mut data = [0u8; 8];
    events.copy_from_slice(&guest[..GUEST_DATA]);
    data.copy_from_slice(&guest[GUEST_DATA..]);
    libc::epoll_event {
        events: u32::from_le_bytes(events),
        u64: u64::from_le_bytes(data),
    }
}

/// The guest bytes for a host struct.
pub fn to_guest(host: &libc::epoll_event) -> [u8; GUEST_SIZE as usize] {
    // By value: the host struct may be packed.
    let (events, data) = (host.events, host.u64);
    let mut out = [0u8; GUEST_SIZE as usize];
    out[..GUEST_DATA].copy_from_slice(&events.to_le_bytes());
    out[GUEST_DATA..].copy_from_slice(&data.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_host_layout() {
        let bytes = [1, 0, 0, 0x80, 8, 7, 6, 5, 4, 3, 2, 1];
        let host = to_host(&bytes);
        assert_eq!({ host.events }, 0x8000_0001);
        assert_eq!({ host.u64 }, 0x0102_0304_0506_0708);
        assert_eq!(to_guest(&host), bytes);
        assert_eq!(SAME_LAYOUT, cfg!(target_arch = "x86_64"));
        assert_eq!(GUEST_MAX_EVENTS, 178_956_970);
    }
}
