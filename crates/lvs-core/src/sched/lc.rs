//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Lc;
impl Lc {
    /// PLACEHOLDER
    pub fn new() -> Self {
        Lc
    }
}
impl Scheduler for Lc {
    fn name(&self) -> &'static str {
        "lc"
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
