//! Opens an upload by what its bytes are, not by its name, and yields its rows as text cells.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::PathBuf;

use calamine::{Data, DataRef, Reader, Xlsx};
use encoding_rs::{Encoding, GB18030, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;
use indicatif::{ProgressBar, ProgressStyle};

use super::ImportError;
use crate::table::unescape_formula;

/// Bytes looked at to tell the file type and the text encoding.
const SNIFF_BYTES: usize = 64 * 1024;

/// A file to import: a path, or a stream (an upload) and the name it came with.
pub enum ImportSource {
    Path(PathBuf),
    Reader {
        name: String,
        reader: Box<dyn Read + Send>,
    },
}

impl ImportSource {
    pub fn path(path: impl Into<PathBuf>) -> ImportSource {
        ImportSource::Path(path.into())
    }

    pub fn reader(name: impl Into<String>, reader: impl Read + Send + 'static) -> ImportSource {
        ImportSource::Reader {
            name: name.into(),
            reader: Box::new(reader),
        }
    }

    /// The file name, for messages.
    pub fn name(&self) -> String {
        match self {
            ImportSource::Path(path) => path.file_name().map_or_else(
                || path.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            ImportSource::Reader { name, .. } => name.clone(),
        }
    }
}

/// An opened file whose type is known.
pub(crate) enum Opened {
    /// Seekable (the zip directory is at the end): the file itself, or an upload in memory.
    Xlsx(Box<dyn ReadSeek>),
    Csv {
        /// The whole file: the sniffed bytes, then the rest.
        reader: Box<dyn Read + Send>,
        encoding: &'static Encoding,
        delimiter: u8,
        /// In bytes, when the file's size is known.
        size: Option<u64>,
    },
}

/// Reads the head of the source and decides what it is.
pub(crate) fn open(source: ImportSource) -> Result<Opened, ImportError> {
    let name = source.name();
    let io_err = |source| ImportError::Io {
        name: name.clone(),
        source,
    };
    let (mut reader, size, path): (Box<dyn Read + Send>, _, _) = match source {
        ImportSource::Path(path) => {
            let file = File::open(&path).map_err(io_err)?;
            let size = file.metadata().map_err(io_err)?.len();
            (Box::new(file), Some(size), Some(path))
        }
        ImportSource::Reader { reader, .. } => (reader, None, None),
    };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    reader
        .by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let at_end = head.len() < SNIFF_BYTES;
    if head.is_empty() {
        return Err(ImportError::Empty);
    }
    if let Some(kind) = foreign_kind(&head) {
        return Err(ImportError::Unsupported { name, kind });
    }
    let reader: Box<dyn Read + Send> = Box::new(Cursor::new(head.clone()).chain(reader));
    if head.starts_with(b"PK\x03\x04") {
        // The zip directory is at the end: calamine needs to seek. A file is opened again; a
        // stream (a web upload, bounded by the request limit) is read into memory, never
        // spooled to disk, where personal data could outlive a crash.
        if let Some(path) = path {
            return Ok(Opened::Xlsx(Box::new(File::open(path).map_err(io_err)?)));
        }
        let mut bytes = Vec::new();
        { reader }.read_to_end(&mut bytes).map_err(io_err)?;
        return Ok(Opened::Xlsx(Box::new(Cursor::new(bytes))));
    }
    Ok(Opened::Csv {
        encoding: text_encoding(&head, at_end),
        delimiter: delimiter(&head),
        reader,
        size,
    })
}

/// What a file is if it is certainly neither CSV nor XLSX.
fn foreign_kind(head: &[u8]) -> Option<String> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "a legacy Office 97-2003 file such as .xls (save it as .xlsx)",
        ),
        (b"\xFF\xFE", "UTF-16 text (save it as CSV UTF-8)"),
        (b"\xFE\xFF", "UTF-16 text (save it as CSV UTF-8)"),
        (b"PK\x05\x06", "an empty ZIP archive"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7z archive"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some((*kind).to_owned());
    }
    let is_zip = head.starts_with(b"PK\x03\x04");
    // Text has no NUL bytes; neither CSV encoding produces them.
    (!is_zip && head.contains(&0)).then(|| "binary data".to_owned())
}

/// A BOM or valid UTF-8 means UTF-8, else GB18030 (what Excel writes on Chinese Windows).
/// A multibyte character cut off by the end of the sniffed window does not count against UTF-8.
fn text_encoding(head: &[u8], at_end: bool) -> &'static Encoding {
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        Err(e) if e.error_len().is_none() && !at_end => UTF_8,
        Err(_) if head.starts_with(b"\xEF\xBB\xBF") => UTF_8,
        Err(_) => GB18030,
    }
}

/// Comma, unless the first line has more tabs than commas (Excel's "Text (Tab delimited)").
/// Neither byte occurs inside a GB18030 or UTF-8 multibyte character.
fn delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |byte| line.iter().filter(|&&b| b == byte).count();
    if count(b'\t') > count(b',') {
        b'\t'
    } else {
        b','
    }
}

/// Whether rows may be shorter than the header: XLSX leaves trailing empty cells out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    Exact,
    UpTo,
}

/// Calls `row` with each row's line number and cells, the header first, reporting progress.
pub(crate) fn for_each_row(
    opened: Opened,
    name: &str,
    progress: &ProgressBar,
    mut row: impl FnMut(u64, &[&str], Width) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    match opened {
        Opened::Csv {
            reader,
            encoding,
            delimiter,
            size,
        } => {
            let reader: Box<dyn Read> = match size {
                Some(size) => {
                    progress.set_length(size);
                    progress.set_style(style(
                        "{wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
                    ));
                    Box::new(progress.wrap_read(reader))
                }
                None => {
                    progress.set_style(style("{spinner} {pos} rows {per_sec}"));
                    Box::new(reader)
                }
            };
            let decoded = DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(reader);
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delimiter)
                .buffer_capacity(256 * 1024)
                .from_reader(decoded);
            let mut record = csv::StringRecord::new();
            while csv.read_record(&mut record).map_err(|e| ImportError::Csv {
                name: name.to_owned(),
                source: e,
            })? {
                let line = record.position().map_or(0, csv::Position::line);
                if size.is_none() {
                    progress.inc(1);
                }
                let cells: Vec<&str> = record.iter().map(unescape_formula).collect();
                row(line, &cells, Width::Exact)?;
            }
            Ok(())
        }
        Opened::Xlsx(file) => xlsx_rows(file, name, progress, row),
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("progress templates are valid")
}

/// Streams the first sheet cell by cell (calamine's cell reader), so memory does not grow
/// with the number of rows; only the shared-strings table is held whole.
/// What calamine reads a workbook from.
pub(crate) trait ReadSeek: Read + io::Seek + Send {}
impl<T: Read + io::Seek + Send> ReadSeek for T {}

fn xlsx_rows(
    file: Box<dyn ReadSeek>,
    name: &str,
    progress: &ProgressBar,
    mut row: impl FnMut(u64, &[&str], Width) -> Result<(), ImportError>,
) -> Result<(), ImportError> {
    let unreadable = |e: calamine::XlsxError| ImportError::Xlsx {
        name: name.to_owned(),
        message: e.to_string(),
    };
    let mut workbook: Xlsx<_> =
        Xlsx::new(BufReader::new(file)).map_err(|e| ImportError::Unsupported {
            name: name.to_owned(),
            kind: format!("a ZIP archive that is not a readable XLSX workbook ({e})"),
        })?;
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        return Err(ImportError::Empty);
    };
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(unreadable)?;
    progress.set_length(u64::from(reader.dimensions().end.0) + 1);
    progress.set_style(style("{wide_bar} {pos}/{len} rows {per_sec} {eta}"));
    let mut current: Option<u32> = None;
    let mut texts: Vec<String> = Vec::new();
    let mut emit = |index: u32, texts: &mut Vec<String>| {
        let used = texts
            .iter()
            .rposition(|t| !t.trim().is_empty())
            .map_or(0, |last| last + 1);
        let cells: Vec<&str> = texts[..used].iter().map(String::as_str).collect();
        progress.set_position(u64::from(index) + 1);
        let result = row(u64::from(index) + 1, &cells, Width::UpTo);
        texts.clear();
        result
    };
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (index, column) = cell.get_position();
        if current != Some(index) {
            if let Some(previous) = current {
                emit(previous, &mut texts)?;
            }
            current = Some(index);
        }
        let column = column as usize;
        if texts.len() <= column {
            texts.resize(column + 1, String::new());
        }
        texts[column] = cell_text(cell.get_value());
    }
    match current {
        Some(last) => emit(last, &mut texts),
        None => Ok(()),
    }
}

/// A cell as the text a person sees: whole numbers without `.0` (phones typed as numbers),
/// dates as `YYYY-MM-DD`.
fn cell_text(value: &DataRef) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (year, month, day, ..) = d.to_ymd_hms_milli();
            format!("{year:04}-{month:02}-{day:02}")
        }
        other => Data::from(other.clone()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(text_encoding("姓名,身份证号".as_bytes(), true), UTF_8);
        assert_eq!(text_encoding(b"\xEF\xBB\xBFname", true), UTF_8);
        let (gb, _, _) = GB18030.encode("姓名,身份证号");
        assert_eq!(text_encoding(&gb, true), GB18030);
        // A UTF-8 character cut by the window's end.
        let cut = &"名".as_bytes()[..2];
        assert_eq!(text_encoding(cut, false), UTF_8);
        assert_eq!(text_encoding(cut, true), GB18030);
    }

    #[test]
    fn foreign_files() {
        assert_eq!(foreign_kind(b"%PDF-1.7").as_deref(), Some("a PDF document"));
        assert!(foreign_kind(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest").is_some());
        assert_eq!(foreign_kind(b"a,b\0c").as_deref(), Some("binary data"));
        assert_eq!(foreign_kind(b"PK\x03\x04\0\0"), None);
        assert_eq!(foreign_kind(b"name,phone\n"), None);
    }

    #[test]
    fn delimiters() {
        assert_eq!(delimiter(b"a,b,c\n1\t2"), b',');
        assert_eq!(delimiter(b"a\tb\tc\n"), b'\t');
    }
}
