//! Validating a wasm binary and reading its sections into [`ModuleInfo`].
//!
//! Order matters for error quality: a structural pass first (so undecodable bytes are
//! reported as malformed), then validation with the supported proposals (so a module that
//! needs SIMD is told so by name), and only then the sections are read for code generation.

use crate::error::{CompileError, Result};
use crate::features;
use crate::host_imports;
use crate::module_info::{
    ConstOp, DataSegment, ElemSegment, Export, GlobalInfo, Import, MemoryInfo, ModuleInfo,
    SegmentMode, TableInfo,
};
use cranelift_codegen::ir;
use wafer_abi::{extern_kind, BoundsChecks, VmctxLayout};
use wasmparser::{
    BinaryReaderError, ConstExpr, DataKind, ElementItems, ElementKind, Encoding, ExternalKind,
    FunctionBody, KnownCustom, Name, Operator, Parser, Payload, RefType, TypeRef, Validator,
    WasmFeatures,
};

/// A validated module: what code generation needs, plus the function bodies still in the
/// input bytes.
pub struct ParsedModule<'a> {
    /// `defined_func_names` and `libcall_names` are left empty: the object writer fills them
    /// in once it has declared the symbols.
    pub info: ModuleInfo,
    /// One per defined function, in order.
    pub bodies: Vec<FunctionBody<'a>>,
}

/// How to read a module.
pub struct ParseOptions<'o> {
    pub bounds_checks: BoundsChecks,
    pub pointer_type: ir::Type,
    /// The Cranelift type of a `v128` (see `translate::simd::v128_type`).
    pub v128_type: ir::Type,
    /// Bind imports of `wafer_abi::HOST_MODULES` to runtime symbols, refusing anything else.
    pub resolve_host_imports: bool,
    /// See `CompileOptions::signal_safe_points`.
    pub signal_safe_points: bool,
    /// See `CompileOptions::import_bindings`.
    pub import_bindings: Option<&'o [Option<crate::component::HostImport>]>,
}

pub fn parse<'a>(wasm: &'a [u8], opts: &ParseOptions) -> Result<ParsedModule<'a>> {
    check_well_formed(wasm)?;
    validate(wasm)?;
    let (mut info, bodies) = read_sections(wasm, opts)?;
    if let Some(bindings) = opts.import_bindings {
        host_imports::resolve_given(&mut info, bindings)?;
    } else if opts.resolve_host_imports {
        host_imports::resolve(&mut info, &host_imports::shapes_of(wasm))?;
    }
    let defined = info.func_types.len() - info.num_imported_funcs as usize;
    if bodies.len() != defined {
        return Err(CompileError::Invalid(format!(
            "{} function bodies for {defined} declared functions",
            bodies.len()
        )));
    }
    if crate::translate::wants_safe_points(&info) {
        info.entry_safe_points = bodies
            .iter()
            .map(crate::translate::makes_calls)
            .collect::<Result<_>>()?;
    }
    Ok(ParsedModule { info, bodies })
}

fn malformed(e: BinaryReaderError) -> CompileError {
    CompileError::Malformed(format!(
        "{} (at byte offset {:#x})",
        e.message(),
        e.offset()
    ))
}

fn invalid(e: BinaryReaderError) -> CompileError {
    CompileError::Invalid(format!(
        "{} (at byte offset {:#x})",
        e.message(),
        e.offset()
    ))
}

/// Decodes every section and every instruction with all proposals enabled: whatever fails
/// here is not a wasm binary at all, whichever proposals one assumes.
fn check_well_formed(wasm: &[u8]) -> Result<()> {
    let mut parser = Parser::new(0);
    parser.set_features(WasmFeatures::all());
    for payload in parser.parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => {
                return Err(CompileError::Unsupported("component-model".into()));
            }
            Payload::TypeSection(r) => drain(r)?,
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    import.map_err(malformed)?;
                }
            }
            Payload::FunctionSection(r) => drain(r)?,
            Payload::TableSection(r) => drain(r)?,
            Payload::MemorySection(r) => drain(r)?,
            Payload::TagSection(r) => drain(r)?,
            Payload::GlobalSection(r) => {
                for global in r {
                    decode_const_expr(&global.map_err(malformed)?.init_expr)?;
                }
            }
            Payload::ExportSection(r) => drain(r)?,
            Payload::ElementSection(r) => {
                for elem in r {
                    let elem = elem.map_err(malformed)?;
                    if let ElementKind::Active { offset_expr, .. } = &elem.kind {
                        decode_const_expr(offset_expr)?;
                    }
                    match elem.items {
                        ElementItems::Functions(f) => drain(f)?,
                        ElementItems::Expressions(_, exprs) => {
                            for e in exprs {
                                decode_const_expr(&e.map_err(malformed)?)?;
                            }
                        }
                    }
                }
            }
            Payload::DataSection(r) => {
                for data in r {
                    if let DataKind::Active { offset_expr, .. } = data.map_err(malformed)?.kind {
                        decode_const_expr(&offset_expr)?;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                for local in body.get_locals_reader().map_err(malformed)? {
                    local.map_err(malformed)?;
                }
                let mut ops = body.get_operators_reader().map_err(malformed)?;
                while !ops.eof() {
                    ops.read().map_err(malformed)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn drain<'a, T>(reader: wasmparser::SectionLimited<'a, T>) -> Result<()>
where
    T: wasmparser::FromReader<'a>,
{
    for item in reader {
        item.map_err(malformed)?;
    }
    Ok(())
}

fn decode_const_expr(expr: &ConstExpr<'_>) -> Result<()> {
    let mut ops = expr.get_operators_reader();
    while !ops.eof() {
        ops.read().map_err(malformed)?;
    }
    Ok(())
}

fn validate(wasm: &[u8]) -> Result<()> {
    let err = match Validator::new_with_features(features::supported()).validate_all(wasm) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    match features::required_unsupported(wasm) {
        Some(names) => Err(CompileError::Unsupported(names)),
        None if is_decoding_error(err.message()) => Err(malformed(err)),
        None => Err(invalid(err)),
    }
}

/// wasmparser finds some encoding errors only while validating (a section id no proposal
/// defines, a body without its final `end`, bulk-memory instructions without the data count
/// section); the specification calls these malformed.
fn is_decoding_error(message: &str) -> bool {
    const DECODING: &[&str] = &[
        "malformed",
        "unexpected end",
        "control frames remain at end",
        "data count section required",
        "operators remaining after end of function",
    ];
    DECODING.iter().any(|m| message.contains(m))
}

/// The (params, results) type codes of a function type.
pub type SignatureCodes = (Vec<u8>, Vec<u8>);

/// For every import of a core module, in order: the (params, results) type codes of a
/// function import, `None` for other imports (or a type wafer has no code for).
pub fn import_func_signatures(wasm: &[u8]) -> Result<Vec<Option<SignatureCodes>>> {
    let mut types = Vec::new();
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(malformed)?);
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(malformed)?;
                    out.push(match import.ty {
                        wasmparser::TypeRef::Func(t) | wasmparser::TypeRef::FuncExact(t) => types
                            .get(t as usize)
                            .and_then(|ty| host_imports::signature_codes(ty).ok()),
                        _ => None,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Descriptor type code of a value type.
pub fn valtype_byte(ty: wasmparser::ValType) -> Result<u8> {
    use wafer_abi::valtype;
    use wasmparser::ValType;
    Ok(match ty {
        ValType::I32 => valtype::I32,
        ValType::I64 => valtype::I64,
        ValType::F32 => valtype::F32,
        ValType::F64 => valtype::F64,
        ValType::Ref(r) => reftype_code(r)?,
        ValType::V128 => valtype::V128,
    })
}

pub fn reftype_code(r: RefType) -> Result<u8> {
    if r == RefType::FUNCREF {
        Ok(wafer_abi::valtype::FUNCREF)
    } else if r == RefType::EXTERNREF {
        Ok(wafer_abi::valtype::EXTERNREF)
    } else {
        Err(CompileError::Unsupported(format!("reference type {r}")))
    }
}

fn const_expr(expr: &ConstExpr<'_>) -> Result<Vec<ConstOp>> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let op = match reader.read().map_err(malformed)? {
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::RefNull { .. } => ConstOp::RefNull,
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::End => break,
            other => {
                return Err(CompileError::Unsupported(format!(
                    "constant expression operator {other:?}"
                )))
            }
        };
        ops.push(op);
    }
    Ok(ops)
}

/// An element item given as an expression.
enum ElemItem {
    Func(Option<u32>),
    Global(u32),
}

fn elem_item(expr: &ConstExpr<'_>) -> Result<ElemItem> {
    match const_expr(expr)?.as_slice() {
        [ConstOp::RefFunc(f)] => Ok(ElemItem::Func(Some(*f))),
        [ConstOp::RefNull] => Ok(ElemItem::Func(None)),
        [ConstOp::GlobalGet(g)] => Ok(ElemItem::Global(*g)),
        other => Err(CompileError::Unsupported(format!(
            "element segment item expression {other:?}"
        ))),
    }
}

fn table_info(ty: wasmparser::TableType, imported: bool) -> TableInfo {
    TableInfo {
        elem: ty.element_type,
        initial: ty.initial,
        maximum: ty.maximum,
        imported,
    }
}

fn memory_info(ty: wasmparser::MemoryType, imported: bool) -> MemoryInfo {
    MemoryInfo {
        initial_pages: ty.initial,
        maximum_pages: ty.maximum,
        imported,
        shared: ty.shared,
    }
}

fn export_kind(kind: ExternalKind) -> Result<u8> {
    Ok(match kind {
        ExternalKind::Func | ExternalKind::FuncExact => extern_kind::FUNC,
        ExternalKind::Table => extern_kind::TABLE,
        ExternalKind::Memory => extern_kind::MEMORY,
        ExternalKind::Global => extern_kind::GLOBAL,
        ExternalKind::Tag => return Err(CompileError::Unsupported("exception-handling".into())),
    })
}

fn read_sections<'a>(
    wasm: &'a [u8],
    opts: &ParseOptions,
) -> Result<(ModuleInfo, Vec<FunctionBody<'a>>)> {
    let mut bodies = Vec::new();
    let mut info = ModuleInfo {
        types: Vec::new(),
        func_types: Vec::new(),
        num_imported_funcs: 0,
        tables: Vec::new(),
        memory: None,
        globals: Vec::new(),
        num_imported_globals: 0,
        imports: Vec::new(),
        exports: Vec::new(),
        data: Vec::new(),
        elems: Vec::new(),
        start: None,
        func_names: Vec::new(),
        module_name: None,
        layout: VmctxLayout {
            num_imported_funcs: 0,
            num_tables: 0,
            num_imported_globals: 0,
            num_defined_globals: 0,
        },
        bounds_checks: opts.bounds_checks,
        signal_safe_points: opts.signal_safe_points,
        entry_safe_points: Vec::new(),
        defined_func_names: Vec::new(),
        libcall_names: Vec::new(),
        pointer_type: opts.pointer_type,
        v128_type: opts.v128_type,
    };

    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(malformed)? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    info.types.push(ty.map_err(invalid)?);
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    read_import(&mut info, import.map_err(malformed)?)?;
                }
            }
            Payload::FunctionSection(r) => {
                for ty in r {
                    info.func_types.push(ty.map_err(malformed)?);
                }
            }
            Payload::TableSection(r) => {
                for table in r {
                    let table = table.map_err(malformed)?;
                    if !matches!(table.init, wasmparser::TableInit::RefNull) {
                        return Err(CompileError::Unsupported(
                            "function-references (table initializer expression)".into(),
                        ));
                    }
                    info.tables.push(table_info(table.ty, false));
                }
            }
            Payload::MemorySection(r) => {
                for memory in r {
                    info.memory = Some(memory_info(memory.map_err(malformed)?, false));
                }
            }
            Payload::GlobalSection(r) => {
                for global in r {
                    let global = global.map_err(malformed)?;
                    info.globals.push(GlobalInfo {
                        ty: global.ty.content_type,
                        mutable: global.ty.mutable,
                        init: Some(const_expr(&global.init_expr)?),
                    });
                }
            }
            Payload::ExportSection(r) => {
                for export in r {
                    let export = export.map_err(malformed)?;
                    info.exports.push(Export {
                        name: export.name.to_string(),
                        kind: export_kind(export.kind)?,
                        index: export.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => info.start = Some(func),
            Payload::ElementSection(r) => {
                for elem in r {
                    info.elems.push(read_elem(elem.map_err(malformed)?)?);
                }
            }
            Payload::DataSection(r) => {
                for data in r {
                    let data = data.map_err(malformed)?;
                    let mode = match data.kind {
                        DataKind::Passive => SegmentMode::Passive,
                        DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: memory_index,
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    info.data.push(DataSegment {
                        mode,
                        bytes: data.data.to_vec(),
                    });
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            Payload::CustomSection(r) => {
                if let KnownCustom::Name(names) = r.as_known() {
                    read_names(&mut info, names);
                }
            }
            _ => {}
        }
    }

    let num_globals = info.globals.len() as u32;
    info.layout = VmctxLayout {
        num_imported_funcs: info.num_imported_funcs,
        num_tables: info.tables.len() as u32,
        num_imported_globals: info.num_imported_globals,
        num_defined_globals: num_globals - info.num_imported_globals,
    };
    Ok((info, bodies))
}

fn read_import(info: &mut ModuleInfo, import: wasmparser::Import<'_>) -> Result<()> {
    let (kind, index) = match import.ty {
        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
            info.func_types.push(ty);
            info.num_imported_funcs += 1;
            (extern_kind::FUNC, info.num_imported_funcs - 1)
        }
        TypeRef::Table(ty) => {
            info.tables.push(table_info(ty, true));
            (extern_kind::TABLE, info.tables.len() as u32 - 1)
        }
        TypeRef::Memory(ty) => {
            info.memory = Some(memory_info(ty, true));
            (extern_kind::MEMORY, 0)
        }
        TypeRef::Global(ty) => {
            info.globals.push(GlobalInfo {
                ty: ty.content_type,
                mutable: ty.mutable,
                init: None,
            });
            info.num_imported_globals += 1;
            (extern_kind::GLOBAL, info.num_imported_globals - 1)
        }
        TypeRef::Tag(_) => return Err(CompileError::Unsupported("exception-handling".into())),
    };
    info.imports.push(Import {
        module: import.module.to_string(),
        field: import.name.to_string(),
        kind,
        index,
        host: None,
    });
    Ok(())
}

fn read_elem(elem: wasmparser::Element<'_>) -> Result<ElemSegment> {
    let mode = match elem.kind {
        ElementKind::Passive => SegmentMode::Passive,
        ElementKind::Declared => SegmentMode::Declared,
        ElementKind::Active {
            table_index,
            offset_expr,
        } => SegmentMode::Active {
            index: table_index.unwrap_or(0),
            offset: const_expr(&offset_expr)?,
        },
    };
    let mut global_items = Vec::new();
    let (elem_ty, items) = match elem.items {
        ElementItems::Functions(funcs) => {
            let items = funcs
                .into_iter()
                .map(|f| f.map(Some).map_err(malformed))
                .collect::<Result<Vec<_>>>()?;
            (RefType::FUNCREF, items)
        }
        ElementItems::Expressions(ty, exprs) => {
            let mut items = Vec::new();
            for expr in exprs {
                match elem_item(&expr.map_err(malformed)?)? {
                    ElemItem::Func(f) => items.push(f),
                    ElemItem::Global(g) => {
                        global_items.push((items.len() as u32, g));
                        items.push(None);
                    }
                }
            }
            (ty, items)
        }
    };
    // The descriptor lists items as function indices, which the runtime reads whenever
    // `table.init` runs; a global's value can only be written by `init`, at instantiation.
    if !global_items.is_empty() && matches!(mode, SegmentMode::Passive) {
        return Err(CompileError::Unsupported(
            "global.get items in a passive element segment".into(),
        ));
    }
    Ok(ElemSegment {
        mode,
        elem: elem_ty,
        items,
        global_items,
    })
}

/// Names are only for messages: a broken name section is ignored, as the spec requires of
/// custom sections.
fn read_names(info: &mut ModuleInfo, names: wasmparser::NameSectionReader<'_>) {
    for name in names {
        match name {
            Ok(Name::Module { name, .. }) => info.module_name = Some(name.to_string()),
            Ok(Name::Function(map)) => {
                for naming in map.into_iter().flatten() {
                    let index = naming.index as usize;
                    // Indices come from untrusted bytes: only names for real functions count.
                    if index >= info.func_types.len() {
                        continue;
                    }
                    if info.func_names.len() <= index {
                        info.func_names.resize(index + 1, None);
                    }
                    info.func_names[index] = Some(naming.name.to_string());
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
