//! Which operators the generated modules contained: counts by operator and by kind, so a
//! summary shows what a run exercised (and a generator config that stopped producing some
//! kind shows up as a zero).

use std::collections::BTreeMap;

use serde::Serialize;
use wasmparser::{Parser, Payload};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    pub by_operator: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<&'static str, u64>,
}

impl Coverage {
    /// Counts the operators of every function body of `wasm`.
    pub fn add_module(&mut self, wasm: &[u8]) {
        for payload in Parser::new(0).parse_all(wasm).flatten() {
            let Payload::CodeSectionEntry(body) = payload else {
                continue;
            };
            let Ok(mut ops) = body.get_operators_reader() else {
                continue;
            };
            while !ops.eof() {
                let Ok(op) = ops.read() else { break };
                let text = format!("{op:?}");
                let name = text
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or("");
                *self.by_kind.entry(kind(name)).or_default() += 1;
                match self.by_operator.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        self.by_operator.insert(name.to_string(), 1);
                    }
                }
            }
        }
    }

    pub fn merge(&mut self, other: &Coverage) {
        for (k, v) in &other.by_operator {
            *self.by_operator.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
    }
}

/// The spec's grouping of instructions, from the operator's name.
pub fn kind(name: &str) -> &'static str {
    const CONTROL: &[&str] = &[
        "Unreachable",
        "Nop",
        "Block",
        "Loop",
        "If",
        "Else",
        "End",
        "Br",
        "BrIf",
        "BrTable",
        "Return",
        "Call",
        "CallIndirect",
    ];
    if CONTROL.contains(&name) {
        "control"
    } else if matches!(name, "Drop" | "Select" | "TypedSelect") {
        "parametric"
    } else if name.starts_with("Local") || name.starts_with("Global") {
        "variable"
    } else if name.starts_with("Table") || name == "ElemDrop" {
        "table"
    } else if name.starts_with("Ref") {
        "reference"
    } else if name.starts_with("V128")
        || ["I8x16", "I16x8", "I32x4", "I64x2", "F32x4", "F64x2"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        "vector"
    } else if name.contains("Atomic") {
        "atomic"
    } else if name.contains("Load")
        || name.contains("Store")
        || name.starts_with("Memory")
        || name == "DataDrop"
    {
        "memory"
    } else {
        "numeric"
    }
}
