//! Reports at scale (benches/reports.sh, issue 17): "with 5,000,000 CDRs
//! and 20,000,000 queue events, every report for a month under 1 s, for a
//! year under 3 s" (2-core machine, the embedded SQLite default).
//!
//! `--fill` writes a year of a call center into an empty database through
//! the store's own write path, so the roll-up tables are filled exactly as
//! the server fills them (same transaction as the raw rows):
//!
//! - CDRS complete calls over the 365 days ending with `--last-day`
//!   (weekends lighter, busy 9-18 h), `Store::upsert_cdrs` in batches of
//!   5,000: inbound through one of 10 queues (68 %), internal through a
//!   queue (2 %), inbound straight to an extension (10 %), internal (8 %),
//!   outbound (12 %); agent, queue, gateway and wait set as the engine's
//!   `cdr_row`/`handled_by` set them (a queue call is answered by the queue
//!   at once, its wait for an agent is `wait_secs`; an abandoned one has no
//!   agent; an outbound call's agent is the extension that placed it);
//! - its queue events (`Store::insert_queue_events`, batches of 20,000):
//!   joined, offered (again after an offer_failed now and then; to three
//!   agents at once in the five ring-all queues, two of whom lose the
//!   race), answered and ended, or abandoned: about 6 per queue call, so
//!   5,000,000 CDRs come with about 20,000,000 queue events;
//! - survey answers for 5 % of the answered queue calls (scores 1-3, one
//!   `Store::insert_survey` each, as the queue app stores them);
//! - AGENTS agents (CDRS/10,000, 10 to 500) with users bound to their
//!   extensions in 5 departments, and their work-state log
//!   (`Store::insert_agent_states`): five working days in seven, 12
//!   periods a day (ready, ringing, talking, after-call work, idle, not
//!   ready for lunch/meeting/training) and logged out in between;
//! - TICKETS tickets (CDRS/100) with `Store::create_ticket` (created now:
//!   the store sets the time, so they fall on the last day).
//!
//! Call-ids and call uids are sequential (their unique indexes are appended
//! to, not written at random: the fill is faster; the reports never read
//! them).
//!
//! `--store` times the store functions each report calls, in process
//! (SQL and row decoding only), over the last 30 days and the whole year;
//! `--http HOST:PORT --token T` times `GET /api/reports/NAME?from=&to=&
//! group=&format=json`, every report with every grouping it offers, on a
//! running server (the whole request: SQL, the report's
//! folding, JSON). Each RUNS times: min, median, max. A report answering
//! 404 is listed as missing; any other non-200 answer fails the run.
//! The last line is `key=value` pairs.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use store::rollup::{day_start, next_day_start};
use web::api::report_views::Report;

use store::{
    AgentStatePeriod, Cdr, DepartmentFields, QueueEvent, RollupQuery, Store, Survey, TicketFields,
    TicketReportQuery, UserFields,
};

const QUEUES: [&str; 10] = [
    "sales",
    "support",
    "billing",
    "vip",
    "tech",
    "returns",
    "orders",
    "claims",
    "retention",
    "general",
];
/// The first five queues ring all their free agents at once (three ring
/// per offer here), as FreeSWITCH's ring-all strategy does: every ringing
/// agent has an `offered` event and all but one an `offer_failed`.
const RING_ALL: usize = 5;
const GATEWAYS: [&str; 4] = ["telecom-1", "telecom-2", "unicom", "mobile"];
const FIRST_AGENT: usize = 1000;
const CDR_BATCH: usize = 5_000;
const EVENT_BATCH: usize = 20_000;
const STATE_BATCH: usize = 10_000;
const DAYS: i64 = 365;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Calls per hour of the day (relative): busy 9-18 h.
const HOUR_WEIGHTS: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4.0, 8.0, 10.0, 10.0, 7.0, 8.0, 10.0, 10.0, 9.0, 8.0,
    4.0, 2.5, 1.8, 1.2, 0.8, 0.4,
];

struct Args {
    database_url: String,
    fill: bool,
    store: bool,
    http: Option<String>,
    token: String,
    cdrs: usize,
    runs: usize,
    last_day: String,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        database_url: String::new(),
        fill: false,
        store: false,
        http: None,
        token: String::new(),
        cdrs: 5_000_000,
        runs: 5,
        last_day: String::new(),
        seed: 17,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_default();
        let num = |what: &str| val.parse::<usize>().map_err(|_| format!("{what} N"));
        match v[i].as_str() {
            "--fill" => {
                a.fill = true;
                i += 1;
                continue;
            }
            "--store" => {
                a.store = true;
                i += 1;
                continue;
            }
            // cargo bench passes --bench to every bench binary.
            "--bench" => {
                i += 1;
                continue;
            }
            "--database-url" => a.database_url = val.clone(),
            "--http" => a.http = Some(val.clone()),
            "--token" => a.token = val.clone(),
            "--cdrs" => a.cdrs = num("--cdrs")?,
            "--runs" => a.runs = num("--runs")?.max(1),
            "--last-day" => a.last_day = val.clone(),
            "--seed" => a.seed = num("--seed")? as u64,
            other => return Err(format!("unknown argument {other}")),
        }
        i += 2;
    }
    if (a.fill || a.store) && a.database_url.is_empty() {
        return Err("--database-url URL is required with --fill and --store".into());
    }
    if civil_of(&a.last_day).is_none() {
        return Err("--last-day YYYY-MM-DD is required".into());
    }
    Ok(a)
}

// Civil dates (proleptic Gregorian), days since 1970-01-01: H. Hinnant's
// algorithms, so that the dates need no time-zone library.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Days since the epoch of `YYYY-MM-DD`.
fn civil_of(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn date_of(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The local midnight (unix ms, the server's time zone) starting civil day
/// `days`: the day holding its UTC noon (right for offsets within ±12 h).
fn local_midnight(days: i64) -> i64 {
    day_start(days * DAY_MS + 12 * HOUR_MS)
}

/// The report windows: (name, first day, last day, from ms, to ms).
fn windows(last_day: i64) -> Vec<(&'static str, String, String, i64, i64)> {
    let to = next_day_start(local_midnight(last_day));
    [("month", 30), ("year", DAYS)]
        .into_iter()
        .map(|(name, days)| {
            let first = last_day - days + 1;
            (
                name,
                date_of(first),
                date_of(last_day),
                local_midnight(first),
                to,
            )
        })
        .collect()
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("reports_load: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reports_load: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(a)) {
        eprintln!("reports_load: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<(), String> {
    let last_day = civil_of(&a.last_day).unwrap_or_default();
    let mut kv: Vec<String> = Vec::new();
    if a.fill || a.store {
        let store = Store::open(&a.database_url)
            .await
            .map_err(|e| e.to_string())?;
        if a.fill {
            fill(&store, &a, last_day, &mut kv).await?;
        }
        if a.store {
            time_store(&store, &a, last_day, &mut kv).await?;
        }
        store.close().await;
    }
    if let Some(addr) = &a.http {
        time_http(addr, &a, last_day, &mut kv)?;
    }
    println!("{}", kv.join(" "));
    Ok(())
}

fn agents_for(cdrs: usize) -> usize {
    (cdrs / 10_000).clamp(10, 500)
}

/// An exponential draw with mean `mean`, at most `cap`.
fn exp(rng: &mut fastrand::Rng, mean: f64, cap: i64) -> i64 {
    let u = rng.f64().max(1e-12);
    ((-u.ln() * mean) as i64).min(cap)
}

/// An external number (one of a million customers).
fn external(rng: &mut fastrand::Rng) -> String {
    format!("13{:09}", rng.u64(0..1_000_000) * 7 + 100_000_000)
}

struct Fill {
    rng: fastrand::Rng,
    agents: usize,
    seq: u64,
    cdrs: Vec<Cdr>,
    events: Vec<QueueEvent>,
    surveys: Vec<Survey>,
    n_cdrs: u64,
    n_events: u64,
    n_surveys: u64,
}

impl Fill {
    fn agent(&mut self, queue: Option<usize>) -> String {
        let i = match queue {
            // The agents of queue q are those with i % 10 == q.
            Some(q) => {
                let per = (self.agents - q).div_ceil(QUEUES.len()).max(1);
                (q + QUEUES.len() * self.rng.usize(0..per)).min(self.agents - 1)
            }
            None => self.rng.usize(0..self.agents),
        };
        (FIRST_AGENT + i).to_string()
    }

    /// How many agents besides the one that answers an offer rings: the
    /// first RING_ALL queues ring three agents at once (ring-all), the
    /// others one (longest-idle).
    fn ring_others(&self, queue: usize) -> usize {
        if queue < RING_ALL {
            2
        } else {
            0
        }
    }

    /// One call starting at `start` (unix ms), with its queue events and
    /// survey answer.
    fn call(&mut self, start: i64) {
        self.seq += 1;
        let uid = format!("b{:010}", self.seq);
        let call_id = format!("c{:010}@bench", self.seq);
        let r = self.rng.u32(0..100);
        let mut cdr = Cdr {
            call_uid: Some(uid),
            in_progress: false,
            call_id: call_id.clone(),
            start_at: start,
            hangup_cause: "normal_clearing".into(),
            ..Cdr::default()
        };
        match r {
            // Through a queue: inbound (68 %) or from an extension (2 %).
            0..=69 => {
                let q = self.rng.usize(0..QUEUES.len());
                let queue = QUEUES[q].to_string();
                let inbound = r < 68;
                cdr.direction = if inbound { "inbound" } else { "internal" }.into();
                cdr.caller = if inbound {
                    external(&mut self.rng)
                } else {
                    self.agent(None)
                };
                cdr.callee = format!("94{q:02}");
                if inbound {
                    cdr.gateway = Some(GATEWAYS[self.rng.usize(0..GATEWAYS.len())].into());
                }
                cdr.queue = Some(queue.clone());
                // The queue answers at once (music on hold).
                let ring = self.rng.i64(0..=1);
                let answer = start + ring * 1000 + self.rng.i64(0..500);
                cdr.ring_secs = ring;
                cdr.answer_at = Some(answer);
                cdr.sip_code = 200;
                let event = |at: i64, kind: &str| QueueEvent {
                    at,
                    queue: queue.clone(),
                    call_id: call_id.clone(),
                    caller: cdr.caller.clone(),
                    kind: kind.into(),
                    ..QueueEvent::default()
                };
                self.events.push(event(answer, "joined"));
                if self.rng.u32(0..100) < 88 {
                    let wait = exp(&mut self.rng, 25.0, 900);
                    let talk = 5 + exp(&mut self.rng, 180.0, 7200);
                    let agent = self.agent(Some(q));
                    let agent_at = answer + wait * 1000;
                    let end = agent_at + talk * 1000;
                    if self.rng.u32(0..10) == 0 {
                        let other = self.agent(Some(q));
                        self.events.push(QueueEvent {
                            agent: Some(other.clone()),
                            ..event(answer + wait * 500, "offered")
                        });
                        self.events.push(QueueEvent {
                            agent: Some(other),
                            reason: Some("no-answer".into()),
                            ..event(answer + wait * 700, "offer_failed")
                        });
                    }
                    self.events.push(QueueEvent {
                        agent: Some(agent.clone()),
                        ..event((agent_at - 4000).max(answer), "offered")
                    });
                    // A ring-all queue rings others too; they lose the race.
                    for _ in 0..self.ring_others(q) {
                        let other = self.agent(Some(q));
                        self.events.push(QueueEvent {
                            agent: Some(other.clone()),
                            ..event((agent_at - 4000).max(answer), "offered")
                        });
                        self.events.push(QueueEvent {
                            agent: Some(other),
                            reason: Some("lost-race".into()),
                            ..event(agent_at, "offer_failed")
                        });
                    }
                    self.events.push(QueueEvent {
                        agent: Some(agent.clone()),
                        wait_secs: Some(wait),
                        ..event(agent_at, "answered")
                    });
                    self.events.push(QueueEvent {
                        agent: Some(agent.clone()),
                        talk_secs: Some(talk),
                        ..event(end, "ended")
                    });
                    if self.rng.u32(0..20) == 0 {
                        let score = match self.rng.u32(0..10) {
                            0..=6 => 1,
                            7..=8 => 2,
                            _ => 3,
                        };
                        self.surveys.push(Survey {
                            id: None,
                            call_id: call_id.clone(),
                            agent: Some(agent.clone()),
                            queue: Some(queue.clone()),
                            score,
                            at: end + 15_000,
                        });
                    }
                    cdr.agent = Some(agent);
                    cdr.end_at = end;
                    cdr.talk_secs = (end - answer + 500) / 1000;
                    cdr.wait_secs = wait;
                    cdr.hangup_by = if self.rng.bool() { "caller" } else { "callee" }.into();
                } else {
                    // Abandoned: no agent; the wait is the whole call.
                    let wait = exp(&mut self.rng, 40.0, 900);
                    let end = answer + wait * 1000;
                    if self.rng.bool() {
                        // Offered (to every ringing agent of a ring-all
                        // queue) when the caller hung up.
                        for _ in 0..=self.ring_others(q) {
                            let agent = self.agent(Some(q));
                            self.events.push(QueueEvent {
                                agent: Some(agent.clone()),
                                ..event(answer + wait * 500, "offered")
                            });
                            self.events.push(QueueEvent {
                                agent: Some(agent),
                                reason: Some("caller-gone".into()),
                                ..event(end, "offer_failed")
                            });
                        }
                    }
                    self.events.push(QueueEvent {
                        wait_secs: Some(wait),
                        reason: Some("caller_hangup".into()),
                        ..event(end, "abandoned")
                    });
                    cdr.end_at = end;
                    cdr.talk_secs = wait;
                    cdr.wait_secs = wait;
                    cdr.hangup_by = "caller".into();
                }
            }
            // Inbound straight to an extension (10 %), internal (8 %).
            70..=87 => {
                let inbound = r < 80;
                cdr.direction = if inbound { "inbound" } else { "internal" }.into();
                cdr.caller = if inbound {
                    external(&mut self.rng)
                } else {
                    self.agent(None)
                };
                cdr.callee = self.agent(None);
                if inbound {
                    cdr.gateway = Some(GATEWAYS[self.rng.usize(0..GATEWAYS.len())].into());
                }
                let ring = 2 + exp(&mut self.rng, 8.0, 60);
                if self.rng.u32(0..100) < 82 {
                    let talk = 3 + exp(&mut self.rng, 150.0, 7200);
                    let answer = start + ring * 1000;
                    cdr.answer_at = Some(answer);
                    cdr.end_at = answer + talk * 1000;
                    cdr.talk_secs = talk;
                    cdr.agent = Some(cdr.callee.clone());
                    cdr.sip_code = 200;
                    cdr.hangup_by = if self.rng.bool() { "caller" } else { "callee" }.into();
                } else {
                    cdr.end_at = start + ring * 1000;
                    cdr.sip_code = if self.rng.bool() { 486 } else { 480 };
                    cdr.hangup_cause = if cdr.sip_code == 486 {
                        "busy"
                    } else {
                        "no_answer"
                    }
                    .into();
                    cdr.hangup_by = "caller".into();
                }
                cdr.ring_secs = ring;
            }
            // Outbound (12 %): the agent is the extension that placed it.
            _ => {
                cdr.direction = "outbound".into();
                cdr.caller = self.agent(None);
                cdr.callee = external(&mut self.rng);
                cdr.gateway = Some(GATEWAYS[self.rng.usize(0..GATEWAYS.len())].into());
                cdr.agent = Some(cdr.caller.clone());
                let ring = 3 + exp(&mut self.rng, 12.0, 60);
                cdr.ring_secs = ring;
                if self.rng.u32(0..100) < 65 {
                    let talk = 3 + exp(&mut self.rng, 120.0, 3600);
                    let answer = start + ring * 1000;
                    cdr.answer_at = Some(answer);
                    cdr.end_at = answer + talk * 1000;
                    cdr.talk_secs = talk;
                    cdr.sip_code = 200;
                    cdr.hangup_by = if self.rng.bool() { "caller" } else { "callee" }.into();
                } else {
                    cdr.end_at = start + ring * 1000;
                    cdr.sip_code = 480;
                    cdr.hangup_cause = "no_answer".into();
                    cdr.hangup_by = "caller".into();
                }
            }
        }
        cdr.last_seen_at = Some(cdr.end_at);
        self.cdrs.push(cdr);
    }

    async fn flush(&mut self, store: &Store, all: bool) -> Result<(), String> {
        if self.cdrs.len() >= CDR_BATCH || (all && !self.cdrs.is_empty()) {
            store
                .upsert_cdrs(&self.cdrs)
                .await
                .map_err(|e| format!("upsert_cdrs: {e}"))?;
            self.n_cdrs += self.cdrs.len() as u64;
            self.cdrs.clear();
        }
        if self.events.len() >= EVENT_BATCH || (all && !self.events.is_empty()) {
            store
                .insert_queue_events(&self.events)
                .await
                .map_err(|e| format!("insert_queue_events: {e}"))?;
            self.n_events += self.events.len() as u64;
            self.events.clear();
        }
        for s in self.surveys.drain(..) {
            store
                .insert_survey(&s)
                .await
                .map_err(|e| format!("insert_survey: {e}"))?;
            self.n_surveys += 1;
        }
        Ok(())
    }
}

/// One agent's work-state log for the working day starting at local
/// midnight `day`, from `from` (the end of the previous period): logged
/// out until the shift, then 12 periods over about 9 hours.
fn shift(
    rng: &mut fastrand::Rng,
    agent: &str,
    day: i64,
    from: i64,
    out: &mut Vec<AgentStatePeriod>,
) -> i64 {
    let start = day + 8 * HOUR_MS + rng.i64(0..2 * HOUR_MS);
    let mut period = |state: &str, reason: &str, from: i64, to: i64| {
        out.push(AgentStatePeriod {
            agent: agent.to_string(),
            state: state.into(),
            reason: reason.into(),
            start_at: from,
            end_at: to,
        })
    };
    period("logged_out", "", from, start);
    let mut at = start;
    let plan: [(&str, &str); 12] = [
        ("ready", ""),
        ("ringing", ""),
        ("talking", ""),
        ("acw", ""),
        ("ready", ""),
        ("not_ready", "meeting"),
        ("talking", ""),
        ("not_ready", "lunch"),
        ("ready", ""),
        ("idle", ""),
        ("talking", ""),
        ("not_ready", "training"),
    ];
    for (state, reason) in plan {
        let len = match state {
            "ringing" => rng.i64(60_000..600_000),
            "acw" => rng.i64(300_000..1_800_000),
            "not_ready" if reason == "lunch" => rng.i64(1_800_000..3_600_000),
            "not_ready" => rng.i64(600_000..2_400_000),
            "idle" => rng.i64(60_000..900_000),
            _ => rng.i64(1_800_000..5_400_000),
        };
        period(state, reason, at, at + len);
        at += len;
    }
    at
}

async fn fill(store: &Store, a: &Args, last_day: i64, kv: &mut Vec<String>) -> Result<(), String> {
    let agents = agents_for(a.cdrs);
    let tickets = a.cdrs / 100;
    let first_day = last_day - DAYS + 1;
    eprintln!(
        "filling: {} CDRs over {} to {}, {agents} agents, {tickets} tickets",
        a.cdrs,
        date_of(first_day),
        date_of(last_day)
    );
    let started = Instant::now();
    // Users bound to the agents' extensions, in 5 departments (the
    // reports name agents and group by department).
    let mut departments = Vec::new();
    for d in ["Sales", "Support", "Billing", "Tech", "Service"] {
        departments.push(
            store
                .create_department(&DepartmentFields {
                    name: d.into(),
                    parent_id: None,
                    grants: Vec::new(),
                })
                .await
                .map_err(|e| format!("create_department: {e}"))?,
        );
    }
    for i in 0..agents {
        let ext = (FIRST_AGENT + i).to_string();
        let id = store
            .create_user(
                &UserFields {
                    username: format!("agent{ext}"),
                    name: format!("Agent {ext}"),
                    is_agent: true,
                    extension: ext,
                    enabled: true,
                    ..UserFields::default()
                },
                "!bench",
                false,
            )
            .await
            .map_err(|e| format!("create_user: {e}"))?;
        store
            .set_user_departments(id, &[departments[i % departments.len()]])
            .await
            .map_err(|e| format!("set_user_departments: {e}"))?;
    }

    // Calls per day: weekdays 1, Saturday 0.45, Sunday 0.35 (1970-01-01
    // was a Thursday: weekday = (days + 3) % 7, Monday 0).
    let weight = |d: i64| match (d + 3).rem_euclid(7) {
        5 => 0.45,
        6 => 0.35,
        _ => 1.0,
    };
    let total_w: f64 = (first_day..=last_day).map(weight).sum();
    let hour_total: f64 = HOUR_WEIGHTS.iter().sum();
    let mut f = Fill {
        rng: fastrand::Rng::with_seed(a.seed),
        agents,
        seq: 0,
        cdrs: Vec::with_capacity(CDR_BATCH),
        events: Vec::with_capacity(EVENT_BATCH + 16),
        surveys: Vec::new(),
        n_cdrs: 0,
        n_events: 0,
        n_surveys: 0,
    };
    let mut carry = 0.0;
    let mut made = 0usize;
    let mut last_report = Instant::now();
    for d in first_day..=last_day {
        let midnight = local_midnight(d);
        let day_len = next_day_start(midnight) - midnight;
        carry += a.cdrs as f64 * weight(d) / total_w;
        let mut n = carry.floor() as usize;
        if d == last_day {
            n = a.cdrs - made;
        }
        carry -= n as f64;
        made += n;
        let mut starts: Vec<i64> = (0..n)
            .map(|_| {
                let mut x = f.rng.f64() * hour_total;
                let mut h = 0;
                while h < 23 && x >= HOUR_WEIGHTS[h] {
                    x -= HOUR_WEIGHTS[h];
                    h += 1;
                }
                (midnight + h as i64 * HOUR_MS + f.rng.i64(0..HOUR_MS)).min(midnight + day_len - 1)
            })
            .collect();
        starts.sort_unstable();
        for s in starts {
            f.call(s);
            if f.cdrs.len() >= CDR_BATCH {
                f.flush(store, false).await?;
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  {}: {} CDRs, {} queue events, {} surveys in {secs:.0} s ({:.0} CDRs/s)",
                date_of(d),
                f.n_cdrs,
                f.n_events,
                f.n_surveys,
                f.n_cdrs as f64 / secs
            );
            last_report = Instant::now();
        }
    }
    f.flush(store, true).await?;
    let calls_secs = started.elapsed().as_secs_f64();

    // The agents' work-state log, day by day.
    let states_started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(a.seed ^ 0x5eed);
    let mut since: Vec<i64> = vec![local_midnight(first_day); agents];
    let mut batch = Vec::with_capacity(STATE_BATCH + 64);
    let mut n_states = 0u64;
    for d in first_day..=last_day {
        let midnight = local_midnight(d);
        for (i, from) in since.iter_mut().enumerate() {
            // Five working days in seven, shifted per agent.
            if (d + i as i64).rem_euclid(7) >= 5 {
                continue;
            }
            let agent = (FIRST_AGENT + i).to_string();
            *from = shift(&mut rng, &agent, midnight, *from, &mut batch);
        }
        if batch.len() >= STATE_BATCH || d == last_day {
            store
                .insert_agent_states(&batch)
                .await
                .map_err(|e| format!("insert_agent_states: {e}"))?;
            n_states += batch.len() as u64;
            batch.clear();
        }
    }
    let states_secs = states_started.elapsed().as_secs_f64();

    // Tickets (created now, by the store).
    let tickets_started = Instant::now();
    let mut categories = Vec::new();
    for c in ["Complaint", "Repair", "Refund", "Question"] {
        categories.push(
            store
                .create_ticket_category(c)
                .await
                .map_err(|e| format!("create_ticket_category: {e}"))?,
        );
    }
    for t in 0..tickets {
        store
            .create_ticket(
                TicketFields {
                    title: format!("Ticket {t}"),
                    department_id: Some(departments[t % departments.len()]),
                    category_id: Some(categories[t % categories.len()]),
                    status: ["new", "replied", "closed", "reopened"][t % 4].into(),
                    phone: external(&mut rng),
                    ..TicketFields::default()
                },
                None,
            )
            .await
            .map_err(|e| format!("create_ticket: {e}"))?;
    }
    let tickets_secs = tickets_started.elapsed().as_secs_f64();
    let total = started.elapsed().as_secs_f64();
    let rows = f.n_cdrs + f.n_events + f.n_surveys + n_states;
    println!(
        "fill: {} CDRs + {} queue events + {} surveys in {calls_secs:.1} s \
         ({:.0} CDRs/s, {:.0} rows/s); {n_states} agent-state periods in {states_secs:.1} s; \
         {tickets} tickets in {tickets_secs:.1} s; total {total:.1} s ({:.0} rows/s)",
        f.n_cdrs,
        f.n_events,
        f.n_surveys,
        f.n_cdrs as f64 / calls_secs.max(1e-9),
        (f.n_cdrs + f.n_events + f.n_surveys) as f64 / calls_secs.max(1e-9),
        rows as f64 / total.max(1e-9),
    );
    kv.extend([
        format!("fill_s={total:.1}"),
        format!("cdrs={}", f.n_cdrs),
        format!("queue_events={}", f.n_events),
        format!("surveys={}", f.n_surveys),
        format!("agent_states={n_states}"),
        format!("tickets={tickets}"),
        format!(
            "fill_cdrs_per_s={:.0}",
            f.n_cdrs as f64 / calls_secs.max(1e-9)
        ),
    ]);
    Ok(())
}

/// min, median, max of `d`, ms.
fn stats(d: &mut [Duration]) -> (f64, f64, f64) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    (ms(d[0]), ms(d[d.len() / 2]), ms(d[d.len() - 1]))
}

fn print_row(
    what: &str,
    window: &str,
    rows: usize,
    d: &mut [Duration],
    kv: &mut Vec<String>,
    key: &str,
) {
    let (min, med, max) = stats(d);
    println!("  {what:<38} {window:<5} {rows:>8} rows  min {min:>8.1} ms  median {med:>8.1} ms  max {max:>8.1} ms");
    kv.push(format!("{key}_{window}_ms={med:.1}"));
}

async fn time_store(
    store: &Store,
    a: &Args,
    last_day: i64,
    kv: &mut Vec<String>,
) -> Result<(), String> {
    println!("store functions, in process ({} runs each):", a.runs);
    const INBOUND: [&str; 3] = ["inbound", "inbound_queue", "internal_queue"];
    const QUEUE_KINDS: [&str; 2] = ["inbound_queue", "internal_queue"];
    let err = |what: &'static str| move |e: store::StoreError| format!("{what}: {e}");
    for (window, _, _, from, to) in windows(last_day) {
        let calls = |kinds: &[&str], by_day: bool, lost: Option<bool>| RollupQuery {
            from,
            to,
            by_day,
            agent: None,
            queue: None,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            lost,
            collapse: by_day,
        };
        // (label, key); each closure runs the store calls of one report.
        let names: [(&str, &str); 10] = [
            ("agent_call_totals (traffic)", "s_traffic"),
            ("agent_call_totals by day", "s_traffic_by_day"),
            ("agent_call_totals inbound kinds", "s_inbound"),
            ("agent_call_totals outbound", "s_outbound"),
            ("agent_state_totals (work-time)", "s_work_time"),
            ("survey_totals + taken (satisfaction)", "s_satisfaction"),
            ("hourly_call_totals (hourly)", "s_hourly"),
            ("queue_counts 20 s/5 s (service level)", "s_service_level"),
            ("queue_counts per day", "s_service_level_by_day"),
            ("ticket_counts (tickets)", "s_tickets"),
        ];
        for (i, (label, key)) in names.iter().enumerate() {
            let mut times = Vec::with_capacity(a.runs);
            let mut rows = 0;
            for _ in 0..a.runs {
                let t = Instant::now();
                rows = match i {
                    0 => store
                        .agent_call_totals(&calls(&[], false, None))
                        .await
                        .map_err(err("agent_call_totals"))?
                        .len(),
                    1 => store
                        .agent_call_totals(&calls(&[], true, None))
                        .await
                        .map_err(err("agent_call_totals"))?
                        .len(),
                    2 => store
                        .agent_call_totals(&calls(&INBOUND, false, None))
                        .await
                        .map_err(err("agent_call_totals"))?
                        .len(),
                    3 => store
                        .agent_call_totals(&calls(&["outbound"], false, None))
                        .await
                        .map_err(err("agent_call_totals"))?
                        .len(),
                    4 => store
                        .agent_state_totals(from, to, false, None)
                        .await
                        .map_err(err("agent_state_totals"))?
                        .len(),
                    5 => {
                        let s = store
                            .survey_totals(from, to, false, None)
                            .await
                            .map_err(err("survey_totals"))?;
                        let c = store
                            .agent_call_totals(&calls(&QUEUE_KINDS, false, Some(false)))
                            .await
                            .map_err(err("agent_call_totals"))?;
                        s.len() + c.len()
                    }
                    6 => store
                        .hourly_call_totals(from, to)
                        .await
                        .map_err(err("hourly_call_totals"))?
                        .len(),
                    7 => store
                        .queue_counts(from, to, 20, 5, None)
                        .await
                        .map_err(err("queue_counts"))?
                        .len(),
                    8 => {
                        // The zone's offset east of UTC (mod a day: the
                        // same day boundaries).
                        let offset = (DAY_MS - from.rem_euclid(DAY_MS)) % DAY_MS;
                        store
                            .queue_counts(from, to, 20, 5, Some(offset))
                            .await
                            .map_err(err("queue_counts"))?
                            .len()
                    }
                    _ => store
                        .ticket_counts(&TicketReportQuery {
                            from,
                            to,
                            ..TicketReportQuery::default()
                        })
                        .await
                        .map_err(err("ticket_counts"))?
                        .len(),
                };
                times.push(t.elapsed());
            }
            print_row(label, window, rows, &mut times, kv, key);
        }
    }
    Ok(())
}

/// GET `path` on `addr` with the token: (status, body length).
fn http_get(addr: &str, token: &str, path: &str) -> Result<(u16, usize, String), String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .map_err(|e| format!("read {path}: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{path}: no HTTP status"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.len(), body.chars().take(300).collect()))
}

/// Every report over HTTP with each grouping it offers (the default
/// first): the eight reports as the web names them, and the service level
/// per queue or per queue and day.
fn reports_and_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut all: Vec<(&'static str, Vec<&'static str>)> = Report::ALL
        .into_iter()
        .map(|r| (r.name(), r.groups().iter().map(|g| g.name()).collect()))
        .collect();
    all.push(("service-level", vec!["queue", "day"]));
    all
}

fn time_http(addr: &str, a: &Args, last_day: i64, kv: &mut Vec<String>) -> Result<(), String> {
    println!(
        "GET /api/reports/NAME?from=&to=&format=json on {addr} ({} runs each):",
        a.runs
    );
    let mut missing: Vec<&str> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut worst = [(0.0f64, String::new()), (0.0f64, String::new())];
    for (w, (window, first, last, _, _)) in windows(last_day).into_iter().enumerate() {
        for (name, group) in reports_and_groups()
            .into_iter()
            .flat_map(|(name, groups)| groups.into_iter().map(move |g| (name, g)))
        {
            if missing.contains(&name) {
                continue;
            }
            let path =
                format!("/api/reports/{name}?from={first}&to={last}&group={group}&format=json");
            let mut times = Vec::with_capacity(a.runs);
            let mut size = 0;
            let mut bad = None;
            for _ in 0..a.runs {
                let t = Instant::now();
                let (status, len, start) = http_get(addr, &a.token, &path)?;
                times.push(t.elapsed());
                if status != 200 {
                    bad = Some((status, start));
                    break;
                }
                size = len;
            }
            match bad {
                Some((404, _)) => {
                    println!("  {name:<14} missing (404)");
                    missing.push(name);
                }
                Some((status, body)) => {
                    println!("  {name:<14} {group:<10} {window:<5} FAILED: {status} {body}");
                    failed.push(format!("{name}/{group}:{status}"));
                }
                None => {
                    let (min, med, max) = stats(&mut times);
                    println!(
                        "  {name:<14} {group:<10} {window:<5} {:>9} bytes  min {min:>8.1} ms  median {med:>8.1} ms  max {max:>8.1} ms",
                        size
                    );
                    if med > worst[w].0 {
                        worst[w] = (med, format!("{name}/{group}"));
                    }
                    kv.push(format!(
                        "{}_{group}_{window}_ms={med:.1}",
                        name.replace('-', "_")
                    ));
                }
            }
        }
    }
    for (w, window) in ["month", "year"].iter().enumerate() {
        kv.push(format!("slowest_{window}_ms={:.1}", worst[w].0));
        kv.push(format!("slowest_{window}={}", worst[w].1));
    }
    if !missing.is_empty() {
        println!("missing reports (404): {}", missing.join(", "));
        kv.push(format!("missing={}", missing.join(",")));
    }
    if !failed.is_empty() {
        println!("{}", kv.join(" "));
        return Err(format!("reports answered an error: {}", failed.join(", ")));
    }
    Ok(())
}
