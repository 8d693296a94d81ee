//! Signal safe points, for modules that import from `wali` only.
//!
//! A WALI guest's signal handlers are wasm functions. The runtime cannot run them from its
//! host signal handler, because the interrupted code may be anywhere (half-way through a
//! libcall, holding a lock), so the host handler only records the signal and sets the flag
//! word of the thread's instance (`vmctx.signal_flag`). Compiled code polls the word at
//! *safe points* and, when it is non-zero, calls the runtime, which runs the pending handlers
//! as ordinary nested calls (`wafer_abi::libcall::WALI_DELIVER_SIGNALS`). Safe points are
//! every loop header and the entry of every function that calls another, so a running
//! thread reaches one after a bounded stretch of code: only loops and calls (recursion) run
//! for long, and a function that calls nothing and has no loop returns soon to a caller that
//! has a safe point ahead. A loop whose every iteration calls such a function first needs no
//! check of its own at its header ([`covered_loops`]). The runtime also delivers when a
//! syscall returns.
//!
//! The check is one load of the word at a fixed offset from `vmctx`, which every function
//! has in a register, a test and a branch to a cold block. (A pointer to the word in `vmctx`
//! cost a second load and, in small functions, a callee-saved register to keep it in: a
//! recursive Fibonacci ran 45% slower than without safe points, against 7% now.) The cold
//! block calls a stub of the module's own ([`SAFEPOINT_STUB`]) in Cranelift's `preserve_all`
//! convention, which saves every register it touches and then calls the runtime: to the
//! register allocator the rare call clobbers nothing, so values stay in registers across a
//! loop header (an ordinary C call there forced a matrix multiply's floating-point values
//! onto the stack and doubled its time). Modules that import nothing from `wali` get none of
//! this: their code is what it was without signals.

use cranelift_codegen::ir::{
    self, types, AbiParam, ExtFuncData, ExternalName, Function, InstBuilder, Signature,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use wafer_abi::VmctxLayout;

use std::collections::HashSet;
use wasmparser::{FunctionBody, Operator};

use super::{malformed, vmctx, FuncTranslator};
use crate::error::Result;
use crate::module_info::ModuleInfo;

/// The key of the safe-point stub in `ModuleInfo::libcall_names` (a local function of the
/// module, declared by the object writer when [`wants_safe_points`]).
pub const SAFEPOINT_STUB: &str = "wafer_wali_safepoint_stub";

/// Whether a function body calls anything (and so gets a safe point at its entry).
pub(crate) fn makes_calls(body: &FunctionBody) -> Result<bool> {
    let mut reader = body.get_operators_reader().map_err(malformed)?;
    while !reader.eof() {
        if matches!(
            reader.read().map_err(malformed)?,
            Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::CallRef { .. }
                | Operator::ReturnCallRef { .. }
        ) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether functions of this module get signal safe points.
pub fn wants_safe_points(info: &ModuleInfo) -> bool {
    info.signal_safe_points
        && info
            .imports
            .iter()
            .any(|i| i.module == wafer_abi::wali::MODULE)
}

/// The stub's signature: `(vmctx)`, preserving every register.
pub fn safepoint_stub_signature(isa: &dyn TargetIsa) -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    sig.params.push(AbiParam::new(isa.pointer_type()));
    sig
}

/// Builds the stub's body into `func` (of [`safepoint_stub_signature`]): it calls `deliver`,
/// the runtime's `WALI_DELIVER_SIGNALS` libcall, with its `vmctx`. Its prologue and epilogue
/// save and restore whatever that call may clobber.
pub fn build_safepoint_stub(isa: &dyn TargetIsa, func: &mut Function, deliver: ir::FuncRef) {
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let vmctx = b.block_params(block)[0];
    b.ins().call(deliver, &[vmctx]);
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
}

/// The loops of a body whose header needs no safe point: those where, on every path from the
/// header, a direct call to a function that polls at its entry comes before anything that
/// could branch back to the header. The scan is deliberately simple: a loop is covered when
/// such a call sits directly in its body (not inside a nested block, `if` or loop) and no
/// branch instruction of any kind comes between the `loop` and the call. Keyed by the
/// operator offset of the `loop`.
pub(crate) fn covered_loops(info: &ModuleInfo, body: &FunctionBody) -> Result<HashSet<u64>> {
    let mut covered = HashSet::new();
    // Loops still undecided: (offset of the `loop`, how deep the scan is inside it).
    let mut open: Vec<(u64, u32)> = Vec::new();
    let mut reader = body.get_operators_reader().map_err(malformed)?;
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset().map_err(malformed)?;
        match op {
            Operator::Block { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                open.iter_mut().for_each(|(_, depth)| *depth += 1);
            }
            Operator::Loop { .. } => {
                open.iter_mut().for_each(|(_, depth)| *depth += 1);
                open.push((offset, 0));
            }
            // A loop that ends before a call is not covered.
            Operator::End => open.retain_mut(|(_, depth)| match depth {
                0 => false,
                d => {
                    *d -= 1;
                    true
                }
            }),
            Operator::Call { function_index } if info.has_entry_safe_point(function_index) => {
                open.retain(|&(loop_offset, depth)| {
                    if depth == 0 {
                        covered.insert(loop_offset);
                    }
                    depth != 0
                });
            }
            Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::BrOnCast { .. }
            | Operator::BrOnCastFail { .. } => open.clear(),
            _ => {}
        }
    }
    Ok(covered)
}

impl FuncTranslator<'_> {
    /// Emits a safe point at the current position (a function's entry or a loop header) and
    /// continues in a fresh block after it. Nothing for modules without safe points.
    pub(crate) fn signal_safe_point(&mut self) {
        if !self.safe_points {
            return;
        }
        // Not readonly: the host signal handler writes the word while this code runs. (The
        // cold call below is a clobber, so no later check can reuse this load's value.)
        let flag = self.builder.ins().load(
            types::I32,
            vmctx::trusted(),
            self.vmctx,
            VmctxLayout::SIGNAL_FLAG as i32,
        );
        let deliver = self.builder.create_block();
        let resume = self.builder.create_block();
        self.builder.set_cold_block(deliver);
        self.builder.ins().brif(flag, deliver, &[], resume, &[]);

        self.builder.switch_to_block(deliver);
        self.builder.seal_block(deliver);
        let stub = self.safepoint_stub();
        self.builder.ins().call(stub, &[self.vmctx]);
        self.builder.ins().jump(resume, &[]);

        self.builder.switch_to_block(resume);
        self.builder.seal_block(resume);
    }

    /// The stub, imported into the function once.
    fn safepoint_stub(&mut self) -> ir::FuncRef {
        if let Some(&f) = self.libcall_refs.get(SAFEPOINT_STUB) {
            return f;
        }
        let signature = self
            .builder
            .import_signature(safepoint_stub_signature(self.isa));
        let name = self.info.libcall_name(SAFEPOINT_STUB);
        let name_ref = self.builder.func.declare_imported_user_function(name);
        let f = self.builder.import_function(ExtFuncData {
            name: ExternalName::User(name_ref),
            signature,
            // A function of this object: a direct call.
            colocated: true,
            patchable: false,
        });
        self.libcall_refs.insert(SAFEPOINT_STUB, f);
        f
    }
}

#[cfg(test)]
mod tests {
    use cranelift_codegen::ir::{ExternalName, InstructionData, UserExternalName};
    use wafer_abi::BoundsChecks;

    use super::super::tests::{make_isa, module_info};
    use super::super::translate_function;

    /// How many calls to the safe-point stub each function of `wat` makes.
    fn deliver_calls(wat: &str) -> Vec<usize> {
        let wasm = wat::parse_str(wat).unwrap();
        let (mut info, bodies) = module_info(
            &wasm,
            BoundsChecks::Guard,
            cranelift_codegen::ir::types::I8X16,
        );
        let stub = UserExternalName::new(2, 0);
        info.libcall_names
            .push((super::SAFEPOINT_STUB, stub.clone()));
        let isa = make_isa("x86_64-unknown-linux-gnu");
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let index = info.num_imported_funcs + i as u32;
                let func = translate_function(&info, &*isa, index, body).unwrap();
                func.layout
                    .blocks()
                    .flat_map(|b| func.layout.block_insts(b))
                    .filter(|&inst| match func.dfg.insts[inst] {
                        InstructionData::Call { func_ref, .. } => {
                            let name = &func.dfg.ext_funcs[func_ref].name;
                            matches!(name, ExternalName::User(r)
                                if func.params.user_named_funcs()[*r] == stub)
                        }
                        _ => false,
                    })
                    .count()
            })
            .collect()
    }

    const BODIES: &str = r#"
      (func $f (param i32) (result i32)
        (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (loop (loop (br_if 1 (i32.const 0))))
        (local.get 0))
      (func)
      (func (param i32) (result i32) (call $f (local.get 0)))
      (func (loop (drop (call_indirect (param i32) (result i32) (i32.const 1) (i32.const 0)))))
      (table 1 funcref)
    "#;

    #[test]
    fn wali_modules_poll_at_entries_and_loop_headers() {
        let wat = format!(r#"(module (import "wali" "SYS_getpid" (func (result i64))) {BODIES})"#);
        // Loop headers, and the entries of functions that call: a function without either
        // runs a bounded time.
        assert_eq!(deliver_calls(&wat), [3, 0, 1, 2]);
    }

    #[test]
    fn other_modules_do_not_poll() {
        let wat = format!(
            r#"(module (import "wasi_snapshot_preview1" "sched_yield" (func (result i32))) {BODIES})"#
        );
        assert_eq!(deliver_calls(&wat), [0, 0, 0, 0]);
        assert_eq!(deliver_calls(&format!("(module {BODIES})")), [0, 0, 0, 0]);
    }
}
