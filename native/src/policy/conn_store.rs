//! Storage of tracked connections: dense records behind a hash index of u32 record numbers.
//!
//! A run of 1,000,000 flows keeps hundreds of thousands of connections that never expire within the
//! capture (established TCP lives 5 days, docs/policy.md), so their storage decides the engine's
//! peak memory (docs/benchmarks.md, "Memory of a run with a million flows"). The earlier layout kept
//! whole records in an open-addressing table at load 1/4 to 1/2 (2 to 4 records' room per
//! connection) and built the new table beside the old one at every growth.
//!
//! Here:
//! * records are dense, in chunks of `CHUNK` records that never move when more are added (no
//!   reallocation copying the whole table, no doubled peak at growth);
//! * the index holds only record numbers (4 bytes a slot, linear probing, load at most 1/2);
//! * `retain` (at an index growth) drops the records the caller no longer wants (expired
//!   connections), compacts the rest to the front, frees the chunks left empty and sizes the index
//!   for the live records: memory follows the live connections, not the most ever held.
//!
//! Record numbers change only in `retain`. Callers may cache a number (the engine's point rows do)
//! and check it with `cached`, which compares the key: a stale number then costs one `find`.

use super::hashing::{hash_words, same_words};
use super::layout::CT_KEY_WIDTH;

/// Records per chunk: 16,384 records of 56 bytes, under 1 MiB.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;
const EMPTY: u32 = u32::MAX;
const MIN_INDEX: usize = 16;

/// A record with a connection key.
pub trait Keyed: Copy {
    fn key(&self) -> &[u64; CT_KEY_WIDTH];
}

/// Dense records of unique keys, found by key through a hash index.
#[derive(Clone, Debug)]
pub struct ConnStore<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
    index: Vec<u32>,
}

impl<T: Keyed> ConnStore<T> {
    /// An empty store whose index holds `capacity` records before it grows.
    pub fn with_capacity(capacity: usize) -> Self {
        ConnStore {
            chunks: Vec::new(),
            len: 0,
            index: vec![EMPTY; (2 * capacity).max(MIN_INDEX).next_power_of_two()],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held: the records' chunks (at their capacity) and the index.
    pub fn bytes(&self) -> usize {
        let records: usize = self.chunks.iter().map(|c| c.capacity()).sum();
        records * std::mem::size_of::<T>() + self.index.len() * std::mem::size_of::<u32>()
    }

    #[inline]
    fn at(&self, id: usize) -> &T {
        &self.chunks[id >> CHUNK_BITS][id & (CHUNK - 1)]
    }

    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut T {
        let id = id as usize;
        &mut self.chunks[id >> CHUNK_BITS][id & (CHUNK - 1)]
    }

    /// The index slot holding `key`, or the empty slot that ends its probe.
    #[inline]
    fn slot(&self, key: &[u64; CT_KEY_WIDTH]) -> usize {
        let mask = self.index.len() - 1;
        let mut pos = hash_words(key) as usize & mask;
        loop {
            let id = self.index[pos];
            if id == EMPTY || same_words(self.at(id as usize).key(), key) {
                return pos;
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The record number of `key`, if held.
    #[inline]
    pub fn find(&self, key: &[u64; CT_KEY_WIDTH]) -> Option<u32> {
        let id = self.index[self.slot(key)];
        (id != EMPTY).then_some(id)
    }

    /// `id` when it still names `key`'s record (a cached number), else a `find`.
    #[inline]
    pub fn locate(&self, key: &[u64; CT_KEY_WIDTH], id: u64) -> Option<u32> {
        if id < self.len as u64 && same_words(self.at(id as usize).key(), key) {
            return Some(id as u32);
        }
        self.find(key)
    }

    /// Whether one more record would load the index past 1/2 (then `retain` before `insert`).
    #[inline]
    pub fn full(&self) -> bool {
        2 * (self.len + 1) > self.index.len()
    }

    /// Add a record whose key is not held yet; returns its number. Grows the index (keeping every
    /// record) when the caller did not make room first.
    pub fn insert(&mut self, rec: T) -> u32 {
        if self.full() {
            self.reindex(self.len + 1);
        }
        let id = self.len;
        if id >> CHUNK_BITS == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks[id >> CHUNK_BITS].push(rec);
        self.len += 1;
        let pos = self.slot(rec.key());
        self.index[pos] = id as u32;
        id as u32
    }

    /// Keep only the records for which `keep` holds (in their order, moved to the front), free the
    /// chunks left empty, and size the index at load at most 1/4 for them plus
    /// one. Every record number may change.
    pub fn retain(&mut self, keep: impl Fn(&T) -> bool) {
        let mut live = 0usize;
        for id in 0..self.len {
            let rec = *self.at(id);
            if keep(&rec) {
                if live != id {
                    *self.get_mut(live as u32) = rec;
                }
                live += 1;
            }
        }
        self.len = live;
        let used_chunks = live.div_ceil(CHUNK);
        self.chunks.truncate(used_chunks);
        if let Some(last) = self.chunks.last_mut() {
            last.truncate(live - (used_chunks - 1) * CHUNK);
        }
        self.chunks.shrink_to_fit();
        self.reindex(live + 1);
    }

    /// A new index at load at most 1/4 for `n` records, over the records held.
    fn reindex(&mut self, n: usize) {
        let cap = (4 * n).max(MIN_INDEX).next_power_of_two();
        self.index = vec![EMPTY; cap];
        let mask = cap - 1;
        for id in 0..self.len {
            let mut pos = hash_words(self.at(id).key()) as usize & mask;
            while self.index[pos] != EMPTY {
                pos = (pos + 1) & mask;
            }
            self.index[pos] = id as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Rec {
        key: [u64; CT_KEY_WIDTH],
        value: i64,
    }

    impl Keyed for Rec {
        fn key(&self) -> &[u64; CT_KEY_WIDTH] {
            &self.key
        }
    }

    fn rec(i: u64) -> Rec {
        Rec {
            key: [i, i.wrapping_mul(7), 0, 0xFFFF_0A00_0001, i >> 3],
            value: i as i64,
        }
    }

    #[test]
    fn insert_then_find_many_keys() {
        let mut s = ConnStore::with_capacity(4);
        for i in 0..100_000u64 {
            assert_eq!(s.find(&rec(i).key), None);
            assert_eq!(s.insert(rec(i)), i as u32);
        }
        assert_eq!(s.len(), 100_000);
        for i in 0..100_000u64 {
            let id = s.find(&rec(i).key).expect("held");
            assert_eq!(s.get_mut(id).value, i as i64);
        }
        assert_eq!(s.find(&rec(100_000).key), None);
        assert!(2 * s.len() <= s.index.len(), "load at most 1/2");
    }

    #[test]
    fn colliding_keys_are_told_apart() {
        // a tiny index: every key probes past others
        let mut s = ConnStore::with_capacity(1);
        let keys: Vec<Rec> = (0..7u64).map(|i| rec(i << 40)).collect();
        for r in &keys {
            s.insert(*r);
        }
        for r in &keys {
            let id = s.find(&r.key).expect("held");
            assert_eq!(*s.get_mut(id), *r);
        }
    }

    #[test]
    fn retain_drops_compacts_and_keeps_the_rest_findable() {
        let mut s = ConnStore::with_capacity(16);
        for i in 0..200_000u64 {
            s.insert(rec(i));
        }
        let before = s.bytes();
        s.retain(|r| r.value % 100 == 3);
        assert_eq!(s.len(), 2_000);
        for i in 0..200_000u64 {
            let got = s.find(&rec(i).key);
            assert_eq!(got.is_some(), i % 100 == 3, "key {i}");
        }
        // order kept: record numbers follow insertion order
        assert_eq!(s.find(&rec(3).key), Some(0));
        assert_eq!(s.find(&rec(103).key), Some(1));
        assert!(s.bytes() * 4 < before, "{} of {before} bytes", s.bytes());
        s.retain(|_| false);
        assert!(s.is_empty());
        assert_eq!(s.bytes(), MIN_INDEX * 4, "no record room left");
    }

    #[test]
    fn stale_cached_numbers_fall_back_to_find() {
        let mut s = ConnStore::with_capacity(16);
        for i in 0..10u64 {
            s.insert(rec(i));
        }
        let cached = s.find(&rec(9).key).unwrap() as u64;
        s.retain(|r| r.value >= 5);
        // record 9 moved to number 4; its old number is past the end
        assert_eq!(s.locate(&rec(9).key, cached), Some(4));
        // a number now naming another record: found by key all the same
        assert_eq!(s.locate(&rec(9).key, 0), Some(4));
        assert_eq!(s.locate(&rec(2).key, 0), None);
        assert_eq!(s.locate(&rec(6).key, u64::MAX), Some(1));
    }

    #[test]
    fn records_are_reused_after_retain_and_growth_keeps_chunks_in_place() {
        let mut s = ConnStore::with_capacity(16);
        for i in 0..(CHUNK as u64 + 10) {
            s.insert(rec(i));
        }
        let first_chunk = s.chunks[0].as_ptr();
        for i in 0..(3 * CHUNK as u64) {
            s.insert(rec(1_000_000 + i));
        }
        assert_eq!(s.chunks[0].as_ptr(), first_chunk, "growth moved no record");
        s.retain(|r| r.value < 5);
        assert_eq!(s.len(), 5);
        assert_eq!(s.chunks.len(), 1);
        // freed room is used by new records, which get the next numbers
        assert_eq!(s.insert(rec(77_777_777)), 5);
        assert_eq!(s.find(&rec(4).key), Some(4));
        assert_eq!(s.find(&rec(77_777_777).key), Some(5));
    }
}
