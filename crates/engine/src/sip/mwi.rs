//! Message-waiting indication (RFC 3842): phones SUBSCRIBE to their
//! mailbox's `message-summary` and get a NOTIFY with the new/old voicemail
//! counts at once and whenever a message arrives. Subscriptions live in
//! memory (a phone refreshes them well within an hour), keyed by mailbox.

use crate::base::context::Ctx;
use crate::calls::dialogs::a_leg_dialog;
use dashmap::DashMap;
use rsip::headers::Header;
use rsip::Method;
use sip::dialog::Dialog;
use sip::message::{self, SetBody};
use sip::Peer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest subscription we grant.
pub const MAX_EXPIRES: u32 = 3600;

/// One phone's subscription to a mailbox.
#[derive(Debug)]
pub struct Subscription {
    dialog: Mutex<Dialog>,
    expires_at: Instant,
}

/// Subscriptions by mailbox (extension).
#[derive(Debug, Default)]
pub struct Subscriptions {
    by_mailbox: DashMap<String, Vec<Arc<Subscription>>>,
}

impl Subscriptions {
    /// Adds or refreshes (same Call-ID) a subscription; `expires` 0 removes it.
    /// Returns the subscription to notify now.
    pub fn subscribe(
        &self,
        mailbox: &str,
        req: &rsip::Request,
        from: Peer,
        local_tag: &str,
        expires: u32,
    ) -> Arc<Subscription> {
        let call_id = message::call_id(req).unwrap_or_default().to_string();
        let mut entry = self.by_mailbox.entry(mailbox.to_string()).or_default();
        let now = Instant::now();
        entry.retain(|s| s.expires_at > now && lock(&s.dialog).call_id != call_id);
        let mut dialog = a_leg_dialog(req, from);
        dialog.local_tag = local_tag.to_string();
        let sub = Arc::new(Subscription {
            dialog: Mutex::new(dialog),
            expires_at: now + Duration::from_secs(u64::from(expires)),
        });
        if expires > 0 {
            entry.push(Arc::clone(&sub));
        }
        sub
    }

    /// The live subscriptions of `mailbox`.
    pub fn of(&self, mailbox: &str) -> Vec<Arc<Subscription>> {
        let now = Instant::now();
        self.by_mailbox
            .get(mailbox)
            .map(|v| v.iter().filter(|s| s.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The body of a message-summary NOTIFY.
pub fn summary_body(account: &str, new: i64, old: i64) -> String {
    let waiting = if new > 0 { "yes" } else { "no" };
    format!(
        "Messages-Waiting: {waiting}\r\nMessage-Account: {account}\r\nVoice-Message: {new}/{old} (0/0)\r\n"
    )
}

/// Sends the current counts of `mailbox` on one subscription.
pub async fn notify_one(ctx: &Ctx, mailbox: &str, sub: &Subscription) {
    let counts = match ctx.store.voicemail_counts(mailbox).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("MWI for {mailbox}: counts unavailable: {e}");
            return;
        }
    };
    let account = format!("sip:{mailbox}@{}", ctx.host());
    let left = sub
        .expires_at
        .saturating_duration_since(Instant::now())
        .as_secs();
    let state = if left == 0 {
        "terminated;reason=timeout".to_string()
    } else {
        format!("active;expires={left}")
    };
    let ep = &ctx.internal;
    let via = ctx.sent_by(ep);
    let contact = ctx.contact(ep, mailbox);
    let (mut req, peer) = {
        let mut d = lock(&sub.dialog);
        (d.request(Method::Notify, &via, &contact), d.peer)
    };
    req.headers
        .push(Header::Other("Event".into(), "message-summary".into()));
    req.headers
        .push(Header::Other("Subscription-State".into(), state));
    req.set_body(
        summary_body(&account, counts.new, counts.old).into_bytes(),
        "application/simple-message-summary",
    );
    ep.send_request(req, peer, Arc::new(|_| {}));
}

/// Tells every phone subscribed to `mailbox` its current counts.
pub async fn notify(ctx: &Ctx, subscriptions: &Subscriptions, mailbox: &str) {
    for sub in subscriptions.of(mailbox) {
        notify_one(ctx, mailbox, &sub).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_whether_messages_wait() {
        let b = summary_body("sip:1001@192.0.2.1", 2, 5);
        assert!(b.starts_with("Messages-Waiting: yes\r\n"), "{b}");
        assert!(b.contains("Voice-Message: 2/5 (0/0)\r\n"), "{b}");
        assert!(summary_body("sip:1@h", 0, 3).starts_with("Messages-Waiting: no"));
    }
}
