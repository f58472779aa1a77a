//! What keepalived's configuration check looks up on the machine: network interfaces, users
//! and groups, the host name, and the security of scripts (lib/notify.c
//! `check_script_secure`). [`SystemEnv`] reads the real machine (`/sys/class/net`,
//! `/etc/passwd`, `/etc/group`, `/proc`); [`StaticEnv`] is a fixed description for tests and
//! for checking a file meant for another machine.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the check needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Kernel index.
    pub ifindex: u32,
    /// `ARPHRD_LOOPBACK` (keepalived refuses VRRP on a loopback interface).
    pub loopback: bool,
    /// `ARPHRD_ETHER` (VMACs need Ethernet).
    pub ethernet: bool,
    /// `IFF_MULTICAST`.
    pub multicast: bool,
    /// MTU (limits the number of VIPs in an advert).
    pub mtu: u32,
}

impl InterfaceInfo {
    /// An up, multicast-capable Ethernet interface with MTU 1500.
    pub fn ethernet(ifindex: u32) -> Self {
        Self {
            ifindex,
            loopback: false,
            ethernet: true,
            multicast: true,
            mtu: 1500,
        }
    }

    /// A loopback interface.
    pub fn loopback(ifindex: u32) -> Self {
        Self {
            ifindex,
            loopback: true,
            ethernet: false,
            multicast: false,
            mtu: 65536,
        }
    }
}

/// Flags of `check_script_secure` (lib/notify.h `SC_*`).
pub mod sc {
    /// The script was found and is a file.
    pub const ISSCRIPT: u32 = 0x01;
    /// It is a `</path` file test rather than a program.
    pub const SYSTEM: u32 = 0x02;
    /// The script must not run.
    pub const INHIBIT: u32 = 0x04;
    /// It was not found or not accessible.
    pub const NOTFOUND: u32 = 0x08;
    /// It is executable by its user.
    pub const EXECUTABLE: u32 = 0x10;
    /// A path component is writable by non-root.
    pub const INSECURE: u32 = 0x40;
}

/// The machine as the configuration check sees it.
pub trait Env {
    /// The interface with this name, if it exists.
    fn interface(&self, name: &str) -> Option<InterfaceInfo>;
    /// uid and primary gid of a user.
    fn user(&self, name: &str) -> Option<(u32, u32)>;
    /// gid of a group.
    fn group(&self, name: &str) -> Option<u32>;
    /// uid and gid keepalived runs as.
    fn our_ids(&self) -> (u32, u32);
    /// The node name (keepalived's default config-id is its first label).
    fn hostname(&self) -> String;
    /// `check_script_secure` for a program run as `uid:gid` (see [`check_script`]).
    fn script_flags(&self, program: &str, uid: u32, gid: u32, script_security: bool) -> u32 {
        let (our_uid, _) = self.our_ids();
        let path = std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin".to_string());
        check_script(program, uid, gid, our_uid, script_security, &path)
    }
}

/// The real machine.
#[derive(Debug, Clone, Default)]
pub struct SystemEnv;

fn read_trim(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn parse_colon_db(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

impl Env for SystemEnv {
    fn interface(&self, name: &str) -> Option<InterfaceInfo> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.len() >= 16
        {
            return None;
        }
        let dir = PathBuf::from("/sys/class/net").join(name);
        let ifindex: u32 = read_trim(dir.join("ifindex"))?.parse().ok()?;
        let ty: u32 = read_trim(dir.join("type"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let flags = read_trim(dir.join("flags"))
            .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        let mtu = read_trim(dir.join("mtu"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(1500);
        Some(InterfaceInfo {
            ifindex,
            loopback: ty == 772,
            ethernet: ty == 1,
            multicast: flags & 0x1000 != 0,
            mtu,
        })
    }

    fn user(&self, name: &str) -> Option<(u32, u32)> {
        parse_colon_db("/etc/passwd")
            .into_iter()
            .find(|f| f.first().is_some_and(|n| n == name))
            .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
    }

    fn group(&self, name: &str) -> Option<u32> {
        parse_colon_db("/etc/group")
            .into_iter()
            .find(|f| f.first().is_some_and(|n| n == name))
            .and_then(|f| f.get(2)?.parse().ok())
    }

    fn our_ids(&self) -> (u32, u32) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("Uid:"), field("Gid:"))
    }

    fn hostname(&self) -> String {
        read_trim("/proc/sys/kernel/hostname").unwrap_or_default()
    }
}

/// A fixed machine description: interfaces, users and groups given up front; scripts are still
/// checked on the real file system.
#[derive(Debug, Clone, Default)]
pub struct StaticEnv {
    /// Interfaces by name.
    pub interfaces: HashMap<String, InterfaceInfo>,
    /// Users: name → (uid, gid).
    pub users: HashMap<String, (u32, u32)>,
    /// Groups: name → gid.
    pub groups: HashMap<String, u32>,
    /// Our uid and gid.
    pub ids: (u32, u32),
    /// Node name.
    pub hostname: String,
}

impl StaticEnv {
    /// `lo` plus Ethernet interfaces with these names, user and group `root`, running as root,
    /// node name `lvs1`.
    pub fn with_interfaces(names: &[&str]) -> Self {
        let mut interfaces = HashMap::new();
        interfaces.insert("lo".to_string(), InterfaceInfo::loopback(1));
        for (i, n) in names.iter().enumerate() {
            interfaces.insert(n.to_string(), InterfaceInfo::ethernet(i as u32 + 2));
        }
        let mut users = HashMap::new();
        users.insert("root".to_string(), (0, 0));
        let mut groups = HashMap::new();
        groups.insert("root".to_string(), 0);
        Self {
            interfaces,
            users,
            groups,
            ids: (0, 0),
            hostname: "lvs1".to_string(),
        }
    }
}

impl Env for StaticEnv {
    fn interface(&self, name: &str) -> Option<InterfaceInfo> {
        self.interfaces.get(name).cloned()
    }
    fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.users.get(name).copied()
    }
    fn group(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }
    fn our_ids(&self) -> (u32, u32) {
        self.ids
    }
    fn hostname(&self) -> String {
        self.hostname.clone()
    }
}

fn is_executable(meta: &std::fs::Metadata, uid: u32, gid: u32) -> bool {
    let mode = meta.permissions().mode();
    (uid == 0 && mode & 0o111 != 0)
        || (uid == meta.uid() && mode & 0o100 != 0)
        || (uid != meta.uid()
            && ((gid == meta.gid() && mode & 0o010 != 0)
                || (gid != meta.gid() && mode & 0o001 != 0)))
}

/// keepalived's `check_security`: every component of the path must be owned by root and not
/// writable by group (unless the group is root) or others; directories with the sticky bit are
/// exempt from the write test.
fn check_security(path: &Path, script_security: bool) -> u32 {
    let mut cur = PathBuf::new();
    let comps: Vec<_> = path.components().collect();
    for (i, c) in comps.iter().enumerate() {
        cur.push(c);
        let last = i + 1 == comps.len();
        let Ok(meta) = std::fs::symlink_metadata(&cur) else {
            return sc::NOTFOUND;
        };
        let ft = meta.file_type();
        if (!last && !ft.is_dir()) || (last && !ft.is_file() && !ft.is_symlink()) {
            return sc::INHIBIT;
        }
        let mode = meta.permissions().mode();
        let sticky_dir = ft.is_dir() && mode & 0o1000 != 0;
        let writable_check = (ft.is_dir() && !sticky_dir) || ft.is_file();
        if meta.uid() != 0
            || (writable_check && ((meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0))
        {
            return sc::INSECURE | if script_security { sc::INHIBIT } else { 0 };
        }
    }
    0
}

/// `check_script_secure` of lib/notify.c for a program run as `uid:gid` by a keepalived
/// running as `our_uid`, with `PATH` `path_env` for bare names.
pub fn check_script(
    program: &str,
    uid: u32,
    gid: u32,
    our_uid: u32,
    script_security: bool,
    path_env: &str,
) -> u32 {
    // keepalived switches to the script's uid for the look-up; the result only differs for
    // files our uid cannot see, which the checks below treat as not found.
    let _ = our_uid;
    let trimmed = program
        .strip_prefix('<')
        .map(|r| r.trim_start_matches([' ', '\t']));
    if trimmed.is_some_and(|r| r.starts_with('/')) {
        return sc::SYSTEM;
    }
    let mut prog = PathBuf::from(program);
    if !program.contains('/') {
        if program.is_empty() {
            return sc::NOTFOUND;
        }
        let found = path_env
            .split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(program))
            .find(|p| {
                std::fs::metadata(p).is_ok_and(|m| m.is_file() && is_executable(&m, uid, gid))
            });
        match found {
            Some(p) => prog = p,
            None => return sc::NOTFOUND,
        }
    }
    let Ok(real) = std::fs::canonicalize(&prog) else {
        return sc::NOTFOUND;
    };
    // keepalived keeps the file name it was given when the resolved file has another name
    // (some programs behave by the name they are called by) and checks both paths.
    let orig_name = prog.file_name().map(|n| n.to_os_string());
    let mut checked = real.clone();
    let mut real_file: Option<PathBuf> = None;
    if real.file_name().map(|n| n.to_os_string()) != orig_name
        && let (Some(dir), Some(name)) = (real.parent(), orig_name.as_ref())
    {
        let candidate = dir.join(name);
        let same = match (std::fs::metadata(&real), std::fs::metadata(&candidate)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            (Err(_), _) => true,
            _ => false,
        };
        if same {
            checked = candidate;
            real_file = Some(real.clone());
        }
    }
    let Ok(meta) = std::fs::metadata(real_file.as_ref().unwrap_or(&checked)) else {
        return sc::NOTFOUND;
    };
    let mut flags = sc::ISSCRIPT;
    let mut need_protection = false;
    if is_executable(&meta, uid, gid) {
        flags |= sc::EXECUTABLE;
        let mode = meta.permissions().mode();
        if uid == 0
            || gid == 0
            || (meta.uid() == 0 && mode & 0o100 != 0 && mode & 0o4000 != 0)
            || (meta.gid() == 0 && mode & 0o010 != 0 && mode & 0o2000 != 0)
        {
            need_protection = true;
        }
    }
    if !need_protection {
        return flags;
    }
    flags |= check_security(&checked, script_security);
    if let Some(r) = real_file {
        flags |= check_security(&r, script_security);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_scripts() {
        // /bin/sh is root-owned and executable on every Debian machine.
        let f = check_script("/bin/sh", 0, 0, 0, true, "/bin");
        assert_eq!(f & sc::ISSCRIPT, sc::ISSCRIPT);
        assert_eq!(f & sc::EXECUTABLE, sc::EXECUTABLE);
        assert_eq!(f & sc::INHIBIT, 0);
        assert_eq!(
            check_script("/nonexistent/x", 0, 0, 0, true, "/bin"),
            sc::NOTFOUND
        );
        assert_eq!(
            check_script("</etc/hostname", 0, 0, 0, true, "/bin"),
            sc::SYSTEM
        );
        let f = check_script("sh", 0, 0, 0, false, "/nonexistent:/bin");
        assert_eq!(f & sc::ISSCRIPT, sc::ISSCRIPT);
        assert_eq!(
            check_script("no-such-program-here", 0, 0, 0, false, "/bin"),
            sc::NOTFOUND
        );
    }

    #[test]
    fn loopback_exists() {
        let lo = SystemEnv.interface("lo").expect("lo");
        assert!(lo.loopback);
        assert!(SystemEnv.interface("../x").is_none());
    }
}
