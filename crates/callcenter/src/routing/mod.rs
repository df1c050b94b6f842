//! Routing rules (manual 3.2.3, FEATURES T7), sans-IO: a validated table of
//! rules and the decision for a dialled number at a given moment.
//!
//! - Rules are tried by `order`, then id; the first enabled rule that matches
//!   and is in effect wins ([`RouteTable::route`]).
//! - A number rule made only of dialable characters (`0-9 * # +`) is a literal
//!   and must equal the whole number. Anything else is a regex used exactly as
//!   written: no anchors are added, so `200` as a regex would also match
//!   `1200`; write `^(\d{3,4})$` for "the whole number is 3-4 digits".
//! - Targets may quote capture groups (`$1`, `${1}`, `$0`); quoting a group the
//!   pattern does not have is a configuration error.
//! - Outbound numbers: strip `strip_digits` leading characters, then
//!   `strip_prefix` if present, then add `add_prefix`.
//! - Inbound office hours are read in the offset of the `now` given. A holiday
//!   date replaces its weekday's hours (closed all day unless it has hours).
//!   Ranges cannot cross midnight; an overnight shift is two ranges on two days.
//!   Outside office hours the after-hours action applies; a rule without one is
//!   not in effect then and the next rule is tried (the manual's "effective time").
//! - [`RouteTable::explain`] judges every rule for the admin page "which rule
//!   matches number X, and what happens".
//! - [`local_now`] and [`parse_moment`] give the moment to route at in the
//!   machine's local offset (the server and `switchboard route test`).

mod clock;
mod explain;
mod matcher;
mod rule;
mod schedule;
mod table;
mod template;

pub use clock::{local_now, parse_moment};
pub use explain::{Explanation, RuleCheck};
pub use matcher::{Action, Decision, ResolveError, Verdict, MAX_HOPS};
pub use rule::{AfterHours, Holiday, Pattern, Rule, RuleKind, Schedule, WeeklyHours};
pub use schedule::{HoursBasis, HoursCheck, TimeRange};
pub use table::{Problem, RouteError, RouteTable, RuleRef};

#[cfg(test)]
mod tests;
