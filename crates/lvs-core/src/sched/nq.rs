//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Nq;
impl Nq {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Nq
    }
}
impl Scheduler for Nq {
    fn name(&self) -> &'static str {
        "nq"
    }
    fn schedule(
        &mut self,
        _: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        unimplemented!("placeholder")
    }
}
