//! Which WebAssembly proposals wafer compiles, and naming the one a refused module needs.

use wasmparser::{Validator, WasmFeatures};

/// The MVP plus the finished proposals the translator implements.
pub fn supported() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::FLOATS
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::THREADS
        | WasmFeatures::SIMD
        | WasmFeatures::RELAXED_SIMD
        // wasmparser gates even `externref` behind this flag; the GC proposal's instructions
        // and heap types stay off (they need `GC`).
        | WasmFeatures::GC_TYPES
}

/// Proposals wafer refuses, by the name users know them by. Some wasmparser flags only make
/// sense together, so one entry may stand for several flags.
fn unsupported() -> [(&'static str, WasmFeatures); 15] {
    [
        (
            "shared-everything-threads",
            WasmFeatures::SHARED_EVERYTHING_THREADS,
        ),
        ("tail-call", WasmFeatures::TAIL_CALL),
        ("multi-memory", WasmFeatures::MULTI_MEMORY),
        ("exception-handling", WasmFeatures::EXCEPTIONS),
        ("legacy-exception-handling", WasmFeatures::LEGACY_EXCEPTIONS),
        ("memory64", WasmFeatures::MEMORY64),
        ("function-references", WasmFeatures::FUNCTION_REFERENCES),
        ("gc", WasmFeatures::GC.union(WasmFeatures::GC_TYPES)),
        ("custom-page-sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
        ("wide-arithmetic", WasmFeatures::WIDE_ARITHMETIC),
        ("stack-switching", WasmFeatures::STACK_SWITCHING),
        ("memory-control", WasmFeatures::MEMORY_CONTROL),
        ("compact-imports", WasmFeatures::COMPACT_IMPORTS),
        ("custom-descriptors", WasmFeatures::CUSTOM_DESCRIPTORS),
        (
            "atomics extensions",
            WasmFeatures::ACQUIRE_RELEASE_ATOMICS.union(WasmFeatures::MULTIBYTE_ARRAY_ACCESS),
        ),
    ]
}

fn validates(wasm: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(features)
        .validate_all(wasm)
        .is_ok()
}

/// For a module that fails validation with [`supported`]: the proposals it needs, if turning
/// unsupported proposals on makes it valid; `None` if it is simply invalid.
///
/// Starts from everything and drops each proposal the module still validates without, so what
/// remains is a set the module really needs (e.g. `simd, relaxed-simd`). Proposals that build
/// on others (gc on function-references) are listed after them and dropped first, so a module
/// that only needs the smaller proposal is told just that one.
pub fn required_unsupported(wasm: &[u8]) -> Option<String> {
    let groups = unsupported();
    let mut enabled = groups.iter().fold(supported(), |acc, (_, f)| acc | *f);
    if !validates(wasm, enabled) {
        return None;
    }
    let mut needed = Vec::new();
    for (name, flags) in groups.into_iter().rev() {
        let without = enabled.difference(flags);
        if validates(wasm, without) {
            enabled = without;
        } else {
            needed.push(name);
        }
    }
    needed.reverse();
    if needed.is_empty() {
        // Cannot happen for a module that failed with the supported set alone, but an honest
        // answer beats a wrong feature name.
        return None;
    }
    Some(needed.join(", "))
}
