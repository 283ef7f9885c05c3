//! Security groups: the stateless half. A group only ALLOWS; the first allowing rule of the ENI's
//! groups (for the direction) is the deciding rule, none means the ENI's default deny.
//!
//! Rules of one (ENI, direction) are contiguous (`start[eni*2+dir]..end[..]`). A referenced-group
//! rule matches when the remote address is a private address of an ENI that is a member of that
//! group (`member[eni, group]`); CIDR rules use the shared matcher.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::columns::{vec1, vec2, vec_flat};
use super::matcher::{MatchColumns, Query};

#[derive(Clone, Debug, Default)]
pub struct SecurityGroupRules {
    m: MatchColumns,
    ref_group: Vec<i32>,
    slash0: Vec<bool>,
    rule_id: Vec<i32>,
    start: Vec<i64>,
    end: Vec<i64>,
    member: Vec<bool>,
    groups: usize,
    /// Per ENI*2+direction: the rule ids of the default deny, "no security group", "tracked
    /// response" and "after close" decisions.
    pub default_deny: Vec<i32>,
    pub no_sg: Vec<i32>,
    pub tracked: Vec<i32>,
    pub closed: Vec<i32>,
    /// Per ENI: whether it has a security group at all.
    pub has_sg: Vec<bool>,
    /// Per ENI: whether its type is tracked automatically (no untracked connections).
    pub auto_tracked: Vec<bool>,
    /// Per (ENI*2+direction, family 0 v4 / 1 v6, 0 TCP / 1 UDP), flattened: a /0 rule allows all ports.
    pub open_all: Vec<bool>,
}

/// The outcome of a rule scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgMatch {
    /// The first allowing rule id, -1 when none allows.
    pub rule: i32,
    /// Whether a `0.0.0.0/0` / `::/0` rule allows it (the untracked-connection test).
    pub any_slash0: bool,
}

impl SecurityGroupRules {
    pub fn from_dict(columns: &Bound<'_, PyDict>) -> PyResult<Self> {
        let (member, groups) = vec2(columns, "member")?;
        let rules = SecurityGroupRules {
            m: MatchColumns::from_dict(columns)?,
            ref_group: vec1(columns, "ref_group")?,
            slash0: vec1(columns, "slash0")?,
            rule_id: vec1(columns, "rule_id")?,
            start: vec1(columns, "start")?,
            end: vec1(columns, "end")?,
            member,
            groups,
            default_deny: vec1(columns, "default_deny")?,
            no_sg: vec1(columns, "no_sg")?,
            tracked: vec1(columns, "tracked")?,
            closed: vec1(columns, "closed")?,
            has_sg: vec1(columns, "has_sg")?,
            auto_tracked: vec1(columns, "auto_tracked")?,
            open_all: vec_flat(columns, "open_all")?,
        };
        let slots = rules.start.len();
        if rules.end.len() != slots
            || rules.has_sg.len() * 2 != slots
            || rules.auto_tracked.len() * 2 != slots
            || rules.open_all.len() != slots * 4
        {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "security-group rules: per-ENI columns do not fit the rule slots",
            ));
        }
        Ok(rules)
    }

    /// No rules, only the per-(ENI, direction) decision ids (tests of the tracking pass).
    #[cfg(test)]
    pub(crate) fn decisions_only(
        default_deny: Vec<i32>,
        no_sg: Vec<i32>,
        tracked: Vec<i32>,
        closed: Vec<i32>,
    ) -> Self {
        SecurityGroupRules {
            default_deny,
            no_sg,
            tracked,
            closed,
            ..Default::default()
        }
    }

    /// Whether a TCP/UDP rule of `slot` allows every port from 0.0.0.0/0 (`v6`: ::/0).
    #[inline]
    pub fn open_all(&self, slot: usize, v6: bool, udp: bool) -> bool {
        self.open_all[slot * 4 + v6 as usize * 2 + udp as usize]
    }

    /// One ENI whose inbound rule 7 and outbound rule 8 allow everything to/from 0.0.0.0/0 (/0
    /// rules, TCP/UDP open on all ports both ways: the untracked-connection case). Tests only.
    #[cfg(test)]
    pub(crate) fn one_eni_open_for_tests() -> Self {
        SecurityGroupRules {
            m: MatchColumns::any_v4_for_tests(2),
            ref_group: vec![-1, -1],
            slash0: vec![true, true],
            rule_id: vec![7, 8],
            start: vec![0, 1],
            end: vec![1, 2],
            groups: 0,
            has_sg: vec![true],
            auto_tracked: vec![false],
            open_all: vec![true, true, false, false, true, true, false, false],
            ..Self::decisions_only(vec![10, 11], vec![12, 13], vec![14, 15], vec![16, 17])
        }
    }

    fn peer_matches(&self, r: usize, q: &Query, remote_eni: i32) -> bool {
        let g = self.ref_group[r];
        if g >= 0 {
            remote_eni >= 0 && self.member[remote_eni as usize * self.groups + g as usize]
        } else {
            self.m.cidr_matches(r, q)
        }
    }

    /// Scan the rules of `slot` (ENI*2+direction). Stops at the first allowing rule unless
    /// `need_slash0` asks whether a /0 rule allows it too.
    pub fn first_allow(
        &self,
        slot: usize,
        q: &Query,
        remote_eni: i32,
        need_slash0: bool,
    ) -> SgMatch {
        let mut out = SgMatch {
            rule: -1,
            any_slash0: false,
        };
        for r in self.start[slot] as usize..self.end[slot] as usize {
            if !self.m.service_matches(r, q) || !self.peer_matches(r, q, remote_eni) {
                continue;
            }
            if out.rule < 0 {
                out.rule = self.rule_id[r];
            }
            if self.slash0[r] {
                out.any_slash0 = true;
                break;
            }
            if !need_slash0 {
                break;
            }
        }
        out
    }
}
