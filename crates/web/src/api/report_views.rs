//! The manual's eight reports (11.3): what each asks for, how its rows are
//! folded from the roll-ups (`store::report_queries`) and the ticket counts
//! (`store::ticket_report`), and the table every output is written from
//! (JSON, CSV, Excel, the page).
//!
//! | URL name | Manual | Rows |
//! |---|---|---|
//! | `traffic` | 话务统计报表 | group key, call kind, lost (呼损 0/1) |
//! | `agent-traffic` | 坐席话务报表 | group key, lost; calls nobody took left out |
//! | `work-time` | 工作统计报表 | group key: seconds per work state |
//! | `inbound` | 呼入统计报表 | group key: kinds inbound, inbound_queue, internal_queue |
//! | `outbound` | 呼出统计报表 | group key: kind outbound |
//! | `satisfaction` | 满意度统计报表 | group key: survey scores 1/2/3 and unrated |
//! | `hourly` | 话务情况统计 | hour of day 0-23 (or day and hour) |
//! | `tickets` | 工单情况统计 | period, department or type: tickets per status |
//!
//! The group key is the first column: an agent (its extension, with the
//! username of the user bound to it), a queue, a department (the agent's
//! user's first department by name), a day (`YYYY-MM-DD`), a week (ISO,
//! starting Monday: `YYYY-Www`) or a month (`YYYY-MM`). The call reports
//! read daily roll-ups, so their window is widened to whole local days.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Local, TimeZone, Timelike};
use serde_json::json;
use store::rollup::CallSums;

use super::records::BadFilter;
use crate::form::Fields;

/// One of the eight reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// 话务统计报表.
    Traffic,
    /// 坐席话务报表.
    AgentTraffic,
    /// 工作统计报表.
    WorkTime,
    /// 呼入统计报表.
    Inbound,
    /// 呼出统计报表.
    Outbound,
    /// 满意度统计报表.
    Satisfaction,
    /// 话务情况统计.
    Hourly,
    /// 工单情况统计.
    Tickets,
}

/// What the first column of a report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The agent (extension).
    Agent,
    /// The queue.
    Queue,
    /// The agent's department (tickets: the ticket's).
    Department,
    /// A local day.
    Day,
    /// An ISO week (Monday to Sunday).
    Week,
    /// A month.
    Month,
    /// The hour of the day (the hourly report).
    Hour,
    /// The ticket type.
    Type,
}

impl Group {
    /// Its spelling in `group=`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Agent => "agent",
            Group::Queue => "queue",
            Group::Department => "department",
            Group::Day => "day",
            Group::Week => "week",
            Group::Month => "month",
            Group::Hour => "hour",
            Group::Type => "type",
        }
    }

    fn is_period(self) -> bool {
        matches!(self, Group::Day | Group::Week | Group::Month)
    }
}

/// The call kinds of the inbound report: the manual's 呼入 counts calls
/// from inside that went to a queue too (its 101 takes 527 inbound calls:
/// the 505 内线转队列 and 22 外线转队列 of its traffic report).
pub const INBOUND_KINDS: [&str; 3] = ["inbound", "inbound_queue", "internal_queue"];
/// The kinds a survey follows (only a queue's calls are surveyed).
const QUEUE_KINDS: [&str; 2] = ["internal_queue", "inbound_queue"];
/// The call kinds, in the order the hourly report's columns give them.
pub const KINDS: [&str; 5] = [
    "internal",
    "inbound",
    "outbound",
    "internal_queue",
    "inbound_queue",
];
/// The break reasons of `not_ready` the work-time report has a column
/// for; any other is counted as `other`.
pub const REASONS: [&str; 4] = ["rest", "meal", "meeting", "training"];
/// The ticket statuses, in the ticket report's column order.
pub const TICKET_STATUSES: [&str; 4] = ["new", "replied", "closed", "reopened"];
/// Survey scores, as the engine's survey stores them
/// (`engine::apps::queue::run_survey`: the caller presses 1 satisfied, 2
/// neutral, 3 unsatisfied).
pub const SCORE_SATISFIED: i32 = 1;
/// See [`SCORE_SATISFIED`].
pub const SCORE_NEUTRAL: i32 = 2;
/// See [`SCORE_SATISFIED`].
pub const SCORE_UNSATISFIED: i32 = 3;

impl Report {
    /// Every report, in the menu's order.
    pub const ALL: [Report; 8] = [
        Report::Traffic,
        Report::AgentTraffic,
        Report::WorkTime,
        Report::Inbound,
        Report::Outbound,
        Report::Satisfaction,
        Report::Hourly,
        Report::Tickets,
    ];

    /// Its URL name (`/api/reports/NAME`, `/reports/NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Report::Traffic => "traffic",
            Report::AgentTraffic => "agent-traffic",
            Report::WorkTime => "work-time",
            Report::Inbound => "inbound",
            Report::Outbound => "outbound",
            Report::Satisfaction => "satisfaction",
            Report::Hourly => "hourly",
            Report::Tickets => "tickets",
        }
    }

    /// The report named `name`.
    pub fn of(name: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Its message keys' stem (`reports.<stem>_title`).
    pub fn key(self) -> &'static str {
        match self {
            Report::Traffic => "traffic",
            Report::AgentTraffic => "agent_traffic",
            Report::WorkTime => "work_time",
            Report::Inbound => "inbound",
            Report::Outbound => "outbound",
            Report::Satisfaction => "satisfaction",
            Report::Hourly => "hourly",
            Report::Tickets => "tickets",
        }
    }

    /// The groupings it offers, the default first.
    pub fn groups(self) -> &'static [Group] {
        use Group::*;
        match self {
            Report::Traffic | Report::AgentTraffic | Report::Inbound | Report::Satisfaction => {
                &[Agent, Queue, Department, Day, Week, Month]
            }
            Report::WorkTime | Report::Outbound => &[Agent, Department, Day, Week, Month],
            Report::Hourly => &[Hour, Day],
            Report::Tickets => &[Day, Week, Month, Department, Type],
        }
    }

    /// The filters it takes besides the window and the grouping.
    pub fn filters(self) -> &'static [&'static str] {
        match self {
            Report::Traffic | Report::AgentTraffic | Report::Inbound => {
                &["status", "agent", "queue"]
            }
            Report::Outbound => &["status", "agent"],
            Report::WorkTime => &["agent"],
            Report::Satisfaction => &["agent", "queue"],
            Report::Hourly => &["queue"],
            Report::Tickets => &["department", "type", "status"],
        }
    }

    /// Whether it reads the daily roll-ups (its window is whole days).
    fn daily(self) -> bool {
        !matches!(self, Report::Hourly | Report::Tickets)
    }
}

/// What a report request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportQuery {
    /// Which report.
    pub report: Report,
    /// Start (unix ms; a local midnight for the daily reports).
    pub from: i64,
    /// End, exclusive (likewise).
    pub to: i64,
    /// The first column.
    pub group: Group,
    /// Call reports: only lost calls (`Some(true)`) or answered ones.
    pub lost: Option<bool>,
    /// Only this agent.
    pub agent: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Tickets: only this department.
    pub department: Option<i64>,
    /// Tickets: only this type.
    pub category: Option<i64>,
    /// Tickets: only this status.
    pub ticket_status: Option<String>,
}

/// Limits `rq` to the data `who` may see: without `records:all` the
/// reports that count per agent count the user's own extension only (an
/// agent's own figures; a user with no extension sees none), as the call
/// history does. The hourly and ticket reports are the floor's totals.
pub fn scoped(mut rq: ReportQuery, who: &crate::auth::Identity) -> ReportQuery {
    if rq.report.filters().contains(&"agent") && !who.allows(crate::auth::permissions::RECORDS_ALL)
    {
        let own = who.user.extension.trim();
        // "" would mean every agent; "-" is no extension's name (they are
        // digits) and no agent's.
        rq.agent = Some(if own.is_empty() { "-" } else { own }.to_string());
    }
    rq
}

/// The query of `report` from a request's `from`, `to`, `group` and
/// filters; the first bad one otherwise (unknown groups and filter values
/// are refused, not ignored).
pub fn report_query_of(report: Report, q: &Fields) -> Result<ReportQuery, BadFilter> {
    let (mut from, mut to) = super::reports::window_of(q)?;
    if report.daily() {
        from = store::rollup::day_start(from);
        let last = store::rollup::day_start(to - 1);
        to = store::rollup::next_day_start(last);
    } else if report == Report::Hourly {
        from = store::rollup::hour_start(from);
        to = store::rollup::hour_start(to - 1) + store::rollup::HOUR_MS;
    }
    let groups = report.groups();
    let group = match q.text("group").as_str() {
        "" => groups[0],
        g => *groups.iter().find(|x| x.name() == g).ok_or_else(|| {
            let names: Vec<&str> = groups.iter().map(|g| g.name()).collect();
            BadFilter::new("group", &names.join(", "), "records.bad_value")
        })?,
    };
    let filters = report.filters();
    let text = |field: &'static str| -> Result<Option<String>, BadFilter> {
        let v = q.text(field);
        if v.is_empty() || !filters.contains(&field) {
            return Ok(None);
        }
        if v.chars().count() > 64 || v.chars().any(char::is_control) {
            return Err(BadFilter::new(
                field,
                "at most 64 characters",
                "records.bad_value",
            ));
        }
        Ok(Some(v))
    };
    let id = |field: &'static str| -> Result<Option<i64>, BadFilter> {
        match text(field)? {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .map(Some)
                .ok_or_else(|| BadFilter::new(field, "an id", "records.bad_value")),
        }
    };
    let status = text("status")?;
    let (lost, ticket_status) = match (report, status.as_deref()) {
        (_, None | Some("all")) => (None, None),
        (Report::Tickets, Some(s)) if TICKET_STATUSES.contains(&s) => (None, Some(s.to_string())),
        (Report::Tickets, Some(_)) => {
            return Err(BadFilter::new(
                "status",
                "all, new, replied, closed or reopened",
                "records.bad_value",
            ))
        }
        (_, Some("answered")) => (Some(false), None),
        (_, Some("lost")) => (Some(true), None),
        (_, Some(_)) => {
            return Err(BadFilter::new(
                "status",
                "all, answered or lost",
                "records.bad_value",
            ))
        }
    };
    Ok(ReportQuery {
        report,
        from,
        to,
        group,
        lost,
        agent: text("agent")?,
        queue: text("queue")?,
        department: id("department")?,
        category: id("type")?,
        ticket_status,
    })
}

/// A day's label: `YYYY-MM-DD` of the local midnight `day` (unix ms).
pub fn day_label(day: i64) -> String {
    local(day).format("%Y-%m-%d").to_string()
}

/// The ISO week holding `day`: `YYYY-Www` (weeks start on Monday; the
/// year is the week's, as ISO 8601 counts them).
pub fn week_label(day: i64) -> String {
    let w = local(day).iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The month holding `day`: `YYYY-MM`.
pub fn month_label(day: i64) -> String {
    local(day).format("%Y-%m").to_string()
}

/// The hour of the day (0-23, local) of the instant `ms`.
pub fn hour_of_day(ms: i64) -> u32 {
    local(ms).hour()
}

fn local(ms: i64) -> chrono::DateTime<Local> {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(|| Local.timestamp_millis_opt(0).unwrap())
}

/// Who is behind the agents' extensions: the user bound to each, and that
/// user's first department by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    /// Extension → username.
    pub users: HashMap<String, String>,
    /// Extension → department name.
    pub departments: HashMap<String, String>,
}

impl Directory {
    /// The username of extension `ext` ("" for none).
    pub fn username(&self, ext: &str) -> String {
        self.users.get(ext).cloned().unwrap_or_default()
    }

    /// The department of extension `ext` ("" for none).
    pub fn department(&self, ext: &str) -> String {
        self.departments.get(ext).cloned().unwrap_or_default()
    }

    /// Reads the users and departments.
    pub async fn load(store: &store::Store) -> Result<Directory, store::StoreError> {
        let mut dir = Directory::default();
        let users = store.all_users().await?;
        let mut by_id: HashMap<i64, String> = HashMap::new();
        for u in users.iter().filter(|u| !u.extension.is_empty()) {
            dir.users.insert(u.extension.clone(), u.username.clone());
            by_id.insert(u.id, u.extension.clone());
        }
        let mut departments = store.list_departments().await?;
        departments.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        for d in departments {
            for m in store.department_members(d.id).await? {
                if let Some(ext) = by_id.get(&m.id) {
                    dir.departments
                        .entry(ext.clone())
                        .or_insert_with(|| d.name.clone());
                }
            }
        }
        Ok(dir)
    }
}

/// The group key of a row of `agent`, `queue` and `day` (a local
/// midnight, when read per day).
pub fn key_of(group: Group, dir: &Directory, agent: &str, queue: &str, day: Option<i64>) -> String {
    match group {
        Group::Agent => agent.to_string(),
        Group::Queue => queue.to_string(),
        Group::Department => dir.department(agent),
        Group::Day => day.map(day_label).unwrap_or_default(),
        Group::Week => day.map(week_label).unwrap_or_default(),
        Group::Month => day.map(month_label).unwrap_or_default(),
        Group::Hour => day.map(|d| hour_of_day(d).to_string()).unwrap_or_default(),
        Group::Type => String::new(),
    }
}

/// What a column holds: how each output writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text as is.
    Text(String),
    /// A code the page translates (`reports.<prefix><code>`); the code
    /// elsewhere.
    Code(&'static str, String),
    /// A count.
    Int(i64),
    /// Seconds (the page writes them as hours, minutes and seconds).
    Secs(i64),
    /// An average in seconds (none without calls), two decimals.
    Avg(Option<f64>),
    /// A percentage (0-100, none without a base), two decimals.
    Pct(Option<f64>),
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

impl Cell {
    /// As JSON: numbers as numbers (averages and percentages rounded to
    /// two decimals), null for no value.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) | Cell::Code(_, s) => json!(s),
            Cell::Int(n) | Cell::Secs(n) => json!(n),
            Cell::Avg(v) | Cell::Pct(v) => json!(v.map(round2)),
        }
    }

    /// As a spreadsheet cell: numbers in full, averages and percentages
    /// with two decimals, "" for no value.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Code(_, s) => s.clone(),
            Cell::Int(n) | Cell::Secs(n) => n.to_string(),
            Cell::Avg(v) | Cell::Pct(v) => v.map(|v| format!("{v:.2}")).unwrap_or_default(),
        }
    }
}

/// Seconds as the page shows them: `1:02:03` or `2:03`.
pub fn hms(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A report's result: named columns and rows of cells, and the chart's
/// bars (label, value, lower part drawn as failures).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names (the JSON keys and spreadsheet headers).
    pub columns: Vec<&'static str>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// The chart.
    pub chart: Vec<crate::charts::Bar>,
    /// What the chart's bars count (a `reports.` message key).
    pub chart_unit: &'static str,
}

impl Table {
    /// The rows as JSON objects.
    pub fn json_rows(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    self.columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| (c.to_string(), v.json()))
                        .collect(),
                )
            })
            .collect()
    }
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn pct(a: i64, b: i64) -> Option<f64> {
    ratio(a * 100, b)
}

/// The key columns: the group's, and the username beside an agent.
fn key_columns(group: Group, with_user: bool) -> Vec<&'static str> {
    let mut c = vec![group.name()];
    if group == Group::Agent && with_user {
        c.push("username");
    }
    c
}

fn key_cells(group: Group, dir: &Directory, key: &str, with_user: bool) -> Vec<Cell> {
    let mut c = vec![Cell::Text(key.to_string())];
    if group == Group::Agent && with_user {
        c.push(Cell::Text(dir.username(key)));
    }
    c
}

/// Adds `value` (and `failed`) to the chart bar labelled `label`, keeping
/// the bars in their first order.
fn bar(chart: &mut Vec<crate::charts::Bar>, label: &str, value: i64, failed: i64) {
    match chart.iter_mut().find(|b| b.label == label) {
        Some(b) => {
            b.value += value;
            b.failed += failed;
        }
        None => chart.push(crate::charts::Bar {
            label: label.to_string(),
            value,
            failed,
        }),
    }
}

/// The traffic report (话务统计报表): per group key, call kind and lost,
/// calls, talk seconds, average talk and ring.
pub fn traffic(group: Group, dir: &Directory, rows: &[store::AgentCallRow]) -> Table {
    let mut sums: BTreeMap<(String, String, bool), CallSums> = BTreeMap::new();
    for r in rows {
        let key = key_of(group, dir, &r.agent, &r.queue, r.day);
        sums.entry((key, r.kind.clone(), r.lost))
            .or_default()
            .add(&r.sums);
    }
    let mut t = Table {
        columns: key_columns(group, true),
        chart_unit: "reports.unit_calls",
        ..Table::default()
    };
    t.columns.extend([
        "kind",
        "lost",
        "calls",
        "talk_s",
        "avg_talk_s",
        "avg_ring_s",
    ]);
    for ((key, kind, lost), s) in sums {
        bar(&mut t.chart, &key, s.calls, if lost { s.calls } else { 0 });
        let mut row = key_cells(group, dir, &key, true);
        row.extend([
            Cell::Code("kind_", kind),
            Cell::Int(i64::from(lost)),
            Cell::Int(s.calls),
            Cell::Secs(s.talk_secs),
            Cell::Avg(ratio(s.talk_secs, s.calls)),
            Cell::Avg(ratio(s.ring_secs, s.calls)),
        ]);
        t.rows.push(row);
    }
    t
}

/// The agent traffic report (坐席话务报表): per group key and lost, the
/// same figures; calls nobody took (no agent) are not an agent's.
pub fn agent_traffic(group: Group, dir: &Directory, rows: &[store::AgentCallRow]) -> Table {
    let mut sums: BTreeMap<(String, bool), CallSums> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.agent.is_empty()) {
        let key = key_of(group, dir, &r.agent, &r.queue, r.day);
        sums.entry((key, r.lost)).or_default().add(&r.sums);
    }
    let mut t = Table {
        columns: key_columns(group, true),
        chart_unit: "reports.unit_calls",
        ..Table::default()
    };
    t.columns
        .extend(["lost", "calls", "talk_s", "avg_talk_s", "avg_ring_s"]);
    for ((key, lost), s) in sums {
        bar(&mut t.chart, &key, s.calls, if lost { s.calls } else { 0 });
        let mut row = key_cells(group, dir, &key, true);
        row.extend([
            Cell::Int(i64::from(lost)),
            Cell::Int(s.calls),
            Cell::Secs(s.talk_secs),
            Cell::Avg(ratio(s.talk_secs, s.calls)),
            Cell::Avg(ratio(s.ring_secs, s.calls)),
        ]);
        t.rows.push(row);
    }
    t
}

/// The inbound and outbound reports (呼入/呼出统计报表): per group key,
/// calls, effective (answered) calls, talk seconds, average, longest and
/// shortest talk, longest and average ring. Averages are over every call,
/// as the manual's (its 101: 7 h 12 min 40 s over 527 calls, 49 s).
pub fn direction(group: Group, dir: &Directory, rows: &[store::AgentCallRow]) -> Table {
    let mut sums: BTreeMap<String, (CallSums, i64)> = BTreeMap::new();
    for r in rows {
        let key = key_of(group, dir, &r.agent, &r.queue, r.day);
        let e = sums.entry(key).or_default();
        e.0.add(&r.sums);
        if !r.lost {
            e.1 += r.sums.calls;
        }
    }
    let mut t = Table {
        columns: key_columns(group, true),
        chart_unit: "reports.unit_calls",
        ..Table::default()
    };
    t.columns.extend([
        "calls",
        "answered",
        "talk_s",
        "avg_talk_s",
        "max_talk_s",
        "min_talk_s",
        "max_ring_s",
        "avg_ring_s",
    ]);
    for (key, (s, answered)) in sums {
        bar(&mut t.chart, &key, s.calls, s.calls - answered);
        let mut row = key_cells(group, dir, &key, true);
        row.extend([
            Cell::Int(s.calls),
            Cell::Int(answered),
            Cell::Secs(s.talk_secs),
            Cell::Avg(ratio(s.talk_secs, s.calls)),
            Cell::Secs(s.max_talk_secs),
            Cell::Secs(s.min_talk_secs),
            Cell::Secs(s.max_ring_secs),
            Cell::Avg(ratio(s.ring_secs, s.calls)),
        ]);
        t.rows.push(row);
    }
    t
}

/// The work-time report's state columns, in order (`total_s` follows).
pub const WORK_COLUMNS: [&str; 11] = [
    "ready_s",
    "not_ready_s",
    "not_ready_rest_s",
    "not_ready_meal_s",
    "not_ready_meeting_s",
    "not_ready_training_s",
    "not_ready_other_s",
    "idle_s",
    "ringing_s",
    "talking_s",
    "acw_s",
];

/// The work-time report (工作统计报表): per group key, seconds ready, not
/// ready (in all and per break reason), idle, ringing, talking, in
/// after-call work, and their total (logged-out time is not work).
pub fn work_time(group: Group, dir: &Directory, rows: &[store::StateRow]) -> Table {
    let mut sums: BTreeMap<String, [i64; 11]> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.state != "logged_out") {
        let key = key_of(group, dir, &r.agent, "", r.day);
        let e = sums.entry(key).or_default();
        let column = match r.state.as_str() {
            "ready" => Some(0),
            "not_ready" => {
                e[1] += r.secs;
                Some(
                    REASONS
                        .iter()
                        .position(|x| *x == r.reason)
                        .map_or(6, |i| i + 2),
                )
            }
            "idle" => Some(7),
            "ringing" => Some(8),
            "talking" => Some(9),
            "acw" => Some(10),
            _ => None,
        };
        if let Some(c) = column {
            e[c] += r.secs;
        }
    }
    let mut t = Table {
        columns: key_columns(group, true),
        chart_unit: "reports.unit_minutes",
        ..Table::default()
    };
    t.columns.extend(WORK_COLUMNS);
    t.columns.push("total_s");
    for (key, s) in sums {
        // The reasons are a breakdown of not_ready: not added twice.
        let total = s[0] + s[1] + s[7] + s[8] + s[9] + s[10];
        bar(&mut t.chart, &key, total / 60, 0);
        let mut row = key_cells(group, dir, &key, true);
        row.extend(s.iter().map(|v| Cell::Secs(*v)));
        row.push(Cell::Secs(total));
        t.rows.push(row);
    }
    t
}

/// The satisfaction report (满意度统计报表): per group key, the survey's
/// satisfied (1), neutral (2) and unsatisfied (3) answers; unrated: the
/// queue calls the agents took that have no answer (a queue without a
/// survey leaves all its calls unrated); the total and each share of it.
/// `calls` are the answered queue calls, `queue` the filter.
pub fn satisfaction(
    group: Group,
    dir: &Directory,
    surveys: &[store::SurveyRow],
    calls: &[store::AgentCallRow],
    queue: Option<&str>,
) -> Table {
    // [satisfied, neutral, unsatisfied, calls]
    let mut sums: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for s in surveys
        .iter()
        .filter(|s| queue.is_none_or(|q| q == s.queue))
    {
        let column = match s.score {
            SCORE_SATISFIED => 0,
            SCORE_NEUTRAL => 1,
            SCORE_UNSATISFIED => 2,
            _ => continue,
        };
        let key = key_of(group, dir, &s.agent, &s.queue, s.day);
        sums.entry(key).or_default()[column] += s.answers;
    }
    for c in calls.iter().filter(|c| !c.lost && !c.agent.is_empty()) {
        let key = key_of(group, dir, &c.agent, &c.queue, c.day);
        sums.entry(key).or_default()[3] += c.sums.calls;
    }
    let mut t = Table {
        columns: key_columns(group, true),
        chart_unit: "reports.unit_answers",
        ..Table::default()
    };
    t.columns.extend([
        "satisfied",
        "neutral",
        "unsatisfied",
        "unrated",
        "total",
        "satisfied_pct",
        "neutral_pct",
        "unsatisfied_pct",
    ]);
    for (key, [sat, neu, uns, taken]) in sums {
        let rated = sat + neu + uns;
        let unrated = (taken - rated).max(0);
        let total = rated + unrated;
        bar(&mut t.chart, &key, rated, uns);
        let mut row = key_cells(group, dir, &key, true);
        row.extend([
            Cell::Int(sat),
            Cell::Int(neu),
            Cell::Int(uns),
            Cell::Int(unrated),
            Cell::Int(total),
            Cell::Pct(pct(sat, total)),
            Cell::Pct(pct(neu, total)),
            Cell::Pct(pct(uns, total)),
        ]);
        t.rows.push(row);
    }
    t
}

/// The hourly report (话务情况统计): per hour of the day (all 24, summed
/// over the window) or per day and hour (the hours with calls), calls of
/// each kind, answered, lost, talk seconds.
pub fn hourly(group: Group, rows: &[store::HourRow], queue: Option<&str>) -> Table {
    // [calls, per kind x5, answered, lost, talk]
    let mut sums: BTreeMap<(String, u32), [i64; 9]> = BTreeMap::new();
    if group == Group::Hour {
        for h in 0..24 {
            sums.insert((String::new(), h), [0; 9]);
        }
    }
    for r in rows.iter().filter(|r| queue.is_none_or(|q| q == r.queue)) {
        let day = if group == Group::Day {
            day_label(store::rollup::day_start(r.hour))
        } else {
            String::new()
        };
        let e = sums.entry((day, hour_of_day(r.hour))).or_default();
        e[0] += r.calls;
        if let Some(k) = KINDS.iter().position(|k| *k == r.kind) {
            e[1 + k] += r.calls;
        }
        e[if r.lost { 7 } else { 6 }] += r.calls;
        e[8] += r.talk_secs;
    }
    let mut t = Table {
        columns: if group == Group::Day {
            vec!["day", "hour"]
        } else {
            vec!["hour"]
        },
        chart_unit: "reports.unit_calls",
        ..Table::default()
    };
    t.columns.push("calls");
    t.columns.extend(KINDS);
    t.columns.extend(["answered", "lost", "talk_s"]);
    for ((day, hour), s) in sums {
        let label = if day.is_empty() {
            format!("{hour:02}")
        } else {
            format!("{} {hour:02}", day.get(5..).unwrap_or(&day))
        };
        bar(&mut t.chart, &label, s[0], s[7]);
        let mut row = Vec::new();
        if group == Group::Day {
            row.push(Cell::Text(day));
        }
        row.push(Cell::Int(i64::from(hour)));
        row.extend(s[..8].iter().map(|v| Cell::Int(*v)));
        row.push(Cell::Secs(s[8]));
        t.rows.push(row);
    }
    t
}

/// The ticket report (工单情况统计): per day, week, month, department or
/// type, tickets created, in all and per status now. `departments` and
/// `types` name the ids.
pub fn tickets(
    group: Group,
    rows: &[store::TicketDayCount],
    departments: &HashMap<i64, String>,
    types: &HashMap<i64, String>,
) -> Table {
    let mut sums: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    let name = |names: &HashMap<i64, String>, id: Option<i64>| {
        id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default()
    };
    for r in rows {
        let key = match group {
            Group::Department => name(departments, r.department_id),
            Group::Type => name(types, r.category_id),
            Group::Week => week_label(r.day),
            Group::Month => month_label(r.day),
            _ => day_label(r.day),
        };
        let e = sums.entry(key).or_default();
        e[0] += r.tickets;
        if let Some(i) = TICKET_STATUSES.iter().position(|s| *s == r.status) {
            e[1 + i] += r.tickets;
        }
    }
    let mut t = Table {
        columns: vec![group.name(), "tickets"],
        chart_unit: "reports.unit_tickets",
        ..Table::default()
    };
    t.columns.extend(TICKET_STATUSES);
    for (key, s) in sums {
        bar(&mut t.chart, &key, s[0], 0);
        let mut row = vec![Cell::Text(key)];
        row.extend(s.iter().map(|v| Cell::Int(*v)));
        t.rows.push(row);
    }
    t
}

/// Runs the report `q` asks for against the store.
pub async fn run(store: &store::Store, q: &ReportQuery) -> Result<Table, store::StoreError> {
    let by_day = q.group.is_period();
    let calls = |kinds: &[&str], lost: Option<bool>| store::RollupQuery {
        from: q.from,
        to: q.to,
        by_day,
        agent: q.agent.clone(),
        queue: q.queue.clone(),
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        lost,
        // Grouped by period, no report needs each agent's or queue's row.
        collapse: by_day,
    };
    let needs_dir = matches!(q.group, Group::Agent | Group::Department);
    let dir = if needs_dir && q.report != Report::Tickets && q.report != Report::Hourly {
        Directory::load(store).await?
    } else {
        Directory::default()
    };
    Ok(match q.report {
        Report::Traffic => traffic(
            q.group,
            &dir,
            &store.agent_call_totals(&calls(&[], q.lost)).await?,
        ),
        Report::AgentTraffic => agent_traffic(
            q.group,
            &dir,
            &store.agent_call_totals(&calls(&[], q.lost)).await?,
        ),
        Report::Inbound => direction(
            q.group,
            &dir,
            &store
                .agent_call_totals(&calls(&INBOUND_KINDS, q.lost))
                .await?,
        ),
        Report::Outbound => direction(
            q.group,
            &dir,
            &store
                .agent_call_totals(&calls(&["outbound"], q.lost))
                .await?,
        ),
        Report::WorkTime => work_time(
            q.group,
            &dir,
            &store
                .agent_state_totals(q.from, q.to, by_day, q.agent.as_deref())
                .await?,
        ),
        Report::Satisfaction => {
            let surveys = store
                .survey_totals(q.from, q.to, by_day, q.agent.as_deref())
                .await?;
            let taken = store
                .agent_call_totals(&calls(&QUEUE_KINDS, Some(false)))
                .await?;
            satisfaction(q.group, &dir, &surveys, &taken, q.queue.as_deref())
        }
        Report::Hourly => hourly(
            q.group,
            &store.hourly_call_totals(q.from, q.to).await?,
            q.queue.as_deref(),
        ),
        Report::Tickets => {
            let rows = store
                .ticket_counts(&store::TicketReportQuery {
                    from: q.from,
                    to: q.to,
                    department_id: q.department,
                    category_id: q.category,
                    status: q.ticket_status.clone(),
                })
                .await?;
            let departments = store
                .list_departments()
                .await?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect();
            let types = store
                .list_ticket_categories()
                .await?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect();
            tickets(q.group, &rows, &departments, &types)
        }
    })
}
