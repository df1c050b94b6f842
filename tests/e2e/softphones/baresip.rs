//! A baresip 1.0 phone: one `baresip -f DIR` process per phone, its config
//! and accounts written under the test's artifacts, driven over `ctrl_tcp`
//! (netstring JSON commands, events back on the same connection).
//!
//! Audio: the source is a tone WAV played by `aufile`; what the phone
//! receives is recorded by the `sndfile` filter (`dump-TIME-dec.wav` per audio
//! stream, at the codec's rate). The source runs at the codec's rate too:
//! baresip 1.0's resampler loses 15 dB at 1400 Hz (measured). baresip 1.0
//! limits that shape the scenarios:
//! - `sndfile` records only the frames decoded, so a capture has no wall-clock
//!   timeline (nothing is written while no RTP arrives);
//! - after a re-INVITE that updates the audio stream (hold, resume) it resets
//!   the decoder's filter chain without setting it up again
//!   (`audio_decoder_set`: `list_flush(&rx->filtl)`, then `aufilt_setup`
//!   returns early because the encoder's chain still exists), so the
//!   recording of that stream stops there: scenarios measure what baresip
//!   receives only before such a re-INVITE, or on a new call;
//! - its G.722 is 6 dB off pjsua's (and the server's), measured on a G.722
//!   call between the two without transcoding;
//! - it sends DTMF only as RFC 2833 (`sndcode`) and receives RFC 2833 and SIP
//!   INFO; it cannot start an attended transfer.

use super::{CallId, Capture, DtmfMethod, Events, Phone, TransferOutcome, EVENT_TIMEOUT};
use crate::harness::{free_tcp_port, free_udp_tcp_port, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where Debian's `baresip-core` puts the modules.
const MODULES: &str = "/usr/lib/baresip/modules";

/// The modules the driver needs (tests/run installs `baresip-core`).
const NEEDED: [&str; 5] = [
    "ctrl_tcp.so",
    "aufile.so",
    "sndfile.so",
    "g711.so",
    "menu.so",
];

/// How to set a baresip phone up.
#[derive(Clone, Debug)]
pub struct BaresipOpts {
    /// Codecs offered and accepted (baresip names: PCMU, PCMA, G722, opus),
    /// most preferred first.
    pub codecs: Vec<&'static str>,
    /// The tone it sends on every call.
    pub tone_hz: u32,
}

/// A running baresip phone, killed when dropped (its log tail printed if the
/// test failed).
pub struct Baresip {
    ext: String,
    dir: PathBuf,
    child: Option<Child>,
    ctrl: TcpStream,
    events: Arc<Events>,
    next_token: AtomicU64,
    /// Incoming calls already handed out by `wait_incoming`.
    taken: Vec<String>,
    server_sip: String,
    tone_hz: u32,
}

fn baresip_binary() -> String {
    std::env::var("SWITCHBOARD_BARESIP").unwrap_or_else(|_| "baresip".into())
}

fn modules_dir() -> String {
    std::env::var("SWITCHBOARD_BARESIP_MODULES").unwrap_or_else(|_| MODULES.into())
}

/// Panics with the way out when baresip or one of its modules is missing:
/// a missing client is a failure, never a skipped test.
fn check_installed() {
    let bin = baresip_binary();
    let found = Command::new(&bin)
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "baresip ({bin}) is not installed: run tests/run, which installs the Debian \
         package baresip-core (or set SWITCHBOARD_BARESIP)"
    );
    let dir = modules_dir();
    for m in NEEDED {
        assert!(
            std::path::Path::new(&dir).join(m).exists(),
            "baresip module {dir}/{m} is missing: run tests/run, which installs the Debian \
             package baresip-core (or set SWITCHBOARD_BARESIP_MODULES)"
        );
    }
}

impl Baresip {
    /// Starts a baresip phone registered as `ext` (password `password`) on
    /// `server`, and waits until it is registered.
    pub fn start(server: &Server, ext: &str, password: &str, opts: BaresipOpts) -> Baresip {
        let phone = Baresip::spawn(server, ext, password, opts);
        phone.wait_registered();
        phone
    }

    /// Starts the phone without waiting for its registration.
    pub fn spawn(server: &Server, ext: &str, password: &str, opts: BaresipOpts) -> Baresip {
        check_installed();
        let dir = super::phone_dir(server, &format!("baresip-{ext}"));
        // The source runs at the first codec's rate: no resampling on the
        // way out (baresip 1.0's resampler loses 15 dB at 1400 Hz).
        let srate = match opts.codecs.first().map(|c| c.to_ascii_uppercase()) {
            Some(c) if c == "G722" => 16_000,
            Some(c) if c == "OPUS" => 48_000,
            _ => 8_000,
        };
        let tone =
            super::audio::tone_file(&super::artifacts_dir().join("tones"), opts.tone_hz, srate);
        let sip_port = free_udp_tcp_port();
        let ctrl_port = free_tcp_port();
        // Two RTP/RTCP pairs: a phone may hold two calls (consultation).
        let rtp = server.ports.media_port(super::next_media_slot());
        let config = format!(
            "poll_method\t\tepoll\n\
             net_interface\t\t127.0.0.1\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             sip_transports\t\tudp\n\
             audio_source\t\taufile,{tone}\n\
             ausrc_srate\t\t{srate}\n\
             auplay_srate\t\t{srate}\n\
             ausrc_channels\t\t1\n\
             auplay_channels\t\t1\n\
             rtp_ports\t\t{rtp}-{rtp_hi}\n\
             rtp_timeout\t\t0\n\
             module_path\t\t{modules}\n\
             module\t\t\tg711.so\n\
             module\t\t\tg722.so\n\
             module\t\t\topus.so\n\
             module\t\t\taufile.so\n\
             module\t\t\tsndfile.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n\
             snd_path\t\t{dir}\n",
            tone = tone.display(),
            rtp_hi = rtp + 3,
            modules = modules_dir(),
            dir = dir.display(),
        );
        std::fs::write(dir.join("config"), config).expect("write baresip config");
        let server_sip = format!("{}", server.sip_addr());
        // The account's codecs need the rate and channels baresip lists them
        // with, or it ignores the restriction (and offers everything).
        let codecs: Vec<&str> = opts
            .codecs
            .iter()
            .map(|c| match c.to_ascii_uppercase().as_str() {
                "PCMU" => "PCMU/8000/1",
                "PCMA" => "PCMA/8000/1",
                "G722" => "G722/16000/1",
                "OPUS" => "opus/48000/2",
                _ => panic!("no baresip codec {c} in this driver"),
            })
            .collect();
        let accounts = format!(
            "<sip:{ext}@{server_sip};transport=udp>;auth_pass={password};audio_codecs={};\
             regint=600;answermode=manual\n",
            codecs.join(",")
        );
        std::fs::write(dir.join("accounts"), accounts).expect("write baresip accounts");
        let log = std::fs::File::create(dir.join("log")).expect("create baresip log");
        let child = Command::new(baresip_binary())
            .arg("-f")
            .arg(&dir)
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn baresip");
        let mut child = Some(child);
        // ctrl_tcp listens once the modules are loaded.
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let ctrl = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", ctrl_port)) {
                break s;
            }
            if let Some(Ok(Some(status))) = child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "baresip {ext} exited at start ({status}):\n{}",
                    super::log_tail(&dir.join("log"), 40)
                );
            }
            if Instant::now() > deadline {
                if let Some(mut c) = child.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                panic!(
                    "baresip {ext}: ctrl_tcp on port {ctrl_port} never answered:\n{}",
                    super::log_tail(&dir.join("log"), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let events = Arc::new(Events::default());
        let reader = ctrl.try_clone().expect("clone ctrl socket");
        let sink = events.clone();
        std::thread::spawn(move || read_netstrings(reader, &sink));
        Baresip {
            ext: ext.into(),
            dir,
            child,
            ctrl,
            events,
            next_token: AtomicU64::new(1),
            taken: Vec::new(),
            server_sip,
            tone_hz: opts.tone_hz,
        }
    }

    /// Waits until the account is registered: REGISTER_OK, or `reginfo`
    /// saying OK (the first registration may finish before the ctrl_tcp
    /// connection exists, and its event is then lost); a REGISTER_FAIL or an
    /// ERR fails at once, with the reason.
    pub fn wait_registered(&self) {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        if let Some(l) = log.lines().find(|l| l.contains("codec not found")) {
            self.fail(&format!("the account's codec list was refused: {l}"));
        }
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            let evs = self.events.snapshot();
            if let Some(e) = evs.iter().find(|e| e["type"] == "REGISTER_FAIL") {
                self.fail(&format!("registration failed: {}", e["param"]));
            }
            if evs.iter().any(|e| e["type"] == "REGISTER_OK") {
                return;
            }
            let info = self.command("reginfo", "");
            if info.contains("OK ") {
                return;
            }
            if info.contains("ERR") {
                self.fail(&format!("registration failed: {info}"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("never registered: {info}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends one ctrl_tcp command and returns its response's data.
    fn command(&self, command: &str, params: &str) -> String {
        let token = format!("t{}", self.next_token.fetch_add(1, Ordering::SeqCst));
        let body = json!({"command": command, "params": params, "token": token}).to_string();
        let mut ctrl = &self.ctrl;
        ctrl.write_all(format!("{}:{},", body.len(), body).as_bytes())
            .unwrap_or_else(|e| self.fail(&format!("ctrl_tcp write: {e}")));
        let resp = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| e["response"] == true && e["token"] == token.as_str())
                .cloned()
        });
        match resp {
            Some(r) if r["ok"] == true => r["data"].as_str().unwrap_or("").to_string(),
            Some(r) => self.fail(&format!("command {command} {params}: {r}")),
            None => self.fail(&format!("command {command} {params}: no response")),
        }
    }

    /// Makes `call` the current call: menu commands act on the current one.
    fn select(&self, call: &CallId) {
        self.command("callfind", &call.0);
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}: {what}\n---- baresip log {} (tail) ----\n{}",
            self.label(),
            self.dir.join("log").display(),
            self.log_tail(40)
        )
    }

    /// The call ids that have appeared in events so far.
    fn known_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .events
            .snapshot()
            .iter()
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        ids.dedup();
        ids
    }

    /// The newest decoder dump (`dump-TIME-dec.wav`) and its size.
    fn newest_dec_dump(&self) -> Option<(PathBuf, u64)> {
        let mut dumps: Vec<(std::time::SystemTime, PathBuf, u64)> = std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("dump-") && n.ends_with("-dec.wav")
            })
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, e.path(), m.len()))
            })
            .collect();
        dumps.sort();
        dumps.pop().map(|(_, p, len)| (p, len))
    }

    /// True once the phone's log shows the audio stream updated by a
    /// re-INVITE, after which baresip 1.0 records nothing more of it.
    fn stream_updated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("log"))
            .map(|l| l.contains("stream: update 'audio'"))
            .unwrap_or(false)
    }
}

/// Reads netstrings (`LEN:JSON,`) until the connection closes.
fn read_netstrings(mut s: TcpStream, sink: &Events) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        // Bounded: each round consumes one whole netstring or stops.
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let Some(len) = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|l| l.trim().parse::<usize>().ok())
            else {
                // Out of step: drop everything and wait for the next message.
                buf.clear();
                break;
            };
            if buf.len() < colon + 1 + len + 1 {
                break;
            }
            let body = buf[colon + 1..colon + 1 + len].to_vec();
            buf.drain(..colon + 1 + len + 1);
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                sink.push(v);
            }
        }
    }
}

impl Phone for Baresip {
    fn label(&self) -> String {
        format!("baresip {}", self.ext)
    }

    fn ext(&self) -> &str {
        &self.ext
    }

    fn tone_hz(&self) -> f64 {
        f64::from(self.tone_hz)
    }

    fn uri(&self, number: &str) -> String {
        format!("sip:{number}@{}", self.server_sip)
    }

    fn dial(&mut self, number: &str) -> CallId {
        let known = self.known_ids();
        self.command("dial", number);
        let id = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .filter(|e| e["direction"] == "outgoing")
                .filter_map(|e| e["id"].as_str())
                .find(|id| !known.iter().any(|k| k == id))
                .map(String::from)
        });
        CallId(id.unwrap_or_else(|| self.fail(&format!("dial {number}: no call appeared"))))
    }

    fn poll_incoming(&mut self) -> Option<CallId> {
        let id = self
            .events
            .snapshot()
            .iter()
            .filter(|e| e["type"] == "CALL_INCOMING")
            .filter_map(|e| e["id"].as_str())
            .find(|id| !self.taken.iter().any(|t| t == id))
            .map(String::from)?;
        self.taken.push(id.clone());
        Some(CallId(id))
    }

    fn answer(&mut self, call: &CallId) {
        self.select(call);
        self.command("accept", "");
    }

    fn wait_established(&mut self, call: &CallId) {
        let ev = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| {
                    e["id"] == call.0.as_str()
                        && (e["type"] == "CALL_ESTABLISHED" || e["type"] == "CALL_CLOSED")
                })
                .cloned()
        });
        match ev {
            Some(e) if e["type"] == "CALL_ESTABLISHED" => {}
            Some(e) => self.fail(&format!("call {} closed: {}", call.0, e["param"])),
            None => self.fail(&format!("call {} never established", call.0)),
        }
    }

    fn closed(&self, call: &CallId) -> Option<String> {
        self.events
            .snapshot()
            .iter()
            .find(|e| e["id"] == call.0.as_str() && e["type"] == "CALL_CLOSED")
            .map(|e| e["param"].as_str().unwrap_or("").to_string())
    }

    fn wait_closed(&mut self, call: &CallId) -> String {
        let r = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| e["id"] == call.0.as_str() && e["type"] == "CALL_CLOSED")
                .map(|e| e["param"].as_str().unwrap_or("").to_string())
        });
        r.unwrap_or_else(|| self.fail(&format!("call {} never closed", call.0)))
    }

    fn hangup(&mut self, call: &CallId) {
        if self.closed(call).is_none() {
            self.select(call);
            self.command("hangup", "");
        }
    }

    fn send_dtmf(&mut self, call: &CallId, digits: &str, method: DtmfMethod) {
        assert!(
            method == DtmfMethod::Rfc2833,
            "baresip 1.0 sends DTMF as RFC 2833 only"
        );
        self.select(call);
        for d in digits.chars() {
            self.command("sndcode", &d.to_string());
            // One event per key: let each end before the next starts.
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn dtmf_received(&self, call: &CallId) -> String {
        self.events
            .snapshot()
            .iter()
            .filter(|e| e["id"] == call.0.as_str() && e["type"] == "CALL_DTMF_START")
            .filter_map(|e| e["param"].as_str().map(String::from))
            .collect()
    }

    fn hold(&mut self, call: &CallId) {
        self.select(call);
        self.command("hold", "");
    }

    fn unhold(&mut self, call: &CallId) {
        self.select(call);
        self.command("resume", "");
    }

    fn blind_transfer(&mut self, call: &CallId, number: &str) {
        let uri = self.uri(number);
        self.select(call);
        self.command("transfer", &uri);
    }

    fn wait_transfer(&mut self, call: &CallId) -> TransferOutcome {
        // baresip ends the call with "Call transfered" on a 2xx sipfrag, or
        // reports TRANSFER_FAILED with the final status.
        let ev = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| {
                    e["id"] == call.0.as_str()
                        && (e["type"] == "TRANSFER_FAILED" || e["type"] == "CALL_CLOSED")
                })
                .cloned()
        });
        match ev {
            Some(e) if e["type"] == "CALL_CLOSED" => {
                let p = e["param"].as_str().unwrap_or("").to_string();
                if p.contains("transfered") {
                    TransferOutcome::Succeeded
                } else {
                    TransferOutcome::Failed(format!("call closed: {p}"))
                }
            }
            Some(e) => TransferOutcome::Failed(format!("TRANSFER_FAILED {}", e["param"])),
            None => TransferOutcome::Failed("no transfer outcome".into()),
        }
    }

    fn calls_placed(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = self
            .events
            .snapshot()
            .iter()
            .filter(|e| e["direction"] == "outgoing")
            .filter_map(|e| e["id"].as_str().map(|s| CallId(s.into())))
            .collect();
        ids.dedup();
        ids
    }

    fn established(&self, call: &CallId) -> bool {
        self.events
            .snapshot()
            .iter()
            .any(|e| e["id"] == call.0.as_str() && e["type"] == "CALL_ESTABLISHED")
    }

    fn start_capture(&mut self, call: &CallId) -> Capture {
        // The stream's dump appears when its audio starts.
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some((path, len)) = self.newest_dec_dump() {
                return Capture {
                    path,
                    offset: len,
                    call: call.clone(),
                };
            }
            if Instant::now() > deadline {
                self.fail("no sndfile dump of received audio appeared");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn finish_capture(&mut self, cap: Capture) -> super::audio::Wav {
        let wav = super::audio::read_wav_from(&cap.path, cap.offset)
            .unwrap_or_else(|e| self.fail(&format!("read {}: {e}", cap.path.display())));
        if wav.samples.is_empty() && self.stream_updated() {
            eprintln!(
                "{}: nothing recorded since a re-INVITE updated the stream: baresip 1.0 stops \
                 its sndfile recording there (see baresip.rs)",
                self.label()
            );
        }
        wav
    }

    fn log_tail(&self, lines: usize) -> String {
        // The menu's call status line repeats many times a second: leave it out.
        let text = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .flat_map(|l| l.split('\r'))
            .filter(|l| !l.contains("(bit/s)") && !l.trim().is_empty())
            .collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- {} log {} (last 40 lines) ----\n{}",
                self.label(),
                self.dir.join("log").display(),
                self.log_tail(40)
            );
        }
    }
}
