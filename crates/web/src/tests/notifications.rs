//! Router tests of the notification settings (`/account/notifications`,
//! `/api/me/notifications`: each user their own, unknown kinds refused,
//! changes audited) and of the call notices: a missed call and a new
//! voicemail reach the extension's user through a real SMTP server, and
//! not a user who switched the kind off.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use engine::base::events::{Event, EventBus};
use serde_json::json;

use super::crm::token_with;
use super::system::SmtpServer;
use super::{audit_until, App, PW};
use crate::notify_crm::calls::{self, CallFacts, Notice, Owners};
use crate::notify_crm::{switched_off, KINDS};

/// Gives `user` an e-mail address and an extension.
async fn bind(app: &App, user: i64, email: &str, extension: &str) {
    let u = app.store.get_user(user).await.unwrap().unwrap();
    app.store
        .update_user(
            user,
            &store::UserFields {
                username: u.username,
                name: u.name,
                email: email.into(),
                extension: extension.into(),
                enabled: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// The mail server of `smtp` in the system settings.
async fn use_smtp(app: &App, smtp: &SmtpServer) {
    app.store
        .put_settings(&[
            ("smtp.host".into(), "127.0.0.1".into()),
            ("smtp.port".into(), smtp.port.to_string()),
            ("smtp.security".into(), "none".into()),
            ("smtp.from".into(), "pbx@example.com".into()),
        ])
        .await
        .unwrap();
}

fn sent(app: &App) -> u64 {
    app.state
        .metrics()
        .notifications_sent
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// `text` with quoted-printable escapes decoded (lettre sends the
/// bilingual bodies so): `=E5=88=86` is bytes, `=` at a line's end joins.
fn unquote(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(v) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64 `text` decoded (whitespace skipped).
fn unbase64(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes() {
        let Some(v) = ABC.iter().position(|a| *a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message as the server logged it, its body decoded (lettre sends the
/// bilingual bodies as quoted-printable or base64, whichever is shorter).
fn decoded(message: &str) -> String {
    let message = message
        .split("------------ END MESSAGE")
        .next()
        .unwrap_or_default();
    let Some((head, body)) = message.split_once("\n\n") else {
        return message.to_string();
    };
    let body = if head.contains("Content-Transfer-Encoding: base64") {
        unbase64(body)
    } else {
        unquote(body)
    };
    format!("{head}\n\n{body}")
}

/// The messages the server received once `n` have (10 s at most), their
/// bodies decoded.
async fn messages(smtp: &SmtpServer, n: usize) -> Vec<String> {
    let mut got = String::new();
    for _ in 0..200 {
        got = smtp.received();
        if got.matches("MESSAGE FOLLOWS").count() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got.split("MESSAGE FOLLOWS").skip(1).map(decoded).collect()
}

#[tokio::test]
async fn each_user_sets_their_own_notifications_on_the_page_and_the_api_audited() {
    let app = App::new().await;
    let alice = app.user("alice", false).await;
    bind(&app, alice, "alice@example.com", "1001").await;
    let bob = app.user("bob", false).await;
    let b = app.browser("alice", PW).await;
    // Every kind, on; the address; no mail server yet: said so.
    let page = app.get("/account/notifications", Some(&b.cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for k in KINDS {
        assert!(
            page.body.contains(&format!(
                "value=\"{k}\" id=\"kind-{k}\" data-test=\"kind-{k}\" checked"
            )),
            "{k}: {}",
            page.body
        );
    }
    assert_eq!(KINDS.len(), 6);
    assert!(page.body.contains("Missed call") || page.body.contains("missed"));
    assert!(page.body.contains("alice@example.com"));
    assert!(page.body.contains("id=\"warn-no-smtp\""));
    assert!(!page.body.contains("id=\"warn-no-email\""));
    // The account menu links it.
    let home = app.get("/", Some(&b.cookie)).await;
    assert!(
        home.body.contains("id=\"menu-notifications\""),
        "{}",
        home.body
    );
    // Two kinds kept: the four others are off, Bob's settings untouched.
    let r = app
        .submit(
            &b,
            "/account/notifications",
            "on=ticket_assigned&on=voicemail",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/account/notifications?done=saved");
    assert_eq!(
        switched_off(&app.store, alice).await,
        [
            "ticket_replied",
            "ticket_overdue",
            "appointment_due",
            "missed_call"
        ]
    );
    assert!(switched_off(&app.store, bob).await.is_empty());
    let page = app
        .get("/account/notifications?done=saved", Some(&b.cookie))
        .await;
    assert!(page.body.contains("id=\"flash\""));
    assert!(page
        .body
        .contains("value=\"missed_call\" id=\"kind-missed_call\" data-test=\"kind-missed_call\">"));
    assert!(page.body.contains("data-test=\"kind-voicemail\" checked"));
    // A kind that does not exist: refused, nothing changed.
    let r = app
        .submit(&b, "/account/notifications", "on=ticket_assigned&on=fax")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("id=\"form-error\""));
    assert_eq!(switched_off(&app.store, alice).await.len(), 4);
    // The change is in the audit log, under Alice's name.
    audit_until(&app, |entries| {
        entries.iter().any(|e| {
            e.username == "alice"
                && e.method == "POST"
                && e.url == "/account/notifications"
                && e.ok
                && e.params.contains("on=voicemail")
        })
    })
    .await;

    // The API: Bob (no e-mail address) sees and changes only his own.
    let token = crate::create_api_token(&app.store, "bob", "t")
        .await
        .unwrap();
    let r = app.api("GET", "/api/me/notifications", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["kinds"].as_array().unwrap().len(), 6);
    assert_eq!(v["kinds"][4], json!({"kind": "missed_call", "on": true}));
    assert_eq!(v["email"], "");
    assert_eq!(v["smtp_configured"], false);
    let r = app
        .api_json(
            "PUT",
            "/api/me/notifications",
            &token,
            json!({"off": ["missed_call"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["kinds"][4],
        json!({"kind": "missed_call", "on": false})
    );
    assert_eq!(
        r.json()["kinds"][5],
        json!({"kind": "voicemail", "on": true})
    );
    assert_eq!(switched_off(&app.store, bob).await, ["missed_call"]);
    assert_eq!(switched_off(&app.store, alice).await.len(), 4);
    // Unknown kinds are named and refused; nothing changes.
    let r = app
        .api_json(
            "PUT",
            "/api/me/notifications",
            &token,
            json!({"off": ["voicemail", "carrier_pigeon"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["field"], "off");
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("\"carrier_pigeon\""),
        "{}",
        r.body
    );
    let r = app
        .api_json(
            "PUT",
            "/api/me/notifications",
            &token,
            json!({"off": "all"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(switched_off(&app.store, bob).await, ["missed_call"]);
    audit_until(&app, |entries| {
        entries.iter().any(|e| {
            e.username == "bob"
                && e.method == "PUT"
                && e.url == "/api/me/notifications"
                && e.ok
                && e.params.contains("missed_call")
        })
    })
    .await;
    // Bob's page warns that no mail can reach him.
    let bb = app.browser("bob", PW).await;
    let page = app.get("/account/notifications", Some(&bb.cookie)).await;
    assert!(page.body.contains("id=\"warn-no-email\""), "{}", page.body);
    assert!(page.body.contains("data-test=\"kind-missed_call\">"));
}

/// The basic rule only: 3-4 digits ring that extension.
struct BasicRule;

impl CallFacts for BasicRule {
    fn extension_of(&self, number: &str) -> Option<String> {
        (matches!(number.len(), 3 | 4) && number.bytes().all(|b| b.is_ascii_digit()))
            .then(|| number.to_string())
    }

    fn voicemail_answers(&self, _call: u64) -> bool {
        false
    }
}

/// Alice (extension 1001, may see her contacts, one of them the caller)
/// and Bob (1002), with addresses, and the mail server; the watcher
/// running on a bus of its own.
async fn call_center(app: &App, smtp: &SmtpServer) -> (i64, i64, EventBus) {
    use_smtp(app, smtp).await;
    let (alice, alice_token) =
        token_with(app, "alice", &["crm.contacts:view", "crm.contacts:edit"]).await;
    bind(app, alice, "alice@example.com", "1001").await;
    let r = app
        .api_json(
            "POST",
            "/api/contacts",
            &alice_token,
            json!({"name": "Zhang San", "mobile": "13800138000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bob = app.user("bob", false).await;
    bind(app, bob, "bob@example.com", "1002").await;
    let bus = EventBus::new(64);
    tokio::spawn(calls::run(app.state.clone(), bus.subscribe(), BasicRule));
    (alice, bob, bus)
}

#[tokio::test]
async fn a_missed_call_is_mailed_to_the_extensions_user_unless_switched_off() {
    let smtp = SmtpServer::start();
    let app = App::new().await;
    let (_, bob, bus) = call_center(&app, &smtp).await;
    // Answered: nothing. The caller gave up while 1001 rang: a notice.
    bus.publish(|| Event::CallStarted {
        id: 1,
        caller: "13800138000".into(),
        callee: "1001".into(),
        direction: "inbound",
    });
    bus.publish(|| Event::CallAnswered { id: 1 });
    bus.publish(|| Event::CallEnded {
        id: 1,
        cause: "NORMAL_CLEARING",
        sip_code: 200,
        hangup_by: "caller",
    });
    bus.publish(|| Event::CallStarted {
        id: 2,
        caller: "13800138000".into(),
        callee: "1001".into(),
        direction: "inbound",
    });
    bus.publish(|| Event::CallEnded {
        id: 2,
        cause: "ORIGINATOR_CANCEL",
        sip_code: 487,
        hangup_by: "caller",
    });
    let got = messages(&smtp, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert!(m.contains("alice@example.com"), "{m}");
    assert!(
        m.contains("Missed call from Zhang San (13800138000)"),
        "{m}"
    );
    assert!(m.contains("Extension / 分机: 1001"), "{m}");
    assert!(m.contains("the caller hung up while it rang"), "{m}");
    // Bob switched missed calls off: his notice is not sent. (The first
    // mail is counted once the SMTP exchange is over, which can be after
    // the sink has it: wait for the count before taking it.)
    crate::notify_crm::set_switched_off(&app.store, bob, &["missed_call".into()])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sent(&app) < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = sent(&app);
    assert_eq!(before, 1, "{}", app.state.metrics().render());
    let owners = tokio::sync::Mutex::new(Owners::default());
    let notice = Notice::Missed {
        extension: "1002".into(),
        caller: "1001".into(),
        at_ms: 0,
        cause: "NO_ANSWER".into(),
    };
    calls::send(&app.state, &notice, &owners).await;
    assert_eq!(sent(&app), before, "{}", app.state.metrics().render());
    // Switched on again, it is.
    crate::notify_crm::set_switched_off(&app.store, bob, &[])
        .await
        .unwrap();
    calls::send(&app.state, &notice, &owners).await;
    assert_eq!(sent(&app), before + 1, "{}", app.state.metrics().render());
    let got = messages(&smtp, 2).await;
    assert!(
        got.iter()
            .any(|m| m.contains("bob@example.com") && m.contains("Missed call from 1001")),
        "{got:?}"
    );
    // Bob may not see Alice's contacts: the number alone.
    assert!(!got
        .iter()
        .any(|m| m.contains("bob@example.com") && m.contains("Zhang")));
}

#[tokio::test]
async fn a_new_voicemail_is_mailed_to_the_mailbox_user_unless_switched_off() {
    let smtp = SmtpServer::start();
    let app = App::new().await;
    let (alice, bob, bus) = call_center(&app, &smtp).await;
    crate::notify_crm::set_switched_off(&app.store, bob, &["voicemail".into()])
        .await
        .unwrap();
    // A message for Bob (switched off), then one for Alice.
    let before = sent(&app);
    let owners = tokio::sync::Mutex::new(Owners::default());
    calls::send(
        &app.state,
        &Notice::Voicemail {
            mailbox: "1002".into(),
            caller: "1001".into(),
            at_ms: 0,
            duration_ms: 3000,
        },
        &owners,
    )
    .await;
    assert_eq!(sent(&app), before, "{}", app.state.metrics().render());
    let at = chrono::Utc::now().timestamp_millis();
    bus.publish(|| Event::VoicemailLeft {
        call: 9,
        message: 1,
        mailbox: "1001".into(),
        caller: "13800138000".into(),
        duration_ms: 65_400,
        at_ms: at,
    });
    let got = messages(&smtp, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert!(m.contains("alice@example.com"), "{m}");
    assert!(
        m.contains("New voicemail from Zhang San (13800138000)"),
        "{m}"
    );
    assert!(m.contains("Length / 时长: 1 min 5 s"), "{m}");
    assert!(m.contains("Mailbox / 信箱: 1001"), "{m}");
    // Alice switched it off: the next message is not mailed. (Her first
    // mail is counted once its SMTP exchange is over: wait for it.)
    crate::notify_crm::set_switched_off(&app.store, alice, &["voicemail".into()])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sent(&app) < before + 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = sent(&app);
    calls::send(
        &app.state,
        &Notice::Voicemail {
            mailbox: "1001".into(),
            caller: "13800138000".into(),
            at_ms: at,
            duration_ms: 1000,
        },
        &Arc::new(tokio::sync::Mutex::new(Owners::default())),
    )
    .await;
    assert_eq!(sent(&app), before);
}
