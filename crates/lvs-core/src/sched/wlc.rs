//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Wlc;
impl Wlc {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Wlc
    }
}
impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
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
