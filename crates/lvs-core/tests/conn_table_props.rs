//! Property tests of `ConnTable` against a naive model: random sequences of inserts,
//! removes, re-arms, rekeys and time advances; after every step the table must agree with
//! the model on stored entries, on all three lookups (for every stored key and some
//! misses), and on exactly which entries expire.

use std::collections::{BTreeMap, BTreeSet};

use lvs_core::Time;
use lvs_core::conn::table::{InKey, OutKey, TICK_MS, WHEEL_SLOTS};
use lvs_core::conn::{Addr16, Conn, ConnFlags, ConnId, ConnTable, NONE};
use proptest::prelude::*;

const REV: u64 = TICK_MS * WHEEL_SLOTS as u64;

/// Small key domains so that keys collide in every way that matters.
#[derive(Clone, Debug)]
struct Spec {
    v6: bool,
    proto: u8,
    c: u8,
    cport: u16,
    v: u8,
    vport: u16,
    d: u8,
    dport: u16,
    l: u8,
    lport: u16,
    template: bool,
    no_cport: bool,
    one_packet: bool,
    fullnat: bool,
    /// Expiry relative to now (may be in the past).
    rel: i64,
}

fn addr(v6: bool, n: u8) -> Addr16 {
    let mut b = [0u8; 16];
    if v6 {
        b[0] = 0x20;
        b[1] = 0x01;
        b[15] = n;
    } else {
        b[0] = 10;
        b[3] = n;
    }
    Addr16(b)
}

fn rel_expiry() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..3000,
        1 => -500i64..0,
        1 => 0i64..(3 * REV as i64),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            any::<bool>(),
            prop::sample::select(vec![6u8, 17, 0]),
            0u8..3,
            0u16..3,
            0u8..2,
            0u16..2,
        ),
        (0u8..3, 0u16..2, 0u8..2, 0u16..2),
        (0u8..8, 0u8..8, 0u8..16, 0u8..4, rel_expiry()),
    )
        .prop_map(
            |((v6, proto, c, cport, v, vport), (d, dport, l, lport), (t, n, o, f, rel))| {
                let no_cport = n == 0;
                Spec {
                    v6,
                    proto,
                    c,
                    cport: if no_cport { 0 } else { cport },
                    v,
                    vport,
                    d,
                    dport,
                    l,
                    lport,
                    template: t == 0,
                    no_cport,
                    one_packet: o == 0,
                    fullnat: f == 0,
                    rel,
                }
            },
        )
}

fn build(s: &Spec, now: u64) -> Conn {
    let mut flags = 0;
    if s.template {
        flags |= ConnFlags::TEMPLATE;
    }
    if s.no_cport {
        flags |= ConnFlags::NO_CPORT;
    }
    if s.one_packet {
        flags |= ConnFlags::ONE_PACKET;
    }
    flags |= if s.fullnat { ConnFlags::FWD_FULLNAT } else { 0 };
    Conn {
        caddr: addr(s.v6, s.c),
        vaddr: addr(s.v6, 100 + s.v),
        daddr: addr(false, 200 + s.d),
        laddr: addr(false, 250 + s.l),
        expires: Time::from_millis(now.saturating_add_signed(s.rel)),
        timeout_ms: 1000,
        flags: ConnFlags(flags),
        fwmark: 0,
        dest: 0,
        control: NONE,
        n_control: 0,
        in_pkts: 0,
        cport: s.cport,
        vport: 80 + s.vport,
        dport: 8000 + s.dport,
        lport: 30000 + s.lport,
        protocol: s.proto,
        af: u8::from(s.v6),
        daf: 0,
        state: 0,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Spec),
    Remove(usize),
    RemoveStale(u32),
    SetExpires(usize, i64),
    Rekey(usize, u16, bool),
    Advance(u64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => spec().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => any::<u32>().prop_map(Op::RemoveStale),
        3 => (any::<usize>(), rel_expiry()).prop_map(|(i, r)| Op::SetExpires(i, r)),
        1 => (any::<usize>(), 0u16..3, any::<bool>()).prop_map(|(i, p, f)| Op::Rekey(i, p, f)),
        3 => prop_oneof![
            9 => 0u64..2000,
            1 => 0u64..(3 * REV),
        ]
        .prop_flat_map(|d| (Just(d), any::<bool>()))
        .prop_map(|(d, r)| Op::Advance(d, r)),
    ]
}

struct Model {
    conns: BTreeMap<ConnId, Conn>,
    armed: BTreeSet<ConnId>,
}

fn fullnat(c: &Conn) -> bool {
    c.flags.0 & ConnFlags::FWD_MASK == ConnFlags::FWD_FULLNAT
}

impl Model {
    fn indexed(&self) -> impl Iterator<Item = (&ConnId, &Conn)> {
        self.conns
            .iter()
            .filter(|(_, c)| !c.flags.has(ConnFlags::ONE_PACKET))
    }

    fn in_matches(&self, k: &InKey, cport: u16) -> BTreeSet<ConnId> {
        self.indexed()
            .filter(|(_, c)| {
                !c.is_template()
                    && c.af() == k.af
                    && c.protocol == k.protocol
                    && c.caddr == k.caddr
                    && c.cport == cport
                    && c.vaddr == k.vaddr
                    && c.vport == k.vport
                    && (cport == 0) == c.flags.has(ConnFlags::NO_CPORT)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn in_get(&self, k: &InKey) -> BTreeSet<ConnId> {
        let exact = self.in_matches(k, k.cport);
        if exact.is_empty() && k.cport != 0 {
            self.in_matches(k, 0)
        } else {
            exact
        }
    }

    fn ct_in_get(&self, k: &InKey) -> BTreeSet<ConnId> {
        self.indexed()
            .filter(|(_, c)| {
                c.is_template()
                    && c.af() == k.af
                    && c.protocol == k.protocol
                    && c.caddr == k.caddr
                    && c.cport == k.cport
                    && c.vaddr == k.vaddr
                    && c.vport == k.vport
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn out_get(&self, k: &OutKey) -> BTreeSet<ConnId> {
        self.indexed()
            .filter(|(_, c)| {
                let (a, p) = if fullnat(c) {
                    (c.laddr, c.lport)
                } else {
                    (c.caddr, c.cport)
                };
                !c.is_template()
                    && c.protocol == k.protocol
                    && c.daf() == k.af
                    && c.daddr == k.saddr
                    && c.dport == k.sport
                    && a == k.daddr
                    && p == k.dport
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

fn check_lookup(
    got: Option<ConnId>,
    want: &BTreeSet<ConnId>,
    what: &str,
) -> Result<(), TestCaseError> {
    match got {
        Some(id) => prop_assert!(want.contains(&id), "{what}: got {id}, want one of {want:?}"),
        None => prop_assert!(want.is_empty(), "{what}: got None, want one of {want:?}"),
    }
    Ok(())
}

fn check(t: &ConnTable, m: &Model, probes: &[Spec]) -> Result<(), TestCaseError> {
    prop_assert_eq!(t.len(), m.conns.len());
    prop_assert_eq!(t.armed(), m.armed.len());
    prop_assert_eq!(t.indexed_len(), m.indexed().count());
    prop_assert_eq!(
        t.fullnat_len(),
        m.indexed().filter(|(_, c)| fullnat(c)).count()
    );
    let stored: Vec<ConnId> = t.iter().map(|(id, _)| id).collect();
    prop_assert_eq!(stored, m.conns.keys().copied().collect::<Vec<_>>());
    for (id, c) in &m.conns {
        let got = t.get(*id).copied();
        let mut want = *c;
        if !c.flags.has(ConnFlags::ONE_PACKET) {
            want.flags.0 |= ConnFlags::HASHED;
        }
        prop_assert_eq!(got, Some(want));
    }
    // Probe with every stored entry's keys and with the probe specs (mostly misses).
    let keys = m
        .conns
        .values()
        .copied()
        .chain(probes.iter().map(|s| build(s, 0)));
    for c in keys {
        for cport in [c.cport, c.cport.wrapping_add(1)] {
            let k = InKey {
                af: c.af(),
                protocol: c.protocol,
                caddr: c.caddr,
                cport,
                vaddr: c.vaddr,
                vport: c.vport,
            };
            check_lookup(t.in_get(&k), &m.in_get(&k), "in_get")?;
            check_lookup(t.ct_in_get(&k), &m.ct_in_get(&k), "ct_in_get")?;
        }
        for (daddr, dport) in [(c.caddr, c.cport), (c.laddr, c.lport)] {
            let k = OutKey {
                af: c.daf(),
                protocol: c.protocol,
                saddr: c.daddr,
                sport: c.dport,
                daddr,
                dport,
            };
            check_lookup(t.out_get(&k), &m.out_get(&k), "out_get")?;
        }
    }
    Ok(())
}

/// Pop everything due at `now` and compare with the model; popped entries are removed, or
/// re-armed later when `rearm` (for every other one).
fn advance(t: &mut ConnTable, m: &mut Model, now: u64, rearm: bool) -> Result<(), TestCaseError> {
    let want: BTreeSet<ConnId> = m
        .armed
        .iter()
        .copied()
        .filter(|id| m.conns[id].expires.as_millis() <= now)
        .collect();
    let mut got = BTreeSet::new();
    while let Some(id) = t.pop_expired(Time::from_millis(now)) {
        prop_assert!(got.insert(id), "{id} popped twice");
        prop_assert!(t.get(id).is_some());
        prop_assert!(
            t.get(id).unwrap().expires.as_millis() <= now,
            "popped early"
        );
    }
    prop_assert_eq!(&got, &want, "expired set at {}", now);
    for (n, id) in got.into_iter().enumerate() {
        m.armed.remove(&id);
        if rearm && n % 2 == 0 {
            let e = Time::from_millis(now + 1 + (u64::from(id) * 7919) % 5000);
            t.set_expires(id, e);
            m.conns.get_mut(&id).unwrap().expires = e;
            m.armed.insert(id);
        } else {
            prop_assert_eq!(
                t.remove(id).map(|c| c.cport),
                m.conns.remove(&id).map(|c| c.cport)
            );
        }
    }
    if let Some(h) = t.next_expiry_hint() {
        let min = m.armed.iter().map(|id| m.conns[id].expires).min();
        prop_assert!(
            min.is_some_and(|min| h <= min),
            "hint {h:?} after earliest {min:?}"
        );
    } else {
        prop_assert!(m.armed.is_empty());
    }
    Ok(())
}

fn pick(m: &Model, i: usize) -> Option<ConnId> {
    (!m.conns.is_empty()).then(|| *m.conns.keys().nth(i % m.conns.len()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn table_agrees_with_model(
        origin in prop_oneof![Just(0u64), 0u64..10_000, Just(1_700_000_000_000u64)],
        ops in prop::collection::vec(op(), 1..80),
        probes in prop::collection::vec(spec(), 0..4),
        seed in any::<u64>(),
    ) {
        let mut t = ConnTable::with_seed(seed);
        let mut m = Model { conns: BTreeMap::new(), armed: BTreeSet::new() };
        let mut now = origin;
        let mut peak = 0;
        for op in ops {
            match op {
                Op::Insert(s) => {
                    let c = build(&s, now);
                    let id = t.insert(c);
                    prop_assert!(m.conns.insert(id, c).is_none(), "id {} handed out twice", id);
                    m.armed.insert(id);
                }
                Op::Remove(i) => {
                    if let Some(id) = pick(&m, i) {
                        prop_assert_eq!(t.remove(id).map(|c| c.cport), Some(m.conns[&id].cport));
                        m.conns.remove(&id);
                        m.armed.remove(&id);
                        prop_assert_eq!(t.remove(id), None);
                    }
                }
                Op::RemoveStale(id) => {
                    if !m.conns.contains_key(&id) {
                        prop_assert_eq!(t.remove(id), None);
                        prop_assert_eq!(t.get(id), None);
                        t.set_expires(id, Time::ZERO);
                    }
                }
                Op::SetExpires(i, rel) => {
                    if let Some(id) = pick(&m, i) {
                        let e = Time::from_millis(now.saturating_add_signed(rel));
                        t.set_expires(id, e);
                        m.conns.get_mut(&id).unwrap().expires = e;
                        m.armed.insert(id);
                    }
                }
                Op::Rekey(i, cport, to_fullnat) => {
                    if let Some(id) = pick(&m, i) {
                        let f = |c: &mut Conn| {
                            if !c.flags.has(ConnFlags::NO_CPORT) {
                                c.cport = cport;
                            }
                            c.flags.0 &= !ConnFlags::FWD_MASK;
                            if to_fullnat {
                                c.flags.0 |= ConnFlags::FWD_FULLNAT;
                            }
                            c.lport = c.lport.wrapping_add(1);
                        };
                        t.rekey(id, f);
                        f(m.conns.get_mut(&id).unwrap());
                    }
                }
                Op::Advance(d, rearm) => {
                    now += d;
                    advance(&mut t, &mut m, now, rearm)?;
                }
            }
            peak = peak.max(t.memory_bytes());
            check(&t, &m, &probes)?;
        }
        // Run past every expiry: everything pops, the table and its indexes end empty.
        let last = m.conns.values().map(|c| c.expires.as_millis()).max().unwrap_or(now);
        now = now.max(last) + 1;
        advance(&mut t, &mut m, now, false)?;
        // Entries popped earlier and left detached are not re-popped; drop them too.
        prop_assert!(m.armed.is_empty());
        for id in m.conns.keys().copied().collect::<Vec<_>>() {
            prop_assert!(t.remove(id).is_some());
            m.conns.remove(&id);
        }
        prop_assert_eq!(t.len(), 0);
        prop_assert!(t.is_empty());
        prop_assert_eq!(t.indexed_len(), 0);
        prop_assert_eq!(t.fullnat_len(), 0);
        prop_assert_eq!(t.armed(), 0);
        prop_assert_eq!(t.iter().count(), 0);
        prop_assert_eq!(t.next_expiry_hint(), None);
        prop_assert_eq!(t.pop_expired(Time::from_millis(u64::MAX)), None);
        prop_assert!(t.memory_bytes() <= peak);
        check(&t, &m, &probes)?;
    }
}
