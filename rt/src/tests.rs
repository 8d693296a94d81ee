//! End-to-end tests of instantiation, calls, libcalls, linking and trap catching, on
//! hand-built descriptors whose "compiled code" is Rust `extern "C"` functions (and, on x86_64
//! and aarch64, a few bytes of real machine code to exercise the signal handler).

use std::mem::transmute;

use wafer_abi::*;

use crate::instance::{CallError, Extern, Instance, InstantiateError};
use crate::libcalls::*;
use crate::memory::LinearMemory;
use crate::table::Table;
use crate::trap;

fn leak<T: 'static>(items: Vec<T>) -> Slice<T> {
    let items: &'static [T] = Vec::leak(items);
    Slice {
        ptr: items.as_ptr(),
        len: items.len(),
    }
}

fn s(text: &'static str) -> Str {
    Slice {
        ptr: text.as_ptr(),
        len: text.len(),
    }
}

unsafe extern "C" fn tramp_v_v(code: *const u8, vmctx: *mut VmCtx, _: *mut ValueSlot) {
    let f: extern "C" fn(*mut VmCtx) = unsafe { transmute(code) };
    f(vmctx)
}

unsafe extern "C" fn tramp_ii_i(code: *const u8, vmctx: *mut VmCtx, v: *mut ValueSlot) {
    let f: extern "C" fn(*mut VmCtx, i32, i32) -> i32 = unsafe { transmute(code) };
    unsafe {
        *v = ValueSlot::scalar(f(vmctx, (*v).lo as i32, (*v.add(1)).lo as i32) as u32 as u64)
    };
}

unsafe extern "C" fn tramp_i_i(code: *const u8, vmctx: *mut VmCtx, v: *mut ValueSlot) {
    let f: extern "C" fn(*mut VmCtx, i32) -> i32 = unsafe { transmute(code) };
    unsafe { *v = ValueSlot::scalar(f(vmctx, (*v).lo as i32) as u32 as u64) };
}

fn types() -> Slice<FuncTypeDesc> {
    use valtype::I32;
    leak(vec![
        FuncTypeDesc {
            params: leak(vec![]),
            results: leak(vec![]),
            array_call: tramp_v_v,
        },
        FuncTypeDesc {
            params: leak(vec![I32, I32]),
            results: leak(vec![I32]),
            array_call: tramp_ii_i,
        },
        FuncTypeDesc {
            params: leak(vec![I32]),
            results: leak(vec![I32]),
            array_call: tramp_i_i,
        },
    ])
}
const T_V_V: u32 = 0;
const T_II_I: u32 = 1;
const T_I_I: u32 = 2;

fn func(type_index: u32, code: *const u8, name: &'static str) -> FunctionDesc {
    FunctionDesc {
        type_index,
        _pad: 0,
        code,
        name: s(name),
    }
}

fn export(name: &'static str, kind: u8, index: u32) -> ExportDesc {
    ExportDesc {
        name: s(name),
        kind,
        _pad: [0; 3],
        index,
    }
}

unsafe extern "C" fn no_init(_: *mut VmCtx) {}

fn descriptor() -> ModuleDescriptor {
    ModuleDescriptor {
        abi_version: ABI_VERSION,
        flags: 0,
        types: types(),
        imports: leak(vec![]),
        functions: leak(vec![]),
        tables: leak(vec![]),
        memories: leak(vec![]),
        globals: leak(vec![]),
        exports: leak(vec![]),
        data_segments: leak(vec![]),
        elem_segments: leak(vec![]),
        start_function: NONE_U32,
        memory_cap_pages: MAX_WASM_PAGES as u32,
        init: no_init,
        trap_functions: leak(vec![]),
        name: s(""),
        layout_num_imported_funcs: 0,
        layout_num_tables: 0,
        layout_num_imported_globals: 0,
        layout_num_defined_globals: 0,
        wasm_stack_bytes: wafer_abi::DEFAULT_WASM_STACK,
    }
}

// ----- module A: memory, table, a global, segments, functions that trap in libcalls -------

extern "C" fn add(_: *mut VmCtx, a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

extern "C" fn unreachable_fn(_: *mut VmCtx) {
    unsafe { trap::raise(TrapKind::Unreachable) }
}

/// memory.fill(dst, 0xAB, 16); returns 1.
extern "C" fn fill16(vmctx: *mut VmCtx, dst: i32) -> i32 {
    unsafe { wafer_rt_memory_fill(vmctx, dst as u32, 0xAB, 16) };
    1
}

/// table.get(0, index) != 0
extern "C" fn table_has(vmctx: *mut VmCtx, index: i32) -> i32 {
    (unsafe { wafer_rt_table_get(vmctx, 0, index as u32) } != 0) as i32
}

/// memory.init(0, dst, 0, len) after the segment was dropped by init.
extern "C" fn reinit(vmctx: *mut VmCtx, len: i32) -> i32 {
    unsafe { wafer_rt_memory_init(vmctx, 0, 100, 0, len as u32) };
    0
}

/// Stores `value` at address 0 via the vmctx memory base, then traps if `value` is 99.
extern "C" fn store_then_maybe_trap(vmctx: *mut VmCtx) {
    unsafe {
        let base = *(vmctx as *const *mut u8);
        *base = 7;
        trap::raise(TrapKind::IntegerOverflow);
    }
}

fn a_layout() -> VmctxLayout {
    VmctxLayout {
        num_imported_funcs: 0,
        num_tables: 1,
        num_imported_globals: 0,
        num_defined_globals: 1,
    }
}

unsafe extern "C" fn init_a(vmctx: *mut VmCtx) {
    unsafe {
        let at = (vmctx as *mut u8).add(a_layout().defined_global(0) as usize) as *mut u64;
        *at = 42;
        wafer_rt_table_init(vmctx, 0, 0, 0, 0, 2);
        wafer_rt_elem_drop(vmctx, 0);
        wafer_rt_memory_init(vmctx, 0, 0, 0, 5);
        wafer_rt_data_drop(vmctx, 0);
    }
}

fn module_a() -> &'static ModuleDescriptor {
    let layout = a_layout();
    Box::leak(Box::new(ModuleDescriptor {
        functions: leak(vec![
            func(T_II_I, add as *const u8, "add"),
            func(T_V_V, unreachable_fn as *const u8, ""),
            func(T_I_I, fill16 as *const u8, "fill16"),
            func(T_I_I, table_has as *const u8, "table_has"),
            func(T_I_I, reinit as *const u8, "reinit"),
        ]),
        tables: leak(vec![TableDesc {
            elem_type: valtype::FUNCREF,
            imported: 0,
            _pad: [0; 6],
            initial: 2,
            maximum: 5,
        }]),
        memories: leak(vec![MemoryDesc {
            imported: 0,
            shared: 0,
            _pad: [0; 6],
            initial_pages: 1,
            maximum_pages: 2,
        }]),
        globals: leak(vec![GlobalDesc {
            ty: valtype::I32,
            mutable: 1,
            imported: 0,
            _pad: 0,
            vmctx_offset: layout.defined_global(0),
        }]),
        exports: leak(vec![
            export("add", extern_kind::FUNC, 0),
            export("unreachable", extern_kind::FUNC, 1),
            export("fill16", extern_kind::FUNC, 2),
            export("table_has", extern_kind::FUNC, 3),
            export("reinit", extern_kind::FUNC, 4),
            export("g", extern_kind::GLOBAL, 0),
            export("mem", extern_kind::MEMORY, 0),
            export("tab", extern_kind::TABLE, 0),
        ]),
        data_segments: leak(vec![Slice {
            ptr: b"hello".as_ptr(),
            len: 5,
        }]),
        elem_segments: leak(vec![ElemSegmentDesc {
            elem_type: valtype::FUNCREF,
            _pad: [0; 7],
            items: leak(vec![0, NONE_U32]),
        }]),
        init: init_a,
        layout_num_tables: 1,
        layout_num_defined_globals: 1,
        wasm_stack_bytes: wafer_abi::DEFAULT_WASM_STACK,
        ..descriptor()
    }))
}

fn import(module: &'static str, field: &'static str, kind: u8, index: u32) -> ImportDesc {
    ImportDesc {
        module: s(module),
        field: s(field),
        kind,
        _pad: [0; 3],
        index,
        host_code: std::ptr::null(),
    }
}

/// Module B imports a function and the memory, and traps in its start function after a
/// store into the shared memory.
fn module_b(func_type: u32, memory_min: u64, memory_max: u64) -> &'static ModuleDescriptor {
    Box::leak(Box::new(ModuleDescriptor {
        imports: leak(vec![
            import("a", "add", extern_kind::FUNC, 0),
            import("a", "mem", extern_kind::MEMORY, 0),
        ]),
        functions: leak(vec![
            func(func_type, std::ptr::null(), ""),
            func(T_V_V, store_then_maybe_trap as *const u8, "start_b"),
        ]),
        memories: leak(vec![MemoryDesc {
            imported: 1,
            shared: 0,
            _pad: [0; 6],
            initial_pages: memory_min,
            maximum_pages: memory_max,
        }]),
        exports: leak(vec![export("add_again", extern_kind::FUNC, 0)]),
        start_function: 1,
        layout_num_imported_funcs: 1,
        ..descriptor()
    }))
}

fn call_i(inst: &Instance, name: &str, args: &[u64]) -> Result<u64, CallError> {
    let e = inst.export(name.as_bytes()).expect("export");
    let mut values = [0u64; 2];
    values[..args.len()].copy_from_slice(args);
    inst.call_scalars(e.index, &mut values)?;
    Ok(values[0])
}

/// The instance's memory bytes (tests only: the memory is shared state reached by pointer).
#[allow(clippy::mut_from_ref)]
fn memory_bytes(inst: &Instance) -> &mut [u8] {
    unsafe { LinearMemory::from_def(inst.memory_def()).bytes_mut() }
}

#[test]
fn instantiate_and_call() {
    let a = Instance::new(module_a(), &[]).unwrap();
    assert_eq!(call_i(&a, "add", &[40, 2]).unwrap(), 42);
    assert_eq!(call_i(&a, "add", &[u32::MAX as u64, 1]).unwrap(), 0);
    let g = a.export(b"g").unwrap();
    assert_eq!(a.read_global(g.index).map(|s| s.lo), Some(42));
    assert_eq!(&memory_bytes(&a)[..6], b"hello\0");
    // The elem segment put func 0 at table[0] and null at table[1].
    let table = unsafe { Table::from_def(a.table_def(0).unwrap()) };
    let f0 = a.func_ref(0).unwrap() as *const FuncRef as usize;
    assert_eq!(table.elements(), &[f0, 0]);
    let fr = a.func_ref(0).unwrap();
    assert_eq!(fr.vmctx, a.vmctx());
    assert_eq!(fr.type_id, crate::signature::intern(&[0, 0], &[0]));
    assert_eq!(call_i(&a, "table_has", &[0]).unwrap(), 1);
    assert_eq!(call_i(&a, "table_has", &[1]).unwrap(), 0);
}

fn expect_trap(result: Result<u64, CallError>, kind: TrapKind) -> trap::Trap {
    match result {
        Err(CallError::Trap(t)) => {
            assert_eq!(t.kind, kind);
            t
        }
        other => panic!("expected trap {kind:?}, got {other:?}"),
    }
}

#[test]
fn libcall_traps_are_caught_and_bulk_ops_write_nothing() {
    let a = Instance::new(module_a(), &[]).unwrap();
    expect_trap(call_i(&a, "unreachable", &[]), TrapKind::Unreachable);
    // 65530 + 16 runs past the single page: nothing may be written.
    expect_trap(call_i(&a, "fill16", &[65530]), TrapKind::MemoryOutOfBounds);
    assert!(memory_bytes(&a)[65530..].iter().all(|b| *b == 0));
    expect_trap(
        call_i(&a, "fill16", &[u32::MAX as u64]),
        TrapKind::MemoryOutOfBounds,
    );
    assert_eq!(call_i(&a, "fill16", &[65520]).unwrap(), 1);
    assert!(memory_bytes(&a)[65520..].iter().all(|b| *b == 0xAB));
    expect_trap(call_i(&a, "table_has", &[2]), TrapKind::TableOutOfBounds);
    // The data segment was dropped by init: it now behaves as an empty segment.
    assert_eq!(call_i(&a, "reinit", &[0]).unwrap(), 0);
    expect_trap(call_i(&a, "reinit", &[1]), TrapKind::MemoryOutOfBounds);
    // Still usable after traps.
    assert_eq!(call_i(&a, "add", &[1, 2]).unwrap(), 3);
}

#[test]
fn grow_libcalls() {
    let a = Instance::new(module_a(), &[]).unwrap();
    let vm = a.vmctx();
    unsafe {
        assert_eq!(wafer_rt_memory_grow(vm, 1), 1);
        assert_eq!(wafer_rt_memory_grow(vm, 1), u32::MAX);
        assert_eq!(wafer_rt_memory_grow(vm, 0), 2);
        assert_eq!(wafer_rt_table_grow(vm, 0, 9, 3), 2);
        assert_eq!(wafer_rt_table_grow(vm, 0, 9, 1), u32::MAX);
        assert_eq!(wafer_rt_table_grow(vm, 7, 9, 1), u32::MAX);
        assert_eq!(wafer_rt_table_get(vm, 0, 4), 9);
    }
    // The table's def follows the reallocated elements.
    let def = a.table_def(0).unwrap();
    assert_eq!(unsafe { (*def).length }, 5);
    let base = unsafe { *(vm as *const *mut u8) };
    assert_eq!(base, unsafe { (*a.memory_def()).base });
}

#[test]
fn table_bulk_libcalls() {
    let a = Instance::new(module_a(), &[]).unwrap();
    let table = unsafe { Table::from_def(a.table_def(0).unwrap()) };
    let results = trap::catch_traps(|| unsafe {
        let vm = a.vmctx();
        wafer_rt_table_grow(vm, 0, 0, 2);
        wafer_rt_table_fill(vm, 0, 2, 5, 2);
        wafer_rt_table_set(vm, 0, 1, 6);
        // Overlapping copy within one table (memmove semantics).
        wafer_rt_table_copy(vm, 0, 0, 1, 0, 3);
    });
    assert!(results.is_ok());
    let f0 = a.func_ref(0).unwrap() as *const FuncRef as usize;
    assert_eq!(table.elements(), &[f0, f0, 6, 5]);
    let oob = trap::catch_traps(|| unsafe { wafer_rt_table_fill(a.vmctx(), 0, 3, 1, 2) });
    assert_eq!(oob.unwrap_err().kind, TrapKind::TableOutOfBounds);
    assert_eq!(table.elements(), &[f0, f0, 6, 5], "nothing written");
    // Dropped element segment acts as empty: len 0 is fine, len 1 traps.
    assert!(trap::catch_traps(|| unsafe { wafer_rt_table_init(a.vmctx(), 0, 0, 0, 0, 0) }).is_ok());
    let t = trap::catch_traps(|| unsafe { wafer_rt_table_init(a.vmctx(), 0, 0, 0, 0, 1) });
    assert_eq!(t.unwrap_err().kind, TrapKind::TableOutOfBounds);
    let t = trap::catch_traps(|| unsafe { wafer_rt_memory_copy(a.vmctx(), 0, 65535, 2) });
    assert_eq!(t.unwrap_err().kind, TrapKind::MemoryOutOfBounds);
}

#[test]
fn linking_checks_and_trapping_start_keeps_effects() {
    let a = Instance::new(module_a(), &[]).unwrap();
    let add = a.export_extern(b"add").unwrap();
    let mem = a.export_extern(b"mem").unwrap();

    // Wrong function type.
    match Instance::new(module_b(T_I_I, 1, NONE_U64), &[add, mem]) {
        Err(InstantiateError::Unlinkable(m)) => assert_eq!(m, "incompatible import type"),
        other => panic!("expected unlinkable, got {:?}", other.err()),
    }
    // Memory too small for the import's minimum; maximum required but exporter has a larger one.
    assert!(matches!(
        Instance::new(module_b(T_II_I, 2, NONE_U64), &[add, mem]),
        Err(InstantiateError::Unlinkable(_))
    ));
    assert!(matches!(
        Instance::new(module_b(T_II_I, 1, 1), &[add, mem]),
        Err(InstantiateError::Unlinkable(_))
    ));
    // Wrong kind.
    assert!(matches!(
        Instance::new(module_b(T_II_I, 1, NONE_U64), &[mem, mem]),
        Err(InstantiateError::Unlinkable(_))
    ));
    // Correct imports: the start function stores into the shared memory, then traps; the
    // store stays visible.
    memory_bytes(&a)[0] = 0;
    match Instance::new(module_b(T_II_I, 1, 2), &[add, mem]) {
        Err(InstantiateError::Trap(t)) => {
            assert_eq!(t.kind, TrapKind::IntegerOverflow);
        }
        other => panic!("expected a trap, got {:?}", other.err()),
    }
    assert_eq!(memory_bytes(&a)[0], 7);
}

#[test]
fn imported_function_is_called_with_exporter_context() {
    let a = Instance::new(module_a(), &[]).unwrap();
    let desc = Box::leak(Box::new(ModuleDescriptor {
        imports: leak(vec![import("a", "add", extern_kind::FUNC, 0)]),
        functions: leak(vec![func(T_II_I, std::ptr::null(), "")]),
        exports: leak(vec![export("add_again", extern_kind::FUNC, 0)]),
        layout_num_imported_funcs: 1,
        ..descriptor()
    }));
    let c = Instance::new(desc, &[a.export_extern(b"add").unwrap()]).unwrap();
    assert_eq!(call_i(&c, "add_again", &[5, 6]).unwrap(), 11);
    let fr = c.func_ref(0).unwrap();
    assert_eq!(fr.vmctx, a.vmctx());
    // vmctx.imported_funcs[0] holds the binding too.
    let slot = unsafe {
        &*((c.vmctx() as *const u8).add(desc.vmctx_layout().imported_func(0) as usize)
            as *const ImportedFunc)
    };
    assert_eq!(slot.code, add as *const u8);
    assert_eq!(slot.vmctx, a.vmctx());
    // Globals import by pointer.
    match a.export_extern(b"g").unwrap() {
        Extern::Global { value, ty, mutable } => {
            assert_eq!(unsafe { (*value).lo }, 42);
            assert_eq!((ty, mutable), (valtype::I32, true));
        }
        _ => panic!("not a global"),
    }
}

#[test]
fn descriptor_version_is_checked() {
    let desc = Box::leak(Box::new(ModuleDescriptor {
        abi_version: ABI_VERSION + 1,
        ..descriptor()
    }));
    assert!(matches!(
        Instance::new(desc, &[]),
        Err(InstantiateError::Error(_))
    ));
    let bad_layout = Box::leak(Box::new(ModuleDescriptor {
        layout_num_tables: 3,
        ..descriptor()
    }));
    assert!(matches!(
        Instance::new(bad_layout, &[]),
        Err(InstantiateError::Error(_))
    ));
}

// ----- real faults through the signal handler ---------------------------------------------

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod faults {
    use super::*;

    /// Copies machine code into a fresh executable page (leaked: registered trap tables keep
    /// pointing at it).
    fn code_page(bytes: &[u8]) -> *const u8 {
        unsafe {
            let page = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(page, libc::MAP_FAILED);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), page as *mut u8, bytes.len());
            assert_eq!(
                libc::mprotect(page, 4096, libc::PROT_READ | libc::PROT_EXEC),
                0
            );
            page as *const u8
        }
    }

    /// A module with one function of type (i32) -> i32 whose code is `bytes`, with a trap
    /// site of `kind` at `site`.
    fn faulting_module(bytes: &[u8], site: u32, kind: TrapKind) -> &'static ModuleDescriptor {
        let code = code_page(bytes);
        Box::leak(Box::new(ModuleDescriptor {
            functions: leak(vec![func(T_I_I, code, "faulty")]),
            memories: leak(vec![MemoryDesc {
                imported: 0,
                shared: 0,
                _pad: [0; 6],
                initial_pages: 1,
                maximum_pages: NONE_U64,
            }]),
            exports: leak(vec![export("f", extern_kind::FUNC, 0)]),
            trap_functions: leak(vec![TrapFunctionDesc {
                start: code,
                len: bytes.len() as u32,
                func_index: 0,
                sites: leak(vec![TrapSite {
                    offset: site,
                    kind: kind as u8,
                    _pad: [0; 3],
                }]),
            }]),
            ..descriptor()
        }))
    }

    // (vmctx, index) -> i32: loads 4 bytes at memory_base + index.
    #[cfg(target_arch = "x86_64")]
    const LOAD: (&[u8], u32) = (
        // mov rax, [rdi]; mov eax, esi (zero-extends); mov eax, [rax + rsi]... done as:
        // mov rax,[rdi] (48 8b 07); mov esi,esi (89 f6); mov eax,[rax+rsi] (8b 04 30); ret
        &[0x48, 0x8b, 0x07, 0x89, 0xf6, 0x8b, 0x04, 0x30, 0xc3],
        5,
    );
    #[cfg(target_arch = "aarch64")]
    const LOAD: (&[u8], u32) = (
        // ldr x8, [x0]; ldr w0, [x8, w1, uxtw]; ret
        &[
            0x08, 0x00, 0x40, 0xf9, 0x00, 0x49, 0x61, 0xb8, 0xc0, 0x03, 0x5f, 0xd6,
        ],
        4,
    );
    #[cfg(target_arch = "x86_64")]
    const UD: (&[u8], u32) = (&[0x90, 0x0f, 0x0b], 1); // nop; ud2
    #[cfg(target_arch = "aarch64")]
    const UD: (&[u8], u32) = (&[0x1f, 0x20, 0x03, 0xd5, 0x00, 0x00, 0x00, 0x00], 4); // nop; udf #0

    #[test]
    fn guard_page_fault_becomes_memory_trap() {
        let inst = Instance::new(
            faulting_module(LOAD.0, LOAD.1, TrapKind::MemoryOutOfBounds),
            &[],
        )
        .unwrap();
        memory_bytes(&inst)[8..12].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        assert_eq!(call_i(&inst, "f", &[8]).unwrap(), 0x1234_5678);
        let t = expect_trap(call_i(&inst, "f", &[65536]), TrapKind::MemoryOutOfBounds);
        assert_eq!(t.func_index, Some(0));
        assert_eq!(t.function_name().as_deref(), Some("faulty"));
        expect_trap(
            call_i(&inst, "f", &[u32::MAX as u64]),
            TrapKind::MemoryOutOfBounds,
        );
        // Signals stay usable after a trap (the mask was restored by siglongjmp).
        expect_trap(call_i(&inst, "f", &[70000]), TrapKind::MemoryOutOfBounds);
        assert_eq!(call_i(&inst, "f", &[8]).unwrap(), 0x1234_5678);
    }

    #[test]
    fn illegal_instruction_becomes_its_trap_kind() {
        let inst =
            Instance::new(faulting_module(UD.0, UD.1, TrapKind::StackOverflow), &[]).unwrap();
        for _ in 0..3 {
            let t = expect_trap(call_i(&inst, "f", &[0]), TrapKind::StackOverflow);
            assert_eq!(t.kind.message(), "call stack exhausted");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn division_by_zero_sigfpe() {
        // (vmctx, a) -> a / 0 via: xor ecx,ecx; mov eax,esi; cdq; idiv ecx; ret
        let bytes = [0x31, 0xc9, 0x89, 0xf0, 0x99, 0xf7, 0xf9, 0xc3];
        let inst = Instance::new(
            faulting_module(&bytes, 5, TrapKind::IntegerDivisionByZero),
            &[],
        )
        .unwrap();
        expect_trap(call_i(&inst, "f", &[10]), TrapKind::IntegerDivisionByZero);
    }
}

#[test]
fn spec_session_end_to_end() {
    use crate::spec::Session;
    let modules = [
        module_a(),
        module_b(T_II_I, 1, NONE_U64),
        module_b(T_I_I, 1, NONE_U64),
    ];
    let mut s = Session::new(&modules);
    assert_eq!(s.execute("instantiate 1 5"), "unlinkable unknown import");
    assert_eq!(s.execute("instantiate 0 1"), "ok");
    assert_eq!(s.execute("invoke 1 616464 i32:28 i32:2"), "ok i32:2a");
    assert_eq!(s.execute("invoke 1 616464 i32:ffffffff i32:1"), "ok i32:0");
    assert!(s.execute("invoke 1 616464 i32:1").starts_with("error"));
    assert!(s
        .execute("invoke 1 616464 i64:1 i32:1")
        .starts_with("error"));
    assert_eq!(
        s.execute("invoke 1 756e726561636861626c65"),
        "trap 6 unreachable"
    );
    assert_eq!(s.execute("get 1 67"), "ok i32:2a");
    assert_eq!(s.execute("register 61 1"), "ok");
    assert_eq!(
        s.execute("instantiate 2 2"),
        "unlinkable incompatible import type"
    );
    // Start function stores into a's memory, then traps with integer overflow.
    assert_eq!(s.execute("instantiate 1 2"), "trap 4 integer overflow");
    // Instance numbers can be reused; the registered name keeps the original instance.
    assert_eq!(s.execute("instantiate 0 1"), "ok");
    assert_eq!(s.execute("instantiate 1 3"), "trap 4 integer overflow");
}

/// The rounding that x86_64 code without SSE4.1 calls: wasm's results, a quiet NaN for a
/// signalling one, the sign of a zero kept, halves to even.
#[test]
fn rounding_libcalls_follow_wasm() {
    let signalling32 = f32::from_bits(0x7fa0_0000);
    for f in [
        wafer_rt_floor_f32,
        wafer_rt_ceil_f32,
        wafer_rt_trunc_f32,
        wafer_rt_nearest_f32,
    ] {
        let out = f(signalling32).to_bits();
        assert_eq!(out, 0x7fe0_0000, "{out:#x}");
        assert_eq!(f(-f32::from_bits(0x7fa0_0000)).to_bits(), 0xffe0_0000);
        assert_eq!(f(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f(f32::INFINITY), f32::INFINITY);
    }
    let signalling64 = f64::from_bits(0x7ff4_0000_0000_0000);
    for f in [
        wafer_rt_floor_f64,
        wafer_rt_ceil_f64,
        wafer_rt_trunc_f64,
        wafer_rt_nearest_f64,
    ] {
        assert_eq!(f(signalling64).to_bits(), 0x7ffc_0000_0000_0000);
        assert_eq!(f(f64::NEG_INFINITY), f64::NEG_INFINITY);
    }
    assert_eq!(wafer_rt_floor_f32(-0.5), -1.0);
    assert_eq!(wafer_rt_ceil_f64(-0.5).to_bits(), (-0.0f64).to_bits());
    assert_eq!(wafer_rt_trunc_f32(-1.75), -1.0);
    assert_eq!(wafer_rt_nearest_f32(2.5), 2.0);
    assert_eq!(wafer_rt_nearest_f32(3.5), 4.0);
    assert_eq!(wafer_rt_nearest_f64(-2.5), -2.0);
    assert_eq!(wafer_rt_nearest_f64(-0.5).to_bits(), (-0.0f64).to_bits());
}
