//! Outbound campaigns: a batch's fields from a template (the phone field
//! guessed, kept keys on a second upload), rows imported with invalid,
//! duplicate and do-not-call numbers counted and skipped, the import
//! record's delete keeping rows an activity holds, filter forms and their
//! matches, and the filter-run records.

use callcenter::campaign::filter::{Condition, Join, Op};

use crate::{
    BatchFields, BatchScope, CampaignField, DictionaryItem, FilterFields, FilterRun, NewRow,
    RowQuery, SkipReason, Store, StoreError, VoiceList,
};

fn titles(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| (*s).to_string()).collect()
}

fn row(phone: &str, values: &[(&str, &str)]) -> NewRow {
    NewRow {
        phone: phone.into(),
        values: values
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    }
}

async fn batch(store: &Store, name: &str) -> i64 {
    store
        .create_batch(
            BatchFields {
                name: name.into(),
                department_id: Some(3),
                ..BatchFields::default()
            },
            Some(1),
        )
        .await
        .expect("create a batch")
}

async fn a_batch_gets_its_fields_from_a_template(store: &Store) {
    let id = batch(store, "回访批次").await;
    let b = store.get_batch(id).await.unwrap().unwrap();
    assert_eq!(b.fields.kind, "temporary");
    assert!(matches!(
        store
            .create_batch(
                BatchFields {
                    name: "回访批次".into(),
                    ..BatchFields::default()
                },
                None
            )
            .await,
        Err(StoreError::CrmNameTaken("batch", _))
    ));
    let fields = store
        .apply_campaign_template(id, &titles(&["姓名", "号码", "客户意向"]))
        .await
        .unwrap();
    let keys: Vec<(&str, &str, bool)> = fields
        .iter()
        .map(|f| (f.key.as_str(), f.title.as_str(), f.is_phone))
        .collect();
    assert_eq!(
        keys,
        [
            ("f1", "姓名", false),
            ("f2", "号码", true),
            ("f3", "客户意向", false)
        ]
    );
    // A choice field takes a dictionary that exists.
    let intent = CampaignField {
        style: "choice".into(),
        dictionary: "意向".into(),
        ..fields[2].clone()
    };
    assert!(matches!(
        store.update_campaign_field(id, "f3", intent.clone()).await,
        Err(StoreError::InvalidField(f)) if f.field == "dictionary"
    ));
    store
        .put_dictionary(
            "意向",
            &[
                DictionaryItem {
                    value: "有意向".into(),
                    label: "有意向".into(),
                    position: 0,
                },
                DictionaryItem {
                    value: "无意向".into(),
                    label: "无意向".into(),
                    position: 1,
                },
            ],
        )
        .await
        .unwrap();
    let saved = store.update_campaign_field(id, "f3", intent).await.unwrap();
    assert_eq!(
        (saved.style.as_str(), saved.dictionary.as_str()),
        ("choice", "意向")
    );
    let specs = store.campaign_field_specs(id).await.unwrap();
    assert_eq!(
        specs[2].choices,
        Some(vec!["有意向".to_string(), "无意向".to_string()])
    );

    // Data in the batch: a second template adds its new column, keeps the
    // others (and their keys) even when it lacks them.
    store
        .import_campaign_rows(id, &[row("18618616001", &[("f1", "张三")])], None)
        .await
        .unwrap();
    let fields = store
        .apply_campaign_template(id, &titles(&["号码", "备注"]))
        .await
        .unwrap();
    let keys: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["f1", "f2", "f3", "f4"]);
    assert_eq!(fields[3].title, "备注");
    // The phone field cannot move while rows use it.
    let mut name = fields[0].clone();
    name.is_phone = true;
    assert!(matches!(
        store.update_campaign_field(id, "f1", name).await,
        Err(StoreError::InvalidField(f)) if f.field == "is_phone"
    ));

    // Scope: the department's users and the creator see it.
    let of = |departments: Vec<i64>, user| BatchScope::Of { departments, user };
    assert_eq!(store.list_batches(&of(vec![3], 9)).await.unwrap().len(), 1);
    assert_eq!(store.list_batches(&of(vec![], 1)).await.unwrap().len(), 1);
    assert!(store
        .list_batches(&of(vec![4], 9))
        .await
        .unwrap()
        .is_empty());
    let all = store.list_batches(&BatchScope::All).await.unwrap();
    assert_eq!(all[0].rows, 1);
}

async fn an_import_counts_and_skips_invalid_duplicate_and_dnc_numbers(store: &Store) {
    let id = batch(store, "营销").await;
    // No phone field yet: nothing can be imported.
    store
        .apply_campaign_template(id, &titles(&["姓名", "金额"]))
        .await
        .unwrap();
    assert!(matches!(
        store.import_campaign_rows(id, &[row("18618616001", &[])], None).await,
        Err(StoreError::InvalidField(f)) if f.field == "phone"
    ));
    store
        .apply_campaign_template(id, &titles(&["姓名", "金额", "手机"]))
        .await
        .unwrap();
    store
        .add_list_entries(
            VoiceList::Dnc,
            &[("+86 186 1861 6003".into(), "asked not to be called".into())],
        )
        .await
        .unwrap();
    assert!(store.is_do_not_call("18618616003").await.unwrap());
    assert!(store.is_do_not_call("0086-186-1861-6003").await.unwrap());
    assert!(!store.is_do_not_call("18618616001").await.unwrap());

    let rows = [
        row("186-1861-6001", &[("f1", "a"), ("f2", "10")]),
        row("18618616002", &[("f1", "b"), ("f2", "20")]),
        row("12", &[("f1", "bad")]),
        row("18618616003", &[("f1", "dnc")]),
        row("18618616001", &[("f1", "again")]),
    ];
    let preview = store
        .check_campaign_phones(
            id,
            &rows.iter().map(|r| r.phone.clone()).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert_eq!(
        preview,
        [
            Ok("18618616001".to_string()),
            Ok("18618616002".to_string()),
            Err(SkipReason::Invalid),
            Err(SkipReason::Dnc),
            Err(SkipReason::Duplicate),
        ]
    );
    let counts = store
        .import_campaign_rows(id, &rows, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (
            counts.imported,
            counts.invalid,
            counts.dnc,
            counts.duplicate
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(
        counts.skipped,
        [
            (2, SkipReason::Invalid),
            (3, SkipReason::Dnc),
            (4, SkipReason::Duplicate)
        ]
    );
    // Again: both are in the batch now.
    let again = store
        .import_campaign_rows(id, &rows[..2], Some(1))
        .await
        .unwrap();
    assert_eq!((again.imported, again.duplicate), (0, 2));
    let records = store
        .list_campaign_imports(Some(id), &BatchScope::All, 50)
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    let first = &records[1];
    assert!(first.title.starts_with("营销_20"), "{}", first.title);
    assert_eq!(
        (first.imported, first.invalid, first.duplicate, first.dnc),
        (2, 1, 1, 1)
    );

    let page = store
        .list_campaign_rows(&RowQuery {
            batch_id: id,
            limit: 50,
            ..RowQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.rows[0].phone, "18618616001");
    assert_eq!(page.rows[0].state, "unassigned");
    assert_eq!(page.rows[0].values["f2"], "10");
    let found = store
        .list_campaign_rows(&RowQuery {
            batch_id: id,
            search: "6002".into(),
            limit: 50,
            ..RowQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    // The text of a value, not a field key.
    for (search, total) in [("f1", 0), ("A", 1), ("6001", 1)] {
        let found = store
            .list_campaign_rows(&RowQuery {
                batch_id: id,
                search: search.into(),
                limit: 50,
                ..RowQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(found.total, total, "{search}");
    }
    // By hand: a duplicate or a DNC number is refused, naming the phone.
    for phone in ["18618616002", "+8618618616003", "abc"] {
        assert!(matches!(
            store.create_campaign_row(id, row(phone, &[])).await,
            Err(StoreError::InvalidField(f)) if f.field == "phone"
        ));
    }
    let added = store
        .create_campaign_row(id, row("13900000000", &[("f1", "c")]))
        .await
        .unwrap();
    store
        .update_campaign_row(id, added, row("13900000001", &[("f1", "d")]))
        .await
        .unwrap();
    let changed = store.get_campaign_row(id, added).await.unwrap().unwrap();
    assert_eq!(
        (changed.phone.as_str(), changed.import_id),
        ("13900000001", None)
    );
    assert_eq!(store.delete_campaign_rows(id, &[added]).await.unwrap(), 1);
}

async fn deleting_an_import_keeps_the_rows_activities_hold(store: &Store) {
    let id = batch(store, "回收").await;
    store
        .apply_campaign_template(id, &titles(&["电话"]))
        .await
        .unwrap();
    let counts = store
        .import_campaign_rows(
            id,
            &[row("1001", &[]), row("1002", &[]), row("1003", &[])],
            None,
        )
        .await
        .unwrap();
    let import = counts.import_id.unwrap();
    let rows = store
        .list_campaign_rows(&RowQuery {
            batch_id: id,
            limit: 50,
            ..RowQuery::default()
        })
        .await
        .unwrap()
        .rows;
    assert_eq!(
        store
            .assign_campaign_rows(&[rows[0].id], 7, "agent", "1001")
            .await
            .unwrap(),
        1
    );
    // An assigned row is not assigned twice.
    assert_eq!(
        store
            .assign_campaign_rows(&[rows[0].id], 8, "queue", "sales")
            .await
            .unwrap(),
        0
    );
    assert!(store.delete_batch(id).await.is_err());
    assert_eq!(store.delete_campaign_import(import).await.unwrap(), (2, 1));
    let left = store
        .list_campaign_rows(&RowQuery {
            batch_id: id,
            limit: 50,
            ..RowQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(left.total, 1);
    let kept = &left.rows[0];
    assert_eq!(
        (
            kept.state.as_str(),
            kept.assignee.as_deref(),
            kept.import_id
        ),
        ("assigned", Some("1001"), None)
    );
    assert!(store.get_campaign_import(import).await.unwrap().is_none());
    store
        .set_campaign_row_state(kept.id, "recalled", Some("recalled by lead"))
        .await
        .unwrap();
    let recalled = store.get_campaign_row(id, kept.id).await.unwrap().unwrap();
    assert_eq!(recalled.assignee, None);
    assert_eq!(recalled.last_result.as_deref(), Some("recalled by lead"));
}

async fn filters_match_rows_and_their_runs_are_recorded(store: &Store) {
    let id = batch(store, "筛选").await;
    store
        .apply_campaign_template(id, &titles(&["姓名", "号码", "客户意向"]))
        .await
        .unwrap();
    let rows = [
        row("18618616001", &[("f1", "1"), ("f3", "有意向")]),
        row("18618616002", &[("f1", "2"), ("f3", "无意向")]),
        row("18618616007", &[("f1", "7"), ("f3", "很有意向")]),
    ];
    store.import_campaign_rows(id, &rows, None).await.unwrap();
    let cond = |field: &str, op, value: &str, join| Condition {
        field: field.into(),
        op,
        value: value.into(),
        values: Vec::new(),
        join,
    };
    let conditions = vec![
        cond("f3", Op::Contains, "有意向", Join::And),
        cond("phone", Op::Gt, "18618616001", Join::Or),
        cond("f1", Op::Eq, "2", Join::And),
    ];
    let filter = store
        .create_campaign_filter(
            FilterFields {
                name: "回访批次的筛选".into(),
                batch_id: id,
                conditions: conditions.clone(),
                ..FilterFields::default()
            },
            Some(1),
        )
        .await
        .unwrap();
    let page = store
        .match_campaign_rows(id, &conditions, None, 50, 0)
        .await
        .unwrap();
    let phones: Vec<&str> = page.rows.iter().map(|r| r.phone.as_str()).collect();
    assert_eq!(phones, ["18618616002", "18618616007"]);
    assert_eq!(page.total, 2);
    assert_eq!(
        store.extract_campaign_rows(filter, 1).await.unwrap(),
        [page.rows[0].id]
    );
    // An unknown field is refused, naming the condition.
    let bad = store
        .create_campaign_filter(
            FilterFields {
                name: "bad".into(),
                batch_id: id,
                conditions: vec![cond("f9", Op::Eq, "x", Join::And)],
                ..FilterFields::default()
            },
            None,
        )
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidField(f))
        if f.field == "conditions" && f.why.starts_with("condition 1:")));

    let run = store
        .add_filter_run(FilterRun {
            filter_id: filter,
            matched: 2,
            to_robots: 1,
            unassigned: 1,
            ..FilterRun::default()
        })
        .await
        .unwrap();
    let runs = store
        .list_filter_runs(Some(filter), None, &BatchScope::All, 50)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, run);
    assert_eq!(runs[0].batch_id, id);
    assert!(runs[0].name.starts_with("回访批次的筛选_20"));
    assert_eq!((runs[0].matched, runs[0].to_robots), (2, 1));
    store.delete_campaign_filter(filter).await.unwrap();
    assert!(store
        .list_campaign_filters(&BatchScope::All)
        .await
        .unwrap()
        .is_empty());
}

on_every_backend!(
    a_batch_gets_its_fields_from_a_template,
    an_import_counts_and_skips_invalid_duplicate_and_dnc_numbers,
    deleting_an_import_keeps_the_rows_activities_hold,
    filters_match_rows_and_their_runs_are_recorded,
);
