//! Connection table benchmarks at 1e6 and 1e7 entries: insert, in/out lookups that hit,
//! expiry re-arm on a packet (`set_expires`), and expiry (`pop_expired` + `remove`), plus
//! the memory footprint per connection.
//!
//! Each size's table is built once (1e7 takes a few seconds) and the benches measure
//! operations on it while keeping its size steady. `CONN_BENCH_SIZES=1000000` (comma
//! separated) limits the sizes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lvs_core::Time;
use lvs_core::conn::table::{InKey, OutKey};
use lvs_core::conn::{Addr16, Conn, ConnFlags, ConnTable, NONE};
use lvs_core::types::Af;

/// Expiries spread over this many ms (the ESTABLISHED timeout).
const SPAN: u64 = 900_000;
/// Largest batch inserted or expired before the table is put back to its size.
const BATCH: u64 = 10_000;

fn v4(x: u32) -> Addr16 {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&x.to_be_bytes());
    Addr16(b)
}

/// Entry number `i`: a NAT connection from client 10.x.y.z:port to 10.255.0.1:80.
fn conn(i: u32, expires: u64) -> Conn {
    Conn {
        caddr: v4(0x0a00_0000 + (i >> 6)),
        vaddr: v4(0x0aff_0001),
        daddr: v4(0xc0a8_0000 + (i & 0xff)),
        laddr: Addr16::ZERO,
        expires: Time::from_millis(expires),
        timeout_ms: 900_000,
        flags: ConnFlags(ConnFlags::INACTIVE),
        fwmark: 0,
        dest: i & 0xff,
        control: NONE,
        n_control: 0,
        in_pkts: 1,
        cport: 1024 + (i & 63) as u16,
        vport: 80,
        dport: 8080,
        lport: 0,
        protocol: 6,
        af: 0,
        daf: 0,
        state: 1,
    }
}

fn in_key(i: u32) -> InKey {
    let c = conn(i, 0);
    InKey {
        af: Af::Inet,
        protocol: 6,
        caddr: c.caddr,
        cport: c.cport,
        vaddr: c.vaddr,
        vport: c.vport,
    }
}

fn out_key(i: u32) -> OutKey {
    let c = conn(i, 0);
    OutKey {
        af: Af::Inet,
        protocol: 6,
        saddr: c.daddr,
        sport: c.dport,
        daddr: c.caddr,
        dport: c.cport,
    }
}

/// A pseudo-random entry number below `n` for step `j` (a Weyl sequence scaled to `n`),
/// so lookups touch the table all over, as real traffic does.
#[inline]
fn pick(j: u64, n: u32) -> u32 {
    let x = (j.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
    ((u64::from(x) * u64::from(n)) >> 32) as u32
}

fn build(n: u32) -> ConnTable {
    let start = Instant::now();
    let mut t = ConnTable::with_seed(0x5eed);
    for i in 0..n {
        t.insert(conn(i, (u64::from(i) * 7919) % SPAN));
    }
    let per = t.memory_bytes() as f64 / t.len() as f64;
    println!(
        "conn table: {} entries built in {:.2?}; memory_bytes {} = {per:.1} bytes/conn",
        t.len(),
        start.elapsed(),
        t.memory_bytes()
    );
    t
}

fn sizes() -> Vec<u32> {
    std::env::var("CONN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 10_000_000])
}

fn bench_conn(c: &mut Criterion) {
    for n in sizes() {
        let mut t = build(n);
        let mut g = c.benchmark_group(format!("conn/{n}"));
        if n >= 5_000_000 {
            g.sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
        } else {
            g.sample_size(20)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
        }

        // Insert new entries (batches removed again, untimed, to keep the size at n).
        let mut next = n;
        g.bench_function("insert", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                let mut ids = Vec::with_capacity(BATCH as usize);
                while done < iters {
                    let k = (iters - done).min(BATCH);
                    let start = Instant::now();
                    for _ in 0..k {
                        ids.push(t.insert(conn(next, SPAN)));
                        next = next.wrapping_add(1).max(n);
                    }
                    total += start.elapsed();
                    for id in ids.drain(..) {
                        t.remove(id);
                    }
                    done += k;
                }
                total
            })
        });

        let mut j = 0u64;
        g.bench_function("in_get_hit", |b| {
            b.iter(|| {
                j += 1;
                let k = in_key(pick(j, n));
                let hit = t.in_get(black_box(&k));
                debug_assert!(hit.is_some());
                hit
            })
        });
        g.bench_function("out_get_hit", |b| {
            b.iter(|| {
                j += 1;
                let k = out_key(pick(j, n));
                let hit = t.out_get(black_box(&k));
                debug_assert!(hit.is_some());
                hit
            })
        });
        g.bench_function("in_get_miss", |b| {
            b.iter(|| {
                j += 1;
                let mut k = in_key(pick(j, n));
                k.vport = 81;
                t.in_get(black_box(&k))
            })
        });

        // Expire: advance time in 10 ms steps (a driver's timer cadence), pop and remove
        // what is due; the removed entries are re-inserted (untimed) one SPAN later so the
        // table keeps its size and spread. Includes the empty `pop_expired` calls.
        let mut now = 0u64;
        let mut popped = Vec::with_capacity(BATCH as usize + 1024);
        g.bench_function("expire_pop_remove", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let k = (iters - done).min(BATCH);
                    let start = Instant::now();
                    while (popped.len() as u64) < k {
                        now += 10;
                        while let Some(id) = t.pop_expired(Time::from_millis(now)) {
                            if let Some(c) = t.remove(id) {
                                popped.push(c);
                            }
                        }
                    }
                    total += start.elapsed();
                    done += popped.len() as u64;
                    for mut c in popped.drain(..) {
                        c.expires = Time::from_millis(now + SPAN);
                        t.insert(c);
                    }
                }
                // Scale the (possibly overshot) work to exactly `iters` entries.
                total.mul_f64(iters as f64 / done as f64)
            })
        });

        // Re-arm on a packet: the expiry moves later (lazy, no wheel work).
        g.bench_function("set_expires_later", |b| {
            b.iter(|| {
                j += 1;
                let id = pick(j, n);
                t.set_expires(black_box(id), Time::from_millis(now + SPAN));
            })
        });
        g.finish();
        assert_eq!(t.len(), n as usize);
        println!(
            "conn table: {} entries after benches, {:.1} bytes/conn",
            t.len(),
            t.memory_bytes() as f64 / t.len() as f64
        );
    }
}

/// The peer: `std::collections::HashMap` keyed by the in-lookup tuple, same entries, same
/// lookups, measured in the same run. It supports one lookup direction and no expiry.
fn bench_peer(c: &mut Criterion) {
    type Key = (u8, [u8; 16], u16, [u8; 16], u16);
    for n in sizes() {
        let start = Instant::now();
        let mut m: std::collections::HashMap<Key, Conn> = std::collections::HashMap::new();
        for i in 0..n {
            let k = in_key(i);
            m.insert((6, k.caddr.0, k.cport, k.vaddr.0, k.vport), conn(i, SPAN));
        }
        let bytes = m.capacity() * (std::mem::size_of::<(Key, Conn)>() + 1);
        println!(
            "peer std HashMap: {n} entries built in {:.2?}; ~{} bytes = {:.1} bytes/conn",
            start.elapsed(),
            bytes,
            bytes as f64 / n as f64
        );
        let mut g = c.benchmark_group(format!("peer_std_hashmap/{n}"));
        g.sample_size(if n >= 5_000_000 { 10 } else { 20 })
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        let mut j = 0u64;
        g.bench_function("get_hit", |b| {
            b.iter(|| {
                j += 1;
                let k = in_key(pick(j, n));
                m.get(black_box(&(6, k.caddr.0, k.cport, k.vaddr.0, k.vport)))
                    .map(|c| c.dport)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_conn, bench_peer);
criterion_main!(benches);
