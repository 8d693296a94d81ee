//! The module descriptor (`wafer_abi::ModuleDescriptor`) as static data with relocations.
//!
//! Three data objects: the exported descriptor itself, one object with every struct array it
//! points at, and a pool of plain bytes (strings, type codes, segment contents, trap sites)
//! that needs no relocations.

use crate::error::{CompileError, Result};
use crate::host_imports::signature_codes;
use crate::module::reftype_code;
use crate::module_info::ModuleInfo;
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module};
use wafer_abi::desc_offsets as off;
use wafer_abi::{module_flags, BoundsChecks, SLICE_LEN, SLICE_PTR, SLICE_SIZE};

/// Per-function results of code generation that the descriptor records.
pub struct FunctionCode {
    pub func_index: u32,
    pub id: FuncId,
    pub len: u32,
    /// (offset in the function, `TrapKind` value), in offset order.
    pub traps: Vec<(u32, u8)>,
}

/// Symbols the descriptor points at.
pub struct Symbols<'a> {
    /// Code of each defined function, by defined index.
    pub functions: &'a [FunctionCode],
    /// Array-call trampoline per type index.
    pub trampolines: &'a [FuncId],
    pub init: FuncId,
    /// Declared import of the host function bound to each import, by import position.
    pub host_code: &'a [Option<FuncId>],
}

pub struct DescriptorOptions<'a> {
    pub symbol: &'a str,
    pub memory_cap_pages: u32,
    pub wasm_stack: u64,
}

/// Bytes under construction plus the relocations they need.
struct Blob {
    bytes: Vec<u8>,
    func_relocs: Vec<(u32, FuncId)>,
    /// (offset, target, addend)
    data_relocs: Vec<(u32, DataId, i64)>,
}

impl Blob {
    fn new() -> Self {
        Blob {
            bytes: Vec::new(),
            func_relocs: Vec::new(),
            data_relocs: Vec::new(),
        }
    }
    fn align(&mut self, align: usize) {
        let len = self.bytes.len().next_multiple_of(align);
        self.bytes.resize(len, 0);
    }
    /// Appends `bytes` aligned to `align`, returning where they start.
    fn push(&mut self, bytes: &[u8], align: usize) -> u32 {
        self.align(align);
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(bytes);
        at
    }
    /// Reserves a zeroed, 8-aligned record of `size` bytes.
    fn record(&mut self, size: u32) -> u32 {
        self.push(&vec![0; size as usize], 8)
    }
    fn put(&mut self, at: u32, bytes: &[u8]) {
        self.bytes[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }
    fn u8(&mut self, at: u32, v: u8) {
        self.put(at, &[v]);
    }
    fn u32(&mut self, at: u32, v: u32) {
        self.put(at, &v.to_le_bytes());
    }
    fn u64(&mut self, at: u32, v: u64) {
        self.put(at, &v.to_le_bytes());
    }
    fn func_addr(&mut self, at: u32, id: FuncId) {
        self.func_relocs.push((at, id));
    }
    fn data_addr(&mut self, at: u32, target: DataId, addend: u32) {
        self.data_relocs.push((at, target, addend as i64));
    }
    /// A `Slice` at `at` of `len` items starting at `target + start`; empty slices stay null.
    fn slice(&mut self, at: u32, target: DataId, start: u32, len: usize) {
        if len > 0 {
            self.data_addr(at + SLICE_PTR, target, start);
        }
        self.u64(at + SLICE_LEN, len as u64);
    }

    fn define(self, module: &mut dyn Module, id: DataId) -> Result<()> {
        let mut desc = DataDescription::new();
        desc.set_align(8);
        desc.define(self.bytes.into_boxed_slice());
        for (at, func) in self.func_relocs {
            let f = module.declare_func_in_data(func, &mut desc);
            desc.write_function_addr(at, f);
        }
        for (at, data, addend) in self.data_relocs {
            let gv = module.declare_data_in_data(data, &mut desc);
            desc.write_data_addr(at, gv, addend);
        }
        module
            .define_data(id, &desc)
            .map_err(|e| CompileError::Codegen(e.to_string()))
    }
}

/// Strings and raw arrays, referenced by offset.
struct Pool {
    id: DataId,
    blob: Blob,
}

impl Pool {
    /// Writes a `Slice` over `bytes` (copied into the pool) at `at` in `into`.
    fn slice(&mut self, into: &mut Blob, at: u32, bytes: &[u8], align: usize, count: usize) {
        let start = if bytes.is_empty() {
            0
        } else {
            self.blob.push(bytes, align)
        };
        into.slice(at, self.id, start, count);
    }
    fn str(&mut self, into: &mut Blob, at: u32, s: &str) {
        self.slice(into, at, s.as_bytes(), 1, s.len());
    }
}

fn declare_local(module: &mut dyn Module) -> Result<DataId> {
    module
        .declare_anonymous_data(false, false)
        .map_err(|e| CompileError::Codegen(e.to_string()))
}

/// Declares and defines the descriptor and everything it points at.
pub fn emit(
    module: &mut dyn Module,
    info: &ModuleInfo,
    syms: &Symbols<'_>,
    opts: &DescriptorOptions<'_>,
) -> Result<()> {
    let desc_id = module
        .declare_data(opts.symbol, Linkage::Export, false, false)
        .map_err(|e| CompileError::Codegen(e.to_string()))?;
    let arrays_id = declare_local(module)?;
    let mut pool = Pool {
        id: declare_local(module)?,
        blob: Blob::new(),
    };
    let mut arrays = Blob::new();
    let mut desc = Blob::new();
    desc.record(off::MODULE_SIZE);

    // Each array: reserve its records in `arrays`, fill them, point the descriptor at them.
    let array = |desc: &mut Blob, arrays: &mut Blob, field: u32, size: u32, count: usize| {
        let start = arrays.record(size * count as u32);
        desc.slice(field, arrays_id, start, count);
        start
    };

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_TYPES,
        off::FUNC_TYPE_SIZE,
        info.types.len(),
    );
    for (i, ty) in info.types.iter().enumerate() {
        let at = base + i as u32 * off::FUNC_TYPE_SIZE;
        let (params, results) = signature_codes(ty)?;
        pool.slice(
            &mut arrays,
            at + off::FUNC_TYPE_PARAMS,
            &params,
            1,
            params.len(),
        );
        pool.slice(
            &mut arrays,
            at + off::FUNC_TYPE_RESULTS,
            &results,
            1,
            results.len(),
        );
        arrays.func_addr(at + off::FUNC_TYPE_ARRAY_CALL, syms.trampolines[i]);
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_IMPORTS,
        off::IMPORT_SIZE,
        info.imports.len(),
    );
    for (i, import) in info.imports.iter().enumerate() {
        let at = base + i as u32 * off::IMPORT_SIZE;
        pool.str(&mut arrays, at + off::IMPORT_MODULE, &import.module);
        pool.str(&mut arrays, at + off::IMPORT_FIELD, &import.field);
        arrays.u8(at + off::IMPORT_KIND, import.kind);
        arrays.u32(at + off::IMPORT_INDEX, import.index);
        if let Some(host) = syms.host_code[i] {
            arrays.func_addr(at + off::IMPORT_HOST_CODE, host);
        }
    }

    let count = info.func_types.len();
    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_FUNCTIONS,
        off::FUNCTION_SIZE,
        count,
    );
    for (index, ty) in info.func_types.iter().enumerate() {
        let at = base + index as u32 * off::FUNCTION_SIZE;
        arrays.u32(at + off::FUNCTION_TYPE_INDEX, *ty);
        if let Some(defined) = index.checked_sub(info.num_imported_funcs as usize) {
            arrays.func_addr(at + off::FUNCTION_CODE, syms.functions[defined].id);
        }
        if let Some(Some(name)) = info.func_names.get(index) {
            pool.str(&mut arrays, at + off::FUNCTION_NAME, name);
        }
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_TABLES,
        off::TABLE_SIZE,
        info.tables.len(),
    );
    for (i, table) in info.tables.iter().enumerate() {
        let at = base + i as u32 * off::TABLE_SIZE;
        arrays.u8(at + off::TABLE_ELEM_TYPE, reftype_code(table.elem)?);
        arrays.u8(at + off::TABLE_IMPORTED, table.imported as u8);
        arrays.u64(at + off::TABLE_INITIAL, table.initial);
        arrays.u64(
            at + off::TABLE_MAXIMUM,
            table.maximum.unwrap_or(wafer_abi::NONE_U64),
        );
    }

    let memories = info.memory.iter().count();
    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_MEMORIES,
        off::MEMORY_SIZE,
        memories,
    );
    if let Some(memory) = &info.memory {
        arrays.u8(base + off::MEMORY_IMPORTED, memory.imported as u8);
        arrays.u8(base + off::MEMORY_SHARED, memory.shared as u8);
        arrays.u64(base + off::MEMORY_INITIAL_PAGES, memory.initial_pages);
        let max = memory.maximum_pages.unwrap_or(wafer_abi::NONE_U64);
        arrays.u64(base + off::MEMORY_MAXIMUM_PAGES, max);
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_GLOBALS,
        off::GLOBAL_SIZE,
        info.globals.len(),
    );
    for (i, global) in info.globals.iter().enumerate() {
        let at = base + i as u32 * off::GLOBAL_SIZE;
        arrays.u8(at + off::GLOBAL_TY, crate::module::valtype_byte(global.ty)?);
        arrays.u8(at + off::GLOBAL_MUTABLE, global.mutable as u8);
        arrays.u8(
            at + off::GLOBAL_IMPORTED,
            info.is_imported_global(i as u32) as u8,
        );
        arrays.u32(
            at + off::GLOBAL_VMCTX_OFFSET,
            info.global_vmctx_offset(i as u32),
        );
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_EXPORTS,
        off::EXPORT_SIZE,
        info.exports.len(),
    );
    for (i, export) in info.exports.iter().enumerate() {
        let at = base + i as u32 * off::EXPORT_SIZE;
        pool.str(&mut arrays, at + off::EXPORT_NAME, &export.name);
        arrays.u8(at + off::EXPORT_KIND, export.kind);
        arrays.u32(at + off::EXPORT_INDEX, export.index);
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_DATA_SEGMENTS,
        SLICE_SIZE,
        info.data.len(),
    );
    for (i, data) in info.data.iter().enumerate() {
        let at = base + i as u32 * SLICE_SIZE;
        pool.slice(&mut arrays, at, &data.bytes, 1, data.bytes.len());
    }

    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_ELEM_SEGMENTS,
        off::ELEM_SIZE,
        info.elems.len(),
    );
    for (i, elem) in info.elems.iter().enumerate() {
        let at = base + i as u32 * off::ELEM_SIZE;
        arrays.u8(at + off::ELEM_ELEM_TYPE, reftype_code(elem.elem)?);
        let items: Vec<u8> = elem
            .items
            .iter()
            .flat_map(|item| item.unwrap_or(wafer_abi::NONE_U32).to_le_bytes())
            .collect();
        pool.slice(
            &mut arrays,
            at + off::ELEM_ITEMS,
            &items,
            4,
            elem.items.len(),
        );
    }

    // Every defined function has an entry, trap sites or not: the runtime looks a faulting PC
    // up here, and also the return address of a libcall that traps, to name its wasm caller.
    let functions: Vec<&FunctionCode> = syms.functions.iter().collect();
    let base = array(
        &mut desc,
        &mut arrays,
        off::MODULE_TRAP_FUNCTIONS,
        off::TRAP_FUNCTION_SIZE,
        functions.len(),
    );
    for (i, f) in functions.iter().enumerate() {
        let at = base + i as u32 * off::TRAP_FUNCTION_SIZE;
        arrays.func_addr(at + off::TRAP_FUNCTION_START, f.id);
        arrays.u32(at + off::TRAP_FUNCTION_LEN, f.len);
        arrays.u32(at + off::TRAP_FUNCTION_FUNC_INDEX, f.func_index);
        let mut sites = Vec::with_capacity(f.traps.len() * off::TRAP_SITE_SIZE as usize);
        for (offset, kind) in &f.traps {
            sites.extend_from_slice(&offset.to_le_bytes());
            sites.extend_from_slice(&[*kind, 0, 0, 0]);
        }
        pool.slice(
            &mut arrays,
            at + off::TRAP_FUNCTION_SITES,
            &sites,
            4,
            f.traps.len(),
        );
    }

    desc.u32(off::MODULE_ABI_VERSION, wafer_abi::ABI_VERSION);
    let flags = match info.bounds_checks {
        BoundsChecks::Explicit => module_flags::EXPLICIT_BOUNDS_CHECKS,
        BoundsChecks::Guard => 0,
    };
    desc.u32(off::MODULE_FLAGS, flags);
    desc.u32(
        off::MODULE_START_FUNCTION,
        info.start.unwrap_or(wafer_abi::NONE_U32),
    );
    let cap = opts.memory_cap_pages.min(wafer_abi::MAX_WASM_PAGES as u32);
    desc.u32(off::MODULE_MEMORY_CAP_PAGES, cap);
    desc.u64(off::MODULE_WASM_STACK_BYTES, opts.wasm_stack);
    desc.func_addr(off::MODULE_INIT, syms.init);
    pool.str(
        &mut desc,
        off::MODULE_NAME,
        info.module_name.as_deref().unwrap_or(""),
    );
    desc.u32(
        off::MODULE_LAYOUT_NUM_IMPORTED_FUNCS,
        info.layout.num_imported_funcs,
    );
    desc.u32(off::MODULE_LAYOUT_NUM_TABLES, info.layout.num_tables);
    desc.u32(
        off::MODULE_LAYOUT_NUM_IMPORTED_GLOBALS,
        info.layout.num_imported_globals,
    );
    desc.u32(
        off::MODULE_LAYOUT_NUM_DEFINED_GLOBALS,
        info.layout.num_defined_globals,
    );

    // An empty data object is still a valid relocation target, but keep it non-empty so
    // every symbol has a distinct address.
    if pool.blob.bytes.is_empty() {
        pool.blob.bytes.push(0);
    }
    if arrays.bytes.is_empty() {
        arrays.bytes.push(0);
    }
    desc.define(module, desc_id)?;
    arrays.define(module, arrays_id)?;
    pool.blob.define(module, pool.id)
}
