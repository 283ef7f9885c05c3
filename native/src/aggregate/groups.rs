//! Group-by of partial records in one pass over an open-addressing table (no sort).
//!
//! Rows with equal key rows (every key word compared, so a hash collision costs a probe, never a
//! wrong merge) fold into one partial record: sums of packets and bytes, first/last second, the OR
//! of mapped TCP flags, and the rule of the earliest row (the highest rule index on a tie).
//! Groups come out in order of first appearance, so results do not depend on the hash.

use crate::policy::hashing::same_words;

const M1: u64 = 0x9E37_79B9_7F4A_7C15;
const M2: u64 = 0xBF58_476D_1CE4_E5B9;

#[inline]
fn hash_key(row: &[u64]) -> u64 {
    let mut h = row[0].wrapping_mul(M1);
    h ^= h >> 29;
    for &w in &row[1..] {
        h = (h ^ w).wrapping_mul(M2);
        h ^= h >> 32;
    }
    h
}

/// One row's aggregates.
#[derive(Clone, Copy, Debug)]
pub struct Aggregates {
    pub packets: i64,
    pub bytes: i64,
    pub first: i64,
    pub last: i64,
    pub flags: u8,
    pub rule: i32,
}

/// Folded partial records, column by column.
#[derive(Clone, Debug, Default)]
pub struct Groups {
    pub width: usize,
    pub keys: Vec<u64>,
    /// The first input row of each group (empty when not `reps`: the open groups kept across
    /// batches, whose input rows are gone, `state.rs`).
    pub rep: Vec<i64>,
    reps: bool,
    pub packets: Vec<i64>,
    pub bytes: Vec<i64>,
    pub first: Vec<i64>,
    pub last: Vec<i64>,
    pub flags: Vec<u8>,
    pub rule: Vec<i32>,
    table: Vec<i32>,
}

impl Groups {
    /// A table for at most `rows` input rows of `width` key words.
    pub fn with_rows(width: usize, rows: usize) -> Self {
        Groups {
            width,
            reps: true,
            table: vec![-1; (2 * rows).max(16).next_power_of_two()],
            ..Default::default()
        }
    }

    /// An empty table of groups kept across batches (`absorb`), without first input rows.
    pub fn open(width: usize) -> Self {
        Groups {
            width,
            table: vec![-1; 16],
            ..Default::default()
        }
    }

    /// Bytes held by the columns (at their capacity) and the hash table.
    pub fn bytes(&self) -> usize {
        self.keys.capacity() * 8
            + (self.rep.capacity()
                + self.packets.capacity()
                + self.bytes.capacity()
                + self.first.capacity()
                + self.last.capacity())
                * 8
            + self.flags.capacity()
            + (self.rule.capacity() + self.table.len()) * 4
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Fold input row number `input` (key `row`) into its group; returns the group's number.
    pub fn add(&mut self, input: usize, row: &[u64], a: Aggregates) -> usize {
        let mask = self.table.len() - 1;
        let w = self.width;
        let mut slot = hash_key(row) as usize & mask;
        loop {
            let g = self.table[slot];
            if g < 0 {
                let g = self.len();
                self.table[slot] = g as i32;
                self.keys.extend_from_slice(row);
                if self.reps {
                    self.rep.push(input as i64);
                }
                self.packets.push(a.packets);
                self.bytes.push(a.bytes);
                self.first.push(a.first);
                self.last.push(a.last);
                self.flags.push(a.flags);
                self.rule.push(a.rule);
                return g;
            }
            let g = g as usize;
            if same_words(&self.keys[g * w..(g + 1) * w], row) {
                self.merge(g, a);
                return g;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Fold one row into its group, growing the table first when it would pass half full (for a
    /// `Groups` kept across batches, `state.rs`); returns the group's number.
    pub fn absorb(&mut self, row: &[u64], a: Aggregates) -> usize {
        self.absorb_row(0, row, a)
    }

    /// `add`, growing the table first when it would pass half full (never for a table made
    /// `with_rows` for the rows folded into it).
    #[inline]
    pub fn absorb_row(&mut self, input: usize, row: &[u64], a: Aggregates) -> usize {
        if 2 * (self.len() + 1) > self.table.len() {
            self.rehash(4 * (self.len() + 1));
        }
        self.add(input, row, a)
    }

    /// Rebuild the table for `slots` slots (rounded up to a power of two) over the groups held.
    fn rehash(&mut self, slots: usize) {
        let cap = slots.max(16).next_power_of_two();
        let mask = cap - 1;
        let w = self.width;
        let mut table = vec![-1i32; cap];
        for g in 0..self.len() {
            let mut slot = hash_key(&self.keys[g * w..(g + 1) * w]) as usize & mask;
            while table[slot] >= 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = g as i32;
        }
        self.table = table;
    }

    /// Move the groups for which `take(key row)` holds into a new `Groups` (sized for them), both
    /// keeping their order of first appearance. The rest move down in place and the columns give
    /// back the room they no longer use: building a second copy of the kept groups held the open
    /// state twice at every window close, and keeping the capacity would hold it at its largest
    /// for the rest of the run (docs/benchmarks.md, "Memory of a run with a million flows").
    pub fn split_off(&mut self, take: impl Fn(&[u64]) -> bool) -> Groups {
        let w = self.width;
        let n = self.len();
        let taken = (0..n)
            .filter(|&g| take(&self.keys[g * w..(g + 1) * w]))
            .count();
        let mut out = Groups::sized(w, self.reps, taken);
        let mut kept = 0usize;
        for g in 0..n {
            if take(&self.keys[g * w..(g + 1) * w]) {
                out.push_from(self, g);
            } else {
                self.move_down(g, kept);
                kept += 1;
            }
        }
        self.truncate_and_shrink(kept);
        self.rehash(4 * (kept + 1));
        out
    }

    /// An empty `Groups` with room for `n` groups and no hash table (a result, not folded into).
    fn sized(width: usize, reps: bool, n: usize) -> Groups {
        Groups {
            width,
            keys: Vec::with_capacity(n * width),
            rep: Vec::with_capacity(if reps { n } else { 0 }),
            reps,
            packets: Vec::with_capacity(n),
            bytes: Vec::with_capacity(n),
            first: Vec::with_capacity(n),
            last: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            rule: Vec::with_capacity(n),
            table: Vec::new(),
        }
    }

    /// Append group `g` of `src`.
    fn push_from(&mut self, src: &Groups, g: usize) {
        let w = self.width;
        self.keys.extend_from_slice(&src.keys[g * w..(g + 1) * w]);
        if self.reps {
            self.rep.push(src.rep[g]);
        }
        self.packets.push(src.packets[g]);
        self.bytes.push(src.bytes[g]);
        self.first.push(src.first[g]);
        self.last.push(src.last[g]);
        self.flags.push(src.flags[g]);
        self.rule.push(src.rule[g]);
    }

    /// Copy group `g` over group `to` (`to <= g`).
    fn move_down(&mut self, g: usize, to: usize) {
        if g == to {
            return;
        }
        let w = self.width;
        self.keys.copy_within(g * w..(g + 1) * w, to * w);
        if self.reps {
            self.rep[to] = self.rep[g];
        }
        self.packets[to] = self.packets[g];
        self.bytes[to] = self.bytes[g];
        self.first[to] = self.first[g];
        self.last[to] = self.last[g];
        self.flags[to] = self.flags[g];
        self.rule[to] = self.rule[g];
    }

    /// Keep the first `n` groups and release the columns' spare room.
    fn truncate_and_shrink(&mut self, n: usize) {
        let w = self.width;
        self.keys.truncate(n * w);
        self.keys.shrink_to_fit();
        self.rep.truncate(if self.reps { n } else { 0 });
        self.rep.shrink_to_fit();
        for col in [
            &mut self.packets,
            &mut self.bytes,
            &mut self.first,
            &mut self.last,
        ] {
            col.truncate(n);
            col.shrink_to_fit();
        }
        self.flags.truncate(n);
        self.flags.shrink_to_fit();
        self.rule.truncate(n);
        self.rule.shrink_to_fit();
    }

    /// Fold `a` into group `g`.
    #[inline]
    pub fn merge(&mut self, g: usize, a: Aggregates) {
        self.packets[g] += a.packets;
        self.bytes[g] += a.bytes;
        if a.first < self.first[g] {
            self.first[g] = a.first;
            self.rule[g] = a.rule;
        } else if a.first == self.first[g] && a.rule > self.rule[g] {
            self.rule[g] = a.rule;
        }
        self.last[g] = self.last[g].max(a.last);
        self.flags[g] |= a.flags;
    }
}

/// Columns of partial records to fold.
pub struct PartialCols<'a> {
    pub keys: &'a [u64],
    pub width: usize,
    pub packets: &'a [i64],
    pub bytes: &'a [i64],
    pub first: &'a [i64],
    pub last: &'a [i64],
    pub flags: &'a [u8],
    pub rule: &'a [i32],
}

impl PartialCols<'_> {
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Row `i`'s key words and aggregates.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u64], Aggregates) {
        let a = Aggregates {
            packets: self.packets[i],
            bytes: self.bytes[i],
            first: self.first[i],
            last: self.last[i],
            flags: self.flags[i],
            rule: self.rule[i],
        };
        (&self.keys[i * self.width..(i + 1) * self.width], a)
    }
}

/// Merge rows with equal keys.
pub fn fold_rows(p: &PartialCols<'_>) -> Groups {
    let mut g = Groups::with_rows(p.width, p.len());
    for i in 0..p.len() {
        let (key, a) = p.row(i);
        g.add(i, key, a);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_sums_bounds_flags_and_earliest_rule() {
        let keys = [1, 2, 1, 3, 1, 2];
        let p = PartialCols {
            keys: &keys,
            width: 2,
            packets: &[1, 1, 2],
            bytes: &[10, 20, 30],
            first: &[5, 4, 3],
            last: &[5, 4, 9],
            flags: &[2, 0, 16],
            rule: &[7, 8, 1],
        };
        let g = fold_rows(&p);
        assert_eq!(g.len(), 2);
        assert_eq!(g.rep, vec![0, 1]);
        assert_eq!(g.packets, vec![3, 1]);
        assert_eq!(g.bytes, vec![40, 20]);
        assert_eq!(
            (g.first[0], g.last[0], g.flags[0], g.rule[0]),
            (3, 9, 18, 1)
        );
    }
}
