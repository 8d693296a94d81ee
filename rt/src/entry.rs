//! `wafer_rt_main_<mode>`: the entry points that the compiler's `main` calls, one per
//! `EntryMode`. Each prepares the process (trap handling, stack limit) and runs its mode: a
//! driver module, a component or linked modules, an invocation, or the spec-script interpreter.

use std::ffi::{c_char, CStr};
use std::io::Write;

use wafer_abi::{extern_kind, EntryMode, ModuleDescriptor, TRAP_EXIT_STATUS};

use crate::instance::{host_binding, import_name, Extern, Instance, InstantiateError};
use crate::memory::LinearMemory;
use crate::trap::Trap;
use crate::{limits, spec, trap, wasi};

/// What every entry prepares before it runs its mode: the command line, the descriptors, the
/// grants and the plan, with trap handling and the stack limit set up.
struct Start {
    args: Vec<Vec<u8>>,
    descriptors: Vec<&'static ModuleDescriptor>,
    capabilities: &'static [u8],
    plan: &'static [u8],
}

/// # Safety
/// The arguments of a `wafer_rt_main_*` entry: the process's `argv`, `count` descriptor
/// pointers, and the executable's static capabilities and plan.
#[allow(clippy::too_many_arguments)] // the entry's own parameters
unsafe fn start(
    argc: i32,
    argv: *const *const c_char,
    modules: *const *const ModuleDescriptor,
    count: usize,
    mode: EntryMode,
    capabilities: *const u8,
    capabilities_len: usize,
    plan: *const u8,
    plan_len: usize,
) -> Start {
    limits::mark_stack_top();
    trap::install_handlers();
    trap::ensure_alt_stack();

    let args = unsafe { collect_args(argc, argv) };
    let descriptors: Vec<&'static ModuleDescriptor> = if modules.is_null() {
        Vec::new()
    } else {
        (0..count)
            .filter_map(|i| unsafe { (*modules.add(i)).as_ref() })
            .collect()
    };
    // The driver's build chose its stack; spec scripts get the default.
    let wasm_stack = match descriptors.first() {
        Some(d)
            if matches!(mode, EntryMode::Driver | EntryMode::Invoke) && d.wasm_stack_bytes > 0 =>
        {
            d.wasm_stack_bytes
        }
        _ => wafer_abi::DEFAULT_WASM_STACK,
    };
    // SAFETY: no wasm code runs yet.
    unsafe { limits::set_stack_limit(limits::compute_stack_limit(wasm_stack)) };
    // SAFETY: static data of the executable, of the lengths given.
    let bytes = |p: *const u8, len: usize| {
        if p.is_null() || len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(p, len) }
        }
    };
    Start {
        args,
        descriptors,
        capabilities: bytes(capabilities, capabilities_len),
        plan: bytes(plan, plan_len),
    }
}

/// Defines the runtime entry of one [`EntryMode`], named as `EntryMode::rt_main` says: it
/// prepares the process ([`start`]) and runs that mode. Each mode has its own symbol, so an
/// executable links only its own mode's code.
macro_rules! entry {
    ($name:ident, $mode:expr, |$s:ident| $run:expr) => {
        /// # Safety
        /// Called once, by the generated `main`, with the process's `argv`, `count`
        /// descriptor pointers, and the executable's encoded capabilities and plan.
        #[no_mangle]
        #[allow(clippy::too_many_arguments)] // the contract's shape
        pub unsafe extern "C" fn $name(
            argc: i32,
            argv: *const *const c_char,
            modules: *const *const ModuleDescriptor,
            count: usize,
            _mode: u32,
            capabilities: *const u8,
            capabilities_len: usize,
            plan: *const u8,
            plan_len: usize,
        ) -> i32 {
            let $s = unsafe {
                start(
                    argc,
                    argv,
                    modules,
                    count,
                    $mode,
                    capabilities,
                    capabilities_len,
                    plan,
                    plan_len,
                )
            };
            $run
        }
    };
}

// Ended by `exit_process` rather than by returning, so that a guest thread calling proc_exit
// at the same moment cannot run the C library's exit concurrently.
entry!(wafer_rt_main_driver, EntryMode::Driver, |s| {
    crate::threads::exit_process(run_driver(s.args, &s.descriptors, s.capabilities))
});
entry!(wafer_rt_main_component, EntryMode::Component, |s| {
    crate::threads::exit_process(crate::component::run(
        s.args,
        &s.descriptors,
        s.capabilities,
        s.plan,
    ))
});
entry!(wafer_rt_main_invoke, EntryMode::Invoke, |s| {
    crate::threads::exit_process(crate::invoke::run(
        s.args,
        &s.descriptors,
        s.capabilities,
        s.plan,
    ))
});
entry!(wafer_rt_main_spec, EntryMode::SpecScript, |s| {
    // Scripts whose modules call host functions (the fuzzer's) get their grants.
    if !s.capabilities.is_empty() {
        if let Err(msg) = prepare_host(s.capabilities, s.args.clone()) {
            eprintln!("wafer: {msg}");
            return 1;
        }
    }
    spec::run(&s.args, &s.descriptors)
});

unsafe fn collect_args(argc: i32, argv: *const *const c_char) -> Vec<Vec<u8>> {
    if argv.is_null() {
        return Vec::new();
    }
    (0..argc.max(0) as usize)
        .map_while(|i| {
            let p = unsafe { *argv.add(i) };
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
        })
        .collect()
}

/// The `wasi:cli/run@0.2.x#run` export of a core module, if it has one.
pub fn command_run_export(desc: &'static ModuleDescriptor) -> Option<&'static str> {
    // SAFETY: descriptors are static data emitted by the compiler.
    unsafe { desc.exports.as_slice() }.iter().find_map(|e| {
        let name = std::str::from_utf8(unsafe { e.name.as_slice() }).ok()?;
        (e.kind == extern_kind::FUNC && wafer_abi::wasi_p2::is_cli_run_export(name)).then_some(name)
    })
}

/// Prints the trap report of a driver: `wasm trap: <message>` and the function it happened in.
pub fn report_trap(trap: &Trap) {
    let name = trap.function_name().unwrap_or_else(|| "<unknown>".into());
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "wasm trap: {}\n    in function {name}",
        trap.kind.message()
    );
}

/// The memory a driver imports (`env.memory`, as wasi-threads modules do), created with the
/// limits and sharing the module declares. It lives as long as the process.
fn driver_memory(desc: &ModuleDescriptor) -> Result<Extern, String> {
    // SAFETY: descriptors are static data emitted by the compiler.
    let m = unsafe { desc.memories.as_slice() }
        .first()
        .ok_or("the module imports a memory its descriptor does not describe")?;
    let max = (m.maximum_pages != wafer_abi::NONE_U64).then_some(m.maximum_pages);
    let memory = LinearMemory::with_sharing(
        m.initial_pages,
        max,
        desc.memory_cap_pages as u64,
        m.shared != 0,
    )
    .map_err(|e| format!("cannot create the imported memory: {e}"))?;
    Ok(Extern::Memory(&mut Box::leak(memory).def))
}

/// Sets up the host interfaces for the executable's grants: WASI (arguments, environment,
/// preopened directories) and the I2C and USB grants. Returns the decoded grants.
pub fn prepare_host(
    capabilities: &[u8],
    args: Vec<Vec<u8>>,
) -> Result<wafer_abi::capabilities::Capabilities, String> {
    let caps = wasi::init(capabilities, args)?;
    wafer_devices::i2c::grant::set_grants(wafer_devices::i2c::grant::from_capabilities(&caps));
    wafer_devices::usb::grant::set_grants(caps.usb.clone());
    Ok(caps)
}

fn run_driver(
    args: Vec<Vec<u8>>,
    modules: &[&'static ModuleDescriptor],
    capabilities: &[u8],
) -> i32 {
    let instance = match instantiate_driver(args, modules, capabilities) {
        Ok(instance) => instance,
        Err(status) => return status,
    };
    let has_start = instance
        .export(b"_start")
        .is_some_and(|e| e.kind == extern_kind::FUNC);
    if has_start {
        return crate::component::run_start(instance, "_start");
    }
    // A WASI 0.2 command built as a core module (a reactor with a run export).
    match command_run_export(instance.descriptor()) {
        Some(name) => crate::component::run_export(instance, name, None),
        None => {
            eprintln!("wafer: the module exports neither _start nor wasi:cli/run#run");
            1
        }
    }
}

/// Creates the driver's instance: its imports bound (a memory it imports created), the host
/// interfaces set up for its grants, the kernel sandbox entered for a WALI program. On failure,
/// the message is printed and the exit status returned.
pub fn instantiate_driver(
    args: Vec<Vec<u8>>,
    modules: &[&'static ModuleDescriptor],
    capabilities: &[u8],
) -> Result<&'static Instance, i32> {
    let Some(&desc) = modules.first() else {
        eprintln!("wafer: the executable contains no module");
        return Err(1);
    };
    let mut imports = Vec::new();
    // SAFETY: descriptors are static data emitted by the compiler.
    for import in unsafe { desc.imports.as_slice() } {
        let binding = if import.kind == extern_kind::MEMORY {
            match driver_memory(desc) {
                Ok(memory) => Some(memory),
                Err(msg) => {
                    eprintln!("wafer: {msg}");
                    return Err(1);
                }
            }
        } else {
            host_binding(desc, import)
        };
        match binding {
            Some(binding) => imports.push(binding),
            None => {
                let what = match import.kind {
                    extern_kind::FUNC => "function",
                    extern_kind::TABLE => "table",
                    extern_kind::MEMORY => "memory",
                    _ => "global",
                };
                eprintln!(
                    "wafer: import {} ({what}) is not provided by the runtime",
                    import_name(import)
                );
                return Err(1);
            }
        }
    }
    if crate::wali::sandbox::applies(desc) {
        // WALI guests read their command line through the runtime (`__cl_*`).
        crate::wali::set_args(args.clone());
    }
    let caps = match prepare_host(capabilities, args) {
        Ok(caps) => caps,
        Err(msg) => {
            eprintln!("wafer: {msg}");
            return Err(1);
        }
    };
    // A WALI guest makes Linux syscalls: the kernel confines it to its grants (Landlock and
    // seccomp), now that the runtime has opened what it needs and before any guest code or
    // other thread runs.
    if crate::wali::sandbox::applies(desc) {
        if let Err(msg) = crate::wali::sandbox::enter(desc, &caps) {
            eprintln!("wafer: {msg}");
            return Err(1);
        }
    }
    let instance = match Instance::new(desc, &imports) {
        // The process ends with this instance: unmapping its reservation first would only
        // delay the exit.
        Ok(instance) => Box::leak(instance),
        Err(InstantiateError::Trap(trap)) => {
            report_trap(&trap);
            return Err(TRAP_EXIT_STATUS);
        }
        Err(InstantiateError::Unlinkable(msg) | InstantiateError::Error(msg)) => {
            eprintln!("wafer: cannot instantiate the module: {msg}");
            return Err(1);
        }
    };
    Ok(instance)
}
