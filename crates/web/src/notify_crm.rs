//! The CRM's notifications (issue 16, 7): e-mail to a user when a ticket is
//! assigned to them, when a ticket they requested, handle or follow is
//! answered, when a ticket they handle falls overdue, and when a contact's
//! appointment (callback time) they own is due. Sent through the system's
//! SMTP settings ([`crate::notify`]) in the background: the request that
//! caused one never waits for the mail server, and a failed send is logged
//! and counted, never fatal.
//!
//! Calls add two kinds ([`calls`]): a missed call to a user's extension,
//! and a new voicemail in its mailbox.
//!
//! Each user may switch each kind off (`notify.off.<user id>`: the kinds,
//! comma-separated), on their page `/account/notifications` or with
//! `PUT /api/me/notifications`.

pub mod calls;

use std::time::Duration;

use store::{Contact, Store, Ticket, TicketChange};

use crate::notify::{send_email, EmailSettings};
use crate::state::AppState;

/// The kinds of notification a user may switch off, as stored.
pub const KINDS: &[&str] = &[
    "ticket_assigned",
    "ticket_replied",
    "ticket_overdue",
    "appointment_due",
    "missed_call",
    "voicemail",
];

/// The settings key of user `user`'s switched-off kinds.
pub fn off_key(user: i64) -> String {
    format!("notify.off.{user}")
}

/// The kinds user `user` switched off.
pub async fn switched_off(store: &Store, user: i64) -> Vec<String> {
    store
        .settings()
        .await
        .ok()
        .and_then(|m| m.get(&off_key(user)).cloned())
        .map(|v| {
            v.split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| KINDS.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// Switches kinds of notification off for `user` (the others on).
pub async fn set_switched_off(
    store: &Store,
    user: i64,
    off: &[String],
) -> Result<(), store::StoreError> {
    let kept: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|k| off.iter().any(|o| o == k))
        .collect();
    store.put_settings(&[(off_key(user), kept.join(","))]).await
}

/// Sends `subject`/`body` of kind `kind` to each user in `to` (once each,
/// never to `except`: who caused it), in the background.
fn send(
    state: &AppState,
    kind: &'static str,
    to: Vec<i64>,
    except: i64,
    subject: String,
    body: String,
) {
    let mut to = to;
    to.sort_unstable();
    to.dedup();
    to.retain(|u| *u != except);
    if to.is_empty() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move { deliver(&state, kind, &to, &subject, &body).await });
}

/// Sends `subject`/`body` of kind `kind` to each user in `to` who has an
/// e-mail address and did not switch the kind off, now (the caller runs
/// it in the background).
async fn deliver(state: &AppState, kind: &'static str, to: &[i64], subject: &str, body: &str) {
    let settings = match state.store().settings().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("notification {kind}: reading the SMTP settings: {e}");
            return;
        }
    };
    let smtp = EmailSettings::from_map(&settings);
    if smtp.host.trim().is_empty() {
        // No mail server configured: nothing to send, nothing wrong.
        return;
    }
    for &user in to {
        if switched_off(state.store(), user)
            .await
            .iter()
            .any(|k| k == kind)
        {
            continue;
        }
        let Ok(Some(u)) = state.store().get_user(user).await else {
            continue;
        };
        if u.email.trim().is_empty() || !u.enabled {
            continue;
        }
        let sent = tokio::time::timeout(
            Duration::from_secs(30),
            send_email(&smtp, &u.email, subject, body),
        )
        .await;
        match sent {
            Ok(Ok(_)) => crate::metrics::WebMetrics::inc(&state.metrics().notifications_sent),
            Ok(Err(why)) => {
                crate::metrics::WebMetrics::inc(&state.metrics().notifications_failed);
                tracing::warn!("notification {kind} to user {user}: {why}");
            }
            Err(_) => {
                crate::metrics::WebMetrics::inc(&state.metrics().notifications_failed);
                tracing::warn!("notification {kind} to user {user}: timed out");
            }
        }
    }
}

/// Text of a rich-text body for a plain-text mail.
fn plain(html: &str) -> String {
    let t = callcenter::kb::plain_text(html);
    let t: Vec<&str> = t.split_whitespace().collect();
    let t = t.join(" ");
    if t.chars().count() > 2000 {
        t.chars().take(2000).collect::<String>() + "…"
    } else {
        t
    }
}

fn ticket_line(t: &Ticket) -> String {
    format!(
        "#{} {} [{} / {}]",
        t.id, t.fields.title, t.fields.status, t.fields.priority
    )
}

/// A new ticket: its handler is told.
pub fn ticket_created(state: &AppState, t: &Ticket, by: i64) {
    if let Some(a) = t.fields.assignee_id {
        send(
            state,
            "ticket_assigned",
            vec![a],
            by,
            format!(
                "Ticket #{} assigned to you / 工单已指派给您: {}",
                t.id, t.fields.title
            ),
            format!("{}\n\n{}\n", ticket_line(t), plain(&t.fields.body)),
        );
    }
}

/// A changed ticket: a new handler is told.
pub fn ticket_changed(state: &AppState, t: &Ticket, changes: &[TicketChange], by: i64) {
    if changes.iter().any(|c| c.field == "assignee") {
        ticket_created(state, t, by);
    }
}

/// A public reply: the requester, the handler and the followers are told.
pub fn ticket_replied(state: &AppState, t: &Ticket, reply_html: &str, by: i64) {
    let state2 = state.clone();
    let t = t.clone();
    let reply = plain(reply_html);
    tokio::spawn(async move {
        let mut to: Vec<i64> = [t.fields.requester_id, t.fields.assignee_id]
            .into_iter()
            .flatten()
            .collect();
        if let Ok(f) = state2.store().ticket_followers(t.id).await {
            to.extend(f);
        }
        send(
            &state2,
            "ticket_replied",
            to,
            by,
            format!(
                "Ticket #{} has a new reply / 工单有新回复: {}",
                t.id, t.fields.title
            ),
            format!("{}\n\n{}\n", ticket_line(&t), reply),
        );
    });
}

/// An overdue ticket: its handler (or, unassigned, its requester) is told.
pub fn ticket_overdue(state: &AppState, t: &Ticket) {
    let to = t.fields.assignee_id.or(t.fields.requester_id);
    if let Some(u) = to {
        send(
            state,
            "ticket_overdue",
            vec![u],
            0,
            format!(
                "Ticket #{} is overdue / 工单已超时: {}",
                t.id, t.fields.title
            ),
            format!("{}\n", ticket_line(t)),
        );
    }
}

/// A contact's appointment is due: its owner is told.
pub fn appointment_due(state: &AppState, c: &Contact) {
    if let Some(owner) = c.fields.owner_id {
        let number = if c.fields.mobile.is_empty() {
            c.fields.phone.clone()
        } else {
            c.fields.mobile.clone()
        };
        send(
            state,
            "appointment_due",
            vec![owner],
            0,
            format!("Callback due / 预约回访到期: {}", c.fields.name),
            format!(
                "{} {}\n{}\n",
                c.fields.name, number, c.fields.appointment_note
            ),
        );
    }
}

/// How often the reminders' sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Runs forever: every [`SWEEP_EVERY`], sends the notices of tickets that
/// fell overdue and of appointments that fell due since the last sweep
/// (each once: the store marks them taken), and pushes the due
/// appointments to their owners' desks.
pub async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        sweep_once(&state).await;
        n += 1;
        // About hourly: the planner's statistics follow the data's growth.
        if n == 120 {
            n = 0;
            if let Err(e) = state.store().optimize().await {
                tracing::warn!("refreshing the planner's statistics: {e}");
            }
        }
    }
}

/// One sweep (see [`sweep_forever`]).
pub async fn sweep_once(state: &AppState) {
    let now = chrono::Utc::now().timestamp_millis();
    match state.store().take_overdue_tickets(now).await {
        Ok(list) => {
            for t in &list {
                ticket_overdue(state, t);
            }
        }
        Err(e) => tracing::warn!("overdue tickets: {e}"),
    }
    match state.store().take_due_appointments(now).await {
        Ok(list) => {
            for c in &list {
                appointment_due(state, c);
                let ext = match c.fields.owner_id {
                    Some(owner) => match state.store().get_user(owner).await {
                        Ok(Some(u)) => u.extension,
                        _ => String::new(),
                    },
                    None => String::new(),
                };
                {
                    state.desk().notify_ext(
                        &ext,
                        serde_json::json!({
                            "type": "appointment",
                            "contact": c.id,
                            "name": c.fields.name,
                            "number": if c.fields.mobile.is_empty() { &c.fields.phone } else { &c.fields.mobile },
                            "note": c.fields.appointment_note,
                            "at": c.fields.appointment_at,
                        }),
                    );
                }
            }
        }
        Err(e) => tracing::warn!("due appointments: {e}"),
    }
}
