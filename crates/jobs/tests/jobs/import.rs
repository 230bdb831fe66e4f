use std::io::Cursor;
use std::path::Path;

use calamine::{Reader, Xlsx, open_workbook};
use encoding_rs::GB18030;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use tempfile::TempDir;
use zhucan_core::{CertificateError, DivisionCode, Lang, Localized, ResidentId};
use zhucan_jobs::{
    Column, ImportError, ImportOptions, ImportSource, ImportSummary, import_persons,
    write_persons_csv,
};
use zhucan_store::{Actor, Store};

use crate::common::{contents, read_csv, store, to_csv};

async fn import(
    store: &Store,
    source: ImportSource,
    opts: &ImportOptions,
    report: Option<&Path>,
) -> Result<ImportSummary, ImportError> {
    import_persons(store, &Actor::system("import"), source, opts, report).await
}

fn bytes(name: &str, data: impl Into<Vec<u8>>) -> ImportSource {
    ImportSource::reader(name, Cursor::new(data.into()))
}

/// Generated persons as a CSV file in `dir` and as rows (header first).
fn generated(dir: &TempDir, count: usize, seed: u64) -> (std::path::PathBuf, Vec<Vec<String>>) {
    let path = dir.path().join(format!("persons-{seed}.csv"));
    write_persons_csv(&path, count, seed).unwrap();
    let rows = read_csv(&path);
    (path, rows)
}

fn chinese_headers(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut rows = rows.to_vec();
    for header in &mut rows[0] {
        *header = Column::from_header(header)
            .unwrap()
            .chinese_header()
            .to_owned();
    }
    rows
}

/// An XLSX sheet with dates as date cells and phones as numbers, as people type them in Excel.
fn xlsx(rows: &[Vec<String>], path: &Path) {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in (0u32..).zip(rows) {
        for (c, cell) in (0u16..).zip(row) {
            let header = Column::from_header(&rows[0][usize::from(c)]).unwrap();
            match header {
                _ if r == 0 || cell.is_empty() => {
                    sheet.write_string(r, c, cell).unwrap();
                }
                Column::CertificateIssuedOn | Column::CertificateExpiresOn => {
                    let value = ExcelDateTime::parse_from_str(cell).unwrap();
                    sheet
                        .write_datetime_with_format(r, c, &value, &date)
                        .unwrap();
                }
                Column::Phone => {
                    sheet
                        .write_number(r, c, cell.parse::<f64>().unwrap())
                        .unwrap();
                }
                _ => {
                    sheet.write_string(r, c, cell).unwrap();
                }
            }
        }
    }
    workbook.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_and_encoding_imports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (utf8_bom, rows) = generated(&dir, 40, 5);
    let chinese = chinese_headers(&rows);
    let chinese_text = to_csv(&chinese, b',');
    let (gb18030, _, unmappable) = GB18030.encode(&chinese_text);
    assert!(!unmappable);
    let tabs = to_csv(&rows, b'\t');
    let workbook = dir.path().join("persons.xlsx");
    xlsx(&chinese, &workbook);

    let sources = [
        ("UTF-8 with BOM", ImportSource::path(&utf8_bom)),
        ("UTF-8", bytes("persons.csv", chinese_text.clone())),
        ("GB18030", bytes("persons.csv", gb18030.into_owned())),
        ("tab-separated", bytes("persons.txt", tabs)),
        ("XLSX", ImportSource::path(&workbook)),
    ];
    let mut expected = None;
    for (what, source) in sources {
        let (_dir, store) = store().await;
        let summary = import(&store, source, &ImportOptions::default(), None)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            summary.to_string(),
            "imported: 40, updated: 0, unchanged: 0, rejected: 0",
            "{what}: {:?}",
            summary.errors
        );
        let stored = contents(&store).await;
        match &expected {
            None => expected = Some(stored),
            Some(expected) => assert_eq!(&stored, expected, "{what}"),
        }
    }
    let stored = expected.unwrap();
    let mut generated: Vec<_> = zhucan_jobs::persons(40, 5).collect();
    generated.sort_by(|a, b| a.resident_id.cmp(&b.resident_id));
    for (stored, generated) in stored.iter().zip(&generated) {
        assert_eq!(stored.resident_id, generated.resident_id);
        assert_eq!(stored.name, generated.name);
        assert_eq!(stored.guardian, generated.guardian);
        assert_eq!(stored.address, generated.address);
    }
}

/// Row `r` (0 = header) column `column` of `rows`.
fn cell<'a>(rows: &'a mut [Vec<String>], r: usize, column: &str) -> &'a mut String {
    let c = rows[0].iter().position(|h| h == column).unwrap();
    &mut rows[r][c]
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rows_are_reported_and_good_rows_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut rows) = generated(&dir, 8, 11);
    // Rows 2-4 of the file stay valid.
    let id = cell(&mut rows, 4, "resident_id").clone();
    let last = if id.ends_with('0') { '1' } else { '0' };
    let bad_id = format!("{}{last}", &id[..17]);
    *cell(&mut rows, 4, "resident_id") = bad_id.clone();
    let other_certificate = cell(&mut rows, 6, "certificate_no").clone();
    *cell(&mut rows, 5, "certificate_no") = other_certificate.clone();
    *cell(&mut rows, 6, "division_code") = "510112001099".into();
    *cell(&mut rows, 7, "phone") = "1381234567".into();
    *cell(&mut rows, 8, "household_status") = "富裕".into();
    rows.push(vec!["1".into(), "2".into()]);
    rows.push(rows[1].clone());
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, to_csv(&rows, b',')).unwrap();

    let (_store_dir, store) = store().await;
    let zh = ImportOptions::default();
    let summary = import(&store, ImportSource::path(&file), &zh, None)
        .await
        .unwrap();
    assert_eq!(
        summary.to_string(),
        "imported: 3, updated: 0, unchanged: 0, rejected: 7"
    );
    let found: Vec<(u64, &str, &str, &str)> = summary
        .errors
        .iter()
        .map(|e| {
            (
                e.row,
                e.column.as_str(),
                e.value.as_str(),
                e.reason.as_str(),
            )
        })
        .collect();
    let check_error = ResidentId::parse(&bad_id).unwrap_err().message(Lang::Zh);
    let mismatch = CertificateError::HolderMismatch.message(Lang::Zh);
    let expected: Vec<(u64, &str, &str, &str)> = vec![
        (5, "resident_id", &bad_id, &check_error),
        (6, "certificate_no", &other_certificate, &mismatch),
        (
            7,
            "division_code",
            "510112001099",
            "行政区划 510112001099 不在区划表中",
        ),
        (
            8,
            "phone",
            "1381234567",
            "手机号码应为 11 位数字，实为 10 位",
        ),
        (
            9,
            "household_status",
            "富裕",
            "“富裕”不是有效的困难类别，可选：无、低保、低保边缘、特困、低收入",
        ),
        (10, "", "", "本行有 2 列，表头有 16 列"),
        (
            11,
            "resident_id",
            &rows[1][0],
            "与第 2 行的公民身份号码重复",
        ),
    ];
    assert_eq!(found, expected);
    assert_eq!(store.count_persons().await.unwrap(), 3);

    // Running the file again finds the same persons unchanged; the report gets every error.
    let report = dir.path().join("errors.csv");
    let summary = import(&store, ImportSource::path(&file), &zh, Some(&report))
        .await
        .unwrap();
    assert_eq!(
        summary.to_string(),
        "imported: 0, updated: 0, unchanged: 3, rejected: 7"
    );
    assert_eq!(store.count_persons().await.unwrap(), 3);
    assert!(
        std::fs::read(&report)
            .unwrap()
            .starts_with("\u{feff}".as_bytes())
    );
    let lines = read_csv(&report);
    assert_eq!(lines[0], ["行号", "列", "值", "原因"]);
    assert_eq!(lines.len(), 8);
    assert_eq!(
        lines[4],
        [
            "8",
            "phone",
            "1381234567",
            "手机号码应为 11 位数字，实为 10 位"
        ]
    );

    // In English, with an XLSX report.
    let en = ImportOptions {
        lang: Lang::En,
        ..ImportOptions::default()
    };
    let report = dir.path().join("errors.xlsx");
    let summary = import(&store, ImportSource::path(&file), &en, Some(&report))
        .await
        .unwrap();
    assert_eq!(summary.rejected, 7);
    assert_eq!(
        summary.errors[3].reason,
        "mobile number must have 11 digits, found 10"
    );
    let mut workbook: Xlsx<_> = open_workbook(&report).unwrap();
    let sheet = workbook.worksheet_range("Sheet1").unwrap();
    let first: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(first, ["row", "column", "value", "reason"]);
    assert_eq!(sheet.height(), 8);
    assert_eq!(
        sheet.get_value((6, 3)).unwrap().to_string(),
        "row has 2 fields, header has 16"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_limits_where_rows_may_go() {
    let dir = tempfile::tempdir().unwrap();
    let (file, rows) = generated(&dir, 60, 12);
    let street = "510112001";
    let inside = rows[1..]
        .iter()
        .filter(|r| r[6].starts_with(street))
        .count() as u64;
    assert!(inside > 0 && inside < 60);
    let (_store_dir, store) = store().await;
    let opts = ImportOptions {
        within: Some(DivisionCode::parse(street).unwrap()),
        lang: Lang::En,
        ..ImportOptions::default()
    };
    let summary = import(&store, ImportSource::path(&file), &opts, None)
        .await
        .unwrap();
    assert_eq!(summary.imported, inside);
    assert_eq!(summary.rejected, 60 - inside);
    assert!(
        summary.errors[0]
            .reason
            .ends_with("is outside 510112001, where you may import")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = generated(&dir, 25, 13);
    let (_store_dir, store) = store().await;
    let opts = ImportOptions {
        dry_run: true,
        ..ImportOptions::default()
    };
    let summary = import(&store, ImportSource::path(&file), &opts, None)
        .await
        .unwrap();
    assert_eq!(
        summary.to_string(),
        "imported: 25, updated: 0, unchanged: 0, rejected: 0 (dry run: nothing written)"
    );
    assert_eq!(store.count_persons().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn file_level_problems_are_fatal_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_store_dir, store) = store().await;
    let report = dir.path().join("report.csv");
    let opts = ImportOptions::default();
    let fail = |source: ImportSource| {
        let store = &store;
        let report = &report;
        async move {
            import(store, source, &ImportOptions::default(), Some(report))
                .await
                .unwrap_err()
        }
    };

    let err = fail(bytes("scan.pdf", b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec())).await;
    assert_eq!(
        err.to_string(),
        "file type not supported: scan.pdf is a PDF document; upload CSV (UTF-8 or GB18030) or XLSX"
    );
    assert!(
        err.message(Lang::Zh)
            .starts_with("不支持的文件类型：scan.pdf")
    );
    // The content decides, whatever the name says.
    let err = fail(bytes(
        "persons.csv",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
    ))
    .await;
    assert!(
        matches!(&err, ImportError::Unsupported { kind, .. } if kind == "a PNG image"),
        "{err}"
    );
    let err = fail(bytes(
        "old.xls",
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0".to_vec(),
    ))
    .await;
    assert!(err.to_string().contains("legacy Office 97-2003"), "{err}");
    let err = fail(bytes("fake.xlsx", b"PK\x03\x04not really a zip".to_vec())).await;
    assert!(
        err.to_string().contains("not a readable XLSX workbook"),
        "{err}"
    );
    let err = fail(bytes("blob.csv", vec![1, 2, 0, 3, 4])).await;
    assert!(err.to_string().contains("binary data"), "{err}");

    let err = fail(bytes("people.csv", "姓名,电话\n张三,13812345678\n")).await;
    assert_eq!(
        err.to_string(),
        "missing required column(s): resident_id (公民身份号码), division_code (行政区划代码); \
         unknown column(s): 电话 (check the spelling); headers found: 姓名, 电话"
    );
    assert_eq!(
        err.message(Lang::Zh),
        "缺少必需的列：resident_id (公民身份号码), division_code (行政区划代码)；\
         无法识别的列：电话（请检查拼写）；文件中的列：姓名, 电话"
    );
    let err = fail(bytes(
        "people.csv",
        "resident_id,name,姓名,division_code\n1,2,3,4\n",
    ))
    .await;
    assert!(
        err.to_string().starts_with("duplicate column(s): 姓名;"),
        "{err}"
    );

    assert!(matches!(
        fail(bytes("empty.csv", "")).await,
        ImportError::Empty
    ));
    assert!(matches!(
        fail(bytes("blank.csv", "\n\n")).await,
        ImportError::Empty
    ));
    let header_only = "\u{feff}resident_id,name,division_code\r\n";
    let err = fail(bytes("header.csv", header_only)).await;
    assert!(matches!(err, ImportError::NoDataRows), "{err}");
    assert_eq!(
        err.to_string(),
        "no data rows: the file has a header row only"
    );

    assert!(!report.exists(), "a fatal error leaves no report");
    assert_eq!(store.count_persons().await.unwrap(), 0);
    // The same report path works once the file is fine.
    let (file, _) = generated(&dir, 3, 14);
    import(&store, ImportSource::path(&file), &opts, Some(&report))
        .await
        .unwrap();
    assert_eq!(read_csv(&report), [["行号", "列", "值", "原因"]]);
}
