//! ns per `schedule()` for every scheduler with 2, 100 and 1000 real servers.
//!
//! Each destination gets a distinct weight (1..=10, cycling) and a small load so the
//! least-connection family does real comparisons. Clients vary per iteration so the
//! hashing schedulers do not hit one bucket only. Run: `cargo bench -p lvs-core --bench sched`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lvs_core::sched::{
    DestList, PacketInfo, SCHEDULER_NAMES, SchedParams, SchedService, new_scheduler,
};
use lvs_core::{Af, Dest, DestSlab, ForwardMethod, Protocol, ServiceFlags, Time};

fn bench_schedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let svc = SchedService {
        af: Af::Inet,
        flags: ServiceFlags::default(),
    };
    for &n in &[2usize, 100, 1000] {
        let mut slab = DestSlab::new();
        let mut order = Vec::new();
        for i in 0..n {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i as u32));
            let mut d = Dest::new(ip, 80, ForwardMethod::Masq).with_weight(1 + (i % 10) as i32);
            d.activeconns = (i % 7) as u32;
            d.inactconns = (i % 13) as u32;
            let id = slab.insert(d);
            order.insert(0, id);
        }
        for name in SCHEDULER_NAMES {
            let mut s = new_scheduler(name, &SchedParams::default()).expect("known scheduler");
            // Bind as the kernel does: init with an empty list, then add one by one.
            s.init_service(&DestList::new(&[], &slab), &svc)
                .expect("init");
            for k in (0..n).rev() {
                let list = DestList::new(&order[k..], &slab);
                s.add_dest(&list, &svc, order[k]).expect("add");
            }
            let list = DestList::new(&order, &slab);
            let mut client: u32 = 0xc000_0200;
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    client = client.wrapping_add(0x9e37_79b9);
                    let pkt = PacketInfo::new(
                        Protocol::Tcp,
                        IpAddr::V4(Ipv4Addr::from(client)),
                        (client & 0xffff) as u16,
                        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                        80,
                    );
                    black_box(s.schedule(&list, &svc, black_box(&pkt), Time::ZERO))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_schedule);
criterion_main!(benches);
