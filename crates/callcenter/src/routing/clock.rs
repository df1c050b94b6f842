//! The moment a number is routed at: now, or a moment an administrator typed,
//! both in the machine's local offset unless the text gives one.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone};

/// Now, in the machine's local offset (office hours are read in it).
pub fn local_now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// Parses `YYYY-MM-DD HH:MM` as local time (the machine's offset on that
/// date), or with an explicit offset: `YYYY-MM-DD HH:MM +08:00` or RFC 3339.
pub fn parse_moment(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at);
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M %:z") {
        return Ok(at);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|_| {
        format!("{text:?} is not a moment YYYY-MM-DD HH:MM (optionally followed by an offset like +08:00)")
    })?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.fixed_offset())
        .ok_or_else(|| format!("{text} does not exist in the local time zone (clock change)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_parse_with_or_without_an_offset() {
        let at = parse_moment("2025-10-01 10:00 +08:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2025-10-01T10:00:00+08:00");
        let at = parse_moment("2025-10-01T10:00:00-05:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2025-10-01T10:00:00-05:00");
        let local = parse_moment(" 2025-10-01 10:00 ").unwrap();
        assert_eq!(
            local.format("%Y-%m-%d %H:%M").to_string(),
            "2025-10-01 10:00"
        );
        assert!(parse_moment("2025-10-01").is_err());
        assert!(parse_moment("tomorrow").is_err());
        assert!(parse_moment("2025-13-01 10:00").is_err());
    }
}
