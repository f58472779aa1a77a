//! Counters and the rate estimator (`ip_vs_stats`, `ip_vs_est.c`, reference §7).
//!
//! Every service, every destination and the whole table keep the five IPVS counters
//! (conns, inpkts, outpkts, inbytes, outbytes). Listings show them relative to a zero point
//! that `-Z` moves. The estimator runs every 2 s per object with the kernel's fixed-point
//! arithmetic (weight 1/4), so rates read the same numbers IPVS would.

/// The five IPVS counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// New connections scheduled.
    pub conns: u64,
    /// Packets client → real server (including related ICMP).
    pub inpkts: u64,
    /// Packets real server → client seen by the director (NAT, FULLNAT replies, ICMP).
    pub outpkts: u64,
    /// Bytes client → real server (IP length).
    pub inbytes: u64,
    /// Bytes real server → client.
    pub outbytes: u64,
}

impl Counters {
    /// `self - base`, wrapping like the kernel's unsigned subtraction.
    pub fn since(&self, base: &Counters) -> Counters {
        Counters {
            conns: self.conns.wrapping_sub(base.conns),
            inpkts: self.inpkts.wrapping_sub(base.inpkts),
            outpkts: self.outpkts.wrapping_sub(base.outpkts),
            inbytes: self.inbytes.wrapping_sub(base.inbytes),
            outbytes: self.outbytes.wrapping_sub(base.outbytes),
        }
    }

    /// Add `other` to `self` (wrapping).
    pub fn add(&mut self, other: &Counters) {
        self.conns = self.conns.wrapping_add(other.conns);
        self.inpkts = self.inpkts.wrapping_add(other.inpkts);
        self.outpkts = self.outpkts.wrapping_add(other.outpkts);
        self.inbytes = self.inbytes.wrapping_add(other.inbytes);
        self.outbytes = self.outbytes.wrapping_add(other.outbytes);
    }
}

/// Rates as ipvsadm shows them (`--rate`): per second, rounded as the kernel reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second (bytes, not bits, despite the name "BPS").
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// Estimator period: the kernel estimates every 2 seconds.
pub const ESTIMATOR_PERIOD_MS: u64 = 2000;

/// The kernel's estimator state (`struct ip_vs_estimator`): scaled averages and the counter
/// values at the previous tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimator {
    last: Counters,
    cps: u64,
    inpps: u64,
    outpps: u64,
    inbps: u64,
    outbps: u64,
}

/// One exponentially weighted step, `e += (rate - e) >> 2` on signed 64-bit values.
#[inline]
fn ewma(e: &mut u64, rate: u64) {
    let delta = (rate as i64).wrapping_sub(*e as i64) >> 2;
    *e = (*e as i64).wrapping_add(delta) as u64;
}

impl Estimator {
    /// One 2-second estimation step with the current (absolute) counters.
    pub fn tick(&mut self, now: &Counters) {
        ewma(&mut self.cps, now.conns.wrapping_sub(self.last.conns) << 9);
        ewma(
            &mut self.inpps,
            now.inpkts.wrapping_sub(self.last.inpkts) << 9,
        );
        ewma(
            &mut self.outpps,
            now.outpkts.wrapping_sub(self.last.outpkts) << 9,
        );
        ewma(
            &mut self.inbps,
            now.inbytes.wrapping_sub(self.last.inbytes) << 4,
        );
        ewma(
            &mut self.outbps,
            now.outbytes.wrapping_sub(self.last.outbytes) << 4,
        );
        self.last = *now;
    }

    /// Rates as `ip_vs_read_estimator` returns them.
    pub fn rates(&self) -> Rates {
        Rates {
            cps: (self.cps + 0x1FF) >> 10,
            inpps: (self.inpps + 0x1FF) >> 10,
            outpps: (self.outpps + 0x1FF) >> 10,
            inbps: (self.inbps + 0xF) >> 5,
            outbps: (self.outbps + 0xF) >> 5,
        }
    }

    /// `-Z`: the averages restart from 0 and the next delta is taken from `now`.
    pub fn zero(&mut self, now: &Counters) {
        *self = Estimator {
            last: *now,
            ..Estimator::default()
        };
    }
}

/// Counters, their zero point and the estimator of one object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Absolute counters since creation.
    pub total: Counters,
    /// Value of `total` at the last `-Z`.
    pub zero_point: Counters,
    /// Rate estimator.
    pub est: Estimator,
}

impl Stats {
    /// Counters as listings show them (since the last zeroing).
    pub fn shown(&self) -> Counters {
        self.total.since(&self.zero_point)
    }

    /// Zero the shown counters and the rates (`ipvsadm -Z`).
    pub fn zero(&mut self) {
        self.zero_point = self.total;
        self.est.zero(&self.total);
    }

    /// One estimator step.
    pub fn estimate(&mut self) {
        let t = self.total;
        self.est.tick(&t);
    }

    /// Current rates.
    pub fn rates(&self) -> Rates {
        self.est.rates()
    }

    /// Count one new connection.
    #[inline]
    pub fn count_conn(&mut self) {
        self.total.conns = self.total.conns.wrapping_add(1);
    }

    /// Count `pkts` incoming packets of `bytes` bytes.
    #[inline]
    pub fn count_in(&mut self, pkts: u64, bytes: u64) {
        self.total.inpkts = self.total.inpkts.wrapping_add(pkts);
        self.total.inbytes = self.total.inbytes.wrapping_add(bytes);
    }

    /// Count `pkts` outgoing packets of `bytes` bytes.
    #[inline]
    pub fn count_out(&mut self, pkts: u64, bytes: u64) {
        self.total.outpkts = self.total.outpkts.wrapping_add(pkts);
        self.total.outbytes = self.total.outbytes.wrapping_add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_converges_to_the_rate() {
        // 100 conns/s, 1000 pkts/s of 500 bytes, for long enough.
        let mut s = Stats::default();
        for _ in 0..60 {
            s.total.conns += 200;
            s.count_in(2000, 2000 * 500);
            s.estimate();
        }
        let r = s.rates();
        assert_eq!(r.cps, 100);
        assert_eq!(r.inpps, 1000);
        assert_eq!(r.inbps, 500_000);
        assert_eq!(r.outpps, 0);
    }

    #[test]
    fn first_tick_is_a_quarter() {
        // e = 0 + ((400 << 9) - 0) >> 2 = 51200; read: (51200 + 511) >> 10 = 50.
        let mut s = Stats::default();
        s.total.conns = 400;
        s.estimate();
        assert_eq!(s.rates().cps, 50);
        // bytes: (4000 << 4) >> 2 = 16000; read (16000 + 15) >> 5 = 500.
        let mut t = Stats::default();
        t.count_in(0, 4000);
        t.estimate();
        assert_eq!(t.rates().inbps, 500);
    }

    #[test]
    fn rate_decays_after_traffic_stops() {
        let mut s = Stats::default();
        for _ in 0..80 {
            s.total.conns += 2000;
            s.estimate();
        }
        assert_eq!(s.rates().cps, 1000);
        s.estimate();
        // 3/4 of the old average remains after one idle tick.
        assert_eq!(s.rates().cps, 750);
        for _ in 0..60 {
            s.estimate();
        }
        assert_eq!(s.rates().cps, 0);
    }

    #[test]
    fn zero_resets_shown_counters_and_rates() {
        let mut s = Stats::default();
        s.count_conn();
        s.count_in(10, 1000);
        s.count_out(5, 300);
        s.estimate();
        s.zero();
        assert_eq!(s.shown(), Counters::default());
        assert_eq!(s.rates(), Rates::default());
        s.count_in(1, 60);
        assert_eq!(s.shown().inpkts, 1);
        assert_eq!(s.shown().inbytes, 60);
        assert_eq!(s.total.inpkts, 11);
        // The next tick only sees what came after the zeroing.
        s.estimate();
        assert_eq!(s.rates().inpps, (((1u64 << 9) >> 2) + 0x1FF) >> 10);
    }
}
