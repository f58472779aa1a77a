//! PLACEHOLDER: being written.
use super::Conn;
/// Handle of a connection in a [`ConnTable`].
pub type ConnId = u32;
/// PLACEHOLDER
#[derive(Debug, Default)]
pub struct ConnTable { v: Vec<Conn> }
