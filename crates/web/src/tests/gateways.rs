//! Router tests of the SIP gateway pages and API (harness: the parent
//! module), without an engine: permissions, the form's defaults and
//! checks in both languages, the write-only password, the API's answers
//! and errors, and the audit of each change.

use axum::http::StatusCode;
use callcenter::gateway::config::{Gateway, Mode};

use super::{audit_until, App, Browser, PW};

/// The password every test gateway gets; no answer may contain it.
const SECRET: &str = "Carrier-Secret-77";

/// A non-admin user holding `grants` (through a role), signed in.
async fn user_with(app: &App, username: &str, grants: &[&str]) -> Browser {
    let id = app.user(username, false).await;
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let role = app
        .store
        .create_role(&format!("{username}-role"), "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    app.browser(username, PW).await
}

/// A UNI gateway's form, as a browser posts it.
fn uni_form(name: &str) -> String {
    format!(
        "name={name}&mode=uni&proxy=192.0.2.10%3A5070&port=5060&transport=udp&username=6001\
         &password={SECRET}&expire_secs=600&retry_secs=30&ping_secs=0&max_calls=10\
         &strip_digits=0&codecs=pcma%2C+PCMU&identity=pai&privacy=none&enabled=1&note=%E4%B8%AD%E7%BB%A7"
    )
}

#[tokio::test]
async fn gateway_pages_and_api_check_permissions() {
    let app = App::new().await;
    let nobody = user_with(&app, "nobody", &[]).await;
    for path in [
        "/voice/gateways",
        "/voice/gateways/new",
        "/voice/gateways/gw1",
    ] {
        let r = app.get(path, Some(&nobody.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    for path in ["/voice/gateways", "/voice/gateways/gw1/delete"] {
        let r = app.submit(&nobody, path, &uni_form("gw1")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app.store.list_gateways().await.unwrap().is_empty());

    // View only: the list and the menu entry, no edit controls, edits refused.
    app.store
        .add_gateway(&Gateway {
            username: "6001".into(),
            password: SECRET.into(),
            ..Gateway::new("gw1", Mode::Uni, "192.0.2.10")
        })
        .await
        .unwrap();
    let viewer = user_with(&app, "viewer", &["voice.gateways:view"]).await;
    let r = app.get("/voice/gateways", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("menu-voice-gateways"), "menu entry");
    assert!(r.body.contains("data-test=\"gateway-row-gw1\""));
    assert!(!r.body.contains("btn-new-gateway"));
    assert!(!r.body.contains("btn-delete-gateway-gw1"));
    let r = app.get("/voice/gateways/gw1", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains(SECRET));
    assert!(!r.body.contains("btn-save"));
    let r = app.submit(&viewer, "/voice/gateways/gw1/delete", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/", Some(&nobody.cookie)).await;
    assert!(!r.body.contains("menu-voice-gateways"));

    let token = crate::create_api_token(&app.store, "viewer", "t")
        .await
        .unwrap();
    let r = app.api("GET", "/api/gateways", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.api("DELETE", "/api/gateways/gw1", Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(app.store.get_gateway("gw1").await.unwrap().is_some());
}

#[tokio::test]
async fn add_edit_and_delete_through_the_form_keep_the_password_hidden() {
    let app = App::new().await;
    let admin = app.admin().await;

    // The new form: mod_sofia's defaults, IMS and NNI fields tied to their mode.
    let r = app.get("/voice/gateways/new", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in [
        "id=\"f-port\" name=\"port\" data-test=\"input-port\" value=\"5060\"",
        "id=\"f-expire_secs\" name=\"expire_secs\" data-test=\"input-expire_secs\" value=\"3600\"",
        "id=\"f-retry_secs\" name=\"retry_secs\" data-test=\"input-retry_secs\" value=\"30\"",
        "id=\"field-impu\" data-kind=\"ims\"",
        "id=\"field-pcscf\" data-kind=\"ims\"",
        "id=\"field-addresses\" data-kind=\"nni\"",
        "type=\"password\" id=\"f-password\"",
        "data-kind-select=\"f-mode\"",
    ] {
        assert!(r.body.contains(needle), "{needle}");
    }

    let r = app
        .submit(&admin, "/voice/gateways", &uni_form("gw1"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/voice/gateways/gw1?done=created");
    let g = app.store.get_gateway("gw1").await.unwrap().unwrap();
    assert_eq!((g.proxy.as_str(), g.port), ("192.0.2.10", 5070));
    assert_eq!(g.password, SECRET);
    assert_eq!(g.codecs, ["PCMA", "PCMU"]);
    assert_eq!(g.note, "中继");
    assert_eq!((g.expire_secs, g.max_calls), (600, 10));
    assert!(g.enabled);

    // Neither the list nor the edit form shows the password.
    for path in ["/voice/gateways", "/voice/gateways/gw1?done=created"] {
        let r = app.get(path, Some(&admin.cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains(SECRET), "{path}");
        assert!(r.body.contains("gw1"), "{path}");
    }

    // An edit with an empty password keeps it; the name stays the path's.
    let edit = uni_form("other")
        .replace(&format!("password={SECRET}"), "password=")
        .replace("enabled=1", "enabled=0")
        .replace("max_calls=10", "max_calls=20");
    let r = app.submit(&admin, "/voice/gateways/gw1", &edit).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/voice/gateways/gw1?done=saved");
    let g = app.store.get_gateway("gw1").await.unwrap().unwrap();
    assert_eq!(g.password, SECRET);
    assert_eq!(g.max_calls, 20);
    assert!(!g.enabled);
    assert!(app.store.get_gateway("other").await.unwrap().is_none());

    // The same name again: 409 next to the name, nothing changed.
    let r = app
        .submit(&admin, "/voice/gateways", &uni_form("gw1"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("data-test=\"error-name\""));
    assert!(
        !r.body.contains(SECRET),
        "a refused form drops the password"
    );

    // Delete: gone, with a message on the list.
    let r = app.submit(&admin, "/voice/gateways/gw1/delete", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/voice/gateways?done=deleted");
    assert!(app.store.list_gateways().await.unwrap().is_empty());
    let r = app.submit(&admin, "/voice/gateways/gw1/delete", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/voice/gateways/gw1", Some(&admin.cookie)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_values_are_named_next_to_their_fields_in_both_languages() {
    let app = App::new().await;
    let admin = app.admin().await;
    let bad = "name=bad%20name&mode=ims&proxy=not%20a%20host&port=0&transport=udp\
               &expire_secs=5&ping_secs=2&codecs=GSM&caller_id=12a&addresses=carrier.example\
               &impu=%2B8651200&enabled=1";
    let r = app.submit(&admin, "/voice/gateways", bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    for field in [
        "name",
        "proxy",
        "username",
        "password",
        "expire_secs",
        "ping_secs",
        "codecs",
        "caller_id",
        "impu",
        "impi",
        "home_domain",
        "addresses",
    ] {
        assert!(
            r.body.contains(&format!("data-test=\"error-{field}\"")),
            "{field}"
        );
    }
    assert!(
        r.body.contains("Unknown codec &quot;GSM&quot;"),
        "English text"
    );
    // The form comes back as sent, IMS chosen.
    assert!(r.body.contains("data-chosen=\"ims\""));
    assert!(r.body.contains("value=\"not a host\""));

    let zh = format!("{}; lang=zh-CN", admin.cookie);
    let body = format!("csrf={}&{bad}", admin.csrf);
    let r = app.post("/voice/gateways", Some(&zh), &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("未知的编解码"), "Chinese text");
    assert!(r.body.contains("请输入 0（关闭）或 5 到 3600 之间的数"));
    // Unreadable numbers and choices are refused too.
    let r = app
        .submit(
            &admin,
            "/voice/gateways",
            "name=gw2&mode=sip&proxy=h.example&max_calls=many&transport=sctp",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    for field in ["mode", "max_calls", "transport"] {
        assert!(
            r.body.contains(&format!("data-test=\"error-{field}\"")),
            "{field}"
        );
    }
    assert!(app.store.list_gateways().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_api_creates_changes_and_deletes_without_ever_showing_the_password() {
    let app = App::new().await;
    app.user("root", true).await;
    let tok = crate::create_api_token(&app.store, "root", "t")
        .await
        .unwrap();
    let body = serde_json::json!({
        "name": "ims1", "mode": "ims", "proxy": "ims.example.net",
        "username": "+8651200000000", "password": SECRET,
        "impu": "sip:+8651200000000@ims.example.net", "impi": "+8651200000000@ims.example.net",
        "home_domain": "ims.example.net", "pcscf": "198.51.100.7:5060",
        "codecs": ["PCMA", "telephone-event"], "identity": "pai", "max_calls": 30,
    });
    let r = app
        .api_json("POST", "/api/gateways", &tok, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let g = r.json();
    assert_eq!(g["name"], "ims1");
    assert_eq!(g["mode"], "ims");
    assert_eq!(g["port"], 5060, "left out: the default");
    assert_eq!(g["expire_secs"], 3600);
    assert_eq!(g["enabled"], true);
    assert_eq!(g["codecs"], serde_json::json!(["PCMA", "telephone-event"]));
    assert_eq!(g["password_set"], true);
    assert!(g.get("password").is_none());
    assert!(!r.body.contains(SECRET));

    // The same name: 409 naming it.
    let r = app.api_json("POST", "/api/gateways", &tok, body).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["field"], "name");
    // Bad settings: 400 naming the first field, every message in errors.
    let r = app
        .api_json(
            "POST",
            "/api/gateways",
            &tok,
            serde_json::json!({"name": "gw2", "mode": "uni", "proxy": "h.example", "expire_secs": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let e = r.json();
    let first = e["field"].as_str().unwrap_or_default();
    assert!(
        ["username", "password", "expire_secs"].contains(&first),
        "{e}"
    );
    for f in ["username", "password", "expire_secs"] {
        assert!(e["errors"][f].is_string(), "{f}: {e}");
    }
    let r = app.api("POST", "/api/gateways", Some(&tok)).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an empty body is no JSON"
    );

    // GET, list: no password.
    for path in ["/api/gateways", "/api/gateways/ims1"] {
        let r = app.api("GET", path, Some(&tok)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains(SECRET), "{path}");
        assert!(!r.body.contains("\"password\""), "{path}");
    }
    let r = app.api("GET", "/api/gateways", Some(&tok)).await;
    assert_eq!(r.json()["gateways"][0]["name"], "ims1");

    // PUT the GET's body back changed: the password is kept.
    let mut changed = app
        .api("GET", "/api/gateways/ims1", Some(&tok))
        .await
        .json();
    changed["note"] = "备用".into();
    changed["max_calls"] = 0.into();
    let r = app
        .api_json("PUT", "/api/gateways/ims1", &tok, changed.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["note"], "备用");
    assert_eq!(r.json()["max_calls"], 0);
    let stored = app.store.get_gateway("ims1").await.unwrap().unwrap();
    assert_eq!(stored.password, SECRET);
    // A new password is taken; a body naming another gateway is refused.
    changed["password"] = "New-Secret-1".into();
    let r = app
        .api_json("PUT", "/api/gateways/ims1", &tok, changed.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("New-Secret-1"));
    assert_eq!(
        app.store
            .get_gateway("ims1")
            .await
            .unwrap()
            .unwrap()
            .password,
        "New-Secret-1"
    );
    changed["name"] = "other".into();
    let r = app
        .api_json("PUT", "/api/gateways/ims1", &tok, changed)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "name");
    let r = app
        .api_json("PUT", "/api/gateways/nope", &tok, serde_json::json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // DELETE, then it is gone.
    let r = app.api("DELETE", "/api/gateways/ims1", Some(&tok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["gateway"], "ims1");
    for (method, path) in [
        ("DELETE", "/api/gateways/ims1"),
        ("GET", "/api/gateways/ims1"),
    ] {
        let r = app.api(method, path, Some(&tok)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
    }

    // Every change is audited, the password replaced by ***.
    // The audit is written behind: wait for the last change (the DELETE) too,
    // not only for a count, which the refused requests also reach.
    let deleted =
        |e: &&store::AuditEntry| e.method == "DELETE" && e.url == "/api/gateways/ims1" && e.ok;
    let entries = audit_until(&app, |rows| {
        rows.iter()
            .filter(|e| e.url.starts_with("/api/gateways"))
            .count()
            >= 7
            && rows.iter().any(|e| deleted(&e))
    })
    .await;
    for e in entries
        .iter()
        .filter(|e| e.url.starts_with("/api/gateways"))
    {
        assert!(!e.params.contains(SECRET), "{e:?}");
        assert!(!e.params.contains("New-Secret-1"), "{e:?}");
        assert_eq!(e.username, "root");
    }
    assert!(entries.iter().any(|e| deleted(&e)));
}
