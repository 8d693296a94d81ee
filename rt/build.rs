//! Compiles the small C part of the runtime: `sigsetjmp`/`siglongjmp` cannot be expressed in
//! Rust (a function that returns twice), so trap catching lives in C.

fn main() {
    println!("cargo:rerun-if-changed=src/catch.c");
    cc::Build::new()
        .file("src/catch.c")
        .flag_if_supported("-fno-omit-frame-pointer")
        .warnings(true)
        .compile("wafer_catch");
}
