//! Health checkers of real servers (keepalived's checker process).
//!
//! * [`spec`]: what to check, plain input types the daemon fills from keepalived.conf.
//! * [`state`]: the sans-IO core — per-checker retry logic, real-server and quorum state,
//!   sorry server, inhibit_on_failure, alpha/omega, ha_suspend, misc_dynamic weights —
//!   which turns probe results into lvsd operations and keepalived-worded log lines.

pub mod spec;
pub mod state;

pub use spec::*;
pub use state::*;
