//! A WIT function's *shape*: its parameter and result types written out structurally, with
//! every name erased (`func(borrow, u32) -> result<record{list<u8>, list<record{u32, enum7}>}, enum13>`).
//!
//! Two functions with one shape cross the canonical ABI identically. When one import name has
//! been published with two different types (WASI-USB's `await-transfer` changed without a
//! version bump), the core signatures can still be equal; the shape tells them apart, so the
//! build binds the implementation of the type the guest was built against.

use wit_parser::{Function, Handle, Resolve, Type, TypeDefKind};

pub fn shape(r: &Resolve, f: &Function) -> String {
    let params: Vec<String> = f.params.iter().map(|p| ty(r, &p.ty)).collect();
    let mut s = format!("func({})", params.join(", "));
    if let Some(t) = &f.result {
        s.push_str(" -> ");
        s.push_str(&ty(r, t));
    }
    s
}

fn list(r: &Resolve, tys: impl IntoIterator<Item = Type>) -> String {
    tys.into_iter()
        .map(|t| ty(r, &t))
        .collect::<Vec<_>>()
        .join(", ")
}

fn opt(r: &Resolve, t: &Option<Type>) -> String {
    t.as_ref().map_or("_".into(), |t| ty(r, t))
}

fn ty(r: &Resolve, t: &Type) -> String {
    match t {
        Type::Id(id) => match &r.types[*id].kind {
            TypeDefKind::Type(t) => ty(r, t),
            TypeDefKind::Record(rec) => {
                format!("record{{{}}}", list(r, rec.fields.iter().map(|f| f.ty)))
            }
            TypeDefKind::Tuple(tu) => format!("tuple<{}>", list(r, tu.types.iter().copied())),
            TypeDefKind::Variant(v) => format!(
                "variant{{{}}}",
                v.cases
                    .iter()
                    .map(|c| opt(r, &c.ty))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Enum(e) => format!("enum{}", e.cases.len()),
            TypeDefKind::Flags(f) => format!("flags{}", f.flags.len()),
            TypeDefKind::Option(t) => format!("option<{}>", ty(r, t)),
            TypeDefKind::Result(res) => {
                format!("result<{}, {}>", opt(r, &res.ok), opt(r, &res.err))
            }
            TypeDefKind::List(t) => format!("list<{}>", ty(r, t)),
            TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", ty(r, t)),
            TypeDefKind::Map(k, v) => format!("map<{}, {}>", ty(r, k), ty(r, v)),
            TypeDefKind::Handle(Handle::Own(_)) => "own".into(),
            TypeDefKind::Handle(Handle::Borrow(_)) => "borrow".into(),
            TypeDefKind::Resource => "own".into(),
            TypeDefKind::Future(t) => format!("future<{}>", opt(r, t)),
            TypeDefKind::Stream(t) => format!("stream<{}>", opt(r, t)),
            TypeDefKind::Unknown => "unknown".into(),
        },
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
    }
}

/// The shapes of the functions a guest imports, by (import module, function name), from the
/// WIT it carries: a component's own types, or the `component-type` custom sections that
/// wit-bindgen embeds in a core module. Anything undecodable is skipped: the build then binds
/// by name and core signature alone.
pub fn guest_shapes(wasm: &[u8]) -> Vec<((String, String), String)> {
    let mut out = Vec::new();
    if wasmparser::Parser::is_component(wasm) {
        if let Ok(wit_parser::decoding::DecodedWasm::Component(r, world)) =
            wit_parser::decoding::decode(wasm)
        {
            world_shapes(&r, world, &mut out);
        }
        return out;
    }
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        if let wasmparser::Payload::CustomSection(c) = payload {
            if c.name().starts_with("component-type") {
                if let Ok((r, world)) = wit_parser::decoding::decode_world(c.data()) {
                    world_shapes(&r, world, &mut out);
                }
            }
        }
    }
    out
}

fn world_shapes(
    r: &Resolve,
    world: wit_parser::WorldId,
    out: &mut Vec<((String, String), String)>,
) {
    for (key, item) in &r.worlds[world].imports {
        match item {
            wit_parser::WorldItem::Interface { id, .. } => {
                let module = r.name_world_key(key);
                for (name, f) in &r.interfaces[*id].functions {
                    out.push(((module.clone(), name.clone()), shape(r, f)));
                }
            }
            wit_parser::WorldItem::Function(f) => {
                out.push((("$root".to_string(), f.name.clone()), shape(r, f)));
            }
            wit_parser::WorldItem::Type { .. } => {}
        }
    }
}

/// A function a guest exports, as its embedded WIT declares it.
pub struct GuestExport {
    /// The core export (`get-temperature`, or `pkg:name/iface@1.0.0#f` for an interface's).
    pub core_name: String,
    pub params: Vec<(String, wafer_abi::invoke::WaveType)>,
    pub result: Option<wafer_abi::invoke::WaveType>,
}

/// The functions a core module's embedded WIT (its `component-type` sections) says it
/// exports; a type wafer cannot describe is an `Err` naming it, in place of that export.
pub fn guest_exports(wasm: &[u8]) -> Vec<Result<GuestExport, String>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        let wasmparser::Payload::CustomSection(c) = payload else {
            continue;
        };
        if !c.name().starts_with("component-type") {
            continue;
        }
        let Ok((r, world)) = wit_parser::decoding::decode_world(c.data()) else {
            continue;
        };
        for (key, item) in &r.worlds[world].exports {
            match item {
                wit_parser::WorldItem::Function(f) => out.push(export(&r, f.name.clone(), f)),
                wit_parser::WorldItem::Interface { id, .. } => {
                    let iface = r.name_world_key(key);
                    for (name, f) in &r.interfaces[*id].functions {
                        out.push(export(&r, format!("{iface}#{name}"), f));
                    }
                }
                wit_parser::WorldItem::Type { .. } => {}
            }
        }
    }
    out
}

fn export(r: &Resolve, core_name: String, f: &Function) -> Result<GuestExport, String> {
    let params = f
        .params
        .iter()
        .map(|p| Ok((p.name.clone(), wave(r, &p.ty)?)))
        .collect::<Result<_, String>>()
        .map_err(|e| format!("{core_name}: {e}"))?;
    let result = match &f.result {
        Some(t) => Some(wave(r, t).map_err(|e| format!("{core_name}: {e}"))?),
        None => None,
    };
    Ok(GuestExport {
        core_name,
        params,
        result,
    })
}

/// A WIT type with its names, as an invocation parses and prints it.
fn wave(r: &Resolve, t: &Type) -> Result<wafer_abi::invoke::WaveType, String> {
    use wafer_abi::invoke::WaveType as W;
    let boxed = |t: &Option<Type>| -> Result<Option<Box<W>>, String> {
        t.as_ref().map(|t| wave(r, t).map(Box::new)).transpose()
    };
    Ok(match t {
        Type::Bool => W::Bool,
        Type::U8 => W::U8,
        Type::U16 => W::U16,
        Type::U32 => W::U32,
        Type::U64 => W::U64,
        Type::S8 => W::S8,
        Type::S16 => W::S16,
        Type::S32 => W::S32,
        Type::S64 => W::S64,
        Type::F32 => W::F32,
        Type::F64 => W::F64,
        Type::Char => W::Char,
        Type::String => W::String,
        Type::ErrorContext => return Err("error-context values cannot be passed".into()),
        Type::Id(id) => match &r.types[*id].kind {
            TypeDefKind::Type(t) => wave(r, t)?,
            TypeDefKind::Record(rec) => W::Record(
                rec.fields
                    .iter()
                    .map(|f| Ok((f.name.clone(), wave(r, &f.ty)?)))
                    .collect::<Result<_, String>>()?,
            ),
            TypeDefKind::Tuple(tu) => W::Tuple(
                tu.types
                    .iter()
                    .map(|t| wave(r, t))
                    .collect::<Result<_, _>>()?,
            ),
            TypeDefKind::Variant(v) => W::Variant(
                v.cases
                    .iter()
                    .map(|c| Ok((c.name.clone(), boxed(&c.ty)?.map(|b| *b))))
                    .collect::<Result<_, String>>()?,
            ),
            TypeDefKind::Enum(e) => W::Enum(e.cases.iter().map(|c| c.name.clone()).collect()),
            TypeDefKind::Flags(f) if f.flags.len() <= 32 => {
                W::Flags(f.flags.iter().map(|c| c.name.clone()).collect())
            }
            TypeDefKind::Option(t) => W::Option(Box::new(wave(r, t)?)),
            TypeDefKind::Result(res) => W::Result(boxed(&res.ok)?, boxed(&res.err)?),
            TypeDefKind::List(t) => W::List(Box::new(wave(r, t)?)),
            TypeDefKind::Handle(Handle::Own(res) | Handle::Borrow(res)) => {
                W::Handle(resource_name(r, *res))
            }
            other => return Err(format!("{} values cannot be passed", other.as_str())),
        },
    })
}

fn resource_name(r: &Resolve, mut id: wit_parser::TypeId) -> String {
    while let TypeDefKind::Type(Type::Id(t)) = r.types[id].kind {
        id = t;
    }
    r.types[id].name.clone().unwrap_or_default()
}
