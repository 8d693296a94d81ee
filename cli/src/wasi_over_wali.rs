//! `wafer build --wasi-over-wali`: a preview1 app linked with wafer's WASI module
//! (`rt/wasi-wali`, compiled to wasm when wafer is built), which implements preview1 over WALI.
//!
//! The executable holds two core modules and a plan (`wafer_abi::component::Plan`): the WASI
//! module is instantiated first, its `wali` imports bound to the runtime's syscall layer and
//! its channel imports to the runtime's channel; the app second, each `wasi_snapshot_preview1`
//! import bound to the WASI module's export of that name. The app's `_start` then runs. The
//! runtime's native WASI host functions are referenced by nothing and not linked.

use anyhow::{bail, Result};
use wafer_abi::component::{Binding, CoreInstance, Plan, RunExport, RunKind};
use wafer_compiler::component::HostImport;
use wasmparser::{Parser, Payload, TypeRef};

/// wafer's WASI module, as `cli/build.rs` compiled it.
pub const WASI_MODULE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasi-wali.wasm"));

/// A module's imports: (module, name, kind, function signature codes for functions).
type Imports = Vec<(String, String, TypeRef, Option<(Vec<u8>, Vec<u8>)>)>;

/// The two modules' host bindings and the plan that links them.
pub struct Linked {
    pub host_imports: [Vec<Option<HostImport>>; 2],
    pub plan: Plan,
}

/// Binds the app's preview1 imports to the WASI module, refusing what this mode cannot run.
pub fn link(app: &[u8]) -> Result<Linked> {
    let (wasi_imports, wasi_exports) = imports_and_exports(WASI_MODULE)?;
    let (app_imports, app_exports) = imports_and_exports(app)?;
    if !app_exports.iter().any(|e| e == "_start") {
        bail!("--wasi-over-wali builds a preview1 command, and the module exports no _start");
    }
    let mut host = Vec::new();
    let mut bindings = Vec::new();
    for (module, name, ty, sig) in &app_imports {
        if module == wafer_abi::WASI_P1 {
            let Some(f) = wafer_abi::host_func(module, name) else {
                bail!("unknown import {module}.{name}: preview1 has no such function");
            };
            match sig {
                Some((p, r)) if p == f.params && r == f.results => {}
                _ => bail!(
                    "import {module}.{name} has another signature than preview1's {}",
                    wafer_compiler::describe_signature(f.params, f.results)
                ),
            }
            if !wasi_exports.iter().any(|e| e == name) {
                bail!("wafer's WASI module lacks {name}, which the app imports");
            }
            host.push(None);
            bindings.push(Binding::Export {
                instance: 0,
                name: name.clone(),
            });
            continue;
        }
        if module == wafer_abi::wali::MODULE {
            bail!(
                "the module imports {module}.{name}: --wasi-over-wali links a preview1 app, and \
                 this one makes WALI syscalls itself (build it without the flag)"
            );
        }
        if module == wafer_abi::WASI_THREADS
            || (module.as_str(), name.as_str()) == wafer_abi::DRIVER_MEMORY_IMPORT
        {
            bail!(
                "the module imports {module}.{name}: --wasi-over-wali does not run \
                 wasi-threads programs (build it without the flag)"
            );
        }
        if module == wafer_abi::wasi_over_wali::CHANNEL_MODULE || !matches!(ty, TypeRef::Func(_)) {
            bail!("unknown import {module}.{name}: the runtime provides no such import");
        }
        // Other host interfaces (I2C, USB) stay the runtime's, as for any driver.
        host.push(Some(HostImport {
            module: module.clone(),
            name: name.clone(),
            shape: None,
        }));
        bindings.push(Binding::Host { context: None });
    }
    let wasi_host: Vec<Option<HostImport>> = wasi_imports
        .iter()
        .map(|(module, name, _, _)| {
            Some(HostImport {
                module: module.clone(),
                name: name.clone(),
                shape: None,
            })
        })
        .collect();
    let plan = Plan {
        instances: vec![
            CoreInstance {
                module: 0,
                imports: vec![Binding::Host { context: None }; wasi_host.len()],
            },
            CoreInstance {
                module: 1,
                imports: bindings,
            },
        ],
        run: RunExport {
            instance: 1,
            name: "_start".to_string(),
            post_return: None,
            kind: RunKind::Start,
        },
        adapters: Vec::new(),
        channel_client: Some(1),
    };
    Ok(Linked {
        host_imports: [wasi_host, host],
        plan,
    })
}

fn imports_and_exports(wasm: &[u8]) -> Result<(Imports, Vec<String>)> {
    let mut types: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| anyhow::anyhow!("malformed wasm: {e}"))? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| anyhow::anyhow!("malformed wasm: {e}"))?;
                    types.push(crate::inspect::type_codes(&ty));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| anyhow::anyhow!("malformed wasm: {e}"))?;
                    let sig = match import.ty {
                        TypeRef::Func(i) => types.get(i as usize).cloned(),
                        _ => None,
                    };
                    imports.push((
                        import.module.to_string(),
                        import.name.to_string(),
                        import.ty,
                        sig,
                    ));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| anyhow::anyhow!("malformed wasm: {e}"))?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.push(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}
