//! WALI's file and descriptor syscalls end to end, in hand-written WAT built by `wafer build`:
//! every spelling of a process memory file refused (and its descriptor closed), and hostile
//! pointers, lengths and counts through the compiled adapters (zero-extended sizes, 64-bit
//! offsets and fcntl arguments, sign-extended `AT_FDCWD`). Each program runs built with
//! `--wali-unrestricted` on x86_64, aarch64 and riscv64 (the latter two under qemu-user,
//! where the emulator's extra thread makes every open take the private-table path), so the
//! runtime's own checks are what is tested, and once more on the host inside the kernel
//! sandbox with the directories it needs granted (`/proc` read-write included: the refusal
//! does not depend on what the build grants).

mod common;

use common::*;
use std::process::{Command, Output};
use wafer::Target;

const TARGETS: [&str; 3] = ["x86_64", "aarch64", "riscv64"];

const IMPORTS: &str = r#"
  (import "wali" "SYS_open" (func $open (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_openat" (func $openat (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_close" (func $close (param i32) (result i64)))
  (import "wali" "SYS_read" (func $read (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_writev" (func $writev (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_lseek" (func $lseek (param i32 i64 i32) (result i64)))
  (import "wali" "SYS_fcntl" (func $fcntl (param i32 i32 i64) (result i64)))
  (import "wali" "SYS_ioctl" (func $ioctl (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_readlink" (func $readlink (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_symlink" (func $symlink (param i32 i32) (result i64)))
  (import "wali" "SYS_chdir" (func $chdir (param i32) (result i64)))
  (import "wali" "SYS_chroot" (func $chroot (param i32) (result i64)))
  (import "wali" "SYS_stat" (func $stat (param i32 i32) (result i64)))
  (import "wali" "__proc_exit" (func $exit (param i32)))
"#;

const O_RDONLY: i32 = 0;
const O_RDWR: i32 = 2;
const O_WRONLY: i32 = 1;
const O_CREAT: i32 = 0o100;
const O_DIRECTORY: i32 = 0o200000;
const O_CLOEXEC: i32 = 0o2000000;
const O_PATH: i32 = 0o10000000;
const EACCES: i64 = -13;

/// How each program is built and run: a target, and the build's sandbox flags.
fn runs(dir: &std::path::Path) -> Vec<(&'static str, Vec<String>)> {
    let unrestricted = vec!["--wali-unrestricted".to_owned()];
    let mut runs: Vec<_> = TARGETS.iter().map(|t| (*t, unrestricted.clone())).collect();
    let grants = ["--dir", "/proc", "--dir", dir.to_str().unwrap()];
    runs.push(("x86_64", grants.iter().map(|s| s.to_string()).collect()));
    runs
}

/// Builds `wat` for `target` with `flags` and runs it from `dir` (under qemu-user off the
/// host's ISA).
fn build_and_run(wat: &str, dir: &std::path::Path, target: &str, flags: &[String]) -> Output {
    let input = dir.join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.join(format!("m-{target}"));
    let mut all = vec!["--target"];
    all.push(target);
    all.extend(flags.iter().map(String::as_str));
    wafer_build(&input, &exe, &all);
    let prefix = Target::resolve(target).unwrap().run_prefix().to_vec();
    let mut cmd = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.current_dir(dir).output().unwrap()
}

/// A WAT string literal for `s` with its NUL.
fn lit(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        out.push_str(&format!("\\{b:02x}"));
    }
    out + "\\00"
}

/// Helpers the guest programs share: `$refused` exits with `case` unless opening `path`
/// with `flags` answers EACCES (closing what it got), and `$append` copies a NUL-terminated
/// string to the end of another.
const HELPERS: &str = r#"
  (func $refused (param $path i32) (param $flags i32) (param $case i32)
    (local $r i64)
    (local.set $r (call $open (local.get $path) (local.get $flags) (i32.const 0)))
    (if (i64.ne (local.get $r) (i64.const -13))
      (then
        (if (i64.ge_s (local.get $r) (i64.const 0))
          (then (drop (call $close (i32.wrap_i64 (local.get $r))))))
        (call $exit (local.get $case)))))
  ;; Copies the string at $src (with its NUL) to $dst; returns the address of the NUL.
  (func $copy (param $dst i32) (param $src i32) (result i32)
    (local $b i32)
    (block $done
      (loop $next
        (local.set $b (i32.load8_u (local.get $src)))
        (i32.store8 (local.get $dst) (local.get $b))
        (br_if $done (i32.eqz (local.get $b)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (br $next)))
    (local.get $dst))
  ;; Writes the decimal digits of $n (< 1000) at $dst with a NUL; returns the NUL's address.
  (func $itoa (param $dst i32) (param $n i32) (result i32)
    (if (i32.ge_u (local.get $n) (i32.const 100))
      (then
        (i32.store8 (local.get $dst)
          (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 100))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))))
    (if (i32.ge_u (local.get $n) (i32.const 10))
      (then
        (i32.store8 (local.get $dst)
          (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $n) (i32.const 10)) (i32.const 10))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))))
    (i32.store8 (local.get $dst) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
    (i32.store8 offset=1 (local.get $dst) (i32.const 0))
    (i32.add (local.get $dst) (i32.const 1)))
"#;

#[test]
fn every_spelling_of_process_memory_is_refused_and_closed() {
    let dir = scratch();
    let link = dir.path().join("mem-link");
    let chain = dir.path().join("mem-chain");
    std::os::unix::fs::symlink(&link, &chain).unwrap();
    let link = link.to_str().unwrap().to_owned();
    let chain = chain.to_str().unwrap().to_owned();
    // (path, flags): each must answer EACCES; case i exits with status i + 1.
    let cases: Vec<(String, i32)> = vec![
        ("/proc/self/mem".into(), O_RDWR),
        ("/proc/self/mem".into(), O_RDONLY),
        ("/proc/self/mem".into(), O_WRONLY | O_CLOEXEC),
        ("/proc/self/mem".into(), O_PATH),
        ("//proc/self/mem".into(), O_RDWR),
        ("/proc/./self/../self/mem".into(), O_RDWR),
        ("/proc/thread-self/mem".into(), O_RDWR),
        ("/proc/self/task/../mem".into(), O_RDWR),
        ("/proc/self/root/proc/self/mem".into(), O_RDWR),
        ("/proc/thread-self/root/proc/thread-self/mem".into(), O_RDWR),
        (link.clone(), O_RDWR), // made by the guest, below
        (chain, O_RDWR),        // a symlink to that symlink
    ];
    let mut data = String::new();
    let mut calls = String::new();
    for (i, (path, flags)) in cases.iter().enumerate() {
        let at = 0x1000 + 0x100 * i;
        data.push_str(&format!("(data (i32.const {at}) \"{}\")\n", lit(path)));
        calls.push_str(&format!(
            "(call $refused (i32.const {at}) (i32.const {flags}) (i32.const {}))\n",
            i + 1
        ));
    }
    let wat = format!(
        r#"(module {IMPORTS} (memory (export "memory") 1)
          (data (i32.const 0x100) "{devnull}")
          (data (i32.const 0x200) "{self_mem}")
          (data (i32.const 0x300) "{link}")
          (data (i32.const 0x400) "{proc_self}")
          (data (i32.const 0x480) "{thread_self}")
          (data (i32.const 0x500) "{proc}")
          (data (i32.const 0x540) "{slash_mem}")
          (data (i32.const 0x580) "{mem}")
          (data (i32.const 0x5c0) "{self_fd}")
          (data (i32.const 0x600) "{maps}")
          (data (i32.const 0x680) "{cwd_mem}")
          {data}
          {HELPERS}
          (func (export "_start")
            (local $first i64) (local $fd i32) (local $end i32) (local $n i64)
            ;; The first free descriptor, to see that no refused one stays open.
            (local.set $first (call $open (i32.const 0x100) (i32.const {O_RDONLY}) (i32.const 0)))
            (if (i64.lt_s (local.get $first) (i64.const 0)) (then (call $exit (i32.const 90))))
            (drop (call $close (i32.wrap_i64 (local.get $first))))
            ;; The guest's own symlink to its memory file.
            (if (i64.ne (call $symlink (i32.const 0x200) (i32.const 0x300)) (i64.const 0))
              (then (call $exit (i32.const 91))))
            {calls}
            ;; /proc/<pid>/mem and /proc/<pid>/task/<tid>/mem, named from what
            ;; /proc/self and /proc/thread-self point at.
            (local.set $end (call $copy (i32.const 0x2000) (i32.const 0x500)))
            (local.set $n (call $readlink (i32.const 0x400) (local.get $end) (i32.const 64)))
            (if (i64.le_s (local.get $n) (i64.const 0)) (then (call $exit (i32.const 92))))
            (drop (call $copy (i32.add (local.get $end) (i32.wrap_i64 (local.get $n))) (i32.const 0x540)))
            (call $refused (i32.const 0x2000) (i32.const {O_RDWR}) (i32.const 50))
            (local.set $end (call $copy (i32.const 0x2100) (i32.const 0x500)))
            (local.set $n (call $readlink (i32.const 0x480) (local.get $end) (i32.const 64)))
            (if (i64.le_s (local.get $n) (i64.const 0)) (then (call $exit (i32.const 93))))
            (drop (call $copy (i32.add (local.get $end) (i32.wrap_i64 (local.get $n))) (i32.const 0x540)))
            (call $refused (i32.const 0x2100) (i32.const {O_RDWR}) (i32.const 51))
            ;; Through a descriptor of /proc/self: openat, and /proc/self/fd/<fd>/mem.
            (local.set $fd (i32.wrap_i64 (call $open (i32.const 0x400)
              (i32.const {dir_flags}) (i32.const 0))))
            (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $exit (i32.const 94))))
            (if (i64.ne (call $openat (local.get $fd) (i32.const 0x580) (i32.const {O_RDWR}) (i32.const 0))
                        (i64.const {EACCES}))
              (then (call $exit (i32.const 52))))
            (local.set $end (call $copy (i32.const 0x2200) (i32.const 0x5c0)))
            (local.set $end (call $itoa (local.get $end) (local.get $fd)))
            (drop (call $copy (local.get $end) (i32.const 0x540)))
            (call $refused (i32.const 0x2200) (i32.const {O_RDWR}) (i32.const 53))
            (drop (call $close (local.get $fd)))
            ;; Other files of procfs open as usual.
            (local.set $n (call $open (i32.const 0x600) (i32.const {O_RDONLY}) (i32.const 0)))
            (if (i64.lt_s (local.get $n) (i64.const 0)) (then (call $exit (i32.const 95))))
            (drop (call $close (i32.wrap_i64 (local.get $n))))
            ;; From a working directory of /proc/self: "mem" and "cwd/mem".
            (if (i64.ne (call $chdir (i32.const 0x400)) (i64.const 0))
              (then (call $exit (i32.const 96))))
            (call $refused (i32.const 0x580) (i32.const {O_RDWR}) (i32.const 54))
            (call $refused (i32.const 0x680) (i32.const {O_RDWR}) (i32.const 55))
            ;; Nothing refused stayed open: the first free descriptor is the same.
            (if (i64.ne (call $open (i32.const 0x100) (i32.const {O_RDONLY}) (i32.const 0))
                        (local.get $first))
              (then (call $exit (i32.const 97))))))"#,
        devnull = lit("/dev/null"),
        self_mem = lit("/proc/self/mem"),
        link = lit(&link),
        proc_self = lit("/proc/self"),
        thread_self = lit("/proc/thread-self"),
        proc = lit("/proc/"),
        slash_mem = lit("/mem"),
        mem = lit("mem"),
        self_fd = lit("/proc/self/fd/"),
        maps = lit("/proc/self/maps"),
        cwd_mem = lit("cwd/mem"),
        dir_flags = O_PATH | O_DIRECTORY,
    );
    for (target, flags) in runs(dir.path()) {
        let _ = std::fs::remove_file(&link);
        let out = build_and_run(&wat, dir.path(), target, &flags);
        let code = out.status.code();
        let which = code
            .and_then(|c| usize::try_from(c).ok())
            .and_then(|c| cases.get(c.wrapping_sub(1)));
        let err = text(&out.stderr);
        assert_eq!(code, Some(0), "{target} {flags:?}: case {which:?}; {err}");
    }
}

#[test]
fn hostile_pointers_lengths_and_counts_through_the_adapters() {
    let dir = scratch();
    let file = dir.path().join("f");
    // Each check is a WAT condition that must hold; check i exits with status i + 1.
    let eq = |call: &str, want: i64| format!("(i64.eq {call} (i64.const {want}))");
    let checks: Vec<String> = vec![
        // A length of 4 GiB - 1 is zero-extended, not -1: out of memory.
        eq("(call $read (i32.const 0) (i32.const 16) (i32.const -1))", -14),
        // A buffer that wraps around 4 GiB.
        eq("(call $read (i32.const 0) (i32.const -16) (i32.const 32))", -14),
        // A path with no NUL before the end of memory.
        eq("(call $open (i32.const 65532) (i32.const 0) (i32.const 0))", -14),
        // A NULL path.
        eq("(call $open (i32.const 0) (i32.const 0) (i32.const 0))", -14),
        // iovec counts: above IOV_MAX, negative; an array that runs off the end.
        eq("(call $writev (i32.const 1) (i32.const 0x100) (i32.const 1025))", -22),
        eq("(call $writev (i32.const 1) (i32.const 0x100) (i32.const -1))", -22),
        eq("(call $writev (i32.const 1) (i32.const 65528) (i32.const 2))", -14),
        // A stat buffer straddling the end of memory.
        eq("(call $stat (i32.const 0x300) (i32.const 65500))", -14),
        // fcntl's argument is 64-bit: a flock pointer past 4 GiB is not truncated.
        eq("(call $fcntl (global.get $fd) (i32.const 5) (i64.const 0x100000400))", -14),
        // An unknown ioctl, TIOCSTI, and chroot.
        eq("(call $ioctl (i32.const 1) (i32.const 0xdeadbeef) (i32.const 0))", -25),
        eq("(call $ioctl (i32.const 0) (i32.const 0x5412) (i32.const 0x400))", -25),
        eq("(call $chroot (i32.const 0x300))", -1),
        // 64-bit offsets survive: seek past 4 GiB.
        eq("(call $lseek (global.get $fd) (i64.const 0x200000000) (i32.const 0))", 0x2_0000_0000),
        // AT_FDCWD is sign-extended.
        "(i64.ge_s (call $openat (i32.const -100) (i32.const 0x200) (i32.const 0) (i32.const 0)) (i64.const 0))".into(),
    ];
    let mut body = String::new();
    for (i, check) in checks.iter().enumerate() {
        body.push_str(&format!(
            "(if (i32.eqz {check}) (then (call $exit (i32.const {}))))\n",
            i + 1
        ));
    }
    let wat = format!(
        r#"(module {IMPORTS} (memory (export "memory") 1)
          (global $fd (mut i32) (i32.const -1))
          (data (i32.const 0x200) "{file}")
          (data (i32.const 0x300) "/\00")
          (data (i32.const 0x100) "\00\01\00\00\00\00\00\00")
          (data (i32.const 65532) "abcd")
          (func (export "_start")
            (global.set $fd (i32.wrap_i64 (call $open (i32.const 0x200)
              (i32.const {creat}) (i32.const 384))))
            (if (i32.lt_s (global.get $fd) (i32.const 0)) (then (call $exit (i32.const 99))))
            {body}))"#,
        file = lit(file.to_str().unwrap()),
        creat = O_RDWR | O_CREAT,
    );
    for (target, flags) in runs(dir.path()) {
        let out = build_and_run(&wat, dir.path(), target, &flags);
        let code = out.status.code();
        let which = code
            .and_then(|c| usize::try_from(c).ok())
            .and_then(|c| checks.get(c.wrapping_sub(1)));
        let err = text(&out.stderr);
        assert_eq!(code, Some(0), "{target} {flags:?}: check {which:?}; {err}");
    }
}

/// While the main thread keeps trying to open its memory file, a second guest thread scans
/// the descriptors the first could get for one that seeks (a memory file does; sockets,
/// such as the pair the private-table path uses, do not), ignoring those that seek already
/// (inherited ones). With other threads alive the runtime opens in a private table, so no
/// descriptor of the memory file is ever visible; the program exits with the first one its
/// scanner saw, 0 for none.
#[test]
fn other_threads_never_see_a_memory_descriptor() {
    let dir = scratch();
    let wat = format!(
        r#"(module {IMPORTS}
          (import "wali" "__wasm_thread_spawn" (func $spawn (param i32 i32) (result i32)))
          (memory (export "memory") 1 1 shared)
          (table 1 funcref)
          (elem (i32.const 0) $scanner)
          (data (i32.const 0x100) "{self_mem}")
          ;; 0x10: stop, 0x14: the descriptor seen, 0x18: the scanner runs,
          ;; 0x20: descriptors 0-31 that seek before the test starts
          (func $seeks (param $fd i32) (result i32)
            (i64.ge_s (call $lseek (local.get $fd) (i64.const 0) (i32.const 1)) (i64.const 0)))
          (func $scanner (param i32 i32)
            (local $fd i32)
            (i32.atomic.store (i32.const 0x18) (i32.const 1))
            (block $out
              (loop $scan
                (br_if $out (i32.atomic.load (i32.const 0x10)))
                (local.set $fd (i32.const 3))
                (loop $each
                  (if (i32.and (call $seeks (local.get $fd))
                        (i32.eqz (i32.and (i32.load (i32.const 0x20))
                                          (i32.shl (i32.const 1) (local.get $fd)))))
                    (then (i32.atomic.store (i32.const 0x14) (local.get $fd))))
                  (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
                  (br_if $each (i32.lt_u (local.get $fd) (i32.const 32))))
                (br $scan))))
          (func (export "_start")
            (local $i i32)
            (loop $baseline
              (if (call $seeks (local.get $i))
                (then (i32.store (i32.const 0x20) (i32.or (i32.load (i32.const 0x20))
                  (i32.shl (i32.const 1) (local.get $i))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $baseline (i32.lt_u (local.get $i) (i32.const 32))))
            (local.set $i (i32.const 0))
            (if (i32.lt_s (call $spawn (i32.const 0) (i32.const 0)) (i32.const 0))
              (then (call $exit (i32.const 90))))
            (loop $wait (br_if $wait (i32.eqz (i32.atomic.load (i32.const 0x18)))))
            (loop $again
              (if (i64.ne (call $open (i32.const 0x100) (i32.const {O_RDWR}) (i32.const 0))
                          (i64.const {EACCES}))
                (then (call $exit (i32.const 91))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $again (i32.lt_u (local.get $i) (i32.const 2000))))
            (i32.atomic.store (i32.const 0x10) (i32.const 1))
            (call $exit (i32.atomic.load (i32.const 0x14)))))"#,
        self_mem = lit("/proc/self/mem"),
    );
    for (target, flags) in runs(dir.path()) {
        let out = build_and_run(&wat, dir.path(), target, &flags);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{target} {flags:?}: {err}");
    }
}
