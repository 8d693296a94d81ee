//! [`EntryMode::Invoke`](wafer_abi::EntryMode::Invoke): instantiates a library-style driver
//! like any other, then makes the one call its build recorded (`wafer_abi::invoke`): opens the
//! buses and delays the arguments name, lowers the arguments by the canonical ABI (strings and
//! lists through the module's `cabi_realloc`), calls the export, lifts its result with every
//! check the canonical ABI makes, runs its post-return function and prints the result on
//! stdout in WAVE syntax (nothing for a function without a result).

use std::fmt::Write;

use wafer_abi::component::FuncType;
use wafer_abi::invoke::{Arg, Const, Invoke, WaveType};
use wafer_abi::{extern_kind, ModuleDescriptor, TRAP_EXIT_STATUS};

use crate::canon::typed::Cx;
use crate::canon::{realloc_export, Fault};
use crate::component::adapter::call_with_values;
use crate::component::values::{Side, Val};
use crate::glue::wafer_hal::buses::{Host as _, OpenError};
use crate::i2c::I2c;
use crate::instance::Instance;

/// Runs the executable: its exit status.
pub fn run(
    args: Vec<Vec<u8>>,
    modules: &[&'static ModuleDescriptor],
    capabilities: &[u8],
    plan: &[u8],
) -> i32 {
    let invoke = match Invoke::decode(plan) {
        Ok(i) => i,
        Err(why) => {
            eprintln!("wafer: {why}");
            return 1;
        }
    };
    let instance = match crate::entry::instantiate_driver(args, modules, capabilities) {
        Ok(i) => i,
        Err(status) => return status,
    };
    match call(instance, &invoke) {
        Ok(Some(text)) => {
            println!("{text}");
            0
        }
        Ok(None) => 0,
        Err(Failure::Setup(why)) => {
            eprintln!("wafer: {}: {why}", invoke.call);
            1
        }
        Err(Failure::Fault(Fault { kind, why })) => {
            eprintln!("wafer: {}: {why}", invoke.call);
            eprintln!("wasm trap: {}", kind.message());
            TRAP_EXIT_STATUS
        }
    }
}

enum Failure {
    /// The call could not be made (a bus that will not open, a missing export).
    Setup(String),
    /// The canonical ABI or the guest trapped.
    Fault(Fault),
}

impl From<Fault> for Failure {
    fn from(f: Fault) -> Failure {
        Failure::Fault(f)
    }
}

fn call(instance: &'static Instance, invoke: &Invoke) -> Result<Option<String>, Failure> {
    let export = instance
        .export(invoke.export.as_bytes())
        .filter(|e| e.kind == extern_kind::FUNC)
        .ok_or_else(|| Failure::Setup(format!("the module exports no {:?}", invoke.export)))?;
    let post_return = match &invoke.post_return {
        Some(name) => Some(
            instance
                .export(name.as_bytes())
                .filter(|e| e.kind == extern_kind::FUNC)
                .map(|e| (instance, e.index))
                .ok_or_else(|| Failure::Setup(format!("the module exports no {name:?}")))?,
        ),
        None => None,
    };
    let ty = FuncType {
        params: invoke.params.iter().map(WaveType::val_type).collect(),
        result: invoke.result.as_ref().map(WaveType::val_type),
    };
    let (core_params, core_results) = ty.lifted_signature();
    if !crate::component::values::core_type_is(instance, export.index, &core_params, &core_results)
    {
        return Err(Failure::Setup(format!(
            "{:?} does not have the core type its WIT type lowers to",
            invoke.export
        )));
    }

    // A WASI reactor initialises itself before its first export is called.
    if let Some(init) = instance
        .export(b"_initialize")
        .filter(|e| e.kind == extern_kind::FUNC)
    {
        if let Err(e) = instance.call_scalars(init.index, &mut [0; 1]) {
            return Err(match e {
                crate::instance::CallError::Trap(t) => {
                    Failure::Fault(crate::canon::fault(t.kind, "_initialize trapped"))
                }
                crate::instance::CallError::Invalid(msg) => Failure::Setup(msg),
            });
        }
    }
    // SAFETY: the instance is live for the rest of the process.
    let mut cx = unsafe { Cx::new(instance.vmctx()) };
    let mut values = Vec::with_capacity(invoke.args.len());
    for arg in &invoke.args {
        values.push(match arg {
            Arg::Value(c) => val(c),
            Arg::I2cBus(label) => match I2c::open_i2c(&mut cx, label.clone())? {
                Ok(handle) => Val::Scalar(handle.handle.into()),
                Err(OpenError::NotGranted) => {
                    return Err(Failure::Setup(format!(
                        "no I2C bus is granted as {label:?}"
                    )))
                }
                Err(OpenError::Unavailable) => {
                    return Err(Failure::Setup(format!(
                        "the I2C bus granted as {label:?} cannot be opened"
                    )))
                }
            },
            Arg::Delay => Val::Scalar(I2c::open_delay(&mut cx)?.handle.into()),
        });
    }
    let side = Side {
        who: "the module",
        memory: Some(instance),
        realloc: realloc_export(instance, "cabi_realloc")
            .ok()
            .map(|f| (instance, f)),
    };
    let result = call_with_values(
        &side,
        &ty,
        (instance, export.index),
        (core_params.len(), core_results.len()),
        post_return,
        Val::Record(values),
    )?;
    Ok(match (&invoke.result, result) {
        (Some(t), Some(v)) => {
            let mut out = String::new();
            wave(&mut out, t, &v);
            Some(out)
        }
        _ => None,
    })
}

fn val(c: &Const) -> Val {
    match c {
        Const::Scalar(v) => Val::Scalar(*v),
        Const::String(s) => Val::String(s.clone()),
        Const::List(items) => Val::List(items.iter().map(val).collect()),
        Const::Record(items) => Val::Record(items.iter().map(val).collect()),
        Const::Variant(case, payload) => {
            Val::Variant(*case, payload.as_deref().map(|p| Box::new(val(p))))
        }
        Const::Flags(bits) => Val::Flags(*bits),
    }
}

/// Writes `v` (lifted as `t`) in WAVE syntax.
fn wave(out: &mut String, t: &WaveType, v: &Val) {
    use WaveType as W;
    match (t, v) {
        (W::Bool, Val::Scalar(b)) => out.push_str(if *b != 0 { "true" } else { "false" }),
        (W::U8 | W::U16 | W::U32 | W::U64, Val::Scalar(n)) => {
            let _ = write!(out, "{n}");
        }
        (W::S8 | W::S16 | W::S32 | W::S64, Val::Scalar(n)) => {
            let _ = write!(out, "{}", *n as i64);
        }
        (W::F32, Val::Scalar(bits)) => float(out, f32::from_bits(*bits as u32) as f64),
        (W::F64, Val::Scalar(bits)) => float(out, f64::from_bits(*bits)),
        (W::Char, Val::Scalar(c)) => {
            let c = char::from_u32(*c as u32).unwrap_or('\u{fffd}');
            out.push('\'');
            escaped(out, c, '\'');
            out.push('\'');
        }
        (W::String, Val::String(s)) => {
            out.push('"');
            s.chars().for_each(|c| escaped(out, c, '"'));
            out.push('"');
        }
        (W::List(elem), Val::List(items)) => {
            sequence(out, '[', ']', items.iter().map(|i| (elem.as_ref(), i)));
        }
        (W::List(elem), Val::Bytes(bytes)) => {
            let size = elem.val_type().size() as usize;
            let items: Vec<Val> = bytes.chunks(size.max(1)).map(|c| scalar(elem, c)).collect();
            sequence(out, '[', ']', items.iter().map(|i| (elem.as_ref(), i)));
        }
        (W::Tuple(types), Val::Record(items)) => {
            sequence(out, '(', ')', types.iter().zip(items));
        }
        (W::Record(fields), Val::Record(items)) => {
            out.push('{');
            for (i, ((name, t), v)) in fields.iter().zip(items).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{name}: ");
                wave(out, t, v);
            }
            out.push('}');
        }
        (W::Flags(names), Val::Flags(bits)) => {
            let set: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, n)| n.as_str())
                .collect();
            let _ = write!(out, "{{{}}}", set.join(", "));
        }
        (W::Enum(cases), Val::Variant(c, _)) => out.push_str(&cases[*c as usize]),
        (W::Option(t), Val::Variant(c, p)) => {
            case(out, ["none", "some"][*c as usize & 1], Some(t), p)
        }
        (W::Result(ok, err), Val::Variant(c, p)) => {
            let (name, t) = if *c == 0 { ("ok", ok) } else { ("err", err) };
            case(out, name, t.as_deref(), p);
        }
        (W::Variant(cases), Val::Variant(c, p)) => {
            let (name, t) = &cases[*c as usize];
            case(out, name, t.as_ref(), p);
        }
        (W::Handle(r), Val::Scalar(h)) => {
            let _ = write!(out, "{r}#{h}");
        }
        // Lifting was driven by the same type: any other pairing cannot happen.
        _ => out.push('?'),
    }
}

fn case(out: &mut String, name: &str, t: Option<&WaveType>, payload: &Option<Box<Val>>) {
    out.push_str(name);
    if let (Some(t), Some(p)) = (t, payload) {
        out.push('(');
        wave(out, t, p);
        out.push(')');
    }
}

fn sequence<'a>(
    out: &mut String,
    open: char,
    close: char,
    items: impl Iterator<Item = (&'a WaveType, &'a Val)>,
) {
    out.push(open);
    for (i, (t, v)) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        wave(out, t, v);
    }
    out.push(close);
}

/// An element of a list lifted as bytes, as a scalar value (signed ones sign-extended).
fn scalar(t: &WaveType, bytes: &[u8]) -> Val {
    let mut raw = [0u8; 8];
    raw[..bytes.len()].copy_from_slice(bytes);
    let v = u64::from_le_bytes(raw);
    let bits = bytes.len() * 8;
    Val::Scalar(match t {
        WaveType::S8 | WaveType::S16 | WaveType::S32 if bits < 64 => {
            (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
        }
        _ => v,
    })
}

fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        let _ = write!(out, "{f}");
    }
}

fn escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}
