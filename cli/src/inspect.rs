//! `wafer inspect`: what a module imports (and whether wafer provides it), exports and declares.

use anyhow::{Context, Result};
use std::fmt::Write;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// A human-readable report of a module's interface.
pub fn describe(wasm: &[u8]) -> Result<String> {
    let mut types = Vec::new();
    let mut out = String::new();
    let (mut imports, mut exports, mut memories, mut tables) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut missing = 0;
    let mut defined_funcs = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("malformed wasm")? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.context("malformed type section")?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("malformed import section")?;
                    let (what, provided) = match import.ty {
                        TypeRef::Func(t) => {
                            let sig = types
                                .get(t as usize)
                                .map(|ty: &wasmparser::FuncType| ty.to_string())
                                .unwrap_or_default();
                            (
                                format!("func {sig}"),
                                host_status(import.module, import.name, types.get(t as usize)),
                            )
                        }
                        TypeRef::Memory(m) => (
                            format!("memory {}", limits(m.initial, m.maximum)),
                            "not provided",
                        ),
                        TypeRef::Table(t) => (
                            format!("table {}", limits(t.initial, t.maximum)),
                            "not provided",
                        ),
                        TypeRef::Global(g) => {
                            (format!("global {}", g.content_type), "not provided")
                        }
                        _ => ("tag".into(), "not provided"),
                    };
                    if provided != "provided" {
                        missing += 1;
                    }
                    imports.push(format!(
                        "  {}::{}  {what}  [{provided}]",
                        import.module, import.name
                    ));
                }
            }
            Payload::FunctionSection(reader) => defined_funcs = reader.count(),
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.context("malformed memory section")?;
                    memories.push(format!(
                        "  memory {} pages (64 KiB each)",
                        limits(m.initial, m.maximum)
                    ));
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t.context("malformed table section")?;
                    tables.push(format!(
                        "  table {} {}",
                        t.ty.element_type,
                        limits(t.ty.initial, t.ty.maximum)
                    ));
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.context("malformed export section")?;
                    let kind = match e.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => "func",
                        ExternalKind::Table => "table",
                        ExternalKind::Memory => "memory",
                        ExternalKind::Global => "global",
                        ExternalKind::Tag => "tag",
                    };
                    exports.push(format!("  {kind} {}", e.name));
                }
            }
            _ => {}
        }
    }
    let section = |out: &mut String, title: &str, lines: &[String]| {
        let _ = writeln!(out, "{title} ({}):", lines.len());
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    };
    section(&mut out, "imports", &imports);
    let _ = writeln!(
        out,
        "  {}",
        if missing == 0 {
            "every import is provided by wafer".to_string()
        } else {
            format!(
                "{missing} import(s) not provided by wafer: `wafer build` will refuse this module"
            )
        }
    );
    section(&mut out, "exports", &exports);
    section(&mut out, "memories", &memories);
    section(&mut out, "tables", &tables);
    let _ = writeln!(
        out,
        "functions: {defined_funcs} defined, {} imported",
        imports.len()
    );
    Ok(out)
}

fn host_status(module: &str, name: &str, ty: Option<&wasmparser::FuncType>) -> &'static str {
    let Some(host) = wafer_abi::host_func(module, name) else {
        return "not provided";
    };
    let Some(ty) = ty else { return "not provided" };
    let code = |v: &wasmparser::ValType| match v {
        wasmparser::ValType::I32 => wafer_abi::valtype::I32,
        wasmparser::ValType::I64 => wafer_abi::valtype::I64,
        wasmparser::ValType::F32 => wafer_abi::valtype::F32,
        wasmparser::ValType::F64 => wafer_abi::valtype::F64,
        _ => u8::MAX,
    };
    let params: Vec<u8> = ty.params().iter().map(code).collect();
    let results: Vec<u8> = ty.results().iter().map(code).collect();
    if params == host.params && results == host.results {
        "provided"
    } else {
        "provided with another signature"
    }
}

fn limits<T: std::fmt::Display>(initial: T, maximum: Option<T>) -> String {
    match maximum {
        Some(max) => format!("{initial}..{max}"),
        None => format!("{initial}.."),
    }
}
