//! Component-level types, resolved from a component's type index space into the name-free
//! trees of [`wafer_abi::component::ValType`] that drive the runtime's adapters.
//!
//! A type index space holds defined value types, function types, instance types, resources
//! and whatever aliases and imports put there. Each entry is resolved when it is defined, so
//! a later reference just clones it. A type that wafer cannot pass between components (a
//! resource handle, a stream) resolves to the reason, which only becomes an error when a
//! function using it is actually lowered into another component.

use std::collections::BTreeMap;
use std::rc::Rc;

use wafer_abi::component::{FuncType, ValType};
use wasmparser::{
    ComponentAlias, ComponentDefinedType, ComponentFuncType, ComponentOuterAliasKind,
    ComponentType, ComponentTypeRef, ComponentValType, InstanceTypeDeclaration, PrimitiveValType,
    TypeBounds,
};

/// A resolved type, or why wafer cannot pass values of it between components.
pub type Resolved<T> = std::result::Result<T, String>;

#[derive(Clone, Debug)]
pub enum Ty {
    /// A type exported by an imported host interface (a resource when it is one).
    Host {
        module: String,
        name: String,
    },
    /// A resource type the component defines.
    Local,
    /// A resource an instance type declares (`(export "r" (type (sub resource)))`).
    Abstract,
    Value(Resolved<ValType>),
    Func(Resolved<FuncType>),
    /// An instance type: the types it exports, by name.
    Instance(Rc<BTreeMap<String, Ty>>),
    Other,
}

const HANDLES: &str = "resource handles passed between components";

fn primitive(p: PrimitiveValType) -> Resolved<ValType> {
    Ok(match p {
        PrimitiveValType::Bool => ValType::Bool,
        PrimitiveValType::S8 => ValType::S8,
        PrimitiveValType::U8 => ValType::U8,
        PrimitiveValType::S16 => ValType::S16,
        PrimitiveValType::U16 => ValType::U16,
        PrimitiveValType::S32 => ValType::S32,
        PrimitiveValType::U32 => ValType::U32,
        PrimitiveValType::S64 => ValType::S64,
        PrimitiveValType::U64 => ValType::U64,
        PrimitiveValType::F32 => ValType::F32,
        PrimitiveValType::F64 => ValType::F64,
        PrimitiveValType::Char => ValType::Char,
        PrimitiveValType::String => ValType::String,
        PrimitiveValType::ErrorContext => {
            return Err("error-context values (component-model async)".into())
        }
    })
}

/// The value type `t` names in the index space `types`.
pub fn val(types: &[Ty], t: &ComponentValType) -> Resolved<ValType> {
    match t {
        ComponentValType::Primitive(p) => primitive(*p),
        ComponentValType::Type(i) => match types.get(*i as usize) {
            Some(Ty::Value(v)) => v.clone(),
            _ => Err(format!("type {i}, which is not a value type")),
        },
    }
}

fn defined(types: &[Ty], d: &ComponentDefinedType) -> Resolved<ValType> {
    let opt = |t: &Option<ComponentValType>| t.as_ref().map(|t| val(types, t)).transpose();
    Ok(match d {
        ComponentDefinedType::Primitive(p) => primitive(*p)?,
        ComponentDefinedType::Record(fields) => ValType::Record(
            fields
                .iter()
                .map(|(_, t)| val(types, t))
                .collect::<Resolved<_>>()?,
        ),
        ComponentDefinedType::Tuple(fields) => ValType::Record(
            fields
                .iter()
                .map(|t| val(types, t))
                .collect::<Resolved<_>>()?,
        ),
        ComponentDefinedType::Variant(cases) => {
            ValType::Variant(cases.iter().map(|c| opt(&c.ty)).collect::<Resolved<_>>()?)
        }
        ComponentDefinedType::Enum(names) => ValType::Variant(vec![None; names.len()]),
        ComponentDefinedType::Option(t) => ValType::Variant(vec![None, Some(val(types, t)?)]),
        ComponentDefinedType::Result { ok, err } => ValType::Variant(vec![opt(ok)?, opt(err)?]),
        ComponentDefinedType::Flags(names) => match names.len() {
            n @ 1..=32 => ValType::Flags(n as u32),
            _ => return Err("flags with more than 32 labels".into()),
        },
        ComponentDefinedType::List(t) => ValType::List(Box::new(val(types, t)?)),
        ComponentDefinedType::FixedLengthList(..) => {
            return Err("fixed-length lists (list<T, N>)".into())
        }
        ComponentDefinedType::Map(..) => return Err("map types".into()),
        ComponentDefinedType::Own(_) | ComponentDefinedType::Borrow(_) => {
            return Err(HANDLES.into())
        }
        ComponentDefinedType::Future(_) | ComponentDefinedType::Stream(_) => {
            return Err("futures and streams (component-model async)".into())
        }
    })
}

fn func(types: &[Ty], f: &ComponentFuncType) -> Resolved<FuncType> {
    if f.async_ {
        return Err("async functions (component-model async)".into());
    }
    Ok(FuncType {
        params: f
            .params
            .iter()
            .map(|(_, t)| val(types, t))
            .collect::<Resolved<_>>()?,
        result: f.result.as_ref().map(|t| val(types, t)).transpose()?,
    })
}

/// Resolves a type definition in `types`; `outer` are the enclosing components' index spaces
/// that an instance type's `alias outer` may name (innermost, that is `types` itself, first).
pub fn component_type(types: &[Ty], outer: &[&[Ty]], t: &ComponentType) -> Ty {
    match t {
        ComponentType::Defined(d) => Ty::Value(defined(types, d)),
        ComponentType::Func(f) => Ty::Func(func(types, f)),
        ComponentType::Resource { .. } => Ty::Local,
        ComponentType::Component(_) => Ty::Other,
        ComponentType::Instance(decls) => {
            let mut local: Vec<Ty> = Vec::new();
            let mut exports = BTreeMap::new();
            for decl in decls.iter() {
                match decl {
                    InstanceTypeDeclaration::CoreType(_) => {}
                    InstanceTypeDeclaration::Type(t) => {
                        let mut enclosing = vec![local.as_slice()];
                        enclosing.extend_from_slice(outer);
                        let ty = component_type(&local, &enclosing, t);
                        local.push(ty);
                    }
                    InstanceTypeDeclaration::Alias(ComponentAlias::Outer {
                        kind: ComponentOuterAliasKind::Type,
                        count,
                        index,
                    }) => {
                        let space = match *count {
                            0 => Some(local.as_slice()),
                            n => outer.get(n as usize - 1).copied(),
                        };
                        let ty = space
                            .and_then(|s| s.get(*index as usize))
                            .cloned()
                            .unwrap_or(Ty::Other);
                        local.push(ty);
                    }
                    InstanceTypeDeclaration::Alias(_) => {}
                    InstanceTypeDeclaration::Export { name, ty } => {
                        if let ComponentTypeRef::Type(bounds) = ty {
                            let ty = match bounds {
                                TypeBounds::Eq(i) => {
                                    local.get(*i as usize).cloned().unwrap_or(Ty::Other)
                                }
                                TypeBounds::SubResource => Ty::Abstract,
                            };
                            exports.insert(name.name.to_string(), ty.clone());
                            local.push(ty);
                        }
                    }
                }
            }
            Ty::Instance(Rc::new(exports))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_types_resolve_to_their_structure() {
        let types = vec![
            Ty::Value(Ok(ValType::String)),
            Ty::Value(Ok(ValType::Variant(vec![Some(ValType::U8), None]))),
            Ty::Local,
            Ty::Value(Err(HANDLES.into())),
        ];
        let rec = ComponentDefinedType::Record(
            vec![
                ("a", ComponentValType::Type(0)),
                ("b", ComponentValType::Type(1)),
            ]
            .into_boxed_slice(),
        );
        assert_eq!(
            defined(&types, &rec),
            Ok(ValType::Record(vec![
                ValType::String,
                ValType::Variant(vec![Some(ValType::U8), None])
            ]))
        );
        let list = ComponentDefinedType::List(ComponentValType::Type(3));
        assert_eq!(defined(&types, &list), Err(HANDLES.to_string()));
        assert!(val(&types, &ComponentValType::Type(2)).is_err());
    }
}
