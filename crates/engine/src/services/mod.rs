//! Services: the long-lived parts of the call center that are not one
//! call. The queue service ([`queues`]: the task owning the ACD, and
//! [`queues_store`], its records, with the agents' work-state log
//! [`agent_states`]), the settings service that changes the
//! call-center settings live ([`callcenter_settings`]), the media library
//! of uploaded sounds ([`media_library`]), and click-to-dial
//! ([`click_to_dial`]).
//!
//! May use: base, calls and the SIP edge. Services reach calls through
//! the call-control API and the calls layer's ports: the queue service
//! commands its callers' calls and implements `QueueReports`, the media
//! library implements `SoundLibrary`. Their state is not in `Ctx`: the
//! server holds the queue service and the media library, and the layers
//! above reach them through its handles (`Engine::queues`,
//! `Engine::settings`, `Engine::media_library`).

pub mod agent_states;
pub mod callcenter_settings;
pub mod click_to_dial;
pub mod media_library;
pub mod queues;
pub mod queues_store;
