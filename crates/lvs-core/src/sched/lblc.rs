//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Lblc;
impl Lblc {
    /// PLACEHOLDER
    pub fn new(_: &SchedParams) -> Self { Lblc }
}
impl Scheduler for Lblc {
    fn name(&self) -> &'static str { "lblc" }
    fn schedule(&mut self, _: &DestList<'_>, _: &SchedService, _: &PacketInfo, _: Time) -> Option<DestId> { unimplemented!("placeholder") }
}
