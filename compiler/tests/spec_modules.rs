//! Every module of the spec test suite goes through `compile`: valid ones must produce an
//! object with the descriptor symbol (or be refused as unsupported, naming a feature), and
//! malformed or invalid ones must be errors. Nothing may panic.

mod common;

use common::{has_defined, spec_options, testsuite};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wafer_compiler::{compile, CompileError};
use wast::{QuoteWat, WastDirective, WastExecute};

#[derive(Default, Debug)]
struct Tally {
    compiled: usize,
    unsupported: usize,
    rejected: usize,
    /// assert_malformed modules reported as `Malformed` / assert_invalid ones as `Invalid`.
    classified: usize,
    failures: Vec<String>,
}

enum Expect {
    Valid,
    Malformed,
    Invalid,
}

fn check(tally: &mut Tally, what: &str, module: &mut QuoteWat<'_>, expect: Expect) {
    if matches!(
        module,
        QuoteWat::QuoteComponent(..) | QuoteWat::Wat(wast::Wat::Component(_))
    ) {
        return;
    }
    // Text the wast crate itself cannot encode (malformed text) is not our input.
    let Ok(bytes) = module.encode() else { return };
    let opts = spec_options("m");
    let result = catch_unwind(AssertUnwindSafe(|| compile(&bytes, &opts)));
    match (result, expect) {
        (Err(_), _) => tally.failures.push(format!("{what}: PANIC")),
        (Ok(Ok(obj)), Expect::Valid) => {
            if has_defined(&obj, "m_module") {
                tally.compiled += 1;
            } else {
                tally.failures.push(format!("{what}: no m_module symbol"));
            }
        }
        (Ok(Err(CompileError::Unsupported(feature))), Expect::Valid) => {
            if std::env::var_os("WAFER_SHOW_UNSUPPORTED").is_some() {
                eprintln!("{what}: unsupported {feature}");
            }
            tally.unsupported += 1
        }
        (Ok(Err(e)), Expect::Valid) => tally.failures.push(format!("{what}: {e}")),
        (Ok(Ok(_)), _) => tally.failures.push(format!("{what}: accepted")),
        (Ok(Err(e)), expect) => {
            tally.rejected += 1;
            let as_expected = match expect {
                Expect::Malformed => matches!(e, CompileError::Malformed(_)),
                _ => matches!(e, CompileError::Invalid(_)),
            };
            if as_expected {
                tally.classified += 1;
            } else if std::env::var_os("WAFER_SHOW_CLASSIFICATION").is_some() {
                eprintln!("{what}: {e}");
            }
        }
    }
}

fn run_file(name: &str, tally: &mut Tally) {
    let path = testsuite().join(name);
    let src = std::fs::read_to_string(&path).expect("testsuite file");
    let Ok(buf) = wast::parser::ParseBuffer::new(&src) else {
        return;
    };
    let Ok(wast) = wast::parser::parse::<wast::Wast>(&buf) else {
        return;
    };
    for directive in wast.directives {
        let line = directive.span().linecol_in(&src).0 + 1;
        let what = format!("{name}:{line}");
        match directive {
            WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => {
                check(tally, &what, &mut m, Expect::Valid)
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                check(tally, &what, &mut QuoteWat::Wat(module), Expect::Valid)
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(module),
                ..
            } => check(tally, &what, &mut QuoteWat::Wat(module), Expect::Valid),
            WastDirective::AssertMalformed { mut module, .. } => {
                check(tally, &what, &mut module, Expect::Malformed)
            }
            WastDirective::AssertInvalid { mut module, .. } => {
                check(tally, &what, &mut module, Expect::Invalid)
            }
            _ => {}
        }
    }
}

fn run(files: &[String]) -> Tally {
    let mut tally = Tally::default();
    for f in files {
        run_file(f, &mut tally);
    }
    eprintln!(
        "{} files: {} modules compiled, {} unsupported, {} bad modules rejected ({} classified \
         as the script says), {} failures",
        files.len(),
        tally.compiled,
        tally.unsupported,
        tally.rejected,
        tally.classified,
        tally.failures.len()
    );
    for f in tally.failures.iter().take(50) {
        eprintln!("  {f}");
    }
    tally
}

/// A spread of the MVP and the supported proposals.
const CORE_FILES: &[&str] = &[
    "i32.wast",
    "i64.wast",
    "f32.wast",
    "f64.wast",
    "conversions.wast",
    "br_table.wast",
    "call_indirect.wast",
    "memory.wast",
    "global.wast",
    "data.wast",
    "bulk.wast",
    "table_copy.wast",
    "table_init.wast",
    "memory_grow.wast",
    "select.wast",
    "names.wast",
    "exports.wast",
    "imports.wast",
    "binary.wast",
    "binary-leb128.wast",
    "custom.wast",
    "linking.wast",
    "start.wast",
    "func.wast",
    "block.wast",
    "loop.wast",
    "if.wast",
    "ref_func.wast",
    "ref_null.wast",
    "table.wast",
    "local_tee.wast",
    "fac.wast",
    "stack.wast",
    "unreachable.wast",
    "traps.wast",
    "float_exprs.wast",
];

#[test]
fn core_spec_modules_compile() {
    let files: Vec<String> = CORE_FILES.iter().map(|s| s.to_string()).collect();
    let tally = run(&files);
    assert!(tally.compiled > 500, "{tally:?}");
    assert!(tally.rejected > 100, "{tally:?}");
    assert!(
        tally.failures.is_empty(),
        "{} failures",
        tally.failures.len()
    );
}

/// Every file of the suite (slow in debug builds): `cargo test -- --ignored`.
#[test]
#[ignore]
fn whole_spec_suite_never_panics() {
    let mut files: Vec<String> = std::fs::read_dir(testsuite())
        .expect("testsuite")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".wast"))
        .collect();
    files.sort();
    let tally = run(&files);
    assert!(
        tally.failures.is_empty(),
        "{} failures",
        tally.failures.len()
    );
}
