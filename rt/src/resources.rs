//! The table that component-model resource handles index: one per instance and interface.
//!
//! A handle is a slot index plus one, so 0 is never valid, and a freed slot is reused by the
//! next insert. Handles stay within `i32::MAX`, because guests pass them as `i32`. What a
//! handle must be (which resource type, which interface) is the caller's to check: this only
//! answers whether the instance owns something under that number.
pub struct Table<R> {
    slots: Vec<Option<R>>,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table { slots: Vec::new() }
    }
}

impl<R> Table<R> {
    /// Stores `r` and returns its handle; `None` when the table is full.
    pub fn insert(&mut self, r: R) -> Option<u32> {
        let index = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(r);
                i
            }
            None => {
                self.slots.push(Some(r));
                self.slots.len() - 1
            }
        };
        u32::try_from(index + 1)
            .ok()
            .filter(|h| *h <= i32::MAX as u32)
    }

    pub fn get_mut(&mut self, handle: i32) -> Option<&mut R> {
        let index = (handle as u32 as usize).checked_sub(1)?;
        self.slots.get_mut(index)?.as_mut()
    }

    /// Takes the resource out; its slot is free again.
    pub fn remove(&mut self, handle: i32) -> Option<R> {
        let index = (handle as u32 as usize).checked_sub(1)?;
        self.slots.get_mut(index)?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn handles_start_at_one_and_slots_are_reused() {
        let mut t = Table::default();
        assert_eq!(t.insert('a'), Some(1));
        assert_eq!(t.insert('b'), Some(2));
        assert_eq!(t.remove(1), Some('a'));
        assert_eq!(t.get_mut(1), None, "a removed handle is gone");
        assert_eq!(t.insert('c'), Some(1), "the freed slot is reused");
        assert_eq!(t.get_mut(2), Some(&mut 'b'));
    }

    #[test]
    fn forged_handles_find_nothing() {
        let mut t = Table::default();
        t.insert(7u8);
        for forged in [0, -1, i32::MIN, 2, i32::MAX] {
            assert_eq!(t.get_mut(forged), None, "{forged}");
            assert_eq!(t.remove(forged), None, "{forged}");
        }
    }
}
