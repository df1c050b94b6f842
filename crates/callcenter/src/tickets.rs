//! The rules of tickets (the manual's chapter 6), apart from where they are
//! kept: the four statuses and how a reply moves a ticket between them
//! (6.3), the four priorities and the time each gives a handler before the
//! ticket is overdue, and what a tag may be.

use std::fmt;

use crate::crm::{closed_set, FieldError};

closed_set! {
    /// A ticket's status (工单状态).
    TicketStatus {
        /// 未受理: nobody has answered yet.
        New = "new",
        /// 已回复: the handler answered.
        Replied = "replied",
        /// 已关闭.
        Closed = "closed",
        /// 再追问: the requester asked again after an answer, or it was
        /// reopened after closing.
        Reopened = "reopened",
    }
}

closed_set! {
    /// A ticket's priority (优先级).
    Priority {
        /// 低.
        Low = "low",
        /// 中.
        Medium = "medium",
        /// 高.
        High = "high",
        /// 紧急.
        Urgent = "urgent",
    }
}

/// Longest title (工单标题), in characters.
pub const MAX_TITLE: usize = 200;
/// Longest body or reply (rich text, as HTML), in characters.
pub const MAX_BODY: usize = 100_000;
/// Most tags on one ticket.
pub const MAX_TAGS: usize = 10;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 30;

/// Who wrote a reply, as far as the status cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyBy {
    /// The handler (受理人), or anyone answering on the service's side.
    Handler,
    /// The requester (发起人) asking again.
    Requester,
}

/// The status after a reply (6.3): a public answer by the handler makes the
/// ticket "replied" ("提交为 已回复"), the requester asking again after an
/// answer or after closing makes it "reopened"; a private reply (only agents
/// see it) changes nothing, nor does a requester adding to a ticket nobody
/// has answered yet.
pub fn status_after_reply(current: TicketStatus, by: ReplyBy, private: bool) -> TicketStatus {
    if private {
        return current;
    }
    match (by, current) {
        (ReplyBy::Handler, TicketStatus::Closed) => TicketStatus::Closed,
        (ReplyBy::Handler, _) => TicketStatus::Replied,
        (ReplyBy::Requester, TicketStatus::Replied | TicketStatus::Closed) => {
            TicketStatus::Reopened
        }
        (ReplyBy::Requester, other) => other,
    }
}

/// How long a handler has, from creation, before a ticket of `priority` is
/// overdue (unless a due time was set by hand): urgent 4 hours, high one
/// day, medium three days, low a week.
pub fn due_after_ms(priority: Priority) -> i64 {
    const HOUR: i64 = 3_600_000;
    match priority {
        Priority::Urgent => 4 * HOUR,
        Priority::High => 24 * HOUR,
        Priority::Medium => 72 * HOUR,
        Priority::Low => 168 * HOUR,
    }
}

/// Whether a ticket is overdue at `now` (unix ms): still open past its due
/// time.
pub fn is_overdue(status: TicketStatus, due_at: Option<i64>, now: i64) -> bool {
    status != TicketStatus::Closed && due_at.is_some_and(|d| now > d)
}

/// The tags of a ticket from what a user typed: split on commas (ASCII or
/// full-width), semicolons and line breaks, trimmed, empty ones dropped,
/// repeats (ignoring case) dropped; at most [`MAX_TAGS`] of at most
/// [`MAX_TAG`] characters.
pub fn parse_tags(raw: &str) -> Result<Vec<String>, FieldError> {
    let mut tags: Vec<String> = Vec::new();
    for t in raw.split([',', '，', ';', '；', '\n', '\r']) {
        let t = t.trim();
        if t.is_empty() || tags.iter().any(|x| x.to_lowercase() == t.to_lowercase()) {
            continue;
        }
        if t.chars().count() > MAX_TAG {
            return Err(FieldError {
                field: "tags",
                why: format!("tag '{t}' is longer than {MAX_TAG} characters"),
            });
        }
        tags.push(t.to_string());
    }
    if tags.len() > MAX_TAGS {
        return Err(FieldError {
            field: "tags",
            why: format!("more than {MAX_TAGS} tags"),
        });
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_answer_by_the_handler_marks_the_ticket_replied() {
        for s in [
            TicketStatus::New,
            TicketStatus::Replied,
            TicketStatus::Reopened,
        ] {
            assert_eq!(
                status_after_reply(s, ReplyBy::Handler, false),
                TicketStatus::Replied
            );
        }
        // Answering a closed ticket does not reopen it.
        assert_eq!(
            status_after_reply(TicketStatus::Closed, ReplyBy::Handler, false),
            TicketStatus::Closed
        );
    }

    #[test]
    fn the_requester_asking_again_after_an_answer_reopens_the_ticket() {
        assert_eq!(
            status_after_reply(TicketStatus::Replied, ReplyBy::Requester, false),
            TicketStatus::Reopened
        );
        assert_eq!(
            status_after_reply(TicketStatus::Closed, ReplyBy::Requester, false),
            TicketStatus::Reopened
        );
        assert_eq!(
            status_after_reply(TicketStatus::New, ReplyBy::Requester, false),
            TicketStatus::New
        );
    }

    #[test]
    fn a_private_reply_changes_no_status() {
        for s in TicketStatus::ALL {
            for by in [ReplyBy::Handler, ReplyBy::Requester] {
                assert_eq!(status_after_reply(*s, by, true), *s);
            }
        }
    }

    #[test]
    fn urgent_tickets_fall_due_first_and_closed_ones_never_are_overdue() {
        assert!(due_after_ms(Priority::Urgent) < due_after_ms(Priority::High));
        assert!(due_after_ms(Priority::High) < due_after_ms(Priority::Medium));
        assert!(due_after_ms(Priority::Medium) < due_after_ms(Priority::Low));
        assert!(is_overdue(TicketStatus::New, Some(10), 11));
        assert!(!is_overdue(TicketStatus::New, Some(10), 10));
        assert!(!is_overdue(TicketStatus::Closed, Some(10), 11));
        assert!(!is_overdue(TicketStatus::Reopened, None, 11));
    }

    #[test]
    fn tags_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            parse_tags(" 退款, VIP，vip ;加急\n\n").unwrap(),
            vec!["退款", "VIP", "加急"]
        );
        assert_eq!(parse_tags("").unwrap(), Vec::<String>::new());
        let long = "x".repeat(MAX_TAG + 1);
        assert_eq!(parse_tags(&long).unwrap_err().field, "tags");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many.join(",")).is_err());
    }

    #[test]
    fn statuses_and_priorities_parse_what_they_print() {
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(*s));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(&p.to_string()), Some(*p));
        }
        assert_eq!(Priority::parse("critical"), None);
    }
}
