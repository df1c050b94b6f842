//! A real browser SIP stack over WebSocket: JsSIP (npm `jssip`, installed by
//! tests/run into tests/artifacts/jssip) runs in the headless browser on the
//! server's own page and registers a WebRTC-enabled extension over `ws` on
//! the HTTP port's `/ws` with digest authentication; a UDP phone calls it,
//! JsSIP rings (its 180 reaches the caller through the B2BUA) and declines
//! (486); an extension without WebRTC is refused; stopping JsSIP closes
//! the connection. Media with a browser is the desk phone's test
//! (tests/browser/desk.rs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::driver::{run_on, server_name, BrowserKind, BrowserOptions, Ctx};
use crate::flows;
use crate::harness::{self, Server};

/// The JsSIP version tests/run installs.
const JSSIP_VERSION: &str = "3.13.8";

/// Where tests/run installs JsSIP and its dependencies.
fn jssip_dir() -> PathBuf {
    harness::artifacts().join("jssip")
}

/// Every `.js` and `.json` file under `dir`, relative to `root`.
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|x| x == "js" || x == "json") {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((rel, text));
        }
    }
}

/// JsSIP as one script for the page: its CommonJS modules and their
/// dependencies' (as npm installed them), each wrapped in a function, and
/// a small `require` that resolves the way Node does (relative paths,
/// package entry points, the `browser` field); sets `window.JsSIP`.
fn jssip_bundle() -> String {
    let modules = jssip_dir().join("node_modules");
    let pkg = modules.join("jssip/package.json");
    let version = std::fs::read_to_string(&pkg)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string));
    assert_eq!(
        version.as_deref(),
        Some(JSSIP_VERSION),
        "JsSIP {JSSIP_VERSION} is not installed in {}: run tests/run, which installs it with npm",
        modules.display()
    );
    let mut files = Vec::new();
    sources(&modules, &modules, &mut files);
    let mut code =
        String::from("(function () {\nvar files = {};\nvar json = {};\nvar entry = {};\n");
    for (path, text) in &files {
        let key = serde_json::to_string(path).expect("a JSON string");
        if path.ends_with(".json") {
            // Only what parses is data a module could require.
            if serde_json::from_str::<serde_json::Value>(text).is_ok() {
                code.push_str(&format!("json[{key}] = {text};\n"));
            }
            if path.matches('/').count() == 1 && path.ends_with("/package.json") {
                let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                let main = v["browser"]
                    .as_str()
                    .or(v["main"].as_str())
                    .unwrap_or("index.js")
                    .trim_start_matches("./")
                    .to_string();
                let name = serde_json::to_string(path.trim_end_matches("/package.json"))
                    .expect("a JSON string");
                code.push_str(&format!(
                    "entry[{name}] = {};\n",
                    serde_json::to_string(&main).expect("a JSON string")
                ));
            }
        } else {
            // A command-line script's `#!` line is no JavaScript in a function.
            let text = if text.starts_with("#!") {
                text.split_once('\n').map_or("", |(_, rest)| rest)
            } else {
                text
            };
            code.push_str(&format!(
                "files[{key}] = function (module, exports, require) {{\n{text}\n}};\n"
            ));
        }
    }
    code.push_str(
        r#"
var cache = {};
function join(parts) {
  var out = [];
  parts.forEach(function (p) {
    if (p === '..') { out.pop(); } else if (p !== '.' && p !== '') { out.push(p); }
  });
  return out.join('/');
}
function resolve(from, req) {
  var base;
  if (req.charAt(0) === '.') {
    base = join(from.split('/').slice(0, -1).concat(req.split('/')));
  } else {
    var segs = req.split('/');
    var n = req.charAt(0) === '@' ? 2 : 1;
    var name = segs.slice(0, n).join('/');
    var rest = segs.slice(n).join('/');
    base = join([name].concat((rest || entry[name] || 'index.js').split('/')));
  }
  var tries = [base, base + '.js', base + '.json', base + '/index.js'];
  for (var i = 0; i < tries.length; i++) {
    if (files[tries[i]] || json[tries[i]]) { return tries[i]; }
  }
  throw new Error('JsSIP bundle: cannot find ' + req + ' from ' + from);
}
function load(id) {
  if (json[id]) { return json[id]; }
  if (cache[id]) { return cache[id].exports; }
  var m = { exports: {} };
  cache[id] = m;
  files[id].call(m.exports, m, m.exports, function (r) { return load(resolve(id, r)); });
  return m.exports;
}
window.JsSIP = load(resolve('', 'jssip'));
})();
return window.JsSIP.version;
"#,
    );
    code
}

/// Where the product ships JsSIP for the desk's browser phone: the same
/// bundle of npm's package, unmodified, as a static asset.
fn vendored() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/web/assets/vendor/jssip.js")
}

/// The bundle as the product serves it: it sets `window.JsSIP` (no value
/// returned to a test's eval).
fn vendor_bundle() -> String {
    let code = jssip_bundle();
    let body = code
        .strip_suffix("return window.JsSIP.version;\n")
        .unwrap_or(&code);
    format!(
        "// JsSIP {JSSIP_VERSION} (npm package `jssip` and its dependencies, MIT licensed: see\n\
         // https://github.com/versatica/JsSIP/blob/master/LICENSE.md), unmodified, bundled\n\
         // by tests/browser/jssip.rs (SWITCHBOARD_WRITE_JSSIP=1 cargo test --test browser\n\
         // vendored_jssip) for the agent desk's browser phone.\n{body}"
    )
}

/// The JsSIP the product ships is npm's package, byte for byte as bundled
/// here (so it can be checked, and upgraded by one command).
#[test]
fn vendored_jssip_is_the_npm_package() {
    let want = vendor_bundle();
    if std::env::var_os("SWITCHBOARD_WRITE_JSSIP").is_some() {
        std::fs::write(vendored(), &want).expect("write the vendored bundle");
    }
    let have = std::fs::read_to_string(vendored()).expect("the vendored bundle");
    assert!(
        have == want,
        "crates/web/assets/vendor/jssip.js is not npm's JsSIP {JSSIP_VERSION} as bundled"
    );
}

/// Starts a JsSIP UA in the page for `user`, registering over `url`;
/// what happens is pushed to `window.__sip[user]` as text.
fn start_ua(url: &str, user: &str) -> String {
    format!(
        r#"
window.__sip = window.__sip || {{}};
var log = window.__sip['{user}'] = [];
var socket = new JsSIP.WebSocketInterface('{url}');
var ua = new JsSIP.UA({{
  sockets: [socket], uri: 'sip:{user}@127.0.0.1', password: 'secret',
  register: true, session_timers: false, connection_recovery_min_interval: 60,
  connection_recovery_max_interval: 60
}});
ua.on('connected', function () {{ log.push('connected'); }});
ua.on('disconnected', function () {{ log.push('disconnected'); }});
ua.on('registered', function () {{ log.push('registered'); }});
ua.on('registrationFailed', function (e) {{
  log.push('registrationFailed:' + (e.response ? e.response.status_code + ' ' + e.response.reason_phrase : e.cause));
}});
ua.on('newRTCSession', function (e) {{
  if (e.originator !== 'remote') {{ return; }}
  window.__incoming = e.session;
  log.push('incoming:' + e.request.from.uri.user);
  e.session.on('failed', function (x) {{ log.push('failed:' + x.cause); }});
}});
window['__ua' + '{user}'] = ua;
ua.start();
return true;
"#
    )
}

/// The events of `user`'s UA so far.
async fn events(t: &Ctx, user: &str) -> Vec<String> {
    let v = t
        .browser
        .eval(&format!(
            "return (window.__sip && window.__sip['{user}']) || [];"
        ))
        .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `user`'s UA logged an event starting with `prefix`.
async fn wait_event(t: &Ctx, user: &str, prefix: &str) -> String {
    t.browser
        .until(&format!("JsSIP {user}: {prefix}"), async || {
            events(t, user)
                .await
                .into_iter()
                .find(|e| e.starts_with(prefix))
        })
        .await
}

browser_tests!(jssip_registers_over_ws_and_rings_on_a_call);
async fn jssip_registers_over_ws_and_rings_on_a_call(kind: BrowserKind) {
    let server = Server::builder(&server_name(kind, "jssip"))
        .extensions("1000-1002", "secret")
        .start();
    flows::edit_extension(&server, "1000", |e| e.webrtc = true).await;
    let bundle = jssip_bundle();
    let server = Arc::new(server);
    run_on(
        kind,
        server,
        "jssip",
        BrowserOptions::default(),
        |t| async move {
            // The server's own page: /ws is on its origin (the page's
            // Content-Security-Policy allows it).
            t.browser.goto("/login").await;
            let version = t.browser.eval(&bundle).await;
            assert_eq!(version.as_str(), Some(JSSIP_VERSION));
            let url = format!("ws://127.0.0.1:{}/ws", t.server.http_port);

            // An extension without WebRTC is refused.
            t.browser.eval(&start_ua(&url, "1002")).await;
            let refused = wait_event(&t, "1002", "registrationFailed").await;
            assert_eq!(
                refused,
                "registrationFailed:403 WebRTC not enabled for this extension",
                "{:?}",
                events(&t, "1002").await
            );
            t.browser.eval("window.__ua1002.stop(); return true;").await;

            // 1000 registers. The server reads the WebRTC flag within a second
            // of the change: until then JsSIP is refused, and tries again.
            t.browser.eval(&start_ua(&url, "1000")).await;
            let mut retried = 0;
            t.browser
                .until("JsSIP 1000 registered", async || {
                    let log = events(&t, "1000").await;
                    if log.iter().any(|e| e == "registered") {
                        return Some(());
                    }
                    let failed = log
                        .iter()
                        .filter(|e| e.starts_with("registrationFailed"))
                        .count();
                    if failed > retried {
                        retried = failed;
                        t.browser
                            .eval("window.__ua1000.register(); return true;")
                            .await;
                    }
                    None
                })
                .await;

            // A UDP phone calls 1000: JsSIP rings, and its 180 reaches the
            // caller; it declines with 486, which the caller gets.
            let sip_addr = SocketAddr::from(([127, 0, 0, 1], t.server.sip_port));
            let mut caller = crate::ua::Ua::new("1001", "secret", sip_addr).await;
            assert_eq!(caller.register(300).await.status, Some(200));
            let offer = crate::ua::sdp(t.server.ports.media_port(0), "sendrecv");
            let call = tokio::spawn(async move {
                let (answer, _) = caller.invite("1000", &offer).await;
                (answer, caller.provisional.clone())
            });
            assert_eq!(wait_event(&t, "1000", "incoming").await, "incoming:1001");
            t.browser
                .eval("window.__incoming.terminate({ status_code: 486 }); return true;")
                .await;
            let (answer, provisional) = tokio::time::timeout(crate::ua::STEP, call)
                .await
                .expect("the caller's INVITE ends in time")
                .expect("caller task");
            assert_eq!(answer.status, Some(486), "{}", answer.raw);
            assert!(
                provisional.iter().any(|p| p.status == Some(180)),
                "JsSIP's ringing reached the caller: {provisional:?}"
            );

            // JsSIP stops: it unregisters and closes; nothing stays open.
            t.browser.eval("window.__ua1000.stop(); return true;").await;
            let until = std::time::Instant::now() + crate::ua::STEP;
            while t.server.metric("switchboard_sip_ws_connections", "") > 0.0 {
                assert!(
                    std::time::Instant::now() < until,
                    "the WebSocket connections closed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        },
    )
    .await;
}
