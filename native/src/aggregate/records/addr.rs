//! Address text of flow records: IPv4 dotted quads and RFC 5952 IPv6, written into a byte buffer.
//!
//! Addresses are 128-bit pairs (`hi`, `lo`) with IPv4 mapped into `::ffff:0:0/96`; a mapped address
//! is written dotted (`10.0.0.62`, spec 1.1), every other one as RFC 5952 text: lower case, leading
//! zeros dropped, the longest run of two or more zero groups written `::` (the leftmost of equal
//! runs), a single zero group written `0`. This is what Python's `ipaddress` prints, which the
//! tests' oracle (`codecs/addresses.py` before the native core) used.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The longest address text: eight groups of four hex digits and seven colons.
pub const MAX_LEN: usize = 39;

/// A stack buffer one address is written into (no capacity check per byte), then copied out once.
struct Text {
    buf: [u8; MAX_LEN + 1],
    len: usize,
}

impl Text {
    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }
}

/// Is the pair an IPv4 address mapped into `::ffff:0:0/96`?
#[inline]
pub fn is_v4_mapped(hi: u64, lo: u64) -> bool {
    hi == 0 && lo >> 32 == 0xFFFF
}

/// Decimal text of every octet: (length, digits).
const OCTETS: [(u8, [u8; 3]); 256] = {
    let mut t = [(0u8, [0u8; 3]); 256];
    let mut v = 0;
    while v < 256 {
        let (h, d, u) = ((v / 100) as u8, ((v / 10) % 10) as u8, (v % 10) as u8);
        t[v] = if v >= 100 {
            (3, [b'0' + h, b'0' + d, b'0' + u])
        } else if v >= 10 {
            (2, [b'0' + d, b'0' + u, 0])
        } else {
            (1, [b'0' + u, 0, 0])
        };
        v += 1;
    }
    t
};

#[inline]
fn push_decimal_u8(out: &mut Text, v: u8) {
    let (len, digits) = OCTETS[v as usize];
    out.buf[out.len..out.len + 3].copy_from_slice(&digits);
    out.len += len as usize;
}

#[inline]
fn push_hex_group(out: &mut Text, g: u16) {
    let mut started = false;
    for shift in [12u32, 8, 4, 0] {
        let d = ((g >> shift) & 0xF) as usize;
        if d != 0 || started || shift == 0 {
            out.push(HEX[d]);
            started = true;
        }
    }
}

/// The longest run of two or more zero groups, leftmost on a tie: (first group, length).
fn zero_run(groups: &[u16; 8]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        if groups[i] != 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < 8 && groups[i] == 0 {
            i += 1;
        }
        let len = i - start;
        if len >= 2 && best.is_none_or(|(_, l)| len > l) {
            best = Some((start, len));
        }
    }
    best
}

fn push_groups(out: &mut Text, groups: &[u16]) {
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        push_hex_group(out, g);
    }
}

/// Append the record text of one address to `out`.
pub fn push_address(out: &mut Vec<u8>, hi: u64, lo: u64) {
    let mut t = Text {
        buf: [0; MAX_LEN + 1],
        len: 0,
    };
    write_address(&mut t, hi, lo);
    out.extend_from_slice(&t.buf[..t.len]);
}

fn write_address(out: &mut Text, hi: u64, lo: u64) {
    if is_v4_mapped(hi, lo) {
        let v = lo as u32;
        for (i, shift) in [24u32, 16, 8, 0].into_iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            push_decimal_u8(out, (v >> shift) as u8);
        }
        return;
    }
    let mut groups = [0u16; 8];
    for (i, g) in groups.iter_mut().enumerate() {
        let word = if i < 4 { hi } else { lo };
        *g = (word >> (48 - 16 * (i % 4))) as u16;
    }
    match zero_run(&groups) {
        None => push_groups(out, &groups),
        Some((start, len)) => {
            push_groups(out, &groups[..start]);
            out.push(b':');
            out.push(b':');
            push_groups(out, &groups[start + len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: u128) -> String {
        let mut out = Vec::new();
        push_address(&mut out, (v >> 64) as u64, v as u64);
        String::from_utf8(out).unwrap()
    }

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<std::net::Ipv6Addr>().unwrap())
    }

    #[test]
    fn ipv4_mapped_is_dotted() {
        assert_eq!(text(0xFFFF_0A00_003E), "10.0.0.62");
        assert_eq!(text(0xFFFF_0000_0000), "0.0.0.0");
        assert_eq!(text(0xFFFF_FFFF_FFFF), "255.255.255.255");
        assert_eq!(text(0xFFFF_6401_0A09), "100.1.10.9");
    }

    #[test]
    fn zero_runs_compress_as_rfc_5952() {
        assert_eq!(text(0), "::");
        assert_eq!(text(1), "::1");
        assert_eq!(text(v6("1::")), "1::");
        assert_eq!(text(v6("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1"); // equal runs: leftmost
        assert_eq!(text(v6("2001:db8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1"); // one zero group stays
        assert_eq!(text(v6("2001:db8:0:0:1:0:0:0")), "2001:db8:0:0:1::"); // the longer run wins
        assert_eq!(text(v6("0:0:1:0:0:0:1:0")), "0:0:1::1:0");
        assert_eq!(text(v6("FE80::ABCD:00EF")), "fe80::abcd:ef");
        assert_eq!(
            text(v6("2001:db8:1234:a100:8d6e:3477:df66:f105")),
            "2001:db8:1234:a100:8d6e:3477:df66:f105"
        );
    }

    #[test]
    fn other_embedded_ipv4_forms_are_hex() {
        // Only ::ffff:0:0/96 is IPv4; IPv4-compatible and NAT64 addresses are IPv6 text.
        assert_eq!(text(0x0102_0304), "::102:304");
        assert_eq!(text(0x0001_FFFF_0102_0304), "::1:ffff:102:304");
        assert_eq!(text(v6("64:ff9b::a00:1")), "64:ff9b::a00:1");
        assert_eq!(text(v6("::ffff:0:0") - 1), "::fffe:ffff:ffff");
    }

    #[test]
    fn agrees_with_the_standard_library_on_many_values() {
        // std's Display follows RFC 5952 too, except for the IPv4 forms it prints dotted.
        let mut x: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15)
                .wrapping_add(1);
            // zero some groups so runs occur
            let mask_bits = (x >> 120) as u8;
            let mut v = x;
            for g in 0..8 {
                if mask_bits & (1 << g) != 0 {
                    v &= !(0xFFFFu128 << (16 * g));
                }
            }
            let ip = std::net::Ipv6Addr::from(v);
            if ip.to_ipv4().is_some() {
                continue; // std prints ::a.b.c.d and ::ffff:a.b.c.d dotted
            }
            assert_eq!(text(v), ip.to_string(), "{v:#x}");
        }
    }
}
