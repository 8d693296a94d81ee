//! Turning a `.wast` script into a plan: the modules to compile into one executable, the
//! commands to run through it with what each must answer, and the assertions that are settled
//! without running anything (rejected modules, unsupported features).

use crate::expect::{Expect, FloatPattern, V128Pattern, ValuePattern};
use crate::protocol::{Command, Value};
use std::collections::HashMap;
use wast::core::{AbstractHeapType, HeapType, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::{Id, Span};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The compiler's verdict on one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Uses a feature wafer does not support (named).
    Unsupported(String),
    /// Malformed or invalid: what `assert_malformed`/`assert_invalid` want.
    Rejected(String),
    /// Refused for another reason (code generation, imports): never what a script wants.
    Failed(String),
}

impl From<Result<(), wafer_compiler::CompileError>> for Verdict {
    fn from(result: Result<(), wafer_compiler::CompileError>) -> Verdict {
        use wafer_compiler::CompileError as E;
        match result {
            Ok(()) => Verdict::Accepted,
            Err(E::Unsupported(feature)) => Verdict::Unsupported(feature),
            Err(e @ (E::Malformed(_) | E::Invalid(_))) => Verdict::Rejected(e.to_string()),
            Err(e) => Verdict::Failed(e.to_string()),
        }
    }
}

/// A command for the executable and what it must answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the directive in the `.wast` file.
    pub line: usize,
    /// The directive, briefly, for reports.
    pub what: String,
    pub command: Command,
    pub expect: Expect,
}

/// An assertion decided without running the executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub line: usize,
    pub what: String,
    pub outcome: SettledOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettledOutcome {
    Passed,
    Failed {
        expected: String,
        got: String,
    },
    /// Needs a feature wafer does not support (named).
    Unsupported(String),
}

/// Everything needed to test one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Binaries to compile into the executable; a command's module number indexes this.
    pub modules: Vec<Vec<u8>>,
    /// Commands in script order; `steps[i]` is line `i + 1` of the commands file.
    pub steps: Vec<Step>,
    pub settled: Vec<Settled>,
}

/// Parses `text` (the contents of a `.wast` file) and plans it, asking `verdict` about each
/// module once. Fails only when the script itself cannot be parsed.
pub fn plan_script(text: &str, verdict: &mut dyn FnMut(&[u8]) -> Verdict) -> Result<Plan, String> {
    let mut lexer = wast::lexer::Lexer::new(text);
    // names.wast deliberately uses bidirectional-override characters in names.
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(|e| render(e, text))?;
    let script = parser::parse::<Wast>(&buffer).map_err(|e| render(e, text))?;
    let mut planner = Planner {
        text,
        verdict,
        plan: Plan::default(),
        state: State::default(),
    };
    for directive in script.directives {
        planner.directive(directive);
    }
    Ok(planner.plan)
}

fn render(mut error: wast::Error, text: &str) -> String {
    error.set_text(text);
    error.to_string()
}

/// A compiled (or refused) module definition.
#[derive(Clone, Debug)]
enum Module {
    Compiled {
        index: usize,
        imports: Vec<String>,
    },
    /// Refused for a feature; `imports` are the module names it would import from.
    Unsupported {
        feature: String,
        imports: Vec<String>,
    },
    Broken(String),
}

/// What a script name or "the current module" refers to.
#[derive(Clone, Debug)]
enum Instance {
    Live(usize),
    Unsupported(String),
    Broken(String),
}

#[derive(Default)]
struct State {
    /// Module definitions by `$id`, and the latest one (for `module instance` without a name).
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
    /// Instances by `$id`, and the current one (target of unnamed invokes and registers).
    instances: HashMap<String, Instance>,
    current: Option<Instance>,
    /// Registered import module names.
    registered: HashMap<String, Instance>,
    /// Module numbers of binaries already in the plan, so a binary is compiled once.
    compiled: HashMap<Vec<u8>, usize>,
    next_instance: usize,
    /// Live instances whose state an unsupported module may have changed, with the feature.
    tainted: HashMap<usize, String>,
}

struct Planner<'t, 'v> {
    text: &'t str,
    verdict: &'v mut dyn FnMut(&[u8]) -> Verdict,
    plan: Plan,
    state: State,
}

/// Why a directive cannot run: settled before running anything.
enum Blocked {
    Unsupported(String),
    Failed(String),
}

impl Planner<'_, '_> {
    fn line(&self, span: Span) -> usize {
        span.linecol_in(self.text).0 + 1
    }

    fn settle(&mut self, line: usize, what: impl Into<String>, outcome: SettledOutcome) {
        self.plan.settled.push(Settled {
            line,
            what: what.into(),
            outcome,
        });
    }

    fn blocked(&mut self, line: usize, what: &str, expect: &Expect, blocked: Blocked) {
        let outcome = match blocked {
            Blocked::Unsupported(feature) => SettledOutcome::Unsupported(feature),
            Blocked::Failed(reason) => SettledOutcome::Failed {
                expected: expect.to_string(),
                got: reason,
            },
        };
        self.settle(line, what, outcome);
    }

    fn step(&mut self, line: usize, what: String, command: Command, expect: Expect) {
        self.plan.steps.push(Step {
            line,
            what,
            command,
            expect,
        });
    }

    fn directive(&mut self, directive: WastDirective<'_>) {
        let line = self.line(directive.span());
        match directive {
            WastDirective::Module(mut module) => {
                let id = module.name().map(|id| id.name().to_string());
                let definition = self.define(&mut module);
                if let Some(id) = &id {
                    self.state
                        .definitions
                        .insert(id.clone(), definition.clone());
                }
                let instance =
                    self.instantiate(line, "module", &definition, Expect::Values(vec![]));
                self.make_current(id, instance);
            }
            WastDirective::ModuleDefinition(mut module) => {
                let definition = self.define(&mut module);
                if let Some(id) = module.name() {
                    self.state
                        .definitions
                        .insert(id.name().to_string(), definition.clone());
                }
                self.state.last_definition = Some(definition);
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let definition = match module {
                    Some(id) => self.state.definitions.get(id.name()).cloned(),
                    None => self.state.last_definition.clone(),
                };
                let definition = definition.unwrap_or_else(|| {
                    Module::Broken(format!("no module definition {}", describe_id(module)))
                });
                let instance_state =
                    self.instantiate(line, "module instance", &definition, Expect::Values(vec![]));
                self.make_current(instance.map(|id| id.name().to_string()), instance_state);
            }
            WastDirective::AssertMalformed {
                module, message, ..
            } => self.assert_rejected(line, "assert_malformed", module, message),
            WastDirective::AssertInvalid {
                module, message, ..
            } => self.assert_rejected(line, "assert_invalid", module, message),
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                let what = "assert_{invalid,malformed}_custom";
                self.settle(
                    line,
                    what,
                    SettledOutcome::Unsupported("custom section checks".into()),
                )
            }
            WastDirective::Register { name, module, .. } => {
                let what = format!("register {name:?}");
                let expect = Expect::Values(vec![]);
                let instance = match self.instance(module) {
                    Ok(instance) => {
                        let command = Command::Register {
                            name: name.to_string(),
                            instance,
                        };
                        self.step(line, what, command, expect);
                        Instance::Live(instance)
                    }
                    Err(blocked) => {
                        let state = match &blocked {
                            Blocked::Unsupported(f) => Instance::Unsupported(f.clone()),
                            Blocked::Failed(r) => Instance::Broken(r.clone()),
                        };
                        self.blocked(line, &what, &expect, blocked);
                        state
                    }
                };
                self.state.registered.insert(name.to_string(), instance);
            }
            WastDirective::Invoke(invoke) => self.invoke(line, "invoke", invoke, Expect::Success),
            WastDirective::AssertTrap { exec, message, .. } => self.execute(
                line,
                "assert_trap",
                exec,
                Ok(Expect::Trap(message.to_string())),
            ),
            WastDirective::AssertReturn { exec, results, .. } => {
                let expect = results
                    .iter()
                    .map(result_pattern)
                    .collect::<Result<Vec<_>, _>>();
                self.execute(line, "assert_return", exec, expect.map(Expect::Values))
            }
            WastDirective::AssertExhaustion { call, .. } => {
                self.invoke(line, "assert_exhaustion", call, Expect::Exhaustion)
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                let definition = self.define(&mut QuoteWat::Wat(module));
                self.instantiate(line, "assert_unlinkable", &definition, Expect::Unlinkable);
            }
            WastDirective::AssertException { .. } => self.settle(
                line,
                "assert_exception",
                SettledOutcome::Unsupported("exceptions".into()),
            ),
            WastDirective::AssertSuspension { .. } => self.settle(
                line,
                "assert_suspension",
                SettledOutcome::Unsupported("stack switching".into()),
            ),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => self.settle(
                line,
                "thread",
                SettledOutcome::Unsupported("script threads (thread and wait commands)".into()),
            ),
        }
    }

    fn make_current(&mut self, id: Option<String>, instance: Instance) {
        if let Some(id) = id {
            self.state.instances.insert(id, instance.clone());
        }
        self.state.current = Some(instance);
    }

    /// Encodes a module and asks for the compiler's verdict; accepted binaries join the plan.
    fn define(&mut self, module: &mut QuoteWat<'_>) -> Module {
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return Module::Unsupported {
                feature: "component model".into(),
                imports: Vec::new(),
            };
        }
        let wasm = match module.encode() {
            Ok(wasm) => wasm,
            Err(e) => {
                return Module::Broken(format!(
                    "the module does not encode: {}",
                    render(e, self.text)
                ))
            }
        };
        if let Some(&index) = self.state.compiled.get(&wasm) {
            return Module::Compiled {
                index,
                imports: import_modules(&wasm),
            };
        }
        match (self.verdict)(&wasm) {
            Verdict::Accepted => {
                let index = self.plan.modules.len();
                let imports = import_modules(&wasm);
                self.state.compiled.insert(wasm.clone(), index);
                self.plan.modules.push(wasm);
                Module::Compiled { index, imports }
            }
            Verdict::Unsupported(feature) => Module::Unsupported {
                feature,
                imports: import_modules(&wasm),
            },
            Verdict::Rejected(e) | Verdict::Failed(e) => {
                Module::Broken(format!("compiler refused the module: {e}"))
            }
        }
    }

    /// Plans the instantiation of `definition` expecting `expect`; returns what the new
    /// instance is for later commands.
    fn instantiate(
        &mut self,
        line: usize,
        what: &str,
        definition: &Module,
        expect: Expect,
    ) -> Instance {
        let blocked = match definition {
            Module::Compiled { index, imports } => match self.blocked_imports(imports) {
                None => {
                    let instance = self.state.next_instance;
                    self.state.next_instance += 1;
                    let command = Command::Instantiate {
                        module: *index,
                        instance,
                    };
                    self.step(line, what.to_string(), command, expect);
                    return Instance::Live(instance);
                }
                Some(blocked) => blocked,
            },
            Module::Unsupported { feature, imports } => {
                self.taint_exporters(imports, feature);
                Blocked::Unsupported(feature.clone())
            }
            Module::Broken(reason) => Blocked::Failed(reason.clone()),
        };
        let instance = match &blocked {
            Blocked::Unsupported(f) => Instance::Unsupported(f.clone()),
            Blocked::Failed(r) => Instance::Broken(r.clone()),
        };
        self.blocked(line, what, &expect, blocked);
        instance
    }

    /// An unsupported module that would have been instantiated may have written into the
    /// memories, tables and globals of the instances it imports from; what those instances
    /// answer afterwards depends on it, so it is unsupported too.
    fn taint_exporters(&mut self, imports: &[String], feature: &str) {
        for name in imports {
            if let Some(Instance::Live(n)) = self.state.registered.get(name) {
                let why = format!("{feature} (changed by a module that needs it)");
                self.state.tainted.entry(*n).or_insert(why);
            }
        }
    }

    /// A module that imports from a registered instance that does not exist here cannot run
    /// for the same reason that instance does not.
    fn blocked_imports(&self, imports: &[String]) -> Option<Blocked> {
        imports
            .iter()
            .find_map(|name| match self.state.registered.get(name) {
                Some(Instance::Unsupported(f)) => Some(Blocked::Unsupported(f.clone())),
                Some(Instance::Live(n)) => self
                    .state
                    .tainted
                    .get(n)
                    .map(|f| Blocked::Unsupported(f.clone())),
                Some(Instance::Broken(r)) => Some(Blocked::Failed(format!(
                    "imports from {name:?}, which is broken: {r}"
                ))),
                _ => None,
            })
    }

    /// The instance number a directive refers to (by `$id`, or the current module).
    fn instance(&self, id: Option<Id<'_>>) -> Result<usize, Blocked> {
        let instance = match id {
            Some(id) => self.state.instances.get(id.name()),
            None => self.state.current.as_ref(),
        };
        match instance {
            Some(Instance::Live(n)) => match self.state.tainted.get(n) {
                Some(feature) => Err(Blocked::Unsupported(feature.clone())),
                None => Ok(*n),
            },
            Some(Instance::Unsupported(f)) => Err(Blocked::Unsupported(f.clone())),
            Some(Instance::Broken(r)) => Err(Blocked::Failed(format!("not run: {r}"))),
            None => Err(Blocked::Failed(format!(
                "no module instance {}",
                describe_id(id)
            ))),
        }
    }

    fn execute(
        &mut self,
        line: usize,
        what: &str,
        exec: WastExecute<'_>,
        expect: Result<Expect, String>,
    ) {
        match exec {
            WastExecute::Invoke(invoke) => match expect {
                Ok(expect) => self.invoke(line, what, invoke, expect),
                Err(feature) => self.settle(
                    line,
                    format!("{what} {:?}", invoke.name),
                    SettledOutcome::Unsupported(feature),
                ),
            },
            WastExecute::Get { module, global, .. } => {
                let what = format!("{what} (get {global:?})");
                let Ok(expect) = expect else {
                    return self.settle(
                        line,
                        what,
                        SettledOutcome::Unsupported(expect.unwrap_err()),
                    );
                };
                match self.instance(module) {
                    Ok(instance) => {
                        let command = Command::Get {
                            instance,
                            export: global.to_string(),
                        };
                        self.step(line, what, command, expect);
                    }
                    Err(blocked) => self.blocked(line, &what, &expect, blocked),
                }
            }
            WastExecute::Wat(module) => {
                // An instantiation that must trap (or, rarely, succeed): the instance does not
                // become current.
                let what = format!("{what} (module)");
                let Ok(expect) = expect else {
                    return self.settle(
                        line,
                        what,
                        SettledOutcome::Unsupported(expect.unwrap_err()),
                    );
                };
                let definition = self.define(&mut QuoteWat::Wat(module));
                self.instantiate(line, &what, &definition, expect);
            }
        }
    }

    fn invoke(&mut self, line: usize, what: &str, invoke: WastInvoke<'_>, expect: Expect) {
        let args = invoke
            .args
            .iter()
            .map(argument)
            .collect::<Result<Vec<_>, _>>();
        let what = format!(
            "{what} {:?}({})",
            invoke.name,
            args.as_ref().map(|a| join(a)).unwrap_or_default()
        );
        let args = match args {
            Ok(args) => args,
            Err(feature) => return self.settle(line, what, SettledOutcome::Unsupported(feature)),
        };
        match self.instance(invoke.module) {
            Ok(instance) => {
                let command = Command::Invoke {
                    instance,
                    export: invoke.name.to_string(),
                    args,
                };
                self.step(line, what, command, expect);
            }
            Err(blocked) => self.blocked(line, &what, &expect, blocked),
        }
    }

    fn assert_rejected(
        &mut self,
        line: usize,
        what: &str,
        mut module: QuoteWat<'_>,
        message: &str,
    ) {
        let what = format!("{what} \"{message}\"");
        if matches!(
            module,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return self.settle(
                line,
                what,
                SettledOutcome::Unsupported("component model".into()),
            );
        }
        // Text the parser refuses never reaches the compiler: rejected, as the script wants.
        let Ok(wasm) = module.encode() else {
            return self.settle(line, what, SettledOutcome::Passed);
        };
        let outcome = match (self.verdict)(&wasm) {
            Verdict::Rejected(_) => SettledOutcome::Passed,
            Verdict::Unsupported(feature) => SettledOutcome::Unsupported(feature),
            Verdict::Accepted => SettledOutcome::Failed {
                expected: format!("rejected ({message})"),
                got: "accepted".into(),
            },
            Verdict::Failed(e) => SettledOutcome::Failed {
                expected: format!("rejected as malformed or invalid ({message})"),
                got: e,
            },
        };
        self.settle(line, what, outcome);
    }
}

fn describe_id(id: Option<Id<'_>>) -> String {
    id.map(|id| format!("${}", id.name()))
        .unwrap_or_else(|| "(none defined yet)".into())
}

fn join(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The import module names of a binary, to see whether it depends on a registered instance
/// that could not be created. Malformed import sections yield what could be read: the
/// compiler has accepted the binary, so that does not happen in practice.
fn import_modules(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(wasmparser::Payload::ImportSection(reader)) => {
                for imports in reader.into_imports().flatten() {
                    if !names.iter().any(|n| n == imports.module) {
                        names.push(imports.module.to_string());
                    }
                }
            }
            Ok(wasmparser::Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    names
}

/// Which reference types wafer has: everything else is a typed-reference or GC feature.
fn null_of(heap: &HeapType<'_>) -> Result<(Value, ValuePattern), String> {
    match heap {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        } => Ok((Value::FuncNull, ValuePattern::FuncNull)),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        } => Ok((Value::ExternNull, ValuePattern::ExternNull)),
        HeapType::Abstract { shared: true, .. } => Err("shared-everything threads".into()),
        HeapType::Abstract {
            ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
            ..
        } => Err("exceptions".into()),
        HeapType::Abstract {
            ty: AbstractHeapType::Cont | AbstractHeapType::NoCont,
            ..
        } => Err("stack switching".into()),
        HeapType::Abstract {
            ty: AbstractHeapType::NoFunc | AbstractHeapType::NoExtern,
            ..
        } => Err("function references".into()),
        HeapType::Concrete(_) => Err("function references".into()),
        HeapType::Exact(_) => Err("custom descriptors".into()),
        HeapType::Abstract { .. } => Err("gc".into()),
    }
}

/// A script argument as a protocol value, or the feature it needs.
fn argument(arg: &WastArg<'_>) -> Result<Value, String> {
    let WastArg::Core(core) = arg else {
        return Err("component model".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Value::I32(*v as u32),
        WastArgCore::I64(v) => Value::I64(*v as u64),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::V128(v) => Value::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) => null_of(heap)?.0,
        WastArgCore::RefExtern(n) => Value::Extern(*n),
        WastArgCore::RefHost(_) => return Err("gc".into()),
    })
}

/// A script result as a pattern, or the feature it needs.
fn result_pattern(ret: &WastRet<'_>) -> Result<ValuePattern, String> {
    let WastRet::Core(core) = ret else {
        return Err("component model".into());
    };
    core_pattern(core)
}

fn core_pattern(core: &WastRetCore<'_>) -> Result<ValuePattern, String> {
    let float = |p: &wast::core::NanPattern<u64>| match p {
        wast::core::NanPattern::CanonicalNan => FloatPattern::CanonicalNan,
        wast::core::NanPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        wast::core::NanPattern::Value(bits) => FloatPattern::Bits(*bits),
    };
    Ok(match core {
        WastRetCore::I32(v) => ValuePattern::I32(*v as u32),
        WastRetCore::I64(v) => ValuePattern::I64(*v as u64),
        WastRetCore::F32(p) => ValuePattern::F32(float(&map_nan(p, |f| u64::from(f.bits)))),
        WastRetCore::F64(p) => ValuePattern::F64(float(&map_nan(p, |f| f.bits))),
        WastRetCore::V128(p) => ValuePattern::V128(v128_pattern(p, float)),
        WastRetCore::RefNull(None) => ValuePattern::AnyNull,
        WastRetCore::RefNull(Some(heap)) => null_of(heap)?.1,
        WastRetCore::RefExtern(n) => ValuePattern::Extern(*n),
        WastRetCore::RefFunc(_) => ValuePattern::FuncNonNull,
        WastRetCore::Either(alternatives) => ValuePattern::Either(
            alternatives
                .iter()
                .map(core_pattern)
                .collect::<Result<_, _>>()?,
        ),
        WastRetCore::RefHost(_)
        | WastRetCore::RefAny
        | WastRetCore::RefEq
        | WastRetCore::RefArray
        | WastRetCore::RefStruct
        | WastRetCore::RefI31
        | WastRetCore::RefI31Shared => return Err("gc".into()),
    })
}

fn v128_pattern(
    p: &wast::core::V128Pattern,
    float: impl Fn(&wast::core::NanPattern<u64>) -> FloatPattern,
) -> V128Pattern {
    use wast::core::V128Pattern as P;
    // Integer lanes, whatever their width, are exact bytes: pack them little-endian.
    fn pack<const N: usize>(lanes: [u64; N], width: u32) -> u128 {
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1 << width) - 1
        };
        lanes.iter().enumerate().fold(0, |acc, (i, &l)| {
            acc | u128::from(l & mask) << (width as usize * i)
        })
    }
    match p {
        P::I8x16(l) => V128Pattern::Bits(pack(l.map(|x| x as u8 as u64), 8)),
        P::I16x8(l) => V128Pattern::Bits(pack(l.map(|x| x as u16 as u64), 16)),
        P::I32x4(l) => V128Pattern::Bits(pack(l.map(|x| x as u32 as u64), 32)),
        P::I64x2(l) => V128Pattern::Bits(pack(l.map(|x| x as u64), 64)),
        P::F32x4(l) => V128Pattern::F32x4(
            l.each_ref()
                .map(|p| float(&map_nan(p, |f| u64::from(f.bits)))),
        ),
        P::F64x2(l) => V128Pattern::F64x2(l.each_ref().map(|p| float(&map_nan(p, |f| f.bits)))),
    }
}

fn map_nan<T: Copy>(
    p: &wast::core::NanPattern<T>,
    bits: impl Fn(T) -> u64,
) -> wast::core::NanPattern<u64> {
    match p {
        wast::core::NanPattern::CanonicalNan => wast::core::NanPattern::CanonicalNan,
        wast::core::NanPattern::ArithmeticNan => wast::core::NanPattern::ArithmeticNan,
        wast::core::NanPattern::Value(v) => wast::core::NanPattern::Value(bits(*v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::commands_file;

    /// A stand-in compiler: refuses modules whose binary contains a marker byte string.
    fn fake_verdict(wasm: &[u8]) -> Verdict {
        let has = |needle: &[u8]| wasm.windows(needle.len()).any(|w| w == needle);
        if has(b"needs-simd") {
            Verdict::Unsupported("simd".into())
        } else if has(b"broken") {
            Verdict::Failed("codegen exploded".into())
        } else {
            match wasmparser::Validator::new().validate_all(wasm) {
                Ok(_) => Verdict::Accepted,
                Err(e) => Verdict::Rejected(e.to_string()),
            }
        }
    }

    fn plan(text: &str) -> Plan {
        let mut calls = 0;
        let mut verdict = |wasm: &[u8]| {
            calls += 1;
            fake_verdict(wasm)
        };
        plan_script(text, &mut verdict).expect("script parses")
    }

    const SCRIPT: &str = r#"
(module $A
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "boom") unreachable)
  (global (export "g") i32 (i32.const 7)))
(register "a" $A)
(invoke "boom")
(assert_return (invoke "add" (i32.const 1) (i32.const -1)) (i32.const 0))
(assert_trap (invoke $A "boom") "unreachable")
(assert_return (get "g") (i32.const 7))
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module quote "(func (i32.const))") "unexpected token")
(module (import "a" "add" (func (param i32 i32) (result i32))))
(assert_exhaustion (invoke $A "add" (i32.const 0) (i32.const 0)) "call stack exhausted")
(assert_unlinkable (module (import "a" "nope" (func))) "unknown import")
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")
(assert_return (invoke $A "add" (i32.const 2) (i32.const 2)) (either (i32.const 4) (i32.const 5)))
"#;

    #[test]
    fn small_script_plans_commands_and_settles_rejections() {
        let plan = plan(SCRIPT);
        assert_eq!(
            plan.modules.len(),
            4,
            "A, importer, unlinkable, trapping start"
        );
        let expected = "instantiate 0 0\n\
                        register 61 0\n\
                        invoke 0 626f6f6d\n\
                        invoke 0 616464 i32:1 i32:ffffffff\n\
                        invoke 0 626f6f6d\n\
                        get 0 67\n\
                        instantiate 1 1\n\
                        invoke 0 616464 i32:0 i32:0\n\
                        instantiate 2 2\n\
                        instantiate 3 3\n\
                        invoke 0 616464 i32:2 i32:2\n";
        let steps: Vec<_> = plan.steps.iter().map(|s| &s.command).collect();
        assert_eq!(commands_file(steps), expected);

        let lines: Vec<_> = plan.steps.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17]);
        let expects: Vec<_> = plan.steps.iter().map(|s| s.expect.clone()).collect();
        assert_eq!(expects[0], Expect::Values(vec![]));
        assert_eq!(expects[2], Expect::Success);
        assert_eq!(expects[3], Expect::Values(vec![ValuePattern::I32(0)]));
        assert_eq!(expects[4], Expect::Trap("unreachable".into()));
        assert_eq!(expects[7], Expect::Exhaustion);
        assert_eq!(expects[8], Expect::Unlinkable);
        assert_eq!(expects[9], Expect::Trap("unreachable".into()));
        assert_eq!(
            expects[10],
            Expect::Values(vec![ValuePattern::Either(vec![
                ValuePattern::I32(4),
                ValuePattern::I32(5)
            ])])
        );

        assert_eq!(
            plan.settled,
            vec![
                Settled {
                    line: 11,
                    what: "assert_invalid \"type mismatch\"".into(),
                    outcome: SettledOutcome::Passed
                },
                Settled {
                    line: 12,
                    what: "assert_malformed \"unexpected token\"".into(),
                    outcome: SettledOutcome::Passed
                },
            ]
        );
    }

    #[test]
    fn the_last_module_is_current_and_named_modules_stay_reachable() {
        let plan = plan(
            r#"(module $A (func (export "f")))
               (module $B (func (export "f")))
               (invoke "f")
               (invoke $A "f")
               (assert_trap (module (func $s unreachable) (start $s)) "unreachable")
               (invoke "f")"#,
        );
        let instances: Vec<_> = plan
            .steps
            .iter()
            .filter_map(|s| match s.command {
                Command::Invoke { instance, .. } => Some(instance),
                _ => None,
            })
            .collect();
        assert_eq!(
            instances,
            [1, 0, 1],
            "a trapping instantiation does not become current"
        );
        assert_eq!(
            plan.modules.len(),
            3,
            "identical binaries are compiled once; $A != $B by name only"
        );
    }

    #[test]
    fn unsupported_modules_make_their_dependents_unsupported() {
        let plan = plan(
            r#"(module $S (func (export "needs-simd")))
               (register "s" $S)
               (assert_return (invoke "needs-simd") (i32.const 1))
               (module (import "s" "needs-simd" (func)))
               (assert_return (invoke "needs-simd") (v128.const i32x4 0 0 0 0))
               (assert_invalid (module (func (export "needs-simd") (result i32))) "type mismatch")
               (assert_exception (invoke "x"))
               (module $ok (func (export "f")))
               (assert_return (invoke "f" (v128.const i64x2 0 0)))"#,
        );
        assert_eq!(plan.modules.len(), 1, "only $ok compiles");
        let unsupported: Vec<_> = plan
            .settled
            .iter()
            .map(|s| match &s.outcome {
                SettledOutcome::Unsupported(f) => (s.line, f.as_str()),
                other => panic!("line {} settled as {other:?}", s.line),
            })
            .collect();
        assert_eq!(
            unsupported,
            [
                (1, "simd"),
                (2, "simd"),
                (3, "simd"),
                (4, "simd"),
                (5, "simd"),
                (6, "simd"),
                (7, "exceptions"),
            ]
        );
        assert_eq!(
            plan.steps.len(),
            2,
            "instantiating $ok, and a call with a v128 argument"
        );
    }

    #[test]
    fn broken_modules_fail_with_their_dependents() {
        let plan = plan(
            r#"(module (func (export "broken")))
               (invoke "broken")
               (assert_invalid (module (func (export "broken"))) "whatever")
               (assert_invalid (module (func (export "fine"))) "type mismatch")"#,
        );
        assert!(plan.modules.is_empty() && plan.steps.is_empty());
        let failed: Vec<_> = plan
            .settled
            .iter()
            .map(|s| match &s.outcome {
                SettledOutcome::Failed { got, .. } => (s.line, got.clone()),
                other => panic!("line {} settled as {other:?}", s.line),
            })
            .collect();
        assert_eq!(failed.len(), 4);
        assert!(failed[0].1.contains("codegen exploded"), "{failed:?}");
        assert!(failed[1].1.starts_with("not run"), "{failed:?}");
        assert_eq!(
            failed[2].1, "codegen exploded",
            "rejected for the wrong reason"
        );
        assert_eq!(failed[3].1, "accepted");
    }

    #[test]
    fn module_definitions_and_instances() {
        let plan = plan(
            r#"(module definition $M (global (export "g") (mut i32) (i32.const 0)))
               (module instance $I1 $M)
               (module instance $I2 $M)
               (assert_return (get $I1 "g") (i32.const 0))
               (assert_return (get "g") (i32.const 0))"#,
        );
        let commands: Vec<_> = plan.steps.iter().map(|s| s.command.to_string()).collect();
        assert_eq!(
            commands,
            ["instantiate 0 0", "instantiate 0 1", "get 0 67", "get 1 67"]
        );
    }

    #[test]
    fn arguments_and_results_cover_floats_and_references() {
        let plan = plan(
            r#"(module (func (export "f") (param f32 f64 externref funcref)))
               (assert_return (invoke "f" (f32.const nan:0x200000) (f64.const -0x1p+0) (ref.extern 3) (ref.null func))
                 (f32.const nan:canonical) (f64.const nan:arithmetic) (ref.null extern) (ref.func) (ref.extern) (ref.null))"#,
        );
        let step = &plan.steps[1];
        let Command::Invoke { args, .. } = &step.command else {
            panic!()
        };
        assert_eq!(
            args,
            &[
                Value::F32(0x7fa0_0000),
                Value::F64(0xbff0_0000_0000_0000),
                Value::Extern(3),
                Value::FuncNull
            ]
        );
        assert_eq!(
            step.expect,
            Expect::Values(vec![
                ValuePattern::F32(FloatPattern::CanonicalNan),
                ValuePattern::F64(FloatPattern::ArithmeticNan),
                ValuePattern::ExternNull,
                ValuePattern::FuncNonNull,
                ValuePattern::Extern(None),
                ValuePattern::AnyNull,
            ])
        );
    }

    #[test]
    fn unparsable_scripts_are_errors() {
        let mut verdict = fake_verdict;
        let err = plan_script("(module", &mut verdict).unwrap_err();
        assert!(err.contains("expected"), "{err}");
    }
}
