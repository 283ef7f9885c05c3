//! The packed aggregation key: named fields of key word 0 (ENI and window) and word 1 (meta).
//!
//! Key word 0 = ENI << `ENI_SHIFT` | window start (seconds, below 2**34: until the year 2514).
//! Key word 1 = direction | action | protocol | srcport | dstport | IPv6 | traffic-path + 1.
//! Python reads the same layout back (`aggregate/records.py`, the same names).

pub const ENI_SHIFT: u32 = 34;
pub const META_ACTION_SHIFT: u32 = 1;
pub const META_PROTO_SHIFT: u32 = 2;
pub const META_SPORT_SHIFT: u32 = 10;
pub const META_DPORT_SHIFT: u32 = 26;
pub const META_V6_SHIFT: u32 = 42;
pub const META_PATH_SHIFT: u32 = 43;

/// Key word 0 of an (ENI, window start) pair.
#[inline]
pub fn eni_window(eni: i64, window_start: i64) -> u64 {
    (eni as u64) << ENI_SHIFT | window_start as u64
}

/// Key word 1 of a row (traffic-path -1 means `-`).
#[inline]
pub fn meta(
    egress: u8,
    action: u8,
    proto: u8,
    sport: u16,
    dport: u16,
    v6: bool,
    path: Option<i8>,
) -> u64 {
    let mut m = egress as u64
        | (action as u64) << META_ACTION_SHIFT
        | (proto as u64) << META_PROTO_SHIFT
        | (sport as u64) << META_SPORT_SHIFT
        | (dport as u64) << META_DPORT_SHIFT
        | (v6 as u64) << META_V6_SHIFT;
    if let Some(p) = path {
        m |= ((p as i64 + 1) as u64) << META_PATH_SHIFT;
    }
    m
}

const FIN_SYN_RST: u8 = 0x07;
const SYN_ACK: u8 = 0x12;
const SYN_ACK_BIT: u8 = 0x10;
/// Internal: an impossible flag combination was seen; the record shows `-` (spec 1.4).
pub const INVALID_BIT: u8 = 0x80;

/// A packet's flags as flow logs count them (spec 1.4): FIN 1, SYN 2, RST 4 kept, SYN|ACK counts
/// 18, ACK/PSH/URG alone 0; SYN with FIN or RST marks the record's flags as not computable.
/// Non-TCP packets count 0.
#[inline]
pub fn map_tcp_flags(raw: u8, proto: u8) -> u8 {
    if proto != 6 {
        return 0;
    }
    let mut f = raw & FIN_SYN_RST;
    if raw & SYN_ACK == SYN_ACK {
        f |= SYN_ACK_BIT;
    }
    if raw & 0x03 == 0x03 || raw & 0x06 == 0x06 {
        f |= INVALID_BIT;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_spec_1_4() {
        assert_eq!(map_tcp_flags(0x02, 6), 2);
        assert_eq!(map_tcp_flags(0x12, 6), 18);
        assert_eq!(map_tcp_flags(0x10, 6), 0);
        assert_eq!(map_tcp_flags(0x11, 6), 1);
        assert_eq!(map_tcp_flags(0x03, 6) & INVALID_BIT, INVALID_BIT);
        assert_eq!(map_tcp_flags(0x02, 17), 0);
    }

    #[test]
    fn meta_fields_do_not_overlap() {
        let m = meta(1, 1, 0xFF, 0xFFFF, 0xFFFF, true, Some(7));
        assert_eq!(m & 1, 1);
        assert_eq!((m >> META_PROTO_SHIFT) & 0xFF, 0xFF);
        assert_eq!((m >> META_SPORT_SHIFT) & 0xFFFF, 0xFFFF);
        assert_eq!((m >> META_DPORT_SHIFT) & 0xFFFF, 0xFFFF);
        assert_eq!((m >> META_V6_SHIFT) & 1, 1);
        assert_eq!(m >> META_PATH_SHIFT, 8);
        assert_eq!(eni_window(3, 120) >> ENI_SHIFT, 3);
    }
}
