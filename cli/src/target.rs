//! Targets (`targets/*.toml`) and board profiles (`targets/boards/*.toml`), embedded at build
//! time.
//!
//! A board is not a separate kind of build input: [`Board::target`] turns it into a [`Target`]
//! whose ISA flags and emulator CPU are the board's, and [`Target::with_cpu_features`] applies
//! `--cpu-features` to either, so everything downstream (compiling, linking, the runtime, the
//! build cache key) sees one value.
//!
//! CPU features are named per target in its description's `[features]` table: feature `NAME`
//! is Cranelift's `has_NAME` flag, listed with the features it needs. A board lists every
//! feature its CPU has; `--cpu-features` adds (`+NAME`, with what it needs) and removes
//! (`-NAME`, with what needs it) from there, or starts from this machine's CPU (`native`).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::OnceLock;
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
    (
        "spacemit-k1",
        include_str!("../../targets/boards/spacemit-k1.toml"),
    ),
    (
        "x86-64-v2",
        include_str!("../../targets/boards/x86-64-v2.toml"),
    ),
    (
        "x86-64-v3",
        include_str!("../../targets/boards/x86-64-v3.toml"),
    ),
];

/// The prefix that turns a feature name into its Cranelift flag.
const FLAG_PREFIX: &str = "has_";

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
    /// The Rust target the runtime is built for with `--libc musl`.
    pub musl_rust_triple: String,
    /// zig's name of the target (`zig cc -target`), which compiles the runtime's C part for
    /// musl.
    pub musl_zig_target: String,
    /// The CPU features a build may be told to use, each with the features it needs.
    pub features: BTreeMap<String, Vec<String>>,
    /// The C library executables are linked with (see [`Target::with_libc`]).
    #[serde(skip)]
    pub libc: Libc,
    /// Cranelift ISA flags on top of the triple's baseline: a board's or `--cpu-features`'
    /// choice of features (see [`Target::set_features`]).
    #[serde(skip)]
    pub isa_flags: Vec<(String, String)>,
    /// The board this target was narrowed to (see [`Board::target`]).
    #[serde(skip)]
    pub board: Option<String>,
}

/// The C library an executable carries (static) or needs (`--dynamic`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Libc {
    /// GNU libc, from the target's gcc (the default).
    #[default]
    Glibc,
    /// musl, from Rust's musl target: static executables only.
    Musl,
}

impl Libc {
    pub fn name(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        }
    }
}

impl FromStr for Libc {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Libc> {
        match s {
            "glibc" | "gnu" => Ok(Libc::Glibc),
            "musl" => Ok(Libc::Musl),
            _ => bail!("unknown C library `{s}`; known: glibc, musl"),
        }
    }
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

    /// This target linked with `libc`.
    pub fn with_libc(mut self, libc: Libc) -> Target {
        self.libc = libc;
        self
    }

    /// The Rust target the runtime is built for: the target's own triple for glibc, its musl
    /// sibling for musl. Runtime libraries are kept apart by it.
    pub fn runtime_triple(&self) -> &str {
        match self.libc {
            Libc::Glibc => &self.triple,
            Libc::Musl => &self.musl_rust_triple,
        }
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

    /// The command that runs this target's executables here: nothing when this machine's CPU
    /// runs them (its architecture, and every feature the code may use), the emulator
    /// otherwise (for a board, emulating the board's CPU).
    pub fn run_prefix(&self) -> &[String] {
        if self.runs_here() {
            &[]
        } else {
            &self.runner
        }
    }

    /// Whether this machine's CPU runs code built for this target as it is.
    fn runs_here(&self) -> bool {
        if !self.is_host() {
            return false;
        }
        if self.isa_flags.is_empty() {
            return true;
        }
        match (self.enabled_features(), self.host_features()) {
            (Ok(needed), Some(host)) => needed.is_subset(&host),
            _ => false,
        }
    }

    /// This machine's CPU features among this target's, less any whose needs it lacks (a CPU
    /// with POPCNT and no SSE4.2 gets no POPCNT from Cranelift, and says nothing of SSE4.2).
    fn host_features(&self) -> Option<BTreeSet<String>> {
        let mut host: BTreeSet<String> = host_features()?
            .iter()
            .filter(|f| self.features.contains_key(*f))
            .cloned()
            .collect();
        while let Some(lacking) = host
            .iter()
            .find(|f| !self.with_needed(f).is_subset(&host))
            .cloned()
        {
            host.remove(&lacking);
        }
        Some(host)
    }

    /// The features code built for this target may use: the baseline's and the board's or
    /// `--cpu-features`' additions, as Cranelift sees them once every flag is applied.
    pub fn enabled_features(&self) -> Result<BTreeSet<String>> {
        let flags = wafer_compiler::enabled_isa_flags(&self.triple()?, &self.isa_flags)?;
        Ok(self.features_of_flags(&flags))
    }

    /// The features among Cranelift flag names (`has_avx2` -> `avx2`).
    fn features_of_flags(&self, flags: &[String]) -> BTreeSet<String> {
        flags
            .iter()
            .filter_map(|f| f.strip_prefix(FLAG_PREFIX))
            .filter(|f| self.features.contains_key(*f))
            .map(str::to_string)
            .collect()
    }

    /// Makes exactly `enabled` (feature names of this target) the features the code may use.
    pub fn set_features(&mut self, enabled: &BTreeSet<String>) {
        self.isa_flags.retain(|(flag, _)| {
            !flag
                .strip_prefix(FLAG_PREFIX)
                .is_some_and(|f| self.features.contains_key(f))
        });
        for feature in self.features.keys() {
            let on = enabled.contains(feature);
            self.isa_flags
                .push((format!("{FLAG_PREFIX}{feature}"), on.to_string()));
        }
    }

    /// The names of this target's features, numbers in numeric order (`zvl64b`, `zvl128b`).
    pub fn feature_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.features.keys().map(String::as_str).collect();
        names.sort_by_key(|n| natural_order(n));
        names
    }

    /// `feature` and every feature it needs, directly or through others.
    pub fn with_needed(&self, feature: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![feature.to_string()];
        while let Some(f) = todo.pop() {
            if out.insert(f.clone()) {
                todo.extend(self.features.get(&f).into_iter().flatten().cloned());
            }
        }
        out
    }

    /// Applies `--cpu-features`: comma-separated `+NAME` (the feature and what it needs),
    /// `-NAME` (the feature and what needs it) and `native` (exactly this machine's
    /// features; only for its own architecture), from left to right, on top of the board's
    /// features or the baseline.
    pub fn with_cpu_features(mut self, spec: &str) -> Result<Target> {
        let mut enabled = self.enabled_features()?;
        for item in spec.split(',').map(str::trim) {
            if item == "native" {
                if !self.is_host() {
                    bail!(
                        "--cpu-features native: this machine is {}, the target is {}",
                        host_triple(),
                        self.triple
                    );
                }
                let Some(host) = self.host_features() else {
                    bail!("--cpu-features native: Cranelift cannot detect this machine's CPU");
                };
                enabled = host;
                continue;
            }
            let (add, name) = match item.split_at_checked(1) {
                Some(("+", name)) => (true, name),
                Some(("-", name)) => (false, name),
                _ if item.is_empty() => bail!("--cpu-features {spec:?} has an empty entry"),
                _ => bail!(
                    "--cpu-features: `{item}` needs a sign: `+{item}` adds the feature, `-{item}` removes it"
                ),
            };
            if !self.features.contains_key(name) {
                bail!(
                    "unknown CPU feature `{name}` for {}; known: {}, and native",
                    self.short,
                    self.feature_names().join(", ")
                );
            }
            if add {
                enabled.extend(self.with_needed(name));
            } else {
                enabled.retain(|f| !self.with_needed(f).contains(name));
            }
        }
        self.set_features(&enabled);
        Ok(self)
    }
}

/// The features this machine's CPU has (Cranelift flag names without `has_`), detected once.
fn host_features() -> Option<&'static BTreeSet<String>> {
    static HOST: OnceLock<Option<BTreeSet<String>>> = OnceLock::new();
    HOST.get_or_init(|| {
        wafer_compiler::host_isa_flags().ok().map(|flags| {
            flags
                .into_iter()
                .filter_map(|f| f.strip_prefix(FLAG_PREFIX).map(str::to_string))
                .collect()
        })
    })
    .as_ref()
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
    /// Every optional feature the CPU has, in its target's names; the others are off.
    pub features: Vec<String>,
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

    /// The board's target with the board's features, and an emulator that models its CPU.
    pub fn target(&self) -> Result<Target> {
        let mut target = Target::find(&self.target)
            .with_context(|| format!("board {} names target {}", self.name, self.target))?;
        if let Some(unknown) = self
            .features
            .iter()
            .find(|f| !target.features.contains_key(*f))
        {
            bail!(
                "board {} names `{unknown}`, not a feature of {}",
                self.name,
                target.short
            );
        }
        target.set_features(&self.features.iter().cloned().collect());
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

/// What `wafer targets` prints: every target (the host marked), every board and CPU
/// profile with its features, and the features `--cpu-features` knows per target.
pub fn listing() -> String {
    let targets = Target::all();
    let mut out = String::from("targets:\n");
    for t in &targets {
        let host = if t.is_host() { "  (host)" } else { "" };
        out += &format!("  {:<12} {}{host}\n", t.short, t.triple);
        out += &format!(
            "  {:<12}   --libc musl: runtime built for {}\n",
            "", t.musl_rust_triple
        );
    }
    out += "boards and CPU profiles (--board):\n";
    for b in Board::all() {
        let short = targets
            .iter()
            .find(|t| t.triple == b.target || t.short == b.target)
            .map_or(b.target.as_str(), |t| t.short.as_str());
        let features = if b.features.is_empty() {
            format!("none beyond the {short} baseline")
        } else {
            b.features.join(" ")
        };
        out += &format!(
            "  {:<12} {}, {short}\n  {:<12}   features: {features}\n",
            b.name, b.description, ""
        );
    }
    out += "CPU features (--cpu-features +NAME,-NAME,native; on top of --board):\n";
    for t in &targets {
        out += &format!("  {:<12} {}\n", t.short, t.feature_names().join(" "));
    }
    out
}

/// Sorts names with their numbers in numeric order (`zvl64b` before `zvl128b`).
fn natural_order(name: &str) -> (String, u64, String) {
    let start = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    let end = name[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(name.len(), |e| start + e);
    let number = name[start..end].parse().unwrap_or(0);
    (name[..start].to_string(), number, name[end..].to_string())
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

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

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

    /// Every feature is a Cranelift flag of its target's ISA, and needs only features of the
    /// same target; Cranelift accepts every board's flags and each feature turned on alone.
    #[test]
    fn every_feature_is_a_cranelift_flag() {
        for target in Target::all() {
            let triple = target.triple().unwrap();
            for (feature, needs) in &target.features {
                for n in needs {
                    assert!(target.features.contains_key(n), "{feature} needs {n}");
                }
                let alone = target.clone().with_cpu_features(&format!("+{feature}"));
                let enabled = alone.unwrap().enabled_features().unwrap();
                assert!(enabled.contains(feature), "{}: {feature}", target.short);
            }
            wafer_compiler::make_isa(&triple, &target.isa_flags).unwrap();
        }
        for board in Board::all() {
            let target = board.target().unwrap();
            if let Err(e) = wafer_compiler::make_isa(&target.triple().unwrap(), &target.isa_flags) {
                panic!("{}: {e}", board.name);
            }
        }
    }

    /// A board lists everything its CPU has: each feature it names comes with every feature
    /// that one needs, and Cranelift ends up with exactly the list.
    #[test]
    fn every_board_states_all_its_features() {
        for board in Board::all() {
            let target = board.target().unwrap();
            let listed: BTreeSet<String> = board.features.iter().cloned().collect();
            assert_eq!(
                listed.len(),
                board.features.len(),
                "{}: a repeat",
                board.name
            );
            for f in &board.features {
                let missing: Vec<_> = target.with_needed(f).difference(&listed).cloned().collect();
                assert!(missing.is_empty(), "{}: {f} needs {missing:?}", board.name);
            }
            assert_eq!(target.enabled_features().unwrap(), listed, "{}", board.name);
        }
    }

    /// The targets' own code runs on every CPU of their architecture: SSE2 only on x86_64,
    /// ARMv8.0-A on aarch64, RV64GC on riscv64.
    #[test]
    fn the_baselines_use_no_optional_feature() {
        let baseline = |t: &str| Target::find(t).unwrap().enabled_features().unwrap();
        assert_eq!(baseline("x86_64"), set(&[]));
        assert_eq!(baseline("aarch64"), set(&[]));
        assert_eq!(baseline("riscv64"), set(&["zca", "zcd"]));
    }

    /// `--libc musl` builds the runtime for the target's Rust musl sibling, kept apart from
    /// glibc's; the triple the code is compiled for stays the target's.
    #[test]
    fn musl_builds_use_the_musl_rust_target_for_the_runtime() {
        for target in Target::all() {
            assert_eq!(target.libc, Libc::Glibc, "{}", target.short);
            assert_eq!(target.runtime_triple(), target.triple);
            let musl = target.clone().with_libc(Libc::Musl);
            assert_eq!(
                musl.runtime_triple(),
                target.triple.replace("-gnu", "-musl"),
                "{}",
                target.short
            );
            assert_eq!(musl.triple, target.triple);
            assert!(musl.musl_zig_target.ends_with("-linux-musl"));
        }
        assert_eq!("musl".parse::<Libc>().unwrap(), Libc::Musl);
        assert_eq!("glibc".parse::<Libc>().unwrap(), Libc::Glibc);
        let err = "uclibc".parse::<Libc>().unwrap_err().to_string();
        assert!(err.contains("glibc, musl"), "{err}");
    }

    #[test]
    fn boards_have_what_their_cpus_have() {
        let features = |b: &str| Target::resolve(b).unwrap().enabled_features().unwrap();
        assert_eq!(features("rpi5"), set(&["dotprod", "fp16", "lse"]));
        assert_eq!(features("rpi4"), set(&[]));
        assert!(!features("visionfive2").contains("v"));
        let v2 = features("x86-64-v2");
        assert!(v2.contains("sse42") && v2.contains("popcnt") && !v2.contains("avx"));
        let v3 = features("x86-64-v3");
        assert!(v3.is_superset(&v2) && v3.contains("avx2") && v3.contains("bmi2"));
        assert!(!v3.iter().any(|f| f.starts_with("avx512")));
        let k1 = features("spacemit-k1");
        assert!(k1.contains("v") && k1.contains("zvl256b") && !k1.contains("zvl512b"));
        assert!(!k1.contains("zfa") && !k1.contains("zvbb"));
    }

    #[test]
    fn cpu_features_add_what_they_need_and_remove_what_needs_them() {
        let x86 = || Target::find("x86_64").unwrap();
        let avx2 = x86().with_cpu_features("+avx2").unwrap();
        assert_eq!(
            avx2.enabled_features().unwrap(),
            set(&["avx", "avx2", "sse3", "sse41", "sse42", "ssse3"])
        );
        // Board first, then the overrides, from left to right.
        let v3 = Target::resolve("x86-64-v3").unwrap();
        let fewer = v3.with_cpu_features("+avx512vl, -sse42").unwrap();
        let enabled = fewer.enabled_features().unwrap();
        assert!(enabled.contains("sse41") && enabled.contains("bmi2"));
        for gone in ["sse42", "avx", "avx2", "fma", "avx512f", "avx512vl"] {
            assert!(!enabled.contains(gone), "{gone}: {enabled:?}");
        }
        assert_eq!(fewer.board.as_deref(), Some("x86-64-v3"));
        // A later entry wins: adding AVX-512 back brings AVX2 and SSE4.2 with it.
        let later = Target::resolve("x86-64-v3").unwrap();
        let later = later.with_cpu_features("-sse42,+avx512vl").unwrap();
        let enabled = later.enabled_features().unwrap();
        assert!(
            enabled.contains("avx512vl") && enabled.contains("sse42"),
            "{enabled:?}"
        );
        let rpi5 = Target::resolve("rpi5").unwrap();
        let rpi5 = rpi5.with_cpu_features("-dotprod").unwrap();
        assert_eq!(rpi5.enabled_features().unwrap(), set(&["fp16", "lse"]));
        // riscv64's compressed instructions can go, the rest of the baseline stays.
        let rv = Target::find("riscv64")
            .unwrap()
            .with_cpu_features("-zca")
            .unwrap();
        assert_eq!(rv.enabled_features().unwrap(), set(&[]));
        wafer_compiler::make_isa(&rv.triple().unwrap(), &rv.isa_flags).unwrap();
    }

    #[test]
    fn bad_cpu_features_are_one_line_naming_what_is_known() {
        let err = |t: &str, spec: &str| {
            let e = Target::resolve(t)
                .unwrap()
                .with_cpu_features(spec)
                .unwrap_err();
            let text = format!("{e:#}");
            assert!(!text.contains('\n'), "{text}");
            text
        };
        let e = err("x86_64", "+avx3");
        assert!(e.contains("unknown CPU feature `avx3` for x86_64"), "{e}");
        assert!(
            e.contains("avx2") && e.contains("sse41") && e.contains("native"),
            "{e}"
        );
        // The names are the target's: aarch64 has no SSE.
        let e = err("rpi5", "+sse42");
        assert!(e.contains("for aarch64") && e.contains("dotprod"), "{e}");
        let e = err("x86_64", "avx2");
        assert!(e.contains("+avx2") && e.contains("-avx2"), "{e}");
        let e = err("x86_64", "+avx2,,+bmi2");
        assert!(e.contains("empty entry"), "{e}");
        let other = if Target::host().short == "aarch64" {
            "riscv64"
        } else {
            "aarch64"
        };
        let e = err(other, "native");
        assert!(e.contains("native") && e.contains("this machine is"), "{e}");
    }

    #[test]
    fn native_is_this_machines_cpu() {
        let host = Target::host().host_features();
        let host = host.expect("Cranelift detects this machine's CPU");
        let native = Target::host().with_cpu_features("native").unwrap();
        let enabled = native.enabled_features().unwrap();
        assert_eq!(enabled, host);
        assert!(native.run_prefix().is_empty());
        if Target::host().short == "x86_64" {
            // Every x86_64 CPU sold in the last decade and a half has SSE4.2.
            assert!(enabled.contains("sse42"), "{enabled:?}");
            let less = Target::host().with_cpu_features("native,-sse3").unwrap();
            assert!(!less.enabled_features().unwrap().contains("ssse3"));
        }
    }

    /// Code for this machine's architecture runs directly only when its CPU has every feature
    /// the code may use; otherwise under the emulator.
    #[test]
    fn executables_this_cpu_lacks_features_for_run_under_the_emulator() {
        let host = Target::host();
        assert!(host.run_prefix().is_empty());
        let has = host.host_features().unwrap();
        // A feature this CPU lacks, if there is one, sends the executable to the emulator.
        if let Some(missing) = host.feature_names().into_iter().find(|f| !has.contains(*f)) {
            let more = host
                .clone()
                .with_cpu_features(&format!("+{missing}"))
                .unwrap();
            assert_eq!(more.run_prefix(), &more.runner[..], "{missing}");
        }
        // A profile within this CPU's features runs directly.
        for board in Board::all() {
            let target = board.target().unwrap();
            if target.is_host() && target.enabled_features().unwrap().is_subset(&has) {
                assert!(target.run_prefix().is_empty(), "{}", board.name);
            }
        }
        for board in Board::all() {
            let target = board.target().unwrap();
            if !target.is_host() {
                assert_eq!(target.run_prefix(), &target.runner[..], "{}", board.name);
            }
        }
    }
}
