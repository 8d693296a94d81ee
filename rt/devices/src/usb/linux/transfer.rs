//! One transfer over libusb's asynchronous API: submitted at once, completed while someone
//! runs libusb's event loop. libusb enforces the timeout itself (the transfer completes as
//! timed out) and cancels for us, so WASI-USB's submit → await/cancel maps onto it directly.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use rusb::constants::*;
use rusb::{ffi, Context, DeviceHandle, UsbContext};

use super::super::host::Pending;
use super::super::types::{IsoPacket, IsoStatus, TransferRequest, TransferType, UsbError};
use super::error_from_code;

/// How long one round of event handling may block: short enough that an error of the event
/// loop is noticed, long enough not to spin.
const EVENT_ROUND_US: i64 = 100_000;
/// Rounds a dropped, cancelled transfer is given to come back before it is leaked: freeing it
/// while the kernel may still write into its buffer is worse than leaking it.
const DROP_ROUNDS: u32 = 20;

pub struct LibusbTransfer {
    transfer: *mut ffi::libusb_transfer,
    /// Written 1 by the completion callback; libusb reads it through the pointer it was given.
    completed: Box<AtomicI32>,
    /// The transfer's buffer (setup packet first for control); libusb writes into it until
    /// completion, so it lives as long as the transfer.
    buffer: Vec<u8>,
    setup_len: usize,
    is_in: bool,
    iso: bool,
    context: Context,
    /// Keeps the device open while the transfer is in flight, even if the guest closes it.
    _handle: Arc<DeviceHandle<Context>>,
    /// Completed and its outcome handed out: the transfer is only waiting to be freed.
    reaped: bool,
    /// How each isochronous packet ended, once completed.
    packets: Vec<IsoPacket>,
}

// SAFETY: libusb transfers and contexts may be used from any thread; the raw pointers are
// owned by this value alone.
unsafe impl Send for LibusbTransfer {}

extern "system" fn on_complete(transfer: *mut ffi::libusb_transfer) {
    // SAFETY: `user_data` is the `completed` box of the owning LibusbTransfer, which outlives
    // the transfer's flight (it is freed only after completion). The callback runs on
    // whichever thread is handling libusb's events, so the flag is atomic: the waiter's
    // Acquire load sees the transfer's final state once it sees the flag.
    unsafe { (*((*transfer).user_data as *const AtomicI32)).store(1, Ordering::Release) };
}

fn libusb_type(request: &TransferRequest) -> u8 {
    match request.kind {
        TransferType::Control => LIBUSB_TRANSFER_TYPE_CONTROL,
        TransferType::Bulk if request.stream_id != 0 => LIBUSB_TRANSFER_TYPE_BULK_STREAM,
        TransferType::Bulk => LIBUSB_TRANSFER_TYPE_BULK,
        TransferType::Interrupt => LIBUSB_TRANSFER_TYPE_INTERRUPT,
        TransferType::Isochronous => LIBUSB_TRANSFER_TYPE_ISOCHRONOUS,
    }
}

impl LibusbTransfer {
    pub fn submit(
        handle: &Arc<DeviceHandle<Context>>,
        request: TransferRequest,
    ) -> Result<LibusbTransfer, UsbError> {
        let is_in = request.is_in();
        let iso_packets = match request.kind {
            TransferType::Isochronous => request.iso_packets.max(1),
            _ => 0,
        };
        let iso_packets = c_int::try_from(iso_packets).map_err(|_| UsbError::InvalidParam)?;
        let (setup_len, endpoint) = match request.setup {
            Some(_) => (8, 0),
            None => (0, request.endpoint),
        };
        let data_len = request.length as usize;
        let mut buffer = vec![0u8; setup_len + data_len];
        if let Some(setup) = request.setup {
            let mut s = setup;
            s.length = u16::try_from(data_len).map_err(|_| UsbError::InvalidParam)?;
            buffer[..8].copy_from_slice(&s.to_bytes());
        }
        if !is_in {
            let n = request.data.len().min(data_len);
            buffer[setup_len..setup_len + n].copy_from_slice(&request.data[..n]);
        }
        let length = c_int::try_from(buffer.len()).map_err(|_| UsbError::NoMem)?;
        // SAFETY: plain allocation; null is checked.
        let transfer = unsafe { ffi::libusb_alloc_transfer(iso_packets) };
        if transfer.is_null() {
            return Err(UsbError::NoMem);
        }
        let mut t = LibusbTransfer {
            transfer,
            completed: Box::new(AtomicI32::new(0)),
            buffer,
            setup_len,
            is_in,
            iso: iso_packets > 0,
            context: handle.context().clone(),
            _handle: Arc::clone(handle),
            reaped: true,
            packets: Vec::new(),
        };
        // SAFETY: `transfer` is ours and not yet submitted; every pointer stored in it (buffer,
        // completion flag, device handle) is owned by `t` and outlives the flight.
        unsafe {
            let tr = &mut *transfer;
            tr.dev_handle = handle.as_raw();
            tr.flags = 0;
            tr.endpoint = endpoint;
            tr.transfer_type = libusb_type(&request);
            tr.timeout = request.timeout_ms;
            tr.length = length;
            tr.callback = on_complete;
            tr.user_data = t.completed.as_ptr() as *mut _;
            tr.buffer = t.buffer.as_mut_ptr();
            tr.num_iso_packets = iso_packets;
            if iso_packets > 0 {
                // Equal packets, the remainder in the last: what libusb_set_iso_packet_lengths
                // does for a length that divides evenly.
                let n = iso_packets as usize;
                let each = data_len / n;
                let packets = tr.iso_packet_desc.as_mut_ptr();
                for i in 0..n {
                    let len = if i + 1 == n {
                        data_len - each * (n - 1)
                    } else {
                        each
                    };
                    (*packets.add(i)).length = len as u32;
                }
            }
            if tr.transfer_type == LIBUSB_TRANSFER_TYPE_BULK_STREAM {
                ffi::libusb_transfer_set_stream_id(transfer, request.stream_id);
            }
        }
        // SAFETY: fully initialised above.
        let rc = unsafe { ffi::libusb_submit_transfer(transfer) };
        if rc < 0 {
            return Err(error_from_code(rc));
        }
        t.reaped = false;
        Ok(t)
    }

    fn is_complete(&self) -> bool {
        self.completed.load(Ordering::Acquire) != 0
    }

    /// One round of libusb's event loop, returning early once this transfer completes.
    fn handle_events(&mut self, round_us: i64) -> Result<(), UsbError> {
        let tv = libc::timeval {
            tv_sec: (round_us / 1_000_000) as _,
            tv_usec: (round_us % 1_000_000) as _,
        };
        // SAFETY: the context is live (we hold a reference); `completed` outlives the call.
        let rc = unsafe {
            ffi::libusb_handle_events_timeout_completed(
                self.context.as_raw(),
                &tv,
                self.completed.as_ptr() as *mut c_int,
            )
        };
        match rc {
            0 | LIBUSB_ERROR_INTERRUPTED | LIBUSB_ERROR_TIMEOUT => Ok(()),
            e => Err(error_from_code(e)),
        }
    }

    /// The outcome of a completed transfer.
    fn outcome(&mut self) -> Result<Vec<u8>, UsbError> {
        // SAFETY: completed, so libusb no longer touches the transfer.
        let tr = unsafe { &*self.transfer };
        match tr.status {
            LIBUSB_TRANSFER_COMPLETED => {}
            LIBUSB_TRANSFER_TIMED_OUT => return Err(UsbError::Timeout),
            LIBUSB_TRANSFER_CANCELLED => return Err(UsbError::Interrupted),
            LIBUSB_TRANSFER_STALL => return Err(UsbError::Pipe),
            LIBUSB_TRANSFER_NO_DEVICE => return Err(UsbError::NoDevice),
            LIBUSB_TRANSFER_OVERFLOW => return Err(UsbError::Overflow),
            _ => return Err(UsbError::Io),
        }
        if !self.is_in {
            return Ok(Vec::new());
        }
        if self.iso {
            // Each packet's bytes sit at its slot in the buffer; the guest gets them packed.
            let mut out = Vec::new();
            let mut at = 0usize;
            // SAFETY: `num_iso_packets` descriptors follow the transfer (allocated so).
            let packets = unsafe {
                std::slice::from_raw_parts(
                    tr.iso_packet_desc.as_ptr(),
                    tr.num_iso_packets.max(0) as usize,
                )
            };
            for p in packets {
                let got = (p.actual_length as usize).min(p.length as usize);
                let status = iso_status(p.status);
                if status == IsoStatus::Success {
                    out.extend_from_slice(&self.buffer[at..at + got]);
                }
                self.packets.push(IsoPacket {
                    actual_length: if status == IsoStatus::Success {
                        got as u32
                    } else {
                        0
                    },
                    status,
                });
                at += p.length as usize;
            }
            return Ok(out);
        }
        let got = (tr.actual_length.max(0) as usize).min(self.buffer.len() - self.setup_len);
        Ok(self.buffer[self.setup_len..self.setup_len + got].to_vec())
    }
}

/// A libusb packet status as the 2026 WASI-USB reports it.
fn iso_status(status: c_int) -> IsoStatus {
    match status {
        LIBUSB_TRANSFER_COMPLETED => IsoStatus::Success,
        LIBUSB_TRANSFER_TIMED_OUT => IsoStatus::TimedOut,
        LIBUSB_TRANSFER_CANCELLED => IsoStatus::Cancelled,
        LIBUSB_TRANSFER_STALL => IsoStatus::Stall,
        LIBUSB_TRANSFER_NO_DEVICE => IsoStatus::NoDevice,
        LIBUSB_TRANSFER_OVERFLOW => IsoStatus::Overflow,
        _ => IsoStatus::Error,
    }
}

impl Pending for LibusbTransfer {
    fn iso_packets(&self) -> Vec<IsoPacket> {
        self.packets.clone()
    }

    fn wait(&mut self) -> Result<Vec<u8>, UsbError> {
        if self.reaped {
            return Err(UsbError::NotFound);
        }
        let _counted = crate::usb::shutdown::Waiting::start();
        let mut cancelled = false;
        while !self.is_complete() {
            if !cancelled && crate::usb::shutdown::terminating() {
                // The process is ending: the kernel gives the transfer back cancelled.
                self.cancel()?;
                crate::usb::shutdown::note_cancelled();
                cancelled = true;
            }
            // Should the event loop itself fail, the transfer cannot be reaped: it stays in
            // flight and Drop deals with it.
            self.handle_events(EVENT_ROUND_US)?;
        }
        self.reaped = true;
        self.outcome()
    }

    fn cancel(&mut self) -> Result<(), UsbError> {
        if self.reaped || self.is_complete() {
            return Ok(());
        }
        // SAFETY: submitted and not yet reaped.
        match unsafe { ffi::libusb_cancel_transfer(self.transfer) } {
            // Not found: it finished meanwhile; the next wait reaps its outcome.
            0 | LIBUSB_ERROR_NOT_FOUND => Ok(()),
            e => Err(error_from_code(e)),
        }
    }
}

impl Drop for LibusbTransfer {
    fn drop(&mut self) {
        if !self.reaped && !self.is_complete() {
            // SAFETY: in flight; cancelling an already finishing transfer is harmless.
            unsafe { ffi::libusb_cancel_transfer(self.transfer) };
            for _ in 0..DROP_ROUNDS {
                if self.is_complete() || self.handle_events(EVENT_ROUND_US / 5).is_err() {
                    break;
                }
            }
            if !self.is_complete() {
                // Still owned by the kernel: leak it (and its buffer) rather than free memory
                // that may yet be written.
                std::mem::forget(std::mem::take(&mut self.buffer));
                std::mem::forget(std::mem::replace(
                    &mut self.completed,
                    Box::new(AtomicI32::new(0)),
                ));
                return;
            }
        }
        // SAFETY: completed (or never submitted): libusb is done with it.
        unsafe { ffi::libusb_free_transfer(self.transfer) };
    }
}
