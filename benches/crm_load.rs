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
//! A database that already holds the contacts is reused (filling is
//! reported only when it happens). The last line is `key=value` pairs.

use std::time::{Duration, Instant};

use store::{
    ContactFields, ContactQuery, ContactView, CrmScope, CustomerFields, CustomerQuery, Store,
};

struct Args {
    database_url: String,
    contacts: usize,
    lookups: usize,
    batch: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        database_url: String::new(),
        contacts: 1_000_000,
        lookups: 20_000,
        batch: 10_000,
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
    };
    let existing = store
        .list_contacts(&count(all.clone()))
        .await
        .map_err(|e| e.to_string())?
        .total as usize;
    let customers = (a.contacts / 10).max(1);
    let mut fill_secs = 0.0;
    let mut filled = 0usize;
    if existing < a.contacts {
        let started = Instant::now();
        // Customers first (one in ten contacts belongs to one).
        let have_customers = store
            .list_customers(&CustomerQuery {
                scope: CrmScope::All,
                customer_type: None,
                enterprise_only: false,
                created_since: None,
                search: String::new(),
                limit: 1,
                offset: 0,
            })
            .await
            .map_err(|e| e.to_string())?
            .total as usize;
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
    eprintln!(
        "crm_load: {total} contacts; {} lookups ({found} matched): p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; slowest first page {:.1} ms ({})",
        a.lookups, slowest_page.0, slowest_page.1
    );
    println!(
        "crm_contacts={total} filled={filled} fill_secs={fill_secs:.1} fill_rows_per_s={:.0} lookups={} matched={found} lookup_p50_ms={p50:.3} lookup_p99_ms={p99:.3} lookup_max_ms={max:.3} slowest_first_page_ms={:.1}",
        if fill_secs > 0.0 { filled as f64 / fill_secs } else { 0.0 },
        a.lookups,
        slowest_page.0
    );
    store.close().await;
    Ok(())
}
