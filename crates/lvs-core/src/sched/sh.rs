//! PLACEHOLDER: being written.
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct Sh;
impl Sh {
    /// PLACEHOLDER
    pub fn new() -> Self { Sh }
}
impl Scheduler for Sh {
    fn name(&self) -> &'static str { "sh" }
    fn schedule(&mut self, _: &DestList<'_>, _: &SchedService, _: &PacketInfo, _: Time) -> Option<DestId> { unimplemented!("placeholder") }
}
