//! WASI errno values (`wafer_abi::wasi_p1::errno`, shared with wafer's WASI module over WALI)
//! and the host calls' error handling.

pub use wafer_abi::wasi_p1::errno::*;

/// Maps a host `errno` to WASI's numbering (Linux numbers its errors alike on every target
/// wafer supports); anything without a WASI counterpart is `EIO`.
pub fn from_host(e: i32) -> Errno {
    from_linux(e)
}

/// The last host error, in WASI's numbering.
pub fn last_host() -> Errno {
    from_host(last_raw())
}

/// The last host `errno` as the host numbers it.
pub fn last_raw() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Turns a libc return value into a result (`-1` is the host's `errno`).
pub fn check<T: Copy + PartialOrd + Default>(ret: T) -> Result<T, Errno> {
    if ret < T::default() {
        Err(last_host())
    } else {
        Ok(ret)
    }
}

/// Runs a libc call again while it fails with `EINTR`.
pub fn retry<T: Copy + PartialOrd + Default>(mut call: impl FnMut() -> T) -> Result<T, Errno> {
    loop {
        let ret = call();
        if ret >= T::default() {
            return Ok(ret);
        }
        let e = last_raw();
        if e != libc::EINTR {
            return Err(from_host(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_numbers_its_errors_as_the_shared_table_expects() {
        let pairs = [
            (libc::E2BIG, TOOBIG),
            (libc::EACCES, ACCES),
            (libc::EADDRINUSE, ADDRINUSE),
            (libc::EADDRNOTAVAIL, ADDRNOTAVAIL),
            (libc::EAFNOSUPPORT, AFNOSUPPORT),
            (libc::EAGAIN, AGAIN),
            (libc::EALREADY, ALREADY),
            (libc::EBADF, BADF),
            (libc::EBADMSG, BADMSG),
            (libc::EBUSY, BUSY),
            (libc::ECANCELED, CANCELED),
            (libc::ECHILD, CHILD),
            (libc::ECONNABORTED, CONNABORTED),
            (libc::ECONNREFUSED, CONNREFUSED),
            (libc::ECONNRESET, CONNRESET),
            (libc::EDEADLK, DEADLK),
            (libc::EDESTADDRREQ, DESTADDRREQ),
            (libc::EDOM, DOM),
            (libc::EDQUOT, DQUOT),
            (libc::EEXIST, EXIST),
            (libc::EFAULT, FAULT),
            (libc::EFBIG, FBIG),
            (libc::EHOSTUNREACH, HOSTUNREACH),
            (libc::EIDRM, IDRM),
            (libc::EILSEQ, ILSEQ),
            (libc::EINPROGRESS, INPROGRESS),
            (libc::EINTR, INTR),
            (libc::EINVAL, INVAL),
            (libc::EIO, IO),
            (libc::EISCONN, ISCONN),
            (libc::EISDIR, ISDIR),
            (libc::ELOOP, LOOP),
            (libc::EMFILE, MFILE),
            (libc::EMLINK, MLINK),
            (libc::EMSGSIZE, MSGSIZE),
            (libc::EMULTIHOP, MULTIHOP),
            (libc::ENAMETOOLONG, NAMETOOLONG),
            (libc::ENETDOWN, NETDOWN),
            (libc::ENETRESET, NETRESET),
            (libc::ENETUNREACH, NETUNREACH),
            (libc::ENFILE, NFILE),
            (libc::ENOBUFS, NOBUFS),
            (libc::ENODEV, NODEV),
            (libc::ENOENT, NOENT),
            (libc::ENOEXEC, NOEXEC),
            (libc::ENOLCK, NOLCK),
            (libc::ENOLINK, NOLINK),
            (libc::ENOMEM, NOMEM),
            (libc::ENOMSG, NOMSG),
            (libc::ENOPROTOOPT, NOPROTOOPT),
            (libc::ENOSPC, NOSPC),
            (libc::ENOSYS, NOSYS),
            (libc::ENOTCONN, NOTCONN),
            (libc::ENOTDIR, NOTDIR),
            (libc::ENOTEMPTY, NOTEMPTY),
            (libc::ENOTRECOVERABLE, NOTRECOVERABLE),
            (libc::ENOTSOCK, NOTSOCK),
            (libc::EOPNOTSUPP, NOTSUP),
            (libc::ENOTTY, NOTTY),
            (libc::ENXIO, NXIO),
            (libc::EOVERFLOW, OVERFLOW),
            (libc::EOWNERDEAD, OWNERDEAD),
            (libc::EPERM, PERM),
            (libc::EPIPE, PIPE),
            (libc::EPROTO, PROTO),
            (libc::EPROTONOSUPPORT, PROTONOSUPPORT),
            (libc::EPROTOTYPE, PROTOTYPE),
            (libc::ERANGE, RANGE),
            (libc::EROFS, ROFS),
            (libc::ESPIPE, SPIPE),
            (libc::ESRCH, SRCH),
            (libc::ESTALE, STALE),
            (libc::ETIMEDOUT, TIMEDOUT),
            (libc::ETXTBSY, TXTBSY),
            (libc::EXDEV, XDEV),
        ];
        for (host, wasi) in pairs {
            assert_eq!(from_host(host), wasi, "host errno {host}");
        }
        assert_eq!(from_host(libc::ENOTSUP), NOTSUP);
        assert_eq!(from_host(libc::EWOULDBLOCK), AGAIN);
        assert_eq!(from_host(4095), IO);
    }
}
