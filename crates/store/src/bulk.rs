//! Bulk upsert of persons for imports: a chunk of rows is one transaction, so a chunk lands whole
//! or not at all, and a failed import can simply be run again (rows are matched by resident ID).

use std::collections::HashMap;

use rayon::prelude::*;
use sqlx::Row;

use crate::audit::{self, Actor, Entry};
use crate::persons::{Encoded, insert_encoded, snapshot, update_encoded};
use crate::sql::Sql;
use crate::{Result, Scope, Store, new_id, now_text};

/// One validated input row and its line in the source file (for error reports).
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub line: u64,
    pub input: crate::PersonInput,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub inserted: u64,
    pub updated: u64,
    /// Rows refused by what is already stored: (line, column, reason).
    pub rejected: Vec<(u64, &'static str, String)>,
}

/// Finds which of `keys` exist, as key -> value of `select` (a column of the matched row).
async fn existing(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key_column: &str,
    value_column: &str,
    keys: &[&[u8]],
) -> Result<HashMap<Vec<u8>, String>> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut sql = Sql::new(&format!(
            "SELECT {key_column} AS k, {value_column} AS v FROM {table} WHERE {key_column} IN "
        ));
        sql.bind_tuple(chunk.iter().map(|k| k.to_vec().into()));
        for row in sql.query().fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get::<Vec<u8>, _>("k")?,
                row.try_get::<String, _>("v")?,
            );
        }
    }
    Ok(found)
}

impl Store {
    /// Inserts new persons and updates known ones (by resident ID) in one transaction, auditing
    /// each row. Rows that clash with stored data are returned as rejected and not written.
    pub async fn import_persons(&self, actor: &Actor, rows: Vec<PersonRow>) -> Result<BulkOutcome> {
        let now = now_text();
        let crypto = self.crypto.clone();
        // Encryption and indexing are the CPU-heavy part: spread them over the cores, off the
        // async workers.
        let (rows, encoded) = tokio::task::spawn_blocking(move || {
            let encoded: Vec<(String, Encoded)> = rows
                .par_iter()
                .map(|r| {
                    let id = new_id();
                    let e = Encoded::new(&crypto, &id, &r.input, &now);
                    (id, e)
                })
                .collect();
            (rows, encoded)
        })
        .await
        .expect("encoding task panicked");

        let mut w = self.write_tx().await?;
        let rid_keys: Vec<Vec<u8>> = encoded.iter().map(|(_, e)| e.rid_index.clone()).collect();
        let rid_slices: Vec<&[u8]> = rid_keys.iter().map(Vec::as_slice).collect();
        let known = existing(&mut w.tx, "persons", "rid_index", "id", &rid_slices).await?;
        let cert_keys: Vec<&[u8]> = encoded
            .iter()
            .filter_map(|(_, e)| e.certificate.as_ref().map(|c| c.number_index.as_slice()))
            .collect();
        let cert_owner = existing(
            &mut w.tx,
            "certificates",
            "number_index",
            "person_id",
            &cert_keys,
        )
        .await?;

        let mut outcome = BulkOutcome::default();
        let mut seen: HashMap<&[u8], u64> = HashMap::new();
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for ((row, key), (new_id, e)) in rows.iter().zip(&rid_keys).zip(encoded) {
            if let Some(first) = seen.insert(key.as_slice(), row.line) {
                outcome.rejected.push((
                    row.line,
                    "resident_id",
                    format!("same resident ID as row {first}"),
                ));
                continue;
            }
            let person_id = known.get(&e.rid_index).cloned();
            let owner = e
                .certificate
                .as_ref()
                .and_then(|c| cert_owner.get(&c.number_index));
            if let Some(owner) = owner
                && Some(owner) != person_id.as_ref()
            {
                outcome.rejected.push((
                    row.line,
                    "certificate_no",
                    "certificate number belongs to another person".into(),
                ));
                continue;
            }
            match person_id {
                Some(id) => updates.push((id, e, row)),
                None => inserts.push((new_id, e, row)),
            }
        }

        let mut entries = Vec::with_capacity(inserts.len() + updates.len());
        for (id, e, row) in &updates {
            let before = self.person(&Scope::All, id).await?;
            update_encoded(&mut w.tx, id, e).await?;
            entries.push(Entry {
                action: "import-update",
                entity: "person",
                entity_id: id.clone(),
                division_code: Some(row.input.division_code.as_str().to_owned()),
                before: Some(snapshot(&before.to_input())),
                after: Some(snapshot(&row.input)),
            });
        }
        let (insert_rows, insert_inputs): (Vec<_>, Vec<_>) = inserts
            .into_iter()
            .map(|(id, e, row)| ((id, e), row))
            .unzip();
        insert_encoded(&mut w.tx, &insert_rows).await?;
        for ((id, _), row) in insert_rows.iter().zip(&insert_inputs) {
            entries.push(Entry {
                action: "import-create",
                entity: "person",
                entity_id: id.clone(),
                division_code: Some(row.input.division_code.as_str().to_owned()),
                before: None,
                after: Some(snapshot(&row.input)),
            });
        }
        audit::append(&mut w.tx, actor, &entries).await?;
        w.tx.commit().await?;
        outcome.inserted = insert_rows.len() as u64;
        outcome.updated = updates.len() as u64;
        Ok(outcome)
    }
}
