//! Reading `.xlsx`: checks on the ZIP, our scan of the sheet
//! ([`crate::xml_scan`]), then calamine's streaming cell reader for the
//! values.

use std::io::{self, Cursor, Read};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use zip::ZipArchive;

use crate::cells::{date_text, duration_text, iso_text, number_text, Builder, CellIn};
use crate::xml_scan::{self, damaged, find_part};
use crate::{Format, Limits, Sheet, SheetError};

/// Most entries an `.xlsx` ZIP may have. Excel writes a dozen or two; tens
/// of thousands of tiny entries only cost time and memory in the ZIP index.
const MAX_PARTS: usize = 10_000;

/// Reads an `.xlsx` file.
///
/// Our scan feeds calamine only checked references, and the tests fuzz
/// every part of a workbook, but a panic left in calamine or zip on some
/// crafted file would still kill the importing request: it is caught here
/// and reported as a damaged file. (This net needs `panic = "unwind"`, the
/// default; the code paths it covers are not ours to make panic-free.)
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Sheet, SheetError> {
    panic::catch_unwind(AssertUnwindSafe(|| read_checked(bytes, limits))).unwrap_or_else(|_| {
        CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
        Err(damaged("the reader panicked"))
    })
}

/// Panics caught by [`read`]: the tests check it stays 0, so that the
/// safety net is never what keeps them green.
pub(crate) static CAUGHT_PANICS: AtomicUsize = AtomicUsize::new(0);

fn read_checked(bytes: &[u8], limits: &Limits) -> Result<Sheet, SheetError> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| damaged(format!("ZIP: {e}")))?;
    if zip.len() > MAX_PARTS {
        return Err(damaged(format!("{} ZIP entries", zip.len())));
    }
    if find_part(&zip, "xl/workbook.xml").is_none() {
        return Err(other_zip(&mut zip));
    }
    check_unpacked(&mut zip, limits.max_unpacked_bytes)?;
    let part = xml_scan::first_worksheet(&mut zip)?;
    let mut scan = {
        let entry = zip
            .by_name(&part.path)
            .map_err(|e| damaged(format!("ZIP part {}: {e}", part.path)))?;
        xml_scan::scan_sheet(entry, limits)?
    };
    drop(zip);

    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(calamine_error)?;
    let is_1904 = workbook.has_1904_epoch();
    let mut cells_reader = workbook
        .worksheet_cells_reader(&part.name)
        .map_err(calamine_error)?;
    let mut builder = Builder::new(Format::Xlsx, limits);
    let mut row: Option<u32> = None;
    let mut last_col: Option<u32> = None;
    let mut cells: Vec<CellIn> = Vec::new();
    while let Some(cell) = cells_reader.next_cell().map_err(calamine_error)? {
        let (r, c) = cell.get_position();
        if row != Some(r) {
            if let Some(prev) = row {
                // Excel writes rows in order and refuses files that don't;
                // out of order, our row numbers and limits would be wrong.
                if r < prev {
                    return Err(damaged("rows out of order"));
                }
                let unlisted = scan.unlisted.remove(&prev).unwrap_or(0);
                builder.push(prev as usize + 1, std::mem::take(&mut cells), unlisted)?;
            }
            row = Some(r);
        } else if last_col.is_some_and(|last| c <= last) {
            return Err(damaged("cells out of order"));
        }
        last_col = Some(c);
        let formula = scan.formulas.remove(&(r, c));
        let mut cell_in = convert(cell.get_value(), is_1904, c as usize);
        if cell_in.text.is_empty() && cell_in.error.is_none() && formula.is_none() {
            continue;
        }
        cell_in.formula = formula;
        cells.push(cell_in);
    }
    if let Some(prev) = row {
        let unlisted = scan.unlisted.remove(&prev).unwrap_or(0);
        builder.push(prev as usize + 1, cells, unlisted)?;
    }
    builder.finish()
}

/// The error for a ZIP that is not an `.xlsx`: another spreadsheet format
/// when we recognise one, else "not a spreadsheet" (a .docx, a plain ZIP).
fn other_zip(zip: &mut ZipArchive<Cursor<&[u8]>>) -> SheetError {
    if find_part(zip, "xl/workbook.bin").is_some() {
        return SheetError::SaveAs {
            kind: "an Excel binary workbook (.xlsb)",
        };
    }
    // An OpenDocument file names its type in a first entry "mimetype".
    let mut mimetype = Vec::new();
    if let Ok(entry) = zip.by_name("mimetype") {
        // Bounded read: the entry is as untrusted as the rest.
        let _ = entry.take(100).read_to_end(&mut mimetype);
    }
    if mimetype.starts_with(b"application/vnd.oasis.opendocument.spreadsheet") {
        return SheetError::SaveAs {
            kind: "an OpenDocument spreadsheet (.ods)",
        };
    }
    SheetError::NotASpreadsheet
}

/// Unpacks every XML part to nowhere, counting, and refuses the file past
/// `limit` bytes in all. calamine loads some parts (shared strings, styles)
/// whole into memory, and a ZIP entry can unpack to a thousand times its
/// size; the sizes the ZIP declares may lie, so the bytes are counted.
/// Other entries (images, printer settings) are never read, so not counted.
fn check_unpacked(zip: &mut ZipArchive<Cursor<&[u8]>>, limit: usize) -> Result<(), SheetError> {
    let too_large = SheetError::TooLargeUnpacked {
        max_unpacked_bytes: limit,
    };
    let mut left = limit as u64;
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| damaged(format!("ZIP entry {i}: {e}")))?;
        let name = entry.name().to_ascii_lowercase();
        if entry.is_dir() || !(name.ends_with(".xml") || name.ends_with(".rels")) {
            continue;
        }
        if entry.size() > left {
            return Err(too_large);
        }
        let unpacked = io::copy(&mut entry.take(left + 1), &mut io::sink())
            .map_err(|e| damaged(format!("ZIP entry {name}: {e}")))?;
        if unpacked > left {
            return Err(too_large);
        }
        left -= unpacked;
    }
    Ok(())
}

/// calamine's errors: a password is the user's to remove, anything else
/// is a damaged file.
fn calamine_error(e: XlsxError) -> SheetError {
    match e {
        XlsxError::Password => SheetError::Encrypted,
        e => damaged(format!("calamine: {e}")),
    }
}

/// A calamine value as the text the importer gets.
fn convert(value: &DataRef<'_>, is_1904: bool, col: usize) -> CellIn {
    let text = match value {
        DataRef::Empty => String::new(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) if d.is_duration() => duration_text(d.as_f64()),
        DataRef::DateTime(d) => date_text(d.as_f64(), is_1904),
        DataRef::DateTimeIso(s) => iso_text(s),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => {
            return CellIn {
                col,
                error: Some(e.to_string()),
                ..CellIn::default()
            }
        }
    };
    CellIn::text(col, text)
}
