//! Gateways as data on the real binary (issue 14, Build 1): `switchboard
//! gateway add|list|remove` and `route add|list|remove` against the
//! database of a running server (which picks the rule up), their one-line
//! errors, the audit of each CLI change; the JSON API creating, changing
//! and deleting gateways, an outbound rule naming an unknown gateway
//! refused; and no password in any answer or listing.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::Server;

/// The password of every test gateway: no output may contain it.
const SECRET: &str = "Trunk-Secret-4711";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the CLI, which must succeed; its standard output.
fn cli_ok(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(
        out.status.success(),
        "switchboard {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains(SECRET),
        "{args:?} printed the password"
    );
    stdout(&out)
}

/// Runs the CLI, which must fail with one line on standard error; the line.
fn cli_err(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(!out.status.success(), "switchboard {args:?} succeeded");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "switchboard {args:?}: not one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

/// `method path` with a JSON body: status and JSON; the answer must not
/// hold the password.
fn call(server: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = match method {
        "GET" => server.http_get(path),
        "DELETE" => server.http_delete(path),
        "PUT" => server.http_put_json(path, &body.to_string()),
        "POST" => server.http_post_json(path, &body.to_string()),
        other => panic!("method {other}"),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert!(
        !text.contains(SECRET),
        "{method} {path} shows the password: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(!v.is_null(), "{method} {path}: not JSON: {text}");
    (status, v)
}

fn ok(server: &Server, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = call(server, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

/// Polls the route tester until `number` is won by `rule` (None: by no
/// rule): the running server applies CLI changes through the store's watch.
fn wait_winner(server: &Server, number: &str, rule: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = ok(
            server,
            "GET",
            &format!("/api/routes/test?number={number}"),
            Value::Null,
        );
        if v["winner"].as_str() == rule {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "the server never routed {number} by {rule:?}: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn gateways_and_outbound_rules_are_provisioned_with_the_cli() {
    let server = Server::builder("gw_cli").start();

    let out = cli_ok(
        &server,
        &[
            "gateway",
            "add",
            "gw1",
            "--mode",
            "uni",
            "--proxy",
            "192.0.2.10:5070",
            "--transport",
            "tcp",
            "--username",
            "6001",
            "--password",
            SECRET,
            "--realm",
            "carrier.example",
            "--from-domain",
            "carrier.example",
            "--outbound-proxy",
            "sbc.example:5060",
            "--ping-secs",
            "30",
            "--codecs",
            "pcma,pcmu",
        ],
    );
    assert!(out.contains("added gateway gw1"), "{out}");
    cli_ok(
        &server,
        &[
            "gateway",
            "add",
            "peer",
            "--mode",
            "nni",
            "--proxy",
            "198.51.100.1",
            "--addresses",
            "198.51.100.0/24",
        ],
    );
    cli_ok(
        &server,
        &[
            "gateway",
            "add",
            "ims1",
            "--mode",
            "ims",
            "--proxy",
            "ims.example.net",
            "--username",
            "+8651200000000",
            "--password",
            SECRET,
            "--impu",
            "sip:+8651200000000@ims.example.net",
            "--impi",
            "+8651200000000@ims.example.net",
            "--home-domain",
            "ims.example.net",
            "--pcscf",
            "198.51.100.7",
        ],
    );

    // Clear one-line refusals.
    let e = cli_err(
        &server,
        &[
            "gateway",
            "add",
            "gw1",
            "--mode",
            "nni",
            "--proxy",
            "192.0.2.11",
        ],
    );
    assert!(e.contains("\"gw1\" already exists"), "{e}");
    let e = cli_err(
        &server,
        &[
            "gateway",
            "add",
            "gw2",
            "--mode",
            "sip",
            "--proxy",
            "192.0.2.11",
        ],
    );
    assert!(
        e.contains("--mode: unknown mode \"sip\" (use nni, uni, ims)"),
        "{e}"
    );
    let e = cli_err(
        &server,
        &[
            "gateway",
            "add",
            "gw2",
            "--mode",
            "uni",
            "--proxy",
            "carrier.example",
        ],
    );
    assert!(
        e.contains("--username is required") && e.contains("--password is required"),
        "{e}"
    );
    let e = cli_err(
        &server,
        &[
            "gateway",
            "add",
            "gw2",
            "--mode",
            "nni",
            "--proxy",
            "bad host:5060",
        ],
    );
    assert!(e.contains("--proxy"), "{e}");

    // The list: no password; the API reads the same rows.
    let list = cli_ok(&server, &["gateway", "list"]);
    for needle in [
        "gw1",
        "192.0.2.10:5070",
        "tcp",
        "peer",
        "nni",
        "ims1",
        "3 gateway(s)",
    ] {
        assert!(list.contains(needle), "{needle}: {list}");
    }
    let g = ok(&server, "GET", "/api/gateways/gw1", Value::Null);
    assert_eq!(
        (g["mode"].as_str(), g["port"].as_u64(), g["realm"].as_str()),
        (Some("uni"), Some(5070), Some("carrier.example"))
    );
    assert_eq!(g["outbound_proxy"], "sbc.example:5060");
    assert_eq!(g["codecs"], json!(["PCMA", "PCMU"]));
    assert_eq!(g["password_set"], true);

    // An outbound rule through two gateways, applied by the running server.
    let out = cli_ok(
        &server,
        &[
            "route",
            "add",
            "callout",
            "--type",
            "outbound",
            "--pattern",
            r"^0(\d{5,})$",
            "--gateway",
            "gw1,peer",
            "--strip",
            "1",
            "--prefix",
            "0086",
        ],
    );
    assert!(out.contains("added routing rule callout"), "{out}");
    let v = wait_winner(&server, "013800138000", Some("callout"));
    let steps = v.to_string();
    assert!(
        steps.contains("008613800138000") && steps.contains("gw1") && steps.contains("peer"),
        "{v}"
    );
    let e = cli_err(
        &server,
        &[
            "route",
            "add",
            "other",
            "--type",
            "outbound",
            "--pattern",
            "^9",
            "--gateway",
            "gw1,nope",
        ],
    );
    assert!(e.contains("unknown gateway \"nope\""), "{e}");
    let e = cli_err(
        &server,
        &[
            "route",
            "add",
            "callout",
            "--type",
            "outbound",
            "--pattern",
            "^8",
            "--gateway",
            "gw1",
        ],
    );
    assert!(e.contains("\"callout\" already exists"), "{e}");
    let list = cli_ok(&server, &["route", "list"]);
    assert!(
        list.contains("callout") && list.contains("via gw1,peer strip 1 prefix 0086"),
        "{list}"
    );

    // A gateway in use stays; once the rule is gone it can go.
    let e = cli_err(&server, &["gateway", "remove", "peer"]);
    assert!(e.contains("routing rule(s) \"callout\""), "{e}");
    cli_ok(&server, &["route", "remove", "callout"]);
    wait_winner(&server, "013800138000", None);
    let e = cli_err(&server, &["route", "remove", "callout"]);
    assert!(e.contains("no routing rule named \"callout\""), "{e}");
    for name in ["gw1", "peer", "ims1"] {
        let out = cli_ok(&server, &["gateway", "remove", name]);
        assert!(out.contains(&format!("removed gateway {name}")), "{out}");
    }
    let e = cli_err(&server, &["gateway", "remove", "gw1"]);
    assert!(e.contains("no gateway named \"gw1\""), "{e}");
    assert_eq!(
        ok(&server, "GET", "/api/gateways", Value::Null)["gateways"],
        json!([])
    );

    // Every CLI change is in the audit log, the password as ***.
    let v = ok(&server, "GET", "/api/audit?method=CLI", Value::Null);
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    let find = |url: &str, ok: bool| {
        entries
            .iter()
            .any(|e| e["url"] == url && e["ok"] == ok && e["action"] == "change")
    };
    assert!(find("gateway add gw1", true), "{v}");
    assert!(find("gateway add gw2", false), "{v}");
    assert!(find("route add callout", true), "{v}");
    assert!(find("gateway remove peer", false), "{v}");
    assert!(find("gateway remove peer", true), "{v}");
    let add = entries
        .iter()
        .find(|e| e["url"] == "gateway add gw1" && e["ok"] == true)
        .cloned()
        .unwrap_or_default();
    let params = add["params"].as_str().unwrap_or_default();
    assert!(params.contains("--password ***"), "{params}");
}

#[test]
fn the_gateway_api_creates_updates_and_deletes_and_rules_must_name_real_gateways() {
    let server = Server::builder("gw_api").start();
    let created = ok(
        &server,
        "POST",
        "/api/gateways",
        json!({
            "name": "carrier", "mode": "uni", "proxy": "192.0.2.20",
            "username": "7001", "password": SECRET, "max_calls": 30,
            "identity": "pai", "caller_id": "+862162620668",
        }),
    );
    assert_eq!(created["name"], "carrier");
    assert_eq!(created["expire_secs"], 3600);
    assert!(created.get("password").is_none(), "{created}");
    ok(
        &server,
        "POST",
        "/api/gateways",
        json!({"name": "backup", "mode": "nni", "proxy": "192.0.2.21"}),
    );

    // The same name: 409; bad input: 400 naming a field.
    let (status, v) = call(
        &server,
        "POST",
        "/api/gateways",
        json!({"name": "carrier", "mode": "nni", "proxy": "192.0.2.22"}),
    );
    assert_eq!((status, v["field"].as_str()), (409, Some("name")), "{v}");
    let (status, v) = call(
        &server,
        "POST",
        "/api/gateways",
        json!({"name": "x", "mode": "nni", "proxy": "192.0.2.22", "codecs": ["GSM"]}),
    );
    assert_eq!((status, v["field"].as_str()), (400, Some("codecs")), "{v}");

    // PUT without a password keeps it (the gateway still validates as UNI,
    // which needs one), with one changes it.
    let mut body = ok(&server, "GET", "/api/gateways/carrier", Value::Null);
    body["note"] = "主用".into();
    let v = ok(&server, "PUT", "/api/gateways/carrier", body.clone());
    assert_eq!(v["note"], "主用");
    assert_eq!(v["password_set"], true);
    body["password"] = format!("{SECRET}-2").into();
    ok(&server, "PUT", "/api/gateways/carrier", body);
    let stored = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let store = server.store().await;
            let g = store.get_gateway("carrier").await.expect("read");
            store.close().await;
            g
        })
        .expect("stored");
    assert_eq!(stored.password, format!("{SECRET}-2"));
    assert_eq!(stored.note, "主用");

    // An outbound rule: each gateway named must exist.
    let rule = |gateways: Value| {
        json!({"name": "callout", "pattern": r"^0(\d+)$", "type": "outbound",
               "gateway": gateways, "strip_digits": 1})
    };
    let (status, v) = call(&server, "POST", "/api/routes", rule(json!("carrier, nope")));
    assert_eq!((status, v["field"].as_str()), (400, Some("gateway")), "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("nope"),
        "{v}"
    );
    let (status, v) = call(
        &server,
        "POST",
        "/api/routes",
        rule(json!(["carrier", "carrier"])),
    );
    assert_eq!((status, v["field"].as_str()), (400, Some("gateway")), "{v}");
    let r = ok(
        &server,
        "POST",
        "/api/routes",
        rule(json!(["carrier", "backup"])),
    );
    assert_eq!(r["gateway"], "carrier, backup", "{r}");
    let v = ok(
        &server,
        "GET",
        "/api/routes/test?number=0123456",
        Value::Null,
    );
    assert_eq!(v["winner"], "callout", "{v}");

    // Deleting a gateway in use: 409 naming the rule; then it goes.
    let (status, v) = call(&server, "DELETE", "/api/gateways/backup", Value::Null);
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("callout"),
        "{v}"
    );
    ok(
        &server,
        "DELETE",
        &format!("/api/routes/{}", r["id"]),
        Value::Null,
    );
    for name in ["backup", "carrier"] {
        let v = ok(
            &server,
            "DELETE",
            &format!("/api/gateways/{name}"),
            Value::Null,
        );
        assert_eq!(v["gateway"], name);
    }
    let (status, _) = call(&server, "GET", "/api/gateways/carrier", Value::Null);
    assert_eq!(status, 404);
    let (status, _) = call(&server, "DELETE", "/api/gateways/carrier", Value::Null);
    assert_eq!(status, 404);
    // The audit log has each change (written just after each answer)
    // without the password (which `call` checks).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = ok(&server, "GET", "/api/audit?url=/api/gateways", Value::Null);
        if v["total"].as_i64().unwrap_or(0) >= 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "changes missing from the audit log: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn gateway_codecs_are_the_media_engines() {
    let mut ours: Vec<&str> = media::codec::Codec::ALL
        .iter()
        .map(|c| c.encoding_name())
        .collect();
    ours.push("telephone-event");
    assert_eq!(callcenter::gateway::config::CODECS.to_vec(), ours);
}
