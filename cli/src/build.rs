//! `wafer build`: a wasm module in, a native executable out.

use crate::{link, runtime, target::Target};
use anyhow::{Context, Result};
use std::path::Path;
use wafer_abi::{BoundsChecks, EntryMode, MAX_WASM_PAGES};
use wafer_compiler::{CompileError, CompileOptions};

/// How to build an executable.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub target: Target,
    pub bounds_checks: BoundsChecks,
    /// Cap on linear memory in 64 KiB pages, whatever the module declares.
    pub memory_cap_pages: u32,
    /// A fully static executable (the default: it runs whatever C library a board has).
    pub static_link: bool,
    /// Directories and environment variables the driver may use (none by default).
    pub capabilities: wafer_abi::capabilities::Capabilities,
    /// Native stack for wasm code per thread in bytes; `None`: the module kind's default.
    pub wasm_stack: Option<u64>,
    /// WALI programs: signal safe points in the code (`CompileOptions::signal_safe_points`).
    pub signal_safe_points: bool,
    /// The call a library-style module's executable makes (`crate::invoke`).
    pub invoke: Option<String>,
    /// Link the app with wafer's WASI module over WALI instead of the native WASI host
    /// (`crate::wasi_over_wali`).
    pub wasi_over_wali: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            target: Target::host(),
            bounds_checks: BoundsChecks::Guard,
            memory_cap_pages: MAX_WASM_PAGES as u32,
            static_link: true,
            capabilities: Default::default(),
            wasm_stack: None,
            signal_safe_points: true,
            invoke: None,
            wasi_over_wali: false,
        }
    }
}

impl BuildOptions {
    fn compile_options(&self, prefix: &str, resolve_host_imports: bool) -> Result<CompileOptions> {
        Ok(CompileOptions {
            triple: self.target.triple()?,
            isa_flags: self.target.isa_flags.clone(),
            bounds_checks: self.bounds_checks,
            memory_cap_pages: self.memory_cap_pages,
            symbol_prefix: prefix.to_string(),
            resolve_host_imports,
            wasm_stack: self.wasm_stack,
            signal_safe_points: self.signal_safe_points,
            import_bindings: None,
        })
    }
}

/// Reads a module from a `.wasm` or `.wat` file (text is recognised by content, not name).
pub fn load_module(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    wasm_from_bytes(&bytes, path)
}

/// Binary modules pass through; anything else is parsed as WAT.
pub fn wasm_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes.to_vec());
    }
    if std::str::from_utf8(bytes).is_err() {
        anyhow::bail!(
            "malformed wasm: {} is neither a wasm binary nor WAT text",
            path.display()
        );
    }
    let wat = wat::Parser::new();
    wat.parse_bytes(Some(path), bytes)
        .map(|cow| cow.into_owned())
        .map_err(|e| anyhow::anyhow!("WAT syntax error: {}", one_line(&e.to_string())))
}

/// Compiles and links a driver executable (from a core module or a component).
pub fn build_executable(wasm: &[u8], out: &Path, opts: &BuildOptions) -> Result<()> {
    link_objects(&compile_driver(wasm, opts)?, out, opts)
}

/// Everything `build_executable` does but the link: the objects of a driver executable.
pub fn compile_driver(wasm: &[u8], opts: &BuildOptions) -> Result<Vec<Vec<u8>>> {
    if wafer_compiler::component::is_component(wasm) {
        if opts.invoke.is_some() {
            anyhow::bail!(
                "--invoke calls an export of a core module; a component runs its wasi:cli/run export"
            );
        }
        if opts.wasi_over_wali {
            anyhow::bail!(
                "--wasi-over-wali links a preview1 core module with wafer's WASI module; a \
                 component uses WASI 0.2, which the runtime provides"
            );
        }
        return compile_component(wasm, opts);
    }
    if opts.wasi_over_wali {
        if opts.invoke.is_some() {
            anyhow::bail!(
                "--wasi-over-wali builds a command (its _start); --invoke is for libraries"
            );
        }
        // What this mode cannot run is refused before anything is compiled.
        let linked = crate::wasi_over_wali::link(wasm)?;
        check_bus_getter(exports_and_getter(wasm).1, opts)?;
        let modules = [crate::wasi_over_wali::WASI_MODULE, wasm];
        return compile_plan(&modules, &linked.host_imports, &linked.plan, opts, |i| {
            if i == 0 {
                "wafer's WASI module".to_string()
            } else {
                "the app".to_string()
            }
        });
    }
    let compile = opts.compile_options(wafer_abi::DRIVER_PREFIX, true)?;
    let object = wafer_compiler::compile(wasm, &compile)?;
    let (exports, imports_getter) = exports_and_getter(wasm);
    let (mode, plan) = match &opts.invoke {
        Some(call) => {
            let invoke = crate::invoke::plan(wasm, &exports, call, &opts.capabilities)?;
            (EntryMode::Invoke, invoke.encode())
        }
        None => {
            check_entry_point(&exports)?;
            (EntryMode::Driver, Vec::new())
        }
    };
    check_bus_getter(imports_getter, opts)?;
    let capabilities = wafer_abi::capabilities::encode(&opts.capabilities)
        .map_err(|e| anyhow::anyhow!("capabilities: {e}"))?;
    let entry = wafer_compiler::compile_entry(
        &compile.triple,
        &compile.isa_flags,
        &[wafer_abi::DRIVER_PREFIX.to_string()],
        mode,
        &capabilities,
        &plan,
    )?;
    Ok(vec![object, entry])
}

/// A compiled core module's function export names, and whether it imports the world-level
/// I2C bus getter (one pass over its sections).
fn exports_and_getter(wasm: &[u8]) -> (Vec<String>, bool) {
    let (mut exports, mut getter) = (Vec::new(), false);
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(reader)) => exports.extend(
                reader
                    .into_iter()
                    .flatten()
                    .filter(|e| e.kind == wasmparser::ExternalKind::Func)
                    .map(|e| e.name.to_string()),
            ),
            Ok(wasmparser::Payload::ImportSection(reader)) => {
                getter |= reader
                    .into_imports()
                    .flatten()
                    .any(|i| (i.module, i.name) == (wafer_abi::WORLD_ROOT, I2C_BUS_GETTER));
            }
            _ => {}
        }
    }
    (exports, getter)
}

/// The world-level getter that hands a driver "the" I2C bus.
const I2C_BUS_GETTER: &str = "get-i2c-bus";

/// `get-i2c-bus` returns the one granted bus: with none or several granted, which one it
/// means is unknowable, so the build stops here rather than the driver at run time.
fn check_bus_getter(imports_getter: bool, opts: &BuildOptions) -> Result<()> {
    let buses = opts.capabilities.i2c.len();
    if imports_getter && buses != 1 {
        anyhow::bail!(
            "the driver imports `$root` `{I2C_BUS_GETTER}`, which returns the one granted I2C \
             bus, but {buses} buses are granted: grant exactly one with --i2c"
        );
    }
    Ok(())
}

/// A driver runs its `_start` (a command) or its `wasi:cli/run@0.2.x#run` (a WASI 0.2 command
/// built as a core module); a module with neither is a library, and an executable of it would
/// exit 0 doing nothing: refused, naming what it does export.
fn check_entry_point(exports: &[String]) -> Result<()> {
    if exports
        .iter()
        .any(|e| e == "_start" || wafer_abi::wasi_p2::is_cli_run_export(e))
    {
        return Ok(());
    }
    anyhow::bail!(
        "the module has no entry point: it exports neither _start nor wasi:cli/run@0.2.x#run \
         (its function exports: {}); a library module cannot run on its own (--invoke \
         'NAME(ARGS)' builds a call of one of its exports)",
        if exports.is_empty() {
            "none".to_string()
        } else {
            // Quoted and escaped: a name is any UTF-8, line breaks included.
            let quoted: Vec<String> = exports.iter().map(|e| format!("{e:?}")).collect();
            quoted.join(", ")
        }
    )
}

/// A component's objects: each of its core modules compiled with prefix `wafer_c<i>` and
/// the imports its plan binds to host functions, and an entry holding the plan.
fn compile_component(wasm: &[u8], opts: &BuildOptions) -> Result<Vec<Vec<u8>>> {
    let lowered = wafer_compiler::component::lower(wasm)?;
    let imports_getter =
        lowered.host_imports.iter().flatten().flatten().any(|h| {
            (h.module.as_str(), h.name.as_str()) == (wafer_abi::WORLD_ROOT, I2C_BUS_GETTER)
        });
    check_bus_getter(imports_getter, opts)?;
    compile_plan(
        &lowered.modules,
        &lowered.host_imports,
        &lowered.plan,
        opts,
        |i| format!("core module {i} of the component"),
    )
}

/// The objects of an executable of several core modules: each compiled with prefix
/// `wafer_c<i>` and the host bindings given for its imports (the plan links the others), and
/// an entry holding the plan. `place` says where module `i` sits, for errors.
fn compile_plan(
    modules: &[&[u8]],
    host_imports: &[Vec<Option<wafer_compiler::component::HostImport>>],
    plan: &wafer_abi::component::Plan,
    opts: &BuildOptions,
    place: impl Fn(usize) -> String,
) -> Result<Vec<Vec<u8>>> {
    let prefixes: Vec<String> = (0..modules.len())
        .map(|i| format!("{}_c{i}", wafer_abi::DRIVER_PREFIX))
        .collect();
    let mut objects = Vec::with_capacity(modules.len() + 1);
    for (i, (module, hosts)) in modules.iter().zip(host_imports).enumerate() {
        let mut compile = opts.compile_options(&prefixes[i], false)?;
        compile.import_bindings = Some(hosts.clone());
        objects.push(wafer_compiler::compile(module, &compile).map_err(|e| {
            // The error already names the module's import or feature; say where it sits.
            anyhow::anyhow!("{e} ({})", place(i))
        })?);
    }
    let capabilities = wafer_abi::capabilities::encode(&opts.capabilities)
        .map_err(|e| anyhow::anyhow!("capabilities: {e}"))?;
    objects.push(wafer_compiler::compile_component_entry(
        &opts.target.triple()?,
        &opts.target.isa_flags,
        &prefixes,
        &capabilities,
        plan,
    )?);
    Ok(objects)
}

/// Compiles each module with prefix `m<i>` (imports left for the runtime to bind by name)
/// and links them into one executable that runs spec-test scripts.
pub fn build_spec_executable(modules: &[Vec<u8>], out: &Path, opts: &BuildOptions) -> Result<()> {
    spec_executable(modules, out, opts, false)
}

/// [`build_spec_executable`] with the imports wafer provides bound to its host functions (as
/// `wafer build` binds a driver's) and `opts.capabilities` granted: a script can then call
/// WASI, I2C and USB from its modules.
pub fn build_spec_executable_with_host(
    modules: &[Vec<u8>],
    out: &Path,
    opts: &BuildOptions,
) -> Result<()> {
    spec_executable(modules, out, opts, true)
}

fn spec_executable(modules: &[Vec<u8>], out: &Path, opts: &BuildOptions, host: bool) -> Result<()> {
    let triple = opts.target.triple()?;
    let prefixes: Vec<String> = (0..modules.len()).map(|i| format!("m{i}")).collect();
    let mut objects = Vec::with_capacity(modules.len() + 1);
    for (wasm, prefix) in modules.iter().zip(&prefixes) {
        let compile = opts.compile_options(prefix, host)?;
        objects.push(
            wafer_compiler::compile(wasm, &compile).with_context(|| format!("module {prefix}"))?,
        );
    }
    let capabilities = if host {
        wafer_abi::capabilities::encode(&opts.capabilities)
            .map_err(|e| anyhow::anyhow!("capabilities: {e}"))?
    } else {
        Vec::new()
    };
    objects.push(wafer_compiler::compile_entry(
        &triple,
        &opts.target.isa_flags,
        &prefixes,
        EntryMode::SpecScript,
        &capabilities,
        &[],
    )?);
    link_objects(&objects, out, opts)
}

/// The compiler's verdict on a module, without linking.
pub fn check_module(wasm: &[u8], opts: &BuildOptions) -> std::result::Result<(), CompileError> {
    let compile = opts
        .compile_options("m", false)
        .map_err(|e| CompileError::Codegen(e.to_string()))?;
    wafer_compiler::compile(wasm, &compile).map(|_| ())
}

fn link_objects(objects: &[Vec<u8>], out: &Path, opts: &BuildOptions) -> Result<()> {
    // Before the runtime, whose first build needs the same C toolchain.
    let linker = link::find_linker(&opts.target)?;
    let runtime = runtime::library(&opts.target)?;
    let dir = tempfile::Builder::new()
        .prefix("wafer-build-")
        .tempdir()
        .context("creating a temporary directory")?;
    let mut paths = Vec::with_capacity(objects.len());
    for (i, bytes) in objects.iter().enumerate() {
        let path = dir.path().join(format!("part{i}.o"));
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        paths.push(path);
    }
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    link::link(
        &opts.target,
        &linker,
        &refs,
        &runtime,
        out,
        opts.static_link,
    )
}

/// The WAT parser's message with its location, without the quoted source lines.
fn one_line(message: &str) -> String {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim();
    match lines.find_map(|l| l.trim().strip_prefix("--> ")) {
        Some(location) => format!("{first} at {location}"),
        None => first.to_string(),
    }
}
