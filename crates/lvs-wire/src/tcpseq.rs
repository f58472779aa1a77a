//! TCP sequence-number translation and payload insertion: FULLNAT with Proxy Protocol v2.
//!
//! The director puts `L` bytes (a PROXY header, [`crate::proxy`]) in front of the
//! client's byte stream. The real server then counts the client's bytes `L` higher than
//! the client does, for the rest of the connection:
//!
//! | direction | rewrite | function |
//! |---|---|---|
//! | client → real server | sequence number + `L` | [`seq_translate_in`] |
//! | real server → client | acknowledgement number − `L`, SACK block edges − `L` | [`seq_translate_out`] |
//! | the client's first data segment | `L` bytes inserted before its payload | [`tcp_insert_payload`] |
//! | the header alone, when the first segment has no room | a new segment | [`tcp_rebuild`] |
//!
//! Segments with SYN are never translated (the handshake comes before the header, its
//! numbers are the same on both sides). The translations are the twins of the XDP/TC code
//! in `bpf/include/lvs_seq.h` and produce the same bytes: one RFC 1624 update of the TCP
//! checksum over every changed word, as [`crate::rewrite_tuple`]. The insertions are
//! slow-path only and compute the TCP checksum in full (after verifying the input's).

use crate::checksum::{self, Update};
use crate::parse::{L3_OFFSET, parse_frame};
use crate::{Af, Error, Fragment, FrameInfo, Result, be16, be32, ipv4, ipv6, proto, put16, put32};

/// TCP option kinds the translation looks at.
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_SACK: u8 = 5;

/// Offsets of fields in the TCP header.
const SEQ_AT: usize = 4;
const ACK_AT: usize = 8;
const FLAGS_AT: usize = 12;
const CSUM_AT: usize = 16;
const URG_AT: usize = 18;

const FLG_SYN: u8 = 0x02;
const FLG_ACK: u8 = 0x10;

/// Feed a 32-bit field that changed from `old` to `new` to a checksum update. `odd`: the
/// field is at an odd offset of the checksummed data, so its bytes are the low byte of one
/// checksum word, a whole word and the high byte of a third; summed, that is the aligned
/// contribution with the bytes of each word swapped (RFC 1071's byte-order independence).
fn update32(u: &mut Update, old: u32, new: u32, odd: bool) {
    let (o, n) = (old.to_be_bytes(), new.to_be_bytes());
    if odd {
        u.word(
            u16::from_be_bytes([o[1], o[0]]),
            u16::from_be_bytes([n[1], n[0]]),
        );
        u.word(
            u16::from_be_bytes([o[3], o[2]]),
            u16::from_be_bytes([n[3], n[2]]),
        );
    } else {
        u.bytes(&o, &n);
    }
}

/// A whole, unfragmented TCP frame: its parse result and TCP header length.
fn tcp_frame(frame: &[u8]) -> Result<(FrameInfo, usize)> {
    let info = parse_frame(frame)?;
    if info.protocol != proto::TCP {
        return Err(Error::Unsupported);
    }
    if info.fragment != Fragment::No {
        return Err(Error::Fragment);
    }
    // parse_frame checked the data offset and that the options are in the packet.
    let hlen = usize::from(frame[info.l4_offset + FLAGS_AT] >> 4) * 4;
    Ok((info, hlen))
}

/// The first well-formed SACK option of the TCP header `th` (options included): offset of
/// its first block in `th` and the number of blocks. The walk, exactly as XDP's
/// `lvs_find_sack`: EOL ends it; NOP is one byte; any other option needs a length byte
/// inside the header, a length of at least 2 that does not run past the header (else the
/// walk ends); a SACK option (kind 5) counts only with a length of 10, 18, 26 or 34, a
/// SACK option of another length is skipped like any option.
fn find_sack(th: &[u8]) -> Option<(usize, usize)> {
    let hlen = th.len();
    let mut opt = 20;
    while opt < hlen {
        let kind = th[opt];
        if kind == OPT_EOL {
            break;
        }
        if kind == OPT_NOP {
            opt += 1;
            continue;
        }
        if opt + 1 >= hlen {
            break;
        }
        let len = usize::from(th[opt + 1]);
        if len < 2 || opt + len > hlen {
            break;
        }
        if kind == OPT_SACK && len >= 10 && (len - 2).is_multiple_of(8) {
            return Some((opt + 2, (len - 2) / 8));
        }
        opt += len;
    }
    None
}

/// Client → real server: add `delta` to the sequence number of a TCP segment without SYN,
/// with an RFC 1624 update of the TCP checksum. Returns `Ok(false)` (nothing written) for a
/// segment with SYN.
///
/// Errors: those of [`parse_frame`]; [`Error::Unsupported`] if not TCP;
/// [`Error::Fragment`] for a fragment.
pub fn seq_translate_in(frame: &mut [u8], delta: u32) -> Result<bool> {
    let (info, _) = tcp_frame(frame)?;
    let l4 = info.l4_offset;
    if frame[l4 + FLAGS_AT + 1] & FLG_SYN != 0 {
        return Ok(false);
    }
    let old = be32(frame, l4 + SEQ_AT);
    let new = old.wrapping_add(delta);
    let mut u = Update::new(be16(frame, l4 + CSUM_AT));
    update32(&mut u, old, new, false);
    put32(frame, l4 + SEQ_AT, new);
    put16(frame, l4 + CSUM_AT, u.finish());
    Ok(true)
}

/// Real server → client: on a TCP segment with ACK and without SYN, subtract `delta` from
/// the acknowledgement number and from both edges of every block of the first SACK option
/// (see the walk of `find_sack`: the same as XDP's), with one RFC 1624 update of the TCP
/// checksum over every changed word. Returns `Ok(false)` (nothing written) for a segment
/// without ACK or with SYN.
///
/// Errors: those of [`parse_frame`]; [`Error::Unsupported`] if not TCP;
/// [`Error::Fragment`] for a fragment.
pub fn seq_translate_out(frame: &mut [u8], delta: u32) -> Result<bool> {
    let (info, hlen) = tcp_frame(frame)?;
    let l4 = info.l4_offset;
    let flags = frame[l4 + FLAGS_AT + 1];
    if flags & FLG_SYN != 0 || flags & FLG_ACK == 0 {
        return Ok(false);
    }
    let mut u = Update::new(be16(frame, l4 + CSUM_AT));
    let mut sub = |frame: &mut [u8], at: usize| {
        let old = be32(frame, at);
        let new = old.wrapping_sub(delta);
        update32(&mut u, old, new, !(at - l4).is_multiple_of(2));
        put32(frame, at, new);
    };
    sub(frame, l4 + ACK_AT);
    if let Some((first, blocks)) = find_sack(&frame[l4..l4 + hlen]) {
        for e in 0..blocks * 2 {
            sub(frame, l4 + first + 4 * e);
        }
    }
    put16(frame, l4 + CSUM_AT, u.finish());
    Ok(true)
}

/// Build in `out` a TCP segment with the headers of `frame` (Ethernet, IP with its
/// options, TCP with its options) and the given sequence number, flag bits and payload
/// (the concatenation of `payload`); returns its length.
///
/// Exactly what changes against `frame`: the IP length (IPv4 total length, with an RFC
/// 1624 update of the header checksum; IPv6 payload length); the TCP sequence number; the
/// TCP flag bits (the low 8 bits of `flags`; the data offset stays); the urgent pointer
/// becomes 0 unless URG is among `flags`; the payload; the TCP checksum, computed in full.
/// Ethernet padding is not copied. Everything else (addresses, ports, TTL, IP id, DS
/// field, acknowledgement number, window, TCP options such as timestamps) is kept.
///
/// The input's TCP checksum must verify (a full computation must not launder a corrupt
/// packet): else [`Error::BadChecksum`]. Other errors: those of [`parse_frame`];
/// [`Error::Unsupported`] if not TCP; [`Error::Fragment`]; [`Error::TooLong`] if the IP
/// length would exceed 65535; [`Error::BufferTooSmall`]. `out` is untouched on error.
pub fn tcp_rebuild(
    frame: &[u8],
    seq: u32,
    flags: u8,
    payload: &[&[u8]],
    out: &mut [u8],
) -> Result<usize> {
    let (info, hlen) = tcp_frame(frame)?;
    let l4 = info.l4_offset;
    let alen = info.af.addr_len();
    let (s, d) = (&info.saddr[..alen], &info.daddr[..alen]);
    let seg = &frame[l4..info.l3_end];
    let ph = checksum::pseudo_header(s, d, proto::TCP, seg.len() as u32);
    if checksum::combine(&[ph, checksum::data(seg)]) != 0xffff {
        return Err(Error::BadChecksum);
    }
    let data_len: usize = payload.iter().map(|p| p.len()).sum();
    let seg_len = hlen + data_len;
    let ip_len = l4 - L3_OFFSET + seg_len;
    let len_field = match info.af {
        Af::Inet => ip_len,
        Af::Inet6 => ip_len - ipv6::HEADER_LEN,
    };
    let len_field = u16::try_from(len_field).map_err(|_| Error::TooLong)?;
    let total = l4 + seg_len;
    let out = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;

    out[..l4 + hlen].copy_from_slice(&frame[..l4 + hlen]);
    let mut at = l4 + hlen;
    for p in payload {
        out[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    match info.af {
        Af::Inet => {
            let len_at = L3_OFFSET + 2;
            let csum_at = L3_OFFSET + ipv4::CHECKSUM_OFFSET;
            let old = be16(out, len_at);
            let c = checksum::update16(be16(out, csum_at), old, len_field);
            put16(out, len_at, len_field);
            put16(out, csum_at, c);
        }
        Af::Inet6 => put16(out, L3_OFFSET + 4, len_field),
    }
    put32(out, l4 + SEQ_AT, seq);
    out[l4 + FLAGS_AT + 1] = flags;
    if flags & 0x20 == 0 {
        put16(out, l4 + URG_AT, 0);
    }
    put16(out, l4 + CSUM_AT, 0);
    let c = checksum::transport(s, d, proto::TCP, &out[l4..], CSUM_AT..CSUM_AT + 2);
    put16(out, l4 + CSUM_AT, c);
    Ok(total)
}

/// The client's first data segment with `data` (the PROXY header) inserted between the
/// TCP header and the payload: [`tcp_rebuild`] with the frame's own sequence number,
/// flags and `[data, payload]`. Errors and checksums as there.
pub fn tcp_insert_payload(frame: &[u8], data: &[u8], out: &mut [u8]) -> Result<usize> {
    let (info, hlen) = tcp_frame(frame)?;
    let th = &frame[info.l4_offset..info.l3_end];
    let seq = be32(th, SEQ_AT);
    let flags = th[FLAGS_AT + 1];
    tcp_rebuild(frame, seq, flags, &[data, &th[hlen..]], out)
}

/// In an ICMP or ICMPv6 error quoting a TCP segment, replace the quoted sequence number
/// `s` by `f(s)`, with an RFC 1624 update of the ICMP checksum (the quoted TCP checksum is
/// left alone, as every ICMP rewrite here does). Returns `Ok(false)` (nothing written) when
/// the quote is not TCP, is a later fragment, or ends before the sequence number.
///
/// Errors: those of [`parse_frame`]; [`Error::NotIcmpError`] if the frame is no ICMP error
/// with a parseable quote.
pub fn icmp_quote_tcp_seq(frame: &mut [u8], f: impl FnOnce(u32) -> u32) -> Result<bool> {
    let info = parse_frame(frame)?;
    let emb = info.icmp_error.ok_or(Error::NotIcmpError)?;
    if emb.protocol != proto::TCP || emb.fragment == Fragment::Later {
        return Ok(false);
    }
    let at = emb.l4_offset + SEQ_AT;
    if at + 4 > info.l3_end {
        return Ok(false);
    }
    let old = be32(frame, at);
    let new = f(old);
    let csum_at = info.l4_offset + 2;
    let mut u = Update::new(be16(frame, csum_at));
    update32(&mut u, old, new, !(at - info.l4_offset).is_multiple_of(2));
    put32(frame, at, new);
    put16(frame, csum_at, u.finish());
    Ok(true)
}

/// Sequence number, flag bits and payload length of a TCP frame (`None` if the frame is
/// not an unfragmented TCP segment that [`parse_frame`] accepts).
pub fn tcp_seq_flags_len(frame: &[u8]) -> Option<(u32, u8, usize)> {
    let (info, hlen) = tcp_frame(frame).ok()?;
    let l4 = info.l4_offset;
    Some((
        be32(frame, l4 + SEQ_AT),
        frame[l4 + FLAGS_AT + 1],
        info.l3_end - l4 - hlen,
    ))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::build::{Builder, verify_frame};
    use alloc::vec;
    use alloc::vec::Vec;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const V6A: [u8; 16] = [0xfd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const V6B: [u8; 16] = [0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11];

    fn seg(v6: bool, seq: u32, ack: u32, flags: u16, opts: &[u8], data: &[u8]) -> Vec<u8> {
        let b = Builder::new(A, B);
        let b = if v6 {
            b.ipv6(V6A, V6B)
        } else {
            b.ipv4([10, 0, 0, 1], [10, 0, 0, 2])
        };
        b.tcp(1000, 80)
            .tcp_seq_ack(seq, ack)
            .tcp_flags(flags)
            .tcp_options(opts)
            .payload(data)
            .build()
    }

    fn field32(f: &[u8], at: usize) -> u32 {
        let l4 = parse_frame(f).unwrap().l4_offset;
        be32(f, l4 + at)
    }

    #[test]
    fn seq_in_wraps_and_keeps_checksum_valid() {
        for v6 in [false, true] {
            let mut f = seg(v6, 0xffff_fff0, 7, 0x18, &[], b"hello");
            assert_eq!(seq_translate_in(&mut f, 28), Ok(true));
            assert_eq!(field32(&f, SEQ_AT), 12);
            assert_eq!(field32(&f, ACK_AT), 7);
            verify_frame(&f).unwrap();
        }
    }

    #[test]
    fn syn_is_left_alone() {
        let f0 = seg(false, 100, 0, 0x02, &[2, 4, 5, 0xb4], b"");
        let mut f = f0.clone();
        assert_eq!(seq_translate_in(&mut f, 28), Ok(false));
        assert_eq!(f, f0);
        let f0 = seg(false, 100, 555, 0x12, &[], b"");
        let mut f = f0.clone();
        assert_eq!(seq_translate_out(&mut f, 28), Ok(false));
        assert_eq!(f, f0);
        // RST without ACK: no acknowledgement number to translate.
        let f0 = seg(false, 100, 555, 0x04, &[], b"");
        let mut f = f0.clone();
        assert_eq!(seq_translate_out(&mut f, 28), Ok(false));
        assert_eq!(f, f0);
    }

    #[test]
    fn ack_and_sack_blocks() {
        // NOP NOP TS(10) NOP NOP SACK with 2 blocks (18).
        let mut opts = vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18];
        for e in [1000u32, 2000, 3000, 4000] {
            opts.extend_from_slice(&e.to_be_bytes());
        }
        for v6 in [false, true] {
            let mut f = seg(v6, 5, 900, 0x10, &opts, b"data");
            assert_eq!(seq_translate_out(&mut f, 52), Ok(true));
            assert_eq!(field32(&f, ACK_AT), 848);
            assert_eq!(field32(&f, SEQ_AT), 5);
            let l4 = parse_frame(&f).unwrap().l4_offset;
            let o = l4 + 20;
            // Timestamps untouched, edges translated.
            assert_eq!(&f[o..o + 12], &opts[..12]);
            for (i, e) in [948u32, 1948, 2948, 3948].iter().enumerate() {
                assert_eq!(be32(&f, o + 16 + 4 * i), *e);
            }
            verify_frame(&f).unwrap();
        }
    }

    #[test]
    fn sack_blocks_at_odd_offsets() {
        // One NOP, then SACK: the blocks start at an odd offset of the segment.
        let mut opts = vec![1, 5, 18];
        for e in [0x0102_0304u32, 0xfffe_fdfc, 7, 0x8000_0000] {
            opts.extend_from_slice(&e.to_be_bytes());
        }
        opts.push(0);
        for v6 in [false, true] {
            for delta in [28, 52, 0x1234_5678] {
                let mut f = seg(v6, 5, 900, 0x10, &opts, b"xyz");
                assert_eq!(seq_translate_out(&mut f, delta), Ok(true));
                verify_frame(&f).unwrap();
                let l4 = parse_frame(&f).unwrap().l4_offset;
                assert_eq!(be32(&f, l4 + 23), 0x0102_0304u32.wrapping_sub(delta));
            }
        }
    }

    #[test]
    fn sack_walk_rules() {
        let th = |opts: &[u8]| {
            let mut t = vec![0u8; 20];
            t.extend_from_slice(opts);
            t
        };
        // EOL ends the walk before a SACK option.
        assert_eq!(find_sack(&th(&[0, 0, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0])), None);
        // A SACK option with a bad length is skipped, the next good one counts.
        let mut o = vec![5, 4, 0, 0, 5, 10];
        o.extend_from_slice(&[0; 8]);
        o.extend_from_slice(&[1, 1]);
        assert_eq!(find_sack(&th(&o)), Some((20 + 6, 1)));
        // Length 1 or running past the header ends the walk.
        assert_eq!(find_sack(&th(&[8, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0])), None);
        assert_eq!(find_sack(&th(&[5, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), None);
        // A lone kind byte at the very end.
        assert_eq!(find_sack(&th(&[1, 1, 1, 8])), None);
        // Four blocks, the most that fits.
        let mut o = vec![1, 1, 5, 34];
        o.extend_from_slice(&[0; 32]);
        assert_eq!(find_sack(&th(&o)), Some((24, 4)));
    }

    #[test]
    fn insert_and_rebuild() {
        for v6 in [false, true] {
            let ts = [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8];
            let f = seg(v6, 1001, 77, 0x18, &ts, b"GET / HTTP/1.0\r\n\r\n");
            let hdr = [0xabu8; 28];
            let mut out = vec![0u8; 2048];
            let n = tcp_insert_payload(&f, &hdr, &mut out).unwrap();
            let o = &out[..n];
            verify_frame(o).unwrap();
            let info = parse_frame(o).unwrap();
            let th = &o[info.l4_offset..info.l3_end];
            assert_eq!(be32(th, SEQ_AT), 1001);
            assert_eq!(th[FLAGS_AT + 1], 0x18);
            assert_eq!(&th[20..32], &ts);
            assert_eq!(&th[32..60], &hdr);
            assert_eq!(&th[60..], b"GET / HTTP/1.0\r\n\r\n");
            assert_eq!(info.ip_len, parse_frame(&f).unwrap().ip_len + 28);

            // The header alone: ACK|PSH at the first data sequence number, same options.
            let n = tcp_rebuild(&f, 1001, 0x18, &[&hdr], &mut out).unwrap();
            let o = &out[..n];
            verify_frame(o).unwrap();
            let info = parse_frame(o).unwrap();
            assert_eq!(&o[info.l4_offset + 32..info.l3_end], &hdr);
            assert_eq!(tcp_seq_flags_len(o), Some((1001, 0x18, 28)));
            // No payload at all (a SYN with data loses its data).
            let syn = seg(v6, 5000, 0, 0x02, &[2, 4, 5, 0xb4], b"fastopen");
            let n = tcp_rebuild(&syn, 5000, 0x02, &[], &mut out).unwrap();
            verify_frame(&out[..n]).unwrap();
            assert_eq!(tcp_seq_flags_len(&out[..n]), Some((5000, 0x02, 0)));
        }
    }

    #[test]
    fn icmp_quote_sequence_number() {
        for v6 in [false, true] {
            // the quoted segment: the director's packet to the real server
            let quoted = seg(v6, 5000, 1, 0x18, &[], b"data");
            let ip = &quoted[14..];
            let (t, code) = if v6 { (2, 0) } else { (3, 4) };
            let b = Builder::new(A, B);
            let b = if v6 {
                b.ipv6(V6B, V6A)
            } else {
                b.ipv4([10, 0, 0, 2], [10, 0, 0, 1])
            };
            let mut f = b.icmp(t, code, 1400).payload(ip).build();
            verify_frame(&f).unwrap();
            assert_eq!(icmp_quote_tcp_seq(&mut f, |s| s - 28), Ok(true));
            verify_frame(&f).unwrap();
            let e = parse_frame(&f).unwrap().icmp_error.unwrap();
            assert_eq!(be32(&f, e.l4_offset + 4), 4972);
            // not an error message
            let mut echo = seg(v6, 1, 1, 0x10, &[], b"");
            assert_eq!(
                icmp_quote_tcp_seq(&mut echo, |s| s),
                Err(Error::NotIcmpError)
            );
        }
    }

    #[test]
    fn rebuild_errors() {
        let f = seg(false, 1, 2, 0x18, &[], b"abc");
        let mut out = vec![0u8; 2048];
        assert_eq!(
            tcp_rebuild(&f, 1, 0x18, &[&[0u8; 10]], &mut out[..60]),
            Err(Error::BufferTooSmall)
        );
        let big = vec![0u8; 65535];
        assert_eq!(
            tcp_rebuild(&f, 1, 0x18, &[&big], &mut out),
            Err(Error::TooLong)
        );
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            tcp_insert_payload(&bad, b"x", &mut out),
            Err(Error::BadChecksum)
        );
        let udp = Builder::new(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2])
            .udp(1, 2)
            .build();
        assert_eq!(
            tcp_insert_payload(&udp, b"x", &mut out),
            Err(Error::Unsupported)
        );
        let mut u = udp.clone();
        assert_eq!(seq_translate_in(&mut u, 1), Err(Error::Unsupported));
        assert_eq!(u, udp);
        // A padded frame: the padding is not copied.
        let padded = Builder::new(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2])
            .tcp(1, 2)
            .payload(b"x")
            .pad_to(60)
            .build();
        let n = tcp_insert_payload(&padded, b"yz", &mut out).unwrap();
        assert_eq!(n, 14 + 20 + 20 + 3);
        verify_frame(&out[..n]).unwrap();
    }
}
