//! Instantiating a compiled module from its descriptor, and the Rust API the entry point and the
//! spec harness use on instances: exports, calls, globals.
//!
//! Instances are never moved once built (`Box<Instance>`; `vmctx + INSTANCE` points at them).
//! Memories, tables and globals that other instances import are shared by raw pointer, so an
//! exporter must outlive its importers; the spec harness keeps every instance alive until exit.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use wafer_abi::{
    extern_kind, ExportDesc, FuncRef, FuncTypeDesc, ImportDesc, ImportedFunc, MemoryDef,
    ModuleDescriptor, TableDef, ValueSlot, VmCtx, VmctxLayout, ABI_VERSION, NONE_U32, NONE_U64,
};

use crate::limits::limits_ptr;
use crate::memory::LinearMemory;
use crate::signature::intern;
use crate::table::Table;
use crate::trap::{catch_traps, register_module, Trap};

/// Something an import is bound to.
#[derive(Clone, Copy, Debug)]
pub enum Extern {
    Func {
        code: *const u8,
        /// The context to call `code` with; `None` for host functions, which receive the
        /// importing instance's own `vmctx`.
        vmctx: Option<*mut VmCtx>,
        /// Canonical signature id (see [`crate::signature::intern`]).
        type_id: u32,
    },
    /// The `def` of a live [`Table`].
    Table(*mut TableDef),
    /// The `def` of a live [`LinearMemory`].
    Memory(*mut MemoryDef),
    Global {
        value: *mut ValueSlot,
        ty: u8,
        mutable: bool,
    },
}

#[derive(Debug)]
pub enum InstantiateError {
    /// An import is missing or has the wrong type (spec: "assert_unlinkable").
    Unlinkable(String),
    /// `init` or the start function trapped. The instance is leaked on purpose: tables and
    /// memories of other instances may already refer to its functions.
    Trap(Trap),
    /// The descriptor is unusable or the host refused resources.
    Error(String),
}

#[derive(Debug)]
pub enum CallError {
    Trap(Trap),
    Invalid(String),
}

pub struct Instance {
    desc: &'static ModuleDescriptor,
    vmctx: *mut VmCtx,
    vmctx_alloc: Layout,
    /// Null without memory.
    memory: *mut MemoryDef,
    _owned_memory: Option<Box<LinearMemory>>,
    tables: Vec<*mut TableDef>,
    /// Boxed: `vmctx` and importers hold pointers to each table, so they must never move.
    #[allow(clippy::vec_box)]
    _owned_tables: Vec<Box<Table>>,
    func_refs: Box<[FuncRef]>,
    type_ids: Box<[u32]>,
    /// Interior mutability: libcalls reach the instance through `vmctx` while the runtime
    /// holds a shared reference to it further up the stack.
    dropped_data: Box<[Cell<bool>]>,
    dropped_elems: Box<[Cell<bool>]>,
    /// What host interfaces keep for the guest (resource handle tables), shared by every
    /// thread's instance of one guest: a handle opened on one thread is valid on all.
    host_state: SharedHostState,
    /// Function index of the allocator host functions use for lists and strings they return
    /// into this instance (its `cabi_realloc`, or the one a component's canonical options
    /// name), once known. Per instance, not per host state: the core instances of composed
    /// components share one host state but each allocates in its own memory.
    realloc: OnceLock<u32>,
}

/// The host interfaces' state of one guest, shared by its threads' instances.
pub type SharedHostState = Arc<HostState>;

/// How a new instance relates to instances that already exist.
#[derive(Default)]
pub struct InstanceOptions {
    /// Share this host state (a new thread of the same guest) instead of starting afresh.
    pub host_state: Option<SharedHostState>,
    /// Use this memory for the module's defined memory instead of creating one (a new
    /// thread's instance of a module that defines its shared memory).
    pub memory: Option<*mut MemoryDef>,
}

/// State of the host interfaces, owned by (and dropped with) the last instance using it.
/// Each interface has its own lock, so a slow I2C transfer on one thread does not hold up USB
/// calls on another. A lock is held for one host-side step only, never across a call back
/// into the guest (which would deadlock a re-entering host function or another thread).
#[derive(Default)]
pub struct HostState {
    pub i2c: Mutex<crate::i2c::Handles>,
    pub usb: Mutex<crate::usb::Handles>,
    pub wasi_p2: Mutex<crate::wasi_p2::Handles>,
}

/// Locks one interface's state; a panic elsewhere never makes it unusable.
pub fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The binding for a function import that `wafer build` resolved to a runtime host function
/// (non-null `host_code`), or `None`.
pub fn host_binding(desc: &ModuleDescriptor, import: &ImportDesc) -> Option<Extern> {
    if import.kind != extern_kind::FUNC || import.host_code.is_null() {
        return None;
    }
    Some(Extern::Func {
        code: import.host_code,
        vmctx: None,
        type_id: func_type_id(desc, import.index)?,
    })
}

/// The canonical signature id of function `func_index` of `desc`.
pub fn func_type_id(desc: &ModuleDescriptor, func_index: u32) -> Option<u32> {
    // SAFETY: descriptor slices are static data emitted by the compiler.
    let f = unsafe { desc.functions.as_slice() }.get(func_index as usize)?;
    let ty = unsafe { desc.types.as_slice() }.get(f.type_index as usize)?;
    Some(unsafe { intern(ty.params.as_slice(), ty.results.as_slice()) })
}

fn bytes_of(s: &wafer_abi::Str) -> &[u8] {
    // SAFETY: descriptor strings are static data.
    unsafe { s.as_slice() }
}

/// Human-readable `module.field` of an import.
pub fn import_name(import: &ImportDesc) -> String {
    format!(
        "{}.{}",
        String::from_utf8_lossy(bytes_of(&import.module)),
        String::from_utf8_lossy(bytes_of(&import.field))
    )
}

fn limits_match(actual_min: u64, actual_max: Option<u64>, want_min: u64, want_max: u64) -> bool {
    actual_min >= want_min && (want_max == NONE_U64 || actual_max.is_some_and(|m| m <= want_max))
}

/// Checks that `ext` may satisfy `import` of `desc` (the spec's import subtyping).
pub fn check_import(
    desc: &ModuleDescriptor,
    import: &ImportDesc,
    ext: &Extern,
) -> Result<(), String> {
    const INCOMPATIBLE: &str = "incompatible import type";
    let index = import.index as usize;
    // SAFETY (all slices below): descriptor data is static.
    let ok = match (import.kind, ext) {
        (extern_kind::FUNC, Extern::Func { type_id, .. }) => {
            func_type_id(desc, import.index).ok_or("bad function index in descriptor")? == *type_id
        }
        (extern_kind::TABLE, Extern::Table(def)) => {
            let want = unsafe { desc.tables.as_slice() }
                .get(index)
                .ok_or("bad table index in descriptor")?;
            let have = unsafe { Table::from_def(*def) };
            have.elem_type() == want.elem_type
                && limits_match(have.len(), have.declared_max(), want.initial, want.maximum)
        }
        (extern_kind::MEMORY, Extern::Memory(def)) => {
            let want = unsafe { desc.memories.as_slice() }
                .get(index)
                .ok_or("bad memory index in descriptor")?;
            let have = unsafe { LinearMemory::from_def(*def) };
            (want.shared != 0) == have.is_shared()
                && limits_match(
                    have.pages(),
                    have.declared_max(),
                    want.initial_pages,
                    want.maximum_pages,
                )
        }
        (extern_kind::GLOBAL, Extern::Global { ty, mutable, .. }) => {
            let want = unsafe { desc.globals.as_slice() }
                .get(index)
                .ok_or("bad global index in descriptor")?;
            want.ty == *ty && (want.mutable != 0) == *mutable
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(INCOMPATIBLE.to_string())
    }
}

fn check_descriptor(desc: &ModuleDescriptor) -> Result<(), String> {
    if desc.abi_version != ABI_VERSION {
        return Err(format!(
            "module was compiled for runtime ABI {} but this runtime speaks ABI {ABI_VERSION}; rebuild it",
            desc.abi_version
        ));
    }
    let layout = desc.vmctx_layout();
    let imports = unsafe { desc.imports.as_slice() };
    let count = |kind| imports.iter().filter(|i| i.kind == kind).count() as u32;
    let globals = unsafe { desc.globals.as_slice() };
    let consistent = layout.num_imported_funcs == count(extern_kind::FUNC)
        && layout.num_tables as usize == desc.tables.len
        && layout.num_imported_globals == count(extern_kind::GLOBAL)
        && layout.num_imported_globals + layout.num_defined_globals == globals.len() as u32
        && desc.memories.len <= 1
        && globals.iter().all(|g| {
            g.vmctx_offset
                .checked_add(8)
                .is_some_and(|end| end <= layout.size())
        });
    if consistent {
        Ok(())
    } else {
        Err("module descriptor is inconsistent (vmctx layout does not match its contents)".into())
    }
}

impl Instance {
    /// Instantiates `desc` with `imports` (one per entry of `desc.imports`, in order), then
    /// runs its `init` and start function.
    pub fn new(
        desc: &'static ModuleDescriptor,
        imports: &[Extern],
    ) -> Result<Box<Instance>, InstantiateError> {
        Self::with_options(desc, imports, InstanceOptions::default())
    }

    /// [`Instance::new`] with the sharing that a new guest thread needs.
    pub fn with_options(
        desc: &'static ModuleDescriptor,
        imports: &[Extern],
        options: InstanceOptions,
    ) -> Result<Box<Instance>, InstantiateError> {
        check_descriptor(desc).map_err(InstantiateError::Error)?;
        let import_descs = unsafe { desc.imports.as_slice() };
        if imports.len() != import_descs.len() {
            return Err(InstantiateError::Error(format!(
                "{} imports given for a module with {}",
                imports.len(),
                import_descs.len()
            )));
        }
        for (import, ext) in import_descs.iter().zip(imports) {
            check_import(desc, import, ext).map_err(InstantiateError::Unlinkable)?;
        }
        let mut instance = Self::allocate(desc, options.host_state)?;
        instance.bind(import_descs, imports, options.memory)?;
        register_module(desc);

        let inst: &Instance = &instance;
        let outcome = catch_traps(|| unsafe {
            (desc.init)(inst.vmctx);
            if desc.start_function != NONE_U32 {
                let _ = inst.call_unchecked(desc.start_function, &mut [ValueSlot::ZERO]);
            }
        });
        match outcome {
            Ok(()) => Ok(instance),
            Err(trap) => {
                Box::leak(instance);
                Err(InstantiateError::Trap(trap))
            }
        }
    }

    /// Memory, tables, the `vmctx` header and the per-function arrays of a fresh instance.
    fn allocate(
        desc: &'static ModuleDescriptor,
        host_state: Option<SharedHostState>,
    ) -> Result<Box<Instance>, InstantiateError> {
        let layout: VmctxLayout = desc.vmctx_layout();
        let vmctx_alloc = Layout::from_size_align(layout.size().max(16) as usize, 16)
            .map_err(|e| InstantiateError::Error(e.to_string()))?;
        // SAFETY: non-zero size.
        let vmctx = unsafe { alloc_zeroed(vmctx_alloc) } as *mut VmCtx;
        if vmctx.is_null() {
            return Err(InstantiateError::Error("out of memory for vmctx".into()));
        }
        let types = unsafe { desc.types.as_slice() };
        let type_ids: Box<[u32]> = types
            .iter()
            .map(|t| unsafe { intern(t.params.as_slice(), t.results.as_slice()) })
            .collect();
        let functions = unsafe { desc.functions.as_slice() };
        let func_refs = functions
            .iter()
            .map(|f| FuncRef {
                code: f.code,
                vmctx,
                type_id: type_ids.get(f.type_index as usize).copied().unwrap_or(0),
                _pad: 0,
            })
            .collect();
        Ok(Box::new(Instance {
            desc,
            vmctx,
            vmctx_alloc,
            memory: std::ptr::null_mut(),
            _owned_memory: None,
            tables: Vec::new(),
            _owned_tables: Vec::new(),
            func_refs,
            type_ids,
            dropped_data: (0..desc.data_segments.len)
                .map(|_| Cell::new(false))
                .collect(),
            host_state: host_state.unwrap_or_default(),
            realloc: OnceLock::new(),
            dropped_elems: (0..desc.elem_segments.len)
                .map(|_| Cell::new(false))
                .collect(),
        }))
    }

    /// Creates defined memories and tables, binds imports, and fills `vmctx`.
    fn bind(
        &mut self,
        import_descs: &[ImportDesc],
        imports: &[Extern],
        shared_memory: Option<*mut MemoryDef>,
    ) -> Result<(), InstantiateError> {
        let desc = self.desc;
        let layout = desc.vmctx_layout();
        let err = InstantiateError::Error;
        let mut imported_funcs = vec![None; layout.num_imported_funcs as usize];
        let mut tables: Vec<*mut TableDef> = vec![std::ptr::null_mut(); desc.tables.len];
        for (import, ext) in import_descs.iter().zip(imports) {
            let index = import.index as usize;
            match *ext {
                Extern::Func { code, vmctx, .. } => {
                    let slot = imported_funcs
                        .get_mut(index)
                        .ok_or_else(|| err("imported function index out of range".into()))?;
                    *slot = Some((code, vmctx.unwrap_or(self.vmctx)));
                }
                Extern::Table(def) => {
                    *tables
                        .get_mut(index)
                        .ok_or_else(|| err("imported table index out of range".into()))? = def;
                }
                Extern::Memory(def) => self.memory = def,
                Extern::Global { value, .. } => {
                    let g = &unsafe { desc.globals.as_slice() }[index];
                    unsafe { self.write_vmctx(g.vmctx_offset, value as usize) };
                }
            }
        }
        for (i, t) in unsafe { desc.tables.as_slice() }.iter().enumerate() {
            if t.imported != 0 {
                continue;
            }
            let max = (t.maximum != NONE_U64).then_some(t.maximum);
            let mut table = Table::new(t.elem_type, t.initial, max).map_err(err)?;
            tables[i] = &mut table.def;
            self._owned_tables.push(table);
        }
        if tables.iter().any(|t| t.is_null()) {
            return Err(err("a table import was not bound".into()));
        }
        if let Some(m) = unsafe { desc.memories.as_slice() }.first() {
            if let (0, Some(def)) = (m.imported, shared_memory) {
                self.memory = def;
            } else if m.imported == 0 {
                let max = (m.maximum_pages != NONE_U64).then_some(m.maximum_pages);
                let mut memory = LinearMemory::with_sharing(
                    m.initial_pages,
                    max,
                    desc.memory_cap_pages as u64,
                    m.shared != 0,
                )
                .map_err(err)?;
                self.memory = &mut memory.def;
                self._owned_memory = Some(memory);
            } else if self.memory.is_null() {
                return Err(err("the memory import was not bound".into()));
            }
        }
        self.tables = tables;

        for (i, bound) in imported_funcs.iter().enumerate() {
            let (code, vmctx) =
                bound.ok_or_else(|| err("a function import was not bound".into()))?;
            self.func_refs[i].code = code;
            self.func_refs[i].vmctx = vmctx;
            unsafe {
                self.write_vmctx(layout.imported_func(i as u32), code as usize);
                self.write_vmctx(layout.imported_func(i as u32) + 8, vmctx as usize);
            }
        }
        debug_assert_eq!(std::mem::size_of::<ImportedFunc>(), 16);
        for (i, t) in self.tables.iter().enumerate() {
            unsafe { self.write_vmctx(layout.table(i as u32), *t as usize) };
        }
        let memory_base = unsafe { self.memory.as_ref() }.map_or(std::ptr::null_mut(), |m| m.base);
        let this = self as *mut Instance as usize;
        unsafe {
            self.write_vmctx(VmctxLayout::MEMORY_BASE, memory_base as usize);
            self.write_vmctx(VmctxLayout::MEMORY, self.memory as usize);
            self.write_vmctx(VmctxLayout::LIMITS, limits_ptr() as usize);
            self.write_vmctx(VmctxLayout::INSTANCE, this);
            self.write_vmctx(VmctxLayout::FUNC_REFS, self.func_refs.as_ptr() as usize);
            self.write_vmctx(VmctxLayout::TYPE_IDS, self.type_ids.as_ptr() as usize);
        }
        // The signal flag of a WALI module's instance is its thread's (instances are built on
        // the thread they run on).
        crate::wali::signal::attach(desc, self.signal_flag());
        Ok(())
    }

    /// The `vmctx.signal_flag` word.
    fn signal_flag(&self) -> *const std::sync::atomic::AtomicU32 {
        // SAFETY: inside the vmctx allocation, 4-byte aligned.
        unsafe { (self.vmctx as *const u8).add(VmctxLayout::SIGNAL_FLAG as usize) as *const _ }
    }

    unsafe fn write_vmctx(&self, offset: u32, value: usize) {
        unsafe { ((self.vmctx as *mut u8).add(offset as usize) as *mut usize).write(value) };
    }

    /// The instance `vmctx` belongs to.
    ///
    /// # Safety
    /// `vmctx` must be the context of a live instance.
    pub unsafe fn from_vmctx<'a>(vmctx: *mut VmCtx) -> &'a Instance {
        unsafe {
            &**((vmctx as *mut u8).add(VmctxLayout::INSTANCE as usize) as *const *const Instance)
        }
    }

    /// The host interfaces' state of this guest (see [`HostState`] for its locks).
    pub fn host_state(&self) -> &HostState {
        &self.host_state
    }

    /// The allocator host functions use to return lists and strings into this instance (see
    /// the field's documentation); each thread's instance of a module looks it up anew.
    pub fn realloc(&self) -> &OnceLock<u32> {
        &self.realloc
    }

    /// The shared host state, for a new thread's instance.
    pub fn shared_host_state(&self) -> SharedHostState {
        Arc::clone(&self.host_state)
    }

    pub fn descriptor(&self) -> &'static ModuleDescriptor {
        self.desc
    }

    pub fn vmctx(&self) -> *mut VmCtx {
        self.vmctx
    }

    /// The memory (defined or imported), null without one.
    pub fn memory_def(&self) -> *mut MemoryDef {
        self.memory
    }

    pub fn table_def(&self, index: u32) -> Option<*mut TableDef> {
        self.tables.get(index as usize).copied()
    }

    pub fn func_ref(&self, func_index: u32) -> Option<&FuncRef> {
        self.func_refs.get(func_index as usize)
    }

    /// The function index of a function reference (a table value) that points at one of this
    /// instance's own function references.
    pub fn func_index_of(&self, value: usize) -> Option<u32> {
        let base = self.func_refs.as_ptr() as usize;
        let offset = value.checked_sub(base)?;
        let size = std::mem::size_of::<FuncRef>();
        let index = offset / size;
        (offset % size == 0 && index < self.func_refs.len()).then_some(index as u32)
    }

    pub fn data_segment(&self, index: u32) -> Option<&'static [u8]> {
        let segs = unsafe { self.desc.data_segments.as_slice() };
        Some(unsafe { segs.get(index as usize)?.as_slice() })
    }

    /// Element items of segment `index` as table values (funcref: `FuncRef` address; null
    /// for `NONE_U32`).
    pub fn elem_items(&self, index: u32) -> Option<&'static [u32]> {
        let segs = unsafe { self.desc.elem_segments.as_slice() };
        Some(unsafe { segs.get(index as usize)?.items.as_slice() })
    }

    /// The table value for an element segment item.
    pub fn elem_value(&self, item: u32) -> usize {
        self.func_refs
            .get(item as usize)
            .map_or(0, |f| f as *const FuncRef as usize)
    }

    pub fn is_data_dropped(&self, index: u32) -> bool {
        self.dropped_data.get(index as usize).is_none_or(Cell::get)
    }

    pub fn drop_data(&self, index: u32) {
        if let Some(d) = self.dropped_data.get(index as usize) {
            d.set(true);
        }
    }

    pub fn is_elem_dropped(&self, index: u32) -> bool {
        self.dropped_elems.get(index as usize).is_none_or(Cell::get)
    }

    pub fn drop_elem(&self, index: u32) {
        if let Some(d) = self.dropped_elems.get(index as usize) {
            d.set(true);
        }
    }

    /// Finds an export by name.
    pub fn export(&self, name: &[u8]) -> Option<&'static ExportDesc> {
        unsafe { self.desc.exports.as_slice() }
            .iter()
            .find(|e| bytes_of(&e.name) == name)
    }

    /// What an export is, in the form another instance imports it.
    pub fn export_extern(&self, name: &[u8]) -> Option<Extern> {
        let e = self.export(name)?;
        Some(match e.kind {
            extern_kind::FUNC => {
                let f = self.func_ref(e.index)?;
                Extern::Func {
                    code: f.code,
                    vmctx: Some(f.vmctx),
                    type_id: f.type_id,
                }
            }
            extern_kind::TABLE => Extern::Table(self.table_def(e.index)?),
            extern_kind::MEMORY if !self.memory.is_null() => Extern::Memory(self.memory),
            extern_kind::GLOBAL => {
                let (ty, mutable) = self.global_type(e.index)?;
                Extern::Global {
                    value: self.global_ptr(e.index)?,
                    ty,
                    mutable,
                }
            }
            _ => return None,
        })
    }

    /// The type of function `func_index`.
    pub fn func_type(&self, func_index: u32) -> Option<&'static FuncTypeDesc> {
        let f = unsafe { self.desc.functions.as_slice() }.get(func_index as usize)?;
        unsafe { self.desc.types.as_slice() }.get(f.type_index as usize)
    }

    /// Calls function `func_index` through its type's array-call trampoline. `values` holds
    /// the parameters on entry and the results on return; it must have at least
    /// `max(params, results)` slots.
    pub fn call(&self, func_index: u32, values: &mut [ValueSlot]) -> Result<(), CallError> {
        let ty = self
            .func_type(func_index)
            .ok_or_else(|| CallError::Invalid(format!("no function {func_index}")))?;
        let needed = ty.params.len.max(ty.results.len);
        if values.len() < needed {
            return Err(CallError::Invalid(format!(
                "call needs {needed} value slots, got {}",
                values.len()
            )));
        }
        catch_traps(|| unsafe {
            let _ = self.call_unchecked(func_index, values);
        })
        .map_err(CallError::Trap)
    }

    /// [`Instance::call`] for functions whose parameters and results are all scalars (no
    /// `v128`): the runtime's own calls (`cabi_realloc`, start functions, canonical-ABI
    /// exports) pass plain `u64`s and need not build slots.
    pub fn call_scalars(&self, func_index: u32, values: &mut [u64]) -> Result<(), CallError> {
        let mut slots: Vec<ValueSlot> = values.iter().map(|&v| ValueSlot::scalar(v)).collect();
        self.call(func_index, &mut slots)?;
        for (value, slot) in values.iter_mut().zip(&slots) {
            *value = slot.lo;
        }
        Ok(())
    }

    /// Calls without catching traps (the caller has a catch active) or checking `values`.
    unsafe fn call_unchecked(&self, func_index: u32, values: &mut [ValueSlot]) -> Option<()> {
        let ty = self.func_type(func_index)?;
        let f = self.func_ref(func_index)?;
        unsafe { (ty.array_call)(f.code, f.vmctx, values.as_mut_ptr()) };
        Some(())
    }

    /// Type (`valtype`) and mutability of global `index`.
    pub fn global_type(&self, index: u32) -> Option<(u8, bool)> {
        let g = unsafe { self.desc.globals.as_slice() }.get(index as usize)?;
        Some((g.ty, g.mutable != 0))
    }

    /// Where global `index` lives (in this `vmctx`, or in its exporter's).
    pub fn global_ptr(&self, index: u32) -> Option<*mut ValueSlot> {
        let g = unsafe { self.desc.globals.as_slice() }.get(index as usize)?;
        let at = unsafe { (self.vmctx as *mut u8).add(g.vmctx_offset as usize) };
        Some(if g.imported != 0 {
            unsafe { *(at as *mut *mut ValueSlot) }
        } else {
            at as *mut ValueSlot
        })
    }

    pub fn read_global(&self, index: u32) -> Option<ValueSlot> {
        Some(unsafe { *self.global_ptr(index)? })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // No signal handler may write the flag word once it is freed.
        crate::wali::signal::detach(self.signal_flag());
        // SAFETY: allocated in `allocate` with this layout.
        unsafe { dealloc(self.vmctx as *mut u8, self.vmctx_alloc) };
    }
}
