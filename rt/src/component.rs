//! Running a component: its core instances are created in the order of the executable's plan
//! (`wafer_abi::component::Plan`, resolved when it was built), each import bound to an earlier
//! instance's export or to the host function its relocation names, and then its
//! `wasi:cli/run` export is called. Nothing is parsed here.
//!
//! All core instances of the component share one host state: resource handles belong to the
//! component instance, not to a core instance, whichever core instance passes them. A host
//! function whose lowering names a memory is called with the context of the core instance
//! owning that memory (so it reads and allocates there, whoever calls it: wit-component routes
//! such calls through a table in a shim module); the others receive the caller's context.
//!
//! A call into a function another component lifted goes through an adapter ([`adapter`]),
//! which copies the values between the two components' memories ([`values`]).

pub(crate) mod adapter;
pub(crate) mod values;

use std::sync::Arc;

use wafer_abi::component::{Binding, HostContext, Plan, RunKind};
use wafer_abi::{extern_kind, valtype, ModuleDescriptor, TRAP_EXIT_STATUS};

use crate::entry::{prepare_host, report_trap};
use crate::instance::{
    host_binding, import_name, CallError, Extern, HostState, Instance, InstanceOptions,
    InstantiateError,
};

/// Instantiates the plan's core instances and runs the component; returns the exit status.
pub fn run(
    args: Vec<Vec<u8>>,
    modules: &[&'static ModuleDescriptor],
    capabilities: &[u8],
    plan: &[u8],
) -> i32 {
    exit_status(run_plan(args, modules, capabilities, plan))
}

/// The exit status of a run: its own, or for a failure the trap's (reported) or 1 (with the
/// message on stderr).
fn exit_status(result: Result<i32, Failure>) -> i32 {
    match result {
        Ok(status) => status,
        Err(Failure::Trap(trap)) => {
            report_trap(&trap);
            TRAP_EXIT_STATUS
        }
        Err(Failure::Message(msg)) => {
            eprintln!("wafer: {msg}");
            1
        }
    }
}

enum Failure {
    Trap(crate::trap::Trap),
    Message(String),
}

impl From<String> for Failure {
    fn from(msg: String) -> Self {
        Failure::Message(msg)
    }
}

fn run_plan(
    args: Vec<Vec<u8>>,
    modules: &[&'static ModuleDescriptor],
    capabilities: &[u8],
    plan: &[u8],
) -> Result<i32, Failure> {
    let plan = Plan::decode(plan).map_err(|e| format!("the executable's component plan: {e}"))?;
    // A core module making WALI syscalls (the WASI module of a `--wasi-over-wali` build)
    // runs in the kernel sandbox of a WALI program, entered before any guest code runs.
    let wali = plan
        .instances
        .iter()
        .filter_map(|core| modules.get(core.module as usize).copied())
        .find(|desc| crate::wali::sandbox::applies(desc));
    if wali.is_some() {
        crate::wali::set_args(args.clone());
    }
    let caps = prepare_host(capabilities, args)?;
    if let Some(desc) = wali {
        crate::wali::sandbox::enter(desc, &caps)?;
    }
    if plan.channel_client.is_some() {
        crate::wasi_over_wali::take_grants(&caps);
    }
    adapter::init(plan.adapters.len());
    let host_state = Arc::new(HostState::default());
    let mut instances: Vec<&'static Instance> = Vec::with_capacity(plan.instances.len());
    for (number, core) in plan.instances.iter().enumerate() {
        let desc = *modules.get(core.module as usize).ok_or_else(|| {
            format!(
                "the component plan names core module {}, which the executable lacks",
                core.module
            )
        })?;
        // SAFETY: descriptors are static data emitted by the compiler.
        let import_descs = unsafe { desc.imports.as_slice() };
        if import_descs.len() != core.imports.len() {
            return Err(format!(
                "core instance {number}: the plan binds {} imports of a module with {}",
                core.imports.len(),
                import_descs.len()
            )
            .into());
        }
        let mut externs = Vec::with_capacity(import_descs.len());
        for (import, binding) in import_descs.iter().zip(&core.imports) {
            let ext = match binding {
                Binding::Export { instance, name } => instances[*instance as usize]
                    .export_extern(name.as_bytes())
                    .ok_or_else(|| {
                        format!(
                            "core instance {instance} exports no {name:?} for import {}",
                            import_name(import)
                        )
                    })?,
                Binding::Adapter { index } => {
                    let Some(ext @ Extern::Func { .. }) = host_binding(desc, import) else {
                        return Err(format!(
                            "import {} has no adapter bound at build time",
                            import_name(import)
                        )
                        .into());
                    };
                    adapter::resolve(*index, &plan.adapters[*index as usize], &instances)?;
                    ext
                }
                Binding::Host { context } => {
                    let Some(Extern::Func { code, type_id, .. }) = host_binding(desc, import)
                    else {
                        return Err(format!(
                            "import {} has no host function bound at build time",
                            import_name(import)
                        )
                        .into());
                    };
                    let vmctx = match context {
                        None => None,
                        Some(ctx) => Some(context_vmctx(&instances, ctx)?),
                    };
                    Extern::Func {
                        code,
                        vmctx,
                        type_id,
                    }
                }
            };
            externs.push(ext);
        }
        let options = InstanceOptions {
            host_state: Some(Arc::clone(&host_state)),
            memory: None,
        };
        let instance = match Instance::with_options(desc, &externs, options) {
            // The process ends with these instances.
            Ok(instance) => Box::leak(instance),
            Err(InstantiateError::Trap(trap)) => return Err(Failure::Trap(trap)),
            Err(InstantiateError::Unlinkable(msg) | InstantiateError::Error(msg)) => {
                return Err(format!("cannot instantiate core instance {number}: {msg}").into())
            }
        };
        if plan.channel_client == Some(number as u32) {
            crate::wasi_over_wali::set_client(instance);
        }
        instances.push(instance);
    }
    let run = &plan.run;
    let instance = instances[run.instance as usize];
    match run.kind {
        RunKind::CliRun => call_run(instance, &run.name, run.post_return.as_deref()),
        RunKind::Start => call_start(instance, &run.name),
    }
}

/// Calls a preview1 command's `_start` (`() -> ()`): exit status 0 when it returns.
fn call_start(instance: &Instance, name: &str) -> Result<i32, Failure> {
    let func = instance
        .export(name.as_bytes())
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or_else(|| format!("the entry point {name:?} is not exported"))?;
    let nullary = instance
        .func_type(func.index)
        .is_some_and(|t| t.params.len == 0 && t.results.len == 0);
    if !nullary {
        return Err(
            format!("the exported {name} must take no parameters and return nothing").into(),
        );
    }
    call(instance, func.index, &mut [0; 1], name)?;
    Ok(0)
}

/// The context a host function with canonical options `ctx` is called with: that of the
/// realloc's instance if its memory 0 is the options' memory, else of the memory's owner if
/// the memory is its memory 0. The realloc becomes that instance's allocator for host calls.
fn context_vmctx(
    instances: &[&'static Instance],
    ctx: &HostContext,
) -> Result<*mut wafer_abi::VmCtx, Failure> {
    let owner = memory_owner(
        instances[ctx.memory.0 as usize],
        &ctx.memory.1,
        ctx.realloc.as_ref().map(|(r, _)| instances[*r as usize]),
        "a host call's canonical options",
    )?;
    if let Some((r, name)) = &ctx.realloc {
        if !std::ptr::eq(instances[*r as usize], owner) {
            return Err(format!(
                "a lowering's realloc {name:?} belongs to a core instance that does not use its \
                 memory"
            )
            .into());
        }
        set_realloc(owner, name)?;
    }
    Ok(owner.vmctx())
}

/// The instance whose memory 0 is memory `name` of `exporter`: the realloc's instance if it
/// uses it (the preview1 adapter imports the program's memory), else the exporter. `user`
/// says whose options name the memory, for the error.
fn memory_owner(
    exporter: &'static Instance,
    name: &str,
    realloc: Option<&'static Instance>,
    user: &str,
) -> Result<&'static Instance, String> {
    let Some(Extern::Memory(def)) = exporter.export_extern(name.as_bytes()) else {
        return Err(format!(
            "{user} names memory {name:?}, which is not exported"
        ));
    };
    match realloc {
        Some(r) if r.memory_def() == def => Ok(r),
        _ if exporter.memory_def() == def => Ok(exporter),
        _ => Err(format!(
            "the memory of {user} is no core instance's first memory, which wafer does not \
             support"
        )),
    }
}

/// Makes `realloc` (an export of `owner`) the allocator host functions use for lists and
/// strings they return, after checking its canonical type.
fn set_realloc(owner: &Instance, realloc: &str) -> Result<(), Failure> {
    let index = crate::canon::realloc_export(owner, realloc).map_err(|f| f.why)?;
    match owner.realloc().get() {
        Some(&cached) if cached != index => Err(format!(
            "two different realloc functions for host calls into one core instance ({realloc} \
             and function {cached})"
        )
        .into()),
        _ => {
            let _ = owner.realloc().set(index);
            Ok(())
        }
    }
}

/// Runs a command's `wasi:cli/run` function `name` (an export of `instance`) with its
/// post-return; the exit status: 0 for ok, 1 for err (as wasmtime gives), or the trap's.
pub fn run_export(instance: &Instance, name: &str, post_return: Option<&str>) -> i32 {
    exit_status(call_run(instance, name, post_return))
}

/// Runs a preview1 command's entry point `name` (an export of `instance`); the exit status:
/// 0 when it returns (it ends the process itself through `proc_exit` otherwise), or the
/// trap's.
pub fn run_start(instance: &Instance, name: &str) -> i32 {
    exit_status(call_start(instance, name))
}

/// Calls the lifted `run` (core type `() -> i32`, the flat `result`: 0 ok, 1 err) and its
/// post-return.
fn call_run(instance: &Instance, name: &str, post_return: Option<&str>) -> Result<i32, Failure> {
    let func = instance
        .export(name.as_bytes())
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or_else(|| format!("the run function {name:?} is not exported"))?;
    // SAFETY: descriptor slices are static data emitted by the compiler.
    let shape_ok = instance.func_type(func.index).is_some_and(|t| unsafe {
        t.params.as_slice().is_empty() && t.results.as_slice() == [valtype::I32]
    });
    if !shape_ok {
        return Err(format!("{name} does not have the type () -> i32").into());
    }
    let mut values = [0u64; 1];
    call(instance, func.index, &mut values, name)?;
    let result = values[0] as u32;
    if let Some(post) = post_return {
        let post_func = instance
            .export(post.as_bytes())
            .filter(|e| e.kind == extern_kind::FUNC)
            .ok_or_else(|| format!("the post-return function {post:?} is not exported"))?;
        let mut values = [u64::from(result)];
        call(instance, post_func.index, &mut values, post)?;
    }
    match result {
        0 => Ok(0),
        1 => Ok(1),
        other => {
            Err(format!("the run function returned {other}, not a result discriminant").into())
        }
    }
}

fn call(instance: &Instance, index: u32, values: &mut [u64], name: &str) -> Result<(), Failure> {
    match instance.call_scalars(index, values) {
        Ok(()) => Ok(()),
        Err(CallError::Trap(trap)) => Err(Failure::Trap(trap)),
        Err(CallError::Invalid(msg)) => Err(format!("cannot call {name}: {msg}").into()),
    }
}
