//! Health checkers of real servers (keepalived's checker process).
//!
//! * [`spec`]: what to check, plain input types the daemon fills from keepalived.conf.
//! * [`state`]: the sans-IO core — per-checker retry logic, real-server and quorum state,
//!   sorry server, inhibit_on_failure, alpha/omega, ha_suspend, misc_dynamic weights —
//!   which turns probe results into lvsd operations and keepalived-worded log lines.
//! * [`probe`]: the probes themselves (tokio).
//! * [`driver`]: [`run_checkers`], the timers and the loop; [`LvsdSink`], the ops applied
//!   to lvsd through its control socket.

pub mod driver;
pub mod probe;
pub mod spec;
pub mod state;

pub use driver::{CheckerHandle, Control, LvsdSink, run_checkers};
pub use spec::*;
pub use state::*;
