//! Errors of the IPVS model, one variant per kernel error kind that ipvsadm distinguishes
//! (`ipvs_strerror` in libipvs, reference §1.5).

use thiserror::Error;

/// Why a configuration operation was refused. Nothing is changed when one is returned.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IpvsError {
    /// `-A` of a service that exists (EEXIST).
    #[error("Service already exists")]
    ServiceExists,
    /// `-E`/`-D`/`-Z` of a service that does not exist (ESRCH).
    #[error("No such service")]
    NoSuchService,
    /// A real-server operation on a service that does not exist (ESRCH on dest ops).
    #[error("Service not defined")]
    ServiceNotDefined,
    /// `-a` of a real server that exists (EEXIST).
    #[error("Destination already exists")]
    DestExists,
    /// `-e`/`-d` of a real server that does not exist (ENOENT).
    #[error("No such destination")]
    NoSuchDest,
    /// Unknown scheduler or persistence engine (ENOENT).
    #[error("Scheduler or persistence engine not found")]
    SchedulerNotFound,
    /// A value outside its range (ERANGE): negative weight, l_threshold > u_threshold.
    #[error("{what} out of range")]
    OutOfRange {
        /// Which value.
        what: &'static str,
    },
    /// An operation the kernel rejects with EINVAL.
    #[error("Invalid operation: {reason}")]
    Invalid {
        /// What was wrong.
        reason: &'static str,
    },
    /// The scheduler refused the service or destination set.
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// A FULLNAT local-address operation failed.
    #[error(transparent)]
    Laddr(#[from] LaddrError),
}

/// A scheduler refused to bind to a service or to accept a destination.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SchedError {
    /// More destinations than the scheduler's table can hold (mh: more than its prime M).
    #[error("too many destinations for the {sched} scheduler (at most {max})")]
    TooManyDests {
        /// Scheduler name.
        sched: &'static str,
        /// The limit.
        max: usize,
    },
}

/// FULLNAT local address pool errors.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LaddrError {
    /// The local address is already in the service's pool.
    #[error("local address already exists")]
    Exists,
    /// The local address is not in the service's pool.
    #[error("no such local address")]
    NotFound,
    /// The service has no local address of the needed family.
    #[error("no local address configured for the service")]
    Empty,
    /// Every (laddr, lport) pair to this real server is in use.
    #[error("local ports exhausted")]
    Exhausted,
    /// The local address family does not match the real server's.
    #[error("local address family does not match the real server")]
    FamilyMismatch,
}
