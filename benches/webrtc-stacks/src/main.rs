//! `webrtc-stacks`: measures webrtc-rs against str0m as the server side of Switchboard's
//! WebRTC legs (issue 15). See README.md.

mod client;
mod procstat;
mod server_str0m;
mod server_webrtc;
mod signal;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use server_str0m::Counters;

const USAGE: &str = "usage:
  webrtc-stacks server --stack webrtc-rs|str0m --listen 127.0.0.1:PORT [--shared-socket 127.0.0.1:PORT]
  webrtc-stacks client --stack str0m --server 127.0.0.1:PORT --calls N --seconds S
                       [--rate CALLS_PER_S] [--watch-pid PID] [--label TEXT]";

/// `--name value` pairs after the subcommand.
struct Args(Vec<(String, String)>);

impl Args {
    fn parse(rest: &[String]) -> Result<Self, String> {
        let mut out = Vec::new();
        let mut it = rest.iter();
        while let Some(k) = it.next() {
            let Some(name) = k.strip_prefix("--") else {
                return Err(format!("unexpected argument {k}"));
            };
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            out.push((name.to_owned(), v.clone()));
        }
        Ok(Args(out))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn req(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }
    fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: bad value {v}")),
        }
    }
}

fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let a: SocketAddr = addr.parse().map_err(|_| format!("bad address {addr}"))?;
    if !a.ip().is_loopback() {
        return Err(format!(
            "{addr}: only loopback addresses are used by this benchmark"
        ));
    }
    Ok(a)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // One crypto provider for every str0m `Rtc` (aws-lc-rs, the only backend of str0m 0.25
    // that resolves here: see README.md).
    str0m::crypto::from_feature_flags().install_process_default();
    let res = match argv.get(1).map(String::as_str) {
        Some("server") => Args::parse(&argv[2..]).and_then(server),
        Some("client") => Args::parse(&argv[2..]).and_then(client),
        _ => Err(USAGE.to_owned()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webrtc-stacks: {e}");
            ExitCode::FAILURE
        }
    }
}

fn client(a: Args) -> Result<(), String> {
    let stack = a.get("stack").unwrap_or("str0m");
    if stack != "str0m" {
        return Err("the client is always str0m (the same load for both servers)".to_owned());
    }
    let opts = client::Opts {
        server: loopback(a.req("server")?)?,
        calls: a.parse_or("calls", 300)?,
        seconds: a.parse_or("seconds", 30)?,
        rate: a.parse_or("rate", 50.0)?,
        watch_pid: a
            .get("watch-pid")
            .map(|p| p.parse().map_err(|_| format!("bad pid {p}")))
            .transpose()?,
        label: a.get("label").unwrap_or("-").to_owned(),
    };
    if opts.rate <= 0.0 || opts.calls == 0 {
        return Err("--calls and --rate must be positive".to_owned());
    }
    client::run(opts)
}

fn server(a: Args) -> Result<(), String> {
    let stack = a.req("stack")?.to_owned();
    let listen = loopback(a.req("listen")?)?;
    let shared = a.get("shared-socket").map(loopback).transpose()?;
    if stack != "str0m" && stack != "webrtc-rs" {
        return Err(format!("unknown stack {stack}"));
    }
    if shared.is_some() && stack == "str0m" {
        return Err("--shared-socket is implemented for webrtc-rs only".to_owned());
    }
    // The same runtime for both stacks: tokio's multi-thread default (one worker per core),
    // as in Switchboard.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listen {listen}: {e}"))?;
        let counters = Arc::new(Counters::default());
        let api = if stack == "webrtc-rs" {
            let api = server_webrtc::build_api(shared).await?;
            server_webrtc::warm_up(&api).await?;
            Some(Arc::new(api))
        } else {
            server_str0m::warm_up();
            None
        };
        let bound = listener
            .local_addr()
            .map_err(|e| format!("local_addr: {e}"))?;
        // run.sh reads this line to learn the port when --listen has port 0.
        eprintln!("server: {stack} listening on {bound}");
        let c = Arc::clone(&counters);
        tokio::spawn(async move {
            let mut last = (0, 0, 0, 0);
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let now = (
                    c.calls.load(Ordering::Relaxed),
                    c.ended.load(Ordering::Relaxed),
                    c.echoed.load(Ordering::Relaxed),
                    c.errors.load(Ordering::Relaxed),
                );
                if now != last {
                    // Tasks alive on the runtime: str0m needs one per call, webrtc-rs spawns
                    // its own.
                    let tasks = tokio::runtime::Handle::current()
                        .metrics()
                        .num_alive_tasks();
                    eprintln!(
                        "server: calls {} ended {} errors {} echoed {} tasks {tasks}",
                        now.0, now.1, now.3, now.2
                    );
                    last = now;
                }
            }
        });
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let counters = Arc::clone(&counters);
            let api = api.clone();
            tokio::spawn(async move {
                let r = signal::serve_one(stream, |offer| async move {
                    match api {
                        Some(api) => server_webrtc::answer(&api, offer, counters).await,
                        None => server_str0m::answer(offer, counters).await,
                    }
                })
                .await;
                if let Err(e) = r {
                    eprintln!("server: signalling: {e}");
                }
            });
        }
    })
}
