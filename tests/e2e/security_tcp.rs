//! Attacks on SIP over TCP with raw-socket attacker clients against the real
//! binary: connections that stay silent or trickle a message byte by byte
//! (slow-loris), more connections from one address than its share, a peer
//! that never reads what it asked for; the open-file limit at start; and the
//! version kept out of the Server header.

use crate::harness::{self, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// Added to every timeout the server is expected to keep: a hang guard for a
/// loaded machine, not a measurement.
const SLACK: Duration = Duration::from_secs(15);

/// An OPTIONS request as `me` sends it over `transport`.
fn options(me: SocketAddr, transport: &str) -> String {
    let r = fastrand::u64(..);
    format!(
        "OPTIONS sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {me};branch=z9hG4bK{r};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:attacker@127.0.0.1>;tag={r}\r\nTo: <sip:1000@127.0.0.1>\r\n\
         Call-ID: {r}@security-tcp\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A TCP connection to `to` from address `src` (any port); with `rcvbuf`, a
/// receive buffer that small (set before connecting, so the window stays small).
fn connect_from(src: IpAddr, to: SocketAddr, rcvbuf: Option<u32>) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        if let Some(n) = rcvbuf {
            sock.set_recv_buffer_size(n).expect("SO_RCVBUF");
        }
        sock.bind(SocketAddr::new(src, 0))
            .unwrap_or_else(|e| panic!("bind {src}: {e}"));
        let s = sock.connect(to).await.expect("connect");
        let s = s.into_std().expect("std stream");
        s.set_nonblocking(false).expect("blocking");
        s
    })
}

fn local() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Sends OPTIONS on `s` and reads its response (the status line and headers).
fn options_over_tcp(s: &mut TcpStream) -> String {
    let me = s.local_addr().expect("local addr");
    s.write_all(options(me, "TCP").as_bytes())
        .expect("send OPTIONS");
    s.set_read_timeout(Some(SLACK)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer to OPTIONS over TCP: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// OPTIONS over UDP from 127.0.0.1: the response as text.
fn options_over_udp(to: SocketAddr) -> String {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp bind");
    udp.set_read_timeout(Some(SLACK)).expect("timeout");
    let me = udp.local_addr().expect("local addr");
    udp.send_to(options(me, "UDP").as_bytes(), to)
        .expect("send");
    let mut buf = [0u8; 4096];
    let (n, _) = udp
        .recv_from(&mut buf)
        .expect("no answer to OPTIONS over UDP");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// How the server ended a connection we are watching.
#[derive(Debug)]
enum Ended {
    /// Closed (EOF or reset); what it sent before, if anything.
    Closed(Vec<u8>),
    /// Still open at the deadline.
    Open,
}

/// Reads (discarding nothing: the bytes are returned) until the server
/// closes `s` or `within` has passed.
fn wait_closed(s: &mut TcpStream, within: Duration) -> Ended {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ended::Open;
        }
        s.set_read_timeout(Some(left.min(Duration::from_millis(500))))
            .expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return Ended::Closed(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Ended::Closed(got),
        }
    }
}

fn assert_closed_within(s: &mut TcpStream, within: Duration, what: &str, server: &Server) {
    match wait_closed(s, within) {
        Ended::Closed(_) => {}
        Ended::Open => panic!(
            "{what}: still open after {within:?}\n{}",
            server.log_tail(20)
        ),
    }
}

/// The server's process id, found by its config file on its command line.
fn server_pid(server: &Server) -> u32 {
    let needle = server.config_path.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.contains(&needle) && !args.iter().any(|a| a == "token") {
            return pid;
        }
    }
    panic!("no process runs with {needle}");
}

/// A `/proc/PID/status` or `/proc/PID/limits` field as a number (kB for VmRSS).
fn proc_field(pid: u32, file: &str, name: &str, column: usize) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).expect("read /proc");
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/{file}"));
    line[name.len()..]
        .split_whitespace()
        .nth(column)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line}"))
}

fn rss_kib(pid: u32) -> u64 {
    proc_field(pid, "status", "VmRSS:", 0)
}

fn wait_metric_at_least(server: &Server, name: &str, labels: &str, n: f64) -> f64 {
    server.wait_metric(name, labels, |v| v >= n, SLACK)
}

#[test]
fn silent_and_idle_tcp_connections_are_closed_on_time() {
    let server = Server::builder("tcp_idle")
        .config(
            "[sip.tcp]\nfirst_message_timeout_secs = 2\nmessage_timeout_secs = 2\nidle_timeout_secs = 3\n",
        )
        .start();
    // Connected, never a byte: closed after the first-message timeout.
    let mut silent = connect_from(local(), server.sip_addr(), None);
    assert_closed_within(
        &mut silent,
        Duration::from_secs(2) + SLACK,
        "silent connection",
        &server,
    );
    // Keep-alive pings are no message: they do not hold a connection either.
    let mut pinging = connect_from(local(), server.sip_addr(), None);
    let start = Instant::now();
    let limit = Duration::from_secs(2) + SLACK;
    let mut closed = false;
    while start.elapsed() < limit && !closed {
        closed = pinging.write_all(b"\r\n\r\n").is_err()
            || matches!(
                wait_closed(&mut pinging, Duration::from_millis(500)),
                Ended::Closed(_)
            );
    }
    assert!(
        closed,
        "a connection sending only pings is still open after {limit:?}\n{}",
        server.log_tail(20)
    );
    let n = wait_metric_at_least(
        &server,
        "switchboard_sip_tcp_timeouts_total",
        "reason=\"first_message\"",
        2.0,
    );
    assert!(n >= 2.0, "first-message timeouts not counted: {n}");

    // A phone-like connection: one request answered, then silence.
    let mut idle = connect_from(local(), server.sip_addr(), None);
    let resp = options_over_tcp(&mut idle);
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
    assert_closed_within(
        &mut idle,
        Duration::from_secs(3) + SLACK,
        "idle connection",
        &server,
    );
    let n = wait_metric_at_least(
        &server,
        "switchboard_sip_tcp_timeouts_total",
        "reason=\"idle\"",
        1.0,
    );
    assert!(n >= 1.0, "idle timeout not counted");
    let open = server.wait_metric("switchboard_sip_tcp_connections", "", |v| v == 0.0, SLACK);
    assert_eq!(open, 0.0, "the server still counts open connections");
}

/// Writes `msg` one byte a second until the server closes the connection;
/// returns how long that took, or None if it was still open after `limit`.
fn trickle(s: &mut TcpStream, msg: &[u8], limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    for b in msg {
        if start.elapsed() > limit {
            return None;
        }
        if s.write_all(&[*b]).is_err() {
            return Some(start.elapsed());
        }
        // Waits the second between bytes, noticing a close meanwhile.
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn slow_loris_tcp_connections_are_closed_after_the_message_timeout() {
    // The other deadlines are far: only the message timeout can close them.
    let server = Server::builder("tcp_slow_loris")
        .config(
            "[sip.tcp]\nfirst_message_timeout_secs = 120\nmessage_timeout_secs = 3\nidle_timeout_secs = 120\n",
        )
        .start();
    let limit = Duration::from_secs(3) + SLACK;
    // From the first byte of a new connection.
    let mut fresh = connect_from(local(), server.sip_addr(), None);
    let me = fresh.local_addr().expect("addr");
    let took = trickle(&mut fresh, options(me, "TCP").as_bytes(), limit);
    assert!(
        took.is_some_and(|t| t < limit),
        "trickling connection not closed within {limit:?}: {took:?}\n{}",
        server.log_tail(20)
    );
    // On a connection that has been answered before.
    let mut known = connect_from(local(), server.sip_addr(), None);
    let resp = options_over_tcp(&mut known);
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
    let me = known.local_addr().expect("addr");
    let took = trickle(&mut known, options(me, "TCP").as_bytes(), limit);
    assert!(
        took.is_some_and(|t| t < limit),
        "trickling connection not closed within {limit:?}: {took:?}\n{}",
        server.log_tail(20)
    );
    let n = wait_metric_at_least(
        &server,
        "switchboard_sip_tcp_timeouts_total",
        "reason=\"message\"",
        2.0,
    );
    assert!(n >= 2.0, "message timeouts counted: {n}");
}

#[test]
fn tcp_connections_beyond_the_per_ip_cap_are_refused_while_other_sources_still_work() {
    let server = Server::builder("tcp_per_ip")
        .config("[sip.tcp]\nmax_connections_per_ip = 3\n")
        .start();
    // The address's share, each connection served.
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = connect_from(local(), server.sip_addr(), None);
            let resp = options_over_tcp(&mut s);
            assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
            s
        })
        .collect();
    // One more from the same address: closed without an answer.
    let mut extra = connect_from(local(), server.sip_addr(), None);
    let me = extra.local_addr().expect("addr");
    // The write may already fail if the server was quick to close.
    let _ = extra.write_all(options(me, "TCP").as_bytes());
    match wait_closed(&mut extra, SLACK) {
        Ended::Closed(got) => assert!(
            got.is_empty(),
            "the refused connection was answered: {}",
            String::from_utf8_lossy(&got)
        ),
        Ended::Open => panic!(
            "connection over the per-address cap still open\n{}",
            server.log_tail(20)
        ),
    }
    let refused = wait_metric_at_least(
        &server,
        "switchboard_sip_tcp_refused_total",
        "reason=\"per_ip\"",
        1.0,
    );
    assert!(refused >= 1.0, "refusal not counted");
    // Another source address still gets in, UDP is untouched, and the
    // connections within the share still work.
    let mut other = connect_from(IpAddr::from([127, 0, 0, 2]), server.sip_addr(), None);
    let resp = options_over_tcp(&mut other);
    assert!(resp.starts_with("SIP/2.0 200"), "from 127.0.0.2: {resp}");
    let resp = options_over_udp(server.sip_addr());
    assert!(resp.starts_with("SIP/2.0 200"), "over UDP: {resp}");
    let resp = options_over_tcp(&mut held[0]);
    assert!(resp.starts_with("SIP/2.0 200"), "held connection: {resp}");
    // A closed connection gives its place back.
    drop(held.pop());
    let deadline = Instant::now() + SLACK;
    loop {
        let mut again = connect_from(local(), server.sip_addr(), None);
        let me = again.local_addr().expect("addr");
        if again.write_all(options(me, "TCP").as_bytes()).is_ok() {
            again
                .set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut buf = [0u8; 64];
            if let Ok(n) = again.read(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 200") {
                    break;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the place of a closed connection was not given back\n{}",
            server.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn tcp_peer_that_never_reads_is_disconnected_and_server_memory_stays_bounded() {
    let server = Server::builder("tcp_no_reader")
        .config("[sip.tcp]\nsend_queue_bytes = 65536\n")
        .start();
    let pid = server_pid(&server);
    let rss_before = rss_kib(pid);
    // A small receive window: the kernel holds little of what the server sends.
    let mut s = connect_from(local(), server.sip_addr(), Some(4096));
    s.set_write_timeout(Some(SLACK)).expect("timeout");
    let me = s.local_addr().expect("addr");
    // Pipelined OPTIONS whose responses are never read, in batches, until
    // the server hangs up (bounded in count and time).
    let batch: String = (0..50).map(|_| options(me, "TCP")).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut sent = 0;
    let dropped = loop {
        if s.write_all(batch.as_bytes()).is_err() {
            break true;
        }
        sent += 50;
        if server.metric("switchboard_sip_tcp_send_overflows_total", "") >= 1.0 {
            break true;
        }
        if sent >= 40_000 || Instant::now() > deadline {
            break false;
        }
    };
    assert!(
        dropped,
        "the server kept a peer that read nothing after {sent} requests\n{}",
        server.log_tail(20)
    );
    let overflows =
        wait_metric_at_least(&server, "switchboard_sip_tcp_send_overflows_total", "", 1.0);
    assert!(overflows >= 1.0, "overflow not counted");
    // What the kernel still holds for us, then the end of the stream.
    assert_closed_within(&mut s, SLACK, "non-reading connection", &server);
    let rss_after = rss_kib(pid);
    eprintln!("{sent} requests; server RSS {rss_before} KiB before, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "server memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    // The server still serves.
    let resp = options_over_udp(server.sip_addr());
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
}

/// The Server header of the answer to an OPTIONS over UDP, if any.
fn server_header(server: &Server) -> Option<String> {
    let resp = options_over_udp(server.sip_addr());
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
    resp.lines()
        .find_map(|l| l.strip_prefix("Server:"))
        .map(|v| v.trim().to_owned())
}

#[test]
fn server_header_gives_scanners_no_version() {
    let server = Server::builder("server_header").start();
    let value = server_header(&server);
    assert_eq!(value.as_deref(), Some("Switchboard"));
    let quiet = Server::builder("server_header_off")
        .config("[sip]\nuser_agent = \"\"\n")
        .start();
    assert_eq!(server_header(&quiet), None, "user_agent = \"\" sends none");
}

/// A server started by hand under a given RLIMIT_NOFILE (the harness
/// cannot set one), killed when dropped.
struct Limited {
    child: std::process::Child,
    log_path: std::path::PathBuf,
    dir: std::path::PathBuf,
    sip: SocketAddr,
    http_port: u16,
}

impl Limited {
    /// Starts the binary with the e2e base config plus `extra` under the
    /// limits `soft`/`hard`, as from a shell after `ulimit -Hn HARD -Sn SOFT`,
    /// and waits for "switchboard ready" in its log.
    fn start(name: &str, soft: u64, hard: u64, extra: &str) -> Limited {
        use std::os::unix::process::CommandExt;
        let id = format!("{name}-{}", std::process::id());
        let dir = harness::artifacts().join("data").join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("data dir");
        let base = std::fs::read_to_string(harness::root().join("tests/e2e/switchboard-test.toml"))
            .expect("base config");
        let config = dir.join("switchboard.toml");
        std::fs::write(&config, format!("{base}\n{extra}\n")).expect("config");
        let log_path = harness::artifacts().join(format!("{id}.log"));
        let log = std::fs::File::create(&log_path).expect("log");
        let sip_port = harness::free_udp_tcp_port();
        let http_port = harness::free_tcp_port();
        let mut cmd = std::process::Command::new(harness::binary());
        cmd.arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&dir)
            .args(["--bind", "127.0.0.1"])
            .args(["--sip-port", &sip_port.to_string()])
            .args(["--trunk-port", &harness::free_udp_tcp_port().to_string()])
            .args(["--http-port", &http_port.to_string()])
            // No calls are made: the range is never bound.
            .args(["--rtp-ports", "40000-40059"])
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // SAFETY: setrlimit is async-signal-safe and nothing else runs in the
        // child between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn switchboard");
        let mut server = Limited {
            child,
            log_path,
            dir,
            sip: SocketAddr::from(([127, 0, 0, 1], sip_port)),
            http_port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !server.log().contains("switchboard ready") {
            let exited = server.child.try_wait().ok().flatten().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "server did not start:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `GET /metrics` (open to all), parsed; None while the server cannot answer.
    fn metrics(&self) -> Option<std::collections::HashMap<String, f64>> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.http_port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?;
        (status == "200").then(|| harness::parse_metrics(body))
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- log {} ----\n{}", self.log_path.display(), self.log());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn low_open_file_limit_is_raised_to_the_hard_limit_and_a_shortage_is_warned_about() {
    // The default TCP caps alone need more than 1024 descriptors.
    let server = Limited::start("nofile_raise", 256, 1024, "");
    let soft = proc_field(server.child.id(), "limits", "Max open files", 0);
    assert_eq!(soft, 1024, "soft limit not raised to the hard limit");
    let text = server.log();
    assert!(
        text.contains("open-file limit raised from 256 to 1024"),
        "{text}"
    );
    assert!(
        text.contains("WARN") && text.contains("the open-file limit is 1024"),
        "no warning about the shortage:\n{text}"
    );
}

#[test]
fn descriptor_exhaustion_is_logged_sparingly_and_the_server_recovers() {
    // Caps high enough for one address to use up the descriptors: the case
    // of many attacking addresses, made from one.
    let server = Limited::start(
        "nofile_exhausted",
        256,
        256,
        "[sip.tcp]\nmax_connections_per_ip = 2048\nfirst_message_timeout_secs = 3\n",
    );
    // Start-up work that opens files (the prompts) is over first: only
    // the attack is measured.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.log().contains("sounds loaded") {
        assert!(
            Instant::now() < deadline,
            "prompts not loaded:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let attack: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect_timeout(&server.sip, Duration::from_secs(2)).ok())
        .collect();
    assert!(
        attack.len() > 256,
        "only {} connections opened",
        attack.len()
    );
    // Accept keeps failing while the descriptors are gone: a few lines, not
    // twenty a second.
    std::thread::sleep(Duration::from_secs(2));
    let lines = server
        .log()
        .lines()
        .filter(|l| l.contains("tcp accept on"))
        .count();
    assert!(
        (1..=2).contains(&lines),
        "{lines} accept-failure lines in 2 s:\n{}",
        server.log()
    );
    // The silent connections time out, the backlog drains, the server answers.
    let deadline = Instant::now() + Duration::from_secs(3) + SLACK * 2;
    let metrics = loop {
        if let Some(m) = server.metrics() {
            if harness::sum_metric(&m, "switchboard_sip_tcp_connections", "") == 0.0 {
                break m;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server did not recover\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    drop(attack);
    assert!(
        harness::sum_metric(&metrics, "switchboard_sip_tcp_accept_errors_total", "") >= 1.0,
        "accept failures not counted"
    );
    let resp = options_over_udp(server.sip);
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
    let mut tcp = connect_from(local(), server.sip, None);
    let resp = options_over_tcp(&mut tcp);
    assert!(resp.starts_with("SIP/2.0 200"), "{resp}");
}
