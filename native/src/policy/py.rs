//! The policy engine's Python boundary: classes holding the compiled tables and state, and the
//! per-batch entry points. Arrays come in as numpy arrays and go out as new numpy arrays; the
//! loops run with the GIL released; panics become `SourceError` (errors::guard).

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::attribute::{Categories, PlanTables, MAX_POINTS, N_COLS};
use super::columns::same_length;
use super::conntrack::{ConnTable, Decisions, PacketCols, Timeouts};
use super::flow_table_py::FlowTable;
use super::hashing::{unique_rows as unique_rows_of, FlowMap};
use super::layout::{empty_point, flow_words, FlowFields, Point, FLOW_KEY_WIDTH, POINT_WIDTH};
use super::matcher::Query;
use super::network_acls::NetworkAclRules as NaclRules;
use super::security_groups::SecurityGroupRules as SgRules;
use crate::errors::guard;

const STAGE: &str = "policy engine";

type I32Array<'py> = Bound<'py, PyArray1<i32>>;
type BoolArray<'py> = Bound<'py, PyArray1<bool>>;

/// The packet columns a flow key is made of, as numpy arrays.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct FlowArrays<'py> {
    label: PyReadonlyArray1<'py, i32>,
    proto: PyReadonlyArray1<'py, u8>,
    frag2: PyReadonlyArray1<'py, bool>,
    sport: PyReadonlyArray1<'py, u16>,
    dport: PyReadonlyArray1<'py, u16>,
    itype: PyReadonlyArray1<'py, i16>,
    icode: PyReadonlyArray1<'py, i16>,
    s_hi: PyReadonlyArray1<'py, u64>,
    s_lo: PyReadonlyArray1<'py, u64>,
    d_hi: PyReadonlyArray1<'py, u64>,
    d_lo: PyReadonlyArray1<'py, u64>,
}

impl<'py> FlowArrays<'py> {
    pub(crate) fn fields(&self) -> PyResult<FlowFields<'_>> {
        let f = FlowFields {
            label: self.label.as_slice()?,
            proto: self.proto.as_slice()?,
            frag2: self.frag2.as_slice()?,
            sport: self.sport.as_slice()?,
            dport: self.dport.as_slice()?,
            itype: self.itype.as_slice()?,
            icode: self.icode.as_slice()?,
            s_hi: self.s_hi.as_slice()?,
            s_lo: self.s_lo.as_slice()?,
            d_hi: self.d_hi.as_slice()?,
            d_lo: self.d_lo.as_slice()?,
        };
        same_length(f.len(), &f.lengths(), "flow keys")?;
        Ok(f)
    }
}

fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, values)
        .reshape(shape.to_vec())?
        .into_any())
}

/// The flow keys of packets, one row of `FLOW_KEY_WIDTH` words each.
#[pyfunction]
pub fn flow_keys<'py>(py: Python<'py>, packets: FlowArrays<'py>) -> PyResult<Bound<'py, PyAny>> {
    guard(py, STAGE, || {
        let f = packets.fields()?;
        let keys: Vec<u64> = py.detach(|| (0..f.len()).flat_map(|i| flow_words(&f, i)).collect());
        matrix(py, keys, &[f.len(), FLOW_KEY_WIDTH])
    })
}

/// (inverse ids, first row of each id) of the rows of a 2-D uint64 array, ids in first-seen order.
#[pyfunction]
pub fn unique_rows<'py>(
    py: Python<'py>,
    keys: PyReadonlyArray2<'py, u64>,
) -> PyResult<(I32Array<'py>, Bound<'py, PyArray1<i64>>)> {
    guard(py, STAGE, || {
        let width = keys.shape()[1];
        let flat = keys.as_slice()?;
        let (inv, first) = py.detach(|| unique_rows_of(flat, width));
        Ok((PyArray1::from_vec(py, inv), PyArray1::from_vec(py, first)))
    })
}

/// The flow cache: flow key -> flow id, across batches.
#[pyclass(module = "vpcflow._native")]
#[derive(Default)]
pub struct FlowCache {
    map: FlowMap,
}

#[pymethods]
impl FlowCache {
    #[new]
    fn new() -> Self {
        FlowCache::default()
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    /// Forget every flow, keeping the table's room for the flows that come next.
    fn clear(&mut self) {
        self.map.clear();
    }

    /// Flow id of each packet, -1 when its flow is new.
    fn lookup<'py>(&self, py: Python<'py>, packets: FlowArrays<'py>) -> PyResult<I32Array<'py>> {
        guard(py, STAGE, || {
            let f = packets.fields()?;
            let ids = py.detach(|| self.map.lookup(&f));
            Ok(PyArray1::from_vec(py, ids))
        })
    }

    /// (flow id of each packet, first row of each new flow): new flows get ids `base, base + 1, ...`
    /// in the order they first appear and are remembered, in one pass with the GIL released.
    fn assign<'py>(
        &mut self,
        py: Python<'py>,
        packets: FlowArrays<'py>,
        base: i32,
    ) -> PyResult<(I32Array<'py>, Bound<'py, PyArray1<i64>>)> {
        guard(py, STAGE, || {
            if base < 0 {
                return Err(PyValueError::new_err("flow cache: base id must be >= 0"));
            }
            let f = packets.fields()?;
            let map = &mut self.map;
            let (ids, first) = py.detach(|| map.assign(&f, base));
            Ok((PyArray1::from_vec(py, ids), PyArray1::from_vec(py, first)))
        })
    }

    /// Remember flows: key rows (as `flow_keys` makes them) and their ids.
    fn insert(
        &mut self,
        py: Python<'_>,
        keys: PyReadonlyArray2<'_, u64>,
        ids: PyReadonlyArray1<'_, i32>,
    ) -> PyResult<()> {
        guard(py, STAGE, || {
            if keys.shape()[1] != FLOW_KEY_WIDTH || keys.shape()[0] != ids.len() {
                return Err(PyValueError::new_err(
                    "flow cache: key rows and ids do not fit",
                ));
            }
            self.map.insert(keys.as_slice()?, ids.as_slice()?);
            Ok(())
        })
    }
}

/// The rule columns of one query batch (one row per (flow, point) checked).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct QueryArrays<'py> {
    slot: PyReadonlyArray1<'py, i64>,
    version: PyReadonlyArray1<'py, u8>,
    proto: PyReadonlyArray1<'py, i16>,
    dport: PyReadonlyArray1<'py, i32>,
    itype: PyReadonlyArray1<'py, i16>,
    icode: PyReadonlyArray1<'py, i16>,
    frag2: PyReadonlyArray1<'py, bool>,
    hi: PyReadonlyArray1<'py, u64>,
    lo: PyReadonlyArray1<'py, u64>,
}

struct Queries<'a> {
    slot: &'a [i64],
    version: &'a [u8],
    proto: &'a [i16],
    dport: &'a [i32],
    itype: &'a [i16],
    icode: &'a [i16],
    frag2: &'a [bool],
    hi: &'a [u64],
    lo: &'a [u64],
}

impl Queries<'_> {
    fn len(&self) -> usize {
        self.slot.len()
    }

    fn get(&self, i: usize) -> Query {
        Query {
            family: if self.version[i] == 4 { 4 } else { 6 },
            proto: self.proto[i],
            dport: self.dport[i],
            itype: self.itype[i],
            icode: self.icode[i],
            frag2: self.frag2[i],
            hi: self.hi[i],
            lo: self.lo[i],
        }
    }
}

impl<'py> QueryArrays<'py> {
    fn view(&self) -> PyResult<Queries<'_>> {
        let q = Queries {
            slot: self.slot.as_slice()?,
            version: self.version.as_slice()?,
            proto: self.proto.as_slice()?,
            dport: self.dport.as_slice()?,
            itype: self.itype.as_slice()?,
            icode: self.icode.as_slice()?,
            frag2: self.frag2.as_slice()?,
            hi: self.hi.as_slice()?,
            lo: self.lo.as_slice()?,
        };
        let lengths = [
            q.version.len(),
            q.proto.len(),
            q.dport.len(),
            q.itype.len(),
            q.icode.len(),
            q.frag2.len(),
            q.hi.len(),
            q.lo.len(),
        ];
        same_length(q.len(), &lengths, "rule queries")?;
        Ok(q)
    }
}

/// Security-group rules compiled by `evaluate.security_groups` (a dict of numpy columns).
#[pyclass(module = "vpcflow._native")]
pub struct SecurityGroupRules {
    pub(crate) rules: SgRules,
}

#[pymethods]
impl SecurityGroupRules {
    #[new]
    fn new(py: Python<'_>, columns: &Bound<'_, PyDict>) -> PyResult<Self> {
        guard(py, STAGE, || {
            Ok(SecurityGroupRules {
                rules: SgRules::from_dict(columns)?,
            })
        })
    }

    /// For each query: the first allowing rule id (-1: none) and whether a /0 rule allows it
    /// (scanned for only where `need_slash0` says the untracked-flow condition could hold).
    fn first_allow<'py>(
        &self,
        py: Python<'py>,
        queries: QueryArrays<'py>,
        remote_eni: PyReadonlyArray1<'py, i32>,
        need_slash0: PyReadonlyArray1<'py, bool>,
    ) -> PyResult<(I32Array<'py>, BoolArray<'py>)> {
        guard(py, STAGE, || {
            let q = queries.view()?;
            let (remote, need) = (remote_eni.as_slice()?, need_slash0.as_slice()?);
            same_length(
                q.len(),
                &[remote.len(), need.len()],
                "security-group queries",
            )?;
            let (rule, any0): (Vec<i32>, Vec<bool>) = py.detach(|| {
                (0..q.len())
                    .map(|i| {
                        let m = self.rules.first_allow(
                            q.slot[i] as usize,
                            &q.get(i),
                            remote[i],
                            need[i],
                        );
                        (m.rule, m.any_slash0)
                    })
                    .unzip()
            });
            Ok((PyArray1::from_vec(py, rule), PyArray1::from_vec(py, any0)))
        })
    }
}

/// Network-ACL entries compiled by `evaluate.network_acls`.
#[pyclass(module = "vpcflow._native")]
pub struct NetworkAclRules {
    pub(crate) rules: NaclRules,
}

#[pymethods]
impl NetworkAclRules {
    #[new]
    fn new(py: Python<'_>, columns: &Bound<'_, PyDict>) -> PyResult<Self> {
        guard(py, STAGE, || {
            Ok(NetworkAclRules {
                rules: NaclRules::from_dict(columns)?,
            })
        })
    }

    /// For each query: the deciding entry's rule id and whether it allows.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        queries: QueryArrays<'py>,
    ) -> PyResult<(I32Array<'py>, BoolArray<'py>)> {
        guard(py, STAGE, || {
            let q = queries.view()?;
            let (rule, ok): (Vec<i32>, Vec<bool>) = py.detach(|| {
                (0..q.len())
                    .map(|i| self.rules.decide(q.slot[i] as usize, &q.get(i)))
                    .unzip()
            });
            Ok((PyArray1::from_vec(py, rule), PyArray1::from_vec(py, ok)))
        })
    }
}

/// The inputs of point rows, one entry per (flow, point).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct PointArrays<'py> {
    eni: PyReadonlyArray1<'py, i32>,
    egress: PyReadonlyArray1<'py, bool>,
    untracked: PyReadonlyArray1<'py, bool>,
    nacl_ok: PyReadonlyArray1<'py, bool>,
    has_sg: PyReadonlyArray1<'py, bool>,
    sg_rule: PyReadonlyArray1<'py, i32>,
    nacl_rule: PyReadonlyArray1<'py, i32>,
    local_port: PyReadonlyArray1<'py, u16>,
    remote_port: PyReadonlyArray1<'py, u16>,
    l_hi: PyReadonlyArray1<'py, u64>,
    l_lo: PyReadonlyArray1<'py, u64>,
    r_hi: PyReadonlyArray1<'py, u64>,
    r_lo: PyReadonlyArray1<'py, u64>,
}

/// Point rows (n, POINT_WIDTH) for the connection-tracking pass (`layout::Point`).
#[pyfunction]
pub fn pack_points<'py>(py: Python<'py>, p: PointArrays<'py>) -> PyResult<Bound<'py, PyAny>> {
    guard(py, STAGE, || {
        let n = p.eni.len();
        let lengths = [
            p.egress.len(),
            p.untracked.len(),
            p.nacl_ok.len(),
            p.has_sg.len(),
            p.sg_rule.len(),
            p.nacl_rule.len(),
            p.local_port.len(),
            p.remote_port.len(),
            p.l_hi.len(),
            p.l_lo.len(),
            p.r_hi.len(),
            p.r_lo.len(),
        ];
        same_length(n, &lengths, "point rows")?;
        let (e, eg, un, nok, hs) = (
            p.eni.as_slice()?,
            p.egress.as_slice()?,
            p.untracked.as_slice()?,
            p.nacl_ok.as_slice()?,
            p.has_sg.as_slice()?,
        );
        let (sr, nr, lp, rp) = (
            p.sg_rule.as_slice()?,
            p.nacl_rule.as_slice()?,
            p.local_port.as_slice()?,
            p.remote_port.as_slice()?,
        );
        let (lh, ll, rh, rl) = (
            p.l_hi.as_slice()?,
            p.l_lo.as_slice()?,
            p.r_hi.as_slice()?,
            p.r_lo.as_slice()?,
        );
        let rows: Vec<u64> = (0..n)
            .flat_map(|i| {
                Point {
                    eni: e[i],
                    egress: eg[i],
                    untracked: un[i],
                    nacl_ok: nok[i],
                    has_sg: hs[i],
                    sg_rule: sr[i],
                    nacl_rule: nr[i],
                    local_port: lp[i],
                    remote_port: rp[i],
                    local: (lh[i], ll[i]),
                    remote: (rh[i], rl[i]),
                }
                .pack()
            })
            .collect();
        matrix(py, rows, &[n, POINT_WIDTH])
    })
}

/// `n` rows of "no point".
#[pyfunction]
pub fn empty_points(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyAny>> {
    let rows: Vec<u64> = (0..n).flat_map(|_| empty_point()).collect();
    matrix(py, rows, &[n, POINT_WIDTH])
}

/// Tracked connections, kept across batches, and the per-packet decision pass.
#[pyclass(module = "vpcflow._native")]
pub struct ConnectionTracker {
    table: ConnTable,
}

type DecisionArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    I32Array<'py>,
    I32Array<'py>,
    I32Array<'py>,
);

#[pymethods]
impl ConnectionTracker {
    /// `timeouts_ns`: TCP established, UDP, UDP stream, ICMP, other, closed linger.
    #[new]
    #[pyo3(signature = (timeouts_ns, capacity=4096))]
    fn new(
        py: Python<'_>,
        timeouts_ns: PyReadonlyArray1<'_, i64>,
        capacity: usize,
    ) -> PyResult<Self> {
        guard(py, STAGE, || {
            let t: [i64; 6] = timeouts_ns
                .as_slice()?
                .try_into()
                .map_err(|_| PyValueError::new_err("connection tracker: 6 timeouts expected"))?;
            Ok(ConnectionTracker {
                table: ConnTable::new(Timeouts(t), capacity),
            })
        })
    }

    /// Connections in the table (expired ones count until a sweep drops them).
    #[getter]
    fn count(&self) -> usize {
        self.table.count()
    }

    /// Bytes the connection table holds (records and index; `conn_store.rs`).
    #[getter]
    fn table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// Decide a batch's packets in time order: (packet, point, action, rule, sg rule, nacl rule)
    /// per observation row; `point` is a row of the engine's `FlowTable`.
    #[allow(clippy::too_many_arguments)]
    fn decide<'py>(
        &mut self,
        py: Python<'py>,
        sg: PyRef<'py, SecurityGroupRules>,
        ts_ns: PyReadonlyArray1<'py, i64>,
        tcp_flags: PyReadonlyArray1<'py, u8>,
        proto: PyReadonlyArray1<'py, u8>,
        flow: PyReadonlyArray1<'py, i32>,
        mut table: PyRefMut<'py, FlowTable>,
    ) -> PyResult<DecisionArrays<'py>> {
        guard(py, STAGE, || {
            let d =
                self.decide_rows(py, &sg, &ts_ns, &tcp_flags, &proto, &flow, &mut table.table)?;
            Ok((
                PyArray1::from_vec(py, d.packet),
                PyArray1::from_vec(py, d.point),
                PyArray1::from_vec(py, d.action),
                PyArray1::from_vec(py, d.rule),
                PyArray1::from_vec(py, d.sg_rule),
                PyArray1::from_vec(py, d.nacl_rule),
            ))
        })
    }
}

impl ConnectionTracker {
    /// The decision pass over checked columns, with the GIL released (shared by `decide` and the
    /// streaming pass's `stream::py::decide_observe`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decide_rows(
        &mut self,
        py: Python<'_>,
        sg: &SecurityGroupRules,
        ts_ns: &PyReadonlyArray1<'_, i64>,
        tcp_flags: &PyReadonlyArray1<'_, u8>,
        proto: &PyReadonlyArray1<'_, u8>,
        flow: &PyReadonlyArray1<'_, i32>,
        table: &mut super::flow_table::FlowTable,
    ) -> PyResult<Decisions> {
        let pk = PacketCols {
            ts_ns: ts_ns.as_slice()?,
            tcp_flags: tcp_flags.as_slice()?,
            proto: proto.as_slice()?,
            flow: flow.as_slice()?,
        };
        let n = pk.ts_ns.len();
        same_length(
            n,
            &[pk.tcp_flags.len(), pk.proto.len(), pk.flow.len()],
            "decide",
        )?;
        let flows = table.flows();
        if pk.flow.iter().any(|&f| f >= 0 && f as usize >= flows) {
            return Err(PyValueError::new_err("decide: a flow id has no point rows"));
        }
        let rules = &sg.rules;
        let conns = &mut self.table;
        let (points, start) = (&mut table.points, &table.start);
        Ok(py.detach(|| conns.decide(rules, &pk, points, start)))
    }
}

/// The attribution tables compiled by `attribute_kernel.compile_topology`.
#[pyclass(module = "vpcflow._native")]
pub struct AttributionTables {
    pub(crate) tables: PlanTables,
}

#[pymethods]
impl AttributionTables {
    #[new]
    /// `categories`: the codes of the not-captured categories the plan decides (`Categories`).
    fn new(py: Python<'_>, columns: &Bound<'_, PyDict>, categories: Categories) -> PyResult<Self> {
        guard(py, STAGE, || {
            Ok(AttributionTables {
                tables: PlanTables::from_dict(columns, categories)?,
            })
        })
    }

    /// (category[u] int16, points[u, 4, 14] int64) of new flows (see attribute_kernel.P_*).
    #[allow(clippy::too_many_arguments)]
    fn plan<'py>(
        &self,
        py: Python<'py>,
        label: PyReadonlyArray1<'py, i32>,
        version: PyReadonlyArray1<'py, u8>,
        s_hi: PyReadonlyArray1<'py, u64>,
        s_lo: PyReadonlyArray1<'py, u64>,
        d_hi: PyReadonlyArray1<'py, u64>,
        d_lo: PyReadonlyArray1<'py, u64>,
    ) -> PyResult<(Bound<'py, PyArray1<i16>>, Bound<'py, PyAny>)> {
        guard(py, STAGE, || {
            let (lab, ver) = (label.as_slice()?, version.as_slice()?);
            let (sh, sl, dh, dl) = (
                s_hi.as_slice()?,
                s_lo.as_slice()?,
                d_hi.as_slice()?,
                d_lo.as_slice()?,
            );
            let u = lab.len();
            same_length(
                u,
                &[ver.len(), sh.len(), sl.len(), dh.len(), dl.len()],
                "plan",
            )?;
            let n_eni = self.tables.eni_count();
            if lab.iter().any(|&l| l >= n_eni as i32) {
                return Err(PyValueError::new_err(
                    "plan: a capture label is not an ENI index",
                ));
            }
            let (cat, pts): (Vec<i16>, Vec<i64>) = py.detach(|| {
                let mut cat = Vec::with_capacity(u);
                let mut pts = Vec::with_capacity(u * MAX_POINTS * N_COLS);
                for i in 0..u {
                    let plan =
                        self.tables
                            .plan(lab[i], ver[i] == 6, (sh[i], sl[i]), (dh[i], dl[i]));
                    cat.push(plan.category);
                    pts.extend(plan.points.iter().flatten());
                }
                (cat, pts)
            });
            Ok((
                PyArray1::from_vec(py, cat),
                matrix(py, pts, &[u, MAX_POINTS, N_COLS])?,
            ))
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(flow_keys, m)?)?;
    m.add_function(wrap_pyfunction!(unique_rows, m)?)?;
    m.add_function(wrap_pyfunction!(pack_points, m)?)?;
    m.add_function(wrap_pyfunction!(empty_points, m)?)?;
    m.add_class::<FlowCache>()?;
    m.add_class::<SecurityGroupRules>()?;
    m.add_class::<NetworkAclRules>()?;
    m.add_class::<ConnectionTracker>()?;
    m.add_class::<AttributionTables>()?;
    m.add_class::<FlowTable>()?;
    Ok(())
}
