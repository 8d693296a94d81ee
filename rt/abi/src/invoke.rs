//! Running one exported function of a library-style guest (`wafer build --invoke CALL`): a core
//! module that exports WIT functions for a host to call (built with wit-bindgen, no `_start`),
//! such as `write(connection: i2c, delay: delay, message: string)`.
//!
//! The build reads the export's WIT type from the module's embedded WIT, parses the call's
//! arguments (WAVE syntax, as `wasmtime run --invoke` takes them) against it, and writes an
//! [`Invoke`] into section [`SECTION`]; the executable ([`crate::EntryMode::Invoke`]) opens the
//! handles the arguments name, lowers the arguments by the canonical ABI, calls the export,
//! prints its result in WAVE syntax on stdout and calls its post-return function.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::component::ValType;
use crate::wire::{put_str, put_u32, Reader};

/// The section of the executable holding the encoded [`Invoke`].
pub const SECTION: &str = ".wafer.invoke";

const MAGIC: &[u8] = b"wafer-invoke-1";

/// A WIT type with its names, enough to parse an argument and print a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaveType {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<WaveType>),
    Record(Vec<(String, WaveType)>),
    Tuple(Vec<WaveType>),
    Variant(Vec<(String, Option<WaveType>)>),
    Enum(Vec<String>),
    Option(Box<WaveType>),
    Result(Option<Box<WaveType>>, Option<Box<WaveType>>),
    Flags(Vec<String>),
    /// A handle (`own` or `borrow`) to the named resource.
    Handle(String),
}

impl WaveType {
    /// How the canonical ABI sees it (a handle is its `u32` index).
    pub fn val_type(&self) -> ValType {
        use WaveType as W;
        match self {
            W::Bool => ValType::Bool,
            W::S8 => ValType::S8,
            W::U8 => ValType::U8,
            W::S16 => ValType::S16,
            W::U16 => ValType::U16,
            W::S32 => ValType::S32,
            W::U32 | W::Handle(_) => ValType::U32,
            W::S64 => ValType::S64,
            W::U64 => ValType::U64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::Char => ValType::Char,
            W::String => ValType::String,
            W::List(t) => ValType::List(Box::new(t.val_type())),
            W::Record(fields) => {
                ValType::Record(fields.iter().map(|(_, t)| t.val_type()).collect())
            }
            W::Tuple(items) => ValType::Record(items.iter().map(|t| t.val_type()).collect()),
            W::Variant(cases) => ValType::Variant(
                cases
                    .iter()
                    .map(|(_, t)| t.as_ref().map(|t| t.val_type()))
                    .collect(),
            ),
            W::Enum(cases) => ValType::Variant(cases.iter().map(|_| None).collect()),
            W::Option(t) => ValType::Variant(alloc::vec![None, Some(t.val_type())]),
            W::Result(ok, err) => ValType::Variant(alloc::vec![
                ok.as_ref().map(|t| t.val_type()),
                err.as_ref().map(|t| t.val_type()),
            ]),
            W::Flags(names) => ValType::Flags(names.len() as u32),
        }
    }
}

/// An argument value, shaped as the canonical ABI lifts it: scalars as their bits (signed
/// integers sign-extended, floats by bit pattern), records and tuples as fields, options,
/// results, enums and variants as (case, payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Const {
    Scalar(u64),
    String(String),
    List(Vec<Const>),
    Record(Vec<Const>),
    Variant(u32, Option<Box<Const>>),
    Flags(u32),
}

/// One argument of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Value(Const),
    /// An `i2c` handle: the bus granted under this label, opened when the executable starts.
    I2cBus(String),
    /// A `delay` handle (the host's monotonic clock).
    Delay,
}

/// The call an executable makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoke {
    /// The call as the user wrote it (for messages).
    pub call: String,
    /// The core export.
    pub export: String,
    /// Its post-return export, if the module has one.
    pub post_return: Option<String>,
    pub params: Vec<WaveType>,
    pub result: Option<WaveType>,
    pub args: Vec<Arg>,
}

impl Invoke {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.str(&self.call);
        w.str(&self.export);
        w.opt(self.post_return.as_deref(), |w, s| w.str(s));
        w.u32(self.params.len() as u32);
        for p in &self.params {
            w.ty(p);
        }
        w.opt(self.result.as_ref(), |w, t| w.ty(t));
        w.u32(self.args.len() as u32);
        for a in &self.args {
            match a {
                Arg::Value(c) => {
                    w.u8(0);
                    w.value(c);
                }
                Arg::I2cBus(label) => {
                    w.u8(1);
                    w.str(label);
                }
                Arg::Delay => w.u8(2),
            }
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Invoke, &'static str> {
        let mut r = Reader {
            bytes,
            damaged: "the invocation is truncated or damaged",
            not_utf8: "a string in the invocation is not UTF-8",
        };
        if r.take(MAGIC.len())? != MAGIC {
            return Err("the invocation was written by another version of wafer");
        }
        let call = r.string()?;
        let export = r.string()?;
        let post_return = r.opt(|r| r.string())?;
        let mut params = Vec::new();
        for _ in 0..r.u32()? {
            params.push(r.ty(0)?);
        }
        let result = r.opt(|r| r.ty(0))?;
        let mut args = Vec::new();
        for _ in 0..r.u32()? {
            args.push(match r.u8()? {
                0 => Arg::Value(r.value(0)?),
                1 => Arg::I2cBus(r.string()?),
                2 => Arg::Delay,
                _ => return Err("bad argument in the invocation"),
            });
        }
        if args.len() != params.len() || !r.bytes.is_empty() {
            return Err("the invocation is damaged");
        }
        Ok(Invoke {
            call,
            export,
            post_return,
            params,
            result,
            args,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        put_u32(&mut self.0, v);
    }
    fn str(&mut self, s: &str) {
        put_str(&mut self.0, s);
    }
    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Writer, T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }
    fn names(&mut self, names: impl ExactSizeIterator<Item = impl AsRef<str>>) {
        self.u32(names.len() as u32);
        for n in names {
            self.str(n.as_ref());
        }
    }
    fn ty(&mut self, t: &WaveType) {
        use WaveType as W;
        let simple = SIMPLE.iter().position(|s| s == t);
        if let Some(code) = simple {
            return self.u8(code as u8);
        }
        match t {
            W::List(e) => {
                self.u8(20);
                self.ty(e);
            }
            W::Record(fields) => {
                self.u8(21);
                self.u32(fields.len() as u32);
                for (n, t) in fields {
                    self.str(n);
                    self.ty(t);
                }
            }
            W::Tuple(items) => {
                self.u8(22);
                self.u32(items.len() as u32);
                items.iter().for_each(|t| self.ty(t));
            }
            W::Variant(cases) => {
                self.u8(23);
                self.u32(cases.len() as u32);
                for (n, t) in cases {
                    self.str(n);
                    self.opt(t.as_ref(), |w, t| w.ty(t));
                }
            }
            W::Enum(cases) => {
                self.u8(24);
                self.names(cases.iter());
            }
            W::Option(t) => {
                self.u8(25);
                self.ty(t);
            }
            W::Result(ok, err) => {
                self.u8(26);
                self.opt(ok.as_deref(), |w, t| w.ty(t));
                self.opt(err.as_deref(), |w, t| w.ty(t));
            }
            W::Flags(names) => {
                self.u8(27);
                self.names(names.iter());
            }
            W::Handle(resource) => {
                self.u8(28);
                self.str(resource);
            }
            _ => unreachable!("simple types are handled above"),
        }
    }
    fn value(&mut self, c: &Const) {
        match c {
            Const::Scalar(v) => {
                self.u8(0);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
            Const::String(s) => {
                self.u8(1);
                self.str(s);
            }
            Const::List(items) | Const::Record(items) => {
                self.u8(if matches!(c, Const::List(_)) { 2 } else { 3 });
                self.u32(items.len() as u32);
                items.iter().for_each(|i| self.value(i));
            }
            Const::Variant(case, payload) => {
                self.u8(4);
                self.u32(*case);
                self.opt(payload.as_deref(), |w, p| w.value(p));
            }
            Const::Flags(bits) => {
                self.u8(5);
                self.u32(*bits);
            }
        }
    }
}

const SIMPLE: [WaveType; 13] = [
    WaveType::Bool,
    WaveType::S8,
    WaveType::U8,
    WaveType::S16,
    WaveType::U16,
    WaveType::S32,
    WaveType::U32,
    WaveType::S64,
    WaveType::U64,
    WaveType::F32,
    WaveType::F64,
    WaveType::Char,
    WaveType::String,
];

/// Deeper than this is damage: the build writes types a validated module declares.
const MAX_DEPTH: u32 = 100;

impl Reader<'_> {
    fn names(&mut self) -> Result<Vec<String>, &'static str> {
        let n = self.u32()?;
        (0..n).map(|_| self.string()).collect()
    }
    fn ty(&mut self, depth: u32) -> Result<WaveType, &'static str> {
        use WaveType as W;
        if depth > MAX_DEPTH {
            return Err("a type in the invocation nests too deeply");
        }
        let code = self.u8()?;
        if let Some(t) = SIMPLE.get(code as usize) {
            return Ok(t.clone());
        }
        let d = depth + 1;
        Ok(match code {
            20 => W::List(Box::new(self.ty(d)?)),
            21 => {
                let n = self.u32()?;
                let mut fields = Vec::new();
                for _ in 0..n {
                    fields.push((self.string()?, self.ty(d)?));
                }
                W::Record(fields)
            }
            22 => {
                let n = self.u32()?;
                W::Tuple((0..n).map(|_| self.ty(d)).collect::<Result<_, _>>()?)
            }
            23 => {
                let n = self.u32()?;
                let mut cases = Vec::new();
                for _ in 0..n {
                    cases.push((self.string()?, self.opt(|r| r.ty(d))?));
                }
                W::Variant(cases)
            }
            24 => W::Enum(self.names()?),
            25 => W::Option(Box::new(self.ty(d)?)),
            26 => W::Result(
                self.opt(|r| r.ty(d))?.map(Box::new),
                self.opt(|r| r.ty(d))?.map(Box::new),
            ),
            27 => W::Flags(self.names()?),
            28 => W::Handle(self.string()?),
            _ => return Err("unknown type in the invocation"),
        })
    }
    fn value(&mut self, depth: u32) -> Result<Const, &'static str> {
        if depth > MAX_DEPTH {
            return Err("a value in the invocation nests too deeply");
        }
        let d = depth + 1;
        Ok(match self.u8()? {
            0 => Const::Scalar(self.u64()?),
            1 => Const::String(self.string()?),
            k @ (2 | 3) => {
                let n = self.u32()?;
                let items = (0..n).map(|_| self.value(d)).collect::<Result<_, _>>()?;
                if k == 2 {
                    Const::List(items)
                } else {
                    Const::Record(items)
                }
            }
            4 => {
                let case = self.u32()?;
                Const::Variant(case, self.opt(|r| r.value(d))?.map(Box::new))
            }
            5 => Const::Flags(self.u32()?),
            _ => return Err("unknown value in the invocation"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn invocations_round_trip() {
        let inv = Invoke {
            call: "write(lcd, delay, \"hi\")".to_string(),
            export: "write".to_string(),
            post_return: Some("cabi_post_write".to_string()),
            params: vec![
                WaveType::Handle("i2c".to_string()),
                WaveType::Handle("delay".to_string()),
                WaveType::String,
            ],
            result: Some(WaveType::Result(
                Some(Box::new(WaveType::Record(vec![(
                    "a".to_string(),
                    WaveType::List(Box::new(WaveType::Option(Box::new(WaveType::S16)))),
                )]))),
                Some(Box::new(WaveType::Enum(vec!["x".to_string()]))),
            )),
            args: vec![
                Arg::I2cBus("lcd".to_string()),
                Arg::Delay,
                Arg::Value(Const::String("hi".to_string())),
            ],
        };
        let bytes = inv.encode();
        assert_eq!(Invoke::decode(&bytes).unwrap(), inv);
        assert!(Invoke::decode(&bytes[..bytes.len() - 1]).is_err());
        assert_eq!(
            inv.params[0].val_type(),
            ValType::U32,
            "handles are their index"
        );
    }
}
