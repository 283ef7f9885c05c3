//! Aggregation: observation rows folded into partial flow records per (ENI, window, key).
//!
//! Python (`dataplane/aggregate/aggregator.py`) keeps the window bookkeeping (closing windows, NODATA,
//! SKIPDATA) and the record tables; this module does the per-row work.

pub mod groups;
pub mod key;
pub mod observe;
pub mod py;
pub mod state;
