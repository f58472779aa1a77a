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
//! Ownership: the lvsd that attaches to an interface holds an exclusive `flock` on
//! `/run/lvs-rs/xdp/<netns cookie>-<ifindex>` for as long as it is attached. The file
//! records its pid and whether it added the `clsact` qdisc. An `lvs_xdp` program or
//! `lvs_tc` filter found on an interface whose lock nobody holds is stale (its lvsd died):
//! the next attach removes it first, so a restarted lvsd starts from empty maps. While
//! another lvsd holds the lock, attaching fails instead.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use lvs_netlink::{Netlink, NlError, TcFilter, XdpMode};

use crate::{DataplaneError, Result};

/// Where the ownership locks live.
pub const LOCK_DIR: &str = "/run/lvs-rs/xdp";

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

/// The exclusive ownership of one interface's attachment (see the module docs).
#[derive(Debug)]
pub(crate) struct Owner {
    file: File,
    path: PathBuf,
}

/// What the previous owner of an interface recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Previous {
    /// It added the `clsact` qdisc (so removing it on detach is ours to do).
    pub clsact_added: bool,
}

impl Owner {
    /// Take the ownership of interface `ifindex` of the namespace with cookie `cookie`;
    /// fails with [`DataplaneError::InUse`] while another process holds it.
    pub(crate) fn take(cookie: u64, ifindex: u32, ifname: &str) -> Result<(Owner, Previous)> {
        Self::take_in(Path::new(LOCK_DIR), cookie, ifindex, ifname)
    }

    fn take_in(dir: &Path, cookie: u64, ifindex: u32, ifname: &str) -> Result<(Owner, Previous)> {
        let path = dir.join(format!("{cookie}-{ifindex}"));
        let lock_err = |source| DataplaneError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|source| DataplaneError::Lock {
            path: dir.to_path_buf(),
            source,
        })?;
        // A releasing owner unlinks the file before it unlocks it: a lock taken on a file
        // that is no longer at `path` is worthless, so open again.
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(lock_err)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut s = String::new();
                    let _ = file.read_to_string(&mut s);
                    return Err(DataplaneError::InUse {
                        ifname: ifname.to_string(),
                        pid: field(&s, "pid").unwrap_or("?").to_string(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(lock_err(e)),
            }
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let mut s = String::new();
            file.read_to_string(&mut s).map_err(lock_err)?;
            let prev = Previous {
                clsact_added: field(&s, "clsact") == Some("1"),
            };
            let mut owner = Owner { file, path };
            owner.record(ifname, prev.clsact_added)?;
            return Ok((owner, prev));
        }
    }

    /// Record this process as the owner, and whether the `clsact` qdisc is ours.
    pub(crate) fn record(&mut self, ifname: &str, clsact_added: bool) -> Result<()> {
        let text = format!(
            "pid={}\nifname={ifname}\nclsact={}\n",
            std::process::id(),
            u8::from(clsact_added)
        );
        let r = self
            .file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .and_then(|()| self.file.write_all(text.as_bytes()));
        r.map_err(|source| DataplaneError::Lock {
            path: self.path.clone(),
            source,
        })
    }

    /// Give the interface up: the file goes, then the lock.
    pub(crate) fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// The name of the loaded BPF program with id `id`, if it is still loaded.
fn program_name(id: u32) -> Option<String> {
    aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .find(|p| p.id() == id)
        .map(|p| p.name_as_str().unwrap_or("").to_string())
}

/// Remove what a dead lvsd left on interface `ifindex` (`xdp_name` in XDP, filters named
/// `tc_name` at TC ingress). Refuses (leaving everything as it is) if another XDP program
/// is attached. Call with the interface's [`Owner`] held.
pub(crate) fn remove_stale(
    nl: &mut Netlink,
    ifindex: u32,
    ifname: &str,
    xdp_name: &str,
    tc_name: &str,
) -> Result<()> {
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
    for f in nl
        .ingress_filters(ifindex)
        .map_err(nl_err("listing TC ingress filters", ifname))?
    {
        if f.name == tc_name {
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
    Ok(())
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

/// Add TC program `fd` (id `prog_id`, named `name`) at the ingress of `ifindex`, adding
/// the `clsact` qdisc if missing.
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

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lvs-persist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn one_owner_at_a_time_and_the_record_survives_a_dead_one() {
        let dir = tmpdir("own");
        let (mut a, prev) = Owner::take_in(&dir, 7, 3, "eth0").unwrap();
        assert_eq!(prev, Previous::default());
        a.record("eth0", true).unwrap();
        // Another process (another open file description) cannot take it.
        match Owner::take_in(&dir, 7, 3, "eth0") {
            Err(DataplaneError::InUse { ifname, pid }) => {
                assert_eq!(ifname, "eth0");
                assert_eq!(pid, std::process::id().to_string());
            }
            other => panic!("{other:?}"),
        }
        // Another interface or namespace is another lock.
        let (b, _) = Owner::take_in(&dir, 8, 3, "eth0").unwrap();
        b.release();
        // A dead owner (its file closed without release): the next one learns that the
        // qdisc was added.
        drop(a);
        let (c, prev) = Owner::take_in(&dir, 7, 3, "eth0").unwrap();
        assert!(prev.clsact_added);
        c.release();
        // Released: the file is gone and nothing is inherited.
        assert!(!dir.join("7-3").exists());
        let (d, prev) = Owner::take_in(&dir, 7, 3, "eth0").unwrap();
        assert!(!prev.clsact_added);
        d.release();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn record_fields() {
        assert_eq!(field("pid=12\nclsact=1\n", "pid"), Some("12"));
        assert_eq!(field("pid=12\nclsact=1\n", "clsact"), Some("1"));
        assert_eq!(field("pidx=1\n", "pid"), None);
        assert_eq!(field("", "pid"), None);
    }
}
