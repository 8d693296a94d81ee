//! The WIT packages in `wit/` parse, and say to the letter what the public proposals and
//! wafer's runtime (`wafer_abi::HOST_FUNCS`) say: names, types, and import modules.

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
        assert!(
            wafer_abi::HOST_MODULES.contains(&module.as_str()),
            "{module}"
        );
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
