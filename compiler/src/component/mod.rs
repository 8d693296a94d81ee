//! WebAssembly components (the component model, as `cargo build --target wasm32-wasip2`,
//! `cargo component` and `wasm-tools component new` produce them): lowered at build time to
//! the core modules inside and a [`Plan`] saying how the runtime instantiates and runs them.
//!
//! [`parse`] reads the component's definitions, [`inline`] evaluates them (inlining nested
//! components). Every core module is then compiled as a driver module would be, except that
//! its imports are bound as the plan says: to a runtime host function, named by the WIT-level
//! interface and function the component's `canon lower` (or `canon resource.drop`) names, or
//! left for the runtime to link to another core instance's export, or bound to an adapter
//! trampoline (module [`wafer_abi::component::ADAPTER_MODULE`]) for a call into a function
//! another component lifted.

mod inline;
mod parse;
mod types;

use wafer_abi::component::Plan;
use wasmparser::{Validator, WasmFeatures};

use crate::error::{CompileError, Result};

/// The host function a core import is bound to: `name` of interface `module` as the component
/// imports it (for example `wasi:io/streams@0.2.6`, `[method]output-stream.write`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostImport {
    pub module: String,
    pub name: String,
    /// Its WIT-level type with names erased, as the component declares it
    /// (`wafer_witgen::shape`), when known: it picks between implementations of one name.
    pub shape: Option<String>,
}

/// A component lowered to core modules.
pub struct Lowered<'a> {
    /// Every core module of the component and its nested components, in binary order; the
    /// plan's module indices are positions here.
    pub modules: Vec<&'a [u8]>,
    /// Per module, per import: the host function it is bound to (`None`: the plan links it).
    pub host_imports: Vec<Vec<Option<HostImport>>>,
    pub plan: Plan,
}

/// Whether `wasm` is a component rather than a core module.
pub fn is_component(wasm: &[u8]) -> bool {
    wasmparser::Parser::is_component(wasm)
}

/// Validates the component and resolves its instance graph.
pub fn lower(wasm: &[u8]) -> Result<Lowered<'_>> {
    let features = crate::features::supported() | WasmFeatures::COMPONENT_MODEL;
    if let Err(e) = Validator::new_with_features(features).validate_all(wasm) {
        // A core module inside that needs a refused proposal says which.
        let parsed = parse::parse(wasm)?;
        for module in &parsed.modules {
            if let Some(names) = crate::features::required_unsupported(module) {
                return Err(CompileError::Unsupported(names));
            }
        }
        return Err(CompileError::Invalid(format!(
            "{} (at byte offset {:#x})",
            e.message(),
            e.offset()
        )));
    }
    let parsed = parse::parse(wasm)?;
    let inlined = inline::Inliner::new(&parsed).run()?;
    let mut host_imports = inlined.host_imports;
    // The component's WIT-level type of each host import picks between implementations of
    // one name (see `wafer_abi::host_func_shaped`).
    let shapes = crate::host_imports::shapes_of(wasm);
    for host in host_imports.iter_mut().flatten().flatten() {
        host.shape = shapes
            .get(&(host.module.clone(), host.name.clone()))
            .cloned();
    }
    // Modules never instantiated bind nothing to the host.
    for (module, hosts) in parsed.modules.iter().zip(host_imports.iter_mut()) {
        if hosts.is_empty() {
            *hosts = vec![None; inline::module_imports(module)?.len()];
        }
    }
    Ok(Lowered {
        modules: parsed.modules,
        host_imports,
        plan: inlined.plan,
    })
}

/// What `wafer inspect` shows of a component, at WIT level.
pub struct Summary {
    /// Each import: its name (`wasi:io/streams@0.2.6`) and, for an instance, its functions.
    pub imports: Vec<(String, Vec<String>)>,
    /// Each export: its name and kind (`instance`, `func`, ...).
    pub exports: Vec<(String, &'static str)>,
    /// Each core module: its size in bytes and its import and export counts.
    pub modules: Vec<(usize, usize, usize)>,
    /// Every host function a core import is bound to, with whether the runtime provides it
    /// with that core signature (`None`: it does not provide the function at all).
    pub host_functions: Vec<(HostImport, Option<bool>)>,
    /// Why the component cannot be built as it is, if it cannot.
    pub refusal: Option<String>,
    /// Each core module that needs what `wafer build` refuses, with what that is
    /// ([`crate::unsupported_features`]).
    pub unsupported: Vec<(usize, String)>,
}

/// Reads a component's WIT-level interface and the bindings `wafer build` would make.
pub fn summarize(wasm: &[u8]) -> Result<Summary> {
    let parsed = parse::parse(wasm)?;
    let mut instance_types: Vec<Option<Vec<(String, bool)>>> = Vec::new();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for def in &parsed.bodies[0] {
        match def {
            parse::Def::Type { instance, .. } => instance_types.push(instance.clone()),
            parse::Def::Alias(wasmparser::ComponentAlias::InstanceExport {
                kind: wasmparser::ComponentExternalKind::Type,
                ..
            })
            | parse::Def::Alias(wasmparser::ComponentAlias::Outer {
                kind: wasmparser::ComponentOuterAliasKind::Type,
                ..
            }) => instance_types.push(None),
            parse::Def::Import(i) => {
                let funcs = match i.ty {
                    wasmparser::ComponentTypeRef::Instance(t) => instance_types
                        .get(t as usize)
                        .cloned()
                        .flatten()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|(_, is_func)| *is_func)
                        .map(|(n, _)| n)
                        .collect(),
                    _ => Vec::new(),
                };
                if let wasmparser::ComponentTypeRef::Type(_) = i.ty {
                    instance_types.push(None);
                }
                imports.push((i.name.name.to_string(), funcs));
            }
            parse::Def::Export(e) => {
                if e.kind == wasmparser::ComponentExternalKind::Type {
                    instance_types.push(None);
                }
                exports.push((e.name.name.to_string(), e.kind.desc()))
            }
            _ => {}
        }
    }
    let mut modules = Vec::new();
    let unsupported = (parsed.modules.iter().enumerate())
        .filter_map(|(i, m)| Some((i, crate::unsupported_features(m)?)))
        .collect();
    for m in &parsed.modules {
        let imports = inline::module_imports(m)?.len();
        let exports = wasmparser::Parser::new(0)
            .parse_all(m)
            .filter_map(|p| match p {
                Ok(wasmparser::Payload::ExportSection(r)) => Some(r.count() as usize),
                _ => None,
            })
            .sum();
        modules.push((m.len(), imports, exports));
    }
    let (host_functions, refusal) = match lower(wasm) {
        Ok(lowered) => {
            let status = host_function_status(&lowered)?;
            let refusal = status.iter().find_map(|(h, st)| match st {
                Some(true) => None,
                Some(false) => Some(format!(
                    "\"{}\" \"{}\" is imported with another signature than the runtime's",
                    h.module, h.name
                )),
                None => Some(format!(
                    "\"{}\" \"{}\" is not provided by the wafer runtime",
                    h.module, h.name
                )),
            });
            (status, refusal)
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(Summary {
        imports,
        exports,
        modules,
        host_functions,
        refusal,
        unsupported,
    })
}

/// Whether the runtime provides each bound host function with the core signature it is
/// imported with.
fn host_function_status(lowered: &Lowered) -> Result<Vec<(HostImport, Option<bool>)>> {
    let mut out: Vec<(HostImport, Option<bool>)> = Vec::new();
    for (module, hosts) in lowered.modules.iter().zip(&lowered.host_imports) {
        let types = crate::module::import_func_signatures(module)?;
        for (host, sig) in hosts.iter().zip(types) {
            let Some(host) = host else { continue };
            if host.module == wafer_abi::component::ADAPTER_MODULE {
                // The inliner checked its core type against the lowering's.
                continue;
            }
            if out.iter().any(|(h, _)| h == host) {
                continue;
            }
            let status = crate::host_imports::shaped(&host.module, &host.name, host.shape.as_ref())
                .ok()
                .flatten()
                .map(|f| sig.is_some_and(|(p, r)| p == f.params && r == f.results));
            out.push((host.clone(), status));
        }
    }
    Ok(out)
}
