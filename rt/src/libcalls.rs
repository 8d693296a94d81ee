//! Runtime functions called by compiled code (`wafer_abi::libcall`). Each checks its whole
//! range with 64-bit arithmetic before touching anything (the spec's bulk-memory semantics:
//! an out-of-range operation writes nothing), then raises the documented trap.
//!
//! Each exported function is a thin shell around a checked inner function returning
//! `Result<_, TrapKind>`, so that nothing owned is alive when the trap unwinds past it.
//!
//! # Safety
//! Every `extern "C"` function here is called only by compiled wasm code, whose first argument
//! is always the live `vmctx` of the calling instance; that is the whole contract.

// The single safety contract is stated above rather than on each entry point.
#![allow(clippy::missing_safety_doc)]

use wafer_abi::{MemoryDef, TableDef, TrapKind, VmCtx, VmctxLayout};

use crate::instance::Instance;
use crate::memory::LinearMemory;
use crate::table::Table;
use crate::trap;

type Checked<T> = Result<T, TrapKind>;

/// Returns the value or raises the trap.
///
/// # Safety
/// Called only from libcalls entered by compiled code (a trap catch is active).
unsafe fn finish<T>(result: Checked<T>) -> T {
    match result {
        Ok(v) => v,
        Err(kind) => unsafe { trap::raise(kind) },
    }
}

unsafe fn memory_of(vmctx: *mut VmCtx) -> *mut MemoryDef {
    unsafe { *((vmctx as *mut u8).add(VmctxLayout::MEMORY as usize) as *const *mut MemoryDef) }
}

/// `[start, start + len)` inside `limit`, computed without overflow.
fn in_range(start: u32, len: u32, limit: u64) -> bool {
    start as u64 + len as u64 <= limit
}

unsafe fn memory_checked(vmctx: *mut VmCtx) -> Checked<(*mut u8, u64)> {
    let def = unsafe { memory_of(vmctx).as_ref() }.ok_or(TrapKind::MemoryOutOfBounds)?;
    Ok((def.base, def.length))
}

unsafe fn table_checked<'a>(vmctx: *mut VmCtx, table: u32) -> Checked<&'a mut Table> {
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let def: *mut TableDef = instance
        .table_def(table)
        .ok_or(TrapKind::TableOutOfBounds)?;
    Ok(unsafe { Table::from_def(def) })
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_grow(vmctx: *mut VmCtx, delta_pages: u32) -> u32 {
    let def = unsafe { memory_of(vmctx) };
    if def.is_null() {
        return u32::MAX;
    }
    let memory = unsafe { LinearMemory::from_def(def) };
    memory
        .grow(delta_pages as u64)
        .and_then(|old| u32::try_from(old).ok())
        .unwrap_or(u32::MAX)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_fill(vmctx: *mut VmCtx, dst: u32, value: u32, len: u32) {
    unsafe fn run(vmctx: *mut VmCtx, dst: u32, value: u32, len: u32) -> Checked<()> {
        let (base, length) = unsafe { memory_checked(vmctx)? };
        if !in_range(dst, len, length) {
            return Err(TrapKind::MemoryOutOfBounds);
        }
        unsafe { std::ptr::write_bytes(base.add(dst as usize), value as u8, len as usize) };
        Ok(())
    }
    unsafe { finish(run(vmctx, dst, value, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_copy(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) {
    unsafe fn run(vmctx: *mut VmCtx, dst: u32, src: u32, len: u32) -> Checked<()> {
        let (base, length) = unsafe { memory_checked(vmctx)? };
        if !in_range(dst, len, length) || !in_range(src, len, length) {
            return Err(TrapKind::MemoryOutOfBounds);
        }
        // `copy` has memmove semantics, as memory.copy requires for overlapping ranges.
        unsafe { std::ptr::copy(base.add(src as usize), base.add(dst as usize), len as usize) };
        Ok(())
    }
    unsafe { finish(run(vmctx, dst, src, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_memory_init(
    vmctx: *mut VmCtx,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    unsafe fn run(vmctx: *mut VmCtx, segment: u32, dst: u32, src: u32, len: u32) -> Checked<()> {
        let instance = unsafe { Instance::from_vmctx(vmctx) };
        // A dropped segment behaves as an empty one.
        let data: &[u8] = if instance.is_data_dropped(segment) {
            &[]
        } else {
            instance.data_segment(segment).unwrap_or(&[])
        };
        let (base, length) = unsafe { memory_checked(vmctx)? };
        if !in_range(src, len, data.len() as u64) || !in_range(dst, len, length) {
            return Err(TrapKind::MemoryOutOfBounds);
        }
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr().add(src as usize),
                base.add(dst as usize),
                len as usize,
            )
        };
        Ok(())
    }
    unsafe { finish(run(vmctx, segment, dst, src, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_data_drop(vmctx: *mut VmCtx, segment: u32) {
    unsafe { Instance::from_vmctx(vmctx) }.drop_data(segment);
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_get(vmctx: *mut VmCtx, table: u32, index: u32) -> usize {
    unsafe fn run(vmctx: *mut VmCtx, table: u32, index: u32) -> Checked<usize> {
        let t = unsafe { table_checked(vmctx, table)? };
        t.get(index as u64).ok_or(TrapKind::TableOutOfBounds)
    }
    unsafe { finish(run(vmctx, table, index)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_set(
    vmctx: *mut VmCtx,
    table: u32,
    index: u32,
    value: usize,
) {
    unsafe fn run(vmctx: *mut VmCtx, table: u32, index: u32, value: usize) -> Checked<()> {
        let t = unsafe { table_checked(vmctx, table)? };
        t.set(index as u64, value).ok_or(TrapKind::TableOutOfBounds)
    }
    unsafe { finish(run(vmctx, table, index, value)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_grow(
    vmctx: *mut VmCtx,
    table: u32,
    init: usize,
    delta: u32,
) -> u32 {
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let Some(def) = instance.table_def(table) else {
        return u32::MAX;
    };
    let t = unsafe { Table::from_def(def) };
    t.grow(delta as u64, init)
        .and_then(|old| u32::try_from(old).ok())
        .unwrap_or(u32::MAX)
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_fill(
    vmctx: *mut VmCtx,
    table: u32,
    dst: u32,
    value: usize,
    len: u32,
) {
    unsafe fn run(vmctx: *mut VmCtx, table: u32, dst: u32, value: usize, len: u32) -> Checked<()> {
        let t = unsafe { table_checked(vmctx, table)? };
        if !in_range(dst, len, t.len()) {
            return Err(TrapKind::TableOutOfBounds);
        }
        t.elements_mut()[dst as usize..][..len as usize].fill(value);
        Ok(())
    }
    unsafe { finish(run(vmctx, table, dst, value, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_copy(
    vmctx: *mut VmCtx,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    unsafe fn run(
        vmctx: *mut VmCtx,
        dt: u32,
        st: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Checked<()> {
        // Raw pointers: source and destination may be the same table.
        let instance = unsafe { Instance::from_vmctx(vmctx) };
        let d = instance.table_def(dt).ok_or(TrapKind::TableOutOfBounds)?;
        let s = instance.table_def(st).ok_or(TrapKind::TableOutOfBounds)?;
        let (d_elems, d_len) = unsafe { ((*d).elements, (*d).length) };
        let (s_elems, s_len) = unsafe { ((*s).elements, (*s).length) };
        if !in_range(dst, len, d_len) || !in_range(src, len, s_len) {
            return Err(TrapKind::TableOutOfBounds);
        }
        if len > 0 {
            unsafe {
                std::ptr::copy(
                    s_elems.add(src as usize),
                    d_elems.add(dst as usize),
                    len as usize,
                )
            };
        }
        Ok(())
    }
    unsafe { finish(run(vmctx, dst_table, src_table, dst, src, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_table_init(
    vmctx: *mut VmCtx,
    table: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
) {
    unsafe fn run(
        vmctx: *mut VmCtx,
        table: u32,
        seg: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> Checked<()> {
        let instance = unsafe { Instance::from_vmctx(vmctx) };
        let items: &[u32] = if instance.is_elem_dropped(seg) {
            &[]
        } else {
            instance.elem_items(seg).unwrap_or(&[])
        };
        let t = unsafe { table_checked(vmctx, table)? };
        if !in_range(src, len, items.len() as u64) || !in_range(dst, len, t.len()) {
            return Err(TrapKind::TableOutOfBounds);
        }
        let targets = &mut t.elements_mut()[dst as usize..][..len as usize];
        for (slot, item) in targets.iter_mut().zip(&items[src as usize..]) {
            *slot = instance.elem_value(*item);
        }
        Ok(())
    }
    unsafe { finish(run(vmctx, table, segment, dst, src, len)) }
}

#[no_mangle]
pub unsafe extern "C" fn wafer_rt_elem_drop(vmctx: *mut VmCtx, segment: u32) {
    unsafe { Instance::from_vmctx(vmctx) }.drop_elem(segment);
}

/// Cranelift's x86_64 fallback for SSSE3's `pshufb` (`LibCall::X86Pshufb`, under the name
/// `cranelift_module::default_libcall_names` gives it), which code built for the SSE2
/// baseline calls for byte shuffles and swizzles: byte `i` of the result is byte
/// `index[i] & 15` of `table`, or 0 when bit 7 of `index[i]` is set.
#[cfg(target_arch = "x86_64")]
#[no_mangle]
// The x86_64 C convention passes and returns `__m128i` in XMM registers, which is exactly how
// Cranelift calls this function.
#[allow(improper_ctypes_definitions)]
pub extern "C" fn __cranelift_x86_pshufb(
    table: core::arch::x86_64::__m128i,
    index: core::arch::x86_64::__m128i,
) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::__m128i;
    use core::mem::transmute;
    // SAFETY: `__m128i` is 16 plain bytes.
    let (t, i) = unsafe {
        (
            transmute::<__m128i, [u8; 16]>(table),
            transmute::<__m128i, [u8; 16]>(index),
        )
    };
    let out: [u8; 16] = core::array::from_fn(|k| {
        if i[k] & 0x80 != 0 {
            0
        } else {
            t[usize::from(i[k] & 15)]
        }
    });
    // SAFETY: as above.
    unsafe { transmute::<[u8; 16], __m128i>(out) }
}

/// wasm's rounding for code that calls it (`wafer_abi::libcall::ROUNDING`): Rust's operation,
/// and a NaN made quiet by setting its quiet bit, as wasm's arithmetic NaNs are.
macro_rules! rounding {
    ($($name:ident: $ty:ty, $quiet:expr, $op:expr;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name(x: $ty) -> $ty {
            if x.is_nan() {
                <$ty>::from_bits(x.to_bits() | $quiet)
            } else {
                $op(x)
            }
        }
    )*};
}

const QUIET_F32: u32 = 1 << 22;
const QUIET_F64: u64 = 1 << 51;

rounding! {
    wafer_rt_floor_f32: f32, QUIET_F32, f32::floor;
    wafer_rt_floor_f64: f64, QUIET_F64, f64::floor;
    wafer_rt_ceil_f32: f32, QUIET_F32, f32::ceil;
    wafer_rt_ceil_f64: f64, QUIET_F64, f64::ceil;
    wafer_rt_trunc_f32: f32, QUIET_F32, f32::trunc;
    wafer_rt_trunc_f64: f64, QUIET_F64, f64::trunc;
    wafer_rt_nearest_f32: f32, QUIET_F32, f32::round_ties_even;
    wafer_rt_nearest_f64: f64, QUIET_F64, f64::round_ties_even;
}
