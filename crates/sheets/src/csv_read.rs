//! Reading CSV: the encoding (UTF-8, UTF-16 with BOM, or GB18030, which
//! Chinese Excel uses when it saves "CSV"), the delimiter, and rows
//! numbered as Excel numbers them.

use std::borrow::Cow;

use encoding_rs::{GB18030, UTF_16BE, UTF_16LE};

use crate::cells::{Builder, CellIn};
use crate::{Format, Limits, Sheet, SheetError};

/// Reads `bytes` (already known not to be a ZIP or OLE file) as CSV.
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Sheet, SheetError> {
    let text = decode(bytes)?;
    // A DOS end-of-file mark at the very end is harmless; anywhere else
    // control characters mean binary data.
    let text = text.trim_end_matches('\u{1a}');
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
    {
        return Err(SheetError::NotASpreadsheet);
    }
    if text.trim().is_empty() {
        return Err(SheetError::EmptyFile);
    }
    check_markup(text)?;
    // csv counts lines by '\n' only: give old Mac files (CR alone) LFs so
    // that row numbers stay right.
    let text: Cow<str> = if text.contains('\r') && !text.contains('\n') {
        Cow::Owned(text.replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    };

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut builder = Builder::new(Format::Csv, limits);
    let mut record = csv::StringRecord::new();
    let bytes = text.as_bytes();
    // A record's row number in Excel is 1 + the line breaks before it, less
    // those inside quoted fields of earlier records (Excel shows a
    // multi-line field in one row). Blank lines, which csv skips, still
    // count as rows: the user sees them in Excel.
    let (mut breaks_before, mut counted_to, mut inner_breaks) = (0usize, 0usize, 0usize);
    loop {
        // csv reports where it started looking for the record: before the
        // blank lines it skips and, after a CRLF, before the LF.
        let start = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(SheetError::Damaged {
                    detail: format!("CSV: {e}"),
                })
            }
        }
        let first = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b != b'\r' && b != b'\n'))
            .map_or(bytes.len(), |skip| start + skip);
        if let Some(gap) = bytes.get(counted_to..first) {
            breaks_before += gap.iter().filter(|&&b| b == b'\n').count();
            counted_to = first;
        }
        let number = (breaks_before + 1).saturating_sub(inner_breaks);
        inner_breaks += record
            .iter()
            .map(|f| f.bytes().filter(|&b| b == b'\n').count())
            .sum::<usize>();

        // Fields past the column limit are only looked at, not copied: a
        // line of a million commas must not become a million cells.
        if record
            .iter()
            .skip(limits.max_columns)
            .any(|f| !f.trim().is_empty())
        {
            return Err(SheetError::TooManyColumns {
                max_columns: limits.max_columns,
            });
        }
        let cells = record
            .iter()
            .take(limits.max_columns)
            .enumerate()
            .filter(|(_, f)| !f.is_empty())
            .map(|(col, f)| CellIn::text(col, f.to_owned()))
            .collect();
        builder.push(number, cells, 0)?;
    }
    builder.finish()
}

/// The text of the file: UTF-8 (with or without BOM), UTF-16 with BOM
/// (Excel's "Unicode text"), else GB18030, which covers GBK and GB2312.
/// Bytes that are valid in none of them are not a CSV file.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, SheetError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(Cow::Borrowed)
            .map_err(|_| SheetError::NotASpreadsheet);
    }
    let utf16 = if bytes.starts_with(b"\xFF\xFE") {
        Some(UTF_16LE)
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some(UTF_16BE)
    } else {
        None
    };
    if let Some(encoding) = utf16 {
        return encoding
            .decode_without_bom_handling_and_without_replacement(bytes.get(2..).unwrap_or_default())
            .ok_or(SheetError::NotASpreadsheet);
    }
    // NUL is valid UTF-8 and GB18030, but no text file has it.
    if bytes.contains(&0) {
        return Err(SheetError::NotASpreadsheet);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(SheetError::NotASpreadsheet)
}

/// Refuses markup that systems export under an Excel name: an HTML table
/// saved as `.xls`, or an Excel 2003 XML spreadsheet. Read as CSV they
/// would give one column of tags.
fn check_markup(text: &str) -> Result<(), SheetError> {
    let start = text.trim_start();
    if !start.starts_with('<') {
        return Ok(());
    }
    let head: String = start.chars().take(2048).collect::<String>().to_lowercase();
    if head.contains("<html") || head.contains("<table") || head.starts_with("<!doctype html") {
        return Err(SheetError::SaveAs {
            kind: "a web page (HTML) with an Excel name",
        });
    }
    if head.contains("urn:schemas-microsoft-com:office:spreadsheet") {
        return Err(SheetError::SaveAs {
            kind: "an Excel 2003 XML spreadsheet",
        });
    }
    if head.starts_with("<?xml") {
        return Err(SheetError::NotASpreadsheet);
    }
    Ok(())
}

/// The delimiter: comma, unless the header line clearly uses semicolons
/// (Excel in locales with a decimal comma) or tabs (Excel's "text"
/// export), counted outside quotes.
fn sniff_delimiter(text: &str) -> u8 {
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => break,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if tabs > commas && tabs > semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_follows_the_header_line() {
        assert_eq!(sniff_delimiter("a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1,2"), b';');
        assert_eq!(sniff_delimiter("\"x;y\",b\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("name"), b',');
    }
}
