//! wafer's conformance harness for the WebAssembly core spec test suite.
//!
//! Scripts run through the same ahead-of-time path users get: every module of a `.wast` file
//! is compiled into one native executable (built in `EntryMode::SpecScript`), and the script's
//! commands run through that executable over the line protocol of `wafer_abi::spec_script`.
//!
//! - [`plan`]: a script becomes modules to compile, commands with expectations, and
//!   assertions settled without running (rejected modules, unsupported features);
//! - [`protocol`]: commands and result lines on the wire;
//! - [`expect`]: matching answers (NaN classes, references, `either`, trap messages);
//! - [`run`]: running the executable with a time limit, surviving crashes;
//! - [`report`]: scoring; [`scope`]: which scripts are in scope.
//!
//! The compiler and linker are reached through [`Backend`], so everything here is tested
//! without them; `spec.rs` plugs in the real `wafer` build API.
//!
//! [`wali_report`] is the WALI suite's: reading what its upstream runner printed and checking
//! it against the known-failures list (`wali.rs` does the running).

pub mod expect;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod run;
pub mod scope;
pub mod wali_report;

use std::path::{Path, PathBuf};
use wafer_abi::BoundsChecks;

pub use plan::{plan_script, Plan, SettledOutcome, Verdict};
pub use report::Report;

/// The compiler as the harness needs it.
pub trait Backend: Sync {
    /// The compiler's verdict on one module (mode-independent).
    fn check(&self, wasm: &[u8]) -> Verdict;
    /// Builds one spec-script executable holding `modules` (module `i` is the protocol's
    /// module number `i`).
    fn build(&self, modules: &[Vec<u8>], out: &Path, mode: BoundsChecks) -> anyhow::Result<()>;
    /// The command that runs target executables (an emulator), empty to run them directly.
    fn runner(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The suite: `$WAFER_TESTSUITE`, else `shared/testsuite` next to the workspace.
pub fn suite_root() -> Option<PathBuf> {
    let root = match std::env::var_os("WAFER_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuite"),
    };
    root.is_dir().then_some(root)
}

/// The name of a bounds-check mode as users write it.
pub fn mode_name(mode: BoundsChecks) -> &'static str {
    match mode {
        BoundsChecks::Guard => "guard",
        BoundsChecks::Explicit => "explicit",
    }
}

/// Parses a mode name (case-insensitive).
pub fn parse_mode(name: &str) -> Option<BoundsChecks> {
    match name.trim().to_ascii_lowercase().as_str() {
        "guard" => Some(BoundsChecks::Guard),
        "explicit" => Some(BoundsChecks::Explicit),
        _ => None,
    }
}

/// Plans a script once (compiler verdicts are the same in every mode); `Err` is a report of
/// the script failing to parse.
pub fn plan_file(text: &str, backend: &dyn Backend) -> Result<Plan, Report> {
    plan_script(text, &mut |wasm| backend.check(wasm))
        .map_err(|e| Report::fatal(1, "parsing the script", e))
}

/// Builds the plan's executable for `mode` in a fresh temporary directory and runs it.
pub fn run_plan(
    plan: &Plan,
    backend: &dyn Backend,
    mode: BoundsChecks,
    limits: &run::Limits,
) -> Report {
    if plan.steps.is_empty() {
        return report::score(plan, &[]);
    }
    let dir = match tempfile::Builder::new().prefix("wafer-spec-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return report::score_unbuilt(plan, &format!("creating a temporary directory: {e}"))
        }
    };
    let exe = dir.path().join("spec-script");
    if let Err(e) = backend.build(&plan.modules, &exe, mode) {
        return report::score_unbuilt(plan, &format!("building the executable failed: {e:#}"));
    }
    let commands: Vec<_> = plan.steps.iter().map(|s| s.command.clone()).collect();
    let answers = run::run_commands(&exe, &backend.runner(), &commands, dir.path(), limits);
    if std::env::var_os("WAFER_SPEC_KEEP").is_some() {
        // For debugging a failure: the executable and its command files stay behind.
        eprintln!("spec: kept {}", dir.keep().display());
    }
    report::score(plan, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Accepts what wasmparser validates, and "builds" a shell script that answers every
    /// command `ok` — enough to drive the whole pipeline without the compiler.
    struct ShellBackend {
        built: Mutex<Vec<usize>>,
    }

    impl Backend for ShellBackend {
        fn check(&self, wasm: &[u8]) -> Verdict {
            match wasmparser::Validator::new().validate_all(wasm) {
                Ok(_) => Verdict::Accepted,
                Err(e) => Verdict::Rejected(e.to_string()),
            }
        }
        fn build(&self, modules: &[Vec<u8>], out: &Path, _: BoundsChecks) -> anyhow::Result<()> {
            self.built.lock().unwrap().push(modules.len());
            std::fs::write(
                out,
                "n=0; while read -r c; do n=$((n+1)); echo \"$n ok\"; done < \"$1\"\n",
            )?;
            Ok(())
        }
        fn runner(&self) -> Vec<String> {
            vec!["sh".into()]
        }
    }

    #[test]
    fn a_file_runs_end_to_end_through_a_backend() {
        let backend = ShellBackend {
            built: Mutex::new(vec![]),
        };
        let plan = plan_file(
            r#"(module (func (export "f")) (func (export "g") (result i32) (i32.const 1)))
               (invoke "f")
               (assert_return (invoke "f"))
               (assert_return (invoke "g") (i32.const 1))
               (assert_invalid (module (func (result i32))) "type mismatch")"#,
            &backend,
        )
        .unwrap();
        let report = run_plan(
            &plan,
            &backend,
            BoundsChecks::Explicit,
            &run::Limits::default(),
        );
        assert_eq!(*backend.built.lock().unwrap(), [1]);
        // The fake answers `ok` with no values, so only `g`'s result is wrong.
        assert_eq!(report.passed, 4, "{report:?}");
        assert_eq!(report.failed(), 1);
        assert_eq!(report.failures[0].line, 4);
    }

    #[test]
    fn unparsable_files_are_one_failure() {
        let backend = ShellBackend {
            built: Mutex::new(vec![]),
        };
        let report = plan_file("(assert_return", &backend).unwrap_err();
        assert_eq!(report.failed(), 1);
    }

    #[test]
    fn modes_have_names() {
        for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
            assert_eq!(parse_mode(mode_name(mode)), Some(mode));
        }
        assert_eq!(parse_mode(" Guard "), Some(BoundsChecks::Guard));
        assert_eq!(parse_mode("none"), None);
    }
}
