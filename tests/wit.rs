//! The WIT packages in `wit/` parse, and say to the letter what the public proposals and
//! wafer's runtime (`wafer_abi::host_func`) say: names, types, and import modules.

use std::path::Path;

use wit_parser::{Resolve, Type, TypeDefKind, WorldItem, WorldKey};

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_dir(&dir).expect("wit/ parses");
    (resolve, pkg)
}

fn interface<'a>(r: &'a Resolve, pkg: &str, name: &str) -> &'a wit_parser::Interface {
    let (_, p) = r
        .packages
        .iter()
        .find(|(_, p)| p.name.to_string() == pkg)
        .unwrap_or_else(|| panic!("package {pkg}"));
    &r.interfaces[p.interfaces[name]]
}

fn type_text(r: &Resolve, ty: &Type) -> String {
    match ty {
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::String => "string".into(),
        Type::Id(id) => {
            let def = &r.types[*id];
            match &def.kind {
                TypeDefKind::List(t) => format!("list<{}>", type_text(r, t)),
                TypeDefKind::Result(res) => format!(
                    "result<{}, {}>",
                    res.ok.as_ref().map_or("_".into(), |t| type_text(r, t)),
                    res.err.as_ref().map_or("_".into(), |t| type_text(r, t))
                ),
                TypeDefKind::Handle(wit_parser::Handle::Own(t)) => {
                    r.types[*t].name.clone().unwrap()
                }
                TypeDefKind::Handle(wit_parser::Handle::Borrow(t)) => {
                    format!("borrow<{}>", r.types[*t].name.clone().unwrap())
                }
                TypeDefKind::Type(t) => def.name.clone().unwrap_or_else(|| type_text(r, t)),
                _ => def.name.clone().expect("named type"),
            }
        }
        other => format!("{other:?}"),
    }
}

fn signature(r: &Resolve, f: &wit_parser::Function) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, type_text(r, &p.ty)))
        .collect();
    let result = f
        .result
        .as_ref()
        .map_or(String::new(), |t| format!(" -> {}", type_text(r, t)));
    format!("{}({}){result}", f.name, params.join(", "))
}

#[test]
fn wasi_i2c_matches_the_proposal() {
    let (r, _) = resolve();
    let i2c = interface(&r, "wasi:i2c@0.2.0-draft", "i2c");
    let ty = |name: &str| &r.types[i2c.types[name]];
    match &ty("address").kind {
        TypeDefKind::Type(Type::U16) => {}
        k => panic!("address is {k:?}"),
    }
    match &ty("no-acknowledge-source").kind {
        TypeDefKind::Enum(e) => {
            let names: Vec<_> = e.cases.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["address", "data", "unknown"]);
        }
        k => panic!("{k:?}"),
    }
    match &ty("error-code").kind {
        TypeDefKind::Variant(v) => {
            let cases: Vec<_> = v
                .cases
                .iter()
                .map(|c| (c.name.as_str(), c.ty.as_ref().map(|t| type_text(&r, t))))
                .collect();
            assert_eq!(
                cases,
                [
                    ("bus", None),
                    ("arbitration-loss", None),
                    ("no-acknowledge", Some("no-acknowledge-source".into())),
                    ("overrun", None),
                    ("other", None)
                ]
            );
        }
        k => panic!("{k:?}"),
    }
    match &ty("operation").kind {
        TypeDefKind::Variant(v) => {
            let cases: Vec<_> = v
                .cases
                .iter()
                .map(|c| (c.name.as_str(), c.ty.as_ref().map(|t| type_text(&r, t))))
                .collect();
            assert_eq!(
                cases,
                [
                    ("read", Some("u64".into())),
                    ("write", Some("list<u8>".into()))
                ]
            );
        }
        k => panic!("{k:?}"),
    }
    let mut methods: Vec<String> = i2c.functions.values().map(|f| signature(&r, f)).collect();
    methods.sort();
    assert_eq!(
        methods,
        [
            "[method]i2c.read(self: borrow<i2c>, address: address, len: u64) -> result<list<u8>, error-code>",
            "[method]i2c.transaction(self: borrow<i2c>, address: address, operations: list<operation>) -> result<list<list<u8>>, error-code>",
            "[method]i2c.write(self: borrow<i2c>, address: address, data: list<u8>) -> result<_, error-code>",
            "[method]i2c.write-read(self: borrow<i2c>, address: address, write: list<u8>, read-len: u64) -> result<list<u8>, error-code>",
        ]
    );
    let delay = interface(&r, "wasi:i2c@0.2.0-draft", "delay");
    let sigs: Vec<String> = delay.functions.values().map(|f| signature(&r, f)).collect();
    assert_eq!(
        sigs,
        ["[method]delay.delay-ns(self: borrow<delay>, ns: u32)"]
    );
}

#[test]
fn worlds_import_what_the_runtime_provides() {
    let (r, pkg) = resolve();
    let world_of = |pkg_name: &str, world: &str| {
        let (_, p) = r
            .packages
            .iter()
            .find(|(_, p)| p.name.to_string() == pkg_name)
            .unwrap();
        &r.worlds[p.worlds[world]]
    };
    let imports = |w: &wit_parser::World| -> Vec<String> {
        w.imports
            .iter()
            .filter_map(|(k, item)| match (k, item) {
                (WorldKey::Interface(id), WorldItem::Interface { .. }) => r.id_of(*id),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        imports(world_of("wasi:i2c@0.2.0-draft", "imports")),
        ["wasi:i2c/i2c@0.2.0-draft", "wasi:i2c/delay@0.2.0-draft"]
    );
    assert_eq!(r.packages[pkg].name.to_string(), "wafer:hal@0.1.0");
    let driver = imports(world_of("wafer:hal@0.1.0", "driver"));
    assert_eq!(
        driver,
        [
            "wasi:i2c/i2c@0.2.0-draft",
            "wasi:i2c/delay@0.2.0-draft",
            "wafer:hal/buses@0.1.0"
        ]
    );
    // Every import module of the driver world is one the runtime serves.
    for module in &driver {
        assert!(wafer_abi::is_host_module(module), "{module}");
    }
    let buses = interface(&r, "wafer:hal@0.1.0", "buses");
    let mut sigs: Vec<String> = buses.functions.values().map(|f| signature(&r, f)).collect();
    sigs.sort();
    assert_eq!(
        sigs,
        [
            "open-delay() -> delay",
            "open-i2c(label: string) -> result<i2c, open-error>"
        ]
    );
    for f in buses.functions.keys() {
        assert!(
            wafer_abi::host_func("wafer:hal/buses@0.1.0", f).is_some(),
            "{f}"
        );
    }
    for f in interface(&r, "wasi:i2c@0.2.0-draft", "i2c")
        .functions
        .keys()
    {
        assert!(
            wafer_abi::host_func("wasi:i2c/i2c@0.2.0-draft", f).is_some(),
            "{f}"
        );
    }
}

fn cases(r: &Resolve, iface: &wit_parser::Interface, name: &str) -> Vec<String> {
    match &r.types[iface.types[name]].kind {
        TypeDefKind::Enum(e) => e.cases.iter().map(|c| c.name.clone()).collect(),
        TypeDefKind::Flags(f) => f.flags.iter().map(|c| c.name.clone()).collect(),
        TypeDefKind::Record(rec) => rec
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.name, type_text(r, &f.ty)))
            .collect(),
        TypeDefKind::Variant(v) => v
            .cases
            .iter()
            .map(|c| match &c.ty {
                Some(t) => format!("{}({})", c.name, type_text(r, t)),
                None => c.name.clone(),
            })
            .collect(),
        k => panic!("{name} is {k:?}"),
    }
}

fn usb_type_text(r: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Id(id) => match &r.types[*id].kind {
            TypeDefKind::List(t) => format!("list<{}>", usb_type_text(r, t)),
            TypeDefKind::Tuple(t) => format!(
                "tuple<{}>",
                t.types
                    .iter()
                    .map(|t| usb_type_text(r, t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeDefKind::Result(res) => format!(
                "result<{}, {}>",
                res.ok.as_ref().map_or("_".into(), |t| usb_type_text(r, t)),
                res.err.as_ref().map_or("_".into(), |t| usb_type_text(r, t))
            ),
            _ => type_text(r, ty),
        },
        _ => type_text(r, ty),
    }
}

fn usb_signatures(r: &Resolve, iface: &wit_parser::Interface) -> Vec<String> {
    let mut sigs: Vec<String> = iface
        .functions
        .values()
        .map(|f| {
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, usb_type_text(r, &p.ty)))
                .collect();
            let result = f
                .result
                .as_ref()
                .map_or(String::new(), |t| format!(" -> {}", usb_type_text(r, t)));
            format!("{}({}){result}", f.name, params.join(", "))
        })
        .collect();
    sigs.sort();
    sigs
}

const USB: &str = "component:usb@0.2.1";

#[test]
fn component_usb_types_match_the_proposal() {
    let (r, _) = resolve();
    let errors = interface(&r, USB, "errors");
    assert_eq!(
        cases(&r, errors, "libusb-error"),
        [
            "io",
            "invalid-param",
            "access",
            "no-device",
            "not-found",
            "busy",
            "timeout",
            "overflow",
            "pipe",
            "interrupted",
            "no-mem",
            "not-supported",
            "other"
        ]
    );
    let configuration = interface(&r, USB, "configuration");
    assert_eq!(
        cases(&r, configuration, "config-value"),
        ["unconfigured", "value(u8)"]
    );
    let d = interface(&r, USB, "descriptors");
    assert_eq!(
        cases(&r, d, "device-descriptor"),
        [
            "length: u8",
            "descriptor-type: u8",
            "usb-version-bcd: u16",
            "device-class: u8",
            "device-subclass: u8",
            "device-protocol: u8",
            "max-packet-size0: u8",
            "vendor-id: u16",
            "product-id: u16",
            "device-version-bcd: u16",
            "manufacturer-index: u8",
            "product-index: u8",
            "serial-number-index: u8",
            "num-configurations: u8"
        ]
    );
    assert_eq!(
        cases(&r, d, "configuration-descriptor"),
        [
            "length: u8",
            "descriptor-type: u8",
            "total-length: u16",
            "interfaces: list<interface-descriptor>",
            "configuration-value: u8",
            "configuration-index: u8",
            "attributes: u8",
            "max-power: u8"
        ]
    );
    assert_eq!(
        cases(&r, d, "interface-descriptor"),
        [
            "length: u8",
            "descriptor-type: u8",
            "interface-number: u8",
            "alternate-setting: u8",
            "endpoints: list<endpoint-descriptor>",
            "interface-class: u8",
            "interface-subclass: u8",
            "interface-protocol: u8",
            "interface-index: u8"
        ]
    );
    assert_eq!(
        cases(&r, d, "endpoint-descriptor"),
        [
            "length: u8",
            "descriptor-type: u8",
            "endpoint-address: u8",
            "attributes: u8",
            "max-packet-size: u16",
            "interval: u8",
            "refresh: u8",
            "synch-address: u8"
        ]
    );
    let t = interface(&r, USB, "transfers");
    assert_eq!(
        cases(&r, t, "transfer-type"),
        ["control", "bulk", "interrupt", "isochronous"]
    );
    assert_eq!(
        cases(&r, t, "transfer-setup"),
        [
            "bm-request-type: u8",
            "b-request: u8",
            "w-value: u16",
            "w-index: u16"
        ]
    );
    assert_eq!(
        cases(&r, t, "transfer-options"),
        [
            "endpoint: u8",
            "timeout-ms: u32",
            "stream-id: u32",
            "iso-packets: u32"
        ]
    );
    let dev = interface(&r, USB, "device");
    assert_eq!(
        cases(&r, dev, "usb-speed"),
        [
            "unknown",
            "low",
            "full",
            "high",
            "super",
            "super-plus",
            "super-plus-X2"
        ]
    );
    assert_eq!(
        cases(&r, dev, "device-location"),
        [
            "bus-number: u8",
            "device-address: u8",
            "port-number: u8",
            "speed: usb-speed"
        ]
    );
    let hot = interface(&r, USB, "usb-hotplug");
    assert_eq!(cases(&r, hot, "event"), ["arrived", "left"]);
    assert_eq!(
        cases(&r, hot, "info"),
        ["bus: u8", "address: u8", "vendor: u16", "product: u16"]
    );
}

#[test]
fn component_usb_functions_match_the_proposal_and_the_runtime() {
    let (r, _) = resolve();
    let e = "libusb-error";
    let transfers = interface(&r, USB, "transfers");
    assert_eq!(
        usb_signatures(&r, transfers),
        [
            format!("[method]transfer.cancel-transfer(self: borrow<transfer>) -> result<_, {e}>"),
            format!("[method]transfer.submit-transfer(self: borrow<transfer>, data: list<u8>) -> result<_, {e}>"),
            format!("await-transfer(xfer: transfer) -> result<list<u8>, {e}>"),
        ]
    );
    let device = interface(&r, USB, "device");
    let cd = "configuration-descriptor";
    let h = "self: borrow<device-handle>";
    let d = "self: borrow<usb-device>";
    assert_eq!(
        usb_signatures(&r, device),
        [
            format!("[method]device-handle.alloc-streams({h}, num-streams: u32, endpoints: list<u8>) -> result<_, {e}>"),
            format!("[method]device-handle.attach-kernel-driver({h}, ifac: u8) -> result<_, {e}>"),
            format!("[method]device-handle.claim-interface({h}, ifac: u8) -> result<_, {e}>"),
            format!("[method]device-handle.clear-halt({h}, endpoint: u8) -> result<_, {e}>"),
            format!("[method]device-handle.close({h})"),
            format!("[method]device-handle.detach-kernel-driver({h}, ifac: u8) -> result<_, {e}>"),
            format!("[method]device-handle.free-streams({h}, endpoints: list<u8>) -> result<_, {e}>"),
            format!("[method]device-handle.get-configuration({h}) -> result<u8, {e}>"),
            format!("[method]device-handle.kernel-driver-active({h}, ifac: u8) -> result<bool, {e}>"),
            format!("[method]device-handle.new-transfer({h}, xfer-type: transfer-type, setup: transfer-setup, buf-size: u32, opts: transfer-options) -> result<transfer, {e}>"),
            format!("[method]device-handle.release-interface({h}, ifac: u8) -> result<_, {e}>"),
            format!("[method]device-handle.reset-device({h}) -> result<_, {e}>"),
            format!("[method]device-handle.set-configuration({h}, config: config-value) -> result<_, {e}>"),
            format!("[method]device-handle.set-interface-altsetting({h}, ifac: u8, alt-setting: u8) -> result<_, {e}>"),
            format!("[method]usb-device.get-active-configuration-descriptor({d}) -> result<{cd}, {e}>"),
            format!("[method]usb-device.get-configuration-descriptor({d}, config-index: u8) -> result<{cd}, {e}>"),
            format!("[method]usb-device.get-configuration-descriptor-by-value({d}, config-value: u8) -> result<{cd}, {e}>"),
            format!("[method]usb-device.open({d}) -> result<device-handle, {e}>"),
            format!("init() -> result<_, {e}>"),
            format!("list-devices() -> result<list<tuple<usb-device, device-descriptor, device-location>>, {e}>"),
        ]
    );
    let hotplug = interface(&r, USB, "usb-hotplug");
    assert_eq!(
        usb_signatures(&r, hotplug),
        [
            format!("enable-hotplug() -> result<_, {e}>"),
            "poll-events() -> list<tuple<event, info, usb-device>>".to_string(),
        ]
    );

    // The world imports the six interfaces, and the runtime serves every function of them
    // (plus a drop per resource) under both package spellings.
    let (_, p) = r
        .packages
        .iter()
        .find(|(_, p)| p.name.to_string() == USB)
        .unwrap();
    let guest = &r.worlds[p.worlds["guest"]];
    let mut imported: Vec<String> = guest
        .imports
        .keys()
        .filter_map(|k| match k {
            WorldKey::Interface(id) => r.id_of(*id),
            _ => None,
        })
        .collect();
    imported.sort();
    assert_eq!(
        imported,
        [
            "component:usb/configuration@0.2.1",
            "component:usb/descriptors@0.2.1",
            "component:usb/device@0.2.1",
            "component:usb/errors@0.2.1",
            "component:usb/transfers@0.2.1",
            "component:usb/usb-hotplug@0.2.1"
        ]
    );
    for (iface, alias, resources) in [
        ("device", "device", &["usb-device", "device-handle"][..]),
        ("transfers", "transfers", &["transfer"][..]),
        ("usb-hotplug", "hotplug", &[][..]),
    ] {
        let names = interface(&r, USB, iface)
            .functions
            .keys()
            .cloned()
            .chain(resources.iter().map(|r| format!("[resource-drop]{r}")));
        for name in names {
            for module in [
                format!("component:usb/{iface}@0.2.1"),
                format!("wasi:usb/{alias}@0.2.1"),
            ] {
                assert!(
                    wafer_abi::is_host_module(&module)
                        && wafer_abi::host_func(&module, &name).is_some(),
                    "{module} {name}"
                );
            }
        }
    }
}

// ---- WASI 0.2 ---------------------------------------------------------------------------------

/// The WASI 0.2 packages whose interfaces the runtime implements in full (`wit/deps/wasi-*`;
/// `wasi:sockets` is there only because `wasi:cli`'s worlds import it).
const WASI_P2_PACKAGES: &[&str] = &["io", "cli", "clocks", "random", "filesystem", "sockets"];

/// Interfaces of those packages the runtime does not import from: `run` is the command's
/// export, which the runtime calls.
const WASI_P2_EXPORTS: &[&str] = &["wasi:cli/run"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Flat {
    I32,
    I64,
    F32,
    F64,
}

/// The flat core types of `ty`, by the canonical ABI's `flatten_type` (wasm32).
fn flatten(r: &Resolve, ty: &Type, out: &mut Vec<Flat>) {
    match ty {
        Type::Bool
        | Type::U8
        | Type::U16
        | Type::U32
        | Type::S8
        | Type::S16
        | Type::S32
        | Type::Char
        | Type::ErrorContext => out.push(Flat::I32),
        Type::U64 | Type::S64 => out.push(Flat::I64),
        Type::F32 => out.push(Flat::F32),
        Type::F64 => out.push(Flat::F64),
        Type::String => out.extend([Flat::I32, Flat::I32]),
        Type::Id(id) => match &r.types[*id].kind {
            TypeDefKind::Type(t) => flatten(r, t, out),
            TypeDefKind::List(_) => out.extend([Flat::I32, Flat::I32]),
            TypeDefKind::Record(rec) => rec.fields.iter().for_each(|f| flatten(r, &f.ty, out)),
            TypeDefKind::Tuple(t) => t.types.iter().for_each(|t| flatten(r, t, out)),
            TypeDefKind::Flags(f) => {
                out.extend(std::iter::repeat_n(Flat::I32, f.flags.len().div_ceil(32)))
            }
            TypeDefKind::Enum(_) | TypeDefKind::Handle(_) => out.push(Flat::I32),
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => out.push(Flat::I32),
            TypeDefKind::Option(t) => flatten_variant(r, &[None, Some(*t)], out),
            TypeDefKind::Result(res) => flatten_variant(r, &[res.ok, res.err], out),
            TypeDefKind::Variant(v) => {
                let cases: Vec<_> = v.cases.iter().map(|c| c.ty).collect();
                flatten_variant(r, &cases, out)
            }
            other => panic!("no flattening for {other:?}"),
        },
    }
}

/// A variant: the discriminant, then each position joined over the cases' flattenings.
fn flatten_variant(r: &Resolve, cases: &[Option<Type>], out: &mut Vec<Flat>) {
    let mut joined: Vec<Flat> = Vec::new();
    for case in cases.iter().flatten() {
        let mut flat = Vec::new();
        flatten(r, case, &mut flat);
        for (i, t) in flat.into_iter().enumerate() {
            match joined.get(i) {
                None => joined.push(t),
                Some(&j) if j == t => {}
                Some(&j) => {
                    let both32 = matches!((j, t), (Flat::I32, Flat::F32) | (Flat::F32, Flat::I32));
                    joined[i] = if both32 { Flat::I32 } else { Flat::I64 };
                }
            }
        }
    }
    out.push(Flat::I32);
    out.extend(joined);
}

/// The core signature of importing `f`: at most 16 flat parameters (else one pointer), at
/// most one flat result (else a return pointer appended to the parameters).
fn flat_signature(r: &Resolve, f: &wit_parser::Function) -> (Vec<Flat>, Vec<Flat>) {
    let mut params = Vec::new();
    for p in &f.params {
        flatten(r, &p.ty, &mut params);
    }
    if params.len() > 16 {
        params = vec![Flat::I32];
    }
    let mut results = Vec::new();
    if let Some(t) = &f.result {
        flatten(r, t, &mut results);
    }
    if results.len() > 1 {
        params.push(Flat::I32);
        results.clear();
    }
    (params, results)
}

fn flat_of_valtype(code: u8) -> Flat {
    match code {
        wafer_abi::valtype::I32 => Flat::I32,
        wafer_abi::valtype::I64 => Flat::I64,
        wafer_abi::valtype::F32 => Flat::F32,
        wafer_abi::valtype::F64 => Flat::F64,
        other => panic!("type code {other}"),
    }
}

type Listed = std::collections::BTreeMap<(String, String), (Vec<Flat>, Vec<Flat>)>;

/// Every function (and resource drop) of the implemented WASI 0.2 interfaces in `wit/deps`,
/// keyed as the runtime's table keys them, with its flat signature.
fn wasi_p2_from_wit() -> Listed {
    let (r, _) = resolve();
    let mut out = Listed::new();
    for (_, p) in r.packages.iter() {
        if p.name.namespace != "wasi" || !WASI_P2_PACKAGES.contains(&p.name.name.as_str()) {
            continue;
        }
        let version = p.name.version.as_ref().expect("versioned");
        assert_eq!((version.major, version.minor), (0, 2), "{}", p.name);
        for (iname, id) in &p.interfaces {
            let base = format!("wasi:{}/{iname}", p.name.name);
            if WASI_P2_EXPORTS.contains(&base.as_str()) {
                continue;
            }
            let key = format!("{base}@0.2");
            let iface = &r.interfaces[*id];
            for (name, f) in &iface.functions {
                let sig = flat_signature(&r, f);
                // wit-parser's own lowering agrees.
                let theirs = r.wasm_signature(wit_parser::abi::AbiVariant::GuestImport, f);
                let conv = |t: &wit_parser::abi::WasmType| match t {
                    wit_parser::abi::WasmType::I64 => Flat::I64,
                    wit_parser::abi::WasmType::F32 => Flat::F32,
                    wit_parser::abi::WasmType::F64 => Flat::F64,
                    _ => Flat::I32,
                };
                let theirs: (Vec<_>, Vec<_>) = (
                    theirs.params.iter().map(conv).collect(),
                    theirs.results.iter().map(conv).collect(),
                );
                assert_eq!(sig, theirs, "{key} {name}");
                out.insert((key.clone(), name.clone()), sig);
            }
            for (tname, tid) in &iface.types {
                if matches!(r.types[*tid].kind, TypeDefKind::Resource) {
                    out.insert(
                        (key.clone(), format!("[resource-drop]{tname}")),
                        (vec![Flat::I32], vec![]),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn wasi_p2_table_matches_the_wit_both_ways() {
    let wit = wasi_p2_from_wit();
    assert!(wit.len() > 70, "{} functions", wit.len());
    let p2_rows = || {
        wafer_abi::WIT_FUNCS
            .iter()
            .filter(|f| f.module.starts_with("wasi:") && f.module.ends_with("@0.2"))
    };
    let table: Listed = p2_rows()
        .map(|f| {
            (
                (f.module.to_string(), f.name.to_string()),
                (
                    f.params.iter().copied().map(flat_of_valtype).collect(),
                    f.results.iter().copied().map(flat_of_valtype).collect(),
                ),
            )
        })
        .collect();
    assert_eq!(table.len(), p2_rows().count(), "a function is listed twice");
    for (key, sig) in &wit {
        assert_eq!(table.get(key), Some(sig), "{key:?} as the WIT lowers it");
    }
    for key in table.keys() {
        assert!(
            wit.contains_key(key),
            "{key:?} is listed but not in wit/deps"
        );
    }
    // And a guest's versioned import finds each of them.
    for (module, name) in wit.keys() {
        let versioned = format!("{module}.6");
        assert!(
            wafer_abi::host_func(&versioned, name).is_some(),
            "{versioned} {name}"
        );
        assert!(wafer_abi::is_host_module(&versioned), "{versioned}");
    }
}

// ---- generated glue -----------------------------------------------------------------------

/// The import table and host glue checked in under `rt/` are what `cargo run -p wafer-witgen`
/// makes of `wit/` and `wit/bindings.toml` today.
#[test]
fn generated_glue_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = wafer_witgen::generate(&root).expect("wit/ generates");
    assert!(out.files.len() > 5);
    for (path, text) in &out.files {
        let now = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        assert!(
            &now == text,
            "{path} is out of date: run `cargo run -p wafer-witgen`"
        );
    }
}
