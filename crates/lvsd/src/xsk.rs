//! AF_XDP sockets of the slow path (copy mode), one per (interface, queue).
//!
//! The XDP program redirects the first packet of every new flow into the socket of the
//! queue it arrived on (`LVS_XSKS`). The slow path reads it here, schedules it with
//! `lvs-core`, installs the flow in the XDP maps and transmits the rewritten packet, possibly
//! through the socket of another interface ([`XskPort::send`]).
//!
//! Each port owns its own UMEM: the first half of the frames is lent to the kernel for
//! receiving (fill ring), the second half is ours for transmitting. Copy mode is the only mode
//! veth supports, and the first packets of flows are few, so the simplicity is worth more than
//! zero-copy here.
//!
//! This module holds the project's only `unsafe` outside BPF loading: the UMEM is memory
//! shared with the kernel, which Rust cannot describe. Each block says why it is sound.
#![allow(unsafe_code)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ffi::CString;
use std::num::NonZeroU32;
use std::ptr::NonNull;

use anyhow::{Context, anyhow};
use xdpilone::xdp::XdpDesc;
use xdpilone::{DeviceQueue, IfInfo, RingRx, RingTx, Socket, SocketConfig, Umem, UmemConfig, User};

/// Bytes per UMEM frame (the kernel's minimum; a 1500-byte MTU frame fits).
const FRAME: u32 = 2048;
/// Frames per port: half for receiving, half for sending.
const FRAMES: u32 = 2048;
/// Ring sizes (power of two).
const RING: u32 = 1024;
/// `XDP_COPY` bind flag (`linux/if_xdp.h`).
const XDP_COPY: u16 = 1 << 1;

/// Page-aligned memory shared with the kernel.
struct Area {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Area {
    fn new(len: usize) -> anyhow::Result<Area> {
        let layout = Layout::from_size_align(len, 4096).context("UMEM layout")?;
        // SAFETY: the layout has a non-zero size; the pointer is checked for null.
        let p = unsafe { alloc_zeroed(layout) };
        let ptr =
            NonNull::new(p).ok_or_else(|| anyhow!("UMEM allocation of {len} bytes failed"))?;
        Ok(Area { ptr, layout })
    }

    fn as_slice_ptr(&self) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.ptr, self.layout.size())
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout; the UMEM that registered it is
        // dropped before (field order in `XskPort`).
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// One AF_XDP socket bound to one queue of one interface.
pub struct XskPort {
    /// Interface index.
    pub ifindex: u32,
    /// Queue id.
    pub queue: u32,
    rx: RingRx,
    tx: RingTx,
    device: DeviceQueue,
    _user: User,
    tx_free: Vec<u64>,
    fd: i32,
    // Dropped last: the UMEM must be unregistered (socket closed) before the memory goes.
    _umem: Umem,
    area: Area,
}

impl std::fmt::Debug for XskPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskPort")
            .field("ifindex", &self.ifindex)
            .field("queue", &self.queue)
            .field("fd", &self.fd)
            .finish()
    }
}

impl XskPort {
    /// Open and bind a socket on `ifname` queue `queue` (copy mode), with its fill ring full.
    pub fn open(ifname: &str, queue: u32) -> anyhow::Result<XskPort> {
        let area = Area::new((FRAME * FRAMES) as usize)?;
        let config = UmemConfig {
            fill_size: RING,
            complete_size: RING,
            frame_size: FRAME,
            headroom: 0,
            flags: 0,
        };
        // SAFETY: `area` is page aligned, lives as long as the returned port (it is dropped
        // after `umem`), and nothing else reads or writes it except through this port.
        let umem = unsafe { Umem::new(config, area.as_slice_ptr()) }
            .map_err(|e| anyhow!("UMEM registration: {e:?}"))?;
        let mut info = IfInfo::invalid();
        let cname = CString::new(ifname).context("interface name")?;
        info.from_name(&cname)
            .map_err(|e| anyhow!("interface {ifname}: {e:?}"))?;
        info.set_queue(queue);
        let sock =
            Socket::with_shared(&info, &umem).map_err(|e| anyhow!("AF_XDP socket: {e:?}"))?;
        let device = umem
            .fq_cq(&sock)
            .map_err(|e| anyhow!("fill/completion rings: {e:?}"))?;
        let user = umem
            .rx_tx(
                &sock,
                &SocketConfig {
                    rx_size: NonZeroU32::new(RING),
                    tx_size: NonZeroU32::new(RING),
                    bind_flags: XDP_COPY,
                },
            )
            .map_err(|e| anyhow!("rx/tx rings: {e:?}"))?;
        let rx = user.map_rx().map_err(|e| anyhow!("map rx: {e:?}"))?;
        let tx = user.map_tx().map_err(|e| anyhow!("map tx: {e:?}"))?;
        umem.bind(&user)
            .map_err(|e| anyhow!("bind AF_XDP socket to {ifname} queue {queue}: {e:?}"))?;
        let fd = user.as_raw_fd();
        let mut port = XskPort {
            ifindex: info.ifindex(),
            queue,
            rx,
            tx,
            device,
            _user: user,
            tx_free: (FRAMES / 2..FRAMES).map(|i| u64::from(i * FRAME)).collect(),
            fd,
            _umem: umem,
            area,
        };
        let rx_frames: Vec<u64> = (0..FRAMES / 2).map(|i| u64::from(i * FRAME)).collect();
        port.refill(rx_frames);
        Ok(port)
    }

    /// The socket's file descriptor (for `LVS_XSKS` and `poll`).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    fn refill(&mut self, frames: Vec<u64>) {
        let mut w = self
            .device
            .fill(u32::try_from(frames.len()).unwrap_or(u32::MAX));
        w.insert(frames.into_iter());
        w.commit();
    }

    fn frame(&self, addr: u64, len: u32) -> Option<&[u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.area.layout.size() {
            return None;
        }
        // SAFETY: the range is inside the area; the kernel handed this frame to us through
        // the RX ring and does not touch it until we give it back through the fill ring,
        // which happens only after the closure using the slice returned.
        Some(unsafe { std::slice::from_raw_parts(self.area.ptr.as_ptr().add(start), len as usize) })
    }

    /// Deliver every received frame to `f`, then give the frames back to the kernel.
    pub fn recv(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut descs = Vec::new();
        {
            let mut r = self.rx.receive(RING);
            while let Some(d) = r.read() {
                descs.push(d);
            }
            r.release();
        }
        let n = descs.len();
        let mut back = Vec::with_capacity(n);
        for d in descs {
            if let Some(buf) = self.frame(d.addr, d.len) {
                f(buf);
            }
            // Return the whole chunk (any address inside it will do).
            back.push(d.addr - d.addr % u64::from(FRAME));
        }
        if !back.is_empty() {
            self.refill(back);
        }
        if self.device.needs_wakeup() {
            self.device.wake();
        }
        n
    }

    fn reap(&mut self) {
        let mut c = self.device.complete(RING);
        while let Some(addr) = c.read() {
            self.tx_free.push(addr - addr % u64::from(FRAME));
        }
        c.release();
    }

    /// Transmit one Ethernet frame out of this port's interface. Returns false when the
    /// frame is too large or every TX frame is in flight.
    pub fn send(&mut self, frame: &[u8]) -> bool {
        self.reap();
        if frame.len() > FRAME as usize {
            return false;
        }
        let Some(addr) = self.tx_free.pop() else {
            return false;
        };
        let start = addr as usize;
        // SAFETY: `addr` is one of our TX frames (second half of the area), not lent to the
        // kernel (it came back through the completion ring or was never sent), and the copy
        // stays within the frame since `frame.len() <= FRAME`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                self.area.ptr.as_ptr().add(start),
                frame.len(),
            );
        }
        let desc = XdpDesc {
            addr,
            len: u32::try_from(frame.len()).unwrap_or(FRAME),
            options: 0,
        };
        let sent = {
            let mut w = self.tx.transmit(1);
            let ok = w.insert_once(desc);
            w.commit();
            ok
        };
        if !sent {
            self.tx_free.push(addr);
            return false;
        }
        // Copy mode needs a kick to transmit.
        self.tx.wake();
        true
    }
}

/// Wait until one of `fds` is readable or `timeout_ms` passes. Returns the readable ones.
pub fn poll_readable(fds: &[i32], timeout_ms: i32) -> Vec<usize> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of `p.len()` pollfd structures for the whole call.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if n <= 0 {
        return Vec::new();
    }
    p.iter()
        .enumerate()
        .filter(|(_, x)| x.revents & libc::POLLIN != 0)
        .map(|(i, _)| i)
        .collect()
}
