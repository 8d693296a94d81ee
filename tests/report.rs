//! Scoring a plan against the executable's answers.

use crate::plan::{Plan, SettledOutcome};
use crate::run::Answer;
use std::collections::BTreeMap;
use std::fmt;

/// One assertion that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line in the `.wast` file.
    pub line: usize,
    pub what: String,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: expected {}, got {}",
            self.line, self.what, self.expected, self.got
        )
    }
}

/// The score of one script in one mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub passed: usize,
    /// Failures in line order.
    pub failures: Vec<Failure>,
    /// Assertions skipped because they need an unsupported feature, by feature.
    pub unsupported: BTreeMap<String, usize>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    pub fn unsupported_total(&self) -> usize {
        self.unsupported.values().sum()
    }

    /// A whole-file failure (the script does not parse, the executable does not build).
    pub fn fatal(line: usize, what: &str, got: String) -> Report {
        Report {
            failures: vec![Failure {
                line,
                what: what.into(),
                expected: "success".into(),
                got,
            }],
            ..Report::default()
        }
    }

    pub fn add(&mut self, other: &Report) {
        self.passed += other.passed;
        self.failures.extend(other.failures.iter().cloned());
        for (feature, n) in &other.unsupported {
            *self.unsupported.entry(feature.clone()).or_default() += n;
        }
    }
}

/// Scores `plan`: its settled assertions, and each step against its answer
/// (`answers[i]` answers `plan.steps[i]`).
pub fn score(plan: &Plan, answers: &[Answer]) -> Report {
    let mut report = Report::default();
    for settled in &plan.settled {
        match &settled.outcome {
            SettledOutcome::Passed => report.passed += 1,
            SettledOutcome::Unsupported(feature) => {
                *report.unsupported.entry(feature.clone()).or_default() += 1
            }
            SettledOutcome::Failed { expected, got } => report.failures.push(Failure {
                line: settled.line,
                what: settled.what.clone(),
                expected: expected.clone(),
                got: got.clone(),
            }),
        }
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let verdict = match answers.get(i) {
            Some(Ok(outcome)) => step.expect.check(outcome),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no answer".into()),
        };
        match verdict {
            Ok(()) => report.passed += 1,
            Err(got) => report.failures.push(Failure {
                line: step.line,
                what: step.what.clone(),
                expected: step.expect.to_string(),
                got,
            }),
        }
    }
    report.failures.sort_by_key(|f| f.line);
    report
}

/// Scores a plan whose executable could not be built: every step fails with `why`.
pub fn score_unbuilt(plan: &Plan, why: &str) -> Report {
    let answers: Vec<Answer> = plan
        .steps
        .iter()
        .map(|_| Err(format!("not run: {why}")))
        .collect();
    score(plan, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::{Expect, ValuePattern};
    use crate::plan::{Settled, Step};
    use crate::protocol::{Command, Outcome, Value};

    fn plan() -> Plan {
        let step = |line, expect| Step {
            line,
            what: format!("step at {line}"),
            command: Command::Get {
                instance: 0,
                export: "g".into(),
            },
            expect,
        };
        Plan {
            modules: vec![],
            steps: vec![
                step(5, Expect::Values(vec![ValuePattern::I32(1)])),
                step(3, Expect::Values(vec![ValuePattern::I32(1)])),
                step(9, Expect::Trap("unreachable".into())),
            ],
            settled: vec![
                Settled {
                    line: 1,
                    what: "a".into(),
                    outcome: SettledOutcome::Passed,
                },
                Settled {
                    line: 2,
                    what: "b".into(),
                    outcome: SettledOutcome::Unsupported("simd".into()),
                },
                Settled {
                    line: 4,
                    what: "c".into(),
                    outcome: SettledOutcome::Unsupported("simd".into()),
                },
                Settled {
                    line: 7,
                    what: "d".into(),
                    outcome: SettledOutcome::Failed {
                        expected: "rejected".into(),
                        got: "accepted".into(),
                    },
                },
            ],
        }
    }

    #[test]
    fn scores_settled_and_answered_assertions() {
        let answers = vec![
            Ok(Outcome::Ok(vec![Value::I32(1)])),
            Ok(Outcome::Ok(vec![Value::I32(2)])),
            Err("timed out".to_string()),
        ];
        let report = score(&plan(), &answers);
        assert_eq!(report.passed, 2);
        assert_eq!(report.unsupported_total(), 2);
        assert_eq!(report.unsupported["simd"], 2);
        let lines: Vec<_> = report.failures.iter().map(|f| f.line).collect();
        assert_eq!(lines, [3, 7, 9], "failures sorted by line");
        assert_eq!(report.failures[0].got, "ok i32:2");
        assert_eq!(report.failures[0].expected, "ok i32:1");
        assert_eq!(report.failures[2].got, "timed out");
        assert_eq!(
            report.failures[0].to_string(),
            "line 3: step at 3: expected ok i32:1, got ok i32:2"
        );
    }

    #[test]
    fn an_unbuilt_executable_fails_every_step_and_totals_add_up() {
        let report = score_unbuilt(&plan(), "link failed");
        assert_eq!(report.passed, 1);
        assert_eq!(report.failed(), 4);
        assert!(report
            .failures
            .iter()
            .any(|f| f.got == "not run: link failed"));
        let mut total = Report::default();
        total.add(&report);
        total.add(&report);
        assert_eq!(
            (total.passed, total.failed(), total.unsupported["simd"]),
            (2, 8, 4)
        );
    }
}
