//! The streaming pass's native hand-over: decision -> observation rows -> fold, without numpy.
//!
//! The generic pipeline materialises an observation batch as about twenty numpy columns (the
//! decision pass's six, then one gather per flow-point field) only for the fold to read them back.
//! Here the decision pass's rows are gathered from the engine's per-(flow, point) table straight
//! into buffers owned by the core (`Observations`), which the fold of each flow log reads as they
//! are. Python sees only what the fold emits (partial records with their deciding rule, for the side
//! channel) and a few counts. The gather runs where the decision ran (the engine's thread: the flow
//! tables are rewritten when the engine's flow cache resets), the fold wherever aggregation runs.

pub mod py;

use crate::aggregate::observe::ObsCols;
use crate::policy::conntrack::Decisions;

/// The engine's per-point record fields (`policy::flow_table::PointFields`), indexed by point row.
pub struct FlowPoints<'a> {
    pub eni: &'a [i32],
    pub dir: &'a [u8],
    pub rs_hi: &'a [u64],
    pub rs_lo: &'a [u64],
    pub rd_hi: &'a [u64],
    pub rd_lo: &'a [u64],
    pub ps_hi: &'a [u64],
    pub ps_lo: &'a [u64],
    pub pd_hi: &'a [u64],
    pub pd_lo: &'a [u64],
    pub tpath: &'a [i8],
    pub peer: &'a [i32],
    pub ssvc: &'a [i16],
    pub dsvc: &'a [i16],
}

impl FlowPoints<'_> {
    /// Rows every column has (the shortest column bounds the valid point indexes).
    pub fn rows(&self) -> usize {
        [
            self.eni.len(),
            self.dir.len(),
            self.rs_hi.len(),
            self.rs_lo.len(),
            self.rd_hi.len(),
            self.rd_lo.len(),
            self.ps_hi.len(),
            self.ps_lo.len(),
            self.pd_hi.len(),
            self.pd_lo.len(),
            self.tpath.len(),
            self.peer.len(),
            self.ssvc.len(),
            self.dsvc.len(),
        ]
        .into_iter()
        .min()
        .unwrap_or(0)
    }
}

/// Observation rows of one batch, owned by the core: per row the packet, the action, the deciding rule
/// and the row's point (an index into the point columns, which hold each point the batch reached
/// once: a batch of 262,144 packets over 20,000 flows reaches about 40,000 points, so the gather
/// copies a sixth of what one copy per row did, and the fold keys each point once).
#[derive(Clone, Debug, Default)]
pub struct ObsRows {
    pub packet: Vec<i64>,
    pub point: Vec<u32>,
    pub action: Vec<u8>,
    pub rule: Vec<i32>,
    pub eni: Vec<i32>,
    pub direction: Vec<u8>,
    pub src_hi: Vec<u64>,
    pub src_lo: Vec<u64>,
    pub dst_hi: Vec<u64>,
    pub dst_lo: Vec<u64>,
    pub pkt_src_hi: Vec<u64>,
    pub pkt_src_lo: Vec<u64>,
    pub pkt_dst_hi: Vec<u64>,
    pub pkt_dst_lo: Vec<u64>,
    pub traffic_path: Vec<i8>,
    pub peer_eni: Vec<i32>,
    pub src_service: Vec<i16>,
    pub dst_service: Vec<i16>,
}

/// The distinct engine points of a batch's rows, in order of first use, and each row's local index.
fn local_points(point: &[i64], rows: usize) -> (Vec<u32>, Vec<usize>) {
    let mut local = vec![u32::MAX; rows];
    let mut distinct = Vec::new();
    let at = point
        .iter()
        .map(|&q| {
            let q = q as usize;
            if local[q] == u32::MAX {
                local[q] = distinct.len() as u32;
                distinct.push(q);
            }
            local[q]
        })
        .collect();
    (at, distinct)
}

impl ObsRows {
    /// The decision rows with their points' fields (every `d.point` must be below `fp.rows()`).
    pub fn gather(d: Decisions, fp: &FlowPoints<'_>) -> Self {
        let (point, qs) = local_points(&d.point, fp.rows());
        let pick = |col: &[u64]| qs.iter().map(|&q| col[q]).collect::<Vec<u64>>();
        ObsRows {
            eni: qs.iter().map(|&q| fp.eni[q]).collect(),
            direction: qs.iter().map(|&q| fp.dir[q]).collect(),
            src_hi: pick(fp.rs_hi),
            src_lo: pick(fp.rs_lo),
            dst_hi: pick(fp.rd_hi),
            dst_lo: pick(fp.rd_lo),
            pkt_src_hi: pick(fp.ps_hi),
            pkt_src_lo: pick(fp.ps_lo),
            pkt_dst_hi: pick(fp.pd_hi),
            pkt_dst_lo: pick(fp.pd_lo),
            traffic_path: qs.iter().map(|&q| fp.tpath[q]).collect(),
            peer_eni: qs.iter().map(|&q| fp.peer[q]).collect(),
            src_service: qs.iter().map(|&q| fp.ssvc[q]).collect(),
            dst_service: qs.iter().map(|&q| fp.dsvc[q]).collect(),
            packet: d.packet,
            point,
            action: d.action,
            rule: d.rule,
        }
    }

    pub fn len(&self) -> usize {
        self.packet.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packet.is_empty()
    }

    /// REJECT rows (action 1).
    pub fn rejects(&self) -> usize {
        self.action.iter().filter(|&&a| a == 1).count()
    }

    /// A point column spread to one entry per row.
    pub fn per_row<T: Copy>(&self, col: &[T]) -> Vec<T> {
        self.point.iter().map(|&q| col[q as usize]).collect()
    }

    /// The rows as the fold reads them.
    pub fn cols(&self) -> ObsCols<'_> {
        ObsCols {
            packet: &self.packet,
            point: &self.point,
            eni: &self.eni,
            direction: &self.direction,
            action: &self.action,
            src_hi: &self.src_hi,
            src_lo: &self.src_lo,
            dst_hi: &self.dst_hi,
            dst_lo: &self.dst_lo,
            pkt_src_hi: &self.pkt_src_hi,
            pkt_src_lo: &self.pkt_src_lo,
            pkt_dst_hi: &self.pkt_dst_hi,
            pkt_dst_lo: &self.pkt_dst_lo,
            traffic_path: &self.traffic_path,
            peer_eni: &self.peer_eni,
            src_service: &self.src_service,
            dst_service: &self.dst_service,
            rule: &self.rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_each_row_from_its_point() {
        let d = Decisions {
            packet: vec![0, 0, 1],
            point: vec![2, 0, 2],
            action: vec![0, 1, 0],
            rule: vec![5, 6, 7],
            sg_rule: vec![-1; 3],
            nacl_rule: vec![-1; 3],
        };
        let u = |b: u64| vec![b, b + 1, b + 2];
        let (rs_hi, rs_lo, rd_hi, rd_lo) = (u(10), u(20), u(30), u(40));
        let (ps_hi, ps_lo, pd_hi, pd_lo) = (u(50), u(60), u(70), u(80));
        let fp = FlowPoints {
            eni: &[7, 8, 9],
            dir: &[0, 1, 1],
            rs_hi: &rs_hi,
            rs_lo: &rs_lo,
            rd_hi: &rd_hi,
            rd_lo: &rd_lo,
            ps_hi: &ps_hi,
            ps_lo: &ps_lo,
            pd_hi: &pd_hi,
            pd_lo: &pd_lo,
            tpath: &[-1, 1, 2],
            peer: &[-1, 3, 4],
            ssvc: &[-1, -1, 0],
            dsvc: &[1, -1, -1],
        };
        assert_eq!(fp.rows(), 3);
        let o = ObsRows::gather(d, &fp);
        assert_eq!(o.len(), 3);
        assert_eq!(o.rejects(), 1);
        // two distinct points, in order of first use; rows 0 and 2 share point 2
        assert_eq!(o.point, vec![0, 1, 0]);
        assert_eq!(o.eni, vec![9, 7]);
        assert_eq!(o.per_row(&o.eni), vec![9, 7, 9]);
        assert_eq!(o.per_row(&o.direction), vec![1, 0, 1]);
        assert_eq!(o.per_row(&o.src_hi), vec![12, 10, 12]);
        assert_eq!(o.per_row(&o.pkt_dst_lo), vec![82, 80, 82]);
        assert_eq!(o.per_row(&o.traffic_path), vec![2, -1, 2]);
        assert_eq!(o.per_row(&o.peer_eni), vec![4, -1, 4]);
        assert_eq!(o.per_row(&o.src_service), vec![0, -1, 0]);
        assert_eq!(o.per_row(&o.dst_service), vec![-1, 1, -1]);
        assert_eq!(o.rule, vec![5, 6, 7]);
        assert_eq!(o.cols().packet, &[0, 0, 1]);
    }
}
