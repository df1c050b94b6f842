//! (to be written)
pub mod goertzel;
pub mod info;
pub mod rfc4733;
pub mod tone;
