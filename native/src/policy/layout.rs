//! Packed layouts of the policy engine, one named constant per field (no bare shifts elsewhere).
//!
//! * the flow key (6 words): what makes two packets the same flow for attribution and rules;
//! * the point row (8 words, one cache line): the per (flow, observation point) input of the
//!   connection-tracking pass, with the stateless decisions precomputed;
//! * the connection-tracking slot (8 words): key, last packet time, state, opening rule.

/// Words of a flow key: [label/proto/fragment, ports/ICMP, src hi, src lo, dst hi, dst lo].
pub const FLOW_KEY_WIDTH: usize = 6;
const FLOW_LABEL_SHIFT: u32 = 48; // word 0: capture ENI + 1 (0 = unlabelled)
const FLOW_PROTO_SHIFT: u32 = 40; // word 0: IP protocol
const FLOW_FRAG2_SHIFT: u32 = 39; // word 0: a non-first fragment (no ports)
const FLOW_SPORT_SHIFT: u32 = 48; // word 1: source port
const FLOW_DPORT_SHIFT: u32 = 32; // word 1: destination port
const FLOW_ITYPE_SHIFT: u32 = 16; // word 1: ICMP type + 1 (0 = none), then ICMP code + 1 in the low bits

/// The packet columns a flow key is made of.
pub struct FlowFields<'a> {
    pub label: &'a [i32],
    pub proto: &'a [u8],
    pub frag2: &'a [bool],
    pub sport: &'a [u16],
    pub dport: &'a [u16],
    pub itype: &'a [i16],
    pub icode: &'a [i16],
    pub s_hi: &'a [u64],
    pub s_lo: &'a [u64],
    pub d_hi: &'a [u64],
    pub d_lo: &'a [u64],
}

impl FlowFields<'_> {
    pub fn len(&self) -> usize {
        self.label.len()
    }

    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    pub fn lengths(&self) -> [usize; 11] {
        [
            self.label.len(),
            self.proto.len(),
            self.frag2.len(),
            self.sport.len(),
            self.dport.len(),
            self.itype.len(),
            self.icode.len(),
            self.s_hi.len(),
            self.s_lo.len(),
            self.d_hi.len(),
            self.d_lo.len(),
        ]
    }
}

/// The flow key of packet `i`.
#[inline]
pub fn flow_words(p: &FlowFields<'_>, i: usize) -> [u64; FLOW_KEY_WIDTH] {
    let k0 = ((p.label[i] as i64 + 1) as u64) << FLOW_LABEL_SHIFT
        | (p.proto[i] as u64) << FLOW_PROTO_SHIFT
        | (p.frag2[i] as u64) << FLOW_FRAG2_SHIFT;
    let k1 = (p.sport[i] as u64) << FLOW_SPORT_SHIFT
        | (p.dport[i] as u64) << FLOW_DPORT_SHIFT
        | (((p.itype[i] as i64 + 1) as u64) & 0xFFFF) << FLOW_ITYPE_SHIFT
        | (((p.icode[i] as i64 + 1) as u64) & 0xFFFF);
    [k0, k1, p.s_hi[i], p.s_lo[i], p.d_hi[i], p.d_lo[i]]
}

// ---------------------------------------------------------------------------------- point rows
/// Words of a point row.
pub const POINT_WIDTH: usize = 8;
/// Word 0: the ENI index in the low 32 bits (all ones: no point), then flag bits.
pub const PT_FLAGS: usize = 0;
/// Word 1: security-group rule + 1 (low 32 bits) and network-ACL rule + 1 (high 32 bits); 0 = none.
pub const PT_RULES: usize = 1;
/// Word 2: local port << 16 | remote port (TCP/UDP; 0 otherwise).
pub const PT_PORTS: usize = 2;
/// Words 3-6: local address hi/lo, remote address hi/lo.
pub const PT_LOCAL_HI: usize = 3;
pub const PT_REMOTE_LO: usize = 6;
/// Word 7: the cached connection-tracking slot, `NO_SLOT` when unknown.
pub const PT_SLOT: usize = 7;
pub const NO_SLOT: u64 = u64::MAX;
pub const NO_ENI: u64 = 0xFFFF_FFFF;
const PT_DIR_BIT: u32 = 32;
const PT_UNTRACKED_BIT: u32 = 33;
const PT_NACL_OK_BIT: u32 = 34;
const PT_HAS_SG_BIT: u32 = 35;
const PT_NACL_RULE_SHIFT: u32 = 32;
const PT_LOCAL_PORT_SHIFT: u32 = 16;

/// One observation point's precomputed inputs, before packing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    pub eni: i32,
    pub egress: bool,
    pub untracked: bool,
    pub nacl_ok: bool,
    pub has_sg: bool,
    pub sg_rule: i32,
    pub nacl_rule: i32,
    pub local_port: u16,
    pub remote_port: u16,
    pub local: (u64, u64),
    pub remote: (u64, u64),
}

impl Point {
    pub fn pack(&self) -> [u64; POINT_WIDTH] {
        let flags = (self.eni as u32 as u64)
            | (self.egress as u64) << PT_DIR_BIT
            | (self.untracked as u64) << PT_UNTRACKED_BIT
            | (self.nacl_ok as u64) << PT_NACL_OK_BIT
            | (self.has_sg as u64) << PT_HAS_SG_BIT;
        let rules = ((self.sg_rule as i64 + 1) as u64 & 0xFFFF_FFFF)
            | ((self.nacl_rule as i64 + 1) as u64) << PT_NACL_RULE_SHIFT;
        let ports = (self.local_port as u64) << PT_LOCAL_PORT_SHIFT | self.remote_port as u64;
        [
            flags,
            rules,
            ports,
            self.local.0,
            self.local.1,
            self.remote.0,
            self.remote.1,
            NO_SLOT,
        ]
    }

    pub fn unpack(row: &[u64]) -> Option<Point> {
        let w0 = row[PT_FLAGS];
        if w0 & NO_ENI == NO_ENI {
            return None;
        }
        let w1 = row[PT_RULES];
        let ports = row[PT_PORTS];
        Some(Point {
            eni: (w0 & NO_ENI) as i32,
            egress: (w0 >> PT_DIR_BIT) & 1 == 1,
            untracked: (w0 >> PT_UNTRACKED_BIT) & 1 == 1,
            nacl_ok: (w0 >> PT_NACL_OK_BIT) & 1 == 1,
            has_sg: (w0 >> PT_HAS_SG_BIT) & 1 == 1,
            sg_rule: (w1 & 0xFFFF_FFFF) as i64 as i32 - 1,
            nacl_rule: (w1 >> PT_NACL_RULE_SHIFT) as i64 as i32 - 1,
            local_port: (ports >> PT_LOCAL_PORT_SHIFT) as u16,
            remote_port: ports as u16,
            local: (row[PT_LOCAL_HI], row[PT_LOCAL_HI + 1]),
            remote: (row[PT_REMOTE_LO - 1], row[PT_REMOTE_LO]),
        })
    }
}

/// The row of "no point": an ENI of all ones, and no cached slot.
pub fn empty_point() -> [u64; POINT_WIDTH] {
    let mut row = [0u64; POINT_WIDTH];
    row[PT_FLAGS] = NO_ENI | 1 << PT_NACL_OK_BIT;
    row[PT_SLOT] = NO_SLOT;
    row
}

// ------------------------------------------------------------------- connection-tracking slots
/// Words of a tracked connection's key: [ENI/protocol/ports, local hi, local lo, remote hi, remote lo].
pub const CT_KEY_WIDTH: usize = 5;
const CT_ENI_SHIFT: u32 = 40;
const CT_PROTO_SHIFT: u32 = 32;

/// The connection-tracking key of a point for a packet of protocol `proto`.
#[inline]
pub fn conn_key(p: &Point, proto: u8) -> [u64; CT_KEY_WIDTH] {
    let ports = (p.local_port as u64) << PT_LOCAL_PORT_SHIFT | p.remote_port as u64;
    [
        (p.eni as u64) << CT_ENI_SHIFT | (proto as u64) << CT_PROTO_SHIFT | ports,
        p.local.0,
        p.local.1,
        p.remote.0,
        p.remote.1,
    ]
}

/// The protocol stored in a connection key.
#[inline]
pub fn conn_proto(key0: u64) -> u8 {
    (key0 >> CT_PROTO_SHIFT) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_rows_round_trip() {
        let p = Point {
            eni: 7,
            egress: true,
            untracked: false,
            nacl_ok: true,
            has_sg: true,
            sg_rule: 12,
            nacl_rule: -1,
            local_port: 443,
            remote_port: 50000,
            local: (1, 2),
            remote: (3, 4),
        };
        assert_eq!(Point::unpack(&p.pack()), Some(p));
        assert_eq!(Point::unpack(&empty_point()), None);
    }
}
