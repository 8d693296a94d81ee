//! The text protocol between the harness and a spec-script executable (see
//! `wafer_abi::spec_script`): encoding commands, and parsing the result lines the executable
//! prints.

use std::fmt;
use wafer_abi::spec_script as proto;

/// A wasm value as the protocol spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    /// The bits of an `f32`: NaN payloads must survive the round trip unchanged.
    F32(u32),
    F64(u64),
    FuncNull,
    /// A non-null function reference (only ever a result: the script cannot name one).
    FuncNonNull,
    ExternNull,
    /// The host reference `n` of the script (`ref.extern n`).
    Extern(u32),
    /// A `v128`'s 16 bytes as a little-endian integer (lane 0 in the low bits).
    V128(u128),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v:x}"),
            Value::I64(v) => write!(f, "i64:{v:x}"),
            Value::F32(v) => write!(f, "f32:{v:x}"),
            Value::F64(v) => write!(f, "f64:{v:x}"),
            Value::FuncNull => f.write_str("funcref:null"),
            Value::FuncNonNull => f.write_str("funcref:nonnull"),
            Value::ExternNull => f.write_str("externref:null"),
            Value::Extern(n) => write!(f, "externref:{n}"),
            Value::V128(v) => write!(f, "v128:{v:x}"),
        }
    }
}

impl Value {
    /// Parses one value token (`i32:2a`, `funcref:null`, ...).
    pub fn parse(token: &str) -> Result<Value, String> {
        let (ty, payload) = token
            .split_once(':')
            .ok_or_else(|| format!("value `{token}` has no `<type>:` prefix"))?;
        let bad = || format!("bad {ty} value `{token}`");
        let hex = |digits: &str| {
            let digits = digits.strip_prefix("0x").unwrap_or(digits);
            u64::from_str_radix(digits, 16).map_err(|_| bad())
        };
        let hex32 = |digits: &str| hex(digits).and_then(|v| u32::try_from(v).map_err(|_| bad()));
        match ty {
            "i32" => hex32(payload).map(Value::I32),
            "i64" => hex(payload).map(Value::I64),
            "f32" => hex32(payload).map(Value::F32),
            "f64" => hex(payload).map(Value::F64),
            "funcref" => match payload {
                "null" => Ok(Value::FuncNull),
                "nonnull" => Ok(Value::FuncNonNull),
                _ => Err(bad()),
            },
            "externref" => match payload {
                "null" => Ok(Value::ExternNull),
                n => n.parse().map(Value::Extern).map_err(|_| bad()),
            },
            "v128" => {
                let digits = payload.strip_prefix("0x").unwrap_or(payload);
                u128::from_str_radix(digits, 16)
                    .map(Value::V128)
                    .map_err(|_| bad())
            }
            _ => Err(format!("unknown value type in `{token}`")),
        }
    }
}

/// Hex-encodes a name's UTF-8 bytes so that any name (empty, with spaces, non-ASCII) is one
/// token; the empty name is `-`.
pub fn encode_name(name: &str) -> String {
    if name.is_empty() {
        return "-".to_string();
    }
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`encode_name`]; names need not be valid UTF-8 on the wire, so bytes.
pub fn decode_name(token: &str) -> Result<Vec<u8>, String> {
    if token == "-" {
        return Ok(Vec::new());
    }
    if !token.len().is_multiple_of(2) {
        return Err(format!("name `{token}` has an odd number of hex digits"));
    }
    (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("name `{token}` is not hex"))
        })
        .collect()
}

/// One command line of the script an executable runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Instantiate module number `module` of the executable as instance number `instance`.
    Instantiate {
        module: usize,
        instance: usize,
    },
    Register {
        name: String,
        instance: usize,
    },
    Invoke {
        instance: usize,
        export: String,
        args: Vec<Value>,
    },
    Get {
        instance: usize,
        export: String,
    },
    /// The instance's memory pages and state digests (`wafer_abi::spec_script::STATE`),
    /// answered as four `i64` values.
    State {
        instance: usize,
    },
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Instantiate { module, instance } => {
                write!(f, "{} {module} {instance}", proto::INSTANTIATE)
            }
            Command::Register { name, instance } => {
                write!(f, "{} {} {instance}", proto::REGISTER, encode_name(name))
            }
            Command::Invoke {
                instance,
                export,
                args,
            } => {
                write!(f, "{} {instance} {}", proto::INVOKE, encode_name(export))?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
            Command::Get { instance, export } => {
                write!(f, "{} {instance} {}", proto::GET, encode_name(export))
            }
            Command::State { instance } => write!(f, "{} {instance}", proto::STATE),
        }
    }
}

/// The text of a commands file: one command per line, so command `i` (0-based) is line `i + 1`.
pub fn commands_file<'a>(commands: impl IntoIterator<Item = &'a Command>) -> String {
    let mut text = String::new();
    for command in commands {
        text.push_str(&command.to_string());
        text.push('\n');
    }
    text
}

/// What the executable answered for one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok(Vec<Value>),
    /// `kind` is a `wafer_abi::TrapKind` number.
    Trap {
        kind: u8,
        message: String,
    },
    Unlinkable(String),
    Error(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(values) => {
                f.write_str(proto::OK)?;
                for v in values {
                    write!(f, " {v}")?;
                }
                Ok(())
            }
            Outcome::Trap { kind, message } => write!(f, "{} {kind} {message}", proto::TRAP),
            Outcome::Unlinkable(m) => write!(f, "{} {m}", proto::UNLINKABLE),
            Outcome::Error(m) => write!(f, "{} {m}", proto::ERROR),
        }
    }
}

/// A parsed result line: the 1-based commands-file line it answers, and the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultLine {
    pub line: usize,
    pub outcome: Outcome,
}

/// Parses one line of the executable's stdout. `Ok(None)` for lines that are not result lines
/// at all (the `spectest.print*` host functions write to stdout too); `Err` for lines that
/// look like result lines but are malformed, which is a protocol bug worth reporting.
pub fn parse_result_line(line: &str) -> Result<Option<ResultLine>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut words = line.splitn(3, ' ');
    let (Some(number), Some(status)) = (words.next(), words.next()) else {
        return Ok(None);
    };
    let Ok(number) = number.parse::<usize>() else {
        return Ok(None);
    };
    let rest = words.next().unwrap_or("");
    let outcome = match status {
        proto::OK => Outcome::Ok(
            rest.split_whitespace()
                .map(Value::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("result line `{line}`: {e}"))?,
        ),
        proto::TRAP => {
            let (kind, message) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = kind
                .parse()
                .map_err(|_| format!("result line `{line}`: trap kind `{kind}` is not a number"))?;
            Outcome::Trap {
                kind,
                message: message.to_string(),
            }
        }
        proto::UNLINKABLE => Outcome::Unlinkable(rest.to_string()),
        proto::ERROR => Outcome::Error(rest.to_string()),
        _ => return Ok(None),
    };
    if number == 0 {
        return Err(format!("result line `{line}`: line numbers start at 1"));
    }
    Ok(Some(ResultLine {
        line: number,
        outcome,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let values = [
            Value::I32(0),
            Value::I32(u32::MAX),
            Value::I64(0x8000_0000_0000_0000),
            Value::F32(0x7fc0_0001),
            Value::F64(0xfff8_0000_0000_0001),
            Value::FuncNull,
            Value::FuncNonNull,
            Value::ExternNull,
            Value::Extern(42),
        ];
        for v in values {
            assert_eq!(Value::parse(&v.to_string()), Ok(v), "{v}");
        }
        assert_eq!(Value::I32(0xffff_ffff).to_string(), "i32:ffffffff");
        assert_eq!(Value::Extern(7).to_string(), "externref:7");
    }

    #[test]
    fn value_parsing_accepts_runtime_spellings_and_refuses_garbage() {
        assert_eq!(Value::parse("i32:0x0000002A"), Ok(Value::I32(42)));
        assert_eq!(Value::parse("f32:00000000"), Ok(Value::F32(0)));
        assert!(Value::parse("i32:100000000").is_err(), "wider than 32 bits");
        assert!(Value::parse("i64:zz").is_err());
        assert_eq!(Value::parse("v128:0").unwrap(), Value::V128(0));
        assert_eq!(
            Value::parse(&Value::V128(u128::MAX).to_string()).unwrap(),
            Value::V128(u128::MAX)
        );
        assert!(Value::parse("v128:1ffffffffffffffffffffffffffffffff").is_err());
        assert!(Value::parse("42").is_err());
        assert!(Value::parse("funcref:3").is_err());
        assert!(Value::parse("externref:-1").is_err());
    }

    #[test]
    fn names_are_hex_tokens() {
        assert_eq!(encode_name(""), "-");
        assert_eq!(encode_name("add"), "616464");
        assert_eq!(encode_name("a b"), "612062");
        assert_eq!(encode_name("\u{e9}"), "c3a9");
        for name in ["", "add", "with space", "\u{1F600}", "\0"] {
            assert_eq!(decode_name(&encode_name(name)).unwrap(), name.as_bytes());
        }
        assert!(decode_name("abc").is_err());
        assert!(decode_name("zz").is_err());
    }

    #[test]
    fn commands_are_spelled_as_documented() {
        let commands = [
            Command::Instantiate {
                module: 0,
                instance: 3,
            },
            Command::Register {
                name: "M".into(),
                instance: 3,
            },
            Command::Invoke {
                instance: 3,
                export: "f".into(),
                args: vec![Value::I32(1), Value::ExternNull],
            },
            Command::Invoke {
                instance: 3,
                export: String::new(),
                args: vec![],
            },
            Command::Get {
                instance: 3,
                export: "g".into(),
            },
        ];
        assert_eq!(
            commands_file(&commands),
            "instantiate 0 3\nregister 4d 3\ninvoke 3 66 i32:1 externref:null\ninvoke 3 -\nget 3 67\n"
        );
    }

    #[test]
    fn result_lines_parse() {
        let parse = |s| parse_result_line(s).unwrap().unwrap();
        assert_eq!(
            parse("1 ok"),
            ResultLine {
                line: 1,
                outcome: Outcome::Ok(vec![])
            }
        );
        assert_eq!(
            parse("12 ok i32:1 f64:7ff8000000000000\n").outcome,
            Outcome::Ok(vec![Value::I32(1), Value::F64(0x7ff8_0000_0000_0000)])
        );
        assert_eq!(
            parse("3 trap 2 out of bounds memory access").outcome,
            Outcome::Trap {
                kind: 2,
                message: "out of bounds memory access".into()
            }
        );
        assert_eq!(
            parse("4 unlinkable unknown import \"M\" \"f\"").outcome,
            Outcome::Unlinkable("unknown import \"M\" \"f\"".into())
        );
        assert_eq!(
            parse("5 error no such export").outcome,
            Outcome::Error("no such export".into())
        );
        assert_eq!(
            parse("6 trap 6").outcome,
            Outcome::Trap {
                kind: 6,
                message: String::new()
            }
        );
    }

    #[test]
    fn non_result_output_is_skipped_and_broken_results_are_errors() {
        assert_eq!(parse_result_line("42 : i32"), Ok(None));
        assert_eq!(parse_result_line("hello"), Ok(None));
        assert_eq!(parse_result_line(""), Ok(None));
        assert!(parse_result_line("7 ok i32:xyz").is_err());
        assert!(parse_result_line("7 trap x boom").is_err());
        assert!(parse_result_line("0 ok").is_err());
    }

    #[test]
    fn outcomes_display_like_the_wire() {
        for line in [
            "ok i32:1 funcref:nonnull",
            "trap 6 unreachable",
            "unlinkable x",
            "error y",
        ] {
            let parsed = parse_result_line(&format!("1 {line}")).unwrap().unwrap();
            assert_eq!(parsed.outcome.to_string(), line);
        }
    }
}
