//! Connection tracking (the stateful half of security groups) and the per-packet decision pass.
//!
//! Everything that can be decided per distinct flow (rule matches, NACLs) is precomputed into point
//! rows (`layout::Point`); what remains is sequential, a packet's fate depending on the connections
//! earlier packets opened or closed. For each observation point of a packet, in path order:
//!
//! * egress:  sender security group (tracking, then rules) -> source subnet NACL outbound;
//! * ingress: destination subnet NACL inbound -> receiver security group (tracking, then rules);
//!
//! stopping at the first REJECT. Timeouts and the untracked-flow rule are described in
//! docs/policy.md. A TCP connection closes on RST, or once both FINs were seen and a final ACK
//! follows. The final ACKs of a close still belong to the connection: each side may send its one
//! pure ACK after both FINs (a simultaneous close has two, crossing). Only later packets (other than
//! a new SYN) are "after the connection was closed" and REJECT (spec 2.3).

use super::conn_store::{ConnStore, Keyed};
use super::layout::{conn_key, conn_proto, Point, CT_KEY_WIDTH, POINT_WIDTH, PT_SLOT};
use super::security_groups::SecurityGroupRules;

pub const FIN: u8 = 1;
pub const SYN: u8 = 2;
pub const RST: u8 = 4;
pub const ACK: u8 = 16;
/// FIN, SYN, RST, PSH, ACK, URG (ECE and CWR left out).
const TCP_CONTROL_BITS: u8 = 0x3F;

const ST_FIN_ORIG: u8 = 1;
const ST_FIN_REPLY: u8 = 2;
const ST_CLOSED: u8 = 4;
const ST_REPLIED: u8 = 8;
const ST_STREAM: u8 = 16;
const ST_LAST_ACK_ORIG: u8 = 32;
const ST_LAST_ACK_REPLY: u8 = 64;
const ST_BOTH_FINS: u8 = ST_FIN_ORIG | ST_FIN_REPLY;
const ST_BOTH_LAST_ACKS: u8 = ST_LAST_ACK_ORIG | ST_LAST_ACK_REPLY;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Idle timeouts in ns: TCP established, UDP, UDP stream, ICMP, other, closed linger.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts(pub [i64; 6]);

/// One tracked connection (56 bytes; stored by `conn_store.rs`).
#[derive(Clone, Copy, Debug, Default)]
struct Conn {
    key: [u64; CT_KEY_WIDTH],
    last_ns: i64,
    state: u8,
    orig_egress: bool,
    last_egress: bool,
    changes: u8,
    rule: i32,
}

impl Keyed for Conn {
    #[inline]
    fn key(&self) -> &[u64; CT_KEY_WIDTH] {
        &self.key
    }
}

impl Conn {
    fn timeout(&self, t: &Timeouts) -> i64 {
        if self.state & ST_CLOSED != 0 {
            return t.0[5];
        }
        match conn_proto(self.key[0]) {
            TCP => t.0[0],
            UDP if self.state & ST_STREAM != 0 => t.0[2],
            UDP => t.0[1],
            1 | 58 => t.0[3],
            _ => t.0[4],
        }
    }

    fn live(&self, now: i64, t: &Timeouts) -> bool {
        now - self.last_ns <= self.timeout(t)
    }

    fn last_ack_bit(&self, egress: bool) -> u8 {
        if egress == self.orig_egress {
            ST_LAST_ACK_ORIG
        } else {
            ST_LAST_ACK_REPLY
        }
    }

    /// A pure ACK (no SYN, FIN, RST, PSH or URG; ECN bits aside) from a side that has not sent its
    /// final ACK yet, after a close by FINs. Data (PSH) after the close is not a final ACK.
    fn is_final_ack(&self, egress: bool, flags: u8) -> bool {
        self.state & ST_BOTH_FINS == ST_BOTH_FINS
            && self.state & self.last_ack_bit(egress) == 0
            && flags & TCP_CONTROL_BITS == ACK
    }

    /// Update a live, open connection with a packet of it (direction `egress`).
    fn update(&mut self, now: i64, egress: bool, proto: u8, flags: u8) {
        self.last_ns = now;
        if egress != self.last_egress {
            self.changes = self.changes.saturating_add(1);
            self.last_egress = egress;
        }
        if egress != self.orig_egress {
            self.state |= ST_REPLIED;
        }
        if proto == UDP && self.changes >= 3 {
            self.state |= ST_STREAM;
        }
        if proto != TCP {
            return;
        }
        if flags & RST != 0 {
            self.state |= ST_CLOSED | ST_BOTH_LAST_ACKS;
        } else if flags & FIN != 0 {
            self.state |= if egress == self.orig_egress {
                ST_FIN_ORIG
            } else {
                ST_FIN_REPLY
            };
        } else if self.state & ST_BOTH_FINS == ST_BOTH_FINS {
            // The first final ACK completes the close; the other side's own final ACK may follow.
            self.state |= ST_CLOSED | self.last_ack_bit(egress);
        }
    }
}

/// The outcome of the security-group check at one point.
struct SgOutcome {
    ok: bool,
    rule: i32,
}

/// The rows the decision pass emits: one per (packet, point reached).
#[derive(Clone, Debug, Default)]
pub struct Decisions {
    pub packet: Vec<i64>,
    pub point: Vec<i64>,
    pub action: Vec<u8>,
    pub rule: Vec<i32>,
    pub sg_rule: Vec<i32>,
    pub nacl_rule: Vec<i32>,
}

impl Decisions {
    /// Room for `n` rows in every column: a batch has about one row per packet, and growing six
    /// columns by doubling copied them and faulted fresh pages in again (docs/benchmarks.md).
    pub fn with_capacity(n: usize) -> Self {
        Decisions {
            packet: Vec::with_capacity(n),
            point: Vec::with_capacity(n),
            action: Vec::with_capacity(n),
            rule: Vec::with_capacity(n),
            sg_rule: Vec::with_capacity(n),
            nacl_rule: Vec::with_capacity(n),
        }
    }
}

/// The packet columns the decision pass reads.
pub struct PacketCols<'a> {
    pub ts_ns: &'a [i64],
    pub tcp_flags: &'a [u8],
    pub proto: &'a [u8],
    pub flow: &'a [i32],
}

/// Tracked connections, kept across batches.
#[derive(Clone, Debug)]
pub struct ConnTable {
    store: ConnStore<Conn>,
    timeouts: Timeouts,
}

impl ConnTable {
    pub fn new(timeouts: Timeouts, capacity: usize) -> Self {
        ConnTable {
            store: ConnStore::with_capacity(capacity),
            timeouts,
        }
    }

    /// Connections held (expired ones count until the next sweep drops them).
    pub fn count(&self) -> usize {
        self.store.len()
    }

    /// Bytes the table holds (records and index).
    pub fn bytes(&self) -> usize {
        self.store.bytes()
    }

    /// Make room for one more connection: when the index would pass half full, drop the expired
    /// connections first, so the table follows the live ones (`conn_store.rs`). Record numbers
    /// cached in point rows may go stale; `ConnStore::locate` checks them by key.
    fn make_room(&mut self, now: i64) {
        if self.store.full() {
            let t = self.timeouts;
            self.store.retain(|c| c.live(now, &t));
        }
    }

    /// Decide every packet of a batch, in order; `points` is the engine's point table (row-major,
    /// `POINT_WIDTH` words per row; flow f's rows are `start[f]..start[f + 1]`, `flow_table.rs`),
    /// whose slot cache this pass maintains.
    pub fn decide(
        &mut self,
        sg: &SecurityGroupRules,
        pk: &PacketCols<'_>,
        points: &mut [u64],
        start: &[u32],
    ) -> Decisions {
        let mut out = Decisions::with_capacity(pk.ts_ns.len());
        for p in 0..pk.ts_ns.len() {
            let f = pk.flow[p];
            if f < 0 {
                continue;
            }
            for q in start[f as usize] as usize..start[f as usize + 1] as usize {
                let Some(pt) = Point::unpack(&points[q * POINT_WIDTH..(q + 1) * POINT_WIDTH])
                else {
                    break;
                };
                let ok = self.decide_point(sg, pk, p, q, &pt, points, &mut out);
                if !ok {
                    break;
                }
            }
        }
        out
    }

    /// One packet at one point: appends its row, returns whether it passed.
    #[allow(clippy::too_many_arguments)]
    fn decide_point(
        &mut self,
        sg: &SecurityGroupRules,
        pk: &PacketCols<'_>,
        p: usize,
        q: usize,
        pt: &Point,
        points: &mut [u64],
        out: &mut Decisions,
    ) -> bool {
        let ed = pt.eni as usize * 2 + pt.egress as usize;
        let nacl_pass = pt.nacl_rule < 0 || pt.nacl_ok;
        let sgo = if !pt.egress && !nacl_pass {
            SgOutcome { ok: true, rule: -1 } // the NACL drops it before the security group sees it
        } else if !pt.has_sg {
            SgOutcome {
                ok: true,
                rule: sg.no_sg[ed],
            }
        } else {
            self.track(sg, pk, p, q, pt, ed, points)
        };
        let mut nacl_rule = pt.nacl_rule;
        let (ok, mut decisive) = if !pt.egress {
            (
                nacl_pass && sgo.ok,
                if nacl_pass { sgo.rule } else { nacl_rule },
            )
        } else if !sgo.ok {
            nacl_rule = -1; // never reached the subnet boundary
            (false, sgo.rule)
        } else if !nacl_pass {
            (false, nacl_rule)
        } else {
            (true, sgo.rule)
        };
        if ok && !pt.has_sg && nacl_rule >= 0 {
            decisive = nacl_rule;
        }
        out.packet.push(p as i64);
        out.point.push(q as i64);
        out.action.push(if ok { 0 } else { 1 });
        out.rule.push(decisive);
        out.sg_rule.push(sgo.rule);
        out.nacl_rule.push(nacl_rule);
        ok
    }

    /// The security-group decision with connection tracking.
    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        sg: &SecurityGroupRules,
        pk: &PacketCols<'_>,
        p: usize,
        q: usize,
        pt: &Point,
        ed: usize,
        points: &mut [u64],
    ) -> SgOutcome {
        let (now, flags, proto) = (pk.ts_ns[p], pk.tcp_flags[p], pk.proto[p]);
        let key = conn_key(pt, proto);
        let cache = q * POINT_WIDTH + PT_SLOT;
        let held = self.store.locate(&key, points[cache]);
        if let Some(s) = held {
            points[cache] = s as u64;
            let t = self.timeouts;
            let c = self.store.get_mut(s);
            if c.live(now, &t) {
                let new_syn = proto == TCP && flags & SYN != 0 && flags & ACK == 0;
                let rule = if pt.egress == c.orig_egress {
                    c.rule
                } else {
                    sg.tracked[ed]
                };
                if c.state & ST_CLOSED == 0 {
                    c.update(now, pt.egress, proto, flags);
                    return SgOutcome { ok: true, rule };
                }
                if c.is_final_ack(pt.egress, flags) {
                    c.last_ns = now;
                    c.state |= c.last_ack_bit(pt.egress);
                    return SgOutcome { ok: true, rule };
                }
                if !new_syn {
                    return SgOutcome {
                        ok: false,
                        rule: sg.closed[ed],
                    };
                }
            }
        }
        if pt.sg_rule < 0 {
            return SgOutcome {
                ok: false,
                rule: sg.default_deny[ed],
            };
        }
        if !pt.untracked {
            self.open(now, proto, flags, pt, key, held, points, cache);
        }
        SgOutcome {
            ok: true,
            rule: pt.sg_rule,
        }
    }

    /// Start tracking a connection allowed by a rule (reusing the record of an expired or closed
    /// connection of the same key, `held`).
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        now: i64,
        proto: u8,
        flags: u8,
        pt: &Point,
        key: [u64; CT_KEY_WIDTH],
        held: Option<u32>,
        points: &mut [u64],
        cache: usize,
    ) {
        let reset = proto == TCP && flags & RST != 0;
        let conn = Conn {
            key,
            last_ns: now,
            state: if reset {
                ST_CLOSED | ST_BOTH_LAST_ACKS
            } else {
                0
            },
            orig_egress: pt.egress,
            last_egress: pt.egress,
            changes: 0,
            rule: pt.sg_rule,
        };
        let s = match held {
            Some(s) => {
                *self.store.get_mut(s) = conn;
                s
            }
            None => {
                self.make_room(now);
                self.store.insert(conn)
            }
        };
        points[cache] = s as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::layout::empty_point;

    const PSH: u8 = 8;

    /// Flow starts of a table with four rows per flow (a point, then empty rows).
    fn four_rows_each(flows: usize) -> Vec<u32> {
        (0..=flows as u32).map(|f| f * 4).collect()
    }

    /// One ENI (index 0) with a security group: flow 0 is client -> server (ingress, allowed by rule
    /// 5), flow 1 is the server's replies (egress, no rule allows them: only tracking does).
    fn setup() -> (SecurityGroupRules, Vec<u64>) {
        let sg = SecurityGroupRules::decisions_only(
            vec![10, 11],
            vec![12, 13],
            vec![14, 15],
            vec![16, 17],
        );
        let point = |egress: bool, sg_rule: i32, local_port: u16, remote_port: u16| Point {
            eni: 0,
            egress,
            untracked: false,
            nacl_ok: true,
            has_sg: true,
            sg_rule,
            nacl_rule: -1,
            local_port,
            remote_port,
            local: (0, 0xFFFF_0A00_010A),
            remote: (0, 0xFFFF_C633_6407),
        };
        let mut points = Vec::new();
        points.extend(point(false, 5, 80, 40001).pack());
        for _ in 0..3 {
            points.extend(empty_point());
        }
        points.extend(point(true, -1, 80, 40001).pack());
        for _ in 0..3 {
            points.extend(empty_point());
        }
        (sg, points)
    }

    fn actions(steps: &[(i32, u8)]) -> Vec<u8> {
        let (sg, mut points) = setup();
        let ts: Vec<i64> = (0..steps.len() as i64).map(|i| i * 1_000_000).collect();
        let flags: Vec<u8> = steps.iter().map(|s| s.1).collect();
        let proto = vec![6u8; steps.len()];
        let flow: Vec<i32> = steps.iter().map(|s| s.0).collect();
        let pk = PacketCols {
            ts_ns: &ts,
            tcp_flags: &flags,
            proto: &proto,
            flow: &flow,
        };
        let mut table = ConnTable::new(Timeouts([1 << 50, 30, 180, 30, 600, 120_000_000_000]), 16);
        table
            .decide(&sg, &pk, &mut points, &four_rows_each(2))
            .action
    }

    const OPEN: [(i32, u8); 3] = [(0, SYN), (1, SYN | ACK), (0, ACK)];

    #[test]
    fn simultaneous_close_keeps_both_final_acks() {
        let close = [
            (0, FIN | ACK),
            (1, FIN | ACK),
            (0, ACK),
            (1, ACK),
            (0, PSH | ACK),
        ];
        let got = actions(&[&OPEN[..], &close[..]].concat());
        assert_eq!(got, vec![0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn sequential_close_rejects_a_repeated_final_ack_and_late_data() {
        let close = [
            (1, FIN | ACK),
            (0, FIN | ACK),
            (1, ACK),
            (1, ACK),
            (0, PSH | ACK),
        ];
        let got = actions(&[&OPEN[..], &close[..]].concat());
        assert_eq!(got, vec![0, 0, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn reset_closes_at_once_and_a_new_syn_reopens() {
        let rest = [(1, RST), (0, ACK), (0, SYN), (1, SYN | ACK)];
        let got = actions(&[&OPEN[..], &rest[..]].concat());
        assert_eq!(got, vec![0, 0, 0, 0, 1, 0, 0]);
    }

    /// `n` inbound UDP flows to port 53 from source ports `base..base+n`, each with one packet
    /// at `t0_ns` + its number (ns); returns (actions, table).
    fn udp_requests(table: &mut ConnTable, base: u32, n: usize, t0_ns: i64) -> Vec<u8> {
        let (sg, _) = setup();
        let queries: Vec<(u16, u64)> = (0..n).map(|i| (0, base as u64 + i as u64)).collect();
        let ts: Vec<i64> = (0..n as i64).map(|i| t0_ns + i).collect();
        dns_queries(table, &sg, &mut dns_points(&queries), &ts)
    }

    /// The point rows of inbound UDP flows to port 53, one per (remote port, remote address low
    /// word) in `queries`: four rows each, the first used.
    fn dns_points(queries: &[(u16, u64)]) -> Vec<u64> {
        let mut points = Vec::new();
        for &(remote_port, remote_lo) in queries {
            let p = Point {
                eni: 0,
                egress: false,
                untracked: false,
                nacl_ok: true,
                has_sg: true,
                sg_rule: 5,
                nacl_rule: -1,
                local_port: 53,
                remote_port,
                local: (0, 1),
                remote: (remote_lo, 2),
            };
            points.extend(p.pack());
            for _ in 0..3 {
                points.extend(empty_point());
            }
        }
        points
    }

    /// One UDP packet per flow of `points` at the times `ts`; the actions.
    fn dns_queries(
        table: &mut ConnTable,
        sg: &SecurityGroupRules,
        points: &mut [u64],
        ts: &[i64],
    ) -> Vec<u8> {
        let n = ts.len();
        let flags = vec![0u8; n];
        let proto = vec![17u8; n];
        let flow: Vec<i32> = (0..n as i32).collect();
        let pk = PacketCols {
            ts_ns: ts,
            tcp_flags: &flags,
            proto: &proto,
            flow: &flow,
        };
        table.decide(sg, &pk, points, &four_rows_each(n)).action
    }

    #[test]
    fn a_connection_record_is_56_bytes() {
        // docs/benchmarks.md and docs/policy.md count on it (the old slot was 64 bytes)
        assert_eq!(std::mem::size_of::<Conn>(), 56);
    }

    #[test]
    fn expired_connections_leave_the_table_when_it_fills() {
        const S: i64 = 1_000_000_000;
        let mut table = ConnTable::new(
            Timeouts([1 << 50, 30 * S, 180 * S, 30 * S, 600 * S, 120 * S]),
            16,
        );
        assert!(udp_requests(&mut table, 0, 100_000, 0)
            .iter()
            .all(|&a| a == 0));
        assert_eq!(table.count(), 100_000);
        let full = table.bytes();
        // 100 s later every one of them has expired (UDP: 30 s): phases of 20,000 new connections,
        // 100 s apart, bring the table down to the live ones (a sweep at each index fill).
        for phase in 1..=20u32 {
            let t0 = 100 * S * phase as i64;
            let got = udp_requests(&mut table, phase * 1_000_000, 20_000, t0);
            assert!(got.iter().all(|&a| a == 0));
        }
        // without the sweeps: 500,000; the index of the last sweep holds at most 4 times the live
        assert!(table.count() <= 4 * 20_001, "{}", table.count());
        assert!(table.bytes() < full, "{} >= {full}", table.bytes());
        // the live ones are still tracked after the sweeps: their second packets find them
        let before = table.count();
        udp_requests(&mut table, 20 * 1_000_000, 20_000, 2000 * S + 1_000_000);
        assert_eq!(table.count(), before);
    }

    #[test]
    fn the_table_grows_and_keeps_every_connection() {
        let (sg, _) = setup();
        let n = 100usize;
        let queries: Vec<(u16, u64)> = (0..n).map(|i| (1000 + i as u16, 0)).collect();
        let mut points = dns_points(&queries);
        let ts: Vec<i64> = (0..n as i64).collect();
        let mut table = ConnTable::new(Timeouts([1 << 50, 30_000_000_000, 180, 30, 600, 120]), 16);
        let first = dns_queries(&mut table, &sg, &mut points, &ts);
        assert_eq!(table.count(), n);
        assert!(first.iter().all(|&a| a == 0));
        // Every cached slot still names its own connection after the rehashes.
        let again = dns_queries(&mut table, &sg, &mut points, &ts);
        assert_eq!(table.count(), n);
        assert!(again.iter().all(|&a| a == 0));
    }
}
