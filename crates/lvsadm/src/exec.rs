//! Carrying out a parsed [`Command`] against lvsd's control API, printing what ipvsadm
//! prints and returning ipvsadm's exit status.

use std::io::Write;

use lvs_api::client::{Client, ClientError};
use lvs_api::{ErrorKind, ServiceInfo};

use crate::cli::{Command, DaemonConfig, DaemonState, ListWhat};
use crate::error::{CliError, Operation, daemon_error};
use crate::format::{self, Format};
use crate::resolve::Resolver;

/// What went wrong talking to lvsd, as ipvsadm would report it.
fn api_error(op: Operation, e: ClientError) -> CliError {
    match e {
        ClientError::Api(a) => daemon_error(op, a.kind, &a.message),
        ClientError::Connect { path, source } => {
            CliError::Init(format!("cannot reach lvsd at {}: {source}", path.display()))
        }
        other => daemon_error(op, ErrorKind::Internal, &other.to_string()),
    }
}

fn find<'a>(services: &'a [ServiceInfo], key: &lvs_api::ServiceKey) -> Option<&'a ServiceInfo> {
    services.iter().find(|s| &s.spec.key == key)
}

/// Carry out `cmd` (not `-h`, `-v` or `-R`, which need no daemon) and write its output.
pub fn execute(
    cmd: &Command,
    client: &Client,
    resolver: &dyn Resolver,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Kernel(format!("writing output: {e}"));
    match cmd {
        Command::AddService(s) => client
            .add_service(s)
            .map_err(|e| api_error(Operation::AddService, e)),
        Command::EditService(s) => client
            .edit_service(s)
            .map_err(|e| api_error(Operation::EditService, e)),
        Command::DeleteService(k) => client
            .del_service(k)
            .map_err(|e| api_error(Operation::DeleteService, e)),
        Command::Clear => client.clear().map_err(|e| api_error(Operation::Clear, e)),
        Command::AddDest(r) => client
            .add_dest(r)
            .map_err(|e| api_error(Operation::AddDest, e)),
        Command::EditDest(r) => client
            .edit_dest(r)
            .map_err(|e| api_error(Operation::EditDest, e)),
        Command::DeleteDest(r) => client
            .del_dest(r)
            .map_err(|e| api_error(Operation::DeleteDest, e)),
        Command::Zero(r) => client
            .zero(r.service)
            .map_err(|e| api_error(Operation::Zero, e)),
        Command::SetTimeouts(t) => client
            .set_timeouts(t)
            .map_err(|e| api_error(Operation::SetTimeouts, e)),
        Command::StartDaemon(c) => client
            .start_sync_daemon(&daemon_spec(c))
            .map_err(|e| api_error(Operation::StartDaemon, e)),
        // The kernel ignores the syncid of a stop request; so does lvsd.
        Command::StopDaemon(s) => client
            .stop_sync_daemon(role(s.state))
            .map_err(|e| api_error(Operation::StopDaemon, e)),
        Command::Save(format) => {
            let services = client
                .services()
                .map_err(|e| api_error(Operation::List, e))?;
            let text = format::save(&services, format.numeric, resolver);
            out.write_all(text.as_bytes()).map_err(io)
        }
        Command::List(req) => list(&req.what, &req.format, client, resolver, out),
        Command::AddLaddr(r) => client
            .add_laddr(r)
            .map_err(|e| api_error(Operation::Laddr, e)),
        Command::DeleteLaddr(r) => client
            .del_laddr(r)
            .map_err(|e| api_error(Operation::Laddr, e)),
        Command::GetLaddr { service, format } => {
            let l = client
                .laddrs(service)
                .map_err(|e| api_error(Operation::Laddr, e))?;
            let text = format::list_laddrs(service, &l, format, resolver);
            out.write_all(text.as_bytes()).map_err(io)
        }
        Command::Help { .. } | Command::Version | Command::Restore => Ok(()),
    }
}

fn role(s: DaemonState) -> lvs_api::SyncRole {
    match s {
        DaemonState::Master => lvs_api::SyncRole::Master,
        DaemonState::Backup => lvs_api::SyncRole::Backup,
    }
}

/// `--start-daemon` as the API takes it (0 / None: lvsd applies the kernel's defaults).
pub fn daemon_spec(c: &DaemonConfig) -> lvs_api::SyncDaemonSpec {
    lvs_api::SyncDaemonSpec {
        role: role(c.state),
        mcast_ifn: c.mcast_ifn.clone(),
        syncid: c.syncid,
        sync_maxlen: c.sync_maxlen,
        mcast_group: c.mcast_group,
        mcast_port: c.mcast_port,
        mcast_ttl: c.mcast_ttl,
    }
}

/// A running daemon as `-L --daemon` prints it (every field: lvsd reports its effective
/// settings, as recent kernels do).
pub fn daemon_info(i: &lvs_api::SyncDaemonInfo) -> format::DaemonInfo {
    format::DaemonInfo {
        state: match i.role {
            lvs_api::SyncRole::Master => DaemonState::Master,
            lvs_api::SyncRole::Backup => DaemonState::Backup,
        },
        mcast_ifn: i.mcast_ifn.clone(),
        syncid: i.syncid,
        sync_maxlen: i.sync_maxlen,
        mcast_group: Some(i.mcast_group),
        mcast_port: i.mcast_port,
        mcast_ttl: i.mcast_ttl,
    }
}

fn list(
    what: &ListWhat,
    format: &Format,
    client: &Client,
    resolver: &dyn Resolver,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Kernel(format!("writing output: {e}"));
    let text = match what {
        ListWhat::All => {
            let info = client.info().map_err(|e| api_error(Operation::List, e))?;
            let services = client
                .services()
                .map_err(|e| api_error(Operation::List, e))?;
            format::list_all(&info, &services, format, resolver)
        }
        ListWhat::Service(key) => {
            let services = client
                .services()
                .map_err(|e| api_error(Operation::List, e))?;
            let svc = find(&services, key)
                .ok_or_else(|| daemon_error(Operation::List, ErrorKind::NoSuchService, ""))?;
            format::list_service(svc, format, resolver)
        }
        ListWhat::Connections => {
            let conns = client.conns().map_err(|e| api_error(Operation::List, e))?;
            format::list_conns(&conns, format, resolver)
        }
        ListWhat::Timeout => {
            let t = client
                .timeouts()
                .map_err(|e| api_error(Operation::List, e))?;
            format::list_timeout(&t)
        }
        ListWhat::Daemon => {
            let d = client
                .sync_daemons()
                .map_err(|e| api_error(Operation::List, e))?;
            let d: Vec<format::DaemonInfo> = d.iter().map(daemon_info).collect();
            format::list_daemons(&d)
        }
    };
    out.write_all(text.as_bytes()).map_err(io)
}
