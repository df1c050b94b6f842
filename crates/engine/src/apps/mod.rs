//! Applications: what answers calls itself, driving them through the
//! call-control API (`calls::control`): the test extensions (echo,
//! readback, tone), conference rooms, dial-through, queue calls, IVR calls,
//! voicemail, announcements, pickup and eavesdrop; the robot applications
//! later. [`Launcher`] implements the calls layer's `AppLauncher` port,
//! which the server plugs into `Ctx`.
//!
//! May use: every layer below it (base; calls, through the control API and
//! the ports, never the call actors; the SIP edge, for message waiting;
//! services). Nothing below names an application.

mod announce;
mod conference;
mod dial;
mod eavesdrop;
mod echo;
pub mod ivr;
mod ivr_call;
mod originate;
mod pickup;
mod queue;
mod readback;
mod tone;
mod voicemail;

use crate::base::context::Ctx;
use crate::calls::control::CallControl;
pub use crate::calls::ports::App;
use crate::calls::ports::AppLauncher;
use crate::calls::HangupCause;
use crate::sip::Edge;
use std::sync::Arc;

/// Runs `app` on its call until it is done; then hangs up if the caller has not.
pub async fn run(app: App, call: CallControl, ctx: Arc<Ctx>, edge: Arc<Edge>) {
    let result = match &app {
        App::Echo => echo::run(&call).await,
        App::Readback => readback::run(&call).await,
        App::Tone => tone::run(&call, &ctx).await,
        App::Conference => conference::run(&call, &ctx).await,
        App::Dial => dial::run(&call).await,
        App::Queue(q) => queue::run(&call, &ctx, q).await,
        App::Ivr(root) => ivr_call::run(&call, &ctx, root).await,
        App::Voicemail(ext) => voicemail::run(&call, &ctx, &edge, ext).await,
        App::Eavesdrop(ext) => eavesdrop::run(&call, &ctx, ext).await,
        App::Pickup(ext) => pickup::run(&call, &ctx, ext).await,
        App::Announce(prompt) => announce::run(&call, &ctx, prompt).await,
        App::Originate(number) => originate::run(&call, number).await,
        App::Join {
            call: target,
            agent,
            mode,
        } => eavesdrop::join(&call, &ctx, *target, agent, *mode).await,
    };
    match result {
        Ok(()) => call.hangup(HangupCause::NormalClearing),
        Err(crate::calls::control::CallError::HungUp) => {}
        Err(e) => {
            tracing::warn!("call {}: {} application failed: {e}", call.id, app.name());
            call.hangup(HangupCause::NormalTemporaryFailure);
        }
    }
}

/// Runs applications on the calls that route to one: the launcher the
/// server plugs into `Ctx` (see [`AppLauncher`]). It holds what the
/// applications need beyond `Ctx`: the SIP edge, whose message-waiting
/// subscribers voicemail notifies.
pub struct Launcher {
    edge: Arc<Edge>,
}

impl Launcher {
    /// A launcher whose applications use `edge`.
    pub fn new(edge: Arc<Edge>) -> Self {
        Launcher { edge }
    }
}

impl AppLauncher for Launcher {
    fn launch(&self, app: App, call: CallControl, ctx: Arc<Ctx>) {
        tokio::spawn(run(app, call, ctx, Arc::clone(&self.edge)));
    }
}
