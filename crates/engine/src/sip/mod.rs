//! The SIP edge: what answers the network outside a call's own dialogs.
//! The two profiles' dispatchers ([`profile`]) take every request: REGISTER
//! into the registrar, SUBSCRIBE for message waiting ([`mwi`]), INVITE
//! (authenticated, checked against the voice lists) into a new call, an
//! in-dialog request to the call owning the dialog. Also the
//! password-guessing guard ([`auth_guard`]), the trunk access list,
//! blacklist and number pool ([`voice_lists`]), keep-alive pings to
//! registered phones ([`keepalive`]), and the gateways' registration
//! client ([`trunk_client`]: REGISTER and OPTIONS towards carriers), and
//! the certificates of SIP over TLS ([`tls`]).
//!
//! May use: the base layer and calls. It sits above calls because it
//! starts them and hands them their requests; calls need only the tables it
//! fills, which are in the base layer (registrar, directory) or in calls
//! (the dialog table). Its own state is [`Edge`], not in `Ctx`.

pub mod auth_guard;
pub mod keepalive;
pub mod mwi;
pub mod profile;
pub mod tls;
pub mod trunk_client;
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
