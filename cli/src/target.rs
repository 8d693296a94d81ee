//! Target descriptions (`targets/*.toml`, embedded at build time).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::str::FromStr;
use target_lexicon::Triple;

const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "x86_64-unknown-linux-gnu",
        include_str!("../../targets/x86_64-unknown-linux-gnu.toml"),
    ),
    (
        "aarch64-unknown-linux-gnu",
        include_str!("../../targets/aarch64-unknown-linux-gnu.toml"),
    ),
    (
        "riscv64gc-unknown-linux-gnu",
        include_str!("../../targets/riscv64gc-unknown-linux-gnu.toml"),
    ),
];

/// A target as described in `targets/`.
#[derive(Clone, Debug, Deserialize)]
pub struct Target {
    pub triple: String,
    pub short: String,
    pub native_linker: String,
    pub cross_linker: String,
    pub cross_linker_package: String,
    pub runner: Vec<String>,
    pub isa_flags: Vec<(String, String)>,
}

impl Target {
    /// Every described target.
    pub fn all() -> Vec<Target> {
        DESCRIPTIONS
            .iter()
            .map(|(name, text)| {
                toml::from_str(text).unwrap_or_else(|e| panic!("targets/{name}.toml: {e}"))
            })
            .collect()
    }

    /// A target by triple or short name (`aarch64`).
    pub fn find(name: &str) -> Result<Target> {
        let all = Target::all();
        if let Some(t) = all.iter().find(|t| t.triple == name || t.short == name) {
            return Ok(t.clone());
        }
        let known: Vec<String> = all
            .iter()
            .map(|t| format!("{} ({})", t.short, t.triple))
            .collect();
        bail!(
            "unknown target `{name}`; known targets: {}",
            known.join(", ")
        )
    }

    /// The machine wafer runs on.
    pub fn host() -> Target {
        Target::find(host_triple()).expect("wafer is built for a host listed in targets/")
    }

    pub fn triple(&self) -> Result<Triple> {
        Triple::from_str(&self.triple)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("target triple {}", self.triple))
    }

    pub fn is_host(&self) -> bool {
        self.triple == host_triple()
    }

    /// The C compiler driver that links executables for this target from this host.
    pub fn linker(&self) -> &str {
        if self.is_host() {
            &self.native_linker
        } else {
            &self.cross_linker
        }
    }
}

/// The triple wafer itself was compiled for.
pub fn host_triple() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "x86_64-unknown-linux-gnu"
    } else if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64gc-unknown-linux-gnu"
    } else {
        "unsupported-host"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_description_parses_and_names_its_file() {
        for (name, _) in DESCRIPTIONS {
            let t = Target::find(name).unwrap();
            assert_eq!(&t.triple, name);
            t.triple().unwrap();
            assert!(Target::find(&t.short).is_ok());
        }
        assert!(Target::find("sparc").is_err());
    }
}
