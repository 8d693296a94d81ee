//! `cargo run -p wafer-witgen [-- --check]`: regenerates the runtime's host glue and import
//! table from `wit/` (or, with `--check`, fails if the checked-in files differ);
//! `-- --shapes FILE` prints the import shapes a guest's embedded WIT declares.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, file] = args.as_slice() {
        if flag == "--shapes" {
            // What a guest's embedded WIT says of its imports (a debugging aid).
            let bytes = std::fs::read(file).expect("read the wasm file");
            for ((module, name), shape) in wafer_witgen::guest_shapes(&bytes) {
                println!("{module} {name}: {shape}");
            }
            return ExitCode::SUCCESS;
        }
    }
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = match wafer_witgen::generate(&root) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wafer-witgen: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = Vec::new();
    for (path, text) in &out.files {
        let file = root.join(path);
        if std::fs::read_to_string(&file).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(path.clone());
            continue;
        }
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("create the output folder");
        }
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {path}: {e}"));
        println!("wrote {path}");
    }
    if !stale.is_empty() {
        eprintln!(
            "wafer-witgen: out of date (run `cargo run -p wafer-witgen`): {}",
            stale.join(", ")
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
