//! Router tests of the CRM API (contacts, customers, the number lookup):
//! permissions, every user kept to their data scope (own, department,
//! all; records outside it are 404), bad input refused with the field
//! named, and a customer with its contacts found by any form of a number.

use axum::http::StatusCode;
use serde_json::json;

use super::App;

/// A non-admin user holding `grants` (through a role) and an API token.
pub(super) async fn token_with(app: &App, username: &str, grants: &[&str]) -> (i64, String) {
    let id = app.user(username, false).await;
    let grants: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    let role = app
        .store
        .create_role(&format!("{username}-role"), "", &grants)
        .await
        .unwrap();
    app.store.set_user_roles(id, &[role]).await.unwrap();
    let token = crate::create_api_token(&app.store, username, "crm")
        .await
        .unwrap();
    (id, token)
}

const CRM: &[&str] = &[
    "crm.contacts:view",
    "crm.contacts:edit",
    "crm.customers:view",
    "crm.customers:edit",
];

#[tokio::test]
async fn crm_api_checks_permissions_and_keeps_each_user_to_their_scope() {
    let app = App::new().await;
    let (alice_id, alice) = token_with(&app, "alice", CRM).await;
    let (_, bob) = token_with(&app, "bob", CRM).await;
    let mut lead = CRM.to_vec();
    lead.push("crm.data:department");
    let (carol_id, carol) = token_with(&app, "carol", &lead).await;
    let mut everything = CRM.to_vec();
    everything.push("crm.data:all");
    let (_, boss) = token_with(&app, "boss", &everything).await;
    let (_, dave) = token_with(&app, "dave", &["crm.contacts:view"]).await;
    let (_, nobody) = token_with(&app, "nobody", &[]).await;
    // Alice and Carol work in one department (Sales, under which Alice sits
    // in a sub-department).
    let sales = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Sales".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let north = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Sales North".into(),
            parent_id: Some(sales),
            ..Default::default()
        })
        .await
        .unwrap();
    app.store
        .set_user_departments(carol_id, &[sales])
        .await
        .unwrap();
    app.store
        .set_user_departments(alice_id, &[north])
        .await
        .unwrap();

    // Permissions: none at all, view only.
    for (method, path) in [
        ("GET", "/api/contacts"),
        ("GET", "/api/customers"),
        ("GET", "/api/lookup?number=1"),
        ("GET", "/api/contacts/groups/categories"),
    ] {
        let r = app.api(method, path, Some(&nobody)).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.body
        );
    }
    let r = app
        .api_json("POST", "/api/contacts", &dave, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .api_json("POST", "/api/customers", &dave, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Alice adds a contact: hers, private.
    let r = app
        .api_json(
            "POST",
            "/api/contacts",
            &alice,
            json!({"name": "张三", "phone": "+86 186-1861-6001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = r.json()["id"].as_i64().expect("id");
    let path = format!("/api/contacts/{id}");
    let r = app.api("GET", &path, Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["owner_id"], alice_id);
    assert_eq!(r.json()["sharing"], "private");

    // Bob sees nothing of it: not in lists, lookups, reads or writes.
    let r = app.api("GET", "/api/contacts", Some(&bob)).await;
    assert_eq!(r.json()["total"], 0, "{}", r.body);
    let r = app
        .api("GET", "/api/lookup?number=018618616001", Some(&bob))
        .await;
    assert_eq!(r.json()["contacts"], json!([]), "{}", r.body);
    for method in ["GET", "DELETE"] {
        let r = app.api(method, &path, Some(&bob)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.body);
    }
    let r = app
        .api_json("PUT", &path, &bob, json!({"name": "stolen"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Carol's department covers Alice's (below it); the boss sees all.
    for (who, token) in [("carol", &carol), ("boss", &boss), ("alice", &alice)] {
        let r = app
            .api(
                "GET",
                "/api/lookup?number=0086%20186%201861%206001",
                Some(token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.body);
        let v = r.json();
        assert_eq!(v["normalized"], "18618616001", "{who}");
        assert_eq!(v["contacts"][0]["id"], id, "{who}: {v}");
        assert_eq!(v["tickets"], json!([]));
        let r = app.api("GET", "/api/contacts?view=mine", Some(token)).await;
        let mine = if who == "alice" { 1 } else { 0 };
        assert_eq!(r.json()["total"], mine, "{who}: {}", r.body);
        // My department (我的部门): handled by the users of my departments
        // and those below: Alice's for Carol and Alice; the boss is in none.
        let r = app
            .api("GET", "/api/contacts?view=department", Some(token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.body);
        let department = if who == "boss" { 0 } else { 1 };
        assert_eq!(r.json()["total"], department, "{who}: {}", r.body);
    }
    // Bob is in no department: his department tab has his own contacts only.
    let r = app
        .api("GET", "/api/contacts?view=department", Some(&bob))
        .await;
    assert_eq!(r.json()["total"], 0, "{}", r.body);
    let r = app.api("GET", "/api/contacts?view=team", Some(&bob)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("department"),
        "the tabs are named: {}",
        r.body
    );

    // Shared with everyone: Bob finds it now, and may change it.
    let r = app
        .api_json("PUT", &path, &alice, json!({"sharing": "everyone"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["name"], "张三", "the rest is kept: {}", r.body);
    let r = app
        .api("GET", "/api/lookup?number=18618616001", Some(&bob))
        .await;
    assert_eq!(r.json()["contacts"][0]["id"], id, "{}", r.body);

    // Each change is in the audit log (written in the background).
    super::audit_until(&app, |entries| {
        entries
            .iter()
            .any(|e| e.url.starts_with("/api/contacts/") && e.method == "PUT" && e.ok)
    })
    .await;
}

#[tokio::test]
async fn crm_api_refuses_bad_input_with_the_field_named() {
    let app = App::new().await;
    let (_, t) = token_with(&app, "alice", CRM).await;
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "x", "mobile": "call me"}), "mobile"),
        (json!({"name": "x", "email": "nope"}), "email"),
        (json!({"name": "x", "birthday": "2023-02-30"}), "birthday"),
        (json!({"name": "x", "gender": "robot"}), "gender"),
        (json!({"name": "x", "customer_id": 999}), "customer_id"),
        (json!({"name": "x", "colour": "red"}), "colour"),
    ] {
        let r = app
            .api_json("POST", "/api/contacts", &t, body.clone())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{body}: {}", r.body);
    }
    let r = app
        .api_json("POST", "/api/contacts", &t, json!({"name": 5}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = app
        .api_json(
            "POST",
            "/api/customers",
            &t,
            json!({"name": "x", "customer_type": "gold"}),
        )
        .await;
    assert_eq!(r.json()["field"], "customer_type", "{}", r.body);
    for path in [
        "/api/contacts?view=bogus",
        "/api/contacts?category=x",
        "/api/customers?type=gold",
        "/api/customers?view=year",
        "/api/lookup?number=",
    ] {
        let r = app.api("GET", path, Some(&t)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = app.api("GET", "/api/contacts/groups/bogus", Some(&t)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let body = json!({"name": "Leads", "description": "from the fair"});
    let r = app
        .api_json("POST", "/api/contacts/groups/categories", &t, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .api_json("POST", "/api/contacts/groups/categories", &t, body)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Script is data, returned as text.
    let r = app
        .api_json(
            "POST",
            "/api/contacts",
            &t,
            json!({"name": "<script>alert(1)</script>"}),
        )
        .await;
    let id = r.json()["id"].as_i64().expect("id");
    let r = app
        .api("GET", &format!("/api/contacts/{id}"), Some(&t))
        .await;
    assert_eq!(r.json()["name"], "<script>alert(1)</script>");
    // Nothing half-made: the bad posts left no contact behind.
    let r = app.api("GET", "/api/contacts", Some(&t)).await;
    assert_eq!(r.json()["total"], 1, "{}", r.body);
}

#[tokio::test]
async fn a_customer_and_its_contacts_are_found_by_their_numbers() {
    let app = App::new().await;
    let (_, t) = token_with(&app, "alice", CRM).await;
    let r = app
        .api_json(
            "POST",
            "/api/customers",
            &t,
            json!({"name": "Acme 上海", "kind": "enterprise", "customer_type": "vip",
                   "phone": "021-6262 0668", "industry": "制造"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let acme = r.json()["id"].as_i64().expect("id");
    for (name, mobile) in [("李四", "13900000001"), ("王五", "13900000002")] {
        let r = app
            .api_json(
                "POST",
                "/api/contacts",
                &t,
                json!({"name": name, "mobile": mobile, "customer_id": acme}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = app
        .api("GET", &format!("/api/customers/{acme}"), Some(&t))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["customer_type"], "vip");
    assert_eq!(v["contacts"].as_array().map(Vec::len), Some(2), "{v}");
    // A contact's mobile brings its customer; the customer's phone too.
    let r = app
        .api("GET", "/api/lookup?number=%2B8613900000002", Some(&t))
        .await;
    let v = r.json();
    assert_eq!(v["contacts"][0]["name"], "王五", "{v}");
    assert_eq!(v["customers"][0]["id"], acme, "{v}");
    let r = app
        .api("GET", "/api/lookup?number=02162620668", Some(&t))
        .await;
    assert_eq!(r.json()["customers"][0]["id"], acme, "{}", r.body);
    // Lists by type and search.
    let r = app
        .api("GET", "/api/customers?type=vip&enterprise=true", Some(&t))
        .await;
    assert_eq!(r.json()["total"], 1, "{}", r.body);
    let r = app.api("GET", "/api/customers?type=old", Some(&t)).await;
    assert_eq!(r.json()["total"], 0, "{}", r.body);
    let r = app
        .api("GET", "/api/contacts?q=139%200000%200001", Some(&t))
        .await;
    assert_eq!(r.json()["contacts"][0]["name"], "李四", "{}", r.body);
    // Deleting the customer keeps its contacts.
    let r = app
        .api("DELETE", &format!("/api/customers/{acme}"), Some(&t))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.api("GET", "/api/contacts", Some(&t)).await;
    assert_eq!(r.json()["total"], 2, "{}", r.body);
    let r = app
        .api("GET", &format!("/api/customers/{acme}"), Some(&t))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_screen_pop_shows_the_callers_contacts_and_customer_within_the_agents_scope() {
    let app = App::new().await;
    let fields = store::UserFields {
        username: "amy".into(),
        name: "Amy".into(),
        is_agent: true,
        extension: "1001".into(),
        enabled: true,
        ..Default::default()
    };
    let hash = crate::auth::password::hash(super::PW).unwrap();
    let amy = app.store.create_user(&fields, &hash, false).await.unwrap();
    let b = app.browser("amy", super::PW).await;
    let number = "13800138000";
    // Without crm.contacts:view the pop has the history only.
    let r = app
        .get(&format!("/desk/pop?number={number}"), Some(&b.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["contacts"], json!([]));
    let role = app
        .store
        .create_role("agents", "", &["crm.contacts:view".to_string()])
        .await
        .unwrap();
    app.store.set_user_roles(amy, &[role]).await.unwrap();
    let acme = app
        .store
        .create_customer(
            store::CustomerFields {
                name: "Acme".into(),
                customer_type: "vip".into(),
                owner_id: Some(amy),
                ..Default::default()
            },
            Some(amy),
        )
        .await
        .unwrap();
    app.store
        .create_contact(
            store::ContactFields {
                name: "赵六".into(),
                mobile: "+86 138-0013-8000".into(),
                customer_id: Some(acme),
                owner_id: Some(amy),
                business_status: "follow up".into(),
                ..Default::default()
            },
            Some(amy),
        )
        .await
        .unwrap();
    // Someone else's private contact of the same number stays hidden.
    app.store
        .create_contact(
            store::ContactFields {
                name: "Hidden".into(),
                mobile: number.into(),
                owner_id: Some(amy + 100),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let r = app
        .get(&format!("/desk/pop?number=0{number}"), Some(&b.cookie))
        .await;
    let p = r.json();
    assert_eq!(p["contacts"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(p["contact"]["name"], "赵六", "{p}");
    assert_eq!(p["contact"]["customer"], "Acme", "{p}");
    assert_eq!(p["customers"][0]["customer_type"], "vip", "{p}");
    assert_eq!(p["tickets"], json!([]), "no tickets:view: none listed");
    assert_eq!(p["new_ticket"], serde_json::Value::Null);

    // With tickets: the caller's open ticket is listed, a closed one not,
    // and a new ticket opens with the number filled in.
    let role = app
        .store
        .create_role(
            "agents-tickets",
            "",
            &[
                "crm.contacts:view".to_string(),
                "tickets:view".to_string(),
                "tickets:edit".to_string(),
            ],
        )
        .await
        .unwrap();
    app.store.set_user_roles(amy, &[role]).await.unwrap();
    for (title, status) in [("Invoice missing", "new"), ("Old question", "closed")] {
        app.store
            .create_ticket(
                store::TicketFields {
                    title: title.into(),
                    phone: "0086 138 0013 8000".into(),
                    requester_id: Some(amy),
                    status: status.into(),
                    ..Default::default()
                },
                Some(amy),
            )
            .await
            .unwrap();
    }
    let p = app
        .get(&format!("/desk/pop?number={number}"), Some(&b.cookie))
        .await
        .json();
    assert_eq!(p["tickets"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(p["tickets"][0]["title"], "Invoice missing", "{p}");
    assert_eq!(
        p["new_ticket"],
        format!("/tickets/new?phone={number}"),
        "{p}"
    );
    // A call that is not the agent's own (here: no desk sign-in, no such
    // call) ties nothing to the ticket; the browser desk test covers a
    // real call's link.
    let p = app
        .get(
            &format!("/desk/pop?number={number}&call=42"),
            Some(&b.cookie),
        )
        .await
        .json();
    assert_eq!(
        p["new_ticket"],
        format!("/tickets/new?phone={number}"),
        "{p}"
    );
}

/// A non-admin user holding `grants`, signed in with a browser session.
async fn browser_with(app: &App, username: &str, grants: &[&str]) -> (i64, super::Browser) {
    let (id, _) = token_with(app, username, grants).await;
    (id, app.browser(username, super::PW).await)
}

#[tokio::test]
async fn crm_pages_create_list_and_edit_within_the_users_scope() {
    let app = App::new().await;
    let (_, alice) = browser_with(&app, "alice", CRM).await;
    let (_, bob) = browser_with(&app, "bob", CRM).await;
    let (_, viewer) = browser_with(&app, "viewer", &["crm.contacts:view"]).await;
    let (_, nobody) = browser_with(&app, "nobody", &[]).await;
    for path in ["/crm/contacts", "/crm/customers", "/crm/contacts/new"] {
        let r = app.get(path, Some(&nobody.cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let r = app.get("/crm/contacts/new", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("/crm/contacts", Some(&viewer.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains("btn-new-contact"),
        "a viewer gets no add button"
    );
    // Every tab of chapter 4, my department (我的部门) among them; an
    // unknown one is no page.
    let r = app
        .get("/crm/contacts?view=department", Some(&viewer.cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("id=\"tab-department\" data-test=\"tab-department\" class=\"button\" aria-current=\"page\""),
        "{}",
        r.body
    );
    let r = app
        .get("/crm/contacts?view=nowhere", Some(&viewer.cookie))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A customer, then a contact of it from the customer's page.
    let r = app
        .submit(
            &alice,
            "/crm/customers",
            "name=Acme+%E4%B8%8A%E6%B5%B7&kind=enterprise&customer_type=vip&sharing=private\
             &phone=021-62620668&acquired_at=2026-12-01&industry=%E5%88%B6%E9%80%A0",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location().to_string();
    assert!(
        at.starts_with("/crm/customers/") && at.ends_with("?done=created"),
        "{at}"
    );
    let customer: i64 = at["/crm/customers/".len()..at.len() - "?done=created".len()]
        .parse()
        .expect("the customer's id");
    let r = app
        .get(
            &format!("/crm/contacts/new?customer={customer}"),
            Some(&alice.cookie),
        )
        .await;
    assert!(
        r.body.contains(&format!("value=\"{customer}\" selected")),
        "the customer is chosen"
    );
    let r = app
        .submit(
            &alice,
            "/crm/contacts",
            &format!(
                "name=%E5%BC%A0%E4%B8%89&gender=male&mobile=186+1861+6001&customer_id={customer}\
                 &sharing=private&appointment_at=2026-12-24+10%3A30&business_status=new"
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let contact_at = r
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let r = app.get(&contact_at, Some(&alice.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("2026-12-24 10:30"),
        "the appointment is shown"
    );
    // The customer's page lists it; the lists show both.
    let r = app
        .get(&format!("/crm/customers/{customer}"), Some(&alice.cookie))
        .await;
    assert!(
        r.body.contains("customer-contact-row") && r.body.contains("张三"),
        "{}",
        r.body
    );
    let r = app
        .get("/crm/contacts?view=appointments", Some(&alice.cookie))
        .await;
    assert!(r.body.contains("张三"), "{}", r.body);
    let r = app
        .get("/crm/customers?type=vip", Some(&alice.cookie))
        .await;
    assert!(r.body.contains("Acme 上海"), "{}", r.body);
    let r = app
        .get("/crm/customers?type=old", Some(&alice.cookie))
        .await;
    assert!(!r.body.contains("Acme 上海"));

    // Bob sees neither, and cannot open or change them.
    let r = app.get("/crm/contacts", Some(&bob.cookie)).await;
    assert!(!r.body.contains("张三"));
    for path in [contact_at.clone(), format!("/crm/customers/{customer}")] {
        let r = app.get(&path, Some(&bob.cookie)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let r = app.submit(&bob, &path, "name=stolen").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let r = app.submit(&bob, &format!("{path}/delete"), "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Bad input: the form again with the field's error, nothing saved.
    for (body, field) in [
        ("name=&gender=unknown&sharing=private", "name"),
        (
            "name=x&mobile=call+me&gender=unknown&sharing=private",
            "mobile",
        ),
        (
            "name=x&appointment_at=tomorrow&gender=unknown&sharing=private",
            "appointment_at",
        ),
        (
            "name=x&gender=unknown&sharing=private&customer_id=999",
            "customer_id",
        ),
    ] {
        let r = app.submit(&alice, "/crm/contacts", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            r.body.contains(&format!("data-test=\"error-{field}\"")),
            "{body}: {}",
            r.body
        );
    }
    let r = app.get("/crm/contacts", Some(&alice.cookie)).await;
    assert_eq!(r.body.matches("data-test=\"contact-row\"").count(), 1);
    // Each contact with a number has its click-to-call button (it asks
    // /desk/dial), and the import and export are offered to editors.
    assert_eq!(
        r.body.matches("data-test=\"btn-dial\"").count(),
        1,
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"btn-import\"") && r.body.contains("id=\"btn-export\""));

    // Deleting the customer keeps the contact.
    let r = app
        .submit(&alice, &format!("/crm/customers/{customer}/delete"), "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.get(&contact_at, Some(&alice.cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn crm_pages_speak_chinese_to_a_chinese_browser() {
    let app = App::new().await;
    let (_, alice) = browser_with(&app, "alice", CRM).await;
    let cookie = format!("{}; lang=zh-CN", alice.cookie);
    let r = app.get("/crm/contacts", Some(&cookie)).await;
    for word in [
        "全部联系人",
        "今日新增",
        "本周新增",
        "我的联系人",
        "未分配",
        "已作废",
        "已预约",
        "拨打失败",
    ] {
        assert!(r.body.contains(word), "{word}");
    }
    let r = app.get("/crm/customers", Some(&cookie)).await;
    for word in [
        "普通客户",
        "VIP客户",
        "老客户",
        "代理商",
        "供货商",
        "合作伙伴",
        "其它",
        "企业客户",
    ] {
        assert!(r.body.contains(word), "{word}");
    }
    let r = app.get("/crm/customers/new", Some(&cookie)).await;
    for word in ["获得时间", "客户姓名", "客户级别", "客户来源", "成熟度"] {
        assert!(r.body.contains(word), "{word}");
    }
}
