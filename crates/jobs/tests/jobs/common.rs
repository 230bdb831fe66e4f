//! A real SQLite store in a temporary directory, and files to import.

use std::path::Path;

use tempfile::TempDir;
use zhucan_crypto::{FieldCrypto, MasterKey};
use zhucan_jobs::demo_divisions;
use zhucan_store::{PersonInput, Scope, Store};

/// A migrated store with the demo divisions; keep the directory alive while using it.
pub async fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let crypto = FieldCrypto::new(&MasterKey::generate());
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::connect(&url, crypto).await.unwrap();
    store.migrate().await.unwrap();
    store.upsert_divisions(&demo_divisions()).await.unwrap();
    (dir, store)
}

/// Every stored person as an input, in resident ID order.
pub async fn contents(store: &Store) -> Vec<PersonInput> {
    let mut inputs: Vec<PersonInput> = store
        .export_page(&Scope::All, None, 1_000_000)
        .await
        .unwrap()
        .iter()
        .map(|r| r.to_input())
        .collect();
    inputs.sort_by(|a, b| a.resident_id.cmp(&b.resident_id));
    inputs
}

/// The rows of a CSV file (header first), BOM removed.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Rows as text separated by `delimiter`; rows may differ in length.
pub fn to_csv(rows: &[Vec<String>], delimiter: u8) -> String {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_writer(Vec::new());
    for row in rows {
        writer.write_record(row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}
