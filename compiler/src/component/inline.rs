//! Evaluates a component's definitions symbolically, inlining every nested component it
//! instantiates, down to the core instances the runtime must create and what each of their
//! imports is bound to (see [`wafer_abi::component::Plan`]).
//!
//! Each component body is evaluated in a [`Scope`] holding its index spaces. Values are
//! symbolic: a function of an imported instance is a host function named by its interface and
//! name; a lifted function remembers the core export it lifts; a core instance is either one
//! the plan creates or a bag of exports put together by `instance (export ...)` syntax.
//!
//! A lifted function lowered again (a call from one component into another, as composition
//! tools produce) becomes an [`Adapter`] of the plan, carrying the function's resolved type
//! (see [`super::types`]) and both sides' canonical options.

use std::collections::BTreeMap;
use std::rc::Rc;

use wafer_abi::component::{
    Adapter, Binding, CoreInstance, CoreRef, FuncType, HostContext, Plan, RunExport, RunKind,
    ADAPTER_MODULE,
};
use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentInstance,
    ComponentOuterAliasKind, ComponentTypeRef, ExternalKind, Instance, InstantiationArgKind,
    TypeBounds,
};

use super::parse::{Def, Parsed};
use super::types::{self, Resolved, Ty};
use super::HostImport;
use crate::error::{CompileError, Result};

/// An export of a core instance the plan creates.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CoreExport {
    instance: u32,
    name: String,
}

/// The canonical options a lowering or lifting names.
#[derive(Clone, Debug, Default)]
struct Options {
    memory: Option<CoreExport>,
    realloc: Option<CoreExport>,
    post_return: Option<CoreExport>,
}

#[derive(Clone, Debug)]
enum CoreFunc {
    Export(CoreExport),
    /// A runtime host function, with the memory and allocator it works on.
    Host {
        import: HostImport,
        options: Options,
    },
    /// A lifted function lowered again: the plan's adapter of this index.
    Adapter(u32),
}

#[derive(Clone, Debug)]
enum CoreItem {
    Func(CoreFunc),
    /// A table, memory or global: always an export of a real instance.
    Other(CoreExport),
}

#[derive(Clone, Debug)]
enum CoreInst {
    Real(u32),
    Bag(BTreeMap<String, CoreItem>),
}

#[derive(Clone, Debug)]
enum Func {
    /// `name` of the host interface (or world) `module`.
    Host { module: String, name: String },
    Lifted {
        core: CoreExport,
        options: Options,
        /// Its component-level type.
        ty: Resolved<FuncType>,
    },
}

#[derive(Clone, Debug)]
enum Inst {
    /// An imported instance: a host interface, by its import name, with the types its
    /// instance type exports.
    Host(String, Rc<BTreeMap<String, Ty>>),
    Bag(BTreeMap<String, Item>),
}

/// A component definition with the enclosing scopes' items that `alias outer` may name.
#[derive(Clone, Debug)]
struct ComponentDef {
    body: usize,
    /// The enclosing scopes, innermost first, as they were where the component was defined.
    outer: Vec<Outer>,
}

#[derive(Clone, Debug, Default)]
struct Outer {
    modules: Vec<usize>,
    components: Vec<ComponentDef>,
    types: Vec<Ty>,
}

#[derive(Clone, Debug)]
enum Item {
    Func(Func),
    Instance(Inst),
    Type(Ty),
    Module(usize),
    Component(ComponentDef),
}

/// The index spaces of one component body being evaluated.
#[derive(Default)]
struct Scope {
    outer: Vec<Outer>,
    modules: Vec<usize>,
    components: Vec<ComponentDef>,
    core_instances: Vec<CoreInst>,
    core_funcs: Vec<CoreFunc>,
    core_others: Vec<(ExternalKind, CoreExport)>,
    core_types: usize,
    funcs: Vec<Func>,
    instances: Vec<Inst>,
    types: Vec<Ty>,
    exports: BTreeMap<String, Item>,
}

impl Scope {
    fn snapshot(&self) -> Outer {
        Outer {
            modules: self.modules.clone(),
            components: self.components.clone(),
            types: self.types.clone(),
        }
    }
}

/// What the evaluation produces.
pub struct Inlined {
    pub plan: Plan,
    /// Per core module (by [`Parsed::modules`] index), per import: the host function it is
    /// bound to, if any.
    pub host_imports: Vec<Vec<Option<HostImport>>>,
}

fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}

fn invalid(what: impl Into<String>) -> CompileError {
    CompileError::Invalid(what.into())
}

/// `(module, name, kind)` of every import of a core module.
pub fn module_imports(module: &[u8]) -> Result<Vec<(String, String, ExternalKind)>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(r) =
            payload.map_err(|e| invalid(e.message().to_string()))?
        {
            for import in r.into_imports() {
                let import = import.map_err(|e| invalid(e.message().to_string()))?;
                let kind = match import.ty {
                    wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => {
                        ExternalKind::Func
                    }
                    wasmparser::TypeRef::Table(_) => ExternalKind::Table,
                    wasmparser::TypeRef::Memory(_) => ExternalKind::Memory,
                    wasmparser::TypeRef::Global(_) => ExternalKind::Global,
                    wasmparser::TypeRef::Tag(_) => ExternalKind::Tag,
                };
                out.push((import.module.to_string(), import.name.to_string(), kind));
            }
        }
    }
    Ok(out)
}

pub struct Inliner<'p, 'a> {
    parsed: &'p Parsed<'a>,
    plan: Plan,
    host_imports: Vec<Vec<Option<HostImport>>>,
    /// Whether each module has been instantiated (a module is instantiated at most once).
    instantiated: Vec<bool>,
}

impl<'p, 'a> Inliner<'p, 'a> {
    pub fn new(parsed: &'p Parsed<'a>) -> Self {
        Inliner {
            parsed,
            plan: Plan::default(),
            host_imports: vec![Vec::new(); parsed.modules.len()],
            instantiated: vec![false; parsed.modules.len()],
        }
    }

    /// Evaluates the outermost component and finds its `wasi:cli/run` export.
    pub fn run(mut self) -> Result<Inlined> {
        let exports = self.evaluate(0, Vec::new(), None)?;
        let run = find_run(&exports)?;
        let Func::Lifted { core, options, .. } = run else {
            return Err(unsupported(
                "a component whose wasi:cli/run export re-exports an imported function",
            ));
        };
        self.plan.run = RunExport {
            instance: core.instance,
            name: core.name,
            post_return: match options.post_return {
                Some(p) if p.instance == core.instance => Some(p.name),
                Some(_) => {
                    return Err(unsupported(
                        "a post-return function from another core instance than the lifted one",
                    ))
                }
                None => None,
            },
            kind: RunKind::CliRun,
        };
        Ok(Inlined {
            plan: self.plan,
            host_imports: self.host_imports,
        })
    }

    /// Evaluates body `body`; `args` (for a nested component) satisfies its imports by name,
    /// `None` makes them host imports (the outermost component). Returns its exports.
    fn evaluate(
        &mut self,
        body: usize,
        outer: Vec<Outer>,
        args: Option<&BTreeMap<String, Item>>,
    ) -> Result<BTreeMap<String, Item>> {
        let mut s = Scope {
            outer,
            ..Scope::default()
        };
        for def in &self.parsed.bodies[body] {
            match def {
                Def::Module(m) => s.modules.push(*m),
                Def::Component(b) => {
                    let mut outer = vec![s.snapshot()];
                    outer.extend(s.outer.iter().cloned());
                    s.components.push(ComponentDef { body: *b, outer });
                }
                Def::CoreType => s.core_types += 1,
                Def::Type { ty, .. } => {
                    let mut outer: Vec<&[Ty]> = vec![&s.types];
                    outer.extend(s.outer.iter().map(|o| o.types.as_slice()));
                    let ty = types::component_type(&s.types, &outer, ty);
                    s.types.push(ty)
                }
                Def::CoreInstance(i) => {
                    let inst = self.core_instance(&s, i)?;
                    s.core_instances.push(inst);
                }
                Def::Instance(i) => {
                    let inst = self.component_instance(&s, i)?;
                    s.instances.push(inst);
                }
                Def::Alias(a) => alias(&mut s, a)?,
                Def::Canon(c) => canon(&mut s, c, &mut self.plan.adapters)?,
                Def::Import(import) => {
                    let name = import.name.name;
                    let item = match args {
                        Some(args) => args.get(name).cloned().ok_or_else(|| {
                            invalid(format!("nested component import {name:?} has no argument"))
                        })?,
                        None => host_import(&s, name, &import.ty)?,
                    };
                    push_item(&mut s, item);
                }
                Def::Export(e) => {
                    let item = item_of(&s, e.kind, e.index)?;
                    s.exports.insert(e.name.name.to_string(), item.clone());
                    push_item(&mut s, item);
                }
                Def::Start => return Err(unsupported("component start functions")),
            }
        }
        Ok(s.exports)
    }

    fn core_instance(&mut self, s: &Scope, i: &Instance) -> Result<CoreInst> {
        let (module_index, args) = match i {
            Instance::FromExports(exports) => {
                let mut bag = BTreeMap::new();
                for e in exports.iter() {
                    bag.insert(e.name.to_string(), core_item(s, e.kind, e.index)?);
                }
                return Ok(CoreInst::Bag(bag));
            }
            Instance::Instantiate { module_index, args } => (*module_index, args),
        };
        let module = *s
            .modules
            .get(module_index as usize)
            .ok_or_else(|| invalid("unknown core module"))?;
        if std::mem::replace(&mut self.instantiated[module], true) {
            return Err(unsupported("a core module instantiated more than once"));
        }
        let mut by_name = BTreeMap::new();
        for arg in args.iter() {
            let InstantiationArgKind::Instance = arg.kind;
            let inst = s
                .core_instances
                .get(arg.index as usize)
                .ok_or_else(|| invalid("unknown core instance"))?;
            by_name.insert(arg.name, inst);
        }
        let index = self.plan.instances.len() as u32;
        let mut imports = Vec::new();
        let mut hosts = Vec::new();
        let signatures = crate::module::import_func_signatures(self.parsed.modules[module])?;
        for (i, (module_name, field, kind)) in module_imports(self.parsed.modules[module])?
            .into_iter()
            .enumerate()
        {
            let arg = by_name.get(module_name.as_str()).ok_or_else(|| {
                invalid(format!(
                    "core module import {module_name:?} {field:?} has no instantiation argument"
                ))
            })?;
            let (binding, host) = match arg {
                CoreInst::Real(j) => (
                    Binding::Export {
                        instance: *j,
                        name: field.clone(),
                    },
                    None,
                ),
                CoreInst::Bag(bag) => match bag.get(&field) {
                    Some(CoreItem::Func(CoreFunc::Export(e))) | Some(CoreItem::Other(e)) => (
                        Binding::Export {
                            instance: e.instance,
                            name: e.name.clone(),
                        },
                        None,
                    ),
                    Some(CoreItem::Func(CoreFunc::Host { import, options })) => {
                        if kind != ExternalKind::Func {
                            return Err(invalid("a function satisfies a non-function import"));
                        }
                        let context = host_context(options)?;
                        (Binding::Host { context }, Some(import.clone()))
                    }
                    Some(CoreItem::Func(CoreFunc::Adapter(index))) => {
                        let adapter = &self.plan.adapters[*index as usize];
                        let want = adapter.ty.lowered_signature();
                        if signatures.get(i).cloned().flatten().as_ref() != Some(&want) {
                            return Err(invalid(format!(
                                "core module import {module_name:?} {field:?} does not have \
                                 the core type that lowering {} gives",
                                adapter.name
                            )));
                        }
                        (
                            Binding::Adapter { index: *index },
                            Some(HostImport {
                                module: ADAPTER_MODULE.to_string(),
                                name: index.to_string(),
                                shape: None,
                            }),
                        )
                    }
                    None => {
                        return Err(invalid(format!(
                            "core module import {module_name:?} {field:?} is not in its argument"
                        )))
                    }
                },
            };
            imports.push(binding);
            hosts.push(host);
        }
        self.host_imports[module] = hosts;
        self.plan.instances.push(CoreInstance {
            module: module as u32,
            imports,
        });
        Ok(CoreInst::Real(index))
    }

    fn component_instance(&mut self, s: &Scope, i: &ComponentInstance) -> Result<Inst> {
        match i {
            ComponentInstance::FromExports(exports) => {
                let mut bag = BTreeMap::new();
                for e in exports.iter() {
                    bag.insert(e.name.name.to_string(), item_of(s, e.kind, e.index)?);
                }
                Ok(Inst::Bag(bag))
            }
            ComponentInstance::Instantiate {
                component_index,
                args,
            } => {
                let def = s
                    .components
                    .get(*component_index as usize)
                    .ok_or_else(|| invalid("unknown component"))?
                    .clone();
                let mut by_name = BTreeMap::new();
                for arg in args.iter() {
                    by_name.insert(arg.name.to_string(), item_of(s, arg.kind, arg.index)?);
                }
                let exports = self.evaluate(def.body, def.outer, Some(&by_name))?;
                Ok(Inst::Bag(exports))
            }
        }
    }
}

/// The memory and allocator a lowered host function works with.
fn host_context(options: &Options) -> Result<Option<HostContext>> {
    let Some(memory) = &options.memory else {
        if options.realloc.is_some() {
            return Err(invalid("a realloc option without a memory option"));
        }
        return Ok(None);
    };
    Ok(Some(HostContext {
        memory: (memory.instance, memory.name.clone()),
        realloc: options
            .realloc
            .as_ref()
            .map(|r| (r.instance, r.name.clone())),
    }))
}

fn find_run(exports: &BTreeMap<String, Item>) -> Result<Func> {
    let run = exports
        .iter()
        .find(|(name, _)| wafer_abi::wasi_p2::is_cli_run(name));
    let Some((name, item)) = run else {
        let names: Vec<&str> = exports.keys().map(String::as_str).collect();
        return Err(CompileError::Unsupported(format!(
            "a component without a wasi:cli/run@0.2.x export (it exports: {}); wafer builds \
             command components",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    // Valid components, but not commands as wasi:cli defines them: unsupported, not invalid.
    match item {
        Item::Instance(Inst::Bag(bag)) => match bag.get("run") {
            Some(Item::Func(f)) => Ok(f.clone()),
            _ => Err(unsupported(format!(
                "a component whose {name} export has no run function; wafer builds command \
                 components"
            ))),
        },
        _ => Err(unsupported(format!(
            "a component whose {name} export is not an instance; wafer builds command components"
        ))),
    }
}

/// What an import of the outermost component is: host interfaces and world functions.
fn host_import(s: &Scope, name: &str, ty: &ComponentTypeRef) -> Result<Item> {
    Ok(match ty {
        ComponentTypeRef::Instance(t) => {
            let exports = match s.types.get(*t as usize) {
                Some(Ty::Instance(exports)) => Rc::clone(exports),
                _ => Rc::default(),
            };
            Item::Instance(Inst::Host(name.to_string(), exports))
        }
        ComponentTypeRef::Func(_) => Item::Func(Func::Host {
            module: "$root".to_string(),
            name: name.to_string(),
        }),
        ComponentTypeRef::Type(TypeBounds::Eq(t)) => {
            Item::Type(s.types.get(*t as usize).cloned().unwrap_or(Ty::Other))
        }
        ComponentTypeRef::Type(TypeBounds::SubResource) => Item::Type(Ty::Other),
        ComponentTypeRef::Module(_) => {
            return Err(unsupported(format!("importing a core module ({name})")))
        }
        ComponentTypeRef::Component(_) => {
            return Err(unsupported(format!("importing a component ({name})")))
        }
        ComponentTypeRef::Value(_) => {
            return Err(unsupported(format!("component value imports ({name})")))
        }
    })
}

fn push_item(s: &mut Scope, item: Item) {
    match item {
        Item::Func(f) => s.funcs.push(f),
        Item::Instance(i) => s.instances.push(i),
        Item::Type(t) => s.types.push(t),
        Item::Module(m) => s.modules.push(m),
        Item::Component(c) => s.components.push(c),
    }
}

fn item_of(s: &Scope, kind: ComponentExternalKind, index: u32) -> Result<Item> {
    let i = index as usize;
    let missing = || invalid(format!("unknown {} {index}", kind.desc()));
    Ok(match kind {
        ComponentExternalKind::Func => Item::Func(s.funcs.get(i).ok_or_else(missing)?.clone()),
        ComponentExternalKind::Instance => {
            Item::Instance(s.instances.get(i).ok_or_else(missing)?.clone())
        }
        ComponentExternalKind::Type => Item::Type(s.types.get(i).ok_or_else(missing)?.clone()),
        ComponentExternalKind::Module => Item::Module(*s.modules.get(i).ok_or_else(missing)?),
        ComponentExternalKind::Component => {
            Item::Component(s.components.get(i).ok_or_else(missing)?.clone())
        }
        ComponentExternalKind::Value => return Err(unsupported("component values")),
    })
}

fn core_item(s: &Scope, kind: ExternalKind, index: u32) -> Result<CoreItem> {
    let missing = || invalid(format!("unknown core item {index}"));
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => Ok(CoreItem::Func(
            s.core_funcs
                .get(index as usize)
                .ok_or_else(missing)?
                .clone(),
        )),
        ExternalKind::Tag => Err(unsupported("exception-handling (tags in a component)")),
        _ => {
            // Tables, memories and globals share one list, told apart by kind.
            let e = s
                .core_others
                .iter()
                .filter(|(k, _)| *k == kind)
                .nth(index as usize)
                .ok_or_else(missing)?;
            Ok(CoreItem::Other(e.1.clone()))
        }
    }
}

fn alias(s: &mut Scope, a: &ComponentAlias) -> Result<()> {
    match a {
        ComponentAlias::CoreInstanceExport {
            kind,
            instance_index,
            name,
        } => {
            let inst = s
                .core_instances
                .get(*instance_index as usize)
                .ok_or_else(|| invalid("unknown core instance"))?;
            let item = match inst {
                CoreInst::Real(j) => {
                    let e = CoreExport {
                        instance: *j,
                        name: name.to_string(),
                    };
                    match kind {
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            CoreItem::Func(CoreFunc::Export(e))
                        }
                        ExternalKind::Tag => {
                            return Err(unsupported("exception-handling (tags in a component)"))
                        }
                        _ => CoreItem::Other(e),
                    }
                }
                CoreInst::Bag(bag) => bag
                    .get(*name)
                    .cloned()
                    .ok_or_else(|| invalid(format!("core instance has no export {name:?}")))?,
            };
            match item {
                CoreItem::Func(f) => s.core_funcs.push(f),
                CoreItem::Other(e) => s.core_others.push((*kind, e)),
            }
        }
        ComponentAlias::InstanceExport {
            kind,
            instance_index,
            name,
        } => {
            let inst = s
                .instances
                .get(*instance_index as usize)
                .ok_or_else(|| invalid("unknown instance"))?;
            let item = match inst {
                Inst::Host(module, types) => match kind {
                    ComponentExternalKind::Func => Item::Func(Func::Host {
                        module: module.clone(),
                        name: name.to_string(),
                    }),
                    ComponentExternalKind::Type => Item::Type(match types.get(*name) {
                        Some(t @ (Ty::Value(_) | Ty::Func(_) | Ty::Instance(_))) => t.clone(),
                        _ => Ty::Host {
                            module: module.clone(),
                            name: name.to_string(),
                        },
                    }),
                    other => {
                        return Err(unsupported(format!(
                            "a {} exported by the imported interface {module}",
                            other.desc()
                        )))
                    }
                },
                Inst::Bag(bag) => bag
                    .get(*name)
                    .cloned()
                    .ok_or_else(|| invalid(format!("instance has no export {name:?}")))?,
            };
            push_item(s, item);
        }
        ComponentAlias::Outer { kind, count, index } => {
            let outer = s
                .outer
                .get((*count as usize).wrapping_sub(1))
                .filter(|_| *count > 0);
            let i = *index as usize;
            let missing = || invalid("unknown outer alias");
            match (kind, outer) {
                // count 0 is the component itself.
                (ComponentOuterAliasKind::CoreType, _) => s.core_types += 1,
                (ComponentOuterAliasKind::Type, None) => {
                    let t = s.types.get(i).ok_or_else(missing)?.clone();
                    s.types.push(t)
                }
                (ComponentOuterAliasKind::Type, Some(o)) => {
                    let t = o.types.get(i).ok_or_else(missing)?.clone();
                    s.types.push(t)
                }
                (ComponentOuterAliasKind::CoreModule, None) => {
                    let m = *s.modules.get(i).ok_or_else(missing)?;
                    s.modules.push(m)
                }
                (ComponentOuterAliasKind::CoreModule, Some(o)) => {
                    let m = *o.modules.get(i).ok_or_else(missing)?;
                    s.modules.push(m)
                }
                (ComponentOuterAliasKind::Component, None) => {
                    let c = s.components.get(i).ok_or_else(missing)?.clone();
                    s.components.push(c)
                }
                (ComponentOuterAliasKind::Component, Some(o)) => {
                    let c = o.components.get(i).ok_or_else(missing)?.clone();
                    s.components.push(c)
                }
            }
        }
    }
    Ok(())
}

fn options(s: &Scope, opts: &[CanonicalOption]) -> Result<Options> {
    let mut out = Options::default();
    let core_export = |index: u32, what: &str| -> Result<CoreExport> {
        match s.core_funcs.get(index as usize) {
            Some(CoreFunc::Export(e)) => Ok(e.clone()),
            Some(CoreFunc::Host { .. }) => Err(unsupported(format!(
                "a host function as the canonical {what} option"
            ))),
            Some(CoreFunc::Adapter(_)) => Err(unsupported(format!(
                "a function of another component as the canonical {what} option"
            ))),
            None => Err(invalid(format!("unknown core function for {what}"))),
        }
    };
    for o in opts {
        match o {
            CanonicalOption::UTF8 => {}
            CanonicalOption::UTF16 => return Err(unsupported("string-encoding=utf16")),
            CanonicalOption::CompactUTF16 => {
                return Err(unsupported("string-encoding=latin1+utf16"))
            }
            CanonicalOption::Memory(m) => {
                let e = s
                    .core_others
                    .iter()
                    .filter(|(k, _)| *k == ExternalKind::Memory)
                    .nth(*m as usize)
                    .ok_or_else(|| invalid("unknown core memory"))?;
                out.memory = Some(e.1.clone());
            }
            CanonicalOption::Realloc(f) => out.realloc = Some(core_export(*f, "realloc")?),
            CanonicalOption::PostReturn(f) => {
                out.post_return = Some(core_export(*f, "post-return")?)
            }
            CanonicalOption::Async | CanonicalOption::Callback(_) => {
                return Err(unsupported("component-model async"))
            }
            CanonicalOption::CoreType(_) | CanonicalOption::Gc => {
                return Err(unsupported("component-model GC lowering"))
            }
        }
    }
    Ok(out)
}

fn canon(s: &mut Scope, c: &CanonicalFunction, adapters: &mut Vec<Adapter>) -> Result<()> {
    match c {
        CanonicalFunction::Lift {
            core_func_index,
            type_index,
            options: opts,
        } => {
            let core = match s.core_funcs.get(*core_func_index as usize) {
                Some(CoreFunc::Export(e)) => e.clone(),
                Some(CoreFunc::Host { .. }) => {
                    return Err(unsupported("lifting a lowered host function again"))
                }
                Some(CoreFunc::Adapter(_)) => {
                    return Err(unsupported(
                        "lifting a lowered function of another component again",
                    ))
                }
                None => return Err(invalid("unknown core function")),
            };
            let options = options(s, opts)?;
            let ty = match s.types.get(*type_index as usize) {
                Some(Ty::Func(f)) => f.clone(),
                _ => {
                    return Err(invalid(format!(
                        "canon lift of type {type_index}, not a function type"
                    )))
                }
            };
            s.funcs.push(Func::Lifted { core, options, ty });
        }
        CanonicalFunction::Lower {
            func_index,
            options: opts,
        } => {
            let func = s
                .funcs
                .get(*func_index as usize)
                .ok_or_else(|| invalid("unknown function"))?
                .clone();
            let options = options(s, opts)?;
            match func {
                Func::Host { module, name } => s.core_funcs.push(CoreFunc::Host {
                    import: HostImport {
                        module,
                        name,
                        shape: None,
                    },
                    options,
                }),
                Func::Lifted {
                    core,
                    options: callee,
                    ty,
                } => {
                    let name = core.name.clone();
                    let ty = ty.map_err(|why| {
                        unsupported(format!(
                            "{why} (in a call of {name} from another component)"
                        ))
                    })?;
                    let r = |e: Option<CoreExport>| e.map(|e| -> CoreRef { (e.instance, e.name) });
                    adapters.push(Adapter {
                        name,
                        ty,
                        callee: (core.instance, core.name),
                        callee_memory: r(callee.memory),
                        callee_realloc: r(callee.realloc),
                        callee_post_return: r(callee.post_return),
                        caller_memory: r(options.memory),
                        caller_realloc: r(options.realloc),
                    });
                    s.core_funcs
                        .push(CoreFunc::Adapter(adapters.len() as u32 - 1));
                }
            }
        }
        CanonicalFunction::ResourceDrop { resource } => match s.types.get(*resource as usize) {
            Some(Ty::Host { module, name }) => s.core_funcs.push(CoreFunc::Host {
                import: HostImport {
                    module: module.clone(),
                    name: format!("[resource-drop]{name}"),
                    shape: None,
                },
                options: Options::default(),
            }),
            Some(Ty::Local) => {
                return Err(unsupported(
                    "resources defined by a component (resource.drop)",
                ))
            }
            _ => return Err(invalid("resource.drop of a type that is not a resource")),
        },
        CanonicalFunction::ResourceNew { .. } => {
            return Err(unsupported(
                "resources defined by a component (resource.new)",
            ))
        }
        CanonicalFunction::ResourceRep { .. } => {
            return Err(unsupported(
                "resources defined by a component (resource.rep)",
            ))
        }
        other => {
            let name = format!("{other:?}");
            let name = name
                .split([' ', '{', '('])
                .next()
                .unwrap_or("?")
                .to_string();
            return Err(unsupported(format!(
                "the canonical built-in {name} (component-model async and threads)"
            )));
        }
    }
    Ok(())
}
