//! lvs-keepalived: the keepalived of lvs-rs.
//!
//! It reads keepalived.conf unchanged, runs VRRP (v2 and v3) so that a backup director takes
//! over the virtual addresses when the master fails, health-checks real servers and keeps
//! lvsd's tables in step through the control API. Each concern is a module: `conf` (the
//! keepalived.conf grammar and its typed model), `vrrp` (sans-IO codec and state machine,
//! plus the socket driver), `check` (health checkers), `ipvs` (the bridge to lvsd).
pub mod check;
pub mod conf;
pub mod daemon;
pub mod vrrp;
