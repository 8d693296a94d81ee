//! The WASI 0.2 resources of one guest: a handle table whose entries are tagged by resource
//! type, so every use checks both that the handle is live and that it names the type the
//! function takes. A forged, dropped or wrong-type handle is a [`Fault`] (`unknown handle`).
//!
//! Functions that take a `borrow<T>` only look the entry up (and clone out what they need:
//! streams and descriptors are reference-counted, so the work can go on after the table's
//! lock is released); only `[resource-drop]T` removes one. A child keeps what it needs of its
//! parent alive: a stream holds its descriptor's host file, a pollable its stream.

use std::sync::Arc;

use super::filesystem::{Descriptor, DirEntries};
use super::io::{IoError, Pollable, Stream};
use crate::canon::{fault, unknown_handle, Fault};
use crate::resources::Table;
use wafer_abi::TrapKind;

/// One live resource.
pub enum Resource {
    Error(IoError),
    Pollable(Pollable),
    InputStream(Arc<Stream>),
    OutputStream(Arc<Stream>),
    TerminalInput,
    TerminalOutput,
    Descriptor(Descriptor),
    DirectoryEntryStream(DirEntries),
    /// `wasi:sockets/network`: a handle to no network (see `sockets`).
    Network,
}

/// A resource type, as the WIT names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Error,
    Pollable,
    InputStream,
    OutputStream,
    TerminalInput,
    TerminalOutput,
    Descriptor,
    DirectoryEntryStream,
    Network,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Pollable => "pollable",
            Kind::InputStream => "input-stream",
            Kind::OutputStream => "output-stream",
            Kind::TerminalInput => "terminal-input",
            Kind::TerminalOutput => "terminal-output",
            Kind::Descriptor => "descriptor",
            Kind::DirectoryEntryStream => "directory-entry-stream",
            Kind::Network => "network",
        }
    }
}

impl Resource {
    fn kind(&self) -> Kind {
        match self {
            Resource::Error(_) => Kind::Error,
            Resource::Pollable(_) => Kind::Pollable,
            Resource::InputStream(_) => Kind::InputStream,
            Resource::OutputStream(_) => Kind::OutputStream,
            Resource::TerminalInput => Kind::TerminalInput,
            Resource::TerminalOutput => Kind::TerminalOutput,
            Resource::Descriptor(_) => Kind::Descriptor,
            Resource::DirectoryEntryStream(_) => Kind::DirectoryEntryStream,
            Resource::Network => Kind::Network,
        }
    }
}

/// One guest's WASI 0.2 handles (see [`crate::instance::HostState`]).
#[derive(Default)]
pub struct Handles {
    table: Table<Resource>,
}

impl Handles {
    /// Stores `r`; its new handle.
    pub fn insert(&mut self, r: Resource) -> Result<i32, Fault> {
        self.table
            .insert(r)
            .map(|h| h as i32)
            .ok_or_else(|| fault(TrapKind::UnknownHandle, "handle table full"))
    }

    /// The live resource `handle` names, if it is a `kind`.
    pub fn get(&mut self, handle: i32, kind: Kind) -> Result<&mut Resource, Fault> {
        match self.table.get_mut(handle) {
            Some(r) if r.kind() == kind => Ok(r),
            _ => Err(unknown_handle(kind.name(), handle)),
        }
    }

    /// `[resource-drop]`: takes the resource out; the caller drops it once the lock is gone.
    pub fn remove(&mut self, handle: i32, kind: Kind) -> Result<Resource, Fault> {
        self.get(handle, kind)?;
        Ok(self.table.remove(handle).expect("checked by get"))
    }

    pub fn input(&mut self, handle: i32) -> Result<Arc<Stream>, Fault> {
        match self.get(handle, Kind::InputStream)? {
            Resource::InputStream(s) => Ok(Arc::clone(s)),
            _ => unreachable!("kind checked"),
        }
    }

    pub fn output(&mut self, handle: i32) -> Result<Arc<Stream>, Fault> {
        match self.get(handle, Kind::OutputStream)? {
            Resource::OutputStream(s) => Ok(Arc::clone(s)),
            _ => unreachable!("kind checked"),
        }
    }

    pub fn pollable(&mut self, handle: i32) -> Result<Pollable, Fault> {
        match self.get(handle, Kind::Pollable)? {
            Resource::Pollable(p) => Ok(p.clone()),
            _ => unreachable!("kind checked"),
        }
    }

    pub fn error(&mut self, handle: i32) -> Result<&IoError, Fault> {
        match self.get(handle, Kind::Error)? {
            Resource::Error(e) => Ok(e),
            _ => unreachable!("kind checked"),
        }
    }

    pub fn descriptor(&mut self, handle: i32) -> Result<Descriptor, Fault> {
        match self.get(handle, Kind::Descriptor)? {
            Resource::Descriptor(d) => Ok(d.clone()),
            _ => unreachable!("kind checked"),
        }
    }

    pub fn dir_entries(&mut self, handle: i32) -> Result<&mut DirEntries, Fault> {
        match self.get(handle, Kind::DirectoryEntryStream)? {
            Resource::DirectoryEntryStream(d) => Ok(d),
            _ => unreachable!("kind checked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_by_type_and_liveness() {
        let mut h = Handles::default();
        let t = h.insert(Resource::TerminalInput).unwrap();
        let o = h.insert(Resource::TerminalOutput).unwrap();
        assert!(h.get(t, Kind::TerminalInput).is_ok());
        let Err(wrong) = h.get(t, Kind::TerminalOutput) else {
            panic!("a terminal-input used as a terminal-output")
        };
        assert_eq!(wrong.kind, TrapKind::UnknownHandle);
        assert!(
            wrong.why.contains("terminal-output handle"),
            "{}",
            wrong.why
        );
        assert!(
            h.remove(o, Kind::TerminalInput).is_err(),
            "wrong type is not dropped"
        );
        assert!(h.remove(o, Kind::TerminalOutput).is_ok());
        assert!(
            h.get(o, Kind::TerminalOutput).is_err(),
            "used after its drop"
        );
        for forged in [0, -1, 99, i32::MIN] {
            assert!(h.get(forged, Kind::TerminalInput).is_err());
        }
    }
}
