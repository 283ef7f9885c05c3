//! The open partial records of one flow log, kept in the core across batches.
//!
//! Each batch's fold (`observe.rs`) yields partial records; they fold here into one table of the
//! flow log's open (ENI, window, key) groups, and a watermark moves the groups of closed windows out.
//! Python kept them as numpy columns and re-folded all of them with every batch's new ones
//! (concatenate, stack, fold, gather): on a capture of 1,000,000 flows most of a run's memory
//! traffic. Here a batch costs a probe per partial record, and closing a window one pass.

use super::groups::{Groups, PartialCols};
use super::key::ENI_SHIFT;
use super::observe::{fold_into, KeyOptions, ObsCols, PacketCols, RunMaps};

const WS_MASK: u64 = (1 << ENI_SHIFT) - 1;

/// Open groups of one flow log.
#[derive(Debug)]
pub struct OpenGroups {
    pub groups: Groups,
}

impl OpenGroups {
    pub fn new(width: usize) -> Self {
        OpenGroups {
            groups: Groups::open(width),
        }
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Bytes the open groups hold (columns at their capacity and the hash table).
    pub fn bytes(&self) -> usize {
        self.groups.bytes()
    }

    /// Fold partial records in (sums, bounds, OR of flags, the earliest row's rule: `Groups::merge`).
    pub fn absorb(&mut self, p: &PartialCols<'_>) {
        for i in 0..p.len() {
            let (key, a) = p.row(i);
            self.groups.absorb(key, a);
        }
    }

    /// Fold an observation batch's rows straight in (the streaming pass): the same open groups as
    /// `observe_fold` then `absorb`, without the batch's own table of partial records (about 30 MB
    /// a batch on a capture of a million flows, made and freed for every batch). Returns the (ENI,
    /// window) words with traffic before the TrafficType filter (for every filter: ALL too).
    pub fn fold(
        &mut self,
        o: &ObsCols<'_>,
        pk: &PacketCols<'_>,
        maps: &RunMaps<'_>,
        opt: &KeyOptions,
    ) -> Vec<u64> {
        fold_into(&mut self.groups, o, pk, maps, opt, true)
    }

    /// Take out the groups whose window ended at or before `watermark` (None: all of them), given
    /// each ENI's interval; their order of first appearance is kept. `interval` must cover every
    /// ENI index of the keys (checked by the caller).
    pub fn close(&mut self, watermark: Option<i64>, interval: &[i64]) -> Groups {
        let width = self.groups.width;
        match watermark {
            None => std::mem::replace(&mut self.groups, Groups::open(width)),
            Some(t) => self.groups.split_off(|k| {
                let eni = (k[0] >> ENI_SHIFT) as usize;
                (k[0] & WS_MASK) as i64 + interval[eni] <= t
            }),
        }
    }

    /// The distinct ends of the open groups' windows, ascending, given each ENI's interval; None
    /// when an open group's ENI has none.
    pub fn window_ends(&self, interval: &[i64]) -> Option<Vec<i64>> {
        let w = self.groups.width;
        let mut ends: Vec<i64> = Vec::new();
        for k in self.groups.keys.chunks_exact(w) {
            let eni = (k[0] >> ENI_SHIFT) as usize;
            let end = (k[0] & WS_MASK) as i64 + interval.get(eni)?;
            // a window's groups (of every ENI) mostly follow one another and share its end: kept
            // only when new to the few ends seen, the list stays as short as the windows open
            if !ends.contains(&end) {
                ends.push(end);
            }
        }
        ends.sort_unstable();
        Some(ends)
    }

    /// The largest ENI index any open group names (for the caller's bounds check).
    pub fn max_eni(&self) -> Option<usize> {
        let w = self.groups.width;
        self.groups
            .keys
            .chunks_exact(w)
            .map(|k| (k[0] >> ENI_SHIFT) as usize)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::key::eni_window;

    fn rows(keys: &[u64], n: usize) -> (Vec<i64>, Vec<u8>, Vec<i32>, &[u64]) {
        (vec![1; n], vec![2; n], vec![-1; n], keys)
    }

    #[test]
    fn absorbs_across_batches_grows_and_closes_by_window() {
        let mut st = OpenGroups::new(2);
        // 5,000 keys in two windows of ENI 0 (interval 60), each seen twice over two batches
        for _ in 0..2 {
            let keys: Vec<u64> = (0..5000u64)
                .flat_map(|i| [eni_window(0, if i % 2 == 0 { 0 } else { 60 }), i])
                .collect();
            let (ones, flags, rule, k) = rows(&keys, 5000);
            let ts: Vec<i64> = (0..5000)
                .map(|i| if i % 2 == 0 { 10 } else { 70 })
                .collect();
            st.absorb(&PartialCols {
                keys: k,
                width: 2,
                packets: &ones,
                bytes: &ones,
                first: &ts,
                last: &ts,
                flags: &flags,
                rule: &rule,
            });
        }
        assert_eq!(st.len(), 5000);
        assert!(st.groups.packets.iter().all(|&p| p == 2));
        assert_eq!(st.window_ends(&[60]), Some(vec![60, 120]));
        assert_eq!(st.window_ends(&[]), None);
        let closed = st.close(Some(60), &[60]);
        assert_eq!(closed.len(), 2500);
        assert!(closed.keys.chunks_exact(2).all(|k| k[0] == 0));
        // order of first appearance kept on both sides
        assert_eq!(closed.keys[1], 0);
        assert_eq!(closed.keys[3], 2);
        assert_eq!(st.len(), 2500);
        assert_eq!(st.groups.keys[1], 1);
        // the kept groups are still found (the table was rebuilt)
        let keys = [eni_window(0, 60), 1];
        st.absorb(&PartialCols {
            keys: &keys,
            width: 2,
            packets: &[5],
            bytes: &[5],
            first: &[61],
            last: &[61],
            flags: &[1],
            rule: &[3],
        });
        assert_eq!(st.len(), 2500);
        assert_eq!(st.groups.packets[0], 7);
        assert_eq!(st.groups.first[0], 61);
        assert_eq!(st.window_ends(&[60]), Some(vec![120]));
        assert_eq!(st.close(None, &[60]).len(), 2500);
        assert!(st.is_empty());
        assert_eq!(st.window_ends(&[60]), Some(vec![]));
    }

    #[test]
    fn closing_a_window_gives_back_its_room() {
        let mut st = OpenGroups::new(2);
        let n = 100_000u64;
        // n groups in the window at 0, n / 100 in the window at 60 (ENI 0, interval 60)
        let keys: Vec<u64> = (0..n + n / 100)
            .flat_map(|i| [eni_window(0, if i < n { 0 } else { 60 }), i])
            .collect();
        let m = (n + n / 100) as usize;
        let (ones, flags, rule, k) = rows(&keys, m);
        st.absorb(&PartialCols {
            keys: k,
            width: 2,
            packets: &ones,
            bytes: &ones,
            first: &ones,
            last: &ones,
            flags: &flags,
            rule: &rule,
        });
        let full = st.bytes();
        let closed = st.close(Some(60), &[60]);
        assert_eq!(closed.len(), n as usize);
        assert!(closed.rep.is_empty(), "open groups keep no input rows");
        assert_eq!(st.len(), (n / 100) as usize);
        // what stays is sized for the groups left, not for the largest the state ever held
        assert!(st.bytes() * 20 < full, "{} of {full} bytes", st.bytes());
        assert!(closed.bytes() <= full);
    }
}
