//! Targets (`targets/*.toml`) and board profiles (`targets/boards/*.toml`), embedded at build
//! time.
//!
//! A board is not a separate kind of build input: [`Board::target`] turns it into a [`Target`]
//! whose ISA flags and emulator CPU are the board's, so everything downstream (compiling,
//! linking, the runtime, the build cache key) sees one value.

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

const BOARDS: &[(&str, &str)] = &[
    ("rpi4", include_str!("../../targets/boards/rpi4.toml")),
    ("rpi5", include_str!("../../targets/boards/rpi5.toml")),
    (
        "visionfive2",
        include_str!("../../targets/boards/visionfive2.toml"),
    ),
];

/// A target as described in `targets/`, possibly narrowed to a board.
#[derive(Clone, Debug, Deserialize)]
pub struct Target {
    pub triple: String,
    pub short: String,
    pub native_linker: String,
    pub cross_linker: String,
    /// The archiver of the cross toolchain (the runtime's C part is archived with it).
    pub cross_ar: String,
    pub cross_linker_package: String,
    /// The Debian package of the target's C library (start files, libc.a, libc.so).
    pub cross_libc_package: String,
    /// Runs the target's executables on a host of another architecture (an emulator).
    pub runner: Vec<String>,
    /// The Debian package that provides `runner`.
    pub runner_package: String,
    pub isa_flags: Vec<(String, String)>,
    /// The board this target was narrowed to (see [`Board::target`]).
    #[serde(skip)]
    pub board: Option<String>,
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
        bail!(
            "unknown target `{name}`; known targets: {}",
            known_targets(&all)
        )
    }

    /// A target or a board by name (`aarch64`, `riscv64gc-unknown-linux-gnu`, `rpi4`).
    pub fn resolve(name: &str) -> Result<Target> {
        if let Ok(target) = Target::find(name) {
            return Ok(target);
        }
        if let Some(board) = Board::all().into_iter().find(|b| b.name == name) {
            return board.target();
        }
        bail!(
            "unknown target or board `{name}`; known targets: {}; boards: {}",
            known_targets(&Target::all()),
            known_boards()
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

    /// The name users know this target by: the board if there is one, else the short name.
    pub fn name(&self) -> &str {
        self.board.as_deref().unwrap_or(&self.short)
    }

    /// The C compiler driver that links executables for this target from this host.
    pub fn linker(&self) -> &str {
        if self.is_host() {
            &self.native_linker
        } else {
            &self.cross_linker
        }
    }

    /// The Debian packages of [`Target::linker`] and of the C library it links with.
    pub fn toolchain_packages(&self) -> (&str, &str) {
        if self.is_host() {
            ("gcc", "libc6-dev")
        } else {
            (&self.cross_linker_package, &self.cross_libc_package)
        }
    }

    /// The command that runs this target's executables here: nothing on a host of the same
    /// architecture (run them directly), the emulator otherwise.
    pub fn run_prefix(&self) -> &[String] {
        if self.is_host() {
            &[]
        } else {
            &self.runner
        }
    }
}

/// A board profile from `targets/boards/`: the target it runs and what its CPU supports.
#[derive(Clone, Debug, Deserialize)]
pub struct Board {
    pub name: String,
    pub description: String,
    /// Triple or short name of the board's target.
    pub target: String,
    /// The board's CPU, for people (`cortex-a72`).
    pub cpu: String,
    /// Cranelift ISA flags the CPU supports, applied after the target's.
    pub isa_flags: Vec<(String, String)>,
    /// `qemu -cpu` value that emulates this CPU (and no more), for running tests.
    pub emulator_cpu: String,
}

impl Board {
    /// Every board profile.
    pub fn all() -> Vec<Board> {
        BOARDS
            .iter()
            .map(|(name, text)| {
                toml::from_str(text).unwrap_or_else(|e| panic!("targets/boards/{name}.toml: {e}"))
            })
            .collect()
    }

    /// A board by name (`rpi4`).
    pub fn find(name: &str) -> Result<Board> {
        match Board::all().into_iter().find(|b| b.name == name) {
            Some(board) => Ok(board),
            None => bail!("unknown board `{name}`; known boards: {}", known_boards()),
        }
    }

    /// The board's target with the board's ISA flags, and an emulator that models its CPU.
    pub fn target(&self) -> Result<Target> {
        let mut target = Target::find(&self.target)
            .with_context(|| format!("board {} names target {}", self.name, self.target))?;
        target.isa_flags.extend(self.isa_flags.iter().cloned());
        // qemu takes `-cpu` before the program; the rest of the runner (`-L ...`) follows it.
        if let Some((program, rest)) = target.runner.split_first() {
            let mut runner = vec![program.clone(), "-cpu".into(), self.emulator_cpu.clone()];
            runner.extend(rest.iter().cloned());
            target.runner = runner;
        }
        target.board = Some(self.name.clone());
        Ok(target)
    }
}

/// What `wafer targets` prints: every target (the host marked), then every board.
pub fn listing() -> String {
    let mut out = String::from("targets:\n");
    for t in Target::all() {
        let host = if t.is_host() { "  (host)" } else { "" };
        out += &format!("  {:<12} {}{host}\n", t.short, t.triple);
    }
    out += "boards (--board):\n";
    for b in Board::all() {
        out += &format!("  {:<12} {}, {}\n", b.name, b.description, b.target);
    }
    out
}

fn known_targets(all: &[Target]) -> String {
    all.iter()
        .map(|t| format!("{} ({})", t.short, t.triple))
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_boards() -> String {
    Board::all()
        .iter()
        .map(|b| b.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
            assert!(t.cross_ar.ends_with("-ar"), "{}", t.cross_ar);
        }
        assert!(Target::find("sparc").is_err());
    }

    #[test]
    fn every_board_names_its_file_and_a_target() {
        for (name, _) in BOARDS {
            let board = Board::find(name).unwrap();
            assert_eq!(&board.name, name);
            let target = board.target().unwrap();
            assert_eq!(target.name(), *name);
            assert_eq!(Target::resolve(name).unwrap().board.as_deref(), Some(*name));
            assert_eq!(target.runner[1..3], ["-cpu", board.emulator_cpu.as_str()]);
        }
        assert!(Board::find("rpi1").is_err());
        let err = Target::resolve("rpi1").unwrap_err().to_string();
        assert!(err.contains("rpi4") && err.contains("aarch64"), "{err}");
    }

    /// Cranelift accepts every flag a target or board sets, for that target's ISA.
    #[test]
    fn every_isa_flag_is_known_to_cranelift() {
        let boards = Board::all().into_iter().map(|b| b.target().unwrap());
        for target in Target::all().into_iter().chain(boards) {
            let triple = target.triple().unwrap();
            if let Err(e) = wafer_compiler::make_isa(&triple, &target.isa_flags) {
                panic!("{}: {e}", target.name());
            }
        }
    }

    #[test]
    fn boards_only_add_features_their_target_lacks() {
        let rpi5 = Target::resolve("rpi5").unwrap();
        assert!(rpi5
            .isa_flags
            .contains(&("has_lse".to_string(), "true".to_string())));
        // Pointer authentication is ARMv8.3; the Cortex-A76 is ARMv8.2.
        assert!(!rpi5.isa_flags.iter().any(|(n, _)| n.contains("pauth")));
        let vf2 = Target::resolve("visionfive2").unwrap();
        assert!(vf2
            .isa_flags
            .contains(&("has_v".to_string(), "false".to_string())));
    }
}
