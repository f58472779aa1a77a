//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Lblcr;
impl Lblcr {
    /// PLACEHOLDER
    pub fn new(_: &SchedParams) -> Self { Lblcr }
}
impl Scheduler for Lblcr {
    fn name(&self) -> &'static str { "lblcr" }
    fn schedule(&mut self, _: &DestList<'_>, _: &SchedService, _: &PacketInfo, _: Time) -> Option<DestId> { unimplemented!("placeholder") }
}
