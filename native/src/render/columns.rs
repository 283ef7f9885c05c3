//! Read-only views of Arrow arrays laid out in memory (validity bitmap, offsets, values), checked
//! once when built so that reading a cell never runs past a buffer.
//!
//! Kinds read: signed and unsigned integers of 8 to 64 bits, `string` / `large_string`, and
//! dictionaries whose indices are integers and whose values are any of these. Every array may be
//! a slice (an offset into its buffers) and a column may be chunked.

/// One value of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    UInt(u64),
    Str(&'a [u8]),
}

/// An integer element type: its width in bytes and whether it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntType {
    pub bytes: usize,
    pub signed: bool,
}

impl IntType {
    /// From Arrow's name for it ("int8" ... "uint64").
    pub fn parse(name: &str) -> Option<IntType> {
        let (signed, bits) = match name.strip_prefix('u') {
            Some(rest) => (false, rest.strip_prefix("int")?),
            None => (true, name.strip_prefix("int")?),
        };
        let bytes = match bits {
            "8" => 1,
            "16" => 2,
            "32" => 4,
            "64" => 8,
            _ => return None,
        };
        Some(IntType { bytes, signed })
    }

    /// Element `k` of little-endian `data` (the view checked that it is in range).
    #[inline(always)]
    pub(crate) fn read(self, data: &[u8], k: usize) -> Cell<'static> {
        let b = &data[k * self.bytes..(k + 1) * self.bytes];
        match (self.bytes, self.signed) {
            (1, true) => Cell::Int(b[0] as i8 as i64),
            (1, false) => Cell::UInt(b[0] as u64),
            (2, true) => Cell::Int(i16::from_le_bytes([b[0], b[1]]) as i64),
            (2, false) => Cell::UInt(u16::from_le_bytes([b[0], b[1]]) as u64),
            (4, true) => Cell::Int(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64),
            (4, false) => Cell::UInt(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64),
            (_, true) => Cell::Int(i64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
            (_, false) => Cell::UInt(u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
        }
    }
}

/// The values of an array, by kind.
#[derive(Debug)]
pub enum Values<'a> {
    Int {
        ty: IntType,
        data: &'a [u8],
    },
    /// `string` (4-byte offsets) or `large_string` (8-byte offsets).
    Str {
        wide: bool,
        offsets: &'a [u8],
        data: &'a [u8],
    },
    Dict {
        ty: IntType,
        indices: &'a [u8],
        dictionary: Box<ArrayView<'a>>,
    },
}

/// One Arrow array: `len` elements starting at element `offset` of its buffers.
#[derive(Debug)]
pub struct ArrayView<'a> {
    pub len: usize,
    pub offset: usize,
    pub validity: Option<&'a [u8]>,
    pub values: Values<'a>,
}

/// A cell that cannot be read: the buffers contradict each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

fn need(buf: &[u8], bytes: usize, what: &str) -> Result<(), Corrupt> {
    if buf.len() < bytes {
        return Err(Corrupt(format!(
            "the {what} buffer holds {} bytes, {bytes} needed",
            buf.len()
        )));
    }
    Ok(())
}

impl<'a> ArrayView<'a> {
    /// A view whose fixed-size buffers cover its elements (string data is checked per cell).
    pub fn new(
        len: usize,
        offset: usize,
        validity: Option<&'a [u8]>,
        values: Values<'a>,
    ) -> Result<Self, Corrupt> {
        let end = offset
            .checked_add(len)
            .ok_or_else(|| Corrupt("offset + length overflows".into()))?;
        if let Some(v) = validity {
            need(v, end.div_ceil(8), "validity")?;
        }
        match &values {
            Values::Int { ty, data } => need(data, end * ty.bytes, "values")?,
            Values::Str { wide, offsets, .. } => {
                need(offsets, (end + 1) * if *wide { 8 } else { 4 }, "offsets")?
            }
            Values::Dict { ty, indices, .. } => need(indices, end * ty.bytes, "indices")?,
        }
        Ok(ArrayView {
            len,
            offset,
            validity,
            values,
        })
    }

    fn offset_at(wide: bool, offsets: &[u8], k: usize) -> Result<usize, Corrupt> {
        let v = if wide {
            let b = &offsets[k * 8..k * 8 + 8];
            i64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
        } else {
            let b = &offsets[k * 4..k * 4 + 4];
            i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64
        };
        usize::try_from(v).map_err(|_| Corrupt(format!("negative string offset {v}")))
    }

    /// Element `i` (0 <= i < len) of the array.
    #[inline(always)]
    pub fn cell(&self, i: usize) -> Result<Cell<'a>, Corrupt> {
        let k = self.offset + i;
        if let Some(v) = self.validity {
            if v[k >> 3] & (1 << (k & 7)) == 0 {
                return Ok(Cell::Null);
            }
        }
        match &self.values {
            Values::Int { ty, data } => Ok(ty.read(data, k)),
            Values::Str {
                wide,
                offsets,
                data,
            } => {
                let a = Self::offset_at(*wide, offsets, k)?;
                let b = Self::offset_at(*wide, offsets, k + 1)?;
                data.get(a..b)
                    .map(Cell::Str)
                    .ok_or_else(|| Corrupt(format!("string offsets {a}..{b} outside the data")))
            }
            Values::Dict {
                ty,
                indices,
                dictionary,
            } => {
                let j = match ty.read(indices, k) {
                    Cell::Int(j) => usize::try_from(j).ok(),
                    Cell::UInt(j) => usize::try_from(j).ok(),
                    _ => None,
                };
                match j {
                    Some(j) if j < dictionary.len => dictionary.cell(j),
                    _ => Err(Corrupt("a dictionary index is out of range".into())),
                }
            }
        }
    }
}

/// A column: its chunks and where each starts among the column's rows (`starts[c]` to
/// `starts[c + 1]`).
#[derive(Debug)]
pub struct ChunkedView<'a> {
    pub chunks: Vec<ArrayView<'a>>,
    pub starts: Vec<usize>,
}

impl<'a> ChunkedView<'a> {
    pub fn new(chunks: Vec<ArrayView<'a>>) -> Self {
        let mut starts = Vec::with_capacity(chunks.len() + 1);
        let mut at = 0usize;
        starts.push(0);
        for c in &chunks {
            at += c.len;
            starts.push(at);
        }
        ChunkedView { chunks, starts }
    }

    pub fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The chunk holding `row` (< the column's length) and the row's index in it, starting the search
/// at `cursor` (the chunk of the previous row: consecutive rows mostly share one).
#[inline]
pub fn locate(starts: &[usize], cursor: &mut usize, row: usize) -> (usize, usize) {
    let c = *cursor;
    if c + 1 < starts.len() && starts[c] <= row && row < starts[c + 1] {
        return (c, row - starts[c]);
    }
    // the last chunk starting at or before `row`: empty chunks before it start there too
    let c = starts.partition_point(|&s| s <= row) - 1;
    *cursor = c;
    (c, row - starts[c])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(data: &[u8], len: usize, offset: usize) -> ArrayView<'_> {
        let ty = IntType::parse("int16").unwrap();
        ArrayView::new(len, offset, None, Values::Int { ty, data }).unwrap()
    }

    #[test]
    fn int_types_parse_by_arrow_name() {
        assert_eq!(
            IntType::parse("uint64"),
            Some(IntType {
                bytes: 8,
                signed: false
            })
        );
        assert_eq!(
            IntType::parse("int8"),
            Some(IntType {
                bytes: 1,
                signed: true
            })
        );
        assert_eq!(IntType::parse("int128"), None);
        assert_eq!(IntType::parse("string"), None);
    }

    #[test]
    fn a_slice_reads_from_its_offset_and_nulls_from_the_bitmap() {
        let data: Vec<u8> = [1i16, -2, 3, 4]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bitmap = [0b0000_1011u8];
        let v = ArrayView::new(
            3,
            1,
            Some(&bitmap),
            Values::Int {
                ty: IntType::parse("int16").unwrap(),
                data: &data,
            },
        )
        .unwrap();
        assert_eq!(v.cell(0), Ok(Cell::Int(-2)));
        assert_eq!(v.cell(1), Ok(Cell::Null));
        assert_eq!(v.cell(2), Ok(Cell::Int(4)));
    }

    #[test]
    fn short_buffers_are_refused_when_the_view_is_built() {
        let data = [0u8; 6];
        assert!(ArrayView::new(
            2,
            2,
            None,
            Values::Int {
                ty: IntType::parse("int16").unwrap(),
                data: &data
            }
        )
        .is_err());
        assert_eq!(ints(&data, 3, 0).len, 3);
    }

    #[test]
    fn string_offsets_outside_the_data_are_an_error_not_a_panic() {
        let offsets: Vec<u8> = [0i32, 2, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        let v = ArrayView::new(
            2,
            0,
            None,
            Values::Str {
                wide: false,
                offsets: &offsets,
                data: b"abcd",
            },
        )
        .unwrap();
        assert_eq!(v.cell(0), Ok(Cell::Str(b"ab")));
        assert!(v.cell(1).is_err());
    }

    #[test]
    fn rows_are_located_across_chunks_including_empty_ones() {
        let starts = [0, 2, 2, 5, 6];
        let mut cur = 0;
        let found: Vec<(usize, usize)> = (0..6).map(|r| locate(&starts, &mut cur, r)).collect();
        assert_eq!(found, [(0, 0), (0, 1), (2, 0), (2, 1), (2, 2), (3, 0)]);
        assert_eq!(locate(&starts, &mut cur, 1), (0, 1));
    }
}
