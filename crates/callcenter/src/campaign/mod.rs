//! Outbound campaigns (the manual's chapter 8), their pure rules: the
//! conditions of a filter form (8.1.2) and how a batch's row is matched
//! against them ([`filter`]), and how a campaign's phone numbers are
//! cleaned and checked ([`clean_phone`]).
//!
//! The store keeps batches, rows and filters; the activities that extract
//! and allocate rows build on these rules.

pub mod allocate;
pub mod filter;

/// The states of a batch's row, in the order a row goes through them:
/// not yet given to anyone (未分配), allocated by an activity (已分配), being
/// dialled, dialled with success or failure, abnormal (an error the dialer
/// met), voided (作废) and recalled (回收) from its assignee.
pub const ROW_STATES: &[&str] = &[
    "unassigned",
    "assigned",
    "dialing",
    "succeeded",
    "failed",
    "abnormal",
    "voided",
    "recalled",
];

/// The state of a row nobody holds (an import's rows start there; only
/// rows in this state are deleted with their import record).
pub const UNASSIGNED: &str = "unassigned";

/// Most digits a campaign's phone number may have.
pub const MAX_PHONE_DIGITS: usize = 20;
/// Fewest digits a campaign's phone number may have (an emergency or
/// service number such as 110 or 10086 is the shortest worth dialling).
pub const MIN_PHONE_DIGITS: usize = 3;

/// A campaign phone number as stored and compared: blanks, dashes, dots
/// and brackets dropped, an optional leading `+` kept; `None` when what
/// is left is not 3 to 20 digits (an invalid number, which an import
/// skips and counts).
pub fn clean_phone(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{3000}' | '\t' => {}
            _ => return None,
        }
    }
    let digits = out.trim_start_matches('+').len();
    (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS)
        .contains(&digits)
        .then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_cleaned_or_refused() {
        assert_eq!(clean_phone(" 186-1861 6001 "), Some("18618616001".into()));
        assert_eq!(clean_phone("+86 (10) 1234"), Some("+86101234".into()));
        assert_eq!(clean_phone("110"), Some("110".into()));
        assert_eq!(clean_phone("12"), None);
        assert_eq!(clean_phone("1".repeat(21).as_str()), None);
        assert_eq!(clean_phone("1860x1"), None);
        assert_eq!(clean_phone("18+6001"), None);
        assert_eq!(clean_phone(""), None);
    }
}
