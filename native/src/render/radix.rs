//! The radix sort of the canonical order (`order.rs`): rows as fixed-width byte keys, sorted
//! most significant byte first, in place, down to buckets small enough to compare whole.

pub(super) const KEY_BYTES: usize = 16;
/// Below this many rows a bucket of the radix sort is sorted by comparing whole keys.
const SMALL_BUCKET: usize = 64;

/// A row to sort: its key (compared byte by byte) and its position among the rows given. 20
/// bytes: a 5-minute group of 1.6 million records sorts in 32 MB (issue 10: the group's sort is
/// the moment a run's memory peaks).
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) key: [u8; KEY_BYTES],
    pub(super) pos: u32,
}

impl Entry {
    #[inline(always)]
    pub(super) fn put(&mut self, at: usize, byte: u8) {
        self.key[at] = byte;
    }

    #[inline(always)]
    pub(super) fn row(&self) -> usize {
        self.pos as usize
    }
}

/// Sort `entries` by their keys' bytes from byte `p` to `used` (the bytes before are equal in all
/// of them, those after zero in all), then by position: the order a stable sort by key gives
/// entries in position order, whatever their order now. A most-significant-byte-first radix sort
/// that moves entries in place (no second buffer: a group's sort is a run's memory peak), down to
/// buckets small enough to sort by comparing whole keys and positions; a bucket whose key bytes
/// are all equal is sorted by position.
pub(super) fn radix_sort(entries: &mut [Entry], mut p: usize, used: usize) {
    while p < used {
        if entries.len() <= SMALL_BUCKET {
            entries.sort_unstable_by_key(|e| (u128::from_be_bytes(e.key), e.pos));
            return;
        }
        let mut counts = [0usize; 256];
        for e in entries.iter() {
            counts[e.key[p] as usize] += 1;
        }
        if counts.contains(&entries.len()) {
            p += 1; // one value of this byte: nothing to move
            continue;
        }
        let mut starts = [0usize; 257];
        for b in 0..256 {
            starts[b + 1] = starts[b] + counts[b];
        }
        // American flag sort: each entry is swapped straight into its bucket's next free place.
        let mut next = starts;
        for b in 0..256 {
            while next[b] < starts[b + 1] {
                let to = entries[next[b]].key[p] as usize;
                if to == b {
                    next[b] += 1;
                } else {
                    entries.swap(next[b], next[to]);
                    next[to] += 1;
                }
            }
        }
        for b in 0..256 {
            let (lo, hi) = (starts[b], starts[b + 1]);
            if hi - lo > 1 {
                radix_sort(&mut entries[lo..hi], p + 1, used);
            }
        }
        return;
    }
    entries.sort_unstable_by_key(|e| e.pos); // equal keys: position order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &[u8], pos: u32) -> Entry {
        let mut e = Entry {
            key: [0; KEY_BYTES],
            pos,
        };
        e.key[..key.len()].copy_from_slice(key);
        e
    }

    #[test]
    fn sorts_by_key_then_position_whatever_the_order_given() {
        // a pseudo-random shuffle of keys with many repeats, in buckets larger than SMALL_BUCKET
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut entries: Vec<Entry> = (0..5_000u32)
            .map(|pos| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                entry(&[(x % 3) as u8, (x >> 8) as u8 % 5, 7], pos)
            })
            .collect();
        entries.reverse();
        let mut expected = entries.clone();
        expected.sort_by_key(|e| (u128::from_be_bytes(e.key), e.pos));
        radix_sort(&mut entries, 0, 3);
        let got: Vec<u32> = entries.iter().map(|e| e.pos).collect();
        let want: Vec<u32> = expected.iter().map(|e| e.pos).collect();
        assert_eq!(got, want);
    }
}
