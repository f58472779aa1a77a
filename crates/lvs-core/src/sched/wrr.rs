//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Wrr;
impl Wrr {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Wrr
    }
}
impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
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
