//! The JSON API of extensions and call-center settings on the real binary,
//! with a bearer token: extensions created in a batch reach the running
//! engine's directory, a queue, agent, tier, IVR menus and routing rules
//! built over the API apply live (the tester names the rule), bad input
//! (an invalid regex, an unknown queue, an IVR loop, an unknown extension)
//! is refused naming the field and changes nothing, and everything is
//! removed again (removals refused while something still uses them).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::Server;

/// The JSON of an answer, or Null.
fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// `method path` with a JSON body (empty for GET and DELETE): status and JSON.
fn call(server: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = match method {
        "GET" => server.http_get(path),
        "DELETE" => server.http_delete(path),
        "PUT" => server.http_put_json(path, &body.to_string()),
        "POST" => server.http_post_json(path, &body.to_string()),
        other => panic!("method {other}"),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let v = parse(&text);
    assert!(!v.is_null(), "{method} {path}: not JSON: {text}");
    (status, v)
}

/// `call` that must answer 200.
fn ok(server: &Server, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = call(server, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

/// `call` that must be refused with 400 naming `field`; the message.
fn refused(server: &Server, method: &str, path: &str, body: Value, field: &str) -> String {
    let (status, v) = call(server, method, path, body);
    assert_eq!(status, 400, "{method} {path}: {v}");
    assert_eq!(v["field"], field, "{method} {path}: {v}");
    v["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn extensions_and_call_center_settings_are_built_over_the_api_and_apply_live() {
    let server = Server::builder("web_api").start();

    // Extensions 201-203 in one batch, as the page's batch create.
    let v = ok(
        &server,
        "POST",
        "/api/extensions",
        json!({"numbers": "201-203", "password": "pw2010x", "display_name": "Desk"}),
    );
    assert_eq!(v["created"], json!(["201", "202", "203"]));
    let msg = refused(
        &server,
        "POST",
        "/api/extensions",
        json!({"numbers": "203-204", "password": "pw2010x"}),
        "numbers",
    );
    assert!(msg.contains("203"), "{msg}");
    let v = ok(&server, "GET", "/api/extensions", Value::Null);
    assert_eq!(v["total"], 3, "204 was not created: {v}");
    assert!(!v.to_string().contains("pw2010x"), "no passwords: {v}");

    // A queue, and agent 201 reached at its extension.
    ok(
        &server,
        "PUT",
        "/api/queues/support",
        json!({"strategy": "ring-all"}),
    );
    let v = ok(
        &server,
        "PUT",
        "/api/callcenter/agents/201",
        json!({"contact": "201", "wrap-up-time": 5}),
    );
    assert_eq!(
        (v["type"].as_str(), v["wrap-up-time"].as_u64()),
        (Some("callback"), Some(5))
    );
    let msg = refused(
        &server,
        "PUT",
        "/api/callcenter/agents/209",
        json!({"contact": "209"}),
        "contact",
    );
    assert!(!msg.is_empty());

    // The new extension reached the engine's directory: the agent logs in
    // at it with its SIP password (the directory refreshes within a second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server
            .http_post("/api/agents/201/login?extension=201&password=pw2010x")
            .expect("login");
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine never knew extension 201: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The agent in the queue; an unknown queue is refused naming it.
    let v = ok(
        &server,
        "PUT",
        "/api/callcenter/tiers/support/201",
        json!({"level": 2}),
    );
    assert_eq!(
        v,
        json!({"queue": "support", "agent": "201", "level": 2, "position": 1})
    );
    let msg = refused(
        &server,
        "PUT",
        "/api/callcenter/tiers/nosuch/201",
        json!({}),
        "queue",
    );
    assert!(msg.contains("nosuch"), "{msg}");
    let v = ok(&server, "GET", "/api/callcenter/agents/201", Value::Null);
    assert_eq!(v["queues"], json!(["support"]), "{v}");
    assert_eq!(v["status"], "Available", "{v}");
    let live = ok(&server, "GET", "/api/queues", Value::Null);
    assert!(live.to_string().contains("\"201\""), "{live}");

    // An extension may point at the queue now; at an unknown one it may not.
    let msg = refused(
        &server,
        "POST",
        "/api/extensions",
        json!({"numbers": "204", "password": "pw2010x", "kind": "queue", "target": "nosuch"}),
        "target",
    );
    assert!(msg.contains("nosuch"), "{msg}");

    // IVR menus: main leading to an extension, sub, then main also to sub.
    let main_entries = json!([
        {"label": "desk", "digits": "1", "type": "extension", "value": "202"},
        {"digits": "2", "type": "submenu", "value": "sub"},
    ]);
    ok(
        &server,
        "PUT",
        "/api/ivr/main",
        json!({"name": "Main", "greet_long": "welcome", "entries": [main_entries[0].clone()]}),
    );
    let v = ok(
        &server,
        "PUT",
        "/api/ivr/sub",
        json!({"greet_long": "welcome", "entries": [{"digits": 9, "type": "back"}]}),
    );
    assert_eq!(v["entries"][0]["type"], "back");
    let v = ok(
        &server,
        "PUT",
        "/api/ivr/main",
        json!({"name": "Main", "greet_long": "welcome", "entries": main_entries}),
    );
    assert_eq!(v["entries"][1]["value"], "sub", "{v}");
    // A loop back to main: refused naming the entry.
    let msg = refused(
        &server,
        "PUT",
        "/api/ivr/sub",
        json!({"greet_long": "welcome", "entries": [
            {"digits": "9", "type": "back"},
            {"digits": "1", "type": "submenu", "value": "main"},
        ]}),
        "entries[1]",
    );
    assert!(msg.contains("loops back"), "{msg}");
    assert!(msg.contains("IVR menu 'sub'"), "{msg}");
    // An entry to an extension that does not exist: refused on that entry.
    let mut entries = main_entries.as_array().cloned().unwrap_or_default();
    entries.push(json!({"digits": "3", "type": "extension", "value": "7777"}));
    let msg = refused(
        &server,
        "PUT",
        "/api/ivr/main",
        json!({"greet_long": "welcome", "entries": entries}),
        "entries[2]",
    );
    assert!(msg.contains("7777"), "{msg}");
    // Nothing of the refused changes was kept; GET gives back what PUT takes.
    let sub = ok(&server, "GET", "/api/ivr/sub", Value::Null);
    assert_eq!(sub["entries"].as_array().map(Vec::len), Some(1), "{sub}");
    let main = ok(&server, "GET", "/api/ivr/main", Value::Null);
    assert_eq!(main["entries"].as_array().map(Vec::len), Some(2), "{main}");
    ok(&server, "PUT", "/api/ivr/main", main.clone());
    assert_eq!(ok(&server, "GET", "/api/ivr/main", Value::Null), main);

    // Routing rules: an invalid regex and an unknown queue are refused by
    // field and change nothing; then a queue rule and an IVR rule.
    let rule = |name: &str, pattern: &str, queue: &str| json!({"name": name, "pattern": pattern, "type": "queue", "queue": queue});
    let msg = refused(
        &server,
        "POST",
        "/api/routes",
        rule("support-line", r"^(94\d", "support"),
        "pattern",
    );
    assert!(msg.contains("not a valid regular expression"), "{msg}");
    let msg = refused(
        &server,
        "POST",
        "/api/routes",
        rule("support-line", "9400", "nosuch"),
        "queue",
    );
    assert!(msg.contains("unknown queue 'nosuch'"), "{msg}");
    assert_eq!(ok(&server, "GET", "/api/routes", Value::Null), json!([]));
    let support = ok(
        &server,
        "POST",
        "/api/routes",
        rule("support-line", "9400", "support"),
    );
    assert_eq!(
        (support["order"].as_i64(), support["enabled"].as_bool()),
        (Some(10), Some(true))
    );
    let menu_line = ok(
        &server,
        "POST",
        "/api/routes",
        json!({"name": "menu-line", "pattern": "9500", "type": "ivr", "menu": "main"}),
    );
    assert_eq!(menu_line["order"], 20, "after the last rule: {menu_line}");

    // The tester names the rule and where the call goes.
    let v = ok(&server, "GET", "/api/routes/test?number=9400", Value::Null);
    assert_eq!(v["winner"], "support-line", "{v}");
    assert_eq!(v["route"], "queue \"support\"", "{v}");
    let v = ok(&server, "GET", "/api/routes/test?number=9500", Value::Null);
    assert_eq!(v["winner"], "menu-line", "{v}");
    let v = ok(&server, "GET", "/api/routes/test?number=9999", Value::Null);
    assert!(v["winner"].is_null(), "{v}");
    // Moving the IVR rule up puts it first.
    let v = ok(
        &server,
        "POST",
        &format!("/api/routes/{}/move?dir=up", menu_line["id"]),
        Value::Null,
    );
    assert_eq!(v["rules"][0]["name"], "menu-line", "{v}");

    // Removals are refused while something uses the queue or the menu.
    let (status, v) = call(&server, "DELETE", "/api/queues/support", Value::Null);
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("support-line"),
        "{v}"
    );
    let (status, v) = call(&server, "DELETE", "/api/ivr/sub", Value::Null);
    assert_eq!(status, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("IVR menu 'main'"),
        "{v}"
    );

    // Remove everything.
    for path in [
        format!("/api/routes/{}", support["id"]),
        format!("/api/routes/{}", menu_line["id"]),
        "/api/ivr/main".into(),
        "/api/ivr/sub".into(),
        "/api/callcenter/tiers/support/201".into(),
        "/api/callcenter/agents/201".into(),
        "/api/queues/support".into(),
        "/api/extensions/201".into(),
        "/api/extensions/202".into(),
        "/api/extensions/203".into(),
    ] {
        ok(&server, "DELETE", &path, Value::Null);
    }
    for path in [
        "/api/routes",
        "/api/ivr",
        "/api/callcenter/agents",
        "/api/callcenter/tiers",
    ] {
        assert_eq!(ok(&server, "GET", path, Value::Null), json!([]), "{path}");
    }
    assert_eq!(
        ok(&server, "GET", "/api/extensions", Value::Null)["total"],
        0
    );
    let (status, _) = call(&server, "DELETE", "/api/extensions/201", Value::Null);
    assert_eq!(status, 404);
}
