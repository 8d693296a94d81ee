//! How values cross the sandbox under the component model's canonical ABI (wasm32): the one
//! place every canonical-ABI host interface (WASI-I2C, WASI-USB, WASI 0.2) lifts what the guest
//! passes and lowers what it gets back.
//!
//! - Lifting: lists and strings the guest passes are range-checked with 64-bit arithmetic and
//!   copied out of its memory once ([`read_list`], [`lift_string`], which also insists on
//!   UTF-8); handles are checked by each interface's table.
//! - Lowering: lists and strings returned are allocated in the guest through its exported
//!   `cabi_realloc(0, 0, align, size)` ([`guest_alloc`]), whose answer is checked too; a list of
//!   strings (or of records holding them) takes one allocation per string and then the outer
//!   array, as the canonical ABI lays them out ([`typed`]).
//! - Return areas: checked for range and alignment before the call has any effect
//!   ([`ret_area`]), then filled on the host at the canonical offsets and stored in one copy
//!   ([`typed::Cx::store_ret`]).
//!
//! What the component model makes a trap is a [`Fault`], which [`finish`] turns into the trap
//! once the host call has dropped everything it owns: the reason goes to stderr (`wafer:
//! <interface>: <why>`) and the process reports `wasm trap: <kind>`.

pub mod typed;

use wafer_abi::{extern_kind, valtype, TrapKind, VmCtx};

use crate::guest_mem::GuestMemory;
use crate::instance::{CallError, Instance};

/// Why a host call stops the guest.
#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: TrapKind,
    pub why: String,
}

pub fn fault(kind: TrapKind, why: impl Into<String>) -> Fault {
    Fault {
        kind,
        why: why.into(),
    }
}

/// A pointer, list, string or allocation the canonical ABI cannot accept.
pub fn oob(why: impl Into<String>) -> Fault {
    fault(TrapKind::MemoryOutOfBounds, why)
}

/// A handle the calling instance does not own as a `what`.
pub fn unknown_handle(what: &str, handle: i32) -> Fault {
    fault(
        TrapKind::UnknownHandle,
        format!(
            "{what} handle {handle} is not owned by this instance (never issued, dropped, or of \
             another resource type)"
        ),
    )
}

/// Ends a host call of `interface`: its value, or, for a fault, the trap. Call it last, once
/// every lock and buffer of the call is dropped (the trap does not unwind).
pub fn finish<T>(interface: &str, outcome: Result<T, Fault>) -> T {
    match outcome {
        Ok(v) => v,
        Err(Fault { kind, why }) => {
            eprintln!("wafer: {interface}: {why}");
            drop(why);
            // SAFETY: nothing in this frame needs dropping any more; the caller is wasm code.
            unsafe { crate::trap::raise(kind) }
        }
    }
}

/// The calling instance's memory.
///
/// # Safety
/// `vmctx` must be the live context of the calling instance.
pub unsafe fn memory(vmctx: *mut VmCtx) -> Result<GuestMemory, Fault> {
    unsafe { GuestMemory::from_vmctx(vmctx) }.map_err(|_| oob("the module has no memory"))
}

/// Checks a return area of `size` bytes at `ptr` aligned to `align`.
pub fn ret_area(mem: &GuestMemory, ptr: i32, size: u64, align: u32) -> Result<u32, Fault> {
    let ptr = ptr as u32;
    if !ptr.is_multiple_of(align) {
        return Err(oob(format!("return area {ptr:#x} is not {align}-aligned")));
    }
    mem.range(ptr, size)
        .map_err(|_| oob(format!("return area {ptr:#x}+{size} is outside memory")))?;
    Ok(ptr)
}

/// Copies the guest's list `[ptr, ptr + len)` of bytes out of its memory.
pub fn read_list(mem: &GuestMemory, ptr: u32, len: u32) -> Result<Buffer, Fault> {
    let at = mem
        .range(ptr, len as u64)
        .map_err(|_| oob(format!("list {ptr:#x}+{len} is outside memory")))?;
    let mut buf = Buffer::zeroed(len as usize);
    // SAFETY: the range was checked against the memory. A raw copy, never a slice: other
    // threads of the guest may be writing these bytes (see crate::guest_mem).
    unsafe { std::ptr::copy_nonoverlapping(at, buf.as_mut_ptr(), len as usize) };
    Ok(buf)
}

/// Copies a list of `count` elements of `elem` bytes aligned to `align` out of the guest.
pub fn read_array(
    mem: &GuestMemory,
    ptr: u32,
    count: u32,
    elem: u32,
    align: u32,
) -> Result<Buffer, Fault> {
    if !ptr.is_multiple_of(align) {
        return Err(oob(format!("list {ptr:#x} is not {align}-aligned")));
    }
    let bytes = count
        .checked_mul(elem)
        .ok_or_else(|| oob(format!("list {ptr:#x}x{count} is outside memory")))?;
    read_list(mem, ptr, bytes)
}

/// Lifts a `string`: in range and valid UTF-8, else a trap.
pub fn lift_string(mem: &GuestMemory, ptr: i32, len: i32) -> Result<String, Fault> {
    let (ptr, len) = (ptr as u32, len as u32);
    let bytes = read_list(mem, ptr, len)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| oob(format!("string {ptr:#x}+{len} is not valid UTF-8")))
}

/// The bytes of a lifted list: inline when short, so the common small transfer allocates
/// nothing on the host; on the heap past that.
#[derive(Clone, Debug)]
pub enum Buffer {
    Inline {
        bytes: [u8; Buffer::INLINE],
        len: usize,
    },
    Heap(Vec<u8>),
}

impl Buffer {
    const INLINE: usize = 64;

    pub fn zeroed(len: usize) -> Buffer {
        if len <= Buffer::INLINE {
            Buffer::Inline {
                bytes: [0; Buffer::INLINE],
                len,
            }
        } else {
            Buffer::Heap(vec![0; len])
        }
    }
}

impl std::ops::Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Inline { bytes, len } => &bytes[..*len],
            Buffer::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Buffer::Inline { bytes, len } => &mut bytes[..*len],
            Buffer::Heap(v) => v,
        }
    }
}

/// Allocates `size` bytes aligned to `align` in the guest through `cabi_realloc` and returns
/// the checked guest address. The memory may grow inside the call, so callers fetch it anew.
///
/// # Safety
/// `vmctx` must be the live context of the calling instance.
pub unsafe fn guest_alloc(vmctx: *mut VmCtx, align: u32, size: u32) -> Result<u32, Fault> {
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let func = cabi_realloc(instance)?;
    let mut values = [0u64, 0, align as u64, size as u64];
    match instance.call_scalars(func, &mut values) {
        Ok(()) => {}
        Err(CallError::Trap(t)) => return Err(fault(t.kind, "cabi_realloc trapped")),
        Err(CallError::Invalid(msg)) => return Err(oob(msg)),
    }
    let ptr = values[0] as u32;
    let mem = unsafe { memory(vmctx) }?;
    if !ptr.is_multiple_of(align) || mem.range(ptr, size as u64).is_err() {
        return Err(oob(format!(
            "cabi_realloc answered {ptr:#x} for {size} bytes: outside memory or misaligned"
        )));
    }
    Ok(ptr)
}

/// The parameters of a canonical `realloc(old_ptr, old_size, align, new_size) -> ptr`.
pub const REALLOC_PARAMS: [u8; 4] = [valtype::I32; 4];

/// The function index of the instance's allocator, looked up once per instance: its
/// `cabi_realloc`, unless a component's canonical options named another
/// (`crate::component`).
fn cabi_realloc(instance: &Instance) -> Result<u32, Fault> {
    if let Some(&index) = instance.realloc().get() {
        return Ok(index);
    }
    let index = realloc_export(instance, "cabi_realloc")?;
    let _ = instance.realloc().set(index);
    Ok(index)
}

/// The function index of export `name` of `instance`, checked to be a function of the
/// canonical ABI's `realloc` type `(i32 i32 i32 i32) -> i32`.
pub fn realloc_export(instance: &Instance, name: &str) -> Result<u32, Fault> {
    let func = instance
        .export(name.as_bytes())
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or_else(|| {
            oob(format!(
                "the module exports no {name} to return a list through"
            ))
        })?;
    // SAFETY: descriptor slices are static data emitted by the compiler.
    let shape_ok = instance.func_type(func.index).is_some_and(|t| unsafe {
        t.params.as_slice() == REALLOC_PARAMS && t.results.as_slice() == [valtype::I32]
    });
    if !shape_ok {
        return Err(oob(format!(
            "{name} does not have the type (i32 i32 i32 i32) -> i32"
        )));
    }
    Ok(func.index)
}

/// `offset` rounded up to `align` (a power of two).
pub const fn align_to(offset: usize, align: usize) -> usize {
    (offset + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_mem::tests::FakeGuest;

    #[test]
    fn strings_must_be_utf8_and_in_range() {
        let mut g = FakeGuest::new(0x100);
        g.bytes[0x10..0x15].copy_from_slice(b"h\xc3\xa9l\xff");
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert_eq!(lift_string(&m, 0x10, 4).unwrap(), "hél");
        let bad = lift_string(&m, 0x10, 5).unwrap_err();
        assert!(bad.why.contains("UTF-8"), "{}", bad.why);
        assert!(lift_string(&m, 0xF0, 0x20).is_err());
        assert!(lift_string(&m, -16, 0x20).is_err(), "wrapping range");
    }

    #[test]
    fn return_areas_are_checked() {
        let mut g = FakeGuest::new(0x100);
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert_eq!(ret_area(&m, 0x10, 16, 8).unwrap(), 0x10);
        assert!(ret_area(&m, 0x14, 16, 8).is_err(), "misaligned");
        assert!(ret_area(&m, 0xF8, 16, 8).is_err(), "leaves memory");
    }

    #[test]
    fn arrays_check_overflow_and_alignment() {
        let mut g = FakeGuest::new(0x100);
        let m = unsafe { GuestMemory::from_vmctx(g.vmctx()) }.unwrap();
        assert_eq!(read_array(&m, 0x10, 4, 4, 4).unwrap().len(), 16);
        assert!(read_array(&m, 0x11, 1, 4, 4).is_err());
        assert!(read_array(&m, 0x10, 0x4000_0001, 4, 4).is_err());
    }
}
