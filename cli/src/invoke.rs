//! `wafer build --invoke CALL`: the call a library-style guest's executable makes, checked and
//! parsed at build time against the export's WIT type (from the module's embedded WIT).
//!
//! CALL is `name(arg, ...)` with arguments in WAVE syntax, as `wasmtime run --invoke` takes
//! them: `true`, `-3`, `2.5`, `nan`, `'c'`, `"text"` (with `\n \t \\ \" \' \u{..}`), `[1, 2]`,
//! records `{field: 1}`, tuples `(1, "a")`, enum and variant cases `case`, `case(value)`,
//! `some(v)`, `none`, `ok(v)`, `err(v)`, `ok`, `err`, flags `{read, write}`. Where the function
//! takes a handle, the argument names it: an `i2c` parameter takes the label of a bus granted
//! with `--i2c` (opened when the executable starts), a `delay` parameter takes any name (the
//! host's monotonic clock, e.g. `delay`).

use anyhow::{anyhow, bail, Result};
use wafer_abi::capabilities::Capabilities;
use wafer_abi::invoke::{Arg, Const, Invoke, WaveType};

/// The invocation of `call` on `wasm` (a core module whose function exports are `exports`),
/// for an executable granted `caps`.
pub fn plan(wasm: &[u8], exports: &[String], call: &str, caps: &Capabilities) -> Result<Invoke> {
    let mut p = Parser { text: call, at: 0 };
    let name = p.name()?;
    let declared = wafer_witgen::guest_exports(wasm);
    if declared.is_empty() {
        bail!(
            "--invoke: the module embeds no WIT saying what it exports (build it with \
             wit-bindgen, or give it a _start)"
        );
    }
    let found = declared.iter().find(|e| match e {
        Ok(e) => {
            e.core_name == name || e.core_name.rsplit_once('#').is_some_and(|(_, f)| f == name)
        }
        Err(_) => false,
    });
    let export = match found {
        Some(Ok(e)) => e,
        _ => {
            if let Some(Err(why)) = declared
                .iter()
                .find(|e| matches!(e, Err(w) if w.starts_with(&name)))
            {
                bail!("--invoke: {why}");
            }
            let names: Vec<&str> = declared
                .iter()
                .filter_map(|e| e.as_ref().ok().map(|e| e.core_name.as_str()))
                .collect();
            bail!(
                "--invoke: the module exports no function {name:?} (it exports {})",
                names.join(", ")
            );
        }
    };
    p.expect('(')?;
    let mut args = Vec::new();
    for (i, (pname, ty)) in export.params.iter().enumerate() {
        if i > 0 {
            p.expect(',')?;
        }
        args.push(p.arg(pname, ty, caps)?);
    }
    p.skip_ws();
    if p.peek() == Some(',') && !export.params.is_empty() {
        p.bump();
    }
    p.expect(')')
        .map_err(|_| anyhow!("--invoke: {name} takes {} argument(s)", export.params.len()))?;
    p.skip_ws();
    if p.at != call.len() {
        bail!(
            "--invoke: unexpected text after the call: {:?}",
            &call[p.at..]
        );
    }
    let post = format!("cabi_post_{}", export.core_name);
    let post_return = exports.contains(&post).then_some(post);
    Ok(Invoke {
        call: call.to_string(),
        export: export.core_name.clone(),
        post_return,
        params: export.params.iter().map(|(_, t)| t.clone()).collect(),
        result: export.result.clone(),
        args,
    })
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn expect(&mut self, c: char) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }
    fn error(&self, what: &str) -> anyhow::Error {
        anyhow!("--invoke: {what} at offset {} of {:?}", self.at, self.text)
    }
    /// A function or label name: letters, digits and `-_:/@.#%`.
    fn name(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || "-_:/@.#%".contains(c))
        {
            self.bump();
        }
        if self.at == start {
            return Err(self.error("expected a name"));
        }
        Ok(self.text[start..self.at]
            .trim_start_matches('%')
            .to_string())
    }

    /// A label, case, field or flag name: WAVE's kebab-case identifiers (a leading `%`
    /// escapes a keyword), and, for bus labels, `_` and `.`.
    fn ident(&mut self) -> Result<String> {
        self.skip_ws();
        if self.peek() == Some('%') {
            self.bump();
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || "-_.".contains(c))
        {
            self.bump();
        }
        if self.at == start {
            return Err(self.error("expected a name"));
        }
        Ok(self.text[start..self.at].to_string())
    }

    fn arg(&mut self, param: &str, ty: &WaveType, caps: &Capabilities) -> Result<Arg> {
        let WaveType::Handle(resource) = ty else {
            return Ok(Arg::Value(self.value(ty)?));
        };
        let label = self.ident()?;
        match resource.as_str() {
            "i2c" => {
                if !caps.i2c.iter().any(|g| g.label == label.as_bytes()) {
                    bail!(
                        "--invoke: parameter {param} takes an I2C bus: {label:?} is not the label \
                         of a bus granted with --i2c"
                    );
                }
                Ok(Arg::I2cBus(label))
            }
            "delay" => Ok(Arg::Delay),
            other => bail!(
                "--invoke: parameter {param} takes a {other} handle, which a call cannot pass"
            ),
        }
    }

    fn value(&mut self, ty: &WaveType) -> Result<Const> {
        use WaveType as W;
        self.skip_ws();
        Ok(match ty {
            W::Bool => match self.ident()?.as_str() {
                "true" => Const::Scalar(1),
                "false" => Const::Scalar(0),
                other => bail!("--invoke: {other:?} is not a bool"),
            },
            W::U8 | W::U16 | W::U32 | W::U64 => {
                let bits = match ty {
                    W::U8 => 8,
                    W::U16 => 16,
                    W::U32 => 32,
                    _ => 64,
                };
                let t = self.number()?;
                let v: u64 = t
                    .parse()
                    .map_err(|_| anyhow!("--invoke: {t:?} is not a u{bits}"))?;
                if bits < 64 && v >> bits != 0 {
                    bail!("--invoke: {t} does not fit in a u{bits}");
                }
                Const::Scalar(v)
            }
            W::S8 | W::S16 | W::S32 | W::S64 => {
                let bits = match ty {
                    W::S8 => 8,
                    W::S16 => 16,
                    W::S32 => 32,
                    _ => 64,
                };
                let t = self.number()?;
                let v: i64 = t
                    .parse()
                    .map_err(|_| anyhow!("--invoke: {t:?} is not an s{bits}"))?;
                if bits < 64 && (v < -(1i64 << (bits - 1)) || v >= 1i64 << (bits - 1)) {
                    bail!("--invoke: {t} does not fit in an s{bits}");
                }
                Const::Scalar(v as u64)
            }
            W::F32 => Const::Scalar((self.float()? as f32).to_bits() as u64),
            W::F64 => Const::Scalar(self.float()?.to_bits()),
            W::Char => {
                self.expect('\'')?;
                let c = self.char_in('\'')?;
                self.expect('\'')?;
                Const::Scalar(c as u64)
            }
            W::String => Const::String(self.string()?),
            W::List(elem) => {
                self.expect('[')?;
                Const::List(self.items(']', |p| p.value(elem))?)
            }
            W::Tuple(items) => {
                self.expect('(')?;
                let mut out = Vec::new();
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        self.expect(',')?;
                    }
                    out.push(self.value(t)?);
                }
                self.close(')')?;
                Const::Record(out)
            }
            W::Record(fields) => {
                self.expect('{')?;
                let mut out = Vec::new();
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        self.expect(',')?;
                    }
                    let got = self.ident()?;
                    if &got != name {
                        bail!("--invoke: expected field {name}, found {got}");
                    }
                    self.expect(':')?;
                    out.push(self.value(t)?);
                }
                self.close('}')?;
                Const::Record(out)
            }
            W::Flags(names) => {
                self.expect('{')?;
                let set = self.items('}', |p| p.ident())?;
                let mut bits = 0u32;
                for s in set {
                    let i = names.iter().position(|n| *n == s).ok_or_else(|| {
                        anyhow!(
                            "--invoke: {s:?} is not one of the flags {}",
                            names.join(", ")
                        )
                    })?;
                    bits |= 1 << i;
                }
                Const::Flags(bits)
            }
            W::Enum(cases) => {
                let c = self.ident()?;
                let i = cases
                    .iter()
                    .position(|n| *n == c)
                    .ok_or_else(|| anyhow!("--invoke: {c:?} is not one of {}", cases.join(", ")))?;
                Const::Variant(i as u32, None)
            }
            W::Option(t) => {
                let c = self.ident()?;
                match c.as_str() {
                    "none" => Const::Variant(0, None),
                    "some" => Const::Variant(1, Some(Box::new(self.payload(t)?))),
                    _ => bail!("--invoke: expected some(..) or none, found {c:?}"),
                }
            }
            W::Result(ok, err) => {
                let c = self.ident()?;
                let (case, t) = match c.as_str() {
                    "ok" => (0, ok),
                    "err" => (1, err),
                    _ => bail!("--invoke: expected ok or err, found {c:?}"),
                };
                let payload = match t {
                    Some(t) => Some(Box::new(self.payload(t)?)),
                    None => None,
                };
                Const::Variant(case, payload)
            }
            W::Variant(cases) => {
                let c = self.ident()?;
                let i = cases
                    .iter()
                    .position(|(n, _)| *n == c)
                    .ok_or_else(|| anyhow!("--invoke: {c:?} is not a case of the variant"))?;
                let payload = match &cases[i].1 {
                    Some(t) => Some(Box::new(self.payload(t)?)),
                    None => None,
                };
                Const::Variant(i as u32, payload)
            }
            W::Handle(r) => bail!("--invoke: a {r} handle cannot be written as a value"),
        })
    }

    /// `(value)` after a case name.
    fn payload(&mut self, ty: &WaveType) -> Result<Const> {
        self.expect('(')?;
        let v = self.value(ty)?;
        self.close(')')?;
        Ok(v)
    }

    /// A closing bracket, after an optional trailing comma.
    fn close(&mut self, c: char) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(',') {
            self.bump();
        }
        self.expect(c)
    }

    fn items<T>(
        &mut self,
        end: char,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(end) {
                self.bump();
                return Ok(out);
            }
            if !out.is_empty() {
                self.expect(',')?;
                self.skip_ws();
                if self.peek() == Some(end) {
                    self.bump();
                    return Ok(out);
                }
            }
            out.push(item(self)?);
        }
    }

    fn number(&mut self) -> Result<String> {
        self.skip_ws();
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        {
            self.bump();
        }
        if self.at == start {
            return Err(self.error("expected a number"));
        }
        Ok(self.text[start..self.at].replace('_', ""))
    }

    fn float(&mut self) -> Result<f64> {
        let t = self.number()?;
        match t.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => t
                .parse()
                .map_err(|_| anyhow!("--invoke: {t:?} is not a number")),
        }
    }

    fn string(&mut self) -> Result<String> {
        self.expect('"')?;
        let mut s = String::new();
        loop {
            if self.peek() == Some('"') {
                self.bump();
                return Ok(s);
            }
            s.push(self.char_in('"')?);
        }
    }

    /// One character of a quoted string or char, escapes decoded.
    fn char_in(&mut self, quote: char) -> Result<char> {
        let c = self
            .bump()
            .ok_or_else(|| self.error(&format!("unterminated {quote}")))?;
        if c != '\\' {
            return Ok(c);
        }
        Ok(match self.bump() {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('\\') => '\\',
            Some('"') => '"',
            Some('\'') => '\'',
            Some('u') => {
                self.expect('{')?;
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    self.bump();
                }
                let hex = &self.text[start..self.at];
                let c = u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error("bad \\u{..} escape"))?;
                self.expect('}')?;
                c
            }
            _ => return Err(self.error("unknown escape")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, ty: &WaveType) -> Result<Const> {
        let mut p = Parser { text, at: 0 };
        let v = p.value(ty)?;
        p.skip_ws();
        assert_eq!(p.at, text.len(), "{text}");
        Ok(v)
    }

    #[test]
    fn wave_values_parse_by_type() {
        use WaveType as W;
        assert_eq!(parse("-3", &W::S8).unwrap(), Const::Scalar(-3i64 as u64));
        assert!(parse("300", &W::U8).is_err());
        assert!(parse("-129", &W::S8).is_err());
        assert_eq!(
            parse(r#""a\"b\u{e9}""#, &W::String).unwrap(),
            Const::String("a\"bé".into())
        );
        assert_eq!(parse("'x'", &W::Char).unwrap(), Const::Scalar('x' as u64));
        let list = W::List(Box::new(W::Option(Box::new(W::U16))));
        assert_eq!(
            parse("[some(1), none,]", &list).unwrap(),
            Const::List(vec![
                Const::Variant(1, Some(Box::new(Const::Scalar(1)))),
                Const::Variant(0, None)
            ])
        );
        let rec = W::Record(vec![("a".into(), W::Bool), ("b-c".into(), W::F32)]);
        assert_eq!(
            parse("{a: true, b-c: 1.5}", &rec).unwrap(),
            Const::Record(vec![
                Const::Scalar(1),
                Const::Scalar(1.5f32.to_bits() as u64)
            ])
        );
        assert!(
            parse("{b-c: 1.5, a: true}", &rec).is_err(),
            "fields in order"
        );
        let flags = W::Flags(vec!["read".into(), "write".into()]);
        assert_eq!(parse("{write}", &flags).unwrap(), Const::Flags(2));
        let res = W::Result(None, Some(Box::new(W::Enum(vec!["x".into(), "y".into()]))));
        assert_eq!(
            parse("err(y)", &res).unwrap(),
            Const::Variant(1, Some(Box::new(Const::Variant(1, None))))
        );
        assert_eq!(parse("ok", &res).unwrap(), Const::Variant(0, None));
    }
}
