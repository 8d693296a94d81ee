//! Reads a component, and every component nested in it, into the list of its definitions in
//! binary order (which is what its index spaces are built from). Core modules are kept as
//! their bytes; nothing here interprets what the definitions mean.

use wasmparser::{
    CanonicalFunction, ComponentAlias, ComponentExport, ComponentImport, ComponentInstance,
    ComponentType, ComponentTypeRef, Instance, InstanceTypeDeclaration, Parser, Payload,
};

use crate::error::{CompileError, Result};

/// One definition of a component body, in binary order.
pub enum Def<'a> {
    /// A core module: index into [`Parsed::modules`].
    Module(usize),
    /// A nested component: index into [`Parsed::bodies`].
    Component(usize),
    CoreInstance(Instance<'a>),
    /// A core type (its index space only matters for counting).
    CoreType,
    Instance(ComponentInstance<'a>),
    Alias(ComponentAlias<'a>),
    /// A component type: for an instance type the names of its function and type exports,
    /// and the type itself.
    Type {
        instance: Option<Vec<(String, bool)>>,
        ty: Box<ComponentType<'a>>,
    },
    Canon(CanonicalFunction),
    Import(ComponentImport<'a>),
    Export(ComponentExport<'a>),
    Start,
}

/// Every component body (the outermost is body 0) and every core module, in the order they
/// appear in the binary.
pub struct Parsed<'a> {
    pub bodies: Vec<Vec<Def<'a>>>,
    pub modules: Vec<&'a [u8]>,
}

pub fn parse(wasm: &[u8]) -> Result<Parsed<'_>> {
    let mut parsed = Parsed {
        bodies: Vec::new(),
        modules: Vec::new(),
    };
    parse_body(wasm, 0, &mut parsed)?;
    Ok(parsed)
}

fn malformed(e: wasmparser::BinaryReaderError) -> CompileError {
    CompileError::Malformed(format!(
        "{} (at byte offset {:#x})",
        e.message(),
        e.offset()
    ))
}

/// The bytes of a nested module or component: its section's declared size is not checked
/// against the data until it is parsed, so a truncated binary can claim more than there is.
fn nested(bytes: &[u8], offset: u64, range: std::ops::Range<u64>) -> Result<&[u8]> {
    let start = range.start.checked_sub(offset).map(|s| s as usize);
    let end = range.end.checked_sub(offset).map(|e| e as usize);
    start
        .zip(end)
        .and_then(|(start, end)| bytes.get(start..end))
        .ok_or_else(|| {
            CompileError::Malformed(format!(
                "a nested module or component at byte offset {:#x} runs past the end of its section",
                range.start
            ))
        })
}

/// Parses the component in `bytes` (which start at `offset` of the whole binary) as a new
/// body; returns its index.
fn parse_body<'a>(bytes: &'a [u8], offset: u64, parsed: &mut Parsed<'a>) -> Result<usize> {
    let index = parsed.bodies.len();
    parsed.bodies.push(Vec::new());
    let mut defs = Vec::new();
    // parse_all reports the payloads of nested modules and components too; those are taken
    // whole from their ranges and their inner payloads skipped.
    let mut skip_depth = 0usize;
    for payload in Parser::new(offset).parse_all(bytes) {
        let payload = payload.map_err(malformed)?;
        if skip_depth > 0 {
            match payload {
                Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => skip_depth += 1,
                Payload::End(_) => skip_depth -= 1,
                _ => {}
            }
            continue;
        }
        match payload {
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                parsed.modules.push(nested(bytes, offset, unchecked_range)?);
                defs.push(Def::Module(parsed.modules.len() - 1));
                skip_depth = 1;
            }
            Payload::ComponentSection {
                unchecked_range, ..
            } => {
                let inner = nested(bytes, offset, unchecked_range.clone())?;
                let body = parse_body(inner, unchecked_range.start, parsed)?;
                defs.push(Def::Component(body));
                skip_depth = 1;
            }
            Payload::InstanceSection(r) => {
                for i in r {
                    defs.push(Def::CoreInstance(i.map_err(malformed)?));
                }
            }
            Payload::CoreTypeSection(r) => {
                for t in r {
                    t.map_err(malformed)?;
                    defs.push(Def::CoreType);
                }
            }
            Payload::ComponentInstanceSection(r) => {
                for i in r {
                    defs.push(Def::Instance(i.map_err(malformed)?));
                }
            }
            Payload::ComponentAliasSection(r) => {
                for a in r {
                    defs.push(Def::Alias(a.map_err(malformed)?));
                }
            }
            Payload::ComponentTypeSection(r) => {
                for t in r {
                    let t = t.map_err(malformed)?;
                    let instance = match &t {
                        ComponentType::Instance(decls) => Some(
                            decls
                                .iter()
                                .filter_map(|d| match d {
                                    InstanceTypeDeclaration::Export { name, ty } => Some((
                                        name.name.to_string(),
                                        matches!(ty, ComponentTypeRef::Func(_)),
                                    )),
                                    _ => None,
                                })
                                .collect(),
                        ),
                        _ => None,
                    };
                    defs.push(Def::Type {
                        instance,
                        ty: Box::new(t),
                    });
                }
            }
            Payload::ComponentCanonicalSection(r) => {
                for c in r {
                    defs.push(Def::Canon(c.map_err(malformed)?));
                }
            }
            Payload::ComponentImportSection(r) => {
                for i in r {
                    defs.push(Def::Import(i.map_err(malformed)?));
                }
            }
            Payload::ComponentExportSection(r) => {
                for e in r {
                    defs.push(Def::Export(e.map_err(malformed)?));
                }
            }
            Payload::ComponentStartSection { .. } => defs.push(Def::Start),
            _ => {}
        }
    }
    parsed.bodies[index] = defs;
    Ok(index)
}
