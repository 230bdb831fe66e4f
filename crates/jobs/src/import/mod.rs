//! The person import behind both `zhucan import` and the web upload.
//!
//! A blocking thread reads, validates and encodes (encrypts, indexes; on all cores) the file
//! while the store writes the previous chunk; at most a few chunks are in flight, so memory
//! stays flat however long the file. File-level problems (type, emptiness, headers) are found
//! before the first row is sent, so they write nothing. A chunk is always inside one
//! transaction (a transaction holds several, see `zhucan_store::BulkImport`); rows are matched by
//! resident ID, so re-running a file (for instance after a read error half-way) updates instead
//! of duplicating, and leaves rows that say what is stored already alone (`unchanged`).

mod row;
mod source;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish};
use tokio::sync::mpsc;
use zhucan_core::{DivisionCode, Lang, Localized, ResidentId, today_shanghai};
use zhucan_store::{Actor, DbError, EncodedRows, PersonRow, Store};

use crate::columns::{Column, normalize_header};
use crate::table::{TableFormat, TableWriter, WriteError};
use row::{RowContext, RowProblem, parse_person};
pub use source::ImportSource;
use source::Width;

/// Valid rows per store transaction.
const CHUNK_ROWS: usize = 2000;
/// Row errors kept in [`ImportSummary::errors`]; the report file gets all of them.
pub const MAX_KEPT_ERRORS: usize = 10_000;

/// A problem with the file as a whole; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("file type not supported: {name} is {kind}; upload CSV (UTF-8 or GB18030) or XLSX")]
    Unsupported { name: String, kind: String },
    #[error("the file is empty")]
    Empty,
    #[error("no data rows: the file has a header row only")]
    NoDataRows,
    #[error("{}", headers_message(.missing, .unknown, .duplicate, .found, Lang::En))]
    Headers {
        /// Required columns not found.
        missing: Vec<Column>,
        /// Headers that name no column, as written.
        unknown: Vec<String>,
        /// Headers naming a column that an earlier header already named.
        duplicate: Vec<String>,
        /// Every header of the file, as written.
        found: Vec<String>,
    },
    #[error("{name}: {source}")]
    Io { name: String, source: io::Error },
    #[error("{name}: cannot read the CSV file: {source}")]
    Csv { name: String, source: csv::Error },
    #[error("{name}: cannot read the XLSX sheet: {message}")]
    Xlsx { name: String, message: String },
    #[error("writing the error report: {0}")]
    Report(#[from] WriteError),
    #[error(transparent)]
    Store(#[from] DbError),
    /// The caller stopped waiting (e.g. the upload request was dropped).
    #[error("the import was stopped")]
    Stopped,
}

fn headers_message(
    missing: &[Column],
    unknown: &[String],
    duplicate: &[String],
    found: &[String],
    lang: Lang,
) -> String {
    let zh = lang == Lang::Zh;
    let mut parts = Vec::new();
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|c| format!("{} ({})", c.header(), c.chinese_header()))
            .collect();
        let label = if zh {
            "缺少必需的列："
        } else {
            "missing required column(s): "
        };
        parts.push(format!("{label}{}", names.join(", ")));
    }
    if !unknown.is_empty() {
        let (label, hint) = if zh {
            ("无法识别的列：", "（请检查拼写）")
        } else {
            ("unknown column(s): ", " (check the spelling)")
        };
        parts.push(format!("{label}{}{hint}", unknown.join(", ")));
    }
    if !duplicate.is_empty() {
        let label = if zh {
            "重复的列："
        } else {
            "duplicate column(s): "
        };
        parts.push(format!("{label}{}", duplicate.join(", ")));
    }
    let label = if zh {
        "文件中的列："
    } else {
        "headers found: "
    };
    parts.push(format!("{label}{}", found.join(", ")));
    parts.join(if zh { "；" } else { "; " })
}

impl Localized for ImportError {
    fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            Self::Unsupported { name, kind } => format!(
                "不支持的文件类型：{name} 是 {kind}；请上传 CSV（UTF-8 或 GB18030 编码）或 XLSX 文件"
            ),
            Self::Empty => "文件是空的".to_owned(),
            Self::NoDataRows => "没有数据行：文件只有表头".to_owned(),
            Self::Headers {
                missing,
                unknown,
                duplicate,
                found,
            } => headers_message(missing, unknown, duplicate, found, lang),
            Self::Io { name, source } => format!("无法读取 {name}：{source}"),
            Self::Csv { name, source } => format!("无法读取 CSV 文件 {name}：{source}"),
            Self::Xlsx { name, message } => format!("无法读取 XLSX 文件 {name}：{message}"),
            Self::Report(e) => format!("无法写入错误报告：{e}"),
            Self::Store(e) => format!("数据库错误：{e}"),
            Self::Stopped => "导入已停止".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Validate everything, write nothing; valid rows are counted as `imported`.
    pub dry_run: bool,
    /// Language of the row errors' reasons and of the report's headers.
    pub lang: Lang,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Reject rows outside this division (a staff member's scope); `None` accepts any division.
    pub within: Option<DivisionCode>,
}

/// A rejected cell or row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// As in the file: 1-based, the header being row 1.
    pub row: u64,
    /// The header as written in the file; empty for a problem with the whole row.
    pub column: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: u64,
    pub updated: u64,
    /// Rows equal to the stored record: not written.
    pub unchanged: u64,
    /// Rows rejected (a row may have several errors).
    pub rejected: u64,
    /// The first [`MAX_KEPT_ERRORS`] errors, in row order.
    pub errors: Vec<RowError>,
    /// Errors beyond those kept.
    pub errors_omitted: u64,
    pub dry_run: bool,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported: {}, updated: {}, unchanged: {}, rejected: {}",
            self.imported, self.updated, self.unchanged, self.rejected
        )?;
        if self.dry_run {
            f.write_str(" (dry run: nothing written)")?;
        }
        Ok(())
    }
}

impl ImportSummary {
    fn record(
        &mut self,
        errors: Vec<RowError>,
        report: &mut Option<TableWriter>,
    ) -> Result<(), WriteError> {
        for error in errors {
            if let Some(report) = report {
                report.write_row([
                    error.row.to_string().as_str(),
                    &error.column,
                    &error.value,
                    &error.reason,
                ])?;
            }
            if self.errors.len() < MAX_KEPT_ERRORS {
                self.errors.push(error);
            } else {
                self.errors_omitted += 1;
            }
        }
        Ok(())
    }
}

/// Imports persons from `source` as `actor`. Row errors are collected in the summary (and all
/// of them written to `report`, CSV or XLSX by its extension, if given); a problem with the file
/// as a whole is an [`ImportError`].
pub async fn import_persons(
    store: &Store,
    actor: &Actor,
    source: ImportSource,
    opts: &ImportOptions,
    report: Option<&Path>,
) -> Result<ImportSummary, ImportError> {
    let mut report = report
        .map(|path| {
            let headers = match opts.lang {
                Lang::Zh => ["行号", "列", "值", "原因"],
                Lang::En => ["row", "column", "value", "reason"],
            };
            TableWriter::create(
                path,
                TableFormat::of(path)?,
                &headers,
                &[8.0, 20.0, 28.0, 60.0],
            )
        })
        .transpose()?;
    let ctx = RowContext {
        lang: opts.lang,
        today: today_shanghai(),
        divisions: store
            .divisions()
            .await?
            .into_iter()
            .map(|d| d.code)
            .collect(),
        within: opts.within.clone(),
    };
    let progress = if opts.progress && io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_finish(ProgressFinish::AndClear)
    } else {
        ProgressBar::hidden()
    };
    // One chunk queued, one being encoded, one being written: encoded chunks are the bulk of
    // the import's memory.
    let (tx, mut rx) = mpsc::channel(1);
    let parser = {
        let progress = progress.clone();
        let encoder = (!opts.dry_run).then(|| store.clone());
        tokio::task::spawn_blocking(move || parse_file(source, ctx, encoder, &progress, tx))
    };
    let mut import = store.bulk_import(actor);

    let mut summary = ImportSummary {
        dry_run: opts.dry_run,
        ..ImportSummary::default()
    };
    let mut header_names = None;
    let mut data_rows = 0;
    // Time spent waiting for the parser and in the store, for `RUST_LOG=zhucan_jobs=debug`.
    let (mut waited, mut stored) = (Duration::ZERO, Duration::ZERO);
    let mut since = Instant::now();
    while let Some(parsed) = rx.recv().await {
        waited += since.elapsed();
        let mut chunk = match parsed? {
            Parsed::Header(names) => {
                header_names = Some(names);
                continue;
            }
            Parsed::Chunk(chunk) => chunk,
        };
        let valid = chunk.rows.len() + chunk.encoded.as_ref().map_or(0, EncodedRows::len);
        data_rows += valid as u64 + chunk.rejected;
        summary.rejected += chunk.rejected;
        if opts.dry_run {
            summary.imported += valid as u64;
        } else if let Some(encoded) = chunk.encoded.take().filter(|e| !e.is_empty()) {
            let names = header_names.as_ref().expect("the header comes first");
            let keys: Vec<(u64, String, Option<String>)> = encoded
                .rows()
                .iter()
                .map(|r| {
                    let certificate = r.input.certificate.as_ref();
                    (
                        r.line,
                        r.input.resident_id.to_string(),
                        certificate.map(|c| c.number.to_string()),
                    )
                })
                .collect();
            let started = Instant::now();
            let outcome = import.write(encoded).await?;
            stored += started.elapsed();
            summary.imported += outcome.inserted;
            summary.updated += outcome.updated;
            summary.unchanged += outcome.unchanged;
            summary.rejected += outcome.rejected.len() as u64;
            for (line, column, reason) in outcome.rejected {
                let column = Column::from_header(column).unwrap_or(Column::ResidentId);
                let value = keys
                    .binary_search_by_key(&line, |k| k.0)
                    .ok()
                    .and_then(|i| match column {
                        Column::CertificateNo => keys[i].2.clone(),
                        _ => Some(keys[i].1.clone()),
                    })
                    .unwrap_or_default();
                chunk.errors.push(RowError {
                    row: line,
                    column: names[column.index()].clone(),
                    value,
                    reason: reason.message(opts.lang),
                });
            }
            chunk.errors.sort_by_key(|e| e.row);
        }
        summary.record(chunk.errors, &mut report)?;
        since = Instant::now();
    }
    let started = Instant::now();
    import.finish().await?;
    stored += started.elapsed();
    parser.await.expect("the import parser panicked");
    tracing::debug!(
        waited_for_parser_s = waited.as_secs_f64(),
        in_store_s = stored.as_secs_f64(),
        "import finished"
    );
    if data_rows == 0 {
        return Err(ImportError::NoDataRows);
    }
    if let Some(report) = report {
        report.finish()?.commit()?;
    }
    Ok(summary)
}

/// What the parsing thread sends: the header's names first, then chunks of rows.
enum Parsed {
    /// Each column's header as written in the file (its English name if absent).
    Header(Box<[String; 16]>),
    Chunk(Chunk),
}

#[derive(Default)]
struct Chunk {
    /// Valid rows while the chunk fills (and in a dry run, where nothing is encoded) ...
    rows: Vec<PersonRow>,
    /// ... then encoded, by the reader, so that encoding overlaps the writing of the chunk before.
    encoded: Option<EncodedRows>,
    errors: Vec<RowError>,
    rejected: u64,
}

type Sender = mpsc::Sender<Result<Parsed, ImportError>>;

fn parse_file(
    source: ImportSource,
    ctx: RowContext,
    encoder: Option<Store>,
    progress: &ProgressBar,
    tx: Sender,
) {
    let name = source.name();
    let mut parser = Parser {
        ctx,
        encoder,
        header: None,
        seen: BTreeMap::new(),
        chunk: Chunk::default(),
        tx: tx.clone(),
    };
    let result = source::open(source)
        .and_then(|opened| {
            source::for_each_row(opened, &name, progress, |line, cells, width| {
                parser.row(line, cells, width)
            })
        })
        .and_then(|()| parser.finish());
    if let Err(e) = result {
        // If the receiver is gone, nobody is waiting for the error either.
        let _ = tx.blocking_send(Err(e));
    }
}

struct Header {
    /// Where each column is in the file, by `Column::index`.
    positions: [Option<usize>; 16],
    names: [String; 16],
    width: usize,
}

impl Header {
    fn parse(cells: &[&str]) -> Result<Header, ImportError> {
        let mut positions = [None; 16];
        let mut names = Column::ALL.map(|c| c.header().to_owned());
        let (mut unknown, mut duplicate, mut found) = (Vec::new(), Vec::new(), Vec::new());
        for (i, cell) in cells.iter().enumerate() {
            let header = normalize_header(cell);
            // Blank header cells (trailing formatting in spreadsheets) hold no column.
            if header.is_empty() {
                continue;
            }
            match Column::from_header(&header) {
                Some(column) if positions[column.index()].is_some() => {
                    duplicate.push(header.clone());
                }
                Some(column) => {
                    positions[column.index()] = Some(i);
                    names[column.index()] = header.clone();
                }
                None => unknown.push(header.clone()),
            }
            found.push(header);
        }
        let missing: Vec<Column> = Column::ALL
            .into_iter()
            .filter(|c| c.required() && positions[c.index()].is_none())
            .collect();
        if missing.is_empty() && unknown.is_empty() && duplicate.is_empty() {
            Ok(Header {
                positions,
                names,
                width: cells.len(),
            })
        } else {
            Err(ImportError::Headers {
                missing,
                unknown,
                duplicate,
                found,
            })
        }
    }
}

struct Parser {
    ctx: RowContext,
    /// Encodes full chunks; `None` in a dry run.
    encoder: Option<Store>,
    header: Option<Header>,
    /// First line of each resident ID accepted so far, by the ID's 17 digits.
    /// A B-tree, not a hash map: about 20 bytes an ID, and no doubling of a table (with both
    /// copies alive) as the file grows, which counts for a million-row file's peak memory.
    seen: BTreeMap<u64, u64>,
    chunk: Chunk,
    tx: Sender,
}

impl Parser {
    fn row(&mut self, line: u64, cells: &[&str], width: Width) -> Result<(), ImportError> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        let Some(header) = &self.header else {
            let header = Header::parse(cells)?;
            self.send(Parsed::Header(Box::new(header.names.clone())))?;
            self.header = Some(header);
            return Ok(());
        };
        let fits = match width {
            Width::Exact => cells.len() == header.width,
            Width::UpTo => cells.len() <= header.width,
        };
        let lang = self.ctx.lang;
        let errors = if !fits {
            let problem = RowProblem::FieldCount {
                found: cells.len(),
                expected: header.width,
            };
            vec![RowError {
                row: line,
                column: String::new(),
                value: String::new(),
                reason: problem.message(lang),
            }]
        } else {
            match parse_person(cells, &header.positions, &self.ctx) {
                Ok(input) => match self.seen.entry(id_key(&input.resident_id)) {
                    Entry::Occupied(first) => vec![RowError {
                        row: line,
                        column: header.names[Column::ResidentId.index()].clone(),
                        value: input.resident_id.to_string(),
                        reason: RowProblem::DuplicateId {
                            first: *first.get(),
                        }
                        .message(lang),
                    }],
                    Entry::Vacant(slot) => {
                        slot.insert(line);
                        self.chunk.rows.push(PersonRow { line, input });
                        Vec::new()
                    }
                },
                Err(cells) => cells
                    .into_iter()
                    .map(|(column, value, reason)| RowError {
                        row: line,
                        column: header.names[column.index()].clone(),
                        value,
                        reason,
                    })
                    .collect(),
            }
        };
        if !errors.is_empty() {
            self.chunk.rejected += 1;
            self.chunk.errors.extend(errors);
        }
        if self.chunk.rows.len() + self.chunk.rejected as usize >= CHUNK_ROWS {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), ImportError> {
        if self.header.is_none() {
            return Err(ImportError::Empty);
        }
        self.send_chunk()
    }

    fn send_chunk(&mut self) -> Result<(), ImportError> {
        let mut chunk = std::mem::take(&mut self.chunk);
        if let Some(store) = &self.encoder {
            chunk.encoded = Some(store.encode_rows(std::mem::take(&mut chunk.rows)));
        }
        self.send(Parsed::Chunk(chunk))
    }

    fn send(&self, parsed: Parsed) -> Result<(), ImportError> {
        self.tx
            .blocking_send(Ok(parsed))
            .map_err(|_| ImportError::Stopped)
    }
}

/// The first 17 digits identify an ID (the 18th is their check character).
fn id_key(id: &ResidentId) -> u64 {
    id.as_str()[..17]
        .parse()
        .expect("a resident ID starts with 17 digits")
}
