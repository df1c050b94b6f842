//! Spreadsheets for the CRM's import and export: reads Excel `.xlsx` and CSV
//! files into header + rows of text, and writes both formats.
//!
//! Every uploaded file is treated as hostile. [`read`] never panics on any
//! bytes, enforces [`Limits`] while it reads (a million-row file is refused
//! after the first rows past the limit, not after building it in memory),
//! and answers with a [`SheetError`] whose `Display` is a sentence for the
//! user. Problems with single cells (a formula, an error value, a value
//! under no header) do not stop the file: they are listed per row in
//! [`Row::problems`], so the importer can report every bad row at once.
//!
//! The writers protect against formula injection: [`write_csv`] quotes
//! text that Excel would run as a formula, [`write_xlsx`] stores every cell
//! as a string.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cells;
mod csv_read;
mod mapping;
mod write;
mod xlsx_read;
mod xml_scan;

#[cfg(test)]
mod tests;

pub use mapping::{map_columns, Field, Mapping};
pub use write::{write_csv, write_xlsx};

/// The format a file was read as: told from its bytes, never from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An Excel 2007+ workbook (`.xlsx`, a ZIP of XML parts).
    Xlsx,
    /// Comma-, semicolon- or tab-separated text, UTF-8, UTF-16 or GB18030.
    Csv,
}

/// Limits a caller sets on what [`read`] accepts; the defaults suit the
/// CRM's contact import (see [`Limits::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted, in bytes (default 50 MiB).
    pub max_bytes: usize,
    /// Most data rows accepted, the header row not counted (default 200,000).
    pub max_rows: usize,
    /// Most columns accepted (default 200).
    pub max_columns: usize,
    /// Longest cell accepted, in characters (default 10,000). A longer cell
    /// is a problem of its row, and its text is left out.
    pub max_cell_chars: usize,
    /// Most bytes an `.xlsx` file may unpack to, its XML parts added up
    /// (default 1 GiB). Guards against ZIP bombs: an `.xlsx` is a ZIP, and
    /// a few MiB of ZIP can unpack to many GiB.
    pub max_unpacked_bytes: usize,
}

impl Default for Limits {
    /// The CRM's limits: 50 MiB, 200,000 rows, 200 columns, 10,000
    /// characters a cell, 1 GiB unpacked.
    fn default() -> Self {
        Limits {
            max_bytes: 50 << 20,
            max_rows: 200_000,
            max_columns: 200,
            max_cell_chars: 10_000,
            max_unpacked_bytes: 1 << 30,
        }
    }
}

/// A read sheet: the header row (trimmed text, one entry per column up to
/// the last named one; an unnamed column in between is `""`) and the data
/// rows that are not fully empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// What the bytes turned out to be.
    pub format: Format,
    /// Column names from row 1, trimmed.
    pub headers: Vec<String>,
    /// Data rows in file order; fully empty rows are left out.
    pub rows: Vec<Row>,
}

/// One data row of a [`Sheet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row number the user sees in Excel: the header is row 1, so the
    /// first data row is 2; empty rows left out still count, so the number
    /// always points at the right line of the user's file.
    pub number: usize,
    /// Cells as text, exactly one per header (missing cells are `""`).
    /// Numbers read from `.xlsx` come without `.0` or exponent, dates as
    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, booleans as `true`/`false`.
    pub cells: Vec<String>,
    /// Problems with single cells of this row, one sentence each, naming
    /// the cell, e.g. `C7 holds a formula (=A7&B7); paste values instead`.
    /// The importer should skip or reject a row that has any.
    pub problems: Vec<String>,
}

/// Why a file cannot be read (or written) at all. `Display` is a clear
/// English sentence meant for the user who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SheetError {
    /// The file has no bytes, or only a byte-order mark and blanks.
    #[error("the file is empty")]
    EmptyFile,
    /// The file is bigger than [`Limits::max_bytes`].
    #[error("the file is larger than {}", cells::size_text(*max_bytes))]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        max_bytes: usize,
    },
    /// The bytes are neither an `.xlsx` workbook nor text (binary, or text
    /// in no encoding we know).
    #[error("the file is not an Excel .xlsx or CSV file")]
    NotASpreadsheet,
    /// A spreadsheet format we do not read (old `.xls`, `.xlsb`, `.ods`,
    /// an HTML page named `.xls`...): the user can convert it in Excel.
    #[error("the file is {kind}; open it in Excel, save it as .xlsx or CSV and try again")]
    SaveAs {
        /// What the file is, as a phrase: "an old Excel .xls workbook".
        kind: &'static str,
    },
    /// An encrypted (password-protected) workbook.
    #[error("the file is password-protected; remove the password in Excel and try again")]
    Encrypted,
    /// The `.xlsx` is broken: truncated, or its ZIP or XML is invalid.
    #[error("the file is damaged or incomplete; open it in Excel, save it again and try again")]
    Damaged {
        /// What exactly is wrong, for the server's log (not for the user).
        detail: String,
    },
    /// The `.xlsx` unpacks to more than [`Limits::max_unpacked_bytes`].
    #[error(
        "the file unpacks to more than {}; split it into smaller files",
        cells::size_text(*max_unpacked_bytes)
    )]
    TooLargeUnpacked {
        /// The limit that was exceeded, in bytes.
        max_unpacked_bytes: usize,
    },
    /// The workbook has chart sheets only, or no sheet at all.
    #[error("the workbook has no worksheet")]
    NoWorksheet,
    /// The sheet has no cell with a value.
    #[error("the sheet is empty")]
    EmptySheet,
    /// Row 1, which must hold the column names, is empty.
    #[error("the header row is empty; put the column names in row 1")]
    EmptyHeader,
    /// More data rows than [`Limits::max_rows`].
    #[error("the sheet has more than {max_rows} rows; split it into smaller files")]
    TooManyRows {
        /// The limit that was exceeded.
        max_rows: usize,
    },
    /// A value in a column past [`Limits::max_columns`].
    #[error("the sheet has more than {max_columns} columns; remove the columns you do not need")]
    TooManyColumns {
        /// The limit that was exceeded.
        max_columns: usize,
    },
    /// Two columns with the same name (compared trimmed, ignoring case).
    #[error("duplicate column '{name}' (columns {first} and {second})")]
    DuplicateColumn {
        /// The name as written in the second column.
        name: String,
        /// Letter of the first column with that name, e.g. `B`.
        first: String,
        /// Letter of the second column with that name, e.g. `E`.
        second: String,
    },
    /// The sheet has merged cells, which leave values in one cell of the
    /// range and blanks in the others.
    #[error("cells {range} are merged{}; unmerge them before importing", cells::more_ranges_text(*more))]
    MergedCells {
        /// The first merged range, e.g. `B3:C3`.
        range: String,
        /// How many more merged ranges the sheet has.
        more: usize,
    },
    /// Writing failed: too much data for the format, or no temporary file
    /// could be made.
    #[error("cannot write the file: {0}")]
    Write(String),
}

/// Reads an uploaded spreadsheet: an `.xlsx` (its first visible worksheet)
/// or a CSV file, told apart by the bytes, not the file name. Row 1 is the
/// header. Never panics, whatever the bytes.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Sheet, SheetError> {
    if bytes.len() > limits.max_bytes {
        return Err(SheetError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(SheetError::EmptyFile);
    }
    // A ZIP's first local header; every .xlsx starts with one.
    if bytes.starts_with(b"PK\x03\x04") {
        return xlsx_read::read(bytes, limits);
    }
    // An OLE compound file: an old .xls, or (with an EncryptedPackage
    // stream inside) a password-protected .xlsx, which Excel also stores
    // in this container.
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        if contains_utf16le(bytes, "EncryptedPackage") {
            return Err(SheetError::Encrypted);
        }
        return Err(SheetError::SaveAs {
            kind: "an old Excel .xls workbook",
        });
    }
    csv_read::read(bytes, limits)
}

/// Whether `needle` appears in `haystack` as UTF-16LE (the encoding of the
/// stream names in an OLE compound file's directory).
fn contains_utf16le(haystack: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    haystack.windows(pattern.len()).any(|w| w == pattern)
}
