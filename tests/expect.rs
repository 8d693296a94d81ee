//! What a script expects of a command, and whether an executable's answer meets it.

use crate::protocol::{Outcome, Value};
use std::fmt;
use wafer_abi::TrapKind;

/// An expected float: exact bits, or one of the spec's NaN classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatPattern {
    Bits(u64),
    /// `nan:canonical`: the quiet NaN with an empty payload, either sign.
    CanonicalNan,
    /// `nan:arithmetic`: any quiet NaN, either sign.
    ArithmeticNan,
}

impl FloatPattern {
    /// Whether `bits`, a float of `width` (32 or 64) bits, matches.
    pub fn matches(self, bits: u64, width: u32) -> bool {
        let (sign, quiet_nan) = if width == 32 {
            (1u64 << 31, 0x7fc0_0000u64)
        } else {
            (1u64 << 63, 0x7ff8_0000_0000_0000u64)
        };
        match self {
            FloatPattern::Bits(b) => b == bits,
            FloatPattern::CanonicalNan => bits & !sign == quiet_nan,
            FloatPattern::ArithmeticNan => bits & quiet_nan == quiet_nan,
        }
    }

    fn describe(self, ty: &str, width: u32) -> String {
        match self {
            FloatPattern::Bits(b) if width == 32 => {
                format!("{ty}:{b:x} ({})", f32::from_bits(b as u32))
            }
            FloatPattern::Bits(b) => format!("{ty}:{b:x} ({})", f64::from_bits(b)),
            FloatPattern::CanonicalNan => format!("{ty}:nan:canonical"),
            FloatPattern::ArithmeticNan => format!("{ty}:nan:arithmetic"),
        }
    }
}

/// One expected result value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValuePattern {
    I32(u32),
    I64(u64),
    F32(FloatPattern),
    F64(FloatPattern),
    FuncNull,
    /// `ref.func`: any non-null function reference.
    FuncNonNull,
    ExternNull,
    /// `ref.extern n`, or `ref.extern` without a number: any non-null external reference.
    Extern(Option<u32>),
    /// `ref.null` without a type: a null of either reference type.
    AnyNull,
    /// `either`: any of the alternatives.
    Either(Vec<ValuePattern>),
    /// A `v128`: integer lanes are exact bits, float lanes may be NaN classes.
    V128(V128Pattern),
}

/// An expected `v128`, in the shape the script wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V128Pattern {
    /// Integer lanes of any width: exactly these 16 bytes.
    Bits(u128),
    F32x4([FloatPattern; 4]),
    F64x2([FloatPattern; 2]),
}

impl V128Pattern {
    pub fn matches(&self, v: u128) -> bool {
        match self {
            V128Pattern::Bits(b) => *b == v,
            V128Pattern::F32x4(lanes) => lanes
                .iter()
                .enumerate()
                .all(|(i, p)| p.matches(u64::from((v >> (32 * i)) as u32), 32)),
            V128Pattern::F64x2(lanes) => lanes
                .iter()
                .enumerate()
                .all(|(i, p)| p.matches((v >> (64 * i)) as u64, 64)),
        }
    }
}

impl fmt::Display for V128Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V128Pattern::Bits(b) => write!(f, "v128:{b:x}"),
            V128Pattern::F32x4(lanes) => {
                let lanes: Vec<String> = lanes.iter().map(|p| p.describe("f32", 32)).collect();
                write!(f, "f32x4[{}]", lanes.join(" "))
            }
            V128Pattern::F64x2(lanes) => {
                let lanes: Vec<String> = lanes.iter().map(|p| p.describe("f64", 64)).collect();
                write!(f, "f64x2[{}]", lanes.join(" "))
            }
        }
    }
}

impl ValuePattern {
    pub fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (ValuePattern::I32(e), Value::I32(v)) => e == v,
            (ValuePattern::I64(e), Value::I64(v)) => e == v,
            (ValuePattern::F32(p), Value::F32(v)) => p.matches(u64::from(*v), 32),
            (ValuePattern::F64(p), Value::F64(v)) => p.matches(*v, 64),
            (ValuePattern::FuncNull, Value::FuncNull)
            | (ValuePattern::FuncNonNull, Value::FuncNonNull)
            | (ValuePattern::ExternNull, Value::ExternNull)
            | (ValuePattern::AnyNull, Value::FuncNull | Value::ExternNull) => true,
            (ValuePattern::Extern(e), Value::Extern(v)) => e.is_none_or(|e| e == *v),
            (ValuePattern::Either(alternatives), v) => alternatives.iter().any(|a| a.matches(v)),
            (ValuePattern::V128(p), Value::V128(v)) => p.matches(*v),
            _ => false,
        }
    }
}

impl fmt::Display for ValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValuePattern::I32(v) => write!(f, "i32:{v:x}"),
            ValuePattern::I64(v) => write!(f, "i64:{v:x}"),
            ValuePattern::F32(p) => f.write_str(&p.describe("f32", 32)),
            ValuePattern::F64(p) => f.write_str(&p.describe("f64", 64)),
            ValuePattern::FuncNull => f.write_str("funcref:null"),
            ValuePattern::FuncNonNull => f.write_str("funcref:nonnull"),
            ValuePattern::ExternNull => f.write_str("externref:null"),
            ValuePattern::Extern(Some(n)) => write!(f, "externref:{n}"),
            ValuePattern::Extern(None) => f.write_str("externref:nonnull"),
            ValuePattern::AnyNull => f.write_str("ref:null"),
            ValuePattern::V128(p) => write!(f, "{p}"),
            ValuePattern::Either(alternatives) => {
                f.write_str("either(")?;
                for (i, a) in alternatives.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// What a command must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `ok` with exactly these results (an instantiation or registration expects none).
    Values(Vec<ValuePattern>),
    /// `ok` with whatever results: a bare `invoke` only has to not fail.
    Success,
    /// A trap whose kind the spec describes with this message.
    Trap(String),
    /// Stack exhaustion.
    Exhaustion,
    Unlinkable,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Values(values) => {
                f.write_str("ok")?;
                for v in values {
                    write!(f, " {v}")?;
                }
                Ok(())
            }
            Expect::Success => f.write_str("ok (any results)"),
            Expect::Trap(message) => write!(f, "trap \"{message}\""),
            Expect::Exhaustion => write!(f, "trap \"{}\"", TrapKind::StackOverflow.message()),
            Expect::Unlinkable => f.write_str("unlinkable"),
        }
    }
}

impl Expect {
    /// `Ok` when `outcome` meets the expectation; otherwise why not.
    pub fn check(&self, outcome: &Outcome) -> Result<(), String> {
        let ok = match (self, outcome) {
            (Expect::Values(patterns), Outcome::Ok(values)) => {
                patterns.len() == values.len()
                    && patterns.iter().zip(values).all(|(p, v)| p.matches(v))
            }
            (Expect::Success, Outcome::Ok(_)) => true,
            (Expect::Trap(expected), Outcome::Trap { kind, .. }) => trap_matches(expected, *kind),
            (Expect::Exhaustion, Outcome::Trap { kind, .. }) => {
                *kind == TrapKind::StackOverflow as u8
            }
            (Expect::Unlinkable, Outcome::Unlinkable(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(describe_outcome(outcome))
        }
    }
}

/// An outcome with the trap kind spelled out, for failure reports.
pub fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Trap { kind, message } => match TrapKind::from_u8(*kind) {
            Some(k) => format!("trap {kind} ({:?}) {message}", k),
            None => format!("trap {kind} (not a TrapKind) {message}"),
        },
        other => other.to_string(),
    }
}

/// Whether a trap of `kind` is the trap the spec describes as `expected`. The spec's message
/// may carry detail after the standard wording ("uninitialized element 2"), so a prefix
/// match; beyond that, an index past a table's end is the same fault whether the spec calls
/// it "undefined element" (call_indirect) or "out of bounds table access" (table.*).
pub fn trap_matches(expected: &str, kind: u8) -> bool {
    let Some(kind) = TrapKind::from_u8(kind) else {
        return false;
    };
    let expected = expected.trim();
    if expected.starts_with(kind.message()) {
        return true;
    }
    let same_fault = [
        TrapKind::IndirectCallOutOfBounds,
        TrapKind::TableOutOfBounds,
    ];
    same_fault.contains(&kind) && same_fault.iter().any(|k| expected.starts_with(k.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_nan_patterns() {
        let m = |p: FloatPattern, bits: u32| p.matches(u64::from(bits), 32);
        assert!(m(FloatPattern::CanonicalNan, 0x7fc0_0000));
        assert!(m(FloatPattern::CanonicalNan, 0xffc0_0000));
        assert!(
            !m(FloatPattern::CanonicalNan, 0x7fc0_0001),
            "payload is not canonical"
        );
        assert!(
            !m(FloatPattern::CanonicalNan, 0x7fa0_0000),
            "signalling NaN"
        );
        assert!(!m(FloatPattern::CanonicalNan, 0x7f80_0000), "infinity");
        assert!(m(FloatPattern::ArithmeticNan, 0x7fc0_0000));
        assert!(m(FloatPattern::ArithmeticNan, 0xffc0_0001));
        assert!(m(FloatPattern::ArithmeticNan, 0x7fff_ffff));
        assert!(
            !m(FloatPattern::ArithmeticNan, 0x7fa0_0000),
            "signalling NaN"
        );
        assert!(!m(FloatPattern::ArithmeticNan, 0x7f80_0000), "infinity");
        assert!(!m(FloatPattern::ArithmeticNan, 0x3f80_0000), "1.0");
        assert!(
            m(FloatPattern::Bits(0x7fa0_0000), 0x7fa0_0000),
            "exact NaN bits"
        );
        assert!(!m(FloatPattern::Bits(0x8000_0000), 0), "-0 is not +0");
    }

    #[test]
    fn f64_nan_patterns() {
        let m = |p: FloatPattern, bits: u64| p.matches(bits, 64);
        assert!(m(FloatPattern::CanonicalNan, 0x7ff8_0000_0000_0000));
        assert!(m(FloatPattern::CanonicalNan, 0xfff8_0000_0000_0000));
        assert!(!m(FloatPattern::CanonicalNan, 0x7ff8_0000_0000_0001));
        assert!(
            !m(FloatPattern::CanonicalNan, 0x7fc0_0000),
            "an f32 NaN's bits are not one"
        );
        assert!(m(FloatPattern::ArithmeticNan, 0x7ff8_0000_0000_0001));
        assert!(m(FloatPattern::ArithmeticNan, 0xffff_ffff_ffff_ffff));
        assert!(
            !m(FloatPattern::ArithmeticNan, 0x7ff4_0000_0000_0000),
            "signalling NaN"
        );
        assert!(
            !m(FloatPattern::ArithmeticNan, 0x7ff0_0000_0000_0000),
            "infinity"
        );
    }

    #[test]
    fn value_patterns() {
        assert!(ValuePattern::I32(5).matches(&Value::I32(5)));
        assert!(
            !ValuePattern::I32(5).matches(&Value::I64(5)),
            "types must agree"
        );
        assert!(ValuePattern::F32(FloatPattern::CanonicalNan).matches(&Value::F32(0x7fc0_0000)));
        assert!(!ValuePattern::F32(FloatPattern::CanonicalNan).matches(&Value::F64(0x7fc0_0000)));
        assert!(ValuePattern::FuncNonNull.matches(&Value::FuncNonNull));
        assert!(!ValuePattern::FuncNonNull.matches(&Value::FuncNull));
        assert!(!ValuePattern::FuncNull.matches(&Value::ExternNull));
        assert!(ValuePattern::AnyNull.matches(&Value::ExternNull));
        assert!(ValuePattern::AnyNull.matches(&Value::FuncNull));
        assert!(!ValuePattern::AnyNull.matches(&Value::Extern(0)));
        assert!(ValuePattern::Extern(Some(3)).matches(&Value::Extern(3)));
        assert!(!ValuePattern::Extern(Some(3)).matches(&Value::Extern(4)));
        assert!(ValuePattern::Extern(None).matches(&Value::Extern(4)));
        assert!(!ValuePattern::Extern(None).matches(&Value::ExternNull));
        let either = ValuePattern::Either(vec![ValuePattern::I32(1), ValuePattern::I32(2)]);
        assert!(either.matches(&Value::I32(2)));
        assert!(!either.matches(&Value::I32(3)));
    }

    #[test]
    fn expectations_check_outcomes() {
        let values = Expect::Values(vec![ValuePattern::I32(1), ValuePattern::I64(2)]);
        assert!(values
            .check(&Outcome::Ok(vec![Value::I32(1), Value::I64(2)]))
            .is_ok());
        assert!(
            values.check(&Outcome::Ok(vec![Value::I32(1)])).is_err(),
            "arity"
        );
        assert!(values
            .check(&Outcome::Ok(vec![Value::I32(1), Value::I64(3)]))
            .is_err());
        assert!(Expect::Success
            .check(&Outcome::Ok(vec![Value::I32(9)]))
            .is_ok());
        assert!(Expect::Success.check(&Outcome::Error("x".into())).is_err());

        let trap = |kind: TrapKind| Outcome::Trap {
            kind: kind as u8,
            message: kind.message().into(),
        };
        let div = Expect::Trap("integer divide by zero".into());
        assert!(div.check(&trap(TrapKind::IntegerDivisionByZero)).is_ok());
        let got = div.check(&trap(TrapKind::IntegerOverflow)).unwrap_err();
        assert!(got.contains("IntegerOverflow"), "{got}");
        assert!(div.check(&Outcome::Ok(vec![])).is_err());
        assert!(Expect::Exhaustion
            .check(&trap(TrapKind::StackOverflow))
            .is_ok());
        assert!(Expect::Exhaustion
            .check(&trap(TrapKind::Unreachable))
            .is_err());
        assert!(Expect::Unlinkable
            .check(&Outcome::Unlinkable("m".into()))
            .is_ok());
        assert!(Expect::Unlinkable.check(&Outcome::Ok(vec![])).is_err());
    }

    #[test]
    fn trap_messages_map_to_kinds() {
        use TrapKind::*;
        assert!(trap_matches(
            "uninitialized element 2",
            IndirectCallToNull as u8
        ));
        assert!(trap_matches(
            "uninitialized element",
            IndirectCallToNull as u8
        ));
        assert!(!trap_matches(
            "uninitialized element",
            IndirectCallOutOfBounds as u8
        ));
        assert!(trap_matches(
            "undefined element",
            IndirectCallOutOfBounds as u8
        ));
        assert!(trap_matches("undefined element", TableOutOfBounds as u8));
        assert!(trap_matches(
            "out of bounds table access",
            IndirectCallOutOfBounds as u8
        ));
        assert!(trap_matches(
            "indirect call type mismatch",
            BadSignature as u8
        ));
        assert!(trap_matches(
            "out of bounds memory access",
            MemoryOutOfBounds as u8
        ));
        assert!(!trap_matches(
            "out of bounds memory access",
            TableOutOfBounds as u8
        ));
        assert!(trap_matches("unreachable", Unreachable as u8));
        assert!(!trap_matches("unreachable", 0));
        assert!(!trap_matches("unreachable", 200));
    }
}
