//! The one protocol / port / ICMP / CIDR test shared by security-group rules and network-ACL entries.
//!
//! AWS semantics (docs/policy.md): protocol -1 matches every protocol, otherwise the number must be
//! equal (ICMP 1 never matches ICMPv6 58); TCP/UDP rules test the packet's DESTINATION port in both
//! directions; ICMP rules test type and code (-1 = any); a non-first fragment carries no ports and
//! matches any port or ICMP range (decided: the flow was judged on its first fragment).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::columns::vec1;

pub const PROTO_ALL: i16 = -1;
pub const ICMP: i16 = 1;
pub const TCP: i16 = 6;
pub const UDP: i16 = 17;
pub const ICMPV6: i16 = 58;

/// What a packet shows the rules at one observation point.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query {
    pub family: u8, // 4 or 6
    pub proto: i16,
    pub dport: i32,
    pub itype: i16,
    pub icode: i16,
    pub frag2: bool,
    /// The remote address (the peer of the rule): source for inbound, destination for outbound.
    pub hi: u64,
    pub lo: u64,
}

/// The match columns every compiled rule set starts with (``rules.MATCH_COLUMNS`` in Python).
#[derive(Clone, Debug, Default)]
pub struct MatchColumns {
    proto: Vec<i16>,
    port_lo: Vec<i32>,
    port_hi: Vec<i32>,
    icmp_type: Vec<i16>,
    icmp_code: Vec<i16>,
    family: Vec<u8>,
    net_hi: Vec<u64>,
    net_lo: Vec<u64>,
    mask_hi: Vec<u64>,
    mask_lo: Vec<u64>,
}

impl MatchColumns {
    pub fn from_dict(columns: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(MatchColumns {
            proto: vec1(columns, "proto")?,
            port_lo: vec1(columns, "port_lo")?,
            port_hi: vec1(columns, "port_hi")?,
            icmp_type: vec1(columns, "icmp_type")?,
            icmp_code: vec1(columns, "icmp_code")?,
            family: vec1(columns, "family")?,
            net_hi: vec1(columns, "net_hi")?,
            net_lo: vec1(columns, "net_lo")?,
            mask_hi: vec1(columns, "mask_hi")?,
            mask_lo: vec1(columns, "mask_lo")?,
        })
    }

    /// `n` rules of every protocol from 0.0.0.0/0 (IPv4). Tests only.
    #[cfg(test)]
    pub(crate) fn any_v4_for_tests(n: usize) -> Self {
        MatchColumns {
            proto: vec![PROTO_ALL; n],
            port_lo: vec![0; n],
            port_hi: vec![65535; n],
            icmp_type: vec![-1; n],
            icmp_code: vec![-1; n],
            family: vec![4; n],
            net_hi: vec![0; n],
            net_lo: vec![0xFFFF_0000_0000; n],
            mask_hi: vec![u64::MAX; n],
            mask_lo: vec![0xFFFF_FFFF_0000_0000; n],
        }
    }

    pub fn len(&self) -> usize {
        self.proto.len()
    }

    pub fn is_empty(&self) -> bool {
        self.proto.is_empty()
    }

    /// Rule `r`'s family (4, 6, or 0 for a security-group reference).
    pub fn family(&self, r: usize) -> u8 {
        self.family[r]
    }

    /// Whether rule `r`'s protocol and port / ICMP range admit the packet.
    #[inline]
    pub fn service_matches(&self, r: usize, q: &Query) -> bool {
        let rp = self.proto[r];
        if rp == PROTO_ALL {
            return true;
        }
        if rp != q.proto {
            return false;
        }
        if q.frag2 {
            return true;
        }
        match q.proto {
            TCP | UDP => self.port_lo[r] <= q.dport && q.dport <= self.port_hi[r],
            ICMP | ICMPV6 => {
                let (t, c) = (self.icmp_type[r], self.icmp_code[r]);
                (t == -1 || t == q.itype) && (c == -1 || c == q.icode)
            }
            _ => true,
        }
    }

    /// Whether rule `r`'s CIDR (of the packet's family) contains the remote address.
    #[inline]
    pub fn cidr_matches(&self, r: usize, q: &Query) -> bool {
        self.family[r] == q.family
            && q.hi & self.mask_hi[r] == self.net_hi[r]
            && q.lo & self.mask_lo[r] == self.net_lo[r]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(proto: i16, lo: i32, hi: i32, t: i16, c: i16) -> MatchColumns {
        MatchColumns {
            proto: vec![proto],
            port_lo: vec![lo],
            port_hi: vec![hi],
            icmp_type: vec![t],
            icmp_code: vec![c],
            family: vec![4],
            net_hi: vec![0],
            net_lo: vec![0],
            mask_hi: vec![0],
            mask_lo: vec![0],
        }
    }

    #[test]
    fn ports_icmp_and_fragments() {
        let q = |proto, dport, itype, icode, frag2| Query {
            family: 4,
            proto,
            dport,
            itype,
            icode,
            frag2,
            hi: 0,
            lo: 0,
        };
        let tcp80 = one(TCP, 80, 80, -1, -1);
        assert!(tcp80.service_matches(0, &q(TCP, 80, -1, -1, false)));
        assert!(!tcp80.service_matches(0, &q(TCP, 81, -1, -1, false)));
        assert!(!tcp80.service_matches(0, &q(UDP, 80, -1, -1, false)));
        assert!(tcp80.service_matches(0, &q(TCP, 81, -1, -1, true)));
        let echo = one(ICMP, 0, 65535, 8, -1);
        assert!(echo.service_matches(0, &q(ICMP, 0, 8, 0, false)));
        assert!(!echo.service_matches(0, &q(ICMP, 0, 0, 0, false)));
        assert!(!echo.service_matches(0, &q(ICMPV6, 0, 8, 0, false)));
        assert!(one(PROTO_ALL, 0, 0, 0, 0).service_matches(0, &q(47, 0, -1, -1, false)));
    }
}
