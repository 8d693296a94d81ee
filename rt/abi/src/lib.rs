//! The contract between code compiled by `wafer-compiler` and the `wafer-rt` runtime.
//!
//! Everything both sides must agree on lives here and nowhere else: the layout of the
//! per-instance context (`vmctx`), the module descriptor that every compiled object exports,
//! the symbol names of runtime functions called by compiled code ("libcalls"), and the trap
//! kinds. The compiler reads offsets from [`VmctxLayout`]; the runtime builds instances with the
//! same type, so a change here changes both.
//!
//! # Calling convention
//!
//! Every compiled wasm function, defined or imported, is called as
//! `extern "C" fn(vmctx: *mut VmCtx, params...) -> results` in the target's C calling
//! convention (Cranelift's `SystemV`/AAPCS with `enable_multi_ret_implicit_sret`). Host
//! functions that a module imports (WASI, `spectest`) are plain `extern "C"` functions of the
//! runtime with the same shape; their `vmctx` argument is the *calling* instance's context.
//! Wasm values map to native types: `i32`→`i32`, `i64`→`i64`, `f32`→`f32`, `f64`→`f64`,
//! `funcref`/`externref`→pointer-sized integer (0 is null).
//!
//! The runtime calls into compiled code only through the *array-call trampolines* of
//! [`FuncTypeDesc::array_call`]: `fn(code, callee_vmctx, values)` reads the parameters from
//! `values` (one [`ValueSlot`] each), calls `code(callee_vmctx, params...)`, and writes the
//! results back to `values` from slot 0. `values` holds `max(params, results)` slots.
//!
//! # Linear memory
//!
//! On 64-bit hosts the runtime always reserves [`GUARDED_RESERVATION`] bytes of address space
//! for a memory (the whole 32-bit index space plus a guard that covers every static offset) and
//! commits pages as the memory grows, so the base never moves and an access past the end always
//! faults, whatever mode the accessing module was compiled in. In
//! [`BoundsChecks::Guard`] mode compiled code therefore emits no bounds checks; in
//! [`BoundsChecks::Explicit`] mode it compares `index + offset + size` with the current length.

#![no_std]

extern crate alloc;

pub mod capabilities;
pub mod component;
pub mod invoke;
pub mod wali;
mod wire;

use core::mem::size_of;

/// Bumped whenever anything in this crate changes meaning; the runtime refuses a descriptor
/// whose `abi_version` differs, so a stale object cannot be linked against a newer runtime.
pub const ABI_VERSION: u32 = 5;

/// Wasm page size in bytes.
pub const WASM_PAGE_SIZE: u64 = 65536;
/// The most pages a 32-bit memory can have (4 GiB).
pub const MAX_WASM_PAGES: u64 = 65536;
/// Address space reserved for each linear memory on 64-bit hosts: 4 GiB of index space plus a
/// 4 GiB guard (so `index + static offset + access size` always lands inside the reservation),
/// plus one extra page for the access size itself.
pub const GUARDED_RESERVATION: u64 = (8 << 30) + WASM_PAGE_SIZE;
/// Native stack granted to wasm code by default (bytes). Host functions run on the rest of the
/// thread's stack, below this limit.
pub const DEFAULT_WASM_STACK: u64 = 1 << 20;

/// Exit status of a driver executable that stopped on a wasm trap (the status of an abort,
/// which is what other wasm runtimes report too).
pub const TRAP_EXIT_STATUS: i32 = 134;

// ---------------------------------------------------------------------------------------------
// Symbols
// ---------------------------------------------------------------------------------------------

/// The runtime's entry point, called by the `main` function that the compiler emits:
/// The runtime's entry for an executable of each [`EntryMode`] (see [`EntryMode::rt_main`]):
/// `extern "C" fn(argc: i32, argv: *const *const c_char, modules: *const *const
/// ModuleDescriptor, module_count: usize, mode: u32, capabilities: *const u8,
/// capabilities_len: usize, plan: *const u8, plan_len: usize) -> i32`, where `mode` is the
/// [`EntryMode`] again, `capabilities` points at the [`capabilities::encode`]d grants of the
/// executable (placed in section [`capabilities::SECTION`]; length 0 is the empty set, which
/// spec-script executables pass) and `plan` at a component plan or an invocation. One symbol per
/// mode, so that an executable links only the runtime code of its own mode.
pub const SYM_RT_MAIN_PREFIX: &str = "wafer_rt_main_";
/// The C entry point the compiler emits for an executable.
pub const SYM_MAIN: &str = "main";
/// The runtime function every component adapter trampoline calls (see
/// [`component::Adapter`]): `extern "C" fn(vmctx, adapter: u32, values: *mut ValueSlot)`,
/// `values` holding the caller's flat arguments on entry and its flat result on return.
pub const SYM_ADAPTER_CALL: &str = "wafer_rt_adapter_call";

/// Name of the descriptor symbol a compiled module exports, given the object's symbol prefix.
/// A driver uses the prefix [`DRIVER_PREFIX`]; the spec harness uses one prefix per module.
pub fn descriptor_symbol(prefix: &str) -> alloc_free::Name {
    alloc_free::Name::join(prefix, "_module")
}
/// Symbol prefix of a driver's only module.
pub const DRIVER_PREFIX: &str = "wafer";

/// How the runtime entry (`EntryMode::rt_main`) treats the modules it is given.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryMode {
    /// One module: instantiate it with the host interfaces, run its start function and
    /// `_start`, exit with the guest's status.
    Driver = 0,
    /// Many modules: read spec-test commands (see the runtime's `spec` module) from the file
    /// named by `argv[1]` and print one result line per command.
    SpecScript = 1,
    /// A component's core modules: instantiate them as the executable's component plan
    /// ([`component::Plan`]) says, run its `wasi:cli/run` export, exit with its status.
    Component = 2,
    /// One module without an entry point: instantiate it like a driver, then make the call
    /// the executable's [`invoke::Invoke`] describes and print its result.
    Invoke = 3,
}

impl EntryMode {
    /// The runtime entry an executable of this mode calls (prefix [`SYM_RT_MAIN_PREFIX`]).
    pub const fn rt_main(self) -> &'static str {
        match self {
            EntryMode::Driver => "wafer_rt_main_driver",
            EntryMode::SpecScript => "wafer_rt_main_spec",
            EntryMode::Component => "wafer_rt_main_component",
            EntryMode::Invoke => "wafer_rt_main_invoke",
        }
    }
}

/// Runtime functions called by compiled code. All take the caller's `vmctx` first; indices
/// and lengths are the wasm `i32` operands, passed as `u32`. Functions marked "traps" do not
/// return on failure: they raise the named trap.
pub mod libcall {
    /// `(vmctx, delta_pages: u32) -> u32`: old size in pages, or `u32::MAX` when refused
    /// (beyond the declared maximum or the build-time cap).
    pub const MEMORY_GROW: &str = "wafer_rt_memory_grow";
    /// `(vmctx, dst: u32, value: u32, len: u32)`; traps `MemoryOutOfBounds`.
    pub const MEMORY_FILL: &str = "wafer_rt_memory_fill";
    /// `(vmctx, dst: u32, src: u32, len: u32)`; traps `MemoryOutOfBounds`.
    pub const MEMORY_COPY: &str = "wafer_rt_memory_copy";
    /// `(vmctx, segment: u32, dst: u32, src: u32, len: u32)`; traps `MemoryOutOfBounds`.
    pub const MEMORY_INIT: &str = "wafer_rt_memory_init";
    /// `(vmctx, segment: u32)`.
    pub const DATA_DROP: &str = "wafer_rt_data_drop";
    /// `(vmctx, table: u32, index: u32) -> usize`; traps `TableOutOfBounds`.
    pub const TABLE_GET: &str = "wafer_rt_table_get";
    /// `(vmctx, table: u32, index: u32, value: usize)`; traps `TableOutOfBounds`.
    pub const TABLE_SET: &str = "wafer_rt_table_set";
    /// `(vmctx, table: u32, init: usize, delta: u32) -> u32`: old size, or `u32::MAX`.
    pub const TABLE_GROW: &str = "wafer_rt_table_grow";
    /// `(vmctx, table: u32, dst: u32, value: usize, len: u32)`; traps `TableOutOfBounds`.
    pub const TABLE_FILL: &str = "wafer_rt_table_fill";
    /// `(vmctx, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32)`;
    /// traps `TableOutOfBounds`.
    pub const TABLE_COPY: &str = "wafer_rt_table_copy";
    /// `(vmctx, table: u32, segment: u32, dst: u32, src: u32, len: u32)`;
    /// traps `TableOutOfBounds`.
    pub const TABLE_INIT: &str = "wafer_rt_table_init";
    /// `(vmctx, segment: u32)`.
    pub const ELEM_DROP: &str = "wafer_rt_elem_drop";
    /// `memory.atomic.wait32`: `(vmctx, address: u64, expected: u32, timeout_ns: i64) -> u32`
    /// where `address` is the effective address (index + static offset, so it may exceed
    /// 32 bits) and a negative timeout waits forever. Returns 0 (woken by a notify), 1 (the
    /// value differed) or 2 (timed out). Traps `UnalignedAtomic`, `MemoryOutOfBounds`, and
    /// `WaitOnUnsharedMemory` on a memory that is not shared.
    pub const MEMORY_ATOMIC_WAIT32: &str = "wafer_rt_memory_atomic_wait32";
    /// `memory.atomic.wait64`: as [`MEMORY_ATOMIC_WAIT32`] with `expected: u64`.
    pub const MEMORY_ATOMIC_WAIT64: &str = "wafer_rt_memory_atomic_wait64";
    /// `memory.atomic.notify`: `(vmctx, address: u64, count: u32) -> u32`, the number of
    /// waiters woken (0 on an unshared memory, which nobody can wait on). Traps
    /// `UnalignedAtomic` and `MemoryOutOfBounds`.
    pub const MEMORY_ATOMIC_NOTIFY: &str = "wafer_rt_memory_atomic_notify";
    /// `(vmctx)`: runs the WALI guest's handlers for the signals pending on this thread.
    /// Called only by modules that import from `wali`, at a safe point (function entry, loop
    /// header) where the word `vmctx.signal_flag` ([`VmctxLayout::SIGNAL_FLAG`]) is
    /// non-zero. The handlers are wasm code, so it may trap.
    ///
    /// [`VmctxLayout::SIGNAL_FLAG`]: super::VmctxLayout::SIGNAL_FLAG
    pub const WALI_DELIVER_SIGNALS: &str = "wafer_rt_wali_deliver_signals";

    /// Every libcall.
    /// f32/f64 `floor`, `ceil`, `trunc` and `nearest` for x86_64 code without SSE4.1, which
    /// Cranelift lowers to a call: `(x) -> x rounded`, by wasm's rules (nearest: half to even;
    /// a NaN comes back quiet, which the C library's versions do not all guarantee: glibc's
    /// `floorf` returns a signalling NaN as it came). The object writer names Cranelift's
    /// rounding calls so; the compiler declares no import for them itself.
    pub const ROUNDING: [&str; 8] = [
        FLOOR_F32,
        FLOOR_F64,
        CEIL_F32,
        CEIL_F64,
        TRUNC_F32,
        TRUNC_F64,
        NEAREST_F32,
        NEAREST_F64,
    ];
    pub const FLOOR_F32: &str = "wafer_rt_floor_f32";
    pub const FLOOR_F64: &str = "wafer_rt_floor_f64";
    pub const CEIL_F32: &str = "wafer_rt_ceil_f32";
    pub const CEIL_F64: &str = "wafer_rt_ceil_f64";
    pub const TRUNC_F32: &str = "wafer_rt_trunc_f32";
    pub const TRUNC_F64: &str = "wafer_rt_trunc_f64";
    pub const NEAREST_F32: &str = "wafer_rt_nearest_f32";
    pub const NEAREST_F64: &str = "wafer_rt_nearest_f64";

    pub const ALL: [&str; 16] = [
        MEMORY_GROW,
        MEMORY_FILL,
        MEMORY_COPY,
        MEMORY_INIT,
        DATA_DROP,
        TABLE_GET,
        TABLE_SET,
        TABLE_GROW,
        TABLE_FILL,
        TABLE_COPY,
        TABLE_INIT,
        ELEM_DROP,
        MEMORY_ATOMIC_WAIT32,
        MEMORY_ATOMIC_WAIT64,
        MEMORY_ATOMIC_NOTIFY,
        WALI_DELIVER_SIGNALS,
    ];
}

// ---------------------------------------------------------------------------------------------
// Traps
// ---------------------------------------------------------------------------------------------

/// Why wasm code stopped. Compiled code raises these as Cranelift user trap codes with the
/// same numeric value (`TrapCode::user(kind as u8)`); the compiler translates Cranelift's own
/// reserved codes (stack overflow, division by zero, ...) into these kinds when it writes the
/// trap table, so the runtime only ever sees `TrapKind` values.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    StackOverflow = 1,
    MemoryOutOfBounds = 2,
    IntegerDivisionByZero = 3,
    IntegerOverflow = 4,
    BadConversionToInteger = 5,
    Unreachable = 6,
    /// `call_indirect` index past the table's end.
    IndirectCallOutOfBounds = 7,
    /// `call_indirect` through a null entry.
    IndirectCallToNull = 8,
    /// `call_indirect` whose entry has another signature.
    BadSignature = 9,
    /// `table.get/set/fill/copy/init` out of range.
    TableOutOfBounds = 10,
    /// A null reference where one is not allowed.
    NullReference = 11,
    /// A host call named a resource handle the instance does not own (never issued, already
    /// dropped, or of another resource type): the component model's trap.
    UnknownHandle = 12,
    /// An atomic access whose effective address is not a multiple of its size.
    UnalignedAtomic = 13,
    /// `memory.atomic.wait32/64` on a memory that is not shared.
    WaitOnUnsharedMemory = 14,
    /// A WALI guest called `longjmp`, which compiled frames cannot honour.
    Longjmp = 15,
    /// A WALI guest called `rt_sigreturn` itself: the runtime returns from signal handlers,
    /// so there is no signal frame to return to.
    SignalReturn = 16,
}

impl TrapKind {
    pub const ALL: [TrapKind; 16] = [
        TrapKind::StackOverflow,
        TrapKind::MemoryOutOfBounds,
        TrapKind::IntegerDivisionByZero,
        TrapKind::IntegerOverflow,
        TrapKind::BadConversionToInteger,
        TrapKind::Unreachable,
        TrapKind::IndirectCallOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::BadSignature,
        TrapKind::TableOutOfBounds,
        TrapKind::NullReference,
        TrapKind::UnknownHandle,
        TrapKind::UnalignedAtomic,
        TrapKind::WaitOnUnsharedMemory,
        TrapKind::Longjmp,
        TrapKind::SignalReturn,
    ];

    pub fn from_u8(byte: u8) -> Option<TrapKind> {
        TrapKind::ALL.iter().copied().find(|k| *k as u8 == byte)
    }

    /// The wording the WebAssembly specification's test suite uses for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::Unreachable => "unreachable",
            TrapKind::IndirectCallOutOfBounds => "undefined element",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::NullReference => "null reference",
            TrapKind::UnknownHandle => "unknown handle",
            TrapKind::UnalignedAtomic => "unaligned atomic",
            TrapKind::WaitOnUnsharedMemory => "expected shared memory",
            TrapKind::Longjmp => "longjmp is not supported (setjmp returned 0 once)",
            TrapKind::SignalReturn => "rt_sigreturn called outside a signal handler's return",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values and types
// ---------------------------------------------------------------------------------------------

/// One value in an array call or a global: 16 bytes, wide enough for every wasm value.
/// Integers and references are stored zero-extended in native (little-endian) byte order,
/// floats by their bits, a `v128` as its 16 bytes (lane 0 first). Every target wafer supports
/// is little-endian, so a scalar's bits are the slot's first 8 bytes ([`ValueSlot::lo`]) and
/// compiled code reads and writes scalars there with one 8-byte access.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueSlot {
    pub lo: u64,
    pub hi: u64,
}

impl ValueSlot {
    pub const ZERO: ValueSlot = ValueSlot { lo: 0, hi: 0 };
    /// Size in bytes (the stride of value arrays and of defined globals in `vmctx`).
    pub const SIZE: u32 = 16;

    /// A scalar value (i32/i64 zero-extended, float bits, reference).
    pub const fn scalar(bits: u64) -> ValueSlot {
        ValueSlot { lo: bits, hi: 0 }
    }

    /// A `v128`.
    pub const fn v128(bits: u128) -> ValueSlot {
        ValueSlot {
            lo: bits as u64,
            hi: (bits >> 64) as u64,
        }
    }

    /// The slot as a `v128`.
    pub const fn as_v128(self) -> u128 {
        (self.hi as u128) << 64 | self.lo as u128
    }
}

const _: () = assert!(size_of::<ValueSlot>() == ValueSlot::SIZE as usize);

/// Value type codes used in descriptors.
pub mod valtype {
    pub const I32: u8 = 0;
    pub const I64: u8 = 1;
    pub const F32: u8 = 2;
    pub const F64: u8 = 3;
    pub const FUNCREF: u8 = 5;
    pub const EXTERNREF: u8 = 6;
    /// A 128-bit SIMD vector (16 bytes, little-endian lane order).
    pub const V128: u8 = 7;

    /// The type's name in the text format, for messages.
    pub fn name(code: u8) -> &'static str {
        match code {
            I32 => "i32",
            I64 => "i64",
            F32 => "f32",
            F64 => "f64",
            FUNCREF => "funcref",
            EXTERNREF => "externref",
            V128 => "v128",
            _ => "unknown",
        }
    }
}

/// Kinds of imports and exports.
pub mod extern_kind {
    pub const FUNC: u8 = 0;
    pub const TABLE: u8 = 1;
    pub const MEMORY: u8 = 2;
    pub const GLOBAL: u8 = 3;
}

/// "No limit" / "none" marker in `u32` and `u64` descriptor fields.
pub const NONE_U32: u32 = u32::MAX;
pub const NONE_U64: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------------
// Runtime structures that compiled code reads directly
// ---------------------------------------------------------------------------------------------

/// Opaque per-instance context; its layout is given by [`VmctxLayout`].
#[repr(C)]
pub struct VmCtx {
    _opaque: [u8; 0],
}

/// A linear memory, shared by the instance that defines it and every instance that imports it.
#[repr(C)]
pub struct MemoryDef {
    pub base: *mut u8,
    /// Current size in bytes.
    pub length: u64,
}
pub const MEMORY_DEF_BASE: u32 = 0;
pub const MEMORY_DEF_LENGTH: u32 = 8;

/// A table: `length` pointer-sized elements at `elements` (0 is null). A funcref element
/// points at a [`FuncRef`]; an externref element is an opaque host value.
#[repr(C)]
pub struct TableDef {
    pub elements: *mut usize,
    /// Current size in elements.
    pub length: u64,
}
pub const TABLE_DEF_ELEMENTS: u32 = 0;
pub const TABLE_DEF_LENGTH: u32 = 8;

/// What a non-null funcref points at. Each instance owns one per function index, so
/// `ref.func` is `vmctx.func_refs + index * size_of::<FuncRef>()`.
#[repr(C)]
pub struct FuncRef {
    pub code: *const u8,
    /// The context the code must be called with (the defining instance's, or the caller's
    /// for host functions).
    pub vmctx: *mut VmCtx,
    /// Process-wide canonical id of the function's signature (see `vmctx.type_ids`).
    pub type_id: u32,
    pub _pad: u32,
}
pub const FUNC_REF_CODE: u32 = 0;
pub const FUNC_REF_VMCTX: u32 = 8;
pub const FUNC_REF_TYPE_ID: u32 = 16;
pub const FUNC_REF_SIZE: u32 = size_of::<FuncRef>() as u32;

/// An imported function as the importer sees it.
#[repr(C)]
pub struct ImportedFunc {
    pub code: *const u8,
    pub vmctx: *mut VmCtx,
}
pub const IMPORTED_FUNC_CODE: u32 = 0;
pub const IMPORTED_FUNC_VMCTX: u32 = 8;
pub const IMPORTED_FUNC_SIZE: u32 = size_of::<ImportedFunc>() as u32;

/// Per-thread limits: every instance running on one native thread points at that thread's
/// (a wasi-threads thread has its own instance, stack and limits).
#[repr(C)]
pub struct Limits {
    /// Lowest stack address wasm code may use; every compiled prologue compares against it.
    pub stack_limit: usize,
}
pub const LIMITS_STACK_LIMIT: u32 = 0;

/// Offsets in `vmctx`. The fixed header comes first, then the variable-length arrays.
///
/// | offset | field |
/// |---|---|
/// | 0 | `memory_base: *mut u8` (never changes for an instance; null without memory) |
/// | 8 | `memory: *mut MemoryDef` (null without memory) |
/// | 16 | `limits: *const Limits` |
/// | 24 | `instance: *mut c_void` (the runtime's own instance; opaque to compiled code) |
/// | 32 | `func_refs: *const FuncRef` (one per function index, imports first) |
/// | 40 | `type_ids: *const u32` (canonical signature id per module type index) |
/// | 48 | `signal_flag: u32`, then 4 bytes of padding (non-zero when a WALI signal may be deliverable on the instance's thread; the runtime, its signal handler included, writes it; only code of modules importing `wali` reads it, see [`libcall::WALI_DELIVER_SIGNALS`]) |
/// | `imported_funcs` | `[ImportedFunc; num_imported_funcs]` |
/// | `tables` | `[*mut TableDef; num_tables]` (imported and defined, in index order) |
/// | `imported_globals` | `[*mut ValueSlot; num_imported_globals]` |
/// | `defined_globals` | `[ValueSlot; num_defined_globals]` |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmctxLayout {
    pub num_imported_funcs: u32,
    pub num_tables: u32,
    pub num_imported_globals: u32,
    pub num_defined_globals: u32,
}

impl VmctxLayout {
    pub const MEMORY_BASE: u32 = 0;
    pub const MEMORY: u32 = 8;
    pub const LIMITS: u32 = 16;
    pub const INSTANCE: u32 = 24;
    pub const FUNC_REFS: u32 = 32;
    pub const TYPE_IDS: u32 = 40;
    pub const SIGNAL_FLAG: u32 = 48;
    const HEADER_SIZE: u32 = 56;

    pub fn imported_funcs(&self) -> u32 {
        Self::HEADER_SIZE
    }
    pub fn imported_func(&self, index: u32) -> u32 {
        debug_assert!(index < self.num_imported_funcs);
        self.imported_funcs() + index * IMPORTED_FUNC_SIZE
    }
    pub fn tables(&self) -> u32 {
        self.imported_funcs() + self.num_imported_funcs * IMPORTED_FUNC_SIZE
    }
    /// Offset of the `*mut TableDef` for table `index`.
    pub fn table(&self, index: u32) -> u32 {
        debug_assert!(index < self.num_tables);
        self.tables() + index * 8
    }
    pub fn imported_globals(&self) -> u32 {
        self.tables() + self.num_tables * 8
    }
    /// Offset of the `*mut ValueSlot` for imported global `index`.
    pub fn imported_global(&self, index: u32) -> u32 {
        debug_assert!(index < self.num_imported_globals);
        self.imported_globals() + index * 8
    }
    pub fn defined_globals(&self) -> u32 {
        self.imported_globals() + self.num_imported_globals * 8
    }
    /// Offset of the value of defined global `index` (counted among defined globals only).
    pub fn defined_global(&self, defined_index: u32) -> u32 {
        debug_assert!(defined_index < self.num_defined_globals);
        self.defined_globals() + defined_index * ValueSlot::SIZE
    }
    /// Total size of the `vmctx` allocation (8-byte aligned).
    pub fn size(&self) -> u32 {
        self.defined_globals() + self.num_defined_globals * ValueSlot::SIZE
    }
}

// ---------------------------------------------------------------------------------------------
// The module descriptor: static data every compiled object exports
// ---------------------------------------------------------------------------------------------

/// A borrowed array in static data.
#[repr(C)]
pub struct Slice<T> {
    pub ptr: *const T,
    pub len: usize,
}

impl<T> Slice<T> {
    /// # Safety
    /// `ptr` must point at `len` valid `T`s that live as long as the slice is used (true for
    /// descriptors, which are static data of the executable).
    pub unsafe fn as_slice(&self) -> &[T] {
        if self.len == 0 {
            &[]
        } else {
            core::slice::from_raw_parts(self.ptr, self.len)
        }
    }
}

/// UTF-8 text in static data.
pub type Str = Slice<u8>;

/// Field offsets of [`Slice`]; the compiler writes slices as two pointer-sized words.
pub const SLICE_PTR: u32 = 0;
pub const SLICE_LEN: u32 = 8;
pub const SLICE_SIZE: u32 = 16;

/// Array-call trampoline: `fn(code, callee_vmctx, values)`.
pub type ArrayCall = unsafe extern "C" fn(*const u8, *mut VmCtx, *mut ValueSlot);

#[repr(C)]
pub struct FuncTypeDesc {
    pub params: Slice<u8>,
    pub results: Slice<u8>,
    /// Trampoline for calling a function of this type from the runtime.
    pub array_call: ArrayCall,
}

#[repr(C)]
pub struct ImportDesc {
    pub module: Str,
    pub field: Str,
    /// An [`extern_kind`] value.
    pub kind: u8,
    pub _pad: [u8; 3],
    /// Index in the function, table, memory or global index space.
    pub index: u32,
    /// For a function import that `wafer build` resolved to a runtime host function (see
    /// [`HOST_FUNCS`]): that function's address, bound by a relocation, so an executable links
    /// only the host code its module imports. Null for imports left to the runtime to bind
    /// by name (the spec harness links modules to each other that way).
    pub host_code: *const u8,
}

#[repr(C)]
pub struct FunctionDesc {
    pub type_index: u32,
    pub _pad: u32,
    /// Null for imported functions.
    pub code: *const u8,
    /// From the name section, or empty.
    pub name: Str,
}

#[repr(C)]
pub struct TableDesc {
    /// [`valtype::FUNCREF`] or [`valtype::EXTERNREF`].
    pub elem_type: u8,
    pub imported: u8,
    pub _pad: [u8; 6],
    pub initial: u64,
    /// [`NONE_U64`] when unbounded.
    pub maximum: u64,
}

#[repr(C)]
pub struct MemoryDesc {
    pub imported: u8,
    /// 1 for a shared memory (threads proposal): its length is read and grown atomically
    /// and `memory.atomic.wait*` may block on it.
    pub shared: u8,
    pub _pad: [u8; 6],
    pub initial_pages: u64,
    /// [`NONE_U64`] when unbounded.
    pub maximum_pages: u64,
}

#[repr(C)]
pub struct GlobalDesc {
    /// A [`valtype`] value.
    pub ty: u8,
    pub mutable: u8,
    pub imported: u8,
    pub _pad: u8,
    /// For defined globals: offset of the value in `vmctx`; for imported ones: offset of the
    /// pointer to it. Same as [`VmctxLayout`] gives; stored so readers need no layout maths.
    pub vmctx_offset: u32,
}

#[repr(C)]
pub struct ExportDesc {
    pub name: Str,
    /// An [`extern_kind`] value.
    pub kind: u8,
    pub _pad: [u8; 3],
    pub index: u32,
}

/// An element segment's items as function indices; [`NONE_U32`] is a null reference.
#[repr(C)]
pub struct ElemSegmentDesc {
    /// [`valtype::FUNCREF`] or [`valtype::EXTERNREF`].
    pub elem_type: u8,
    pub _pad: [u8; 7],
    pub items: Slice<u32>,
}

/// One trapping instruction: offset from its function's start, and a [`TrapKind`] value.
#[repr(C)]
pub struct TrapSite {
    pub offset: u32,
    pub kind: u8,
    pub _pad: [u8; 3],
}

/// Code range and trap sites of one compiled wasm function. Every defined function has one, so
/// the runtime can map any address in wasm code to its function (to name the caller of a
/// libcall that traps, too). The descriptor's list is sorted by `start`, because the compiler
/// lays functions out in index order in one text section.
#[repr(C)]
pub struct TrapFunctionDesc {
    pub start: *const u8,
    pub len: u32,
    pub func_index: u32,
    pub sites: Slice<TrapSite>,
}

/// Flags in [`ModuleDescriptor::flags`].
pub mod module_flags {
    /// Compiled with explicit bounds checks rather than relying on the guard region.
    pub const EXPLICIT_BOUNDS_CHECKS: u32 = 1;
}

/// Bounds-checking strategy for linear memory accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundsChecks {
    /// Rely on the guard region: no checks in compiled code.
    #[default]
    Guard,
    /// Compare every access against the memory's current length.
    Explicit,
}

/// Everything the runtime needs to instantiate a compiled module. The compiler emits one of
/// these under [`descriptor_symbol`]; startup work is proportional to what it declares.
#[repr(C)]
pub struct ModuleDescriptor {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// [`module_flags`] bits.
    pub flags: u32,
    pub types: Slice<FuncTypeDesc>,
    pub imports: Slice<ImportDesc>,
    /// One per function index, imports first.
    pub functions: Slice<FunctionDesc>,
    /// One per table index, imports first.
    pub tables: Slice<TableDesc>,
    /// Zero or one.
    pub memories: Slice<MemoryDesc>,
    /// One per global index, imports first.
    pub globals: Slice<GlobalDesc>,
    pub exports: Slice<ExportDesc>,
    pub data_segments: Slice<Slice<u8>>,
    pub elem_segments: Slice<ElemSegmentDesc>,
    /// Function index of the start function, or [`NONE_U32`].
    pub start_function: u32,
    /// Build-time cap on memory size in pages (never above [`MAX_WASM_PAGES`]); `memory.grow`
    /// past it fails like growing past the declared maximum.
    pub memory_cap_pages: u32,
    /// Runs at instantiation, after imports are bound and before the start function:
    /// initializes defined globals, then applies active element segments (table.init +
    /// elem.drop, also elem.drop for declarative ones), then active data segments
    /// (memory.init + data.drop), in order. May trap.
    pub init: unsafe extern "C" fn(*mut VmCtx),
    /// One per defined function, sorted by `start`.
    pub trap_functions: Slice<TrapFunctionDesc>,
    /// Module name from the name section, or empty.
    pub name: Str,
    /// The layout counts the code was compiled with.
    pub layout_num_imported_funcs: u32,
    pub layout_num_tables: u32,
    pub layout_num_imported_globals: u32,
    pub layout_num_defined_globals: u32,
    /// Native stack granted to wasm code on each thread, in bytes (the build's choice:
    /// [`DEFAULT_WASM_STACK`], or [`wali::DEFAULT_STACK`] for WALI programs).
    pub wasm_stack_bytes: u64,
}

impl ModuleDescriptor {
    pub fn vmctx_layout(&self) -> VmctxLayout {
        VmctxLayout {
            num_imported_funcs: self.layout_num_imported_funcs,
            num_tables: self.layout_num_tables,
            num_imported_globals: self.layout_num_imported_globals,
            num_defined_globals: self.layout_num_defined_globals,
        }
    }
}

/// Field offsets of [`ModuleDescriptor`] and the other descriptor structs, for the compiler,
/// which writes them as raw bytes. Checked against the Rust layout by the tests below.
pub mod desc_offsets {
    pub const MODULE_ABI_VERSION: u32 = 0;
    pub const MODULE_FLAGS: u32 = 4;
    pub const MODULE_TYPES: u32 = 8;
    pub const MODULE_IMPORTS: u32 = 24;
    pub const MODULE_FUNCTIONS: u32 = 40;
    pub const MODULE_TABLES: u32 = 56;
    pub const MODULE_MEMORIES: u32 = 72;
    pub const MODULE_GLOBALS: u32 = 88;
    pub const MODULE_EXPORTS: u32 = 104;
    pub const MODULE_DATA_SEGMENTS: u32 = 120;
    pub const MODULE_ELEM_SEGMENTS: u32 = 136;
    pub const MODULE_START_FUNCTION: u32 = 152;
    pub const MODULE_MEMORY_CAP_PAGES: u32 = 156;
    pub const MODULE_INIT: u32 = 160;
    pub const MODULE_TRAP_FUNCTIONS: u32 = 168;
    pub const MODULE_NAME: u32 = 184;
    pub const MODULE_LAYOUT_NUM_IMPORTED_FUNCS: u32 = 200;
    pub const MODULE_LAYOUT_NUM_TABLES: u32 = 204;
    pub const MODULE_LAYOUT_NUM_IMPORTED_GLOBALS: u32 = 208;
    pub const MODULE_LAYOUT_NUM_DEFINED_GLOBALS: u32 = 212;
    pub const MODULE_WASM_STACK_BYTES: u32 = 216;
    pub const MODULE_SIZE: u32 = 224;

    pub const FUNC_TYPE_PARAMS: u32 = 0;
    pub const FUNC_TYPE_RESULTS: u32 = 16;
    pub const FUNC_TYPE_ARRAY_CALL: u32 = 32;
    pub const FUNC_TYPE_SIZE: u32 = 40;

    pub const IMPORT_MODULE: u32 = 0;
    pub const IMPORT_FIELD: u32 = 16;
    pub const IMPORT_KIND: u32 = 32;
    pub const IMPORT_INDEX: u32 = 36;
    pub const IMPORT_HOST_CODE: u32 = 40;
    pub const IMPORT_SIZE: u32 = 48;

    pub const FUNCTION_TYPE_INDEX: u32 = 0;
    pub const FUNCTION_CODE: u32 = 8;
    pub const FUNCTION_NAME: u32 = 16;
    pub const FUNCTION_SIZE: u32 = 32;

    pub const TABLE_ELEM_TYPE: u32 = 0;
    pub const TABLE_IMPORTED: u32 = 1;
    pub const TABLE_INITIAL: u32 = 8;
    pub const TABLE_MAXIMUM: u32 = 16;
    pub const TABLE_SIZE: u32 = 24;

    pub const MEMORY_IMPORTED: u32 = 0;
    pub const MEMORY_SHARED: u32 = 1;
    pub const MEMORY_INITIAL_PAGES: u32 = 8;
    pub const MEMORY_MAXIMUM_PAGES: u32 = 16;
    pub const MEMORY_SIZE: u32 = 24;

    pub const GLOBAL_TY: u32 = 0;
    pub const GLOBAL_MUTABLE: u32 = 1;
    pub const GLOBAL_IMPORTED: u32 = 2;
    pub const GLOBAL_VMCTX_OFFSET: u32 = 4;
    pub const GLOBAL_SIZE: u32 = 8;

    pub const EXPORT_NAME: u32 = 0;
    pub const EXPORT_KIND: u32 = 16;
    pub const EXPORT_INDEX: u32 = 20;
    pub const EXPORT_SIZE: u32 = 24;

    pub const ELEM_ELEM_TYPE: u32 = 0;
    pub const ELEM_ITEMS: u32 = 8;
    pub const ELEM_SIZE: u32 = 24;

    pub const TRAP_SITE_OFFSET: u32 = 0;
    pub const TRAP_SITE_KIND: u32 = 4;
    pub const TRAP_SITE_SIZE: u32 = 8;

    pub const TRAP_FUNCTION_START: u32 = 0;
    pub const TRAP_FUNCTION_LEN: u32 = 8;
    pub const TRAP_FUNCTION_FUNC_INDEX: u32 = 12;
    pub const TRAP_FUNCTION_SITES: u32 = 16;
    pub const TRAP_FUNCTION_SIZE: u32 = 32;
}

/// A symbol name built without allocation (this crate is `no_std` so the runtime's startup
/// path pulls in nothing).
pub mod alloc_free {
    /// A short name: at most 120 bytes.
    pub struct Name {
        bytes: [u8; 120],
        len: usize,
    }
    impl Name {
        pub fn join(a: &str, b: &str) -> Name {
            let mut bytes = [0u8; 120];
            let total = a.len() + b.len();
            assert!(total <= bytes.len(), "symbol prefix too long");
            bytes[..a.len()].copy_from_slice(a.as_bytes());
            bytes[a.len()..total].copy_from_slice(b.as_bytes());
            Name { bytes, len: total }
        }
        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len]).expect("joined from two strs")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Host functions the runtime provides
// ---------------------------------------------------------------------------------------------

/// A function the runtime provides to guests: the import it satisfies, its wasm signature
/// (as [`valtype`] codes, without the leading `vmctx`), and the runtime symbol implementing it.
#[derive(Clone, Copy, Debug)]
pub struct HostFunc {
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [u8],
    pub results: &'static [u8],
    /// For a WIT function, its type with names erased (`wafer_witgen::shape`): what tells two
    /// published types of one import apart when their core signatures are equal. Empty for
    /// preview1 and wasi-threads.
    pub shape: &'static str,
    /// Which revision of its WIT package this implements when the package was published
    /// twice under one version (the `wit/` folder of that revision, e.g. `usb-2026`); empty
    /// for the one in `wit/deps` and for everything else.
    pub edition: &'static str,
    pub symbol: &'static str,
}

/// The WASI preview1 import module.
pub const WASI_P1: &str = "wasi_snapshot_preview1";
/// World-level functions of the guest's world (the canonical ABI's import module for them).
pub const WORLD_ROOT: &str = "$root";
/// wasi-threads: `thread-spawn`, as `wasm32-wasip1-threads` imports it.
pub const WASI_THREADS: &str = "wasi";

/// The one memory import a driver may have: the runtime creates it with the limits (and
/// sharedness) the module declares. wasi-threads modules import their shared memory so.
pub const DRIVER_MEMORY_IMPORT: (&str, &str) = ("env", "memory");

/// Most guest threads (besides the main one) alive at once in one process. Each reserves
/// [`guest_thread_stack`] of address space for its native stack, committed only as it is
/// used; `thread-spawn` beyond the cap answers a negative value, which wasi-libc turns into
/// EAGAIN.
pub const MAX_GUEST_THREADS: u32 = 256;
/// Native stack reserved for a guest thread whose wasm code may use `wasm_stack` bytes: that
/// plus 1 MiB for the host functions it calls.
pub const fn guest_thread_stack(wasm_stack: u64) -> u64 {
    wasm_stack + (1 << 20)
}

/// Defines a table of [`HostFunc`]s, one line per function:
/// `MODULE, "name"(PARAMS) -> (RESULTS) => "runtime_symbol";`.
macro_rules! host_funcs {
    ($(#[$meta:meta])* $vis:vis static $table:ident;
     $( $module:expr, $name:literal ( $($p:ident),* ) -> ( $($r:ident),* ) => $sym:literal; )*) => {
        $(#[$meta])*
        $vis static $table: &[HostFunc] = &[
            $( HostFunc {
                module: $module,
                name: $name,
                params: &[$(valtype::$p),*],
                results: &[$(valtype::$r),*],
                shape: "",
                edition: "",
                symbol: $sym,
            }, )*
        ];
    };
}

pub mod wasi_over_wali;
pub mod wasi_p1;
pub mod wasi_p2;
mod wit_table;
pub use wit_table::{WIT_FUNCS, WIT_MODULES};

host_funcs! {
    /// The host functions of preview1 and wasi-threads. With [`WIT_FUNCS`] (generated from
    /// the WIT), every host function the runtime implements: `wafer build` refuses a
    /// module that imports a function from a host module that is not listed (naming it), or
    /// with another signature.
    pub static HOST_FUNCS;
    WASI_P1, "args_get"(I32, I32) -> (I32) => "wafer_wasi_args_get";
    WASI_P1, "args_sizes_get"(I32, I32) -> (I32) => "wafer_wasi_args_sizes_get";
    WASI_P1, "environ_get"(I32, I32) -> (I32) => "wafer_wasi_environ_get";
    WASI_P1, "environ_sizes_get"(I32, I32) -> (I32) => "wafer_wasi_environ_sizes_get";
    WASI_P1, "clock_res_get"(I32, I32) -> (I32) => "wafer_wasi_clock_res_get";
    WASI_P1, "clock_time_get"(I32, I64, I32) -> (I32) => "wafer_wasi_clock_time_get";
    WASI_P1, "fd_advise"(I32, I64, I64, I32) -> (I32) => "wafer_wasi_fd_advise";
    WASI_P1, "fd_allocate"(I32, I64, I64) -> (I32) => "wafer_wasi_fd_allocate";
    WASI_P1, "fd_close"(I32) -> (I32) => "wafer_wasi_fd_close";
    WASI_P1, "fd_datasync"(I32) -> (I32) => "wafer_wasi_fd_datasync";
    WASI_P1, "fd_fdstat_get"(I32, I32) -> (I32) => "wafer_wasi_fd_fdstat_get";
    WASI_P1, "fd_fdstat_set_flags"(I32, I32) -> (I32) => "wafer_wasi_fd_fdstat_set_flags";
    WASI_P1, "fd_fdstat_set_rights"(I32, I64, I64) -> (I32) => "wafer_wasi_fd_fdstat_set_rights";
    WASI_P1, "fd_filestat_get"(I32, I32) -> (I32) => "wafer_wasi_fd_filestat_get";
    WASI_P1, "fd_filestat_set_size"(I32, I64) -> (I32) => "wafer_wasi_fd_filestat_set_size";
    WASI_P1, "fd_filestat_set_times"(I32, I64, I64, I32) -> (I32) => "wafer_wasi_fd_filestat_set_times";
    WASI_P1, "fd_pread"(I32, I32, I32, I64, I32) -> (I32) => "wafer_wasi_fd_pread";
    WASI_P1, "fd_prestat_get"(I32, I32) -> (I32) => "wafer_wasi_fd_prestat_get";
    WASI_P1, "fd_prestat_dir_name"(I32, I32, I32) -> (I32) => "wafer_wasi_fd_prestat_dir_name";
    WASI_P1, "fd_pwrite"(I32, I32, I32, I64, I32) -> (I32) => "wafer_wasi_fd_pwrite";
    WASI_P1, "fd_read"(I32, I32, I32, I32) -> (I32) => "wafer_wasi_fd_read";
    WASI_P1, "fd_readdir"(I32, I32, I32, I64, I32) -> (I32) => "wafer_wasi_fd_readdir";
    WASI_P1, "fd_renumber"(I32, I32) -> (I32) => "wafer_wasi_fd_renumber";
    WASI_P1, "fd_seek"(I32, I64, I32, I32) -> (I32) => "wafer_wasi_fd_seek";
    WASI_P1, "fd_sync"(I32) -> (I32) => "wafer_wasi_fd_sync";
    WASI_P1, "fd_tell"(I32, I32) -> (I32) => "wafer_wasi_fd_tell";
    WASI_P1, "fd_write"(I32, I32, I32, I32) -> (I32) => "wafer_wasi_fd_write";
    WASI_P1, "path_create_directory"(I32, I32, I32) -> (I32) => "wafer_wasi_path_create_directory";
    WASI_P1, "path_filestat_get"(I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_path_filestat_get";
    WASI_P1, "path_filestat_set_times"(I32, I32, I32, I32, I64, I64, I32) -> (I32) => "wafer_wasi_path_filestat_set_times";
    WASI_P1, "path_link"(I32, I32, I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_path_link";
    WASI_P1, "path_open"(I32, I32, I32, I32, I32, I64, I64, I32, I32) -> (I32) => "wafer_wasi_path_open";
    WASI_P1, "path_readlink"(I32, I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_path_readlink";
    WASI_P1, "path_remove_directory"(I32, I32, I32) -> (I32) => "wafer_wasi_path_remove_directory";
    WASI_P1, "path_rename"(I32, I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_path_rename";
    WASI_P1, "path_symlink"(I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_path_symlink";
    WASI_P1, "path_unlink_file"(I32, I32, I32) -> (I32) => "wafer_wasi_path_unlink_file";
    WASI_P1, "poll_oneoff"(I32, I32, I32, I32) -> (I32) => "wafer_wasi_poll_oneoff";
    WASI_P1, "proc_exit"(I32) -> () => "wafer_wasi_proc_exit";
    WASI_P1, "proc_raise"(I32) -> (I32) => "wafer_wasi_proc_raise";
    WASI_P1, "random_get"(I32, I32) -> (I32) => "wafer_wasi_random_get";
    WASI_P1, "sched_yield"() -> (I32) => "wafer_wasi_sched_yield";
    WASI_THREADS, "thread-spawn"(I32) -> (I32) => "wafer_wasi_thread_spawn";
    WASI_P1, "sock_accept"(I32, I32, I32) -> (I32) => "wafer_wasi_sock_accept";
    WASI_P1, "sock_recv"(I32, I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_sock_recv";
    WASI_P1, "sock_send"(I32, I32, I32, I32, I32) -> (I32) => "wafer_wasi_sock_send";
    WASI_P1, "sock_shutdown"(I32, I32) -> (I32) => "wafer_wasi_sock_shutdown";
}

/// The import modules of [`HOST_FUNCS`], whose functions come from the runtime (as do those of
/// [`WIT_MODULES`]): an import from one of these that is not listed is an error at build time.
pub const HOST_MODULES: &[&str] = &[WASI_P1, WASI_THREADS];

/// Every listing of the host function for an import, in table order. WASI 0.2 interfaces
/// match by semver, as wasmtime matches them: `wasi:io/streams@0.2.6` finds what the runtime
/// lists under `wasi:io/streams@0.2` (see [`wasi_p2::interface`]). There is more than one when
/// an import name was published with different types (see [`host_func_shaped`]).
pub fn host_funcs_for<'a>(
    module: &'a str,
    name: &'a str,
) -> impl Iterator<Item = &'static HostFunc> + 'a {
    let key = wasi_p2::interface(module);
    all_host_funcs().filter(move |f| {
        f.name == name && (f.module == module || key.is_some_and(|k| f.module == k))
    })
}

/// Looks up the host function for an import: its first listing (see [`host_funcs_for`]).
pub fn host_func(module: &str, name: &str) -> Option<&'static HostFunc> {
    host_funcs_for(module, name).next()
}

/// Looks up the host function for an import whose WIT-level type the guest declares (its
/// shape, from the component's types or a core module's embedded `component-type` world),
/// when it does. With one implementation, that one (the core signature check decides). With
/// several, the one of the guest's shape, or `Err` (the shapes are [`host_funcs_for`]'s);
/// without a shape, the first listing.
pub fn host_func_shaped(
    module: &str,
    name: &str,
    shape: Option<&str>,
) -> Result<Option<&'static HostFunc>, ShapeMismatch> {
    let mut all = host_funcs_for(module, name);
    let Some(first) = all.next() else {
        return Ok(None);
    };
    let Some(shape) = shape else {
        return Ok(Some(first));
    };
    let mut several = false;
    for f in core::iter::once(first).chain(all) {
        if f.shape == shape {
            return Ok(Some(f));
        }
        several |= f.symbol != first.symbol;
    }
    if several {
        Err(ShapeMismatch)
    } else {
        Ok(Some(first))
    }
}

/// The guest's type for an import matches none of the runtime's listings of it.
#[derive(Debug, PartialEq, Eq)]
pub struct ShapeMismatch;

/// Whether imports from `module` are the runtime's to provide: one of [`HOST_MODULES`] or
/// [`WIT_MODULES`], or a WASI 0.2 interface the runtime implements (any 0.2.x version).
pub fn is_host_module(module: &str) -> bool {
    HOST_MODULES.contains(&module)
        || WIT_MODULES.contains(&module)
        || wasi_p2::interface(module).is_some_and(|i| WIT_FUNCS.iter().any(|f| f.module == i))
}

/// Every host function the runtime implements, preview1 and wasi-threads first.
pub fn all_host_funcs() -> impl Iterator<Item = &'static HostFunc> {
    HOST_FUNCS.iter().chain(WIT_FUNCS.iter())
}

// ---------------------------------------------------------------------------------------------
// The spec-script protocol
// ---------------------------------------------------------------------------------------------

/// Commands that an executable built in [`EntryMode::SpecScript`] reads (one per line from the
/// file named by `argv[1]`) and the result lines it prints (one per command, in order, on
/// stdout, each starting with the command's 1-based line number).
///
/// Names are hex-encoded UTF-8 bytes (`-` for the empty name) so any name fits one token.
/// Values are `i32:<hex bits>`, `i64:<hex bits>`, `f32:<hex bits>`, `f64:<hex bits>`,
/// `funcref:null`, `funcref:nonnull` (results only), `externref:null`, `externref:<decimal n>`
/// (the host reference `n` of the test script; it comes back as the same `n`).
///
/// | command | meaning | result |
/// |---|---|---|
/// | `instantiate <module> <instance>` | instantiate module number `<module>` (its position in the executable's module list), linking its imports against registered instances and `spectest`; call it instance number `<instance>` | `ok`, `unlinkable <msg>`, `trap <kind> <msg>` (in init or start), `error <msg>` |
/// | `register <name> <instance>` | make the instance's exports importable under module name `<name>` | `ok` |
/// | `invoke <instance> <export> <values...>` | call an exported function | `ok <values...>`, `trap <kind> <msg>`, `error <msg>` |
/// | `get <instance> <export>` | read an exported global | `ok <value>`, `error <msg>` |
///
/// `<kind>` is the [`TrapKind`] number; stack exhaustion is `trap 1 call stack exhausted`.
pub mod spec_script {
    pub const INSTANTIATE: &str = "instantiate";
    pub const REGISTER: &str = "register";
    pub const INVOKE: &str = "invoke";
    pub const GET: &str = "get";
    pub const OK: &str = "ok";
    pub const TRAP: &str = "trap";
    pub const UNLINKABLE: &str = "unlinkable";
    pub const ERROR: &str = "error";
    /// `state INSTANCE`: answered `ok` with four `i64` values, the instance's memory size in
    /// pages and the [`Digest`]s of its memory bytes, of every table (in index order) and of
    /// its exported globals (in index order, each once; a global the module keeps to itself,
    /// such as an instrumenter's fuel counter, is not observable from another engine). See
    /// [`Digest::table_entry`] and [`Digest::global`]. A harness computing the same digests
    /// from another engine compares whole instance states.
    pub const STATE: &str = "state";

    /// A table entry that is null, in [`Digest::table_entry`].
    pub const REF_NULL: u32 = u32::MAX;
    /// A function reference to a function of another instance, or any non-null `externref`.
    pub const REF_OTHER: u32 = u32::MAX - 1;

    /// A fast 64-bit fingerprint (not cryptographic): equal states give equal digests on every
    /// engine that feeds it the same words in the same order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Digest(pub u64);

    impl Default for Digest {
        fn default() -> Self {
            Digest(0xcbf2_9ce4_8422_2325)
        }
    }

    impl Digest {
        pub fn word(&mut self, v: u64) {
            let h = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            self.0 = h ^ (h >> 29);
        }

        /// The length, then the bytes eight at a time (little-endian), then the rest one by one.
        pub fn bytes(&mut self, b: &[u8]) {
            self.word(b.len() as u64);
            let mut chunks = b.chunks_exact(8);
            for c in &mut chunks {
                self.word(u64::from_le_bytes(c.try_into().unwrap()));
            }
            for &x in chunks.remainder() {
                self.word(u64::from(x));
            }
        }

        /// One table element: the defined-function index it refers to, [`REF_NULL`] or
        /// [`REF_OTHER`]. A table is its length, then its entries.
        pub fn table_entry(&mut self, ident: u32) {
            self.word(u64::from(ident));
        }

        /// One global of wasm type `ty` holding `bits` (its value slot). Integers by value;
        /// floats by bits except that a canonical NaN counts the same whatever its sign (the
        /// spec leaves the sign of a canonical NaN to the engine); references as
        /// [`Digest::table_entry`] identities, which the caller works out; a `v128` by its
        /// 16 bytes.
        pub fn global(&mut self, ty: u8, bits: u128) {
            if ty == super::valtype::V128 {
                self.word(u64::from(ty));
                self.word(bits as u64);
                self.word((bits >> 64) as u64);
                return;
            }
            let bits = bits as u64;
            let v = match ty {
                super::valtype::I32 => u64::from(bits as u32),
                super::valtype::F32 if bits as u32 & 0x7fff_ffff == 0x7fc0_0000 => 0x7fc0_0000,
                super::valtype::F32 => u64::from(bits as u32),
                super::valtype::F64 if bits & !(1 << 63) == 0x7ff8_0000_0000_0000 => {
                    0x7ff8_0000_0000_0000
                }
                _ => bits,
            };
            self.word(u64::from(ty));
            self.word(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::desc_offsets::*;
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn the_guests_wit_type_picks_between_two_implementations() {
        let (m, f) = ("component:usb/transfers@0.2.1", "await-transfer");
        let old = "func(own) -> result<list<u8>, enum13>";
        let new = "func(borrow) -> result<record{list<u8>, list<record{u32, enum7}>}, enum13>";
        let pick = |shape| host_func_shaped(m, f, shape).map(|h| h.map(|h| h.symbol));
        let (a, b) = (pick(Some(old)).unwrap(), pick(Some(new)).unwrap());
        assert!(a.is_some() && b.is_some() && a != b, "{a:?} {b:?}");
        // Without WIT the older revision binds; a third type binds nothing.
        assert_eq!(pick(None).unwrap(), a);
        assert_eq!(pick(Some("func(u8)")), Err(ShapeMismatch));
        // One implementation: the shape is not consulted (the core signature check decides).
        let one = host_func_shaped("component:usb/device@0.2.1", "init", Some("func(u8)"));
        assert!(one.unwrap().is_some());
        // The other spelling of the package finds the same two.
        let other = host_func_shaped("wasi:usb/transfers@0.2.1", f, Some(new));
        assert_eq!(other.unwrap().map(|h| h.symbol), b);
    }

    #[test]
    fn descriptor_offsets_match_rust_layout() {
        assert_eq!(offset_of!(ModuleDescriptor, flags) as u32, MODULE_FLAGS);
        assert_eq!(offset_of!(ModuleDescriptor, types) as u32, MODULE_TYPES);
        assert_eq!(offset_of!(ModuleDescriptor, imports) as u32, MODULE_IMPORTS);
        assert_eq!(
            offset_of!(ModuleDescriptor, functions) as u32,
            MODULE_FUNCTIONS
        );
        assert_eq!(offset_of!(ModuleDescriptor, tables) as u32, MODULE_TABLES);
        assert_eq!(
            offset_of!(ModuleDescriptor, memories) as u32,
            MODULE_MEMORIES
        );
        assert_eq!(offset_of!(ModuleDescriptor, globals) as u32, MODULE_GLOBALS);
        assert_eq!(offset_of!(ModuleDescriptor, exports) as u32, MODULE_EXPORTS);
        assert_eq!(
            offset_of!(ModuleDescriptor, data_segments) as u32,
            MODULE_DATA_SEGMENTS
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, elem_segments) as u32,
            MODULE_ELEM_SEGMENTS
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, start_function) as u32,
            MODULE_START_FUNCTION
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, memory_cap_pages) as u32,
            MODULE_MEMORY_CAP_PAGES
        );
        assert_eq!(offset_of!(ModuleDescriptor, init) as u32, MODULE_INIT);
        assert_eq!(
            offset_of!(ModuleDescriptor, trap_functions) as u32,
            MODULE_TRAP_FUNCTIONS
        );
        assert_eq!(offset_of!(ModuleDescriptor, name) as u32, MODULE_NAME);
        assert_eq!(
            offset_of!(ModuleDescriptor, layout_num_imported_funcs) as u32,
            MODULE_LAYOUT_NUM_IMPORTED_FUNCS
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, layout_num_tables) as u32,
            MODULE_LAYOUT_NUM_TABLES
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, layout_num_imported_globals) as u32,
            MODULE_LAYOUT_NUM_IMPORTED_GLOBALS
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, layout_num_defined_globals) as u32,
            MODULE_LAYOUT_NUM_DEFINED_GLOBALS
        );
        assert_eq!(
            offset_of!(ModuleDescriptor, wasm_stack_bytes) as u32,
            MODULE_WASM_STACK_BYTES
        );
        assert_eq!(size_of::<ModuleDescriptor>() as u32, MODULE_SIZE);

        assert_eq!(offset_of!(FuncTypeDesc, results) as u32, FUNC_TYPE_RESULTS);
        assert_eq!(
            offset_of!(FuncTypeDesc, array_call) as u32,
            FUNC_TYPE_ARRAY_CALL
        );
        assert_eq!(size_of::<FuncTypeDesc>() as u32, FUNC_TYPE_SIZE);
        assert_eq!(offset_of!(ImportDesc, field) as u32, IMPORT_FIELD);
        assert_eq!(offset_of!(ImportDesc, kind) as u32, IMPORT_KIND);
        assert_eq!(offset_of!(ImportDesc, index) as u32, IMPORT_INDEX);
        assert_eq!(offset_of!(ImportDesc, host_code) as u32, IMPORT_HOST_CODE);
        assert_eq!(size_of::<ImportDesc>() as u32, IMPORT_SIZE);
        assert_eq!(offset_of!(FunctionDesc, code) as u32, FUNCTION_CODE);
        assert_eq!(offset_of!(FunctionDesc, name) as u32, FUNCTION_NAME);
        assert_eq!(size_of::<FunctionDesc>() as u32, FUNCTION_SIZE);
        assert_eq!(offset_of!(TableDesc, imported) as u32, TABLE_IMPORTED);
        assert_eq!(offset_of!(TableDesc, initial) as u32, TABLE_INITIAL);
        assert_eq!(offset_of!(TableDesc, maximum) as u32, TABLE_MAXIMUM);
        assert_eq!(size_of::<TableDesc>() as u32, TABLE_SIZE);
        assert_eq!(offset_of!(MemoryDesc, shared) as u32, MEMORY_SHARED);
        assert_eq!(
            offset_of!(MemoryDesc, initial_pages) as u32,
            MEMORY_INITIAL_PAGES
        );
        assert_eq!(
            offset_of!(MemoryDesc, maximum_pages) as u32,
            MEMORY_MAXIMUM_PAGES
        );
        assert_eq!(size_of::<MemoryDesc>() as u32, MEMORY_SIZE);
        assert_eq!(offset_of!(GlobalDesc, mutable) as u32, GLOBAL_MUTABLE);
        assert_eq!(offset_of!(GlobalDesc, imported) as u32, GLOBAL_IMPORTED);
        assert_eq!(
            offset_of!(GlobalDesc, vmctx_offset) as u32,
            GLOBAL_VMCTX_OFFSET
        );
        assert_eq!(size_of::<GlobalDesc>() as u32, GLOBAL_SIZE);
        assert_eq!(offset_of!(ExportDesc, kind) as u32, EXPORT_KIND);
        assert_eq!(offset_of!(ExportDesc, index) as u32, EXPORT_INDEX);
        assert_eq!(size_of::<ExportDesc>() as u32, EXPORT_SIZE);
        assert_eq!(offset_of!(ElemSegmentDesc, items) as u32, ELEM_ITEMS);
        assert_eq!(size_of::<ElemSegmentDesc>() as u32, ELEM_SIZE);
        assert_eq!(offset_of!(TrapSite, kind) as u32, TRAP_SITE_KIND);
        assert_eq!(size_of::<TrapSite>() as u32, TRAP_SITE_SIZE);
        assert_eq!(offset_of!(TrapFunctionDesc, len) as u32, TRAP_FUNCTION_LEN);
        assert_eq!(
            offset_of!(TrapFunctionDesc, func_index) as u32,
            TRAP_FUNCTION_FUNC_INDEX
        );
        assert_eq!(
            offset_of!(TrapFunctionDesc, sites) as u32,
            TRAP_FUNCTION_SITES
        );
        assert_eq!(size_of::<TrapFunctionDesc>() as u32, TRAP_FUNCTION_SIZE);
        assert_eq!(size_of::<Slice<u8>>() as u32, SLICE_SIZE);
    }

    #[test]
    fn runtime_struct_offsets_match() {
        assert_eq!(offset_of!(MemoryDef, length) as u32, MEMORY_DEF_LENGTH);
        assert_eq!(offset_of!(TableDef, length) as u32, TABLE_DEF_LENGTH);
        assert_eq!(offset_of!(FuncRef, vmctx) as u32, FUNC_REF_VMCTX);
        assert_eq!(offset_of!(FuncRef, type_id) as u32, FUNC_REF_TYPE_ID);
        assert_eq!(FUNC_REF_SIZE, 24);
        assert_eq!(IMPORTED_FUNC_SIZE, 16);
    }

    #[test]
    fn host_funcs_cover_wasi_preview1_once_each() {
        let wasi: alloc::vec::Vec<_> = HOST_FUNCS.iter().filter(|f| f.module == WASI_P1).collect();
        // Every function of wasi_snapshot_preview1.
        assert_eq!(wasi.len(), 46);
        for (i, f) in wasi.iter().enumerate() {
            assert!(
                wasi[..i]
                    .iter()
                    .all(|g| g.name != f.name && g.symbol != f.symbol),
                "{} listed twice",
                f.name
            );
            assert!(f.symbol.starts_with("wafer_wasi_") && f.symbol.ends_with(f.name));
        }
        let open = host_func(WASI_P1, "path_open").unwrap();
        assert_eq!(open.params, &[0, 0, 0, 0, 0, 1, 1, 0, 0]);
    }

    /// The WIT interfaces bound under more than one import name: each row of the first name
    /// (of the edition whose symbols start with `prefix`) has a twin under every other, with
    /// the same signature and symbol, and nothing else.
    fn assert_spellings(names: &[&str], functions: usize, prefix: &str) {
        let first: alloc::vec::Vec<_> = WIT_FUNCS
            .iter()
            .filter(|f| f.module == names[0] && f.symbol.starts_with(prefix))
            .collect();
        assert_eq!(first.len(), functions, "{}", names[0]);
        for f in &first {
            assert!(is_host_module(f.module));
            for alias in &names[1..] {
                let twin = host_func(alias, f.name).expect("the other spelling");
                assert_eq!(
                    (twin.symbol, twin.params, twin.results),
                    (f.symbol, f.params, f.results)
                );
            }
            assert_eq!(
                WIT_FUNCS.iter().filter(|g| g.symbol == f.symbol).count(),
                names.len(),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn wit_funcs_cover_wasi_i2c_under_both_spellings() {
        let versioned = "wasi:i2c/i2c@0.2.0-draft";
        assert_spellings(&[versioned, "wasi:i2c/i2c"], 5, "wafer_g_wasi_i2c_i2c_");
        assert_spellings(
            &["wasi:i2c/delay@0.2.0-draft", "wasi:i2c/delay"],
            2,
            "wafer_g_wasi_i2c_delay_",
        );
        assert_spellings(&["wafer:hal/buses@0.1.0"], 2, "wafer_g_wafer_hal_buses_");
        let getter = host_func(WORLD_ROOT, "get-i2c-bus").unwrap();
        assert_eq!((getter.params, getter.results), (&[][..], &[0][..]));
        // The canonical ABI lowering of `read(self, address: u16, len: u64) -> result<list<u8>, _>`.
        let read = host_func(versioned, "[method]i2c.read").unwrap();
        assert_eq!((read.params, read.results), (&[0, 0, 1, 0][..], &[][..]));
    }

    #[test]
    fn wit_funcs_cover_wasi_usb_under_both_spellings() {
        let device = "component:usb/device@0.2.1";
        assert_spellings(
            &[device, "wasi:usb/device@0.2.1"],
            22,
            "wafer_g_component_usb_device_",
        );
        assert_spellings(
            &["component:usb/transfers@0.2.1", "wasi:usb/transfers@0.2.1"],
            4,
            "wafer_g_component_usb_transfers_",
        );
        assert_spellings(
            &["component:usb/usb-hotplug@0.2.1", "wasi:usb/hotplug@0.2.1"],
            2,
            "wafer_g_component_usb_usb_hotplug_",
        );
        // 11 flat i32 values plus the return area.
        let nt = host_func(device, "[method]device-handle.new-transfer").unwrap();
        assert_eq!(nt.params.len(), 12);
    }

    #[test]
    fn layout_is_contiguous() {
        let l = VmctxLayout {
            num_imported_funcs: 2,
            num_tables: 1,
            num_imported_globals: 1,
            num_defined_globals: 3,
        };
        assert_eq!(l.imported_func(1), 56 + 16);
        assert_eq!(l.table(0), 56 + 32);
        assert_eq!(l.imported_global(0), 56 + 40);
        // Defined globals are 16-byte value slots.
        assert_eq!(l.defined_global(2), 56 + 48 + 32);
        assert_eq!(l.size(), 56 + 48 + 48);
        assert_eq!(descriptor_symbol("m3").as_str(), "m3_module");
    }
}
