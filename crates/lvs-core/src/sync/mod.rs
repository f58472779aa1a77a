//! Connection synchronisation between directors (`ip_vs_sync.c`, reference §6), sans-IO.
//!
//! A *master* multicasts its connections and persistence templates; a *backup* creates the
//! same entries, so that after a failover it forwards established connections to the same
//! real servers and keeps persistent clients where they were. Both roles may run at once.
//!
//! - [`wire`]: the kernel's message format (v1, and v0 for old senders), byte for byte.
//! - [`engine`]: when the master sends a connection ([`engine::sync_needed`], the
//!   `sync_threshold`/`sync_period`/`sync_refresh_period` rules), how entries are batched
//!   into messages ([`engine::SyncSender`]), and the backup's receive path
//!   ([`engine::SyncReceiver`]).
//! - The model side lives on [`crate::Ipvs`]: [`crate::Ipvs::set_sync_master`] /
//!   [`crate::Ipvs::drain_sync`] report what to send, [`crate::Ipvs::sync_apply`] applies
//!   a received entry with IPVS's rules for backup-created connections.
//!
//! Sockets, threads and the data path are lvsd's (`crates/lvsd/src/sync.rs`).

use std::net::{IpAddr, Ipv4Addr};

pub mod engine;
pub mod wire;

pub use engine::{
    ReceiveStats, SyncApplied, SyncParams, SyncReceiver, SyncReject, SyncSender, sync_needed,
};
pub use wire::{SyncConn, Version};

/// The default multicast group (`IP_VS_SYNC_GROUP`, 224.0.0.81). There is no IPv6
/// default: an IPv6 group must be given explicitly.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The default UDP port (`IP_VS_SYNC_PORT`).
pub const DEFAULT_PORT: u16 = 8848;
/// The default multicast TTL / hop limit.
pub const DEFAULT_TTL: u8 = 1;

/// Sync daemon role (`IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends connections.
    Master,
    /// Receives them.
    Backup,
}

/// IP + UDP header length for a group of this family.
fn header_len(group: &IpAddr) -> u32 {
    if group.is_ipv6() { 40 + 8 } else { 20 + 8 }
}

/// The message size limit (`sync_maxlen`) as `start_sync_thread` computes it: a value
/// given by the user is clamped to [1 (master) or 1024 (backup), 65535 − headers]; the
/// default is 1500 − headers for a master (whatever the interface's MTU, so that backups
/// on smaller links still get whole datagrams) and the interface's MTU clamped to
/// 1500..65535, minus headers, for a backup.
pub fn sync_maxlen(role: Role, group: &IpAddr, dev_mtu: u32, requested: u32) -> u32 {
    let hlen = header_len(group);
    let (mtu, min) = match role {
        Role::Backup => (dev_mtu.clamp(1500, 65535), 1024),
        Role::Master => (1500, 1),
    };
    if requested != 0 {
        requested.clamp(min, 65535 - hlen)
    } else {
        mtu - hlen
    }
}

#[cfg(test)]
mod tests;
