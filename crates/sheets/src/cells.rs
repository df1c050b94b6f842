//! What the CSV and the `.xlsx` readers share: cell names (`C7`), the text
//! of numbers and dates, and the [`Builder`] that turns raw rows into a
//! [`Sheet`] while enforcing the [`Limits`].

use std::collections::HashMap;

use crate::{Format, Limits, Row, Sheet, SheetError};

/// Excel's last row (1,048,576) and last column (XFD, 16,384): cell
/// references past them are not from Excel, and refusing them keeps the
/// arithmetic on them far from overflow.
pub(crate) const EXCEL_MAX_ROWS: u32 = 1_048_576;
/// See [`EXCEL_MAX_ROWS`].
pub(crate) const EXCEL_MAX_COLUMNS: u32 = 16_384;

/// Problems listed per row before the rest are only counted: a row whose
/// 200 cells all hold formulas says so in a dozen lines, not 200.
const MAX_PROBLEMS_PER_ROW: usize = 10;

/// Longest formula text quoted in a problem; the user only needs to
/// recognise it.
const MAX_FORMULA_CHARS: usize = 80;

/// A size for a message: "50 MiB", "1 GiB", or bytes when not a whole MiB.
pub(crate) fn size_text(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    const GIB: usize = 1 << 30;
    if bytes >= GIB && bytes % GIB == 0 {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The tail of the merged-cells message when there are more ranges.
pub(crate) fn more_ranges_text(more: usize) -> String {
    match more {
        0 => String::new(),
        1 => " (and 1 more merged range)".to_owned(),
        n => format!(" (and {n} more merged ranges)"),
    }
}

/// The letters of a 0-based column: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub(crate) fn column_name(col: usize) -> String {
    let mut letters = Vec::new();
    let mut n = col + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        // rem < 26, so the cast cannot truncate.
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// The A1-style name of a cell: `row_number` as the user sees it (1-based),
/// `col` 0-based.
pub(crate) fn cell_name(row_number: usize, col: usize) -> String {
    format!("{}{row_number}", column_name(col))
}

/// Parses a row number as written in sheet XML (`"7"`) into a 0-based row.
/// Anything but 1 to 1,048,576 in plain digits is refused.
pub(crate) fn parse_row(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 7 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 7 digits: the value stays below 10^7, far from overflow.
    let n = s.iter().fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    if n == 0 || n > EXCEL_MAX_ROWS {
        None
    } else {
        Some(n - 1)
    }
}

/// Parses a cell reference as written in sheet XML (`"C7"`) into 0-based
/// `(row, col)`. Only Excel's own range is accepted (`A1` to `XFD1048576`,
/// no `$`), which is also what keeps calamine's unchecked arithmetic on the
/// same attributes from overflowing.
pub(crate) fn parse_cell_ref(s: &[u8]) -> Option<(u32, u32)> {
    let letters = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let (col_part, row_part) = s.split_at(letters);
    // At most 3 letters: at most 18,278, far from overflow.
    let col = col_part.iter().fold(0u32, |acc, b| {
        acc * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    if col > EXCEL_MAX_COLUMNS {
        return None;
    }
    Some((parse_row(row_part)?, col - 1))
}

/// Parses a range as written in sheet XML (`"B3:C3"`, or one cell `"B3"`)
/// into 0-based corners; a range whose end is before its start is refused.
pub(crate) fn parse_range(s: &[u8]) -> Option<((u32, u32), (u32, u32))> {
    let mut parts = s.split(|&b| b == b':');
    let start = parse_cell_ref(parts.next()?)?;
    let end = match parts.next() {
        Some(p) => parse_cell_ref(p)?,
        None => start,
    };
    if parts.next().is_some() || end.0 < start.0 || end.1 < start.1 {
        return None;
    }
    Some((start, end))
}

/// The text of a number cell: integers without `.0` or exponent (a phone
/// number typed as a number, 13800138000, stays `13800138000`), other
/// values in their shortest round-trip form, never in exponent notation.
pub(crate) fn number_text(f: f64) -> String {
    if f == 0.0 {
        // Also turns -0 into 0.
        return "0".to_owned();
    }
    // Rust's Display for f64 is the shortest text that reads back as the
    // same value, without exponent and without a trailing ".0".
    format!("{f}")
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm; valid far beyond Excel's range.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
}

/// `HH:MM:SS` of a number of seconds within a day.
fn time_text(secs: i64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The text of a cell Excel shows as a date and/or time: an Excel serial
/// number (days since 1899-12-30, or 1904-01-01 in the 1904 date system)
/// becomes `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, or `HH:MM:SS` for a time of
/// day alone (serial below 1). A serial outside Excel's dates (before 1900
/// or after 9999) is given as the number.
pub(crate) fn date_text(serial: f64, is_1904: bool) -> String {
    // 2,958,466 is 10000-01-01 in the 1900 system, Excel's end of time.
    if !(0.0..2_958_466.0).contains(&serial) {
        return number_text(serial);
    }
    // Round to the second: Excel stores milliseconds, users type seconds.
    // serial < 3e6, so the product fits an i64 exactly enough.
    let total = (serial * 86_400.0).round() as i64;
    let (days, secs) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    if days == 0 {
        return time_text(secs);
    }
    let date = if is_1904 {
        // 1904-01-01 is day -24,107 from 1970-01-01.
        let (y, m, d) = civil_from_days(days - 24_107);
        format!("{y:04}-{m:02}-{d:02}")
    } else if days == 60 {
        // Excel's 1900 leap-year bug: serial 60 is the 29 February 1900
        // that never was; Excel shows it, so do we.
        "1900-02-29".to_owned()
    } else {
        // Before the fake leap day serials count from 1899-12-31, after
        // it from 1899-12-30 (day -25,569 from 1970-01-01).
        let base = if days < 60 { -25_568 } else { -25_569 };
        let (y, m, d) = civil_from_days(days + base);
        format!("{y:04}-{m:02}-{d:02}")
    };
    if secs == 0 {
        date
    } else {
        format!("{date} {}", time_text(secs))
    }
}

/// The text of a duration cell (format `[h]:mm:ss`): hours may pass 24.
pub(crate) fn duration_text(days: f64) -> String {
    if !days.is_finite() || days.abs() > 1e9 {
        return number_text(days);
    }
    let total = (days * 86_400.0).round() as i64;
    let sign = if total < 0 { "-" } else { "" };
    let total = total.abs();
    format!(
        "{sign}{}:{:02}:{:02}",
        total / 3600,
        total % 3600 / 60,
        total % 60
    )
}

/// The text of an ISO 8601 date cell (`t="d"`, written by some tools):
/// `2024-03-15T10:30:00.000Z` becomes `2024-03-15 10:30:00`, a midnight
/// time is dropped; anything else is kept as written.
pub(crate) fn iso_text(s: &str) -> String {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let is_date = b.len() >= 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10);
    if !is_date {
        return s.to_owned();
    }
    let date = &s[..10];
    if b.len() == 10 {
        return date.to_owned();
    }
    let is_time = b.len() >= 19
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !is_time {
        return s.to_owned();
    }
    let time = &s[11..19];
    if time == "00:00:00" {
        date.to_owned()
    } else {
        format!("{date} {time}")
    }
}

/// A formula found in a cell, as the problem message will quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormulaNote {
    /// The cell's own formula text (without the leading `=`).
    Plain(String),
    /// A cell filled from a shared formula: Excel stores the formula once,
    /// in `anchor`, and only a reference in the other cells.
    Shared {
        /// The cell holding the formula text, e.g. `C2`.
        anchor: String,
        /// The anchor's formula text.
        text: String,
    },
    /// A formula whose text the file does not give.
    Unknown,
}

impl FormulaNote {
    /// Shortens a formula for quoting, on a char boundary, control
    /// characters (line breaks in long formulas) made spaces.
    pub(crate) fn clip(text: &str) -> String {
        let mut out: String = text
            .chars()
            .take(MAX_FORMULA_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.chars().nth(MAX_FORMULA_CHARS).is_some() {
            out.push('…');
        }
        out
    }

    /// The problem sentence for this formula in `cell`.
    fn problem(&self, cell: &str) -> String {
        match self {
            FormulaNote::Plain(text) => {
                format!(
                    "{cell} holds a formula (={}); paste values instead",
                    Self::clip(text)
                )
            }
            FormulaNote::Shared { anchor, text } => format!(
                "{cell} holds a formula (filled from {anchor}: ={}); paste values instead",
                Self::clip(text)
            ),
            FormulaNote::Unknown => format!("{cell} holds a formula; paste values instead"),
        }
    }
}

/// One cell as a reader found it, before the [`Builder`] checks it.
#[derive(Debug, Default)]
pub(crate) struct CellIn {
    /// 0-based column.
    pub col: usize,
    /// The value as text (for an error cell: empty).
    pub text: String,
    /// The formula the cell holds, if any.
    pub formula: Option<FormulaNote>,
    /// The error value the cell shows (`#N/A`...), if any.
    pub error: Option<String>,
}

impl CellIn {
    /// A plain text cell (all CSV cells are).
    pub(crate) fn text(col: usize, text: String) -> Self {
        CellIn {
            col,
            text,
            ..CellIn::default()
        }
    }

    /// Whether the cell shows anything: text other than blanks, or an
    /// error value. A formula whose result is empty shows nothing, so a row
    /// of them (a template filled down past the data) counts as empty.
    fn shows_something(&self) -> bool {
        !self.text.trim().is_empty() || self.error.is_some()
    }
}

/// A row's problems, listed up to [`MAX_PROBLEMS_PER_ROW`], the rest
/// counted.
struct Problems {
    list: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, problem: String) {
        if self.list.len() < MAX_PROBLEMS_PER_ROW {
            self.list.push(problem);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        match self.more {
            0 => {}
            1 => self
                .list
                .push("… and 1 more problem in this row".to_owned()),
            n => self
                .list
                .push(format!("… and {n} more problems in this row")),
        }
        self.list
    }
}

/// Turns the rows a reader finds into a [`Sheet`]: row 1 becomes the
/// header, later rows data; empty rows are dropped; limits are checked
/// row by row, so reading stops as soon as one is passed.
pub(crate) struct Builder<'l> {
    limits: &'l Limits,
    format: Format,
    headers: Option<Vec<String>>,
    rows: Vec<Row>,
}

impl<'l> Builder<'l> {
    /// A builder for a file of `format` under `limits`.
    pub(crate) fn new(format: Format, limits: &'l Limits) -> Self {
        Builder {
            limits,
            format,
            headers: None,
            rows: Vec::new(),
        }
    }

    /// Adds the row the user sees as `number` (1-based), its cells in any
    /// order, and `unlisted` more problems its reader found but did not
    /// keep (see [`crate::xml_scan`]).
    pub(crate) fn push(
        &mut self,
        number: usize,
        cells: Vec<CellIn>,
        unlisted: usize,
    ) -> Result<(), SheetError> {
        if !cells.iter().any(CellIn::shows_something) {
            return Ok(());
        }
        let max_columns = self.limits.max_columns;
        if cells
            .iter()
            .any(|c| c.col >= max_columns && c.shows_something())
        {
            return Err(SheetError::TooManyColumns { max_columns });
        }
        match &self.headers {
            None => {
                if number != 1 {
                    return Err(SheetError::EmptyHeader);
                }
                self.headers = Some(Self::header(cells)?);
                Ok(())
            }
            Some(headers) => {
                let row = self.data_row(headers, number, cells, unlisted);
                self.rows.push(row);
                if self.rows.len() > self.limits.max_rows {
                    return Err(SheetError::TooManyRows {
                        max_rows: self.limits.max_rows,
                    });
                }
                Ok(())
            }
        }
    }

    /// The header row: trimmed names up to the last non-empty one, no name
    /// twice. An error value (`#N/A`) stands as its own name.
    fn header(cells: Vec<CellIn>) -> Result<Vec<String>, SheetError> {
        let width = cells
            .iter()
            .filter(|c| c.shows_something())
            .map(|c| c.col + 1)
            .max()
            .unwrap_or(0);
        let mut headers = vec![String::new(); width];
        for cell in cells {
            if let Some(slot) = headers.get_mut(cell.col) {
                *slot = match cell.error {
                    Some(error) if cell.text.trim().is_empty() => error,
                    _ => cell.text.trim().to_owned(),
                };
            }
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (col, name) in headers.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            if let Some(&first) = seen.get(&name.to_lowercase()) {
                return Err(SheetError::DuplicateColumn {
                    name: name.clone(),
                    first: column_name(first),
                    second: column_name(col),
                });
            }
            seen.insert(name.to_lowercase(), col);
        }
        Ok(headers)
    }

    /// A data row: one cell per header, the problems of its cells listed.
    fn data_row(
        &self,
        headers: &[String],
        number: usize,
        cells: Vec<CellIn>,
        unlisted: usize,
    ) -> Row {
        let max_chars = self.limits.max_cell_chars;
        let mut out = vec![String::new(); headers.len()];
        let mut problems = Problems {
            list: Vec::new(),
            more: unlisted,
        };
        for cell in cells {
            let name = cell_name(number, cell.col);
            if let Some(formula) = &cell.formula {
                problems.push(formula.problem(&name));
            } else if let Some(error) = &cell.error {
                problems.push(format!(
                    "{name} holds an error value ({error}); correct it or clear the cell"
                ));
            }
            if cell.text.is_empty() {
                continue;
            }
            let slot = match headers.get(cell.col) {
                Some(header) if !header.is_empty() => out.get_mut(cell.col),
                _ => None,
            };
            let Some(slot) = slot else {
                // Data under no header would be dropped without a word:
                // say so, unless it is only blanks.
                if !cell.text.trim().is_empty() {
                    problems.push(format!(
                        "{name} has a value but column {} has no header",
                        column_name(cell.col)
                    ));
                }
                continue;
            };
            // Counting chars is only needed when the bytes could be over.
            if cell.text.len() > max_chars && cell.text.chars().count() > max_chars {
                problems.push(format!("{name} is longer than {max_chars} characters"));
                continue;
            }
            *slot = cell.text;
        }
        Row {
            number,
            cells: out,
            problems: problems.finish(),
        }
    }

    /// The sheet read: an error if it had no non-empty row at all.
    pub(crate) fn finish(self) -> Result<Sheet, SheetError> {
        let headers = self.headers.ok_or(SheetError::EmptySheet)?;
        Ok(Sheet {
            format: self.format,
            headers,
            rows: self.rows,
        })
    }
}
