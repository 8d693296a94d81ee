//! `poll_oneoff`: waiting for clocks and for descriptors to become readable or writable, as
//! the native host waits.
//!
//! Clock subscriptions become one deadline on the monotonic clock (an absolute realtime one
//! is converted when the call starts); descriptors go to `ppoll`. The call returns the events
//! ready when it wakes: descriptors that are ready, subscriptions that failed (their event
//! carries the error), and every clock whose deadline has passed.

use alloc::vec::Vec;

use crate::app;
use crate::clock;
use crate::errno::{self, Errno};
use crate::sys::{self, PollFd, Timespec};
use crate::table::{self, Table};
use crate::types::{clockid, event, filetype, offset as off, rights as r, size};

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
    /// Waits on `pollfds[index]`.
    Fd {
        userdata: u64,
        kind: u8,
        index: usize,
        kfd: i32,
        regular: bool,
    },
}

fn field<const N: usize>(s: &[u8], at: u32) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&s[at as usize..at as usize + N]);
    b
}

/// Reads the subscriptions (each once); one that cannot be waited on becomes an immediate
/// event with its error.
fn subscriptions(
    t: &Table,
    at: u32,
    count: u32,
    now: u64,
    pollfds: &mut Vec<PollFd>,
    ready: &mut Vec<Event>,
) -> Result<Vec<Sub>, Errno> {
    let mut subs = Vec::new();
    let mut s = [0u8; size::SUBSCRIPTION as usize];
    for i in 0..count {
        app::read(at + i * size::SUBSCRIPTION as u32, &mut s)?;
        let userdata = u64::from_le_bytes(field(&s, off::SUB_USERDATA));
        let tag = s[off::SUB_TAG as usize];
        let failed = |error: Errno, kind: u8| Event {
            userdata,
            error,
            kind,
            nbytes: 0,
            flags: 0,
        };
        match tag {
            event::CLOCK => {
                let id = u32::from_le_bytes(field(&s, off::SUB_CLOCK_ID));
                let timeout = u64::from_le_bytes(field(&s, off::SUB_CLOCK_TIMEOUT));
                let flags = u16::from_le_bytes(field(&s, off::SUB_CLOCK_FLAGS));
                let deadline = if flags & event::SUBCLOCKFLAGS_ABSTIME == 0 {
                    Ok(now.saturating_add(timeout))
                } else {
                    match id {
                        clockid::MONOTONIC => Ok(timeout),
                        clockid::REALTIME => clock::now(sys::CLOCK_REALTIME)
                            .map(|real| now.saturating_add(timeout.saturating_sub(real))),
                        _ => Err(errno::NOTSUP),
                    }
                };
                let deadline = match id {
                    clockid::MONOTONIC | clockid::REALTIME => deadline,
                    clockid::PROCESS_CPUTIME_ID | clockid::THREAD_CPUTIME_ID => Err(errno::NOTSUP),
                    _ => Err(errno::INVAL),
                };
                match deadline {
                    Ok(deadline) => subs.push(Sub::Clock { userdata, deadline }),
                    Err(e) => ready.push(failed(e, event::CLOCK)),
                }
            }
            event::FD_READ | event::FD_WRITE => {
                let fd = u32::from_le_bytes(field(&s, off::SUB_FD)) as i32;
                let held = t.get(fd).and_then(|e| {
                    e.with_rights(r::POLL_FD_READWRITE)
                        .map(|kfd| (kfd, e.filetype))
                });
                match held {
                    Ok((kfd, kind)) => {
                        pollfds.push(PollFd {
                            fd: kfd,
                            events: if tag == event::FD_READ {
                                sys::POLLIN
                            } else {
                                sys::POLLOUT
                            },
                            revents: 0,
                        });
                        subs.push(Sub::Fd {
                            userdata,
                            kind: tag,
                            index: pollfds.len() - 1,
                            kfd,
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

/// Bytes readable from a ready descriptor without blocking, as far as the kernel tells.
fn readable_bytes(kfd: i32, regular: bool) -> u64 {
    if regular {
        let end = sys::fstat(kfd).map(|st| st.size as u64).unwrap_or(0);
        let pos = sys::lseek(kfd, 0, sys::SEEK_CUR).unwrap_or(0);
        return end.saturating_sub(pos.max(0) as u64);
    }
    sys::fionread(kfd).map_or(0, |n| n.max(0) as u64)
}

pub fn poll_oneoff(
    input: i32,
    output: i32,
    nsubscriptions: i32,
    nevents: i32,
) -> Result<(), Errno> {
    let (input, output, count, nevents) = (
        input as u32,
        output as u32,
        nsubscriptions as u32,
        nevents as u32,
    );
    if count == 0 {
        return Err(errno::INVAL);
    }
    app::range(input, count as u64 * size::SUBSCRIPTION)?;
    app::range(output, count as u64 * size::EVENT)?;
    app::range(nevents, 4)?;
    let start = clock::now(sys::CLOCK_MONOTONIC)?;
    let mut pollfds = Vec::new();
    let mut ready = Vec::new();
    let subs = table::with(|t| subscriptions(t, input, count, start, &mut pollfds, &mut ready))?;
    let earliest = subs
        .iter()
        .filter_map(|s| match s {
            Sub::Clock { deadline, .. } => Some(*deadline),
            Sub::Fd { .. } => None,
        })
        .min();
    loop {
        let now = clock::now(sys::CLOCK_MONOTONIC)?;
        let wait = match earliest {
            _ if !ready.is_empty() => Some(0),
            Some(deadline) => Some(deadline.saturating_sub(now)),
            None => None,
        };
        let ts = wait.map(|ns| Timespec {
            sec: (ns / 1_000_000_000).min(i64::MAX as u64) as i64,
            nsec: (ns % 1_000_000_000) as i64,
        });
        for p in pollfds.iter_mut() {
            p.revents = 0;
        }
        let n = sys::ppoll_raw(&mut pollfds, ts.as_ref());
        if let Some(e) = sys::linux_errno(n) {
            if e == errno::linux::EINTR {
                continue;
            }
            return Err(errno::from_linux(e));
        }
        let now = clock::now(sys::CLOCK_MONOTONIC)?;
        for sub in &subs {
            match *sub {
                Sub::Clock { userdata, deadline } if deadline <= now => ready.push(Event {
                    userdata,
                    error: errno::SUCCESS,
                    kind: event::CLOCK,
                    nbytes: 0,
                    flags: 0,
                }),
                Sub::Fd {
                    userdata,
                    kind,
                    index,
                    kfd,
                    regular,
                } => {
                    let revents = pollfds[index].revents;
                    if revents == 0 {
                        continue;
                    }
                    let error = if revents & sys::POLLNVAL != 0 {
                        errno::BADF
                    } else if revents & sys::POLLERR != 0
                        && revents & (sys::POLLIN | sys::POLLOUT) == 0
                    {
                        errno::IO
                    } else {
                        errno::SUCCESS
                    };
                    let nbytes = if kind == event::FD_READ && error == errno::SUCCESS {
                        readable_bytes(kfd, regular)
                    } else {
                        0
                    };
                    let flags = if revents & sys::POLLHUP != 0 {
                        event::EVENTRWFLAGS_HANGUP
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
    for (i, ev) in ready.iter().enumerate() {
        app::write(output + i as u32 * size::EVENT as u32, &ev.bytes())?;
    }
    app::write_u32(nevents, ready.len() as u32)
}
