//! Translation of one wasm function body into Cranelift IR.
//!
//! The translator keeps wasm's operand stack as a stack of SSA values and wasm's control
//! stack as a stack of [`control::ControlFrame`]s; locals are `cranelift_frontend` variables.
//! Code after an unconditional branch is skipped until the end of its block, so every emitted
//! instruction is reachable and every value on the stack is defined.
//!
//! Submodules handle one family of operators each and share the [`FuncTranslator`] state.

mod atomics;
mod calls;
mod const_expr;
mod control;
mod memory;
mod numeric;
mod signals;
mod signature;
pub mod simd;
mod tables;
mod vmctx;

#[cfg(test)]
mod exec_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::{
    self, ExtFuncData, ExternalName, Function, GlobalValueData, InstBuilder, UserExternalName,
    UserFuncName, Value,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use wafer_abi::{TrapKind, VmctxLayout, LIMITS_STACK_LIMIT};
use wasmparser::{FunctionBody, Operator, ValType};

pub use const_expr::translate_const_expr;
pub(crate) use signals::makes_calls;
pub use signals::{
    build_safepoint_stub, safepoint_stub_signature, wants_safe_points, SAFEPOINT_STUB,
};
pub use signature::{
    libcall_signature, wasm_signature, wasm_signature_with, wasm_value_type, IrTypes,
};
pub use vmctx::slot_flags;

use crate::error::{CompileError, Result};
use crate::module_info::ModuleInfo;
use control::ControlFrame;

/// Translates the body of function `func_index` (a defined function) to Cranelift IR.
pub fn translate_function(
    info: &ModuleInfo,
    isa: &dyn TargetIsa,
    func_index: u32,
    body: &FunctionBody,
) -> Result<Function> {
    let type_index = *info
        .func_types
        .get(func_index as usize)
        .ok_or_else(|| CompileError::Invalid(format!("unknown function {func_index}")))?;
    let ty = info
        .types
        .get(type_index as usize)
        .ok_or_else(|| CompileError::Invalid(format!("unknown type {type_index}")))?;
    let sig = wasm_signature_with(isa, info.ir_types(), ty);
    let mut func = Function::with_name_signature(UserFuncName::user(0, func_index), sig);
    let mut builder_ctx = FunctionBuilderContext::new();
    let builder = FunctionBuilder::new(&mut func, &mut builder_ctx);
    let mut translator = FuncTranslator::new(info, isa, builder);
    translator.translate(func_index, ty.params(), ty.results(), body)?;
    translator.builder.finalize(isa.frontend_config());
    Ok(func)
}

/// Per-function translation state.
pub(crate) struct FuncTranslator<'a> {
    pub(crate) info: &'a ModuleInfo,
    pub(crate) isa: &'a dyn TargetIsa,
    pub(crate) builder: FunctionBuilder<'a>,
    /// The function's own `vmctx` parameter.
    pub(crate) vmctx: Value,
    /// Linear memory base, loaded once in the entry block (it never changes).
    pub(crate) memory_base: Option<Value>,
    pub(crate) stack: Vec<Value>,
    pub(crate) control: Vec<ControlFrame>,
    /// False after an unconditional branch until the end of the enclosing block.
    pub(crate) reachable: bool,
    /// Blocks opened inside unreachable code, whose `end`s must be skipped too.
    pub(crate) unreachable_depth: u32,
    /// Whether function entries and loop headers poll for WALI signals (see [`signals`]).
    pub(crate) safe_points: bool,
    /// Offsets of the loops whose every iteration calls a function that polls at its entry,
    /// so that their headers need no safe point of their own (`signals::covered_loops`).
    pub(crate) covered_loops: HashSet<u64>,
    /// Offset in the module of the operator being translated.
    pub(crate) op_offset: u64,
    locals: Vec<Variable>,
    sig_refs: HashMap<u32, ir::SigRef>,
    func_refs: HashMap<u32, ir::FuncRef>,
    pub(crate) libcall_refs: HashMap<&'static str, ir::FuncRef>,
}

impl<'a> FuncTranslator<'a> {
    fn new(info: &'a ModuleInfo, isa: &'a dyn TargetIsa, mut builder: FunctionBuilder<'a>) -> Self {
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        builder.seal_block(entry);
        let vmctx = builder.block_params(entry)[0];
        FuncTranslator {
            info,
            isa,
            builder,
            vmctx,
            memory_base: None,
            stack: Vec::new(),
            control: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            safe_points: signals::wants_safe_points(info),
            covered_loops: HashSet::new(),
            op_offset: 0,
            locals: Vec::new(),
            sig_refs: HashMap::new(),
            func_refs: HashMap::new(),
            libcall_refs: HashMap::new(),
        }
    }

    fn translate(
        &mut self,
        func_index: u32,
        params: &[ValType],
        results: &[ValType],
        body: &FunctionBody,
    ) -> Result<()> {
        self.set_stack_limit();
        self.declare_locals(params, body)?;
        if self.info.memory.is_some() {
            let base = vmctx::load_fixed_ptr(
                &mut self.builder,
                self.info,
                self.vmctx,
                VmctxLayout::MEMORY_BASE,
            );
            self.memory_base = Some(base);
        }
        if self.safe_points {
            self.covered_loops = signals::covered_loops(self.info, body)?;
            if self.info.has_entry_safe_point(func_index) {
                self.signal_safe_point();
            }
        }
        let result_types = self.ir_types(results)?;
        self.push_function_frame(&result_types);

        let mut reader = body.get_operators_reader().map_err(malformed)?;
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset().map_err(malformed)?;
            self.op_offset = offset;
            self.translate_operator(op)?;
        }
        if !self.control.is_empty() {
            return Err(CompileError::Malformed(
                "function body ends inside a block".into(),
            ));
        }
        Ok(())
    }

    /// `func.stack_limit = *(*(vmctx + LIMITS) + LIMITS_STACK_LIMIT)`: every prologue compares
    /// the stack pointer with the process-wide limit.
    fn set_stack_limit(&mut self) {
        let ptr = self.info.pointer_type;
        let flags = self
            .builder
            .func
            .dfg
            .mem_flags
            .insert_unchecked(vmctx::trusted_readonly());
        let vmctx_gv = self.builder.create_global_value(GlobalValueData::VMContext);
        let limits = self.builder.create_global_value(GlobalValueData::Load {
            base: vmctx_gv,
            offset: (VmctxLayout::LIMITS as i32).into(),
            global_type: ptr,
            flags,
        });
        let limit = self.builder.create_global_value(GlobalValueData::Load {
            base: limits,
            offset: (LIMITS_STACK_LIMIT as i32).into(),
            global_type: ptr,
            flags,
        });
        self.builder.func.stack_limit = Some(limit);
    }

    fn declare_locals(&mut self, params: &[ValType], body: &FunctionBody) -> Result<()> {
        for (i, &param) in params.iter().enumerate() {
            let ty = self.ir_type(param)?;
            let var = self.builder.declare_var(ty);
            let value = self
                .builder
                .block_params(self.builder.current_block().unwrap())[i + 1];
            self.builder.def_var(var, value);
            self.locals.push(var);
        }
        let mut reader = body.get_locals_reader().map_err(malformed)?;
        for _ in 0..reader.get_count() {
            let (count, valtype) = reader.read().map_err(malformed)?;
            let ty = self.ir_type(valtype)?;
            // Wasm locals start at zero; one constant serves every local of the group.
            let zero = self.zero(ty);
            for _ in 0..count {
                let var = self.builder.declare_var(ty);
                self.builder.def_var(var, zero);
                self.locals.push(var);
            }
        }
        Ok(())
    }

    fn zero(&mut self, ty: ir::Type) -> Value {
        match ty {
            ir::types::F32 => self.builder.ins().f32const(0.0),
            ir::types::F64 => self.builder.ins().f64const(0.0),
            ir::types::I8X16 | ir::types::I128 => simd::v128_const(&mut self.builder, ty, 0),
            _ => self.builder.ins().iconst(ty, 0),
        }
    }

    fn local(&self, index: u32) -> Result<Variable> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| CompileError::Invalid(format!("unknown local {index}")))
    }

    pub(crate) fn ir_type(&self, ty: ValType) -> Result<ir::Type> {
        Ok(wasm_value_type(self.info.ir_types(), ty))
    }

    pub(crate) fn ir_types(&self, tys: &[ValType]) -> Result<Vec<ir::Type>> {
        tys.iter().map(|&t| self.ir_type(t)).collect()
    }

    fn translate_operator(&mut self, op: Operator) -> Result<()> {
        if !self.reachable {
            return control::translate_unreachable(self, &op);
        }
        if control::translate(self, &op)?
            || self.translate_variable(&op)?
            || numeric::translate(self, &op)?
            || memory::translate(self, &op)?
            || atomics::translate(self, &op)?
            || calls::translate(self, &op)?
            || tables::translate(self, &op)?
            || simd::translate(self, &op)?
        {
            Ok(())
        } else {
            Err(unsupported(&op))
        }
    }

    /// Locals, globals, `drop`, `select` and constants of reference type.
    fn translate_variable(&mut self, op: &Operator) -> Result<bool> {
        match *op {
            Operator::LocalGet { local_index } => {
                let var = self.local(local_index)?;
                let value = self.builder.use_var(var);
                self.push(value);
            }
            Operator::LocalSet { local_index } => {
                let var = self.local(local_index)?;
                let value = self.pop()?;
                self.builder.def_var(var, value);
            }
            Operator::LocalTee { local_index } => {
                let var = self.local(local_index)?;
                let value = self.peek()?;
                self.builder.def_var(var, value);
            }
            Operator::GlobalGet { global_index } => {
                let value = vmctx::load_global(
                    &mut self.builder,
                    self.info,
                    self.vmctx,
                    global_index,
                    false,
                )?;
                self.push(value);
            }
            Operator::GlobalSet { global_index } => {
                let value = self.pop()?;
                vmctx::store_global(
                    &mut self.builder,
                    self.info,
                    self.vmctx,
                    global_index,
                    value,
                )?;
            }
            Operator::Drop => {
                self.pop()?;
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                let cond = self.pop()?;
                let (a, b) = self.pop2()?;
                let value = self.builder.ins().select(cond, a, b);
                self.push(value);
            }
            Operator::RefNull { .. } => {
                let value = self.builder.ins().iconst(self.info.pointer_type, 0);
                self.push(value);
            }
            Operator::RefIsNull => {
                let value = self.pop()?;
                let is_null = self
                    .builder
                    .ins()
                    .icmp_imm_u(ir::condcodes::IntCC::Equal, value, 0);
                let value = self.builder.ins().uextend(ir::types::I32, is_null);
                self.push(value);
            }
            Operator::RefFunc { function_index } => {
                let value = vmctx::func_ref_address(
                    &mut self.builder,
                    self.info,
                    self.vmctx,
                    function_index,
                );
                self.push(value);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    // ---- operand stack ----------------------------------------------------------------------

    pub(crate) fn push(&mut self, value: Value) {
        self.stack.push(value);
    }

    pub(crate) fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(stack_underflow)
    }

    pub(crate) fn pop2(&mut self) -> Result<(Value, Value)> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    pub(crate) fn pop3(&mut self) -> Result<(Value, Value, Value)> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    pub(crate) fn peek(&self) -> Result<Value> {
        self.stack.last().copied().ok_or_else(stack_underflow)
    }

    /// The top `n` values, bottom first, left on the stack.
    pub(crate) fn peekn(&self, n: usize) -> Result<&[Value]> {
        let len = self.stack.len();
        if n > len {
            return Err(stack_underflow());
        }
        Ok(&self.stack[len - n..])
    }

    /// Removes and returns the top `n` values, bottom first.
    pub(crate) fn popn(&mut self, n: usize) -> Result<Vec<Value>> {
        let len = self.stack.len();
        if n > len {
            return Err(stack_underflow());
        }
        Ok(self.stack.split_off(len - n))
    }

    // ---- references to other functions ------------------------------------------------------

    /// The signature of wasm type `type_index`, imported into the function once.
    pub(crate) fn sig_ref(&mut self, type_index: u32) -> Result<ir::SigRef> {
        if let Some(&sig) = self.sig_refs.get(&type_index) {
            return Ok(sig);
        }
        let ty = self
            .info
            .types
            .get(type_index as usize)
            .ok_or_else(|| CompileError::Invalid(format!("unknown type {type_index}")))?;
        let sig = wasm_signature_with(self.isa, self.info.ir_types(), ty);
        let sig = self.builder.import_signature(sig);
        self.sig_refs.insert(type_index, sig);
        Ok(sig)
    }

    /// A direct reference to a function defined in this module.
    pub(crate) fn defined_func_ref(&mut self, func_index: u32) -> Result<ir::FuncRef> {
        if let Some(&f) = self.func_refs.get(&func_index) {
            return Ok(f);
        }
        let defined = func_index - self.info.num_imported_funcs;
        let name = self
            .info
            .defined_func_names
            .get(defined as usize)
            .cloned()
            .ok_or_else(|| CompileError::Invalid(format!("unknown function {func_index}")))?;
        let signature = self.sig_ref(self.info.func_types[func_index as usize])?;
        let f = self.import_function(name, signature, true);
        self.func_refs.insert(func_index, f);
        Ok(f)
    }

    pub(crate) fn libcall_ref(&mut self, symbol: &'static str) -> ir::FuncRef {
        if let Some(&f) = self.libcall_refs.get(symbol) {
            return f;
        }
        let signature = self
            .builder
            .import_signature(libcall_signature(self.isa, symbol));
        let name = self.info.libcall_name(symbol);
        // Libcalls live in the runtime library, possibly far from the module's code.
        let f = self.import_function(name, signature, false);
        self.libcall_refs.insert(symbol, f);
        f
    }

    fn import_function(
        &mut self,
        name: UserExternalName,
        signature: ir::SigRef,
        colocated: bool,
    ) -> ir::FuncRef {
        let name_ref = self.builder.func.declare_imported_user_function(name);
        self.builder.import_function(ExtFuncData {
            name: ExternalName::User(name_ref),
            signature,
            colocated,
            patchable: false,
        })
    }

    /// Calls a runtime libcall with the caller's `vmctx` prepended; returns its results.
    pub(crate) fn call_libcall(&mut self, symbol: &'static str, args: &[Value]) -> Vec<Value> {
        let callee = self.libcall_ref(symbol);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.vmctx);
        all.extend_from_slice(args);
        let call = self.builder.ins().call(callee, &all);
        self.builder.inst_results(call).to_vec()
    }

    pub(crate) fn trap(&mut self, kind: TrapKind) {
        self.builder.ins().trap(trap_code(kind));
    }
}

pub(crate) fn trap_code(kind: TrapKind) -> ir::TrapCode {
    ir::TrapCode::unwrap_user(kind as u8)
}

fn malformed(e: wasmparser::BinaryReaderError) -> CompileError {
    CompileError::Malformed(e.to_string())
}

fn stack_underflow() -> CompileError {
    CompileError::Invalid("operand stack underflow".into())
}

/// Names the proposal an operator we do not translate belongs to.
fn unsupported(op: &Operator) -> CompileError {
    macro_rules! proposal_of {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
            match op {
                $( Operator::$op { .. } => (stringify!($proposal), stringify!($op)), )*
                #[allow(unreachable_patterns)]
                _ => ("simd", "vector instruction"),
            }
        };
    }
    let (proposal, name) = wasmparser::for_each_operator!(proposal_of);
    let feature = match proposal {
        "gc" => "garbage collection (gc)",
        "simd" | "relaxed_simd" => "SIMD",
        "threads" | "shared_everything_threads" | "acquire_release_atomics" => "threads (atomics)",
        "tail_call" => "tail calls",
        "exceptions" | "legacy_exceptions" => "exception handling",
        "function_references" => "typed function references",
        "stack_switching" => "stack switching",
        "wide_arithmetic" => "wide arithmetic",
        "memory_control" => "memory control",
        "custom_descriptors" => "custom descriptors",
        other => other,
    };
    CompileError::Unsupported(format!("{feature} (instruction {name})"))
}
