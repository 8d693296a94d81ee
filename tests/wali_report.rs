//! Reading the WALI suite's results (`tests/wali.rs` does the running): what the upstream
//! runner `run_tests.py` printed, what `tests/wali/native-run.c` recorded about each native
//! run, and which failures `tests/wali-known-failures.toml` explains.
//!
//! A *run* is one `// CMD:` line of a unit test (or the single run of a test without one),
//! named `<test>#<n>` with `n` counted from 1 as the runner prints it. It *matched* when the
//! runner found the same exit status natively and under wafer. Its native baseline *passed*
//! when the native binary exited 0. A run *fails* when it did not match although its baseline
//! passed (or the baseline is unknown); a mismatch against a failing baseline is not counted
//! (the upstream test does not hold on this machine, natively).

use std::collections::BTreeMap;

/// One unit test as the runner reported it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuiteResult {
    pub test: String,
    /// How many runs the test has.
    pub runs: usize,
    pub failed: Vec<FailedRun>,
}

/// A run the runner reported as failed, with what it printed about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailedRun {
    /// 1-based, as printed.
    pub index: usize,
    /// The runner's description of the run (a Python dict of setup/args/cleanup/env).
    pub args: String,
    pub reason: String,
    pub native_output: Vec<String>,
    pub wasm_output: Vec<String>,
}

/// Everything the runner printed, parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunnerOutput {
    pub suites: Vec<SuiteResult>,
    /// `Summary: <passed>/<total> test suites passed.`, when the runner got that far.
    pub summary: Option<(usize, usize)>,
}

/// Removes ANSI colour sequences (the runner colours PASS and FAIL even into a pipe).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (0x40..=0x7e).
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `name.......PASS (3/3)` or `name.......FAIL`: the test's name and, for PASS, its run count.
fn suite_line(line: &str) -> Option<(String, Option<usize>)> {
    if line.starts_with(' ') {
        return None;
    }
    let (head, runs) = if let Some(head) = line.strip_suffix("FAIL") {
        (head, None)
    } else {
        let at = line.rfind("PASS (")?;
        let counts = line[at + "PASS (".len()..].strip_suffix(')')?;
        let (passed, total) = counts.split_once('/')?;
        let total: usize = total.parse().ok()?;
        (passed.parse::<usize>().ok() == Some(total)).then_some(())?;
        (&line[..at], Some(total))
    };
    let name = head.trim_end_matches('.');
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| (name.to_string(), runs))
}

/// Parses the runner's standard output (colours and all).
pub fn parse_runner_output(text: &str) -> RunnerOutput {
    #[derive(PartialEq)]
    enum In {
        Nothing,
        Native,
        Wasm,
    }
    let text = strip_ansi(text);
    let mut out = RunnerOutput::default();
    let mut section = In::Nothing;
    for line in text.lines() {
        if let Some((test, runs)) = suite_line(line) {
            out.suites.push(SuiteResult {
                test,
                runs: runs.unwrap_or(0),
                failed: Vec::new(),
            });
            section = In::Nothing;
            continue;
        }
        if let Some(rest) = line.strip_prefix("Summary: ") {
            let counts = rest
                .split_whitespace()
                .next()
                .and_then(|c| c.split_once('/'));
            out.summary = counts.and_then(|(p, t)| Some((p.parse().ok()?, t.parse().ok()?)));
            continue;
        }
        let Some(suite) = out.suites.last_mut() else {
            continue;
        };
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 2 && trimmed.starts_with('[') {
            // `[engine] FAIL (passed/total)` (or `[engine] PASS` with several engines).
            if let Some(counts) = trimmed
                .split_once("FAIL (")
                .and_then(|(_, c)| c.strip_suffix(')'))
                .and_then(|c| c.split_once('/'))
            {
                if let Ok(total) = counts.1.parse() {
                    suite.runs = total;
                }
            }
            section = In::Nothing;
        } else if indent == 4 && trimmed.starts_with("Run ") {
            // `Run <n> Failed: <dict>`
            let rest = &trimmed["Run ".len()..];
            if let Some((n, args)) = rest.split_once(" Failed: ") {
                if let Ok(index) = n.parse() {
                    suite.failed.push(FailedRun {
                        index,
                        args: args.to_string(),
                        ..Default::default()
                    });
                }
            }
            section = In::Nothing;
        } else if let Some(run) = suite.failed.last_mut() {
            if indent == 6 {
                if let Some(reason) = trimmed.strip_prefix("Reason: ") {
                    run.reason = reason.to_string();
                    section = In::Nothing;
                } else if trimmed == "Native Output:" {
                    section = In::Native;
                } else if trimmed == "Wasm Output:" {
                    section = In::Wasm;
                }
            } else if indent >= 8 {
                let text = line.get(8..).unwrap_or("").to_string();
                match section {
                    In::Native => run.native_output.push(text),
                    In::Wasm => run.wasm_output.push(text),
                    In::Nothing => {}
                }
            }
        }
    }
    out
}

/// How a native test binary ended, as native-run recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeEnd {
    Exit(i32),
    Signal(i32),
}

/// Per test, one entry per native run in order: how it ended, `None` when it started but no
/// end was recorded (killed by the runner's timeout).
pub type NativeLog = BTreeMap<String, Vec<Option<NativeEnd>>>;

pub fn parse_native_log(text: &str) -> NativeLog {
    let mut log = NativeLog::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["start", test] => log.entry(test.to_string()).or_default().push(None),
            ["end", test, kind, n] => {
                let Ok(n) = n.parse() else { continue };
                let end = match kind {
                    "exit" => NativeEnd::Exit(n),
                    "signal" => NativeEnd::Signal(n),
                    _ => continue,
                };
                if let Some(last) = log.get_mut(test).and_then(|runs| runs.last_mut()) {
                    if last.is_none() {
                        *last = Some(end);
                    }
                }
            }
            _ => {}
        }
    }
    log
}

/// Whether a run's native baseline passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Baseline {
    Passed,
    /// How it failed.
    Failed(String),
    /// Not known (the records do not line up with the runs); treated as passed.
    Unknown,
}

/// One run, with everything known about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub test: String,
    pub index: usize,
    pub matched: bool,
    pub baseline: Baseline,
    /// What the runner printed, for a run that did not match.
    pub failure: Option<FailedRun>,
}

impl Run {
    /// `<test>#<n>`.
    pub fn id(&self) -> String {
        format!("{}#{}", self.test, self.index)
    }

    /// Did not match although the native baseline passed (or may have).
    pub fn is_failure(&self) -> bool {
        !self.matched && !matches!(self.baseline, Baseline::Failed(_))
    }
}

/// The native exit status in a `Return codes differ (Native: X, Wasm: Y)` reason.
fn native_status_in(reason: &str) -> Option<i64> {
    let rest = reason.split_once("(Native: ")?.1;
    rest.split(',').next()?.trim().parse().ok()
}

fn baseline_of(reason: Option<&str>, recorded: Option<&Option<NativeEnd>>) -> Baseline {
    if let Some(reason) = reason {
        if let Some(status) = native_status_in(reason) {
            return if status == 0 {
                Baseline::Passed
            } else {
                Baseline::Failed(format!("native exit status {status}"))
            };
        }
        if reason.starts_with("Native timed out") {
            return Baseline::Failed("native timed out".into());
        }
        if reason.starts_with("Native cleanup failed") {
            return Baseline::Failed("native cleanup hook failed".into());
        }
        if reason == "missing binary" {
            return Baseline::Failed("no native binary".into());
        }
    }
    match recorded {
        Some(Some(NativeEnd::Exit(0))) => Baseline::Passed,
        Some(Some(NativeEnd::Exit(n))) => Baseline::Failed(format!("native exit status {n}")),
        Some(Some(NativeEnd::Signal(n))) => {
            Baseline::Failed(format!("native killed by signal {n}"))
        }
        Some(None) => Baseline::Failed("native run did not finish".into()),
        None => Baseline::Unknown,
    }
}

/// Every run of every reported test, in the runner's order.
pub fn runs(output: &RunnerOutput, natives: &NativeLog) -> Vec<Run> {
    let mut all = Vec::new();
    for suite in &output.suites {
        // Records line up with runs only when every run started its native binary once (a
        // failing setup hook starts none).
        let recorded = natives
            .get(&suite.test)
            .filter(|records| records.len() == suite.runs);
        for index in 1..=suite.runs {
            let failure = suite.failed.iter().find(|f| f.index == index).cloned();
            let record = recorded.map(|records| &records[index - 1]);
            all.push(Run {
                test: suite.test.clone(),
                index,
                matched: failure.is_none(),
                baseline: baseline_of(failure.as_ref().map(|f| f.reason.as_str()), record),
                failure,
            });
        }
    }
    all
}

/// `tests/wali-known-failures.toml`: sections `all` or a target name, each mapping a run
/// (`<test>#<n>`), a whole test (`<test>`) or an app check (`app/<name>`) to the reason it
/// fails.
#[derive(Clone, Debug, Default)]
pub struct KnownFailures {
    pub entries: Vec<KnownFailure>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownFailure {
    /// `all` or a target name.
    pub section: String,
    pub key: String,
    pub reason: String,
}

impl KnownFailure {
    /// Whether this entry is about the item `id` in `group` (a run and its test, or an app
    /// check and itself) on `target`.
    pub fn covers(&self, target: &str, group: &str, id: &str) -> bool {
        (self.section == "all" || self.section == target) && (self.key == id || self.key == group)
    }

    /// The test or app check the entry names.
    pub fn group(&self) -> &str {
        self.key.split('#').next().unwrap_or(&self.key)
    }
}

impl KnownFailures {
    /// Parses the file; `sections` are the allowed section names besides `all`, `is_group`
    /// says whether a test or app check of that name exists.
    pub fn parse(
        text: &str,
        sections: &[&str],
        is_group: &dyn Fn(&str) -> bool,
    ) -> Result<KnownFailures, String> {
        let table: BTreeMap<String, BTreeMap<String, String>> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        for (section, items) in table {
            if section != "all" && !sections.contains(&section.as_str()) {
                return Err(format!(
                    "unknown section [{section}] (all, {})",
                    sections.join(", ")
                ));
            }
            for (key, reason) in items {
                let entry = KnownFailure {
                    section: section.clone(),
                    key,
                    reason: reason.trim().to_string(),
                };
                if entry.reason.is_empty() {
                    return Err(format!("[{section}] {}: the reason is empty", entry.key));
                }
                if !is_group(entry.group()) {
                    return Err(format!(
                        "[{section}] {}: no unit test or app check `{}`",
                        entry.key,
                        entry.group()
                    ));
                }
                if let Some((_, n)) = entry.key.split_once('#') {
                    if n.parse::<usize>().map_or(true, |n| n == 0) {
                        return Err(format!(
                            "[{section}] {}: a run is `<test>#<n>`, n from 1",
                            entry.key
                        ));
                    }
                }
                entries.push(entry);
            }
        }
        Ok(KnownFailures { entries })
    }

    /// The first entry explaining item `id` of `group` on `target`.
    pub fn explain(&self, target: &str, group: &str, id: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.covers(target, group, id))
    }
}

/// An outcome the known-failures list is checked against: a run or an app check.
#[derive(Clone, Debug)]
pub struct Item {
    pub target: String,
    /// The test (for a run) or the app check's own id.
    pub group: String,
    pub id: String,
    pub failing: bool,
}

/// How the list fared against the outcomes of one invocation.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// For each failing item (index into the items), the entry explaining it, if any.
    pub explained: BTreeMap<usize, Option<usize>>,
    /// Entries that apply to something that ran but explain no failure: fixed, to remove.
    pub stale: Vec<usize>,
}

/// Matches failing items with entries; an entry that covered items which ran, none of them
/// failing, is stale. An entry none of whose items ran (another target, a filtered run) is
/// left alone.
pub fn judge(list: &KnownFailures, items: &[Item]) -> Judgement {
    let mut judgement = Judgement::default();
    for (i, item) in items.iter().enumerate() {
        if item.failing {
            let entry = list.explain(&item.target, &item.group, &item.id);
            judgement.explained.insert(i, entry);
        }
    }
    for (e, entry) in list.entries.iter().enumerate() {
        // In use when it covers a failing item (even one an earlier entry explains); stale
        // when what it covers ran and nothing of it fails.
        let covers = |failing_only: bool| {
            items
                .iter()
                .any(|i| (i.failing || !failing_only) && entry.covers(&i.target, &i.group, &i.id))
        };
        if !covers(true) && covers(false) {
            judgement.stale.push(e);
        }
    }
    judgement
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Testing with engines: wafer-x86_64\n\
        ------------------------------------------------------------\n\
        access............................................\x1b[92mPASS (3/3)\x1b[0m\n\
        chmod.............................................\x1b[91mFAIL\x1b[0m\n  \
          [wafer-x86_64] FAIL (1/3)\n    \
            Run 2 Failed: {'setup': ['0644', '/tmp/chmod_b.txt'], 'args': ['ok']}\n      \
              Reason: Return codes differ (Native: 0, Wasm: 255)\n      \
              Native Output:\n        \
                [TEST] native said this\n      \
              Wasm Output:\n        \
                wali: chmod[...] = -38\n        \
                second line\n    \
            Run 3 Failed: {'setup': [], 'args': []}\n      \
              Reason: Wasm timed out after 20s\n      \
              Native Output:\n      \
              Wasm Output:\n\
        getpid............................................\x1b[91mFAIL\x1b[0m\n  \
          [wafer-x86_64] FAIL (0/1)\n    \
            Run 1 Failed: {'setup': [], 'args': []}\n      \
              Reason: Return codes differ (Native: -11, Wasm: 0)\n\
        rename............................................\x1b[91mFAIL\x1b[0m\n  \
          [wafer-x86_64] FAIL (0/1)\n    \
            Run 1 Failed: {'setup': [], 'args': []}\n      \
              Reason: missing binary\n\
        \n\
        Summary: 1/4 test suites passed.\n";

    #[test]
    fn runner_output_is_parsed() {
        let out = parse_runner_output(OUTPUT);
        assert_eq!(out.summary, Some((1, 4)));
        let names: Vec<_> = out.suites.iter().map(|s| (&s.test[..], s.runs)).collect();
        assert_eq!(
            names,
            [("access", 3), ("chmod", 3), ("getpid", 1), ("rename", 1)]
        );
        let chmod = &out.suites[1];
        assert_eq!(chmod.failed.len(), 2);
        assert_eq!(chmod.failed[0].index, 2);
        assert!(chmod.failed[0].args.starts_with("{'setup'"));
        assert_eq!(
            chmod.failed[0].reason,
            "Return codes differ (Native: 0, Wasm: 255)"
        );
        assert_eq!(chmod.failed[0].native_output, ["[TEST] native said this"]);
        assert_eq!(
            chmod.failed[0].wasm_output,
            ["wali: chmod[...] = -38", "second line"]
        );
        assert_eq!(chmod.failed[1].reason, "Wasm timed out after 20s");
    }

    #[test]
    fn baselines_come_from_the_reason_or_the_native_records() {
        let out = parse_runner_output(OUTPUT);
        let log = parse_native_log(
            "start access\nend access exit 0\nstart access\nend access exit 1\nstart access\n\
             start chmod\nend chmod exit 0\nstart chmod\nend chmod exit 0\n",
        );
        let runs = runs(&out, &log);
        let view: Vec<_> = runs
            .iter()
            .map(|r| (r.id(), r.matched, r.baseline.clone(), r.is_failure()))
            .collect();
        let failed = |s: &str| Baseline::Failed(s.to_string());
        assert_eq!(
            view,
            [
                ("access#1".into(), true, Baseline::Passed, false),
                (
                    "access#2".into(),
                    true,
                    failed("native exit status 1"),
                    false
                ),
                (
                    "access#3".into(),
                    true,
                    failed("native run did not finish"),
                    false
                ),
                // chmod has two records for three runs: they cannot be lined up.
                ("chmod#1".into(), true, Baseline::Unknown, false),
                ("chmod#2".into(), false, Baseline::Passed, true),
                ("chmod#3".into(), false, Baseline::Unknown, true),
                (
                    "getpid#1".into(),
                    false,
                    failed("native exit status -11"),
                    false
                ),
                ("rename#1".into(), false, failed("no native binary"), false),
            ]
        );
    }

    fn item(target: &str, group: &str, id: &str, failing: bool) -> Item {
        Item {
            target: target.into(),
            group: group.into(),
            id: id.into(),
            failing,
        }
    }

    #[test]
    fn known_failures_explain_and_go_stale() {
        let text = r#"
            [all]
            chmod = "fs family"
            "open#2" = "flags"
            "app/lua-test" = "needs fs"
            [aarch64]
            "getpid#1" = "qemu"
        "#;
        let groups = ["chmod", "open", "getpid", "app/lua-test"];
        let list =
            KnownFailures::parse(text, &["x86_64", "aarch64"], &|g| groups.contains(&g)).unwrap();
        let items = [
            item("x86_64", "chmod", "chmod#1", true),
            item("x86_64", "chmod", "chmod#2", false),
            item("x86_64", "open", "open#1", true),
            item("x86_64", "open", "open#2", false),
            item("x86_64", "app/lua-test", "app/lua-test", true),
        ];
        let j = judge(&list, &items);
        let key = |e: Option<usize>| e.map(|e| list.entries[e].key.as_str());
        assert_eq!(key(j.explained[&0]), Some("chmod"));
        assert_eq!(key(j.explained[&2]), None);
        assert_eq!(key(j.explained[&4]), Some("app/lua-test"));
        // open#2 now matches; getpid's aarch64 entry did not run here.
        let stale: Vec<_> = j.stale.iter().map(|&e| &list.entries[e].key[..]).collect();
        assert_eq!(stale, ["open#2"]);
    }

    #[test]
    fn bad_known_failure_files_are_refused() {
        let ok = |g: &str| g == "chmod";
        let parse = |t: &str| KnownFailures::parse(t, &["x86_64"], &ok);
        assert!(parse("[all]\nchmod = \"why\"").is_ok());
        assert!(parse("[mips]\nchmod = \"why\"").is_err());
        assert!(parse("[all]\nchmod = \" \"").is_err());
        assert!(parse("[all]\nchmdo = \"why\"").is_err());
        assert!(parse("[all]\n\"chmod#0\" = \"why\"").is_err());
        assert!(parse("[all]\n\"chmod#x\" = \"why\"").is_err());
    }
}
