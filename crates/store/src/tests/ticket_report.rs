//! The ticket report's counts (11.3.8): per local day, department, type
//! and status, within the window and the filters asked for.

use crate::{DepartmentFields, Store, TicketDayCount, TicketFields, TicketReportQuery, UserFields};

async fn counts_per_day_department_type_and_status(store: &Store) {
    let user = store
        .create_user(
            &UserFields {
                username: "requester".into(),
                enabled: true,
                ..Default::default()
            },
            "h",
            false,
        )
        .await
        .unwrap();
    let sales = store
        .create_department(&DepartmentFields {
            name: "Sales".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let support = store
        .create_department(&DepartmentFields {
            name: "Support".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let fault = store.create_ticket_category("Fault").await.unwrap();
    let mut ids = Vec::new();
    for (department, category) in [
        (Some(sales), Some(fault)),
        (Some(sales), Some(fault)),
        (Some(sales), None),
        (Some(support), Some(fault)),
        (None, None),
    ] {
        let f = TicketFields {
            title: "t".into(),
            requester_id: Some(user),
            department_id: department,
            category_id: category,
            ..TicketFields::default()
        };
        ids.push(store.create_ticket(f, Some(user)).await.unwrap());
    }
    // One of Sales' faults is closed.
    let mut closed = store.get_ticket(ids[1]).await.unwrap().unwrap().fields;
    closed.status = "closed".into();
    store
        .update_ticket(ids[1], closed, Some(user))
        .await
        .unwrap();

    let now = chrono::Local::now().timestamp_millis();
    let today = crate::rollup::day_start(now);
    let window = TicketReportQuery {
        from: today,
        to: crate::rollup::next_day_start(today),
        ..Default::default()
    };
    let all = store.ticket_counts(&window).await.unwrap();
    let row = |department: Option<i64>, category: Option<i64>, status: &str, tickets: i64| {
        TicketDayCount {
            day: today,
            department_id: department,
            category_id: category,
            status: status.into(),
            tickets,
        }
    };
    let mut want = vec![
        row(None, None, "new", 1),
        row(Some(sales), None, "new", 1),
        row(Some(sales), Some(fault), "closed", 1),
        row(Some(sales), Some(fault), "new", 1),
        row(Some(support), Some(fault), "new", 1),
    ];
    want.sort_by(|a, b| {
        (a.department_id, a.category_id, &a.status).cmp(&(
            b.department_id,
            b.category_id,
            &b.status,
        ))
    });
    assert_eq!(all, want);
    assert_eq!(all.iter().map(|r| r.tickets).sum::<i64>(), 5);

    // Filters: department, type, status, and all three.
    let sum = |rows: &[TicketDayCount]| rows.iter().map(|r| r.tickets).sum::<i64>();
    let q =
        |department: Option<i64>, category: Option<i64>, status: Option<&str>| TicketReportQuery {
            department_id: department,
            category_id: category,
            status: status.map(str::to_string),
            ..window.clone()
        };
    assert_eq!(
        sum(&store
            .ticket_counts(&q(Some(sales), None, None))
            .await
            .unwrap()),
        3
    );
    assert_eq!(
        sum(&store
            .ticket_counts(&q(None, Some(fault), None))
            .await
            .unwrap()),
        3
    );
    assert_eq!(
        sum(&store
            .ticket_counts(&q(None, None, Some("new")))
            .await
            .unwrap()),
        4
    );
    assert_eq!(
        store
            .ticket_counts(&q(Some(sales), Some(fault), Some("closed")))
            .await
            .unwrap(),
        vec![row(Some(sales), Some(fault), "closed", 1)]
    );
    // Outside the window: nothing.
    let yesterday = TicketReportQuery {
        from: today - 86_400_000,
        to: today,
        ..Default::default()
    };
    assert!(store.ticket_counts(&yesterday).await.unwrap().is_empty());
    let later = TicketReportQuery {
        from: now + 3_600_000,
        to: now + 7_200_000,
        ..Default::default()
    };
    assert!(store.ticket_counts(&later).await.unwrap().is_empty());
}

on_every_backend!(counts_per_day_department_type_and_status);
