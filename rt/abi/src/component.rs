//! A component's instance graph as `wafer build` resolves it: which core modules to
//! instantiate, in which order, with which imports, and which export to run. Nested components
//! are inlined at build time, so the runtime sees only core instances and never parses wasm.
//!
//! The plan travels in the executable as bytes ([`Plan::encode`], section [`SECTION`]); the
//! modules it names are the executable's module descriptors, in their order.
//!
//! An import of a core instance is one of:
//! - another core instance's export, by name ([`Binding::Export`]);
//! - a runtime host function, which the build already bound by relocation (the import's
//!   `host_code`, as for a core-module driver). With a [`HostContext`] (the canonical options
//!   of its `canon lower` name a memory) it is called with the context of a core instance
//!   whose memory 0 is that memory, and allocates with the `realloc` the options name;
//!   without one (no memory, and `resource.drop`), with the calling instance's context.

use alloc::string::String;
use alloc::vec::Vec;

/// The section holding an executable's plan.
pub const SECTION: &str = ".wafer.component";

/// First bytes of an encoded plan; a plan of another version is refused.
const MAGIC: &[u8; 8] = b"wafer-c1";

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// Core instances, in instantiation order; an instance refers only to earlier ones.
    pub instances: Vec<CoreInstance>,
    /// The lifted `wasi:cli/run#run` the executable calls.
    pub run: RunExport,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreInstance {
    /// Index of the module among the executable's descriptors.
    pub module: u32,
    /// One binding per import of the module, in the module's import order.
    pub imports: Vec<Binding>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Export `name` of the earlier core instance `instance`.
    Export { instance: u32, name: String },
    /// The host function the import's relocation names.
    Host { context: Option<HostContext> },
}

/// The memory and allocator a host function works with, as the canonical options name them.
/// The runtime calls the function with the context of the realloc's instance when that
/// instance's memory 0 is the memory (the preview1 adapter's case: it imports the main
/// module's memory and allocates with its own `cabi_import_realloc`), else of the memory's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostContext {
    /// The exported memory: (core instance, export name).
    pub memory: (u32, String),
    /// The exported `realloc` function, if the options name one.
    pub realloc: Option<(u32, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RunExport {
    /// The core instance exporting the lifted function.
    pub instance: u32,
    /// Its core export: `() -> i32`, the flat `result` (0 ok, 1 err).
    pub name: String,
    /// The `post-return` option's export of the same instance, if any.
    pub post_return: Option<String>,
}

impl Plan {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, self.instances.len() as u32);
        for i in &self.instances {
            put_u32(&mut out, i.module);
            put_u32(&mut out, i.imports.len() as u32);
            for b in &i.imports {
                match b {
                    Binding::Export { instance, name } => {
                        out.push(0);
                        put_u32(&mut out, *instance);
                        put_str(&mut out, name);
                    }
                    Binding::Host { context: None } => out.push(1),
                    Binding::Host {
                        context: Some(HostContext { memory, realloc }),
                    } => {
                        out.push(2);
                        put_u32(&mut out, memory.0);
                        put_str(&mut out, &memory.1);
                        match realloc {
                            None => out.push(0),
                            Some((instance, name)) => {
                                out.push(1);
                                put_u32(&mut out, *instance);
                                put_str(&mut out, name);
                            }
                        }
                    }
                }
            }
        }
        put_u32(&mut out, self.run.instance);
        put_str(&mut out, &self.run.name);
        put_opt_str(&mut out, self.run.post_return.as_deref());
        out
    }

    /// Decodes what [`Plan::encode`] wrote and checks that every instance refers only to
    /// earlier ones (the module indices are the runtime's to check against its descriptors).
    pub fn decode(bytes: &[u8]) -> Result<Plan, &'static str> {
        let mut r = Reader { bytes };
        if r.take(MAGIC.len())? != MAGIC {
            return Err("the component plan was written by another version of wafer");
        }
        let count = r.u32()?;
        let mut instances = Vec::new();
        for index in 0..count {
            let module = r.u32()?;
            let n = r.u32()?;
            let mut imports = Vec::new();
            for _ in 0..n {
                let earlier = |i: u32| {
                    if i < index {
                        Ok(i)
                    } else {
                        Err("a core instance refers to a later one")
                    }
                };
                imports.push(match r.u8()? {
                    0 => Binding::Export {
                        instance: earlier(r.u32()?)?,
                        name: r.string()?,
                    },
                    1 => Binding::Host { context: None },
                    2 => {
                        let memory = (earlier(r.u32()?)?, r.string()?);
                        let realloc = match r.u8()? {
                            0 => None,
                            1 => Some((earlier(r.u32()?)?, r.string()?)),
                            _ => return Err("bad realloc in the component plan"),
                        };
                        Binding::Host {
                            context: Some(HostContext { memory, realloc }),
                        }
                    }
                    _ => return Err("unknown binding in the component plan"),
                });
            }
            instances.push(CoreInstance { module, imports });
        }
        let run = RunExport {
            instance: r.u32()?,
            name: r.string()?,
            post_return: r.opt_string()?,
        };
        if run.instance >= count {
            return Err("the run export names a core instance that does not exist");
        }
        if !r.bytes.is_empty() {
            return Err("trailing bytes after the component plan");
        }
        Ok(Plan { instances, run })
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.bytes.len() < n {
            return Err("the component plan is truncated");
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String, &'static str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| "a name in the component plan is not UTF-8")
    }
    fn opt_string(&mut self) -> Result<Option<String>, &'static str> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err("bad option in the component plan"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn plans_round_trip_and_refuse_forward_references() {
        let plan = Plan {
            instances: vec![
                CoreInstance {
                    module: 1,
                    imports: vec![],
                },
                CoreInstance {
                    module: 0,
                    imports: vec![
                        Binding::Export {
                            instance: 0,
                            name: "0".to_string(),
                        },
                        Binding::Host { context: None },
                    ],
                },
                CoreInstance {
                    module: 2,
                    imports: vec![Binding::Host {
                        context: Some(HostContext {
                            memory: (1, "memory".to_string()),
                            realloc: Some((0, "cabi_import_realloc".to_string())),
                        }),
                    }],
                },
            ],
            run: RunExport {
                instance: 1,
                name: "wasi:cli/run@0.2.0#run".to_string(),
                post_return: None,
            },
        };
        let bytes = plan.encode();
        assert_eq!(Plan::decode(&bytes), Ok(plan.clone()));
        let mut forward = plan;
        forward.instances[1].imports[0] = Binding::Export {
            instance: 1,
            name: "x".to_string(),
        };
        assert!(Plan::decode(&forward.encode()).is_err());
        assert!(Plan::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
