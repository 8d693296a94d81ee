//! What a run found and how much it checked: findings (each with its input, reproducible from
//! its seed), counters, operator coverage, and the summary files of a long run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::coverage::Coverage;

/// Counters of one run (or one batch, merged into the run's).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    /// Generated inputs (modules, or byte strings for the bytes target).
    pub cases: u64,
    /// Calls compared (or host calls made, for the imports target).
    pub calls: u64,
    pub divergences: u64,
    /// Further counts by name: per target and mode, per outcome class.
    pub counts: BTreeMap<String, u64>,
    pub coverage: Coverage,
}

impl Tally {
    pub fn count(&mut self, name: impl Into<String>, n: u64) {
        *self.counts.entry(name.into()).or_default() += n;
    }

    pub fn merge(&mut self, other: &Tally) {
        self.cases += other.cases;
        self.calls += other.calls;
        self.divergences += other.divergences;
        for (k, v) in &other.counts {
            self.count(k.clone(), *v);
        }
        self.coverage.merge(&other.coverage);
    }
}

/// One divergence or misbehaviour, with what reproduces it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub seed: u64,
    /// Target and mode, e.g. `x86_64/guard`.
    pub config: String,
    pub what: String,
    /// The module (or bytes) that showed it.
    pub input: Vec<u8>,
}

/// The findings as one text, one line each (for a test's failure message).
pub fn describe(findings: &[Finding]) -> String {
    let lines: Vec<String> = findings
        .iter()
        .map(|f| format!("seed {} on {}: {}", f.seed, f.config, f.what))
        .collect();
    format!("{} findings:\n{}", findings.len(), lines.join("\n"))
}

/// The output directory of a long run: `corpus/` (inputs worth keeping: every finding's,
/// and for the bytes target one input per distinct answer), `findings/` (one text file per
/// finding), `summary.json` and `summary.txt`.
pub struct Output {
    dir: PathBuf,
}

impl Output {
    pub fn new(dir: &Path) -> std::io::Result<Output> {
        std::fs::create_dir_all(dir.join("corpus"))?;
        std::fs::create_dir_all(dir.join("findings"))?;
        Ok(Output {
            dir: dir.to_path_buf(),
        })
    }

    pub fn save_finding(&self, target: &str, f: &Finding) -> std::io::Result<()> {
        let stem = format!("{target}-{}-seed{}", f.config.replace('/', "-"), f.seed);
        std::fs::write(
            self.dir.join("corpus").join(format!("{stem}.wasm")),
            &f.input,
        )?;
        std::fs::write(
            self.dir.join("findings").join(format!("{stem}.txt")),
            format!(
                "target {target}, {}, seed {}\n{}\n\nreproduce: scripts/fuzz.sh {target} --first {} --cases 1 --config {}\n",
                f.config, f.seed, f.what, f.seed, f.config
            ),
        )
    }

    pub fn save_corpus(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(self.dir.join("corpus").join(name), bytes)
    }

    pub fn write_summary(&self, s: &Summary) -> std::io::Result<()> {
        std::fs::write(
            self.dir.join("summary.json"),
            serde_json::to_string_pretty(s).unwrap(),
        )?;
        std::fs::write(self.dir.join("summary.txt"), s.text())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub target: String,
    pub first_seed: u64,
    pub jobs: usize,
    pub seconds: f64,
    pub tally: Tally,
}

impl Summary {
    pub fn text(&self) -> String {
        let t = &self.tally;
        let mut s = format!(
            "target {}: {} cases, {} calls, {} divergences in {:.0} s ({} jobs, seeds from {})\n",
            self.target, t.cases, t.calls, t.divergences, self.seconds, self.jobs, self.first_seed
        );
        for (k, v) in &t.counts {
            s.push_str(&format!("  {k}: {v}\n"));
        }
        if !t.coverage.by_kind.is_empty() {
            s.push_str(&format!(
                "operators by kind ({} distinct operators):\n",
                t.coverage.by_operator.len()
            ));
            for (k, v) in &t.coverage.by_kind {
                s.push_str(&format!("  {k}: {v}\n"));
            }
        }
        s
    }
}
