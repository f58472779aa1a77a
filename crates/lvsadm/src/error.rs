//! Errors with ipvsadm's exact text and exit status, and ipvsadm's wording of the
//! daemon's (kernel's) errors.

use lvs_api::ErrorKind;
use thiserror::Error;

/// Why a command line was refused. [`CliError::stderr_text`] is exactly what ipvsadm
/// prints on standard error and [`CliError::exit_code`] its exit status.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CliError {
    /// `tryhelp_exit()`: the command line does not start with a command, or `-R` was used
    /// while restoring. Exit 255.
    #[error("Try `{program} -h' or '{program} --help' for more information.")]
    TryHelp {
        /// `argv[0]`.
        program: String,
    },
    /// `fail(2, ...)`: a semantic error found while or after parsing. Exit 2. The message
    /// is printed followed by a newline (some ipvsadm messages end in a newline of their
    /// own, which is then kept).
    #[error("{0}")]
    Fail(String),
    /// A popt error after the command (`"%s: %s\n"`, bad option then popt's reason).
    /// Exit 255; in `-R` it does not stop the restore.
    #[error("{option}: {reason}")]
    Popt {
        /// The offending argument as given (`poptBadOption`).
        option: String,
        /// popt's reason (`poptStrerror`).
        reason: String,
    },
    /// An error reported by the daemon (ipvsadm: by the kernel), already worded as
    /// ipvsadm words it. Exit 255 for commands; listings exit 1 (see [`CliError::List`]).
    #[error("{0}")]
    Kernel(String),
    /// A listing that could not be fetched (`-L -t` of a missing service...): ipvsadm
    /// prints the message and exits 1.
    #[error("{0}")]
    List(String),
    /// `ipvs_init()` failed (here: the daemon could not be reached). Exit 2.
    #[error(
        "Can't initialize ipvs: {0}\nAre you sure that IP Virtual Server is built in the kernel or as module?"
    )]
    Init(String),
}

impl CliError {
    /// The process exit status ipvsadm uses for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::TryHelp { .. } | CliError::Popt { .. } | CliError::Kernel(_) => 255,
            CliError::Fail(_) | CliError::Init(_) => 2,
            CliError::List(_) => 1,
        }
    }

    /// Exactly what is written to standard error (with the final newline).
    pub fn stderr_text(&self) -> String {
        format!("{self}\n")
    }

    /// Whether this error ends a `-R` run at once (ipvsadm calls `exit()` for it) rather
    /// than only setting the line's status and going on with the next line.
    pub fn aborts_restore(&self) -> bool {
        matches!(
            self,
            CliError::TryHelp { .. } | CliError::Fail(_) | CliError::Init(_) | CliError::List(_)
        )
    }

    pub(crate) fn fail(msg: impl Into<String>) -> CliError {
        CliError::Fail(msg.into())
    }
}

/// The operation a daemon error answers, where ipvsadm's wording depends on it
/// (`ipvs_strerror` looks messages up by function and errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `-A`.
    AddService,
    /// `-E`.
    EditService,
    /// `-D`.
    DeleteService,
    /// `-C`.
    Clear,
    /// `-Z`.
    Zero,
    /// `-a`.
    AddDest,
    /// `-e`.
    EditDest,
    /// `-d`.
    DeleteDest,
    /// `--set`.
    SetTimeouts,
    /// `--start-daemon`.
    StartDaemon,
    /// `--stop-daemon`.
    StopDaemon,
    /// Any listing.
    List,
    /// FULLNAT local-address commands (extension).
    Laddr,
}

/// ipvsadm's message (`ipvs_strerror`) for a daemon error of `kind` answering `op`.
/// `detail` is the daemon's own text, used where ipvsadm would print `strerror(errno)` of
/// an errno it has no message for.
pub fn ipvs_strerror(op: Operation, kind: ErrorKind, detail: &str) -> String {
    use ErrorKind as K;
    use Operation as O;
    let s = match (op, kind) {
        (O::AddService, K::ServiceExists) => "Service already exists",
        (O::StartDaemon, K::ServiceExists) => "Daemon has already run",
        (O::StopDaemon, K::NoSuchService) => "No daemon is running",
        (_, K::SchedulerNotFound) => "Scheduler or persistence engine not found",
        (O::AddDest | O::EditDest | O::DeleteDest, K::NoSuchService | K::ServiceNotDefined) => {
            "Service not defined"
        }
        (_, K::NoSuchService | K::ServiceNotDefined) => "No such service",
        (_, K::DestExists) => "Destination already exists",
        (_, K::NoSuchDest) => "No such destination",
        (_, K::Invalid) => {
            "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        }
        // ERANGE has no entry in ipvs_strerror's table: strerror(ERANGE).
        (_, K::OutOfRange) => "Numerical result out of range",
        (_, K::ServiceExists) => "File exists",
        (_, K::Laddr | K::BadRequest | K::Internal | K::Unauthorized) => {
            return detail.to_string();
        }
    };
    s.to_string()
}

/// The daemon's error as the [`CliError`] ipvsadm would end with: [`CliError::Kernel`]
/// (exit 255) for commands, [`CliError::List`] (exit 1) for listings.
pub fn daemon_error(op: Operation, kind: ErrorKind, detail: &str) -> CliError {
    let msg = ipvs_strerror(op, kind, detail);
    if op == Operation::List {
        CliError::List(msg)
    } else {
        CliError::Kernel(msg)
    }
}
