//! `poll_oneoff`: waiting for clocks and for descriptors to become readable or writable.
//!
//! Clock subscriptions become one deadline on the monotonic clock (an absolute realtime one
//! is converted when the call starts); descriptors go to `ppoll`. The call returns the events
//! that are ready when it wakes: descriptors that are ready, subscriptions that failed (their
//! event carries the error), and every clock whose deadline has passed.
//!
//! The context is locked only while the subscriptions are read: each descriptor's host side is
//! held by its subscription (open even if another thread closes the guest's descriptor), and
//! the wait runs unlocked.

use wafer_abi::VmCtx;

use super::call_unlocked;
use super::clock::{self, MONOTONIC, REALTIME};
use super::ctx::{self, Host, WasiCtx};
use super::errno::{self, Errno};
use super::types::{filetype, rights as r, size};
use crate::guest_mem::GuestMemory;

const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
const EVENTRWFLAGS_HANGUP: u16 = 1;

struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Event {
    fn bytes(&self) -> [u8; size::EVENT as usize] {
        let mut b = [0u8; size::EVENT as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&(self.error as u16).to_le_bytes());
        b[10] = self.kind;
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        b
    }
}

enum Sub {
    /// Fires at this monotonic time.
    Clock { userdata: u64, deadline: u64 },
    /// Waits on `pollfds[index]`, whose descriptor `host` keeps open.
    Fd {
        userdata: u64,
        kind: u8,
        index: usize,
        host: Host,
        regular: bool,
    },
}

/// Reads the subscriptions (each once) with the context locked; a subscription that cannot be
/// waited on becomes an immediate event with its error.
fn subscriptions(
    mem: &GuestMemory,
    ctx: &WasiCtx,
    at: u32,
    count: u32,
    now: u64,
    pollfds: &mut Vec<libc::pollfd>,
    ready: &mut Vec<Event>,
) -> Result<Vec<Sub>, Errno> {
    let mut subs = Vec::new();
    for i in 0..count {
        let s = at + i * size::SUBSCRIPTION as u32;
        let userdata = mem.read_u64(s)?;
        let tag = mem.read_u8(s + 8)?;
        let failed = |error: Errno, kind: u8| Event {
            userdata,
            error,
            kind,
            nbytes: 0,
            flags: 0,
        };
        match tag {
            EVENTTYPE_CLOCK => {
                let id = mem.read_u32(s + 16)?;
                let timeout = mem.read_u64(s + 24)?;
                let flags = mem.read_u16(s + 40)?;
                let deadline = if flags & SUBCLOCKFLAGS_ABSTIME == 0 {
                    Ok(now.saturating_add(timeout))
                } else {
                    match id {
                        MONOTONIC => Ok(timeout),
                        REALTIME => clock::now(libc::CLOCK_REALTIME)
                            .map(|real| now.saturating_add(timeout.saturating_sub(real))),
                        _ => Err(errno::NOTSUP),
                    }
                };
                let deadline = match id {
                    MONOTONIC | REALTIME => deadline,
                    2 | 3 => Err(errno::NOTSUP),
                    _ => Err(errno::INVAL),
                };
                match deadline {
                    Ok(deadline) => subs.push(Sub::Clock { userdata, deadline }),
                    Err(e) => ready.push(failed(e, EVENTTYPE_CLOCK)),
                }
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = mem.read_u32(s + 16)? as i32;
                let host = ctx
                    .get(fd)
                    .and_then(|e| e.hold(r::POLL_FD_READWRITE).map(|h| (h, e.filetype)));
                match host {
                    Ok((host, kind)) => {
                        pollfds.push(libc::pollfd {
                            fd: host.raw(),
                            events: if tag == EVENTTYPE_FD_READ {
                                libc::POLLIN
                            } else {
                                libc::POLLOUT
                            },
                            revents: 0,
                        });
                        subs.push(Sub::Fd {
                            userdata,
                            kind: tag,
                            index: pollfds.len() - 1,
                            host,
                            regular: kind == filetype::REGULAR_FILE,
                        });
                    }
                    Err(e) => ready.push(failed(e, tag)),
                }
            }
            _ => return Err(errno::INVAL),
        }
    }
    Ok(subs)
}

/// Bytes readable from a ready descriptor without blocking, as far as the host tells.
fn readable_bytes(host: i32, regular: bool) -> u64 {
    if regular {
        let st = super::fd::fstat(host)
            .map(|st| st.st_size as u64)
            .unwrap_or(0);
        let pos = unsafe { libc::lseek(host, 0, libc::SEEK_CUR) };
        return st.saturating_sub(pos.max(0) as u64);
    }
    let mut n: libc::c_int = 0;
    if unsafe { libc::ioctl(host, libc::FIONREAD, &mut n) } == 0 {
        n.max(0) as u64
    } else {
        0
    }
}

fn poll(mem: &GuestMemory, input: u32, output: u32, count: u32, nevents: u32) -> Result<(), Errno> {
    if count == 0 {
        return Err(errno::INVAL);
    }
    mem.range(input, count as u64 * size::SUBSCRIPTION)?;
    mem.range(output, count as u64 * size::EVENT)?;
    mem.range(nevents, 4)?;
    let start = clock::now(libc::CLOCK_MONOTONIC)?;
    let mut pollfds = Vec::new();
    let mut ready = Vec::new();
    let subs = ctx::with(|c| subscriptions(mem, c, input, count, start, &mut pollfds, &mut ready))?;
    let earliest = subs
        .iter()
        .filter_map(|s| match s {
            Sub::Clock { deadline, .. } => Some(*deadline),
            Sub::Fd { .. } => None,
        })
        .min();
    loop {
        let now = clock::now(libc::CLOCK_MONOTONIC)?;
        let wait = match earliest {
            _ if !ready.is_empty() => Some(0),
            Some(deadline) => Some(deadline.saturating_sub(now)),
            None => None,
        };
        let ts = wait.map(|ns| libc::timespec {
            tv_sec: (ns / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as _,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        for p in pollfds.iter_mut() {
            p.revents = 0;
        }
        let n = unsafe {
            libc::ppoll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                ts_ptr,
                std::ptr::null(),
            )
        };
        if n < 0 {
            let e = errno::last_raw();
            if e == libc::EINTR {
                continue;
            }
            return Err(errno::from_host(e));
        }
        let now = clock::now(libc::CLOCK_MONOTONIC)?;
        for sub in &subs {
            match *sub {
                Sub::Clock { userdata, deadline } if deadline <= now => ready.push(Event {
                    userdata,
                    error: errno::SUCCESS,
                    kind: EVENTTYPE_CLOCK,
                    nbytes: 0,
                    flags: 0,
                }),
                Sub::Fd {
                    userdata,
                    kind,
                    index,
                    ref host,
                    regular,
                } => {
                    let revents = pollfds[index].revents;
                    if revents == 0 {
                        continue;
                    }
                    let error = if revents & libc::POLLNVAL != 0 {
                        errno::BADF
                    } else if revents & libc::POLLERR != 0
                        && revents & (libc::POLLIN | libc::POLLOUT) == 0
                    {
                        errno::IO
                    } else {
                        errno::SUCCESS
                    };
                    let nbytes = if kind == EVENTTYPE_FD_READ && error == errno::SUCCESS {
                        readable_bytes(host.raw(), regular)
                    } else {
                        0
                    };
                    let flags = if revents & libc::POLLHUP != 0 {
                        EVENTRWFLAGS_HANGUP
                    } else {
                        0
                    };
                    ready.push(Event {
                        userdata,
                        error,
                        kind,
                        nbytes,
                        flags,
                    });
                }
                _ => {}
            }
        }
        if !ready.is_empty() {
            break;
        }
    }
    for (i, event) in ready.iter().enumerate() {
        mem.write_bytes(output + i as u32 * size::EVENT as u32, &event.bytes())?;
    }
    mem.write_u32(nevents, ready.len() as u32)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_wasi_poll_oneoff(
    vmctx: *mut VmCtx,
    input: i32,
    output: i32,
    nsubscriptions: i32,
    nevents: i32,
) -> i32 {
    unsafe {
        call_unlocked(vmctx, |mem| {
            poll(
                mem,
                input as u32,
                output as u32,
                nsubscriptions as u32,
                nevents as u32,
            )
        })
    }
}
