//! Record tables as text: the lines of AWS flow-log text (spec 1.1, 1.7) and the REJECT side
//! channel's JSON lines, written straight from the Arrow columns' buffers.
//!
//! Python hands over each column's buffers (pyarrow buffers through the buffer protocol, nothing
//! copied); [`columns`] reads them as cells, [`lines`] writes the rows (a range, or any rows by
//! index so a sorted selection renders without gathering the table first) and [`format`] formats
//! one value. The GIL is released while a slice renders, so the gzip thread compresses the
//! previous slice meanwhile. [`order`] computes the canonical order of an S3 group's rows from the
//! same column views ([`cell_order`]: how cells compare; [`radix`]: the sort of the row keys).

pub mod cell_order;
pub mod columns;
pub mod format;
pub mod lines;
pub mod order;
pub mod py;
pub mod radix;
