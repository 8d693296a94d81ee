//! Constant expressions (global initializers, segment offsets), evaluated by the module's
//! instantiation-time `init` function.

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::vmctx;
use crate::module_info::{ConstOp, ModuleInfo};

/// Emits code computing `ops` at the builder's current position and returns the result.
///
/// `ops` comes from a validated module, so it is a well-typed sequence leaving exactly one
/// value; anything else is a bug upstream and panics.
pub fn translate_const_expr(
    builder: &mut FunctionBuilder,
    info: &ModuleInfo,
    vmctx: Value,
    ops: &[ConstOp],
) -> Value {
    let mut stack: Vec<Value> = Vec::with_capacity(2);
    for op in ops {
        let value = match *op {
            ConstOp::I32Const(v) => builder.ins().iconst(types::I32, i64::from(v)),
            ConstOp::I64Const(v) => builder.ins().iconst(types::I64, v),
            ConstOp::F32Const(bits) => builder.ins().f32const(f32::from_bits(bits)),
            ConstOp::F64Const(bits) => builder.ins().f64const(f64::from_bits(bits)),
            ConstOp::V128Const(bits) => super::simd::v128_const(builder, info.v128_type, bits),
            ConstOp::GlobalGet(index) => vmctx::load_global(builder, info, vmctx, index, true)
                .expect("constant expressions are validated"),
            ConstOp::RefNull => builder.ins().iconst(info.pointer_type, 0),
            ConstOp::RefFunc(index) => vmctx::func_ref_address(builder, info, vmctx, index),
            ConstOp::I32Add | ConstOp::I64Add => {
                let (a, b) = pop2(&mut stack);
                builder.ins().iadd(a, b)
            }
            ConstOp::I32Sub | ConstOp::I64Sub => {
                let (a, b) = pop2(&mut stack);
                builder.ins().isub(a, b)
            }
            ConstOp::I32Mul | ConstOp::I64Mul => {
                let (a, b) = pop2(&mut stack);
                builder.ins().imul(a, b)
            }
        };
        stack.push(value);
    }
    assert_eq!(
        stack.len(),
        1,
        "a constant expression leaves exactly one value"
    );
    stack[0]
}

fn pop2(stack: &mut Vec<Value>) -> (Value, Value) {
    let b = stack.pop().expect("validated constant expression");
    let a = stack.pop().expect("validated constant expression");
    (a, b)
}
