//! The session task: its construction, its one poll function (commands,
//! ticks, sockets) and the commands from the handle.

use super::*;

impl Task {
    pub(super) fn new(
        legs: [Option<Leg>; 2],
        activity: Arc<Activity>,
        stats: Arc<SessionStats>,
        relay_stats: Arc<RelayStats>,
        events: EventSink,
    ) -> Task {
        Task {
            legs,
            buf: vec![0; BUF_SIZE],
            out: Vec::with_capacity(BUF_SIZE),
            pcm: Vec::with_capacity(640),
            resamplers: HashMap::new(),
            recorder: None,
            activity,
            stats,
            relay_stats,
            events,
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(u64::from(FRAME_MS)));
        // Late ticks are caught up so the timestamps we send keep pace with
        // the wall clock the phones play at.
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        // One poll function for commands, ticks and sockets (not a select!
        // loop): a wakeup costs one pass, whatever woke it.
        poll_fn(|cx| {
            loop {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(Cmd::Close) | None) => return Poll::Ready(()),
                    Poll::Ready(Some(cmd)) => self.command(cmd),
                    Poll::Pending => break,
                }
            }
            while tick.poll_tick(cx).is_ready() {
                self.on_tick(Instant::now());
            }
            self.pump(cx);
            Poll::Pending
        })
        .await;
        if let Some((rec, _)) = self.recorder.take() {
            if let Err(e) = rec.finish() {
                tracing::warn!(error = %e, "recording could not be finished");
            }
        }
    }

    pub(super) fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Attach(side, pair) => {
                self.legs[side as usize] = Some(Leg::new(pair, SideState::default()))
            }
            Cmd::SwapLegs => {
                self.legs.swap(0, 1);
                // Resamplers are keyed by leg index.
                self.resamplers.clear();
            }
            Cmd::Format(side, f) => {
                let (i, o) = (side as usize, side.other() as usize);
                let other = self.legs[o].as_ref().and_then(|l| l.format);
                if let Some(leg) = &mut self.legs[i] {
                    leg.set_format(f, f.pcm_rate_beside(other));
                }
                // An Opus leg on the other side may change rate with this
                // one (narrowband beside G.711).
                if let (Some(of), Some(leg)) = (other, self.legs[o].as_mut()) {
                    let rate = of.pcm_rate_beside(Some(f));
                    if rate != leg.pcm_rate {
                        leg.set_format(of, rate);
                    }
                }
                // Resamplers of these legs may now convert from another rate.
                self.resamplers
                    .retain(|(k, _), _| ![i, i + 2, o, o + 2].contains(k));
            }
            Cmd::Remote(side, remote) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.latch.set_remote(remote);
                }
            }
            Cmd::WebRtc(side, webrtc) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.webrtc = webrtc;
                    leg.webrtc_failed = false;
                }
            }
            Cmd::Hear(side, hears) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.hears = hears;
                    if let Some(out) = &mut leg.tx {
                        out.sender.mark_talkspurt();
                    }
                }
            }
            Cmd::Inband(side, on) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.inband = on.then(|| InbandDetector::new(leg.rate()));
                }
            }
            Cmd::SendDigits(side, digits, ms) => {
                if let Some(leg) = &mut self.legs[side as usize] {
                    leg.digits_queue
                        .extend(digits.chars().filter(|c| crate::dtmf::is_dtmf_digit(*c)));
                    leg.digit_ms = ms.clamp(40, 2000);
                }
            }
            Cmd::Record(rec, rate) => {
                if let Some((old, _)) = self.recorder.replace((rec, rate)) {
                    if let Err(e) = old.finish() {
                        tracing::warn!(error = %e, "replaced recording could not be finished");
                    }
                }
            }
            Cmd::PauseRecording(paused) => {
                if let Some((rec, _)) = &mut self.recorder {
                    if paused {
                        rec.pause();
                    } else {
                        rec.resume();
                    }
                }
            }
            Cmd::StopRecording(reply) => {
                let summary = self.recorder.take().map(|(rec, _)| rec.finish());
                let _ = reply.send(summary);
            }
            Cmd::Close => {}
        }
    }

    /// Drains every ready socket, round-robin in bursts, until all of them
    /// would block (which registers the wakers) or the coop budget runs out
    /// (then Tokio reschedules the task itself).
    pub(super) fn pump(&mut self, cx: &mut Context<'_>) {
        let now = Instant::now();
        loop {
            let mut progressed = false;
            for i in 0..2 {
                for rtcp in [false, true] {
                    for _ in 0..BURST {
                        let Some(leg) = &self.legs[i] else { break };
                        let sock = if rtcp { &leg.pair.rtcp } else { &leg.pair.rtp };
                        if !matches!(sock.poll_recv_ready(cx), Poll::Ready(Ok(()))) {
                            break;
                        }
                        match sock.try_recv_from(&mut self.buf) {
                            Ok((n, src)) => {
                                progressed = true;
                                if rtcp {
                                    self.on_rtcp(i, n, src);
                                } else {
                                    self.on_rtp(i, n, src, now);
                                }
                            }
                            // Readiness is now cleared: the next poll registers.
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            // E.g. a reported ICMP error: one-shot, go on.
                            Err(_) => {
                                self.relay_stats.dropped.fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// RTCP is terminated here: the streams it would describe are ours now
    /// (rewritten SSRCs), so the far ends' reports are consumed, not relayed.
    pub(super) fn on_rtcp(&mut self, i: usize, n: usize, src: SocketAddr) {
        let Some(n) = self.decrypt(i, true, n, src) else {
            return;
        };
        let Some(leg) = &mut self.legs[i] else { return };
        let pkt = &self.buf[..n];
        let verdict = if n < BUF_SIZE && valid_rtcp(pkt) {
            leg.latch.accept_rtcp(src, pkt)
        } else {
            Err(Refusal::Invalid)
        };
        if let Err(why) = verdict {
            self.relay_stats.refused(why);
        }
    }
}
