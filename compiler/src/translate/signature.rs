//! Native signatures of wasm functions and of the runtime's libcalls, shared by the function
//! translator and by the module-level code that emits trampolines and declares symbols.

use cranelift_codegen::ir::{types, AbiParam, ArgumentPurpose, Signature, Type};
use cranelift_codegen::isa::TargetIsa;
use wafer_abi::libcall;
use wasmparser::{FuncType, ValType};

/// The Cranelift types wasm values live in on one target. References are pointer-sized
/// integers (0 is null), as the contract's calling convention says; a `v128` is a vector
/// register where the target has them and an `i128` pair of integer registers where it does
/// not (see [`super::simd::v128_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrTypes {
    pub pointer: Type,
    pub v128: Type,
}

impl IrTypes {
    pub fn of(isa: &dyn TargetIsa) -> IrTypes {
        IrTypes {
            pointer: isa.pointer_type(),
            v128: super::simd::v128_type(isa),
        }
    }
}

/// The Cranelift type a wasm value of type `ty` lives in.
pub fn wasm_value_type(ir: IrTypes, ty: ValType) -> Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::Ref(_) => ir.pointer,
        ValType::V128 => ir.v128,
    }
}

/// `fn(vmctx, params...) -> results` in the target's default C convention.
pub fn wasm_signature(isa: &dyn TargetIsa, ty: &FuncType) -> Signature {
    wasm_signature_with(isa, IrTypes::of(isa), ty)
}

/// [`wasm_signature`] with wasm values in the types `ir` (the translator takes them from
/// the module's `ModuleInfo`, which tests may point at the other SIMD lowering).
pub fn wasm_signature_with(isa: &dyn TargetIsa, ir: IrTypes, ty: &FuncType) -> Signature {
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params
        .push(AbiParam::special(ir.pointer, ArgumentPurpose::VMContext));
    for &param in ty.params() {
        sig.params.push(AbiParam::new(wasm_value_type(ir, param)));
    }
    for &result in ty.results() {
        sig.returns.push(AbiParam::new(wasm_value_type(ir, result)));
    }
    sig
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
