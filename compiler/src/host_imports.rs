//! Binding imports to the runtime's host functions at build time, so that an import the
//! runtime cannot satisfy is a `wafer build` error naming it rather than a failure at run time.

use crate::component::HostImport;
use crate::error::{CompileError, Result};
use crate::module::valtype_byte;
use crate::module_info::{HostTarget, ModuleInfo};
use wafer_abi::{extern_kind, wali, DRIVER_MEMORY_IMPORT};
use wasmparser::FuncType;

/// Sets `host_symbol` on every import, or refuses the module naming the first import the
/// runtime does not provide (with the right signature).
pub fn resolve(info: &mut ModuleInfo, shapes: &Shapes) -> Result<()> {
    for i in 0..info.imports.len() {
        let import = &info.imports[i];
        let unknown = || CompileError::UnknownImport {
            module: import.module.clone(),
            field: import.field.clone(),
        };
        if import.kind == extern_kind::MEMORY
            && (import.module.as_str(), import.field.as_str()) == DRIVER_MEMORY_IMPORT
        {
            // The runtime creates it with the declared limits (wasi-threads modules).
            continue;
        }
        if import.kind != extern_kind::FUNC {
            return Err(unknown());
        }
        let ty = info.func_type(import.index);
        let (params, results) = signature_codes(ty)?;
        if import.module == wali::MODULE {
            let target = match wali::bind(&import.field, &params, &results) {
                Ok(wali::Binding::Aux(symbol)) => HostTarget::Symbol(symbol),
                Ok(wali::Binding::Syscall { index, drop_result }) => {
                    HostTarget::WaliSyscall { index, drop_result }
                }
                Ok(wali::Binding::Enosys) => HostTarget::Enosys,
                Err(wali::BindError::Unknown) => return Err(unknown()),
                Err(wali::BindError::Signature { expected }) => {
                    return Err(CompileError::ImportSignature {
                        module: import.module.clone(),
                        field: import.field.clone(),
                        expected: describe(expected.0, expected.1),
                        found: describe(&params, &results),
                    })
                }
            };
            info.imports[i].host = Some(target);
            continue;
        }
        let shape = shapes.get(&(import.module.clone(), import.field.clone()));
        let host = shaped(&import.module, &import.field, shape)?.ok_or_else(unknown)?;
        if params != host.params || results != host.results {
            return Err(CompileError::ImportSignature {
                module: import.module.clone(),
                field: import.field.clone(),
                expected: describe(host.params, host.results),
                found: describe(&params, &results),
            });
        }
        info.imports[i].host = Some(HostTarget::Symbol(host.symbol.to_string()));
    }
    Ok(())
}

/// For a core module of a component: binds each import that `bindings` names to that host
/// function, with the same signature check as [`resolve`]; the others stay unbound, for the
/// component plan to link.
pub fn resolve_given(info: &mut ModuleInfo, bindings: &[Option<HostImport>]) -> Result<()> {
    if bindings.len() != info.imports.len() {
        return Err(CompileError::Invalid(format!(
            "the component binds {} imports of a core module that has {}",
            bindings.len(),
            info.imports.len()
        )));
    }
    for (i, binding) in bindings.iter().enumerate() {
        let Some(HostImport {
            module,
            name,
            shape,
        }) = binding
        else {
            continue;
        };
        let unknown = || CompileError::UnknownImport {
            module: module.clone(),
            field: name.clone(),
        };
        let import = &info.imports[i];
        if import.kind != extern_kind::FUNC {
            return Err(unknown());
        }
        if module == wafer_abi::component::ADAPTER_MODULE {
            // A call into another component: the entry object's trampoline, whose core type
            // the component's inliner checked against the lowering's.
            let index: u32 = name.parse().map_err(|_| unknown())?;
            let symbol = wafer_abi::component::adapter_symbol(index);
            info.imports[i].host = Some(HostTarget::Symbol(symbol));
            continue;
        }
        let (params, results) = signature_codes(info.func_type(import.index))?;
        let host = shaped(module, name, shape.as_ref())?.ok_or_else(unknown)?;
        if params != host.params || results != host.results {
            return Err(CompileError::ImportSignature {
                module: module.clone(),
                field: name.clone(),
                expected: describe(host.params, host.results),
                found: describe(&params, &results),
            });
        }
        info.imports[i].host = Some(HostTarget::Symbol(host.symbol.to_string()));
    }
    Ok(())
}

/// The WIT-level types a guest declares for its imports (`wafer_witgen::guest_shapes`), by
/// (module, name).
pub type Shapes = std::collections::HashMap<(String, String), String>;

/// The shapes a wasm binary's embedded WIT declares.
pub fn shapes_of(wasm: &[u8]) -> Shapes {
    wafer_witgen::guest_shapes(wasm).into_iter().collect()
}

/// The host function for an import, chosen by the guest's shape of it where the runtime
/// implements more than one type under that name.
pub fn shaped(
    module: &str,
    name: &str,
    shape: Option<&String>,
) -> Result<Option<&'static wafer_abi::HostFunc>> {
    wafer_abi::host_func_shaped(module, name, shape.map(String::as_str)).map_err(|_| {
        let ours: Vec<&str> = wafer_abi::host_funcs_for(module, name)
            .map(|f| f.shape)
            .collect();
        CompileError::ImportSignature {
            module: module.to_string(),
            field: name.to_string(),
            expected: ours.join(" or "),
            found: shape.cloned().unwrap_or_default(),
        }
    })
}

pub fn signature_codes(ty: &FuncType) -> Result<(Vec<u8>, Vec<u8>)> {
    let params = ty
        .params()
        .iter()
        .map(|t| valtype_byte(*t))
        .collect::<Result<_>>()?;
    let results = ty
        .results()
        .iter()
        .map(|t| valtype_byte(*t))
        .collect::<Result<_>>()?;
    Ok((params, results))
}

/// `(i32, i64) -> (i32)`, the way the error message shows a signature.
fn describe(params: &[u8], results: &[u8]) -> String {
    let list = |codes: &[u8]| {
        codes
            .iter()
            .map(|c| wafer_abi::valtype::name(*c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}
