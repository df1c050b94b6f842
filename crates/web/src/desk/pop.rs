//! The desk's screen pop (manual 4.3) and the agent's figures of the day.
//!
//! - `GET /desk/pop?number=N`: what the pop shows for a caller's number.
//!   Until the CRM has contacts and customers, that is the number's call
//!   history: its calls of the last [`POP_DAYS`] days counted, when a call
//!   of it was last answered by a person, its [`POP_CALLS`] newest calls,
//!   and the link to all of them (`more`).
//! - `GET /desk/history?number=N`: that link, a page of the number's
//!   [`HISTORY_CALLS`] newest calls (the full records pages come later).
//! - `GET /desk/today`: the signed-in agent's figures since local midnight,
//!   for the extension their toolbar is logged in at (never another's).
//!   The desk fetches it when it connects and whenever its push channel
//!   says records about the agent were written (`{"type": "figures"}`).
//!
//! A number is 1 to 32 of 0-9, `+`, `*` and `#`; anything else is a 400
//! (JSON `{"error": ...}` for the pop, the error page for the history).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Local, TimeZone, Timelike};
use serde_json::{json, Value};

use super::{fail, login_of, not_logged_in};
use crate::auth::Identity;
use crate::form::QueryFields;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{error_page, json, PageCtx};

/// The newest calls the pop lists.
pub const POP_CALLS: i64 = 10;

/// The days the pop's counts cover.
pub const POP_DAYS: i64 = 90;

/// The newest calls the history page lists.
pub const HISTORY_CALLS: i64 = 200;

/// Longest number looked up.
pub const MAX_NUMBER: usize = 32;

const DAY_MS: i64 = 86_400_000;

/// The explanation a bad number gets.
const BAD_NUMBER: &str = "number: 1 to 32 of 0-9, +, * and #";

/// Is `s` a number the pop may look up: 1 to [`MAX_NUMBER`] of 0-9, `+`,
/// `*` and `#`?
pub fn lookup_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NUMBER
        && s.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'*' | b'#'))
}

/// Unix ms now.
fn now_ms() -> i64 {
    Local::now().timestamp_millis()
}

/// Unix ms of the local midnight that started the day of `now` (where a
/// time-zone change skips midnight, the day's first minute that exists is
/// found by subtracting the time of day).
pub fn start_of_day(now: DateTime<Local>) -> i64 {
    let midnight = now.date_naive().and_time(chrono::NaiveTime::MIN);
    match Local.from_local_datetime(&midnight).earliest() {
        Some(t) => t.timestamp_millis(),
        None => {
            now.timestamp_millis()
                - i64::from(now.num_seconds_from_midnight()) * 1000
                - i64::from(now.timestamp_subsec_millis())
        }
    }
}

/// One call of the number, as the pop and the history page show it.
fn call_json(lang: Lang, number: &str, c: &store::NumberCall) -> Value {
    let cdr = &c.cdr;
    // The number called (it is the caller) or was called.
    let number_called = cdr.caller == number;
    let other = if number_called {
        &cdr.callee
    } else {
        &cdr.caller
    };
    // Who took it on our side: the queue's agent, else the extension it
    // called; for a call made to the number, who made it.
    let handled_by = match (&c.agent, number_called) {
        (Some(agent), _) => agent.clone(),
        (None, true) => cdr.callee.clone(),
        (None, false) => cdr.caller.clone(),
    };
    json!({
        "id": cdr.id,
        "start_at": cdr.start_at,
        "start": lang.datetime(cdr.start_at),
        "direction": cdr.direction,
        "number_called": number_called,
        "caller": cdr.caller,
        "callee": cdr.callee,
        "other": other,
        "queue": c.queue,
        "agent": c.agent,
        "handled_by": handled_by,
        "answered": c.answered_by_a_person(),
        "talk_secs": cdr.talk_secs,
        "ring_secs": cdr.ring_secs,
        "hangup_cause": cdr.hangup_cause,
        "hangup_by": cdr.hangup_by,
        "recorded": cdr.recording_path.is_some(),
    })
}

/// The link to all the calls of `number`.
fn history_link(number: &str) -> String {
    format!("/desk/history?number={}", crate::form::encode(number))
}

/// `GET /desk/pop?number=N` (see the module documentation). Fields:
/// `number`, `days`, `summary` (`calls`, `inbound` (the number called),
/// `outbound` (it was called), `talk_secs`, `ring_secs`, `avg_talk_secs`,
/// `avg_ring_secs`, `last_answered_at`, `last_answered`), `calls` (newest
/// first: `start_at`, `start`, `direction`, `number_called`, `caller`,
/// `callee`, `other`, `queue`, `agent`, `handled_by`, `answered`,
/// `talk_secs`, `ring_secs`, `hangup_cause`, `hangup_by`, `recorded`),
/// `more` (the history page), and what the CRM knows of the number within
/// the agent's data scope (empty without `crm.contacts:view`): `contacts`
/// (`id`, `name`, `mobile`, `phone`, `email`, `gender`, `birthday`,
/// `customer`, `business_status`, `remarks`), `customers` (`id`, `name`,
/// `kind`, `customer_type`, `phone`, `city`, `industry`, `status`) and
/// `contact` (the first contact, or null), and `new_ticket` (the link that
/// opens a ticket for the number; with `call=ID`, an engine call id of the
/// agent's own live call, the ticket is tied to that call).
pub async fn pop(
    ctx: PageCtx,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let number = q.text("number");
    if !lookup_number(&number) {
        return fail(StatusCode::BAD_REQUEST, BAD_NUMBER);
    }
    let store = state.store();
    let since = now_ms() - POP_DAYS * DAY_MS;
    let summary = match store.number_summary(&number, since).await {
        Ok(s) => s,
        Err(e) => return crate::view::internal_error(true, ctx.lang, &e.into()),
    };
    let calls = match store.calls_of_number(&number, POP_CALLS).await {
        Ok(c) => c,
        Err(e) => return crate::view::internal_error(true, ctx.lang, &e.into()),
    };
    let (contacts, customers) = match crm_of(&state, ctx.identity.as_ref(), &number).await {
        Ok(found) => found,
        Err(e) => return crate::view::internal_error(true, ctx.lang, &e.into()),
    };
    let tickets = match tickets_of(&state, ctx.identity.as_ref(), &number, ctx.lang).await {
        Ok(t) => t,
        Err(e) => return crate::view::internal_error(true, ctx.lang, &e.into()),
    };
    let new_ticket = ctx
        .identity
        .as_ref()
        .filter(|w| w.allows(crate::auth::permissions::TICKETS_EDIT))
        .map(|who| {
            let mut link = format!("/tickets/new?phone={}", crate::form::encode(&number));
            if let Some(sip_call_id) = q
                .text("call")
                .parse()
                .ok()
                .and_then(|call| call_of_agent(&state, who, call))
            {
                link.push_str("&call=");
                link.push_str(&crate::form::encode(&sip_call_id));
            }
            link
        });
    let avg = |total: i64| {
        if summary.calls > 0 {
            (total + summary.calls / 2) / summary.calls
        } else {
            0
        }
    };
    json(
        StatusCode::OK,
        &json!({
            "number": number,
            "days": POP_DAYS,
            "summary": {
                "calls": summary.calls,
                "inbound": summary.inbound,
                "outbound": summary.outbound,
                "talk_secs": summary.talk_secs,
                "ring_secs": summary.ring_secs,
                "avg_talk_secs": avg(summary.talk_secs),
                "avg_ring_secs": avg(summary.ring_secs),
                "last_answered_at": summary.last_answered_at,
                "last_answered": summary.last_answered_at.map(|t| ctx.lang.datetime(t)),
            },
            "calls": calls.iter().map(|c| call_json(ctx.lang, &number, c)).collect::<Vec<_>>(),
            "more": history_link(&number),
            "contact": contacts.first().cloned().unwrap_or(Value::Null),
            "contacts": contacts,
            "customers": customers,
            "tickets": tickets,
            "new_ticket": new_ticket,
        }),
    )
}

/// The SIP Call-ID of live call `call` (an engine call id) when the agent
/// `who` is signed in at the desk and their extension is on it: a ticket
/// opened from the pop names the call, so that its page finds the call's
/// record and recording. Another's call gives nothing.
fn call_of_agent(state: &AppState, who: &Identity, call: u64) -> Option<String> {
    let ext = login_of(state, who)?.extension;
    state
        .engine()?
        .calls()
        .into_iter()
        .find(|c| c.id == call)
        .filter(|c| c.caller == ext || c.callee == ext || c.b_party.as_deref() == Some(&*ext))
        .map(|c| c.call_id)
}

/// The open tickets of `number` (or of its contacts) that `who` may see
/// (none without `tickets:view`), as the pop lists them.
async fn tickets_of(
    state: &AppState,
    who: Option<&crate::auth::Identity>,
    number: &str,
    lang: Lang,
) -> Result<Vec<Value>, store::StoreError> {
    let Some(who) = who.filter(|w| w.allows(crate::auth::permissions::TICKETS_VIEW)) else {
        return Ok(Vec::new());
    };
    let Some(n) = callcenter::crm::normalize_number(number) else {
        return Ok(Vec::new());
    };
    let scope = crate::api::crm_scope_of(state, who).await?;
    let contacts: Vec<i64> = if who.allows(crate::auth::permissions::CRM_CONTACTS_VIEW) {
        state
            .store()
            .lookup_number(number, &scope)
            .await?
            .contacts
            .iter()
            .map(|c| c.id)
            .collect()
    } else {
        Vec::new()
    };
    let open = state.store().open_tickets_of(&n, &contacts, &scope).await?;
    Ok(open
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "title": t.fields.title,
                "status": lang.t(&format!("tickets.status.{}", t.fields.status), &[]),
                "href": format!("/tickets/{}", t.id),
            })
        })
        .collect())
}

/// The contacts and customers of `number` that `who` may see (none
/// without `crm.contacts:view`), as the pop shows them.
async fn crm_of(
    state: &AppState,
    who: Option<&crate::auth::Identity>,
    number: &str,
) -> Result<(Vec<Value>, Vec<Value>), store::StoreError> {
    let Some(who) = who.filter(|w| w.allows(crate::auth::permissions::CRM_CONTACTS_VIEW)) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let scope = crate::api::crm_scope_of(state, who).await?;
    let found = state.store().lookup_number(number, &scope).await?;
    let company = |id: Option<i64>| {
        found
            .customers
            .iter()
            .find(|c| Some(c.id) == id)
            .map(|c| c.fields.name.clone())
    };
    let contacts = found
        .contacts
        .iter()
        .map(|c| {
            let f = &c.fields;
            json!({
                "id": c.id,
                "name": f.name,
                "mobile": f.mobile,
                "phone": f.phone,
                "email": f.email,
                "gender": f.gender,
                "birthday": f.birthday,
                "customer": company(f.customer_id),
                "business_status": f.business_status,
                "remarks": f.remarks,
                "voided": f.voided,
            })
        })
        .collect();
    let customers = found
        .customers
        .iter()
        .map(|c| {
            let f = &c.fields;
            json!({
                "id": c.id,
                "name": f.name,
                "kind": f.kind,
                "customer_type": f.customer_type,
                "phone": f.phone,
                "city": f.city,
                "industry": f.industry,
                "status": f.status,
            })
        })
        .collect();
    Ok((contacts, customers))
}

/// Seconds as `H:MM:SS`.
fn clock(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// `GET /desk/history?number=N`: the number's newest calls, a page.
pub async fn history(
    ctx: PageCtx,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
) -> Response {
    let number = q.text("number");
    if !lookup_number(&number) {
        return error_page(
            StatusCode::BAD_REQUEST,
            ctx.lang,
            ctx.identity.as_ref(),
            "desk.bad_number",
        );
    }
    let calls = match state.store().calls_of_number(&number, HISTORY_CALLS).await {
        Ok(c) => c,
        Err(e) => return crate::view::internal_error(false, ctx.lang, &e.into()),
    };
    let rows: Vec<Value> = calls
        .iter()
        .map(|c| {
            let mut row = call_json(ctx.lang, &number, c);
            row["talk"] = json!(clock(c.cdr.talk_secs));
            row["ring"] = json!(clock(c.cdr.ring_secs));
            row
        })
        .collect();
    let title = ctx.lang.t("desk.history_title", &[("number", &number)]);
    let shown = ctx
        .lang
        .t("desk.history_shown", &[("n", &HISTORY_CALLS.to_string())]);
    ctx.render(
        "desk_history.html",
        minijinja::Value::from_serialize(json!({
            "number": number,
            "title": title,
            "shown": shown,
            "calls": rows,
        })),
    )
}

/// `GET /desk/today`: the figures of the extension the signed-in agent's
/// toolbar is logged in at, since local midnight. Fields: `extension`,
/// `since_ms`, `answered` (queue and direct calls answered), with
/// `queue_answered` and `direct_answered`; `made` (calls made that were
/// answered); `talk_secs` (all of them); `aht_secs`, the average handle
/// time, and `aht_basis`: `"talk"` (talk time over the calls handled:
/// after-call work is not recorded); `missed` (queue offers rung out,
/// declined or answered busy, and calls to the extension it did not take),
/// with `missed_offers` and `missed_direct`.
pub async fn today(ctx: PageCtx, who: Identity, State(state): State<AppState>) -> Response {
    let Some(login) = login_of(&state, &who) else {
        return not_logged_in();
    };
    let since = start_of_day(Local::now());
    let f = match state.store().agent_figures(&login.extension, since).await {
        Ok(f) => f,
        Err(e) => return crate::view::internal_error(true, ctx.lang, &e.into()),
    };
    json(
        StatusCode::OK,
        &json!({
            "extension": login.extension,
            "since_ms": since,
            "answered": f.answered(),
            "queue_answered": f.queue_answered,
            "direct_answered": f.direct_answered,
            "made": f.made,
            "talk_secs": f.talk_secs(),
            "aht_secs": f.average_handle_secs(),
            "aht_basis": "talk",
            "missed": f.missed(),
            "missed_offers": f.missed_offers,
            "missed_direct": f.missed_direct,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desk_pop_numbers_that_may_be_looked_up() {
        for ok in ["1000", "+8613800000000", "*97", "#1", &"9".repeat(32)] {
            assert!(lookup_number(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "1000 ",
            "10-00",
            "1000;x",
            "sip:1000",
            "１２３",
            &"9".repeat(33),
        ] {
            assert!(!lookup_number(bad), "{bad:?}");
        }
    }

    #[test]
    fn desk_today_starts_at_local_midnight() {
        let now = Local::now();
        let start = start_of_day(now);
        assert!(start <= now.timestamp_millis());
        assert!(now.timestamp_millis() - start < 25 * 3_600_000);
        let t = Local
            .timestamp_millis_opt(start)
            .single()
            .expect("a local time");
        assert_eq!(t.date_naive(), now.date_naive());
        assert_eq!((t.hour(), t.minute(), t.second()), (0, 0, 0));
    }

    #[test]
    fn desk_history_clock() {
        assert_eq!(clock(0), "0:00:00");
        assert_eq!(clock(3725), "1:02:05");
        assert_eq!(clock(-4), "0:00:00");
    }
}
