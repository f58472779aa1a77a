//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Ovf;
impl Ovf {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Ovf
    }
}
impl Scheduler for Ovf {
    fn name(&self) -> &'static str {
        "ovf"
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
