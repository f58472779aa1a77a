//! Attachments of the director's programs that outlive lvsd, and their ownership.
//!
//! [`crate::Dataplane::attach`] attaches `lvs_xdp` with the legacy netlink XDP attach
//! (`IFLA_XDP`) and `lvs_tc` as a `cls_bpf` filter on a `clsact` qdisc, not with
//! `bpf_link`s: a link is a file descriptor and goes with the process, a netlink
//! attachment belongs to the interface. So when lvsd dies without detaching (SIGKILL, a
//! crash, the OOM killer), the programs and their maps stay and keep forwarding the flows
//! they know, as kernel IPVS does when its user-space tools die. Only the slow path stops:
//! new connections (punted to the AF_XDP socket that went with lvsd) are dropped.
//!
//! Ownership: the lvsd that attaches to an interface binds the abstract Unix socket
//! `@lvs-rs/xdp/<ifindex>` of the interface's network namespace for as long as it is
//! attached. The kernel releases it when the process dies, and abstract names belong to
//! the namespace, so nothing is left behind to clean up. An `lvs_xdp` program or `lvs_tc`
//! filter found on an interface whose name nobody holds is stale (its lvsd died): the next
//! attach removes it first, so a restarted lvsd starts from empty maps. While another lvsd
//! holds the name, attaching fails instead. Whether the dead owner had added the `clsact`
//! qdisc (so that removing it is ours to do) is in its filter's name: [`TC_NAME_CLSACT`].

use std::os::fd::RawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use lvs_netlink::{Netlink, NlError, TcFilter, XdpMode};

use crate::{DataplaneError, Result};

/// The `TCA_BPF_NAME` of an `lvs_tc` filter whose `clsact` qdisc was added for it (the
/// plain name is the program's, `lvs_tc`).
pub const TC_NAME_CLSACT: &str = "lvs_tc+clsact";

/// A netlink error about `ifname`.
pub(crate) fn nl_err(what: &'static str, ifname: &str) -> impl FnOnce(NlError) -> DataplaneError {
    let ifname = ifname.to_string();
    move |source| DataplaneError::Netlink {
        what,
        ifname,
        source,
    }
}

/// Whether a netlink error only says that the object is gone already (the interface or
/// the filter was removed, or the namespace is being deleted).
pub(crate) fn gone(e: &NlError) -> bool {
    matches!(
        e.errno(),
        Some(libc::ENODEV) | Some(libc::ENOENT) | Some(libc::EINVAL)
    )
}

/// The exclusive ownership of one interface's attachment (see the module docs): a bound
/// abstract Unix socket, released when dropped or when the process dies.
#[derive(Debug)]
pub(crate) struct Owner {
    _sock: UnixDatagram,
}

/// What the previous (dead) owner of an interface left.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Previous {
    /// It added the `clsact` qdisc (so removing it on detach is ours to do).
    pub clsact_added: bool,
}

impl Owner {
    /// Take the ownership of interface `ifindex` of the caller's network namespace; fails
    /// with [`DataplaneError::InUse`] while another process holds it.
    pub(crate) fn take(ifindex: u32, ifname: &str) -> Result<Owner> {
        Self::take_name(&format!("lvs-rs/xdp/{ifindex}"), ifname)
    }

    fn take_name(name: &str, ifname: &str) -> Result<Owner> {
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).map_err(|source| {
            DataplaneError::Lock {
                name: name.to_string(),
                source,
            }
        })?;
        match UnixDatagram::bind_addr(&addr) {
            Ok(sock) => Ok(Owner { _sock: sock }),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(DataplaneError::InUse {
                ifname: ifname.to_string(),
            }),
            Err(source) => Err(DataplaneError::Lock {
                name: name.to_string(),
                source,
            }),
        }
    }
}

/// The name of the loaded BPF program with id `id`, if it is still loaded.
fn program_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .find(|p| p.id() == id)
        .map(|p| p.name_as_str().unwrap_or("").to_string())
}

/// Remove what a dead lvsd left on interface `ifindex` (`xdp_name` in XDP, filters named
/// `tc_name` or [`TC_NAME_CLSACT`] at TC ingress), and tell whether it had added the
/// `clsact` qdisc. Refuses (leaving everything as it is) if another XDP program is
/// attached. Call with the interface's [`Owner`] held.
pub(crate) fn remove_stale(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    xdp_name: &str,
    tc_name: &str,
) -> Result<Previous> {
    let link = nl
        .links()
        .map_err(nl_err("listing interfaces", ifname))?
        .into_iter()
        .find(|l| l.index == ifindex)
        .ok_or_else(|| DataplaneError::Invalid(format!("no interface {ifname}")))?;
    if let Some((id, mode)) = link.xdp.any() {
        let name = program_name(id).unwrap_or_default();
        match mode {
            Some(mode) if name == xdp_name => {
                log::warn!(
                    "{ifname}: removing {xdp_name} (program id {id}) left by an lvsd that did \
                     not detach"
                );
                nl.detach_xdp(ifindex, mode)
                    .map_err(nl_err("removing a stale XDP program", ifname))?;
            }
            _ => {
                return Err(DataplaneError::Busy {
                    ifname: ifname.to_string(),
                    what: format!("XDP program `{name}` (id {id})"),
                });
            }
        }
    }
    let mut prev = Previous::default();
    for f in nl
        .ingress_filters(ifindex)
        .map_err(nl_err("listing TC ingress filters", ifname))?
    {
        if f.name == tc_name || f.name == TC_NAME_CLSACT {
            prev.clsact_added |= f.name == TC_NAME_CLSACT;
            log::warn!(
                "{ifname}: removing the TC filter {tc_name} (program id {}) left by an lvsd \
                 that did not detach",
                f.prog_id
            );
            match nl.del_ingress_filter(ifindex, &f) {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(nl_err("removing a stale TC filter", ifname)(e)),
            }
        }
    }
    Ok(prev)
}

/// A program attached in XDP through netlink.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XdpAttachment {
    pub mode: XdpMode,
    pub prog_id: u32,
}

/// Attach XDP program `fd` (id `prog_id`) to `ifindex` in `mode`, unless a program is there.
pub(crate) fn attach_xdp(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    fd: RawFd,
    prog_id: u32,
    mode: XdpMode,
) -> Result<XdpAttachment> {
    nl.attach_xdp(ifindex, fd, mode).map_err(|e| {
        let what = match mode {
            XdpMode::Native => "native XDP attach",
            XdpMode::Generic => "generic XDP attach",
        };
        nl_err(what, ifname)(e)
    })?;
    Ok(XdpAttachment { mode, prog_id })
}

/// Remove the XDP attachment `a` of `ifindex` if the program there is still ours.
pub(crate) fn detach_xdp(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    a: XdpAttachment,
) -> Result<()> {
    let links = match nl.links() {
        Ok(l) => l,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(nl_err("listing interfaces", ifname)(e)),
    };
    let Some(link) = links.into_iter().find(|l| l.index == ifindex) else {
        return Ok(()); // the interface is gone, and the attachment with it
    };
    match link.xdp.prog(a.mode) {
        Some(id) if id == a.prog_id => match nl.detach_xdp(ifindex, a.mode) {
            Ok(()) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(nl_err("XDP detach", ifname)(e)),
        },
        other => {
            log::warn!(
                "{ifname}: XDP program {} is no longer ours ({other:?}): left as it is",
                a.prog_id
            );
            Ok(())
        }
    }
}

/// A TC ingress filter added through netlink.
#[derive(Debug, Clone)]
pub(crate) struct TcAttachment {
    pub filter: TcFilter,
    /// The `clsact` qdisc is ours (we or a dead lvsd before us added it): removed on
    /// detach when no filter is left on it.
    pub clsact_added: bool,
}

/// Add TC program `fd` (id `prog_id`, named `name`, or [`TC_NAME_CLSACT`] when the
/// `clsact` qdisc is ours) at the ingress of `ifindex`, adding the qdisc if missing.
pub(crate) fn attach_tc(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    fd: RawFd,
    prog_id: u32,
    name: &str,
    prev: Previous,
) -> Result<TcAttachment> {
    let clsact_added = match nl.add_clsact(ifindex) {
        Ok(()) => true,
        Err(NlError::Kernel(libc::EEXIST)) => prev.clsact_added,
        Err(e) => return Err(nl_err("adding the clsact qdisc", ifname)(e)),
    };
    let name = if clsact_added { TC_NAME_CLSACT } else { name };
    match nl.add_ingress_bpf(ifindex, fd, prog_id, name) {
        Ok(filter) => Ok(TcAttachment {
            filter,
            clsact_added,
        }),
        Err(e) => {
            if clsact_added {
                let _ = nl.del_clsact(ifindex);
            }
            Err(nl_err("adding the TC ingress filter", ifname)(e))
        }
    }
}

/// Remove TC attachment `t` of `ifindex` (and the `clsact` qdisc if it is ours and empty).
pub(crate) fn detach_tc(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    t: &TcAttachment,
) -> Result<()> {
    match nl.del_ingress_filter(ifindex, &t.filter) {
        Ok(()) => {}
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(nl_err("removing the TC ingress filter", ifname)(e)),
    }
    if t.clsact_added {
        match nl.clsact_has_filters(ifindex) {
            Ok(false) => match nl.del_clsact(ifindex) {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(e) => return Err(nl_err("removing the clsact qdisc", ifname)(e)),
            },
            Ok(true) => {}
            Err(e) if gone(&e) => {}
            Err(e) => return Err(nl_err("listing TC filters", ifname)(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time_released_on_drop() {
        let name = format!("lvs-rs-test/{}", std::process::id());
        let a = Owner::take_name(&name, "eth0").unwrap();
        match Owner::take_name(&name, "eth0") {
            Err(DataplaneError::InUse { ifname }) => assert_eq!(ifname, "eth0"),
            other => panic!("{other:?}"),
        }
        // Another interface is another name.
        let b = Owner::take_name(&format!("{name}/2"), "eth1").unwrap();
        drop(a);
        let c = Owner::take_name(&name, "eth0").unwrap();
        drop((b, c));
    }
}
