//! Bridging an application call to an extension (ringback while it rings,
//! the caller stays when the other party leaves) and hold with music.

use super::*;

impl Call {
    /// True while an application call is calling or connected to another party.
    pub(in crate::calls::actor) fn bridging(&self) -> bool {
        matches!(
            self.app.as_ref().and_then(|a| a.op.as_ref()),
            Some(Op::Bridge { .. })
        )
    }

    pub(in crate::calls::actor) fn start_bridge(
        &mut self,
        number: String,
        timeout: Duration,
        reply: oneshot::Sender<Result<(), CallError>>,
    ) {
        if self.state != State::Answered {
            let _ = reply.send(Err(CallError::NotAnswered));
            return;
        }
        // With the routing rules: an outbound rule takes the call out
        // through its gateways.
        let settings = self.ctx.callcenter.get();
        let route = router::route_call(&number, &self.ctx.directory, &self.ctx.cfg, &settings);
        let (target, out) = match route {
            Route::Extension(n) => (n, None),
            Route::Outbound(o) => (o.dial.clone(), Some(o)),
            _ => {
                let _ = reply.send(Err(CallError::NotReached(404, "Not Found".into())));
                return;
            }
        };
        let bindings = match out {
            Some(_) => Vec::new(),
            None => self.ctx.registrar.lookup(&target, now_ms()),
        };
        if out.is_none() && bindings.is_empty() {
            let _ = reply.send(Err(CallError::NotReached(
                480,
                "Temporarily Unavailable".into(),
            )));
            return;
        }
        let pair = match self.ctx.ports.allocate() {
            Ok(p) => p,
            Err(e) => {
                let _ = reply.send(Err(CallError::Media(e.to_string())));
                return;
            }
        };
        let b_port = pair.port;
        // The caller's codec first, so the callee can avoid transcoding.
        let mut prefs = self.prefs();
        if let Some(a) = self.formats[0] {
            prefs.retain(|c| *c != a.codec);
            prefs.insert(0, a.codec);
        }
        let offer = match negotiate::offer(self.ctx.advertise, b_port, &prefs, self.id) {
            Ok(o) => o.to_string().into_bytes(),
            Err(e) => {
                let _ = reply.send(Err(CallError::Media(e.to_string())));
                return;
            }
        };
        // A fresh set of forks for this bridge (a transferor's leg stays
        // reachable until it is released).
        for f in std::mem::take(&mut self.forks) {
            if !self.is_transferor_leg(&f.dialog.call_id) {
                self.ctx.dialogs.remove(&f.dialog.call_id);
            }
        }
        self.winner = None;
        self.failures.clear();
        self.formats[1] = None;
        self.reset_b_srtp();
        if let MediaPlane::Session(s) = &mut self.media {
            s.attach(Side::B, pair);
        }
        self.update_info(|i| {
            i.b_rtp_port = b_port;
            i.note = format!("calling {target}");
        });
        // The caller hears ringback while the other party rings.
        if let Ok(plan) = self.ctx.cfg.tone_plan() {
            let rate = self.media.session().map_or(8000, |s| s.rate(Side::A));
            let tone =
                media::tones::ToneGenerator::new(plan.spec(media::tones::ToneKind::Ringback), rate);
            if let Some(s) = self.media.session() {
                s.hear(
                    Side::A,
                    Hears::Source {
                        source: Box::new(tone),
                        token: 0,
                    },
                );
            }
        }
        let app = self.app_state();
        app.deadline = Some(Instant::now() + timeout);
        app.op = Some(Op::Bridge {
            number: target.clone(),
            answered: false,
            reply,
        });
        match out {
            Some(route) => match self.bridge_out(route, offer) {
                Ok(true) => {}
                Ok(false) => self.end_bridge(Err(CallError::NotReached(
                    503,
                    "No Gateway Available".into(),
                ))),
                Err(r) => self.end_bridge(Err(CallError::NotReached(403, r.reason().into()))),
            },
            None => {
                self.end_outbound();
                for b in bindings {
                    self.send_fork(&target, &b, offer.clone());
                }
            }
        }
    }

    /// The called party answered: connect the two.
    pub(in crate::calls::actor) fn bridge_answered(&mut self, resp: &rsip::Response) {
        self.transfer_answered();
        let prefs = media::codec::Codec::usable();
        if let Some(Ok(sdp)) = self.parse_sdp(resp) {
            if let Some(f) =
                negotiate::audio_section(&sdp).and_then(|(_, m)| negotiate::accepted(m, &prefs))
            {
                self.set_format(Side::B, f);
            }
            self.learn_remote(Side::B, &sdp);
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Other);
            s.hear(Side::B, Hears::Other);
        }
        self.configure_dtmf();
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Bridge {
            number, answered, ..
        }) = &mut app.op
        {
            *answered = true;
            let note = format!("bridged to {number}");
            let party = number.clone();
            // An extension took it (an outside number is not ours: an
            // outbound call counts for the extension that placed it).
            if self.ctx.directory.get(&party).is_some() {
                self.handled.agent = Some(party.clone());
            }
            self.update_info(|i| {
                i.note = note;
                i.b_party = Some(party);
            });
        }
    }

    /// Nobody answered (or everybody refused): tell the application why.
    pub(in crate::calls::actor) fn bridge_failed(&mut self) {
        let (code, reason) =
            best_failure(&self.failures).unwrap_or((480, "Temporarily Unavailable".into()));
        self.end_bridge(Err(CallError::NotReached(code, reason)));
    }

    /// The bridge is over: the caller hears silence and the application
    /// gets `result`.
    pub(in crate::calls::actor) fn end_bridge(&mut self, result: Result<(), CallError>) {
        match &result {
            Err(CallError::NotReached(code, reason)) => {
                let reason = reason.clone();
                self.notify_transferor(*code, &reason, true);
            }
            Err(_) => self.notify_transferor(503, "Service Unavailable", true),
            Ok(()) => {}
        }
        if let Some(s) = self.media.session() {
            s.hear(Side::A, Hears::Silence);
        }
        self.winner = None;
        self.update_info(|i| i.note.clear());
        let app = self.app_state();
        app.deadline = None;
        if let Some(Op::Bridge { reply, .. }) = app.op.take() {
            let _ = reply.send(result);
        }
    }

    /// In-dialog requests from the bridged party.
    pub(in crate::calls::actor) fn on_bridged_request(&mut self, tx: TxId, req: Request) {
        let ep = self.b_ep.clone();
        if !self.is_winner_dialog(&req) {
            ep.respond(tx, message::response(&req, status(481), None));
            return;
        }
        match req.method {
            Method::Bye => {
                ep.respond(tx, message::response(&req, status(200), None));
                if !self.queue_agent_left() {
                    self.end_bridge(Ok(()));
                }
            }
            Method::Refer => self.on_refer(tx, req),
            Method::Info => {
                let ctype = message::header_value(&req, "Content-Type").unwrap_or("");
                let body = String::from_utf8_lossy(&req.body);
                ep.respond(tx, message::response(&req, status(200), None));
                if let Ok(ev) = media::dtmf::info::parse_info(ctype, &body) {
                    self.on_digit(Side::B, ev.digit);
                }
            }
            _ => {
                // A re-INVITE (hold, refresh) or UPDATE: accepted as is; the
                // session keeps its formats.
                let mut ok = message::response(&req, status(200), None);
                if let (Some(port), Some(f)) = (self.media.local_port(Side::B), self.formats[1]) {
                    if let Some(Ok(sdp)) = self.parse_sdp(&req) {
                        self.media.set_hold(sdp.is_hold());
                        self.learn_remote(Side::B, &sdp);
                        if let Ok(ans) =
                            negotiate::answer(&sdp, f, self.ctx.advertise, port, self.id)
                        {
                            ok.set_body(self.secured(ans, Side::B), SDP);
                        }
                    }
                }
                let contact = self.contact_for(Side::B);
                ok.headers
                    .push(Header::Contact(rsip::headers::Contact::new(format!(
                        "<{contact}>"
                    ))));
                ep.respond(tx, ok);
            }
        }
    }

    /// Music on hold for the caller, silence for the other party; or back.
    pub(in crate::calls::actor) fn hold(&mut self, on: bool) {
        let Some(rate) = self.media.session().map(|s| s.rate(Side::A)) else {
            return;
        };
        if on {
            let moh = self
                .ctx
                .cfg
                .media
                .sounds_dir
                .join("moh")
                .join("default.wav");
            let source = self.load(&moh, rate).and_then(|pcm| {
                media::player::Player::new(vec![pcm], rate, true)
                    .map_err(|e| CallError::Media(e.to_string()))
            });
            let Some(s) = self.media.session() else {
                return;
            };
            match source {
                Ok(player) => s.hear(
                    Side::A,
                    Hears::Source {
                        source: Box::new(player),
                        token: 0,
                    },
                ),
                Err(e) => {
                    tracing::warn!("call {}: no music on hold: {e}", self.id);
                    s.hear(Side::A, Hears::Silence);
                }
            }
            s.hear(Side::B, Hears::Silence);
            s.set_hold(true);
        } else if let Some(s) = self.media.session() {
            match &self.monitored {
                // A call others have joined: back into its room.
                Some(room) => {
                    for side in [Side::A, Side::B] {
                        let member = crate::calls::actor::eavesdrop::member_of(self.id, side);
                        s.hear(
                            side,
                            Hears::Conference {
                                room: room.clone(),
                                member,
                            },
                        );
                    }
                }
                None => {
                    s.hear(Side::A, Hears::Other);
                    s.hear(Side::B, Hears::Other);
                }
            }
            s.set_hold(false);
        }
    }
}
