//! VRRP v2 (RFC 3768) and v3 (RFC 5798) as keepalived implements them.
//!
//! - [`packet`]: the sans-IO codec (advertisements, IPv4 header, checksums, GARP / NA frames).
//! - [`instance`]: the sans-IO state machine of one `vrrp_instance`, driven by [`instance::Input`]
//!   events and a caller-supplied clock, returning [`instance::Action`]s.
//! - [`sync`]: the sans-IO coordinator of a `vrrp_sync_group`, which makes the member
//!   instances change state together.
//! - [`script`]: `vrrp_script` runners, one per script and process, whose verdicts every
//!   tracking driver subscribes to.
//! - [`driver`]: the Linux side (raw sockets, netlink, AF_PACKET, notify scripts) and
//!   [`run_vrrp`], the entry point that runs a set of instances until shutdown.

pub mod driver;
pub mod instance;
pub mod packet;
pub mod script;
pub mod sync;
mod sys;

pub use driver::{
    DriverError, StateEvent, StateObserver, VrrpConfig, run_vrrp, run_vrrp_observed,
    run_vrrp_shared,
};
pub use instance::{InstanceConfig, Notify, State, Track, TrackKind, Vip};
pub use packet::{Family, Version};
pub use script::{ScriptConfig, ScriptFeeds, ScriptRunners};
pub use sync::{GroupNotify, SyncGroup, SyncGroupConfig};
