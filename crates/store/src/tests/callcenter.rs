//! Call-center settings: queues, agents, tiers, IVR menus, routing rules and
//! the `callcenter` change counter.

use super::TestDb;
use crate::{
    CallcenterSet, IvrMenuRow, RoutingRuleRow, Store, StoreError, Tier, CALLCENTER_VERSION,
};

async fn version(store: &Store) -> i64 {
    store.config_version(CALLCENTER_VERSION).await.unwrap()
}

fn tier(queue: &str, agent: &str, level: i32, position: i32) -> Tier {
    Tier {
        level,
        position,
        ..Tier::new(queue, agent)
    }
}

fn menu(id: &str, config: &str) -> IvrMenuRow {
    IvrMenuRow {
        id: id.to_string(),
        config: config.to_string(),
        updated_at: 0,
    }
}

fn rule(id: i64, config: &str) -> RoutingRuleRow {
    RoutingRuleRow {
        id,
        config: config.to_string(),
        updated_at: 0,
    }
}

/// Queues and agents the tier scenarios need.
async fn queues_and_agents(store: &Store, queues: &[&str], agents: &[&str]) {
    for q in queues {
        store.upsert_queue(q, "{}").await.unwrap();
    }
    for a in agents {
        store.upsert_agent(a, "{}").await.unwrap();
    }
}

async fn queue_round_trip(store: &Store) {
    assert_eq!(version(store).await, 0);
    assert!(store.list_queues().await.unwrap().is_empty());
    assert!(store.get_queue("support").await.unwrap().is_none());

    store
        .upsert_queue("support", r#"{"strategy":"longest-idle-agent"}"#)
        .await
        .unwrap();
    assert_eq!(version(store).await, 1);
    store.upsert_queue("billing", "{}").await.unwrap();
    assert_eq!(version(store).await, 2);

    let first = store.get_queue("support").await.unwrap().unwrap();
    assert_eq!(first.name, "support");
    assert_eq!(first.config, r#"{"strategy":"longest-idle-agent"}"#);
    assert!(first.created_at > 0);
    assert_eq!(first.created_at, first.updated_at);

    // Upserting again replaces the settings and keeps created_at.
    store
        .upsert_queue("support", r#"{"strategy":"ring-all"}"#)
        .await
        .unwrap();
    assert_eq!(version(store).await, 3);
    let second = store.get_queue("support").await.unwrap().unwrap();
    assert_eq!(second.config, r#"{"strategy":"ring-all"}"#);
    assert_eq!(second.created_at, first.created_at);
    assert!(second.updated_at >= first.updated_at);

    let names: Vec<String> = store
        .list_queues()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(names, vec!["billing", "support"]);
    assert_eq!(store.list_queues().await.unwrap()[1], second);

    // Blank names are refused before anything is written.
    for blank in ["", "  "] {
        let err = store.upsert_queue(blank, "{}").await.unwrap_err();
        assert!(matches!(err, StoreError::EmptyKey("queue name")), "{err:?}");
    }
    assert_eq!(
        StoreError::EmptyKey("queue name").to_string(),
        "queue name is empty"
    );
    assert_eq!(version(store).await, 3);

    assert!(store.remove_queue("billing").await.unwrap());
    assert_eq!(version(store).await, 4);
    assert!(store.get_queue("billing").await.unwrap().is_none());
    // Removing what does not exist changes nothing, version included.
    assert!(!store.remove_queue("billing").await.unwrap());
    assert_eq!(version(store).await, 4);
}

async fn agent_round_trip_and_live_status(store: &Store) {
    store
        .upsert_agent("1002", r#"{"max_no_answer":3}"#)
        .await
        .unwrap();
    store.upsert_agent("1001", "{}").await.unwrap();
    assert_eq!(version(store).await, 2);

    let fresh = store.get_agent("1002").await.unwrap().unwrap();
    assert_eq!(fresh.id, "1002");
    assert_eq!(fresh.config, r#"{"max_no_answer":3}"#);
    assert_eq!(fresh.status, "logged_out");
    assert_eq!(fresh.state, "waiting");
    assert_eq!(fresh.created_at, fresh.updated_at);

    // Live status: stored, but not a configuration change.
    assert!(store
        .set_agent_status("1002", "available", "in_a_queue_call")
        .await
        .unwrap());
    assert_eq!(version(store).await, 2);
    let live = store.get_agent("1002").await.unwrap().unwrap();
    assert_eq!(live.status, "available");
    assert_eq!(live.state, "in_a_queue_call");
    assert_eq!(live.updated_at, fresh.updated_at);
    assert!(!store
        .set_agent_status("nobody", "available", "idle")
        .await
        .unwrap());
    assert!(store.get_agent("nobody").await.unwrap().is_none());

    // A settings upsert keeps the live status and created_at.
    store
        .upsert_agent("1002", r#"{"max_no_answer":5}"#)
        .await
        .unwrap();
    assert_eq!(version(store).await, 3);
    let updated = store.get_agent("1002").await.unwrap().unwrap();
    assert_eq!(updated.config, r#"{"max_no_answer":5}"#);
    assert_eq!(updated.status, "available");
    assert_eq!(updated.state, "in_a_queue_call");
    assert_eq!(updated.created_at, fresh.created_at);

    let list = store.list_agents().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["1001", "1002"]);
    assert_eq!(list[1], updated);

    let err = store.upsert_agent("", "{}").await.unwrap_err();
    assert!(matches!(err, StoreError::EmptyKey("agent id")), "{err:?}");

    assert!(store.remove_agent("1001").await.unwrap());
    assert_eq!(version(store).await, 4);
    assert!(!store.remove_agent("1001").await.unwrap());
    assert_eq!(version(store).await, 4);
    assert_eq!(store.list_agents().await.unwrap().len(), 1);
}

async fn tiers_set_list_remove(store: &Store) {
    queues_and_agents(store, &["sales", "support"], &["a1", "a2", "a3"]).await;
    let base = version(store).await;

    store.set_tier(&tier("support", "a3", 1, 2)).await.unwrap();
    store.set_tier(&tier("support", "a1", 2, 1)).await.unwrap();
    store.set_tier(&Tier::new("support", "a2")).await.unwrap();
    store.set_tier(&tier("sales", "a1", 1, 1)).await.unwrap();
    assert_eq!(version(store).await, base + 4);

    // Per queue: by level, then position.
    assert_eq!(
        store.list_tiers("support").await.unwrap(),
        vec![
            tier("support", "a2", 1, 1),
            tier("support", "a3", 1, 2),
            tier("support", "a1", 2, 1),
        ]
    );
    assert!(store.list_tiers("nobody").await.unwrap().is_empty());

    // Setting an existing tier changes level and position in place.
    store.set_tier(&tier("support", "a1", 1, 1)).await.unwrap();
    assert_eq!(version(store).await, base + 5);
    assert_eq!(
        store.list_all_tiers().await.unwrap(),
        vec![
            tier("sales", "a1", 1, 1),
            tier("support", "a1", 1, 1),
            tier("support", "a2", 1, 1),
            tier("support", "a3", 1, 2),
        ]
    );

    // Both ends must exist; nothing is written otherwise.
    let err = store.set_tier(&Tier::new("ghost", "a1")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::QueueNotFound(q) if q == "ghost"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "queue ghost not found");
    let err = store
        .set_tier(&Tier::new("sales", "ghost"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AgentNotFound(a) if a == "ghost"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "agent ghost not found");
    assert_eq!(version(store).await, base + 5);
    assert_eq!(store.list_all_tiers().await.unwrap().len(), 4);

    assert!(store.remove_tier("support", "a3").await.unwrap());
    assert_eq!(version(store).await, base + 6);
    assert!(!store.remove_tier("support", "a3").await.unwrap());
    assert_eq!(version(store).await, base + 6);
    assert_eq!(store.list_tiers("support").await.unwrap().len(), 2);
}

async fn removing_a_queue_removes_its_tiers(store: &Store) {
    queues_and_agents(store, &["sales", "support"], &["a1", "a2"]).await;
    for (q, a) in [("sales", "a1"), ("sales", "a2"), ("support", "a1")] {
        store.set_tier(&Tier::new(q, a)).await.unwrap();
    }
    let before = version(store).await;

    assert!(store.remove_queue("sales").await.unwrap());
    assert_eq!(version(store).await, before + 1);
    assert!(store.list_tiers("sales").await.unwrap().is_empty());
    assert_eq!(
        store.list_all_tiers().await.unwrap(),
        vec![Tier::new("support", "a1")]
    );
    // The agents stay.
    assert_eq!(store.list_agents().await.unwrap().len(), 2);

    // A queue re-created under the same name starts without tiers.
    store.upsert_queue("sales", "{}").await.unwrap();
    assert!(store.list_tiers("sales").await.unwrap().is_empty());
}

async fn removing_an_agent_removes_its_tiers(store: &Store) {
    queues_and_agents(store, &["sales", "support"], &["a1", "a2"]).await;
    for (q, a) in [("sales", "a1"), ("sales", "a2"), ("support", "a1")] {
        store.set_tier(&Tier::new(q, a)).await.unwrap();
    }
    let before = version(store).await;

    assert!(store.remove_agent("a1").await.unwrap());
    assert_eq!(version(store).await, before + 1);
    assert_eq!(
        store.list_all_tiers().await.unwrap(),
        vec![Tier::new("sales", "a2")]
    );
    assert!(store.list_tiers("support").await.unwrap().is_empty());
    // The queues stay.
    assert_eq!(store.list_queues().await.unwrap().len(), 2);
}

async fn ivr_menus_upsert_list_remove_replace(store: &Store) {
    store
        .upsert_ivr_menu("main", r#"{"id":"main"}"#)
        .await
        .unwrap();
    store
        .upsert_ivr_menu("after-hours", r#"{"id":"after-hours"}"#)
        .await
        .unwrap();
    store
        .upsert_ivr_menu("main", r#"{"id":"main","max_failures":3}"#)
        .await
        .unwrap();
    assert_eq!(version(store).await, 3);

    let list = store.list_ivr_menus().await.unwrap();
    let pairs: Vec<(&str, &str)> = list
        .iter()
        .map(|m| (m.id.as_str(), m.config.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("after-hours", r#"{"id":"after-hours"}"#),
            ("main", r#"{"id":"main","max_failures":3}"#),
        ]
    );
    assert!(list.iter().all(|m| m.updated_at > 0));

    assert!(store.remove_ivr_menu("after-hours").await.unwrap());
    assert_eq!(version(store).await, 4);
    assert!(!store.remove_ivr_menu("after-hours").await.unwrap());
    assert_eq!(version(store).await, 4);

    // Replacing swaps the whole set; a repeated id keeps its last entry.
    store
        .replace_ivr_menus(&[
            menu("sales", "{\"n\":1}"),
            menu("root", "{}"),
            menu("sales", "{\"n\":2}"),
        ])
        .await
        .unwrap();
    assert_eq!(version(store).await, 5);
    let list = store.list_ivr_menus().await.unwrap();
    let pairs: Vec<(&str, &str)> = list
        .iter()
        .map(|m| (m.id.as_str(), m.config.as_str()))
        .collect();
    assert_eq!(pairs, vec![("root", "{}"), ("sales", "{\"n\":2}")]);

    // A blank id refuses the whole set and keeps the old one.
    let err = store
        .replace_ivr_menus(&[menu("ok", "{}"), menu(" ", "{}")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::EmptyKey("IVR menu id")),
        "{err:?}"
    );
    assert!(matches!(
        store.upsert_ivr_menu("", "{}").await.unwrap_err(),
        StoreError::EmptyKey("IVR menu id")
    ));
    assert_eq!(version(store).await, 5);
    assert_eq!(store.list_ivr_menus().await.unwrap().len(), 2);

    store.replace_ivr_menus(&[]).await.unwrap();
    assert_eq!(version(store).await, 6);
    assert!(store.list_ivr_menus().await.unwrap().is_empty());
}

async fn routing_rules_upsert_list_remove_replace(store: &Store) {
    store
        .upsert_routing_rule(20, r#"{"name":"b"}"#)
        .await
        .unwrap();
    store
        .upsert_routing_rule(-1, r#"{"name":"z"}"#)
        .await
        .unwrap();
    store
        .upsert_routing_rule(3, r#"{"name":"a"}"#)
        .await
        .unwrap();
    store
        .upsert_routing_rule(20, r#"{"name":"b2"}"#)
        .await
        .unwrap();
    assert_eq!(version(store).await, 4);

    let list = store.list_routing_rules().await.unwrap();
    let pairs: Vec<(i64, &str)> = list.iter().map(|r| (r.id, r.config.as_str())).collect();
    assert_eq!(
        pairs,
        vec![
            (-1, r#"{"name":"z"}"#),
            (3, r#"{"name":"a"}"#),
            (20, r#"{"name":"b2"}"#),
        ]
    );
    assert!(list.iter().all(|r| r.updated_at > 0));

    assert!(store.remove_routing_rule(3).await.unwrap());
    assert_eq!(version(store).await, 5);
    assert!(!store.remove_routing_rule(3).await.unwrap());
    assert_eq!(version(store).await, 5);

    store
        .replace_routing_rules(&[rule(7, "{}"), rule(1, "{\"x\":1}"), rule(7, "{\"x\":7}")])
        .await
        .unwrap();
    assert_eq!(version(store).await, 6);
    let list = store.list_routing_rules().await.unwrap();
    let pairs: Vec<(i64, &str)> = list.iter().map(|r| (r.id, r.config.as_str())).collect();
    assert_eq!(pairs, vec![(1, "{\"x\":1}"), (7, "{\"x\":7}")]);

    store.replace_routing_rules(&[]).await.unwrap();
    assert_eq!(version(store).await, 7);
    assert!(store.list_routing_rules().await.unwrap().is_empty());
}

async fn json_text_is_kept_verbatim(store: &Store) {
    // The store does not reformat the engine's documents.
    let config = "{ \"name\" : \"客服\",\n  \"nested\": {\"list\": [1, 2.5, null]} }";
    store.upsert_queue("q", config).await.unwrap();
    store.upsert_agent("a", config).await.unwrap();
    store.upsert_ivr_menu("m", config).await.unwrap();
    store.upsert_routing_rule(1, config).await.unwrap();
    assert_eq!(store.get_queue("q").await.unwrap().unwrap().config, config);
    assert_eq!(store.get_agent("a").await.unwrap().unwrap().config, config);
    assert_eq!(store.list_ivr_menus().await.unwrap()[0].config, config);
    assert_eq!(store.list_routing_rules().await.unwrap()[0].config, config);
}

async fn replacing_everything_is_one_change_and_keeps_agent_status(store: &Store) {
    queues_and_agents(store, &["old", "support"], &["1001", "1002"]).await;
    store.set_tier(&tier("old", "1002", 1, 1)).await.unwrap();
    store.upsert_ivr_menu("gone", "{}").await.unwrap();
    assert!(store
        .set_agent_status("1001", "available", "waiting")
        .await
        .unwrap());
    let before = version(store).await;
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let set = CallcenterSet {
        queues: vec![pair("support", "{\"x\":1}")],
        agents: vec![pair("1001", "{\"y\":2}")],
        tiers: vec![tier("support", "1001", 2, 3)],
        ivr_menus: vec![pair("main", "{}")],
        routing_rules: vec![(5, "{}".to_string())],
    };
    store.replace_callcenter(&set).await.unwrap();
    assert_eq!(version(store).await, before + 1, "one change");
    let queues: Vec<String> = store
        .list_queues()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.name)
        .collect();
    assert_eq!(queues, ["support"]);
    let agents = store.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(
        (agents[0].config.as_str(), agents[0].status.as_str()),
        ("{\"y\":2}", "available")
    );
    assert_eq!(
        store.list_all_tiers().await.unwrap(),
        [tier("support", "1001", 2, 3)]
    );
    let menus: Vec<String> = store
        .list_ivr_menus()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(menus, ["main"]);
    assert_eq!(store.list_routing_rules().await.unwrap()[0].id, 5);

    // A tier naming a queue the set lacks: refused, nothing written.
    let mut bad = set.clone();
    bad.queues.clear();
    assert!(matches!(
        store.replace_callcenter(&bad).await,
        Err(StoreError::QueueNotFound(q)) if q == "support"
    ));
    assert_eq!(version(store).await, before + 1);
    assert_eq!(store.list_queues().await.unwrap().len(), 1);
}

on_every_backend!(
    replacing_everything_is_one_change_and_keeps_agent_status,
    queue_round_trip,
    agent_round_trip_and_live_status,
    tiers_set_list_remove,
    removing_a_queue_removes_its_tiers,
    removing_an_agent_removes_its_tiers,
    ivr_menus_upsert_list_remove_replace,
    routing_rules_upsert_list_remove_replace,
    json_text_is_kept_verbatim,
);

async fn settings_and_agent_status_survive_a_restart(db: &TestDb) {
    let first = db.open().await;
    queues_and_agents(&first, &["support"], &["1001"]).await;
    first
        .set_tier(&tier("support", "1001", 2, 3))
        .await
        .unwrap();
    first
        .set_agent_status("1001", "on_break", "idle")
        .await
        .unwrap();
    first.upsert_ivr_menu("main", "{}").await.unwrap();
    first.upsert_routing_rule(1, "{}").await.unwrap();
    let before = version(&first).await;
    first.close().await;

    let second = db.open().await;
    let agent = second.get_agent("1001").await.unwrap().unwrap();
    assert_eq!(
        (agent.status.as_str(), agent.state.as_str()),
        ("on_break", "idle")
    );
    assert_eq!(
        second.list_all_tiers().await.unwrap(),
        vec![tier("support", "1001", 2, 3)]
    );
    assert!(second.get_queue("support").await.unwrap().is_some());
    assert_eq!(second.list_ivr_menus().await.unwrap().len(), 1);
    assert_eq!(second.list_routing_rules().await.unwrap().len(), 1);
    assert_eq!(version(&second).await, before);
}

async fn another_handle_sees_the_callcenter_version_move(db: &TestDb) {
    // The CLI or web admin (one handle) edits; the server (another) polls.
    let server = db.open().await;
    let admin = db.open().await;

    let v0 = version(&server).await;
    let extensions = server.config_version("extensions").await.unwrap();
    admin
        .replace_ivr_menus(&[menu("main", "{}"), menu("sub", "{}")])
        .await
        .unwrap();
    let v1 = version(&server).await;
    assert!(v1 > v0);
    assert_eq!(server.list_ivr_menus().await.unwrap().len(), 2);

    admin.upsert_agent("1001", "{}").await.unwrap();
    let v2 = version(&server).await;
    assert!(v2 > v1);
    // Live status written by the server does not look like an admin edit.
    server
        .set_agent_status("1001", "available", "waiting")
        .await
        .unwrap();
    assert_eq!(version(&admin).await, v2);
    assert_eq!(
        admin.get_agent("1001").await.unwrap().unwrap().status,
        "available"
    );
    // Other areas' counters are untouched.
    assert_eq!(
        server.config_version("extensions").await.unwrap(),
        extensions
    );
}

on_persistent_backends!(
    settings_and_agent_status_survive_a_restart,
    another_handle_sees_the_callcenter_version_move,
);
