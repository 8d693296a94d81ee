//! Rust's standard library over WASI preview1: files, directories, metadata, links, args,
//! environment, time and sleeping. tests/wasi.rs runs it under wafer and under wasmtime with
//! the same fixture preopened as /data; stdout, stderr, exit status and the tree must match.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn kind(e: &std::io::Error) -> String {
    format!("{:?}", e.kind())
}

fn sorted_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let k = if t.is_dir() {
                "d"
            } else if t.is_symlink() {
                "l"
            } else {
                "f"
            };
            format!("{}:{k}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    names
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {args:?}");
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    println!("vars: {vars:?}");

    // Files.
    let text = fs::read_to_string("/data/input.txt").unwrap();
    println!("input: {text:?}");
    fs::write("/data/rust.txt", b"first line\n").unwrap();
    let mut f = OpenOptions::new().append(true).open("/data/rust.txt").unwrap();
    f.write_all(b"second line\n").unwrap();
    f.sync_all().unwrap();
    drop(f);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/data/rust.txt")
        .unwrap();
    f.seek(SeekFrom::Start(6)).unwrap();
    let mut word = [0u8; 4];
    f.read_exact(&mut word).unwrap();
    println!("word: {:?}", std::str::from_utf8(&word).unwrap());
    println!("position: {}", f.stream_position().unwrap());
    f.seek(SeekFrom::End(-5)).unwrap();
    f.write_all(b"LINE!").unwrap();
    f.set_len(30).unwrap();
    let meta = f.metadata().unwrap();
    println!("len {} file {} dir {}", meta.len(), meta.is_file(), meta.is_dir());
    drop(f);
    println!("content: {:?}", fs::read("/data/rust.txt").unwrap());

    // Errors.
    println!("missing: {}", kind(&File::open("/data/nope").unwrap_err()));
    println!(
        "create_new existing: {}",
        kind(&OpenOptions::new().write(true).create_new(true).open("/data/rust.txt").unwrap_err())
    );
    println!("read_dir of a file: {}", fs::read_dir("/data/input.txt").is_err());
    println!("remove missing: {}", kind(&fs::remove_file("/data/nope").unwrap_err()));
    println!(
        "outside every preopen refused: {}",
        File::open("/etc/passwd").is_err()
    );

    // Directories.
    fs::create_dir_all("/data/a/b/c").unwrap();
    fs::write("/data/a/b/c/leaf.txt", "leaf").unwrap();
    println!("create_dir existing: {}", kind(&fs::create_dir("/data/a").unwrap_err()));
    println!("remove_dir non-empty: {}", fs::remove_dir("/data/a").is_err());
    fs::rename("/data/a/b/c/leaf.txt", "/data/a/leaf.txt").unwrap();
    fs::copy("/data/a/leaf.txt", "/data/a/b/copy.txt").unwrap();
    fs::hard_link("/data/a/leaf.txt", "/data/a/hard.txt").unwrap();
    // Symlinks need an unstable std API: the C programs create them; Rust reads one.
    println!("read_link: {:?}", fs::read_link("/data/link-to-input").unwrap());
    println!(
        "symlink_metadata is_symlink: {}",
        fs::symlink_metadata("/data/link-to-input").unwrap().file_type().is_symlink()
    );
    println!("through link: {:?}", fs::read_to_string("/data/link-to-input").unwrap());
    println!("hard link len: {}", fs::metadata("/data/a/hard.txt").unwrap().len());
    println!("ls /data/a: {:?}", sorted_names("/data/a"));
    println!("ls /data: {:?}", sorted_names("/data"));
    fs::remove_dir_all("/data/a/b").unwrap();
    println!("ls /data/a after remove_dir_all: {:?}", sorted_names("/data/a"));
    println!("canonical exists: {}", fs::exists("/data/a/leaf.txt").unwrap());

    // Times: set, read back.
    let f = File::options().write(true).open("/data/a/leaf.txt").unwrap();
    let when = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    f.set_modified(when).unwrap();
    drop(f);
    let m = fs::metadata("/data/a/leaf.txt").unwrap().modified().unwrap();
    println!("modified: {:?}", m.duration_since(UNIX_EPOCH).unwrap());

    // Clocks and sleeping.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    println!("after 2020: {}", now.as_secs() > 1_577_836_800);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(25));
    println!("slept >= 25ms: {}", start.elapsed() >= Duration::from_millis(25));

    // Randomness: HashMap seeds come from random_get.
    let mut h = std::collections::HashMap::new();
    h.insert(1, 2);
    println!("hashmap: {}", h[&1]);

    eprintln!("rust stderr line");
    std::process::exit(args.len() as i32 + 40);
}
