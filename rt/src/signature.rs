//! The process-wide interner of function signatures. `call_indirect` compares the callee's
//! `FuncRef::type_id` with the id of the expected type, and functions may come from other
//! instances (and other modules), so ids must be canonical across every module of the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

struct Interner {
    ids: BTreeMap<(Vec<u8>, Vec<u8>), u32>,
}

static INTERNER: Mutex<Interner> = Mutex::new(Interner {
    ids: BTreeMap::new(),
});

/// The canonical id of the signature `params -> results` (as `valtype` codes). Ids start at 1,
/// so a zeroed `type_id` never matches a real signature.
pub fn intern(params: &[u8], results: &[u8]) -> u32 {
    let mut interner = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    let next = interner.ids.len() as u32 + 1;
    *interner
        .ids
        .entry((params.to_vec(), results.to_vec()))
        .or_insert(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wafer_abi::valtype::*;

    #[test]
    fn same_signature_same_id() {
        let a = intern(&[I32, I64], &[F32]);
        let b = intern(&[I32, I64], &[F32]);
        assert_eq!(a, b);
        assert!(a >= 1);
    }

    #[test]
    fn params_and_results_are_distinguished() {
        let a = intern(&[I32], &[]);
        let b = intern(&[], &[I32]);
        let c = intern(&[I32, I32], &[]);
        let d = intern(&[I32], &[I32]);
        let ids = [a, b, c, d];
        for (i, x) in ids.iter().enumerate() {
            assert!(*x >= 1);
            for y in &ids[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
