//! Router tests of tickets and the knowledge base: permissions, each user
//! kept to their data scope (404 outside it), bad input named, replies
//! moving the status, script in a body shown as text, attachments checked
//! by their bytes, the screen pop's open tickets, the knowledge search in
//! Chinese, and an e-mail notification reaching a real SMTP server.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

use super::crm::token_with;
use super::system::SmtpServer;
use super::App;
use tower::ServiceExt;

const TICKETS: &[&str] = &["tickets:view", "tickets:edit"];

#[tokio::test]
async fn tickets_api_checks_permissions_scope_and_input() {
    let app = App::new().await;
    let (alice_id, alice) = token_with(&app, "alice", TICKETS).await;
    let (bob_id, bob) = token_with(&app, "bob", TICKETS).await;
    let (_, carol) = token_with(&app, "carol", TICKETS).await;
    let (_, viewer) = token_with(&app, "viewer", &["tickets:view"]).await;
    let (_, nobody) = token_with(&app, "nobody", &[]).await;
    let mut managing = TICKETS.to_vec();
    managing.extend(["tickets:manage", "crm.data:all"]);
    let (_, boss) = token_with(&app, "boss", &managing).await;

    // Types are the managers'.
    let r = app
        .api_json(
            "POST",
            "/api/tickets/types",
            &alice,
            json!({"name": "投诉"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api_json("POST", "/api/tickets/types", &boss, json!({"name": "投诉"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let complaint = r.json()["id"].as_i64().unwrap();

    // Alice opens a ticket for Bob; script in the body is not kept.
    let r = app
        .api_json(
            "POST",
            "/api/tickets",
            &alice,
            json!({
                "title": "发票没有收到",
                "body": "<p>请尽快<script>alert(1)</script><img src=x onerror=alert(2)></p>",
                "priority": "urgent",
                "assignee_id": bob_id,
                "category_id": complaint,
                "tags": "发票, VIP",
                "phone": "+86 186 1861 6001",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let t = r.json();
    let id = t["id"].as_i64().unwrap();
    assert_eq!(t["requester_id"], alice_id);
    assert_eq!(t["status"], "new");
    assert_eq!(t["tags"], json!(["发票", "VIP"]));
    let body = t["body"].as_str().unwrap();
    assert!(body.starts_with("<p>请尽快"), "{body}");
    assert!(
        !body.contains("script") && !body.contains("onerror"),
        "{body}"
    );

    // Bad input: each named.
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x", "priority": "critical"}), "priority"),
        (json!({"title": "x", "status": "open"}), "status"),
        (json!({"title": "x", "assignee_id": 99999}), "user_id"),
        (json!({"title": "x", "colour": "red"}), "colour"),
    ] {
        let r = app.api_json("POST", "/api/tickets", &alice, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{}", r.body);
    }
    let r = app
        .api("GET", "/api/tickets?view=everything", Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Permissions.
    assert_eq!(
        app.api("GET", "/api/tickets", Some(&nobody)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .api_json("POST", "/api/tickets", &viewer, json!({"title": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.api("DELETE", &format!("/api/tickets/{id}"), Some(&alice))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Scope: Bob handles it and sees it; Carol does not (404, as if absent).
    assert_eq!(
        app.api("GET", &format!("/api/tickets/{id}"), Some(&bob))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api("GET", &format!("/api/tickets/{id}"), Some(&carol))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .api_json(
            "POST",
            &format!("/api/tickets/{id}/replies"),
            &carol,
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Carol may not open a ticket that leaves her scope at once.
    let r = app
        .api_json(
            "POST",
            "/api/tickets",
            &carol,
            json!({"title": "for others", "requester_id": alice_id, "assignee_id": bob_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app.api("GET", "/api/tickets?view=all", Some(&carol)).await;
    assert_eq!(r.json()["total"], 0);
    let r = app
        .api("GET", "/api/tickets?view=pending", Some(&bob))
        .await;
    assert_eq!(r.json()["total"], 1, "{}", r.body);

    // Replies: Bob's private note, his answer, Alice asking again.
    let reply = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.api_json("POST", &format!("/api/tickets/{id}/replies"), &token, body)
                .await
        }
    };
    let r = reply(bob.clone(), json!({"body": "查物流", "private": true})).await;
    assert_eq!(r.json()["status"], "new", "{}", r.body);
    let r = reply(bob.clone(), json!({"body": "已补寄 <b>顺丰</b>"})).await;
    assert_eq!(r.json()["status"], "replied");
    let r = reply(alice.clone(), json!({"body": "还是没有收到"})).await;
    assert_eq!(r.json()["status"], "reopened");
    let r = reply(alice.clone(), json!({"body": "  "})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Close, follow, read it whole.
    let r = app
        .api_json(
            "PUT",
            &format!("/api/tickets/{id}"),
            &bob,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["closed_at"].is_i64());
    let r = app
        .api_json(
            "PUT",
            &format!("/api/tickets/{id}/follow"),
            &bob,
            json!({"follow": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .api("GET", &format!("/api/tickets/{id}"), Some(&bob))
        .await;
    let full = r.json();
    assert_eq!(full["replies"].as_array().unwrap().len(), 3);
    assert_eq!(full["replies"][0]["private"], true);
    assert_eq!(full["followers"], json!([bob_id]));
    let fields: Vec<&str> = full["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["created", "status", "status", "status"]);
    let r = app
        .api("GET", "/api/tickets?view=followed", Some(&bob))
        .await;
    assert_eq!(r.json()["total"], 1);
    let r = app
        .api("GET", "/api/tickets?view=closed", Some(&alice))
        .await;
    assert_eq!(r.json()["total"], 1);
    let r = app.api("GET", "/api/tickets/overview", Some(&alice)).await;
    assert_eq!(r.json()["total"], 1, "{}", r.body);
    assert_eq!(r.json()["mine"], 1);

    // The lookup: open tickets only (this one is closed), then reopened.
    let (_, agent) = token_with(
        &app,
        "agent",
        &["crm.contacts:view", "tickets:view", "crm.data:all"],
    )
    .await;
    let r = app
        .api("GET", "/api/lookup?number=18618616001", Some(&agent))
        .await;
    assert_eq!(r.json()["tickets"], json!([]), "{}", r.body);
    app.api_json(
        "PUT",
        &format!("/api/tickets/{id}"),
        &boss,
        json!({"status": "reopened"}),
    )
    .await;
    let r = app
        .api("GET", "/api/lookup?number=0086-186-1861-6001", Some(&agent))
        .await;
    assert_eq!(r.json()["tickets"][0]["id"], id, "{}", r.body);
    let (_, no_tickets) = token_with(&app, "crmonly", &["crm.contacts:view", "crm.data:all"]).await;
    let r = app
        .api("GET", "/api/lookup?number=18618616001", Some(&no_tickets))
        .await;
    assert_eq!(
        r.json()["tickets"],
        json!([]),
        "no tickets without tickets:view"
    );

    // Delete: managers only.
    let r = app
        .api("DELETE", &format!("/api/tickets/{id}"), Some(&boss))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.api("GET", &format!("/api/tickets/{id}"), Some(&boss))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// An upload of `bytes` as `name` to ticket `id`.
async fn upload(app: &App, token: &str, id: i64, name: &str, bytes: Vec<u8>) -> super::Resp {
    let req = Request::builder()
        .method("POST")
        .uri(format!(
            "/api/tickets/{id}/attachments?name={}",
            crate::form::encode(name)
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn attachments_are_checked_by_their_bytes_and_served_as_downloads() {
    let app = App::new().await;
    let dir = std::env::temp_dir().join(format!("sb-attach-{}", std::process::id()));
    app.state.set_data_dir(dir.clone());
    let (_, alice) = token_with(
        &app,
        "alice",
        &["tickets:view", "tickets:edit", "tickets:manage"],
    )
    .await;
    let (_, carol) = token_with(&app, "carol", &["tickets:view", "tickets:edit"]).await;
    let r = app
        .api_json(
            "POST",
            "/api/tickets",
            &alice,
            json!({"title": "with files"}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();

    let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec();
    let r = upload(&app, &alice, id, "发票 \"2026\".pdf", pdf.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = r.json();
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size"], pdf.len());
    let aid = a["id"].as_i64().unwrap();
    let stored = a["stored_name"].as_str().unwrap().to_string();
    assert!(dir.join("attachments").join(&stored).exists());

    // A page, an SVG and a program are refused with the reason; so is a
    // file over the limit (1 MiB here).
    for (name, bytes) in [
        (
            "invoice.html",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        (
            "logo.png",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='x'/>".to_vec(),
        ),
        (
            "setup.pdf",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec(),
        ),
    ] {
        let r = upload(&app, &alice, id, name, bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.body
        );
        assert!(
            r.json()["error"].as_str().unwrap().contains("not accepted"),
            "{}",
            r.body
        );
    }
    app.store
        .put_settings(&[("tickets.attachment_max_mb".into(), "1".into())])
        .await
        .unwrap();
    let r = upload(&app, &alice, id, "big.txt", vec![b'a'; 1024 * 1024 + 1]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let r = upload(&app, &alice, id, "", b"x".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Outside one's scope: as if the ticket did not exist.
    let r = upload(&app, &carol, id, "a.pdf", pdf.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app
        .api(
            "GET",
            &format!("/api/tickets/{id}/attachments/{aid}"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_bytes(), &pdf[..]);
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let cd = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        cd.starts_with("attachment; filename=\"") && !cd.contains("\"2026\""),
        "{cd}"
    );
    assert_eq!(
        app.api(
            "GET",
            &format!("/api/tickets/{id}/attachments/{}", aid + 100),
            Some(&alice)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Deleting the ticket removes its files.
    app.api("DELETE", &format!("/api/tickets/{id}"), Some(&alice))
        .await;
    assert!(!dir.join("attachments").join(&stored).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_knowledge_base_is_searched_in_chinese_and_english() {
    let app = App::new().await;
    let (_, editor) = token_with(&app, "editor", &["kb:view", "kb:edit"]).await;
    let (_, agent) = token_with(&app, "agent", &["kb:view"]).await;
    let r = app
        .api_json(
            "POST",
            "/api/kb/categories",
            &editor,
            json!({"name": "产品知识"}),
        )
        .await;
    let cat = r.json()["id"].as_i64().unwrap();
    for (title, questions, body, extra) in [
        (
            "如何申请退款",
            "怎么退钱\n退款要多久",
            "<p>订单页面点击申请退款</p>",
            json!({}),
        ),
        (
            "发票怎么开",
            "",
            "联系客服开具发票，退款订单不能开票",
            json!({}),
        ),
        (
            "Reset a password",
            "forgot password",
            "Use the link",
            json!({}),
        ),
        (
            "旧的退款规则",
            "",
            "已过期",
            json!({"valid_from": 1_000, "valid_to": 2_000}),
        ),
    ] {
        let mut body = json!({
            "title": title,
            "questions": questions,
            "body": body,
            "category_id": cat,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .api_json("POST", "/api/kb/articles", &editor, body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let titles = |r: &super::Resp| -> Vec<String> {
        r.json()["articles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_string())
            .collect()
    };
    let r = app
        .api(
            "GET",
            &format!("/api/kb/search?q={}", crate::form::encode("退款")),
            Some(&agent),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The expired article is not offered to agents.
    assert_eq!(titles(&r), vec!["如何申请退款", "发票怎么开"]);
    let r = app
        .api(
            "GET",
            &format!("/api/kb/search?q={}", crate::form::encode("退钱怎么办")),
            Some(&agent),
        )
        .await;
    assert_eq!(titles(&r).first().map(String::as_str), Some("如何申请退款"));
    let r = app
        .api("GET", "/api/kb/search?q=PASSWORD", Some(&agent))
        .await;
    assert_eq!(titles(&r), vec!["Reset a password"]);
    assert_eq!(
        app.api("GET", "/api/kb/search?q=", Some(&agent))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // The list shows every article, valid or not.
    let r = app.api("GET", "/api/kb/articles", Some(&agent)).await;
    assert_eq!(r.json()["total"], 4);
    // Agents read, editors write.
    let r = app
        .api_json("POST", "/api/kb/articles", &agent, json!({"title": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .api_json(
            "POST",
            "/api/kb/articles",
            &editor,
            json!({"title": "x", "valid_from": 10, "valid_to": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "valid_to");
    // A category with articles stays.
    let r = app
        .api(
            "DELETE",
            &format!("/api/kb/categories/{cat}"),
            Some(&editor),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("4 articles"));
}

#[tokio::test]
async fn a_public_reply_is_mailed_to_the_handler_and_followers_who_want_it() {
    let smtp = SmtpServer::start();
    let app = App::new().await;
    app.store
        .put_settings(&[
            ("smtp.host".into(), "127.0.0.1".into()),
            ("smtp.port".into(), smtp.port.to_string()),
            ("smtp.security".into(), "none".into()),
            ("smtp.from".into(), "desk@example.com".into()),
        ])
        .await
        .unwrap();
    let (alice_id, alice) = token_with(&app, "alice", &["tickets:view", "tickets:edit"]).await;
    let (bob_id, _) = token_with(&app, "bob", &["tickets:view", "tickets:edit"]).await;
    let (carol_id, carol) = token_with(
        &app,
        "carol",
        &["tickets:view", "tickets:edit", "crm.data:all"],
    )
    .await;
    for (id, mail) in [
        (alice_id, "alice@example.com"),
        (bob_id, "bob@example.com"),
        (carol_id, "carol@example.com"),
    ] {
        let mut u = app.store.get_user(id).await.unwrap().unwrap();
        u.email = mail.into();
        app.store
            .update_user(
                id,
                &store::UserFields {
                    username: u.username.clone(),
                    name: u.name.clone(),
                    email: u.email.clone(),
                    enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    // Bob switched reply notices off.
    crate::notify_crm::set_switched_off(&app.store, bob_id, &["ticket_replied".into()])
        .await
        .unwrap();
    let r = app
        .api_json(
            "POST",
            "/api/tickets",
            &alice,
            json!({"title": "Router keeps rebooting", "assignee_id": bob_id}),
        )
        .await;
    let id = r.json()["id"].as_i64().unwrap();
    app.api_json(
        "PUT",
        &format!("/api/tickets/{id}/follow"),
        &carol,
        json!({"follow": true}),
    )
    .await;
    let r = app
        .api_json(
            "POST",
            &format!("/api/tickets/{id}/replies"),
            &alice,
            json!({"body": "It happened again at 9:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The assignment reached Bob, the reply Carol (Bob's off; Alice wrote it).
    let sent = || {
        app.state
            .metrics()
            .render()
            .contains("switchboard_web_notifications_total{outcome=\"sent\"} 2")
    };
    let mut got = String::new();
    for _ in 0..400 {
        got = smtp.received();
        if got.matches("MESSAGE FOLLOWS").count() >= 2 && sent() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let messages: Vec<&str> = got.split("MESSAGE FOLLOWS").skip(1).collect();
    assert_eq!(messages.len(), 2, "{got}");
    let assigned: Vec<&&str> = messages
        .iter()
        .filter(|m| m.contains(&format!("Ticket #{id} assigned to you")))
        .collect();
    assert_eq!(assigned.len(), 1, "{got}");
    assert!(assigned[0].contains("bob@example.com"), "{got}");
    let replied: Vec<&&str> = messages
        .iter()
        .filter(|m| m.contains(&format!("Ticket #{id} has a new reply")))
        .collect();
    assert_eq!(replied.len(), 1, "{got}");
    assert!(replied[0].contains("carol@example.com"), "{got}");
    assert!(replied[0].contains("It happened again at 9:00"), "{got}");
    assert!(sent(), "{}", app.state.metrics().render());
}

/// A POST of `bytes` to `path` with a bearer token.
async fn post_bytes(app: &App, token: &str, path: &str, bytes: Vec<u8>) -> super::Resp {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn a_spreadsheet_with_three_bad_rows_is_reported_row_by_row_and_never_half_imported() {
    let app = App::new().await;
    let dir = std::env::temp_dir().join(format!("sb-import-{}", std::process::id()));
    app.state.set_data_dir(dir.clone());
    let (_, alice) = token_with(&app, "alice", &["crm.contacts:view", "crm.contacts:edit"]).await;
    let (_, viewer) = token_with(&app, "viewer", &["crm.contacts:view"]).await;
    let row = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let xlsx = sheets::write_xlsx(
        "名单",
        &["姓名", "手机", "性别", "生日", "邮箱", "备注"],
        vec![
            row(&["张三", "186 1861 6001", "男", "1990/05/04", "", "VIP"]),
            row(&["", "13900000001", "", "", "", "no name"]),
            row(&["李四", "call me", "女", "", "", ""]),
            row(&["王五", "13900000003", "", "1990-02-30", "", ""]),
            row(&["赵六", "13900000004", "", "", "zhao@example.com", ""]),
        ],
    )
    .unwrap();
    // Preview: the mapping, the rows, the three bad rows by number; nothing saved.
    let r = post_bytes(&app, &alice, "/api/contacts/import", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = r.json();
    assert_eq!(p["format"], "xlsx");
    assert_eq!(p["rows"], 5);
    assert_eq!(p["mapping"][0], json!({"header": "姓名", "field": "name"}));
    let bad: Vec<i64> = p["bad_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["row"].as_i64().unwrap())
        .collect();
    assert_eq!(bad, vec![3, 4, 5], "{}", r.body);
    assert!(
        p["bad_rows"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("name"),
        "{}",
        r.body
    );
    assert!(
        p["bad_rows"][1]["errors"][0]
            .as_str()
            .unwrap()
            .contains("mobile"),
        "{}",
        r.body
    );
    assert!(
        p["bad_rows"][2]["errors"][0]
            .as_str()
            .unwrap()
            .contains("birthday"),
        "{}",
        r.body
    );
    assert_eq!(p["imported"], 0);
    let list = app.api("GET", "/api/contacts", Some(&alice)).await;
    assert_eq!(list.json()["total"], 0);
    // All or nothing: nothing.
    let r = post_bytes(&app, &alice, "/api/contacts/import?mode=all", xlsx.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("nothing was imported"));
    assert_eq!(
        app.api("GET", "/api/contacts", Some(&alice)).await.json()["total"],
        0
    );
    // The good rows only: two, and the three left out are listed.
    let r = post_bytes(
        &app,
        &alice,
        "/api/contacts/import?mode=valid",
        xlsx.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 2);
    assert_eq!(r.json()["bad_rows"].as_array().unwrap().len(), 3);
    let r = app
        .api("GET", "/api/lookup?number=18618616001", Some(&alice))
        .await;
    let zhang = &r.json()["contacts"][0];
    assert_eq!(
        (
            zhang["name"].as_str(),
            zhang["gender"].as_str(),
            zhang["birthday"].as_str()
        ),
        (Some("张三"), Some("male"), Some("1990-05-04"))
    );

    // Not a spreadsheet, wrong columns, a formula: clear messages.
    let r = post_bytes(
        &app,
        &alice,
        "/api/contacts/import",
        b"\x00\x01\x02garbage\xff".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        "the file is not an Excel .xlsx or CSV file"
    );
    let csv = "Company,Revenue\nAcme,1\n".as_bytes().to_vec();
    let r = post_bytes(&app, &alice, "/api/contacts/import", csv).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no column for name"),
        "{}",
        r.body
    );
    let r = post_bytes(&app, &alice, "/api/contacts/import?mode=sometimes", vec![]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Importing is editing.
    let r = post_bytes(&app, &viewer, "/api/contacts/import", xlsx).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Export, and the export reads back as an import.
    let r = app
        .api("GET", "/api/contacts/export?format=csv", Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(
        r.body.contains("张三") && r.body.contains("赵六"),
        "{}",
        r.body
    );
    let r = app.api("GET", "/api/contacts/export", Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::OK, "viewers export their scope");
    let req = Request::builder()
        .uri("/api/contacts/export?format=xlsx")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let again = sheets::read(&bytes, &sheets::Limits::default()).unwrap();
    assert_eq!(again.rows.len(), 2);
    assert_eq!(again.headers[0], "name");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A multipart body of text fields and `file` fields (name, bytes).
fn form_with_files(text: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (k, v) in text {
        body.extend_from_slice(
            format!("--sbB\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--sbB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--sbB--\r\n");
    ("multipart/form-data; boundary=sbB".into(), body)
}

#[tokio::test]
async fn the_create_form_attaches_files_and_a_refused_file_makes_no_ticket() {
    let app = App::new().await;
    let dir = std::env::temp_dir().join(format!("sb-create-files-{}", std::process::id()));
    app.state.set_data_dir(dir.clone());
    let admin = app.admin().await;
    let send = |text: Vec<(&'static str, String)>, files: Vec<(&'static str, Vec<u8>)>| {
        let text: Vec<(&str, String)> = text;
        let pairs: Vec<(&str, &str)> = text.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let (ctype, body) = form_with_files(&pairs, &files);
        Request::post(format!("/tickets?csrf={}", admin.csrf))
            .header(header::COOKIE, &admin.cookie)
            .header(header::CONTENT_TYPE, ctype)
            .body(Body::from(body))
            .unwrap()
    };
    let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec();
    let fields = |title: &str| {
        vec![
            ("title", title.to_string()),
            ("body", "<p>见附件</p>".to_string()),
            ("status", "new".to_string()),
            ("priority", "high".to_string()),
        ]
    };

    // A forbidden file (an executable named .pdf): nothing made, the form
    // comes back with what was typed and the file named with the reason.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    let r = app
        .send(send(
            fields("refused"),
            vec![("ok.pdf", pdf.clone()), ("setup.pdf", exe)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("data-test=\"error-file\""), "{}", r.body);
    assert!(r.body.contains("setup.pdf"), "{}", r.body);
    assert!(
        r.body.contains("value=\"refused\""),
        "title kept: {}",
        r.body
    );
    let all = app
        .store
        .list_tickets(&store::TicketQuery {
            view: store::TicketView::All,
            scope: store::CrmScope::All,
            search: String::new(),
            status: None,
            category_id: None,
            priority: None,
            limit: 50,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(all.total, 0, "no ticket made");

    // Two good files: the ticket is made with both attached.
    let png = {
        let mut p = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        p.extend_from_slice(&[0; 17]);
        p
    };
    let r = app
        .send(send(
            fields("with two files"),
            vec![("发票.pdf", pdf.clone()), ("screen.png", png)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location().to_string();
    let id: i64 = at
        .trim_start_matches("/tickets/")
        .split('?')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{at}"));
    let files = app.store.ticket_attachments(id).await.unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(names, vec!["发票.pdf", "screen.png"]);
    assert_eq!(files[0].content_type, "application/pdf");

    // Eleven files: too many at once, nothing made.
    let r = app
        .send(send(
            fields("eleven"),
            (0..11).map(|_| ("a.pdf", pdf.clone())).collect(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("data-test=\"error-file\""), "{}", r.body);
    // A plain form (no files) still creates, as before.
    let r = app
        .submit(
            &admin,
            "/tickets",
            "title=plain&body=x&status=new&priority=low",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let _ = std::fs::remove_dir_all(dir);
}
