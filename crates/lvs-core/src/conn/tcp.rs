//! PLACEHOLDER: being written.
/// PLACEHOLDER
#[derive(Debug, Clone, Copy)]
pub enum TcpState { /// x
 None }
/// PLACEHOLDER
#[derive(Debug, Clone, Copy)]
pub enum Direction { /// x
 Input }
/// PLACEHOLDER
#[derive(Debug, Clone, Copy)]
pub struct Timeouts;
