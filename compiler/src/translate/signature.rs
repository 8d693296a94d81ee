//! Native signatures of wasm functions and of the runtime's libcalls, shared by the function
//! translator and by the module-level code that emits trampolines and declares symbols.

use cranelift_codegen::ir::{types, AbiParam, ArgumentPurpose, Signature, Type};
use cranelift_codegen::isa::TargetIsa;
use wafer_abi::libcall;
use wasmparser::{FuncType, ValType};

use crate::error::{CompileError, Result};

/// The Cranelift type a wasm value lives in. References are pointer-sized integers (0 is
/// null), as the contract's calling convention says.
pub fn wasm_value_type(pointer_type: Type, ty: ValType) -> Result<Type> {
    match ty {
        ValType::I32 => Ok(types::I32),
        ValType::I64 => Ok(types::I64),
        ValType::F32 => Ok(types::F32),
        ValType::F64 => Ok(types::F64),
        ValType::Ref(_) => Ok(pointer_type),
        ValType::V128 => Err(CompileError::Unsupported("SIMD (v128)".into())),
    }
}

/// `fn(vmctx, params...) -> results` in the target's default C convention.
///
/// Panics only on a `v128` in the type, which validation with SIMD disabled rules out; use
/// [`try_wasm_signature`] where that is not guaranteed.
pub fn wasm_signature(isa: &dyn TargetIsa, ty: &FuncType) -> Signature {
    try_wasm_signature(isa, ty).expect("function types are validated before code generation")
}

/// Like [`wasm_signature`], but reports a `v128` as an unsupported feature.
pub fn try_wasm_signature(isa: &dyn TargetIsa, ty: &FuncType) -> Result<Signature> {
    let pointer_type = isa.pointer_type();
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params
        .push(AbiParam::special(pointer_type, ArgumentPurpose::VMContext));
    for &param in ty.params() {
        sig.params
            .push(AbiParam::new(wasm_value_type(pointer_type, param)?));
    }
    for &result in ty.results() {
        sig.returns
            .push(AbiParam::new(wasm_value_type(pointer_type, result)?));
    }
    Ok(sig)
}

/// The native signature of a runtime libcall, exactly as `wafer_abi::libcall` documents it:
/// `vmctx` first, `u32` operands as `i32`, table values (`usize`) as the pointer type.
///
/// Panics on a symbol that is not one of [`wafer_abi::libcall::ALL`]: that is a bug in the compiler, not
/// something input can cause.
pub fn libcall_signature(isa: &dyn TargetIsa, symbol: &str) -> Signature {
    let ptr = isa.pointer_type();
    let i32 = types::I32;
    let i64 = types::I64;
    let (params, returns): (&[Type], &[Type]) = match symbol {
        libcall::MEMORY_GROW => (&[i32], &[i32]),
        libcall::MEMORY_FILL | libcall::MEMORY_COPY => (&[i32, i32, i32], &[]),
        libcall::MEMORY_INIT => (&[i32, i32, i32, i32], &[]),
        libcall::DATA_DROP | libcall::ELEM_DROP => (&[i32], &[]),
        libcall::TABLE_GET => (&[i32, i32], &[ptr]),
        libcall::TABLE_SET => (&[i32, i32, ptr], &[]),
        libcall::TABLE_GROW => (&[i32, ptr, i32], &[i32]),
        libcall::TABLE_FILL => (&[i32, i32, ptr, i32], &[]),
        libcall::TABLE_COPY | libcall::TABLE_INIT => (&[i32, i32, i32, i32, i32], &[]),
        libcall::MEMORY_ATOMIC_WAIT32 => (&[i64, i32, i64], &[i32]),
        libcall::MEMORY_ATOMIC_WAIT64 => (&[i64, i64, i64], &[i32]),
        libcall::MEMORY_ATOMIC_NOTIFY => (&[i64, i32], &[i32]),
        libcall::WALI_DELIVER_SIGNALS => (&[], &[]),
        other => panic!("`{other}` is not a wafer libcall"),
    };
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(ptr));
    sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    sig.returns
        .extend(returns.iter().map(|&t| AbiParam::new(t)));
    sig
}
