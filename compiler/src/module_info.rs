//! What the translator needs to know about the module around a function body. Filled in by
//! `module.rs` from the parsed module before any function is translated, then shared
//! read-only by the translator threads.

use cranelift_codegen::ir::{self, UserExternalName};
use wafer_abi::{BoundsChecks, VmctxLayout};
use wasmparser::{FuncType, RefType, ValType};

/// A constant expression (global initializers, segment offsets), kept as its operators.
#[derive(Clone, Debug)]
pub enum ConstOp {
    I32Const(i32),
    I64Const(i64),
    F32Const(u32),
    F64Const(u64),
    /// `v128.const`, its 16 bytes as a little-endian integer.
    V128Const(u128),
    GlobalGet(u32),
    RefNull,
    RefFunc(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

#[derive(Clone, Debug)]
pub struct TableInfo {
    pub elem: RefType,
    pub initial: u64,
    pub maximum: Option<u64>,
    pub imported: bool,
}

#[derive(Clone, Debug)]
pub struct MemoryInfo {
    pub initial_pages: u64,
    pub maximum_pages: Option<u64>,
    pub imported: bool,
    /// Declared `shared` (threads proposal).
    pub shared: bool,
}

#[derive(Clone, Debug)]
pub struct GlobalInfo {
    pub ty: ValType,
    pub mutable: bool,
    /// `None` for imported globals.
    pub init: Option<Vec<ConstOp>>,
}

#[derive(Clone, Debug)]
pub enum SegmentMode {
    Passive,
    /// Applied at instantiation at this offset (an i32 constant expression).
    Active {
        index: u32,
        offset: Vec<ConstOp>,
    },
    /// Element segments only: dropped at instantiation.
    Declared,
}

#[derive(Clone, Debug)]
pub struct DataSegment {
    pub mode: SegmentMode,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct ElemSegment {
    pub mode: SegmentMode,
    pub elem: RefType,
    /// Function index per item; `None` is a null reference.
    pub items: Vec<Option<u32>>,
    /// Items given as `global.get`: (item position, global index). `items` holds null at
    /// those positions; `init` overwrites them with the globals' values right after applying
    /// the (active) segment. Passive segments never have any.
    pub global_items: Vec<(u32, u32)>,
}

#[derive(Clone, Debug)]
pub struct Import {
    pub module: String,
    pub field: String,
    pub kind: u8,
    pub index: u32,
    /// What a function import is bound to at build time, if anything.
    pub host: Option<HostTarget>,
}

/// The build-time binding of a function import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostTarget {
    /// A runtime function with the import's signature.
    Symbol(String),
    /// A WALI syscall: the compiler emits an adapter that widens the arguments and calls the
    /// runtime's syscall entry with this index (`wafer_abi::wali::Binding::Syscall`).
    WaliSyscall { index: u32, drop_result: bool },
    /// A stub the compiler emits: it answers `wafer_abi::wali::ENOSYS_RESULT` in every
    /// integer result (an unimplemented WALI syscall).
    Enosys,
}

#[derive(Clone, Debug)]
pub struct Export {
    pub name: String,
    pub kind: u8,
    pub index: u32,
}

/// The module, as far as code generation cares.
pub struct ModuleInfo {
    pub types: Vec<FuncType>,
    /// Type index of every function, imports first.
    pub func_types: Vec<u32>,
    pub num_imported_funcs: u32,
    pub tables: Vec<TableInfo>,
    pub memory: Option<MemoryInfo>,
    /// Every global, imports first.
    pub globals: Vec<GlobalInfo>,
    pub num_imported_globals: u32,
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    pub data: Vec<DataSegment>,
    pub elems: Vec<ElemSegment>,
    pub start: Option<u32>,
    /// Function names from the name section (by function index); may be shorter.
    pub func_names: Vec<Option<String>>,
    pub module_name: Option<String>,
    pub layout: VmctxLayout,
    pub bounds_checks: BoundsChecks,
    /// Whether a WALI program gets signal safe points (`CompileOptions::signal_safe_points`).
    pub signal_safe_points: bool,
    /// With safe points: whether each defined function (by defined index) polls at its
    /// entry, which it does when it calls anything. Empty without safe points.
    pub entry_safe_points: Vec<bool>,
    /// External names of defined functions, by *defined* index (function index minus
    /// `num_imported_funcs`), as the object module declared them.
    pub defined_func_names: Vec<UserExternalName>,
    /// External names of the runtime libcalls, by `wafer_abi::libcall` symbol.
    pub libcall_names: Vec<(&'static str, UserExternalName)>,
    /// Native pointer type of the target.
    pub pointer_type: ir::Type,
    /// The Cranelift type of a `v128` on the target (see `translate::simd::v128_type`).
    pub v128_type: ir::Type,
}

impl ModuleInfo {
    /// The Cranelift types of the target's wasm values.
    pub fn ir_types(&self) -> crate::translate::IrTypes {
        crate::translate::IrTypes {
            pointer: self.pointer_type,
            v128: self.v128_type,
        }
    }

    /// Whether function `func_index` polls for signals at its entry (never an import).
    pub fn has_entry_safe_point(&self, func_index: u32) -> bool {
        func_index
            .checked_sub(self.num_imported_funcs)
            .and_then(|defined| self.entry_safe_points.get(defined as usize))
            .copied()
            .unwrap_or(false)
    }
    pub fn func_type(&self, func_index: u32) -> &FuncType {
        &self.types[self.func_types[func_index as usize] as usize]
    }
    pub fn is_imported_func(&self, func_index: u32) -> bool {
        func_index < self.num_imported_funcs
    }
    pub fn is_imported_global(&self, global_index: u32) -> bool {
        global_index < self.num_imported_globals
    }
    /// For imported globals: offset of the pointer to the value; for defined ones: offset of
    /// the value itself.
    pub fn global_vmctx_offset(&self, global_index: u32) -> u32 {
        if self.is_imported_global(global_index) {
            self.layout.imported_global(global_index)
        } else {
            self.layout
                .defined_global(global_index - self.num_imported_globals)
        }
    }
    pub fn libcall_name(&self, symbol: &str) -> UserExternalName {
        self.libcall_names
            .iter()
            .find(|(s, _)| *s == symbol)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| panic!("libcall {symbol} not declared"))
    }
    pub fn func_display_name(&self, func_index: u32) -> String {
        match self.func_names.get(func_index as usize) {
            Some(Some(name)) => name.clone(),
            _ => format!("func[{func_index}]"),
        }
    }
}
