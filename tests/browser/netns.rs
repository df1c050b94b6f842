//! A network namespace joined to this one by a veth pair, for a browser
//! that will not use loopback for WebRTC: Firefox (153 ESR) gathers no
//! loopback ICE candidate even with `media.peerconnection.ice.loopback`,
//! so a test on 127.0.0.1 alone cannot carry its media. Its WebDriver and
//! browser run in the namespace and reach the server at the veth pair's
//! near address (the server binds there), which is the only address they
//! have besides their own loopback: the test still uses no address outside
//! the machine. Needs root and iproute2's `ip` (CI runs as root; tests/run
//! installs iproute2).

use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A namespace, deleted (with its veth pair) on drop.
#[derive(Debug)]
pub struct Netns {
    /// The namespace's name, for `ip netns exec`.
    pub name: String,
    /// This side's address of the veth pair: the server binds here.
    pub host_ip: IpAddr,
    /// The namespace's address: its WebDriver listens here.
    pub ns_ip: IpAddr,
    host_if: String,
}

/// Runs `ip ARGS`, panicking with what it said when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip ({e}): install iproute2 (tests/run does)"));
    assert!(
        out.status.success(),
        "ip {}: {} (network namespaces need root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Netns {
    /// Makes a namespace and a veth pair 10.X.Y.1 (here) / 10.X.Y.2 (there),
    /// a /30 of its own per process and namespace so that parallel tests and
    /// runs do not meet.
    pub fn create() -> Netns {
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("sb-browser-{pid}-{n}");
        // Interface names have at most 15 bytes.
        let tag = format!("{}{}", pid % 100_000, n % 100);
        let host_if = format!("sbh{tag}");
        let ns_if = format!("sbn{tag}");
        let (x, y) = (200 + (pid % 50) as u8, (n % 64) as u8 * 4);
        let host_ip = IpAddr::from([10, x, y, 1]);
        let ns_ip = IpAddr::from([10, x, y, 2]);
        // Left over by a run that was killed.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name,
            host_ip,
            ns_ip,
            host_if,
        };
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &ns.host_if]);
        ip(&["link", "set", &ns.host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.name.as_str(), "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if]);
        inside(&["link", "set", &ns_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
    }
}
