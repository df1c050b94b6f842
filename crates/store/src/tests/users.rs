//! Users, roles, departments and effective permissions.

use crate::{DepartmentFields, Store, StoreError, UserFields, UserQuery};

fn fields(username: &str) -> UserFields {
    UserFields {
        username: username.to_string(),
        name: format!("Name of {username}"),
        email: format!("{username}@example.com"),
        enabled: true,
        ..Default::default()
    }
}

async fn default_admin_is_seeded(store: &Store) {
    let admin = store.user_credentials("admin").await.unwrap().unwrap();
    assert!(admin.user.is_admin);
    assert!(admin.user.must_change_password);
    assert!(admin.user.enabled);
    assert!(admin.password_hash.starts_with("$argon2id$"));
}

async fn create_update_and_unique_usernames(store: &Store) {
    let id = store
        .create_user(&fields("alice"), "hash-a", false)
        .await
        .unwrap();
    let err = store
        .create_user(&fields("alice"), "hash-b", false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UsernameTaken(ref u) if u == "alice"),
        "{err}"
    );
    let err = store
        .create_user(&fields(""), "h", false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyKey(_)));

    let bob = store
        .create_user(&fields("bob"), "hash-b", true)
        .await
        .unwrap();
    // Renaming bob to alice is refused and changes nothing.
    let err = store.update_user(bob, &fields("alice")).await.unwrap_err();
    assert!(matches!(err, StoreError::UsernameTaken(_)));
    assert_eq!(store.get_user(bob).await.unwrap().unwrap().username, "bob");

    let mut f = fields("alice2");
    f.is_agent = true;
    f.extension = "1001".into();
    f.mobile = "13800000000".into();
    store.update_user(id, &f).await.unwrap();
    let alice = store.get_user(id).await.unwrap().unwrap();
    assert_eq!(alice.username, "alice2");
    assert!(alice.is_agent && !alice.is_admin);
    assert_eq!(alice.extension, "1001");
    assert!(store.user_credentials("alice").await.unwrap().is_none());
    assert_eq!(
        store
            .user_credentials("alice2")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "hash-a"
    );
    let err = store.update_user(9999, &fields("x")).await.unwrap_err();
    assert!(matches!(err, StoreError::UserNotFound(9999)));
}

async fn search_and_paging(store: &Store) {
    for i in 0..25 {
        store
            .create_user(&fields(&format!("agent{i:02}")), "h", false)
            .await
            .unwrap();
    }
    let mut f = fields("zhang_san");
    f.name = "张三".into();
    store.create_user(&f, "h", false).await.unwrap();

    let page = store
        .list_users(&UserQuery {
            search: "AGENT".into(),
            offset: 20,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 25);
    let names: Vec<_> = page.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(
        names,
        ["agent20", "agent21", "agent22", "agent23", "agent24"]
    );

    let page = store
        .list_users(&UserQuery {
            search: "张".into(),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.users[0].username, "zhang_san");
    // LIKE wildcards in the search are literal: "_" matches only "_".
    let page = store
        .list_users(&UserQuery {
            search: "g_s".into(),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let page = store
        .list_users(&UserQuery {
            search: "%".into(),
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    // Everyone (admin included) with an empty search.
    let page = store
        .list_users(&UserQuery {
            search: String::new(),
            offset: 0,
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(page.total, 27);
    assert_eq!(page.users.len(), 5);
}

async fn roles_grants_and_memberships(store: &Store) {
    let user = store
        .create_user(&fields("carol"), "h", false)
        .await
        .unwrap();
    let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let ops = store
        .create_role(
            "Operators",
            "phone admins",
            &g(&["voice.extensions:edit", "calls:view"]),
        )
        .await
        .unwrap();
    let err = store.create_role("Operators", "", &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::RoleNameTaken(_)));
    let viewers = store
        .create_role("Viewers", "", &g(&["system.users:view"]))
        .await
        .unwrap();

    store.set_user_roles(user, &[ops, viewers]).await.unwrap();
    assert_eq!(store.user_role_ids(user).await.unwrap(), vec![ops, viewers]);
    assert_eq!(
        store.user_grants(user).await.unwrap(),
        g(&["calls:view", "system.users:view", "voice.extensions:edit"])
    );
    let err = store.set_user_roles(user, &[ops, 4242]).await.unwrap_err();
    assert!(matches!(err, StoreError::RoleNotFound(4242)));
    // The failed call changed nothing.
    assert_eq!(store.user_role_ids(user).await.unwrap(), vec![ops, viewers]);

    store
        .update_role(ops, "Operators", "x", &g(&["calls:control"]))
        .await
        .unwrap();
    let role = store.get_role(ops).await.unwrap().unwrap();
    assert_eq!(role.grants, g(&["calls:control"]));
    assert_eq!(role.members, 1);
    assert_eq!(store.role_members(ops).await.unwrap()[0].username, "carol");

    store.delete_role(viewers).await.unwrap();
    assert_eq!(store.user_role_ids(user).await.unwrap(), vec![ops]);
    assert_eq!(
        store.user_grants(user).await.unwrap(),
        g(&["calls:control"])
    );
    assert!(store.get_role(viewers).await.unwrap().is_none());
    let names: Vec<_> = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Operators"]);
}

async fn department_tree_refuses_cycles(store: &Store) {
    let dept = |name: &str, parent: Option<i64>, grants: &[&str]| DepartmentFields {
        name: name.to_string(),
        parent_id: parent,
        grants: grants.iter().map(|s| s.to_string()).collect(),
    };
    let hq = store
        .create_department(&dept("HQ", None, &["voice.status:view"]))
        .await
        .unwrap();
    let sales = store
        .create_department(&dept("Sales", Some(hq), &[]))
        .await
        .unwrap();
    let east = store
        .create_department(&dept("East", Some(sales), &["calls:view"]))
        .await
        .unwrap();
    let err = store
        .create_department(&dept("Nowhere", Some(777), &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DepartmentNotFound(777)));

    // HQ under East (its grandchild) and East under itself: cycles, refused.
    let err = store
        .update_department(hq, &dept("HQ", Some(east), &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DepartmentCycle { .. }), "{err}");
    let err = store
        .update_department(east, &dept("East", Some(east), &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DepartmentCycle { .. }));
    // Nothing changed: HQ is still at the top with its grant.
    let hq_row = store.get_department(hq).await.unwrap().unwrap();
    assert_eq!(hq_row.parent_id, None);
    assert_eq!(hq_row.grants, ["voice.status:view"]);

    // A member of East holds East's grants and its ancestors'.
    let user = store
        .create_user(&fields("dave"), "h", false)
        .await
        .unwrap();
    store.set_user_departments(user, &[east]).await.unwrap();
    assert_eq!(
        store.user_grants(user).await.unwrap(),
        ["calls:view", "voice.status:view"]
    );
    assert_eq!(store.department_members(east).await.unwrap().len(), 1);

    // A legal move: East to the top.
    store
        .update_department(east, &dept("East", None, &["calls:view"]))
        .await
        .unwrap();
    assert_eq!(store.user_grants(user).await.unwrap(), ["calls:view"]);

    // Deleting a department with children is refused; a leaf goes with its memberships.
    let err = store.delete_department(hq).await.unwrap_err();
    assert!(matches!(err, StoreError::DepartmentHasChildren(_)));
    store.delete_department(east).await.unwrap();
    assert!(store.user_department_ids(user).await.unwrap().is_empty());
    store.delete_department(sales).await.unwrap();
    store.delete_department(hq).await.unwrap();
    assert!(store.list_departments().await.unwrap().is_empty());
}

async fn members_are_added_all_or_none_and_removed_one_by_one(store: &Store) {
    let erin = store
        .create_user(&fields("erin"), "h", false)
        .await
        .unwrap();
    let finn = store
        .create_user(&fields("finn"), "h", false)
        .await
        .unwrap();
    let gus = store.create_user(&fields("gus"), "h", false).await.unwrap();
    let names = |users: Vec<crate::User>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();

    // Roles. erin is a member already (from the user form's side).
    let role = store
        .create_role("Viewers", "", &["system.users:view".to_string()])
        .await
        .unwrap();
    let other = store.create_role("Other", "", &[]).await.unwrap();
    store.set_user_roles(erin, &[other, role]).await.unwrap();
    // An unknown user: refused naming it, nobody added.
    let err = store
        .add_role_members(role, &[gus, 4242, finn])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UserNotFound(4242)), "{err}");
    assert_eq!(names(store.role_members(role).await.unwrap()), ["erin"]);
    // An unknown role: refused naming it.
    let err = store.add_role_members(777, &[gus]).await.unwrap_err();
    assert!(matches!(err, StoreError::RoleNotFound(777)), "{err}");
    // Adding an existing member again (and a user twice) leaves it as it is.
    assert_eq!(
        store
            .add_role_members(role, &[gus, erin, finn, gus])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        names(store.role_members(role).await.unwrap()),
        ["erin", "finn", "gus"]
    );
    assert_eq!(store.get_role(role).await.unwrap().unwrap().members, 3);
    assert_eq!(store.user_role_ids(erin).await.unwrap(), vec![role, other]);
    assert_eq!(store.user_grants(gus).await.unwrap(), ["system.users:view"]);
    assert_eq!(store.add_role_members(role, &[]).await.unwrap(), 0);
    // Removing one member: only that membership goes.
    assert!(store.remove_role_member(role, erin).await.unwrap());
    assert!(!store.remove_role_member(role, erin).await.unwrap());
    assert!(!store.remove_role_member(role, 4242).await.unwrap());
    assert_eq!(store.user_role_ids(erin).await.unwrap(), vec![other]);
    assert_eq!(
        names(store.role_members(role).await.unwrap()),
        ["finn", "gus"]
    );
    let err = store.remove_role_member(777, finn).await.unwrap_err();
    assert!(matches!(err, StoreError::RoleNotFound(777)));

    // Departments, the same rules; grants come through the tree.
    let dept = |name: &str, parent: Option<i64>, grants: &[&str]| DepartmentFields {
        name: name.to_string(),
        parent_id: parent,
        grants: grants.iter().map(|s| s.to_string()).collect(),
    };
    let hq = store
        .create_department(&dept("HQ", None, &["calls:view"]))
        .await
        .unwrap();
    let desk = store
        .create_department(&dept("Desk", Some(hq), &[]))
        .await
        .unwrap();
    store.set_user_departments(finn, &[hq]).await.unwrap();
    let err = store
        .add_department_members(desk, &[erin, 4242])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UserNotFound(4242)), "{err}");
    assert!(store.department_members(desk).await.unwrap().is_empty());
    let err = store
        .add_department_members(777, &[erin])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DepartmentNotFound(777)), "{err}");
    assert_eq!(
        store
            .add_department_members(desk, &[erin, finn])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        names(store.department_members(desk).await.unwrap()),
        ["erin", "finn"]
    );
    assert_eq!(
        store.user_department_ids(finn).await.unwrap(),
        vec![hq, desk]
    );
    assert_eq!(store.user_grants(erin).await.unwrap(), ["calls:view"]);
    assert_eq!(
        store.add_department_members(desk, &[erin]).await.unwrap(),
        0
    );
    assert!(store.remove_department_member(desk, erin).await.unwrap());
    assert!(!store.remove_department_member(desk, erin).await.unwrap());
    assert!(store.user_grants(erin).await.unwrap().is_empty());
    assert_eq!(
        store.user_department_ids(finn).await.unwrap(),
        vec![hq, desk]
    );
    let err = store.remove_department_member(777, finn).await.unwrap_err();
    assert!(matches!(err, StoreError::DepartmentNotFound(777)));
}

on_every_backend!(
    default_admin_is_seeded,
    create_update_and_unique_usernames,
    search_and_paging,
    roles_grants_and_memberships,
    department_tree_refuses_cycles,
    members_are_added_all_or_none_and_removed_one_by_one,
);
