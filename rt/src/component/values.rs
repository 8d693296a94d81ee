//! Type-driven lifting and lowering of component values for calls between components: a
//! value is lifted out of one side (its flat core values or its linear memory) into a host
//! [`Val`], checked as the canonical ABI demands, and lowered into the other side, allocating
//! there with that side's realloc.
//!
//! Every check the canonical ABI makes a trap is a [`Fault`]: a list or string leaving memory
//! or misaligned, invalid UTF-8, a variant discriminant past its cases, a `char` that is no
//! Unicode scalar value, a realloc answer outside memory or misaligned. Integers and floats
//! are taken at their width (higher bits of the core value are dropped, as lifting says).

use wafer_abi::component::ValType;
use wafer_abi::{TrapKind, VmCtx};

pub use crate::canon::REALLOC_PARAMS;

use crate::canon::{fault, oob, Fault};
use crate::guest_mem::GuestMemory;
use crate::instance::{CallError, Instance};

/// The longest string the canonical ABI lets cross (in bytes).
const MAX_STRING_BYTES: u32 = (1 << 31) - 1;

/// A lifted value. Scalars are held as their bits: signed integers sign-extended to 64 bits,
/// unsigned ones, `bool` (0 or 1) and `char` zero-extended, floats by their bit pattern.
#[derive(Debug, PartialEq)]
pub enum Val {
    Scalar(u64),
    String(String),
    /// A list of integers or floats, as its little-endian bytes (the same in every memory).
    Bytes(Vec<u8>),
    List(Vec<Val>),
    Record(Vec<Val>),
    Variant(u32, Option<Box<Val>>),
    Flags(u32),
}

/// A value that is not what its type allows (as opposed to a pointer leaving memory).
fn invalid(why: String) -> Fault {
    fault(TrapKind::Unreachable, why)
}

/// One side of a call: the memory its values live in and the allocator that places them.
pub struct Side {
    /// Who this is, for messages ("the caller", "the callee").
    pub who: &'static str,
    /// The instance whose memory 0 is the side's memory (none: the options name no memory).
    pub memory: Option<&'static Instance>,
    /// The realloc function of the options and its instance.
    pub realloc: Option<(&'static Instance, u32)>,
}

impl Side {
    /// The memory as it is now (it may grow during any realloc call).
    pub fn memory(&self) -> Result<GuestMemory, Fault> {
        let inst = self
            .memory
            .ok_or_else(|| oob(format!("{} has no memory option", self.who)))?;
        let vmctx: *mut VmCtx = inst.vmctx();
        // SAFETY: the instance lives until the process exits.
        unsafe { GuestMemory::from_vmctx(vmctx) }
            .map_err(|_| oob(format!("{} has no memory", self.who)))
    }

    /// `realloc(0, 0, align, size)`, its answer checked to be aligned and inside memory.
    pub fn alloc(&self, align: u32, size: u32) -> Result<u32, Fault> {
        let (inst, func) = self.realloc.ok_or_else(|| {
            oob(format!(
                "{} has no realloc option to receive a list or string",
                self.who
            ))
        })?;
        let mut values = [0u64, 0, u64::from(align), u64::from(size)];
        match inst.call_scalars(func, &mut values) {
            Ok(()) => {}
            Err(CallError::Trap(t)) => {
                return Err(fault(
                    t.kind,
                    format!("the realloc of {} trapped", self.who),
                ))
            }
            Err(CallError::Invalid(msg)) => return Err(oob(msg)),
        }
        let ptr = values[0] as u32;
        let mem = self.memory()?;
        if !ptr.is_multiple_of(align) || mem.range(ptr, u64::from(size)).is_err() {
            return Err(oob(format!(
                "the realloc of {} answered {ptr:#x} for {size} bytes aligned to {align}: \
                 outside memory or misaligned",
                self.who
            )));
        }
        Ok(ptr)
    }

    /// Checks that a value of `ty` at `ptr` is aligned and inside memory.
    pub fn check(
        &self,
        mem: &GuestMemory,
        ptr: u32,
        ty: &ValType,
        what: &str,
    ) -> Result<(), Fault> {
        if !ptr.is_multiple_of(ty.align()) {
            return Err(oob(format!(
                "{what} {ptr:#x} of {} is not {}-aligned",
                self.who,
                ty.align()
            )));
        }
        mem.range(ptr, u64::from(ty.size())).map_err(|_| {
            oob(format!(
                "{what} {ptr:#x}+{} of {} is outside its memory",
                ty.size(),
                self.who
            ))
        })?;
        Ok(())
    }
}

/// Flat core values being read, one 64-bit slot each.
pub struct FlatReader<'a> {
    pub slots: &'a [u64],
    pub at: usize,
}

impl FlatReader<'_> {
    fn next(&mut self) -> Result<u64, Fault> {
        let v = self
            .slots
            .get(self.at)
            .copied()
            .ok_or_else(|| oob("fewer flat values than the type has"))?;
        self.at += 1;
        Ok(v)
    }
}

/// Whether a list of `elem` is copied as plain bytes: integers and floats, whose memory
/// representation is the same on both sides and needs no check.
fn is_plain(elem: &ValType) -> bool {
    matches!(
        elem,
        ValType::S8
            | ValType::U8
            | ValType::S16
            | ValType::U16
            | ValType::S32
            | ValType::U32
            | ValType::S64
            | ValType::U64
            | ValType::F32
            | ValType::F64
    )
}

/// The bits of a scalar of type `ty` whose core value (or memory bytes) are `raw`.
fn scalar(ty: &ValType, raw: u64) -> Result<u64, Fault> {
    Ok(match ty {
        ValType::Bool => u64::from(raw as u32 != 0),
        ValType::S8 => raw as i8 as i64 as u64,
        ValType::U8 => raw as u8 as u64,
        ValType::S16 => raw as i16 as i64 as u64,
        ValType::U16 => raw as u16 as u64,
        ValType::S32 => raw as i32 as i64 as u64,
        ValType::U32 | ValType::F32 => raw as u32 as u64,
        ValType::S64 | ValType::U64 | ValType::F64 => raw,
        ValType::Char => {
            let c = raw as u32;
            if char::from_u32(c).is_none() {
                return Err(invalid(format!(
                    "{c:#x} is not a Unicode scalar value, so not a char"
                )));
            }
            u64::from(c)
        }
        _ => unreachable!("not a scalar type"),
    })
}

fn read_scalar(mem: &GuestMemory, ty: &ValType, ptr: u32) -> Result<u64, Fault> {
    let raw = match ty.size() {
        1 => mem.read_u8(ptr).map(u64::from),
        2 => mem.read_u16(ptr).map(u64::from),
        4 => mem.read_u32(ptr).map(u64::from),
        _ => mem.read_u64(ptr),
    }
    .map_err(|_| oob(format!("value at {ptr:#x} is outside memory")))?;
    scalar(ty, raw)
}

fn check_case(case: u32, cases: usize) -> Result<usize, Fault> {
    if case as usize >= cases {
        return Err(invalid(format!(
            "variant discriminant {case} is past the type's {cases} cases"
        )));
    }
    Ok(case as usize)
}

/// Lifts the list or string whose (pointer, length) are given, from `side`'s memory.
fn lift_list(side: &Side, elem: Option<&ValType>, ptr: u32, len: u32) -> Result<Val, Fault> {
    let mem = side.memory()?;
    let Some(elem) = elem else {
        // A string (UTF-8: the length counts bytes).
        if len > MAX_STRING_BYTES {
            return Err(oob(format!("string of {len} bytes from {}", side.who)));
        }
        let at = mem.range(ptr, u64::from(len)).map_err(|_| {
            oob(format!(
                "string {ptr:#x}+{len} of {} is outside its memory",
                side.who
            ))
        })?;
        let mut bytes = vec![0u8; len as usize];
        // SAFETY: the range is inside the memory; a raw copy (see crate::guest_mem).
        unsafe { std::ptr::copy_nonoverlapping(at, bytes.as_mut_ptr(), len as usize) };
        return String::from_utf8(bytes).map(Val::String).map_err(|_| {
            invalid(format!(
                "string {ptr:#x}+{len} of {} is not valid UTF-8",
                side.who
            ))
        });
    };
    let (size, align) = (elem.size(), elem.align());
    if !ptr.is_multiple_of(align) {
        return Err(oob(format!(
            "list {ptr:#x} of {} is not {align}-aligned",
            side.who
        )));
    }
    let bytes = u64::from(len) * u64::from(size);
    let at = mem.range(ptr, bytes).map_err(|_| {
        oob(format!(
            "list {ptr:#x} of {len} elements of {size} bytes of {} is outside its memory",
            side.who
        ))
    })?;
    if is_plain(elem) {
        let mut out = vec![0u8; bytes as usize];
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(at, out.as_mut_ptr(), bytes as usize) };
        return Ok(Val::Bytes(out));
    }
    let mut out = Vec::with_capacity(len.min(1 << 16) as usize);
    for i in 0..len {
        out.push(load(side, &mem, elem, ptr + i * size)?);
    }
    Ok(Val::List(out))
}

/// Loads a value of `ty` from `side`'s memory at `ptr`, which was checked for `ty`'s size.
pub fn load(side: &Side, mem: &GuestMemory, ty: &ValType, ptr: u32) -> Result<Val, Fault> {
    Ok(match ty {
        ValType::String | ValType::List(_) => {
            let p = mem.read_u32(ptr).map_err(|_| oob("list outside memory"))?;
            let n = mem
                .read_u32(ptr + 4)
                .map_err(|_| oob("list outside memory"))?;
            let elem = match ty {
                ValType::List(e) => Some(&**e),
                _ => None,
            };
            lift_list(side, elem, p, n)?
        }
        ValType::Record(fields) => {
            let offsets = ValType::field_offsets(fields);
            let mut out = Vec::with_capacity(fields.len());
            for (f, off) in fields.iter().zip(offsets) {
                out.push(load(side, mem, f, ptr + off)?);
            }
            Val::Record(out)
        }
        ValType::Variant(cases) => {
            let d = ValType::discriminant_size(cases.len());
            let case = read_scalar(mem, &disc_type(d), ptr)? as u32;
            let i = check_case(case, cases.len())?;
            let payload = match &cases[i] {
                None => None,
                Some(t) => Some(Box::new(load(
                    side,
                    mem,
                    t,
                    ptr + ValType::payload_offset(cases),
                )?)),
            };
            Val::Variant(case, payload)
        }
        ValType::Flags(n) => {
            let bits = match ty.size() {
                1 => mem.read_u8(ptr).map(u32::from),
                2 => mem.read_u16(ptr).map(u32::from),
                _ => mem.read_u32(ptr),
            }
            .map_err(|_| oob("flags outside memory"))?;
            Val::Flags(flag_bits(bits, *n))
        }
        _ => Val::Scalar(read_scalar(mem, ty, ptr)?),
    })
}

fn disc_type(size: u32) -> ValType {
    match size {
        1 => ValType::U8,
        2 => ValType::U16,
        _ => ValType::U32,
    }
}

/// Labels past the count are not part of the value.
fn flag_bits(bits: u32, n: u32) -> u32 {
    if n >= 32 {
        bits
    } else {
        bits & ((1 << n) - 1)
    }
}

/// Lifts a value of `ty` from flat core values.
pub fn lift_flat(side: &Side, ty: &ValType, flat: &mut FlatReader) -> Result<Val, Fault> {
    Ok(match ty {
        ValType::String | ValType::List(_) => {
            let p = flat.next()? as u32;
            let n = flat.next()? as u32;
            let elem = match ty {
                ValType::List(e) => Some(&**e),
                _ => None,
            };
            lift_list(side, elem, p, n)?
        }
        ValType::Record(fields) => Val::Record(
            fields
                .iter()
                .map(|f| lift_flat(side, f, flat))
                .collect::<Result<_, _>>()?,
        ),
        ValType::Variant(cases) => {
            let case = flat.next()? as u32;
            let i = check_case(case, cases.len())?;
            // The payload's values occupy the first of the joined positions, each read at
            // its own type; the rest of the positions are skipped.
            let end = flat.at + ty.flat_count() - 1;
            let payload = match &cases[i] {
                None => None,
                Some(t) => Some(Box::new(lift_flat(side, t, flat)?)),
            };
            flat.at = end;
            Val::Variant(case, payload)
        }
        ValType::Flags(n) => Val::Flags(flag_bits(flat.next()? as u32, *n)),
        _ => Val::Scalar(scalar(ty, flat.next()?)?),
    })
}

/// The core value (zero-extended to 64 bits) of a scalar of type `ty`.
fn core_scalar(ty: &ValType, bits: u64) -> u64 {
    match ty {
        ValType::S64 | ValType::U64 | ValType::F64 => bits,
        // Narrow signed integers are sign-extended to i32; the rest are already 32 bits.
        _ => u64::from(bits as u32),
    }
}

fn mismatch(ty: &ValType) -> Fault {
    oob(format!("a value does not match its type {ty:?}"))
}

/// Lowers `val` of type `ty` into `side` as flat core values appended to `out`.
pub fn lower_flat(side: &Side, ty: &ValType, val: Val, out: &mut Vec<u64>) -> Result<(), Fault> {
    match (ty, val) {
        (ValType::String, Val::String(s)) => {
            let (p, n) = lower_bytes(side, 1, s.as_bytes(), 1)?;
            out.extend([u64::from(p), u64::from(n)]);
        }
        (ValType::List(elem), v) => {
            let (p, n) = lower_list(side, elem, v)?;
            out.extend([u64::from(p), u64::from(n)]);
        }
        (ValType::Record(fields), Val::Record(vals)) if fields.len() == vals.len() => {
            for (f, v) in fields.iter().zip(vals) {
                lower_flat(side, f, v, out)?;
            }
        }
        (ValType::Variant(cases), Val::Variant(case, payload)) => {
            out.push(u64::from(case));
            let end = out.len() + ty.flat_count() - 1;
            match (cases.get(case as usize), payload) {
                (Some(None), None) => {}
                (Some(Some(t)), Some(v)) => lower_flat(side, t, *v, out)?,
                _ => return Err(mismatch(ty)),
            }
            out.resize(end, 0);
        }
        (ValType::Flags(_), Val::Flags(bits)) => out.push(u64::from(bits)),
        (t, Val::Scalar(bits)) => out.push(core_scalar(t, bits)),
        (t, _) => return Err(mismatch(t)),
    }
    Ok(())
}

/// Copies `bytes` into a fresh allocation of `side`; returns (pointer, `count`).
fn lower_bytes(side: &Side, align: u32, bytes: &[u8], elem: u32) -> Result<(u32, u32), Fault> {
    let size = u32::try_from(bytes.len()).map_err(|_| oob("a list too long for wasm32"))?;
    let ptr = side.alloc(align, size)?;
    side.memory()?
        .write_bytes(ptr, bytes)
        .map_err(|_| oob("list outside memory"))?;
    Ok((ptr, size / elem))
}

fn lower_list(side: &Side, elem: &ValType, val: Val) -> Result<(u32, u32), Fault> {
    let (size, align) = (elem.size(), elem.align());
    match val {
        Val::Bytes(bytes) if is_plain(elem) => lower_bytes(side, align, &bytes, size),
        Val::List(items) => {
            let count = u32::try_from(items.len()).map_err(|_| oob("a list too long"))?;
            let total = count
                .checked_mul(size)
                .ok_or_else(|| oob("a list too long for wasm32"))?;
            let ptr = side.alloc(align, total)?;
            for (i, item) in items.into_iter().enumerate() {
                store(side, elem, item, ptr + i as u32 * size)?;
            }
            Ok((ptr, count))
        }
        _ => Err(mismatch(elem)),
    }
}

/// Stores `val` of type `ty` at `ptr` of `side`'s memory, which was checked for `ty`'s size
/// (the memory only grows, so it stays valid across the allocations of nested lists).
pub fn store(side: &Side, ty: &ValType, val: Val, ptr: u32) -> Result<(), Fault> {
    let write = |at: u32, bits: u64, size: u32| -> Result<(), Fault> {
        side.memory()?
            .write_bytes(at, &bits.to_le_bytes()[..size as usize])
            .map_err(|_| oob(format!("store at {at:#x} outside memory")))
    };
    match (ty, val) {
        (ValType::String, Val::String(s)) => {
            let (p, n) = lower_bytes(side, 1, s.as_bytes(), 1)?;
            write(ptr, u64::from(p), 4)?;
            write(ptr + 4, u64::from(n), 4)
        }
        (ValType::List(elem), v) => {
            let (p, n) = lower_list(side, elem, v)?;
            write(ptr, u64::from(p), 4)?;
            write(ptr + 4, u64::from(n), 4)
        }
        (ValType::Record(fields), Val::Record(vals)) if fields.len() == vals.len() => {
            let offsets = ValType::field_offsets(fields);
            for ((f, v), off) in fields.iter().zip(vals).zip(offsets) {
                store(side, f, v, ptr + off)?;
            }
            Ok(())
        }
        (ValType::Variant(cases), Val::Variant(case, payload)) => {
            write(
                ptr,
                u64::from(case),
                ValType::discriminant_size(cases.len()),
            )?;
            let at = ptr + ValType::payload_offset(cases);
            match (cases.get(case as usize), payload) {
                (Some(None), None) => Ok(()),
                (Some(Some(t)), Some(v)) => store(side, t, *v, at),
                _ => Err(mismatch(ty)),
            }
        }
        (ValType::Flags(_), Val::Flags(bits)) => write(ptr, u64::from(bits), ty.size()),
        (t, Val::Scalar(bits)) => write(ptr, bits, t.size()),
        (t, _) => Err(mismatch(t)),
    }
}

/// Whether a function's core type (as the descriptor has it) is `(params) -> (results)`.
pub fn core_type_is(instance: &Instance, func: u32, params: &[u8], results: &[u8]) -> bool {
    // SAFETY: descriptor slices are static data emitted by the compiler.
    instance.func_type(func).is_some_and(|t| unsafe {
        t.params.as_slice() == params && t.results.as_slice() == results
    })
}
