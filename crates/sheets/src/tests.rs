//! Tests of the whole crate through its public API. The `.xlsx` inputs are
//! made here, with rust_xlsxwriter or (for what it never writes: shared
//! formulas, error cells, broken references) by zipping sheet XML by hand,
//! so there are no binary fixtures.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use rust_xlsxwriter::{ExcelDateTime, Format as XFormat, Formula, Workbook, Worksheet, XlsxError};
use zip::write::SimpleFileOptions;

use super::*;
use crate::cells::{date_text, duration_text, iso_text, number_text, parse_cell_ref, parse_range};
use crate::write::defuse;
use crate::xlsx_read::CAUGHT_PANICS;

fn limits() -> Limits {
    Limits::default()
}

/// A workbook of one sheet made by rust_xlsxwriter in normal mode.
fn xlsx(build: impl FnOnce(&mut Worksheet) -> Result<(), XlsxError>) -> Vec<u8> {
    let mut workbook = Workbook::new();
    build(workbook.add_worksheet()).expect("build the sheet");
    workbook.save_to_buffer().expect("save the workbook")
}

/// A minimal `.xlsx` around `sheet_data` (the content of `<sheetData>`)
/// and `after` (elements after it, e.g. `<mergeCells>`).
fn raw_xlsx(sheet_data: &str, after: &str) -> Vec<u8> {
    raw_xlsx_with(
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
             <sheetData>{sheet_data}</sheetData>{after}</worksheet>"
        ),
        zip::CompressionMethod::Deflated,
    )
}

/// A minimal `.xlsx` whose only sheet is `sheet_xml`.
fn raw_xlsx_with(sheet_xml: &str, method: zip::CompressionMethod) -> Vec<u8> {
    let parts = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
             </Types>",
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
             </Relationships>",
        ),
        (
            "xl/workbook.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
             <sheets><sheet name=\"Data\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
        ),
        (
            "xl/_rels/workbook.xml.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             </Relationships>",
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml),
    ];
    zip_of(&parts, method)
}

fn zip_of(parts: &[(&str, &str)], method: zip::CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, content) in parts {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// The XML of the first sheet of an `.xlsx`.
fn sheet_xml(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .expect("sheet part")
        .read_to_string(&mut xml)
        .expect("sheet xml");
    xml
}

fn strings(row: &[&str]) -> Vec<String> {
    row.iter().map(|s| (*s).to_owned()).collect()
}

fn cells_of(sheet: &Sheet) -> Vec<Vec<String>> {
    sheet.rows.iter().map(|r| r.cells.clone()).collect()
}

/// Reads, and checks no panic was caught inside (the safety net must not
/// be what keeps a test green).
fn read_ok(bytes: &[u8]) -> Sheet {
    let before = CAUGHT_PANICS.load(Ordering::Relaxed);
    let sheet = read(bytes, &limits()).expect("read");
    assert_eq!(
        CAUGHT_PANICS.load(Ordering::Relaxed),
        before,
        "a panic was caught"
    );
    sheet
}

fn read_err(bytes: &[u8]) -> SheetError {
    read_err_with(bytes, &limits())
}

fn read_err_with(bytes: &[u8], limits: &Limits) -> SheetError {
    let before = CAUGHT_PANICS.load(Ordering::Relaxed);
    let err = read(bytes, limits).expect_err("read should fail");
    assert_eq!(
        CAUGHT_PANICS.load(Ordering::Relaxed),
        before,
        "a panic was caught"
    );
    err
}

// ---------------------------------------------------------------- round trips

#[test]
fn xlsx_round_trip_with_chinese_text() {
    let headers = ["姓名", "电话", "备注"];
    let rows = vec![
        strings(&["张三", "13800138000", "VIP客户，老板"]),
        strings(&["李四", "", "多行\n文本"]),
        strings(&["O'Brien & <Co>", "0086 10 1234", " padded "]),
        strings(&["=SUM(A1:A9)", "-5", "_x0041_"]),
    ];
    let bytes = write_xlsx("客户", &headers, rows.clone()).expect("write");
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.format, Format::Xlsx);
    assert_eq!(sheet.headers, strings(&headers));
    assert_eq!(cells_of(&sheet), rows);
    assert_eq!(
        sheet.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert!(
        sheet.rows.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        sheet.rows
    );
}

#[test]
fn xlsx_export_writes_strings_only() {
    let bytes = write_xlsx(
        "Export",
        &["a", "b"],
        vec![strings(&[
            "=HYPERLINK(\"http://x\",\"y\")",
            "1234567890123456789",
        ])],
    )
    .expect("write");
    let xml = sheet_xml(&bytes);
    assert!(!xml.contains("<f>"), "{xml}");
    assert!(xml.contains("t=\"inlineStr\""), "{xml}");
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.rows[0].cells[0], "=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(sheet.rows[0].cells[1], "1234567890123456789");
    assert!(sheet.rows[0].problems.is_empty());
}

#[test]
fn xlsx_sheet_names_are_made_acceptable() {
    for name in [
        "",
        "a/b:c*d?[e]",
        "'quoted'",
        "History",
        "一个非常非常非常非常非常非常非常非常非常非常长的工作表名字",
    ] {
        let bytes = write_xlsx(name, &["x"], vec![strings(&["1"])]).expect("write");
        assert_eq!(read_ok(&bytes).rows[0].cells, ["1"]);
    }
}

#[test]
fn csv_round_trip_with_chinese_text_and_injection_quote() {
    let headers = ["姓名", "电话", "备注"];
    let rows = vec![
        strings(&["张三", "13800138000", "VIP客户，老板"]),
        strings(&["李四", "+8613800138000", "多行\n\"引号\""]),
        strings(&["王五", "-5", "=1+2"]),
        strings(&["赵六", "@SUM(A1)", "\tx"]),
    ];
    let bytes = write_csv(&headers, rows.clone()).expect("write");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = std::str::from_utf8(&bytes).expect("utf-8");
    assert!(text.contains("\r\n"));
    assert!(text.contains(",'=1+2\r\n"), "{text}");
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.format, Format::Csv);
    assert_eq!(sheet.headers, strings(&headers));
    let expected: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| defuse(c).into_owned()).collect())
        .collect();
    assert_eq!(cells_of(&sheet), expected);
    assert_eq!(sheet.rows[2].cells[1], "-5");
    assert_eq!(sheet.rows[1].cells[1], "'+8613800138000");
    // The multi-line field keeps the next record's number right.
    assert_eq!(
        sheet.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
}

#[test]
fn injection_quoting() {
    for risky in [
        "=1+2",
        "+1",
        "-1+2",
        "-",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "-cmd|' /C calc'!A0",
        "-1.2.3",
    ] {
        assert_eq!(defuse(risky), format!("'{risky}"), "{risky:?}");
    }
    for safe in [
        "",
        "a=b",
        "-5",
        "-5.25",
        "13800138000",
        " =1",
        "'=1",
        "张三",
    ] {
        assert_eq!(defuse(safe), safe, "{safe:?}");
    }
}

// ----------------------------------------------------------- xlsx values

#[test]
fn numbers_read_without_fraction_or_exponent() {
    let bytes = xlsx(|ws| {
        for (col, header) in ["phone", "price", "big", "neg", "int", "bool"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, col as u16, *header)?;
        }
        ws.write_number(1, 0, 13_800_138_000.0)?;
        ws.write_number(1, 1, 3.25)?;
        ws.write_number(1, 2, 1e20)?;
        ws.write_number(1, 3, -0.5)?;
        ws.write_number(1, 4, 42.0)?;
        ws.write_boolean(1, 5, true)?;
        Ok(())
    });
    let sheet = read_ok(&bytes);
    assert_eq!(
        sheet.rows[0].cells,
        [
            "13800138000",
            "3.25",
            "100000000000000000000",
            "-0.5",
            "42",
            "true"
        ]
    );
}

#[test]
fn dates_read_as_iso_text() {
    let bytes = xlsx(|ws| {
        ws.write_string(0, 0, "date")?;
        ws.write_string(0, 1, "when")?;
        ws.write_string(0, 2, "time")?;
        let date = XFormat::new().set_num_format("yyyy-mm-dd");
        let when = XFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let time = XFormat::new().set_num_format("hh:mm");
        ws.write_datetime_with_format(1, 0, ExcelDateTime::from_ymd(2024, 3, 15)?, &date)?;
        ws.write_datetime_with_format(
            1,
            1,
            ExcelDateTime::from_ymd(2024, 3, 15)?.and_hms(10, 30, 5)?,
            &when,
        )?;
        ws.write_datetime_with_format(1, 2, ExcelDateTime::from_hms(8, 5, 0)?, &time)?;
        Ok(())
    });
    let sheet = read_ok(&bytes);
    assert_eq!(
        sheet.rows[0].cells,
        ["2024-03-15", "2024-03-15 10:30:05", "08:05:00"]
    );
}

#[test]
fn date_and_number_text() {
    assert_eq!(date_text(45_366.0, false), "2024-03-15");
    assert_eq!(date_text(45_366.5, false), "2024-03-15 12:00:00");
    assert_eq!(date_text(1.0, false), "1900-01-01");
    assert_eq!(date_text(59.0, false), "1900-02-28");
    assert_eq!(date_text(60.0, false), "1900-02-29");
    assert_eq!(date_text(61.0, false), "1900-03-01");
    assert_eq!(date_text(0.75, false), "18:00:00");
    assert_eq!(date_text(1.0, true), "1904-01-02");
    assert_eq!(date_text(2_958_465.0, false), "9999-12-31");
    assert_eq!(date_text(-1.0, false), "-1");
    assert_eq!(date_text(f64::NAN, false), "NaN");
    assert_eq!(date_text(1e300, false).len(), 301);
    assert_eq!(duration_text(1.5), "36:00:00");
    assert_eq!(duration_text(-0.25), "-6:00:00");
    assert_eq!(number_text(-0.0), "0");
    assert_eq!(number_text(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(number_text(1e-7), "0.0000001");
    assert_eq!(iso_text("2024-03-15T10:30:00.000Z"), "2024-03-15 10:30:00");
    assert_eq!(iso_text("2024-03-15T00:00:00"), "2024-03-15");
    assert_eq!(iso_text("2024-03-15"), "2024-03-15");
    assert_eq!(iso_text("15/03/2024"), "15/03/2024");
    assert_eq!(iso_text("2024-03-15T1"), "2024-03-15T1");
}

#[test]
fn cell_references() {
    assert_eq!(parse_cell_ref(b"A1"), Some((0, 0)));
    assert_eq!(parse_cell_ref(b"c7"), Some((6, 2)));
    assert_eq!(parse_cell_ref(b"XFD1048576"), Some((1_048_575, 16_383)));
    for bad in [
        &b"XFE1"[..],
        b"A1048577",
        b"A0",
        b"1",
        b"A",
        b"AAAA1",
        b"A1B",
        b"$A$1",
        b"A99999999999",
        b"",
    ] {
        assert_eq!(
            parse_cell_ref(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(parse_range(b"B3:C4"), Some(((2, 1), (3, 2))));
    assert_eq!(parse_range(b"B3"), Some(((2, 1), (2, 1))));
    assert_eq!(parse_range(b"C4:B3"), None);
    assert_eq!(parse_range(b"A1:B2:C3"), None);
    assert_eq!(cells::column_name(0), "A");
    assert_eq!(cells::column_name(25), "Z");
    assert_eq!(cells::column_name(26), "AA");
    assert_eq!(cells::column_name(16_383), "XFD");
}

#[test]
fn formula_cell_is_a_row_problem() {
    let bytes = xlsx(|ws| {
        ws.write_string(0, 0, "first")?;
        ws.write_string(0, 1, "last")?;
        ws.write_string(0, 2, "full")?;
        ws.write_string(1, 0, "a")?;
        ws.write_string(1, 1, "b")?;
        ws.write_formula(1, 2, Formula::new("=A2&B2").set_result("ab"))?;
        ws.write_string(2, 0, "c")?;
        ws.write_string(2, 2, "plain")?;
        Ok(())
    });
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.rows[0].cells, ["a", "b", "ab"]);
    assert_eq!(
        sheet.rows[0].problems,
        ["C2 holds a formula (=A2&B2); paste values instead"]
    );
    assert!(sheet.rows[1].problems.is_empty());
}

#[test]
fn shared_formulas_are_not_expanded() {
    // Excel's fill-down; the crafted `ref` spans the whole sheet, which a
    // reader expanding it cell by cell would never finish.
    let bytes = raw_xlsx(
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>a</t></is></c>\
         <c r=\"B1\" t=\"inlineStr\"><is><t>b</t></is></c></row>\
         <row r=\"2\"><c r=\"A2\"><v>1</v></c>\
         <c r=\"B2\"><f t=\"shared\" ref=\"A1:XFD1048576\" si=\"0\">A2*2</f><v>2</v></c></row>\
         <row r=\"3\"><c r=\"A3\"><v>2</v></c><c r=\"B3\"><f t=\"shared\" si=\"0\"/><v>4</v></c></row>\
         <row r=\"4\"><c r=\"A4\"><v>3</v></c><c r=\"B4\"><f t=\"shared\" si=\"4294967295\"/><v>6</v></c></row>\
         <row r=\"5\"><c r=\"A5\"><v>4</v></c><c r=\"B5\"><f t=\"shared\" si=\"99999999999999999999\"/><v>8</v></c></row>",
        "",
    );
    let sheet = read_ok(&bytes);
    let problems: Vec<_> = sheet.rows.iter().map(|r| r.problems.join("|")).collect();
    assert_eq!(
        problems,
        [
            "B2 holds a formula (=A2*2); paste values instead",
            "B3 holds a formula (filled from B2: =A2*2); paste values instead",
            "B4 holds a formula; paste values instead",
            "B5 holds a formula; paste values instead",
        ]
    );
    assert_eq!(sheet.rows[1].cells, ["2", "4"]);
}

#[test]
fn error_cells_and_stray_values_are_row_problems() {
    let bytes = raw_xlsx(
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>name</t></is></c>\
         <c r=\"C1\" t=\"inlineStr\"><is><t>city</t></is></c></row>\
         <row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>x</t></is></c>\
         <c r=\"B2\" t=\"inlineStr\"><is><t>lost</t></is></c>\
         <c r=\"C2\" t=\"e\"><f>VLOOKUP(A2,D:E,2,0)</f><v>#N/A</v></c>\
         <c r=\"D2\" t=\"e\"><v>#DIV/0!</v></c></row>",
        "",
    );
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.headers, ["name", "", "city"]);
    assert_eq!(sheet.rows[0].cells, ["x", "", ""]);
    assert_eq!(
        sheet.rows[0].problems,
        [
            "B2 has a value but column B has no header",
            "C2 holds a formula (=VLOOKUP(A2,D:E,2,0)); paste values instead",
            "D2 holds an error value (#DIV/0!); correct it or clear the cell",
        ]
    );
}

#[test]
fn problems_per_row_are_capped() {
    let mut data = String::from("<row r=\"1\">");
    for col in 0..30 {
        data.push_str(&format!(
            "<c r=\"{}1\" t=\"inlineStr\"><is><t>h{col}</t></is></c>",
            cells::column_name(col)
        ));
    }
    data.push_str("</row><row r=\"2\">");
    for col in 0..30 {
        data.push_str(&format!(
            "<c r=\"{}2\"><f>1+{col}</f><v>1</v></c>",
            cells::column_name(col)
        ));
    }
    data.push_str("</row>");
    let sheet = read_ok(&raw_xlsx(&data, ""));
    let problems = &sheet.rows[0].problems;
    assert_eq!(problems.len(), 11, "{problems:?}");
    assert_eq!(problems[10], "… and 20 more problems in this row");
}

#[test]
fn merged_cells_are_an_error() {
    let bytes = xlsx(|ws| {
        ws.write_string(0, 0, "a")?;
        ws.write_string(0, 1, "b")?;
        ws.write_string(0, 2, "c")?;
        ws.merge_range(2, 1, 2, 2, "merged", &XFormat::new())?;
        Ok(())
    });
    let err = read_err(&bytes);
    assert_eq!(
        err,
        SheetError::MergedCells {
            range: "B3:C3".into(),
            more: 0
        }
    );
    assert_eq!(
        err.to_string(),
        "cells B3:C3 are merged; unmerge them before importing"
    );
    let two = raw_xlsx(
        "<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>",
        "<mergeCells count=\"3\"><mergeCell ref=\"A5:A6\"/><mergeCell ref=\"C1:C1\"/>\
         <mergeCell ref=\"D1:E9\"/></mergeCells>",
    );
    assert_eq!(
        read_err(&two).to_string(),
        "cells A5:A6 are merged (and 1 more merged range); unmerge them before importing"
    );
}

#[test]
fn empty_rows_are_skipped_but_numbers_stay_true() {
    let bytes = xlsx(|ws| {
        ws.write_string(0, 0, "a")?;
        ws.write_string(1, 0, "x")?;
        ws.write_string(2, 0, "   ")?;
        ws.write_string(4, 0, "y")?;
        Ok(())
    });
    let sheet = read_ok(&bytes);
    assert_eq!(
        sheet.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 5]
    );

    let csv = read_ok(b"a,b\n1,2\n\n,\n3,4\n\"multi\nline\",5\n6,7\n");
    assert_eq!(
        csv.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
        [2, 5, 6, 7]
    );
    assert_eq!(csv.rows[2].cells, ["multi\nline", "5"]);
}

#[test]
fn first_visible_worksheet_is_read() {
    let mut workbook = Workbook::new();
    workbook
        .add_worksheet()
        .set_name("Hidden")
        .expect("name")
        .set_hidden(true);
    let ws = workbook.add_worksheet().set_name("Visible").expect("name");
    ws.write_string(0, 0, "which").expect("write");
    ws.write_string(1, 0, "visible").expect("write");
    ws.set_active(true);
    let bytes = workbook.save_to_buffer().expect("save");
    assert_eq!(read_ok(&bytes).rows[0].cells, ["visible"]);
}

// ---------------------------------------------------------------- limits

#[test]
fn too_many_rows_in_xlsx() {
    let rows = (0..200_001).map(|i| vec![i.to_string()]);
    let bytes = write_xlsx("big", &["n"], rows).expect("write");
    let err = read_err(&bytes);
    assert_eq!(err, SheetError::TooManyRows { max_rows: 200_000 });
    assert_eq!(
        err.to_string(),
        "the sheet has more than 200000 rows; split it into smaller files"
    );
    // The limit itself is fine.
    let small = Limits {
        max_rows: 3,
        ..limits()
    };
    let three = write_xlsx("x", &["n"], (0..3).map(|i| vec![i.to_string()])).expect("write");
    assert_eq!(read(&three, &small).expect("read").rows.len(), 3);
    let four = write_xlsx("x", &["n"], (0..4).map(|i| vec![i.to_string()])).expect("write");
    assert_eq!(
        read_err_with(&four, &small),
        SheetError::TooManyRows { max_rows: 3 }
    );
}

#[test]
fn too_many_rows_in_csv() {
    let mut text = String::from("n\n");
    for i in 0..200_001 {
        text.push_str(&format!("{i}\n"));
    }
    assert_eq!(
        read_err(text.as_bytes()),
        SheetError::TooManyRows { max_rows: 200_000 }
    );
}

#[test]
fn too_many_columns() {
    let wide = (0..201)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        read_err(wide.as_bytes()),
        SheetError::TooManyColumns { max_columns: 200 }
    );
    // Trailing empty fields do not count.
    let trailing = format!("a,b{}\n1,2{}\n", ",".repeat(1000), ",".repeat(100_000));
    assert_eq!(read_ok(trailing.as_bytes()).headers, ["a", "b"]);
    let far = raw_xlsx(
        "<row r=\"1\"><c r=\"A1\"><v>1</v></c><c r=\"XFD1\"><v>2</v></c></row>",
        "",
    );
    assert_eq!(
        read_err(&far),
        SheetError::TooManyColumns { max_columns: 200 }
    );
}

#[test]
fn long_cells_are_row_problems() {
    let small = Limits {
        max_cell_chars: 5,
        ..limits()
    };
    let sheet = read(
        b"a,b\n12345,\xE4\xB8\x80\xE4\xB8\x80\xE4\xB8\x80\xE4\xB8\x80\xE4\xB8\x80\xE4\xB8\x80\n",
        &small,
    )
    .expect("read");
    assert_eq!(sheet.rows[0].cells, ["12345", ""]);
    assert_eq!(sheet.rows[0].problems, ["B2 is longer than 5 characters"]);
}

#[test]
fn file_size_limit() {
    let small = Limits {
        max_bytes: 10,
        ..limits()
    };
    let err = read_err_with(b"a,b\n1,2\n3,4\n", &small);
    assert_eq!(err.to_string(), "the file is larger than 10 bytes");
    assert_eq!(
        SheetError::TooLarge {
            max_bytes: 50 << 20
        }
        .to_string(),
        "the file is larger than 50 MiB"
    );
}

#[test]
fn zip_bombs_are_refused() {
    // 20 MB of blanks inside the sheet XML packs to a few KB.
    let padding = " ".repeat(20 << 20);
    let bytes = raw_xlsx(
        &format!("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>{padding}"),
        "",
    );
    assert!(bytes.len() < 200_000, "{}", bytes.len());
    let small = Limits {
        max_unpacked_bytes: 1 << 20,
        ..limits()
    };
    let err = read_err_with(&bytes, &small);
    assert_eq!(
        err,
        SheetError::TooLargeUnpacked {
            max_unpacked_bytes: 1 << 20
        }
    );
    assert_eq!(
        err.to_string(),
        "the file unpacks to more than 1 MiB; split it into smaller files"
    );
}

// ---------------------------------------------------------------- CSV

#[test]
fn gbk_csv() {
    let (bytes, _, unmappable) =
        encoding_rs::GBK.encode("姓名,电话,城市\r\n张三,13800138000,北京\r\n");
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err());
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.headers, ["姓名", "电话", "城市"]);
    assert_eq!(sheet.rows[0].cells, ["张三", "13800138000", "北京"]);
}

#[test]
fn semicolon_and_tab_csv() {
    let sheet = read_ok("name;amount;city\nAnna;1,5;Köln\n".as_bytes());
    assert_eq!(sheet.headers, ["name", "amount", "city"]);
    assert_eq!(sheet.rows[0].cells, ["Anna", "1,5", "Köln"]);
    let tabs = read_ok(b"name\tphone\nBob\t123\n");
    assert_eq!(tabs.rows[0].cells, ["Bob", "123"]);
}

#[test]
fn utf16_csv_from_excel_unicode_text() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "姓名\t电话\r\n张三\t138\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let sheet = read_ok(&bytes);
    assert_eq!(sheet.headers, ["姓名", "电话"]);
    assert_eq!(sheet.rows[0].cells, ["张三", "138"]);
}

#[test]
fn bom_is_stripped() {
    let sheet = read_ok("\u{feff}name,phone\nBob,1\n".as_bytes());
    assert_eq!(sheet.headers, ["name", "phone"]);
}

#[test]
fn headers_are_trimmed_and_short_rows_padded() {
    let sheet = read_ok(b" name , phone \nBob\n");
    assert_eq!(sheet.headers, ["name", "phone"]);
    assert_eq!(sheet.rows[0].cells, ["Bob", ""]);
}

#[test]
fn duplicate_headers() {
    let err = read_err(b"name,phone,city,x,Phone\n");
    assert_eq!(
        err.to_string(),
        "duplicate column 'Phone' (columns B and E)"
    );
    let bytes = write_xlsx("x", &["电话", "姓名", " 电话 "], Vec::new()).expect("write");
    assert_eq!(
        read_err(&bytes),
        SheetError::DuplicateColumn {
            name: "电话".into(),
            first: "A".into(),
            second: "C".into()
        }
    );
}

#[test]
fn empty_files_and_headers() {
    assert_eq!(read_err(b""), SheetError::EmptyFile);
    assert_eq!(read_err(b"\xEF\xBB\xBF"), SheetError::EmptyFile);
    assert_eq!(read_err(b" \r\n\r\n"), SheetError::EmptyFile);
    assert_eq!(read_err(b",,\n,,\n"), SheetError::EmptySheet);
    assert_eq!(
        read_err(b"\n\nname,phone\nBob,1\n"),
        SheetError::EmptyHeader
    );
    let bytes = xlsx(|ws| {
        ws.write_string(2, 0, "name")?;
        Ok(())
    });
    assert_eq!(read_err(&bytes), SheetError::EmptyHeader);
    let empty = xlsx(|_| Ok(()));
    assert_eq!(read_err(&empty), SheetError::EmptySheet);
    // A header without data rows is a valid, empty import.
    assert!(read_ok(b"name,phone\n").rows.is_empty());
}

// ------------------------------------------------------- what is not a sheet

#[test]
fn old_xls_and_encrypted_files() {
    let mut xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    xls.resize(4096, 0);
    let err = read_err(&xls);
    assert_eq!(
        err.to_string(),
        "the file is an old Excel .xls workbook; open it in Excel, save it as .xlsx or CSV and try again"
    );
    for unit in "EncryptedPackage".encode_utf16() {
        xls.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(read_err(&xls), SheetError::Encrypted);
}

#[test]
fn other_formats_are_named() {
    let html = read_err(b"<html><body><table><tr><td>a</td></tr></table></body></html>");
    assert!(matches!(html, SheetError::SaveAs { .. }), "{html:?}");
    let ods = zip_of(
        &[
            ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", "<x/>"),
        ],
        zip::CompressionMethod::Stored,
    );
    assert_eq!(
        read_err(&ods),
        SheetError::SaveAs {
            kind: "an OpenDocument spreadsheet (.ods)"
        }
    );
    let docx = zip_of(
        &[("word/document.xml", "<x/>")],
        zip::CompressionMethod::Deflated,
    );
    assert_eq!(read_err(&docx), SheetError::NotASpreadsheet);
    assert_eq!(
        read_err(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        SheetError::NotASpreadsheet
    );
    assert_eq!(read_err(b"%PDF-1.7\n\x01\x02"), SheetError::NotASpreadsheet);
}

#[test]
fn crafted_references_are_refused_not_panicked_on() {
    let cases = [
        "<row r=\"1\"><c r=\"AAAAAAAAAAAAA1\"><v>1</v></c></row>",
        "<row r=\"99999999999\"><c><v>1</v></c></row>",
        "<row r=\"1\"><c r=\"A0\"><v>1</v></c></row>",
        "<row r=\"1048576\"><c r=\"A1048576\"><v>1</v></c></row><row><c><v>1</v></c></row>",
        "<row r=\"1\"><c r=\"XFD1\"><v>1</v></c><c><v>2</v></c></row>",
        "<row r=\"5\"><c r=\"A5\"><v>1</v></c></row><row r=\"2\"><c r=\"A2\"><v>1</v></c></row>",
        "<row r=\"1\"><c r=\"B1\"><v>1</v></c><c r=\"A1\"><v>1</v></c></row>",
        "<row r=\"1\"><c r=\"A1\" t=\"n\"><v>+1</v></c></row>",
        "<row r=\"1\"><c r=\"A1\" t=\"n\"><v>12abc</v></c></row>",
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>999999999999999999999</v></c></row>",
        "<row r=\"1\"><c r=\"A1\" t=\"e\"><v>#WHAT</v></c></row>",
        "<row r=\"1\"><c r=\"A1\" t=\"zz\"><v>1</v></c></row>",
        "<row r=\"1\"><c r=\"A1\"><v>1</v>",
        "<row r=\"1\"><c r=\"A1\"><x>1</x></c></row>",
    ];
    for data in cases {
        let bytes = raw_xlsx(data, "");
        let before = CAUGHT_PANICS.load(Ordering::Relaxed);
        let _ = read(&bytes, &limits());
        assert_eq!(
            CAUGHT_PANICS.load(Ordering::Relaxed),
            before,
            "panic on {data}"
        );
    }
    let bad_dimension = raw_xlsx_with(
        "<worksheet><dimension ref=\"B2:A1\"/><sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c></row></sheetData></worksheet>",
        zip::CompressionMethod::Deflated,
    );
    assert!(matches!(
        read_err(&bad_dimension),
        SheetError::Damaged { .. }
    ));
    let bad_merge = raw_xlsx(
        "<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>",
        "<mergeCells><mergeCell ref=\"C3:A1\"/></mergeCells>",
    );
    assert!(matches!(read_err(&bad_merge), SheetError::Damaged { .. }));
}

/// A valid workbook to damage.
fn sample_xlsx() -> Vec<u8> {
    let rows = (0..50).map(|i| strings(&[&format!("名字{i}"), &format!("1380013{i:04}"), "备注"]));
    write_xlsx("Sheet", &["姓名", "电话", "备注"], rows).expect("write")
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    let mut rng = fastrand::Rng::with_seed(0x5EED);
    let check = |bytes: &[u8]| {
        let before = CAUGHT_PANICS.load(Ordering::Relaxed);
        let _ = read(bytes, &limits());
        assert_eq!(
            CAUGHT_PANICS.load(Ordering::Relaxed),
            before,
            "panic on {bytes:?}"
        );
    };
    // Random bytes, bare and behind each magic number we branch on.
    for i in 0..300 {
        let prefix: &[u8] = match i % 3 {
            1 => b"PK\x03\x04",
            2 => &[0xD0, 0xCF, 0x11, 0xE0],
            _ => b"",
        };
        let mut bytes = prefix.to_vec();
        let len = rng.usize(0..2000);
        bytes.extend((0..len).map(|_| rng.u8(..)));
        assert!(read(&bytes, &limits()).is_err() || i % 3 == 0);
        check(&bytes);
    }
    let valid = sample_xlsx();
    assert_eq!(read_ok(&valid).rows.len(), 50);
    // Every truncation point in steps, and the last bytes one by one.
    for cut in (0..valid.len())
        .step_by(97)
        .chain(valid.len().saturating_sub(64)..valid.len())
    {
        assert!(read(&valid[..cut], &limits()).is_err(), "cut at {cut}");
        check(&valid[..cut]);
    }
    // Random byte changes to the ZIP.
    for _ in 0..300 {
        let mut bytes = valid.clone();
        for _ in 0..rng.usize(1..8) {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        check(&bytes);
    }
}

#[test]
fn damaged_xml_is_an_error_not_a_panic() {
    // Structure-aware: the XML is damaged and zipped properly, so the
    // damage reaches the XML readers instead of failing the ZIP checksum.
    let xml = sheet_xml(&sample_xlsx());
    let specials = [
        b'<', b'>', b'"', b'/', b'&', b'=', b'0', b'9', b'A', b'Z', b':', b'\0', 0xFF,
    ];
    let mut rng = fastrand::Rng::with_seed(42);
    for _ in 0..300 {
        let mut bytes = xml.clone().into_bytes();
        for _ in 0..rng.usize(1..6) {
            let at = rng.usize(..bytes.len());
            match rng.u8(0..3) {
                0 => bytes[at] = specials[rng.usize(..specials.len())],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, specials[rng.usize(..specials.len())]),
            }
        }
        let damaged = String::from_utf8_lossy(&bytes);
        let file = raw_xlsx_with(&damaged, zip::CompressionMethod::Deflated);
        let before = CAUGHT_PANICS.load(Ordering::Relaxed);
        let _ = read(&file, &limits());
        assert_eq!(
            CAUGHT_PANICS.load(Ordering::Relaxed),
            before,
            "panic on {damaged}"
        );
    }
}

// ---------------------------------------------------------------- mapping

#[test]
fn mapping_with_aliases_unknown_and_missing() {
    const FIELDS: &[Field] = &[
        Field {
            name: "name",
            aliases: &["姓名", "Full name"],
            required: true,
        },
        Field {
            name: "phone",
            aliases: &["电话", "手机", "Phone number"],
            required: true,
        },
        Field {
            name: "email",
            aliases: &["邮箱"],
            required: false,
        },
        Field {
            name: "company",
            aliases: &["公司"],
            required: true,
        },
    ];
    let headers = strings(&["  姓名 ", "PHONE   NUMBER", "手机", "备注", "", "Email"]);
    let mapping = map_columns(&headers, FIELDS);
    assert_eq!(
        mapping.columns,
        [Some("name"), Some("phone"), None, None, None, Some("email")]
    );
    assert_eq!(mapping.unknown, ["备注"]);
    assert_eq!(mapping.repeated, ["手机"]);
    assert_eq!(mapping.missing, ["company"]);
    let full = map_columns(&strings(&["full\u{3000}name", "电话", "公司"]), FIELDS);
    assert_eq!(full.columns, [Some("name"), Some("phone"), Some("company")]);
    assert!(full.missing.is_empty() && full.unknown.is_empty());
}

// ------------------------------------------------------ size and speed

/// Peak resident memory since the last reset, in KiB (Linux).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[test]
#[ignore = "slow in debug: run with --release -- --ignored --nocapture"]
fn million_rows_are_refused_early_and_small() {
    let started = std::time::Instant::now();
    let rows = (0..1_000_000u32).map(|i| vec![format!("r{i}")]);
    let bytes = write_xlsx("big", &["n"], rows).expect("write");
    println!(
        "1M-row xlsx: {} bytes, written in {:?}",
        bytes.len(),
        started.elapsed()
    );
    reset_peak_rss();
    let base = rss_kib();
    let started = std::time::Instant::now();
    let err = read(&bytes, &limits()).expect_err("too many rows");
    let took = started.elapsed();
    let peak = peak_rss_kib();
    println!(
        "1M-row refusal: {took:?}, RSS before {base} KiB, peak {peak} KiB (+{} KiB)",
        peak.saturating_sub(base)
    );
    assert_eq!(err, SheetError::TooManyRows { max_rows: 200_000 });
    assert!(
        peak.saturating_sub(base) < 64 * 1024,
        "peak grew by {} KiB",
        peak - base
    );
}

#[test]
#[ignore = "slow in debug: run with --release -- --ignored --nocapture"]
fn read_100k_rows_by_8_columns() {
    let headers = [
        "姓名",
        "电话",
        "邮箱",
        "公司",
        "城市",
        "地址",
        "备注",
        "创建时间",
    ];
    let rows = (0..100_000u32).map(|i| {
        vec![
            format!("客户{i}"),
            format!("138{i:08}"),
            format!("user{i}@example.com"),
            format!("公司{}", i % 977),
            ["北京", "上海", "广州", "深圳"][i as usize % 4].to_owned(),
            format!("某某路{}号", i % 1000),
            "这是一条备注".to_owned(),
            format!("2024-03-{:02} 10:00:00", i % 28 + 1),
        ]
    });
    let started = std::time::Instant::now();
    let bytes = write_xlsx("客户", &headers, rows).expect("write");
    println!(
        "100k x 8 xlsx: {} bytes, written in {:?}",
        bytes.len(),
        started.elapsed()
    );
    reset_peak_rss();
    let base = rss_kib();
    let started = std::time::Instant::now();
    let sheet = read(&bytes, &limits()).expect("read");
    let took = started.elapsed();
    let peak = peak_rss_kib();
    println!(
        "100k x 8 read: {took:?}, RSS before {base} KiB, peak {peak} KiB (+{} KiB)",
        peak.saturating_sub(base)
    );
    assert_eq!(sheet.rows.len(), 100_000);
    assert_eq!(sheet.rows[99_999].number, 100_001);
    assert_eq!(sheet.rows[5].cells[1], "13800000005");

    let started = std::time::Instant::now();
    let csv = write_csv(&headers, sheet.rows.iter().map(|r| r.cells.clone())).expect("csv");
    let csv_write = started.elapsed();
    let started = std::time::Instant::now();
    let again = read(&csv, &limits()).expect("read csv");
    println!(
        "100k x 8 CSV: {} bytes, written in {csv_write:?}, read in {:?}",
        csv.len(),
        started.elapsed()
    );
    assert_eq!(again.rows, sheet.rows);
}

/// Structure-aware fuzzing of every part of a workbook (shared strings,
/// styles, workbook, relationships, sheet): one part is damaged, the ZIP
/// is rebuilt properly. 300 cases here; for a long run:
/// `FUZZ_N=20000 FUZZ_SEED=1 cargo test -p sheets --release mutated -- --nocapture`.
#[test]
fn mutated_workbook_parts_are_errors_not_panics() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // A normal-mode workbook: shared strings, styles, dates, formulas.
    let valid = xlsx(|ws| {
        ws.write_string(0, 0, "name")?;
        ws.write_string(0, 1, "when")?;
        ws.write_string(0, 2, "f")?;
        let date = XFormat::new().set_num_format("yyyy-mm-dd");
        for r in 1..20u32 {
            ws.write_string(r, 0, format!("n{r}"))?;
            ws.write_datetime_with_format(r, 1, ExcelDateTime::from_ymd(2024, 1, 1)?, &date)?;
            ws.write_formula(r, 2, Formula::new("=A2&B2").set_result("x"))?;
        }
        Ok(())
    });
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&valid[..])).expect("zip");
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read entry");
        parts.push((entry.name().to_owned(), content));
    }
    let specials = *b"<>\"/&=09AZ:\0\xFF-.e#;";
    let mut rng = fastrand::Rng::with_seed(env("FUZZ_SEED", 7));
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..env("FUZZ_N", 300) {
        let mut mutated = parts.clone();
        let which = rng.usize(..mutated.len());
        let bytes = &mut mutated[which].1;
        for _ in 0..rng.usize(1..6) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.usize(..bytes.len());
            match rng.u8(0..4) {
                0 => bytes[at] = specials[rng.usize(..specials.len())],
                1 => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, specials[rng.usize(..specials.len())]),
                _ => {
                    // Copy a chunk elsewhere: duplicated tags and attributes.
                    let end = (at + rng.usize(1..40)).min(bytes.len());
                    let chunk = bytes[at..end].to_vec();
                    let to = rng.usize(..bytes.len());
                    bytes.splice(to..to, chunk);
                }
            }
        }
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in &mutated {
            writer
                .start_file(name.as_str(), SimpleFileOptions::default())
                .expect("zip entry");
            writer.write_all(content).expect("zip write");
        }
        let file = writer.finish().expect("zip finish").into_inner();
        let before = CAUGHT_PANICS.load(Ordering::Relaxed);
        let outcome = match read(&file, &limits()) {
            Ok(_) => "ok".to_owned(),
            Err(SheetError::Damaged { detail }) => detail.chars().take(40).collect(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            CAUGHT_PANICS.load(Ordering::Relaxed),
            before,
            "panic with part {} damaged: {}",
            mutated[which].0,
            String::from_utf8_lossy(&mutated[which].1)
        );
        *outcomes.entry(outcome).or_default() += 1;
    }
    for (outcome, count) in outcomes {
        println!("{count:6} {outcome}");
    }
}
