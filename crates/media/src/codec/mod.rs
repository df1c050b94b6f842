//! (to be written)
pub mod g711;
pub mod g722;
