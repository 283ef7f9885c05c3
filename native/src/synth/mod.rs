//! Generation: packet rows encoded as capture records (the pcap/pcapng writer's per-packet work).
//!
//! The synthetic traffic generator itself (`sources/synthetic.py`) is vectorised numpy with no
//! compiled kernel; what it needs from the core is the encoder used by `vpcflow generate --pcap`.

pub mod py;
pub mod writer;
