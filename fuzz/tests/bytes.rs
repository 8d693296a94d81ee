//! The bytes target, bounded and seeded (see `wafer_fuzz::bytes`), and the CLI's side of the
//! same promise: one line and exit status 1 for every bad input.

use std::process::Command;

use wafer_fuzz::bytes::{check_batch, mutate};
use wafer_fuzz::report::{describe, Tally};
use wafer_fuzz::rng::Rng;

#[test]
fn mutated_modules_get_a_clean_verdict() {
    let mut tally = Tally::default();
    let seeds: Vec<u64> = (1..=3000).collect();
    let findings = check_batch(&seeds, &mut tally, None);
    eprintln!("bytes: {} inputs: {:?}", tally.cases, tally.counts);
    assert!(findings.is_empty(), "{}", describe(&findings));
    // The mutations reach both sides: some inputs still compile, most do not.
    let count = |k: &str| tally.counts.get(k).copied().unwrap_or(0);
    let compiled = count("verdict: compiled") + count("verdict: compiled, but no entry point");
    assert!(compiled > 50 && compiled < 2900, "{:?}", tally.counts);
}

#[test]
fn the_cli_answers_bad_bytes_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let wafer = env!("CARGO_BIN_EXE_wafer-fuzz").replace("wafer-fuzz", "wafer");
    if !std::path::Path::new(&wafer).exists() {
        // Built by the workspace's test run (the cli crate's binary).
        eprintln!("skipping: {wafer} is not built");
        return;
    }
    let mut rng = Rng::new(7);
    let good = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    for n in 0..40 {
        let input = mutate(good.clone(), &mut rng);
        let path = dir.path().join(format!("m{n}.wasm"));
        std::fs::write(&path, &input).unwrap();
        let out = Command::new(&wafer)
            .args(["build", path.to_str().unwrap(), "-o"])
            .arg(dir.path().join(format!("m{n}")))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {}
            Some(1) => assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}"),
            other => panic!("wafer build exited {other:?} on {input:?}: {stderr}"),
        }
    }
}

/// The long-run command: its summary, corpus and exit status.
#[test]
fn a_long_run_writes_its_summary_and_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wafer-fuzz"))
        .args(["bytes", "--cases", "300", "--jobs", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.starts_with("target bytes: 300 cases"), "{summary}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(json["tally"]["cases"], 300);
    assert!(
        std::fs::read_dir(dir.path().join("corpus"))
            .unwrap()
            .count()
            > 3
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_wafer-fuzz"))
        .args(["nonsense"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Seeds the first long run found: mutated components whose `wasi:cli/run` export is not an
/// instance with a run function were called invalid wasm (they are valid, just not commands).
#[test]
fn findings_of_the_long_runs_stay_fixed() {
    let seeds = [
        1060376, 1102264, 1104104, 1114408, 1118408, 1128080, 1166856, 1193296,
    ];
    let mut tally = Tally::default();
    let findings = check_batch(&seeds, &mut tally, None);
    assert!(findings.is_empty(), "{}", describe(&findings));
}
