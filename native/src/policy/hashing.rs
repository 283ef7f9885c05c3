//! Open-addressing hash tables over fixed-width rows of u64 words.
//!
//! `unique_rows` gives dense ids to the distinct flow keys of a batch in one pass (the engine
//! evaluates rules once per distinct flow, then broadcasts); `KeyMap` maps key rows to i32 values
//! across batches (the flow cache, the address maps of attribution). Linear probing, power-of-two
//! capacity, load factor at most 1/2, so a probe always ends at an empty slot.

use super::layout::{flow_words, FlowFields, FLOW_KEY_WIDTH};

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// How many packets ahead `FlowMap::assign` asks for a slot: enough to cover a memory access at the
/// few nanoseconds a probe otherwise takes.
const LOOKAHEAD: usize = 16;
const MULT: u64 = 0xBF58_476D_1CE4_E5B9;

/// Whether two key rows are equal: the OR of their words' XORs, inlined. Slice `==` on `u64` calls
/// `memcmp`, whose call and dispatch cost on rows of 5 to 14 words was the largest single symbol of a
/// 5,000,000-packet run (8% of its samples, docs/benchmarks.md "Single pass").
#[inline(always)]
pub fn same_words(a: &[u64], b: &[u64]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// Brings the cache line holding `value` in for a read (a hint; nothing happens on other targets).
#[inline(always)]
pub fn prefetch_read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing into the program and cannot fault; the pointer comes from a
    // live reference, and SSE (which the instruction needs) is part of every x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch(
            (value as *const T).cast::<i8>(),
            std::arch::x86_64::_MM_HINT_T0,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Per-position keys of `hash_words` (so that swapping two words, such as the source and destination
/// of a flow, changes the hash).
const SECRETS: [u64; 8] = [
    0xA076_1D64_78BD_642F,
    0xE703_7ED1_A0B4_28DB,
    0x8EBC_6AF0_9C88_C6E3,
    0x5899_65CC_7537_4CC3,
    0x1D8E_4E27_C47D_124F,
    0x7F4A_7C15_9E37_79B9,
    0xD6E8_FEB8_6659_FD93,
    0xC2B2_AE3D_27D4_EB4F,
];

/// The 128-bit product of `a` and `b`, its halves XORed: a strong 64-bit mix in one multiply.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A 64-bit mix of a key row (equal rows give equal hashes). Words are folded in pairs, each word
/// keyed by its position; the pairs' multiplies do not depend on each other, so the CPU runs them
/// side by side (a chain of one multiply per word was most of `FlowMap::assign`'s time on a
/// capture of few flows, docs/benchmarks.md).
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    let mut acc = SEED ^ words.len() as u64;
    let mut pairs = words.chunks_exact(2);
    for (k, pair) in (&mut pairs).enumerate() {
        let j = (2 * k) % SECRETS.len();
        acc ^= fold(pair[0] ^ SECRETS[j], pair[1] ^ SECRETS[j + 1]);
    }
    if let [last] = pairs.remainder() {
        let j = (words.len() - 1) % SECRETS.len();
        acc ^= fold(last ^ SECRETS[j], MULT);
    }
    fold(acc, MULT)
}

/// Key rows of a fixed width -> i32 values (>= 0), growing by rehash.
#[derive(Clone, Debug)]
pub struct KeyMap {
    width: usize,
    table: Vec<u64>,
    vals: Vec<i32>,
    count: usize,
}

impl KeyMap {
    pub fn new(width: usize, capacity: usize) -> Self {
        let cap = capacity.max(16).next_power_of_two();
        KeyMap {
            width,
            table: vec![0; cap * width],
            vals: vec![-1; cap],
            count: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Forget every key, keeping the table's room (a flow cache emptied when it passes its limit
    /// refills to about the same size: growing it again, doubling by doubling, allocated and freed
    /// tens of MB each time on a capture of a million flows).
    pub fn clear(&mut self) {
        self.vals.fill(-1);
        self.count = 0;
    }

    /// Where `key` is stored, or the empty slot that ends its probe.
    #[inline]
    fn slot(&self, key: &[u64]) -> usize {
        self.slot_from(hash_words(key), key)
    }

    /// `slot` for a key whose `hash_words` is `hash`.
    #[inline]
    fn slot_from(&self, hash: u64, key: &[u64]) -> usize {
        let mask = self.vals.len() - 1;
        let w = self.width;
        let mut pos = hash as usize & mask;
        while self.vals[pos] >= 0 && !same_words(&self.table[pos * w..pos * w + w], key) {
            pos = (pos + 1) & mask;
        }
        pos
    }

    /// Ask the CPU to bring in the slot where a key hashing to `hash` starts its probe (a hint: it
    /// changes nothing, and a table grown since only makes it useless).
    #[inline]
    fn prefetch(&self, hash: u64) {
        let pos = hash as usize & (self.vals.len() - 1);
        prefetch_read(&self.vals[pos]);
        let row = &self.table[pos * self.width..(pos + 1) * self.width];
        prefetch_read(&row[0]);
        prefetch_read(&row[row.len() - 1]); // a row may straddle two cache lines
    }

    /// The value of `key`, or -1.
    #[inline]
    pub fn get(&self, key: &[u64]) -> i32 {
        self.vals[self.slot(key)]
    }

    /// Set `key` to `value` (inserting it when absent).
    pub fn insert(&mut self, key: &[u64], value: i32) {
        self.insert_hashed(hash_words(key), key, value)
    }

    /// `insert` for a key whose `hash_words` is `hash`.
    fn insert_hashed(&mut self, hash: u64, key: &[u64], value: i32) {
        if 2 * (self.count + 1) > self.vals.len() {
            self.grow();
        }
        let pos = self.slot_from(hash, key);
        if self.vals[pos] < 0 {
            let w = self.width;
            self.table[pos * w..pos * w + w].copy_from_slice(key);
            self.count += 1;
        }
        self.vals[pos] = value.max(0);
    }

    fn grow(&mut self) {
        let old = std::mem::replace(self, KeyMap::new(self.width, self.vals.len() * 2));
        let w = old.width;
        for (pos, &v) in old.vals.iter().enumerate() {
            if v >= 0 {
                let key = &old.table[pos * w..pos * w + w];
                let slot = self.slot(key);
                self.table[slot * w..slot * w + w].copy_from_slice(key);
                self.vals[slot] = v;
                self.count += 1;
            }
        }
    }
}

/// (inverse ids, first row of each id) of the rows of a row-major key matrix; ids in first-seen order.
pub fn unique_rows(keys: &[u64], width: usize) -> (Vec<i32>, Vec<i64>) {
    let n = keys.len().checked_div(width).unwrap_or(0);
    let cap = (2 * n).max(16).next_power_of_two();
    let mask = cap - 1;
    let mut slots: Vec<i64> = vec![-1; cap];
    let mut inv = Vec::with_capacity(n);
    let mut first: Vec<i64> = Vec::new();
    for i in 0..n {
        let row = &keys[i * width..i * width + width];
        let mut pos = hash_words(row) as usize & mask;
        loop {
            let j = slots[pos];
            if j < 0 {
                slots[pos] = first.len() as i64;
                inv.push(first.len() as i32);
                first.push(i as i64);
                break;
            }
            let r = first[j as usize] as usize;
            if same_words(&keys[r * width..r * width + width], row) {
                inv.push(j as i32);
                break;
            }
            pos = (pos + 1) & mask;
        }
    }
    (inv, first)
}

/// The flow cache: flow key (capture ENI, protocol, ports/ICMP, addresses) -> flow id.
#[derive(Clone, Debug)]
pub struct FlowMap {
    map: KeyMap,
}

impl Default for FlowMap {
    fn default() -> Self {
        FlowMap {
            map: KeyMap::new(FLOW_KEY_WIDTH, 4096),
        }
    }
}

impl FlowMap {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Flow id of each packet, -1 when its flow is new.
    pub fn lookup(&self, packets: &FlowFields<'_>) -> Vec<i32> {
        (0..packets.len())
            .map(|i| self.map.get(&flow_words(packets, i)))
            .collect()
    }

    /// Forget every flow, keeping the room (`KeyMap::clear`).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn insert(&mut self, keys: &[u64], values: &[i32]) {
        for (row, &v) in keys.chunks_exact(FLOW_KEY_WIDTH).zip(values) {
            self.map.insert(row, v);
        }
    }

    /// Flow id of each packet in one pass: a new flow gets the next id from `base` on, in the order
    /// it first appears, and is remembered at once. Returns (ids, first row of each new flow) - what
    /// `lookup`, `unique_rows` over the missing rows' keys and `insert` gave in three passes.
    ///
    /// The keys' hashes are taken first, so that the probe of packet `i` can ask for the slot of packet
    /// `i + LOOKAHEAD` ahead of time: with more flows than the caches hold, each probe was a wait on
    /// memory (docs/benchmarks.md).
    pub fn assign(&mut self, packets: &FlowFields<'_>, base: i32) -> (Vec<i32>, Vec<i64>) {
        let n = packets.len();
        let hashes: Vec<u64> = (0..n)
            .map(|i| hash_words(&flow_words(packets, i)))
            .collect();
        let mut ids = Vec::with_capacity(n);
        let mut first: Vec<i64> = Vec::new();
        for i in 0..n {
            if let Some(&ahead) = hashes.get(i + LOOKAHEAD) {
                self.map.prefetch(ahead);
            }
            let key = flow_words(packets, i);
            let pos = self.map.slot_from(hashes[i], &key);
            let mut id = self.map.vals[pos];
            if id < 0 {
                id = base + first.len() as i32;
                self.map.insert_hashed(hashes[i], &key, id);
                first.push(i as i64);
            }
            ids.push(id);
        }
        (ids, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_words_is_slice_equality() {
        let rows: [&[u64]; 6] = [
            &[],
            &[1],
            &[1, 2, 3],
            &[1, 2, 4],
            &[1, 2],
            &[u64::MAX, 0, 7],
        ];
        for a in rows {
            for b in rows {
                assert_eq!(same_words(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn unique_rows_gives_first_seen_ids() {
        let keys = [1, 2, 3, 4, 1, 2, 5, 6, 3, 4];
        let (inv, first) = unique_rows(&keys, 2);
        assert_eq!(inv, vec![0, 1, 0, 2, 1]);
        assert_eq!(first, vec![0, 1, 3]);
    }

    #[test]
    fn assign_gives_the_ids_of_lookup_unique_rows_and_insert() {
        // packets of flows (by source port) 7, 3, 7, 9, 3 with flow 3 already cached as id 0
        let n = 5;
        let sport: Vec<u16> = vec![7, 3, 7, 9, 3];
        let zeros_u64 = vec![0u64; n];
        let zeros_i16 = vec![0i16; n];
        let label = vec![0i32; n];
        let proto = vec![6u8; n];
        let frag2 = vec![false; n];
        let dport = vec![80u16; n];
        let f = FlowFields {
            label: &label,
            proto: &proto,
            frag2: &frag2,
            sport: &sport,
            dport: &dport,
            itype: &zeros_i16,
            icode: &zeros_i16,
            s_hi: &zeros_u64,
            s_lo: &zeros_u64,
            d_hi: &zeros_u64,
            d_lo: &zeros_u64,
        };
        let mut m = FlowMap::default();
        m.insert(&flow_words(&f, 1), &[0]);
        // the three-pass way
        let old = m.lookup(&f);
        let missing: Vec<usize> = (0..n).filter(|&i| old[i] < 0).collect();
        let keys: Vec<u64> = missing.iter().flat_map(|&i| flow_words(&f, i)).collect();
        let (inv, first) = unique_rows(&keys, FLOW_KEY_WIDTH);
        let mut expected = old.clone();
        for (k, &i) in missing.iter().enumerate() {
            expected[i] = 1 + inv[k];
        }
        let expected_first: Vec<i64> = first.iter().map(|&r| missing[r as usize] as i64).collect();
        // one pass
        let (ids, new_first) = m.assign(&f, 1);
        assert_eq!(ids, expected);
        assert_eq!(ids, vec![1, 0, 1, 2, 0]);
        assert_eq!(new_first, expected_first);
        assert_eq!(m.len(), 3);
        assert_eq!(m.lookup(&f), ids); // remembered
    }

    #[test]
    fn assign_with_lookahead_across_growth_gives_first_seen_ids() {
        // 50,000 packets of 20,000 flows: the table grows several times inside one call, while slots
        // of packets ahead were asked for at the old size
        let n = 50_000usize;
        let flow = |i: usize| ((i * 7919) % 20_000) as u64;
        let s_lo: Vec<u64> = (0..n).map(|i| flow(i) * 0x1_0001).collect();
        let zeros_u64 = vec![0u64; n];
        let zeros_i16 = vec![0i16; n];
        let (label, proto, frag2) = (vec![0i32; n], vec![17u8; n], vec![false; n]);
        let ports = vec![53u16; n];
        let f = FlowFields {
            label: &label,
            proto: &proto,
            frag2: &frag2,
            sport: &ports,
            dport: &ports,
            itype: &zeros_i16,
            icode: &zeros_i16,
            s_hi: &zeros_u64,
            s_lo: &s_lo,
            d_hi: &zeros_u64,
            d_lo: &zeros_u64,
        };
        let mut m = FlowMap::default();
        let (ids, first) = m.assign(&f, 10);
        let mut seen = std::collections::HashMap::new();
        for (i, &id) in ids.iter().enumerate() {
            let next = 10 + seen.len() as i32;
            let want = *seen.entry(flow(i)).or_insert(next);
            assert_eq!(id, want, "packet {i}");
        }
        assert_eq!(first.len(), 20_000);
        assert_eq!(m.len(), 20_000);
        assert_eq!(m.lookup(&f), ids);
    }

    #[test]
    fn hash_words_depends_on_every_word_and_its_position() {
        let base = [1u64, 2, 3, 4, 5, 6, 7];
        let h = hash_words(&base);
        for i in 0..base.len() {
            let mut k = base;
            k[i] ^= 1 << (i * 9);
            assert_ne!(hash_words(&k), h, "word {i}");
        }
        assert_ne!(hash_words(&[1, 2, 3, 4]), hash_words(&[3, 4, 1, 2])); // swapped pairs
        assert_ne!(hash_words(&[1, 2]), hash_words(&[2, 1]));
        assert_ne!(hash_words(&[0]), hash_words(&[0, 0]));
        // low bits (the slot) spread: 4,096 sequential keys into 8,192 slots hit most distinct slots
        let slots: std::collections::HashSet<u64> = (0..4096u64)
            .map(|i| hash_words(&[i, 0, 7]) & 8191)
            .collect();
        assert!(slots.len() > 3000, "{}", slots.len());
    }

    #[test]
    fn key_map_grows_and_keeps_values() {
        let mut m = KeyMap::new(2, 16);
        for i in 0..1000u64 {
            m.insert(&[i, i * 7], i as i32);
        }
        assert_eq!(m.len(), 1000);
        for i in 0..1000u64 {
            assert_eq!(m.get(&[i, i * 7]), i as i32);
        }
        assert_eq!(m.get(&[5, 0]), -1);
        m.insert(&[3, 21], 9);
        assert_eq!(m.get(&[3, 21]), 9);
        assert_eq!(m.len(), 1000);
        // cleared: every key forgotten, the room kept (no growth while it refills)
        let slots = m.vals.len();
        m.clear();
        assert_eq!((m.len(), m.get(&[3, 21])), (0, -1));
        for i in 0..1000u64 {
            m.insert(&[i + 5000, i], i as i32);
        }
        assert_eq!((m.len(), m.vals.len()), (1000, slots));
        assert_eq!((m.get(&[5999, 999]), m.get(&[999, 6993])), (999, -1));
    }
}
