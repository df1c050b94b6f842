//! The CRM's contacts and customers: fields checked with the field named,
//! the screen pop's number lookup in every written form and within the
//! asker's scope, the contact tabs of chapter 4, categories and projects.

use crate::{
    ContactFields, ContactQuery, ContactView, CrmScope, CustomerFields, CustomerQuery, GroupKind,
    Store, StoreError,
};

fn contact(name: &str, mobile: &str, owner: Option<i64>) -> ContactFields {
    ContactFields {
        name: name.into(),
        mobile: mobile.into(),
        owner_id: owner,
        ..ContactFields::default()
    }
}

fn query(view: ContactView, scope: CrmScope) -> ContactQuery {
    ContactQuery {
        view,
        scope,
        search: String::new(),
        category_id: None,
        limit: 50,
        offset: 0,
        team: Vec::new(),
    }
}

async fn a_customer_with_contacts_is_found_by_any_form_of_their_numbers(store: &Store) {
    let acme = store
        .create_customer(
            CustomerFields {
                kind: "enterprise".into(),
                name: "Acme 上海".into(),
                phone: "021-6262 0668".into(),
                customer_type: "vip".into(),
                owner_id: Some(7),
                ..CustomerFields::default()
            },
            Some(7),
        )
        .await
        .expect("create a customer");
    let mut zhang = contact("张三", "+86 186-1861-6001", Some(7));
    zhang.customer_id = Some(acme);
    zhang.gender = "male".into();
    zhang.birthday = "1990-05-04".into();
    let zid = store
        .create_contact(zhang, Some(7))
        .await
        .expect("create a contact");
    store
        .create_contact(contact("Somebody else", "13900000000", Some(8)), Some(8))
        .await
        .expect("another contact");

    for number in [
        "18618616001",
        "018618616001",
        "0086 186 1861 6001",
        "+8618618616001",
    ] {
        let m = store
            .lookup_number(number, &CrmScope::All)
            .await
            .expect("lookup");
        assert_eq!(m.normalized, "18618616001", "{number}");
        assert_eq!(m.contacts.len(), 1, "{number}: {m:?}");
        assert_eq!(m.contacts[0].id, zid);
        // The contact's customer comes with it.
        assert_eq!(m.customers.len(), 1, "{number}: {m:?}");
        assert_eq!(m.customers[0].id, acme);
    }
    // The customer's own phone, typed another way.
    let m = store
        .lookup_number("+86 21 62620668", &CrmScope::All)
        .await
        .expect("lookup");
    assert_eq!(
        m.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![acme]
    );
    assert!(m.contacts.is_empty());
    // Another user's private records are out of scope; shared ones are not.
    let other = CrmScope::Owners(vec![8]);
    let m = store
        .lookup_number("18618616001", &other)
        .await
        .expect("lookup");
    assert!(m.contacts.is_empty() && m.customers.is_empty(), "{m:?}");
    let mut shared = store
        .get_contact(zid)
        .await
        .unwrap()
        .expect("the contact")
        .fields;
    shared.sharing = "everyone".into();
    store.update_contact(zid, shared).await.expect("share it");
    let m = store
        .lookup_number("18618616001", &other)
        .await
        .expect("lookup");
    assert_eq!(m.contacts.len(), 1, "{m:?}");
    // Its customer stays private.
    assert!(m.customers.is_empty(), "{m:?}");
    // Text that is no number matches nothing.
    let m = store
        .lookup_number("abc", &CrmScope::All)
        .await
        .expect("lookup");
    assert!(m.contacts.is_empty() && m.normalized.is_empty());

    let contacts = store.customer_contacts(acme).await.expect("its contacts");
    assert_eq!(contacts.len(), 1);
    // Deleting the customer keeps the contact, unlinked.
    store.delete_customer(acme).await.expect("delete");
    let z = store.get_contact(zid).await.unwrap().expect("still there");
    assert_eq!(z.fields.customer_id, None);
    assert!(matches!(
        store.delete_customer(acme).await,
        Err(StoreError::CrmNotFound("customer", _))
    ));
}

async fn bad_fields_are_refused_with_the_field_named_and_nothing_saved(store: &Store) {
    let cases: Vec<(ContactFields, &str)> = vec![
        (contact("  ", "186", None), "name"),
        (contact("A", "call me", None), "mobile"),
        (
            ContactFields {
                email: "not-mail".into(),
                ..contact("A", "", None)
            },
            "email",
        ),
        (
            ContactFields {
                birthday: "2023-02-30".into(),
                ..contact("A", "", None)
            },
            "birthday",
        ),
        (
            ContactFields {
                gender: "robot".into(),
                ..contact("A", "", None)
            },
            "gender",
        ),
    ];
    for (fields, field) in cases {
        match store.create_contact(fields, None).await {
            Err(StoreError::InvalidField(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    match store
        .create_contact(
            ContactFields {
                customer_id: Some(999),
                ..contact("A", "", None)
            },
            None,
        )
        .await
    {
        Err(StoreError::CrmNotFound("customer", 999)) => {}
        other => panic!("{other:?}"),
    }
    match store
        .create_customer(
            CustomerFields {
                name: "X".into(),
                customer_type: "gold".into(),
                ..CustomerFields::default()
            },
            None,
        )
        .await
    {
        Err(StoreError::InvalidField(e)) => assert_eq!(e.field, "customer_type"),
        other => panic!("{other:?}"),
    }
    let all = store
        .list_contacts(&query(ContactView::All, CrmScope::All))
        .await
        .expect("list");
    assert_eq!(all.total, 0, "{all:?}");
}

async fn the_contact_tabs_list_what_their_names_say(store: &Store) {
    let cat = store
        .create_crm_group(GroupKind::Category, "Leads", "from the fair")
        .await
        .expect("category");
    assert!(matches!(
        store
            .create_crm_group(GroupKind::Category, "Leads", "")
            .await,
        Err(StoreError::CrmNameTaken("category", _))
    ));
    store
        .create_crm_group(GroupKind::Project, "Spring", "")
        .await
        .expect("project");
    let mine = store
        .create_contact(
            ContactFields {
                category_id: Some(cat),
                ..contact("Mine", "13800000001", Some(1))
            },
            Some(1),
        )
        .await
        .unwrap();
    let unassigned = store
        .create_contact(contact("Nobody's", "13800000002", None), Some(1))
        .await
        .unwrap();
    let voided = store
        .create_contact(
            ContactFields {
                voided: true,
                ..contact("Void", "13800000003", Some(1))
            },
            Some(1),
        )
        .await
        .unwrap();
    let booked = store
        .create_contact(
            ContactFields {
                appointment_at: Some(1_900_000_000_000),
                appointment_note: "call back about the offer".into(),
                ..contact("Booked", "13800000004", Some(2))
            },
            Some(2),
        )
        .await
        .unwrap();
    store
        .set_contact_call_failed(booked, Some(1_700_000_000_000))
        .await
        .unwrap();
    let ids = |p: crate::CrmPage<crate::Contact>| p.rows.iter().map(|c| c.id).collect::<Vec<_>>();
    let all = store
        .list_contacts(&query(ContactView::All, CrmScope::All))
        .await
        .unwrap();
    assert_eq!(all.total, 3, "voided ones are apart: {all:?}");
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::OwnedBy(1), CrmScope::All))
            .await
            .unwrap()),
        vec![mine]
    );
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::Unassigned, CrmScope::All))
            .await
            .unwrap()),
        vec![unassigned]
    );
    // My department: handled by any of the team, not voided, newest first;
    // a team of nobody lists nothing.
    let mut team = query(ContactView::Department, CrmScope::All);
    team.team = vec![1, 2];
    assert_eq!(
        ids(store.list_contacts(&team).await.unwrap()),
        vec![booked, mine]
    );
    team.team = vec![2];
    assert_eq!(ids(store.list_contacts(&team).await.unwrap()), vec![booked]);
    team.scope = CrmScope::Owners(vec![1]);
    assert_eq!(
        ids(store.list_contacts(&team).await.unwrap()),
        Vec::<i64>::new(),
        "the scope still applies"
    );
    team.team.clear();
    team.scope = CrmScope::All;
    assert_eq!(store.list_contacts(&team).await.unwrap().total, 0);
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::Voided, CrmScope::All))
            .await
            .unwrap()),
        vec![voided]
    );
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::Appointments, CrmScope::All))
            .await
            .unwrap()),
        vec![booked]
    );
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::CallFailed, CrmScope::All))
            .await
            .unwrap()),
        vec![booked]
    );
    let future = crate::db::now_ms() + 3_600_000;
    assert_eq!(
        store
            .list_contacts(&query(ContactView::CreatedSince(future), CrmScope::All))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .list_contacts(&query(ContactView::CreatedSince(0), CrmScope::All))
            .await
            .unwrap()
            .total,
        3
    );
    // Scope: user 2 sees only their own (and shared) contacts.
    assert_eq!(
        ids(store
            .list_contacts(&query(ContactView::All, CrmScope::Owners(vec![2])))
            .await
            .unwrap()),
        vec![booked]
    );
    // Search by name and by number, category filter.
    let mut q = query(ContactView::All, CrmScope::All);
    q.search = "Nobody".into();
    assert_eq!(
        ids(store.list_contacts(&q).await.unwrap()),
        vec![unassigned]
    );
    q.search = "138 0000 0001".into();
    assert_eq!(ids(store.list_contacts(&q).await.unwrap()), vec![mine]);
    q.search = "100%_".into();
    assert_eq!(store.list_contacts(&q).await.unwrap().total, 0);
    let mut q = query(ContactView::All, CrmScope::All);
    q.category_id = Some(cat);
    assert_eq!(ids(store.list_contacts(&q).await.unwrap()), vec![mine]);
    // Deleting the category unfiles its contacts.
    store
        .delete_crm_group(GroupKind::Category, cat)
        .await
        .unwrap();
    let m = store.get_contact(mine).await.unwrap().expect("kept");
    assert_eq!(m.fields.category_id, None);
    assert_eq!(
        store
            .list_crm_groups(GroupKind::Project)
            .await
            .unwrap()
            .len(),
        1
    );
    // Paging.
    let mut q = query(ContactView::All, CrmScope::All);
    q.limit = 2;
    let first = store.list_contacts(&q).await.unwrap();
    q.offset = 2;
    let second = store.list_contacts(&q).await.unwrap();
    assert_eq!(
        (first.rows.len(), second.rows.len(), first.total),
        (2, 1, 3)
    );
}

async fn customers_list_by_type_kind_and_scope(store: &Store) {
    for (name, ty, kind, owner, sharing) in [
        ("Normal one", "normal", "personal", Some(1), "private"),
        ("VIP corp", "vip", "enterprise", Some(1), "private"),
        (
            "Shared partner",
            "partner",
            "enterprise",
            Some(2),
            "everyone",
        ),
        ("Other's", "other", "personal", Some(2), "private"),
    ] {
        store
            .create_customer(
                CustomerFields {
                    name: name.into(),
                    customer_type: ty.into(),
                    kind: kind.into(),
                    owner_id: owner,
                    sharing: sharing.into(),
                    ..CustomerFields::default()
                },
                owner,
            )
            .await
            .unwrap();
    }
    let q = |scope: CrmScope| CustomerQuery {
        scope,
        customer_type: None,
        enterprise_only: false,
        created_since: None,
        search: String::new(),
        limit: 50,
        offset: 0,
    };
    assert_eq!(
        store.list_customers(&q(CrmScope::All)).await.unwrap().total,
        4
    );
    let mine = store
        .list_customers(&q(CrmScope::Owners(vec![1])))
        .await
        .unwrap();
    let names: Vec<&str> = mine.rows.iter().map(|c| c.fields.name.as_str()).collect();
    assert_eq!(mine.total, 3, "own two and the shared one: {names:?}");
    let mut vip = q(CrmScope::All);
    vip.customer_type = Some("vip".into());
    assert_eq!(
        store.list_customers(&vip).await.unwrap().rows[0]
            .fields
            .name,
        "VIP corp"
    );
    let mut ent = q(CrmScope::All);
    ent.enterprise_only = true;
    assert_eq!(store.list_customers(&ent).await.unwrap().total, 2);
    let mut search = q(CrmScope::All);
    search.search = "Shared".into();
    assert_eq!(store.list_customers(&search).await.unwrap().total, 1);

    // A search matching more than the cap walks the list: a full page says
    // "more", and a VIP filter still applies to it.
    let n = crate::crm::COUNT_CAP as usize + 2;
    store
        .create_customers(
            (0..n)
                .map(|i| CustomerFields {
                    name: format!("Bulk {i:05}"),
                    customer_type: if i == 3 { "vip" } else { "normal" }.into(),
                    owner_id: Some(1),
                    ..CustomerFields::default()
                })
                .collect(),
            Some(1),
        )
        .await
        .unwrap();
    let mut broad = q(CrmScope::All);
    broad.search = "Bulk".into();
    let page = store.list_customers(&broad).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (51, true, 50));
    broad.customer_type = Some("vip".into());
    let page = store.list_customers(&broad).await.unwrap();
    let names: Vec<&str> = page.rows.iter().map(|c| c.fields.name.as_str()).collect();
    assert_eq!(
        (page.total, page.more, names),
        (1, false, vec!["Bulk 00003"])
    );
    broad.search = "Bulk 0000".into();
    broad.customer_type = None;
    let page = store.list_customers(&broad).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (10, false, 10));
}

async fn a_batch_with_bad_rows_saves_nothing_and_names_each_bad_row(store: &Store) {
    let rows = vec![
        contact("Good 1", "13800000001", None),
        contact("", "13800000002", None),
        contact("Good 2", "13800000003", None),
        contact("Bad mobile", "not a number", None),
    ];
    match store.create_contacts(rows, None).await {
        Err(StoreError::InvalidRows(bad)) => {
            let got: Vec<(usize, &str)> = bad.iter().map(|(i, e)| (*i, e.field)).collect();
            assert_eq!(got, vec![(1, "name"), (3, "mobile")]);
        }
        other => panic!("{other:?}"),
    }
    let refs = vec![
        contact("Good", "13800000001", None),
        ContactFields {
            customer_id: Some(12345),
            ..contact("Lost", "13800000004", None)
        },
    ];
    assert!(matches!(
        store.create_contacts(refs, None).await,
        Err(StoreError::CrmNotFound("customer", 12345))
    ));
    let all = store
        .list_contacts(&query(ContactView::All, CrmScope::All))
        .await
        .unwrap();
    assert_eq!(all.total, 0, "nothing of either batch: {all:?}");
    let ids = store
        .create_contacts(
            (0..300)
                .map(|i| contact(&format!("C{i}"), &format!("1380000{i:04}"), None))
                .collect(),
            Some(1),
        )
        .await
        .expect("a good batch");
    assert_eq!(ids.len(), 300);
    let m = store
        .lookup_number("+86 138 0000 0299", &CrmScope::All)
        .await
        .unwrap();
    assert_eq!(m.contacts[0].id, ids[299]);
}

async fn a_long_list_is_counted_up_to_the_cap_and_says_there_are_more(store: &Store) {
    let n = crate::crm::COUNT_CAP as usize + 5;
    store
        .create_contacts(
            (0..n)
                .map(|i| contact(&format!("C{i:05}"), &format!("139{i:08}"), Some(1)))
                .collect(),
            Some(1),
        )
        .await
        .unwrap();
    let page = store
        .list_contacts(&query(ContactView::All, CrmScope::All))
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.more, page.rows.len()),
        (crate::crm::COUNT_CAP, true, 50)
    );
    let mut q = query(ContactView::All, CrmScope::All);
    q.search = "C0001".into();
    let page = store.list_contacts(&q).await.unwrap();
    assert_eq!((page.total, page.more), (10, false), "C00010..C00019");
    q.search = "139 0000 0012".into();
    let page = store.list_contacts(&q).await.unwrap();
    assert_eq!((page.total, page.more), (1, false));
    // A search matching more than the cap in the whole base walks the tab
    // and is not counted: a full page says there is more (one past it);
    // the last page ends the list (counted up to the cap, as any list).
    q.search = "C".into();
    let page = store.list_contacts(&q).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (51, true, 50));
    q.offset = n as i64 - 5;
    let page = store.list_contacts(&q).await.unwrap();
    assert_eq!(
        (page.total, page.more, page.rows.len()),
        (crate::crm::COUNT_CAP, true, 5)
    );
    // The department tab pages as the handler's own tab does (each
    // handler's newest, merged), and counts up to the cap.
    let mut mine = query(ContactView::OwnedBy(1), CrmScope::All);
    let mut team = query(ContactView::Department, CrmScope::All);
    team.team = vec![2, 1, 3];
    for offset in [0, 50, 10_000] {
        mine.offset = offset;
        team.offset = offset;
        let (a, b) = (
            store.list_contacts(&mine).await.unwrap(),
            store.list_contacts(&team).await.unwrap(),
        );
        let ids =
            |p: &crate::CrmPage<crate::Contact>| p.rows.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b), "offset {offset}");
        assert_eq!((b.total, b.more), (crate::crm::COUNT_CAP, true));
    }
    // Seen by a user who owns none of them: the same walk finds nothing.
    let mut q = query(ContactView::All, CrmScope::Owners(vec![2]));
    q.search = "139".into();
    let page = store.list_contacts(&q).await.unwrap();
    assert_eq!((page.total, page.more, page.rows.len()), (0, false, 0));
}

on_every_backend!(
    a_long_list_is_counted_up_to_the_cap_and_says_there_are_more,
    a_batch_with_bad_rows_saves_nothing_and_names_each_bad_row,
    a_customer_with_contacts_is_found_by_any_form_of_their_numbers,
    bad_fields_are_refused_with_the_field_named_and_nothing_saved,
    the_contact_tabs_list_what_their_names_say,
    customers_list_by_type_kind_and_scope,
);
