//! Timing runs on this machine: exec to exit and exec to the first byte on the child's stdout,
//! both taken by this process, in interleaved rounds; the output check; the statistics.

use super::runtimes::Invocation;
use anyhow::{Context, Result};
use std::io::Read;
use std::process::Stdio;
use std::time::Instant;

/// What a run showed: its standard output and exit status (128 + signal for a death by signal,
/// as a shell reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub stdout: Vec<u8>,
    pub status: i32,
}

/// One timed run, in nanoseconds.
#[derive(Clone, Debug)]
pub struct Sample {
    pub exit_ns: f64,
    /// None when the run wrote nothing to stdout.
    pub first_ns: Option<f64>,
    pub observed: Observed,
}

pub fn status_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs once, keeping stdout and stderr: the output check.
pub fn observe(inv: &Invocation, args: &[String]) -> Result<(Observed, String)> {
    let out = inv
        .command(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", inv.program.display()))?;
    Ok((
        Observed {
            stdout: out.stdout,
            status: status_code(out.status),
        },
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// One timed run. The clock starts before the spawn (fork and exec are part of what is
/// measured), the first-output time is when the first read of the stdout pipe returns bytes,
/// and the exit time when the child has been reaped.
pub fn sample(inv: &Invocation, args: &[String]) -> Result<Sample> {
    let mut cmd = inv.command(args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", inv.program.display()))?;
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let mut stdout = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if first.is_none() {
                    first = Some(start.elapsed().as_nanos() as f64);
                }
                stdout.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the child's stdout"),
        }
    }
    let status = child.wait()?;
    let exit_ns = start.elapsed().as_nanos() as f64;
    Ok(Sample {
        exit_ns,
        first_ns: first,
        observed: Observed {
            stdout,
            status: status_code(status),
        },
    })
}

/// `warmup` rounds, then `runs` rounds, each running every invocation once; the order turns by
/// one each round, so no runtime always runs first (or right after the same other one).
/// Returns the timed samples per invocation.
pub fn interleaved(
    invocations: &[&Invocation],
    args: &[String],
    runs: usize,
    warmup: usize,
) -> Result<Vec<Vec<Sample>>> {
    let n = invocations.len();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(runs); n];
    for round in 0..warmup + runs {
        for j in 0..n {
            let i = (round + j) % n;
            let s = sample(invocations[i], args)?;
            if round >= warmup {
                samples[i].push(s);
            }
        }
    }
    Ok(samples)
}

/// Whether `other` printed what the reference (wafer) printed and exited alike; what differs
/// if not.
pub fn compare(reference: &Observed, other: &Observed) -> Option<String> {
    let mut diffs = Vec::new();
    if reference.status != other.status {
        diffs.push(format!(
            "exit status {}, wafer's {}",
            other.status, reference.status
        ));
    }
    if reference.stdout != other.stdout {
        let at = reference
            .stdout
            .iter()
            .zip(&other.stdout)
            .take_while(|(a, b)| a == b)
            .count();
        let excerpt = |b: &[u8]| {
            let s = String::from_utf8_lossy(&b[at.min(b.len())..]).into_owned();
            let short: String = s.chars().take(40).collect();
            format!("{short:?}")
        };
        diffs.push(format!(
            "stdout differs from wafer's at byte {at}: {} where wafer printed {}",
            excerpt(&other.stdout),
            excerpt(&reference.stdout)
        ));
    }
    if diffs.is_empty() {
        None
    } else {
        Some(diffs.join("; "))
    }
}

/// Order statistics and moments of a set of times (nanoseconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub runs: usize,
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub mean: f64,
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Stats {
            runs: n,
            median: quantile(&v, 0.5),
            p10: quantile(&v, 0.1),
            p90: quantile(&v, 0.9),
            mean,
            stddev: var.sqrt(),
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// The q-quantile of sorted values, interpolating between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = Stats::of(&[4.0, 1.0, 3.0, 2.0, 5.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert!((s.p10 - 1.4).abs() < 1e-9);
        assert!((s.p90 - 4.6).abs() < 1e-9);
        assert_eq!((s.min, s.max, s.mean), (1.0, 5.0, 3.0));
        assert!(Stats::of(&[]).is_none());
    }
}
