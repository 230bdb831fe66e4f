//! Bulk upsert of persons for imports: a chunk of rows is one transaction, so a chunk lands whole
//! or not at all, and a failed import can simply be run again (rows are matched by resident ID).

use std::collections::HashMap;

use rayon::prelude::*;
use sqlx::Row;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::audit::{self, Actor, Entry};
use crate::copy::copy_rows;
use crate::persons::{
    Absent, CERTIFICATE_COLUMNS, Encoded, GUARDIAN_COLUMNS, PERSON_COLUMNS, child_row,
    insert_encoded, snapshot, update_encoded,
};
use crate::sql::{Arg, Sql};
use crate::{AUDIT_LOCK, Backend, Result, Scope, Store, new_id, now_text};

/// One validated input row and its line in the source file (for error reports).
#[derive(Debug, Clone)]
pub struct PersonRow {
    pub line: u64,
    pub input: crate::PersonInput,
}

/// Why stored data refused a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    SameIdAs { row: u64 },
    CertificateTaken,
}

impl zhucan_core::Localized for Rejection {
    fn message(&self, lang: zhucan_core::Lang) -> String {
        match (self, lang) {
            (Rejection::SameIdAs { row }, zhucan_core::Lang::Zh) => {
                format!("与第 {row} 行的公民身份号码重复")
            }
            (Rejection::SameIdAs { row }, zhucan_core::Lang::En) => {
                format!("same resident ID as row {row}")
            }
            (Rejection::CertificateTaken, zhucan_core::Lang::Zh) => {
                "该残疾人证号已属于其他人".into()
            }
            (Rejection::CertificateTaken, zhucan_core::Lang::En) => {
                "certificate number belongs to another person".into()
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    pub inserted: u64,
    pub updated: u64,
    /// Rows refused by what is already stored: (line, column, reason).
    pub rejected: Vec<(u64, &'static str, Rejection)>,
}

/// Finds which of `keys` exist, as key -> value of `select` (a column of the matched row).
/// Keys per lookup query.
const LOOKUP: usize = 500;

async fn existing(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key_column: &str,
    value_column: &str,
    keys: &[&[u8]],
) -> Result<HashMap<Vec<u8>, String>> {
    let mut found = HashMap::new();
    for chunk in keys.chunks(LOOKUP) {
        let mut sql = Sql::new(&format!(
            "SELECT {key_column} AS k, {value_column} AS v FROM {table} WHERE {key_column} IN "
        ));
        // Padded with the last key to a fixed length, so one prepared statement serves all.
        let padded = chunk.iter().chain(std::iter::repeat_n(
            &chunk[chunk.len() - 1],
            LOOKUP - chunk.len(),
        ));
        sql.bind_tuple(padded.map(|k| k.to_vec().into()));
        for row in sql
            .cached()
            .query(Backend::of(conn))
            .fetch_all(&mut *conn)
            .await?
        {
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

        if self.backend == Backend::Postgres
            && let Some(outcome) = self.copy_new_persons(actor, &rows, &encoded).await?
        {
            return Ok(outcome);
        }
        let mut w = self.write_tx().await?;
        let plan = classify(&mut w.tx, &rows, &encoded).await?;
        let mut entries = Vec::with_capacity(plan.inserts.len() + plan.updates.len());
        for (i, id) in &plan.updates {
            let input = &rows[*i].input;
            let before = self.person(&Scope::All, id).await?.to_input();
            update_encoded(&mut w.tx, id, &encoded[*i].1, Absent::Keep).await?;
            let mut after = input.clone();
            after.certificate = after.certificate.or_else(|| before.certificate.clone());
            after.guardian = after.guardian.or_else(|| before.guardian.clone());
            entries.push(Entry {
                action: "import-update",
                entity: "person",
                entity_id: id.clone(),
                division_code: Some(input.division_code.as_str().to_owned()),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
            });
        }
        let inserts: Vec<&(String, Encoded)> = plan.inserts.iter().map(|&i| &encoded[i]).collect();
        insert_encoded(&mut w.tx, &inserts).await?;
        entries.extend(
            plan.inserts
                .iter()
                .map(|&i| created(&encoded[i].0, &rows[i])),
        );
        audit::append(&mut w.tx, &self.crypto, actor, &entries).await?;
        w.tx.commit().await?;
        Ok(plan.outcome())
    }

    /// PostgreSQL: a chunk of only new persons is loaded with COPY. Returns `None` (having
    /// written nothing) when the chunk updates stored persons, which take the general path.
    async fn copy_new_persons(
        &self,
        actor: &Actor,
        rows: &[PersonRow],
        encoded: &[(String, Encoded)],
    ) -> Result<Option<BulkOutcome>> {
        // The same order as `write_tx`: this process's queue, a pooled connection, then the lock.
        let _writer = self.writer.lock().await;
        let mut read = self.pool.acquire().await?;
        let mut conn = PgConnection::connect(&self.url).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut *tx)
            .await?;
        // Every writer takes the lock above, so this read sees what COPY will meet.
        let plan = classify(&mut read, rows, encoded).await?;
        if !plan.updates.is_empty() {
            return Ok(None);
        }
        let new: Vec<&(String, Encoded)> = plan.inserts.iter().map(|&i| &encoded[i]).collect();
        copy_rows(
            &mut tx,
            "persons",
            PERSON_COLUMNS,
            new.iter().map(|(_, e)| e.person.iter()),
        )
        .await?;
        let certificates: Vec<Vec<Arg>> = new
            .iter()
            .filter_map(|(id, e)| e.certificate.as_ref().map(|c| child_row(id, &c.columns)))
            .collect();
        copy_rows(
            &mut tx,
            "certificates",
            CERTIFICATE_COLUMNS,
            certificates.iter(),
        )
        .await?;
        let guardians: Vec<Vec<Arg>> = new
            .iter()
            .filter_map(|(id, e)| e.guardian.as_ref().map(|g| child_row(id, g)))
            .collect();
        copy_rows(&mut tx, "guardians", GUARDIAN_COLUMNS, guardians.iter()).await?;
        let entries: Vec<Entry<'_>> = plan
            .inserts
            .iter()
            .map(|&i| created(&encoded[i].0, &rows[i]))
            .collect();
        let last: Option<String> = sqlx::query_scalar(audit::LAST_HASH)
            .fetch_optional(&mut *tx)
            .await?;
        let audit_rows = audit::rows(
            &self.crypto,
            last.as_deref().unwrap_or(audit::GENESIS),
            actor,
            &entries,
        );
        copy_rows(
            &mut tx,
            "audit_log",
            audit::AUDIT_COLUMNS,
            audit_rows.iter(),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(plan.outcome()))
    }
}

fn created<'a>(id: &str, row: &PersonRow) -> Entry<'a> {
    Entry {
        action: "import-create",
        entity: "person",
        entity_id: id.to_owned(),
        division_code: Some(row.input.division_code.as_str().to_owned()),
        before: None,
        after: Some(snapshot(&row.input)),
    }
}

/// What a chunk will do, by row index: insert, update (with the stored id) or reject.
struct Plan {
    inserts: Vec<usize>,
    updates: Vec<(usize, String)>,
    rejected: Vec<(u64, &'static str, Rejection)>,
}

impl Plan {
    fn outcome(self) -> BulkOutcome {
        BulkOutcome {
            inserted: self.inserts.len() as u64,
            updated: self.updates.len() as u64,
            rejected: self.rejected,
        }
    }
}

async fn classify(
    conn: &mut sqlx::AnyConnection,
    rows: &[PersonRow],
    encoded: &[(String, Encoded)],
) -> Result<Plan> {
    let rid_keys: Vec<&[u8]> = encoded
        .iter()
        .map(|(_, e)| e.rid_index.as_slice())
        .collect();
    let known = existing(conn, "persons", "rid_index", "id", &rid_keys).await?;
    let cert_keys: Vec<&[u8]> = encoded
        .iter()
        .filter_map(|(_, e)| e.certificate.as_ref().map(|c| c.number_index.as_slice()))
        .collect();
    let cert_owner = existing(
        conn,
        "certificates",
        "number_index",
        "person_id",
        &cert_keys,
    )
    .await?;
    let mut plan = Plan {
        inserts: Vec::new(),
        updates: Vec::new(),
        rejected: Vec::new(),
    };
    let mut seen: HashMap<&[u8], u64> = HashMap::new();
    for (i, (row, (_, e))) in rows.iter().zip(encoded).enumerate() {
        if let Some(first) = seen.insert(&e.rid_index, row.line) {
            plan.rejected
                .push((row.line, "resident_id", Rejection::SameIdAs { row: first }));
            continue;
        }
        let person_id = known.get(&e.rid_index);
        let owner = e
            .certificate
            .as_ref()
            .and_then(|c| cert_owner.get(&c.number_index));
        if owner.is_some_and(|o| Some(o) != person_id) {
            plan.rejected
                .push((row.line, "certificate_no", Rejection::CertificateTaken));
            continue;
        }
        match person_id {
            Some(id) => plan.updates.push((i, id.clone())),
            None => plan.inserts.push(i),
        }
    }
    Ok(plan)
}
