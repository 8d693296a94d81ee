//! WASI calls from several threads at once: each thread writes numbered lines to stdout (every
//! line whole, with one write call, so lines may interleave but never tear), and in its own
//! subdirectory of DIR creates, writes, reads back, appends to, renames and removes files,
//! checking every content it reads. Main then prints a sorted listing of DIR with sizes and a
//! checksum of each file. Only the order of the `t<N> line` lines varies between runs.
//!
//!     wasi-concurrent DIR [threads=4]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::thread;
use threads_rust::{arg, finish, report};

const FILES: usize = 8;
const LINES: usize = 20;

/// One whole line to stdout in one write call, bypassing std's buffered `Stdout`.
fn write_line(line: &str) {
    let stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    (&*stdout).write_all(line.as_bytes()).unwrap();
}

fn content(t: usize, k: usize) -> String {
    format!("thread {t} file {k}\n").repeat(k + 1)
}

/// The files of thread `t`; returns how many of its checks passed.
fn work(t: usize, dir: &Path) -> usize {
    let mine = dir.join(format!("t{t}"));
    fs::create_dir(&mine).unwrap();
    let mut passed = 0;
    for k in 0..FILES {
        write_line(&format!("t{t} line {k}\n"));
        let path = mine.join(format!("f{k}.txt"));
        File::create(&path)
            .unwrap()
            .write_all(content(t, k).as_bytes())
            .unwrap();
        passed += usize::from(fs::read_to_string(&path).unwrap() == content(t, k));
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"appended\n")
            .unwrap();
        let expected = content(t, k) + "appended\n";
        passed += usize::from(fs::read_to_string(&path).unwrap() == expected);
    }
    for k in FILES..LINES {
        write_line(&format!("t{t} line {k}\n"));
    }
    fs::rename(mine.join("f0.txt"), mine.join("renamed.txt")).unwrap();
    fs::remove_file(mine.join("f1.txt")).unwrap();
    passed += usize::from(!mine.join("f1.txt").exists());
    passed + usize::from(fs::metadata(mine.join("renamed.txt")).unwrap().len() > 0)
}

fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Every file under `dir`, relative to `root`, sorted.
fn listing(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            listing(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
}

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: wasi-concurrent DIR [threads]");
        std::process::exit(2)
    };
    let threads: usize = arg(2, 4);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let dir = dir.clone();
            thread::spawn(move || work(t, &dir))
        })
        .collect();
    let passed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();

    let mut files = Vec::new();
    listing(&dir, &dir, &mut files);
    for file in &files {
        let bytes = fs::read(dir.join(file)).unwrap();
        println!(
            "summary: {} {} bytes, checksum {:08x}",
            file.display(),
            bytes.len(),
            checksum(&bytes)
        );
    }
    finish(&[
        report("summary: checks passed", passed, threads * (2 * FILES + 2)),
        report("summary: files", files.len(), threads * (FILES - 1)),
    ]);
}
