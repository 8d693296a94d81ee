//! Tables: pointer-sized elements (0 is null) in a growable vector. Growing may move the
//! elements, so `TableDef::elements` is updated and compiled code reloads it on every access.

use wafer_abi::TableDef;

/// Most elements any table may have, whatever it declares: keeps a hostile `table.grow` from
/// taking all host memory (grow beyond it fails with -1 like any refused grow).
pub const TABLE_ELEMENT_CAP: u64 = 10_000_000;

/// A table. `repr(C)` with [`TableDef`] first, so a `*mut TableDef` from `vmctx` can be cast
/// back to the whole table.
#[repr(C)]
pub struct Table {
    pub def: TableDef,
    elements: Vec<usize>,
    /// [`wafer_abi::valtype::FUNCREF`] or [`wafer_abi::valtype::EXTERNREF`].
    elem_type: u8,
    declared_max: Option<u64>,
}

impl Table {
    pub fn new(
        elem_type: u8,
        initial: u64,
        declared_max: Option<u64>,
    ) -> Result<Box<Table>, String> {
        let mut table = Box::new(Table {
            def: TableDef {
                elements: std::ptr::null_mut(),
                length: 0,
            },
            elements: Vec::new(),
            elem_type,
            declared_max,
        });
        if table.grow(initial, 0).is_none() {
            return Err(format!("cannot allocate a table of {initial} elements"));
        }
        Ok(table)
    }

    /// # Safety
    /// `def` must be the `def` field of a live `Table`, not otherwise borrowed.
    pub unsafe fn from_def<'a>(def: *mut TableDef) -> &'a mut Table {
        unsafe { &mut *(def as *mut Table) }
    }

    pub fn elem_type(&self) -> u8 {
        self.elem_type
    }

    pub fn declared_max(&self) -> Option<u64> {
        self.declared_max
    }

    pub fn len(&self) -> u64 {
        self.elements.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    pub fn elements(&self) -> &[usize] {
        &self.elements
    }

    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// Grows by `delta` elements set to `init`; the old length, or `None` when refused.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.len();
        let new = old.checked_add(delta)?;
        let limit = self.declared_max.unwrap_or(u64::MAX).min(TABLE_ELEMENT_CAP);
        if new > limit {
            return None;
        }
        self.elements.try_reserve_exact(delta as usize).ok()?;
        self.elements.resize(new as usize, init);
        self.def.elements = self.elements.as_mut_ptr();
        self.def.length = new;
        Some(old)
    }

    pub fn get(&self, index: u64) -> Option<usize> {
        self.elements.get(usize::try_from(index).ok()?).copied()
    }

    pub fn set(&mut self, index: u64, value: usize) -> Option<()> {
        *self.elements.get_mut(usize::try_from(index).ok()?)? = value;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wafer_abi::valtype;

    #[test]
    fn grow_get_set() {
        let mut t = Table::new(valtype::FUNCREF, 2, Some(4)).unwrap();
        assert_eq!(t.def.length, 2);
        assert_eq!(t.get(1), Some(0));
        assert_eq!(t.get(2), None);
        t.set(1, 77).unwrap();
        assert!(t.set(2, 1).is_none());
        assert_eq!(t.grow(2, 5), Some(2));
        assert_eq!(t.def.length, 4);
        let elements = t.def.elements;
        assert_eq!(elements, t.elements_mut().as_mut_ptr());
        assert_eq!(t.elements(), &[0, 77, 5, 5]);
        assert_eq!(t.grow(1, 0), None);
        assert_eq!(t.grow(0, 0), Some(4));
        assert_eq!(t.grow(u64::MAX, 0), None);
    }

    #[test]
    fn unbounded_table_is_capped() {
        let mut t = Table::new(valtype::EXTERNREF, 0, None).unwrap();
        assert_eq!(t.grow(TABLE_ELEMENT_CAP + 1, 0), None);
        assert_eq!(t.grow(1000, 3), Some(0));
        assert_eq!(t.declared_max(), None);
        assert_eq!(t.elem_type(), valtype::EXTERNREF);
        let def: *mut TableDef = &mut t.def;
        assert_eq!(unsafe { Table::from_def(def) }.len(), 1000);
    }
}
