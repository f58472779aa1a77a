//! `lvs-core`: the semantics of Linux IPVS as a sans-IO library.
//!
//! This crate is the single model of a Linux Virtual Server director that everything else
//! in lvs-rs is built on: the XDP data path's slow path, `lvsadm`, `lvs-keepalived` and
//! connection sync. It has no sockets and no clock: time is passed in as [`Time`], random
//! numbers come from seeded generators, so every behaviour is deterministic and testable
//! without privileges. `shared/reference/ipvs.md` is the specification.
//!
//! The most important types:
//! - [`Ipvs`]: a whole director's state (services, real servers, connections, stats) with
//!   the configuration operations of ipvsadm and the per-packet decisions of `ip_vs_core.c`.
//! - [`sched::Scheduler`]: the 14 IPVS scheduling algorithms, one file each under `sched/`.
//! - [`conn::ConnTable`]: the connection table (two-direction lookups, timer wheel expiry).
//! - [`conn::tcp`]: IPVS's TCP state machine and timeouts.
//! - [`stats`]: counters and the 2-second rate estimator.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![deny(unsafe_code)]

pub mod apply;
pub mod conn;
pub mod dest;
pub mod error;
pub mod fullnat;
pub mod ipvs;
pub mod sched;
pub mod service;
pub mod stats;
pub mod sync;
pub mod time;
pub mod types;

pub use apply::{ApplyError, ApplyReport, ServiceSetup, Setup};
pub use dest::{Dest, DestFlags, DestId, DestSlab};
pub use error::{IpvsError, LaddrError, SchedError};
pub use ipvs::{Config, InVerdict, Ipvs, OutVerdict, PacketMeta, ServiceId, TcpFlags};
pub use service::{DestConfig, Service, ServiceConfig};
pub use time::Time;
pub use types::{
    Af, ForwardMethod, Persistence, Protocol, ServiceFlags, ServiceKey, TunnelConfig, TunnelCsum,
    TunnelType,
};
