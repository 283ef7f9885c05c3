//! Rows of a table as lines: AWS text (values separated by one space, `-` for null) or JSON
//! objects (`json.dumps(row, separators=(",", ":"))`), each ending in `\n`.

use super::columns::{locate, Cell, ChunkedView, Corrupt};
use super::format::{check_text_value, push_i64, push_json_string, push_u64, TextRefusal};

/// Columns of equal length; the columns sharing one chunk layout locate a row once.
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

/// The rows to render: a range of the table, or rows by index (in that order).
#[derive(Debug, Clone, Copy)]
pub enum Rows<'r> {
    Range(usize, usize),
    Indices(&'r [i64]),
}

impl Rows<'_> {
    pub fn count(&self) -> usize {
        match self {
            Rows::Range(a, b) => b.saturating_sub(*a),
            Rows::Indices(ix) => ix.len(),
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

    pub fn num_rows(&self) -> usize {
        self.rows
    }

    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }

    /// Call `f` with the cells of every row of `rows`, in order.
    fn each_row(
        &self,
        rows: Rows<'_>,
        mut f: impl FnMut(&[Cell<'a>]) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        let mut cursors = vec![0usize; self.layouts.len()];
        let mut found = vec![(0usize, 0usize); self.layouts.len()];
        let mut cells = Vec::with_capacity(self.columns.len());
        let mut one = |row: usize| -> Result<(), RenderError> {
            for (l, starts) in self.layouts.iter().enumerate() {
                found[l] = locate(starts, &mut cursors[l], row);
            }
            cells.clear();
            for (c, col) in self.columns.iter().enumerate() {
                let (chunk, local) = found[self.layout_of[c]];
                let cell = col.chunks[chunk]
                    .cell(local)
                    .map_err(|Corrupt(m)| RenderError::Corrupt(c, m))?;
                cells.push(cell);
            }
            f(&cells)
        };
        match rows {
            Rows::Range(a, b) => {
                if a > b || b > self.rows {
                    return Err(RenderError::BadRow(b as i64));
                }
                (a..b).try_for_each(&mut one)
            }
            Rows::Indices(ix) => ix.iter().try_for_each(|&r| {
                if r < 0 || r as u64 >= self.rows as u64 {
                    return Err(RenderError::BadRow(r));
                }
                one(r as usize)
            }),
        }
    }

    /// The AWS text lines of `rows` appended to `out`. With `ends`, each line's end offset in
    /// `out` is pushed there and lines get no `\n` (CloudWatch Logs messages).
    pub fn text_lines(
        &self,
        rows: Rows<'_>,
        out: &mut Vec<u8>,
        mut ends: Option<&mut Vec<i64>>,
    ) -> Result<(), RenderError> {
        self.each_row(rows, |cells| {
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    out.push(b' ');
                }
                match *cell {
                    Cell::Null => out.push(b'-'),
                    Cell::Int(v) => push_i64(out, v),
                    Cell::UInt(v) => push_u64(out, v),
                    Cell::Str(s) => {
                        check_text_value(s)
                            .map_err(|why| RenderError::Refused(c, why, s.to_vec()))?;
                        out.extend_from_slice(s);
                    }
                }
            }
            match ends.as_deref_mut() {
                Some(e) => e.push(out.len() as i64),
                None => out.push(b'\n'),
            }
            Ok(())
        })
    }

    /// The JSON lines of `rows` appended to `out`: `prefixes[c]` (`{"name":` for the first
    /// column, `,"name":` after) before each value, `}` and `\n` after the last. A `raw` column
    /// holds JSON texts already and is copied verbatim.
    pub fn json_lines(
        &self,
        rows: Rows<'_>,
        prefixes: &[Vec<u8>],
        raw: &[bool],
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        self.each_row(rows, |cells| {
            for (c, cell) in cells.iter().enumerate() {
                out.extend_from_slice(&prefixes[c]);
                match *cell {
                    Cell::Null => out.extend_from_slice(b"null"),
                    Cell::Int(v) => push_i64(out, v),
                    Cell::UInt(v) => push_u64(out, v),
                    Cell::Str(s) if raw[c] => out.extend_from_slice(s),
                    Cell::Str(s) => push_json_string(out, s)
                        .map_err(|_| RenderError::Corrupt(c, "a string is not UTF-8".into()))?,
                }
            }
            out.extend_from_slice(b"}\n");
            Ok(())
        })
    }
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
        t.json_lines(Rows::Indices(&[2, 1]), &prefixes, &[false, false], &mut out)
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
