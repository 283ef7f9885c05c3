//! Byte-level formatting of single values: integers in decimal, the checks a flow-log text value
//! must pass, and JSON string escaping exactly as Python's `json.dumps` (ASCII output) does it.

/// Two decimal digits per entry, "00" to "99": halves the divisions of integer formatting.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Append `v` in decimal (no sign, no leading zeros; 0 is "0").
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Append `v` in decimal with a leading `-` when negative (i64::MIN included).
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
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

/// Whether `s` can be written verbatim as a value of a flow-log text line.
pub fn check_text_value(s: &[u8]) -> Result<(), TextRefusal> {
    if s.is_empty() {
        return Err(TextRefusal::Empty);
    }
    if s.iter().any(|&b| matches!(b, b' ' | b'"' | b'\n' | b'\r')) {
        return Err(TextRefusal::Structural);
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xf) as usize]);
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
pub fn push_json_string(out: &mut Vec<u8>, s: &[u8]) -> Result<(), std::str::Utf8Error> {
    out.push(b'"');
    if s.iter().all(|&b| verbatim(b)) {
        out.extend_from_slice(s);
    } else {
        push_json_escaped(out, std::str::from_utf8(s)?);
    }
    out.push(b'"');
    Ok(())
}

fn push_json_escaped(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        let cp = c as u32;
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            _ if cp < 0x80 && verbatim(cp as u8) => out.push(cp as u8),
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
        let mut out = Vec::new();
        push_i64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn json(s: &str) -> String {
        let mut out = Vec::new();
        push_json_string(&mut out, s.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
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
                let mut out = Vec::new();
                push_u64(&mut out, v);
                assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
            }
            p *= 10;
        }
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, b"18446744073709551615");
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
        let mut out = Vec::new();
        assert!(push_json_string(&mut out, b"a\xffb").is_err());
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
