//! The audit log, settings and dictionaries.

use crate::{AuditEntry, AuditQuery, DictionaryItem, Store, StoreError};

fn entry(at: i64, user: &str, method: &str, url: &str, ok: bool) -> AuditEntry {
    AuditEntry {
        at,
        action: if url == "/login" { "sign_in" } else { "change" }.into(),
        username: user.into(),
        ip: "127.0.0.1".into(),
        method: method.into(),
        url: url.into(),
        params: format!("name={user}&password=***"),
        status: if ok { 303 } else { 400 },
        ok,
        duration_ms: 3,
        ..AuditEntry::default()
    }
}

const DAY: i64 = 86_400_000;

async fn the_log_is_searched_by_every_column_and_summarised(store: &Store) {
    store
        .add_audit(&entry(DAY, "admin", "POST", "/login", true))
        .await
        .unwrap();
    store
        .add_audit(&entry(DAY + 5, "alice", "POST", "/users/3", false))
        .await
        .unwrap();
    store
        .add_audit(&entry(2 * DAY, "alice", "DELETE", "/api/queues/q", true))
        .await
        .unwrap();
    let all = store
        .search_audit(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.entries[0].url, "/api/queues/q", "newest first");
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let count = |page: crate::AuditPage| page.total;
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.username = "alice".into()))
                .await
                .unwrap()
        ),
        2
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.ok = Some(false)))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.method = "DELETE".into()))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.keyword = "queues".into()))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.params = "name=admin".into()))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.action = "sign_in".into()))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.ip = "10.0.0.1".into()))
                .await
                .unwrap()
        ),
        0
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.from = Some(2 * DAY)))
                .await
                .unwrap()
        ),
        1
    );
    assert_eq!(
        count(
            store
                .search_audit(&q(|q| q.to = Some(2 * DAY)))
                .await
                .unwrap()
        ),
        2
    );
    let page = store
        .search_audit(&AuditQuery {
            limit: 1,
            offset: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.entries.len()), (3, 1));

    let days = store.audit_per_day(0, 0).await.unwrap();
    let days: Vec<(String, i64, i64)> = days
        .into_iter()
        .map(|d| (d.key, d.total, d.failed))
        .collect();
    assert_eq!(days, [("1".into(), 2, 1), ("2".into(), 1, 0)]);
    let users = store.audit_per_user(0, 10).await.unwrap();
    assert_eq!(
        (users[0].key.as_str(), users[0].total, users[0].failed),
        ("alice", 2, 1)
    );
    assert_eq!(store.audit_usernames().await.unwrap(), ["admin", "alice"]);
    assert_eq!(store.prune_audit(2 * DAY).await.unwrap(), 2);
}

async fn settings_and_dictionaries_round_trip(store: &Store) {
    assert!(store.settings().await.unwrap().is_empty());
    store
        .put_settings(&[
            ("site.name".into(), "Call center".into()),
            ("smtp.port".into(), "25".into()),
        ])
        .await
        .unwrap();
    store
        .put_settings(&[("smtp.port".into(), "587".into())])
        .await
        .unwrap();
    let s = store.settings().await.unwrap();
    assert_eq!(s.get("smtp.port").map(String::as_str), Some("587"));
    assert_eq!(s.len(), 2);
    assert!(matches!(
        store.put_settings(&[(" ".into(), "x".into())]).await,
        Err(StoreError::EmptyKey(_))
    ));
    let item = |v: &str, p: i32| DictionaryItem {
        value: v.into(),
        label: v.to_uppercase(),
        position: p,
    };
    store
        .put_dictionary("ticket_priority", &[item("low", 2), item("high", 1)])
        .await
        .unwrap();
    let d = store.dictionary("ticket_priority").await.unwrap();
    assert_eq!(d[0].value, "high", "in position order");
    assert_eq!(store.dictionaries().await.unwrap(), ["ticket_priority"]);
    store.put_dictionary("ticket_priority", &[]).await.unwrap();
    assert!(store.dictionaries().await.unwrap().is_empty());
    assert!(store.put_dictionary("x", &[item("", 1)]).await.is_err());
}

/// `%` and `_` typed in a search are the characters themselves, not LIKE's
/// wildcards (an admin searching `50%` or `a_b` must not see every row).
async fn like_wildcards_in_an_audit_search_are_literal(store: &Store) {
    for (at, url) in [
        (DAY, "/api/x?discount=50%25"),
        (DAY + 1, "/api/x?discount=500"),
        (DAY + 2, "/users/a_b"),
        (DAY + 3, "/users/axb"),
        (DAY + 4, "/files/c:\\dir"),
    ] {
        store
            .add_audit(&entry(at, "admin", "POST", url, true))
            .await
            .unwrap();
    }
    let urls = |page: crate::AuditPage| {
        let mut u: Vec<String> = page.entries.into_iter().map(|e| e.url).collect();
        u.sort();
        u
    };
    let search = |keyword: &str, url: &str, params: &str| AuditQuery {
        keyword: keyword.into(),
        url: url.into(),
        params: params.into(),
        limit: 10,
        ..AuditQuery::default()
    };
    // Every text filter: the keyword, the URL and the parameters.
    let found = store.search_audit(&search("50%", "", "")).await.unwrap();
    assert_eq!(urls(found), ["/api/x?discount=50%25"]);
    let found = store.search_audit(&search("%", "", "")).await.unwrap();
    assert_eq!(urls(found), ["/api/x?discount=50%25"]);
    let found = store.search_audit(&search("", "a_b", "")).await.unwrap();
    assert_eq!(urls(found), ["/users/a_b"]);
    let found = store.search_audit(&search("", "_", "")).await.unwrap();
    assert_eq!(urls(found), ["/users/a_b"]);
    let found = store.search_audit(&search("", "c:\\d", "")).await.unwrap();
    assert_eq!(urls(found), ["/files/c:\\dir"]);
    let found = store.search_audit(&search("", "", "%")).await.unwrap();
    assert_eq!(found.total, 0, "no parameters contain a percent sign");
    // Plain text still matches anywhere.
    assert_eq!(
        store
            .search_audit(&search("users", "", ""))
            .await
            .unwrap()
            .total,
        2
    );
}

on_every_backend!(
    like_wildcards_in_an_audit_search_are_literal,
    the_log_is_searched_by_every_column_and_summarised,
    settings_and_dictionaries_round_trip,
);
