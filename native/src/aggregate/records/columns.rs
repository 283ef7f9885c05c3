//! The columns of a record table in Arrow's layout: values plus a validity bitmap (LSB first, a set
//! bit = a value, a clear bit = `-`), strings as i32 offsets plus UTF-8 bytes.
//!
//! Each field decodes one part of a row (`records.py` names the same fields): key word 1 gives
//! ports, protocol, action, type, flow direction and traffic path; the aggregates give packets,
//! bytes and TCP flags; the row gives start, end and log status; address key words give address
//! text (`addr.rs`). NODATA and SKIPDATA rows are `-` in every field they do not have.

use super::addr::push_address;
use super::{Rows, STATUS_NODATA, STATUS_OK};
use crate::aggregate::key::{
    INVALID_BIT, META_ACTION_SHIFT, META_DPORT_SHIFT, META_PATH_SHIFT, META_PROTO_SHIFT,
    META_SPORT_SHIFT, META_V6_SHIFT,
};

/// A validity bitmap under construction (bits gathered in a byte, stored every eighth row).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Validity {
    pub bits: Vec<u8>,
    pub nulls: usize,
    len: usize,
    cur: u8,
}

impl Validity {
    pub fn with_capacity(n: usize) -> Self {
        Validity {
            bits: Vec::with_capacity(n.div_ceil(8)),
            ..Validity::default()
        }
    }

    #[inline]
    pub fn push(&mut self, valid: bool) {
        self.cur |= (valid as u8) << (self.len % 8);
        self.nulls += !valid as usize;
        self.len += 1;
        if self.len.is_multiple_of(8) {
            self.bits.push(self.cur);
            self.cur = 0;
        }
    }

    /// The bitmap, its last byte included.
    pub fn finish(mut self) -> Self {
        if !self.len.is_multiple_of(8) {
            self.bits.push(self.cur);
            self.cur = 0;
        }
        self
    }
}

/// A string column: `offsets` (n + 1 of them) into `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrColumn {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
    pub validity: Validity,
}

impl StrColumn {
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        StrColumn {
            offsets,
            data: Vec::with_capacity(bytes),
            validity: Validity::with_capacity(n),
        }
    }

    /// Close the row just written (`valid` false: `-`, nothing written).
    #[inline]
    fn end_row(&mut self, valid: bool) -> Result<(), String> {
        let at = i32::try_from(self.data.len())
            .map_err(|_| "a string column of the record table exceeds 2 GiB".to_string())?;
        self.offsets.push(at);
        self.validity.push(valid);
        Ok(())
    }

    /// The column with its validity bitmap complete, its text buffer no larger than its text: the
    /// capacity guessed up front (15 bytes an address, most IPv4 addresses take 9 to 14) would
    /// otherwise be held with the records until their 5-minute group closes (issue 10).
    pub fn finish(mut self) -> Self {
        self.validity = self.validity.finish();
        self.data.shrink_to_fit();
        self
    }

    #[inline]
    pub fn push(&mut self, text: Option<&[u8]>) -> Result<(), String> {
        if let Some(t) = text {
            self.data.extend_from_slice(t);
        }
        self.end_row(text.is_some())
    }
}

/// A numeric column (`i32` or `i64`) with its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumColumn<T> {
    pub values: Vec<T>,
    pub validity: Validity,
}

/// One built column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    I32(NumColumn<i32>),
    I64(NumColumn<i64>),
    Str(StrColumn),
}

/// The closed rows' aggregates and key words the columns read (row-major keys, `width` words).
pub struct RowData<'a> {
    pub keys: &'a [u64],
    pub width: usize,
    pub packets: &'a [i64],
    pub bytes: &'a [i64],
    pub flags: &'a [u8],
}

impl RowData<'_> {
    #[inline]
    fn meta(&self, src: i64) -> Option<u64> {
        (src >= 0).then(|| self.keys[src as usize * self.width + 1])
    }
}

#[inline]
fn bits(meta: u64, shift: u32, mask: u64) -> i32 {
    ((meta >> shift) & mask) as i32
}

fn num<T: Copy + Default>(rows: &Rows, value: impl Fn(usize) -> Option<T>) -> NumColumn<T> {
    let n = rows.src.len();
    let mut values = Vec::with_capacity(n);
    let mut validity = Validity::with_capacity(n);
    for i in 0..n {
        let v = value(i);
        validity.push(v.is_some());
        values.push(v.unwrap_or_default());
    }
    NumColumn {
        values,
        validity: validity.finish(),
    }
}

fn text<'t>(
    rows: &Rows,
    width: usize,
    value: impl Fn(usize) -> Option<&'t [u8]>,
) -> Result<StrColumn, String> {
    let mut col = StrColumn::with_capacity(rows.src.len(), rows.src.len() * width);
    for i in 0..rows.src.len() {
        col.push(value(i))?;
    }
    Ok(col.finish())
}

/// A field decoded from key word 1 (`-` on NODATA/SKIPDATA rows); None: not such a field.
fn meta_column(name: &str, rows: &Rows, d: &RowData<'_>) -> Option<Result<Column, String>> {
    let m = |i: usize| d.meta(rows.src[i]);
    let field =
        |shift: u32, mask: u64| Column::I32(num(rows, |i| m(i).map(|v| bits(v, shift, mask))));
    let word = |shift: u32, one: &'static [u8], zero: &'static [u8]| {
        text(rows, 7, |i| {
            m(i).map(|v| if (v >> shift) & 1 == 1 { one } else { zero })
        })
    };
    Some(match name {
        "srcport" => Ok(field(META_SPORT_SHIFT, 0xFFFF)),
        "dstport" => Ok(field(META_DPORT_SHIFT, 0xFFFF)),
        "protocol" => Ok(field(META_PROTO_SHIFT, 0xFF)),
        "action" => word(META_ACTION_SHIFT, b"REJECT", b"ACCEPT").map(Column::Str),
        "type" => word(META_V6_SHIFT, b"IPv6", b"IPv4").map(Column::Str),
        "flow-direction" => word(0, b"egress", b"ingress").map(Column::Str),
        // stored + 1 so that 0 means `-` (no path known)
        "traffic-path" => Ok(Column::I32(num(rows, |i| {
            m(i).and_then(|v| {
                bits(v, META_PATH_SHIFT, 0xF)
                    .checked_sub(1)
                    .filter(|&p| p >= 0)
            })
        }))),
        _ => return None,
    })
}

/// Counts, times, status and TCP flags; None: not such a field.
fn row_column(name: &str, rows: &Rows, d: &RowData<'_>) -> Option<Result<Column, String>> {
    let src = |i: usize| (rows.src[i] >= 0).then_some(rows.src[i] as usize);
    Some(Ok(match name {
        "packets" => Column::I64(num(rows, |i| src(i).map(|r| d.packets[r]))),
        "bytes" => Column::I64(num(rows, |i| src(i).map(|r| d.bytes[r]))),
        "start" => Column::I64(num(rows, |i| Some(rows.start[i]))),
        "end" => Column::I64(num(rows, |i| Some(rows.end[i]))),
        "log-status" => {
            return Some(
                text(rows, 6, |i| {
                    Some(match rows.status[i] {
                        STATUS_OK => b"OK".as_slice(),
                        STATUS_NODATA => b"NODATA".as_slice(),
                        _ => b"SKIPDATA".as_slice(),
                    })
                })
                .map(Column::Str),
            )
        }
        // spec 1.4: FIN, SYN, RST and SYN-ACK (0x10); an impossible combination is `-`
        "tcp-flags" => Column::I32(num(rows, |i| {
            src(i)
                .map(|r| d.flags[r])
                .filter(|f| f & INVALID_BIT == 0)
                .map(|f| (f & 0x17) as i32)
        })),
        _ => return None,
    }))
}

/// Address text of key words `word`, `word + 1` (`-` on NODATA/SKIPDATA rows).
pub fn address_column(rows: &[i64], d: &RowData<'_>, word: usize) -> Result<StrColumn, String> {
    let mut col = StrColumn::with_capacity(rows.len(), rows.len() * 15);
    for &src in rows {
        let valid = src >= 0;
        if valid {
            let at = src as usize * d.width + word;
            push_address(&mut col.data, d.keys[at], d.keys[at + 1]);
        }
        col.end_row(valid)?;
    }
    Ok(col.finish())
}

/// The column of a format field this module builds; Ok(None): a field it does not build.
pub fn column(name: &str, rows: &Rows, d: &RowData<'_>) -> Result<Option<Column>, String> {
    if let Some(c) = meta_column(name, rows, d) {
        return c.map(Some);
    }
    if let Some(c) = row_column(name, rows, d) {
        return c.map(Some);
    }
    Ok(None)
}

/// The REJECT side channel's rows: for every OK record whose action is REJECT, its position in the
/// table (`records.py` `_rejects` builds the table from these and the columns below).
pub fn reject_positions(rows: &Rows, d: &RowData<'_>) -> Vec<i64> {
    (0..rows.src.len())
        .filter(|&i| {
            d.meta(rows.src[i])
                .is_some_and(|m| (m >> META_ACTION_SHIFT) & 1 == 1)
        })
        .map(|i| i as i64)
        .collect()
}

/// `rows` restricted to the positions `at` (the side channel's rows).
pub fn subset(rows: &Rows, at: &[i64]) -> Rows {
    let pick = |v: &Vec<i64>| at.iter().map(|&i| v[i as usize]).collect::<Vec<i64>>();
    Rows {
        src: pick(&rows.src),
        eni: pick(&rows.eni),
        start: pick(&rows.start),
        end: pick(&rows.end),
        status: at.iter().map(|&i| rows.status[i as usize]).collect(),
        ok: at.len(),
        ..Rows::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::key::meta;

    fn rows(src: Vec<i64>) -> Rows {
        let n = src.len();
        Rows {
            status: src.iter().map(|&s| if s >= 0 { 0 } else { 1 }).collect(),
            src,
            eni: vec![0; n],
            start: (0..n as i64).collect(),
            end: (10..10 + n as i64).collect(),
            ..Rows::default()
        }
    }

    fn strings(c: &StrColumn) -> Vec<Option<String>> {
        (0..c.offsets.len() - 1)
            .map(|i| {
                let valid = c.validity.bits[i / 8] >> (i % 8) & 1 == 1;
                let s = &c.data[c.offsets[i] as usize..c.offsets[i + 1] as usize];
                valid.then(|| String::from_utf8(s.to_vec()).unwrap())
            })
            .collect()
    }

    #[test]
    fn decodes_key_word_1_and_dashes_window_rows() {
        let keys = [
            0,
            meta(1, 1, 6, 443, 51000, true, Some(2)),
            0,
            meta(0, 0, 17, 53, 5353, false, None),
        ];
        let d = RowData {
            keys: &keys,
            width: 2,
            packets: &[3, 4],
            bytes: &[300, 400],
            flags: &[0x12 | 0x01, 0x80 | 0x02],
        };
        let r = rows(vec![1, -1, 0]);
        let get = |name: &str| column(name, &r, &d).unwrap().unwrap();
        let Column::I32(sport) = get("srcport") else {
            panic!()
        };
        assert_eq!(sport.values, vec![53, 0, 443]);
        assert_eq!(
            (sport.validity.bits.clone(), sport.validity.nulls),
            (vec![0b101], 1)
        );
        let Column::Str(action) = get("action") else {
            panic!()
        };
        assert_eq!(
            strings(&action),
            vec![Some("ACCEPT".into()), None, Some("REJECT".into())]
        );
        let Column::Str(dir) = get("flow-direction") else {
            panic!()
        };
        assert_eq!(
            strings(&dir),
            vec![Some("ingress".into()), None, Some("egress".into())]
        );
        let Column::I32(path) = get("traffic-path") else {
            panic!()
        };
        assert_eq!((path.values[2], path.validity.bits[0]), (2, 0b100));
        let Column::I32(flags) = get("tcp-flags") else {
            panic!()
        };
        assert_eq!((flags.values[2], flags.validity.bits[0]), (0x13, 0b100));
        let Column::Str(status) = get("log-status") else {
            panic!()
        };
        assert_eq!(strings(&status)[1].as_deref(), Some("NODATA"));
        assert!(column("account-id", &r, &d).unwrap().is_none());
        assert_eq!(reject_positions(&r, &d), vec![2]);
    }

    #[test]
    fn validity_bitmaps_are_lsb_first_with_a_partial_last_byte() {
        for n in [0usize, 1, 7, 8, 9, 16, 17] {
            let mut v = Validity::with_capacity(n);
            for i in 0..n {
                v.push(i % 3 != 1);
            }
            let v = v.finish();
            assert_eq!(v.bits.len(), n.div_ceil(8));
            assert_eq!(v.nulls, (0..n).filter(|i| i % 3 == 1).count());
            for i in 0..n {
                assert_eq!(
                    v.bits[i / 8] >> (i % 8) & 1 == 1,
                    i % 3 != 1,
                    "n {n} row {i}"
                );
            }
        }
    }
}
