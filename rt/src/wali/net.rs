//! WALI syscalls: sockets, polling and event descriptors.
//!
//! Socket addresses, `struct pollfd`, `fd_set`, `struct timeval`/`timespec`, socket option
//! values and every flag (`SOCK_*`, `MSG_*`, `SOL_*`/`SO_*`, `EPOLL*`, `EFD_*`) are the same
//! for the guest and for all three hosts, so most calls only check their buffers and pass
//! them on. What is translated: structs holding guest pointers (`struct msghdr` and its
//! iovecs, the `{sigset, size}` pair of `pselect6`, the filter programs of a few socket
//! options), the control messages' header padding, x86-64's packed `struct epoll_event` on
//! other hosts, and lengths the kernel reads from guest memory (copied once, so what was
//! checked is what the kernel uses). `poll`, `select` and `eventfd` exist on x86-64 only and
//! are expressed through `ppoll`, `pselect6` and `eventfd2` elsewhere.
//!
//! Network access itself is not decided here: sockets are whatever the process may open.

mod epoll;
mod msg;
mod poll;
mod sigmask;
mod sock;
mod sockopt;

use super::{host_nr, raw, Call, Errno, Handler, SysResult};

/// The handler for the syscall named `name`, if this family implements it.
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "socket" | "listen" | "shutdown" => super::passthrough,
        "socketpair" => sock::socketpair,
        "bind" | "connect" => sock::bind_or_connect,
        "accept" => sock::accept,
        "accept4" => sock::accept4,
        "getsockname" | "getpeername" => sock::name,
        "sendto" => sock::sendto,
        "recvfrom" => sock::recvfrom,
        "sendmsg" => msg::sendmsg,
        "recvmsg" => msg::recvmsg,
        "getsockopt" => sockopt::getsockopt,
        "setsockopt" => sockopt::setsockopt,
        "poll" => poll::poll,
        "ppoll" => poll::ppoll,
        "select" => poll::select,
        "pselect6" => poll::pselect6,
        "epoll_create1" | "eventfd2" => super::passthrough,
        "epoll_ctl" => epoll::epoll_ctl,
        "epoll_pwait" => epoll::epoll_pwait,
        "eventfd" => epoll::eventfd,
        _ => return None,
    })
}

/// Calls the host's syscall of the same name with `a` (every pointer in it translated).
fn same(call: &Call, a: [u64; 6]) -> SysResult {
    let nr = host_nr(call.syscall).ok_or(Errno(libc::ENOSYS))?;
    raw(nr, a)
}

/// A host pointer the kernel reads through, as a syscall register.
fn reg<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// A host pointer the kernel writes through, as a syscall register.
fn out<T>(p: *mut T) -> u64 {
    p as usize as u64
}

/// A data buffer the kernel reads or writes: checked, and null when empty (the kernel touches
/// nothing then, and an empty buffer may sit anywhere).
fn buffer(call: &Call, ptr: u64, len: u64) -> Result<u64, Errno> {
    if len == 0 {
        return Ok(0);
    }
    call.mem.range(ptr, len).map(|p| reg(p))
}

#[cfg(test)]
mod test_support {
    //! A fake guest for the handlers: memory, a `Call` for any syscall, raw argument arrays.

    use super::super::mem::Mem;
    use super::super::{Args, Call, SysResult};
    use crate::guest_mem::tests::FakeGuest;

    pub struct Guest {
        pub fake: FakeGuest,
    }

    impl Guest {
        pub fn new(size: usize) -> Guest {
            Guest {
                fake: FakeGuest::new(size),
            }
        }

        pub fn call(&mut self, name: &str) -> Call {
            let vmctx = self.fake.vmctx();
            Call {
                vmctx,
                mem: unsafe { Mem::from_vmctx(vmctx) }.unwrap(),
                syscall: wafer_abi::wali::syscall(name).unwrap(),
            }
        }

        /// Runs the handler `name` resolves to with `args` (missing ones 0).
        pub fn run(&mut self, name: &str, args: &[u64]) -> SysResult {
            let call = self.call(name);
            let mut a: Args = [0; 6];
            a[..args.len()].copy_from_slice(args);
            (super::handler(name).unwrap())(&call, &a)
        }

        pub fn put(&mut self, at: usize, bytes: &[u8]) {
            self.fake.bytes[at..at + bytes.len()].copy_from_slice(bytes);
        }

        pub fn put_u32(&mut self, at: usize, v: u32) {
            self.fake.put_u32(at, v);
        }

        pub fn put_u64(&mut self, at: usize, v: u64) {
            self.put(at, &v.to_le_bytes());
        }

        pub fn u32_at(&self, at: usize) -> u32 {
            self.fake.u32_at(at)
        }

        pub fn bytes(&self, at: usize, len: usize) -> &[u8] {
            &self.fake.bytes[at..at + len]
        }
    }

    /// Sign-extends a C int the way the compiled adapter does.
    pub fn cint(v: i32) -> u64 {
        v as i64 as u64
    }

    /// A connected AF_UNIX socket pair of `kind`, closed when dropped.
    pub struct Pair(pub i32, pub i32);

    impl Pair {
        pub fn new(kind: i32) -> Pair {
            let mut sv = [0i32; 2];
            assert_eq!(
                unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, sv.as_mut_ptr()) },
                0
            );
            Pair(sv[0], sv[1])
        }

        pub fn a(&self) -> u64 {
            self.0 as u64
        }

        pub fn b(&self) -> u64 {
            self.1 as u64
        }
    }

    impl Drop for Pair {
        fn drop(&mut self) {
            unsafe {
                libc::close(self.0);
                libc::close(self.1);
            }
        }
    }

    /// Closes a descriptor a handler returned.
    pub fn close(fd: i64) {
        unsafe { libc::close(fd as i32) };
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn every_family_syscall_the_table_implements_has_a_handler() {
        let names = [
            "socket",
            "socketpair",
            "bind",
            "listen",
            "accept",
            "accept4",
            "connect",
            "shutdown",
            "sendto",
            "recvfrom",
            "sendmsg",
            "recvmsg",
            "getsockname",
            "getpeername",
            "getsockopt",
            "setsockopt",
            "poll",
            "ppoll",
            "select",
            "pselect6",
            "epoll_create1",
            "epoll_ctl",
            "epoll_pwait",
            "eventfd",
            "eventfd2",
        ];
        for name in names {
            let s = wafer_abi::wali::syscall(name).unwrap();
            assert!(s.implemented, "{name}");
            assert!(handler(name).is_some(), "{name}");
        }
        assert!(handler("epoll_wait").is_none());
    }

    #[test]
    fn empty_buffers_are_null_and_others_checked() {
        let mut g = Guest::new(0x100);
        let call = g.call("sendto");
        assert_eq!(buffer(&call, 0xFFFF_FFFF, 0), Ok(0));
        assert!(buffer(&call, 0xF0, 0x10).is_ok());
        assert_eq!(buffer(&call, 0xF0, 0x11), Err(Errno(libc::EFAULT)));
        assert_eq!(buffer(&call, 1 << 32, 1), Err(Errno(libc::EFAULT)));
    }

    #[test]
    fn integer_calls_pass_through() {
        let mut g = Guest::new(0x100);
        let fd = g
            .run(
                "socket",
                &[
                    libc::AF_INET as u64,
                    (libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64,
                    0,
                ],
            )
            .unwrap();
        assert_eq!(g.run("listen", &[fd as u64, 1]), Ok(0));
        assert_eq!(
            g.run("shutdown", &[fd as u64, 9999]),
            Err(Errno(libc::EINVAL))
        );
        close(fd);
        assert_eq!(
            g.run("socket", &[9999, libc::SOCK_STREAM as u64, 0]),
            Err(Errno(libc::EAFNOSUPPORT))
        );
        let efd = g.run("eventfd2", &[3, libc::EFD_NONBLOCK as u64]).unwrap();
        close(efd);
        let ep = g
            .run("epoll_create1", &[libc::EPOLL_CLOEXEC as u64])
            .unwrap();
        close(ep);
        assert_eq!(
            g.run("epoll_create1", &[cint(0xDEADBEEFu32 as i32)]),
            Err(Errno(libc::EINVAL))
        );
    }
}
