//! CRM load (benches/crm.sh): fills a database through the store (the
//! embedded SQLite file by default) with CONTACTS contacts and a tenth as
//! many customers, owned by 100 users, in batches of one transaction each
//! (the import path), then measures what the screen pop and the CRM pages
//! ask of it:
//!
//! - the caller-number lookup (`Store::lookup_number`, what `/desk/pop` and
//!   `GET /api/lookup` call): LOOKUPS numbers, nine in ten known (in a
//!   random written form: plain, `+86 `, `0086`, with dashes) and one in ten
//!   unknown, half with every record in scope and half as one user (own
//!   and shared records): p50, p99, max;
//! - the first page (50 rows) of every contact tab and of the customer
//!   list, as everything and as one user, and a search by number and by
//!   name: the slowest of each.
//!
//! - tickets: TICKETS tickets (a fifth of the contacts by default: 200,000
//!   with a million contacts), then the first page of every tab of 6.2 as
//!   everything and as one user, unsearched and searched by title words and
//!   by number;
//! - the knowledge base: ARTICLES articles in Chinese and English, then
//!   searches of two characters, a phrase, a similar question and English
//!   words: p50, p99, max;
//! - a spreadsheet import: an `.xlsx` of IMPORT rows written with
//!   `crates/sheets`, then read, checked and saved in one transaction as
//!   `POST /api/contacts/import?mode=all` does: the time and the growth of
//!   the peak resident memory while it ran.
//!
//! A database that already holds the contacts, tickets and articles is
//! reused (filling is reported only when it happens). The last line is
//! `key=value` pairs.

use std::time::{Duration, Instant};

use store::{
    ContactFields, ContactQuery, ContactView, CrmScope, CustomerFields, CustomerQuery,
    KbArticleFields, KbSearch, Store, TicketFields, TicketQuery, TicketView,
};

struct Args {
    database_url: String,
    contacts: usize,
    lookups: usize,
    batch: usize,
    tickets: Option<usize>,
    articles: usize,
    import: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        database_url: String::new(),
        contacts: 1_000_000,
        lookups: 20_000,
        batch: 10_000,
        tickets: None,
        articles: 10_000,
        import: 100_000,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let num = |what: &str| val.parse::<usize>().map_err(|_| format!("{what} N"));
        match v[i].as_str() {
            "--database-url" => a.database_url = val.clone(),
            "--contacts" => a.contacts = num("--contacts")?,
            "--lookups" => a.lookups = num("--lookups")?,
            "--batch" => a.batch = num("--batch")?.max(1),
            "--tickets" => a.tickets = Some(num("--tickets")?),
            "--articles" => a.articles = num("--articles")?,
            "--import" => a.import = num("--import")?,
            // cargo bench passes --bench to every bench binary.
            "--bench" => {
                i += 1;
                continue;
            }
            other => return Err(format!("unknown argument {other}")),
        }
        i += 2;
    }
    if a.database_url.is_empty() {
        return Err("--database-url URL is required".into());
    }
    Ok(a)
}

/// Contact `i`'s mobile: 11 digits, unique.
fn mobile(i: usize) -> String {
    format!("139{:08}", i)
}

/// Customer `i`'s landline, with its area code.
fn landline(i: usize) -> String {
    format!("010-{:08}", i)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crm_load: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crm_load: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(a)) {
        eprintln!("crm_load: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<(), String> {
    let store = Store::open(&a.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let all = CrmScope::All;
    let count = |scope: CrmScope| ContactQuery {
        view: ContactView::All,
        scope,
        search: String::new(),
        category_id: None,
        limit: 1,
        offset: 0,
        team: Vec::new(),
    };
    // Lists count up to 10,000 only: how many contacts are there is told
    // by whether the row at CONTACTS-1 (or at each earlier batch) exists.
    let has_row = |n: usize| {
        let store = store.clone();
        let mut q = count(all.clone());
        q.offset = n as i64;
        async move {
            store
                .list_contacts(&q)
                .await
                .map(|p| !p.rows.is_empty())
                .map_err(|e| e.to_string())
        }
    };
    let existing = if a.contacts > 0 && has_row(a.contacts - 1).await? {
        a.contacts
    } else {
        let mut n = 0;
        while n < a.contacts && has_row(n).await? {
            n += a.batch;
        }
        // The last batch may be partial: start it again from its first
        // multiple (a few duplicate contacts at most, never a second fill).
        n.saturating_sub(a.batch).min(a.contacts)
    };
    let customers = (a.contacts / 10).max(1);
    let mut fill_secs = 0.0;
    let mut filled = 0usize;
    if existing < a.contacts {
        let started = Instant::now();
        // Customers first (one in ten contacts belongs to one).
        let have_customers = if store
            .list_customers(&CustomerQuery {
                scope: CrmScope::All,
                customer_type: None,
                enterprise_only: false,
                created_since: None,
                search: String::new(),
                limit: 1,
                offset: customers as i64 - 1,
            })
            .await
            .map_err(|e| e.to_string())?
            .rows
            .is_empty()
        {
            0
        } else {
            customers
        };
        let mut first_customer = None;
        for i in have_customers..customers {
            let id = store
                .create_customer(
                    CustomerFields {
                        name: format!("客户公司 {i}"),
                        kind: if i % 3 == 0 { "enterprise" } else { "personal" }.into(),
                        customer_type: [
                            "normal", "vip", "old", "agent", "supplier", "partner", "other",
                        ][i % 7]
                            .into(),
                        phone: landline(i),
                        owner_id: Some((i % 100) as i64 + 1),
                        sharing: if i % 20 == 0 { "everyone" } else { "private" }.into(),
                        ..CustomerFields::default()
                    },
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            first_customer.get_or_insert(id - i as i64);
        }
        let base = first_customer.unwrap_or(1);
        let mut i = existing;
        while i < a.contacts {
            let end = (i + a.batch).min(a.contacts);
            let rows: Vec<ContactFields> = (i..end)
                .map(|k| ContactFields {
                    name: format!("联系人 {k}"),
                    mobile: mobile(k),
                    city: ["北京", "上海", "广州", "深圳"][k % 4].into(),
                    owner_id: (k % 7 != 0).then_some((k % 100) as i64 + 1),
                    customer_id: (k % 10 == 0 && have_customers == 0)
                        .then_some(base + ((k / 10) % customers) as i64),
                    sharing: if k % 20 == 0 { "everyone" } else { "private" }.into(),
                    voided: k % 50 == 0,
                    appointment_at: (k % 30 == 0).then_some(1_800_000_000_000 + k as i64),
                    ..ContactFields::default()
                })
                .collect();
            store
                .create_contacts(rows, Some(1))
                .await
                .map_err(|e| e.to_string())?;
            filled += end - i;
            i = end;
        }
        fill_secs = started.elapsed().as_secs_f64();
        eprintln!(
            "crm_load: filled {filled} contacts and {} customers in {fill_secs:.1} s",
            customers.saturating_sub(have_customers)
        );
    }
    let total = a.contacts.max(existing);

    // Lookups.
    let mut lat = Vec::with_capacity(a.lookups);
    let mut found = 0usize;
    for n in 0..a.lookups {
        let k = fastrand::usize(..total);
        let number = match n % 10 {
            9 => format!("1{:010}", 9_000_000_000u64 + fastrand::u64(..999_999_999)),
            0 => landline(fastrand::usize(..customers)).replace("010-", "+86 10 "),
            1..=3 => format!("+86 {}", mobile(k)),
            4..=5 => format!("0086{}", mobile(k)),
            6 => {
                let m = mobile(k);
                format!("{}-{}-{}", &m[..3], &m[3..7], &m[7..])
            }
            _ => mobile(k),
        };
        let scope = if n % 2 == 0 {
            CrmScope::All
        } else {
            CrmScope::Owners(vec![(k % 100) as i64 + 1])
        };
        let t = Instant::now();
        let m = store
            .lookup_number(&number, &scope)
            .await
            .map_err(|e| e.to_string())?;
        lat.push(t.elapsed());
        if !m.contacts.is_empty() || !m.customers.is_empty() {
            found += 1;
        }
    }
    lat.sort();
    let (p50, p99, max) = (
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );

    // First pages.
    let views = [
        ("all", ContactView::All),
        ("today", ContactView::CreatedSince(0)),
        ("mine", ContactView::OwnedBy(1)),
        ("department", ContactView::Department),
        ("unassigned", ContactView::Unassigned),
        ("voided", ContactView::Voided),
        ("appointments", ContactView::Appointments),
        ("failed", ContactView::CallFailed),
    ];
    let mut slowest_page = (0.0f64, String::new());
    for scope in [CrmScope::All, CrmScope::Owners(vec![1])] {
        for (name, view) in views {
            for search in ["", "139 0012 3456", "联系人 4242"] {
                let q = ContactQuery {
                    view,
                    scope: scope.clone(),
                    search: search.into(),
                    category_id: None,
                    limit: 50,
                    offset: 0,
                    // A department of ten handlers.
                    team: if view == ContactView::Department {
                        (1..=10).collect()
                    } else {
                        Vec::new()
                    },
                };
                let t = Instant::now();
                store.list_contacts(&q).await.map_err(|e| e.to_string())?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                let who = if scope == CrmScope::All {
                    "all"
                } else {
                    "user"
                };
                eprintln!("crm_load: first page of contacts:{name}:{who}:{search:?}: {ms:.1} ms");
                if ms > slowest_page.0 {
                    slowest_page = (ms, format!("contacts:{name}:{who}:{search}"));
                }
            }
        }
        let t = Instant::now();
        store
            .list_customers(&CustomerQuery {
                scope: scope.clone(),
                customer_type: Some("vip".into()),
                enterprise_only: false,
                created_since: None,
                search: String::new(),
                limit: 50,
                offset: 0,
            })
            .await
            .map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if ms > slowest_page.0 {
            slowest_page = (ms, "customers:vip".into());
        }
    }
    let tickets = a.tickets.unwrap_or(total / 5);
    let (ticket_fill_secs, slowest_ticket) = tickets_part(&store, tickets).await?;
    let kb = kb_part(&store, a.articles).await?;
    let import = import_part(&store, a.import).await?;
    eprintln!(
        "crm_load: {total} contacts; {} lookups ({found} matched): p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; slowest first page {:.1} ms ({})",
        a.lookups, slowest_page.0, slowest_page.1
    );
    eprintln!(
        "crm_load: {tickets} tickets (filled in {ticket_fill_secs:.1} s); slowest first page {:.1} ms ({}); {} articles: search p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; import of {} rows: {:.1} s, peak RSS +{} MiB",
        slowest_ticket.0, slowest_ticket.1, a.articles, kb.0, kb.1, kb.2, a.import, import.0, import.1
    );
    println!(
        "crm_contacts={total} filled={filled} fill_secs={fill_secs:.1} fill_rows_per_s={:.0} lookups={} matched={found} lookup_p50_ms={p50:.3} lookup_p99_ms={p99:.3} lookup_max_ms={max:.3} slowest_first_page_ms={:.1} tickets={tickets} slowest_ticket_page_ms={:.1} articles={} kb_search_p50_ms={:.2} kb_search_p99_ms={:.2} kb_search_max_ms={:.2} import_rows={} import_secs={:.1} import_peak_rss_mib={}",
        if fill_secs > 0.0 { filled as f64 / fill_secs } else { 0.0 },
        a.lookups,
        slowest_page.0,
        slowest_ticket.0,
        a.articles,
        kb.0,
        kb.1,
        kb.2,
        a.import,
        import.0,
        import.1
    );
    store.close().await;
    Ok(())
}

/// Fills `n` tickets (if fewer are there) and times the first page of every
/// tab: the fill time and the slowest page (ms, which).
async fn tickets_part(store: &Store, n: usize) -> Result<(f64, (f64, String)), String> {
    let q = |view, scope, search: &str| TicketQuery {
        view,
        scope,
        search: search.into(),
        status: None,
        category_id: None,
        priority: None,
        limit: 50,
        offset: 0,
    };
    // Counts stop at 10,000: probe the row at N-1 instead.
    let mut probe = q(TicketView::All, CrmScope::All, "");
    probe.offset = n.saturating_sub(1) as i64;
    let full = !store
        .list_tickets(&probe)
        .await
        .map_err(|e| e.to_string())?
        .rows
        .is_empty();
    let have = if full {
        n
    } else {
        store
            .list_tickets(&q(TicketView::All, CrmScope::All, ""))
            .await
            .map_err(|e| e.to_string())?
            .total as usize
    };
    let mut fill_secs = 0.0;
    // The requesters and handlers: users 1 (the default administrator) to 100.
    let users = store
        .list_users(&store::UserQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .total;
    for i in users..100 {
        store
            .create_user(
                &store::UserFields {
                    username: format!("bench{i}"),
                    enabled: true,
                    ..Default::default()
                },
                "x",
                false,
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    if have < n {
        let t = Instant::now();
        for i in have..n {
            store
                .create_ticket(
                    TicketFields {
                        title: format!("工单 {i} 发票没有收到 invoice"),
                        body: "<p>客户来电询问发票</p>".into(),
                        requester_id: Some((i % 100) as i64 + 1),
                        assignee_id: (i % 4 != 0).then_some(((i + 7) % 100) as i64 + 1),
                        status: ["new", "replied", "closed", "reopened"][i % 4].into(),
                        priority: ["low", "medium", "high", "urgent"][i % 4].into(),
                        phone: mobile(i),
                        ..TicketFields::default()
                    },
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        fill_secs = t.elapsed().as_secs_f64();
        store.optimize().await.map_err(|e| e.to_string())?;
    }
    let mut slowest = (0.0f64, String::new());
    for scope in [CrmScope::All, CrmScope::Owners(vec![1])] {
        for (name, view) in [
            ("open", TicketView::Open),
            ("all", TicketView::All),
            ("mine", TicketView::Mine(1)),
            ("pending", TicketView::Pending(1)),
            ("unassigned", TicketView::Unassigned),
            ("followed", TicketView::Followed(1)),
            ("closed", TicketView::Closed),
        ] {
            for search in ["", "发票", "139 0012", "#4242"] {
                let t = Instant::now();
                store
                    .list_tickets(&q(view, scope.clone(), search))
                    .await
                    .map_err(|e| e.to_string())?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                eprintln!("crm_load: first page of tickets:{name}:{search:?}: {ms:.1} ms");
                if ms > slowest.0 {
                    slowest = (ms, format!("tickets:{name}:{search}"));
                }
            }
        }
    }
    Ok((fill_secs, slowest))
}

/// Fills `n` knowledge articles (if fewer are there) and times searches:
/// p50, p99, max (ms).
async fn kb_part(store: &Store, n: usize) -> Result<(f64, f64, f64), String> {
    let have = store
        .list_kb_articles(None, 1, 0)
        .await
        .map_err(|e| e.to_string())?
        .total as usize;
    let topics = [
        ("退款", "refund"),
        ("发票", "invoice"),
        ("密码", "password"),
        ("套餐", "plan"),
        ("宽带", "broadband"),
        ("物流", "delivery"),
        ("积分", "points"),
        ("会员", "membership"),
    ];
    let mut i = have;
    while i < n {
        let end = (i + 500).min(n);
        let rows: Vec<KbArticleFields> = (i..end)
            .map(|k| {
                let (zh, en) = topics[k % topics.len()];
                KbArticleFields {
                    title: format!("如何办理{zh}业务 {k}"),
                    questions: vec![format!("{zh}怎么弄"), format!("how to get a {en}")],
                    body: format!(
                        "<p>关于{zh}：请在营业厅或网上营业厅办理，编号 {k}。</p><p>For {en}, open the app and follow the steps; reference {k}.</p>"
                    ),
                    hot: k % 50 == 0,
                    ..KbArticleFields::default()
                }
            })
            .collect();
        store
            .create_kb_articles(rows, None)
            .await
            .map_err(|e| e.to_string())?;
        i = end;
    }
    store.optimize().await.map_err(|e| e.to_string())?;
    let mut lat = Vec::new();
    for round in 0..20 {
        for q in [
            "退款",
            "如何办理发票业务",
            "密码怎么弄",
            "broadband",
            "how to get a refund",
            "营业厅",
        ] {
            let t = Instant::now();
            store
                .search_kb(&KbSearch {
                    q: q.into(),
                    valid_at: (round % 2 == 0).then_some(1_800_000_000_000),
                    limit: 50,
                    ..KbSearch::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    Ok((
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    ))
}

/// Peak resident memory so far (VmHWM), KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Writes an `.xlsx` of `n` contact rows, then imports it as the API does
/// (read, map, check each row, save all in one transaction): seconds and
/// the growth of the peak resident memory (MiB).
async fn import_part(store: &Store, n: usize) -> Result<(f64, u64), String> {
    if n == 0 {
        return Ok((0.0, 0));
    }
    let rows = (0..n).map(|i| {
        vec![
            format!("导入 {i}"),
            format!("1{:010}", 5_000_000_000u64 + i as u64),
            ["男", "女", ""][i % 3].to_string(),
            "上海".to_string(),
            format!("import{i}@example.com"),
            "来自表格".to_string(),
        ]
    });
    let xlsx = sheets::write_xlsx(
        "导入",
        &["姓名", "手机", "性别", "城市", "邮箱", "备注"],
        rows,
    )
    .map_err(|e| e.to_string())?;
    // Start the peak from here (Linux: writing 5 resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_rss_kib();
    let t = Instant::now();
    let sheet = sheets::read(&xlsx, &sheets::Limits::default()).map_err(|e| e.to_string())?;
    drop(xlsx);
    let contacts: Vec<ContactFields> = sheet
        .rows
        .iter()
        .map(|r| ContactFields {
            name: r.cells[0].clone(),
            mobile: r.cells[1].clone(),
            gender: match r.cells[2].as_str() {
                "男" => "male",
                "女" => "female",
                _ => "unknown",
            }
            .into(),
            city: r.cells[3].clone(),
            email: r.cells[4].clone(),
            remarks: r.cells[5].clone(),
            owner_id: Some(1),
            sharing: "private".into(),
            ..ContactFields::default()
        })
        .collect();
    drop(sheet);
    for c in &contacts {
        c.clone().normalized().map_err(|e| e.to_string())?;
    }
    let ids = store
        .create_contacts(contacts, Some(1))
        .await
        .map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let grew = peak_rss_kib().saturating_sub(before) / 1024;
    eprintln!("crm_load: imported {} rows in {secs:.1} s", ids.len());
    Ok((secs, grew))
}
