//! Running a spec-script executable over a list of commands, with a time limit, and
//! collecting one answer per command.
//!
//! If the executable dies while running a command (a crash is a bug, but one bug should not
//! hide every later assertion of the file), that command is charged with the death and the
//! executable runs again over the script without it: earlier commands are replayed to rebuild
//! the same state, later ones get their answers.

use crate::protocol::{commands_file, parse_result_line, Command, Outcome};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Limits for running one executable.
#[derive(Clone, Debug)]
pub struct Limits {
    /// For each run of the executable; a run that exceeds it is killed and the rest of the
    /// script is not run.
    pub timeout: Duration,
    /// How many deaths to step over before giving up on the rest of the script.
    pub max_restarts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(120),
            max_restarts: 3,
        }
    }
}

/// The answer to one command, or why there is none.
pub type Answer = Result<Outcome, String>;

/// Runs `exe` (through `runner`, e.g. an emulator, when not empty) over `commands`, writing the
/// commands file into `workdir`. Returns one answer per command.
pub fn run_commands(
    exe: &Path,
    runner: &[String],
    commands: &[Command],
    workdir: &Path,
    limits: &Limits,
) -> Vec<Answer> {
    let mut answers: Vec<Option<Answer>> = vec![None; commands.len()];
    let mut skipped: Vec<bool> = vec![false; commands.len()];
    for attempt in 0..=limits.max_restarts {
        // Line `i + 1` of this run's file is command `lines[i]`.
        let lines: Vec<usize> = (0..commands.len()).filter(|&i| !skipped[i]).collect();
        let path = workdir.join(format!("commands-{attempt}.txt"));
        let text = commands_file(lines.iter().map(|&i| &commands[i]));
        let run = std::fs::write(&path, text)
            .map_err(|e| format!("writing {}: {e}", path.display()))
            .and_then(|()| run_once(exe, runner, &path, limits.timeout));
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                fill_missing(&mut answers, &e);
                break;
            }
        };
        for line in run.stdout.lines() {
            let parsed = match parse_result_line(line) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => continue,
                Err(e) => {
                    // A garbled line cannot be attributed reliably; the command it was meant
                    // for will show up unanswered.
                    eprintln!("{}: {e}", exe.display());
                    continue;
                }
            };
            if let Some(&index) = parsed.line.checked_sub(1).and_then(|i| lines.get(i)) {
                answers[index].get_or_insert(Ok(parsed.outcome));
            }
        }
        let Some(first_missing) = (0..commands.len()).find(|&i| answers[i].is_none()) else {
            break;
        };
        let why = match run.ending {
            Ending::TimedOut => format!("timed out after {:?}", limits.timeout),
            Ending::Exited(status) => format!(
                "no answer: executable {} while running it{}",
                describe_status(status),
                stderr_tail(&run.stderr)
            ),
        };
        answers[first_missing] = Some(Err(why));
        skipped[first_missing] = true;
        if run.ending == Ending::TimedOut || attempt == limits.max_restarts {
            let reason = format!(
                "not run: the executable stopped for good at command {} of the script",
                first_missing + 1
            );
            fill_missing(&mut answers, &reason);
            break;
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

fn fill_missing(answers: &mut [Option<Answer>], reason: &str) {
    for answer in answers.iter_mut().filter(|a| a.is_none()) {
        *answer = Some(Err(reason.to_string()));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Exited(ExitStatus),
    TimedOut,
}

struct RunOutput {
    stdout: String,
    stderr: String,
    ending: Ending,
}

fn run_once(
    exe: &Path,
    runner: &[String],
    commands: &Path,
    timeout: Duration,
) -> Result<RunOutput, String> {
    let mut process = match runner.split_first() {
        Some((program, args)) => {
            let mut p = Process::new(program);
            p.args(args).arg(exe);
            p
        }
        None => Process::new(exe),
    };
    let mut child = process
        .arg(commands)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    // Drain both pipes on their own threads so a chatty executable cannot block on a full pipe
    // while we wait for it.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let ending = wait_with_deadline(&mut child, timeout)?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(RunOutput {
        stdout,
        stderr,
        ending,
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Result<Ending, String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for the executable: {e}"))?
        {
            return Ok(Ending::Exited(status));
        }
        if Instant::now() >= deadline {
            // Kills exactly the child we started (by its pid).
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ending::TimedOut);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended ({status})"),
    }
}

fn stderr_tail(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        return String::new();
    }
    let start = stderr.char_indices().rev().nth(300).map_or(0, |(i, _)| i);
    format!("; stderr: {}", stderr[start..].replace('\n', " | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Value;

    fn commands(n: usize) -> Vec<Command> {
        (0..n)
            .map(|i| Command::Invoke {
                instance: 0,
                export: format!("f{i}"),
                args: vec![],
            })
            .collect()
    }

    /// A stand-in executable: a shell script run through `sh`, answering from the commands file.
    fn fake(script: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("fake.sh");
        std::fs::write(&exe, script).unwrap();
        (dir, exe)
    }

    fn sh() -> Vec<String> {
        vec!["sh".to_string()]
    }

    #[test]
    fn answers_come_back_by_line_number() {
        // Answers every line with its own line number as an i32, in reverse order, and prints
        // noise that is not a result line.
        let (dir, exe) = fake("echo '42 : i32'; n=$(wc -l < \"$1\"); while [ $n -gt 0 ]; do echo \"$n ok i32:$n\"; n=$((n-1)); done\n");
        let answers = run_commands(&exe, &sh(), &commands(3), dir.path(), &Limits::default());
        let expected: Vec<Answer> = (1..=3)
            .map(|n| Ok(Outcome::Ok(vec![Value::I32(n)])))
            .collect();
        assert_eq!(answers, expected);
    }

    #[test]
    fn a_crash_is_charged_to_one_command_and_the_rest_still_run() {
        // Dies on the command `invoke 0 6631` (export "f1"), answering everything before it.
        let (dir, exe) = fake(
            "n=0; while read -r c; do n=$((n+1)); case \"$c\" in *6631*) echo oops >&2; kill -SEGV $$;; esac; echo \"$n ok\"; done < \"$1\"\n",
        );
        let answers = run_commands(&exe, &sh(), &commands(4), dir.path(), &Limits::default());
        assert_eq!(answers[0], Ok(Outcome::Ok(vec![])));
        let err = answers[1].clone().unwrap_err();
        assert!(err.contains("signal 11") && err.contains("oops"), "{err}");
        assert_eq!(answers[2], Ok(Outcome::Ok(vec![])));
        assert_eq!(answers[3], Ok(Outcome::Ok(vec![])));
    }

    #[test]
    fn a_hang_is_killed_and_reported() {
        let (dir, exe) = fake("echo '1 ok'; exec sleep 30\n");
        let limits = Limits {
            timeout: Duration::from_millis(300),
            max_restarts: 3,
        };
        let started = Instant::now();
        let answers = run_commands(&exe, &sh(), &commands(3), dir.path(), &limits);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(answers[0], Ok(Outcome::Ok(vec![])));
        assert!(answers[1].clone().unwrap_err().contains("timed out"));
        assert!(answers[2].clone().unwrap_err().starts_with("not run"));
    }

    #[test]
    fn a_missing_executable_fails_every_command() {
        let dir = tempfile::tempdir().unwrap();
        let answers = run_commands(
            &dir.path().join("nope"),
            &[],
            &commands(2),
            dir.path(),
            &Limits::default(),
        );
        assert!(answers
            .iter()
            .all(|a| a.clone().unwrap_err().contains("starting")));
    }
}
