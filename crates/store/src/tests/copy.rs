//! `db copy`: SQLite → PostgreSQL → SQLite with data in every table, ids and
//! sequences kept, verification by counts and checksums, and refusal of a
//! target that holds data.

use super::{PgTestDb, TempDb};
use crate::copy::{checksums, copy, CopyOptions};
use crate::*;

/// Writes at least one row into every table through the store's API, with
/// the values that tell backends apart: NULLs, booleans both ways,
/// timestamps (epoch, far future, milliseconds), non-ASCII text and quotes.
async fn fill(store: &Store) {
    let mut ext = Extension {
        number: "1001".into(),
        password: "pw'1001\"".into(),
        display_name: "Zoë 张".into(),
        record: true,
        webrtc: true,
        allow_outbound: false,
        auth_algorithms: "SHA-256".into(),
        ..Default::default()
    };
    store.add_extension(&ext).await.unwrap();
    ext.number = "1002".into();
    ext.enabled = false;
    store.add_extension(&ext).await.unwrap();
    store.seed_extensions_if_empty(&[]).await.unwrap();

    let cdr = |i: i64, uid: Option<&str>, live: bool| Cdr {
        id: None,
        call_uid: uid.map(str::to_string),
        in_progress: live,
        last_seen_at: live.then_some(1_700_000_000_123 + i),
        call_id: format!("call-{i}@x"),
        caller: "1001".into(),
        caller_name: "Zoë".into(),
        callee: "1002".into(),
        direction: "internal".into(),
        start_at: 1_700_000_000_001 + i,
        answer_at: (i % 2 == 0).then_some(1_700_000_003_999 + i),
        end_at: 4_102_444_800_000 + i,
        ring_secs: 3,
        talk_secs: 57,
        hangup_cause: "normal_clearing".into(),
        hangup_by: "caller".into(),
        sip_code: 200,
        recording_path: (i % 3 == 0).then(|| format!("rec/{i}.wav")),
        recorded_secs: 56,
        agent: (i % 2 == 0).then(|| "1002".to_string()),
        queue: (i % 4 == 0).then(|| "support".to_string()),
        gateway: (i % 3 == 0).then(|| "carrier".to_string()),
        wait_secs: i % 7,
        agent_secs: i % 11,
    };
    store
        .upsert_cdrs(&[
            cdr(1, Some("a"), false),
            cdr(2, Some("b"), true),
            cdr(3, None, false),
        ])
        .await
        .unwrap();
    // Enough rows for several batches of the copy (batch size 7 below).
    let many: Vec<Cdr> = (10..60).map(|i| cdr(i, None, false)).collect();
    store.upsert_cdrs(&many).await.unwrap();

    store
        .save_bindings(
            "1001",
            &[
                BindingRow {
                    aor: "1001".into(),
                    contact: "sip:1001@192.0.2.1:5060".into(),
                    source: "udp:192.0.2.1:5060".into(),
                    expires_at: 4_102_444_800_000,
                    user_agent: "baresip".into(),
                    call_id: "reg-1".into(),
                    cseq: 7,
                    q_value: Some("0.5".into()),
                    params: ";+sip.instance=\"<urn:uuid:1>\"".into(),
                },
                BindingRow {
                    aor: "1001".into(),
                    contact: "sip:1001@192.0.2.2:5060".into(),
                    expires_at: 4_102_444_800_001,
                    q_value: None,
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();

    store
        .replace_callcenter(&CallcenterSet {
            queues: vec![("support".into(), r#"{"strategy":"ring-all"}"#.into())],
            agents: vec![("1001".into(), "{}".into())],
            tiers: vec![Tier::new("support", "1001")],
            ivr_menus: vec![("main".into(), r#"{"entries":[]}"#.into())],
            routing_rules: vec![(7, "{}".into())],
        })
        .await
        .unwrap();
    store
        .set_agent_status("1001", "available", "idle")
        .await
        .unwrap();
    store
        .insert_queue_events(&[QueueEvent {
            id: None,
            at: 1_700_000_000_500,
            queue: "support".into(),
            call_id: "call-1@x".into(),
            caller: "1001".into(),
            agent: None,
            kind: "joined".into(),
            reason: Some("why".into()),
            wait_secs: None,
            talk_secs: Some(12),
        }])
        .await
        .unwrap();
    for heard in [false, true] {
        store
            .insert_voicemail(&Voicemail {
                id: None,
                extension: "1001".into(),
                caller: "1002".into(),
                at: 1_700_000_000_600,
                path: "vm/1.wav".into(),
                seconds: 9,
                heard,
            })
            .await
            .unwrap();
    }
    store
        .insert_survey(&Survey {
            id: None,
            call_id: "call-1@x".into(),
            agent: Some("1001".into()),
            queue: None,
            score: 3,
            at: 0,
        })
        .await
        .unwrap();
    store
        .insert_agent_states(&[crate::AgentStatePeriod {
            agent: "1001".into(),
            state: "not_ready".into(),
            reason: "meal".into(),
            start_at: 1_700_000_000_000,
            end_at: 1_700_000_900_500,
        }])
        .await
        .unwrap();
    store
        .insert_missed_call(&MissedCall {
            id: None,
            extension: "1001".into(),
            caller: "1002".into(),
            at: 1,
        })
        .await
        .unwrap();

    let user = store
        .create_user(
            &UserFields {
                username: "alice".into(),
                name: "Alice".into(),
                is_agent: true,
                enabled: true,
                ..Default::default()
            },
            "$argon2id$hash",
            false,
        )
        .await
        .unwrap();
    let role = store
        .create_role("ops", "Operations", &["system.users:view".into()])
        .await
        .unwrap();
    let top = store
        .create_department(&DepartmentFields {
            name: "HQ".into(),
            parent_id: None,
            grants: vec!["voice.queues:edit".into()],
        })
        .await
        .unwrap();
    store
        .create_department(&DepartmentFields {
            name: "Sales".into(),
            parent_id: Some(top),
            grants: vec![],
        })
        .await
        .unwrap();
    store.set_user_roles(user, &[role]).await.unwrap();
    store.set_user_departments(user, &[top]).await.unwrap();
    store
        .create_session(&Session {
            id: "sess-digest".into(),
            user_id: user,
            csrf_token: "csrf".into(),
            created_at: 1_700_000_000_000,
            last_seen_at: 1_700_000_000_001,
            expires_at: 1_700_086_400_000,
            ip: "127.0.0.1".into(),
            user_agent: "test".into(),
        })
        .await
        .unwrap();
    let token = store
        .create_api_token(user, "scripts", "token-digest")
        .await
        .unwrap();
    store
        .touch_api_token(token, 1_700_000_000_777)
        .await
        .unwrap();
    store
        .add_list_entries(VoiceList::Acl, &[("192.0.2.0/24".into(), "carrier".into())])
        .await
        .unwrap();
    store
        .add_gateway(&::callcenter::gateway::config::Gateway {
            username: "6001".into(),
            password: "pw'6001\"".into(),
            note: "中继 A".into(),
            caller_id_in_from: true,
            enabled: false,
            codecs: vec!["PCMA".into(), "PCMU".into()],
            addresses: vec!["192.0.2.0/24".into()],
            ..::callcenter::gateway::config::Gateway::new(
                "carrier",
                ::callcenter::gateway::config::Mode::Uni,
                "192.0.2.10",
            )
        })
        .await
        .unwrap();
    store
        .add_media_file(&MediaFile {
            name: "welcome".into(),
            file: "welcome.wav".into(),
            bytes: 16_044,
            duration_ms: 1_000,
            uploaded_by: "alice".into(),
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap();
    for ok in [true, false] {
        store
            .add_audit(&AuditEntry {
                at: 1_700_000_000_900,
                action: "change".into(),
                username: "alice".into(),
                method: "POST".into(),
                url: "/users".into(),
                params: "name=Zoë".into(),
                status: if ok { 200 } else { 403 },
                ok,
                duration_ms: 4,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    store
        .put_settings(&[("system_name".into(), "Switchboard 总机".into())])
        .await
        .unwrap();
    store
        .put_dictionary(
            "colors",
            &[DictionaryItem {
                value: "red".into(),
                label: "Red".into(),
                position: 2,
            }],
        )
        .await
        .unwrap();
    // The CRM: a category, a project, a customer and its contact with an
    // appointment (nullable timestamps both set and unset).
    let cat = store
        .create_crm_group(crate::GroupKind::Category, "线索", "展会")
        .await
        .unwrap();
    let project = store
        .create_crm_group(crate::GroupKind::Project, "Spring", "")
        .await
        .unwrap();
    let customer = store
        .create_customer(
            crate::CustomerFields {
                kind: "enterprise".into(),
                name: "Acme 上海".into(),
                phone: "021-6262 0668".into(),
                customer_type: "vip".into(),
                acquired_at: 1_700_000_000_000,
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    let contact = store
        .create_contact(
            crate::ContactFields {
                name: "张三".into(),
                mobile: "+86 186 1861 6001".into(),
                category_id: Some(cat),
                project_id: Some(project),
                customer_id: Some(customer),
                appointment_at: Some(1_900_000_000_000),
                owner_id: Some(user),
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    store
        .set_contact_call_failed(contact, Some(1_700_000_000_123))
        .await
        .unwrap();
    // Tickets: a type, a ticket of the contact with a tag, a private reply,
    // a follower, an attachment; the knowledge base: a category and an
    // article (its index rows).
    let complaint = store.create_ticket_category("投诉").await.unwrap();
    let ticket = store
        .create_ticket(
            crate::TicketFields {
                title: "发票没有收到".into(),
                body: "<p>内容</p>".into(),
                contact_id: Some(contact),
                requester_id: Some(user),
                category_id: Some(complaint),
                tags: vec!["发票".into()],
                call_id: "abc@192.0.2.1".into(),
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    store
        .add_ticket_reply(
            ticket,
            Some(user),
            "<p>查一下</p>",
            true,
            ::callcenter::tickets::ReplyBy::Handler,
        )
        .await
        .unwrap();
    store.follow_ticket(ticket, user, true).await.unwrap();
    store
        .add_ticket_attachment(&crate::TicketAttachment {
            id: 0,
            ticket_id: ticket,
            file_name: "发票.pdf".into(),
            content_type: "application/pdf".into(),
            size: 10,
            sha256: "00".repeat(32),
            stored_name: "1-abc.pdf".into(),
            uploaded_by: Some(user),
            created_at: 0,
        })
        .await
        .unwrap();
    let kb_cat = store.create_kb_category("产品知识", "").await.unwrap();
    store
        .create_kb_article(
            crate::KbArticleFields {
                category_id: Some(kb_cat),
                title: "如何申请退款".into(),
                questions: vec!["怎么退钱".into()],
                body: "<p>订单页面</p>".into(),
                valid_from: Some(1_700_000_000_000),
                hot: true,
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    // Outbound campaigns: a batch with fields, an import (its record and
    // rows), a filter form and a record of its run.
    let batch = store
        .create_batch(
            crate::BatchFields {
                name: "回访批次".into(),
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    store
        .apply_campaign_template(batch, &["姓名".to_string(), "号码".to_string()])
        .await
        .unwrap();
    store
        .import_campaign_rows(
            batch,
            &[crate::NewRow {
                phone: "18618616001".into(),
                values: [("f1".to_string(), "张三".to_string())].into(),
            }],
            Some(user),
        )
        .await
        .unwrap();
    let filter = store
        .create_campaign_filter(
            crate::FilterFields {
                name: "回访批次的筛选".into(),
                batch_id: batch,
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
    store
        .add_filter_run(crate::FilterRun {
            filter_id: filter,
            matched: 1,
            unassigned: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    // An activity on that filter.
    store
        .create_activity(
            crate::ActivityFields {
                name: "回访活动".into(),
                filter_id: filter,
                extract_count: 1,
                targets: vec![::callcenter::campaign::allocate::Target {
                    kind: "agent".into(),
                    id: "1001".into(),
                    count: None,
                }],
                ..Default::default()
            },
            Some(user),
        )
        .await
        .unwrap();
}

/// Every table holds rows (so the test covers a table added later only
/// once `fill` writes into it).
async fn assert_every_table_filled(store: &Store) {
    let empty: Vec<String> = checksums(store)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.rows == 0)
        .map(|t| t.table)
        .collect();
    assert!(empty.is_empty(), "fill() writes nothing into {empty:?}");
}

/// What the API reads back, for comparing two copies beyond checksums.
async fn read_back(store: &Store) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        store.list_extensions().await.unwrap(),
        store.list_gateways().await.unwrap(),
        store.list_cdrs(1000).await.unwrap(),
        store.list_in_progress_cdrs().await.unwrap(),
        store.load_bindings(0).await.unwrap(),
        store.list_voicemails("1001").await.unwrap(),
        store.all_users().await.unwrap(),
        store.list_departments().await.unwrap(),
        store.get_agent("1001").await.unwrap(),
        store.config_versions().await.unwrap(),
    )
}

fn small_batches() -> CopyOptions {
    CopyOptions {
        replace: false,
        batch_rows: 7,
    }
}

#[tokio::test]
async fn sqlite_to_postgres_to_sqlite_round_trip() {
    let Some(pg_db) = PgTestDb::create().await else {
        return;
    };
    let (first_file, last_file) = (TempDb::new(), TempDb::new());
    let first = first_file.open().await;
    fill(&first).await;
    assert_every_table_filled(&first).await;
    let expected = checksums(&first).await.unwrap();

    let pg = pg_db.open().await;
    let report = copy(&first, &pg, &small_batches()).await.unwrap();
    assert_eq!(report.tables, expected);
    assert_eq!(checksums(&pg).await.unwrap(), expected);
    assert_eq!(read_back(&pg).await, read_back(&first).await);

    // Ids were kept and the sequences moved past them: a new row gets the
    // next id on both.
    let message = Voicemail {
        id: None,
        extension: "1001".into(),
        caller: "x".into(),
        at: 5,
        path: "vm/new.wav".into(),
        seconds: 1,
        heard: false,
    };
    let on_pg = pg.insert_voicemail(&message).await.unwrap();
    assert_eq!(on_pg, 3);
    pg.delete_voicemail(on_pg).await.unwrap();

    let last = last_file.open().await;
    let report = copy(&pg, &last, &small_batches()).await.unwrap();
    assert_eq!(report.tables, expected);
    assert_eq!(checksums(&last).await.unwrap(), expected);
    assert_eq!(read_back(&last).await, read_back(&first).await);
    assert_eq!(last.insert_voicemail(&message).await.unwrap(), 3);
}

#[tokio::test]
async fn a_target_with_data_is_refused_unless_replaced() {
    let (a, b) = (TempDb::new(), TempDb::new());
    let (source, target) = (a.open().await, b.open().await);
    fill(&source).await;
    // A fresh target (only what the migrations wrote) is fine.
    copy(&source, &target, &CopyOptions::default())
        .await
        .unwrap();
    // Running it again finds data there.
    let err = copy(&source, &target, &CopyOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already holds data") && err.contains("--replace"),
        "{err}"
    );
    // Replacing overwrites: rows added to the target meanwhile are gone.
    target
        .add_extension(&Extension {
            number: "9999".into(),
            password: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let replace = CopyOptions {
        replace: true,
        ..Default::default()
    };
    let report = copy(&source, &target, &replace).await.unwrap();
    assert_eq!(report.tables, checksums(&source).await.unwrap());
    assert!(target.get_extension("9999").await.unwrap().is_none());
}

#[tokio::test]
async fn checksums_see_a_changed_value() {
    let (a, b) = (TempDb::new(), TempDb::new());
    let (source, target) = (a.open().await, b.open().await);
    fill(&source).await;
    copy(&source, &target, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        checksums(&source).await.unwrap(),
        checksums(&target).await.unwrap()
    );
    target.set_password("1001", "changed").await.unwrap();
    let (s, t) = (
        checksums(&source).await.unwrap(),
        checksums(&target).await.unwrap(),
    );
    let differ: Vec<&str> = s
        .iter()
        .zip(&t)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.table.as_str())
        .collect();
    // The password, and the change counter the change bumped.
    assert_eq!(differ, vec!["config_versions", "extensions"]);
}
