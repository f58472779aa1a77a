//! `vrrp_sync_group`, sans-IO, as keepalived 2.2.7 runs it (`vrrp_sync.c`: `vrrp_sync_fault`,
//! `vrrp_sync_backup`, `vrrp_sync_master`, `vrrp_sync_can_goto_master`; the transition
//! table `VRRP_TSM` of `vrrp_scheduler.c`; `down_instance` / `try_up_instance`;
//! `send_group_notifies` of `vrrp_notify.c`).
//!
//! A [`SyncGroup`] coordinates the [`Instance`]s of one group. The driver feeds a member's
//! inputs through [`SyncGroup::handle`] instead of [`Instance::handle`]; the group sets the
//! member's [`SyncGate`] first, then looks at what the member did and forces the other
//! members to follow:
//!
//! - a member goes down (its tracked interface, weight-0 script or own interface): the whole
//!   group enters FAULT (masters resign with priority 0 and drop their VIPs);
//! - members leave FAULT together, when no member is down any more: all go BACKUP;
//! - a MASTER member goes BACKUP (a better master is heard): all members go BACKUP;
//! - a BACKUP member whose master-down timer runs out becomes MASTER only when every other
//!   member wants MASTER too (each one's own timer ran out) or the group is already MASTER;
//!   then all members become MASTER together.
//!
//! Each group state change runs the group's notify scripts: the state's own
//! (`notify_master` ...) and `notify` with `GROUP <name> <STATE> 0` appended (keepalived
//! passes priority 0 for a group).

use super::instance::{Action, Input, Instance, State, SyncGate, Time};

/// The notify scripts of a sync group: an instance's [`super::instance::Notify`], whose
/// `generic` runs with `GROUP <name> <MASTER|BACKUP|FAULT|STOP> 0` appended;
/// `master_rx_lower_pri` has no group form and stays `None`.
pub type GroupNotify = super::instance::Notify;

/// A `vrrp_sync_group` block as the coordinator needs it. The group's `track_interface` /
/// `track_script` entries are not here: keepalived adds them to every member's own
/// tracking, and so does the configuration mapping (the members' [`super::InstanceConfig`]s
/// carry them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncGroupConfig {
    /// `vrrp_sync_group NAME`.
    pub name: String,
    /// `group { }`: the member instances' names.
    pub members: Vec<String>,
    /// Notify scripts.
    pub notify: GroupNotify,
}

/// Something the driver must do: an action of one member, or of the group itself (a notify
/// script or a log line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// An action of the member with this index (the index the driver gave
    /// [`SyncGroup::new`]).
    Member(usize, Action),
    /// [`Action::RunScript`] or [`Action::Log`] of the group.
    Group(Action),
}

/// Access to the member instances by index: the driver's table of instances (tests use a
/// plain slice of [`Instance`]s).
pub trait Members {
    /// The instance at `idx`.
    fn member(&mut self, idx: usize) -> &mut Instance;
}

impl Members for [Instance] {
    fn member(&mut self, idx: usize) -> &mut Instance {
        &mut self[idx]
    }
}

/// The coordinator of one sync group.
#[derive(Clone, Debug)]
pub struct SyncGroup {
    cfg: SyncGroupConfig,
    /// Indexes of the members in the driver's table.
    members: Vec<usize>,
    state: State,
}

impl SyncGroup {
    /// A group in INIT whose members are at `members` (indexes into the [`Members`]
    /// the other calls are given).
    pub fn new(cfg: SyncGroupConfig, members: Vec<usize>) -> SyncGroup {
        SyncGroup {
            cfg,
            members,
            state: State::Init,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The group's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the instance at `idx` is a member.
    pub fn has_member(&self, idx: usize) -> bool {
        self.members.contains(&idx)
    }

    /// The indexes of the members.
    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// Start the group and its members (keepalived's `vrrp_init_state` with the sync group
    /// state of `vrrp_sync_set_group` / `initialise_tracking_priorities`). Feed each
    /// member's initial [`Input::Link`] / [`Input::Track`] states to the instances
    /// directly first, then call this instead of [`Input::Start`].
    ///
    /// The group starts in FAULT when a member is down (every member enters FAULT), in
    /// MASTER when every member is `state MASTER` with priority 255 (they go master at
    /// once, without a group notify, as keepalived), else in BACKUP (its notifies run
    /// before the members start, as keepalived's).
    pub fn start(&mut self, now: Time, set: &mut (impl Members + ?Sized)) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state != State::Init {
            return out;
        }
        let any_down = self.members.iter().any(|&m| set.member(m).own_fault());
        let all_owners = self.members.iter().all(|&m| {
            let i = set.member(m);
            i.want() == State::Master && i.effective_priority() == super::instance::PRIO_OWNER
        });
        self.state = if any_down {
            State::Fault
        } else if all_owners {
            State::Master
        } else {
            State::Backup
        };
        if self.state == State::Backup {
            self.notify(&mut out);
        }
        for &m in &self.members.clone() {
            self.prime(set, m);
            let acts = set.member(m).handle(now, Input::Start);
            out.extend(acts.into_iter().map(|a| Output::Member(m, a)));
        }
        if self.state == State::Fault {
            self.log(
                &mut out,
                format!(
                    "VRRP_Group({}) Syncing instances to FAULT state",
                    self.cfg.name
                ),
            );
            self.notify(&mut out);
        }
        out
    }

    /// Feed `input` to member `idx`, then make the others follow what it did.
    pub fn handle(
        &mut self,
        now: Time,
        set: &mut (impl Members + ?Sized),
        idx: usize,
        input: Input<'_>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.has_member(idx) {
            return out;
        }
        if matches!(input, Input::Start) {
            // Members start with the group ([`SyncGroup::start`]).
            return out;
        }
        let (prev, prev_down) = {
            let i = set.member(idx);
            (i.state(), i.own_fault())
        };
        self.prime(set, idx);
        let acts = set.member(idx).handle(now, input);
        out.extend(acts.into_iter().map(|a| Output::Member(idx, a)));
        let (cur, down) = {
            let i = set.member(idx);
            (i.state(), i.own_fault())
        };
        if matches!(cur, State::Init | State::Stop) || self.state == State::Stop {
            return out;
        }
        if !prev_down && down {
            // `down_instance`: the first member down takes the group to FAULT.
            let others_down = self
                .members
                .iter()
                .any(|&m| m != idx && set.member(m).own_fault());
            if !others_down {
                self.sync_fault(set, idx, &mut out);
            }
        } else if prev_down && !down {
            // `try_up_instance`: the last member up takes the group out of FAULT.
            match cur {
                State::Master => self.sync_master(now, set, idx, &mut out),
                State::Backup => self.sync_backup(now, set, idx, &mut out),
                _ => {}
            }
        } else {
            // keepalived's transition table: B->M, M->M, F->M sync to MASTER, M->B to
            // BACKUP.
            match (prev, cur) {
                (State::Backup | State::Master | State::Fault, State::Master) => {
                    self.sync_master(now, set, idx, &mut out)
                }
                (State::Master, State::Backup) => self.sync_backup(now, set, idx, &mut out),
                _ => {}
            }
        }
        out
    }

    /// Shutdown: every member stops (masters resign with priority 0), then the group's
    /// STOP notifies run (keepalived's `notify_shutdown`).
    pub fn shutdown(&mut self, now: Time, set: &mut (impl Members + ?Sized)) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state == State::Stop {
            return out;
        }
        for &m in &self.members {
            let acts = set.member(m).handle(now, Input::Shutdown);
            out.extend(acts.into_iter().map(|a| Output::Member(m, a)));
        }
        self.state = State::Stop;
        self.notify(&mut out);
        out
    }

    /// Set member `idx`'s gate from the group's state and the other members.
    fn prime(&self, set: &mut (impl Members + ?Sized), idx: usize) {
        let mut others_want_master = true;
        let mut others_down = false;
        for &m in &self.members {
            if m == idx {
                continue;
            }
            let i = set.member(m);
            others_want_master &= i.want() == State::Master;
            others_down |= i.own_fault();
        }
        set.member(idx).set_sync_gate(SyncGate {
            may_master: self.state == State::Master || others_want_master,
            hold_fault: others_down,
        });
    }

    /// `vrrp_sync_fault`.
    fn sync_fault(
        &mut self,
        set: &mut (impl Members + ?Sized),
        from: usize,
        out: &mut Vec<Output>,
    ) {
        if self.state == State::Fault {
            return;
        }
        self.log(
            out,
            format!(
                "VRRP_Group({}) Syncing instances to FAULT state",
                self.cfg.name
            ),
        );
        for &m in &self.members.clone() {
            if m == from || set.member(m).state() == State::Fault {
                continue;
            }
            self.prime(set, m);
            let acts = set.member(m).force_fault();
            out.extend(acts.into_iter().map(|a| Output::Member(m, a)));
        }
        self.state = State::Fault;
        self.notify(out);
    }

    /// `vrrp_sync_backup`.
    fn sync_backup(
        &mut self,
        now: Time,
        set: &mut (impl Members + ?Sized),
        from: usize,
        out: &mut Vec<Output>,
    ) {
        if self.state == State::Backup {
            return;
        }
        self.log(
            out,
            format!(
                "VRRP_Group({}) Syncing instances to BACKUP state",
                self.cfg.name
            ),
        );
        for &m in &self.members.clone() {
            if m == from || set.member(m).state() == State::Backup {
                continue;
            }
            self.prime(set, m);
            let acts = set.member(m).force_backup(now);
            out.extend(acts.into_iter().map(|a| Output::Member(m, a)));
        }
        self.state = State::Backup;
        self.notify(out);
    }

    /// `vrrp_sync_master` (with `vrrp_sync_can_goto_master`).
    fn sync_master(
        &mut self,
        now: Time,
        set: &mut (impl Members + ?Sized),
        from: usize,
        out: &mut Vec<Output>,
    ) {
        if self.state == State::Master {
            return;
        }
        let others_want_master = self
            .members
            .iter()
            .all(|&m| m == from || set.member(m).want() == State::Master);
        if !others_want_master {
            return;
        }
        self.log(
            out,
            format!(
                "VRRP_Group({}) Syncing instances to MASTER state",
                self.cfg.name
            ),
        );
        for &m in &self.members.clone() {
            if m == from || set.member(m).state() == State::Master {
                continue;
            }
            self.prime(set, m);
            let acts = set.member(m).force_master(now);
            out.extend(acts.into_iter().map(|a| Output::Member(m, a)));
        }
        self.state = State::Master;
        self.notify(out);
    }

    fn log(&self, out: &mut Vec<Output>, msg: String) {
        out.push(Output::Group(Action::Log(msg)));
    }

    /// `send_group_notifies`: the state's script, then `notify GROUP <name> <STATE> 0`.
    fn notify(&self, out: &mut Vec<Output>) {
        let n = &self.cfg.notify;
        let script = match self.state {
            State::Master => &n.master,
            State::Backup => &n.backup,
            State::Fault => &n.fault,
            State::Stop => &n.stop,
            State::Init => &None,
        };
        if let Some(argv) = script {
            out.push(Output::Group(Action::RunScript { argv: argv.clone() }));
        }
        if let Some(g) = &n.generic {
            let mut argv = g.clone();
            argv.extend([
                "GROUP".to_string(),
                self.cfg.name.clone(),
                self.state.notify_word().to_string(),
                "0".to_string(),
            ]);
            out.push(Output::Group(Action::RunScript { argv }));
        }
    }
}

/// keepalived's start-up rule for a sync group (`vrrp_complete_init`): unless every member
/// is `state MASTER` with priority 255, members configured `state MASTER` start as BACKUP
/// (a group cannot be half master). Applied to the members' configurations before the
/// instances are made.
pub fn harmonize_initial_states(members: &mut [&mut super::InstanceConfig]) {
    use super::instance::{InitialState, PRIO_OWNER};
    let all_owner_masters = members
        .iter()
        .all(|c| c.initial_state == InitialState::Master && c.priority == PRIO_OWNER);
    if !all_owner_masters {
        for c in members.iter_mut() {
            c.initial_state = InitialState::Backup;
        }
    }
}

#[cfg(test)]
mod tests;
