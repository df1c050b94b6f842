//! Runs SIPp 3.6 scenarios from tests/scenarios/ and reads back how many calls
//! succeeded or failed (from the `-trace_stat` CSV) and SIPp's exit code
//! (0: every call succeeded, 1: at least one failed, 97/99: stopped early or no
//! call processed, 254/255: fatal error such as a scenario or bind error).
//!
//! Every run is bounded: `-m` calls, `-timeout` (SIPp's own global timeout, which
//! counts as a failure), and a kill deadline of our own on top. A SIPp process is
//! killed when its handle is dropped, so a panicking test leaves none behind.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{artifacts, root};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The SIPp binary (Debian package sip-tester).
pub fn sipp_binary() -> String {
    std::env::var("SIPP").unwrap_or_else(|_| "sipp".into())
}

/// Absolute path of tests/scenarios/`name`.xml.
pub fn scenario(name: &str) -> PathBuf {
    root().join("tests/scenarios").join(format!("{name}.xml"))
}

/// Options of one SIPp run.
#[derive(Clone, Debug)]
pub struct Sipp {
    name: String,
    scenario: String,
    remote: Option<SocketAddr>,
    local_ip: String,
    local_port: u16,
    /// The test named the port (`port`): a bind failure is then the test's own.
    port_fixed: bool,
    media_ip: String,
    media_port: Option<u16>,
    users: Vec<(String, String)>,
    service: Option<String>,
    calls: u32,
    rate: Option<f64>,
    pause_ms: Option<u64>,
    keys: Vec<(String, String)>,
    rtp_echo: bool,
    timeout: Duration,
    extra: Vec<String>,
}

impl Sipp {
    /// A run of tests/scenarios/`scenario`.xml; `name` tags its trace files.
    /// Defaults: one call, SIP and media on 127.0.0.1, a free local port, 60 s timeout.
    pub fn new(name: &str, scenario: &str) -> Sipp {
        Sipp {
            name: name.into(),
            scenario: scenario.into(),
            remote: None,
            local_ip: "127.0.0.1".into(),
            // Free on TCP as well: `-t t1` runs bind the same number over TCP.
            local_port: crate::harness::free_udp_tcp_port(),
            port_fixed: false,
            media_ip: "127.0.0.1".into(),
            media_port: None,
            users: Vec::new(),
            service: None,
            calls: 1,
            rate: None,
            pause_ms: None,
            keys: Vec::new(),
            rtp_echo: false,
            timeout: Duration::from_secs(60),
            extra: Vec::new(),
        }
    }

    /// Where requests go (uac scenarios); a uas scenario leaves it unset.
    pub fn remote(mut self, addr: SocketAddr) -> Self {
        self.remote = Some(addr);
        self
    }

    /// Local SIP address (`-i`), for tests that need a source outside an ACL.
    pub fn local_ip(mut self, ip: &str) -> Self {
        self.local_ip = ip.into();
        self
    }

    /// Local SIP port (`-p`): a registered callee's uas must listen where it registered from.
    pub fn port(mut self, port: u16) -> Self {
        self.local_port = port;
        self.port_fixed = true;
        self
    }

    /// Media address and port for the SDP (`-mi`, `-mp`).
    pub fn media(mut self, ip: &str, port: u16) -> Self {
        self.media_ip = ip.into();
        self.media_port = Some(port);
        self
    }

    /// Users injected with `-inf` (field0 = user, field1 = password), used in order.
    pub fn users(mut self, users: &[(&str, &str)]) -> Self {
        self.users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        self
    }

    /// The dialled number (`-s`).
    pub fn service(mut self, number: &str) -> Self {
        self.service = Some(number.into());
        self
    }

    /// Number of calls to process before exiting (`-m`).
    pub fn calls(mut self, n: u32) -> Self {
        self.calls = n;
        self
    }

    /// Call rate per second (`-r`).
    pub fn rate(mut self, r: f64) -> Self {
        self.rate = Some(r);
        self
    }

    /// Duration of each `<pause/>` (`-d`, milliseconds).
    pub fn pause_ms(mut self, ms: u64) -> Self {
        self.pause_ms = Some(ms);
        self
    }

    /// A `[keyword]` value (`-key`).
    pub fn key(mut self, k: &str, v: &str) -> Self {
        self.keys.push((k.into(), v.into()));
        self
    }

    /// Echo received RTP back to its sender (`-rtp_echo`).
    pub fn rtp_echo(mut self) -> Self {
        self.rtp_echo = true;
        self
    }

    /// Any other SIPp argument.
    pub fn arg(mut self, a: &str) -> Self {
        self.extra.push(a.into());
        self
    }

    /// Starts SIPp in the background.
    pub fn spawn(self) -> SippProcess {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = artifacts().join("sipp");
        std::fs::create_dir_all(&dir).expect("create tests/artifacts/sipp");
        let tag = format!("{}-{}-{}", self.name, std::process::id(), n);
        let file = |suffix: &str| dir.join(format!("{tag}-{suffix}"));
        let (stat, errors, messages, screen, stdout) = (
            file("stat.csv"),
            file("errors.log"),
            file("messages.log"),
            file("screen.log"),
            file("stdout.log"),
        );
        for f in [&stat, &errors, &messages, &screen] {
            let _ = std::fs::remove_file(f);
        }

        let mut cmd = Command::new(sipp_binary());
        if let Some(remote) = self.remote {
            cmd.arg(remote.to_string());
        }
        cmd.arg("-sf").arg(scenario(&self.scenario));
        cmd.args(["-i", &self.local_ip, "-p", &self.local_port.to_string()]);
        cmd.args(["-mi", &self.media_ip]);
        if let Some(mp) = self.media_port {
            cmd.args(["-mp", &mp.to_string()]);
        }
        if !self.users.is_empty() {
            let csv = file("users.csv");
            let mut text = String::from("SEQUENTIAL\n");
            for (u, p) in &self.users {
                text.push_str(&format!("{u};{p};\n"));
            }
            std::fs::write(&csv, text).expect("write SIPp CSV");
            cmd.arg("-inf").arg(csv);
        }
        if let Some(s) = &self.service {
            cmd.args(["-s", s]);
        }
        cmd.args(["-m", &self.calls.to_string()]);
        if let Some(r) = self.rate {
            cmd.args(["-r", &r.to_string()]);
        }
        if let Some(d) = self.pause_ms {
            cmd.args(["-d", &d.to_string()]);
        }
        for (k, v) in &self.keys {
            cmd.args(["-key", k, v]);
        }
        if self.rtp_echo {
            cmd.arg("-rtp_echo");
        }
        cmd.args([
            "-timeout",
            &format!("{}s", self.timeout.as_secs().max(1)),
            "-timeout_error",
            "-nostdin",
            // Answer OPTIONS/INFO/NOTIFY/UPDATE that are not in the scenario rather
            // than failing the call.
            "-aa",
            "-trace_stat",
            "-fd",
            "1",
            "-trace_err",
            "-trace_msg",
            "-trace_screen",
        ]);
        cmd.arg("-stf").arg(&stat);
        cmd.arg("-error_file").arg(&errors);
        cmd.arg("-message_file").arg(&messages);
        cmd.arg("-screen_file").arg(&screen);
        cmd.args(&self.extra);
        let out = std::fs::File::create(&stdout).expect("create SIPp stdout log");
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let child = cmd.spawn().expect("spawn sipp (Debian package sip-tester)");
        SippProcess {
            child: Some(child),
            tag,
            stat,
            errors,
            messages,
            stdout,
            deadline: Instant::now() + self.timeout + Duration::from_secs(15),
        }
    }

    /// Runs SIPp to the end.
    ///
    /// A port picked for the run can be taken by another program between the
    /// probe and SIPp's bind (an ephemeral port of any outgoing connection, such
    /// as a test server's database connections): SIPp then stops before sending
    /// anything, and the run is repeated on another free port.
    pub async fn run(mut self) -> SippResult {
        for _ in 0..3 {
            let result = self.clone().spawn().wait().await;
            if self.port_fixed || !result.errors.contains("Unable to bind main socket") {
                return result;
            }
            self.local_port = crate::harness::free_udp_tcp_port();
        }
        self.spawn().wait().await
    }
}

/// A SIPp process; killed on drop.
pub struct SippProcess {
    child: Option<Child>,
    tag: String,
    stat: PathBuf,
    errors: PathBuf,
    messages: PathBuf,
    stdout: PathBuf,
    deadline: Instant,
}

/// What a SIPp run did.
#[derive(Debug)]
pub struct SippResult {
    /// The run's name tag (trace files are tests/artifacts/sipp/TAG-*).
    pub tag: String,
    /// SIPp's exit code (None if killed by a signal or by our deadline).
    pub code: Option<i32>,
    /// Calls that reached the end of the scenario.
    pub successful: u64,
    /// Calls that failed (unexpected message, timeout, regexp check...).
    pub failed: u64,
    /// SIPp's unexpected-message log (`-trace_err`) and stderr, for assertion messages.
    pub errors: String,
    /// Path of the full message trace.
    pub messages: PathBuf,
}

impl SippResult {
    /// Panics unless SIPp exited 0 with exactly `n` successful calls.
    pub fn assert_success(&self, n: u64) {
        assert!(
            self.code == Some(0) && self.successful == n && self.failed == 0,
            "SIPp {}: exit {:?}, {} successful, {} failed (expected {n} successful)\n{}\ntrace: {}",
            self.tag,
            self.code,
            self.successful,
            self.failed,
            self.errors,
            self.messages.display()
        );
    }
}

impl SippProcess {
    /// Waits for SIPp to exit (kills it at the deadline) and reads its results.
    pub async fn wait(mut self) -> SippResult {
        let mut child = self.child.take().expect("sipp child");
        let code = loop {
            if let Some(status) = child.try_wait().expect("poll sipp") {
                break status.code();
            }
            if Instant::now() > self.deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.result(code)
    }

    fn result(&self, code: Option<i32>) -> SippResult {
        let (successful, failed) = std::fs::read_to_string(&self.stat)
            .ok()
            .and_then(|t| parse_stat(&t))
            .unwrap_or((0, 0));
        let mut errors = std::fs::read_to_string(&self.errors).unwrap_or_default();
        let out = crate::harness::log_tail(&self.stdout, 5);
        if !out.is_empty() {
            errors.push_str("\n--- sipp output ---\n");
            errors.push_str(&out);
        }
        SippResult {
            tag: self.tag.clone(),
            code,
            successful,
            failed,
            errors,
            messages: self.messages.clone(),
        }
    }
}

impl Drop for SippProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Successful and failed call counts from the last row of a `-trace_stat` CSV.
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return None;
    }
    let header: Vec<&str> = lines[0].split(';').collect();
    let last: Vec<&str> = lines[lines.len() - 1].split(';').collect();
    let col = |name: &str| -> Option<u64> {
        let i = header.iter().position(|h| *h == name)?;
        last.get(i)?.trim().parse().ok()
    };
    Some((col("SuccessfulCall(C)")?, col("FailedCall(C)")?))
}

#[test]
fn stat_parser_reads_cumulative_counters() {
    let csv = "StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);\n\
               t;0;0;0;0;\n\
               t;1;7;0;2;\n";
    assert_eq!(parse_stat(csv), Some((7, 2)));
}
