//! Writing exports: `.xlsx` through rust_xlsxwriter's constant-memory mode
//! and CSV for Excel, both safe against formula injection.

use std::borrow::Cow;

use rust_xlsxwriter::{Format as CellFormat, Workbook, XlsxError};

use crate::cells::cell_name;
use crate::SheetError;

/// Excel's limits on a sheet: rows (the header included), columns, and
/// characters in one cell.
const XLSX_MAX_ROWS: u32 = 1_048_576;
const XLSX_MAX_COLUMNS: usize = 16_384;
const XLSX_MAX_CELL_CHARS: usize = 32_767;

fn write_error(e: XlsxError) -> SheetError {
    SheetError::Write(e.to_string())
}

/// Writes an `.xlsx` workbook of one sheet: `headers` in row 1 (bold, and
/// frozen so it stays in view while scrolling), then `rows`.
///
/// Every cell is written as a string, never as a formula or a number, so a
/// value like `=HYPERLINK(...)` shows as text and runs nothing, and a phone
/// number keeps its leading zeros. Rows stream to a temporary file
/// (rust_xlsxwriter's constant-memory mode), so a 100,000-row export does
/// not hold the sheet's XML in memory; the finished file is returned.
///
/// `sheet_name` is made acceptable to Excel (characters `[]:*?/\` replaced,
/// 31 characters at most; empty gives `Sheet1`).
pub fn write_xlsx<I>(sheet_name: &str, headers: &[&str], rows: I) -> Result<Vec<u8>, SheetError>
where
    I: IntoIterator<Item = Vec<String>>,
{
    if headers.len() > XLSX_MAX_COLUMNS {
        return Err(SheetError::Write(format!(
            "more than {XLSX_MAX_COLUMNS} columns, which Excel cannot hold"
        )));
    }
    let mut workbook = Workbook::new();
    // Checks that a temporary file can be made, as an error: rust_xlsxwriter
    // would panic on it when the worksheet is added.
    workbook
        .set_tempdir(std::env::temp_dir())
        .map_err(write_error)?;
    let bold = CellFormat::new().set_bold();
    let sheet = workbook.add_worksheet_with_constant_memory();
    if sheet.set_name(excel_sheet_name(sheet_name)).is_err() {
        // A name Excel reserves (e.g. "History"): the default one will do.
        sheet.set_name("Sheet1").map_err(write_error)?;
    }
    // In constant-memory mode the column widths and panes must be set
    // before the first row is written.
    for (col, header) in headers.iter().enumerate() {
        // col < 16,384 (checked above): fits a u16.
        sheet
            .set_column_width(col as u16, column_width(header))
            .map_err(write_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(write_error)?;
    for (col, header) in headers.iter().enumerate() {
        check_cell(header, 1, col)?;
        sheet
            .write_string_with_format(0, col as u16, *header, &bold)
            .map_err(write_error)?;
    }
    let mut row: u32 = 1;
    for cells in rows {
        if row >= XLSX_MAX_ROWS {
            return Err(SheetError::Write(format!(
                "more than {} rows, which Excel cannot hold; export fewer rows",
                XLSX_MAX_ROWS - 1
            )));
        }
        if cells.len() > XLSX_MAX_COLUMNS {
            return Err(SheetError::Write(format!(
                "more than {XLSX_MAX_COLUMNS} columns, which Excel cannot hold"
            )));
        }
        for (col, value) in cells.iter().enumerate() {
            if value.is_empty() {
                continue;
            }
            check_cell(value, row as usize + 1, col)?;
            sheet
                .write_string(row, col as u16, value)
                .map_err(write_error)?;
        }
        row += 1;
    }
    workbook.save_to_buffer().map_err(write_error)
}

/// Refuses a cell longer than Excel allows, naming it.
fn check_cell(value: &str, row_number: usize, col: usize) -> Result<(), SheetError> {
    if value.len() > XLSX_MAX_CELL_CHARS && value.chars().count() > XLSX_MAX_CELL_CHARS {
        return Err(SheetError::Write(format!(
            "cell {} has more than {XLSX_MAX_CELL_CHARS} characters, which Excel cannot hold",
            cell_name(row_number, col)
        )));
    }
    Ok(())
}

/// A sheet name Excel accepts, as close to `name` as possible.
fn excel_sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(31)
        .collect();
    // Excel refuses a leading or trailing apostrophe.
    let cleaned = cleaned.trim_matches('\'').trim();
    if cleaned.is_empty() {
        "Sheet1".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// A column width that shows the header: CJK characters take two units.
fn column_width(header: &str) -> f64 {
    let units: usize = header
        .chars()
        .map(|c| if c as u32 >= 0x1100 { 2 } else { 1 })
        .sum();
    // Between a default-ish 10 and a still-scannable 50 units.
    (units + 2).clamp(10, 50) as f64
}

/// Writes CSV for Excel: a UTF-8 byte-order mark first (without it Excel
/// reads the file in the local code page and garbles Chinese), comma
/// separated, CRLF line ends, `headers` then `rows`.
///
/// Text Excel would run as a formula (starting with `=`, `+`, `-`, `@`,
/// tab or carriage return) gets a leading `'`, which makes Excel show it as
/// text. Plain negative numbers like `-12.5` are left alone: they cannot be
/// a formula.
pub fn write_csv<I>(headers: &[&str], rows: I) -> Result<Vec<u8>, SheetError>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let csv_error = |e: csv::Error| SheetError::Write(e.to_string());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer
        .write_record(headers.iter().map(|h| CsvField(defuse(h))))
        .map_err(csv_error)?;
    for cells in rows {
        writer
            .write_record(cells.iter().map(|c| CsvField(defuse(c))))
            .map_err(csv_error)?;
    }
    writer
        .into_inner()
        .map_err(|e| SheetError::Write(e.to_string()))
}

/// A cell's text as the csv writer takes it (bytes), without copying.
struct CsvField<'a>(Cow<'a, str>);

impl AsRef<[u8]> for CsvField<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A cell's text made safe from formula injection (see [`write_csv`]).
pub(crate) fn defuse(value: &str) -> Cow<'_, str> {
    let risky = matches!(
        value.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    if risky && !is_negative_number(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// `-` then digits with at most one `.` among them: a number, which Excel
/// reads as one and cannot run.
fn is_negative_number(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('-') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && frac.is_none_or(all_digits)
}
