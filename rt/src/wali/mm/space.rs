//! The bookkeeping of the pages WALI's mmap has taken from one linear memory: which guest
//! offsets it owns, which of them are handed out (and how) and which are free for reuse.
//! Pure data: the caller makes the system calls that keep the host mapping in line.
//!
//! The owned pages are the ranges mmap grew the memory by (several chunks when the guest's own
//! `memory.grow` interleaves), kept as a sorted map of runs whose neighbours always differ
//! (adjacent runs of the same use are merged).

use std::collections::BTreeMap;

/// How one run of owned pages is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Not handed out. `dirty` once it has been: the guest may have written it since, so it is
    /// reset to zero before it is handed out again (fresh pages from `memory.grow` are zero).
    Free { dirty: bool },
    /// Handed out by mmap, with the guest's protection bits and whether it is `MAP_SHARED`.
    Mapped { prot: i32, shared: bool },
}

impl Use {
    pub fn is_free(self) -> bool {
        matches!(self, Use::Free { .. })
    }
}

/// One run: `[start, start + len)` with one use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub start: u64,
    pub len: u64,
    pub how: Use,
}

impl Run {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// The owned pages of one memory.
#[derive(Default, Debug)]
pub struct Space {
    /// start → (length, use).
    runs: BTreeMap<u64, (u64, Use)>,
}

impl Space {
    /// Adds the fresh (zero) pages `[start, start + len)`, just grown.
    pub fn add_fresh(&mut self, start: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.runs.insert(start, (len, Use::Free { dirty: false }));
        self.merge_around(start, start + len);
    }

    /// The last owned run.
    pub fn last(&self) -> Option<Run> {
        self.runs
            .iter()
            .next_back()
            .map(|(&start, &(len, how))| Run { start, len, how })
    }

    /// The runs covering `[start, start + len)`, clipped to it, or `None` when some page of
    /// it is not owned. `len` is not zero.
    pub fn covering(&self, start: u64, len: u64) -> Option<Vec<Run>> {
        let end = start.checked_add(len)?;
        let mut out = Vec::new();
        let mut at = start;
        let first = self.runs.range(..=start).next_back().map(|(&s, _)| s);
        let from = first.unwrap_or(start);
        for (&s, &(l, how)) in self.runs.range(from..end) {
            let e = s + l;
            if e <= at {
                continue;
            }
            if s > at {
                return None; // a gap
            }
            let clip_end = e.min(end);
            out.push(Run {
                start: at,
                len: clip_end - at,
                how,
            });
            at = clip_end;
            if at >= end {
                break;
            }
        }
        (at >= end).then_some(out)
    }

    /// Whether every page of `[start, start + len)` is handed out.
    pub fn all_mapped(&self, start: u64, len: u64) -> bool {
        self.covering(start, len)
            .is_some_and(|runs| runs.iter().all(|r| !r.how.is_free()))
    }

    /// The lowest offset of `len` contiguous free bytes.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        let mut run: Option<(u64, u64)> = None; // (start, length) of the current free stretch
        for (&s, &(l, how)) in &self.runs {
            if !how.is_free() {
                run = None;
                continue;
            }
            run = match run {
                Some((rs, rl)) if rs + rl == s => Some((rs, rl + l)),
                _ => Some((s, l)),
            };
            if let Some((rs, rl)) = run {
                if rl >= len {
                    return Some(rs);
                }
            }
        }
        None
    }

    /// Gives every run in `[start, start + len)` (which must be owned) the use `f` makes of
    /// its old one.
    pub fn assign(&mut self, start: u64, len: u64, f: impl Fn(Use) -> Use) {
        let end = start + len;
        self.split(start);
        self.split(end);
        let starts: Vec<u64> = self.runs.range(start..end).map(|(&s, _)| s).collect();
        for s in starts {
            if let Some(entry) = self.runs.get_mut(&s) {
                entry.1 = f(entry.1);
            }
        }
        self.merge_around(start, end);
    }

    /// Makes `at` a run boundary if it lies inside a run.
    fn split(&mut self, at: u64) {
        let Some((&s, &(l, how))) = self.runs.range(..at).next_back() else {
            return;
        };
        if s < at && at < s + l {
            self.runs.insert(s, (at - s, how));
            self.runs.insert(at, (s + l - at, how));
        }
    }

    /// Merges neighbouring runs of equal use from the run before `start` to the one after
    /// `end`.
    fn merge_around(&mut self, start: u64, end: u64) {
        let from = self
            .runs
            .range(..start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        let mut starts: Vec<u64> = self.runs.range(from..=end).map(|(&s, _)| s).collect();
        starts.reverse();
        // Walk right to left, folding each run into its left neighbour when they touch.
        for pair in starts.windows(2) {
            let (right, left) = (pair[0], pair[1]);
            let (Some(&(ll, lhow)), Some(&(rl, rhow))) =
                (self.runs.get(&left), self.runs.get(&right))
            else {
                continue;
            };
            if left + ll == right && lhow == rhow {
                self.runs.remove(&right);
                self.runs.insert(left, (ll + rl, lhow));
            }
        }
    }

    #[cfg(test)]
    pub fn runs(&self) -> Vec<Run> {
        self.runs
            .iter()
            .map(|(&start, &(len, how))| Run { start, len, how })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: Use = Use::Mapped {
        prot: 3,
        shared: false,
    };
    const FRESH: Use = Use::Free { dirty: false };
    const DIRTY: Use = Use::Free { dirty: true };

    #[test]
    fn chunks_merge_and_split() {
        let mut s = Space::default();
        s.add_fresh(0x10000, 0x10000);
        s.add_fresh(0x20000, 0x10000);
        assert_eq!(s.runs().len(), 1, "adjacent fresh chunks merge");
        s.add_fresh(0x40000, 0x10000);
        assert_eq!(s.runs().len(), 2);
        assert_eq!(s.find_free(0x20000), Some(0x10000));
        assert_eq!(
            s.find_free(0x20001),
            None,
            "chunks with a gap are not contiguous"
        );

        s.assign(0x11000, 0x1000, |_| RW);
        assert_eq!(
            s.runs()[..3],
            [
                Run {
                    start: 0x10000,
                    len: 0x1000,
                    how: FRESH
                },
                Run {
                    start: 0x11000,
                    len: 0x1000,
                    how: RW
                },
                Run {
                    start: 0x12000,
                    len: 0x1e000,
                    how: FRESH
                },
            ]
        );
        assert!(s.all_mapped(0x11000, 0x1000));
        assert!(!s.all_mapped(0x11000, 0x2000));
        s.assign(0x11000, 0x1000, |_| FRESH);
        assert_eq!(s.runs().len(), 2, "freed back into one run");
    }

    #[test]
    fn coverage_sees_gaps_and_edges() {
        let mut s = Space::default();
        s.add_fresh(0x10000, 0x10000);
        s.add_fresh(0x30000, 0x10000);
        assert!(s.covering(0x10000, 0x10000).is_some());
        assert!(s.covering(0x1f000, 0x2000).is_none(), "runs into the gap");
        assert!(
            s.covering(0xf000, 0x2000).is_none(),
            "starts before the first chunk"
        );
        assert!(s.covering(0x3f000, 0x2000).is_none(), "runs off the end");
        assert!(s.covering(u64::MAX - 1, 4).is_none(), "no wrap");
        s.assign(0x14000, 0x4000, |_| RW);
        let runs = s.covering(0x13000, 0x3000).unwrap();
        assert_eq!(
            runs,
            [
                Run {
                    start: 0x13000,
                    len: 0x1000,
                    how: FRESH
                },
                Run {
                    start: 0x14000,
                    len: 0x2000,
                    how: RW
                },
            ]
        );
    }

    #[test]
    fn free_stretches_span_fresh_and_dirty_runs() {
        let mut s = Space::default();
        s.add_fresh(0, 0x10000);
        s.assign(0, 0x8000, |_| RW);
        s.assign(0, 0x4000, |_| DIRTY);
        // dirty [0, 4000) + mapped [4000, 8000) + fresh [8000, 10000)
        assert_eq!(s.find_free(0x4000), Some(0));
        assert_eq!(s.find_free(0x5000), Some(0x8000));
        s.assign(0x4000, 0x4000, |_| DIRTY);
        assert_eq!(
            s.find_free(0x10000),
            Some(0),
            "dirty and fresh runs are contiguous"
        );
        assert_eq!(s.last().unwrap().end(), 0x10000);
    }
}
