//! The manual's batch syntax for extension numbers: `1000-1099`,
//! `101,105,110-112`, `0100-0102`.

use std::collections::HashSet;

use crate::StoreError;

/// Largest number of extensions a single range may expand to; a typo such
/// as `100-1000000` should fail loudly instead of creating a million rows.
pub const MAX_RANGE_SIZE: usize = 10_000;

/// Longest accepted number, in digits (E.164 numbers are at most 15).
pub const MAX_NUMBER_DIGITS: usize = 20;

/// Expands a number specification into the list of numbers it names, in the
/// order given, without duplicates.
///
/// Entries are separated by commas; each is a number (`101`) or an inclusive
/// range (`110-112`). Leading zeros and width are kept: `0100-0102` gives
/// `0100`, `0101`, `0102`. Whitespace around entries is ignored.
///
/// Refuses non-digits, empty entries, a range whose end is before its start,
/// a range of more than [`MAX_RANGE_SIZE`] numbers, numbers longer than
/// [`MAX_NUMBER_DIGITS`] digits, and zero-padded ranges whose ends have
/// different widths (`01-100`: the intended width is ambiguous).
pub fn parse_numbers(spec: &str) -> Result<Vec<String>, StoreError> {
    if spec.trim().is_empty() {
        return Err(StoreError::InvalidNumberList {
            spec: spec.to_string(),
            reason: "no numbers given".to_string(),
        });
    }
    let mut seen = HashSet::new();
    let mut numbers = Vec::new();
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(StoreError::InvalidNumberList {
                spec: spec.to_string(),
                reason: "empty entry".to_string(),
            });
        }
        for number in expand(part)? {
            if seen.insert(number.clone()) {
                numbers.push(number);
            }
        }
    }
    Ok(numbers)
}

/// Expands one comma-separated entry.
fn expand(part: &str) -> Result<Vec<String>, StoreError> {
    let Some((start, end)) = part.split_once('-') else {
        check_number(part, part)?;
        return Ok(vec![part.to_string()]);
    };
    let (start, end) = (start.trim(), end.trim());
    let range_err = |reason: String| StoreError::InvalidRange {
        part: part.to_string(),
        reason,
    };
    if start.is_empty() || end.is_empty() {
        return Err(range_err("expected START-END".to_string()));
    }
    let first = check_number(start, part)?;
    let last = check_number(end, part)?;

    let padded = has_leading_zero(start) || has_leading_zero(end);
    if padded && start.len() != end.len() {
        return Err(range_err(
            "zero-padded start and end must have the same width".to_string(),
        ));
    }
    if last < first {
        return Err(range_err("end before start".to_string()));
    }
    let count = last - first + 1;
    // Lossless widening: usize is at most 64 bits.
    if count > MAX_RANGE_SIZE as u128 {
        return Err(range_err(format!(
            "{count} numbers, more than the limit of {MAX_RANGE_SIZE}"
        )));
    }
    // Unpadded ranges may grow a digit (`99-100`); padded ones keep the width.
    let width = if padded { start.len() } else { 0 };
    Ok((first..=last).map(|n| format!("{n:0width$}")).collect())
}

/// Validates one number (`text`, found in entry `part`) and returns its value.
fn check_number(text: &str, part: &str) -> Result<u128, StoreError> {
    let err = |reason: &str| {
        // Name the whole entry when the number is half of a range.
        if text == part {
            StoreError::InvalidNumber {
                part: part.to_string(),
                reason: reason.to_string(),
            }
        } else {
            StoreError::InvalidRange {
                part: part.to_string(),
                reason: format!("'{text}' {reason}"),
            }
        }
    };
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("contains characters other than digits"));
    }
    if text.len() > MAX_NUMBER_DIGITS {
        return Err(err(&format!("is longer than {MAX_NUMBER_DIGITS} digits")));
    }
    // 20 decimal digits always fit in a u128, so this cannot fail after the
    // checks above; map the error anyway instead of unwrapping.
    text.parse::<u128>()
        .map_err(|_| err("is not a valid number"))
}

/// `true` for numbers such as `0100` whose width is significant.
fn has_leading_zero(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> String {
        match parse_numbers(spec) {
            Ok(v) => panic!("{spec:?} unexpectedly parsed to {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn single_numbers_and_lists() {
        assert_eq!(parse_numbers("101").unwrap(), vec!["101"]);
        assert_eq!(
            parse_numbers("101,105,110-112").unwrap(),
            vec!["101", "105", "110", "111", "112"]
        );
        assert_eq!(
            parse_numbers(" 101 , 103 - 104 ").unwrap(),
            vec!["101", "103", "104"]
        );
    }

    #[test]
    fn ranges_expand_inclusively() {
        let v = parse_numbers("1000-1099").unwrap();
        assert_eq!(v.len(), 100);
        assert_eq!(v.first().map(String::as_str), Some("1000"));
        assert_eq!(v.last().map(String::as_str), Some("1099"));
        assert_eq!(parse_numbers("101-110").unwrap().len(), 10);
        assert_eq!(parse_numbers("7-7").unwrap(), vec!["7"]);
        assert_eq!(
            parse_numbers("98-101").unwrap(),
            vec!["98", "99", "100", "101"]
        );
    }

    #[test]
    fn leading_zeros_and_width_are_kept() {
        assert_eq!(
            parse_numbers("0100-0102").unwrap(),
            vec!["0100", "0101", "0102"]
        );
        assert_eq!(
            parse_numbers("0098-0100").unwrap(),
            vec!["0098", "0099", "0100"]
        );
        assert_eq!(parse_numbers("007").unwrap(), vec!["007"]);
        assert_eq!(parse_numbers("0").unwrap(), vec!["0"]);
    }

    #[test]
    fn duplicates_are_dropped_keeping_order() {
        assert_eq!(
            parse_numbers("102,101-103,101").unwrap(),
            vec!["102", "101", "103"]
        );
    }

    #[test]
    fn largest_range_and_longest_number_are_accepted() {
        assert_eq!(parse_numbers("10000-19999").unwrap().len(), 10_000);
        let twenty = "9".repeat(20);
        assert_eq!(parse_numbers(&twenty).unwrap(), vec![twenty.clone()]);
        let range = format!("{}-{}", "9".repeat(19) + "0", twenty);
        assert_eq!(parse_numbers(&range).unwrap().len(), 10);
    }

    #[test]
    fn refuses_end_before_start() {
        assert_eq!(err("10-5"), "invalid range '10-5': end before start");
        assert_eq!(err("101,10-5"), "invalid range '10-5': end before start");
    }

    #[test]
    fn refuses_non_digits() {
        assert_eq!(
            err("10a"),
            "invalid number '10a': contains characters other than digits"
        );
        assert_eq!(
            err("+101"),
            "invalid number '+101': contains characters other than digits"
        );
        assert_eq!(
            err("100-1x5"),
            "invalid range '100-1x5': '1x5' contains characters other than digits"
        );
        assert_eq!(
            err("1-2-3"),
            "invalid range '1-2-3': '2-3' contains characters other than digits"
        );
    }

    #[test]
    fn refuses_oversized_ranges() {
        assert_eq!(
            err("1000-11000"),
            "invalid range '1000-11000': 10001 numbers, more than the limit of 10000"
        );
    }

    #[test]
    fn refuses_numbers_longer_than_20_digits() {
        let long = "1".repeat(21);
        assert_eq!(
            err(&long),
            format!("invalid number '{long}': is longer than 20 digits")
        );
        assert_eq!(
            err(&format!("1-{long}")),
            format!("invalid range '1-{long}': '{long}' is longer than 20 digits")
        );
    }

    #[test]
    fn refuses_empty_entries_and_halves() {
        assert_eq!(err(""), "invalid number list '': no numbers given");
        assert_eq!(
            err("101,,102"),
            "invalid number list '101,,102': empty entry"
        );
        assert_eq!(err("101,"), "invalid number list '101,': empty entry");
        assert_eq!(err("-5"), "invalid range '-5': expected START-END");
        assert_eq!(err("5-"), "invalid range '5-': expected START-END");
    }

    #[test]
    fn refuses_mixed_width_padded_ranges() {
        assert_eq!(
            err("01-100"),
            "invalid range '01-100': zero-padded start and end must have the same width"
        );
    }
}
