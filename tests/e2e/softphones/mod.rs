//! Interop with real softphones: baresip 1.0 (Debian `baresip-core`) and
//! pjsua2 2.15 (PyPI `pjsua2-python`) register to the real server with its
//! default settings and call it, each other, the echo, DTMF readback,
//! dial-through and conference applications; they hold, transfer (blind and
//! attended) and offer codecs the server cannot use. What they hear is
//! measured from their own recordings (frequency and level, `audio.rs`),
//! never assumed.
//!
//! The clients: `baresip` on PATH (or `$SWITCHBOARD_BARESIP`, modules in
//! `/usr/lib/baresip/modules` or `$SWITCHBOARD_BARESIP_MODULES`), and a
//! Python with pjsua2: `$SWITCHBOARD_PJSUA_PYTHON`, which tests/run exports,
//! else `tests/artifacts/pjsua-venv/bin/python`, the venv tests/run creates.
//! A missing client fails the test with a message to run tests/run; nothing is
//! skipped. Each phone's config, log and recordings are kept under
//! `tests/artifacts/softphones/SERVER-NAME/`; a failing test prints the tail
//! of each phone's log and of the server's.
//!
//! One phone per extension, each with a tone of its own (600, 1000, 1400 Hz),
//! so a recording tells who was heard.

mod audio;
mod baresip;
mod pjsua;
mod srtp;

use crate::harness::{artifacts, Server};
use audio::{level_at, measure, Measure, Wav, ABSENT_DBFS, LEVEL_WINDOW, SENT_DBFS};
use baresip::{Baresip, BaresipOpts};
use pjsua::{Pjsua, PjsuaOpts};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a phone may take to report an event (a hang guard: phones answer
/// in milliseconds on loopback).
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long audio may take to be heard (the echo application speaks for 3.5 s
/// first, the dial-through one asks for digits).
const HEAR_TIMEOUT: Duration = Duration::from_secs(25);

/// One capture window while waiting for a tone.
const WINDOW: Duration = Duration::from_millis(1500);

/// The extensions' password.
const PW: &str = "interop-Pw-1";

/// The tones: one per phone in a call.
const LOW: u32 = 600;
const MID: u32 = 1000;
const HIGH: u32 = 1400;

/// The softphone artifacts directory.
pub fn artifacts_dir() -> PathBuf {
    let d = artifacts().join("softphones");
    std::fs::create_dir_all(&d).expect("create tests/artifacts/softphones");
    d
}

/// A fresh directory for one phone of one test.
fn phone_dir(server: &Server, phone: &str) -> PathBuf {
    let d = artifacts_dir().join(&server.name).join(phone);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a phone directory");
    d
}

/// A new starting slot for `PortBlock::media_port` (it skips ports taken).
fn next_media_slot() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst) % 10
}

/// The last `lines` lines of a text file.
fn log_tail(path: &Path, lines: usize) -> String {
    crate::harness::log_tail(path, lines)
}

/// The events a phone reported, kept in arrival order (never consumed, so a
/// wait cannot miss one that came early).
#[derive(Default)]
pub struct Events {
    list: Mutex<Vec<Value>>,
    cond: Condvar,
}

impl Events {
    /// Adds an event and wakes the waiters.
    pub fn push(&self, v: Value) {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).push(v);
        self.cond.notify_all();
    }

    /// All events so far.
    pub fn snapshot(&self) -> Vec<Value> {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `f` finds something in the events, up to `timeout`.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&[Value]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = f(&list) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            list = self
                .cond
                .wait_timeout(list, (deadline - now).min(Duration::from_millis(200)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A phone's name for one of its calls (baresip: the SIP Call-ID; pjsua: the
/// agent's handle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallId(pub String);

/// A recording in progress of what a call receives.
pub struct Capture {
    path: PathBuf,
    offset: u64,
    call: CallId,
}

/// How DTMF is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfMethod {
    /// RTP telephone-events.
    Rfc2833,
    /// SIP INFO application/dtmf-relay.
    Info,
}

/// How a transfer the phone started ended.
#[derive(Debug)]
pub enum TransferOutcome {
    /// The NOTIFY said 2xx and the transferor's call with the transferee
    /// ended.
    Succeeded,
    /// A failure status or no final NOTIFY (the reason).
    Failed(String),
}

/// What the scenarios do with a phone, whichever client it is.
pub trait Phone {
    /// "baresip 1001", for messages.
    fn label(&self) -> String;
    /// Its extension.
    fn ext(&self) -> &str;
    /// The tone it sends.
    fn tone_hz(&self) -> f64;
    /// The SIP URI of `number` on the server.
    fn uri(&self, number: &str) -> String;
    /// Dials `number`; the new call.
    fn dial(&mut self, number: &str) -> CallId;
    /// Waits for the next incoming call (ringing).
    fn wait_incoming(&mut self) -> CallId {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some(c) = self.poll_incoming() {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no incoming call",
                self.label()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// The next incoming call not handed out yet, if one has arrived.
    fn poll_incoming(&mut self) -> Option<CallId>;
    /// Answers an incoming call.
    fn answer(&mut self, call: &CallId);
    /// Waits until the call is answered (fails if it ends first).
    fn wait_established(&mut self, call: &CallId);
    /// Why the call ended, if it has.
    fn closed(&self, call: &CallId) -> Option<String>;
    /// Waits until the call ends; why.
    fn wait_closed(&mut self, call: &CallId) -> String;
    /// Hangs up (nothing if already ended).
    fn hangup(&mut self, call: &CallId);
    /// Sends DTMF digits one by one.
    fn send_dtmf(&mut self, call: &CallId, digits: &str, method: DtmfMethod);
    /// The digits the phone reported receiving on the call, in order.
    fn dtmf_received(&self, call: &CallId) -> String;
    /// Puts the call on hold (re-INVITE).
    fn hold(&mut self, call: &CallId);
    /// Takes it off hold.
    fn unhold(&mut self, call: &CallId);
    /// Blind transfer: REFER the other party of `call` to `number`.
    fn blind_transfer(&mut self, call: &CallId, number: &str);
    /// Waits for the result of a transfer this phone started on `call`.
    fn wait_transfer(&mut self, call: &CallId) -> TransferOutcome;
    /// The calls this phone placed (dialled, or on a REFER it received).
    fn calls_placed(&self) -> Vec<CallId>;
    /// True once the call was answered.
    fn established(&self, call: &CallId) -> bool;
    /// Starts recording what `call` receives.
    fn start_capture(&mut self, call: &CallId) -> Capture;
    /// Stops a capture and reads it.
    fn finish_capture(&mut self, cap: Capture) -> Wav;
    /// The end of the client's log.
    fn log_tail(&self, lines: usize) -> String;
}

fn baresip(server: &Server, ext: &str, codecs: &[&'static str], tone_hz: u32) -> Baresip {
    Baresip::start(
        server,
        ext,
        PW,
        BaresipOpts {
            codecs: codecs.to_vec(),
            tone_hz,
        },
    )
}

fn pjsua(server: &Server, ext: &str, codecs: &[&'static str], tone_hz: u32) -> Pjsua {
    Pjsua::start(
        server,
        ext,
        PW,
        PjsuaOpts {
            codecs: codecs.to_vec(),
            tone_hz,
            ..PjsuaOpts::default()
        },
    )
}

/// A server with the defaults and extensions 1001-1004.
fn server(name: &str) -> Server {
    Server::builder(name).extensions("1001-1004", PW).start()
}

/// `a` calls `b`, `b` answers: both call ids.
fn connect(a: &mut dyn Phone, b: &mut dyn Phone) -> (CallId, CallId) {
    let ca = a.dial(b.ext());
    let cb = b.wait_incoming();
    b.answer(&cb);
    b.wait_established(&cb);
    a.wait_established(&ca);
    (ca, cb)
}

/// Records `window` of what `call` receives.
fn record(p: &mut dyn Phone, call: &CallId, window: Duration) -> Wav {
    let cap = p.start_capture(call);
    std::thread::sleep(window);
    p.finish_capture(cap)
}

/// Waits until `p` hears the tone `hz` on `call` (frequency within ±20 Hz,
/// level within the window), capturing in windows; the measure.
fn wait_hears(p: &mut dyn Phone, call: &CallId, hz: f64, what: &str) -> Measure {
    let deadline = Instant::now() + HEAR_TIMEOUT;
    loop {
        let wav = record(p, call, WINDOW);
        let m = measure(&wav);
        if audio::is_tone(&m, hz) {
            return m;
        }
        if Instant::now() > deadline || p.closed(call).is_some() {
            let state = p
                .closed(call)
                .map_or(String::new(), |c| format!(" (the call ended: {c})"));
            panic!(
                "{} never heard {what} ({hz} Hz within {} Hz, level within {:?} dBFS){state}; \
                 last capture: {m}",
                p.label(),
                audio::HZ_TOLERANCE,
                LEVEL_WINDOW,
            );
        }
    }
}

/// How far a tone's level may move on a G.711 path (relay or G.711-to-G.711
/// transcoding should keep it; the codec's quantisation costs a fraction of
/// a dB).
const G711_LEVEL_TOLERANCE: f64 = 3.0;

/// Asserts that a tone heard over G.711 kept the level it was sent at.
fn assert_level_kept(m: &Measure, who: &str) {
    assert!(
        (m.dominant_dbfs - SENT_DBFS).abs() <= G711_LEVEL_TOLERANCE,
        "{who}: the tone arrived at {:.1} dBFS, sent at {SENT_DBFS} dBFS (G.711 all the way, \
         want within {G711_LEVEL_TOLERANCE} dB): {m}",
        m.dominant_dbfs
    );
}

/// Waits until `p` hears every tone of `tones` at once on `call`.
fn wait_hears_all(p: &mut dyn Phone, call: &CallId, tones: &[f64], what: &str) -> Vec<f64> {
    let deadline = Instant::now() + HEAR_TIMEOUT;
    loop {
        let wav = record(p, call, WINDOW);
        let levels: Vec<f64> = tones.iter().map(|&hz| level_at(&wav, hz)).collect();
        if wav.secs() > 0.5
            && levels
                .iter()
                .all(|&l| l >= LEVEL_WINDOW.0 && l <= LEVEL_WINDOW.1)
        {
            return levels;
        }
        if Instant::now() > deadline || p.closed(call).is_some() {
            panic!(
                "{} never heard {what}: levels of {tones:?} Hz were {levels:.1?} dBFS (want \
                 {LEVEL_WINDOW:?}) in {:.2} s; {}",
                p.label(),
                wav.secs(),
                measure(&wav)
            );
        }
    }
}

/// Asserts that `p` does not hear `hz` on `call` during `window` (an empty
/// recording counts as silence: nothing arrived).
fn assert_not_hears(p: &mut dyn Phone, call: &CallId, hz: f64, window: Duration, what: &str) {
    let wav = record(p, call, window);
    let level = level_at(&wav, hz);
    assert!(
        wav.secs() < 0.3 || level < ABSENT_DBFS,
        "{} heard {what} ({hz} Hz at {level:.1} dBFS, want below {ABSENT_DBFS}) over {:.2} s: {}",
        p.label(),
        wav.secs(),
        measure(&wav)
    );
}

/// Waits until `pred` holds (polling), panicking with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The CDRs once there are at least `at_least` and none is in progress any
/// more, newest first.
fn settled_cdrs(server: &Server, at_least: usize) -> Vec<store::Cdr> {
    wait_cdrs_where(server, &format!("{at_least} finished CDRs"), |cdrs| {
        cdrs.len() >= at_least
    })
}

/// Polls the CDRs (written in batches) until none is in progress and `pred`
/// holds; they are returned newest first.
fn wait_cdrs_where(
    server: &Server,
    what: &str,
    pred: impl Fn(&[store::Cdr]) -> bool,
) -> Vec<store::Cdr> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the store");
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let cdrs = rt.block_on(async {
            let store = server.store().await;
            let cdrs = store.list_cdrs(100).await.expect("list CDRs");
            store.close().await;
            cdrs
        });
        if cdrs.iter().all(|c| !c.in_progress) && pred(&cdrs) {
            return cdrs;
        }
        assert!(
            Instant::now() < deadline,
            "want {what} once every phone hung up, have: {cdrs:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The SIP responses with `code` the server sent (its log has every message
/// it sends or receives, each after a "send to" or "recv from" line).
fn responses_sent(server: &Server, code: u16) -> Vec<String> {
    logged_responses(server, code, "send to ")
}

/// The SIP responses with `code` the server received.
fn responses_received(server: &Server, code: u16) -> Vec<String> {
    logged_responses(server, code, "recv from ")
}

fn logged_responses(server: &Server, code: u16, direction: &str) -> Vec<String> {
    let log = server.log();
    let status = format!("SIP/2.0 {code} ");
    let lines: Vec<&str> = log.lines().collect();
    let mut out = Vec::new();
    for (i, pair) in lines.windows(2).enumerate() {
        if pair[0].contains(direction) && pair[1].starts_with(&status) {
            let msg: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty())
                .take(40)
                .copied()
                .collect();
            out.push(msg.join("\n"));
        }
    }
    out
}

/// The live call list of `/api/calls`.
fn api_calls(server: &Server) -> Vec<Value> {
    serde_json::from_str::<Value>(&server.api_calls())
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

// ---- 1. registration ----

#[test]
fn both_phones_register_with_digest_and_the_contact_parameters_round_trip() {
    let server = server("sp_register");
    // baresip 1.0 gives up on a challenge it cannot answer: registering at
    // all with the defaults is the test.
    let b = baresip(&server, "1001", &["PCMU"], LOW);
    // pjsua over TCP sends RFC 5626 reg-id and +sip.instance; the 200's
    // Contact must carry them exactly as sent (pjsua drops a 200 it cannot
    // parse, and then never registers).
    let instance = "<urn:uuid:00000000-0000-1000-8000-00163e5a1b2c>";
    let p = Pjsua::spawn(
        &server,
        "1002",
        PW,
        PjsuaOpts {
            tcp: true,
            instance_id: instance.into(),
            ..PjsuaOpts::default()
        },
    );
    let reg = p.wait_registration();
    assert_eq!(reg["code"], 200, "pjsua over TCP: {reg}");
    let contacts: Vec<String> = reg["contact"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(String::from))
        .collect();
    let sent = format!(";reg-id=1;+sip.instance=\"{instance}\"");
    assert!(
        contacts
            .iter()
            .any(|c| c.contains(&sent) && c.contains(";expires=")),
        "the 200's Contact lost the parameters {sent}: {contacts:?}"
    );
    // And over UDP, without them.
    let u = pjsua(&server, "1003", &["PCMU"], HIGH);
    let regs = server
        .http_get("/api/registrations")
        .expect("GET /api/registrations");
    assert_eq!(regs.0, 200, "{}", regs.1);
    for (ext, agent) in [("1001", "baresip"), ("1002", "pjsua2"), ("1003", "pjsua2")] {
        let v: Value = serde_json::from_str(&regs.1).unwrap_or(Value::Null);
        let found = v.as_array().into_iter().flatten().any(|r| {
            r.to_string().contains(&format!("\"{ext}\"")) && r.to_string().contains(agent)
        });
        assert!(
            found,
            "{ext} ({agent}) missing from /api/registrations: {}",
            regs.1
        );
    }
    drop((b, p, u));
}

// ---- 2. echo ----

fn echo_returns_the_tone(p: &mut dyn Phone, server: &Server) {
    let call = p.dial("9196");
    p.wait_established(&call);
    let hz = p.tone_hz();
    let m = wait_hears(p, &call, hz, "its own tone from the echo application");
    eprintln!("{} hears its echo: {m}", p.label());
    assert_level_kept(&m, &format!("{}'s echo", p.label()));
    p.hangup(&call);
    p.wait_closed(&call);
    let cdrs = settled_cdrs(server, 1);
    let cdr = &cdrs[0];
    assert_eq!(
        (cdr.callee.as_str(), cdr.caller.as_str(), cdr.sip_code),
        ("9196", p.ext(), 200),
        "{cdr:#?}"
    );
    assert!(cdr.answer_at.is_some(), "{cdr:#?}");
    assert_eq!(cdr.hangup_by, "caller", "{cdr:#?}");
}

#[test]
fn baresip_hears_its_tone_back_from_the_echo_application() {
    let server = server("sp_echo_baresip");
    let mut b = baresip(&server, "1001", &["PCMU"], MID);
    echo_returns_the_tone(&mut b, &server);
}

#[test]
fn pjsua_hears_its_tone_back_from_the_echo_application() {
    let server = server("sp_echo_pjsua");
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    echo_returns_the_tone(&mut p, &server);
}

// ---- 3. calls between the clients ----

/// `a` calls `b`; each hears the other's tone (at the level sent if
/// `g711`: G.711 end to end); `hangs_up_a` says who ends it.
fn talk(server: &Server, a: &mut dyn Phone, b: &mut dyn Phone, g711: bool, hangs_up_a: bool) {
    // This call's record is the one after those already there (a test may
    // make several calls: waiting for "one" would take an earlier one).
    let before = wait_cdrs_where(server, "the CDRs so far", |_| true).len();
    let (ca, cb) = connect(a, b);
    let (ha, hb) = (a.tone_hz(), b.tone_hz());
    let at_a = wait_hears(a, &ca, hb, &format!("{} ({hb} Hz)", b.label()));
    let at_b = wait_hears(b, &cb, ha, &format!("{} ({ha} Hz)", a.label()));
    eprintln!("{} hears {at_a}; {} hears {at_b}", a.label(), b.label());
    if g711 {
        assert_level_kept(&at_a, &a.label());
        assert_level_kept(&at_b, &b.label());
    }
    if hangs_up_a {
        a.hangup(&ca);
        b.wait_closed(&cb);
    } else {
        b.hangup(&cb);
        a.wait_closed(&ca);
    }
    let cdrs = settled_cdrs(server, before + 1);
    let cdr = &cdrs[0];
    assert_eq!(
        (cdr.caller.as_str(), cdr.callee.as_str(), cdr.sip_code),
        (a.ext(), b.ext(), 200),
        "{cdr:#?}"
    );
    assert!(cdr.answer_at.is_some(), "{cdr:#?}");
    let by = if hangs_up_a { "caller" } else { "callee" };
    assert_eq!(cdr.hangup_by, by, "{cdr:#?}");
}

#[test]
fn baresip_calls_pjsua_and_each_hears_the_other_with_pcmu() {
    let server = server("sp_b2p_pcmu");
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    talk(&server, &mut b, &mut p, true, true);
    let codecs: Vec<Value> = p
        .media_events(&CallId("0".into()))
        .iter()
        .map(|e| e["codec"].clone())
        .collect();
    assert!(codecs.iter().all(|c| c == "PCMU"), "{codecs:?}");
}

#[test]
fn pjsua_calls_baresip_and_each_hears_the_other_with_pcmu() {
    let server = server("sp_p2b_pcmu");
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    talk(&server, &mut p, &mut b, true, false);
}

#[test]
fn a_g722_only_baresip_and_a_pcmu_only_pjsua_talk_through_transcoding() {
    let server = server("sp_g722_pcmu");
    let mut b = baresip(&server, "1001", &["G722"], LOW);
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    // baresip 1.0's G.722 and pjsua's (and the server's) differ by 6 dB
    // (measured on a G.722 call between the two, no transcoding): levels
    // are only held to the sane window here.
    talk(&server, &mut b, &mut p, false, true);
    let media = p.media_events(&CallId("0".into()));
    assert!(
        media.iter().all(|e| e["codec"] == "PCMU"),
        "the PCMU-only callee got another codec: {media:?}"
    );
}

#[test]
fn a_pcma_only_pjsua_and_a_pcmu_only_baresip_talk_through_transcoding() {
    let server = server("sp_pcma_pcmu");
    let mut p = pjsua(&server, "1002", &["PCMA"], MID);
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    talk(&server, &mut p, &mut b, true, true);
    let media = p.media_events(&CallId("0".into()));
    assert!(
        media.iter().all(|e| e["codec"] == "PCMA"),
        "the PCMA-only caller got another codec: {media:?}"
    );
}

// ---- 4. DTMF ----

/// Waits until `p` reported `digits` on `call`.
fn wait_digits(p: &dyn Phone, call: &CallId, digits: &str, how: &str) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let got = p.dtmf_received(call);
        if got == digits {
            return;
        }
        assert!(
            Instant::now() < deadline && got.len() <= digits.len(),
            "{} reported DTMF {got:?}, want {digits:?} ({how})",
            p.label()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dtmf_rfc2833_and_info_reach_the_other_phone() {
    let server = server("sp_dtmf");
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let mut q = pjsua(&server, "1003", &["PCMU"], HIGH);

    // pjsua -> baresip: RFC 2833, then SIP INFO.
    let (cp, cb) = connect(&mut p, &mut b);
    p.send_dtmf(&cp, "19", DtmfMethod::Rfc2833);
    wait_digits(&b, &cb, "19", "RFC 2833 from pjsua");
    p.send_dtmf(&cp, "*7", DtmfMethod::Info);
    wait_digits(&b, &cb, "19*7", "SIP INFO from pjsua");
    // baresip -> pjsua: RFC 2833.
    b.send_dtmf(&cb, "4#", DtmfMethod::Rfc2833);
    wait_digits(&p, &cp, "4#", "RFC 2833 from baresip");
    p.hangup(&cp);
    b.wait_closed(&cb);

    // pjsua -> pjsua: SIP INFO and RFC 2833.
    let (cq, cp2) = connect(&mut q, &mut p);
    q.send_dtmf(&cq, "58", DtmfMethod::Info);
    wait_digits(&p, &cp2, "58", "SIP INFO from pjsua");
    q.send_dtmf(&cq, "0", DtmfMethod::Rfc2833);
    wait_digits(&p, &cp2, "580", "RFC 2833 from pjsua");
    q.hangup(&cq);
    p.wait_closed(&cp2);
}

#[test]
fn dtmf_from_both_phones_reaches_the_readback_application() {
    let server = server("sp_dtmf_readback");
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let cb = b.dial("9197");
    b.wait_established(&cb);
    let cp = p.dial("9197");
    p.wait_established(&cp);
    b.send_dtmf(&cb, "25", DtmfMethod::Rfc2833);
    p.send_dtmf(&cp, "36", DtmfMethod::Info);
    p.send_dtmf(&cp, "9", DtmfMethod::Rfc2833);
    let digits_of = |ext: &str| {
        api_calls(&server)
            .iter()
            .find(|c| c["caller"] == ext)
            .and_then(|c| c["digits"].as_str().map(String::from))
            .unwrap_or_default()
    };
    let mut last = (String::new(), String::new());
    let ok = (0..100).any(|_| {
        last = (digits_of("1001"), digits_of("1002"));
        if last.0 == "25" && last.1 == "369" {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
        false
    });
    assert!(
        ok,
        "the readback application got {:?} from baresip (want \"25\", RFC 2833) and {:?} \
         from pjsua (want \"369\", INFO then RFC 2833)",
        last.0, last.1
    );
    b.hangup(&cb);
    p.hangup(&cp);
}

// ---- 5. hold ----

/// Waits for the pjsua call's media to reach `status` for the `nth` time.
fn wait_media(p: &Pjsua, call: &CallId, status: &str, nth: usize) {
    wait_until(
        &format!("{} media {status} (#{nth})", p.label()),
        EVENT_TIMEOUT,
        || {
            p.media_events(call)
                .iter()
                .filter(|e| e["status"] == status)
                .count()
                >= nth
        },
    );
}

#[test]
fn baresip_holds_pjsua_which_hears_no_tone_until_resumed() {
    let server = server("sp_hold_b");
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let (cb, cp) = connect(&mut b, &mut p);
    wait_hears(&mut p, &cp, b.tone_hz(), "baresip before the hold");
    wait_hears(&mut b, &cb, p.tone_hz(), "pjsua before the hold");
    b.hold(&cb);
    wait_media(&p, &cp, "remote_hold", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_not_hears(
        &mut p,
        &cp,
        b.tone_hz(),
        WINDOW,
        "the holder's tone while held",
    );
    b.unhold(&cb);
    wait_media(&p, &cp, "active", 2);
    wait_hears(&mut p, &cp, b.tone_hz(), "baresip after the resume");
    b.hangup(&cb);
    p.wait_closed(&cp);
}

#[test]
fn pjsua_holds_baresip_and_hears_nothing_until_it_resumes() {
    let server = server("sp_hold_p");
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let (cp, cb) = connect(&mut p, &mut b);
    wait_hears(&mut b, &cb, p.tone_hz(), "pjsua before the hold");
    wait_hears(&mut p, &cp, b.tone_hz(), "baresip before the hold");
    p.hold(&cp);
    wait_media(&p, &cp, "local_hold", 1);
    std::thread::sleep(Duration::from_millis(300));
    // The held baresip answered recvonly: nothing may come back from it.
    assert_not_hears(&mut p, &cp, b.tone_hz(), WINDOW, "the held party's tone");
    p.unhold(&cp);
    wait_media(&p, &cp, "active", 2);
    wait_hears(&mut p, &cp, b.tone_hz(), "baresip after the resume");
    p.hangup(&cp);
    b.wait_closed(&cb);
}

#[test]
fn pjsua_holds_pjsua_and_the_tone_stops_both_ways_until_resumed() {
    let server = server("sp_hold_pp");
    let mut p = pjsua(&server, "1002", &["PCMU"], MID);
    let mut q = pjsua(&server, "1003", &["PCMU"], HIGH);
    let (cp, cq) = connect(&mut p, &mut q);
    wait_hears(&mut q, &cq, p.tone_hz(), "the caller before the hold");
    wait_hears(&mut p, &cp, q.tone_hz(), "the callee before the hold");
    p.hold(&cp);
    wait_media(&q, &cq, "remote_hold", 1);
    wait_media(&p, &cp, "local_hold", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_not_hears(
        &mut q,
        &cq,
        p.tone_hz(),
        WINDOW,
        "the holder's tone while held",
    );
    assert_not_hears(&mut p, &cp, q.tone_hz(), WINDOW, "the held party's tone");
    p.unhold(&cp);
    wait_media(&q, &cq, "active", 2);
    wait_hears(&mut q, &cq, p.tone_hz(), "the caller after the resume");
    wait_hears(&mut p, &cp, q.tone_hz(), "the callee after the resume");
    p.hangup(&cp);
    q.wait_closed(&cq);
}

// ---- 6. and 7. transfers ----

/// The call of `p` that is up now (answered, not ended), waiting for one:
/// after a transfer the transferee talks either on its old call (the server
/// bridged it anew) or on a call it placed on the REFER.
fn wait_live_call(p: &dyn Phone, known: &[CallId]) -> CallId {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let mut candidates: Vec<CallId> = p.calls_placed();
        candidates.extend(known.iter().cloned());
        if let Some(c) = candidates
            .iter()
            .rev()
            .find(|c| p.established(c) && p.closed(c).is_none())
        {
            return c.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{} has no call up after the transfer (calls: {candidates:?})",
            p.label()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// After a transfer: `a` (on one of `a_calls`) and `c` (on `cc`) talk both
/// ways; then `c` hangs up and `a`'s call ends too.
fn transferred_parties_talk(a: &mut dyn Phone, a_calls: &[CallId], c: &mut dyn Phone, cc: &CallId) {
    let ca = wait_live_call(a, a_calls);
    let (ha, hc) = (a.tone_hz(), c.tone_hz());
    let at_a = wait_hears(
        a,
        &ca,
        hc,
        &format!("the transfer target {} ({hc} Hz)", c.label()),
    );
    let at_c = wait_hears(
        c,
        cc,
        ha,
        &format!("the transferee {} ({ha} Hz)", a.label()),
    );
    eprintln!(
        "after the transfer {} hears {at_a}; {} hears {at_c}",
        a.label(),
        c.label()
    );
    c.hangup(cc);
    a.wait_closed(&ca);
}

/// Checks the transferor's side: NOTIFY sipfrag 2xx and its leg over.
fn transfer_succeeded(b: &mut dyn Phone, call: &CallId) {
    match b.wait_transfer(call) {
        TransferOutcome::Succeeded => {}
        TransferOutcome::Failed(why) => panic!("{}: the transfer failed: {why}", b.label()),
    }
    wait_until(
        &format!("{}'s leg to end", b.label()),
        EVENT_TIMEOUT,
        || b.closed(call).is_some(),
    );
}

/// Every CDR is finished and answered, and one shows the transfer target
/// (the conversation after the transfer has a record of its own).
fn transfer_cdrs(server: &Server, target: &str) {
    wait_cdrs_where(server, &format!("an answered CDR with {target}"), |cdrs| {
        cdrs.iter()
            .all(|c| c.answer_at.is_some() && c.sip_code == 200)
            && cdrs
                .iter()
                .any(|c| c.callee == target || c.caller == target)
    });
}

#[test]
fn blind_transfer_by_the_callee_of_a_direct_call() {
    let server = server("sp_blind_callee");
    let mut a = baresip(&server, "1001", &["PCMU"], LOW);
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    let mut c = pjsua(&server, "1003", &["PCMU"], HIGH);
    let (ca, cb) = connect(&mut a, &mut b);
    wait_hears(&mut a, &ca, b.tone_hz(), "the callee before the transfer");
    b.blind_transfer(&cb, "1003");
    let cc = c.wait_incoming();
    c.answer(&cc);
    c.wait_established(&cc);
    transfer_succeeded(&mut b, &cb);
    transferred_parties_talk(&mut a, &[ca], &mut c, &cc);
    transfer_cdrs(&server, "1003");
}

#[test]
fn blind_transfer_by_the_caller_of_a_direct_call() {
    let server = server("sp_blind_caller");
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    let mut a = pjsua(&server, "1002", &["PCMU"], MID);
    let mut c = pjsua(&server, "1003", &["PCMU"], HIGH);
    // baresip calls, then sends its callee to 1003.
    let (cb, ca) = connect(&mut b, &mut a);
    wait_hears(&mut a, &ca, b.tone_hz(), "the caller before the transfer");
    b.blind_transfer(&cb, "1003");
    let cc = c.wait_incoming();
    c.answer(&cc);
    c.wait_established(&cc);
    transfer_succeeded(&mut b, &cb);
    transferred_parties_talk(&mut a, &[ca], &mut c, &cc);
    transfer_cdrs(&server, "1003");
}

#[test]
fn blind_transfer_after_the_dial_through_application() {
    let server = server("sp_blind_app");
    let mut a = baresip(&server, "1001", &["PCMU"], LOW);
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    let mut c = baresip(&server, "1003", &["PCMU"], HIGH);
    let ca = a.dial("9199");
    a.wait_established(&ca);
    a.send_dtmf(&ca, "1002#", DtmfMethod::Rfc2833);
    let cb = b.wait_incoming();
    b.answer(&cb);
    b.wait_established(&cb);
    let at_a = wait_hears(&mut a, &ca, b.tone_hz(), "the dialled extension");
    let at_b = wait_hears(&mut b, &cb, a.tone_hz(), "the dial-through caller");
    eprintln!("through 9199: the caller hears {at_a}; the callee hears {at_b}");
    assert_eq!(
        b.dtmf_received(&cb),
        "",
        "the dialled phone got DTMF meant for the application"
    );
    b.blind_transfer(&cb, "1003");
    let cc = c.wait_incoming();
    c.answer(&cc);
    c.wait_established(&cc);
    transfer_succeeded(&mut b, &cb);
    transferred_parties_talk(&mut a, &[ca], &mut c, &cc);
    transfer_cdrs(&server, "1003");
}

/// `b` (pjsua) talks to `a` on `cb`, consults `c` (holding `a` first if
/// `hold`, as most phones do), then transfers with Replaces; `a` and `c`
/// must talk and both of `b`'s legs end.
fn attended(
    server: &Server,
    a: &mut dyn Phone,
    ca: CallId,
    b: &mut Pjsua,
    cb: CallId,
    c: &mut dyn Phone,
    hold: bool,
) {
    wait_hears(a, &ca, b.tone_hz(), "the transferor before the transfer");
    if hold {
        b.hold(&cb);
        wait_media(b, &cb, "local_hold", 1);
    }
    let consult = b.dial(c.ext());
    let cc = c.wait_incoming();
    c.answer(&cc);
    c.wait_established(&cc);
    b.wait_established(&consult);
    wait_hears(b, &consult, c.tone_hz(), "the consulted party");
    b.attended_transfer(&cb, &consult);
    transfer_succeeded(b, &cb);
    wait_until("the consultation leg to end", EVENT_TIMEOUT, || {
        b.closed(&consult).is_some()
    });
    transferred_parties_talk(a, &[ca], c, &cc);
    transfer_cdrs(server, c.ext());
}

#[test]
fn attended_transfer_by_the_callee_of_a_direct_call() {
    let server = server("sp_attended_callee");
    let mut a = baresip(&server, "1001", &["PCMU"], LOW);
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    let mut c = pjsua(&server, "1003", &["PCMU"], HIGH);
    let (ca, cb) = connect(&mut a, &mut b);
    // No hold: baresip 1.0 stops recording a stream at a re-INVITE.
    attended(&server, &mut a, ca, &mut b, cb, &mut c, false);
}

#[test]
fn attended_transfer_by_the_caller_of_a_direct_call_with_the_transferee_held() {
    let server = server("sp_attended_caller");
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    let mut a = pjsua(&server, "1001", &["PCMU"], LOW);
    let mut c = baresip(&server, "1003", &["PCMU"], HIGH);
    let (cb, ca) = connect(&mut b, &mut a);
    // The transferee is on hold during the consultation: the transfer must
    // take it off hold.
    attended(&server, &mut a, ca, &mut b, cb, &mut c, true);
}

#[test]
fn attended_transfer_after_the_dial_through_application_with_the_transferee_held() {
    let server = server("sp_attended_app");
    let mut a = pjsua(&server, "1001", &["PCMU"], LOW);
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    let mut c = baresip(&server, "1003", &["PCMU"], HIGH);
    let ca = a.dial("9199");
    a.wait_established(&ca);
    a.send_dtmf(&ca, "1002#", DtmfMethod::Rfc2833);
    let cb = b.wait_incoming();
    b.answer(&cb);
    b.wait_established(&cb);
    // The call was bridged by an application, not routed straight: the
    // transferor's hold, consultation and Replaces must work all the same.
    attended(&server, &mut a, ca, &mut b, cb, &mut c, true);
}

// ---- 8. codec mismatch ----

/// `a` offers only a codec the server cannot transcode and `b` lacks: the
/// call must end in 488 with a Warning, or (if `b` rings and answers) carry
/// audio both ways. Never a connected silent call.
fn mismatch(server: &Server, a: &mut dyn Phone, b: &mut dyn Phone) {
    let ca = a.dial(b.ext());
    // Let the callee answer if it is rung at all, as its user would.
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let mut rung = None;
    while a.closed(&ca).is_none() && !a.established(&ca) {
        if rung.is_none() {
            if let Some(c) = b.poll_incoming() {
                b.answer(&c);
                rung = Some(c);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}'s call neither ended nor was answered",
            a.label()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    if a.established(&ca) {
        // Answered: only right if the audio flows both ways.
        if let Some(why) = a.closed(&ca) {
            panic!(
                "{}'s call was answered, then ended ({why}): answered with a codec it cannot use?",
                a.label()
            );
        }
        let cb = rung.expect("answered without ringing the callee");
        wait_hears(a, &ca, b.tone_hz(), "the callee (the call was answered)");
        wait_hears(b, &cb, a.tone_hz(), "the caller (the call was answered)");
        a.hangup(&ca);
        return;
    }
    let why = a.closed(&ca).unwrap_or_default();
    assert!(
        why.contains("488"),
        "{}'s call ended with {why:?}, want 488",
        a.label()
    );
    // The caller is told why: the server's 488 (its own, or the callee's it
    // passes on) carries a Warning.
    let sent = responses_sent(server, 488);
    assert!(
        !sent.is_empty()
            && sent.iter().all(|r| {
                r.lines()
                    .any(|l| l.to_ascii_lowercase().starts_with("warning:"))
            }),
        "{}'s call ended with {why:?}, but a 488 the server sent has no Warning header \
         (488s it sent: {sent:#?}; 488s it received: {:#?}; the callee rang: {})",
        a.label(),
        responses_received(server, 488),
        rung.is_some()
    );
    if let Some(cb) = rung {
        b.wait_closed(&cb);
    }
}

#[test]
fn an_opus_only_baresip_calling_a_pcmu_only_pjsua_gets_488_or_audio() {
    let server = server("sp_mismatch_opus");
    let mut a = baresip(&server, "1001", &["opus"], LOW);
    let mut b = pjsua(&server, "1002", &["PCMU"], MID);
    mismatch(&server, &mut a, &mut b);
}

#[test]
fn a_gsm_only_pjsua_calling_a_pcmu_only_baresip_gets_488_or_audio() {
    let server = server("sp_mismatch_gsm");
    let mut a = pjsua(&server, "1002", &["GSM"], MID);
    let mut b = baresip(&server, "1001", &["PCMU"], LOW);
    mismatch(&server, &mut a, &mut b);
}

// ---- 9. conference ----

#[test]
fn three_phones_in_the_conference_each_hear_the_other_two() {
    let server = server("sp_conference");
    let mut phones: Vec<Box<dyn Phone>> = vec![
        Box::new(baresip(&server, "1001", &["PCMU"], LOW)),
        Box::new(pjsua(&server, "1002", &["PCMU"], MID)),
        Box::new(pjsua(&server, "1003", &["G722", "PCMU"], HIGH)),
    ];
    let calls: Vec<CallId> = phones
        .iter_mut()
        .map(|p| {
            let c = p.dial("9300");
            p.wait_established(&c);
            c
        })
        .collect();
    let tones: Vec<f64> = phones.iter().map(|p| p.tone_hz()).collect();
    for (i, p) in phones.iter_mut().enumerate() {
        let others: Vec<f64> = tones
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, &t)| t)
            .collect();
        let levels = wait_hears_all(p.as_mut(), &calls[i], &others, "the other two");
        let own = level_at(&record(p.as_mut(), &calls[i], WINDOW), tones[i]);
        eprintln!(
            "{} hears {others:?} Hz at {levels:.1?} dBFS, its own tone at {own:.1} dBFS",
            p.label()
        );
        // A conference gives each member the others' voices, not its own.
        assert!(
            own < ABSENT_DBFS,
            "{} hears its own tone back from the conference at {own:.1} dBFS",
            p.label()
        );
    }
    for (p, c) in phones.iter_mut().zip(&calls) {
        p.hangup(c);
    }
    settled_cdrs(&server, 3);
}
