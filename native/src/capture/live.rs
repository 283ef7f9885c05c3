//! Live capture: an `AF_PACKET` socket with a `TPACKET_V3` receive ring (the kernel fills blocks of
//! frames in shared memory, no copy and no system call per packet), kernel timestamps in ns, an
//! optional classic BPF filter attached in the kernel. Frames are decoded by `frame::parse_frame`
//! straight from the ring, so a live packet and a captured one give the same row.
//!
//! The FFI (socket options, the ring's mmap, poll) is the only `unsafe` here; each block says why
//! it is sound. Layouts are those of <linux/if_packet.h> (stable kernel ABI).

use std::io;
use std::ptr;
use std::sync::atomic::{fence, Ordering};

use super::frame::{parse_frame, LT_ETHERNET};
use super::rows::{count, Rows, N_STATS, ST_FRAMES, ST_NON_IP};

const ETH_P_ALL: u16 = 0x0003;
const SOL_PACKET: libc::c_int = 263;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const PACKET_OUTGOING: u8 = 4;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where the `sockaddr_ll` of a frame starts.
const SOCKADDR_AT: usize = 48;

/// `struct tpacket_req3`
#[repr(C)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`
#[repr(C)]
struct BpfProgram {
    len: u16,
    filter: *const BpfInsn,
}

/// How the ring is laid out and what it keeps.
pub struct RingConfig {
    pub device: String,
    pub snaplen: usize,
    pub block_size: usize,
    pub block_nr: usize,
    /// the kernel hands a block over after this long even when it is not full
    pub block_timeout_ms: u32,
    pub filter: Vec<BpfInsn>,
}

/// An open ring on one device.
pub struct Ring {
    fd: libc::c_int,
    map: *mut u8,
    cfg: RingConfig,
    next_block: usize,
    last_ts: i64,
}

// SAFETY: the ring's memory and socket are owned by this value alone; every access goes through
// `&mut self`, so moving it to another thread (to run with the GIL released) shares nothing.
unsafe impl Send for Ring {}
// SAFETY: the only `&self` method (`drops`) makes a getsockopt call, which the kernel serialises,
// and reads nothing of the mapping; everything touching the ring takes `&mut self`.
unsafe impl Sync for Ring {}

fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn set_option<T>(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    what: &str,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last_error(what));
    }
    Ok(())
}

impl Ring {
    pub fn open(cfg: RingConfig) -> io::Result<Ring> {
        let name = std::ffi::CString::new(cfg.device.clone()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "device name holds a NUL byte")
        })?;
        // SAFETY: plain system calls on values we own; results are checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW,
                i32::from(ETH_P_ALL.to_be()),
            )
        };
        if fd < 0 {
            return Err(last_error("socket"));
        }
        let mut ring = Ring {
            fd,
            map: ptr::null_mut(),
            cfg,
            next_block: 0,
            last_ts: 0,
        };
        ring.setup(&name)?;
        Ok(ring)
    }

    fn setup(&mut self, name: &std::ffi::CStr) -> io::Result<()> {
        let cfg = &self.cfg;
        set_option(
            self.fd,
            SOL_PACKET,
            PACKET_VERSION,
            &TPACKET_V3,
            "PACKET_VERSION",
        )?;
        let req = TpacketReq3 {
            block_size: cfg.block_size as u32,
            block_nr: cfg.block_nr as u32,
            frame_size: 2048,
            frame_nr: (cfg.block_size * cfg.block_nr / 2048) as u32,
            retire_blk_tov: cfg.block_timeout_ms,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        set_option(self.fd, SOL_PACKET, PACKET_RX_RING, &req, "PACKET_RX_RING")?;
        if !cfg.filter.is_empty() {
            let prog = BpfProgram {
                len: cfg.filter.len() as u16,
                filter: cfg.filter.as_ptr(),
            };
            set_option(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &prog,
                "SO_ATTACH_FILTER",
            )?;
        }
        let len = cfg.block_size * cfg.block_nr;
        // SAFETY: maps the ring the kernel just allocated for this socket (length as requested);
        // the mapping lives until `drop` unmaps it.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_error("mmap of the packet ring"));
        }
        self.map = map.cast();
        // SAFETY: `name` is a NUL-terminated string we own.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such network device",
            ));
        }
        // SAFETY: an all-zero sockaddr_ll is valid; the fields set below are plain integers.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a live sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                self.fd,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(last_error("bind"));
        }
        Ok(())
    }

    fn block_status(&self, b: usize) -> *mut u32 {
        // SAFETY (of the arithmetic): `b < block_nr`, so the offset stays inside the mapping;
        // block_status is the u32 at offset 8 of `struct tpacket_block_desc`.
        unsafe { self.map.add(b * self.cfg.block_size + 8).cast() }
    }

    /// Decode every block the kernel has handed over (waiting up to `timeout_ms` for the first);
    /// stops after a block once `cap` rows are out.
    pub fn read(
        &mut self,
        timeout_ms: i32,
        cap: usize,
        iface: i16,
        stats: &mut [i64; N_STATS],
        rows: &mut Rows,
    ) {
        let mut waited = false;
        while rows.len() < cap {
            let status = self.block_status(self.next_block);
            // SAFETY: `status` points into the live mapping; the kernel writes it concurrently,
            // hence the volatile read.
            if unsafe { ptr::read_volatile(status) } & TP_STATUS_USER == 0 {
                if waited || !self.wait(timeout_ms) {
                    return;
                }
                waited = true;
                continue;
            }
            fence(Ordering::Acquire); // the block's contents are visible after its status
                                      // SAFETY: while its status says USER the kernel does not touch the block, so a shared
                                      // slice of it is sound until we hand it back below.
            let block = unsafe {
                std::slice::from_raw_parts(
                    self.map.add(self.next_block * self.cfg.block_size),
                    self.cfg.block_size,
                )
            };
            self.decode_block(block, iface, stats, rows);
            fence(Ordering::Release);
            // SAFETY: as above; handing the block back to the kernel.
            unsafe { ptr::write_volatile(status, TP_STATUS_KERNEL) };
            self.next_block = (self.next_block + 1) % self.cfg.block_nr;
        }
    }

    fn wait(&self, timeout_ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&mut pfd, 1, timeout_ms) > 0 }
    }

    fn decode_block(
        &mut self,
        block: &[u8],
        iface: i16,
        stats: &mut [i64; N_STATS],
        rows: &mut Rows,
    ) {
        let u32_at = |p: usize| {
            block
                .get(p..p + 4)
                .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        };
        let u16_at = |p: usize| {
            block
                .get(p..p + 2)
                .map_or(0, |s| u16::from_ne_bytes([s[0], s[1]]))
        };
        let num = u32_at(12);
        let mut off = u32_at(16) as usize;
        for _ in 0..num {
            if off + SOCKADDR_AT + 12 > block.len() {
                break;
            }
            let (next, sec, nsec) = (u32_at(off), u32_at(off + 4), u32_at(off + 8));
            let (snap, len, mac) = (
                u32_at(off + 12) as usize,
                u32_at(off + 16) as usize,
                u16_at(off + 24) as usize,
            );
            let hatype = u16_at(off + SOCKADDR_AT + 8);
            let pkttype = block[off + SOCKADDR_AT + 10];
            let skip = pkttype == PACKET_OUTGOING && hatype == ARPHRD_LOOPBACK;
            if skip {
                // loopback delivers every frame twice (sent and received): keep the received copy
            } else if hatype != ARPHRD_ETHER && hatype != ARPHRD_LOOPBACK {
                stats[ST_FRAMES] += 1;
                stats[ST_NON_IP] += 1;
            } else {
                let start = (off + mac).min(block.len());
                let end = (start + snap.min(self.cfg.snaplen)).min(block.len());
                let r = parse_frame(&block[start..end], len, LT_ETHERNET);
                let ts = (i64::from(sec) * 1_000_000_000 + i64::from(nsec)).max(self.last_ts);
                self.last_ts = ts;
                if count(&r, 0, stats) {
                    rows.push(ts, iface, &r);
                }
            }
            if next == 0 {
                break;
            }
            off += next as usize;
        }
    }

    /// Frames the kernel dropped since the last call (the counters reset on read).
    pub fn drops(&self) -> u64 {
        let mut st = [0u32; 3]; // struct tpacket_stats_v3
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: `st` is writable for `len` bytes; the kernel writes at most that.
        let rc = unsafe {
            libc::getsockopt(
                self.fd,
                SOL_PACKET,
                PACKET_STATISTICS,
                st.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return 0;
        }
        u64::from(st[1])
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping (if made) and closing our own socket, once.
        unsafe {
            if !self.map.is_null() {
                libc::munmap(self.map.cast(), self.cfg.block_size * self.cfg.block_nr);
            }
            libc::close(self.fd);
        }
    }
}
