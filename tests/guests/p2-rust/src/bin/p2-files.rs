//! Files and directories under a preopen through WASI 0.2 (`wasi:filesystem`): read, write,
//! append, seek, truncate, rename, read a directory, metadata, links and the errors a program
//! meets. Every line it prints must match between runtimes, and so must the tree it leaves.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

fn kind<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

fn listing(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            let k = if t.is_dir() {
                "dir"
            } else if t.is_symlink() {
                "link"
            } else {
                "file"
            };
            format!("{}:{k}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    names
}

fn main() {
    println!("input: {:?}", fs::read_to_string("/data/input.txt").unwrap());
    println!("deep: {:?}", fs::read_to_string("/data/sub/deep.txt").unwrap());
    println!("through the link: {:?}", fs::read_to_string("/data/link-to-input").unwrap());

    // Write, append, read back, seek and truncate.
    fs::write("/data/out.txt", "first line\n").unwrap();
    let mut f = OpenOptions::new().append(true).open("/data/out.txt").unwrap();
    f.write_all(b"appended\n").unwrap();
    drop(f);
    println!("out: {:?}", fs::read_to_string("/data/out.txt").unwrap());
    let mut f = OpenOptions::new().read(true).write(true).open("/data/out.txt").unwrap();
    f.seek(SeekFrom::Start(6)).unwrap();
    let mut word = [0u8; 4];
    f.read_exact(&mut word).unwrap();
    println!("at 6: {:?}", String::from_utf8_lossy(&word));
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(b"FIRST").unwrap();
    f.set_len(16).unwrap();
    drop(f);
    println!("rewritten: {:?}", fs::read_to_string("/data/out.txt").unwrap());

    // Metadata.
    let m = fs::metadata("/data/out.txt").unwrap();
    println!("out: len {} file {} dir {}", m.len(), m.is_file(), m.is_dir());
    let m = fs::metadata("/data/sub").unwrap();
    println!("sub: file {} dir {}", m.is_file(), m.is_dir());
    let m = fs::symlink_metadata("/data/link-to-input").unwrap();
    println!("link: symlink {}", m.file_type().is_symlink());
    println!("link target: {:?}", fs::read_link("/data/link-to-input").unwrap());

    // Directories, renames, removal.
    fs::create_dir("/data/made").unwrap();
    fs::create_dir_all("/data/made/a/b").unwrap();
    File::create("/data/made/a/b/leaf.txt").unwrap().write_all(b"leaf").unwrap();
    fs::rename("/data/made/a/b/leaf.txt", "/data/made/leaf-moved.txt").unwrap();
    fs::rename("/data/made/a", "/data/made/a-renamed").unwrap();
    println!("made: {:?}", listing("/data/made"));
    fs::remove_dir("/data/made/a-renamed/b").unwrap();
    println!("after rmdir: {:?}", listing("/data/made/a-renamed"));
    fs::remove_file("/data/made/leaf-moved.txt").unwrap();
    println!("top: {:?}", listing("/data"));

    // Errors.
    println!("missing file: {}", kind(File::open("/data/nope.txt")));
    println!("missing dir: {}", kind(File::create("/data/no-dir/x")));
    println!("rmdir non-empty: {}", kind(fs::remove_dir("/data/sub")));
    println!("mkdir existing: {}", kind(fs::create_dir("/data/sub")));
    println!("unlink a directory: {}", kind(fs::remove_file("/data/sub")));
    println!("escape with ..: {}", kind(File::open("/data/../etc/passwd")));
    println!("outside the preopen: {}", kind(File::open("/etc/passwd")));
}
