//! The process-wide interner of function signatures. `call_indirect` compares the callee's
//! `FuncRef::type_id` with the id of the expected type, and functions may come from other
//! instances (and other modules), so ids must be canonical across every module of the process.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// FNV-1a: keys are a few bytes of type codes, and startup interns every type of every
/// instance, so a cheap hash beats SipHash's resistance to chosen keys (these come from the
/// executable itself).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

struct Interner {
    /// Keyed by the params' codes, [`SEPARATOR`], the results' codes.
    ids: Option<HashMap<Vec<u8>, u32, BuildHasherDefault<Fnv>>>,
}

/// Between params and results in a key: no `valtype` code has this value.
const SEPARATOR: u8 = 0xFF;

static INTERNER: Mutex<Interner> = Mutex::new(Interner { ids: None });

/// Most signatures are short, and their id is the signature itself, packed, so they need no
/// table and no lock:
/// - numbers only (codes below 4), at most 15 params and 3 results and 12 codes in all: the
///   counts, then two bits per code, with [`NUMERIC`] set;
/// - else at most 6 params and 2 results, each code below 8: the counts, then three bits per
///   code, with [`PACKED`] set (and [`NUMERIC`] clear).
///
/// Every other signature is numbered by the table from 1 up, below [`PACKED`]. A signature
/// has one id, the three ranges cannot meet, and packing keeps the counts, so two signatures
/// never share an id.
const NUMERIC: u32 = 1 << 31;
const PACKED: u32 = 1 << 30;

fn packed(params: &[u8], results: &[u8]) -> Option<u32> {
    let codes = || params.iter().chain(results);
    let counts = |bits: u32| params.len() as u32 | (results.len() as u32) << bits;
    if params.len() <= 15
        && results.len() <= 3
        && params.len() + results.len() <= 12
        && codes().all(|&c| c < 4)
    {
        // 4 + 2 bits of counts, then 2 bits per code: at most 30 bits.
        let mut id = counts(4);
        for (i, &c) in codes().enumerate() {
            id |= (c as u32) << (6 + 2 * i);
        }
        return Some(NUMERIC | id);
    }
    if params.len() <= 6 && results.len() <= 2 && codes().all(|&c| c < 8) {
        // 3 + 2 bits of counts, then 3 bits per code: at most 29 bits.
        let mut id = counts(3);
        for (i, &c) in codes().enumerate() {
            id |= (c as u32) << (5 + 3 * i);
        }
        return Some(PACKED | id);
    }
    None
}

/// The canonical id of the signature `params -> results` (as `valtype` codes). Ids start at 1,
/// so a zeroed `type_id` never matches a real signature.
///
/// Called for every type of every instance at startup: a signature already known is found
/// without allocating (the key is built on the stack when it is short, as nearly all are).
pub fn intern(params: &[u8], results: &[u8]) -> u32 {
    if let Some(id) = packed(params, results) {
        return id;
    }
    let len = params.len() + 1 + results.len();
    let mut short = [0u8; 64];
    let mut long = Vec::new();
    let key: &mut [u8] = if len <= short.len() {
        &mut short[..len]
    } else {
        long.resize(len, 0);
        &mut long
    };
    key[..params.len()].copy_from_slice(params);
    key[params.len()] = SEPARATOR;
    key[params.len() + 1..].copy_from_slice(results);
    let mut interner = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    let ids = interner.ids.get_or_insert_with(HashMap::default);
    debug_assert!(ids.len() < PACKED as usize - 1, "signature ids exhausted");
    if let Some(&id) = ids.get(&*key) {
        return id;
    }
    let id = ids.len() as u32 + 1;
    ids.insert(key.to_vec(), id);
    id
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
    fn packed_and_tabled_ids_never_meet() {
        let refs = intern(&[I32, I64, F32, F64, FUNCREF, EXTERNREF], &[I32, I64]);
        let numbers = intern(&[I32; 11], &[F64]);
        let long = intern(&[I32; 16], &[]);
        let many_refs = intern(&[FUNCREF; 7], &[]);
        assert!((PACKED..NUMERIC).contains(&refs), "{refs:#x}");
        assert!(numbers >= NUMERIC, "{numbers:#x}");
        assert!(long < PACKED && many_refs < PACKED);
        assert_ne!(long, many_refs);
        assert_eq!(intern(&[I32; 16], &[]), long);
        assert_ne!(intern(&[I32; 12], &[]), intern(&[I32; 11], &[I32]));
        // Counts are part of the packing: trailing i32s (code 0) are not lost.
        assert_ne!(intern(&[I32], &[]), intern(&[I32, I32], &[]));
        assert_ne!(intern(&[], &[]), intern(&[I32], &[]));
        assert_ne!(intern(&[I32], &[]), intern(&[], &[I32]));
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
