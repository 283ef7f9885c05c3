//! The canonical order of some rows of a record table (docs/bulk.md, `sinks/compact.py`): ascending
//! by every column in table order, a dictionary column by its values, nulls after every value, and
//! rows equal in every column kept in the order given. It is the order pyarrow's stable
//! `sort_indices` gives the gathered rows (with dictionary columns replaced by the dense rank of
//! their values), computed here from the held table's buffers without gathering the rows first.
//!
//! Each row gets a fixed-width key packing its leading columns in an order-preserving byte form:
//! an integer or dictionary column as a code (the value minus the smallest among the rows, or the
//! rank of the dictionary value) in as few bytes as the codes' range needs, then the first string
//! column's leading bytes. Most rows are ordered by their keys alone (a radix sort on the key
//! bytes). Rows with equal keys whose string the keys hold whole (an IPv4 address does) are
//! ordered the same way by keys of the columns after it (the destination address after the
//! source); other rows with equal keys are compared column by column from the first column the
//! key does not hold whole. Equal rows keep their order.

use std::cell::RefCell;
use std::cmp::Ordering;

use super::cell_order::{cmp_cells, dict_index, dictionary_ranks, ColumnOrder};
use super::columns::{locate, Cell, ChunkedView, Corrupt, Values};
use super::lines::{RenderError, Rows, TableView};
use super::radix::{radix_sort, Entry, KEY_BYTES};

/// What [`Sorter::fill_keys`] packed.
struct Keyed {
    /// The key bytes that may be non-zero.
    used: usize,
    /// The first column the keys do not hold whole (all columns: the number of columns).
    from: usize,
    /// When column `from` is a string column in the keys: the most bytes of a string they hold.
    room: Option<usize>,
}

struct Sorter<'t, 'a> {
    columns: &'t [ChunkedView<'a>],
    orders: Vec<ColumnOrder>,
}

impl<'a> Sorter<'_, 'a> {
    /// Column `c`'s cell in `row`, or for a dictionary column its rank (a null index: `None`).
    #[inline]
    fn code(&self, c: usize, chunk: usize, i: usize) -> Result<Option<i128>, Corrupt> {
        let view = &self.columns[c].chunks[chunk];
        match &self.orders[c] {
            ColumnOrder::Rank(ranks, _) => {
                Ok(dict_index(view, i)?.map(|j| ranks[chunk][j] as i128))
            }
            ColumnOrder::Value => match view.cell(i)? {
                Cell::Null => Ok(None),
                Cell::Int(v) => Ok(Some(v as i128)),
                Cell::UInt(v) => Ok(Some(v as i128)),
                Cell::Str(_) => Err(Corrupt("the chunks of a column differ in type".into())),
            },
        }
    }

    fn is_text(&self, c: usize) -> bool {
        matches!(self.orders[c], ColumnOrder::Value)
            && self.columns[c]
                .chunks
                .first()
                .is_some_and(|ch| matches!(ch.values, Values::Str { .. }))
    }

    /// Pack integer or dictionary column `c` at byte `at` of the keys; the bytes it took and
    /// whether it fitted whole.
    fn pack_code(
        &self,
        c: usize,
        rows: &Rows<'_>,
        entries: &mut [Entry],
        at: usize,
    ) -> Result<(usize, bool), Corrupt> {
        let starts = &self.columns[c].starts;
        let (mut lo, mut hi, mut nulls) = (i128::MAX, i128::MIN, false);
        let mut cursor = 0;
        match &self.orders[c] {
            ColumnOrder::Rank(_, count) => {
                // a null index needs a code of its own only where a chunk may hold one
                let nullable = self.columns[c]
                    .chunks
                    .iter()
                    .any(|ch| ch.validity.is_some());
                (lo, hi, nulls) = (0, *count as i128 - 1, nullable)
            }
            ColumnOrder::Value => {
                for e in entries.iter() {
                    let (ch, i) = locate(starts, &mut cursor, rows.at(e.row()));
                    match self.code(c, ch, i)? {
                        Some(v) => (lo, hi) = (lo.min(v), hi.max(v)),
                        None => nulls = true,
                    }
                }
            }
        }
        if lo > hi {
            (lo, hi) = (0, 0); // every row null
        }
        // codes 0..=top; a null is top (after every value)
        let top = (hi - lo) as u128 + u128::from(nulls);
        let width = (128 - top.leading_zeros() as usize).div_ceil(8);
        let room = KEY_BYTES - at;
        let (fits, used) = (width <= room, width.min(room));
        for e in entries.iter_mut() {
            let (ch, i) = locate(starts, &mut cursor, rows.at(e.row()));
            let code = match self.code(c, ch, i)? {
                Some(v) => (v - lo) as u128,
                None => top,
            };
            for j in 0..used {
                e.put(at + j, (code >> (8 * (width - 1 - j))) as u8);
            }
        }
        Ok((used, fits))
    }

    /// Pack string column `c`'s leading bytes (after a null flag if it may hold nulls) from byte
    /// `at` to the end of the keys: zero-padded, so a shorter string that is a prefix of a longer
    /// one packs no greater; equal packs need a full comparison.
    fn pack_text(
        &self,
        c: usize,
        rows: &Rows<'_>,
        entries: &mut [Entry],
        at: usize,
    ) -> Result<usize, Corrupt> {
        let col = &self.columns[c];
        let flag = col.chunks.iter().any(|ch| ch.validity.is_some());
        let room = KEY_BYTES - (at + usize::from(flag)).min(KEY_BYTES);
        let mut cursor = 0;
        for e in entries.iter_mut() {
            let (ch, i) = locate(&col.starts, &mut cursor, rows.at(e.row()));
            match col.chunks[ch].cell(i)? {
                Cell::Str(s) => {
                    let p = at + usize::from(flag);
                    let k = s.len().min(KEY_BYTES - p);
                    e.key[p..p + k].copy_from_slice(&s[..k]);
                }
                Cell::Null if flag => e.put(at, 1),
                _ => return Err(Corrupt("the chunks of a column differ in type".into())),
            }
        }
        Ok(room)
    }

    /// Write the keys of `entries` (rows `rows[pos]`) for columns `first..`: the key bytes that
    /// may be non-zero, the first column the keys do not hold whole, and for a string column
    /// there the most bytes of a string its keys hold.
    fn fill_keys(
        &self,
        rows: &Rows<'_>,
        entries: &mut [Entry],
        first: usize,
    ) -> Result<Keyed, (usize, Corrupt)> {
        entries.iter_mut().for_each(|e| e.key = [0; KEY_BYTES]);
        let mut at = 0;
        for c in first..self.columns.len() {
            if self.is_text(c) {
                let room = if at < KEY_BYTES {
                    Some(self.pack_text(c, rows, entries, at).map_err(|e| (c, e))?)
                } else {
                    None
                };
                return Ok(Keyed {
                    used: KEY_BYTES,
                    from: c,
                    room,
                });
            }
            let (used, whole) = self.pack_code(c, rows, entries, at).map_err(|e| (c, e))?;
            at += used;
            if !whole {
                return Ok(Keyed {
                    used: at,
                    from: c,
                    room: None,
                });
            }
        }
        Ok(Keyed {
            used: at,
            from: self.columns.len(),
            room: None,
        })
    }

    /// Whether string column `c` holds the same value in every row of `run` (rows with equal
    /// keys, which hold at most `room` bytes of it): their lengths are equal and fit the key.
    fn same_text(
        &self,
        c: usize,
        rows: &Rows<'_>,
        run: &[Entry],
        room: usize,
    ) -> Result<bool, Corrupt> {
        let col = &self.columns[c];
        let mut cursor = 0;
        let mut first: Option<Option<usize>> = None;
        for e in run {
            let (ch, i) = locate(&col.starts, &mut cursor, rows.at(e.row()));
            let len = match col.chunks[ch].cell(i)? {
                Cell::Str(s) if s.len() <= room => Some(s.len()),
                Cell::Null => None,
                _ => return Ok(false),
            };
            if *first.get_or_insert(len) != len {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sort `entries` (rows equal on the columns before `first`) by columns `first..`, rows equal
    /// on them in position order, whatever the order of `entries` now. Rows whose keys are equal
    /// and whose string column the keys hold whole are equal on it too: the next key starts after
    /// it; otherwise they are compared column by column.
    fn order(
        &self,
        rows: &Rows<'_>,
        entries: &mut [Entry],
        first: usize,
        failed: &RefCell<Option<(usize, Corrupt)>>,
    ) -> Result<(), (usize, Corrupt)> {
        let keyed = self.fill_keys(rows, entries, first)?;
        if keyed.used > 0 {
            radix_sort(entries, 0, keyed.used);
        }
        let from = keyed.from;
        if from == self.columns.len() {
            return Ok(()); // equal keys, equal rows: already in position order
        }
        let mut a = 0;
        while a < entries.len() {
            let mut b = a + 1;
            while b < entries.len() && entries[b].key == entries[a].key {
                b += 1;
            }
            if b - a > 1 {
                let whole = match keyed.room {
                    Some(room) => self
                        .same_text(from, rows, &entries[a..b], room)
                        .map_err(|e| (from, e))?,
                    None => false,
                };
                if whole {
                    if from + 1 < self.columns.len() {
                        self.order(rows, &mut entries[a..b], from + 1, failed)?;
                    }
                } else {
                    entries[a..b].sort_by(|x, y| {
                        let (ra, rb) = (rows.at(x.row()), rows.at(y.row()));
                        self.cmp_rows(from, ra, rb).unwrap_or_else(|e| {
                            failed.borrow_mut().get_or_insert(e);
                            Ordering::Equal
                        })
                    });
                }
            }
            a = b;
        }
        Ok(())
    }

    /// Rows `a` and `b` compared column by column from column `from`.
    fn cmp_rows(&self, from: usize, a: usize, b: usize) -> Result<Ordering, (usize, Corrupt)> {
        for c in from..self.columns.len() {
            let col = &self.columns[c];
            let (mut ca, mut cb) = (0, 0);
            let (cha, ia) = locate(&col.starts, &mut ca, a);
            let (chb, ib) = locate(&col.starts, &mut cb, b);
            let o = match &self.orders[c] {
                ColumnOrder::Rank(..) => {
                    let x = self.code(c, cha, ia).map_err(|e| (c, e))?;
                    let y = self.code(c, chb, ib).map_err(|e| (c, e))?;
                    // a null index sorts after every rank (None > Some here)
                    x.is_none().cmp(&y.is_none()).then(x.cmp(&y))
                }
                ColumnOrder::Value => {
                    let x = col.chunks[cha].cell(ia).map_err(|e| (c, e))?;
                    let y = col.chunks[chb].cell(ib).map_err(|e| (c, e))?;
                    cmp_cells(x, y)
                }
            };
            if o != Ordering::Equal {
                return Ok(o);
            }
        }
        Ok(Ordering::Equal)
    }
}

/// `rows` of `table` in canonical order, as table row indexes. A closed group is nearly always the
/// whole held table: `Rows::Range` sorts it without an array numbering its rows (8 bytes a row at
/// a run's memory peak).
pub fn canonical_order(table: &TableView<'_>, rows: Rows<'_>) -> Result<Vec<u32>, RenderError> {
    table.check_rows(rows)?;
    let columns = table.columns();
    let mut orders = Vec::with_capacity(columns.len());
    for (c, col) in columns.iter().enumerate() {
        let dict = col
            .chunks
            .iter()
            .any(|ch| matches!(ch.values, Values::Dict { .. }));
        orders.push(if dict {
            dictionary_ranks(col).map_err(|Corrupt(m)| RenderError::Corrupt(c, m))?
        } else {
            ColumnOrder::Value
        });
    }
    let sorter = Sorter { columns, orders };
    let corrupt = |(c, Corrupt(m))| RenderError::Corrupt(c, m);
    // table rows and positions both fit 32 bits: the order comes back in 4 bytes a row
    let too_many = || {
        RenderError::Corrupt(
            0,
            format!("{} rows to sort: at most 2^32 - 1", table.num_rows()),
        )
    };
    if u32::try_from(table.num_rows()).is_err() {
        return Err(too_many());
    }
    let n = u32::try_from(rows.count()).map_err(|_| too_many())?;
    let mut entries: Vec<Entry> = (0..n)
        .map(|pos| Entry {
            key: [0; KEY_BYTES],
            pos,
        })
        .collect();
    // a comparator cannot fail: the first error is kept and returned once the sort is over
    let failed: RefCell<Option<(usize, Corrupt)>> = RefCell::new(None);
    sorter
        .order(&rows, &mut entries, 0, &failed)
        .map_err(corrupt)?;
    if let Some(e) = failed.into_inner() {
        return Err(corrupt(e));
    }
    Ok(entries.iter().map(|e| rows.at(e.row()) as u32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::columns::{ArrayView, IntType};

    fn offsets(strs: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let mut offs = vec![0i32];
        let mut data = Vec::new();
        for s in strs {
            data.extend_from_slice(s.as_bytes());
            offs.push(data.len() as i32);
        }
        (offs.iter().flat_map(|v| v.to_le_bytes()).collect(), data)
    }

    #[test]
    fn strings_longer_than_the_key_and_prefixes_order_by_their_bytes() {
        let long = "2001:0db8:85a3:0000:0000:8a2e:0370:733";
        let strs = [
            "10.0.0.9",
            "10.0.0.10",
            &format!("{long}5"),
            &format!("{long}4"),
            long,
            "",
        ];
        let (offs, data) = offsets(&strs);
        let values = Values::Str {
            wide: false,
            offsets: &offs,
            data: &data,
        };
        let col = ChunkedView::new(vec![ArrayView::new(6, 0, None, values).unwrap()]);
        let table = TableView::new(vec![col]).unwrap();
        let got = canonical_order(&table, Rows::Indices(&[0, 1, 2, 3, 4, 5, 1])).unwrap();
        assert_eq!(got, [5, 1, 1, 0, 4, 3, 2]);
    }

    #[test]
    fn nulls_sort_last_and_equal_rows_keep_their_order() {
        let data: Vec<u8> = [5i64, -7, 5, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bitmap = [0b0000_1101u8]; // row 1 is null
        let ty = IntType::parse("int64").unwrap();
        let values = Values::Int { ty, data: &data };
        let col = ChunkedView::new(vec![ArrayView::new(4, 0, Some(&bitmap), values).unwrap()]);
        let table = TableView::new(vec![col]).unwrap();
        assert_eq!(
            canonical_order(&table, Rows::Indices(&[2, 1, 0, 3])).unwrap(),
            [3, 2, 0, 1]
        );
        assert_eq!(
            canonical_order(&table, Rows::Range(0, 4)).unwrap(),
            [3, 0, 2, 1]
        );
        assert_eq!(
            canonical_order(&table, Rows::Range(0, 5)),
            Err(RenderError::BadRow(5))
        );
        assert_eq!(
            canonical_order(&table, Rows::Indices(&[0, 4])),
            Err(RenderError::BadRow(4))
        );
    }
}
