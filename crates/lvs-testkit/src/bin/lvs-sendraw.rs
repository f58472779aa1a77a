//! `lvs-sendraw IFNAME HEXFRAME [--expect-udp ADDR:PORT] [--timeout-ms N] [--interval-ms N]`:
//! send one raw Ethernet frame (given in hex, destination MAC included) out of `IFNAME`
//! through an `AF_PACKET` socket, for tests that need packets no socket API builds
//! (tunnel-encapsulated, malformed, ...).
//!
//! With `--expect-udp ADDR:PORT` it first binds a UDP socket to `ADDR:PORT` (the inner
//! source of the frame, so replies come back to it), then sends the frame every
//! `--interval-ms` (default 300) until a datagram arrives or `--timeout-ms` (default 5000)
//! passes. It prints `from=IP:PORT PAYLOAD` and exits 0, or prints `timeout` and exits 1.
//! Without it the frame is sent once.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn parse_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !s.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).with_context(|| format!("hex at {i}")))
        .collect()
}

#[allow(unsafe_code)]
mod raw {
    //! The `AF_PACKET` socket (std and socket2 have no `sockaddr_ll`).
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A packet socket that sends on one interface.
    pub struct PacketSender {
        fd: OwnedFd,
        ifindex: i32,
    }

    impl PacketSender {
        /// A socket for `ifname` (receives nothing: protocol 0).
        pub fn new(ifname: &str) -> io::Result<PacketSender> {
            let name = CString::new(ifname).map_err(io::Error::other)?;
            // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                return Err(io::Error::other(format!("no interface {ifname}")));
            }
            // SAFETY: plain syscall with constant arguments.
            let fd =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(PacketSender {
                fd,
                ifindex: ifindex as i32,
            })
        }

        /// Send `frame` (a complete Ethernet frame) as it is.
        pub fn send(&self, frame: &[u8]) -> io::Result<()> {
            if frame.len() < 14 {
                return Err(io::Error::other("frame shorter than an Ethernet header"));
            }
            let mut addr = libc::sockaddr_ll {
                sll_family: libc::AF_PACKET as u16,
                sll_protocol: u16::from_be_bytes([frame[12], frame[13]]).to_be(),
                sll_ifindex: self.ifindex,
                sll_hatype: 0,
                sll_pkttype: 0,
                sll_halen: 6,
                sll_addr: [0; 8],
            };
            addr.sll_addr[..6].copy_from_slice(&frame[..6]);
            // SAFETY: `frame` and `addr` are valid for reads of the lengths passed for the
            // duration of the call; the fd is open.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast::<libc::c_void>(),
                    frame.len(),
                    0,
                    (&raw const addr).cast::<libc::sockaddr>(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n as usize != frame.len() {
                return Err(io::Error::other(format!(
                    "sent {n} of {} bytes",
                    frame.len()
                )));
            }
            Ok(())
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: lvs-sendraw IFNAME HEXFRAME [--expect-udp ADDR:PORT] \
                 [--timeout-ms N] [--interval-ms N]";
    let (Some(ifname), Some(hex)) = (args.first(), args.get(1)) else {
        bail!("{usage}");
    };
    let frame = parse_hex(hex).context("HEXFRAME")?;
    let mut expect: Option<SocketAddr> = None;
    let mut timeout = Duration::from_millis(5000);
    let mut interval = Duration::from_millis(300);
    let mut it = args[2..].iter();
    while let Some(opt) = it.next() {
        let v = it.next().with_context(|| format!("{opt} needs a value"))?;
        match opt.as_str() {
            "--expect-udp" => expect = Some(v.parse().context("--expect-udp ADDR:PORT")?),
            "--timeout-ms" => timeout = Duration::from_millis(v.parse()?),
            "--interval-ms" => interval = Duration::from_millis(v.parse()?),
            _ => bail!("unknown option {opt}\n{usage}"),
        }
    }
    let sender =
        raw::PacketSender::new(ifname).with_context(|| format!("AF_PACKET on {ifname}"))?;
    let Some(bind) = expect else {
        sender.send(&frame).context("sending")?;
        return Ok(());
    };
    let sock = UdpSocket::bind(bind).with_context(|| format!("bind udp {bind}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    loop {
        sender.send(&frame).context("sending")?;
        let now = Instant::now();
        if now >= deadline {
            println!("timeout");
            std::process::exit(1);
        }
        sock.set_read_timeout(Some(interval.min(deadline - now)))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                println!(
                    "from={from} {}",
                    String::from_utf8_lossy(&buf[..n]).trim_end()
                );
                return Ok(());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e).context("receiving"),
        }
    }
}
