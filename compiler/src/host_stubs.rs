//! Functions the compiler emits in place of a host function (see `wafer_abi::wali`): the
//! adapter from a WALI syscall import to the runtime's single syscall entry, and the
//! `-ENOSYS` answer of a syscall that no runtime implements.

use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use wafer_abi::wali::{Arg, ENOSYS_RESULT, MAX_ARGS, SYSCALLS};

fn entry_block(b: &mut FunctionBuilder) -> Vec<ir::Value> {
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    b.block_params(block).to_vec()
}

/// The body of a stub (its signature already in `func`, vmctx first) that answers `-ENOSYS`
/// in each integer result and zero in each float one.
pub fn build_enosys(isa: &dyn TargetIsa, func: &mut ir::Function) {
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    entry_block(&mut b);
    let returns: Vec<ir::Type> = b
        .func
        .signature
        .returns
        .iter()
        .map(|r| r.value_type)
        .collect();
    let values: Vec<ir::Value> = returns
        .iter()
        .map(|&ty| match ty {
            types::F32 => b.ins().f32const(0.0),
            types::F64 => b.ins().f64const(0.0),
            _ => b.ins().iconst(ty, ENOSYS_RESULT),
        })
        .collect();
    b.ins().return_(&values);
    b.finalize(isa.frontend_config());
}

/// `extern "C" fn(vmctx, index: i32, a0..a5: i64) -> i64`, the runtime's syscall entry.
pub fn syscall_entry_signature(isa: &dyn TargetIsa) -> ir::Signature {
    let mut sig = ir::Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(isa.pointer_type()));
    sig.params.push(AbiParam::new(types::I32));
    sig.params
        .extend((0..MAX_ARGS).map(|_| AbiParam::new(types::I64)));
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

/// The body of the adapter for syscall `index` (signature already in `func`): widens each
/// argument as the table says, calls `entry` (declared in `func`), and returns its result
/// unless the import has none.
pub fn build_syscall_adapter(
    isa: &dyn TargetIsa,
    func: &mut ir::Function,
    entry: ir::FuncRef,
    index: u32,
    drop_result: bool,
) {
    let syscall = &SYSCALLS[index as usize];
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let params = entry_block(&mut b);
    let mut args = vec![params[0], b.ins().iconst(types::I32, i64::from(index))];
    for (value, kind) in params[1..].iter().zip(syscall.args) {
        let wide = match (b.func.dfg.value_type(*value), kind) {
            (types::I64, _) => *value,
            (_, Arg::Signed) => b.ins().sextend(types::I64, *value),
            _ => b.ins().uextend(types::I64, *value),
        };
        args.push(wide);
    }
    while args.len() < 2 + MAX_ARGS {
        args.push(b.ins().iconst(types::I64, 0));
    }
    let call = b.ins().call(entry, &args);
    let result = b.inst_results(call)[0];
    if drop_result {
        b.ins().return_(&[]);
    } else {
        b.ins().return_(&[result]);
    }
    b.finalize(isa.frontend_config());
}
