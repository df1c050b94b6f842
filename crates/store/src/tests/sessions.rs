//! Browser sessions and API tokens.

use crate::{Session, Store, StoreError, UserFields};

async fn user(store: &Store, name: &str) -> i64 {
    let f = UserFields {
        username: name.to_string(),
        enabled: true,
        ..Default::default()
    };
    store.create_user(&f, "h", false).await.unwrap()
}

fn session(id: &str, user_id: i64, now: i64) -> Session {
    Session {
        id: id.to_string(),
        user_id,
        csrf_token: format!("csrf-{id}"),
        created_at: now,
        last_seen_at: now,
        expires_at: now + 1000,
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
    }
}

async fn sessions_lifecycle(store: &Store) {
    let u = user(store, "erin").await;
    store.create_session(&session("s1", u, 100)).await.unwrap();
    store.create_session(&session("s2", u, 100)).await.unwrap();
    let err = store
        .create_session(&session("s3", 999, 100))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UserNotFound(999)));

    assert_eq!(
        store.get_session("s1").await.unwrap().unwrap().csrf_token,
        "csrf-s1"
    );
    store.touch_session("s1", 500).await.unwrap();
    assert_eq!(
        store.get_session("s1").await.unwrap().unwrap().last_seen_at,
        500
    );

    // Idle since before 200: s2 goes, s1 (seen at 500) stays.
    assert_eq!(store.purge_sessions(200, 300).await.unwrap(), 1);
    assert!(store.get_session("s2").await.unwrap().is_none());
    // Past the absolute expiry (100 + 1000): gone whatever the activity.
    assert_eq!(store.purge_sessions(0, 1100).await.unwrap(), 1);
    assert!(store.get_session("s1").await.unwrap().is_none());

    // A password change ends every other session; disabling ends all.
    store.create_session(&session("a", u, 100)).await.unwrap();
    store.create_session(&session("b", u, 100)).await.unwrap();
    store
        .set_user_password(u, "h2", false, Some("a"))
        .await
        .unwrap();
    assert!(store.get_session("a").await.unwrap().is_some());
    assert!(store.get_session("b").await.unwrap().is_none());
    store.set_user_enabled(u, false).await.unwrap();
    assert!(store.get_session("a").await.unwrap().is_none());

    store.create_session(&session("c", u, 100)).await.unwrap();
    store.delete_session("c").await.unwrap();
    store.delete_session("unknown").await.unwrap();
    assert!(store.get_session("c").await.unwrap().is_none());
}

async fn api_tokens(store: &Store) {
    let u = user(store, "frank").await;
    let other = user(store, "grace").await;
    let t1 = store.create_api_token(u, "ci", "digest-1").await.unwrap();
    let t2 = store
        .create_api_token(u, "script", "digest-2")
        .await
        .unwrap();
    assert!(store.create_api_token(4242, "x", "digest-3").await.is_err());
    assert!(matches!(
        store.create_api_token(u, "", "digest-4").await.unwrap_err(),
        StoreError::EmptyKey(_)
    ));

    let found = store.find_api_token("digest-1").await.unwrap().unwrap();
    assert_eq!(
        (found.id, found.user_id, found.name.as_str()),
        (t1, u, "ci")
    );
    assert_eq!(found.last_used_at, None);
    store.touch_api_token(t1, 1234).await.unwrap();
    assert_eq!(
        store
            .find_api_token("digest-1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(1234)
    );
    assert!(store.find_api_token("nope").await.unwrap().is_none());

    let ids: Vec<_> = store
        .list_api_tokens(u)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&t1) && ids.contains(&t2));
    // Another user cannot revoke frank's token.
    assert!(!store.revoke_api_token(other, t1).await.unwrap());
    assert!(store.revoke_api_token(u, t1).await.unwrap());
    assert!(store.find_api_token("digest-1").await.unwrap().is_none());
    assert_eq!(store.list_api_tokens(u).await.unwrap().len(), 1);
}

on_every_backend!(sessions_lifecycle, api_tokens);
