//! Sockets, polling and event descriptors: nothing differs on the three hosts, and the
//! compile-time checks at the bottom keep it so.
//! - socket addresses: `sa_family_t` is 16 bits and `sockaddr_storage` 128 bytes everywhere,
//!   `sockaddr_in`/`sockaddr_in6`/`sockaddr_un` have one layout;
//! - flags: `SOCK_NONBLOCK`/`SOCK_CLOEXEC` (and so `EFD_*`, `EPOLL_CLOEXEC`), `MSG_*`, the
//!   generic `SOL_SOCKET`/`SO_*` numbers (x86-64 uses asm-generic's too; only alpha, mips,
//!   parisc and sparc differ), `SCM_*`, `POLL*`, `EPOLL*` events;
//! - option and control-message values: `int`, `struct linger`, `struct ucred`,
//!   `struct timeval` (`SO_RCVTIMEO`, `SCM_TIMESTAMP`: two 64-bit fields), the kernel's
//!   16-byte `struct cmsghdr` (the guest's with zero padding, see `net::msg`);
//! - `struct pollfd` (8 bytes), `fd_set` (64-bit words), `struct timespec`.
//!
//! What does differ is elsewhere: `struct epoll_event` ([`super::epoll`]) and the structs
//! holding guest pointers (`msghdr`, `iovec`, `sock_fprog`), which are 32-bit-pointer
//! layouts on every host.

/// The guest's (x86-64) values.
pub mod guest {
    pub const SOCK_NONBLOCK: i32 = 0o4000;
    pub const SOCK_CLOEXEC: i32 = 0o2000000;
    pub const SOL_SOCKET: i32 = 1;
    pub const SO_TYPE: i32 = 3;
    pub const SO_REUSEADDR: i32 = 2;
    pub const SO_RCVBUF: i32 = 8;
    pub const SO_RCVTIMEO: i32 = 20;
    pub const SO_SNDTIMEO: i32 = 21;
    pub const SO_ATTACH_FILTER: i32 = 26;
    pub const SO_TIMESTAMP: i32 = 29;
    pub const SO_ATTACH_REUSEPORT_CBPF: i32 = 51;
    pub const SCM_RIGHTS: i32 = 1;
    pub const SCM_CREDENTIALS: i32 = 2;
    pub const MSG_PEEK: i32 = 2;
    pub const MSG_DONTWAIT: i32 = 0x40;
    pub const MSG_NOSIGNAL: i32 = 0x4000;
    pub const MSG_CMSG_CLOEXEC: i32 = 0x4000_0000;
    pub const POLLIN: i16 = 1;
    pub const POLLOUT: i16 = 4;
    pub const EPOLLIN: u32 = 1;
    pub const EPOLLET: u32 = 1 << 31;
    pub const EPOLL_CTL_ADD: i32 = 1;
    pub const EPOLL_CTL_DEL: i32 = 2;
    pub const EPOLL_CTL_MOD: i32 = 3;
    pub const EFD_SEMAPHORE: i32 = 1;
    pub const SOCKADDR_STORAGE: usize = 128;
}

const _: () = {
    use core::mem::size_of;
    assert!(libc::SOCK_NONBLOCK == guest::SOCK_NONBLOCK);
    assert!(libc::SOCK_CLOEXEC == guest::SOCK_CLOEXEC);
    assert!(libc::EFD_NONBLOCK == guest::SOCK_NONBLOCK);
    assert!(libc::EFD_CLOEXEC == guest::SOCK_CLOEXEC);
    assert!(libc::EPOLL_CLOEXEC == guest::SOCK_CLOEXEC);
    assert!(libc::EFD_SEMAPHORE == guest::EFD_SEMAPHORE);
    assert!(libc::SOL_SOCKET == guest::SOL_SOCKET);
    assert!(libc::SO_TYPE == guest::SO_TYPE);
    assert!(libc::SO_REUSEADDR == guest::SO_REUSEADDR);
    assert!(libc::SO_RCVBUF == guest::SO_RCVBUF);
    assert!(libc::SO_RCVTIMEO == guest::SO_RCVTIMEO);
    assert!(libc::SO_SNDTIMEO == guest::SO_SNDTIMEO);
    assert!(libc::SO_ATTACH_FILTER == guest::SO_ATTACH_FILTER);
    assert!(libc::SO_TIMESTAMP == guest::SO_TIMESTAMP);
    assert!(libc::SO_ATTACH_REUSEPORT_CBPF == guest::SO_ATTACH_REUSEPORT_CBPF);
    assert!(libc::SCM_RIGHTS == guest::SCM_RIGHTS);
    assert!(libc::SCM_CREDENTIALS == guest::SCM_CREDENTIALS);
    assert!(libc::MSG_PEEK == guest::MSG_PEEK);
    assert!(libc::MSG_DONTWAIT == guest::MSG_DONTWAIT);
    assert!(libc::MSG_NOSIGNAL == guest::MSG_NOSIGNAL);
    assert!(libc::MSG_CMSG_CLOEXEC == guest::MSG_CMSG_CLOEXEC);
    assert!(libc::POLLIN == guest::POLLIN);
    assert!(libc::POLLOUT == guest::POLLOUT);
    assert!(libc::EPOLLIN as u32 == guest::EPOLLIN);
    assert!(libc::EPOLLET as u32 == guest::EPOLLET);
    assert!(libc::EPOLL_CTL_ADD == guest::EPOLL_CTL_ADD);
    assert!(libc::EPOLL_CTL_DEL == guest::EPOLL_CTL_DEL);
    assert!(libc::EPOLL_CTL_MOD == guest::EPOLL_CTL_MOD);
    assert!(size_of::<libc::sa_family_t>() == 2);
    assert!(size_of::<libc::sockaddr_storage>() == guest::SOCKADDR_STORAGE);
    assert!(size_of::<libc::sockaddr_in>() == 16);
    assert!(size_of::<libc::sockaddr_in6>() == 28);
    assert!(size_of::<libc::sockaddr_un>() == 110);
    assert!(size_of::<libc::pollfd>() == 8);
    assert!(size_of::<libc::cmsghdr>() == 16);
    assert!(size_of::<libc::timeval>() == 16);
    assert!(size_of::<libc::timespec>() == 16);
    assert!(size_of::<libc::linger>() == 8);
    assert!(size_of::<libc::ucred>() == 12);
};
