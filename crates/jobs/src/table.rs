//! Streaming table files (CSV or XLSX) written to a temporary file beside the target and
//! renamed into place only when complete, so a failed run never leaves half a file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use tempfile::NamedTempFile;

/// Rows in an XLSX sheet, the header included.
const XLSX_MAX_ROWS: u32 = 1_048_576;

/// Spreadsheet programs evaluate a CSV cell that starts with one of these as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell that a spreadsheet will show as text, never run: a leading `'` is added before
/// a formula character (OWASP's advice against CSV injection; uploaded values are echoed in
/// error reports).
fn escape_formula(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_START) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Undoes [`escape_formula`] on a cell read from CSV, so escaped exports import unchanged.
pub(crate) fn unescape_formula(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => cell,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("an XLSX sheet holds at most {} data rows; write a CSV file instead", XLSX_MAX_ROWS - 1)]
    TooManyRows,
    #[error("{}: unsupported file type; name the file .csv or .xlsx", .0.display())]
    Extension(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFormat {
    /// UTF-8 with a BOM, so that Excel shows Chinese correctly.
    Csv,
    Xlsx,
}

impl TableFormat {
    /// By the file name's extension, ignoring case.
    pub fn of(path: &Path) -> Result<TableFormat, WriteError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(TableFormat::Csv),
            Some("xlsx") => Ok(TableFormat::Xlsx),
            _ => Err(WriteError::Extension(path.to_owned())),
        }
    }
}

pub(crate) struct TableWriter {
    target: PathBuf,
    temp: NamedTempFile,
    kind: Kind,
}

#[expect(clippy::large_enum_variant, reason = "one per open file")]
enum Kind {
    Csv(csv::Writer<BufWriter<File>>),
    Xlsx { workbook: Workbook, row: u32 },
}

impl TableWriter {
    /// Starts a table at `target` (written on [`TableWriter::finish`]) with a header row;
    /// `widths` are XLSX column widths in characters.
    pub fn create(
        target: &Path,
        format: TableFormat,
        headers: &[&str],
        widths: &[f64],
    ) -> Result<TableWriter, WriteError> {
        let io_err = |source| WriteError::Io {
            path: target.to_owned(),
            source,
        };
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let temp = NamedTempFile::new_in(dir).map_err(io_err)?;
        let kind = match format {
            TableFormat::Csv => {
                let mut file = BufWriter::with_capacity(256 * 1024, temp.reopen().map_err(io_err)?);
                file.write_all("\u{feff}".as_bytes()).map_err(io_err)?;
                Kind::Csv(csv::Writer::from_writer(file))
            }
            TableFormat::Xlsx => {
                let mut workbook = Workbook::new();
                workbook.set_tempdir(dir)?;
                let sheet = workbook.add_worksheet_with_constant_memory()?;
                let bold = Format::new().set_bold();
                for (column, &width) in (0u16..).zip(widths) {
                    sheet.set_column_width(column, width)?;
                }
                sheet.set_freeze_panes(1, 0)?;
                sheet.write_row_with_format(0, 0, headers.iter().copied(), &bold)?;
                Kind::Xlsx { workbook, row: 0 }
            }
        };
        let mut writer = TableWriter {
            target: target.to_owned(),
            temp,
            kind,
        };
        if let Kind::Csv(csv) = &mut writer.kind {
            csv.write_record(headers).map_err(|e| io_err(e.into()))?;
        }
        Ok(writer)
    }

    pub fn write_row<I, S>(&mut self, cells: I) -> Result<(), WriteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match &mut self.kind {
            Kind::Csv(csv) => cells
                .into_iter()
                .try_for_each(|cell| csv.write_field(escape_formula(cell.as_ref()).as_bytes()))
                .and_then(|()| csv.write_record(None::<&[u8]>))
                .map_err(|e| WriteError::Io {
                    path: self.target.clone(),
                    source: e.into(),
                }),
            Kind::Xlsx { workbook, row } => {
                *row += 1;
                if *row >= XLSX_MAX_ROWS {
                    return Err(WriteError::TooManyRows);
                }
                let sheet = workbook.worksheet_from_index(0)?;
                for (column, cell) in (0u16..).zip(cells) {
                    let cell = cell.as_ref();
                    // A blank cell is left out rather than stored as an empty string.
                    if !cell.is_empty() {
                        sheet.write_string(*row, column, cell)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Completes the file in its temporary place; [`Pending::commit`] moves it to the target.
    pub fn finish(self) -> Result<Pending, WriteError> {
        let io_err = |source| WriteError::Io {
            path: self.target.clone(),
            source,
        };
        let mut temp = self.temp;
        match self.kind {
            Kind::Csv(csv) => {
                let file = csv.into_inner().map_err(|e| io_err(e.into_error()))?;
                file.into_inner()
                    .map_err(|e| io_err(e.into_error()))?
                    .sync_all()
                    .map_err(io_err)?;
            }
            Kind::Xlsx { mut workbook, .. } => workbook.save_to_writer(&mut temp)?,
        }
        Ok(Pending {
            target: self.target,
            temp,
        })
    }
}

/// A complete file not yet in place.
pub(crate) struct Pending {
    target: PathBuf,
    temp: NamedTempFile,
}

impl Pending {
    pub fn commit(self) -> Result<(), WriteError> {
        self.temp
            .persist(&self.target)
            .map(drop)
            .map_err(|e| WriteError::Io {
                path: self.target,
                source: e.error,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_escaped_and_read_back() {
        for cell in ["=1+1", "+8613812345678", "-2", "@SUM(A1)", "\tx"] {
            let escaped = escape_formula(cell);
            assert_eq!(escaped, format!("'{cell}"));
            assert_eq!(unescape_formula(&escaped), cell);
        }
        for cell in ["张三", "13812345678", "'quoted", "a=b", ""] {
            assert_eq!(escape_formula(cell), cell);
            assert_eq!(unescape_formula(cell), cell);
        }
    }
}
