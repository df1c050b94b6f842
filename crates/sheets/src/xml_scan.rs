//! Our own pass over an `.xlsx`'s XML, before calamine reads the values.
//!
//! Why not calamine for all of it: its formula reader expands a shared
//! formula's `ref` range cell by cell (`ref="A1:XFD1048576"` is 17 billion
//! map entries: a crafted file would take the server down) and sizes a
//! vector by the unchecked `si` attribute; its cell-reference parsing does
//! unchecked arithmetic that overflows on references like `AAAAAAAA1`. So
//! this pass, streaming and with bounded memory:
//! - finds the first visible worksheet's part in the ZIP,
//! - validates every cell, row and range reference against Excel's own
//!   limits (so calamine only ever sees sane ones),
//! - counts rows with values and refuses the file as soon as there are too
//!   many (a million-row file stops after `max_rows`, unread),
//! - notes the formula of each formula cell, without expanding anything,
//! - finds merged ranges.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek};

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::QName;
use quick_xml::Reader;
use zip::ZipArchive;

use crate::cells::{
    cell_name, parse_cell_ref, parse_range, parse_row, FormulaNote, EXCEL_MAX_COLUMNS,
    EXCEL_MAX_ROWS,
};
use crate::{Limits, SheetError};

/// Formula notes kept per row; the rest of a row's formula cells are only
/// counted (see [`Scan::unlisted`]), which bounds the memory a sheet full
/// of formulas can take.
const MAX_NOTES_PER_ROW: usize = 10;

/// Shared formulas remembered (for the message on the cells filled from
/// them); a real sheet has a handful per column.
const MAX_SHARED_FORMULAS: usize = 100_000;

/// Formula text kept per cell: enough to quote, bounded whatever the file.
const MAX_KEPT_FORMULA_CHARS: usize = 200;

/// The worksheet to read: its name (to ask calamine for it) and its part
/// in the ZIP.
#[derive(Debug)]
pub(crate) struct SheetPart {
    /// The sheet's name as the workbook gives it.
    pub name: String,
    /// The ZIP entry name of its XML.
    pub path: String,
}

/// What the pass found in the worksheet.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Formula cells that show a value, by 0-based `(row, col)`, at most
    /// [`MAX_NOTES_PER_ROW`] a row.
    pub formulas: HashMap<(u32, u32), FormulaNote>,
    /// Per 0-based row, formula cells not kept in `formulas`.
    pub unlisted: HashMap<u32, usize>,
}

/// A damaged-file error with a detail for the log.
pub(crate) fn damaged(detail: impl Into<String>) -> SheetError {
    SheetError::Damaged {
        detail: detail.into(),
    }
}

fn xml_damaged(e: impl std::fmt::Display) -> SheetError {
    damaged(format!("XML: {e}"))
}

/// An XML reader set up as calamine sets up its own, so that both see the
/// same elements (`<c/>` as start and end, unbalanced tags tolerated).
fn xml_reader<R: BufRead>(inner: R) -> Reader<R> {
    let mut reader = Reader::from_reader(inner);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    reader
}

/// The value of attribute `key` (exact name) of an element, raw bytes
/// (borrowed: this runs for every cell).
fn attr<'e>(e: &'e BytesStart<'_>, key: &[u8]) -> Result<Option<Cow<'e, [u8]>>, SheetError> {
    for a in e.attributes() {
        let a = a.map_err(xml_damaged)?;
        if a.key == QName(key) {
            return Ok(Some(a.value));
        }
    }
    Ok(None)
}

/// The real entry name of a part, looked up as calamine does: ignoring
/// case and taking `\` for `/` (some tools write Windows paths).
pub(crate) fn find_part<R: Read + Seek>(zip: &ZipArchive<R>, wanted: &str) -> Option<String> {
    let wanted = wanted.to_ascii_lowercase();
    zip.file_names()
        .find(|n| n.replace('\\', "/").to_ascii_lowercase() == wanted)
        .map(str::to_owned)
}

/// Opens a part for XML reading.
fn open_xml<'z, R: Read + Seek>(
    zip: &'z mut ZipArchive<R>,
    path: &str,
) -> Result<Reader<BufReader<zip::read::ZipFile<'z, R>>>, SheetError> {
    let entry = zip
        .by_name(path)
        .map_err(|e| damaged(format!("ZIP part {path}: {e}")))?;
    Ok(xml_reader(BufReader::new(entry)))
}

/// Finds the worksheet to read: the first visible one in workbook order,
/// else the first hidden one (a workbook may hide all but a chart).
pub(crate) fn first_worksheet<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<SheetPart, SheetError> {
    let rels_path = find_part(zip, "xl/_rels/workbook.xml.rels")
        .ok_or_else(|| damaged("no xl/_rels/workbook.xml.rels"))?;
    let mut relationships: HashMap<Vec<u8>, String> = HashMap::new();
    {
        let mut xml = open_xml(zip, &rels_path)?;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match xml.read_event_into(&mut buf).map_err(xml_damaged)? {
                Event::Start(e) if e.local_name().as_ref() == b"Relationship" => {
                    if let (Some(id), Some(target)) = (attr(&e, b"Id")?, attr(&e, b"Target")?) {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        relationships.insert(id.into_owned(), target);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }

    let book_path =
        find_part(zip, "xl/workbook.xml").ok_or_else(|| damaged("no xl/workbook.xml"))?;
    let mut first_hidden: Option<(String, String)> = None;
    let mut chosen: Option<(String, String)> = None;
    {
        let mut xml = open_xml(zip, &book_path)?;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match xml.read_event_into(&mut buf).map_err(xml_damaged)? {
                Event::Start(e) if e.local_name().as_ref() == b"sheet" => {
                    let (mut name, mut rid, mut visible) = (None, None, true);
                    for a in e.attributes() {
                        let a = a.map_err(xml_damaged)?;
                        if a.key == QName(b"name") {
                            // Unescaped as calamine does, so the name finds
                            // the same sheet there.
                            let value = a
                                .decode_and_unescape_value(xml.decoder())
                                .map_err(xml_damaged)?;
                            name = Some(value.into_owned());
                        } else if a.key == QName(b"state") {
                            visible = !matches!(a.value.as_ref(), b"hidden" | b"veryHidden");
                        } else if a.key.local_name().as_ref() == b"id" {
                            rid = Some(a.value.into_owned());
                        }
                    }
                    let (Some(name), Some(rid)) = (name, rid) else {
                        continue;
                    };
                    let Some(target) = relationships.get(&rid) else {
                        continue;
                    };
                    // Targets are relative to xl/ or absolute; calamine
                    // resolves them this way.
                    let path = if let Some(rest) = target.strip_prefix('/') {
                        rest.to_owned()
                    } else if target.starts_with("xl/") {
                        target.clone()
                    } else {
                        format!("xl/{target}")
                    };
                    // Chart and dialog sheets have no cells.
                    if path.split('/').nth(1) != Some("worksheets") {
                        continue;
                    }
                    if visible {
                        chosen = Some((name, path));
                        break;
                    }
                    first_hidden.get_or_insert((name, path));
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let (name, path) = chosen.or(first_hidden).ok_or(SheetError::NoWorksheet)?;
    let path = find_part(zip, &path).ok_or_else(|| damaged(format!("no part {path}")))?;
    Ok(SheetPart { name, path })
}

/// The formula of a cell as found in its `<f>` element.
struct FormulaXml {
    text: String,
    shared: bool,
    si: Option<u32>,
}

/// What a `<c>` element holds, as far as this pass cares.
#[derive(Default)]
struct CellScan {
    /// The cell has a value that shows (non-blank text in `<v>`/`<is>`).
    shows: bool,
    formula: Option<FormulaXml>,
}

/// Reads a `<c>` element's content up to its end tag.
fn read_cell<R: BufRead>(
    xml: &mut Reader<R>,
    buf: &mut Vec<u8>,
    text_buf: &mut Vec<u8>,
) -> Result<CellScan, SheetError> {
    let mut cell = CellScan::default();
    loop {
        buf.clear();
        match xml.read_event_into(buf).map_err(xml_damaged)? {
            Event::Start(e) if e.local_name().as_ref() == b"f" => {
                let shared = attr(&e, b"t")?.as_deref() == Some(b"shared".as_slice());
                let si = attr(&e, b"si")?
                    .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<u32>().ok());
                let text = read_text(xml, text_buf, b"f")?;
                cell.formula = Some(FormulaXml { text, shared, si });
            }
            Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => cell.shows = true,
            Event::CData(t) if !t.is_empty() => cell.shows = true,
            Event::GeneralRef(_) => cell.shows = true,
            Event::End(e) if e.local_name().as_ref() == b"c" => return Ok(cell),
            Event::Eof => return Err(damaged("the sheet ends inside a cell")),
            _ => {}
        }
    }
}

/// The text content of an element up to its end tag `end`, unescaped, of
/// which the first [`MAX_KEPT_FORMULA_CHARS`] characters are kept.
fn read_text<R: BufRead>(
    xml: &mut Reader<R>,
    buf: &mut Vec<u8>,
    end: &[u8],
) -> Result<String, SheetError> {
    let mut text = String::new();
    let mut kept = 0usize;
    let mut push = |s: &str| {
        for c in s.chars() {
            if kept >= MAX_KEPT_FORMULA_CHARS {
                return;
            }
            text.push(c);
            kept += 1;
        }
    };
    loop {
        buf.clear();
        match xml.read_event_into(buf).map_err(xml_damaged)? {
            Event::Text(t) => push(&t.xml10_content().map_err(xml_damaged)?),
            Event::CData(t) => push(&t.decode().map_err(xml_damaged)?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(xml_damaged)?;
                if let Some(s) = resolve_xml_entity(&name) {
                    push(s);
                } else if let Ok(Some(c)) = r.resolve_char_ref() {
                    push(c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::End(e) if e.local_name().as_ref() == end => return Ok(text),
            Event::Eof => return Err(damaged("the sheet ends inside a formula")),
            _ => {}
        }
    }
}

/// Scans a worksheet's XML (see the module documentation).
pub(crate) fn scan_sheet<R: Read>(part: R, limits: &Limits) -> Result<Scan, SheetError> {
    let mut xml = xml_reader(BufReader::new(part));
    let (mut buf, mut cell_buf, mut text_buf) = (Vec::new(), Vec::new(), Vec::new());
    let mut scan = Scan::default();
    let mut in_data = false;
    // Where a cell without an `r` attribute is: calamine counts the same way.
    let (mut row, mut col) = (0u32, 0u32);
    // Rows with a value so far (the header included) and the last one.
    let (mut rows_seen, mut last_row_seen) = (0usize, None::<u32>);
    let row_cap = limits.max_rows.saturating_add(1);
    // Formula notes kept in the current row.
    let mut kept_in_row = (u32::MAX, 0usize);
    let mut shared: HashMap<u32, (String, String)> = HashMap::new();
    let (mut merged, mut more_merged) = (None::<String>, 0usize);

    loop {
        buf.clear();
        match xml.read_event_into(&mut buf).map_err(xml_damaged)? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"sheetData" => in_data = true,
                b"dimension" => {
                    if let Some(v) = attr(&e, b"ref")? {
                        parse_range(&v).ok_or_else(|| damaged("bad dimension"))?;
                    }
                }
                b"row" if in_data => {
                    if let Some(v) = attr(&e, b"r")? {
                        row = parse_row(&v).ok_or_else(|| damaged("bad row number"))?;
                    }
                }
                b"c" if in_data => {
                    let pos = match attr(&e, b"r")? {
                        Some(v) => {
                            let pos =
                                parse_cell_ref(&v).ok_or_else(|| damaged("bad cell reference"))?;
                            col = pos.1;
                            pos
                        }
                        None => (row, col),
                    };
                    if pos.0 >= EXCEL_MAX_ROWS || pos.1 >= EXCEL_MAX_COLUMNS {
                        return Err(damaged("a cell past Excel's last row or column"));
                    }
                    let cell = read_cell(&mut xml, &mut cell_buf, &mut text_buf)?;
                    col = col.saturating_add(1);
                    // Noted before the blank check: a shared formula's
                    // anchor must be remembered even if its result is blank.
                    let note = cell.formula.map(|formula| {
                        let name = cell_name(pos.0 as usize + 1, pos.1 as usize);
                        note(formula, name, &mut shared)
                    });
                    if !cell.shows {
                        // Blank cells, and formulas whose result is blank,
                        // bring no data: neither counted nor reported.
                        continue;
                    }
                    if last_row_seen != Some(pos.0) {
                        last_row_seen = Some(pos.0);
                        rows_seen += 1;
                        if rows_seen > row_cap {
                            return Err(SheetError::TooManyRows {
                                max_rows: limits.max_rows,
                            });
                        }
                    }
                    if let Some(note) = note {
                        if kept_in_row.0 != pos.0 {
                            kept_in_row = (pos.0, 0);
                        }
                        if kept_in_row.1 < MAX_NOTES_PER_ROW {
                            scan.formulas.insert(pos, note);
                            kept_in_row.1 += 1;
                        } else {
                            *scan.unlisted.entry(pos.0).or_default() += 1;
                        }
                    }
                }
                b"mergeCell" => {
                    if let Some(v) = attr(&e, b"ref")? {
                        let (start, end) =
                            parse_range(&v).ok_or_else(|| damaged("bad merged range"))?;
                        // A one-cell "merge" changes nothing.
                        if start != end {
                            if merged.is_none() {
                                merged = Some(format!(
                                    "{}:{}",
                                    cell_name(start.0 as usize + 1, start.1 as usize),
                                    cell_name(end.0 as usize + 1, end.1 as usize)
                                ));
                            } else {
                                more_merged += 1;
                            }
                        }
                    }
                }
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"row" if in_data => {
                    row = row.saturating_add(1);
                    col = 0;
                }
                b"sheetData" => in_data = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(range) = merged {
        return Err(SheetError::MergedCells {
            range,
            more: more_merged,
        });
    }
    Ok(scan)
}

/// The note for a formula cell named `name`. A shared formula's anchor
/// (the cell with its text) is remembered by its `si` index, so the cells
/// filled from it can quote it.
fn note(
    formula: FormulaXml,
    name: String,
    shared: &mut HashMap<u32, (String, String)>,
) -> FormulaNote {
    if formula.text.is_empty() {
        if !formula.shared {
            return FormulaNote::Unknown;
        }
        return match formula.si.and_then(|si| shared.get(&si)) {
            Some((anchor, text)) => FormulaNote::Shared {
                anchor: anchor.clone(),
                text: text.clone(),
            },
            None => FormulaNote::Unknown,
        };
    }
    if let (true, Some(si)) = (formula.shared, formula.si) {
        if shared.len() < MAX_SHARED_FORMULAS {
            shared.insert(si, (name, formula.text.clone()));
        }
    }
    FormulaNote::Plain(formula.text)
}
