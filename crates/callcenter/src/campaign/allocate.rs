//! How an activity shares the numbers it extracts among its targets
//! (manual 8.1.3: 抽取数量, 默认分配数, 名单分配, 分配对象), and which targets
//! each kind of activity may have.
//!
//! An activity extracts up to N matching rows of its filter. Of those it
//! allocates a share (名单分配: all, or a percentage); each target asks
//! for its own count or the activity's default count (默认分配数). When
//! the targets ask for no more than the rows to allocate, each gets what
//! it asked and the rest stay unallocated (未分配); when they ask for more,
//! each gets a share in proportion to what it asked, by largest
//! remainder, so the counts add up exactly and no target is favoured by
//! its place in the list.

use serde::{Deserialize, Serialize};

/// The kinds of activity (活动类型).
pub const ACTIVITY_KINDS: &[&str] = &["preview", "predictive", "robot"];

/// Who may receive rows: agents and departments work preview lists from
/// the desk; a predictive activity dials for a queue's agents; a robot
/// activity for robots.
pub fn target_kinds(activity_kind: &str) -> &'static [&'static str] {
    match activity_kind {
        "preview" => &["agent", "department"],
        "predictive" => &["queue"],
        "robot" => &["robot"],
        _ => &[],
    }
}

/// One target of an activity (分配对象) and the count it asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// agent, department, queue or robot.
    pub kind: String,
    /// The agent's extension, the department's id, the queue's name, the
    /// robot's extension.
    pub id: String,
    /// Rows it asks for; `None`: the activity's default count.
    #[serde(default)]
    pub count: Option<u64>,
}

/// Why an activity's allocation settings are refused, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct AllocationError {
    /// The field (`targets[2].kind`, `share_pct`...).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Checks an activity's targets and share: targets of the kinds the
/// activity takes, each named once, at least one; a share of 1 to 100 %.
pub fn validate(
    activity_kind: &str,
    targets: &[Target],
    share_pct: u32,
) -> Result<(), AllocationError> {
    let bad = |field: String, message: String| Err(AllocationError { field, message });
    let kinds = target_kinds(activity_kind);
    if kinds.is_empty() {
        return bad(
            "kind".into(),
            format!(
                "'{activity_kind}' is not one of {}",
                ACTIVITY_KINDS.join(", ")
            ),
        );
    }
    if !(1..=100).contains(&share_pct) {
        return bad("share_pct".into(), "must be from 1 to 100".into());
    }
    if targets.is_empty() {
        return bad(
            "targets".into(),
            "add at least one target to allocate to".into(),
        );
    }
    for (i, t) in targets.iter().enumerate() {
        if !kinds.contains(&t.kind.as_str()) {
            return bad(
                format!("targets[{i}].kind"),
                format!(
                    "a {activity_kind} activity allocates to {}, not '{}'",
                    kinds.join(" or "),
                    t.kind
                ),
            );
        }
        if t.id.trim().is_empty() {
            return bad(format!("targets[{i}].id"), "is empty".into());
        }
        if targets[..i]
            .iter()
            .any(|o| o.kind == t.kind && o.id == t.id)
        {
            return bad(
                format!("targets[{i}].id"),
                format!("{} '{}' is listed twice", t.kind, t.id),
            );
        }
    }
    Ok(())
}

/// How many of `extracted` rows each target gets, in the targets' order,
/// with `share_pct` of them allocated and `default_count` for a target
/// that asks for none. The sum is at most the share.
pub fn allocate(
    extracted: u64,
    share_pct: u32,
    default_count: u64,
    targets: &[Target],
) -> Vec<u64> {
    let share = extracted.saturating_mul(u64::from(share_pct.min(100))) / 100;
    let asks: Vec<u64> = targets
        .iter()
        .map(|t| t.count.unwrap_or(default_count))
        .collect();
    split(share, &asks)
}

/// `total` shared among `asks`: each its ask when they fit, in proportion
/// to them (largest remainder, ties to the earlier) when they do not.
pub fn split(total: u64, asks: &[u64]) -> Vec<u64> {
    let asked: u128 = asks.iter().map(|&a| u128::from(a)).sum();
    if asked <= u128::from(total) {
        return asks.to_vec();
    }
    let total128 = u128::from(total);
    let mut out: Vec<u64> = Vec::with_capacity(asks.len());
    let mut rem: Vec<(u128, usize)> = Vec::with_capacity(asks.len());
    for (i, &a) in asks.iter().enumerate() {
        let exact = u128::from(a) * total128;
        out.push(u64::try_from(exact / asked).unwrap_or(u64::MAX));
        rem.push((exact % asked, i));
    }
    let mut left = total - out.iter().sum::<u64>();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rem {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: &str, id: &str, count: Option<u64>) -> Target {
        Target {
            kind: kind.into(),
            id: id.into(),
            count,
        }
    }

    #[test]
    fn targets_get_what_they_ask_when_it_fits_and_the_rest_stays_unallocated() {
        let targets = [t("agent", "1001", None), t("agent", "1002", Some(30))];
        // 200 extracted, all allocated, default 100: 100 + 30, 70 left.
        assert_eq!(allocate(200, 100, 100, &targets), [100, 30]);
        // Half of 100 extracted: 50 to share for 130 asked.
        assert_eq!(allocate(100, 50, 100, &targets), [38, 12]);
    }

    #[test]
    fn a_short_supply_is_shared_in_proportion_and_adds_up() {
        assert_eq!(split(10, &[1, 1, 1]), [1, 1, 1]);
        assert_eq!(split(2, &[1, 1, 1]), [1, 1, 0], "ties to the earlier");
        assert_eq!(split(7, &[10, 20, 40]), [1, 2, 4]);
        assert_eq!(split(100, &[0, 50]), [0, 50]);
        for total in 0..50u64 {
            let got = split(total, &[7, 13, 29, 1]);
            assert_eq!(got.iter().sum::<u64>(), total.min(50), "{total}: {got:?}");
        }
        assert_eq!(split(5, &[]), Vec::<u64>::new());
    }

    #[test]
    fn each_activity_kind_takes_its_own_targets() {
        let ok = |kind: &str, targets: &[Target]| validate(kind, targets, 100);
        assert_eq!(ok("preview", &[t("agent", "1001", None)]), Ok(()));
        assert_eq!(ok("predictive", &[t("queue", "sales", None)]), Ok(()));
        assert_eq!(ok("robot", &[t("robot", "201", Some(5))]), Ok(()));
        let e = ok("predictive", &[t("agent", "1001", None)]).unwrap_err();
        assert_eq!(e.field, "targets[0].kind");
        assert!(e.message.contains("allocates to queue"), "{e}");
        let e = ok("preview", &[t("agent", "1", None), t("agent", "1", None)]).unwrap_err();
        assert_eq!(e.field, "targets[1].id");
        assert_eq!(ok("robot", &[]).unwrap_err().field, "targets");
        assert_eq!(ok("dialer", &[]).unwrap_err().field, "kind");
        assert_eq!(
            validate("preview", &[t("agent", "1", None)], 0)
                .unwrap_err()
                .field,
            "share_pct"
        );
    }
}
