//! Codec and engine tests. `testdata/capture-msg*.bin` are UDP payloads a Linux 6.12
//! master sent (captured with tcpdump in the ipvs-vm guest, `testdata/capture.sh`; the
//! tcpdump text is `testdata/capture-6.12-tcpdump.txt`).

use std::net::IpAddr;

use proptest::prelude::*;

use super::engine::*;
use super::wire::*;
use super::*;
use crate::conn::{Addr16, Conn, ConnFlags, NONE, TcpState};
use crate::time::Time;
use crate::types::Af;

const CAP0: &[u8] = include_bytes!("testdata/capture-msg0.bin");
const CAP1: &[u8] = include_bytes!("testdata/capture-msg1.bin");
const CAP2: &[u8] = include_bytes!("testdata/capture-msg2.bin");

fn a(s: &str) -> Addr16 {
    Addr16::from_ip(s.parse::<IpAddr>().unwrap())
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn v4(
    flags: u32,
    state: u16,
    cport: u16,
    port: u16,
    timeout: u32,
    caddr: &str,
    daddr: &str,
) -> SyncConn {
    SyncConn {
        af: Af::Inet,
        protocol: 6,
        flags,
        state,
        cport,
        vport: port,
        dport: port,
        fwmark: 0,
        timeout,
        caddr: a(caddr),
        vaddr: a("10.0.0.1"),
        daddr: a(daddr),
        seq: None,
        pe_data: None,
        pe_name: None,
        local: None,
    }
}

// ------------------------------------------------------------------ captured bytes

#[test]
fn captured_close_wait_and_time_wait_message() {
    // Client 10.0.0.2:44004 closed its connection to 10.0.0.1:80 (NAT to 10.0.1.3:80):
    // the master sent CLOSE_WAIT then TIME_WAIT, both INACTIVE, in one 80-byte message.
    let m = decode(CAP1).unwrap();
    assert_eq!(
        m.header,
        Header {
            version: Version::V1,
            syncid: 0,
            nr_conns: 2,
            size: 80
        }
    );
    let want = vec![
        v4(0x100, 7, 44004, 80, 60, "10.0.0.2", "10.0.1.3"),
        v4(0x100, 5, 44004, 80, 120, "10.0.0.2", "10.0.1.3"),
    ];
    assert_eq!(m.conns, want);
    assert_eq!((m.skipped, m.error), (0, None));
    assert_eq!(encode(Version::V1, 0, &want).unwrap(), CAP1);
}

#[test]
fn captured_messages_round_trip_byte_for_byte() {
    for (cap, n) in [(CAP0, 32), (CAP1, 2), (CAP2, 10)] {
        let m = decode(cap).unwrap();
        assert_eq!(m.conns.len(), n);
        assert_eq!(m.error, None);
        assert_eq!(encode(Version::V1, m.header.syncid, &m.conns).unwrap(), cap);
    }
    // The first one: a persistence template (10.0.0.2 -> 10.0.0.1:81 -> 10.0.1.3:81,
    // 60 s, first NONE then ASSURED) and established connections (active: no flags).
    let m = decode(CAP0).unwrap();
    let t = &m.conns[0];
    assert_eq!(
        (t.flags, t.state, t.cport, t.vport, t.dport, t.timeout),
        (0x1100, 0, 0, 81, 81, 60)
    );
    assert_eq!(m.conns[1].state, 1);
    let c = &m.conns[4];
    assert_eq!(
        (c.flags, c.state, c.cport, c.timeout),
        (0, TcpState::Established as u16, 44004, 900)
    );
}

#[test]
fn captured_message_rebuilt_by_the_sender() {
    // The same bytes come out of the batching sender, given the entries one by one.
    let m = decode(CAP2).unwrap();
    let mut s = SyncSender::new(0, 1472);
    let t0 = Time::from_secs(10);
    for c in &m.conns {
        s.push(c, Version::V1, t0);
    }
    assert_eq!(s.pop_ready(t0.add_millis(1999)), None);
    assert_eq!(s.pop_ready(t0.add_millis(2000)).unwrap(), CAP2);
    assert_eq!(s.pending(), 0);
}

// ------------------------------------------------------------------ hand-built fixtures

/// An IPv6 UDP entry with sequence data, PE data and name, and our local option, built by
/// hand from the layout in reference §6: 72 + 26 + 5 + 5 + 20 = 128 bytes.
const V6_FIXTURE: &str = "
    00 07 0088 01 01 0000
    01 11 0080 00000100 0000 3039 0035 0035 0000002a 0000012c
    20010db8000000000000000000000002
    20010db8000000000000000000000001
    20010db8000000000000000000000063
    01 18 00000001 00000002 00000003 00000004 00000005 00000006
    02 03 616263
    03 03 736970
    48 12 1f90 20010db80000000000000000000000ff
";

#[test]
fn ipv6_entry_with_every_option() {
    let b = hex(V6_FIXTURE);
    assert_eq!(b.len(), 136);
    let m = decode(&b).unwrap();
    assert_eq!(m.error, None);
    assert_eq!((m.header.syncid, m.header.nr_conns), (7, 1));
    let c = &m.conns[0];
    assert_eq!(c.af, Af::Inet6);
    assert_eq!((c.protocol, c.flags, c.state), (17, 0x100, 0));
    assert_eq!(
        (c.cport, c.vport, c.dport, c.fwmark, c.timeout),
        (12345, 53, 53, 42, 300)
    );
    assert_eq!(c.caddr, a("2001:db8::2"));
    assert_eq!(c.vaddr, a("2001:db8::1"));
    assert_eq!(c.daddr, a("2001:db8::63"));
    let seq = c.seq.unwrap();
    assert_eq!(
        (seq[0].init_seq, seq[0].delta, seq[0].previous_delta),
        (1, 2, 3)
    );
    assert_eq!(
        (seq[1].init_seq, seq[1].delta, seq[1].previous_delta),
        (4, 5, 6)
    );
    assert_eq!(c.pe_data.as_deref(), Some(&b"abc"[..]));
    assert_eq!(c.pe_name.as_deref(), Some(&b"sip"[..]));
    assert_eq!(c.local, Some((a("2001:db8::ff"), 8080)));
    assert_eq!(encode(Version::V1, 7, &m.conns).unwrap(), b);
    // A kernel ignores our option (0x40 bit): the same entry without it decodes alike.
    let mut k = b.clone();
    k.truncate(8 + 108);
    k[2..4].copy_from_slice(&116u16.to_be_bytes());
    k[10..12].copy_from_slice(&108u16.to_be_bytes());
    let mut want = c.clone();
    want.local = None;
    assert_eq!(decode(&k).unwrap().conns, vec![want]);
}

#[test]
fn unknown_options_mandatory_skip_the_entry_optional_are_ignored() {
    let e = |opt: &[u8]| {
        let mut c = encode(
            Version::V1,
            0,
            &[v4(0, 1, 1000, 80, 900, "10.0.0.2", "10.0.1.3")],
        )
        .unwrap();
        c.extend_from_slice(opt);
        let len = (36 + opt.len()) as u16;
        c[10..12].copy_from_slice(&len.to_be_bytes());
        while !c.len().is_multiple_of(4) {
            c.push(0);
        }
        let n = c.len() as u16;
        c[2..4].copy_from_slice(&n.to_be_bytes());
        c
    };
    // Optional (0x40 bit): ignored, entry kept.
    let m = decode(&e(&[0x45, 2, 9, 9])).unwrap();
    assert_eq!((m.conns.len(), m.skipped, m.error), (1, 0, None));
    // Mandatory unknown: the entry is skipped, the message goes on.
    let m = decode(&e(&[0x05, 2, 9, 9])).unwrap();
    assert_eq!((m.conns.len(), m.skipped, m.error), (0, 1, None));
    // Length 0, or past the entry: the rest of the message is dropped.
    let m = decode(&e(&[0x45, 0])).unwrap();
    assert_eq!(m.error, Some(DecodeError::BadOption));
    let m = decode(&e(&[0x45, 9, 1])).unwrap();
    assert_eq!(m.error, Some(DecodeError::BadOption));
    // SEQ_DATA with a wrong length, or twice.
    let m = decode(&e(&[0x01, 2, 0, 0])).unwrap();
    assert_eq!(m.error, Some(DecodeError::BadOptionValue(OPT_SEQ_DATA)));
    let m = decode(&e(&[0x02, 1, 7, 0x02, 1, 8])).unwrap();
    assert_eq!(m.error, Some(DecodeError::BadOptionValue(OPT_PE_DATA)));
    // An option header cut short.
    let m = decode(&e(&[0x45])).unwrap();
    assert_eq!(m.error, Some(DecodeError::BadOption));
}

#[test]
fn entries_before_a_malformed_one_are_kept() {
    let good = v4(0, 1, 1000, 80, 900, "10.0.0.2", "10.0.1.3");
    let mut b = encode(Version::V1, 0, &[good.clone(), good.clone()]).unwrap();
    // Second entry: unknown type.
    b[8 + 36] = 2;
    let m = decode(&b).unwrap();
    assert_eq!(m.conns, vec![good.clone()]);
    assert_eq!(m.error, Some(DecodeError::EntryType(2)));
    // Second entry: a version nibble.
    let mut b = encode(Version::V1, 0, &[good.clone(), good.clone()]).unwrap();
    b[8 + 36 + 2] |= 0x10;
    assert_eq!(
        decode(&b).unwrap().error,
        Some(DecodeError::EntryVersion(1))
    );
    // Second entry: length shorter than its addresses.
    let mut b = encode(Version::V1, 0, &[good.clone(), good.clone()]).unwrap();
    b[8 + 36 + 3] = 20;
    assert_eq!(decode(&b).unwrap().error, Some(DecodeError::EntryTooShort));
    // More entries announced than present.
    let mut b = encode(Version::V1, 0, std::slice::from_ref(&good)).unwrap();
    b[4] = 2;
    let m = decode(&b).unwrap();
    assert_eq!((m.conns.len(), m.error), (1, Some(DecodeError::Truncated)));
    // Bytes after the last entry are ignored.
    let mut b = encode(Version::V1, 0, std::slice::from_ref(&good)).unwrap();
    b.extend_from_slice(&[0xff; 7]);
    let n = b.len() as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    assert_eq!(decode(&b).unwrap().conns, vec![good]);
}

#[test]
fn header_checks() {
    assert_eq!(decode(&[0, 0, 0]), Err(DecodeError::TooShort));
    assert_eq!(decode(&[0, 0, 0, 5]), Err(DecodeError::BadSize));
    assert_eq!(decode(&CAP1[..79]).unwrap_err(), DecodeError::BadSize);
    // Version must be 1 and reserved/spare 0 for v1; otherwise it is read as v0.
    for (i, v) in [(0usize, 1u8), (5, 2), (7, 1)] {
        let mut b = CAP1.to_vec();
        b[i] = v;
        assert_eq!(peek_header(&b).unwrap().version, Version::V0, "byte {i}");
    }
    // An empty v1 message.
    let m = decode(&[0, 9, 0, 8, 0, 1, 0, 0]).unwrap();
    assert_eq!(
        (m.header.version, m.header.syncid, m.conns.len()),
        (Version::V1, 9, 0)
    );
}

/// A v0 message from a `sync_version=0` master: two entries, the second with sequence
/// data (which v0 copies in host order).
const V0_FIXTURE: &str = "
    02 05 0050
    00 06 abe4 0050 0050 0a000002 0a000001 0a000103 0100 0005
    00 11 1389 0035 0035 0a000002 0a000001 0a000104 0600 0000
    01000000 02000000 03000000 04000000 05000000 06000000
";

#[test]
fn version_0_messages() {
    let b = hex(V0_FIXTURE);
    assert_eq!(b.len(), 4 + 24 + 48);
    let mut b = b;
    let n = b.len() as u16;
    b[2..4].copy_from_slice(&n.to_be_bytes());
    let m = decode(&b).unwrap();
    assert_eq!(
        m.header,
        Header {
            version: Version::V0,
            syncid: 5,
            nr_conns: 2,
            size: 76
        }
    );
    let c0 = &m.conns[0];
    assert_eq!(
        (
            c0.protocol,
            c0.cport,
            c0.flags,
            c0.state,
            c0.timeout,
            c0.fwmark
        ),
        (6, 44004, 0x100, 5, 0, 0)
    );
    assert_eq!(c0.daddr, a("10.0.1.3"));
    let c1 = &m.conns[1];
    assert_eq!((c1.protocol, c1.cport, c1.flags), (17, 5001, 0x600));
    assert_eq!(c1.seq.unwrap()[1].previous_delta, 6);
    assert_eq!(encode(Version::V0, 5, &m.conns).unwrap(), b);
    // A v0 entry cut short stops decoding.
    let mut t = b[..b.len() - 4].to_vec();
    let n = t.len() as u16;
    t[2..4].copy_from_slice(&n.to_be_bytes());
    let m = decode(&t).unwrap();
    assert_eq!((m.conns.len(), m.error), (1, Some(DecodeError::Truncated)));
    // IPv6 cannot be sent in v0.
    let mut six = v4(0, 1, 1, 80, 0, "::1", "::2");
    six.af = Af::Inet6;
    assert_eq!(encode(Version::V0, 0, &[six]), Err(EncodeError::V0NotIpv4));
}

#[test]
fn builder_respects_the_limit_and_pads() {
    let c = v4(0, 1, 1000, 80, 900, "10.0.0.2", "10.0.1.3");
    // 8 + 36 = 44 fits in 80, a second (+36 = 80) too, a third not.
    let mut m = MessageBuilder::new(Version::V1, 0, 80);
    assert!(m.push(&c).unwrap());
    assert!(m.push(&c).unwrap());
    assert!(!m.push(&c).unwrap());
    assert_eq!(m.size(), 80);
    // The first entry always fits, even past the limit (the kernel sizes its buffer so).
    let mut m = MessageBuilder::new(Version::V1, 0, 10);
    assert!(m.push(&c).unwrap());
    assert!(!m.push(&c).unwrap());
    // Entries with options are padded to 4 bytes before the next.
    let mut p = c.clone();
    p.pe_data = Some(vec![1]);
    let mut m = MessageBuilder::new(Version::V1, 0, 1000);
    assert!(m.push(&p).unwrap());
    assert_eq!(m.size(), 8 + 39);
    assert!(m.push(&c).unwrap());
    assert_eq!(m.size(), 8 + 40 + 36);
    let b = m.finish();
    assert_eq!(decode(&b).unwrap().conns, vec![p, c.clone()]);
    // No more than 255 entries, whatever the limit.
    let mut m = MessageBuilder::new(Version::V1, 0, 65535);
    for _ in 0..255 {
        assert!(m.push(&c).unwrap());
    }
    assert!(!m.push(&c).unwrap());
    // Bad PE data cannot be encoded.
    let mut bad = c;
    bad.pe_data = Some(Vec::new());
    assert_eq!(
        MessageBuilder::new(Version::V1, 0, 100).push(&bad),
        Err(EncodeError::PeData)
    );
}

#[test]
fn maxlen_as_the_kernel_computes_it() {
    let g4: IpAddr = DEFAULT_GROUP.into();
    let g6: IpAddr = "ff02::1:8848".parse().unwrap();
    assert_eq!(sync_maxlen(Role::Master, &g4, 9000, 0), 1472);
    assert_eq!(sync_maxlen(Role::Master, &g6, 1500, 0), 1452);
    assert_eq!(sync_maxlen(Role::Backup, &g4, 1500, 0), 1472);
    assert_eq!(sync_maxlen(Role::Backup, &g4, 9000, 0), 8972);
    assert_eq!(sync_maxlen(Role::Backup, &g4, 1280, 0), 1472);
    assert_eq!(sync_maxlen(Role::Master, &g4, 1500, 900), 900);
    assert_eq!(sync_maxlen(Role::Master, &g4, 1500, 65507), 65507);
    assert_eq!(sync_maxlen(Role::Master, &g6, 1500, 65507), 65487);
    assert_eq!(sync_maxlen(Role::Backup, &g4, 1500, 100), 1024);
}

// ------------------------------------------------------------------ properties

fn arb_addr(af: Af) -> impl Strategy<Value = Addr16> {
    any::<[u8; 16]>().prop_map(move |mut b| {
        if af == Af::Inet {
            b[4..].fill(0);
        }
        Addr16(b)
    })
}

fn arb_conn() -> impl Strategy<Value = SyncConn> {
    (any::<bool>(), any::<[u32; 6]>()).prop_flat_map(|(six, nums)| {
        let af = if six { Af::Inet6 } else { Af::Inet };
        (
            arb_addr(af),
            arb_addr(af),
            arb_addr(af),
            proptest::option::of(any::<[u32; 6]>()),
            proptest::option::of((
                proptest::collection::vec(any::<u8>(), 1..=255),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=16)),
            )),
            proptest::option::of((arb_addr(af), any::<u16>())),
            any::<(u8, u16, u16, u16)>(),
        )
            .prop_map(
                move |(caddr, vaddr, daddr, seq, pe, local, (proto, s, c, v))| {
                    let seq = seq.map(|x| {
                        [
                            SeqAdjust {
                                init_seq: x[0],
                                delta: x[1],
                                previous_delta: x[2],
                            },
                            SeqAdjust {
                                init_seq: x[3],
                                delta: x[4],
                                previous_delta: x[5],
                            },
                        ]
                    });
                    let (pe_data, pe_name) = match pe {
                        Some((d, n)) => (Some(d), n),
                        None => (None, None),
                    };
                    SyncConn {
                        af,
                        protocol: proto,
                        flags: nums[0],
                        state: s,
                        cport: c,
                        vport: v,
                        dport: nums[1] as u16,
                        fwmark: nums[2],
                        timeout: nums[3],
                        caddr,
                        vaddr,
                        daddr,
                        seq,
                        pe_data,
                        pe_name,
                        local,
                    }
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&b);
    }

    #[test]
    fn decode_never_panics_with_a_valid_size(
        mut b in proptest::collection::vec(any::<u8>(), 4..600),
        v1 in any::<bool>(),
    ) {
        let n = b.len() as u16;
        b[2..4].copy_from_slice(&n.to_be_bytes());
        if v1 && b.len() >= 8 {
            b[0] = 0;
            b[5] = 1;
            b[6] = 0;
            b[7] = 0;
        }
        // What decodes re-encodes to the same entries (the fuzz target's property).
        if let Ok(m) = decode(&b)
            && let Ok(again) = encode(m.header.version, m.header.syncid, &m.conns)
        {
            prop_assert_eq!(decode(&again).unwrap().conns, m.conns);
        }
    }

    #[test]
    fn decode_inverts_encode(conns in proptest::collection::vec(arb_conn(), 0..12), id in any::<u8>()) {
        let b = encode(Version::V1, id, &conns).unwrap();
        let m = decode(&b).unwrap();
        prop_assert_eq!(m.header.syncid, id);
        prop_assert_eq!(m.error, None);
        prop_assert_eq!(m.conns, conns);
    }

    #[test]
    fn v0_decode_inverts_encode(conns in proptest::collection::vec(arb_conn(), 0..12)) {
        // What v0 can carry: IPv4, 16-bit flags, no timeout/fwmark/options except seq.
        let conns: Vec<SyncConn> = conns
            .into_iter()
            .filter(|c| c.af == Af::Inet)
            .map(|mut c| {
                c.flags &= 0xffff;
                c.timeout = 0;
                c.fwmark = 0;
                c.pe_data = None;
                c.pe_name = None;
                c.local = None;
                if c.flags & 0x600 == 0 { c.seq = None } else { c.seq.get_or_insert_default(); }
                c
            })
            .collect();
        let b = encode(Version::V0, 3, &conns).unwrap();
        let m = decode(&b).unwrap();
        if !conns.is_empty() {
            prop_assert_eq!(m.header.version, Version::V0);
        }
        prop_assert_eq!(m.conns, conns);
    }

    #[test]
    fn receiver_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut ipvs = crate::Ipvs::default();
        let mut r = SyncReceiver::new(0);
        let _ = r.receive(&mut ipvs, &b, Time::from_secs(1));
    }
}

// ------------------------------------------------------------------ sync_needed

fn conn(protocol: u8, state: u8, flags: u32, timeout_ms: u32) -> Conn {
    Conn {
        caddr: a("10.0.0.2"),
        vaddr: a("10.0.0.1"),
        daddr: a("10.0.1.2"),
        laddr: Addr16::ZERO,
        expires: Time::ZERO,
        timeout_ms,
        flags: ConnFlags(flags),
        fwmark: 0,
        dest: NONE,
        control: NONE,
        n_control: 0,
        in_pkts: 0,
        cport: 1000,
        vport: 80,
        dport: 80,
        lport: 0,
        protocol,
        af: 0,
        daf: 0,
        state,
    }
}

#[test]
fn threshold_and_period() {
    let p = SyncParams::default();
    let es = conn(6, TcpState::Established as u8, 0, 900_000);
    let now = Time::from_secs(5);
    let sent: Vec<u32> = (1..=160)
        .filter(|&n| sync_needed(&p, &es, false, false, n, now, None))
        .collect();
    assert_eq!(sent, [3, 53, 103, 153]);
    // Entering ESTABLISHED is not forced: the packet count still decides.
    assert!(!sync_needed(&p, &es, false, true, 2, now, None));
    // Other synced states are sent on the packet that enters them.
    for s in [
        TcpState::FinWait,
        TcpState::CloseWait,
        TcpState::TimeWait,
        TcpState::Close,
    ] {
        let c = conn(6, s as u8, 0x100, 60_000);
        assert!(sync_needed(&p, &c, false, true, 17, now, None), "{s:?}");
        assert!(!sync_needed(&p, &c, false, false, 17, now, None), "{s:?}");
    }
    // States that are never synced.
    for s in [
        TcpState::SynRecv,
        TcpState::SynSent,
        TcpState::LastAck,
        TcpState::None,
    ] {
        let c = conn(6, s as u8, 0x100, 60_000);
        assert!(!sync_needed(&p, &c, false, true, 3, now, None), "{s:?}");
    }
    // UDP: the count only.
    let u = conn(17, 0, 0x100, 300_000);
    assert!(sync_needed(&p, &u, false, false, 3, now, None));
    assert!(!sync_needed(&p, &u, false, false, 4, now, None));
    // Templates: whenever asked.
    let t = conn(6, 0, ConnFlags::TEMPLATE | 0x100, 360_000);
    assert!((1..10).all(|n| sync_needed(&p, &t, false, false, n, now, None)));
    // sync_persist_mode: controlled connections are not sent, templates still are.
    let pm = SyncParams {
        persist_mode: true,
        ..p
    };
    assert!(!sync_needed(&pm, &es, true, false, 3, now, None));
    assert!(sync_needed(&pm, &es, false, false, 3, now, None));
    assert!(sync_needed(&pm, &t, false, false, 9, now, None));
    // Period 0: once, at the threshold.
    let once = SyncParams { period: 0, ..p };
    let sent: Vec<u32> = (1..200)
        .filter(|&n| sync_needed(&once, &es, false, false, n, now, None))
        .collect();
    assert_eq!(sent, [3]);
    assert!(!sync_needed(&once, &t, false, false, 4, now, None));
}

#[test]
fn refresh_period_and_retries() {
    // sync_refresh_period 10 s, period 0: resend only when the expiry moved by 10 s.
    let p = SyncParams {
        period: 0,
        refresh_period_ms: 10_000,
        ..SyncParams::default()
    };
    let es = conn(6, TcpState::Established as u8, 0, 900_000);
    let mut end = 0u64;
    let t0 = Time::from_secs(100);
    assert!(sync_needed(&p, &es, false, false, 7, t0, Some(&mut end)));
    assert_eq!(end, 1_000_000);
    assert!(!sync_needed(
        &p,
        &es,
        false,
        false,
        8,
        t0.add_millis(9_000),
        Some(&mut end)
    ));
    assert!(sync_needed(
        &p,
        &es,
        false,
        false,
        9,
        t0.add_millis(10_000),
        Some(&mut end)
    ));
    assert_eq!(end, 1_010_000);
    // With retries: resent at most that many times, refresh/8 apart.
    let r = SyncParams { retries: 2, ..p };
    let mut end = 0u64;
    assert!(sync_needed(&r, &es, false, false, 1, t0, Some(&mut end)));
    assert!(!sync_needed(
        &r,
        &es,
        false,
        false,
        1,
        t0.add_millis(1_000),
        Some(&mut end)
    ));
    assert!(sync_needed(
        &r,
        &es,
        false,
        false,
        1,
        t0.add_millis(1_250),
        Some(&mut end)
    ));
    assert_eq!(end & 3, 1);
    assert!(sync_needed(
        &r,
        &es,
        false,
        false,
        1,
        t0.add_millis(2_600),
        Some(&mut end)
    ));
    assert_eq!(end & 3, 2);
    assert!(!sync_needed(
        &r,
        &es,
        false,
        false,
        1,
        t0.add_millis(4_000),
        Some(&mut end)
    ));
    assert_eq!(
        SyncParams {
            threshold: 50,
            ..SyncParams::default()
        }
        .validate(),
        Err("sync_threshold must be below sync_period")
    );
}

#[test]
fn sender_batches_and_flushes() {
    let c = v4(0, 1, 1000, 80, 900, "10.0.0.2", "10.0.1.3");
    let mut s = SyncSender::new(9, 8 + 36 * 3);
    let t = Time::from_secs(1);
    for _ in 0..7 {
        s.push(&c, Version::V1, t);
    }
    // Two full messages of 3, one partly filled.
    let m1 = s.pop_ready(t).unwrap();
    let m2 = s.pop_ready(t).unwrap();
    assert_eq!(s.pop_ready(t.add_millis(500)), None);
    for m in [&m1, &m2] {
        let d = decode(m).unwrap();
        assert_eq!((d.header.syncid, d.conns.len()), (9, 3));
    }
    let m3 = s.pop_ready(t.add_millis(2000)).unwrap();
    assert_eq!(decode(&m3).unwrap().conns.len(), 1);
    // A change of format starts a new message.
    s.push(&c, Version::V1, t);
    s.push(&c, Version::V0, t);
    let all = s.flush();
    assert_eq!(all.len(), 2);
    assert_eq!(decode(&all[1]).unwrap().header.version, Version::V0);
    // Unencodable entries are counted, not sent.
    let mut six = c;
    six.af = Af::Inet6;
    s.push(&six, Version::V0, t);
    assert_eq!((s.unencodable, s.pending()), (1, 0));
}

mod model;

/// What `testdata/lvs-rs-msg.bin` holds: entries built by this encoder that a Linux 6.12
/// backup accepted (`testdata/interop-6.12.txt`, last part): an IPv4 connection carrying
/// the FULLNAT local-address extension (which the kernel must ignore), an IPv6 one, and a
/// template.
fn interop_entries() -> Vec<SyncConn> {
    let mut fnat = v4(0, 1, 40000, 81, 900, "10.1.0.2", "10.2.0.11");
    fnat.vaddr = a("10.1.0.100");
    fnat.local = Some((a("10.2.0.50"), 1024));
    let mut six = v4(0, 1, 40001, 81, 900, "fd01::2", "fd02::11");
    six.af = Af::Inet6;
    six.vaddr = a("fd01::100");
    let mut tpl = v4(0x1100, 1, 0, 90, 60, "10.1.0.2", "10.2.0.12");
    tpl.vaddr = a("10.1.0.100");
    vec![fnat, six, tpl]
}

#[test]
fn interop_message_fixture() {
    let b = encode(Version::V1, 0, &interop_entries()).unwrap();
    let want = include_bytes!("testdata/lvs-rs-msg.bin");
    assert_eq!(
        b,
        want,
        "{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    );
}
