//! The system calls std and socket2 do not offer: an `AF_PACKET` socket for gratuitous ARP
//! and unsolicited NA frames (needs `sockaddr_ll`), `IPV6_RECVPKTINFO`, and `recvmsg` with
//! the IPv6 hop limit and destination from control messages.
//!
//! This module holds the crate's only `unsafe`, each block a single libc call on buffers it
//! owns, with the sizes passed alongside.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An `AF_PACKET` raw socket that sends whole Ethernet frames on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    /// Open a send-only packet socket for interface `ifindex` (protocol 0: receives nothing).
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PacketSocket {
            fd,
            ifindex: ifindex as i32,
        })
    }

    /// Send one Ethernet frame (destination MAC in bytes 0..6, EtherType in 12..14).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "short frame"));
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: frame and sll are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// `setsockopt(fd, level, name, &int)`.
pub fn set_int_opt(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: value lives for the call and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `recvmsg` on an IPv6 raw socket returned.
#[derive(Clone, Copy, Debug)]
pub struct Recv6 {
    /// Bytes read into the buffer.
    pub len: usize,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address (`IPV6_PKTINFO`), if the control message came.
    pub dst: Option<Ipv6Addr>,
    /// Hop limit (`IPV6_HOPLIMIT`), if the control message came.
    pub hop_limit: Option<u8>,
}

/// `recvmsg` on a non-blocking IPv6 socket with `IPV6_RECVPKTINFO` and `IPV6_RECVHOPLIMIT`.
pub fn recv6(fd: RawFd, buf: &mut [u8]) -> io::Result<Recv6> {
    // u64 array: aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: all-zero is valid for these plain C structs.
    let mut src: libc::sockaddr_in6 = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut src as *mut libc::sockaddr_in6).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 16]>();
    // SAFETY: every pointer in msg refers to a live local buffer of the stated size.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Recv6 {
        len: n as usize,
        src: Ipv6Addr::from(src.sin6_addr.s6_addr),
        dst: None,
        hop_limit: None,
    };
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled, bounded by
    // msg_controllen; each data read is checked against the cmsg length first.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            let data = libc::CMSG_DATA(c);
            let data_len = h.cmsg_len as usize - (data as usize - c as usize);
            if h.cmsg_level == libc::IPPROTO_IPV6 {
                if h.cmsg_type == libc::IPV6_HOPLIMIT && data_len >= size_of::<i32>() {
                    let v = std::ptr::read_unaligned(data.cast::<i32>());
                    out.hop_limit = u8::try_from(v).ok();
                } else if h.cmsg_type == libc::IPV6_PKTINFO
                    && data_len >= size_of::<libc::in6_pktinfo>()
                {
                    let p = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    out.dst = Some(Ipv6Addr::from(p.ipi6_addr.s6_addr));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(out)
}

/// Register a socket with tokio's reactor for readability.
pub fn async_fd(sock: socket2::Socket) -> io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: the AsyncFd owns the Socket, whose descriptor stays open and unchanged until the
    // AsyncFd (and with it the Socket) is dropped.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}
