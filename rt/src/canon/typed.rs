//! Typed lifting and lowering: how each WIT type crosses the sandbox, as Rust traits that the
//! generated host glue ([`crate::glue`]) composes, one call per parameter and result.
//!
//! A value travels either *flat* (core wasm parameters, held here as raw 64-bit words: an
//! `i32` zero-extended, a float as its bits, so that a variant's joined slots read the same
//! whatever the case) or *in memory* (return areas, list elements, parameters past the
//! sixteen-value limit) at the canonical ABI's wasm32 size and alignment ([`Abi`]).
//!
//! Lifting ([`Lift`]) checks what the canonical ABI checks and faults otherwise: pointers and
//! lengths against the memory (64-bit arithmetic), list alignment, UTF-8, `char` scalar values,
//! discriminants. Lowering ([`Lower`]) allocates lists and strings through the guest's
//! `cabi_realloc` and builds a return area on the host, which the glue stores in one copy
//! after checking it (`Cx::ret_area`) before the call had any effect.
//!
//! Handles are plain indices here ([`Own`], [`Borrow`]): each interface's implementation looks
//! them up in its own table and faults on one it did not issue.

use std::marker::PhantomData;

use wafer_abi::{TrapKind, VmCtx};

use super::{fault, guest_alloc, lift_string, memory, oob, read_array, read_list, Buffer, Fault};
use crate::guest_mem::GuestMemory;

/// The calling instance during one host call.
pub struct Cx {
    pub vmctx: *mut VmCtx,
}

impl Cx {
    /// # Safety
    /// `vmctx` must be the live context of the calling instance.
    pub unsafe fn new(vmctx: *mut VmCtx) -> Cx {
        Cx { vmctx }
    }

    /// The memory as it is now (a call into the guest may have grown it since).
    pub fn mem(&self) -> Result<GuestMemory, Fault> {
        // SAFETY: `Cx::new`'s contract.
        unsafe { memory(self.vmctx) }
    }

    /// A fresh guest allocation of `size` bytes aligned to `align`, checked.
    pub fn alloc(&mut self, align: u32, size: u32) -> Result<u32, Fault> {
        // SAFETY: `Cx::new`'s contract.
        unsafe { guest_alloc(self.vmctx, align, size) }
    }

    /// Checks a return area for `T` at `ptr`.
    pub fn ret_area<T: Abi>(&self, ptr: i32) -> Result<u32, Fault> {
        super::ret_area(&self.mem()?, ptr, T::SIZE as u64, T::ALIGN as u32)
    }

    /// Stores `v` into the return area `ret` that [`Cx::ret_area`] checked.
    pub fn store_ret<T: Lower>(&mut self, ret: u32, v: T) -> Result<(), Fault> {
        let mut buf = Buffer::zeroed(T::SIZE);
        v.store(self, &mut buf, 0)?;
        self.mem()?
            .write_bytes(ret, &buf)
            .map_err(|_| oob(format!("return area {ret:#x} is outside memory")))
    }

    /// Lifts a parameter list the guest stored in memory at `ptr` (more than sixteen flat
    /// values).
    pub fn load_params<T: Lift>(&mut self, ptr: i32) -> Result<T, Fault> {
        let buf = read_array(&self.mem()?, ptr as u32, 1, T::SIZE as u32, T::ALIGN as u32)?;
        T::load(self, &buf, 0)
    }
}

/// Flat values being lifted, in order.
pub struct Flat<'a> {
    vals: &'a [u64],
    at: usize,
}

impl<'a> Flat<'a> {
    pub fn new(vals: &'a [u64]) -> Flat<'a> {
        Flat { vals, at: 0 }
    }

    fn next(&mut self) -> u64 {
        // The glue passes exactly the values the function's flat signature has.
        let v = self.vals.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }

    /// The next `n` values, as their own cursor (a variant's payload slots).
    fn take(&mut self, n: usize) -> Flat<'a> {
        let start = self.at.min(self.vals.len());
        let end = (self.at + n).min(self.vals.len());
        self.at += n;
        Flat {
            vals: &self.vals[start..end],
            at: 0,
        }
    }
}

/// Flat values being lowered.
#[derive(Default)]
pub struct FlatOut {
    vals: [u64; 16],
    len: usize,
}

impl FlatOut {
    fn push(&mut self, v: u64) {
        if self.len < self.vals.len() {
            self.vals[self.len] = v;
        }
        self.len += 1;
    }

    /// The first value (a single flat result).
    pub fn first(&self) -> u64 {
        self.vals[0]
    }
}

/// A WIT type's canonical layout on wasm32.
pub trait Abi: Sized {
    /// Bytes in memory.
    const SIZE: usize;
    /// Alignment in memory.
    const ALIGN: usize;
    /// Number of flat core values.
    const FLAT: usize;
}

/// A value the host receives from the guest.
pub trait Lift: Abi {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault>;
    /// Reads the value at `at` of `src`, a checked copy of guest memory.
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault>;
}

/// A value the host gives the guest.
pub trait Lower: Abi {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault>;
    /// Writes the value at `at` of `dst`, which is then copied into guest memory.
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault>;
}

pub const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

pub use super::align_to;

/// A lifted value the canonical ABI rejects.
pub fn invalid(why: impl Into<String>) -> Fault {
    fault(TrapKind::Unreachable, why)
}

/// A discriminant of a type with `cases` cases, checked.
pub fn case(disc: u32, cases: u32, ty: &str) -> Result<u32, Fault> {
    if disc < cases {
        Ok(disc)
    } else {
        Err(invalid(format!("{disc} is not a case of {ty}")))
    }
}

/// Reads a discriminant of `size` bytes (1, 2 or 4).
pub fn load_disc(src: &[u8], at: usize, size: usize) -> u32 {
    match size {
        1 => src[at] as u32,
        2 => u16::from_le_bytes([src[at], src[at + 1]]) as u32,
        _ => u32::from_le_bytes(src[at..at + 4].try_into().unwrap()),
    }
}

/// Writes a discriminant of `size` bytes.
pub fn store_disc(dst: &mut [u8], at: usize, size: usize, v: u32) {
    dst[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
}

/// Pads a lowered payload to the variant's `width` slots.
pub fn pad_flat(out: &mut FlatOut, start: usize, width: usize) {
    while out.len < start + width {
        out.push(0);
    }
}

/// Where the flat values of `out` stand (to pad a payload after it).
pub fn flat_len(out: &FlatOut) -> usize {
    out.len
}

/// Takes a variant's `width` payload slots from `f`.
pub fn payload<'a>(f: &mut Flat<'a>, width: usize) -> Flat<'a> {
    f.take(width)
}

macro_rules! int {
    ($t:ty, $size:expr, $lift:expr, $lower:expr) => {
        impl Abi for $t {
            const SIZE: usize = $size;
            const ALIGN: usize = $size;
            const FLAT: usize = 1;
        }
        impl Lift for $t {
            fn lift_flat(_: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
                #[allow(clippy::redundant_closure_call)]
                Ok(($lift)(f.next()))
            }
            fn load(_: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
                Ok(<$t>::from_le_bytes(src[at..at + $size].try_into().unwrap()))
            }
        }
        impl Lower for $t {
            fn lower_flat(self, _: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
                #[allow(clippy::redundant_closure_call)]
                out.push(($lower)(self));
                Ok(())
            }
            fn store(self, _: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
                dst[at..at + $size].copy_from_slice(&self.to_le_bytes());
                Ok(())
            }
        }
    };
}

int!(u8, 1, |v: u64| v as u8, |v: u8| v as u64);
int!(i8, 1, |v: u64| v as i8, |v: i8| v as i32 as u32 as u64);
int!(u16, 2, |v: u64| v as u16, |v: u16| v as u64);
int!(i16, 2, |v: u64| v as i16, |v: i16| v as i32 as u32 as u64);
int!(u32, 4, |v: u64| v as u32, |v: u32| v as u64);
int!(i32, 4, |v: u64| v as i32, |v: i32| v as u32 as u64);
int!(u64, 8, |v: u64| v, |v: u64| v);
int!(i64, 8, |v: u64| v as i64, |v: i64| v as u64);
int!(
    f32,
    4,
    |v: u64| f32::from_bits(v as u32),
    |v: f32| v.to_bits() as u64
);
int!(f64, 8, f64::from_bits, f64::to_bits);

impl Abi for bool {
    const SIZE: usize = 1;
    const ALIGN: usize = 1;
    const FLAT: usize = 1;
}
impl Lift for bool {
    fn lift_flat(_: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        Ok(f.next() as u32 != 0)
    }
    fn load(_: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        Ok(src[at] != 0)
    }
}
impl Lower for bool {
    fn lower_flat(self, _: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        out.push(self as u64);
        Ok(())
    }
    fn store(self, _: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        dst[at] = self as u8;
        Ok(())
    }
}

fn scalar(v: u32) -> Result<char, Fault> {
    char::from_u32(v).ok_or_else(|| invalid(format!("{v:#x} is not a Unicode scalar value")))
}

impl Abi for char {
    const SIZE: usize = 4;
    const ALIGN: usize = 4;
    const FLAT: usize = 1;
}
impl Lift for char {
    fn lift_flat(_: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        scalar(f.next() as u32)
    }
    fn load(_: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        scalar(u32::from_le_bytes(src[at..at + 4].try_into().unwrap()))
    }
}
impl Lower for char {
    fn lower_flat(self, _: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        out.push(self as u64);
        Ok(())
    }
    fn store(self, _: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        dst[at..at + 4].copy_from_slice(&(self as u32).to_le_bytes());
        Ok(())
    }
}

fn pair(src: &[u8], at: usize) -> (u32, u32) {
    (
        u32::from_le_bytes(src[at..at + 4].try_into().unwrap()),
        u32::from_le_bytes(src[at + 4..at + 8].try_into().unwrap()),
    )
}

fn put_pair(dst: &mut [u8], at: usize, (p, l): (u32, u32)) {
    dst[at..at + 4].copy_from_slice(&p.to_le_bytes());
    dst[at + 4..at + 8].copy_from_slice(&l.to_le_bytes());
}

fn put_flat_pair(out: &mut FlatOut, (p, l): (u32, u32)) {
    out.push(p as u64);
    out.push(l as u64);
}

macro_rules! list_layout {
    ($t:ty $(, $g:ident)?) => {
        impl$(<$g>)? Abi for $t {
            const SIZE: usize = 8;
            const ALIGN: usize = 4;
            const FLAT: usize = 2;
        }
    };
}

list_layout!(String);
impl Lift for String {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        let (p, l) = (f.next() as i32, f.next() as i32);
        lift_string(&cx.mem()?, p, l)
    }
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        let (p, l) = pair(src, at);
        lift_string(&cx.mem()?, p as i32, l as i32)
    }
}

/// Copies `bytes` into a fresh guest allocation; (pointer, length in `elem`-byte elements).
fn lower_array(cx: &mut Cx, align: usize, elem: usize, bytes: &[u8]) -> Result<(u32, u32), Fault> {
    let size = u32::try_from(bytes.len()).map_err(|_| oob("list too long for wasm32"))?;
    let ptr = cx.alloc(align as u32, size)?;
    cx.mem()?
        .write_bytes(ptr, bytes)
        .map_err(|_| oob("list outside memory"))?;
    Ok((ptr, (bytes.len() / elem.max(1)) as u32))
}

impl Lower for String {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        put_flat_pair(out, lower_array(cx, 1, 1, self.as_bytes())?);
        Ok(())
    }
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        put_pair(dst, at, lower_array(cx, 1, 1, self.as_bytes())?);
        Ok(())
    }
}

// `list<u8>`, copied once.
list_layout!(Buffer);
impl Lift for Buffer {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        let (p, l) = (f.next() as u32, f.next() as u32);
        read_list(&cx.mem()?, p, l)
    }
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        let (p, l) = pair(src, at);
        read_list(&cx.mem()?, p, l)
    }
}
impl Lower for Buffer {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        put_flat_pair(out, lower_array(cx, 1, 1, &self)?);
        Ok(())
    }
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        put_pair(dst, at, lower_array(cx, 1, 1, &self)?);
        Ok(())
    }
}

impl From<Vec<u8>> for Buffer {
    fn from(v: Vec<u8>) -> Buffer {
        Buffer::Heap(v)
    }
}

list_layout!(Vec<T>, T);
fn lift_vec<T: Lift>(cx: &mut Cx, p: u32, l: u32) -> Result<Vec<T>, Fault> {
    let buf = read_array(&cx.mem()?, p, l, T::SIZE as u32, T::ALIGN as u32)?;
    (0..l as usize)
        .map(|i| T::load(cx, &buf, i * T::SIZE))
        .collect()
}
fn lower_vec<T: Lower>(cx: &mut Cx, v: Vec<T>) -> Result<(u32, u32), Fault> {
    let mut bytes = vec![0u8; v.len() * T::SIZE];
    for (i, x) in v.into_iter().enumerate() {
        x.store(cx, &mut bytes, i * T::SIZE)?;
    }
    lower_array(cx, T::ALIGN, T::SIZE, &bytes)
}
impl<T: Lift> Lift for Vec<T> {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        let (p, l) = (f.next() as u32, f.next() as u32);
        lift_vec(cx, p, l)
    }
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        let (p, l) = pair(src, at);
        lift_vec(cx, p, l)
    }
}
impl<T: Lower> Lower for Vec<T> {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        put_flat_pair(out, lower_vec(cx, self)?);
        Ok(())
    }
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        put_pair(dst, at, lower_vec(cx, self)?);
        Ok(())
    }
}

/// An owned handle to a resource of type `R`, as the guest numbers it.
pub struct Own<R> {
    pub handle: u32,
    _r: PhantomData<fn() -> R>,
}

/// A borrowed handle to a resource of type `R`, valid for the call.
pub struct Borrow<R> {
    pub handle: u32,
    _r: PhantomData<fn() -> R>,
}

macro_rules! handle {
    ($h:ident) => {
        impl<R> $h<R> {
            pub fn new(handle: u32) -> $h<R> {
                $h {
                    handle,
                    _r: PhantomData,
                }
            }
            /// The handle as the tables key it.
            pub fn index(&self) -> i32 {
                self.handle as i32
            }
        }
        impl<R> Clone for $h<R> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<R> Copy for $h<R> {}
        impl<R> std::fmt::Debug for $h<R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($h), self.handle)
            }
        }
        impl<R> Abi for $h<R> {
            const SIZE: usize = 4;
            const ALIGN: usize = 4;
            const FLAT: usize = 1;
        }
        impl<R> Lift for $h<R> {
            fn lift_flat(_: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
                Ok($h::new(f.next() as u32))
            }
            fn load(_: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
                Ok($h::new(u32::from_le_bytes(
                    src[at..at + 4].try_into().unwrap(),
                )))
            }
        }
        impl<R> Lower for $h<R> {
            fn lower_flat(self, _: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
                out.push(self.handle as u64);
                Ok(())
            }
            fn store(self, _: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
                dst[at..at + 4].copy_from_slice(&self.handle.to_le_bytes());
                Ok(())
            }
        }
    };
}
handle!(Own);
handle!(Borrow);

impl Abi for () {
    const SIZE: usize = 0;
    const ALIGN: usize = 1;
    const FLAT: usize = 0;
}
impl Lift for () {
    fn lift_flat(_: &mut Cx, _: &mut Flat) -> Result<Self, Fault> {
        Ok(())
    }
    fn load(_: &mut Cx, _: &[u8], _: usize) -> Result<Self, Fault> {
        Ok(())
    }
}
impl Lower for () {
    fn lower_flat(self, _: &mut Cx, _: &mut FlatOut) -> Result<(), Fault> {
        Ok(())
    }
    fn store(self, _: &mut Cx, _: &mut [u8], _: usize) -> Result<(), Fault> {
        Ok(())
    }
}

impl<T: Abi> Abi for Option<T> {
    const ALIGN: usize = max(1, T::ALIGN);
    const SIZE: usize = align_to(align_to(1, T::ALIGN) + T::SIZE, Self::ALIGN);
    const FLAT: usize = 1 + T::FLAT;
}
impl<T: Lift> Lift for Option<T> {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        let disc = case(f.next() as u32, 2, "option")?;
        let mut p = payload(f, T::FLAT);
        Ok(if disc == 0 {
            None
        } else {
            Some(T::lift_flat(cx, &mut p)?)
        })
    }
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        Ok(match case(src[at] as u32, 2, "option")? {
            0 => None,
            _ => Some(T::load(cx, src, at + align_to(1, T::ALIGN))?),
        })
    }
}
impl<T: Lower> Lower for Option<T> {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        out.push(self.is_some() as u64);
        let start = out.len;
        if let Some(v) = self {
            v.lower_flat(cx, out)?;
        }
        pad_flat(out, start, T::FLAT);
        Ok(())
    }
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        dst[at] = self.is_some() as u8;
        match self {
            Some(v) => v.store(cx, dst, at + align_to(1, T::ALIGN)),
            None => Ok(()),
        }
    }
}

impl<T: Abi, E: Abi> Abi for Result<T, E> {
    const ALIGN: usize = max(1, max(T::ALIGN, E::ALIGN));
    const SIZE: usize = align_to(
        align_to(1, max(T::ALIGN, E::ALIGN)) + max(T::SIZE, E::SIZE),
        Self::ALIGN,
    );
    const FLAT: usize = 1 + max(T::FLAT, E::FLAT);
}
impl<T: Lift, E: Lift> Lift for Result<T, E> {
    fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
        let disc = case(f.next() as u32, 2, "result")?;
        let mut p = payload(f, max(T::FLAT, E::FLAT));
        Ok(if disc == 0 {
            Ok(T::lift_flat(cx, &mut p)?)
        } else {
            Err(E::lift_flat(cx, &mut p)?)
        })
    }
    fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
        let off = at + align_to(1, max(T::ALIGN, E::ALIGN));
        Ok(match case(src[at] as u32, 2, "result")? {
            0 => Ok(T::load(cx, src, off)?),
            _ => Err(E::load(cx, src, off)?),
        })
    }
}
impl<T: Lower, E: Lower> Lower for Result<T, E> {
    fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
        out.push(self.is_err() as u64);
        let start = out.len;
        match self {
            Ok(v) => v.lower_flat(cx, out)?,
            Err(e) => e.lower_flat(cx, out)?,
        }
        pad_flat(out, start, max(T::FLAT, E::FLAT));
        Ok(())
    }
    fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
        dst[at] = self.is_err() as u8;
        let off = at + align_to(1, max(T::ALIGN, E::ALIGN));
        match self {
            Ok(v) => v.store(cx, dst, off),
            Err(e) => e.store(cx, dst, off),
        }
    }
}

macro_rules! tuple {
    ($($t:ident $v:ident),+) => {
        impl<$($t: Abi),+> Abi for ($($t,)+) {
            const ALIGN: usize = { let a = 1; $(let a = max(a, $t::ALIGN);)+ a };
            const SIZE: usize = {
                let s = 0;
                $(let s = align_to(s, $t::ALIGN) + $t::SIZE;)+
                align_to(s, Self::ALIGN)
            };
            const FLAT: usize = 0 $(+ $t::FLAT)+;
        }
        impl<$($t: Lift),+> Lift for ($($t,)+) {
            fn lift_flat(cx: &mut Cx, f: &mut Flat) -> Result<Self, Fault> {
                Ok(($($t::lift_flat(cx, f)?,)+))
            }
            #[allow(unused_assignments)]
            fn load(cx: &mut Cx, src: &[u8], at: usize) -> Result<Self, Fault> {
                let mut off = 0;
                $(
                    off = align_to(off, $t::ALIGN);
                    let $v = $t::load(cx, src, at + off)?;
                    off += $t::SIZE;
                )+
                Ok(($($v,)+))
            }
        }
        impl<$($t: Lower),+> Lower for ($($t,)+) {
            fn lower_flat(self, cx: &mut Cx, out: &mut FlatOut) -> Result<(), Fault> {
                let ($($v,)+) = self;
                $($v.lower_flat(cx, out)?;)+
                Ok(())
            }
            #[allow(unused_assignments)]
            fn store(self, cx: &mut Cx, dst: &mut [u8], at: usize) -> Result<(), Fault> {
                let ($($v,)+) = self;
                let mut off = 0;
                $(
                    off = align_to(off, $t::ALIGN);
                    $v.store(cx, dst, at + off)?;
                    off += $t::SIZE;
                )+
                Ok(())
            }
        }
    };
}
tuple!(A a);
tuple!(A a, B b);
tuple!(A a, B b, C c);
tuple!(A a, B b, C c, D d);
tuple!(A a, B b, C c, D d, E e);
tuple!(A a, B b, C c, D d, E e, F f);
tuple!(A a, B b, C c, D d, E e, F f, G g);
tuple!(A a, B b, C c, D d, E e, F f, G g, H h);
tuple!(A a, B b, C c, D d, E e, F f, G g, H h, I i);
tuple!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j);
tuple!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k);
tuple!(A a, B b, C c, D d, E e, F f, G g, H h, I i, J j, K k, L l);

/// A flat parameter as the glue receives it from compiled code, as a raw word.
pub trait FlatParam {
    fn word(self) -> u64;
}
impl FlatParam for i32 {
    fn word(self) -> u64 {
        self as u32 as u64
    }
}
impl FlatParam for i64 {
    fn word(self) -> u64 {
        self as u64
    }
}
impl FlatParam for f32 {
    fn word(self) -> u64 {
        self.to_bits() as u64
    }
}
impl FlatParam for f64 {
    fn word(self) -> u64 {
        self.to_bits()
    }
}

/// Lowers a single flat result.
pub fn lower_one<T: Lower>(cx: &mut Cx, v: T) -> Result<u64, Fault> {
    let mut out = FlatOut::default();
    v.lower_flat(cx, &mut out)?;
    Ok(out.first())
}

/// The next flat value as an `i32` word (a discriminant or flags).
pub fn flat_u32(f: &mut Flat) -> u32 {
    f.next() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_mem::tests::FakeGuest;

    #[test]
    fn layouts_follow_the_canonical_abi() {
        // result<tuple<list<u8>, bool>, error-code>: payload at 4, 16 bytes.
        assert_eq!(<Result<(Buffer, bool), u8>>::SIZE, 16);
        assert_eq!(<Result<(Buffer, bool), u8>>::ALIGN, 4);
        // option<u64>: payload at 8.
        assert_eq!(<Option<u64>>::SIZE, 16);
        assert_eq!(<Option<u64>>::FLAT, 2);
        // result<_, u8>: two bytes.
        assert_eq!(<Result<(), u8>>::SIZE, 2);
        assert_eq!(<Result<u64, String>>::FLAT, 3);
        assert_eq!(<(u8, u32, u8)>::SIZE, 12);
    }

    #[test]
    fn joined_payload_slots_lift_each_case() {
        let mut g = FakeGuest::new(0x100);
        let mut cx = unsafe { Cx::new(g.vmctx()) };
        // result<u32, u64> is (i32 disc, i64 joined): the u32 case reads the low word.
        let words = [0u64, 0xffff_ffff_0000_0007];
        let v = <Result<u32, u64>>::lift_flat(&mut cx, &mut Flat::new(&words)).unwrap();
        assert_eq!(v, Ok(7));
        let words = [1u64, 0xffff_ffff_0000_0007];
        let v = <Result<u32, u64>>::lift_flat(&mut cx, &mut Flat::new(&words)).unwrap();
        assert_eq!(v, Err(0xffff_ffff_0000_0007));
        // A value after a variant starts past all of its payload slots.
        let words = [0u64, 0, 9];
        let mut f = Flat::new(&words);
        let v = <(Option<u64>, u8)>::lift_flat(&mut cx, &mut f).unwrap();
        assert_eq!(v, (None, 9));
        // Discriminants out of range fault.
        let words = [2u64, 0];
        let e = <Option<u32>>::lift_flat(&mut cx, &mut Flat::new(&words)).unwrap_err();
        assert!(e.why.contains("not a case of option"), "{}", e.why);
    }

    #[test]
    fn chars_lists_and_strings_are_checked() {
        let mut g = FakeGuest::new(0x100);
        g.bytes[0x20..0x23].copy_from_slice(b"abc");
        g.put_u32(0x40, 0xD800);
        let mut cx = unsafe { Cx::new(g.vmctx()) };
        assert!(char::lift_flat(&mut cx, &mut Flat::new(&[0xD800])).is_err());
        assert_eq!(
            char::lift_flat(&mut cx, &mut Flat::new(&[0x41])).unwrap(),
            'A'
        );
        let s = String::lift_flat(&mut cx, &mut Flat::new(&[0x20, 3])).unwrap();
        assert_eq!(s, "abc");
        // A list whose end wraps past 4 GiB, one leaving memory, one misaligned.
        assert!(Buffer::lift_flat(&mut cx, &mut Flat::new(&[0xffff_fff0, 0x20])).is_err());
        assert!(<Vec<u32>>::lift_flat(&mut cx, &mut Flat::new(&[0xf0, 8])).is_err());
        assert!(<Vec<u32>>::lift_flat(&mut cx, &mut Flat::new(&[0x41, 1])).is_err());
        let v = <Vec<u32>>::lift_flat(&mut cx, &mut Flat::new(&[0x40, 1])).unwrap();
        assert_eq!(v, [0xD800]);
        assert!(<Vec<char>>::lift_flat(&mut cx, &mut Flat::new(&[0x40, 1])).is_err());
    }

    #[test]
    fn return_areas_store_at_canonical_offsets() {
        let mut g = FakeGuest::new(0x100);
        let mut cx = unsafe { Cx::new(g.vmctx()) };
        let ret = cx.ret_area::<Result<(u64, u64), u8>>(0x10).unwrap();
        assert!(
            cx.ret_area::<Result<(u64, u64), u8>>(0x14).is_err(),
            "misaligned"
        );
        assert!(
            cx.ret_area::<Result<(u64, u64), u8>>(0xF0).is_err(),
            "leaves memory"
        );
        cx.store_ret::<Result<(u64, u64), u8>>(ret, Ok((5, 6)))
            .unwrap();
        cx.store_ret::<Option<u32>>(0x40, Some(9)).unwrap();
        assert_eq!(g.bytes[0x10], 0);
        assert_eq!(g.u32_at(0x18), 5);
        assert_eq!(g.u32_at(0x20), 6);
        assert_eq!(g.bytes[0x40], 1);
        assert_eq!(g.u32_at(0x44), 9);
    }
}
