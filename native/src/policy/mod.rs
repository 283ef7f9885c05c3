//! The policy engine: attribution plans, security groups with connection tracking, network ACLs.
//!
//! Python (`dataplane/attribute/engine.py`) compiles the topology and rules into columns once per engine
//! and hands them over (`py.rs`); per batch it asks for flow ids, plans and stateless decisions of
//! new flows, then the sequential connection-tracking pass over every packet.

pub mod attribute;
pub mod columns;
pub mod conn_store;
pub mod conntrack;
pub mod flow_table;
pub mod flow_table_py;
pub mod hashing;
pub mod layout;
pub mod matcher;
pub mod network_acls;
pub mod new_flows;
pub mod py;
pub mod security_groups;
