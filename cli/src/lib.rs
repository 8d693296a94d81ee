//! The `wafer` command as a library: building executables from wasm modules (used by the CLI
//! and by the integration tests, so both exercise the same path).

pub mod bench;
pub mod build;
pub mod inspect;
pub mod invoke;
pub mod link;
pub mod runtime;
pub mod target;
pub mod wasi_over_wali;

pub use build::{
    build_executable, build_spec_executable, build_spec_executable_with_host, check_module,
    compile_driver, load_module, wasm_from_bytes, BuildOptions,
};
pub use target::Target;
pub use wafer_compiler::component::is_component;
pub use wafer_compiler::CompileError;
