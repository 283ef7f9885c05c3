//! Rows of a table as lines: AWS text (values separated by one space, `-` for null) or JSON
//! objects (`json.dumps(row, separators=(",", ":"))`), each ending in `\n`.

use super::columns::{locate, Cell, ChunkedView, Corrupt};
use super::format::{check_text_value, push_json_string, Out, TextRefusal};

/// Columns of equal length; the columns sharing one chunk layout (usually all) locate a row's
/// chunk once, not once per column.
pub struct TableView<'a> {
    columns: Vec<ChunkedView<'a>>,
    layout_of: Vec<usize>,
    layouts: Vec<Vec<usize>>,
    rows: usize,
}

/// Why rendering stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// Column `.0`'s value `.2` cannot be written in a text line.
    Refused(usize, TextRefusal, Vec<u8>),
    /// Column `.0`'s buffers contradict each other.
    Corrupt(usize, String),
    /// A row index outside the table.
    BadRow(i64),
    /// The columns differ in length.
    Lengths,
}

/// The rows to render or sort: a range of the table, or rows by index (in that order).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'r> {
    Range(usize, usize),
    Indices(&'r [i64]),
    /// 32-bit indexes: the canonical order of a closed group (`order.rs`).
    Indices32(&'r [u32]),
}

impl Rows<'_> {
    pub fn count(&self) -> usize {
        match self {
            Rows::Range(a, b) => b.saturating_sub(*a),
            Rows::Indices(ix) => ix.len(),
            Rows::Indices32(ix) => ix.len(),
        }
    }

    /// The table row at position `k` (a position below `count`; an index `check_rows` passed).
    #[inline(always)]
    pub fn at(&self, k: usize) -> usize {
        match self {
            Rows::Range(a, _) => a + k,
            Rows::Indices(ix) => ix[k] as usize,
            Rows::Indices32(ix) => ix[k] as usize,
        }
    }
}

impl<'a> TableView<'a> {
    pub fn new(columns: Vec<ChunkedView<'a>>) -> Result<Self, RenderError> {
        let rows = columns.first().map_or(0, |c| c.len());
        if columns.iter().any(|c| c.len() != rows) {
            return Err(RenderError::Lengths);
        }
        let mut layouts: Vec<Vec<usize>> = Vec::new();
        let mut layout_of = Vec::with_capacity(columns.len());
        for c in &columns {
            let at = match layouts.iter().position(|l| *l == c.starts) {
                Some(at) => at,
                None => {
                    layouts.push(c.starts.clone());
                    layouts.len() - 1
                }
            };
            layout_of.push(at);
        }
        Ok(TableView {
            columns,
            layout_of,
            layouts,
            rows,
        })
    }

    /// Where rows `rows[lo..hi]` lie in the chunks of layout `l`: (chunk, index in it) per row.
    fn locate_batch(
        &self,
        l: usize,
        rows: Rows<'_>,
        (lo, hi): (usize, usize),
        into: &mut Vec<(usize, usize)>,
    ) {
        let starts = &self.layouts[l];
        into.clear();
        let mut cursor = 0;
        for k in lo..hi {
            into.push(locate(starts, &mut cursor, rows.at(k))); // checked by check_rows
        }
    }

    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The columns, in table order.
    pub fn columns(&self) -> &[ChunkedView<'a>] {
        &self.columns
    }

    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }

    /// Fail on a row of `rows` outside the table (before anything is rendered or sorted).
    pub(super) fn check_rows(&self, rows: Rows<'_>) -> Result<(), RenderError> {
        match rows {
            Rows::Range(a, b) if a > b || b > self.rows => Err(RenderError::BadRow(b as i64)),
            Rows::Range(..) => Ok(()),
            Rows::Indices(ix) => {
                match ix.iter().find(|&&r| r < 0 || r as u64 >= self.rows as u64) {
                    Some(&r) => Err(RenderError::BadRow(r)),
                    None => Ok(()),
                }
            }
            Rows::Indices32(ix) => match ix.iter().find(|&&r| r as usize >= self.rows) {
                Some(&r) => Err(RenderError::BadRow(r as i64)),
                None => Ok(()),
            },
        }
    }

    /// The text of column `c`'s value in the rows at `at` (chunk, index), one after the other,
    /// each formatted by `put`; `into.ends[k]` is where value `k` ends. Padded with 16 bytes for
    /// `Out::short`.
    fn column_text(
        &self,
        c: usize,
        at: &[(usize, usize)],
        cells: &mut Vec<Cell<'a>>,
        into: &mut ColumnText,
        mut put: impl FnMut(Cell<'a>, &mut Out<'_>) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        let col = &self.columns[c];
        // Read the cells first, format them after: rows in another order than the table's (a
        // sorted selection) miss the cache on nearly every cell, and a loop that only reads keeps
        // many of those misses in flight at once.
        cells.clear();
        for &(chunk, local) in at {
            let cell = col.chunks[chunk]
                .cell(local)
                .map_err(|Corrupt(m)| RenderError::Corrupt(c, m))?;
            cells.push(cell);
        }
        into.ends.clear();
        let mut out = Out::overwrite(&mut into.bytes);
        for &cell in cells.iter() {
            put(cell, &mut out)?;
            into.ends.push(out.len() as u32);
        }
        out.padded();
        Ok(())
    }

    /// Render `rows` a batch at a time: every column's values (`put`), then row by row each
    /// column's text after `before[c]`, and `after` (or, with `ends`, the line's end offset).
    fn render(
        &self,
        rows: Rows<'_>,
        buf: &mut Vec<u8>,
        before: &[&[u8]],
        after: &[u8],
        mut ends: Option<&mut Vec<i64>>,
        put: impl Fn(usize, Cell<'a>, &mut Out<'_>) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        self.check_rows(rows)?;
        let mut cols: Vec<ColumnText> = (0..self.columns.len())
            .map(|_| ColumnText::default())
            .collect();
        let mut at = vec![0usize; self.columns.len()];
        let mut places: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.layouts.len()];
        let mut cells = Vec::with_capacity(BATCH_ROWS);
        let count = rows.count();
        let mut out = Out::new(buf);
        for lo in (0..count).step_by(BATCH_ROWS) {
            let hi = (lo + BATCH_ROWS).min(count);
            for (l, into) in places.iter_mut().enumerate() {
                self.locate_batch(l, rows, (lo, hi), into);
            }
            for (c, into) in cols.iter_mut().enumerate() {
                let here = &places[self.layout_of[c]];
                self.column_text(c, here, &mut cells, into, |cell, out| put(c, cell, out))?;
            }
            at.fill(0);
            for k in 0..hi - lo {
                for (c, col) in cols.iter().enumerate() {
                    match before[c] {
                        [] => {}
                        [b] => out.byte(*b),
                        sep => out.bytes(sep),
                    }
                    let end = col.ends[k] as usize;
                    out.short(&col.bytes, at[c], end);
                    at[c] = end;
                }
                match ends.as_deref_mut() {
                    Some(e) => e.push(out.len() as i64),
                    None => out.bytes(after),
                }
            }
        }
        out.finish();
        Ok(())
    }

    /// The AWS text lines of `rows` appended to `buf`. With `ends`, each line's end offset in
    /// `buf` is pushed there and lines get no `\n` (CloudWatch Logs messages).
    pub fn text_lines(
        &self,
        rows: Rows<'_>,
        buf: &mut Vec<u8>,
        ends: Option<&mut Vec<i64>>,
    ) -> Result<(), RenderError> {
        let mut before: Vec<&[u8]> = vec![b" "; self.columns.len()];
        if let Some(first) = before.first_mut() {
            *first = b"";
        }
        self.render(rows, buf, &before, b"\n", ends, |c, cell, out| {
            match cell {
                Cell::Null => out.byte(b'-'),
                Cell::Int(v) => out.i64(v),
                Cell::UInt(v) => out.u64(v),
                Cell::Str(s) => {
                    check_text_value(s).map_err(|why| RenderError::Refused(c, why, s.to_vec()))?;
                    out.bytes(s);
                }
            }
            Ok(())
        })
    }

    /// The JSON lines of `rows` appended to `buf`: `prefixes[c]` (`{"name":` for the first
    /// column, `,"name":` after) before each value, `}` and `\n` after the last. A `raw` column
    /// holds JSON texts already and is copied verbatim.
    pub fn json_lines(
        &self,
        rows: Rows<'_>,
        prefixes: &[Vec<u8>],
        raw: &[bool],
        buf: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        let before: Vec<&[u8]> = prefixes.iter().map(|p| p.as_slice()).collect();
        self.render(rows, buf, &before, b"}\n", None, |c, cell, out| {
            match cell {
                Cell::Null => out.bytes(b"null"),
                Cell::Int(v) => out.i64(v),
                Cell::UInt(v) => out.u64(v),
                Cell::Str(s) if raw[c] => out.bytes(s),
                Cell::Str(s) => push_json_string(out, s)
                    .map_err(|_| RenderError::Corrupt(c, "a string is not UTF-8".into()))?,
            }
            Ok(())
        })
    }
}

/// Rows rendered column by column at a time: the column texts of a batch stay in cache while
/// they are interleaved into lines.
const BATCH_ROWS: usize = 2048;

/// One column's values of a batch, as text.
#[derive(Default)]
struct ColumnText {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::columns::{ArrayView, IntType, Values};

    fn le32(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn rows_render_by_range_and_by_index_across_chunks() {
        let a = le32(&[1, 2]);
        let b = le32(&[3, -4, 5]);
        let offs = le32(&[0, 1, 3, 3, 6, 7]);
        let ty = IntType::parse("int32").unwrap();
        let bitmap = [0b1111_1011u8]; // row 2 (the empty string) is null
        let ints = ChunkedView::new(vec![
            ArrayView::new(2, 0, None, Values::Int { ty, data: &a }).unwrap(),
            ArrayView::new(3, 0, None, Values::Int { ty, data: &b }).unwrap(),
        ]);
        let strs = ChunkedView::new(vec![ArrayView::new(
            5,
            0,
            Some(&bitmap),
            Values::Str {
                wide: false,
                offsets: &offs,
                data: b"abcdefg",
            },
        )
        .unwrap()]);
        let t = TableView::new(vec![ints, strs]).unwrap();
        let mut out = Vec::new();
        t.text_lines(Rows::Range(0, 5), &mut out, None).unwrap();
        assert_eq!(out, b"1 a\n2 bc\n3 -\n-4 def\n5 g\n");
        out.clear();
        t.text_lines(Rows::Indices(&[4, 0, 3]), &mut out, None)
            .unwrap();
        assert_eq!(out, b"5 g\n1 a\n-4 def\n");
        out.clear();
        let prefixes = [b"{\"n\":".to_vec(), b",\"s\":".to_vec()];
        t.json_lines(
            Rows::Indices32(&[2, 1]),
            &prefixes,
            &[false, false],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"{\"n\":3,\"s\":null}\n{\"n\":2,\"s\":\"bc\"}\n");
        assert_eq!(
            t.text_lines(Rows::Indices(&[5]), &mut out, None),
            Err(RenderError::BadRow(5))
        );
    }

    #[test]
    fn a_value_with_a_space_is_refused_naming_its_column() {
        let offs = le32(&[0, 3]);
        let strs = ChunkedView::new(vec![ArrayView::new(
            1,
            0,
            None,
            Values::Str {
                wide: false,
                offsets: &offs,
                data: b"a b",
            },
        )
        .unwrap()]);
        let t = TableView::new(vec![strs]).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            t.text_lines(Rows::Range(0, 1), &mut out, None),
            Err(RenderError::Refused(
                0,
                TextRefusal::Structural,
                b"a b".to_vec()
            ))
        );
    }
}
