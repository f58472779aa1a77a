//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Fo;
impl Fo {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Fo
    }
}
impl Scheduler for Fo {
    fn name(&self) -> &'static str {
        "fo"
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
