//! Person export to CSV or XLSX in the import's format, so an unmasked export imports back.

use std::path::Path;

use serde_json::json;
use tokio::sync::mpsc;
use zhucan_core::Lang;
use zhucan_store::{Actor, DbError, PersonRecord, Scope, Store};

use crate::columns::{Column, person_cells};
use crate::table::{Pending, TableFormat, TableWriter, WriteError};

/// Persons read per query (keyset paging by id).
const PAGE: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Store(#[from] DbError),
}

/// Writes every person in `scope` to `out` (`.csv`, UTF-8 with BOM, or `.xlsx`) and returns the
/// number of rows. Resident IDs, certificate numbers and phones are masked unless `unmasked`;
/// whether `actor` may unmask is the caller's decision. The export is audited here
/// (`export-masked` or `export-unmasked`), once the file is complete and before it is moved
/// into place.
pub async fn export_persons(
    store: &Store,
    actor: &Actor,
    scope: &Scope,
    out: &Path,
    unmasked: bool,
    lang: Lang,
) -> Result<u64, ExportError> {
    let format = TableFormat::of(out)?;
    let table = TableWriter::create(
        out,
        format,
        &Column::ALL.map(Column::header),
        &Column::ALL.map(Column::width),
    )?;
    // File writing runs on a blocking thread while the next page is read.
    let (tx, rx) = mpsc::channel::<Vec<PersonRecord>>(2);
    let writer = tokio::task::spawn_blocking(move || write_pages(table, rx, !unmasked, lang));
    let mut after: Option<String> = None;
    loop {
        let page = store.export_page(scope, after.as_deref(), PAGE).await?;
        let full = page.len() as i64 == PAGE;
        after = page.last().map(|p| p.id.clone());
        if page.is_empty() || tx.send(page).await.is_err() {
            // A closed channel means the writer failed; its error is reported below.
            break;
        }
        if !full {
            break;
        }
    }
    drop(tx);
    let (rows, pending) = writer.await.expect("the export writer panicked")?;
    let file = out
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    let scope_text = match scope {
        Scope::All => "all".to_owned(),
        Scope::Division(code) => code.to_string(),
        Scope::Persons(ids) => format!("{} persons", ids.len()),
    };
    let action = if unmasked {
        "export-unmasked"
    } else {
        "export-masked"
    };
    let detail = json!({ "rows": rows, "file": file, "scope": scope_text });
    store
        .audit_event(actor, action, "person", "*", Some(detail))
        .await?;
    pending.commit()?;
    Ok(rows)
}

fn write_pages(
    mut table: TableWriter,
    mut pages: mpsc::Receiver<Vec<PersonRecord>>,
    masked: bool,
    lang: Lang,
) -> Result<(u64, Pending), WriteError> {
    let mut rows = 0;
    while let Some(page) = pages.blocking_recv() {
        for record in page {
            table.write_row(person_cells(&record.to_input(), masked, lang))?;
            rows += 1;
        }
    }
    Ok((rows, table.finish()?))
}
