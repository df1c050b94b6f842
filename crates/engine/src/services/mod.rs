//! Services.

pub mod callcenter_settings;
pub mod click_to_dial;
pub mod media_library;
pub mod queues;
pub mod queues_store;
