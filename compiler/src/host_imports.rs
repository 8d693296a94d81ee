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
            info.imports[i].host =
                Some(bind_wali(&import.module, &import.field, &params, &results)?);
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

/// The binding of a `wali` import: a syscall adapter, an auxiliary function, or the `-ENOSYS`
/// stub; an unknown name or a wrong signature is an error naming the import.
fn bind_wali(module: &str, field: &str, params: &[u8], results: &[u8]) -> Result<HostTarget> {
    match wali::bind(field, params, results) {
        Ok(wali::Binding::Aux(symbol)) => Ok(HostTarget::Symbol(symbol)),
        Ok(wali::Binding::Syscall { index, drop_result }) => {
            Ok(HostTarget::WaliSyscall { index, drop_result })
        }
        Ok(wali::Binding::Enosys) => Ok(HostTarget::Enosys),
        Err(wali::BindError::Unknown) => Err(CompileError::UnknownImport {
            module: module.to_string(),
            field: field.to_string(),
        }),
        Err(wali::BindError::Signature { expected }) => Err(CompileError::ImportSignature {
            module: module.to_string(),
            field: field.to_string(),
            expected: describe(expected.0, expected.1),
            found: describe(params, results),
        }),
    }
}

/// For a core module of a multi-module executable (a component's, or the WASI module of a
/// `--wasi-over-wali` build): binds each import that `bindings` names to that host function,
/// with the same signature check as [`resolve`]; the others stay unbound, for the plan to
/// link. Only here do `wali` imports of such a module and the reserved
/// `wafer:wasi-over-wali` channel bind.
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
        if module == wali::MODULE {
            info.imports[i].host = Some(bind_wali(module, name, &params, &results)?);
            continue;
        }
        let host = if module == wafer_abi::wasi_over_wali::CHANNEL_MODULE {
            wafer_abi::wasi_over_wali::channel_func(name).ok_or_else(unknown)?
        } else {
            shaped(module, name, shape.as_ref())?.ok_or_else(unknown)?
        };
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
pub fn describe(params: &[u8], results: &[u8]) -> String {
    let list = |codes: &[u8]| {
        codes
            .iter()
            .map(|c| wafer_abi::valtype::name(*c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}
