//! `lvsadm`: the core of lvs-rs's ipvsadm-compatible administration tool.
//!
//! * [`parse`] turns an ipvsadm 1.31 command line into a [`Command`] (lvs-api request types
//!   plus listing options), with ipvsadm's option handling (popt included), checks,
//!   defaults, messages and exit statuses ([`CliError`]);
//! * [`restore`] reads `-R` input the way ipvsadm does;
//! * [`format`] prints every listing byte for byte as ipvsadm does, from lvs-api types;
//! * [`ipvs_strerror`] words the daemon's errors as ipvsadm words the kernel's;
//! * [`usage`] has the `-h` and `-v` texts;
//! * [`realserver`] is `lvsadm realserver setup|teardown|status`, the real-server side
//!   set-up (VIPs on lo, ARP and rp_filter sysctls, tunnel decapsulation).
//!
//! Everything is pure except name resolution, which goes through a [`Resolver`]
//! ([`SystemResolver`] for the real system, [`StaticResolver`] / [`NoResolver`] for tests).
//! Known differences from ipvsadm are listed in `docs/compat/ipvsadm.md`.

pub mod cli;
pub mod error;
pub mod exec;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod num;
mod popt;
pub mod realserver;
pub mod resolve;
pub mod restore;
pub mod usage;

pub use cli::{
    Command, DaemonConfig, DaemonState, DaemonStop, Invocation, ListRequest, ListWhat, parse,
    parse_invocation,
};
pub use error::{CliError, Operation, daemon_error, ipvs_strerror};
pub use format::{DaemonInfo, Format};
pub use resolve::{NoResolver, Resolver, ServProto, Services, StaticResolver, SystemResolver};
pub use restore::{RestoreLine, parse_restore, restore_lines};
