//! Starts a real `switchboard` server for one test: free ports, its own RTP range,
//! a temporary data dir, extensions provisioned through the CLI, readiness through
//! `GET /metrics`, SIGTERM to stop, SIGKILL on drop. The server's stderr goes to a
//! log file under `tests/artifacts/`; its tail is printed when a test fails.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The workspace root (integration tests run with it as the working directory, but
/// spelling it out keeps paths right whatever the caller's directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory for server logs, SIPp traces and temporary data dirs (git-ignored).
pub fn artifacts() -> PathBuf {
    let dir = root().join("tests").join("artifacts");
    std::fs::create_dir_all(&dir).expect("create tests/artifacts");
    dir
}

/// Counter that makes every server, data dir and port block of this process distinct.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Ports 10000-31999 are cut into blocks of [`BLOCK`] ports: the server's RTP range
/// and the test peers' media ports come from one block, so servers running in
/// parallel (threads of this process, or another test process: the pid picks the
/// starting block) never share RTP ports. The range stays below Linux's ephemeral
/// range (32768+), where the OS picks the `bind(0)` ports used for SIP and HTTP.
const BLOCK: u32 = 100;
const BLOCKS: u32 = 220;
const BLOCK_BASE: u32 = 10_000;

/// A block of ports owned by one test: `rtp` goes to the server, `media` to peers.
#[derive(Clone, Copy, Debug)]
pub struct PortBlock {
    /// First port of the block.
    pub base: u16,
}

/// Media ports handed out to test peers by this process (see
/// [`PortBlock::media_port`]); a block's entries are forgotten when the
/// block is handed out again.
static MEDIA_GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());

impl PortBlock {
    fn next() -> PortBlock {
        // Its own counter: with NEXT (two a server) the stride of 37 met
        // only every other block, and a run of more than 110 servers came
        // back to blocks still in use.
        static NEXT_BLOCK: AtomicU32 = AtomicU32::new(0);
        let n = NEXT_BLOCK.fetch_add(1, Ordering::SeqCst);
        let start = std::process::id().wrapping_mul(7919) % BLOCKS;
        let slot = (start + n * 37) % BLOCKS;
        let base = (BLOCK_BASE + slot * BLOCK) as u16;
        // A process with more servers than blocks comes back to a block
        // [`BLOCKS`] servers later, long after its first test ended: its
        // media ports may be handed out again (they are still probed).
        MEDIA_GIVEN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| !(base..base + BLOCK as u16).contains(p));
        PortBlock { base }
    }

    /// The server's RTP range: the first 60 ports (15 calls of 2 legs with RTCP).
    pub fn rtp_range(&self) -> (u16, u16) {
        (self.base, self.base + 59)
    }

    /// An even media port for a test peer, from the block's last 40 ports, with that
    /// port and port+2 (SIPp also opens media_port+2 for video) free right now and
    /// not handed out before in this process. Probing matters: other programs on
    /// the machine (benchmarks, a developer's server) may sit anywhere.
    pub fn media_port(&self, i: u16) -> u16 {
        let mut given = MEDIA_GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        let area: Vec<u16> = (0..10)
            .map(|k| self.base + 60 + 4 * ((i + k) % 10))
            .collect();
        let free = |p: u16| UdpSocket::bind(("127.0.0.1", p)).is_ok();
        let port = area
            .into_iter()
            .find(|&p| !given.contains(&p) && free(p) && free(p + 2))
            .unwrap_or_else(|| panic!("no free media port in block {}", self.base));
        given.push(port);
        port
    }
}

/// Ports handed out by this process: the OS may give a released port to the next
/// `bind(0)`, and two tests must never be told the same port.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

fn pick_port(try_port: impl Fn() -> Option<u16>) -> u16 {
    for _ in 0..200 {
        if let Some(port) = try_port() {
            let mut given = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
            if !given.contains(&port) {
                given.push(port);
                return port;
            }
        }
    }
    panic!("no free port found");
}

/// A UDP port that is also free on TCP (the SIP profiles listen on both).
pub fn free_udp_tcp_port() -> u16 {
    pick_port(|| {
        let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
        let port = udp.local_addr().ok()?.port();
        TcpListener::bind(("127.0.0.1", port)).ok()?;
        Some(port)
    })
}

/// A free UDP port (for SIPp peers).
pub fn free_udp_port() -> u16 {
    pick_port(|| {
        Some(
            UdpSocket::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        )
    })
}

/// A free TCP port (for HTTP).
pub fn free_tcp_port() -> u16 {
    pick_port(|| {
        Some(
            TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        )
    })
}

/// The test server binary built by cargo for this integration test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    name: String,
    extensions: Vec<(String, String, String)>,
    config_extra: String,
    database_url: Option<String>,
    ip: std::net::IpAddr,
}

impl ServerBuilder {
    /// Binds every socket of the server (`--bind`) to `ip` instead of
    /// 127.0.0.1: a local address of a veth pair whose other end is in a
    /// network namespace the test made (a browser there reaches the server,
    /// its media included, at `ip`). Used by the browser tests.
    #[allow(dead_code)]
    pub fn bind(mut self, ip: std::net::IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// Runs the server (and the CLI it is provisioned with) on this
    /// database (`--database-url`) instead of the SQLite file in its data
    /// dir, e.g. a PostgreSQL database of the test cluster.
    pub fn database_url(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_string());
        self
    }

    /// Provision `spec` (e.g. "1000-1009") with `password` before the server starts.
    pub fn extensions(mut self, spec: &str, password: &str) -> Self {
        self.extensions
            .push((spec.into(), password.into(), String::new()));
        self
    }

    /// Like [`ServerBuilder::extensions`], with a display name (caller ID name).
    pub fn extension_named(mut self, spec: &str, password: &str, name: &str) -> Self {
        self.extensions
            .push((spec.into(), password.into(), name.into()));
        self
    }

    /// TOML appended to tests/e2e/switchboard-test.toml (whole tables only, e.g.
    /// `[trunk]\nacl = ["127.0.0.2/32"]`: the base file leaves those tables out).
    pub fn config(mut self, toml: &str) -> Self {
        self.config_extra.push('\n');
        self.config_extra.push_str(toml);
        self.config_extra.push('\n');
        self
    }

    /// Provisions, then runs `switchboard check-config` on this set-up
    /// instead of starting the server.
    pub fn check_config(self) -> Output {
        let server = self.prepare();
        server.cli(&["check-config"])
    }

    /// Provisions, starts the server and waits until `/metrics` answers.
    pub fn start(self) -> Server {
        let mut server = self.prepare();
        // Another program may grab a port between our probe and the server's bind:
        // the server then exits during start-up; try again with fresh ports.
        for attempt in 1..=3 {
            match server.try_spawn() {
                Ok(()) => return server,
                Err(log) if attempt < 3 => {
                    eprintln!(
                        "switchboard {} exited during start-up, retrying with other ports:\n{log}",
                        server.name
                    );
                    server.sip_port = free_udp_tcp_port();
                    server.trunk_port = free_udp_tcp_port();
                    server.http_port = free_tcp_port();
                }
                Err(log) => panic!("switchboard exited during start-up:\n{log}"),
            }
        }
        unreachable!()
    }

    /// Writes the config, creates the data dir and provisions extensions.
    fn prepare(self) -> Server {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{}-{}", self.name, std::process::id(), n);
        let data_dir = artifacts().join("data").join(&id);
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        let log_path = artifacts().join(format!("{id}.log"));

        let base = std::fs::read_to_string(root().join("tests/e2e/switchboard-test.toml"))
            .expect("read tests/e2e/switchboard-test.toml");
        let config_path = data_dir.join("switchboard.toml");
        // Uploaded media go to the data dir, not the default media/prompts
        // of the working tree (unless the test names a directory).
        let uploads = format!(
            "uploads_dir = {:?}\n",
            data_dir.join("uploads").display().to_string()
        );
        let extra = if self.config_extra.contains("uploads_dir") {
            self.config_extra.clone()
        } else if self.config_extra.contains("[media]\n") {
            self.config_extra
                .replacen("[media]\n", &format!("[media]\n{uploads}"), 1)
        } else {
            format!("{}\n[media]\n{uploads}", self.config_extra)
        };
        std::fs::write(&config_path, format!("{base}\n{extra}")).expect("write test config");

        let ports = PortBlock::next();
        let (database_url, database) = match self.database_url.clone() {
            Some(url) => (Some(url), None),
            None => match e2e_postgres_database() {
                Some(db) => (Some(db.url()), Some(db)),
                None => (None, None),
            },
        };
        let mut server = Server {
            ip: self.ip,
            child: None,
            name: id,
            sip_port: free_udp_tcp_port(),
            trunk_port: free_udp_tcp_port(),
            http_port: free_tcp_port(),
            ports,
            data_dir,
            config_path,
            log_path,
            api_token: String::new(),
            database_url,
            _database: database,
        };
        server.api_token = server.create_api_token();
        for (spec, password, name) in &self.extensions {
            let mut args = vec!["extension", "add", spec, "--password", password];
            if !name.is_empty() {
                args.extend(["--name", name]);
            }
            let out = server.cli(&args);
            assert!(
                out.status.success(),
                "extension add {spec} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        server
    }
}

/// An HTTP/1.0 response's status and body, or what is wrong with it.
pub fn split_response(buf: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {text:.200}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// A running switchboard process, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// Unique name (test name, pid, counter): data dir and log file names.
    pub name: String,
    /// Internal profile, UDP and TCP.
    pub sip_port: u16,
    /// External (trunk) profile.
    pub trunk_port: u16,
    /// HTTP: metrics and API.
    pub http_port: u16,
    /// RTP range of the server and media ports of the peers.
    pub ports: PortBlock,
    /// The server's data dir (its SQLite database lives here).
    pub data_dir: PathBuf,
    /// The TOML file given with --config.
    pub config_path: PathBuf,
    /// Where the server's stdout and stderr go.
    pub log_path: PathBuf,
    /// An API token of the default admin, sent as `Authorization: Bearer`
    /// by the HTTP helpers (created with `switchboard token create`).
    pub api_token: String,
    /// The `--database-url` given to the server and the CLI; `None`: the
    /// SQLite file in the data dir.
    database_url: Option<String>,
    /// The address every socket of the server binds to (127.0.0.1 unless
    /// the builder said otherwise).
    pub ip: std::net::IpAddr,
    /// The PostgreSQL database made for this server (see
    /// [`E2E_BACKEND_ENV`]), dropped after the server is killed.
    _database: Option<store::testing::TestDatabase>,
}

/// With `SWITCHBOARD_TEST_E2E_BACKEND=postgres`, every server that names no
/// database of its own runs on a fresh PostgreSQL database of the test
/// cluster instead of a SQLite file (tests/run runs the registration, call,
/// queue and web admin modules that way).
pub const E2E_BACKEND_ENV: &str = "SWITCHBOARD_TEST_E2E_BACKEND";

/// A fresh PostgreSQL database when [`E2E_BACKEND_ENV`] asks for one.
fn e2e_postgres_database() -> Option<store::testing::TestDatabase> {
    if !std::env::var(E2E_BACKEND_ENV).is_ok_and(|v| v == "postgres") {
        return None;
    }
    // Servers are built from inside the tests' runtime: create the database
    // from a runtime of our own, on a thread of our own.
    let created = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to create the test database")
            .block_on(store::testing::TestDatabase::create())
    })
    .join()
    .expect("creating the test database");
    let db = created.unwrap_or_else(|e| panic!("{e}"));
    Some(db.unwrap_or_else(|| {
        panic!(
            "{E2E_BACKEND_ENV}=postgres needs {}",
            store::testing::POSTGRES_ENV
        )
    }))
}

/// How long a server may take to answer /metrics after spawning: a hang guard for
/// slow machines, not a performance expectation.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

impl Server {
    /// A server named after the test, with extensions 1000-1009 (password "secret").
    pub fn start(name: &str) -> Server {
        Server::builder(name)
            .extensions("1000-1009", "secret")
            .start()
    }

    /// A server to configure before starting (no extensions unless added).
    pub fn builder(name: &str) -> ServerBuilder {
        ServerBuilder {
            name: name.into(),
            extensions: Vec::new(),
            config_extra: String::new(),
            database_url: None,
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// Creates an API token for the default admin with the CLI (before the
    /// server starts: the CLI needs only the database).
    fn create_api_token(&self) -> String {
        let out = self.cli(&["token", "create", "--user", "admin", "--name", "e2e"]);
        assert!(
            out.status.success(),
            "token create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs a CLI subcommand against this server's data dir and config.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(binary())
            .arg("--config")
            .arg(&self.config_path)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(self.database_args())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("run switchboard CLI")
    }

    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("switchboard exited during start-up:\n{log}");
        }
    }

    /// Spawns the server and waits for readiness; Err(log tail) if it exits first.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(&self.log_path).expect("create server log");
        let (lo, hi) = self.ports.rtp_range();
        let child = Command::new(binary())
            .arg("--config")
            .arg(&self.config_path)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(self.database_args())
            .args(["--bind", &self.ip.to_string()])
            .args(["--sip-port", &self.sip_port.to_string()])
            .args(["--trunk-port", &self.trunk_port.to_string()])
            .args(["--http-port", &self.http_port.to_string()])
            .args(["--rtp-ports", &format!("{lo}-{hi}")])
            .env(
                "RUST_LOG",
                std::env::var("SWITCHBOARD_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn switchboard");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("({status})\n{}", self.log_tail(40)));
            }
            if let Ok((200, _)) = self.http_get("/metrics") {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "switchboard not ready after {READY_TIMEOUT:?}:\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The internal profile's UDP address.
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.sip_port)
    }

    /// The external profile's UDP address.
    pub fn trunk_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.trunk_port)
    }

    /// The URL of this server's database: the builder's, or the SQLite
    /// file in the data dir (the default location).
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("switchboard.db").display()
            ),
        }
    }

    /// `--database-url URL` when the builder named one.
    fn database_args(&self) -> Vec<String> {
        match &self.database_url {
            Some(url) => vec!["--database-url".into(), url.clone()],
            None => Vec::new(),
        }
    }

    /// Plain HTTP/1.0 GET on the server's HTTP port: (status, body).
    pub fn http_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.http("GET", path)
    }

    /// POST `path` (empty body) on the HTTP port: (status, body).
    pub fn http_post(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.http("POST", path)
    }

    /// POST `path` (empty body) without blocking the runtime: for a request
    /// that only answers once a phone this test drives has answered.
    pub fn http_post_later(&self, path: &str) -> tokio::task::JoinHandle<(u16, String)> {
        let (ip, port, token, path) = (
            self.ip,
            self.http_port,
            self.api_token.clone(),
            path.to_string(),
        );
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect((ip, port))
                .await
                .expect("connect to the HTTP port");
            let req = format!(
                "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
                 Content-Length: 0\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.expect("send the request");
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.expect("read the response");
            split_response(&buf).unwrap_or_else(|e| panic!("POST {path}: {e}"))
        })
    }

    /// PUT `path` with a JSON `body` on the HTTP port: (status, body).
    pub fn http_put_json(&self, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.http_with_body("PUT", path, body)
    }

    fn http(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        self.http_with_body(method, path, "")
    }

    /// POST `path` with a JSON `body`: (status, body).
    pub fn http_post_json(&self, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.http_with_body("POST", path, body)
    }

    /// DELETE `path`; the status and body.
    pub fn http_delete(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.http_with_body("DELETE", path, "")
    }

    fn http_with_body(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        self.http_with_bytes(method, path, "application/json", body.as_bytes())
    }

    /// POST `path` with a binary `body` (an upload): (status, body).
    pub fn http_post_bytes(&self, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        self.http_with_bytes("POST", path, "application/octet-stream", body)
    }

    fn http_with_bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let addr = SocketAddr::new(self.ip, self.http_port);
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
             Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
            self.api_token,
            body.len()
        )?;
        // The server may answer (413) before reading it all.
        let _ = s.write_all(body);
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        split_response(&buf)
    }

    /// The `/metrics` page (panics if the server does not answer 200).
    pub fn metrics_text(&self) -> String {
        match self.http_get("/metrics") {
            Ok((200, body)) => body,
            other => panic!("GET /metrics: {other:?}"),
        }
    }

    /// All samples of `/metrics`, keyed by the series as written (`name{labels}`).
    pub fn metrics(&self) -> HashMap<String, f64> {
        parse_metrics(&self.metrics_text())
    }

    /// The sum of every sample of metric `name` whose labels contain `labels`
    /// (e.g. `outcome="answered"`; "" for all). 0 when absent, so a counter that
    /// has not been created yet reads as 0.
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        sum_metric(&self.metrics(), name, labels)
    }

    /// Polls `metric(name, labels)` until `pred` holds; returns the last value.
    pub fn wait_metric(
        &self,
        name: &str,
        labels: &str,
        pred: impl Fn(f64) -> bool,
        timeout: Duration,
    ) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.metric(name, labels);
            if pred(v) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The engine id of the first live call whose `field` is `value` in
    /// `/api/calls` (e.g. `app` = `queue`, `b_party` = an agent).
    pub fn live_call_id(&self, field: &str, value: &str) -> u64 {
        let body = self.api_calls();
        let calls: serde_json::Value = serde_json::from_str(&body).expect("/api/calls is JSON");
        calls
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c[field] == value)
            .and_then(|c| c["id"].as_u64())
            .unwrap_or_else(|| panic!("no live call with {field} = {value}: {body}"))
    }

    /// `GET /api/calls` as text.
    pub fn api_calls(&self) -> String {
        match self.http_get("/api/calls") {
            Ok((200, body)) => body,
            other => panic!("GET /api/calls: {other:?}"),
        }
    }

    /// Opens the server's database with the store crate.
    pub async fn store(&self) -> store::Store {
        store::Store::open(&self.database_url())
            .await
            .expect("open the server's database")
    }

    /// Waits until at least `n` CDRs are stored (CDRs may be written in batches),
    /// then returns the newest ones, newest first.
    pub async fn wait_cdrs(&self, n: i64) -> Vec<store::Cdr> {
        let store = self.store().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let count = store.count_cdrs().await.expect("count CDRs");
            if count >= n {
                let cdrs = store.list_cdrs(100).await.expect("list CDRs");
                store.close().await;
                return cdrs;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} CDRs, found {count}\n{}",
                self.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends SIGTERM and waits (up to 30 s) for the exit status; SIGKILL after that.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "switchboard did not exit within 30 s of SIGTERM:\n{}",
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL, as a crash would (nothing flushed, no
    /// BYE sent), and reaps it; [`Server::restart`] starts it again.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("kill9() needs a running server");
        // std's Child::kill is SIGKILL on Unix.
        child.kill().expect("SIGKILL the server");
        let _ = child.wait();
    }

    /// Starts the server again after [`Server::stop`]: same ports, data dir and
    /// config (to check what survives a restart).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart() needs a stopped server");
        let old = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let _ = std::fs::write(self.log_path.with_extension("before-restart.log"), old);
        self.spawn();
    }

    /// Sends SIGTERM without waiting (for tests that keep serving SIP while the
    /// server shuts down); finish with [`Server::stop`].
    pub fn sigterm(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// The whole server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            // Passed: the database is of no further interest (the log stays).
            let _ = std::fs::remove_dir_all(&self.data_dir);
        } else {
            eprintln!(
                "---- switchboard {} log {} (last 60 lines) ----\n{}",
                self.name,
                self.log_path.display(),
                self.log_tail(60)
            );
        }
    }
}

/// The last `lines` lines of a text file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Parses Prometheus text format: `series value` lines, comments skipped.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            // The value follows the last space (labels may contain spaces in values).
            let l = l.trim();
            let (series, rest) = match l.rfind('}') {
                Some(i) => (&l[..=i], &l[i + 1..]),
                None => l.split_once(' ')?,
            };
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some((series.trim().to_owned(), value))
        })
        .collect()
}

/// Sum of the samples of `name` whose label set contains `labels`.
pub fn sum_metric(samples: &HashMap<String, f64>, name: &str, labels: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            let (n, l) = series.split_once('{').unwrap_or((series.as_str(), ""));
            n == name && l.contains(labels)
        })
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn metrics_parser_reads_labels_and_plain_samples() {
    let m = parse_metrics(
        "# HELP x y\n# TYPE a counter\na 3\nb{outcome=\"answered\"} 2\nb{outcome=\"busy\"} 1.5\n",
    );
    assert_eq!(sum_metric(&m, "a", ""), 3.0);
    assert_eq!(sum_metric(&m, "b", ""), 3.5);
    assert_eq!(sum_metric(&m, "b", "outcome=\"busy\""), 1.5);
    assert_eq!(sum_metric(&m, "missing", ""), 0.0);
}
