//! `wafer inspect`: what a module imports (and whether wafer provides it), exports and declares;
//! or, for an executable `wafer build` made, what it was granted.

use anyhow::{Context, Result};
use std::fmt::Write;
use std::path::Path;
use wafer_abi::capabilities::{self, Capabilities, EnvGrant, NetGrant};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// The report for a file: a built executable (recognised by its ELF header) or a module.
pub fn describe_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"\x7fELF") {
        return describe_executable(&bytes)
            .with_context(|| format!("inspecting {}", path.display()));
    }
    describe(&crate::wasm_from_bytes(&bytes, path)?)
}

/// The capabilities stored in an executable, found by section name so a stripped executable
/// reports them too.
pub fn executable_capabilities(elf: &[u8]) -> Result<Capabilities> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).context("malformed executable")?;
    let section = file
        .section_by_name(capabilities::SECTION)
        .with_context(|| {
            format!(
                "no {} section: not an executable built by this version of wafer",
                capabilities::SECTION
            )
        })?;
    let data = section.data().context("reading the capabilities section")?;
    // The compiler pads an empty set to one NUL byte.
    let data = if data == [0] { &[][..] } else { data };
    capabilities::decode(data).map_err(|e| anyhow::anyhow!("capabilities: {e}"))
}

/// A human-readable report of what a built executable may reach.
pub fn describe_executable(elf: &[u8]) -> Result<String> {
    use object::Object;
    let caps = executable_capabilities(elf)?;
    let arch = object::File::parse(elf)
        .map(|f| format!("{:?}", f.architecture()).to_lowercase())
        .unwrap_or_default();
    let mut out = format_capabilities(&arch, &caps);
    let _ = writeln!(out, "WASI: {}", wasi_implementation(elf)?);
    Ok(out)
}

/// Which WASI implementation an executable carries, from its plan (a `--wasi-over-wali`
/// build's names the channel's client).
fn wasi_implementation(elf: &[u8]) -> Result<&'static str> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).context("malformed executable")?;
    let Some(section) = file.section_by_name(wafer_abi::component::SECTION) else {
        return Ok("preview1 by the runtime's native host functions");
    };
    let data = section.data().context("reading the plan section")?;
    // A driver's entry pads its empty plan to one NUL byte.
    if data == [0] {
        return Ok("preview1 by the runtime's native host functions");
    }
    let plan = wafer_abi::component::Plan::decode(data).map_err(anyhow::Error::msg)?;
    Ok(if plan.channel_client.is_some() {
        "preview1 by wafer's WASI module, wasm over WALI (--wasi-over-wali): no native WASI host \
         functions, and the kernel sandbox of a WALI program applies"
    } else {
        "0.2 by the runtime's native host functions (a component)"
    })
}

fn format_capabilities(arch: &str, caps: &Capabilities) -> String {
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = String::new();
    let _ = writeln!(out, "wafer executable ({arch})");
    let _ = writeln!(out, "directories ({}):", caps.dirs.len());
    for d in &caps.dirs {
        let _ = writeln!(
            out,
            "  {}  ->  {}  [{}]",
            show(&d.guest),
            show(&d.host),
            if d.read_only {
                "read-only"
            } else {
                "read-write"
            }
        );
    }
    let _ = writeln!(out, "environment ({}):", caps.env.len());
    for e in &caps.env {
        match e {
            EnvGrant::Fixed { key, value } => {
                let _ = writeln!(out, "  {}={}", show(key), show(value));
            }
            EnvGrant::Pass { key } => {
                let _ = writeln!(out, "  {}  (passed from where it runs)", show(key));
            }
        }
    }
    let _ = writeln!(out, "i2c buses ({}):", caps.i2c.len());
    for g in &caps.i2c {
        let _ = writeln!(
            out,
            "  {}  ->  {}  addresses {}  [{}]",
            show(&g.label),
            show(&g.device),
            capabilities::format_addresses(&g.addresses),
            if g.read_only {
                "read-only"
            } else {
                "read-write"
            }
        );
    }
    let _ = writeln!(out, "usb devices ({}):", caps.usb.len());
    for g in &caps.usb {
        let list = |l: &Option<Vec<u8>>, hex: bool| match l {
            None => "all".to_string(),
            Some(l) if hex => capabilities::format_addresses(l),
            Some(l) => l.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
        };
        let _ = writeln!(
            out,
            "  {:04x}:{:04x}  interfaces {}  endpoints {}",
            g.vendor,
            g.product,
            list(&g.interfaces, false),
            list(&g.endpoints, true)
        );
    }
    let _ = writeln!(out, "network, for WALI programs ({}):", caps.net.len());
    for g in &caps.net {
        let what = match g {
            NetGrant::TcpConnect(_) => "TCP connections to these ports, on any host",
            NetGrant::TcpBind(_) => "listening on these TCP ports",
            NetGrant::Unix => "Unix-domain sockets",
            NetGrant::All => "every socket the user could open",
        };
        let _ = writeln!(out, "  {}  ({what})", capabilities::format_net(g));
    }
    let _ = writeln!(
        out,
        "WALI: {}",
        if caps.wali_unrestricted {
            "unrestricted (the user's full authority)"
        } else {
            "kernel sandbox (Landlock and seccomp): these grants only"
        }
    );
    if !caps.dirs.is_empty() {
        let _ = writeln!(
            out,
            "granted directories can be re-pointed when it runs: {}=<guest>=<host path>[,...]",
            capabilities::DIR_MAP_ENV
        );
    }
    out
}

/// How inspect names what `wafer build` refuses in a module: WebAssembly features it does not
/// compile.
fn refusal_line(features: &str) -> String {
    format!("refused by wafer build: {features} (WebAssembly features wafer does not compile)")
}

/// How inspect marks a shared memory (threads proposal).
fn sharing(shared: bool) -> &'static str {
    if shared {
        ", shared between threads"
    } else {
        ""
    }
}

/// A human-readable report of a module's interface.
pub fn describe(wasm: &[u8]) -> Result<String> {
    if wafer_compiler::component::is_component(wasm) {
        return describe_component(wasm);
    }
    let mut types = Vec::new();
    let mut out = String::new();
    let shapes = wafer_compiler::import_shapes(wasm);
    let mut worlds = Vec::new();
    let (mut imports, mut exports, mut memories, mut tables) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut missing = 0;
    let mut defined_funcs = 0;
    let (mut wali_implemented, mut wali_enosys) = (Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("malformed wasm")? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.context("malformed type section")?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("malformed import section")?;
                    let (what, provided) = match import.ty {
                        TypeRef::Func(t) => {
                            let sig = types
                                .get(t as usize)
                                .map(|ty: &wasmparser::FuncType| ty.to_string())
                                .unwrap_or_default();
                            let shape = shapes.get(&(import.module.into(), import.name.into()));
                            (
                                format!("func {sig}"),
                                host_status(
                                    import.module,
                                    import.name,
                                    types.get(t as usize),
                                    shape,
                                ),
                            )
                        }
                        TypeRef::Memory(m) => {
                            // The one memory import a driver may have: the runtime creates it.
                            let provided =
                                (import.module, import.name) == wafer_abi::DRIVER_MEMORY_IMPORT;
                            memories.push(format!(
                                "  memory {} pages (64 KiB each){}, imported (created by wafer)",
                                limits(m.initial, m.maximum),
                                sharing(m.shared)
                            ));
                            (
                                format!(
                                    "memory {}{}",
                                    limits(m.initial, m.maximum),
                                    sharing(m.shared)
                                ),
                                if provided { "provided" } else { "not provided" },
                            )
                        }
                        TypeRef::Table(t) => (
                            format!("table {}", limits(t.initial, t.maximum)),
                            "not provided",
                        ),
                        TypeRef::Global(g) => {
                            (format!("global {}", g.content_type), "not provided")
                        }
                        _ => ("tag".into(), "not provided"),
                    };
                    if import.module == wafer_abi::wali::MODULE {
                        if let Some(name) = import.name.strip_prefix("SYS_") {
                            match provided {
                                "provided" => wali_implemented.push(name.to_string()),
                                "answers -ENOSYS" => wali_enosys.push(name.to_string()),
                                _ => {}
                            }
                        }
                    }
                    if provided != "provided" && provided != "answers -ENOSYS" {
                        missing += 1;
                    }
                    let shape = shapes.get(&(import.module.into(), import.name.into()));
                    imports.push(format!(
                        "  {}::{}  {what}  [{provided}{}]",
                        import.module,
                        import.name,
                        revision_note(import.module, import.name, shape)
                    ));
                }
            }
            Payload::FunctionSection(reader) => defined_funcs = reader.count(),
            Payload::CustomSection(c) => {
                // wit-bindgen names the section after the world the module was built against:
                // `component-type:<generator>:<version>:<package>:<world>:encoded world`.
                if let Some(rest) = c.name().strip_prefix("component-type:") {
                    let parts: Vec<&str> = rest.split(':').collect();
                    if let [.., ns, pkg, world, _] = parts.as_slice() {
                        worlds.push(format!("  {ns}:{pkg} world {world}"));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for m in reader {
                    let m = m.context("malformed memory section")?;
                    memories.push(format!(
                        "  memory {} pages (64 KiB each){}",
                        limits(m.initial, m.maximum),
                        sharing(m.shared)
                    ));
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t.context("malformed table section")?;
                    tables.push(format!(
                        "  table {} {}",
                        t.ty.element_type,
                        limits(t.ty.initial, t.ty.maximum)
                    ));
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.context("malformed export section")?;
                    let kind = match e.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => "func",
                        ExternalKind::Table => "table",
                        ExternalKind::Memory => "memory",
                        ExternalKind::Global => "global",
                        ExternalKind::Tag => "tag",
                    };
                    exports.push(format!("  {kind} {}", e.name));
                }
            }
            _ => {}
        }
    }
    let section = |out: &mut String, title: &str, lines: &[String]| {
        let _ = writeln!(out, "{title} ({}):", lines.len());
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    };
    // First, so it is not missed: nothing else in the report matters to a build that refuses.
    if let Some(features) = wafer_compiler::unsupported_features(wasm) {
        let _ = writeln!(out, "{}", refusal_line(&features));
    }
    section(&mut out, "imports", &imports);
    let _ = writeln!(
        out,
        "  {}",
        if missing == 0 {
            "every import is provided by wafer".to_string()
        } else {
            format!(
                "{missing} import(s) not provided by wafer: `wafer build` will refuse this module"
            )
        }
    );
    if !wali_implemented.is_empty() || !wali_enosys.is_empty() {
        let _ = writeln!(
            out,
            "WALI program: {} syscalls imported, {} implemented, {} answered with -ENOSYS{}{}",
            wali_implemented.len() + wali_enosys.len(),
            wali_implemented.len(),
            wali_enosys.len(),
            if wali_enosys.is_empty() { "" } else { ": " },
            wali_enosys.join(", ")
        );
    }
    if !worlds.is_empty() {
        section(&mut out, "embedded WIT worlds", &worlds);
    }
    section(&mut out, "exports", &exports);
    section(&mut out, "memories", &memories);
    section(&mut out, "tables", &tables);
    let _ = writeln!(
        out,
        "functions: {defined_funcs} defined, {} imported",
        imports.len()
    );
    Ok(out)
}

/// A component's report: its WIT-level imports (each function with whether wafer provides
/// it), its exports, and the core modules inside.
fn describe_component(wasm: &[u8]) -> Result<String> {
    let s = wafer_compiler::component::summarize(wasm)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "component ({} core module{} inside)",
        s.modules.len(),
        if s.modules.len() == 1 { "" } else { "s" }
    );
    for (i, features) in &s.unsupported {
        let _ = writeln!(out, "{}, in core module {i}", refusal_line(features));
    }
    let bound = |module: &str, name: &str| {
        s.host_functions
            .iter()
            .find(|(h, _)| h.module == module && h.name == name)
    };
    let status = |module: &str, name: &str| match bound(module, name) {
        Some((_, Some(true))) => "provided",
        Some((_, Some(false))) => "provided with another signature",
        Some((_, None)) => "not provided",
        None => match wafer_abi::host_func(module, name) {
            Some(_) => "provided (not used)",
            None => "not used",
        },
    };
    let _ = writeln!(out, "imports ({}):", s.imports.len());
    let mut missing = 0;
    for (name, funcs) in &s.imports {
        let _ = writeln!(out, "  {name}");
        for f in funcs {
            let st = status(name, f);
            if st == "not provided" || st == "provided with another signature" {
                missing += 1;
            }
            let shape = bound(name, f).and_then(|(h, _)| h.shape.as_ref());
            let _ = writeln!(out, "    {f}  [{st}{}]", revision_note(name, f, shape));
        }
    }
    // Resource drops are bound to the host too, without being functions of the interface.
    for (h, st) in &s.host_functions {
        if h.name.starts_with("[resource-drop]") && st.is_none() {
            missing += 1;
            let _ = writeln!(out, "  {} {}  [not provided]", h.module, h.name);
        }
    }
    match &s.refusal {
        None => {
            let _ = writeln!(out, "  every import used is provided by wafer");
        }
        Some(why) => {
            let _ = writeln!(
                out,
                "  `wafer build` will refuse this component{}: {why}",
                if missing > 0 {
                    format!(" ({missing} function(s) not provided)")
                } else {
                    String::new()
                }
            );
        }
    }
    let _ = writeln!(out, "exports ({}):", s.exports.len());
    for (name, kind) in &s.exports {
        let _ = writeln!(out, "  {kind} {name}");
    }
    let _ = writeln!(out, "core modules ({}):", s.modules.len());
    for (i, (size, imports, exports)) in s.modules.iter().enumerate() {
        let _ = writeln!(
            out,
            "  module {i}: {size} bytes, {imports} imports, {exports} exports"
        );
    }
    Ok(out)
}

/// A function type as the contract's value-type codes (`u8::MAX` for what has none).
pub(crate) fn type_codes(ty: &wasmparser::FuncType) -> (Vec<u8>, Vec<u8>) {
    let code = |v: &wasmparser::ValType| match v {
        wasmparser::ValType::I32 => wafer_abi::valtype::I32,
        wasmparser::ValType::I64 => wafer_abi::valtype::I64,
        wasmparser::ValType::F32 => wafer_abi::valtype::F32,
        wasmparser::ValType::F64 => wafer_abi::valtype::F64,
        _ => u8::MAX,
    };
    (
        ty.params().iter().map(code).collect(),
        ty.results().iter().map(code).collect(),
    )
}

/// How `wafer build` binds a `wali` import, in inspect's words.
fn wali_status(name: &str, ty: Option<&wasmparser::FuncType>) -> &'static str {
    use wafer_abi::wali::{bind, BindError, Binding};
    let Some(ty) = ty else { return "not provided" };
    let (params, results) = type_codes(ty);
    match bind(name, &params, &results) {
        Ok(Binding::Syscall { .. } | Binding::Aux(_)) => "provided",
        Ok(Binding::Enosys) => "answers -ENOSYS",
        Err(BindError::Signature { .. }) => "provided with another signature",
        Err(BindError::Unknown) => "not provided",
    }
}

/// For an import the runtime implements in two revisions of different types (WASI-USB's
/// `await-transfer`), which one binds and why; empty otherwise.
fn revision_note(module: &str, name: &str, shape: Option<&String>) -> String {
    let all: Vec<_> = wafer_abi::host_funcs_for(module, name).collect();
    if all.iter().all(|f| f.shape == all[0].shape) {
        return String::new();
    }
    let Ok(Some(chosen)) = wafer_compiler::host_func_shaped(module, name, shape) else {
        return String::new();
    };
    let revision = if chosen.edition.is_empty() {
        "the original revision".to_string()
    } else {
        format!("revision {}", chosen.edition)
    };
    match shape {
        Some(_) => format!(": {revision}, as the guest's embedded WIT declares"),
        None => format!(": {revision}, the default (the guest embeds no WIT for it)"),
    }
}

fn host_status(
    module: &str,
    name: &str,
    ty: Option<&wasmparser::FuncType>,
    shape: Option<&String>,
) -> &'static str {
    if module == wafer_abi::wali::MODULE {
        return wali_status(name, ty);
    }
    // Where one name has several implementations, the type the guest's embedded WIT declares
    // picks one (as `wafer build` does).
    let Ok(found) = wafer_compiler::host_func_shaped(module, name, shape) else {
        return "provided for another WIT type";
    };
    let Some(host) = found else {
        return "not provided";
    };
    let Some(ty) = ty else { return "not provided" };
    let (params, results) = type_codes(ty);
    if params == host.params && results == host.results {
        "provided"
    } else {
        "provided with another signature"
    }
}

fn limits<T: std::fmt::Display>(initial: T, maximum: Option<T>) -> String {
    match maximum {
        Some(max) => format!("{initial}..{max}"),
        None => format!("{initial}.."),
    }
}
