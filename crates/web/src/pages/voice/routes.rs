//! Routing rules (3.2.3 路由规则) and the "which rule matches" tester.
//!
//! Routes (view: `voice.routes:view`, change: `voice.routes:edit`):
//! - `GET /voice/routes?number=&at=`: the rules in matching order, and the
//!   tester: every rule's verdict on the number (`RouteTable::explain`) and
//!   what the engine would do, step by step (`router::route_at`);
//! - `GET /voice/routes/new`, `POST /voice/routes`: add a rule;
//! - `GET|POST /voice/routes/{id}`: edit a rule (the form shows the fields
//!   of the chosen type; without JavaScript it shows all of them and the
//!   server reads only those of the chosen type);
//! - `POST /voice/routes/{id}/delete`, `POST /voice/routes/{id}/move`
//!   (`dir=up|down`): remove, reorder.
//!
//! The whole list is checked with `RouteTable::new` first (so an invalid
//! regex or a duplicate order lands next to its field), then saved through
//! `SettingsAdmin::put_routes`, which also refuses unknown queues and menus.

use std::collections::BTreeMap;
use std::fmt;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use engine::callcenter_settings::CallcenterSettings;
use engine::routing::{
    AfterHours, Holiday, Pattern, Problem, RouteError, RouteTable, Rule, RuleKind, Schedule,
    Verdict, WeeklyHours,
};
use engine::Engine;
use minijinja::{context, Value};

use super::cc_forms::{
    engine_or_503, groups_view, is_storage, not_found, number, opt, optional_text, place_error,
    prompt_options, refusal, Errs, FieldSpec, FormPage, Refused,
};
use crate::auth::permissions::{ROUTES_EDIT, ROUTES_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/voice/routes", get(list))
        .route("/voice/routes/{id}", get(edit_form));
    let edit_routes = Router::new()
        .route("/voice/routes/new", get(new_form))
        .route("/voice/routes", post(create))
        .route("/voice/routes/{id}", post(update))
        .route("/voice/routes/{id}/delete", post(delete))
        .route("/voice/routes/{id}/move", post(move_rule));
    require(ROUTES_VIEW, view_routes).merge(require(ROUTES_EDIT, edit_routes))
}

/// The rule types, as the form's `type` values.
pub(crate) const KINDS: [&str; 6] = ["basic", "inbound", "outbound", "queue", "ivr", "robot"];

/// Weekdays as the office-hours fields name them.
pub(crate) const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub(crate) fn kind_code(k: &RuleKind) -> &'static str {
    match k {
        RuleKind::Basic { .. } => "basic",
        RuleKind::Inbound { .. } => "inbound",
        RuleKind::Outbound { .. } => "outbound",
        RuleKind::Queue { .. } => "queue",
        RuleKind::Ivr { .. } => "ivr",
        RuleKind::Robot { .. } => "robot",
    }
}

/// The rule form's fields, by group.
pub(crate) fn rule_groups(lang: Lang, prompts: &[Value]) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let kinds = KINDS
        .iter()
        .map(|k| opt(k, &lang.t(&format!("cc.route.kind.{k}"), &[])))
        .collect();
    let after = ["", "prompt", "target"]
        .iter()
        .map(|k| {
            opt(
                k,
                &lang.t(
                    &format!("cc.route.after.{}", if k.is_empty() { "none" } else { k }),
                    &[],
                ),
            )
        })
        .collect();
    let mut hours: Vec<FieldSpec> =
        vec![FieldSpec::new("schedule_on", "check").for_kind("inbound")];
    for (day, name) in DAYS.iter().zip([
        "hours_mon",
        "hours_tue",
        "hours_wed",
        "hours_thu",
        "hours_fri",
        "hours_sat",
        "hours_sun",
    ]) {
        let _ = day;
        hours.push(FieldSpec::new(name, "text").for_kind("inbound"));
    }
    hours.push(FieldSpec::new("holidays", "textarea").for_kind("inbound"));
    hours.push(
        FieldSpec::new("after_hours", "select")
            .options(after)
            .for_kind("inbound"),
    );
    hours.push(
        FieldSpec::new("after_hours_prompt", "prompt")
            .options(prompts.to_vec())
            .for_kind("inbound"),
    );
    hours.push(FieldSpec::new("after_hours_target", "text").for_kind("inbound"));
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("name", "text").required(),
                FieldSpec::new("order", "number").required(),
                FieldSpec::new("pattern", "text").required(),
                FieldSpec::new("type", "select").options(kinds),
                FieldSpec::new("enabled", "check"),
            ],
        ),
        (
            "target",
            vec![
                FieldSpec::new("basic_target", "text").for_kind("basic"),
                FieldSpec::new("target", "text")
                    .for_kind("inbound")
                    .required(),
                FieldSpec::new("gateway", "text")
                    .for_kind("outbound")
                    .required(),
                FieldSpec::new("strip_digits", "number").for_kind("outbound"),
                FieldSpec::new("strip_prefix", "text").for_kind("outbound"),
                FieldSpec::new("add_prefix", "text").for_kind("outbound"),
                FieldSpec::new("timeout_secs", "number").for_kind("outbound"),
                FieldSpec::new("record", "check").for_kind("outbound"),
                FieldSpec::new("queue", "text")
                    .for_kind("queue")
                    .required()
                    .list("cc-queues"),
                FieldSpec::new("menu", "text")
                    .for_kind("ivr")
                    .list("cc-menus"),
                FieldSpec::new("robot", "text").for_kind("robot"),
                FieldSpec::new("voice_threshold", "number").for_kind("robot"),
                FieldSpec::new("silence_threshold", "number").for_kind("robot"),
            ],
        ),
        ("hours", hours),
    ]
}

/// Every field name of the rule form.
fn field_names() -> Vec<&'static str> {
    rule_groups(Lang::En, &[])
        .into_iter()
        .flat_map(|(_, fs)| fs.into_iter().map(|f| f.name))
        .collect()
}

/// The English weekday names the engine accepts, by our 3-letter codes.
fn day_code(day: &str) -> Option<&'static str> {
    let d = day.trim().to_ascii_lowercase();
    DAYS.iter().copied().find(|c| d.starts_with(c))
}

/// A rule as form values.
pub(crate) fn rule_values(r: &Rule) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let mut put = |k: &str, val: String| {
        v.insert(k.to_string(), val);
    };
    put("name", r.name.clone());
    put("order", r.order.to_string());
    put("pattern", r.pattern.as_str().to_string());
    put("type", kind_code(&r.kind).to_string());
    put("enabled", if r.enabled { "1" } else { "" }.to_string());
    // Defaults of the other types' fields, for switching type in the form.
    put("timeout_secs", "60".into());
    put("voice_threshold", "200".into());
    put("silence_threshold", "200".into());
    put("strip_digits", "0".into());
    match &r.kind {
        RuleKind::Basic { target } => put("basic_target", target.clone().unwrap_or_default()),
        RuleKind::Inbound {
            target,
            schedule,
            after_hours,
        } => {
            put("target", target.clone());
            if let Some(s) = schedule {
                put("schedule_on", "1".into());
                let mut by_day: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for w in &s.weekly {
                    for d in &w.days {
                        if let Some(code) = day_code(d) {
                            by_day
                                .entry(code)
                                .or_default()
                                .extend(w.hours.iter().cloned());
                        }
                    }
                }
                for (code, hours) in by_day {
                    put(&format!("hours_{code}"), hours.join(", "));
                }
                let holidays: Vec<String> = s
                    .holidays
                    .iter()
                    .map(|h| {
                        if h.hours.is_empty() {
                            h.date.clone()
                        } else {
                            format!("{} {}", h.date, h.hours.join(", "))
                        }
                    })
                    .collect();
                put("holidays", holidays.join("\n"));
            }
            match after_hours {
                Some(AfterHours::Prompt(p)) => {
                    put("after_hours", "prompt".into());
                    put("after_hours_prompt", p.clone());
                }
                Some(AfterHours::Target(t)) => {
                    put("after_hours", "target".into());
                    put("after_hours_target", t.clone());
                }
                None => {}
            }
        }
        RuleKind::Outbound {
            gateways,
            strip_digits,
            strip_prefix,
            add_prefix,
            timeout_secs,
            record,
        } => {
            put("gateway", gateways.join(", "));
            put("strip_digits", strip_digits.to_string());
            put("strip_prefix", strip_prefix.clone().unwrap_or_default());
            put("add_prefix", add_prefix.clone());
            put("timeout_secs", timeout_secs.to_string());
            put("record", if *record { "1" } else { "" }.to_string());
        }
        RuleKind::Queue { queue } => put("queue", queue.clone()),
        RuleKind::Ivr { menu } => put("menu", menu.clone().unwrap_or_default()),
        RuleKind::Robot {
            robot,
            voice_threshold,
            silence_threshold,
        } => {
            put("robot", robot.clone().unwrap_or_default());
            put("voice_threshold", voice_threshold.to_string());
            put("silence_threshold", silence_threshold.to_string());
        }
    }
    v
}

/// Ranges written "09:00-12:00, 13:00-18:00" (commas, semicolons or spaces).
fn ranges(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '，'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads the rule form: the fields of the chosen type only. `id` is the
/// rule's id. Errors by field; the engine checks the rest.
pub(crate) fn parse_rule(f: &Fields, id: i64, lang: Lang) -> (Rule, Errs) {
    let mut errs = Errs::new();
    let name = f.text("name");
    if name.is_empty() {
        errs.insert("name".into(), lang.t("form.required", &[]));
    }
    let order = number::<i64>(f, "order", lang, &mut errs).unwrap_or(0);
    let pattern = f.text("pattern");
    if pattern.is_empty() {
        errs.insert("pattern".into(), lang.t("form.required", &[]));
    }
    let kind_text = f.text("type");
    let kind = match kind_text.as_str() {
        "basic" => RuleKind::Basic {
            target: optional_text(f, "basic_target"),
        },
        "inbound" => {
            let target = f.text("target");
            if target.is_empty() {
                errs.insert("target".into(), lang.t("form.required", &[]));
            }
            let schedule = f.flag("schedule_on").then(|| {
                let weekly = DAYS
                    .iter()
                    .filter_map(|d| {
                        let hours = ranges(&f.text(&format!("hours_{d}")));
                        (!hours.is_empty()).then(|| WeeklyHours {
                            days: vec![d.to_string()],
                            hours,
                        })
                    })
                    .collect();
                let holidays = f
                    .raw("holidays")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        let (date, rest) = l.split_once([' ', '\t']).unwrap_or((l, ""));
                        Holiday {
                            date: date.trim().to_string(),
                            hours: ranges(rest),
                        }
                    })
                    .collect();
                Schedule { weekly, holidays }
            });
            let after_hours = match f.text("after_hours").as_str() {
                "prompt" => Some(AfterHours::Prompt(f.text("after_hours_prompt"))),
                "target" => Some(AfterHours::Target(f.text("after_hours_target"))),
                "" => None,
                _ => {
                    errs.insert("after_hours".into(), lang.t("form.invalid_choice", &[]));
                    None
                }
            };
            RuleKind::Inbound {
                target,
                schedule,
                after_hours,
            }
        }
        // Several gateways, comma-separated, are tried in the order given.
        "outbound" => RuleKind::Outbound {
            gateways: callcenter::gateway::config::split_list(&f.all("gateway").join(",")),
            strip_digits: number::<usize>(f, "strip_digits", lang, &mut errs).unwrap_or(0),
            strip_prefix: optional_text(f, "strip_prefix"),
            add_prefix: f.text("add_prefix"),
            timeout_secs: number::<u32>(f, "timeout_secs", lang, &mut errs).unwrap_or(60),
            record: f.flag("record"),
        },
        "queue" => RuleKind::Queue {
            queue: f.text("queue"),
        },
        "ivr" => RuleKind::Ivr {
            menu: optional_text(f, "menu"),
        },
        "robot" => RuleKind::Robot {
            robot: optional_text(f, "robot"),
            voice_threshold: number::<u32>(f, "voice_threshold", lang, &mut errs).unwrap_or(200),
            silence_threshold: number::<u32>(f, "silence_threshold", lang, &mut errs)
                .unwrap_or(200),
        },
        _ => {
            errs.insert("type".into(), lang.t("form.invalid_choice", &[]));
            RuleKind::Basic { target: None }
        }
    };
    let rule = Rule {
        id,
        name,
        order,
        pattern: Pattern::from_text(&pattern),
        kind,
        enabled: f.flag("enabled"),
    };
    (rule, errs)
}

/// The form field a table problem of rule `kind` belongs to.
fn problem_field(kind: &str, p: &Problem) -> &'static str {
    let target = |field: &str| -> &'static str {
        match field {
            "target" if kind == "basic" => "basic_target",
            "target" => "target",
            "after-hours prompt" => "after_hours_prompt",
            "after-hours target" => "after_hours_target",
            "gateway" => "gateway",
            "queue" => "queue",
            "menu" => "menu",
            "robot" => "robot",
            _ => "_form",
        }
    };
    match p {
        Problem::EmptyName | Problem::DuplicateName { .. } => "name",
        Problem::DuplicateOrder { .. } => "order",
        Problem::EmptyPattern | Problem::InvalidRegex { .. } => "pattern",
        Problem::EmptyField { field } => target(field),
        Problem::BadTemplate { field, .. } => target(field),
        Problem::UnknownCapture { field, .. } => target(field),
        Problem::BadTimeRange { .. } | Problem::UnknownWeekday(_) => "schedule_on",
        Problem::BadDate(_) | Problem::DuplicateHoliday(_) => "holidays",
        Problem::ZeroTimeout => "timeout_secs",
        Problem::DuplicateGateway(_) => "gateway",
        _ => "_form",
    }
}

/// A table error as a message next to its field (the rule being edited)
/// or on the whole form (another rule).
pub(crate) fn place_route_error(errs: &mut Errs, rule: &Rule, e: &RouteError, lang: Lang) {
    let msg = match &e.problem {
        Problem::InvalidRegex { regex, error } => lang.t(
            "cc.route.bad_regex",
            &[("regex", regex.as_str()), ("error", error.as_str())],
        ),
        p => lang.t("cc.refused", &[("why", &p.to_string())]),
    };
    if e.rule.id == rule.id {
        let field = problem_field(kind_code(&rule.kind), &e.problem);
        // Office-hours ranges: put the message on the first day using it.
        let field = if field == "schedule_on" {
            "hours_mon"
        } else {
            field
        };
        errs.insert(field.to_string(), msg);
    } else {
        errs.insert(
            "_form".into(),
            lang.t("cc.refused", &[("why", &e.to_string())]),
        );
    }
}

/// `GET /voice/routes?number=&at=`.
async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let flash = match q.text("done").as_str() {
        "deleted" => Some(ctx.t("form.deleted")),
        "moved" => Some(ctx.t("cc.route.moved")),
        _ => None,
    };
    render_list(&engine, &ctx, &identity, &q, flash, None, StatusCode::OK)
}

/// Collects the engine's routing steps for the page.
struct Steps(Vec<(bool, String)>);

impl engine::router::Trace for Steps {
    fn step(&mut self, what: fmt::Arguments<'_>) {
        self.0.push((false, what.to_string()));
    }

    fn problem(&mut self, what: fmt::Arguments<'_>) {
        self.0.push((true, what.to_string()));
    }
}

/// The tester's answer for `number` at `at` (empty: now): every rule's
/// verdict, the winner, and the engine's routing steps.
pub(crate) fn tester(engine: &Engine, number: &str, at: &str, lang: Lang) -> Result<Value, String> {
    let now = if at.is_empty() {
        engine::routing::local_now()
    } else {
        engine::routing::parse_moment(at).map_err(|e| lang.t("cc.refused", &[("why", &e)]))?
    };
    let s = engine.settings().current();
    let ctx = engine.ctx();
    let table = s.route_table();
    let checks: Vec<Value> = match table {
        Some(t) => {
            let explanation = t.explain(number, now);
            let mut after_winner = false;
            explanation
                .checks
                .iter()
                .map(|c| {
                    let (code, shadowed) = match &c.verdict {
                        Verdict::Disabled => ("disabled", false),
                        Verdict::PatternMismatch => ("mismatch", false),
                        Verdict::NothingLeftToDial => ("nothing_left", false),
                        Verdict::Closed(_) => ("closed", false),
                        Verdict::Matched { .. } => ("matched", after_winner),
                    };
                    let row = context! {
                        id => c.rule_id, name => c.rule_name.clone(), order => c.order,
                        type_name => c.type_name, pattern => c.pattern.clone(),
                        verdict_code => code, verdict => c.verdict.to_string(),
                        verdict_label => lang.t(&format!("cc.route.verdict.{code}"), &[]),
                        wins => c.wins, shadowed => shadowed && !c.wins,
                    };
                    after_winner |= c.wins;
                    row
                })
                .collect()
        }
        None => Vec::new(),
    };
    let winner = table.and_then(|t| {
        let e = t.explain(number, now);
        e.winner().map(|w| w.rule_name.clone())
    });
    let mut steps = Steps(Vec::new());
    let route = engine::router::route_at(
        number,
        &ctx.directory,
        &ctx.cfg.apps,
        table,
        now,
        &mut steps,
    );
    Ok(context! {
        number => number, at => now.format("%Y-%m-%d %H:%M %:z").to_string(),
        checks => checks, winner => winner, has_rules => table.is_some(),
        steps => steps.0.into_iter().map(|(problem, text)| context! { problem => problem, text => text }).collect::<Vec<_>>(),
        route => route.to_string(),
    })
}

fn render_list(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    q: &Fields,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let s = engine.settings().current();
    let rules: Vec<&Rule> = s.routes.rules().collect();
    let count = rules.len();
    let rows: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            context! {
                id => r.id, name => r.name.clone(), order => r.order,
                pattern => r.pattern.as_str(), enabled => r.enabled,
                kind => kind_code(&r.kind),
                kind_label => lang.t(&format!("cc.route.kind.{}", kind_code(&r.kind)), &[]),
                summary => summary(&r.kind, lang),
                first => i == 0, last => i + 1 == count,
            }
        })
        .collect();
    let number = q.text("number");
    let at = q.text("at");
    let (result, tester_error) = if number.is_empty() {
        (None, None)
    } else {
        match tester(engine, &number, &at, lang) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        }
    };
    ctx.render_status(
        status,
        "callcenter/routes.html",
        context! {
            rules => rows, flash => flash, error => error,
            number => number, at => at, result => result, tester_error => tester_error,
            basic_rule => engine::router::BASIC_RULE,
            can_edit => identity.allows(ROUTES_EDIT),
        },
    )
}

/// What a rule does, in a few words.
fn summary(k: &RuleKind, lang: Lang) -> String {
    match k {
        RuleKind::Basic { target } => target
            .clone()
            .unwrap_or_else(|| lang.t("cc.route.same_number", &[])),
        RuleKind::Inbound {
            target, schedule, ..
        } => {
            if schedule.is_some() {
                format!("→ {target} ({})", lang.t("cc.route.f.schedule_on", &[]))
            } else {
                format!("→ {target}")
            }
        }
        RuleKind::Outbound {
            gateways,
            add_prefix,
            ..
        } => format!("{} +{add_prefix}", gateways.join(", ")),
        RuleKind::Queue { queue } => format!("→ {queue}"),
        RuleKind::Ivr { menu } => format!(
            "→ {}",
            menu.clone()
                .unwrap_or_else(|| lang.t("cc.route.same_number", &[]))
        ),
        RuleKind::Robot { robot, .. } => format!(
            "→ {}",
            robot
                .clone()
                .unwrap_or_else(|| lang.t("cc.route.same_number", &[]))
        ),
    }
}

async fn render_form(
    engine: &Engine,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<i64>,
    page: FormPage,
    status: StatusCode,
) -> Response {
    let FormPage {
        values,
        errs,
        flash,
    } = page;
    let lang = ctx.lang;
    let prompts = prompt_options(engine, lang).await;
    let groups = rule_groups(lang, &prompts);
    let s = engine.settings().current();
    let queues: Vec<String> = s.queues.iter().map(|q| q.name.clone()).collect();
    let menus: Vec<String> = s.ivr.iter().map(|m| m.id.clone()).collect();
    let chosen = values
        .get("type")
        .cloned()
        .unwrap_or_else(|| "basic".into());
    ctx.render_status(
        status,
        "callcenter/route_form.html",
        context! {
            editing => id.is_some(), id => id,
            name => values.get("name").cloned().unwrap_or_default(),
            action => id.map(|i| format!("/voice/routes/{i}")).unwrap_or_else(|| "/voice/routes".into()),
            groups => groups_view(lang, "cc.route", &groups, &values, &errs),
            chosen => chosen, queues => queues, menus => menus,
            form_error => errs.get("_form").cloned(), flash => flash,
            can_edit => identity.allows(ROUTES_EDIT),
        },
    )
}

/// What the new-rule form starts from: an enabled basic rule placed after
/// the last rule.
pub(crate) fn blank_rule(s: &CallcenterSettings) -> Rule {
    Rule {
        id: 0,
        name: String::new(),
        order: s.routes.rules().map(|r| r.order).max().unwrap_or(0) + 10,
        pattern: Pattern::Literal(String::new()),
        kind: RuleKind::Basic { target: None },
        enabled: true,
    }
}

/// `GET /voice/routes/new`.
async fn new_form(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let s = engine.settings().current();
    let page = FormPage {
        values: rule_values(&blank_rule(&s)),
        errs: Errs::new(),
        flash: None,
    };
    render_form(&engine, &ctx, &identity, None, page, StatusCode::OK).await
}

/// `GET /voice/routes/{id}`.
async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let s = engine.settings().current();
    let Some(rule) = id
        .parse::<i64>()
        .ok()
        .and_then(|id| s.routes.rules().find(|r| r.id == id))
    else {
        return not_found(&ctx);
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("form.created")),
        "saved" => Some(ctx.t("cc.saved_live")),
        _ => None,
    };
    let page = FormPage {
        values: rule_values(rule),
        errs: Errs::new(),
        flash,
    };
    let rule_id = rule.id;
    render_form(
        &engine,
        &ctx,
        &identity,
        Some(rule_id),
        page,
        StatusCode::OK,
    )
    .await
}

/// Checks the rule form and saves the rule (new when `id` is None) into
/// the whole list: the list is checked with `RouteTable::new` first (an
/// invalid regex or a duplicate order lands on its field), then through
/// `SettingsAdmin::put_routes` (unknown queues and menus). Returns the
/// rule's id.
pub(crate) async fn put_rule_form(
    engine: &Engine,
    id: Option<i64>,
    f: &Fields,
    lang: Lang,
    by: &str,
) -> Result<i64, Refused> {
    let admin = engine.settings();
    let current = admin.current();
    let mut rules: Vec<Rule> = current.routes.rules().cloned().collect();
    if let Some(id) = id {
        if !rules.iter().any(|r| r.id == id) {
            return Err(Refused::NotFound);
        }
    }
    let rule_id = id.unwrap_or_else(|| rules.iter().map(|r| r.id).max().unwrap_or(0) + 1);
    let (rule, mut errs) = parse_rule(f, rule_id, lang);
    if !errs.is_empty() {
        return Err(Refused::Input(errs));
    }
    if !rule.gateways().is_empty() {
        let known: Vec<String> = match engine.ctx().store.list_gateways().await {
            Ok(all) => all.into_iter().map(|g| g.name).collect(),
            Err(e) => {
                return Err(Refused::Storage(
                    engine::callcenter_settings::SettingsError {
                        thing: "database".into(),
                        field: None,
                        message: e.to_string(),
                    },
                ))
            }
        };
        if let Some(unknown) = rule
            .gateways()
            .iter()
            .find(|g| !known.contains(&g.trim().to_string()))
        {
            errs.insert(
                "gateway".into(),
                lang.t("cc.route.unknown_gateway", &[("name", unknown.trim())]),
            );
            return Err(Refused::Input(errs));
        }
    }
    match rules.iter_mut().find(|r| r.id == rule_id) {
        Some(slot) => *slot = rule.clone(),
        None => rules.push(rule.clone()),
    }
    if let Err(e) = RouteTable::new(rules.clone()) {
        place_route_error(&mut errs, &rule, &e, lang);
        return Err(Refused::Input(errs));
    }
    match admin.put_routes(rules).await {
        Ok(()) => {
            tracing::info!(by, rule = rule.name, "routing rule saved");
            Ok(rule_id)
        }
        Err(e) if is_storage(&e) => Err(Refused::Storage(e)),
        Err(e) => {
            let about_this = e.thing == format!("routing rule \"{}\"", rule.name);
            if about_this {
                place_error(&mut errs, &field_names(), lang, &e);
            } else {
                errs.insert("_form".into(), refusal(lang, &e));
            }
            Err(Refused::Input(errs))
        }
    }
}

/// Swaps the order of rule `id` with its neighbour's in direction `dir`
/// (`up`, `down`). None: no such rule; false: nothing to swap with (the
/// first rule up, the last down, another `dir`).
pub(crate) fn swap_order(rules: &mut [Rule], id: i64, dir: &str) -> Option<bool> {
    let i = rules.iter().position(|r| r.id == id)?;
    let j = match dir {
        "up" if i > 0 => i - 1,
        "down" if i + 1 < rules.len() => i + 1,
        _ => return Some(false),
    };
    let (a, b) = (rules[i].order, rules[j].order);
    rules[i].order = b;
    rules[j].order = a;
    Some(true)
}

/// Saves `rule` (new when `id` is None) into the whole list.
async fn save(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    id: Option<i64>,
    f: &Fields,
) -> Response {
    let engine = match engine_or_503(state, ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let lang = ctx.lang;
    let errs = match put_rule_form(&engine, id, f, lang, &identity.user.username).await {
        Ok(rule_id) => {
            let done = if id.is_some() { "saved" } else { "created" };
            return Redirect::to(&format!("/voice/routes/{rule_id}?done={done}")).into_response();
        }
        Err(Refused::NotFound) => return not_found(ctx),
        Err(Refused::Storage(e)) => {
            return view::internal_error(false, lang, &anyhow::anyhow!("saving routing rules: {e}"))
        }
        Err(Refused::Input(errs)) => errs,
    };
    let mut values: BTreeMap<String, String> = field_names()
        .into_iter()
        .map(|n| {
            (
                n.to_string(),
                if n == "holidays" { f.raw(n) } else { f.text(n) },
            )
        })
        .collect();
    values.insert("type".into(), f.text("type"));
    let page = FormPage {
        values,
        errs,
        flash: None,
    };
    render_form(&engine, ctx, identity, id, page, StatusCode::BAD_REQUEST).await
}

/// `POST /voice/routes`: adds a rule.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    save(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/routes/{id}`: saves a rule.
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    match id.parse::<i64>() {
        Ok(id) => save(&state, &ctx, &identity, Some(id), &f).await,
        Err(_) => not_found(&ctx),
    }
}

/// `POST /voice/routes/{id}/delete`.
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = engine.settings();
    let mut rules: Vec<Rule> = admin.current().routes.rules().cloned().collect();
    let Some(id) = id
        .parse::<i64>()
        .ok()
        .filter(|id| rules.iter().any(|r| r.id == *id))
    else {
        return not_found(&ctx);
    };
    rules.retain(|r| r.id != id);
    match admin.put_routes(rules).await {
        Ok(()) => {
            tracing::info!(
                by = identity.user.username,
                rule = id,
                "routing rule removed"
            );
            Redirect::to("/voice/routes?done=deleted").into_response()
        }
        Err(e) => {
            let msg = refusal(ctx.lang, &e);
            render_list(
                &engine,
                &ctx,
                &identity,
                &Fields::default(),
                None,
                Some(msg),
                StatusCode::CONFLICT,
            )
        }
    }
}

/// `POST /voice/routes/{id}/move` with `dir=up|down`: swaps the rule's order
/// with its neighbour's.
async fn move_rule(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
    Form(f): Form,
) -> Response {
    let engine = match engine_or_503(&state, &ctx) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let admin = engine.settings();
    let mut rules: Vec<Rule> = admin.current().routes.rules().cloned().collect();
    let Some(id) = id.parse::<i64>().ok() else {
        return not_found(&ctx);
    };
    match swap_order(&mut rules, id, &f.text("dir")) {
        None => return not_found(&ctx),
        Some(false) => return Redirect::to("/voice/routes").into_response(),
        Some(true) => {}
    }
    match admin.put_routes(rules).await {
        Ok(()) => {
            tracing::info!(by = identity.user.username, rule = id, "routing rule moved");
            Redirect::to(&format!("/voice/routes?done=moved#rule-row-{id}")).into_response()
        }
        Err(e) => {
            let msg = refusal(ctx.lang, &e);
            render_list(
                &engine,
                &ctx,
                &identity,
                &Fields::default(),
                None,
                Some(msg),
                StatusCode::CONFLICT,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::encode;

    fn fields(s: &str) -> Fields {
        Fields::parse(s.as_bytes())
    }

    fn body_of(r: &Rule) -> String {
        rule_values(r)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn every_rule_type_round_trips_through_the_form() {
        let kinds = [
            RuleKind::Basic { target: None },
            RuleKind::Basic {
                target: Some("$1".into()),
            },
            RuleKind::Inbound {
                target: "200".into(),
                schedule: Some(Schedule {
                    weekly: vec![WeeklyHours {
                        days: vec!["mon".into()],
                        hours: vec!["09:00-12:00".into(), "13:00-18:00".into()],
                    }],
                    holidays: vec![
                        Holiday {
                            date: "2025-10-01".into(),
                            hours: vec![],
                        },
                        Holiday {
                            date: "2025-10-08".into(),
                            hours: vec!["09:00-12:00".into()],
                        },
                    ],
                }),
                after_hours: Some(AfterHours::Prompt("goodbye".into())),
            },
            RuleKind::Outbound {
                gateways: vec!["carrier".into(), "backup".into()],
                strip_digits: 1,
                strip_prefix: Some("0".into()),
                add_prefix: "9".into(),
                timeout_secs: 30,
                record: true,
            },
            RuleKind::Queue {
                queue: "support".into(),
            },
            RuleKind::Ivr { menu: None },
            RuleKind::Robot {
                robot: Some("r1".into()),
                voice_threshold: 300,
                silence_threshold: 100,
            },
        ];
        for kind in kinds {
            let rule = Rule {
                id: 7,
                name: "r".into(),
                order: 20,
                pattern: Pattern::from_text(r"^(\d{3,4})$"),
                kind,
                enabled: true,
            };
            let (back, errs) = parse_rule(&fields(&body_of(&rule)), 7, Lang::En);
            assert!(errs.is_empty(), "{errs:?}");
            assert_eq!(back, rule);
        }
    }

    #[test]
    fn only_the_chosen_types_fields_are_read() {
        let (r, errs) = parse_rule(
            &fields("name=q&order=1&pattern=301&type=queue&queue=support&gateway=x&target=9"),
            1,
            Lang::En,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            r.kind,
            RuleKind::Queue {
                queue: "support".into()
            }
        );
        let (_, errs) = parse_rule(&fields("name=&order=x&pattern=&type=teleport"), 1, Lang::En);
        for f in ["name", "order", "pattern", "type"] {
            assert!(errs.contains_key(f), "{f}: {errs:?}");
        }
    }

    #[test]
    fn an_invalid_regex_is_placed_on_the_pattern_naming_the_error() {
        let (rule, errs) = parse_rule(
            &fields("name=bad&order=1&pattern=%5E(%5Cd&type=basic&enabled=1"),
            3,
            Lang::En,
        );
        assert!(errs.is_empty());
        let e = RouteTable::new(vec![rule.clone()]).unwrap_err();
        let mut errs = Errs::new();
        place_route_error(&mut errs, &rule, &e, Lang::Zh);
        let msg = &errs["pattern"];
        assert!(msg.contains("^(\\d"), "{msg}");
        assert!(msg.contains("正则"), "{msg}");
    }

    #[test]
    fn table_problems_map_to_the_fields_of_the_type() {
        assert_eq!(
            problem_field("basic", &Problem::EmptyField { field: "target" }),
            "basic_target"
        );
        assert_eq!(
            problem_field("inbound", &Problem::EmptyField { field: "target" }),
            "target"
        );
        assert_eq!(
            problem_field("outbound", &Problem::ZeroTimeout),
            "timeout_secs"
        );
        assert_eq!(
            problem_field("inbound", &Problem::BadDate("x".into())),
            "holidays"
        );
        assert_eq!(
            problem_field(
                "queue",
                &Problem::DuplicateOrder {
                    order: 1,
                    other: "a".into()
                }
            ),
            "order"
        );
    }

    #[test]
    fn every_field_has_a_label_in_both_languages() {
        for lang in Lang::ALL {
            for (g, fields) in rule_groups(lang, &[]) {
                let key = format!("cc.route.group.{g}");
                assert_ne!(lang.t(&key, &[]), key);
                for f in fields {
                    let key = format!("cc.route.f.{}", f.name);
                    assert_ne!(lang.t(&key, &[]), key, "{}", lang.code());
                }
            }
            for k in KINDS {
                let key = format!("cc.route.kind.{k}");
                assert_ne!(lang.t(&key, &[]), key);
            }
        }
    }
}
