//! Office hours of inbound rules, checked: weekday ranges, holidays that
//! replace their weekday's hours, and the question "open at this moment?"
//! answered in the offset of the moment given (the caller's wall clock).

use super::rule::Schedule;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike, Weekday};
use std::collections::BTreeMap;
use std::fmt;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// An opening range within one day, start included, end excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// Minutes after midnight the range opens.
    pub fn start_minute(&self) -> u16 {
        self.start
    }

    /// Minutes after midnight the range closes (1440 for `24:00`).
    pub fn end_minute(&self) -> u16 {
        self.end
    }

    fn contains(&self, minute: u16) -> bool {
        self.start <= minute && minute < self.end
    }

    /// Parses `HH:MM-HH:MM`; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<TimeRange, String> {
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| "expected HH:MM-HH:MM".to_string())?;
        let start = parse_minute(start.trim())?;
        let end = parse_minute(end.trim())?;
        if start == MINUTES_PER_DAY {
            return Err("24:00 can only end a range".to_string());
        }
        if end <= start {
            return Err(format!(
                "end {} is not after start {} (a range cannot cross midnight: \
                 split it into one range until 24:00 and one from 00:00 on the next day)",
                HhMm(end),
                HhMm(start)
            ));
        }
        Ok(TimeRange { start, end })
    }
}

fn parse_minute(text: &str) -> Result<u16, String> {
    let bad = || format!("\"{text}\" is not a time HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let number = |s: &str| {
        if (1..=2).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit()) {
            s.parse::<u16>().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (h, m) = (number(h)?, number(m)?);
    if m > 59 || h > 24 || (h == 24 && m > 0) {
        return Err(format!("{text} is out of range (00:00 to 24:00)"));
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight shown as `HH:MM`.
struct HhMm(u16);

impl fmt::Display for HhMm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", HhMm(self.start), HhMm(self.end))
    }
}

/// Parses an English weekday name, any case, short or long.
pub(crate) fn parse_weekday(name: &str) -> Option<Weekday> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A [`Schedule`] checked and ready to answer "open now?".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OfficeHours {
    weekly: [Vec<TimeRange>; 7],
    holidays: BTreeMap<NaiveDate, Vec<TimeRange>>,
}

/// Why a schedule could not be checked; the table adds the rule's name.
#[derive(Debug)]
pub(crate) enum ScheduleError {
    Range { range: String, reason: String },
    Weekday(String),
    Date(String),
    DuplicateDate(String),
}

impl OfficeHours {
    /// Checks every range, weekday and date of `schedule`.
    pub(crate) fn compile(schedule: &Schedule) -> Result<OfficeHours, ScheduleError> {
        let ranges = |list: &[String]| {
            list.iter()
                .map(|r| {
                    TimeRange::parse(r).map_err(|reason| ScheduleError::Range {
                        range: r.clone(),
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut hours = OfficeHours::default();
        for entry in &schedule.weekly {
            let parsed = ranges(&entry.hours)?;
            for name in &entry.days {
                let day =
                    parse_weekday(name).ok_or_else(|| ScheduleError::Weekday(name.clone()))?;
                let slot = &mut hours.weekly[day.num_days_from_monday() as usize];
                slot.extend(parsed.iter().copied());
                slot.sort_by_key(|r| (r.start, r.end));
            }
        }
        for holiday in &schedule.holidays {
            let date = NaiveDate::parse_from_str(holiday.date.trim(), "%Y-%m-%d")
                .map_err(|_| ScheduleError::Date(holiday.date.clone()))?;
            let mut parsed = ranges(&holiday.hours)?;
            parsed.sort_by_key(|r| (r.start, r.end));
            if hours.holidays.insert(date, parsed).is_some() {
                return Err(ScheduleError::DuplicateDate(holiday.date.clone()));
            }
        }
        Ok(hours)
    }

    /// Whether `now` falls in office hours, read in `now`'s own offset.
    pub(crate) fn check(&self, now: DateTime<FixedOffset>) -> HoursCheck {
        let local = now.naive_local();
        let date = local.date();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let (basis, ranges) = match self.holidays.get(&date) {
            Some(ranges) => (HoursBasis::Holiday(date), ranges),
            None => {
                let day = date.weekday();
                (
                    HoursBasis::Weekday(day),
                    &self.weekly[day.num_days_from_monday() as usize],
                )
            }
        };
        HoursCheck {
            open: ranges.iter().any(|r| r.contains(minute)),
            time: local.time(),
            basis,
            ranges: ranges.clone(),
        }
    }
}

/// The answer to "open at this moment?", with what it was based on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoursCheck {
    /// Within office hours.
    pub open: bool,
    /// Local time of day that was checked.
    pub time: NaiveTime,
    /// Whether the date's holiday entry or its weekday decided.
    pub basis: HoursBasis,
    /// The hours that applied; empty means closed all day.
    pub ranges: Vec<TimeRange>,
}

/// What decided the hours of a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoursBasis {
    /// The weekday's regular hours.
    Weekday(Weekday),
    /// The holiday entry of this date.
    Holiday(NaiveDate),
}

impl fmt::Display for HoursCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = self.time.format("%H:%M");
        match self.basis {
            HoursBasis::Weekday(day) => write!(f, "{} {time}", weekday_name(day))?,
            HoursBasis::Holiday(date) => write!(f, "holiday {} {time}", date.format("%Y-%m-%d"))?,
        }
        if self.ranges.is_empty() {
            return f.write_str(" (closed all day)");
        }
        let inside = if self.open { "within" } else { "outside" };
        write!(f, " is {inside} ")?;
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::rule::{Holiday, WeeklyHours};

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn weekdays_nine_to_six() -> Schedule {
        Schedule {
            weekly: vec![WeeklyHours {
                days: ["mon", "Tue", "WEDNESDAY", "thu", "fri"]
                    .map(String::from)
                    .to_vec(),
                hours: vec!["09:00-12:00".into(), "13:30-18:00".into()],
            }],
            holidays: vec![],
        }
    }

    #[test]
    fn ranges_include_start_and_exclude_end() {
        let h = OfficeHours::compile(&weekdays_nine_to_six()).unwrap();
        // 2025-03-03 is a Monday.
        assert!(h.check(at("2025-03-03T09:00:00+00:00")).open);
        assert!(h.check(at("2025-03-03T11:59:59+00:00")).open);
        assert!(!h.check(at("2025-03-03T12:00:00+00:00")).open);
        assert!(!h.check(at("2025-03-03T13:29:00+00:00")).open);
        assert!(h.check(at("2025-03-03T13:30:00+00:00")).open);
        assert!(!h.check(at("2025-03-03T08:59:00+00:00")).open);
        // Saturday is named in no entry.
        assert!(!h.check(at("2025-03-08T10:00:00+00:00")).open);
    }

    #[test]
    fn a_range_may_end_at_midnight() {
        let r = TimeRange::parse("22:00-24:00").unwrap();
        assert!(r.contains(23 * 60 + 59));
        assert_eq!(r.to_string(), "22:00-24:00");
        assert_eq!((r.start_minute(), r.end_minute()), (1320, 1440));
    }

    #[test]
    fn bad_ranges_are_rejected_with_a_reason() {
        let reason = TimeRange::parse("18:00-09:00").unwrap_err();
        assert!(reason.contains("not after start 18:00"), "{reason}");
        assert!(reason.contains("midnight"), "{reason}");
        assert!(TimeRange::parse("09:00-09:00").is_err());
        assert!(TimeRange::parse("25:00-26:00")
            .unwrap_err()
            .contains("out of range"));
        assert!(TimeRange::parse("09:60-10:00")
            .unwrap_err()
            .contains("out of range"));
        assert!(TimeRange::parse("24:00-24:00").is_err());
        assert!(TimeRange::parse("24:30").is_err());
        assert!(TimeRange::parse("9-10").is_err());
        assert!(TimeRange::parse("0900-1000").is_err());
        assert!(TimeRange::parse("+9:00-10:00").is_err());
    }

    #[test]
    fn weekday_names_short_or_long_any_case() {
        assert_eq!(parse_weekday("Thurs"), Some(Weekday::Thu));
        assert_eq!(parse_weekday("SUNDAY"), Some(Weekday::Sun));
        assert_eq!(parse_weekday("funday"), None);
    }

    #[test]
    fn a_holiday_date_replaces_its_weekday() {
        let mut s = weekdays_nine_to_six();
        s.holidays = vec![
            Holiday {
                date: "2025-10-01".into(),
                hours: vec![],
            },
            // A Saturday worked as a make-up day.
            Holiday {
                date: "2025-10-11".into(),
                hours: vec!["10:00-14:00".into()],
            },
        ];
        let h = OfficeHours::compile(&s).unwrap();
        let closed = h.check(at("2025-10-01T10:00:00+08:00"));
        assert!(!closed.open);
        assert_eq!(
            closed.to_string(),
            "holiday 2025-10-01 10:00 (closed all day)"
        );
        assert!(h.check(at("2025-10-11T10:00:00+08:00")).open);
        assert!(!h.check(at("2025-10-11T15:00:00+08:00")).open);
    }

    #[test]
    fn duplicate_holiday_dates_are_rejected() {
        let mut s = weekdays_nine_to_six();
        let day = Holiday {
            date: "2025-10-01".into(),
            hours: vec![],
        };
        s.holidays = vec![day.clone(), day];
        assert!(matches!(
            OfficeHours::compile(&s),
            Err(ScheduleError::DuplicateDate(_))
        ));
    }
}
