//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Twos;
impl Twos {
    /// PLACEHOLDER
    pub fn new(_: &SchedParams) -> Self {
        Twos
    }
}
impl Scheduler for Twos {
    fn name(&self) -> &'static str {
        "twos"
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
