//! Router tests of the members of roles and departments: the panel on
//! their edit pages (add several users, remove one), the effect on the
//! members' permissions, the errors, the permission checks, and the API
//! (harness: the parent module).

use axum::http::StatusCode;

use super::{App, PW};

/// The usernames of `users` (store rows or API JSON).
fn usernames(users: &[store::User]) -> Vec<String> {
    users.iter().map(|u| u.username.clone()).collect()
}

fn json_usernames(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn role_members_are_added_and_removed_on_the_role_page() {
    let app = App::new().await;
    app.user("root", true).await;
    let root = app.admin_like("root").await;
    let alice = app.user("alice", false).await;
    let bob = app.user("bob", false).await;
    let carl = app.user("carl", false).await;
    app.store.set_user_enabled(carl, false).await.unwrap();
    let role = app
        .store
        .create_role("Viewers", "", &["system.users:view".to_string()])
        .await
        .unwrap();
    let page_url = format!("/roles/{role}");
    let add_url = format!("/roles/{role}/members");
    // alice is signed in before she gets the role.
    let a = app.browser("alice", PW).await;
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::FORBIDDEN
    );

    // The panel: no members yet; the enabled users to choose from.
    let page = app.get(&page_url, Some(&root.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"members-empty\""), "{}", page.body);
    assert!(page.body.contains("id=\"add-members-form\""));
    assert!(page.body.contains("<select multiple"));
    for u in ["alice", "bob", "root"] {
        assert!(
            page.body
                .contains(&format!("data-test=\"user-option-{u}\"")),
            "{u} offered"
        );
    }
    assert!(
        !page.body.contains("data-test=\"user-option-carl\""),
        "a disabled user is not offered"
    );

    // Two users at once.
    let r = app
        .submit(&root, &add_url, &format!("user={alice}&user={bob}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/roles/{role}?done=members_added#members")
    );
    assert_eq!(
        usernames(&app.store.role_members(role).await.unwrap()),
        ["alice", "bob"]
    );
    // alice's open session holds the role's permission at once.
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::OK
    );
    let page = app
        .get(
            &format!("{page_url}?done=members_added"),
            Some(&root.cookie),
        )
        .await;
    assert!(page.body.contains("data-test=\"flash\""));
    assert!(page.body.contains("The users were added to the role."));
    assert!(page.body.contains("data-test=\"member-alice\""));
    assert!(page.body.contains("alice name"));
    assert!(page.body.contains("data-test=\"btn-remove-member-alice\""));
    assert!(page
        .body
        .contains(&format!("action=\"/roles/{role}/members/{alice}/remove\"")));
    assert!(!page.body.contains("data-test=\"user-option-alice\""));
    assert!(page.body.contains("data-test=\"user-option-root\""));
    // The user's own page shows the role ticked (the user form still
    // gives roles too).
    let user_page = app
        .get(&format!("/users/{alice}"), Some(&root.cookie))
        .await;
    assert!(user_page.body.contains(&format!(
        "id=\"role-{role}\" data-test=\"role-Viewers\" checked"
    )));

    // Adding a member again leaves the membership as it is.
    let r = app
        .submit(&root, &add_url, &format!("user={alice}&user={carl}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        usernames(&app.store.role_members(role).await.unwrap()),
        ["alice", "bob", "carl"]
    );
    assert!(app.store.remove_role_member(role, carl).await.unwrap());

    // Errors, shown next to the field; nothing changes.
    for (body, message) in [
        (String::new(), "Choose at least one user."),
        ("user=".to_string(), "Choose at least one user."),
        ("user=abc".to_string(), "Choose from the list."),
        (
            format!("user={carl}&user=424242"),
            "One of the chosen users does not exist",
        ),
    ] {
        let r = app.submit(&root, &add_url, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.body.contains("data-test=\"error-user\""), "{body}");
        assert!(r.body.contains(message), "{body}: {message}");
        assert!(r.body.contains("aria-invalid=\"true\""), "{body}");
        // The page is the role's, with its stored values.
        assert!(r.body.contains("value=\"Viewers\""), "{body}");
        assert!(r.body.contains("data-test=\"member-alice\""), "{body}");
    }
    assert_eq!(
        usernames(&app.store.role_members(role).await.unwrap()),
        ["alice", "bob"]
    );
    // An unknown role, or one given as no number: 404.
    for url in ["/roles/424242/members", "/roles/x/members"] {
        let r = app.submit(&root, url, &format!("user={alice}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{url}");
    }

    // Removing alice: she loses the role's permission in the same session.
    let remove_url = format!("/roles/{role}/members/{alice}/remove");
    let r = app.submit(&root, &remove_url, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/roles/{role}?done=member_removed#members")
    );
    assert_eq!(
        usernames(&app.store.role_members(role).await.unwrap()),
        ["bob"]
    );
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    let page = app
        .get(
            &format!("{page_url}?done=member_removed"),
            Some(&root.cookie),
        )
        .await;
    assert!(page.body.contains("The user was removed from the role."));
    assert!(!page.body.contains("data-test=\"member-alice\""));
    assert!(page.body.contains("data-test=\"user-option-alice\""));
    // Not a member (any more), an unknown role or user: 404.
    for url in [
        remove_url.clone(),
        format!("/roles/424242/members/{bob}/remove"),
        format!("/roles/{role}/members/x/remove"),
    ] {
        let r = app.submit(&root, &url, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{url}");
    }
    // Without the CSRF token: refused.
    let r = app
        .post(
            &format!("/roles/{role}/members/{bob}/remove"),
            Some(&root.cookie),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.role_members(role).await.unwrap().len(), 1);
}

#[tokio::test]
async fn department_members_are_added_and_removed_on_the_department_page() {
    let app = App::new().await;
    app.user("root", true).await;
    let root = app.admin_like("root").await;
    let alice = app.user("alice", false).await;
    let bob = app.user("bob", false).await;
    // Desk sits under HQ, which grants users:view to everyone below it.
    let hq = app
        .store
        .create_department(&store::DepartmentFields {
            name: "HQ".into(),
            parent_id: None,
            grants: vec!["system.users:view".into()],
        })
        .await
        .unwrap();
    let desk = app
        .store
        .create_department(&store::DepartmentFields {
            name: "Desk".into(),
            parent_id: Some(hq),
            grants: vec![],
        })
        .await
        .unwrap();
    let a = app.browser("alice", PW).await;
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    let page = app
        .get(&format!("/departments/{desk}"), Some(&root.cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"department-members\""));
    assert!(page.body.contains("id=\"members-empty\""));
    assert!(page.body.contains("Add users to the department"));
    assert!(page.body.contains("data-test=\"user-option-alice\""));

    let add_url = format!("/departments/{desk}/members");
    let r = app
        .submit(&root, &add_url, &format!("user={alice}&user={bob}"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/departments/{desk}?done=members_added#members")
    );
    assert_eq!(
        usernames(&app.store.department_members(desk).await.unwrap()),
        ["alice", "bob"]
    );
    // The parent's grant reaches the new member at once.
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::OK
    );
    let page = app
        .get(
            &format!("/departments/{desk}?done=members_added"),
            Some(&root.cookie),
        )
        .await;
    assert!(page
        .body
        .contains("The users were added to the department."));
    assert!(page.body.contains("data-test=\"member-bob\""));
    assert!(page.body.contains("data-test=\"btn-remove-member-bob\""));
    assert!(page.body.contains("data-test=\"user-option-root\""));
    assert!(!page.body.contains("data-test=\"user-option-bob\""));
    // HQ's page lists its direct members only.
    let hq_page = app
        .get(&format!("/departments/{hq}"), Some(&root.cookie))
        .await;
    assert!(!hq_page.body.contains("data-test=\"member-alice\""));

    // Errors next to the field; nothing changes.
    for (body, message) in [
        (String::new(), "Choose at least one user."),
        (
            format!("user={alice}&user=424242"),
            "One of the chosen users does not exist",
        ),
    ] {
        let r = app.submit(&root, &add_url, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.body.contains("data-test=\"error-user\""), "{body}");
        assert!(r.body.contains(message), "{body}");
        assert!(r.body.contains("value=\"Desk\""), "{body}");
    }
    assert_eq!(app.store.department_members(desk).await.unwrap().len(), 2);
    let r = app
        .submit(
            &root,
            "/departments/424242/members",
            &format!("user={alice}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let remove_url = format!("/departments/{desk}/members/{alice}/remove");
    let r = app.submit(&root, &remove_url, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        format!("/departments/{desk}?done=member_removed#members")
    );
    assert_eq!(
        usernames(&app.store.department_members(desk).await.unwrap()),
        ["bob"]
    );
    assert_eq!(
        app.get("/users", Some(&a.cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.submit(&root, &remove_url, "").await.status,
        StatusCode::NOT_FOUND
    );
    // When every enabled user is a member, the form says so.
    let everyone: Vec<i64> = app
        .store
        .all_users()
        .await
        .unwrap()
        .iter()
        .filter(|u| u.enabled)
        .map(|u| u.id)
        .collect();
    app.store
        .add_department_members(desk, &everyone)
        .await
        .unwrap();
    let page = app
        .get(&format!("/departments/{desk}"), Some(&root.cookie))
        .await;
    assert!(page.body.contains("id=\"no-candidates\""), "{}", page.body);
    assert!(page
        .body
        .contains("Every enabled user is a member already."));
    // Deleting a department with sub-departments still shows its page
    // with the message (and the members panel).
    let r = app
        .submit(&root, &format!("/departments/{hq}/delete"), "")
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"form-error\""));
    assert!(r.body.contains("id=\"add-members-form\""));
}

#[tokio::test]
async fn without_edit_permission_members_show_without_buttons_and_changes_are_refused() {
    let app = App::new().await;
    let viewer = app.user("viewer", false).await;
    let alice = app.user("alice", false).await;
    let viewers = app
        .store
        .create_role(
            "Viewers",
            "",
            &[
                "system.roles:view".to_string(),
                "system.departments:view".to_string(),
            ],
        )
        .await
        .unwrap();
    let dept = app
        .store
        .create_department(&store::DepartmentFields {
            name: "HQ".into(),
            parent_id: None,
            grants: vec![],
        })
        .await
        .unwrap();
    app.store
        .add_role_members(viewers, &[viewer, alice])
        .await
        .unwrap();
    app.store
        .add_department_members(dept, &[alice])
        .await
        .unwrap();
    let b = app.browser("viewer", PW).await;
    for (page, add, remove) in [
        (
            format!("/roles/{viewers}"),
            format!("/roles/{viewers}/members"),
            format!("/roles/{viewers}/members/{alice}/remove"),
        ),
        (
            format!("/departments/{dept}"),
            format!("/departments/{dept}/members"),
            format!("/departments/{dept}/members/{alice}/remove"),
        ),
    ] {
        let r = app.get(&page, Some(&b.cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains("data-test=\"member-alice\""), "{page}");
        assert!(r.body.contains("alice name"), "{page}");
        assert!(!r.body.contains("id=\"add-members-form\""), "{page}");
        assert!(!r.body.contains("btn-remove-member"), "{page}");
        assert!(!r.body.contains("<select multiple"), "{page}");
        let r = app.submit(&b, &add, &format!("user={viewer}")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{add}");
        let r = app.submit(&b, &remove, "").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{remove}");
    }
    assert_eq!(app.store.role_members(viewers).await.unwrap().len(), 2);
    assert_eq!(
        usernames(&app.store.department_members(dept).await.unwrap()),
        ["alice"]
    );
    // Without any view permission the pages are refused too.
    app.user("plain", false).await;
    let p = app.browser("plain", PW).await;
    assert_eq!(
        app.get(&format!("/roles/{viewers}"), Some(&p.cookie))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn members_through_the_api() {
    let app = App::new().await;
    app.user("svc", true).await;
    let admin = crate::create_api_token(&app.store, "svc", "t")
        .await
        .unwrap();
    let alice = app.user("alice", false).await;
    let bob = app.user("bob", false).await;
    let alice_token = crate::create_api_token(&app.store, "alice", "t")
        .await
        .unwrap();
    let role = app
        .store
        .create_role("Viewers", "", &["system.users:view".to_string()])
        .await
        .unwrap();
    let dept = app
        .store
        .create_department(&store::DepartmentFields {
            name: "HQ".into(),
            parent_id: None,
            grants: vec!["system.audit:view".into()],
        })
        .await
        .unwrap();

    for (base, probe) in [
        (format!("/api/roles/{role}"), "/api/users"),
        (format!("/api/departments/{dept}"), "/api/audit"),
    ] {
        let members = format!("{base}/members");
        let r = app.api("GET", &members, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{members}: {}", r.body);
        assert!(json_usernames(&r.json()).is_empty());
        assert_eq!(
            app.api("GET", probe, Some(&alice_token)).await.status,
            StatusCode::FORBIDDEN
        );

        let r = app
            .api_json(
                "POST",
                &members,
                &admin,
                serde_json::json!({ "users": [bob, alice] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{members}: {}", r.body);
        assert_eq!(json_usernames(&r.json()), ["alice", "bob"]);
        assert_eq!(r.json()[0]["name"], "alice name");
        // alice's token now passes the permission check.
        assert_eq!(
            app.api("GET", probe, Some(&alice_token)).await.status,
            StatusCode::OK,
            "{probe}"
        );
        // Again, with one member already in: the same members.
        let r = app
            .api_json(
                "POST",
                &members,
                &admin,
                serde_json::json!({ "users": [alice] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(json_usernames(&r.json()), ["alice", "bob"]);

        // Refusals name the field; an unknown user is named by id.
        for body in [
            serde_json::json!({}),
            serde_json::json!({ "users": [] }),
            serde_json::json!({ "users": ["x"] }),
            serde_json::json!({ "users": [alice, 424242] }),
        ] {
            let r = app.api_json("POST", &members, &admin, body.clone()).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
            assert_eq!(r.json()["field"], "users", "{body}: {}", r.body);
        }
        let r = app
            .api_json(
                "POST",
                &members,
                &admin,
                serde_json::json!({ "users": [424242] }),
            )
            .await;
        assert!(
            r.json()["error"].as_str().unwrap().contains("424242"),
            "{}",
            r.body
        );
        let r = app
            .api_json("POST", &members, &admin, serde_json::json!([1]))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // Removing alice: her token loses the permission.
        let one = format!("{members}/{alice}");
        let r = app.api("DELETE", &one, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{one}: {}", r.body);
        assert_eq!(r.json()["ok"], true);
        let r = app.api("GET", &members, Some(&admin)).await;
        assert_eq!(json_usernames(&r.json()), ["bob"]);
        assert_eq!(
            app.api("GET", probe, Some(&alice_token)).await.status,
            StatusCode::FORBIDDEN
        );
        // No longer a member: 404.
        let r = app.api("DELETE", &one, Some(&admin)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    // Unknown role or department: 404 for each operation.
    for base in ["/api/roles/424242", "/api/departments/424242"] {
        let r = app
            .api("GET", &format!("{base}/members"), Some(&admin))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{base}");
        let r = app
            .api_json(
                "POST",
                &format!("{base}/members"),
                &admin,
                serde_json::json!({ "users": [alice] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{base}");
        let r = app
            .api("DELETE", &format!("{base}/members/{bob}"), Some(&admin))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{base}");
    }

    // Viewing members needs the view permission, changing them the edit one.
    let viewer = app.user("viewer", false).await;
    let looker = app
        .store
        .create_role(
            "Lookers",
            "",
            &[
                "system.roles:view".to_string(),
                "system.departments:view".to_string(),
            ],
        )
        .await
        .unwrap();
    app.store.add_role_members(looker, &[viewer]).await.unwrap();
    let viewer_token = crate::create_api_token(&app.store, "viewer", "t")
        .await
        .unwrap();
    for (base, perm) in [
        (format!("/api/roles/{role}"), "system.roles:edit"),
        (
            format!("/api/departments/{dept}"),
            "system.departments:edit",
        ),
    ] {
        let r = app
            .api("GET", &format!("{base}/members"), Some(&viewer_token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{base}: {}", r.body);
        assert_eq!(json_usernames(&r.json()), ["bob"]);
        let r = app
            .api_json(
                "POST",
                &format!("{base}/members"),
                &viewer_token,
                serde_json::json!({ "users": [viewer] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{base}");
        assert_eq!(r.json()["error"], format!("permission {perm} required"));
        let r = app
            .api(
                "DELETE",
                &format!("{base}/members/{bob}"),
                Some(&viewer_token),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{base}");
    }
    assert_eq!(
        usernames(&app.store.role_members(role).await.unwrap()),
        ["bob"]
    );
}
