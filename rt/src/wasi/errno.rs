//! WASI errno values (`wasi_snapshot_preview1` `errno`, numbered as the witx defines them) and
//! the mapping from the host's.

pub type Errno = i32;

macro_rules! errnos {
    ($( $name:ident = $value:literal, $host:ident; )*) => {
        $( pub const $name: Errno = $value; )*

        /// Maps a host `errno` to WASI's numbering; anything without a WASI counterpart is
        /// `EIO`.
        pub fn from_host(e: i32) -> Errno {
            $( if e == libc::$host { return $name; } )*
            IO
        }
    };
}

pub const SUCCESS: Errno = 0;
errnos! {
    TOOBIG = 1, E2BIG;
    ACCES = 2, EACCES;
    ADDRINUSE = 3, EADDRINUSE;
    ADDRNOTAVAIL = 4, EADDRNOTAVAIL;
    AFNOSUPPORT = 5, EAFNOSUPPORT;
    AGAIN = 6, EAGAIN;
    ALREADY = 7, EALREADY;
    BADF = 8, EBADF;
    BADMSG = 9, EBADMSG;
    BUSY = 10, EBUSY;
    CANCELED = 11, ECANCELED;
    CHILD = 12, ECHILD;
    CONNABORTED = 13, ECONNABORTED;
    CONNREFUSED = 14, ECONNREFUSED;
    CONNRESET = 15, ECONNRESET;
    DEADLK = 16, EDEADLK;
    DESTADDRREQ = 17, EDESTADDRREQ;
    DOM = 18, EDOM;
    DQUOT = 19, EDQUOT;
    EXIST = 20, EEXIST;
    FAULT = 21, EFAULT;
    FBIG = 22, EFBIG;
    HOSTUNREACH = 23, EHOSTUNREACH;
    IDRM = 24, EIDRM;
    ILSEQ = 25, EILSEQ;
    INPROGRESS = 26, EINPROGRESS;
    INTR = 27, EINTR;
    INVAL = 28, EINVAL;
    IO = 29, EIO;
    ISCONN = 30, EISCONN;
    ISDIR = 31, EISDIR;
    LOOP = 32, ELOOP;
    MFILE = 33, EMFILE;
    MLINK = 34, EMLINK;
    MSGSIZE = 35, EMSGSIZE;
    MULTIHOP = 36, EMULTIHOP;
    NAMETOOLONG = 37, ENAMETOOLONG;
    NETDOWN = 38, ENETDOWN;
    NETRESET = 39, ENETRESET;
    NETUNREACH = 40, ENETUNREACH;
    NFILE = 41, ENFILE;
    NOBUFS = 42, ENOBUFS;
    NODEV = 43, ENODEV;
    NOENT = 44, ENOENT;
    NOEXEC = 45, ENOEXEC;
    NOLCK = 46, ENOLCK;
    NOLINK = 47, ENOLINK;
    NOMEM = 48, ENOMEM;
    NOMSG = 49, ENOMSG;
    NOPROTOOPT = 50, ENOPROTOOPT;
    NOSPC = 51, ENOSPC;
    NOSYS = 52, ENOSYS;
    NOTCONN = 53, ENOTCONN;
    NOTDIR = 54, ENOTDIR;
    NOTEMPTY = 55, ENOTEMPTY;
    NOTRECOVERABLE = 56, ENOTRECOVERABLE;
    NOTSOCK = 57, ENOTSOCK;
    NOTSUP = 58, EOPNOTSUPP;
    NOTTY = 59, ENOTTY;
    NXIO = 60, ENXIO;
    OVERFLOW = 61, EOVERFLOW;
    OWNERDEAD = 62, EOWNERDEAD;
    PERM = 63, EPERM;
    PIPE = 64, EPIPE;
    PROTO = 65, EPROTO;
    PROTONOSUPPORT = 66, EPROTONOSUPPORT;
    PROTOTYPE = 67, EPROTOTYPE;
    RANGE = 68, ERANGE;
    ROFS = 69, EROFS;
    SPIPE = 70, ESPIPE;
    SRCH = 71, ESRCH;
    STALE = 72, ESTALE;
    TIMEDOUT = 73, ETIMEDOUT;
    TXTBSY = 74, ETXTBSY;
    XDEV = 75, EXDEV;
}
/// The descriptor lacks the right the call needs, or a path leaves its directory.
pub const NOTCAPABLE: Errno = 76;

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
