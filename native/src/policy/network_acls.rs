//! Network ACLs: stateless numbered entries, first match by rule number decides allow or deny;
//! nothing matching means the `*` deny. Entries of one (NACL, direction) are contiguous and sorted
//! by rule number (numerically: rule 90 before 100) when Python compiles them.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::columns::vec1;
use super::matcher::{MatchColumns, Query};

#[derive(Clone, Debug, Default)]
pub struct NetworkAclRules {
    m: MatchColumns,
    allow: Vec<bool>,
    rule_id: Vec<i32>,
    start: Vec<i64>,
    end: Vec<i64>,
    default_deny: Vec<i32>,
}

impl NetworkAclRules {
    pub fn from_dict(columns: &Bound<'_, PyDict>) -> PyResult<Self> {
        Ok(NetworkAclRules {
            m: MatchColumns::from_dict(columns)?,
            allow: vec1(columns, "allow")?,
            rule_id: vec1(columns, "rule_id")?,
            start: vec1(columns, "start")?,
            end: vec1(columns, "end")?,
            default_deny: vec1(columns, "default_deny")?,
        })
    }

    /// (deciding rule id, allowed) for the packet at `slot` (NACL*2+direction).
    pub fn decide(&self, slot: usize, q: &Query) -> (i32, bool) {
        for r in self.start[slot] as usize..self.end[slot] as usize {
            if self.m.service_matches(r, q) && self.m.cidr_matches(r, q) {
                return (self.rule_id[r], self.allow[r]);
            }
        }
        (self.default_deny[slot], false)
    }
}
