//! An application call waiting in a queue: music on hold, the offers the
//! queue service makes (each rings one agent's contacts; under ring-all
//! several agents ring at once), the first agent to answer is connected and
//! the others are cancelled, and every outcome goes back to the service.
//! The actor is the arbiter of "who answered first": its messages are
//! handled one at a time, so two agents answering at the same instant
//! cannot both win.

use super::*;
use crate::calls::control::QueueOutcome;
use crate::calls::ports::QueueReport;
use callcenter::acd::{MemberJoin, OfferOutcome};
use std::collections::HashMap;

/// The token of the agent announcement: when it ends, the two talk.
pub(in crate::calls::actor) const ANNOUNCE_TOKEN: u64 = u64::MAX - 1;

/// One agent being offered the caller.
#[derive(Debug)]
pub(in crate::calls::actor) struct Offering {
    /// When the offer counts as unanswered.
    deadline: Instant,
}

/// The queue side of an application call.
#[derive(Debug, Default)]
pub(in crate::calls::actor) struct QueueState {
    /// The queue the caller is in (or was, once connected).
    pub(in crate::calls::actor) queue: String,
    /// Agents ringing now.
    offers: HashMap<String, Offering>,
    /// The agent talking with the caller, and since when.
    pub(in crate::calls::actor) connected: Option<(String, Instant)>,
    /// The agent asked for the caller to be surveyed.
    survey: bool,
}

/// Maps an agent's final answer to an offer onto the ACD's outcomes.
fn outcome_of(code: u16) -> OfferOutcome {
    match code {
        486 | 600 | 503 => OfferOutcome::Busy,
        603 => OfferOutcome::Rejected,
        404 | 410 | 484 => OfferOutcome::NotRegistered,
        _ => OfferOutcome::NoAnswer,
    }
}

impl Call {
    /// True while the caller waits in a queue (offers may be ringing).
    pub(in crate::calls::actor) fn queue_offering(&self) -> bool {
        matches!(
            self.app.as_ref().and_then(|a| a.queue.as_ref()),
            Some(q) if q.connected.is_none()
        )
    }

    pub(in crate::calls::actor) fn enter_queue(
        &mut self,
        queue: String,
        reply: oneshot::Sender<Result<QueueOutcome, CallError>>,
    ) {
        if self.state != State::Answered {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        let waited = Duration::from_millis(now_ms().saturating_sub(self.start_ms));
        let mut join = MemberJoin::new(&queue, self.id, &self.caller);
        join.already_waited = waited;
        self.ctx.queue_reports.report(QueueReport::Join {
            join,
            call: self.me.clone(),
            call_id: self.a_call_id.clone(),
        });
        self.update_info(|i| i.note = format!("queue {queue}"));
        // A transfer to another queue: the record names the last queue,
        // and its agent (if any) is still to come.
        self.handled.queue = Some(queue.clone());
        self.handled.agent = None;
        self.handled.agent_at = None;
        self.handled.agent_end = None;
        let app = self.app_state();
        app.queue = Some(QueueState {
            queue,
            ..QueueState::default()
        });
        app.op = Some(Op::Queue { reply });
        // After the queue is known: its own music may be set.
        self.play_moh();
    }

    /// Music on hold for the caller (the default loop).
    fn play_moh(&mut self) {
        // The queue's own music (moh-sound: a file, or a built-in prompt
        // name), else the default loop.
        let moh = self.queue_config().and_then(|q| q.moh_sound.clone());
        let items = vec![match moh {
            Some(m) if !m.trim().is_empty() => crate::calls::ports::sound_item(&self.ctx, &m),
            _ => PlayItem::File(
                self.ctx
                    .cfg
                    .media
                    .sounds_dir
                    .join("moh")
                    .join("default.wav"),
            ),
        }];
        let source = self
            .media
            .session()
            .map(|s| s.rate(Side::A))
            .map(|rate| self.looped_source(&items, rate));
        if let (Some(s), Some(src)) = (self.media.session(), source) {
            match src {
                Ok(player) => s.hear(
                    Side::A,
                    Hears::Source {
                        source: Box::new(player),
                        token: 0,
                    },
                ),
                Err(e) => tracing::warn!("call {}: no music on hold: {e}", self.id),
            }
        }
    }

    /// The configured settings of the queue this caller is in.
    /// The settings in force of the queue this caller is in (live: an
    /// admin's change applies to the next prompt, offer or recording).
    fn queue_config(&self) -> Option<callcenter::acd::QueueConfig> {
        let name = &self.app.as_ref()?.queue.as_ref()?.queue;
        self.ctx.callcenter.get().queue(name).cloned()
    }

    /// The service asks to ring `agent` at `contact`.
    pub(in crate::calls::actor) fn offer(
        &mut self,
        agent: String,
        contact: String,
        ring: Duration,
        auto_answer: bool,
    ) {
        if !self.queue_offering() {
            return self.report_offer(&agent, OfferOutcome::CallerGone);
        }
        let bindings = self.ctx.registrar.lookup(&contact, now_ms());
        if bindings.is_empty() {
            return self.report_offer(&agent, OfferOutcome::NotRegistered);
        }
        if self.media.local_port(Side::B).is_none() {
            match self.ctx.ports.allocate() {
                Ok(pair) => {
                    let port = pair.port;
                    if let MediaPlane::Session(s) = &mut self.media {
                        s.attach(Side::B, pair);
                    }
                    self.update_info(|i| i.b_rtp_port = port);
                }
                Err(e) => {
                    tracing::warn!("call {}: no media port to offer {agent}: {e}", self.id);
                    return self.report_offer(&agent, OfferOutcome::NoAnswer);
                }
            }
        }
        let Some(b_port) = self.media.local_port(Side::B) else {
            return;
        };
        let mut prefs = self.prefs();
        if let Some(a) = self.formats[0] {
            prefs.retain(|c| *c != a.codec);
            prefs.insert(0, a.codec);
        }
        let Ok(offer) = negotiate::offer(self.ctx.advertise, b_port, &prefs, self.id) else {
            return self.report_offer(&agent, OfferOutcome::NoAnswer);
        };
        let offer = offer.to_string().into_bytes();
        // A new agent is a new leg B: a key of its own.
        self.reset_b_srtp();
        if auto_answer || self.auto_answers(&contact, true) {
            self.fork_headers = self.auto_answer_headers();
        }
        for b in bindings {
            self.send_fork(&contact, &b, offer.clone());
            if let Some(f) = self.forks.last_mut() {
                f.agent = Some(agent.clone());
            }
        }
        self.fork_headers.clear();
        self.set_queue_deadline(&agent, Instant::now() + ring);
    }

    fn set_queue_deadline(&mut self, agent: &str, at: Instant) {
        let app = self.app_state();
        if let Some(q) = &mut app.queue {
            q.offers
                .insert(agent.to_string(), Offering { deadline: at });
            app.deadline = q.offers.values().map(|o| o.deadline).min();
        }
    }

    /// Stops ringing `agent` (no report: the service withdrew it).
    pub(in crate::calls::actor) fn cancel_offer(&mut self, agent: &str) {
        self.drop_offer(agent);
        if let Some((connected, _)) = self
            .app
            .as_ref()
            .and_then(|a| a.queue.as_ref())
            .and_then(|q| q.connected.clone())
        {
            if connected == agent {
                return;
            }
        }
        let forks: Vec<usize> = self
            .forks
            .iter()
            .enumerate()
            .filter(|(_, f)| f.agent.as_deref() == Some(agent) && f.final_code.is_none())
            .map(|(i, _)| i)
            .collect();
        for i in forks {
            let f = &mut self.forks[i];
            if f.cancel_wanted {
                continue;
            }
            f.cancel_wanted = true;
            if let Some(tx) = f.tx {
                self.b_ep.cancel(tx);
            }
        }
    }

    fn drop_offer(&mut self, agent: &str) -> bool {
        let app = self.app_state();
        let Some(q) = &mut app.queue else {
            return false;
        };
        let had = q.offers.remove(agent).is_some();
        app.deadline = q.offers.values().map(|o| o.deadline).min();
        had
    }

    fn report_offer(&self, agent: &str, outcome: OfferOutcome) {
        self.ctx.queue_reports.report(QueueReport::OfferResult {
            member: self.id,
            agent: agent.to_string(),
            outcome,
        });
    }

    /// Ring timeouts: unanswered offers are cancelled and reported.
    pub(in crate::calls::actor) fn queue_deadline(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .app
            .as_ref()
            .and_then(|a| a.queue.as_ref())
            .map(|q| {
                q.offers
                    .iter()
                    .filter(|(_, o)| o.deadline <= now)
                    .map(|(a, _)| a.clone())
                    .collect()
            })
            .unwrap_or_default();
        for agent in due {
            self.cancel_offer(&agent);
            self.report_offer(&agent, OfferOutcome::NoAnswer);
        }
    }

    /// Fork `i` (an agent's phone) answered first: connect it.
    pub(in crate::calls::actor) fn queue_answered(&mut self, i: usize, resp: &rsip::Response) {
        let Some(agent) = self.forks[i].agent.clone() else {
            return;
        };
        // Every other offer stops; the service withdraws them too.
        let others: Vec<String> = self
            .app
            .as_ref()
            .and_then(|a| a.queue.as_ref())
            .map(|q| q.offers.keys().filter(|a| **a != agent).cloned().collect())
            .unwrap_or_default();
        for other in others {
            self.cancel_offer(&other);
        }
        self.drop_offer(&agent);
        let all = media::codec::Codec::usable();
        if let Some(Ok(sdp)) = self.parse_sdp(resp) {
            if let Some(f) =
                negotiate::audio_section(&sdp).and_then(|(_, m)| negotiate::accepted(m, &all))
            {
                self.set_format(Side::B, f);
            }
            self.learn_remote(Side::B, &sdp);
        }
        // The extension the agent answered at, and its flags (manual 3.2.1:
        // 播报工号 announces the agent's id to queue callers, 是否录音
        // records its calls).
        let extension =
            extension_of(&self.forks[i].dialog.remote_uri).and_then(|n| self.ctx.directory.get(n));
        let announce = self.queue_config().is_some_and(|c| c.announce_agent)
            || extension.as_ref().is_some_and(|e| e.announce_agent_id);
        // The queue's record-template: the call with the agent is recorded.
        if let Some(template) = self.queue_config().and_then(|c| c.record_template.clone()) {
            if let Err(e) = self.start_recording_as(&template) {
                tracing::warn!("call {}: queue recording not started: {e}", self.id);
            }
        } else if extension.as_ref().is_some_and(|e| e.record) || self.ctx.cfg.recording.enabled {
            if let Err(e) = self.start_recording() {
                tracing::warn!("call {}: queue call not recorded: {e}", self.id);
            }
        }
        let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
        let intro = announce
            .then(|| {
                let items = [
                    PlayItem::Prompt("queue_agent".into()),
                    PlayItem::SayDigits(agent.clone()),
                ];
                let parts: Result<Vec<_>, _> =
                    items.iter().map(|i| self.item_source(i, rate)).collect();
                parts.ok()
            })
            .flatten();
        if let Some(s) = self.media.session() {
            match intro {
                // The caller hears who answers first; the agent waits in silence.
                Some(parts) => {
                    s.hear(
                        Side::A,
                        Hears::Source {
                            source: Box::new(media::audio::Sequence::new(parts)),
                            token: ANNOUNCE_TOKEN,
                        },
                    );
                    s.hear(Side::B, Hears::Silence);
                }
                None => {
                    s.hear(Side::A, Hears::Other);
                    s.hear(Side::B, Hears::Other);
                }
            }
        }
        self.configure_dtmf();
        let app = self.app_state();
        app.deadline = None;
        let mut queue = String::new();
        if let Some(q) = &mut app.queue {
            q.connected = Some((agent.clone(), Instant::now()));
            queue = q.queue.clone();
        }
        let party = agent.clone();
        self.handled.agent = Some(agent.clone());
        self.handled.agent_at = Some(crate::base::context::now_ms());
        self.update_info(|info| {
            info.note = format!("queue {queue}: talking to agent {agent}");
            info.b_party = Some(party);
        });
        self.report_offer(&agent, OfferOutcome::Answered);
    }

    /// A fork answered after another agent won: it was hung up; no penalty.
    pub(in crate::calls::actor) fn queue_lost_race(&mut self, i: usize) {
        if let Some(agent) = self.forks.get(i).and_then(|f| f.agent.clone()) {
            let winner = self
                .app
                .as_ref()
                .and_then(|a| a.queue.as_ref())
                .and_then(|q| q.connected.as_ref())
                .map(|(a, _)| a.clone());
            if winner.as_deref() != Some(agent.as_str()) {
                self.report_offer(&agent, OfferOutcome::LostRace);
            }
        }
    }

    /// Fork `i` failed; when every fork of its agent has, the offer has.
    pub(in crate::calls::actor) fn queue_offer_failed(&mut self, i: usize) {
        let Some(agent) = self.forks[i].agent.clone() else {
            return;
        };
        let mine = self
            .forks
            .iter()
            .filter(|f| f.agent.as_deref() == Some(&agent));
        let mut codes = Vec::new();
        for f in mine {
            match f.final_code {
                Some(c) => codes.push((c, f.cancel_wanted)),
                None => return,
            }
        }
        // Cancelled by us (timeout already reported, or withdrawn): nothing more.
        if codes.iter().all(|(_, cancelled)| *cancelled) {
            return;
        }
        if self.drop_offer(&agent) {
            let code = codes
                .iter()
                .filter(|(_, c)| !c)
                .map(|(c, _)| *c)
                .min()
                .unwrap_or(480);
            self.report_offer(&agent, outcome_of(code));
        }
    }

    /// The agent hung up on a connected queue call: the caller stays, the
    /// application goes on.
    pub(in crate::calls::actor) fn queue_agent_left(&mut self) -> bool {
        let Some(q) = self.app.as_mut().and_then(|a| a.queue.take()) else {
            return false;
        };
        let Some((agent, since)) = q.connected else {
            self.app_state().queue = Some(q);
            return false;
        };
        self.handled.agent_end = Some(crate::base::context::now_ms());
        self.ctx.queue_reports.report(QueueReport::CallEnded {
            member: self.id,
            agent: agent.clone(),
            talk_time: since.elapsed(),
            ended_at: Instant::now().into_std(),
        });
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Silence);
        }
        self.winner = None;
        self.update_info(|i| i.note.clear());
        let app = self.app_state();
        if let Some(Op::Queue { reply }) = app.op.take() {
            let _ = reply.send(Ok(QueueOutcome::Served {
                agent,
                survey: q.survey,
            }));
        }
        true
    }

    /// The agent sends the caller to the survey: the agent's leg ends.
    pub(in crate::calls::actor) fn send_to_survey(&mut self) {
        let connected = self
            .app
            .as_mut()
            .and_then(|a| a.queue.as_mut())
            .filter(|q| q.connected.is_some());
        let Some(q) = connected else {
            return;
        };
        q.survey = true;
        self.bye(Side::B);
        self.queue_agent_left();
    }

    /// The service sent the caller on (timeout, no agent, exit key).
    pub(in crate::calls::actor) fn queue_cancelled(&mut self, reason: String) {
        let offers: Vec<String> = self
            .app
            .as_ref()
            .and_then(|a| a.queue.as_ref())
            .map(|q| q.offers.keys().cloned().collect())
            .unwrap_or_default();
        for a in offers {
            self.cancel_offer(&a);
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Silence);
        }
        let app = self.app_state();
        app.queue = None;
        app.deadline = None;
        if let Some(Op::Queue { reply }) = app.op.take() {
            let _ = reply.send(Ok(QueueOutcome::Cancelled { reason }));
        }
        self.update_info(|i| i.note.clear());
    }

    /// The queue's announcement, then music on hold again.
    pub(in crate::calls::actor) fn queue_announce(&mut self, sound: String) {
        if !self.queue_offering() {
            return;
        }
        let item = crate::calls::ports::sound_item(&self.ctx, &sound);
        let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
        let moh = PlayItem::File(
            self.ctx
                .cfg
                .media
                .sounds_dir
                .join("moh")
                .join("default.wav"),
        );
        let parts = (
            self.item_source(&item, rate),
            self.looped_source(&[moh], rate),
        );
        match parts {
            (Ok(announce), Ok(moh)) => {
                let seq = media::audio::Sequence::new(vec![announce, Box::new(moh)]);
                if let Some(s) = self.media.session() {
                    s.hear(
                        Side::A,
                        Hears::Source {
                            source: Box::new(seq),
                            token: 0,
                        },
                    );
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("call {}: queue announcement: {e}", self.id)
            }
        }
    }

    /// A key from a waiting caller goes to the service (exit keys).
    pub(in crate::calls::actor) fn queue_digit(&self, digit: char) -> bool {
        if !self.queue_offering() {
            return false;
        }
        self.ctx.queue_reports.report(QueueReport::Digit {
            member: self.id,
            digit,
        });
        true
    }

    /// The call ends: the service hears of it (hang-up while waiting, or
    /// the end of the call with the agent).
    pub(in crate::calls::actor) fn leave_queue_on_end(&mut self) {
        if self.queue_agent_left() {
            return;
        }
        let Some(q) = self.app.as_mut().and_then(|a| a.queue.take()) else {
            return;
        };
        for agent in q.offers.keys() {
            let forks: Vec<usize> = self
                .forks
                .iter()
                .enumerate()
                .filter(|(_, f)| f.agent.as_deref() == Some(agent) && f.final_code.is_none())
                .map(|(i, _)| i)
                .collect();
            for i in forks {
                if let Some(tx) = self.forks[i].tx {
                    self.b_ep.cancel(tx);
                }
                self.forks[i].cancel_wanted = true;
            }
        }
        self.ctx
            .queue_reports
            .report(QueueReport::Hangup { member: self.id });
    }
}

/// The user part of a `<sip:USER@host>` value (the number a fork rang).
fn extension_of(uri: &str) -> Option<&str> {
    let rest = uri.split_once("sip:")?.1;
    let user = rest.split_once('@')?.0;
    (!user.is_empty()).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rung_extension_is_read_from_the_fork() {
        assert_eq!(extension_of("<sip:1001@10.0.0.1>"), Some("1001"));
        assert_eq!(extension_of("\"A\" <sip:2002@h>;x=1"), Some("2002"));
        assert_eq!(extension_of("<sip:@h>"), None);
        assert_eq!(extension_of("garbage"), None);
    }

    #[test]
    fn sip_answers_map_onto_offer_outcomes() {
        assert_eq!(outcome_of(486), OfferOutcome::Busy);
        assert_eq!(outcome_of(600), OfferOutcome::Busy);
        assert_eq!(outcome_of(603), OfferOutcome::Rejected);
        assert_eq!(outcome_of(404), OfferOutcome::NotRegistered);
        assert_eq!(outcome_of(480), OfferOutcome::NoAnswer);
        assert_eq!(outcome_of(408), OfferOutcome::NoAnswer);
        assert_eq!(outcome_of(487), OfferOutcome::NoAnswer);
    }
}
