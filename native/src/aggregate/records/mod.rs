//! Record tables of closed windows: the SKIPDATA cut, the final row order and the columns.
//!
//! `FlowLogAggregator.advance` (Python) takes the partial records of closed windows out of the fold
//! state and hands them here with what it knows (each ENI's interval, the NODATA (ENI, window) pairs,
//! the SKIPDATA capacity, the format's fields); one call returns every column the format needs, in
//! the table's final order, as numpy buffers that pyarrow wraps without copying
//! (`dataplane/aggregate/records.py`). The numpy implementation this replaces is the tests' oracle.
//!
//! Row order (what every sink and golden test sees): window start, ENI index, start, end, status
//! (OK, NODATA, SKIPDATA), key word 1, then the order the rows arrived in (a stable sort).

pub mod addr;
pub mod columns;
pub mod py;

use super::key::ENI_SHIFT;

const WS_MASK: u64 = (1 << ENI_SHIFT) - 1;

/// Log status of a row.
pub const STATUS_OK: u8 = 0;
pub const STATUS_NODATA: u8 = 1;
pub const STATUS_SKIPDATA: u8 = 2;

/// The closed partial records (one row per group; `keys` row-major, `width` words a row).
pub struct Closed<'a> {
    pub keys: &'a [u64],
    pub width: usize,
    pub packets: &'a [i64],
    pub first: &'a [i64],
    pub last: &'a [i64],
}

impl Closed<'_> {
    #[inline]
    pub fn key(&self, row: usize, word: usize) -> u64 {
        self.keys[row * self.width + word]
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

/// What Python adds: NODATA (ENI, window) pairs, each ENI's interval, the SKIPDATA capacity.
pub struct Windows<'a> {
    pub nodata_eni: &'a [i64],
    pub nodata_ws: &'a [i64],
    pub interval: &'a [i64],
    pub capacity: u64,
}

/// The sort key of one row of the table, packed so that comparing it is comparing (window, ENI,
/// start, end, status, key word 1, arrival) in that order: `place` = (window << 30 | ENI) << 64 |
/// (start - window) << 32 | (end - window) (`check_windows` holds both offsets in 32 bits), `word` =
/// status << 56 | key word 1 (47 bits), `arrival` breaks ties (the order rows were handed in).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    place: u128,
    word: u64,
    arrival: u64,
}

const ENI_BITS: u32 = 64 - ENI_SHIFT;
const STATUS_SHIFT: u32 = 56;

impl RowKey {
    fn new(
        eni: u64,
        ws: u64,
        start_off: u64,
        end_off: u64,
        status: u8,
        meta: u64,
        arrival: u64,
    ) -> Self {
        let wseni = (ws << ENI_BITS | eni) as u128;
        RowKey {
            place: wseni << 64 | (start_off << 32 | end_off) as u128,
            word: (status as u64) << STATUS_SHIFT | meta,
            arrival,
        }
    }

    fn window(&self) -> (u64, u64) {
        let wseni = (self.place >> 64) as u64;
        (wseni & ((1 << ENI_BITS) - 1), wseni >> ENI_BITS)
    }

    fn status(&self) -> u8 {
        (self.word >> STATUS_SHIFT) as u8
    }

    /// (ENI, window start, start, end)
    fn decode(&self) -> (i64, i64, i64, i64) {
        let (eni, ws) = self.window();
        let offs = self.place as u64;
        (
            eni as i64,
            ws as i64,
            (ws + (offs >> 32)) as i64,
            (ws + (offs & 0xFFFF_FFFF)) as i64,
        )
    }
}

/// Do a record's start and end lie in its window (within 2**32 s of its start, as the sort key
/// needs)? They always do for folded records (the window is their packets' second, floored).
pub fn in_window(ws: i64, first: i64, last: i64) -> bool {
    let fits = |t: i64| t >= ws && t - ws <= u32::MAX as i64;
    fits(first) && fits(last)
}

/// The rows of the record table in final order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// The closed row an OK record comes from; -1 for NODATA and SKIPDATA rows.
    pub src: Vec<i64>,
    pub eni: Vec<i64>,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub status: Vec<u8>,
    pub ok: usize,
    pub nodata: usize,
    pub skipdata: usize,
    pub skipped_records: u64,
    pub skipped_packets: i64,
}

fn ok_key(c: &Closed<'_>, row: usize) -> RowKey {
    let k0 = c.key(row, 0);
    let ws = k0 & WS_MASK;
    let off = |t: i64| (t - ws as i64) as u64;
    let (start, end) = (off(c.first[row]), off(c.last[row]));
    RowKey::new(
        k0 >> ENI_SHIFT,
        ws,
        start,
        end,
        STATUS_OK,
        c.key(row, 1),
        row as u64,
    )
}

fn window_key(eni: i64, ws: i64, interval: &[i64], status: u8, arrival: u64) -> RowKey {
    // spec 7.2's samples: NODATA/SKIPDATA end = window start + interval - 2
    let end = (interval[eni as usize] - 2) as u64;
    RowKey::new(eni as u64, ws as u64, 0, end, status, 0, arrival)
}

/// SKIPDATA (docs/dataplane.md): per (ENI, window) the `capacity` earliest records stay (ranked by
/// start, end, key word 1, arrival); the rest are counted and leave one SKIPDATA row per window.
/// `sorted` is in table order; returns the kept keys and the (ENI, window) pairs cut.
fn cut(
    sorted: Vec<RowKey>,
    c: &Closed<'_>,
    capacity: u64,
    rows: &mut Rows,
) -> (Vec<RowKey>, Vec<(u64, u64)>) {
    let mut kept = Vec::with_capacity(sorted.len());
    let mut cut_windows: Vec<(u64, u64)> = Vec::new();
    let mut rank = 0u64;
    let mut prev: Option<(u64, u64)> = None;
    for k in sorted {
        let group = k.window();
        if prev != Some(group) {
            rank = 0;
            prev = Some(group);
        }
        if rank < capacity {
            kept.push(k);
        } else {
            if rank == capacity {
                cut_windows.push(group);
            }
            rows.skipped_records += 1;
            rows.skipped_packets += c.packets[k.arrival as usize];
        }
        rank += 1;
    }
    // the order numpy's unique gave the SKIPDATA rows (by key word 0: ENI, then window)
    cut_windows.sort_unstable();
    (kept, cut_windows)
}

/// Rank, cut and order every row of the table. Every ENI index (in the keys and in `w.nodata_eni`)
/// must have an interval from 2 to 2**32 s, and every record's start and end lie in its window
/// (`in_window`; checked by the caller).
pub fn order_rows(c: &Closed<'_>, w: &Windows<'_>) -> Rows {
    let mut rows = Rows::default();
    let mut keys: Vec<RowKey> = (0..c.len()).map(|r| ok_key(c, r)).collect();
    keys.sort_unstable(); // arrival makes every key distinct: the same order as a stable sort
    let (mut keys, cut_windows) = cut(keys, c, w.capacity, &mut rows);
    rows.ok = keys.len();
    rows.nodata = w.nodata_eni.len();
    rows.skipdata = cut_windows.len();
    let base = c.len() as u64;
    for (j, (&eni, &ws)) in w.nodata_eni.iter().zip(w.nodata_ws).enumerate() {
        keys.push(window_key(
            eni,
            ws,
            w.interval,
            STATUS_NODATA,
            base + j as u64,
        ));
    }
    let base = base + rows.nodata as u64;
    for (j, &(eni, ws)) in cut_windows.iter().enumerate() {
        keys.push(window_key(
            eni as i64,
            ws as i64,
            w.interval,
            STATUS_SKIPDATA,
            base + j as u64,
        ));
    }
    // Two sorted runs (OK rows, then the few window rows): the stable sort merges them.
    if keys.len() > rows.ok {
        keys.sort();
    }
    let n = keys.len();
    rows.src.reserve_exact(n);
    rows.eni.reserve_exact(n);
    rows.start.reserve_exact(n);
    rows.end.reserve_exact(n);
    rows.status.reserve_exact(n);
    for k in &keys {
        let (eni, _, start, end) = k.decode();
        let status = k.status();
        rows.src.push(if status == STATUS_OK {
            k.arrival as i64
        } else {
            -1
        });
        rows.eni.push(eni);
        rows.start.push(start);
        rows.end.push(end);
        rows.status.push(status);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::key::eni_window;

    struct Data {
        keys: Vec<u64>,
        packets: Vec<i64>,
        first: Vec<i64>,
        last: Vec<i64>,
    }

    impl Data {
        fn closed(&self) -> Closed<'_> {
            Closed {
                keys: &self.keys,
                width: 2,
                packets: &self.packets,
                first: &self.first,
                last: &self.last,
            }
        }
    }

    /// rows: (eni, window, meta, first, last)
    fn data(rows: &[(i64, i64, u64, i64, i64)]) -> Data {
        Data {
            keys: rows
                .iter()
                .flat_map(|r| [eni_window(r.0, r.1), r.2])
                .collect(),
            packets: rows.iter().map(|r| r.2 as i64 + 1).collect(),
            first: rows.iter().map(|r| r.3).collect(),
            last: rows.iter().map(|r| r.4).collect(),
        }
    }

    #[test]
    fn orders_by_window_eni_start_end_status_meta_then_arrival() {
        let d = data(&[
            (1, 60, 5, 61, 70),
            (0, 60, 5, 61, 70),
            (0, 0, 9, 10, 20),
            (0, 0, 3, 10, 20),
            (0, 0, 3, 10, 20), // equal to the row before (other addresses): arrival decides
            (0, 0, 1, 10, 15),
            (0, 0, 1, 5, 59),
        ]);
        let w = Windows {
            nodata_eni: &[2, 2],
            nodata_ws: &[60, 0],
            interval: &[60, 60, 60],
            capacity: 100,
        };
        let r = order_rows(&d.closed(), &w);
        assert_eq!(r.src, vec![6, 5, 3, 4, 2, -1, 1, 0, -1]);
        assert_eq!(r.eni, vec![0, 0, 0, 0, 0, 2, 0, 1, 2]);
        assert_eq!(r.start[5], 0);
        assert_eq!(r.end[5], 58);
        assert_eq!(r.status, vec![0, 0, 0, 0, 0, 1, 0, 0, 1]);
        assert_eq!((r.ok, r.nodata, r.skipdata), (7, 2, 0));
    }

    #[test]
    fn skipdata_keeps_the_earliest_records_per_eni_window() {
        // ENI 0 window 0 has four records, capacity 2: the two earliest stay, one SKIPDATA row
        // sorts after OK rows of equal start/end (its start is the window start, end start+598).
        let d = data(&[
            (0, 0, 1, 30, 40),
            (0, 0, 2, 10, 40),
            (0, 0, 3, 0, 598),
            (0, 0, 4, 20, 21),
            (1, 0, 1, 5, 5),
        ]);
        let w = Windows {
            nodata_eni: &[],
            nodata_ws: &[],
            interval: &[600, 600],
            capacity: 2,
        };
        let r = order_rows(&d.closed(), &w);
        assert_eq!(r.src, vec![2, -1, 1, 4]);
        assert_eq!(r.status, vec![0, 2, 0, 0]);
        assert_eq!((r.start[1], r.end[1]), (0, 598));
        assert_eq!((r.skipped_records, r.skipped_packets), (2, 5 + 2));
        assert_eq!((r.ok, r.skipdata), (3, 1));
    }

    #[test]
    fn capacity_zero_cuts_every_record() {
        let d = data(&[(0, 0, 1, 1, 2), (0, 60, 1, 61, 62)]);
        let w = Windows {
            nodata_eni: &[],
            nodata_ws: &[],
            interval: &[60],
            capacity: 0,
        };
        let r = order_rows(&d.closed(), &w);
        assert_eq!(r.src, vec![-1, -1]);
        assert_eq!(r.start, vec![0, 60]);
        assert_eq!(r.skipped_records, 2);
    }
}
