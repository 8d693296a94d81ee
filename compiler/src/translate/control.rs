//! Structured control flow: blocks, loops, `if`/`else`, branches and returns.
//!
//! Every wasm block gets a Cranelift "destination" block whose parameters are the wasm
//! block's results; a loop also gets a header block whose parameters are the loop's params.
//! Values that flow into a block or an `if` arm without a back edge stay plain SSA values:
//! the arm's entry is dominated by the instruction that produced them.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, BlockArg, InstBuilder, JumpTableData, Value};
use wafer_abi::TrapKind;
use wasmparser::{BlockType, Operator};

use super::FuncTranslator;
use crate::error::{CompileError, Result};

pub(crate) enum FrameKind {
    /// A `block`, or the function body itself (the outermost frame).
    Block,
    Loop {
        header: ir::Block,
    },
    If {
        /// Entered when the condition is false; without an `else` it forwards the params.
        else_block: ir::Block,
        /// The values the `if` consumed as block params, reused by the `else` arm.
        params: Vec<Value>,
        else_seen: bool,
        /// Whether the `then` arm fell through to the end (known once `else` is seen).
        then_reachable: bool,
    },
}

pub(crate) struct ControlFrame {
    kind: FrameKind,
    /// Where control goes after `end`; its params are the block's results.
    dest: ir::Block,
    num_params: usize,
    num_results: usize,
    /// Operand stack height below the block's params.
    stack_base: usize,
    /// Whether some branch targets `dest` (loops are branched to at their header instead).
    exit_branched: bool,
}

impl ControlFrame {
    /// Where a branch to this frame goes and how many values it carries.
    fn branch_target(&self) -> (ir::Block, usize) {
        match self.kind {
            FrameKind::Loop { header } => (header, self.num_params),
            _ => (self.dest, self.num_results),
        }
    }
}

fn block_args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|&v| BlockArg::Value(v)).collect()
}

impl FuncTranslator<'_> {
    pub(crate) fn push_function_frame(&mut self, results: &[ir::Type]) {
        let dest = self.block_with_params(results);
        self.control.push(ControlFrame {
            kind: FrameKind::Block,
            dest,
            num_params: 0,
            num_results: results.len(),
            stack_base: 0,
            exit_branched: false,
        });
    }

    fn block_with_params(&mut self, types: &[ir::Type]) -> ir::Block {
        let block = self.builder.create_block();
        for &ty in types {
            self.builder.append_block_param(block, ty);
        }
        block
    }

    fn block_signature(&self, blockty: BlockType) -> Result<(Vec<ir::Type>, Vec<ir::Type>)> {
        match blockty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(ty) => Ok((Vec::new(), vec![self.ir_type(ty)?])),
            BlockType::FuncType(index) => {
                let ty = self
                    .info
                    .types
                    .get(index as usize)
                    .ok_or_else(|| CompileError::Invalid(format!("unknown type {index}")))?;
                Ok((self.ir_types(ty.params())?, self.ir_types(ty.results())?))
            }
        }
    }

    fn frame_at_depth(&mut self, depth: u32) -> Result<&mut ControlFrame> {
        let len = self.control.len();
        let index = len
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| CompileError::Invalid(format!("branch depth {depth} out of range")))?;
        Ok(&mut self.control[index])
    }

    /// Marks the frame as branched to and returns the branch's destination and arity.
    fn branch_to(&mut self, depth: u32) -> Result<(ir::Block, usize)> {
        let frame = self.frame_at_depth(depth)?;
        frame.exit_branched = true;
        Ok(frame.branch_target())
    }

    fn jump(&mut self, block: ir::Block, values: &[Value]) {
        let args = block_args(values);
        self.builder.ins().jump(block, &args);
    }

    fn translate_block(&mut self, blockty: BlockType) -> Result<()> {
        let (params, results) = self.block_signature(blockty)?;
        let dest = self.block_with_params(&results);
        let stack_base = self.stack_height_below(params.len())?;
        self.control.push(ControlFrame {
            kind: FrameKind::Block,
            dest,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            exit_branched: false,
        });
        Ok(())
    }

    fn translate_loop(&mut self, blockty: BlockType) -> Result<()> {
        let (params, results) = self.block_signature(blockty)?;
        let header = self.block_with_params(&params);
        let dest = self.block_with_params(&results);
        let args = self.popn(params.len())?;
        let stack_base = self.stack.len();
        self.jump(header, &args);
        // The header stays unsealed until `end`: back edges may still be added.
        self.builder.switch_to_block(header);
        let header_params = self.builder.block_params(header).to_vec();
        // Every iteration passes the header, so polling there bounds how long a busy loop
        // keeps a WALI signal waiting (unless every iteration calls a function that polls).
        if !self.covered_loops.contains(&self.op_offset) {
            self.signal_safe_point();
        }
        self.stack.extend(header_params);
        self.control.push(ControlFrame {
            kind: FrameKind::Loop { header },
            dest,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            exit_branched: false,
        });
        Ok(())
    }

    fn translate_if(&mut self, blockty: BlockType) -> Result<()> {
        let cond = self.pop()?;
        let (params, results) = self.block_signature(blockty)?;
        let param_values = self.peekn(params.len())?.to_vec();
        let stack_base = self.stack.len() - params.len();
        let then_block = self.builder.create_block();
        let else_block = self.builder.create_block();
        let dest = self.block_with_params(&results);
        self.builder
            .ins()
            .brif(cond, then_block, &[], else_block, &[]);
        self.builder.seal_block(then_block);
        self.builder.seal_block(else_block);
        self.builder.switch_to_block(then_block);
        self.control.push(ControlFrame {
            kind: FrameKind::If {
                else_block,
                params: param_values,
                else_seen: false,
                then_reachable: false,
            },
            dest,
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            exit_branched: false,
        });
        Ok(())
    }

    fn translate_else(&mut self) -> Result<()> {
        let reachable = self.reachable;
        let (dest, num_results) = {
            let frame = self.control.last().ok_or_else(|| mismatched("else"))?;
            (frame.dest, frame.num_results)
        };
        if reachable {
            let results = self.popn(num_results)?;
            self.jump(dest, &results);
        }
        let frame = self.control.last_mut().ok_or_else(|| mismatched("else"))?;
        let stack_base = frame.stack_base;
        let FrameKind::If {
            else_block,
            params,
            else_seen,
            then_reachable,
        } = &mut frame.kind
        else {
            return Err(mismatched("else"));
        };
        if *else_seen {
            return Err(mismatched("else"));
        }
        *else_seen = true;
        *then_reachable = reachable;
        let else_block = *else_block;
        let params = params.clone();
        self.stack.truncate(stack_base);
        self.stack.extend(params);
        self.builder.switch_to_block(else_block);
        self.reachable = true;
        Ok(())
    }

    fn translate_end(&mut self) -> Result<()> {
        let frame = self.control.pop().ok_or_else(|| mismatched("end"))?;
        if self.reachable {
            let results = self.popn(frame.num_results)?;
            self.jump(frame.dest, &results);
        }
        let exit_reachable = match &frame.kind {
            FrameKind::Block => self.reachable || frame.exit_branched,
            FrameKind::Loop { header } => {
                self.builder.seal_block(*header);
                self.reachable
            }
            FrameKind::If {
                else_block,
                params,
                else_seen,
                then_reachable,
            } => {
                if !else_seen {
                    // No `else`: a false condition passes the params through as results.
                    self.builder.switch_to_block(*else_block);
                    self.jump(frame.dest, params);
                }
                self.reachable || frame.exit_branched || !else_seen || *then_reachable
            }
        };
        self.stack.truncate(frame.stack_base);
        if exit_reachable {
            self.builder.switch_to_block(frame.dest);
            self.builder.seal_block(frame.dest);
            let results = self.builder.block_params(frame.dest).to_vec();
            self.stack.extend(results);
        }
        self.reachable = exit_reachable;
        if self.control.is_empty() && self.reachable {
            let results = self.popn(frame.num_results)?;
            self.builder.ins().return_(&results);
            self.reachable = false;
        }
        Ok(())
    }

    fn translate_br(&mut self, depth: u32) -> Result<()> {
        let (target, arity) = self.branch_to(depth)?;
        let args = self.peekn(arity)?.to_vec();
        self.jump(target, &args);
        self.reachable = false;
        Ok(())
    }

    fn translate_br_if(&mut self, depth: u32) -> Result<()> {
        let cond = self.pop()?;
        let (target, arity) = self.branch_to(depth)?;
        let args = block_args(self.peekn(arity)?);
        let next = self.builder.create_block();
        self.builder.ins().brif(cond, target, &args, next, &[]);
        self.builder.seal_block(next);
        self.builder.switch_to_block(next);
        Ok(())
    }

    fn translate_br_table(&mut self, targets: &wasmparser::BrTable) -> Result<()> {
        let index = self.pop()?;
        let depths = targets
            .targets()
            .collect::<std::result::Result<Vec<u32>, _>>()
            .map_err(|e| CompileError::Malformed(e.to_string()))?;
        let default = targets.default();
        let (_, arity) = self.branch_to(default)?;
        let args = self.peekn(arity)?.to_vec();

        // Jump-table entries carry no arguments, so a branch that passes values goes through
        // one small block per distinct target that forwards them.
        let mut entry_for_depth: HashMap<u32, ir::Block> = HashMap::new();
        let mut forwarders: Vec<(ir::Block, ir::Block)> = Vec::new();
        for &depth in depths.iter().chain(std::iter::once(&default)) {
            if entry_for_depth.contains_key(&depth) {
                continue;
            }
            let (target, _) = self.branch_to(depth)?;
            let entry = if arity == 0 {
                target
            } else {
                let forwarder = self.builder.create_block();
                forwarders.push((forwarder, target));
                forwarder
            };
            entry_for_depth.insert(depth, entry);
        }
        let table: Vec<ir::BlockCall> = depths
            .iter()
            .map(|d| self.builder.func.dfg.block_call(entry_for_depth[d], &[]))
            .collect();
        let default_call = self
            .builder
            .func
            .dfg
            .block_call(entry_for_depth[&default], &[]);
        let jt = self
            .builder
            .create_jump_table(JumpTableData::new(default_call, &table));
        self.builder.ins().br_table(index, jt);
        for (forwarder, target) in forwarders {
            self.builder.seal_block(forwarder);
            self.builder.switch_to_block(forwarder);
            self.jump(target, &args);
        }
        self.reachable = false;
        Ok(())
    }

    fn translate_return(&mut self) -> Result<()> {
        let arity = self
            .control
            .first()
            .ok_or_else(|| mismatched("return"))?
            .num_results;
        let results = self.peekn(arity)?.to_vec();
        self.builder.ins().return_(&results);
        self.reachable = false;
        Ok(())
    }

    fn stack_height_below(&self, n: usize) -> Result<usize> {
        self.stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| CompileError::Invalid("operand stack underflow".into()))
    }
}

fn mismatched(what: &str) -> CompileError {
    CompileError::Invalid(format!("`{what}` without a matching block"))
}

/// Control operators in reachable code. Returns false for any other operator.
pub(crate) fn translate(t: &mut FuncTranslator, op: &Operator) -> Result<bool> {
    match op {
        Operator::Unreachable => {
            t.trap(TrapKind::Unreachable);
            t.reachable = false;
        }
        Operator::Nop => {}
        Operator::Block { blockty } => t.translate_block(*blockty)?,
        Operator::Loop { blockty } => t.translate_loop(*blockty)?,
        Operator::If { blockty } => t.translate_if(*blockty)?,
        Operator::Else => t.translate_else()?,
        Operator::End => t.translate_end()?,
        Operator::Br { relative_depth } => t.translate_br(*relative_depth)?,
        Operator::BrIf { relative_depth } => t.translate_br_if(*relative_depth)?,
        Operator::BrTable { targets } => t.translate_br_table(targets)?,
        Operator::Return => t.translate_return()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Operators in unreachable code: only the structure matters, to find where code becomes
/// reachable again (the `else` or `end` of the block that became unreachable).
pub(crate) fn translate_unreachable(t: &mut FuncTranslator, op: &Operator) -> Result<()> {
    match op {
        Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
            t.unreachable_depth += 1;
        }
        Operator::Else if t.unreachable_depth == 0 => t.translate_else()?,
        Operator::End if t.unreachable_depth == 0 => t.translate_end()?,
        Operator::End => t.unreachable_depth -= 1,
        _ => {}
    }
    Ok(())
}
