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
