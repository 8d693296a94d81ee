//! `wafer bench`: the table, the JSON and the chart for examples/hello beside wasmtime; the
//! output check catching a runtime that prints something else; the I2C logger on the sim
//! backend, which only wafer can run; cross builds under qemu-user; errors; and the board path,
//! against a throwaway sshd on 127.0.0.1.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use wafer::bench::measure::{compare, Observed};

/// examples/hello built as examples/hello/run.sh builds it.
fn hello_wasm(dir: &Path) -> PathBuf {
    let wasm = dir.join("hello.wasm");
    let out = Command::new("clang")
        .args(["--target=wasm32-wasi", "-O2"])
        .arg(root().join("examples/hello/hello.c"))
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("clang (run scripts/setup.sh)");
    assert!(out.status.success(), "clang: {}", text(&out.stderr));
    wasm
}

fn bench(args: &[&str]) -> Output {
    wafer()
        .arg("bench")
        .args(args)
        .output()
        .expect("running wafer bench")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "wafer bench failed ({}): {}\n{}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

/// The table line of a runtime.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
}

/// Whether a table line holds at least `n` times (a number and a unit).
fn has_times(line: &str, n: usize) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| {
            w[0].split('-').all(|n| n.parse::<f64>().is_ok()) && ["us", "ms", "s"].contains(&w[1])
        })
        .count()
        >= n
}

/// A minimal well-formedness check: one `svg` root, every element closed in order, and the
/// shapes a bar chart needs.
fn check_svg(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rects = 0;
    let mut rest = svg.trim();
    assert!(rest.starts_with("<svg"), "{svg}");
    let mut closed_root = false;
    while let Some(start) = rest.find('<') {
        assert!(!closed_root, "content after </svg>");
        let end = rest[start..].find('>').expect("an unterminated tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "unbalanced </{name}>"
            );
            closed_root = stack.is_empty();
        } else {
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/');
            if name == "rect" {
                rects += 1;
            }
            if !tag.ends_with('/') {
                stack.push(name.to_string());
            }
            // Attribute values are quoted and balanced.
            assert_eq!(tag.matches('"').count() % 2, 0, "odd quotes in <{tag}>");
        }
        rest = &rest[end + 1..];
    }
    assert!(closed_root && stack.is_empty(), "unclosed: {stack:?}");
    assert!(rects >= 5, "too few bars ({rects}):\n{svg}");
}

#[test]
fn hello_table_json_and_chart_beside_wasmtime() {
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    let chart = dir.path().join("startup.svg");
    let wasm_arg = wasm.to_str().unwrap();
    let out = bench(&[
        wasm_arg,
        "--runs",
        "5",
        "--warmup",
        "1",
        "--runtimes",
        "wasmtime,wasmtime-precompiled,iwasm,iwasm-aot",
        "--chart",
        chart.to_str().unwrap(),
        "--",
        "edge",
        "board",
    ]);
    let table = ok(&out);
    assert!(
        table.contains("5 runs per runtime after 1 warm-up"),
        "{table}"
    );
    for name in [
        "wafer",
        "wasmtime run .wasm (JIT)",
        "wasmtime run .cwasm (precompiled)",
    ] {
        let line = row(&table, name);
        assert!(has_times(line, 4), "no figures in {line:?}");
    }
    // wafer's row is the reference for the ratios.
    assert!(row(&table, "wafer").contains("1.00"), "{table}");
    // Runtimes missing here are named, not dropped.
    for name in ["iwasm (WAMR)", "iwasm, wamrc AOT (WAMR)"] {
        if Command::new("sh")
            .args(["-c", "command -v iwasm"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| !s.success())
        {
            assert!(
                table.contains(&format!("note: not found: {name}")),
                "{name}:\n{table}"
            );
        }
    }
    assert!(table.contains("first output"), "{table}");
    check_svg(&std::fs::read_to_string(&chart).unwrap());

    let out = bench(&[
        wasm_arg,
        "--runs",
        "4",
        "--warmup",
        "0",
        "--runtimes",
        "wasmtime",
        "--json",
        "--",
        "edge",
    ]);
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).expect("JSON on stdout");
    assert_eq!(json["runs"], 4);
    let rows = json["sections"][0]["runtimes"].as_array().unwrap();
    assert_eq!(rows[0]["name"], "wafer");
    assert_eq!(rows[1]["name"], "wasmtime run .wasm (JIT)");
    for r in &rows[..2] {
        assert_eq!(r["status"], "timed", "{r}");
        for m in ["exec_to_exit", "exec_to_first_output"] {
            let median = r[m]["median_ms"].as_f64().unwrap();
            assert!(median > 0.0, "{m}: {r}");
            assert!(r[m]["p10_ms"].as_f64().unwrap() <= r[m]["p90_ms"].as_f64().unwrap());
            assert_eq!(r[m]["runs"], 4);
        }
        // The first byte comes no later than the exit.
        assert!(
            r["exec_to_first_output"]["min_ms"].as_f64().unwrap()
                <= r["exec_to_exit"]["max_ms"].as_f64().unwrap()
        );
    }
    assert_eq!(rows[0]["ratio_to_wafer"]["exec_to_exit"], 1.0);
}

#[test]
fn the_comparison_names_what_differs() {
    let wafer = Observed {
        stdout: b"hello from a wafer driver\n".to_vec(),
        status: 0,
    };
    assert_eq!(compare(&wafer, &wafer.clone()), None);
    let other = Observed {
        stdout: b"hello from a wasm driver\n".to_vec(),
        status: 3,
    };
    let why = compare(&wafer, &other).unwrap();
    assert!(why.contains("exit status 3, wafer's 0"), "{why}");
    assert!(why.contains("at byte 15"), "{why}");
    let shorter = Observed {
        stdout: b"hello".to_vec(),
        status: 0,
    };
    assert!(compare(&wafer, &shorter).unwrap().contains("at byte 5"));
}

#[test]
fn a_runtime_printing_something_else_is_a_mismatch_not_a_time() {
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    // A `node` that prints something else, first on PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("node");
    std::fs::write(&fake, "#!/bin/sh\necho not the driver\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = wafer()
        .args([
            "bench",
            wasm.to_str().unwrap(),
            "--runs",
            "2",
            "--warmup",
            "0",
        ])
        .args(["--runtimes", "node"])
        .env("PATH", path)
        .output()
        .unwrap();
    let table = ok(&out);
    let line = row(&table, "node (WASI preview1)");
    assert!(line.contains("mismatch: stdout differs"), "{table}");
    assert!(!has_times(line, 1), "a mismatch was timed: {line}");
    assert!(has_times(row(&table, "wafer"), 4), "{table}");
}

#[test]
fn node_runs_a_preview1_module_with_its_grants() {
    let found = Command::new("sh")
        .args(["-c", "command -v node"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "node is missing: run scripts/setup.sh (Debian package nodejs)"
    );
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    let out = bench(&[
        wasm.to_str().unwrap(),
        "--runs",
        "2",
        "--warmup",
        "0",
        "--runtimes",
        "node",
        "--env",
        "K=V",
        "--",
        "x",
    ]);
    let table = ok(&out);
    assert!(has_times(row(&table, "node (WASI preview1)"), 4), "{table}");
}

#[test]
fn the_i2c_logger_runs_on_the_sim_backend_and_only_under_wafer() {
    let wasm = build_example("i2c-logger");
    let dir = scratch();
    let sim = dir.path().join("sim.conf");
    std::fs::write(
        &sim,
        "bus sensors\ndevice bme280 0x76 temperature=23.5 pressure=1002.5 humidity=61\n",
    )
    .unwrap();
    let out = wafer()
        .arg("bench")
        .arg(&wasm)
        .args([
            "--i2c",
            "sensors=/dev/i2c-1:0x76",
            "--runs",
            "3",
            "--warmup",
            "1",
        ])
        .args(["--", "sensors", "1", "0"])
        .env("WAFER_I2C_BACKEND", "sim")
        .env("WAFER_I2C_SIM", &sim)
        .output()
        .unwrap();
    let table = ok(&out);
    assert!(has_times(row(&table, "wafer"), 4), "{table}");
    for name in [
        "wasmtime run .wasm (JIT)",
        "wasmtime run .cwasm (precompiled)",
        "node (WASI preview1)",
    ] {
        assert!(
            table.contains(&format!("cannot run it: {name}: it needs WASI-I2C")),
            "{name}:\n{table}"
        );
    }
}

#[test]
fn a_cross_build_runs_emulated() {
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    let out = bench(&[
        wasm.to_str().unwrap(),
        "--target",
        "aarch64",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--runtimes",
        "wasmtime",
    ]);
    let table = ok(&out);
    assert!(table.contains("(qemu-user)"), "{table}");
    assert!(
        has_times(row(&table, "wafer, emulated (qemu-user)"), 4),
        "{table}"
    );
    assert!(
        table.contains(
            "cannot run it: wasmtime run .wasm (JIT): the executable is built for aarch64"
        ),
        "{table}"
    );
}

#[test]
fn bad_input_is_one_error_line() {
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    let wasm = wasm.to_str().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    for (args, wanted) in [
        (
            vec![wasm, "--runtimes", "wasmtime,bogus"],
            "wafer: error: unknown runtime `bogus`",
        ),
        (
            vec![
                wasm,
                "--ssh",
                "nobody@127.0.0.1",
                "--ssh-port",
                &closed,
                "--ssh-option",
                "StrictHostKeyChecking=no",
            ],
            "wafer: error: cannot reach nobody@127.0.0.1 over ssh",
        ),
    ] {
        let out = bench(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(wanted), "{err}");
    }
}

/// An sshd on 127.0.0.1 with throwaway keys, killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (install openssh-client: scripts/setup.sh)");
    assert!(out.status.success(), "ssh-keygen: {}", text(&out.stderr));
}

fn start_sshd() -> Sshd {
    let sshd = Path::new("/usr/sbin/sshd");
    assert!(
        sshd.exists(),
        "/usr/sbin/sshd is missing: run scripts/setup.sh (it installs openssh-server)"
    );
    let dir = scratch();
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("id"));
    std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = d.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
             PidFile {pid}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
            host = d.join("host_key").display(),
            keys = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        ),
    )
    .unwrap();
    // As root, sshd wants its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
        .spawn()
        .expect("starting sshd");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "sshd could not start ({status}): {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "sshd did not listen on 127.0.0.1:{port} within 20 s: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Sshd { child, port, dir }
}

#[test]
fn the_board_path_times_the_driver_over_ssh() {
    let sshd = start_sshd();
    let user = Command::new("id").arg("-un").output().unwrap();
    let user = text(&user.stdout).trim().to_string();
    let dir = scratch();
    let wasm = hello_wasm(dir.path());
    let board_dir = sshd.dir.path().join("board");
    let dest = format!("{user}@127.0.0.1");
    let port = sshd.port.to_string();
    let identity = sshd.dir.path().join("id");
    let base = [
        wasm.to_str().unwrap(),
        "--runs",
        "3",
        "--warmup",
        "1",
        "--runtimes",
        "wasmtime",
        "--ssh",
        &dest,
        "--ssh-port",
        &port,
        "--ssh-identity",
        identity.to_str().unwrap(),
        "--ssh-option",
        "StrictHostKeyChecking=no",
        "--ssh-option",
        "UserKnownHostsFile=/dev/null",
        "--ssh-option",
        "LogLevel=ERROR",
        "--ssh-dir",
        board_dir.to_str().unwrap(),
    ];
    let out = bench(&[&base[..], &["--", "edge", "board"]].concat());
    let table = ok(&out);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    assert!(
        table.contains(&format!("board {dest} ({host}, x86_64)")),
        "{table}"
    );
    assert!(
        has_times(row(&table, &format!("wafer on {host}")), 4),
        "{table}"
    );
    // The board's wasmtime is named either way: timed, or not found there.
    let wasmtime = format!("wasmtime run .wasm (JIT) on {host}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&wasmtime) && has_times(l, 4))
            || table.contains(&format!("not found: {wasmtime}")),
        "{table}"
    );
    assert!(board_dir.join("driver").exists() && board_dir.join("timer").exists());

    let out = bench(&[&base[..], &["--json"]].concat());
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let board = &json["sections"][1];
    assert_eq!(board["place"], format!("board {dest}"));
    assert_eq!(board["host"], host);
    let wafer = &board["runtimes"][0];
    assert_eq!(wafer["status"], "timed", "{wafer}");
    assert_eq!(wafer["exec_to_exit"]["runs"], 3);
    assert!(wafer["exec_to_first_output"]["median_ms"].as_f64().unwrap() > 0.0);
}
