//! The radix sort of the canonical order (`order.rs`): rows as fixed-width byte keys, sorted
//! most significant byte first, stably, down to buckets small enough to compare whole.

pub(super) const KEY_BYTES: usize = 16;
/// Below this many rows a bucket of the radix sort is sorted by comparing whole keys.
const SMALL_BUCKET: usize = 64;

/// A row to sort: its key (compared byte by byte) and its position among the rows given.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) key: [u8; KEY_BYTES],
    pub(super) pos: usize,
}

impl Entry {
    #[inline(always)]
    pub(super) fn put(&mut self, at: usize, byte: u8) {
        self.key[at] = byte;
    }
}

/// Sort `entries` by their keys' bytes from byte `p` to `used` (the bytes before are equal in all
/// of them, those after zero in all), equal keys kept in position order: a most-significant-byte-first radix sort, stable,
/// down to buckets small enough to sort by comparing whole keys and positions. `scratch` is as
/// long as `entries`.
pub(super) fn radix_sort(entries: &mut [Entry], scratch: &mut [Entry], mut p: usize, used: usize) {
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
        let mut at = starts;
        for e in entries.iter() {
            let b = e.key[p] as usize;
            scratch[at[b]] = *e;
            at[b] += 1;
        }
        entries.copy_from_slice(scratch);
        for b in 0..256 {
            let (lo, hi) = (starts[b], starts[b + 1]);
            if hi - lo > 1 {
                radix_sort(&mut entries[lo..hi], &mut scratch[lo..hi], p + 1, used);
            }
        }
        return;
    }
}
