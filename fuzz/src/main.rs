//! `wafer-fuzz TARGET [--hours H | --cases N] [--jobs J] [--out DIR] [--first SEED]
//! [--config TARGET/MODE] [--batch B]`: a long fuzzing run (see the library docs; normally
//! started by `scripts/fuzz.sh`). Findings are written as they happen; the summary every
//! minute and at the end. Exits 1 when anything was found.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wafer_abi::BoundsChecks;
use wafer_fuzz::core::{parse_config, CONFIGS};
use wafer_fuzz::oracle::Reference;
use wafer_fuzz::report::{Finding, Output, Summary, Tally};

const USAGE: &str = "usage: wafer-fuzz core|imports|bytes [--hours H | --cases N] [--jobs J] \
                     [--out DIR] [--first SEED] [--config TARGET/MODE] [--batch B]";

struct Args {
    target: String,
    hours: Option<f64>,
    cases: Option<u64>,
    jobs: usize,
    out: PathBuf,
    first: u64,
    config: Option<(&'static str, BoundsChecks)>,
    batch: Option<u64>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let target = it.next().ok_or(USAGE)?;
    if !["core", "imports", "bytes"].contains(&target.as_str()) {
        return Err(format!("unknown target {target}; {USAGE}"));
    }
    let mut a = Args {
        out: PathBuf::from(format!("target/fuzz/{target}")),
        target,
        hours: None,
        cases: None,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        first: 1,
        config: None,
        batch: None,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        let bad = || format!("bad value {value} for {flag}");
        match flag.as_str() {
            "--hours" => a.hours = Some(value.parse().map_err(|_| bad())?),
            "--cases" => a.cases = Some(value.parse().map_err(|_| bad())?),
            "--jobs" => a.jobs = value.parse().map_err(|_| bad())?,
            "--out" => a.out = PathBuf::from(&value),
            "--first" => a.first = value.parse().map_err(|_| bad())?,
            "--batch" => a.batch = Some(value.parse().map_err(|_| bad())?),
            "--config" => a.config = Some(parse_config(&value).ok_or_else(bad)?),
            _ => return Err(format!("unknown option {flag}; {USAGE}")),
        }
    }
    if a.hours.is_none() && a.cases.is_none() {
        a.hours = Some(1.0);
    }
    Ok(a)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wafer-fuzz: {e}");
            std::process::exit(2);
        }
    };
    let out = match Output::new(&args.out) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("wafer-fuzz: cannot create {}: {e}", args.out.display());
            std::process::exit(2);
        }
    };
    let batch = args.batch.unwrap_or(match args.target.as_str() {
        "core" => 100,
        "imports" => 50,
        _ => 1000,
    });
    let start = Instant::now();
    let deadline = args
        .hours
        .map(|h| start + Duration::from_secs_f64(h * 3600.0));
    let next = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let found = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let summary = |t: &Tally| Summary {
        target: args.target.clone(),
        first_seed: args.first,
        jobs: args.jobs,
        seconds: start.elapsed().as_secs_f64(),
        tally: t.clone(),
    };
    let mut workers = Vec::new();
    for job in 0..args.jobs {
        let (next, tally, found, out) = (next.clone(), tally.clone(), found.clone(), out.clone());
        let (target, first, cases, config) =
            (args.target.clone(), args.first, args.cases, args.config);
        let dir = args.out.join(format!("work/job{job}"));
        let worker = std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || {
                std::fs::create_dir_all(&dir).expect("a work directory");
                let reference = Reference::new();
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let lo = first + n * batch;
                    let hi = match cases {
                        Some(c) if lo >= first + c => break,
                        Some(c) => (lo + batch).min(first + c),
                        None => lo + batch,
                    };
                    let seeds: Vec<u64> = (lo..hi).collect();
                    let config = config.unwrap_or(CONFIGS[(n % CONFIGS.len() as u64) as usize]);
                    let mut t = Tally::default();
                    let findings: Vec<Finding> = match target.as_str() {
                        "core" => {
                            wafer_fuzz::core::check_batch(&seeds, config, &dir, &reference, &mut t)
                        }
                        "imports" => wafer_fuzz::imports::check_batch(&seeds, config, &dir, &mut t),
                        _ => wafer_fuzz::bytes::check_batch(&seeds, &mut t, Some(&out)),
                    };
                    for f in &findings {
                        eprintln!(
                            "finding: {target} seed {} on {}: {}",
                            f.seed, f.config, f.what
                        );
                        let _ = out.save_finding(&target, f);
                    }
                    found.fetch_add(findings.len() as u64, Ordering::Relaxed);
                    tally.lock().unwrap().merge(&t);
                }
            })
            .expect("a worker thread");
        workers.push(worker);
    }
    {
        let (tally, out, done) = (tally.clone(), out.clone(), done.clone());
        let summary = &summary;
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut last = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    if last.elapsed() >= Duration::from_secs(60) {
                        let _ = out.write_summary(&summary(&tally.lock().unwrap()));
                        last = Instant::now();
                    }
                }
            });
            for w in workers {
                let _ = w.join();
            }
            done.store(true, Ordering::Relaxed);
        });
    }
    let s = summary(&tally.lock().unwrap());
    let _ = out.write_summary(&s);
    print!("{}", s.text());
    println!("summary, findings and corpus in {}", args.out.display());
    if found.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}
