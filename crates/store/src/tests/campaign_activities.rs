//! Outbound activities: a start extracts and allocates in one go and
//! records its run; later starts take what is left; recall gives rows
//! back to the pool; the kind decides the targets; a running activity is
//! not deleted.

use callcenter::campaign::allocate::Target;

use crate::{
    ActivityFields, BatchFields, BatchScope, FilterFields, NewRow, RowQuery, Store, StoreError,
};

/// A batch of `n` numbers and a filter matching all of them: (batch,
/// filter).
async fn numbers(store: &Store, n: usize) -> (i64, i64) {
    let batch = store
        .create_batch(
            BatchFields {
                name: "回访批次".into(),
                ..BatchFields::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    store
        .apply_campaign_template(batch, &["姓名".to_string(), "号码".to_string()])
        .await
        .unwrap();
    let rows: Vec<NewRow> = (0..n)
        .map(|i| NewRow {
            phone: format!("186186160{i:02}"),
            values: [("f1".to_string(), format!("客户{i}"))].into(),
        })
        .collect();
    let counts = store
        .import_campaign_rows(batch, &rows, Some(1))
        .await
        .unwrap();
    assert_eq!(counts.imported, n as i64);
    let filter = store
        .create_campaign_filter(
            FilterFields {
                name: "全部".into(),
                batch_id: batch,
                ..FilterFields::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    (batch, filter)
}

fn target(kind: &str, id: &str, count: Option<u64>) -> Target {
    Target {
        kind: kind.into(),
        id: id.into(),
        count,
    }
}

async fn rows_in(store: &Store, batch: i64, state: &str) -> Vec<crate::CampaignRow> {
    store
        .list_campaign_rows(&RowQuery {
            batch_id: batch,
            state: Some(state.into()),
            limit: 500,
            ..RowQuery::default()
        })
        .await
        .unwrap()
        .rows
}

async fn a_start_allocates_the_extracted_rows_and_records_its_run(store: &Store) {
    let (batch, filter) = numbers(store, 12).await;
    let id = store
        .create_activity(
            ActivityFields {
                name: "回访活动".into(),
                kind: "preview".into(),
                filter_id: filter,
                extract_count: 8,
                default_count: 4,
                targets: vec![
                    target("agent", "1001", Some(3)),
                    target("agent", "1002", None),
                ],
                ..ActivityFields::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    let a = store.get_activity(id).await.unwrap().unwrap();
    assert_eq!(
        (a.state.as_str(), a.batch_id, a.started_at),
        ("draft", batch, None)
    );
    assert_eq!(a.fields.targets.len(), 2);

    // 8 extracted: 3 to 1001, 4 (the default) to 1002, 1 left.
    let first = store.start_activity(id).await.unwrap();
    assert_eq!(
        (first.extracted, first.allocated.clone(), first.unassigned),
        (8, vec![3, 4], 1)
    );
    let assigned = rows_in(store, batch, "assigned").await;
    assert_eq!(assigned.len(), 7);
    let to = |who: &str| {
        assigned
            .iter()
            .filter(|r| r.assignee.as_deref() == Some(who))
            .count()
    };
    assert_eq!((to("1001"), to("1002")), (3, 4));
    assert!(assigned
        .iter()
        .all(|r| r.activity_id == Some(id) && r.assignee_kind.as_deref() == Some("agent")));
    assert!(
        assigned.iter().all(|r| r.run_id == Some(first.run_id)),
        "each row names the start that allocated it"
    );
    assert_eq!(rows_in(store, batch, "unassigned").await.len(), 5);
    let a = store.get_activity(id).await.unwrap().unwrap();
    assert_eq!(a.state, "running");
    assert!(a.started_at.is_some());
    let runs = store.activity_runs(id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, first.run_id);
    assert_eq!(
        (runs[0].matched, runs[0].to_agents, runs[0].unassigned),
        (8, 7, 1)
    );
    assert!(runs[0].name.starts_with("全部_20"), "{}", runs[0].name);

    // The second start takes the 5 left; 7 asked, so in proportion: 3 × 5
    // / 7 = 2.14 and 4 × 5 / 7 = 2.86, the larger remainder gets the 5th.
    let second = store.start_activity(id).await.unwrap();
    assert_eq!((second.extracted, second.allocated), (5, vec![2, 3]));
    assert_eq!(rows_in(store, batch, "unassigned").await.len(), 0);
    // Nothing left: an empty run, still recorded.
    let third = store.start_activity(id).await.unwrap();
    assert_eq!((third.extracted, third.allocated), (0, vec![0, 0]));
    assert_eq!(store.activity_runs(id).await.unwrap().len(), 3);
}

async fn recalled_rows_go_back_to_the_pool_and_out_again(store: &Store) {
    let (batch, filter) = numbers(store, 6).await;
    let id = store
        .create_activity(
            ActivityFields {
                name: "营销".into(),
                kind: "robot".into(),
                filter_id: filter,
                extract_count: 6,
                targets: vec![
                    target("robot", "201", Some(4)),
                    target("robot", "202", Some(2)),
                ],
                ..ActivityFields::default()
            },
            None,
        )
        .await
        .unwrap();
    let run = store.start_activity(id).await.unwrap();
    assert_eq!(run.allocated, vec![4, 2]);
    // One row dialed: it is not recalled.
    let dialed = rows_in(store, batch, "assigned").await[0].clone();
    store
        .set_campaign_row_state(dialed.id, "succeeded", Some("answered"))
        .await
        .unwrap();
    let back = store
        .recall_activity_rows(id, Some(("robot", dialed.assignee.as_deref().unwrap())))
        .await
        .unwrap();
    assert_eq!(
        back,
        if dialed.assignee.as_deref() == Some("201") {
            3
        } else {
            1
        }
    );
    let all_back = store.recall_activity_rows(id, None).await.unwrap();
    assert_eq!(back + all_back, 5);
    let recalled = rows_in(store, batch, "recalled").await;
    assert_eq!(recalled.len(), 5);
    assert!(recalled.iter().all(|r| r.assignee.is_none()));
    let runs = store.activity_runs(id).await.unwrap();
    assert_eq!(runs[0].recalled, 5);
    // The next start extracts the recalled rows again: 4 and 2 asked of
    // 5, 3.33 and 1.67, the larger remainder gets the 5th.
    let again = store.start_activity(id).await.unwrap();
    assert_eq!((again.extracted, again.allocated), (5, vec![3, 2]));
}

async fn an_activitys_kind_decides_its_targets_and_bad_forms_name_the_field(store: &Store) {
    let (_, filter) = numbers(store, 1).await;
    let field = |e: StoreError| match e {
        StoreError::InvalidField(f) => f.field,
        other => panic!("{other:?}"),
    };
    let base = ActivityFields {
        name: "预测".into(),
        kind: "predictive".into(),
        filter_id: filter,
        extract_count: 10,
        targets: vec![target("queue", "sales", None)],
        ..ActivityFields::default()
    };
    let wrong = ActivityFields {
        targets: vec![target("agent", "1001", None)],
        ..base.clone()
    };
    let e = store.create_activity(wrong, None).await.unwrap_err();
    assert!(e.to_string().contains("targets[0].kind"), "{e}");
    assert_eq!(field(e), "targets");
    let no_filter = ActivityFields {
        filter_id: 999,
        ..base.clone()
    };
    assert_eq!(
        field(store.create_activity(no_filter, None).await.unwrap_err()),
        "filter_id"
    );
    let bad_kind = ActivityFields {
        kind: "dialer".into(),
        ..base.clone()
    };
    assert_eq!(
        field(store.create_activity(bad_kind, None).await.unwrap_err()),
        "kind"
    );
    let no_share = ActivityFields {
        share_pct: 0,
        ..base.clone()
    };
    assert_eq!(
        field(store.create_activity(no_share, None).await.unwrap_err()),
        "share_pct"
    );
    let id = store.create_activity(base.clone(), None).await.unwrap();
    assert!(matches!(
        store.create_activity(base.clone(), None).await,
        Err(StoreError::CrmNameTaken("activity", _))
    ));
    // Started, its kind is fixed; its counts are not.
    store.start_activity(id).await.unwrap();
    let robot = ActivityFields {
        kind: "robot".into(),
        targets: vec![target("robot", "201", None)],
        ..base.clone()
    };
    assert_eq!(
        field(store.update_activity(id, robot).await.unwrap_err()),
        "kind"
    );
    let more = ActivityFields {
        extract_count: 50,
        ..base.clone()
    };
    store.update_activity(id, more).await.unwrap();
    assert_eq!(
        store
            .get_activity(id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .extract_count,
        50
    );
    assert_eq!(
        store
            .list_activities(&BatchScope::All)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        vec![id]
    );
}

async fn a_running_activity_is_not_deleted_and_a_stopped_one_frees_its_rows(store: &Store) {
    let (batch, filter) = numbers(store, 3).await;
    let id = store
        .create_activity(
            ActivityFields {
                name: "回访".into(),
                filter_id: filter,
                extract_count: 3,
                targets: vec![target("department", "7", Some(3))],
                ..ActivityFields::default()
            },
            None,
        )
        .await
        .unwrap();
    store.start_activity(id).await.unwrap();
    assert_eq!(store.activity_runs(id).await.unwrap()[0].to_departments, 3);
    let e = store.delete_activity(id).await.unwrap_err();
    assert!(e.to_string().contains("stop the activity"), "{e}");
    assert!(store.set_activity_state(id, "finished").await.is_err());
    store.set_activity_state(id, "stopped").await.unwrap();
    assert_eq!(store.delete_activity(id).await.unwrap(), 3);
    let free = rows_in(store, batch, "unassigned").await;
    assert_eq!(free.len(), 3);
    assert!(free
        .iter()
        .all(|r| r.activity_id.is_none() && r.assignee.is_none()));
    assert!(store.get_activity(id).await.unwrap().is_none());
    assert!(matches!(
        store.start_activity(id).await,
        Err(StoreError::CrmNotFound("activity", _))
    ));
}

on_every_backend!(
    a_start_allocates_the_extracted_rows_and_records_its_run,
    recalled_rows_go_back_to_the_pool_and_out_again,
    an_activitys_kind_decides_its_targets_and_bad_forms_name_the_field,
    a_running_activity_is_not_deleted_and_a_stopped_one_frees_its_rows,
);
