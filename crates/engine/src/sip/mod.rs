//! The SIP edge.

pub mod auth_guard;
pub mod keepalive;
pub mod mwi;
pub mod profile;
pub mod voice_lists;

/// The SIP edge's own state, kept here rather than in `Ctx` because no
/// other layer needs it to do its work: the password-guessing guard and
/// the voice lists the dispatchers check, the message-waiting
/// subscriptions, and what the keep-alive pings found. The server holds it
/// and hands it to whoever asks (the admin pages, the voicemail
/// application).
pub struct Edge {
    /// Password-guessing protection.
    pub guard: auth_guard::AuthGuard,
    /// The access list, blacklist and number pool in force.
    pub voice: voice_lists::VoiceLists,
    /// Message-waiting subscriptions.
    pub mwi: mwi::Subscriptions,
    /// What the keep-alive OPTIONS said of each registered contact.
    pub reachability: keepalive::Reachability,
}
