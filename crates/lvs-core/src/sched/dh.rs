//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Dh;
impl Dh {
    /// PLACEHOLDER
    pub fn new() -> Self { Dh }
}
impl Scheduler for Dh {
    fn name(&self) -> &'static str { "dh" }
    fn schedule(&mut self, _: &DestList<'_>, _: &SchedService, _: &PacketInfo, _: Time) -> Option<DestId> { unimplemented!("placeholder") }
}
