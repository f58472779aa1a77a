//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Mh;
impl Mh {
    /// PLACEHOLDER
    pub fn new() -> Self { Mh }
}
impl Scheduler for Mh {
    fn name(&self) -> &'static str { "mh" }
    fn schedule(&mut self, _: &DestList<'_>, _: &SchedService, _: &PacketInfo, _: Time) -> Option<DestId> { unimplemented!("placeholder") }
}
