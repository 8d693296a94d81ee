//! Numeric operators: constants, integer and float arithmetic, comparisons and conversions.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use wafer_abi::TrapKind;
use wasmparser::Operator;

use super::{trap_code, FuncTranslator};
use crate::error::Result;

/// Returns false for operators that are not numeric.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    use Operator as O;
    match *op {
        O::I32Const { value } => {
            let v = t.builder.ins().iconst(types::I32, i64::from(value));
            t.push(v);
        }
        O::I64Const { value } => {
            let v = t.builder.ins().iconst(types::I64, value);
            t.push(v);
        }
        O::F32Const { value } => {
            let v = t.builder.ins().f32const(f32::from_bits(value.bits()));
            t.push(v);
        }
        O::F64Const { value } => {
            let v = t.builder.ins().f64const(f64::from_bits(value.bits()));
            t.push(v);
        }

        O::I32Eqz | O::I64Eqz => {
            let x = t.pop()?;
            let c = t.builder.ins().icmp_imm_u(IntCC::Equal, x, 0);
            push_bool(t, c);
        }
        O::I32Eq | O::I64Eq => icmp(t, IntCC::Equal)?,
        O::I32Ne | O::I64Ne => icmp(t, IntCC::NotEqual)?,
        O::I32LtS | O::I64LtS => icmp(t, IntCC::SignedLessThan)?,
        O::I32LtU | O::I64LtU => icmp(t, IntCC::UnsignedLessThan)?,
        O::I32GtS | O::I64GtS => icmp(t, IntCC::SignedGreaterThan)?,
        O::I32GtU | O::I64GtU => icmp(t, IntCC::UnsignedGreaterThan)?,
        O::I32LeS | O::I64LeS => icmp(t, IntCC::SignedLessThanOrEqual)?,
        O::I32LeU | O::I64LeU => icmp(t, IntCC::UnsignedLessThanOrEqual)?,
        O::I32GeS | O::I64GeS => icmp(t, IntCC::SignedGreaterThanOrEqual)?,
        O::I32GeU | O::I64GeU => icmp(t, IntCC::UnsignedGreaterThanOrEqual)?,

        O::F32Eq | O::F64Eq => fcmp(t, FloatCC::Equal)?,
        O::F32Ne | O::F64Ne => fcmp(t, FloatCC::NotEqual)?,
        O::F32Lt | O::F64Lt => fcmp(t, FloatCC::LessThan)?,
        O::F32Gt | O::F64Gt => fcmp(t, FloatCC::GreaterThan)?,
        O::F32Le | O::F64Le => fcmp(t, FloatCC::LessThanOrEqual)?,
        O::F32Ge | O::F64Ge => fcmp(t, FloatCC::GreaterThanOrEqual)?,

        O::I32Clz | O::I64Clz => unary(t, |b, x| b.ins().clz(x))?,
        O::I32Ctz | O::I64Ctz => unary(t, |b, x| b.ins().ctz(x))?,
        O::I32Popcnt | O::I64Popcnt => unary(t, |b, x| b.ins().popcnt(x))?,
        O::I32Add | O::I64Add => binary(t, |b, x, y| b.ins().iadd(x, y))?,
        O::I32Sub | O::I64Sub => binary(t, |b, x, y| b.ins().isub(x, y))?,
        O::I32Mul | O::I64Mul => binary(t, |b, x, y| b.ins().imul(x, y))?,
        O::I32DivS | O::I64DivS => div_s(t)?,
        O::I32DivU | O::I64DivU => {
            let (x, y) = pop_nonzero_divisor(t)?;
            let v = t.builder.ins().udiv(x, y);
            t.push(v);
        }
        O::I32RemS | O::I64RemS => rem_s(t)?,
        O::I32RemU | O::I64RemU => {
            let (x, y) = pop_nonzero_divisor(t)?;
            let v = t.builder.ins().urem(x, y);
            t.push(v);
        }
        // Cranelift's shifts and rotates take the count modulo the type width, like wasm.
        O::I32And | O::I64And => binary(t, |b, x, y| b.ins().band(x, y))?,
        O::I32Or | O::I64Or => binary(t, |b, x, y| b.ins().bor(x, y))?,
        O::I32Xor | O::I64Xor => binary(t, |b, x, y| b.ins().bxor(x, y))?,
        O::I32Shl | O::I64Shl => binary(t, |b, x, y| b.ins().ishl(x, y))?,
        O::I32ShrS | O::I64ShrS => binary(t, |b, x, y| b.ins().sshr(x, y))?,
        O::I32ShrU | O::I64ShrU => binary(t, |b, x, y| b.ins().ushr(x, y))?,
        O::I32Rotl | O::I64Rotl => binary(t, |b, x, y| b.ins().rotl(x, y))?,
        O::I32Rotr | O::I64Rotr => binary(t, |b, x, y| b.ins().rotr(x, y))?,

        O::F32Abs | O::F64Abs => unary(t, |b, x| b.ins().fabs(x))?,
        O::F32Neg | O::F64Neg => unary(t, |b, x| b.ins().fneg(x))?,
        O::F32Ceil | O::F64Ceil => unary(t, |b, x| b.ins().ceil(x))?,
        O::F32Floor | O::F64Floor => unary(t, |b, x| b.ins().floor(x))?,
        O::F32Trunc | O::F64Trunc => unary(t, |b, x| b.ins().trunc(x))?,
        O::F32Nearest | O::F64Nearest => unary(t, |b, x| b.ins().nearest(x))?,
        O::F32Sqrt | O::F64Sqrt => unary(t, |b, x| b.ins().sqrt(x))?,
        O::F32Add | O::F64Add => binary(t, |b, x, y| b.ins().fadd(x, y))?,
        O::F32Sub | O::F64Sub => binary(t, |b, x, y| b.ins().fsub(x, y))?,
        O::F32Mul | O::F64Mul => binary(t, |b, x, y| b.ins().fmul(x, y))?,
        O::F32Div | O::F64Div => binary(t, |b, x, y| b.ins().fdiv(x, y))?,
        // Cranelift's fmin/fmax already follow wasm: NaN in, NaN out; -0 < +0.
        O::F32Min | O::F64Min => binary(t, |b, x, y| b.ins().fmin(x, y))?,
        O::F32Max | O::F64Max => binary(t, |b, x, y| b.ins().fmax(x, y))?,
        O::F32Copysign | O::F64Copysign => binary(t, |b, x, y| b.ins().fcopysign(x, y))?,

        O::I32WrapI64 => unary(t, |b, x| b.ins().ireduce(types::I32, x))?,
        O::I64ExtendI32S => unary(t, |b, x| b.ins().sextend(types::I64, x))?,
        O::I64ExtendI32U => unary(t, |b, x| b.ins().uextend(types::I64, x))?,
        O::I32Extend8S => extend_from(t, types::I8, types::I32)?,
        O::I32Extend16S => extend_from(t, types::I16, types::I32)?,
        O::I64Extend8S => extend_from(t, types::I8, types::I64)?,
        O::I64Extend16S => extend_from(t, types::I16, types::I64)?,
        O::I64Extend32S => extend_from(t, types::I32, types::I64)?,

        // fcvt_to_{s,u}int trap on NaN and on out-of-range values with Cranelift's own codes,
        // which the object writer maps to BadConversionToInteger / IntegerOverflow.
        O::I32TruncF32S | O::I32TruncF64S => unary(t, |b, x| b.ins().fcvt_to_sint(types::I32, x))?,
        O::I32TruncF32U | O::I32TruncF64U => unary(t, |b, x| b.ins().fcvt_to_uint(types::I32, x))?,
        O::I64TruncF32S | O::I64TruncF64S => unary(t, |b, x| b.ins().fcvt_to_sint(types::I64, x))?,
        O::I64TruncF32U | O::I64TruncF64U => unary(t, |b, x| b.ins().fcvt_to_uint(types::I64, x))?,
        O::I32TruncSatF32S | O::I32TruncSatF64S => {
            unary(t, |b, x| b.ins().fcvt_to_sint_sat(types::I32, x))?
        }
        O::I32TruncSatF32U | O::I32TruncSatF64U => {
            unary(t, |b, x| b.ins().fcvt_to_uint_sat(types::I32, x))?
        }
        O::I64TruncSatF32S | O::I64TruncSatF64S => {
            unary(t, |b, x| b.ins().fcvt_to_sint_sat(types::I64, x))?
        }
        O::I64TruncSatF32U | O::I64TruncSatF64U => {
            unary(t, |b, x| b.ins().fcvt_to_uint_sat(types::I64, x))?
        }
        O::F32ConvertI32S | O::F32ConvertI64S => {
            unary(t, |b, x| b.ins().fcvt_from_sint(types::F32, x))?
        }
        O::F32ConvertI32U | O::F32ConvertI64U => {
            unary(t, |b, x| b.ins().fcvt_from_uint(types::F32, x))?
        }
        O::F64ConvertI32S | O::F64ConvertI64S => {
            unary(t, |b, x| b.ins().fcvt_from_sint(types::F64, x))?
        }
        O::F64ConvertI32U | O::F64ConvertI64U => {
            unary(t, |b, x| b.ins().fcvt_from_uint(types::F64, x))?
        }
        O::F32DemoteF64 => unary(t, |b, x| b.ins().fdemote(types::F32, x))?,
        O::F64PromoteF32 => unary(t, |b, x| b.ins().fpromote(types::F64, x))?,
        O::I32ReinterpretF32 => reinterpret(t, types::I32)?,
        O::I64ReinterpretF64 => reinterpret(t, types::I64)?,
        O::F32ReinterpretI32 => reinterpret(t, types::F32)?,
        O::F64ReinterpretI64 => reinterpret(t, types::F64)?,
        _ => return Ok(false),
    }
    Ok(true)
}

type Builder<'b, 'a> = &'b mut cranelift_frontend::FunctionBuilder<'a>;

fn unary(t: &mut FuncTranslator, f: impl FnOnce(Builder, Value) -> Value) -> Result<()> {
    let x = t.pop()?;
    let v = f(&mut t.builder, x);
    t.push(v);
    Ok(())
}

fn binary(t: &mut FuncTranslator, f: impl FnOnce(Builder, Value, Value) -> Value) -> Result<()> {
    let (x, y) = t.pop2()?;
    let v = f(&mut t.builder, x, y);
    t.push(v);
    Ok(())
}

/// Wasm comparisons yield an i32 0 or 1.
fn push_bool(t: &mut FuncTranslator, flag: Value) {
    let v = t.builder.ins().uextend(types::I32, flag);
    t.push(v);
}

fn icmp(t: &mut FuncTranslator, cc: IntCC) -> Result<()> {
    let (x, y) = t.pop2()?;
    let c = t.builder.ins().icmp(cc, x, y);
    push_bool(t, c);
    Ok(())
}

fn fcmp(t: &mut FuncTranslator, cc: FloatCC) -> Result<()> {
    let (x, y) = t.pop2()?;
    let c = t.builder.ins().fcmp(cc, x, y);
    push_bool(t, c);
    Ok(())
}

fn extend_from(t: &mut FuncTranslator, narrow: Type, wide: Type) -> Result<()> {
    unary(t, |b, x| {
        let n = b.ins().ireduce(narrow, x);
        b.ins().sextend(wide, n)
    })
}

fn reinterpret(t: &mut FuncTranslator, to: Type) -> Result<()> {
    unary(t, |b, x| b.ins().bitcast(to, MemFlagsData::new(), x))
}

/// Pops `x, y` after trapping when `y` is zero. The check is explicit so the trap is ours on
/// every target, whatever the hardware does on division by zero.
fn pop_nonzero_divisor(t: &mut FuncTranslator) -> Result<(Value, Value)> {
    let (x, y) = t.pop2()?;
    t.builder
        .ins()
        .trapz(y, trap_code(TrapKind::IntegerDivisionByZero));
    Ok((x, y))
}

fn signed_min(ty: Type) -> i64 {
    if ty == types::I32 {
        i64::from(i32::MIN)
    } else {
        i64::MIN
    }
}

fn div_s(t: &mut FuncTranslator) -> Result<()> {
    let (x, y) = pop_nonzero_divisor(t)?;
    let ty = t.builder.func.dfg.value_type(x);
    // INT_MIN / -1 does not fit.
    let x_is_min = t.builder.ins().icmp_imm_s(IntCC::Equal, x, signed_min(ty));
    let y_is_neg1 = t.builder.ins().icmp_imm_s(IntCC::Equal, y, -1);
    let overflow = t.builder.ins().band(x_is_min, y_is_neg1);
    t.builder
        .ins()
        .trapnz(overflow, trap_code(TrapKind::IntegerOverflow));
    let v = t.builder.ins().sdiv(x, y);
    t.push(v);
    Ok(())
}

fn rem_s(t: &mut FuncTranslator) -> Result<()> {
    let (x, y) = pop_nonzero_divisor(t)?;
    // x % -1 is 0 in wasm, but x86's idiv faults on INT_MIN % -1; x % 1 is 0 too.
    let y_is_neg1 = t.builder.ins().icmp_imm_s(IntCC::Equal, y, -1);
    let ty = t.builder.func.dfg.value_type(y);
    let one = t.builder.ins().iconst(ty, 1);
    let divisor = t.builder.ins().select(y_is_neg1, one, y);
    let v = t.builder.ins().srem(x, divisor);
    t.push(v);
    Ok(())
}
