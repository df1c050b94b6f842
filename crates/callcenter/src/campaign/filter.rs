//! The conditions of a filter form (the manual's 8.1.2, 筛选表单) and how a
//! row of a batch is matched against them, with no I/O: the store reads the
//! rows, this decides.
//!
//! A filter is a list of conditions, each `field op value` followed by the
//! join (`and` / `or`) that links it to the next condition (the last one's
//! join is ignored), as the form's rows read: `客户意向 模糊搜索 意向 AND`,
//! `号码 大于 1`. **AND binds tighter than OR**, as in SQL: `a AND b OR c
//! AND d` is `(a AND b) OR (c AND d)`. No conditions match every row.
//!
//! The field of a condition is a field key of the batch, `phone` (the row's
//! number) or `state` (the row's state). `gt`, `lt`, `ge` and `le` compare
//! numerically when both sides read as numbers, as dates when the field is
//! a date field and both sides read as dates, and as text otherwise;
//! `contains` (模糊搜索) ignores case; `in` takes a list of values and is
//! offered for dictionary fields and the state only.

use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

/// The condition field that is the row's phone number.
pub const PHONE: &str = "phone";
/// The condition field that is the row's state.
pub const STATE: &str = "state";

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (等于): the same text ignoring case and surrounding blanks, or
    /// the same number.
    Eq,
    /// Not equal (不等于).
    Ne,
    /// Holds the value, ignoring case (模糊搜索).
    Contains,
    /// Greater than (大于).
    Gt,
    /// Less than (小于).
    Lt,
    /// Greater than or equal (大于等于).
    Ge,
    /// Less than or equal (小于等于).
    Le,
    /// No value (为空).
    Empty,
    /// Some value (不为空).
    NotEmpty,
    /// One of a list of values (属于): dictionary fields and the state.
    In,
}

impl Op {
    /// Every operator, in the form's order.
    pub const ALL: [Op; 10] = [
        Op::Eq,
        Op::Ne,
        Op::Contains,
        Op::Gt,
        Op::Lt,
        Op::Ge,
        Op::Le,
        Op::Empty,
        Op::NotEmpty,
        Op::In,
    ];

    /// The operator's key (in JSON, forms and message keys).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Contains => "contains",
            Op::Gt => "gt",
            Op::Lt => "lt",
            Op::Ge => "ge",
            Op::Le => "le",
            Op::Empty => "empty",
            Op::NotEmpty => "not_empty",
            Op::In => "in",
        }
    }

    /// The operator of a key.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the operator takes no value.
    pub fn is_unary(self) -> bool {
        matches!(self, Op::Empty | Op::NotEmpty)
    }
}

/// How a condition links to the next one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    /// Both (binds tighter than `or`).
    #[default]
    And,
    /// Either.
    Or,
}

impl Join {
    /// The join's key.
    pub fn as_str(self) -> &'static str {
        match self {
            Join::And => "and",
            Join::Or => "or",
        }
    }

    /// The join of a key.
    pub fn parse(s: &str) -> Option<Join> {
        match s {
            "and" => Some(Join::And),
            "or" => Some(Join::Or),
            _ => None,
        }
    }
}

/// One condition of a filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// A field key of the batch, [`PHONE`] or [`STATE`].
    pub field: String,
    /// How it compares.
    pub op: Op,
    /// The value compared with (all but `empty`, `not_empty` and `in`).
    #[serde(default)]
    pub value: String,
    /// The values of `in`.
    #[serde(default)]
    pub values: Vec<String>,
    /// How it links to the next condition.
    #[serde(default)]
    pub join: Join,
}

/// What a field holds, for comparing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Text (字符).
    #[default]
    Text,
    /// A number (数字).
    Number,
    /// A date, `YYYY-MM-DD` (日期).
    Date,
    /// A date and time, `YYYY-MM-DD HH:MM[:SS]` (日期时间).
    DateTime,
}

impl ValueType {
    /// Every type, in the form's order.
    pub const ALL: [ValueType; 4] = [
        ValueType::Text,
        ValueType::Number,
        ValueType::Date,
        ValueType::DateTime,
    ];

    /// The type's key.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Text => "text",
            ValueType::Number => "number",
            ValueType::Date => "date",
            ValueType::DateTime => "datetime",
        }
    }

    /// The type of a key.
    pub fn parse(s: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What the conditions need to know of a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key conditions name it by.
    pub key: String,
    /// What it holds.
    pub value_type: ValueType,
    /// The values it may take (a dictionary's, or the row states); `None`
    /// for a free field, on which `in` is refused.
    pub choices: Option<Vec<String>>,
}

/// Which part of a condition is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The field.
    Field,
    /// The operator.
    Op,
    /// The value(s).
    Value,
}

impl Part {
    /// The part's name (as a form field names it).
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Field => "field",
            Part::Op => "op",
            Part::Value => "value",
        }
    }
}

/// A condition that cannot be used: which (index from 0), which part, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("condition {}: {why}", index + 1)]
pub struct ConditionError {
    /// The condition's index in the list, from 0 (the message counts from 1).
    pub index: usize,
    /// The part at fault.
    pub part: Part,
    /// Why, in English.
    pub why: String,
}

/// Most conditions one filter holds.
pub const MAX_CONDITIONS: usize = 50;

/// Checks `conditions` against the batch's `fields` (the row's phone and
/// state need not be listed: they are always there): the first bad one.
pub fn validate(conditions: &[Condition], fields: &[FieldSpec]) -> Result<(), ConditionError> {
    if conditions.len() > MAX_CONDITIONS {
        return Err(ConditionError {
            index: MAX_CONDITIONS,
            part: Part::Field,
            why: format!("a filter has at most {MAX_CONDITIONS} conditions"),
        });
    }
    for (index, c) in conditions.iter().enumerate() {
        let fail = |part, why: String| Err(ConditionError { index, part, why });
        let spec = spec_of(&c.field, fields);
        let Some(spec) = spec else {
            return if c.field.trim().is_empty() {
                fail(Part::Field, "choose a field".into())
            } else {
                fail(Part::Field, format!("the batch has no field '{}'", c.field))
            };
        };
        match c.op {
            Op::Empty | Op::NotEmpty => {}
            Op::In => {
                let Some(choices) = &spec.choices else {
                    return fail(
                        Part::Op,
                        format!(
                            "'in' is for dictionary fields; '{}' is a free field",
                            c.field
                        ),
                    );
                };
                if c.values.iter().all(|v| v.trim().is_empty()) {
                    return fail(Part::Value, "choose at least one value".into());
                }
                if let Some(v) = c.values.iter().find(|v| !choices.contains(v)) {
                    return fail(
                        Part::Value,
                        format!("'{v}' is not one of the values of '{}'", c.field),
                    );
                }
            }
            op => {
                let v = c.value.trim();
                if v.is_empty() {
                    return fail(Part::Value, "give a value".into());
                }
                let ordered = matches!(op, Op::Gt | Op::Lt | Op::Ge | Op::Le);
                if ordered {
                    match spec.value_type {
                        ValueType::Number if number(v).is_none() => {
                            return fail(Part::Value, format!("'{v}' is not a number"));
                        }
                        ValueType::Date | ValueType::DateTime if date(v).is_none() => {
                            return fail(
                                Part::Value,
                                format!("'{v}' is not a date (YYYY-MM-DD [HH:MM])"),
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// The field a condition names: one of `fields`, or the phone and state.
fn spec_of(key: &str, fields: &[FieldSpec]) -> Option<FieldSpec> {
    if let Some(f) = fields.iter().find(|f| f.key == key) {
        return Some(f.clone());
    }
    match key {
        PHONE => Some(FieldSpec {
            key: PHONE.into(),
            value_type: ValueType::Text,
            choices: None,
        }),
        STATE => Some(FieldSpec {
            key: STATE.into(),
            value_type: ValueType::Text,
            choices: Some(super::ROW_STATES.iter().map(|s| (*s).to_string()).collect()),
        }),
        _ => None,
    }
}

/// Whether the row whose values `value_of` gives (by field key, [`PHONE`]
/// and [`STATE`] included; `None`: no value) matches `conditions`, read as
/// OR-groups of AND-chains. `fields` gives the fields' types (a field not
/// listed compares as text). Conditions are expected to be
/// [`validate`]d; one that is not matches nothing.
pub fn matches<'a>(
    conditions: &[Condition],
    fields: &[FieldSpec],
    value_of: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    if conditions.is_empty() {
        return true;
    }
    // Walk the chain: `group` is the AND of the current group so far; an
    // OR closes it.
    let mut group = true;
    for (i, c) in conditions.iter().enumerate() {
        let value_type = fields
            .iter()
            .find(|f| f.key == c.field)
            .map_or(ValueType::Text, |f| f.value_type);
        group = group && holds(c, value_type, value_of(&c.field).unwrap_or(""));
        let last = i + 1 == conditions.len();
        if last || c.join == Join::Or {
            if group {
                return true;
            }
            group = true;
        }
    }
    false
}

/// Whether one condition holds for the row's `actual` value.
fn holds(c: &Condition, value_type: ValueType, actual: &str) -> bool {
    let actual = actual.trim();
    let wanted = c.value.trim();
    match c.op {
        Op::Empty => actual.is_empty(),
        Op::NotEmpty => !actual.is_empty(),
        Op::In => c.values.iter().any(|v| v.trim() == actual),
        Op::Contains => {
            !actual.is_empty() && actual.to_lowercase().contains(&wanted.to_lowercase())
        }
        Op::Eq => compare(actual, wanted, value_type) == Some(Ordering::Equal),
        Op::Ne => compare(actual, wanted, value_type) != Some(Ordering::Equal),
        Op::Gt => compare(actual, wanted, value_type) == Some(Ordering::Greater),
        Op::Lt => compare(actual, wanted, value_type) == Some(Ordering::Less),
        Op::Ge => matches!(
            compare(actual, wanted, value_type),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        Op::Le => matches!(
            compare(actual, wanted, value_type),
            Some(Ordering::Less | Ordering::Equal)
        ),
    }
}

/// How `a` compares with `b`: as dates (date fields, both read as dates),
/// as numbers (both read as numbers), else as text ignoring case. An
/// empty `a` compares with nothing (`None`).
fn compare(a: &str, b: &str, value_type: ValueType) -> Option<Ordering> {
    if a.is_empty() {
        return None;
    }
    if matches!(value_type, ValueType::Date | ValueType::DateTime) {
        if let (Some(x), Some(y)) = (date(a), date(b)) {
            return Some(x.cmp(&y));
        }
    }
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    Some(a.to_lowercase().cmp(&b.to_lowercase()))
}

/// A number, if the text is one (finite).
pub fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date and time, if the text is one: `YYYY-MM-DD` (or with `/` or `.`)
/// and an optional `HH:MM[:SS]` after a blank or `T`.
pub fn date(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (day, time) = s
        .split_once([' ', 'T'])
        .map_or((s, ""), |(d, t)| (d, t.trim()));
    let day = NaiveDate::parse_from_str(&day.replace(['/', '.'], "-"), "%Y-%m-%d").ok()?;
    let time = if time.is_empty() {
        NaiveTime::MIN
    } else {
        NaiveTime::parse_from_str(time, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
            .ok()?
    };
    Some(day.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cond(field: &str, op: Op, value: &str, join: Join) -> Condition {
        Condition {
            field: field.into(),
            op,
            value: value.into(),
            values: Vec::new(),
            join,
        }
    }

    fn fields() -> Vec<FieldSpec> {
        vec![
            FieldSpec {
                key: "f1".into(),
                value_type: ValueType::Text,
                choices: None,
            },
            FieldSpec {
                key: "f2".into(),
                value_type: ValueType::Number,
                choices: None,
            },
            FieldSpec {
                key: "f3".into(),
                value_type: ValueType::Text,
                choices: Some(vec!["有意向".into(), "无意向".into()]),
            },
            FieldSpec {
                key: "f4".into(),
                value_type: ValueType::Date,
                choices: None,
            },
        ]
    }

    fn row(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn check(conds: &[Condition], r: &HashMap<String, String>) -> bool {
        matches(conds, &fields(), |k| r.get(k).map(String::as_str))
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // a AND b OR c: (a AND b) OR c.
        let conds = [
            cond("f1", Op::Eq, "a", Join::And),
            cond("f2", Op::Eq, "1", Join::Or),
            cond(PHONE, Op::Eq, "110", Join::And),
        ];
        assert!(check(&conds, &row(&[("f1", "a"), ("f2", "1")])));
        assert!(check(&conds, &row(&[(PHONE, "110")])));
        // Read left to right ((a AND b) OR c would be the same here); the
        // case that tells: a false, c true.
        assert!(check(&conds, &row(&[("f1", "x"), (PHONE, "110")])));
        assert!(!check(&conds, &row(&[("f1", "a"), ("f2", "2")])));
        // a OR b AND c: a OR (b AND c), not (a OR b) AND c.
        let conds = [
            cond("f1", Op::Eq, "a", Join::Or),
            cond("f2", Op::Eq, "1", Join::And),
            cond(PHONE, Op::Eq, "110", Join::And),
        ];
        assert!(check(&conds, &row(&[("f1", "a"), (PHONE, "999")])));
        assert!(!check(&conds, &row(&[("f2", "1"), (PHONE, "999")])));
        assert!(check(&conds, &row(&[("f2", "1"), (PHONE, "110")])));
        // The last condition's join is ignored.
        let conds = [cond("f1", Op::Eq, "a", Join::Or)];
        assert!(check(&conds, &row(&[("f1", "a")])));
        assert!(!check(&conds, &row(&[("f1", "b")])));
        assert!(check(&[], &row(&[])));
    }

    #[test]
    fn numbers_compare_as_numbers_and_text_as_text() {
        let gt = [cond("f2", Op::Gt, "9", Join::And)];
        assert!(check(&gt, &row(&[("f2", "10")])));
        assert!(!check(&gt, &row(&[("f2", "8.5")])));
        assert!(!check(&gt, &row(&[])));
        // The manual's "号码 大于 1" keeps every number.
        let phone = [cond(PHONE, Op::Gt, "1", Join::And)];
        assert!(check(&phone, &row(&[(PHONE, "18618616001")])));
        // Text that is no number compares as text: "b" > "a10".
        let text = [cond("f1", Op::Gt, "a10", Join::And)];
        assert!(check(&text, &row(&[("f1", "b")])));
        assert!(!check(&text, &row(&[("f1", "a")])));
        // Numbers as text would put "10" before "9".
        let le = [cond("f1", Op::Le, "9", Join::And)];
        assert!(!check(&le, &row(&[("f1", "10")])));
        let eq = [cond("f2", Op::Eq, "1", Join::And)];
        assert!(check(&eq, &row(&[("f2", "1.0")])));
        let dates = [cond("f4", Op::Ge, "2024-2-1", Join::And)];
        assert!(check(&dates, &row(&[("f4", "2024/02/10")])));
        assert!(!check(&dates, &row(&[("f4", "2024-01-31")])));
    }

    #[test]
    fn contains_ignores_case_and_ne_matches_missing_values() {
        let c = [cond("f1", Op::Contains, "VIP", Join::And)];
        assert!(check(&c, &row(&[("f1", "a vip customer")])));
        assert!(!check(&c, &row(&[("f1", "normal")])));
        let c = [cond("f3", Op::Contains, "意向", Join::And)];
        assert!(check(&c, &row(&[("f3", "有意向")])));
        let ne = [cond("f1", Op::Ne, "x", Join::And)];
        assert!(check(&ne, &row(&[])));
        assert!(!check(&ne, &row(&[("f1", "X")])));
    }

    #[test]
    fn in_and_empty() {
        let mut c = cond("f3", Op::In, "", Join::And);
        c.values = vec!["有意向".into()];
        assert!(check(std::slice::from_ref(&c), &row(&[("f3", "有意向")])));
        assert!(!check(std::slice::from_ref(&c), &row(&[("f3", "无意向")])));
        assert!(!check(std::slice::from_ref(&c), &row(&[])));
        let empty = [cond("f1", Op::Empty, "", Join::And)];
        assert!(check(&empty, &row(&[("f1", "  ")])));
        assert!(check(&empty, &row(&[])));
        assert!(!check(&empty, &row(&[("f1", "a")])));
        let not_empty = [cond("f1", Op::NotEmpty, "", Join::And)];
        assert!(check(&not_empty, &row(&[("f1", "a")])));
        let mut state = cond(STATE, Op::In, "", Join::And);
        state.values = vec!["unassigned".into()];
        assert!(check(&[state], &row(&[(STATE, "unassigned")])));
    }

    #[test]
    fn bad_conditions_are_named_by_index() {
        let f = fields();
        let e = validate(
            &[
                cond("f1", Op::Eq, "a", Join::And),
                cond("nope", Op::Eq, "a", Join::And),
            ],
            &f,
        )
        .unwrap_err();
        assert_eq!((e.index, e.part), (1, Part::Field));
        assert_eq!(e.to_string(), "condition 2: the batch has no field 'nope'");
        let e = validate(&[cond("f1", Op::In, "", Join::And)], &f).unwrap_err();
        assert_eq!((e.index, e.part), (0, Part::Op));
        let e = validate(&[cond("f1", Op::Eq, " ", Join::And)], &f).unwrap_err();
        assert_eq!(e.part, Part::Value);
        let e = validate(&[cond("f2", Op::Gt, "many", Join::And)], &f).unwrap_err();
        assert_eq!(e.part, Part::Value);
        let mut bad_in = cond("f3", Op::In, "", Join::And);
        bad_in.values = vec!["别的".into()];
        assert_eq!(validate(&[bad_in], &f).unwrap_err().part, Part::Value);
        assert!(validate(&[cond(PHONE, Op::Gt, "1", Join::And)], &f).is_ok());
        assert!(validate(&[cond("f1", Op::Empty, "", Join::Or)], &f).is_ok());
    }
}
