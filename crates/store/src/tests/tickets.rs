//! Tickets: fields checked with the field named, the tabs of 6.2 within the
//! asker's scope, replies moving the status (public and private), the
//! history of every change, followers, the overview counts, the open
//! tickets of a caller's number for the screen pop, overdue notices once.

use callcenter::tickets::{ReplyBy, TicketStatus};

use crate::{
    ContactFields, CrmScope, Store, StoreError, TicketAttachment, TicketFields, TicketQuery,
    TicketView, UserFields,
};

async fn user(store: &Store, name: &str) -> i64 {
    let f = UserFields {
        username: name.to_string(),
        enabled: true,
        ..Default::default()
    };
    store.create_user(&f, "h", false).await.unwrap()
}

fn ticket(title: &str, requester: i64, assignee: Option<i64>) -> TicketFields {
    TicketFields {
        title: title.into(),
        body: "<p>内容</p>".into(),
        requester_id: Some(requester),
        assignee_id: assignee,
        ..TicketFields::default()
    }
}

fn query(view: TicketView, scope: CrmScope) -> TicketQuery {
    TicketQuery {
        view,
        scope,
        search: String::new(),
        status: None,
        category_id: None,
        priority: None,
        limit: 50,
        offset: 0,
    }
}

async fn titles(store: &Store, q: &TicketQuery) -> Vec<String> {
    let page = store.list_tickets(q).await.unwrap();
    let mut t: Vec<String> = page.rows.into_iter().map(|t| t.fields.title).collect();
    t.sort();
    t
}

async fn a_ticket_moves_through_replies_and_keeps_its_history(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let complaint = store.create_ticket_category("投诉").await.unwrap();
    let mut f = ticket("发票没有收到", alice, Some(bob));
    f.category_id = Some(complaint);
    f.priority = "high".into();
    f.tags = vec!["发票".into(), " VIP ".into(), "vip".into()];
    let id = store.create_ticket(f, Some(alice)).await.unwrap();
    let t = store.get_ticket(id).await.unwrap().unwrap();
    assert_eq!(t.fields.status, "new");
    assert_eq!(t.fields.tags, vec!["发票", "VIP"]);
    // Due by its priority: a day for "high".
    let due = t.fields.due_at.unwrap();
    assert!((due - t.created_at - 24 * 3_600_000).abs() < 1000, "{due}");

    // A private note changes nothing; the handler's answer marks it replied.
    let (_, s) = store
        .add_ticket_reply(id, Some(bob), "<p>查一下</p>", true, ReplyBy::Handler)
        .await
        .unwrap();
    assert_eq!(s, TicketStatus::New);
    let (_, s) = store
        .add_ticket_reply(id, Some(bob), "<p>已补寄</p>", false, ReplyBy::Handler)
        .await
        .unwrap();
    assert_eq!(s, TicketStatus::Replied);
    // The requester asks again: reopened (再追问).
    let (_, s) = store
        .add_ticket_reply(
            id,
            Some(alice),
            "<p>还是没有</p>",
            false,
            ReplyBy::Requester,
        )
        .await
        .unwrap();
    assert_eq!(s, TicketStatus::Reopened);
    assert_eq!(store.ticket_replies(id, true).await.unwrap().len(), 3);
    let public = store.ticket_replies(id, false).await.unwrap();
    assert_eq!(public.len(), 2, "the private note is hidden");
    assert!(public.iter().all(|r| !r.private));

    // Close, then reopen by changing the status.
    let mut f = store.get_ticket(id).await.unwrap().unwrap().fields;
    f.status = "closed".into();
    let changes = store.update_ticket(id, f.clone(), Some(bob)).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].field.as_str(), changes[0].old_value.as_str()),
        ("status", "reopened")
    );
    let closed = store.get_ticket(id).await.unwrap().unwrap();
    assert!(closed.closed_at.is_some());
    f.status = "reopened".into();
    f.assignee_id = Some(alice);
    store.update_ticket(id, f, Some(bob)).await.unwrap();
    let reopened = store.get_ticket(id).await.unwrap().unwrap();
    assert_eq!(reopened.closed_at, None);

    let history = store.ticket_changes(id).await.unwrap();
    let fields: Vec<&str> = history.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["created", "status", "status", "status", "assignee", "status"],
        "{history:?}"
    );
    let assignee = history.iter().find(|c| c.field == "assignee").unwrap();
    assert_eq!(
        (assignee.old_value.clone(), assignee.new_value.clone()),
        (bob.to_string(), alice.to_string())
    );
    assert_eq!(assignee.user_id, Some(bob));
}

async fn bad_fields_are_refused_with_the_field_named(store: &Store) {
    let alice = user(store, "alice").await;
    for (f, field) in [
        (ticket("  ", alice, None), "title"),
        (
            TicketFields {
                priority: "critical".into(),
                ..ticket("x", alice, None)
            },
            "priority",
        ),
        (
            TicketFields {
                status: "open".into(),
                ..ticket("x", alice, None)
            },
            "status",
        ),
        (
            TicketFields {
                tags: vec!["x".repeat(31)],
                ..ticket("x", alice, None)
            },
            "tags",
        ),
        (
            TicketFields {
                phone: "call me".into(),
                ..ticket("x", alice, None)
            },
            "phone",
        ),
    ] {
        match store.create_ticket(f, Some(alice)).await {
            Err(StoreError::InvalidField(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // References that do not exist.
    let err = store
        .create_ticket(ticket("x", alice, Some(9999)), Some(alice))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::CrmNotFound("user", 9999)),
        "{err}"
    );
    let err = store
        .add_ticket_reply(424242, Some(alice), "hi", false, ReplyBy::Handler)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CrmNotFound("ticket", 424242)));
    let err = store
        .add_ticket_reply(1, Some(alice), "   ", false, ReplyBy::Handler)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidField(ref e) if e.field == "body"));
    let page = store
        .list_tickets(&query(TicketView::All, CrmScope::All))
        .await
        .unwrap();
    assert_eq!(page.total, 0, "nothing saved");
}

async fn the_ticket_tabs_list_what_their_names_say_within_the_scope(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let a = store
        .create_ticket(ticket("A by alice for bob", alice, Some(bob)), Some(alice))
        .await
        .unwrap();
    store
        .create_ticket(ticket("B by alice unassigned", alice, None), Some(alice))
        .await
        .unwrap();
    let c = store
        .create_ticket(
            ticket("C by carol for carol", carol, Some(carol)),
            Some(carol),
        )
        .await
        .unwrap();
    let mut closed = ticket("D by bob closed", bob, Some(alice));
    closed.status = "closed".into();
    store.create_ticket(closed, Some(bob)).await.unwrap();
    store.follow_ticket(c, alice, true).await.unwrap();
    store.follow_ticket(a, alice, true).await.unwrap();
    store.follow_ticket(a, alice, false).await.unwrap();
    assert_eq!(store.ticket_followers(c).await.unwrap(), vec![alice]);

    let all = CrmScope::All;
    assert_eq!(
        titles(store, &query(TicketView::Mine(alice), all.clone())).await,
        vec!["A by alice for bob", "B by alice unassigned"]
    );
    assert_eq!(
        titles(store, &query(TicketView::Pending(bob), all.clone())).await,
        vec!["A by alice for bob"]
    );
    assert_eq!(
        titles(store, &query(TicketView::Pending(alice), all.clone())).await,
        Vec::<String>::new(),
        "closed tickets are not pending"
    );
    assert_eq!(
        titles(store, &query(TicketView::Unassigned, all.clone())).await,
        vec!["B by alice unassigned"]
    );
    assert_eq!(
        titles(store, &query(TicketView::Followed(alice), all.clone())).await,
        vec!["C by carol for carol"]
    );
    assert_eq!(
        titles(store, &query(TicketView::Closed, all.clone())).await,
        vec!["D by bob closed"]
    );
    assert_eq!(
        titles(store, &query(TicketView::Open, all.clone()))
            .await
            .len(),
        3
    );
    // Bob's scope: tickets he requested or handles.
    let bobs = CrmScope::Owners(vec![bob]);
    assert_eq!(
        titles(store, &query(TicketView::All, bobs.clone())).await,
        vec!["A by alice for bob", "D by bob closed"]
    );
    assert!(bobs.covers_ticket(Some(alice), Some(bob)));
    assert!(!bobs.covers_ticket(Some(carol), None));
    // Search: by number, by title words.
    let mut q = query(TicketView::All, all.clone());
    q.search = format!("#{c}");
    assert_eq!(titles(store, &q).await, vec!["C by carol for carol"]);
    q.search = "unassigned".into();
    assert_eq!(titles(store, &q).await, vec!["B by alice unassigned"]);
    q.search = "100%_".into();
    assert_eq!(
        titles(store, &q).await,
        Vec::<String>::new(),
        "LIKE escapes"
    );

    let o = store.ticket_overview(&all, alice).await.unwrap();
    assert_eq!((o.total, o.open, o.mine, o.pending), (4, 3, 2, 0));
    assert_eq!(
        o.by_status,
        vec![("closed".to_string(), 1), ("new".to_string(), 3)]
    );
    let o = store.ticket_overview(&bobs, bob).await.unwrap();
    assert_eq!((o.total, o.open, o.mine, o.pending), (2, 1, 1, 1));
}

async fn the_screen_pop_finds_the_open_tickets_of_a_number(store: &Store) {
    let alice = user(store, "alice").await;
    let contact = store
        .create_contact(
            ContactFields {
                name: "张三".into(),
                mobile: "186 1861 6001".into(),
                ..ContactFields::default()
            },
            Some(alice),
        )
        .await
        .unwrap();
    let mut by_contact = ticket("about the contact", alice, None);
    by_contact.contact_id = Some(contact);
    let t1 = store.create_ticket(by_contact, Some(alice)).await.unwrap();
    assert_eq!(
        store.get_ticket(t1).await.unwrap().unwrap().fields.phone,
        "186 1861 6001",
        "the contact's number"
    );
    let mut by_number = ticket("from a call", alice, None);
    by_number.phone = "+86 18618616001".into();
    by_number.call_id = "abc@host".into();
    store.create_ticket(by_number, Some(alice)).await.unwrap();
    let mut closed = ticket("closed one", alice, None);
    closed.phone = "18618616001".into();
    closed.status = "closed".into();
    store.create_ticket(closed, Some(alice)).await.unwrap();

    let open = store
        .open_tickets_of("18618616001", &[], &CrmScope::All)
        .await
        .unwrap();
    let mut t: Vec<&str> = open.iter().map(|t| t.fields.title.as_str()).collect();
    t.sort();
    assert_eq!(t, vec!["about the contact", "from a call"]);
    // Out of scope: nothing.
    let none = store
        .open_tickets_of("18618616001", &[contact], &CrmScope::Owners(vec![999]))
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn overdue_tickets_are_taken_once(store: &Store) {
    let alice = user(store, "alice").await;
    let mut f = ticket("late", alice, Some(alice));
    f.due_at = Some(1_000);
    let id = store.create_ticket(f, Some(alice)).await.unwrap();
    let mut f = ticket("not yet", alice, Some(alice));
    f.due_at = Some(i64::MAX / 2);
    store.create_ticket(f, Some(alice)).await.unwrap();
    let now = 2_000_000_000_000;
    let taken = store.take_overdue_tickets(now).await.unwrap();
    assert_eq!(taken.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
    assert!(store.take_overdue_tickets(now).await.unwrap().is_empty());
    // A new due time may fall overdue again.
    let mut f = store.get_ticket(id).await.unwrap().unwrap().fields;
    f.due_at = Some(2_000);
    store.update_ticket(id, f, Some(alice)).await.unwrap();
    assert_eq!(store.take_overdue_tickets(now).await.unwrap().len(), 1);
}

async fn attachments_and_deletion(store: &Store) {
    let alice = user(store, "alice").await;
    let id = store
        .create_ticket(ticket("with a file", alice, None), Some(alice))
        .await
        .unwrap();
    let a = TicketAttachment {
        id: 0,
        ticket_id: id,
        file_name: "发票.pdf".into(),
        content_type: "application/pdf".into(),
        size: 1234,
        sha256: "ab".repeat(32),
        stored_name: "t1-x.bin".into(),
        uploaded_by: Some(alice),
        created_at: 0,
    };
    let aid = store.add_ticket_attachment(&a).await.unwrap();
    let got = store.get_ticket_attachment(aid).await.unwrap().unwrap();
    assert_eq!((got.file_name.as_str(), got.size), ("发票.pdf", 1234));
    assert_eq!(store.ticket_attachments(id).await.unwrap().len(), 1);
    let mut bad = a.clone();
    bad.ticket_id = 98765;
    bad.stored_name = "other".into();
    assert!(matches!(
        store.add_ticket_attachment(&bad).await,
        Err(StoreError::CrmNotFound("ticket", 98765))
    ));
    store
        .add_ticket_reply(id, Some(alice), "x", false, ReplyBy::Handler)
        .await
        .unwrap();
    assert_eq!(store.delete_ticket(id).await.unwrap(), vec!["t1-x.bin"]);
    assert!(store.get_ticket(id).await.unwrap().is_none());
    assert!(store.ticket_replies(id, true).await.unwrap().is_empty());
    assert!(store.ticket_attachments(id).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_ticket(id).await,
        Err(StoreError::CrmNotFound("ticket", _))
    ));
}

async fn ticket_types_are_named_once(store: &Store) {
    let a = store.create_ticket_category("咨询").await.unwrap();
    let b = store.create_ticket_category("投诉").await.unwrap();
    assert!(matches!(
        store.create_ticket_category(" 咨询 ").await,
        Err(StoreError::CrmNameTaken(..))
    ));
    assert!(matches!(
        store.rename_ticket_category(b, "咨询").await,
        Err(StoreError::CrmNameTaken(..))
    ));
    store.rename_ticket_category(b, "建议").await.unwrap();
    let alice = user(store, "alice").await;
    let mut f = ticket("typed", alice, None);
    f.category_id = Some(a);
    let id = store.create_ticket(f, Some(alice)).await.unwrap();
    store.delete_ticket_category(a).await.unwrap();
    assert_eq!(
        store
            .get_ticket(id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .category_id,
        None
    );
    let names: Vec<String> = store
        .list_ticket_categories()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["建议"]);
}

async fn searches_count_up_to_the_cap_and_numbers_find_their_ticket(store: &Store) {
    let alice = user(store, "alice").await;
    let n = crate::crm::COUNT_CAP + 3;
    let mut last = 0;
    for i in 0..n {
        let mut t = ticket(&format!("发票 {i}"), alice, None);
        if i == 7 {
            t.title = "退款 7".into();
            t.phone = "139 0012 0007".into();
        }
        last = store.create_ticket(t, None).await.unwrap();
    }
    let mut q = query(TicketView::All, CrmScope::All);
    // A title word in every ticket: more than the cap, newest first.
    q.search = "发票".into();
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!((page.total, page.more), (crate::crm::COUNT_CAP, true));
    assert_eq!(page.rows.len(), 50);
    assert_eq!(page.rows[0].id, last);
    // A rare one: counted exactly, whichever page.
    q.search = "退款".into();
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (1, false, 1));
    q.offset = 50;
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (1, false, 0));
    q.offset = 0;
    // Digits: the ticket's phone (any written form) as well as its title.
    q.search = "13900120007".into();
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].fields.title, "退款 7");
    // "#N" is ticket number N only, not a title with N in it.
    q.search = format!("#{last}");
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!(
        page.rows.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![last]
    );
    // Out of the user's scope, nothing, even for the broad word.
    let mut q = query(TicketView::All, CrmScope::Owners(vec![alice + 1]));
    q.search = "发票".into();
    let page = store.list_tickets(&q).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (0, false, 0));
}

on_every_backend!(
    searches_count_up_to_the_cap_and_numbers_find_their_ticket,
    a_ticket_moves_through_replies_and_keeps_its_history,
    bad_fields_are_refused_with_the_field_named,
    the_ticket_tabs_list_what_their_names_say_within_the_scope,
    the_screen_pop_finds_the_open_tickets_of_a_number,
    overdue_tickets_are_taken_once,
    attachments_and_deletion,
    ticket_types_are_named_once,
);
