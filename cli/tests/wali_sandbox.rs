//! The kernel sandbox of WALI programs (rt/src/wali/sandbox): hand-written WAT guests that
//! import `wali` syscalls directly reach only what their build granted, whatever they ask the
//! kernel, and the kernel itself reports the sandbox (`Seccomp: 2`, `NoNewPrivs: 1`).
//! Each check runs with the grant missing (it fails) and present, or built with
//! `--wali-unrestricted` (it works), so none passes without the restriction.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EACCES: i32 = 13;
const AT_FDCWD: i32 = -100;
const O_RDONLY: i32 = 0;
const O_WRONLY: i32 = 1;
const O_CREAT: i32 = 0o100;
const O_TRUNC: i32 = 0o1000;
const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;

const IMPORTS: &str = r#"
  (import "wali" "SYS_openat" (func $openat (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_fchmodat" (func $fchmodat (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_socket" (func $socket (param i32 i32 i32) (result i64)))
  (import "wali" "SYS_socketpair" (func $socketpair (param i32 i32 i32 i32) (result i64)))
  (import "wali" "SYS_connect" (func $connect (param i32 i32 i32) (result i64)))
  (import "wali" "__proc_exit" (func $exit (param i32)))
"#;

/// Where a guest's path (NUL-terminated) and socket address sit in its memory.
const PATH_AT: u32 = 256;
const ADDR_AT: u32 = 64;

/// A WAT string literal holding `bytes` exactly.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A guest whose `$run` body computes an i64 syscall result; it exits with the errno when
/// the result is negative and 0 otherwise. `path` is at [`PATH_AT`], `addr` at [`ADDR_AT`].
fn guest(body: &str, path: &[u8], addr: &[u8]) -> String {
    let mut path = path.to_vec();
    path.push(0);
    format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const {PATH_AT}) "{}")
  (data (i32.const {ADDR_AT}) "{}")
  (func $run (result i64) (local $fd i64) {body})
  (func (export "_start")
    (local $r i64)
    (local.set $r (call $run))
    (call $exit
      (if (result i32) (i64.lt_s (local.get $r) (i64.const 0))
        (then (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $r))))
        (else (i32.const 0))))))"#,
        wat_bytes(&path),
        wat_bytes(addr)
    )
}

/// `openat(AT_FDCWD, path, flags, 0644)`.
fn open_guest(path: &Path, flags: i32) -> String {
    guest(
        &format!(
            "(call $openat (i32.const {AT_FDCWD}) (i32.const {PATH_AT}) (i32.const {flags}) (i32.const 420))"
        ),
        path.to_str().unwrap().as_bytes(),
        &[],
    )
}

/// Builds `wat` with `flags` in `dir` and runs it with `env`; its output.
fn build_and_run(dir: &Path, wat: &str, flags: &[&str], env: &[(&str, &str)]) -> Output {
    let input = dir.join("m.wat");
    std::fs::write(&input, wat).unwrap();
    let exe = dir.join("m");
    wafer_build(&input, &exe, flags);
    let mut cmd = Command::new(&exe);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The guest's exit status, with its stderr on failure.
fn status(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

fn run_status(dir: &Path, wat: &str, flags: &[&str]) -> i32 {
    let out = build_and_run(dir, wat, flags, &[]);
    assert!(
        out.stderr.is_empty() || status(&out) == 0 || status(&out) == EACCES,
        "{}",
        text(&out.stderr)
    );
    status(&out)
}

/// A scratch directory with `inside/f` and `outside/f` (both holding `data`).
fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let s = scratch();
    let inside = s.path().join("inside");
    let outside = s.path().join("outside");
    for d in [&inside, &outside] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("f"), b"data").unwrap();
    }
    (s, inside, outside)
}

#[test]
fn opening_outside_every_grant_is_eacces() {
    let (s, inside, outside) = tree();
    let dir = s.path();
    let read_outside = open_guest(&outside.join("f"), O_RDONLY);
    let grant = inside.to_str().unwrap();
    // No grant at all, and a grant of another directory: refused by the kernel.
    assert_eq!(run_status(dir, &read_outside, &[]), EACCES);
    assert_eq!(run_status(dir, &read_outside, &["--dir", grant]), EACCES);
    assert_eq!(run_status(dir, &read_outside, &["--ro-dir", grant]), EACCES);
    // Not even the executable's own directory, /etc or the user's home.
    for path in ["/etc/hostname", "/etc/passwd", "/proc/self/status"] {
        let g = open_guest(Path::new(path), O_RDONLY);
        assert_eq!(run_status(dir, &g, &["--dir", grant]), EACCES, "{path}");
    }
    // The right grant, or none needed.
    let read_inside = open_guest(&inside.join("f"), O_RDONLY);
    assert_eq!(run_status(dir, &read_inside, &["--dir", grant]), 0);
    assert_eq!(run_status(dir, &read_inside, &["--ro-dir", grant]), 0);
    assert_eq!(run_status(dir, &read_outside, &["--wali-unrestricted"]), 0);
    // What every WALI program may open without a grant.
    let null = open_guest(Path::new("/dev/null"), O_WRONLY | O_TRUNC);
    assert_eq!(run_status(dir, &null, &[]), 0);
}

#[test]
fn writing_under_a_read_only_grant_is_eacces() {
    let (s, inside, _) = tree();
    let dir = s.path();
    let grant = inside.to_str().unwrap();
    let create = open_guest(&inside.join("new"), O_WRONLY | O_CREAT);
    let write = open_guest(&inside.join("f"), O_WRONLY);
    let truncate = open_guest(&inside.join("f"), O_RDONLY | O_TRUNC);
    for g in [&create, &write, &truncate] {
        assert_eq!(run_status(dir, g, &["--ro-dir", grant]), EACCES);
    }
    assert!(!inside.join("new").exists());
    assert_eq!(std::fs::read(inside.join("f")).unwrap(), b"data");
    // chmod is beyond Landlock: the filter refuses it without a read-write grant.
    let chmod = guest(
        &format!("(call $fchmodat (i32.const {AT_FDCWD}) (i32.const {PATH_AT}) (i32.const 384) (i32.const 0))"),
        inside.join("f").to_str().unwrap().as_bytes(),
        &[],
    );
    assert_eq!(run_status(dir, &chmod, &["--ro-dir", grant]), EACCES);
    // The same with a read-write grant.
    assert_eq!(run_status(dir, &create, &["--dir", grant]), 0);
    assert!(inside.join("new").exists());
    assert_eq!(run_status(dir, &truncate, &["--dir", grant]), 0);
    assert_eq!(std::fs::read(inside.join("f")).unwrap(), b"");
    assert_eq!(run_status(dir, &chmod, &["--dir", grant]), 0);
}

#[test]
fn a_repointed_grant_moves_the_sandbox_with_it() {
    // WAFER_DIR_MAP re-points --dir A to B when the executable starts: B is reachable, A
    // no longer is (the Landlock rule uses the directory the runtime opened).
    let (s, a, b) = tree();
    let dir = s.path();
    let guest_a = open_guest(&a.join("f"), O_RDONLY);
    let guest_b = open_guest(&b.join("f"), O_RDONLY);
    let map = format!("{}={}", a.display(), b.display());
    let flags = ["--dir", a.to_str().unwrap()];
    let env = [("WAFER_DIR_MAP", map.as_str())];
    assert_eq!(status(&build_and_run(dir, &guest_b, &flags, &env)), 0);
    assert_eq!(status(&build_and_run(dir, &guest_a, &flags, &env)), EACCES);
    assert_eq!(status(&build_and_run(dir, &guest_a, &flags, &[])), 0);
}

/// `socket(domain, type, 0)`.
fn socket_guest(domain: i32, ty: i32) -> String {
    guest(
        &format!("(call $socket (i32.const {domain}) (i32.const {ty}) (i32.const 0))"),
        b"",
        &[],
    )
}

#[test]
fn sockets_need_a_net_grant() {
    let s = scratch();
    let dir = s.path();
    let tcp = socket_guest(AF_INET, SOCK_STREAM);
    let udp = socket_guest(AF_INET, SOCK_DGRAM);
    let unix = socket_guest(AF_UNIX, SOCK_STREAM);
    for g in [&tcp, &udp, &unix] {
        assert_eq!(run_status(dir, g, &[]), EACCES);
    }
    // TCP grants allow TCP sockets only (Landlock sees TCP ports, nothing else).
    assert_eq!(run_status(dir, &tcp, &["--net", "tcp-connect:80"]), 0);
    assert_eq!(run_status(dir, &udp, &["--net", "tcp-connect:80"]), EACCES);
    assert_eq!(run_status(dir, &unix, &["--net", "tcp-bind:0"]), EACCES);
    assert_eq!(run_status(dir, &unix, &["--net", "unix"]), 0);
    assert_eq!(run_status(dir, &tcp, &["--net", "unix"]), EACCES);
    for g in [&tcp, &udp, &unix] {
        assert_eq!(run_status(dir, g, &["--net", "all"]), 0);
        assert_eq!(run_status(dir, g, &["--wali-unrestricted"]), 0);
    }
    // An anonymous socket pair reaches nothing: always there.
    let pair = guest(
        &format!(
            "(call $socketpair (i32.const {AF_UNIX}) (i32.const {SOCK_STREAM}) (i32.const 0) (i32.const 128))"
        ),
        b"",
        &[],
    );
    assert_eq!(run_status(dir, &pair, &[]), 0);
}

/// `socket(AF_INET, SOCK_STREAM)` then `connect` to 127.0.0.1:`port`.
fn connect_guest(port: u16) -> String {
    let mut addr = vec![AF_INET as u8, 0];
    addr.extend_from_slice(&port.to_be_bytes());
    addr.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    guest(
        &format!(
            r#"(local.set $fd (call $socket (i32.const {AF_INET}) (i32.const {SOCK_STREAM}) (i32.const 0)))
               (if (i64.lt_s (local.get $fd) (i64.const 0)) (then (return (local.get $fd))))
               (call $connect (i32.wrap_i64 (local.get $fd)) (i32.const {ADDR_AT}) (i32.const 16))"#
        ),
        b"",
        &addr,
    )
}

#[test]
fn tcp_connect_reaches_only_the_granted_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = scratch();
    let dir = s.path();
    let g = connect_guest(port);
    let this_port = format!("tcp-connect:{port}");
    let other_port = format!("tcp-connect:{}", if port == 1 { 2 } else { port - 1 });
    // No grant: not even a socket. Another port: the socket, but no connection.
    assert_eq!(run_status(dir, &g, &[]), EACCES);
    assert_eq!(run_status(dir, &g, &["--net", &other_port]), EACCES);
    assert_eq!(
        run_status(dir, &g, &["--net", &format!("tcp-bind:{port}")]),
        EACCES
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing connected so far");
    assert_eq!(run_status(dir, &g, &["--net", &this_port]), 0);
    assert!(listener.accept().is_ok(), "the granted connection arrived");
    assert_eq!(run_status(dir, &g, &["--wali-unrestricted"]), 0);
    assert_eq!(run_status(dir, &g, &["--net", "all"]), 0);
}

/// A guest that makes one syscall (so `WAFER_TRACE=wali` says it runs) and then spins.
const SPIN: &str = r#"(module
  (import "wali" "SYS_getpid" (func $getpid (result i64)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $getpid)) (loop $l (br $l))))"#;

/// Starts the spinning guest built with `flags`, waits until it runs guest code, and
/// returns its `/proc/<pid>/status`.
fn status_of_running_guest(flags: &[&str]) -> String {
    let s = scratch();
    let input = s.path().join("spin.wat");
    std::fs::write(&input, SPIN).unwrap();
    let exe = s.path().join("spin");
    wafer_build(&input, &exe, flags);
    let mut child = Command::new(&exe)
        .env("WAFER_TRACE", "wali")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let started = Instant::now();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("wali: getpid"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    status
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn the_kernel_reports_the_sandbox_of_a_running_guest() {
    let sandboxed = status_of_running_guest(&[]);
    assert_eq!(field(&sandboxed, "Seccomp:"), "2", "{sandboxed}");
    assert_eq!(field(&sandboxed, "NoNewPrivs:"), "1", "{sandboxed}");
    assert_eq!(field(&sandboxed, "Seccomp_filters:"), "1", "{sandboxed}");
    let unrestricted = status_of_running_guest(&["--wali-unrestricted"]);
    assert_eq!(field(&unrestricted, "Seccomp:"), "0", "{unrestricted}");
    assert_eq!(field(&unrestricted, "NoNewPrivs:"), "0", "{unrestricted}");
}

#[test]
fn modules_without_wali_are_not_sandboxed() {
    // The path of every other driver is unchanged: no filter, no no_new_privs.
    let s = scratch();
    let input = s.path().join("w.wat");
    std::fs::write(
        &input,
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\06\00\00\00")
  (data (i32.const 16) "ready\0a")
  (func (export "_start")
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))
    (loop $l (br $l))))"#,
    )
    .unwrap();
    let exe = s.path().join("w");
    wafer_build(&input, &exe, &[]);
    let mut child = Command::new(&exe).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(field(&status, "Seccomp:"), "0");
    assert_eq!(field(&status, "NoNewPrivs:"), "0");
}

#[test]
fn a_host_syscall_outside_the_filter_answers_enosys() {
    // WAFER_TRACE=sandbox makes the runtime call getpcu, which no filter allows, right after
    // installing it, and report the answer; unrestricted, nothing is installed or said.
    let s = scratch();
    let g = socket_guest(AF_UNIX, SOCK_STREAM);
    let out = build_and_run(s.path(), &g, &[], &[("WAFER_TRACE", "sandbox")]);
    let err = text(&out.stderr);
    assert!(err.contains("seccomp on"), "{err}");
    assert!(err.contains("self-test: getcpu = -38"), "{err}");
    let out = build_and_run(
        s.path(),
        &g,
        &["--wali-unrestricted"],
        &[("WAFER_TRACE", "sandbox")],
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    // The debugging switch turns the filter off, and says so (Landlock stays).
    let out = build_and_run(s.path(), &g, &[], &[("WAFER_WALI_SECCOMP", "off")]);
    assert!(
        text(&out.stderr).contains("WAFER_WALI_SECCOMP=off"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn inspect_shows_the_network_grants_and_the_wali_mode() {
    let s = scratch();
    let input = s.path().join("m.wat");
    std::fs::write(&input, socket_guest(AF_INET, SOCK_STREAM)).unwrap();
    let exe = s.path().join("m");
    wafer_build(
        &input,
        &exe,
        &[
            "--net",
            "tcp-connect:80,443",
            "--net",
            "tcp-bind:8080",
            "--net",
            "unix",
        ],
    );
    let shown = text(&wafer().arg("inspect").arg(&exe).output().unwrap().stdout);
    for line in [
        "network, for WALI programs (3):",
        "  tcp-connect:80,443  (TCP connections to these ports, on any host)",
        "  tcp-bind:8080  (listening on these TCP ports)",
        "  unix  (Unix-domain sockets)",
        "WALI: kernel sandbox (Landlock and seccomp): these grants only",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
    wafer_build(&input, &exe, &["--wali-unrestricted"]);
    let shown = text(&wafer().arg("inspect").arg(&exe).output().unwrap().stdout);
    assert!(
        shown.contains("WALI: unrestricted (the user's full authority)"),
        "{shown}"
    );
    assert!(shown.contains("network, for WALI programs (0):"), "{shown}");
}

#[test]
fn bad_or_misplaced_net_grants_are_refused_at_build_time() {
    let s = scratch();
    let wali = s.path().join("m.wat");
    std::fs::write(&wali, socket_guest(AF_INET, SOCK_STREAM)).unwrap();
    let wasi = s.path().join("w.wat");
    std::fs::write(&wasi, r#"(module (func (export "_start")))"#).unwrap();
    for (input, flags, message) in [
        (&wali, &["--net", "udp:53"][..], "net grant"),
        (&wali, &["--net", "tcp-connect:0"], "port 0"),
        (&wali, &["--net", "all", "--net", "unix"], "--net all"),
        (
            &wali,
            &["--net", "unix", "--wali-unrestricted"],
            "cannot be used with",
        ),
        (&wasi, &["--net", "unix"], "WALI programs"),
        (&wasi, &["--wali-unrestricted"], "WALI programs"),
    ] {
        let out = wafer()
            .arg("build")
            .arg(input)
            .arg("-o")
            .arg(s.path().join("x"))
            .args(flags)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(if message.contains("used with") { 2 } else { 1 }),
            "{flags:?}"
        );
        assert!(
            text(&out.stderr).contains(message),
            "{flags:?}: {}",
            text(&out.stderr)
        );
    }
}

/// Runs `exe` under `qemu-<arch>` with `env`.
fn qemu(arch: &str, exe: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(format!("qemu-{arch}"));
    cmd.arg(exe);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("qemu-{arch} (scripts/setup.sh installs it): {e}"))
}

#[test]
fn under_qemu_user_the_program_refuses_to_run_unsandboxed() {
    // seccomp and Landlock would confine qemu, not the guest: the executable says so in one
    // line and stops, unless WAFER_ALLOW_UNSANDBOXED=1 says to run it anyway (one warning
    // line). A --wali-unrestricted build runs silently.
    let s = scratch();
    let input = s.path().join("exit.wat");
    std::fs::write(
        &input,
        r#"(module (import "wali" "__proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func (export "_start") (call $exit (i32.const 7))))"#,
    )
    .unwrap();
    for arch in ["aarch64", "riscv64"] {
        let exe = s.path().join(arch);
        wafer_build(&input, &exe, &["--target", arch]);
        let out = qemu(arch, &exe, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arch}: {err}");
        assert_eq!(err.lines().count(), 1, "{arch}: {err}");
        assert!(
            err.starts_with("wafer: kernel sandbox unavailable under qemu-user: ")
                && err.contains("refusing to run"),
            "{arch}: {err}"
        );
        let out = qemu(arch, &exe, &[("WAFER_ALLOW_UNSANDBOXED", "1")]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{arch}: {err}");
        assert_eq!(err.lines().count(), 1, "{arch}: {err}");
        assert!(
            err.starts_with("wafer: kernel sandbox unavailable under qemu-user: ")
                && err.contains("running with the user's full authority"),
            "{arch}: {err}"
        );
        let unrestricted = s.path().join(format!("{arch}-unrestricted"));
        wafer_build(
            &input,
            &unrestricted,
            &["--target", arch, "--wali-unrestricted"],
        );
        let out = qemu(arch, &unrestricted, &[]);
        assert_eq!(out.status.code(), Some(7));
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}
