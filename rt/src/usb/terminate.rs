//! Told to end (SIGTERM, SIGINT, SIGHUP) while using USB, a driver leaves the devices as it
//! found them: its transfers still in flight are cancelled (the backends' wait loops see
//! [`wafer_devices::usb::shutdown`] and give them back `interrupted`), the interfaces whose
//! kernel driver wafer detached are released, the device reset if a transfer was cut short
//! (a mass-storage stick otherwise waits for the rest of its command), and that driver
//! attached again; the process then ends by the same signal, as it would have without any of
//! this.
//!
//! Installed when the driver first opens the USB backend. The handler only writes the signal
//! number to a pipe (all it may do); a watcher thread does the rest. A wait still in flight
//! after two seconds (a backend that did not come back) does not hold up the exit.

use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use wafer_devices::usb::host::Handle;
use wafer_devices::usb::shutdown;
use wafer_devices::usb::trace::trace;

use super::{lock_handle, SharedHandle};

const SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

static INSTALL: Once = Once::new();
static WRITE_END: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

type Detached = (Weak<Mutex<Option<Box<dyn Handle>>>>, Vec<u8>);

/// Open devices and the interfaces wafer detached the kernel driver of.
static DETACHED: Mutex<Vec<Detached>> = Mutex::new(Vec::new());

/// Installs the handlers and the watcher, once per process.
pub fn install() {
    INSTALL.call_once(|| {
        let mut fds = [0i32; 2];
        // SAFETY: plain descriptor and signal calls with valid arguments.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return;
            }
            WRITE_END.store(fds[1], std::sync::atomic::Ordering::SeqCst);
            let read_end = fds[0];
            if std::thread::Builder::new()
                .name("wafer-usb-signals".into())
                .spawn(move || watch(read_end))
                .is_err()
            {
                return;
            }
            for sig in SIGNALS {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Remembers that `interfaces` of `handle` had their kernel driver detached by wafer.
pub fn detached(handle: &SharedHandle, interfaces: &[u8]) {
    if interfaces.is_empty() {
        return;
    }
    let mut list = DETACHED.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|(h, _)| h.strong_count() > 0 && !std::ptr::eq(h.as_ptr(), Arc::as_ptr(handle)));
    list.push((Arc::downgrade(handle), interfaces.to_vec()));
}

/// At the start of every USB call, and after a transfer wait (neither holds a lock the
/// watcher needs): if the process is ending, the guest makes no more USB calls and does not
/// get the answer of a transfer cancelled to end the process; the thread waits for the end.
pub fn hold_if_ending() {
    if shutdown::terminating() {
        loop {
            std::thread::park();
        }
    }
}

extern "C" fn on_signal(sig: i32) {
    let byte = sig as u8;
    let fd = WRITE_END.load(std::sync::atomic::Ordering::Relaxed);
    // SAFETY: write is async-signal-safe; a full pipe only loses a repeated signal.
    unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
}

fn watch(read_end: i32) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into a local.
        let n = unsafe { libc::read(read_end, &mut byte as *mut u8 as *mut libc::c_void, 1) };
        if n == 1 {
            break;
        }
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return;
    }
    let sig = i32::from(byte);
    trace(|| format!("signal {sig}: cancelling transfers in flight"));
    shutdown::begin();
    let deadline = Instant::now() + Duration::from_secs(2);
    while shutdown::waiting() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    // A call that had begun before the signal (a control transfer, a descriptor read) ends
    // within a moment; no new one starts (`hold_if_ending` at every entry).
    std::thread::sleep(Duration::from_millis(20));
    restore();
    // SAFETY: back to the default action, then the same signal ends the process.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// Releases the interfaces wafer detached and attaches their kernel driver again.
fn restore() {
    let list = std::mem::take(&mut *DETACHED.lock().unwrap_or_else(|e| e.into_inner()));
    for (handle, interfaces) in list {
        let Some(handle) = handle.upgrade() else {
            continue;
        };
        let mut guard = lock_handle(&handle);
        let Some(h) = guard.as_mut() else {
            // Closed already, which gave the kernel its interfaces back.
            continue;
        };
        for &i in &interfaces {
            let _ = h.release_interface(i);
        }
        if shutdown::cancelled_any() {
            // A transfer cut short may leave the device mid-exchange (a mass-storage command
            // without its status), which the kernel's driver would then wait on forever.
            let r = h.reset();
            trace(|| format!("exit: a transfer was cancelled: resetting the device: {r:?}"));
        }
        for i in interfaces {
            let r = h.attach_kernel_driver(i);
            trace(|| format!("exit: attaching the kernel driver of interface {i}: {r:?}"));
        }
    }
}
