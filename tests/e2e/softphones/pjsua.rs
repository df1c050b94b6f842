//! A pjsua2 phone: `tests/softphones/pjsua_agent.py` run by the Python of a
//! venv that has PyPI's `pjsua2-python`, driven by JSON lines on its stdin,
//! its events read from its stdout (the agent's docstring lists both).
//!
//! The Python is `$SWITCHBOARD_PJSUA_PYTHON` when set (tests/run sets it),
//! else `tests/artifacts/pjsua-venv/bin/python`, the venv tests/run creates.
//! Audio: the agent sends a tone WAV on every call and records what a call
//! receives on demand (`record`/`stop_record`), from pjsua's conference
//! bridge on the null sound device, so a recording follows the wall clock.

use super::{CallId, Capture, DtmfMethod, Events, Phone, TransferOutcome, EVENT_TIMEOUT};
use crate::harness::{free_udp_tcp_port, root, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to set a pjsua phone up.
#[derive(Clone, Debug)]
pub struct PjsuaOpts {
    /// Codecs offered and accepted (pjsua names: PCMU, PCMA, G722, GSM,
    /// speex, iLBC), most preferred first; the others are disabled.
    pub codecs: Vec<&'static str>,
    /// The tone it sends on every call.
    pub tone_hz: u32,
    /// SIP over TCP instead of UDP: pjsua then registers with RFC 5626
    /// `reg-id` and `+sip.instance` Contact parameters.
    pub tcp: bool,
    /// The `+sip.instance` value (`<urn:uuid:...>`); pjsua makes one if empty.
    pub instance_id: String,
    /// SIP over TLS to this address (the server's `sip.tls_port`), not
    /// UDP/TCP to its SIP port.
    pub tls: Option<SocketAddr>,
    /// SDES-SRTP: "off", "optional" or "mandatory" (offers RTP/SAVP and
    /// refuses plain RTP).
    pub srtp: &'static str,
    /// A carrier: no registration, a TLS listener with this certificate
    /// and key (PEM files), calls dialled to this address (our trunk side).
    pub carrier: Option<Carrier>,
}

/// How a pjsua carrier is set up (see [`PjsuaOpts::carrier`]).
#[derive(Clone, Debug)]
pub struct Carrier {
    /// PEM certificate of its TLS listener.
    pub cert: PathBuf,
    /// PEM key of its TLS listener.
    pub key: PathBuf,
    /// Where its calls go (our `sip.trunk_tls_port`).
    pub dial_to: SocketAddr,
}

impl Default for PjsuaOpts {
    fn default() -> Self {
        PjsuaOpts {
            codecs: vec!["PCMU"],
            tone_hz: 1000,
            tcp: false,
            instance_id: String::new(),
            tls: None,
            srtp: "off",
            carrier: None,
        }
    }
}

/// A running pjsua agent, killed when dropped (its log tail printed if the
/// test failed).
pub struct Pjsua {
    ext: String,
    dir: PathBuf,
    child: Option<Child>,
    stdin: ChildStdin,
    events: Arc<Events>,
    next_id: AtomicU64,
    taken: Vec<String>,
    server_sip: String,
    tone_hz: u32,
    recordings: AtomicU64,
    sip_port: u16,
}

/// The Python that has pjsua2 (see the module comment).
pub fn python() -> PathBuf {
    match std::env::var_os("SWITCHBOARD_PJSUA_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root().join("tests/artifacts/pjsua-venv/bin/python"),
    }
}

impl Pjsua {
    /// Starts a pjsua phone registered as `ext` on `server`, and waits until
    /// it is registered.
    pub fn start(server: &Server, ext: &str, password: &str, opts: PjsuaOpts) -> Pjsua {
        let phone = Pjsua::spawn(server, ext, password, opts);
        let reg = phone.wait_registration();
        if reg["code"] != 200 {
            phone.fail(&format!("registration failed: {reg}"));
        }
        phone
    }

    /// Starts the agent without waiting for its registration.
    pub fn spawn(server: &Server, ext: &str, password: &str, opts: PjsuaOpts) -> Pjsua {
        let py = python();
        assert!(
            py.exists(),
            "no Python with pjsua2 at {}: run tests/run, which creates the venv \
             tests/artifacts/pjsua-venv with PyPI's pjsua2-python (or set \
             SWITCHBOARD_PJSUA_PYTHON)",
            py.display()
        );
        let dir = super::phone_dir(server, &format!("pjsua-{ext}"));
        let tone = super::audio::tone_file(
            &super::artifacts_dir().join("tones"),
            opts.tone_hz,
            super::audio::TONE_RATE,
        );
        let sip_port = free_udp_tcp_port();
        let rtp = server.ports.media_port(super::next_media_slot());
        let stderr = std::fs::File::create(dir.join("agent.stderr")).expect("create stderr file");
        let registrar = opts.tls.unwrap_or_else(|| server.sip_addr());
        let transport = match (opts.tls.is_some() || opts.carrier.is_some(), opts.tcp) {
            (true, _) => "tls",
            (false, true) => "tcp",
            (false, false) => "udp",
        };
        let mut cmd = Command::new(&py);
        cmd.arg(root().join("tests/softphones/pjsua_agent.py"))
            .args(["--server", &registrar.to_string()])
            .args(["--user", ext, "--password", password])
            .args(["--sip-port", &sip_port.to_string()])
            .args(["--rtp-port", &rtp.to_string()])
            .args(["--codecs", &opts.codecs.join(",")])
            .arg("--tone")
            .arg(&tone)
            .arg("--log")
            .arg(dir.join("pjsua.log"))
            .args(["--transport", transport])
            .args(["--srtp", opts.srtp]);
        if let Some(c) = &opts.carrier {
            cmd.arg("--no-register")
                .arg("--tls-cert")
                .arg(&c.cert)
                .arg("--tls-key")
                .arg(&c.key);
        }
        if !opts.instance_id.is_empty() {
            cmd.args(["--instance-id", &opts.instance_id]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}): run tests/run, which creates the pjsua2 venv",
                    py.display()
                )
            });
        let stdin = child.stdin.take().expect("agent stdin");
        let stdout = child.stdout.take().expect("agent stdout");
        let events = Arc::new(Events::default());
        let sink = events.clone();
        let events_log = dir.join("events.jsonl");
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(events_log).ok();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.push(v);
                }
            }
        });
        let phone = Pjsua {
            ext: ext.into(),
            dir,
            child: Some(child),
            stdin,
            events,
            next_id: AtomicU64::new(1),
            taken: Vec::new(),
            server_sip: match &opts.carrier {
                Some(c) => format!("{};transport=tls", c.dial_to),
                None => registrar.to_string(),
            },
            tone_hz: opts.tone_hz,
            recordings: AtomicU64::new(0),
            sip_port,
        };
        if phone
            .events
            .wait_for(EVENT_TIMEOUT, |evs| {
                evs.iter().find(|e| e["event"] == "ready").map(|_| ())
            })
            .is_none()
        {
            phone.fail(&format!(
                "the agent never became ready (is pjsua2 installed in {}? run tests/run)",
                py.display()
            ));
        }
        phone
    }

    /// The port its SIP transport listens on (a carrier's TLS listener).
    pub fn sip_port(&self) -> u16 {
        self.sip_port
    }

    /// The first final registration event: {"code", "reason", "contact"...}.
    pub fn wait_registration(&self) -> Value {
        self.events
            .wait_for(EVENT_TIMEOUT, |evs| {
                evs.iter()
                    .find(|e| e["event"] == "reg" && e["code"].as_u64().unwrap_or(0) >= 200)
                    .cloned()
            })
            .unwrap_or_else(|| self.fail("no answer to REGISTER"))
    }

    /// Sends a command and waits for its reply.
    fn command(&self, mut cmd: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        cmd["id"] = json!(id);
        let mut stdin = &self.stdin;
        writeln!(stdin, "{cmd}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| self.fail(&format!("agent stdin: {e}")));
        let reply = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter().find(|e| e["reply"] == id).cloned()
        });
        match reply {
            Some(r) if r["ok"] == true => r,
            Some(r) => self.fail(&format!("command {cmd}: {}", r["error"])),
            None => self.fail(&format!("command {cmd}: no reply")),
        }
    }

    fn call_no(&self, call: &CallId) -> u64 {
        call.0
            .parse()
            .unwrap_or_else(|_| self.fail(&format!("bad call id {}", call.0)))
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}: {what}\n---- pjsua log {} (tail) ----\n{}",
            self.label(),
            self.dir.join("pjsua.log").display(),
            self.log_tail(40)
        )
    }

    /// The events of `call` so far.
    fn call_events(&self, call: &CallId) -> Vec<Value> {
        let n = self.call_no(call);
        self.events
            .snapshot()
            .into_iter()
            .filter(|e| e["call"] == n)
            .collect()
    }

    /// Sets up an attended transfer: REFER on `call` with Replaces naming
    /// `consult` (pjsua's `xferReplaces`).
    pub fn attended_transfer(&mut self, call: &CallId, consult: &CallId) {
        let (c, d) = (self.call_no(call), self.call_no(consult));
        self.command(json!({"cmd": "xfer_replaces", "call": c, "dest_call": d}));
    }

    /// The media events of `call` (status, direction, codec), oldest first.
    pub fn media_events(&self, call: &CallId) -> Vec<Value> {
        self.call_events(call)
            .into_iter()
            .filter(|e| e["event"] == "media")
            .collect()
    }
}

impl Phone for Pjsua {
    fn label(&self) -> String {
        format!("pjsua {}", self.ext)
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
        let r = self.command(json!({"cmd": "call", "to": self.uri(number)}));
        CallId(r["call"].to_string())
    }

    fn poll_incoming(&mut self) -> Option<CallId> {
        let id = self
            .events
            .snapshot()
            .iter()
            .filter(|e| e["event"] == "incoming")
            .map(|e| e["call"].to_string())
            .find(|id| !self.taken.contains(id))?;
        self.taken.push(id.clone());
        Some(CallId(id))
    }

    fn answer(&mut self, call: &CallId) {
        let c = self.call_no(call);
        self.command(json!({"cmd": "answer", "call": c}));
    }

    fn wait_established(&mut self, call: &CallId) {
        let n = self.call_no(call);
        let ev = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| {
                    e["event"] == "state"
                        && e["call"] == n
                        && (e["state"] == "CONFIRMED" || e["state"] == "DISCONNECTED")
                })
                .cloned()
        });
        match ev {
            Some(e) if e["state"] == "CONFIRMED" => {}
            Some(e) => self.fail(&format!(
                "call {n} ended: {} {}",
                e["code"],
                e["reason"].as_str().unwrap_or("")
            )),
            None => self.fail(&format!("call {n} never confirmed")),
        }
    }

    fn closed(&self, call: &CallId) -> Option<String> {
        self.call_events(call)
            .iter()
            .find(|e| e["event"] == "state" && e["state"] == "DISCONNECTED")
            .map(|e| format!("{} {}", e["code"], e["reason"].as_str().unwrap_or("")))
    }

    fn wait_closed(&mut self, call: &CallId) -> String {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some(r) = self.closed(call) {
                return r;
            }
            if Instant::now() > deadline {
                self.fail(&format!("call {} never ended", call.0));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn hangup(&mut self, call: &CallId) {
        if self.closed(call).is_none() {
            let c = self.call_no(call);
            self.command(json!({"cmd": "hangup", "call": c}));
        }
    }

    fn send_dtmf(&mut self, call: &CallId, digits: &str, method: DtmfMethod) {
        let c = self.call_no(call);
        let m = match method {
            DtmfMethod::Rfc2833 => "rfc2833",
            DtmfMethod::Info => "info",
        };
        for d in digits.chars() {
            self.command(json!({"cmd": "dtmf", "call": c, "digits": d.to_string(), "method": m}));
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn dtmf_received(&self, call: &CallId) -> String {
        self.call_events(call)
            .iter()
            .filter(|e| e["event"] == "dtmf")
            .filter_map(|e| e["digit"].as_str().map(String::from))
            .collect()
    }

    fn hold(&mut self, call: &CallId) {
        let c = self.call_no(call);
        self.command(json!({"cmd": "hold", "call": c}));
    }

    fn unhold(&mut self, call: &CallId) {
        let c = self.call_no(call);
        self.command(json!({"cmd": "unhold", "call": c}));
    }

    fn blind_transfer(&mut self, call: &CallId, number: &str) {
        let c = self.call_no(call);
        let to = self.uri(number);
        self.command(json!({"cmd": "xfer", "call": c, "to": to}));
    }

    fn wait_transfer(&mut self, call: &CallId) -> TransferOutcome {
        // The NOTIFY sipfrag's final status; pjsua's own application hangs
        // up on a 2xx (so does the agent), and the server may end the leg.
        let n = self.call_no(call);
        let ev = self.events.wait_for(EVENT_TIMEOUT, |evs| {
            evs.iter()
                .find(|e| {
                    e["event"] == "xfer_status"
                        && e["call"] == n
                        && (e["final"] == true || e["code"].as_u64().unwrap_or(0) >= 200)
                })
                .cloned()
        });
        match ev {
            Some(e) if e["code"].as_u64().unwrap_or(0) / 100 == 2 => {
                // Fails (with the log) if the leg never ends.
                self.wait_closed(call);
                TransferOutcome::Succeeded
            }
            Some(e) => TransferOutcome::Failed(format!(
                "NOTIFY sipfrag {} {}",
                e["code"],
                e["reason"].as_str().unwrap_or("")
            )),
            None => {
                let why = self.closed(call).map_or_else(
                    || "no NOTIFY with a final status".to_string(),
                    |c| format!("no final NOTIFY; the call ended: {c}"),
                );
                TransferOutcome::Failed(why)
            }
        }
    }

    fn calls_placed(&self) -> Vec<CallId> {
        let mut ids = Vec::new();
        for e in self.events.snapshot() {
            if e["event"] == "state" && e["state"] == "CALLING" {
                let id = CallId(e["call"].to_string());
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    fn established(&self, call: &CallId) -> bool {
        self.call_events(call)
            .iter()
            .any(|e| e["event"] == "state" && e["state"] == "CONFIRMED")
    }

    fn start_capture(&mut self, call: &CallId) -> Capture {
        let k = self.recordings.fetch_add(1, Ordering::SeqCst);
        let path = self.dir.join(format!("rec-{k:03}-call{}.wav", call.0));
        let c = self.call_no(call);
        self.command(json!({"cmd": "record", "call": c, "file": path.display().to_string()}));
        Capture {
            path,
            offset: 0,
            call: call.clone(),
        }
    }

    fn finish_capture(&mut self, cap: Capture) -> super::audio::Wav {
        // Stopping writes the WAV header; a call that ended has stopped it.
        let c = self.call_no(&cap.call);
        self.command(json!({"cmd": "stop_record", "call": c}));
        super::audio::read_wav_from(&cap.path, 0)
            .unwrap_or_else(|e| self.fail(&format!("read {}: {e}", cap.path.display())))
    }

    fn log_tail(&self, lines: usize) -> String {
        let mut out = super::log_tail(&self.dir.join("pjsua.log"), lines);
        let err = super::log_tail(&self.dir.join("agent.stderr"), 10);
        if !err.trim().is_empty() {
            out.push_str("\n---- agent stderr ----\n");
            out.push_str(&err);
        }
        out
    }
}

impl Drop for Pjsua {
    fn drop(&mut self) {
        // The tail before the agent logs its shutdown.
        let tail = std::thread::panicking().then(|| self.log_tail(40));
        if let Some(mut c) = self.child.take() {
            let _ = writeln!(self.stdin, "{}", json!({"cmd": "quit", "id": 0}));
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(tail) = tail {
            eprintln!(
                "---- {} log {} (last 40 lines) ----\n{tail}",
                self.label(),
                self.dir.join("pjsua.log").display(),
            );
        }
    }
}
