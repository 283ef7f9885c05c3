//! Aggregation: observation rows folded into partial flow records per (ENI, window, key).
//!
//! Python (`dataplane/aggregate/aggregator.py`) keeps the window bookkeeping (closing windows, which
//! (ENI, window) pairs get NODATA); this module does the per-row work and builds the record tables of
//! closed windows (`records`: SKIPDATA cut, row order, columns).

pub mod groups;
pub mod key;
pub mod observe;
pub mod py;
pub mod records;
pub mod state;
