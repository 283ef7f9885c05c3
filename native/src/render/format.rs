//! Byte-level formatting of single values: integers in decimal, the checks a flow-log text value
//! must pass, and JSON string escaping exactly as Python's `json.dumps` (ASCII output) does it.

/// Two decimal digits per entry, "00" to "99": halves the divisions of integer formatting.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// An output buffer written through a cursor: the bytes up to `pos` are the output, the rest is
/// room already allocated (and zeroed), so a value is written by indexing, without a call to
/// `memcpy` or a capacity check per byte (the renderer writes millions of short values).
pub struct Out<'v> {
    buf: &'v mut Vec<u8>,
    pos: usize,
}

impl<'v> Out<'v> {
    /// Appends to `buf` (its current bytes are kept).
    pub fn new(buf: &'v mut Vec<u8>) -> Self {
        let pos = buf.len();
        Out { buf, pos }
    }

    /// Overwrites `buf` from its start; its length (the room already zeroed) is kept for reuse
    /// and the bytes written end at `len()` (see `padded`).
    pub fn overwrite(buf: &'v mut Vec<u8>) -> Self {
        Out { buf, pos: 0 }
    }

    /// Leave at least 16 bytes of room after the bytes written, without cutting `buf` to them
    /// (a buffer reused by `overwrite`, read back through `short`).
    pub fn padded(mut self) {
        self.room(16);
    }

    /// Bytes written so far, `buf`'s earlier bytes included.
    pub fn len(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Make room for `n` more bytes.
    #[inline]
    fn room(&mut self, n: usize) {
        if self.pos + n > self.buf.len() {
            // the capacity already allocated first (a kept buffer), then doubling
            let want = (self.buf.len() * 2)
                .max(self.pos + n)
                .max(self.buf.capacity())
                .max(1 << 12);
            self.buf.resize(want, 0);
        }
    }

    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.room(1);
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    #[inline]
    pub fn bytes(&mut self, s: &[u8]) {
        self.room(s.len());
        self.buf[self.pos..self.pos + s.len()].copy_from_slice(s);
        self.pos += s.len();
    }

    /// `src[a..b]`, read as 16 bytes when it is that short (`src` must hold 16 bytes from `a`):
    /// a fixed-size copy is two moves, a variable one a call.
    #[inline]
    pub fn short(&mut self, src: &[u8], a: usize, b: usize) {
        let n = b - a;
        if n <= 16 {
            self.room(16);
            self.buf[self.pos..self.pos + 16].copy_from_slice(&src[a..a + 16]);
            self.pos += n;
        } else {
            self.bytes(&src[a..b]);
        }
    }

    /// `v` in decimal (no sign, no leading zeros; 0 is "0").
    #[inline]
    pub fn u64(&mut self, mut v: u64) {
        self.room(20);
        let digits = v.checked_ilog10().unwrap_or(0) as usize + 1;
        let mut at = self.pos + digits;
        self.pos = at;
        let buf = &mut self.buf[..at];
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            at -= 2;
            buf[at] = PAIRS[pair];
            buf[at + 1] = PAIRS[pair + 1];
        }
        if v >= 10 {
            let pair = v as usize * 2;
            buf[at - 2] = PAIRS[pair];
            buf[at - 1] = PAIRS[pair + 1];
        } else {
            buf[at - 1] = b'0' + v as u8;
        }
    }

    /// `v` in decimal with a leading `-` when negative (i64::MIN included).
    #[inline]
    pub fn i64(&mut self, v: i64) {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs());
    }

    /// Cut `buf` to the bytes written.
    pub fn finish(self) {
        self.buf.truncate(self.pos);
    }
}

/// Why a string cannot be a value of a flow-log text line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRefusal {
    /// It would read back as a doubled space (spec 1.1: a missing value is `-`).
    Empty,
    /// It holds a space, a double quote, `\n` or `\r`: the bytes Arrow's CSV writer with
    /// `quoting_style="none"` refuses (the renderer this one replaced refused them that way).
    Structural,
}

/// The bytes a text value may not hold: space, double quote, `\n`, `\r`.
static STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// Whether `s` can be written verbatim as a value of a flow-log text line.
pub fn check_text_value(s: &[u8]) -> Result<(), TextRefusal> {
    if s.is_empty() {
        return Err(TextRefusal::Empty);
    }
    // one table load per byte: cheaper than four comparisons on the millions of values rendered
    if s.iter().any(|&b| STRUCTURAL[b as usize]) {
        return Err(TextRefusal::Structural);
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut Out<'_>, unit: u32) {
    out.bytes(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.byte(HEX[((unit >> shift) & 0xf) as usize]);
    }
}

/// Whether Python's ASCII JSON encoder copies the byte as is: printable ASCII but `"` and `\`.
#[inline]
fn verbatim(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'
}

/// Append `s` (UTF-8) as a JSON string, quotes included, byte for byte as `json.dumps(s)`:
/// `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other controls and DEL as `\u00xx`, every non-ASCII
/// character as `\uxxxx` (lower-case hex), above U+FFFF as a UTF-16 surrogate pair.
/// Fails only when `s` is not UTF-8.
pub fn push_json_string(out: &mut Out<'_>, s: &[u8]) -> Result<(), std::str::Utf8Error> {
    out.byte(b'"');
    if s.iter().all(|&b| verbatim(b)) {
        out.bytes(s);
    } else {
        push_json_escaped(out, std::str::from_utf8(s)?);
    }
    out.byte(b'"');
    Ok(())
}

fn push_json_escaped(out: &mut Out<'_>, s: &str) {
    for c in s.chars() {
        let cp = c as u32;
        match c {
            '"' => out.bytes(b"\\\""),
            '\\' => out.bytes(b"\\\\"),
            '\n' => out.bytes(b"\\n"),
            '\r' => out.bytes(b"\\r"),
            '\t' => out.bytes(b"\\t"),
            '\u{8}' => out.bytes(b"\\b"),
            '\u{c}' => out.bytes(b"\\f"),
            _ if cp < 0x80 && verbatim(cp as u8) => out.byte(cp as u8),
            _ if cp > 0xffff => {
                let v = cp - 0x1_0000;
                push_u_escape(out, 0xd800 | (v >> 10));
                push_u_escape(out, 0xdc00 | (v & 0x3ff));
            }
            _ => push_u_escape(out, cp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> String {
        let mut buf = b"x".to_vec();
        let mut out = Out::new(&mut buf);
        out.i64(v);
        out.finish();
        String::from_utf8(buf[1..].to_vec()).unwrap()
    }

    fn uint(v: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut out = Out::new(&mut buf);
        out.u64(v);
        out.finish();
        buf
    }

    fn json(s: &str) -> String {
        let mut buf = Vec::new();
        let mut out = Out::new(&mut buf);
        push_json_string(&mut out, s.as_bytes()).unwrap();
        out.finish();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn integers_are_plain_decimal() {
        for v in [
            0i64,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65535,
            4_294_967_295,
            -1,
            -10,
            -100,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(int(v), v.to_string());
        }
        // every power of ten and its neighbours: the pair table's edges
        let mut p: u64 = 1;
        for _ in 0..19 {
            for v in [p - 1, p, p + 1] {
                assert_eq!(uint(v), v.to_string().into_bytes());
            }
            p *= 10;
        }
        assert_eq!(uint(u64::MAX), b"18446744073709551615");
    }

    #[test]
    fn json_escapes_as_python_does() {
        // expected texts are what Python 3's json.dumps prints for the same strings
        assert_eq!(json(""), r#""""#);
        assert_eq!(json("eni-0a1b"), r#""eni-0a1b""#);
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(json("\u{0}\u{1f}\u{7f}"), r#""\u0000\u001f\u007f""#);
        assert_eq!(json("é€"), r#""\u00e9\u20ac""#);
        assert_eq!(
            json("\u{10000}\u{1f600}\u{10ffff}"),
            r#""\ud800\udc00\ud83d\ude00\udbff\udfff""#
        );
        assert_eq!(json("~ !/"), r#""~ !/""#);
    }

    #[test]
    fn json_refuses_bytes_that_are_not_utf8() {
        let mut buf = Vec::new();
        assert!(push_json_string(&mut Out::new(&mut buf), b"a\xffb").is_err());
    }

    #[test]
    fn text_values_refused_as_the_csv_writer_did() {
        assert_eq!(check_text_value(b""), Err(TextRefusal::Empty));
        for bad in [&b"a b"[..], b"a\"b", b"a\nb", b"a\rb"] {
            assert_eq!(check_text_value(bad), Err(TextRefusal::Structural));
        }
        for ok in [&b"-"[..], b"a,b", b"a\tb", b"a'b", b"a\\b", b"a\x00b"] {
            assert_eq!(check_text_value(ok), Ok(()));
        }
    }
}
