//! Bulk upsert of persons for imports: a chunk of rows is one transaction, so a chunk lands whole
//! or not at all, and a failed import can simply be run again (rows are matched by resident ID).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::Value;
use sqlx::Connection;
use sqlx::Row;
use sqlx::postgres::PgConnection;
use tokio::sync::MutexGuard;

use crate::audit::{self, Actor, Entry};
use crate::copy::{copy_text, push_rows};
use crate::persons::{
    Absent, CERTIFICATE_COLUMNS, Encoded, GUARDIAN_COLUMNS, PERSON_COLUMNS, child_row,
    insert_encoded, snapshot, update_encoded,
};
use crate::sql::{Arg, Sql};
use crate::{AUDIT_LOCK, Backend, DbError, Result, Store, WriteTx, new_id, now_text};

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
    /// Rows that say what is stored already: not written, not audited, versions kept.
    pub unchanged: u64,
    /// Rows refused by what is already stored: (line, column, reason).
    pub rejected: Vec<(u64, &'static str, Rejection)>,
}

/// Keys per lookup query.
const LOOKUP: usize = 500;

/// Finds which of `keys` exist, as key -> value of `value_column` (a column of the matched row).
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
        let backend = Backend::of(conn);
        // PostgreSQL would keep the generic plan of a prepared statement, made while the table
        // was small, after five runs: a sequential scan testing each row against every key.
        if backend == Backend::Sqlite {
            sql.cached();
        }
        for row in sql.query(backend).fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get::<Vec<u8>, _>("k")?,
                row.try_get::<String, _>("v")?,
            );
        }
    }
    Ok(found)
}

/// PostgreSQL's form of [`existing`]: one query with an array. Not prepared, so it is planned
/// with the table's current size: a prepared statement's generic plan, made while an initial
/// import's table was empty, would scan the whole table and test each row against every key.
async fn existing_pg(
    conn: &mut PgConnection,
    table: &str,
    key_column: &str,
    value_column: &str,
    keys: Vec<Vec<u8>>,
) -> Result<HashMap<Vec<u8>, String>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let sql =
        format!("SELECT {key_column}, {value_column} FROM {table} WHERE {key_column} = ANY($1)");
    Ok(
        sqlx::query_as::<_, (Vec<u8>, String)>(sqlx::AssertSqlSafe(sql))
            .bind(keys)
            .persistent(false)
            .fetch_all(conn)
            .await?
            .into_iter()
            .collect(),
    )
}

/// A chunk of import rows with their columns encrypted and blind-indexed and their audit
/// snapshots built: the CPU-heavy part of an import, done in parallel and ahead of the writer
/// (see [`Store::encode_rows`]), so that it overlaps the writing of the previous chunk.
pub struct EncodedRows {
    rows: Vec<PersonRow>,
    encoded: Vec<(String, Encoded)>,
    /// The masked snapshot of each row's input, for its audit record; taken when written.
    snapshots: Vec<Option<Value>>,
}

impl EncodedRows {
    pub fn rows(&self) -> &[PersonRow] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Rows per import transaction: committing every few thousand rows writes each page of the
/// (randomly ordered) blind-index indexes to the WAL again and again; holding one transaction
/// for the whole file would keep every other writer waiting for it.
const TX_ROWS: usize = 20_000;
/// ... or this long, whichever comes first, so other writers wait no longer than that.
const TX_TIME: Duration = Duration::from_secs(2);
/// PostgreSQL: rows buffered before they are sent with COPY. Each COPY waits about 40 ms for
/// its final message to leave (sqlx does not set `TCP_NODELAY`, so Nagle's algorithm holds it
/// until the server acknowledges the data, which it delays): sending several thousand rows at a
/// time hides that wait behind the server's work, while the buffers stay a few megabytes.
const COPY_ROWS: usize = 5_000;

/// A running import: chunks written with [`BulkImport::write`] share a transaction that is
/// committed every [`TX_ROWS`] rows (or [`TX_TIME`]) and by [`BulkImport::finish`]. A chunk is
/// always wholly inside one transaction, so no row is ever half-written; dropping the import (or
/// an error) rolls back what is not committed yet, and re-running the file completes it (rows
/// are matched by resident ID). On PostgreSQL new persons are sent in batches, so the database
/// may refuse a chunk's row only at a later write, at a commit or at the finish.
///
/// Rows of different chunks must have different resident IDs (an import's reader refuses a
/// repeated one): when the persons table was empty at the start and nobody else has written
/// since, the import knows every stored person is its own and looks nothing up.
pub struct BulkImport<'s> {
    store: &'s Store,
    actor: Actor,
    open: Option<Open<'s>>,
    /// PostgreSQL: the connection COPY runs on, kept across the import's transactions.
    pg: Option<PgConnection>,
    initial: Initial,
}

/// Whether the import is an initial load: every stored person is one it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Initial {
    /// Not known before the first transaction.
    Unknown,
    /// So far, yes: the audit chain ended here at the import's last commit, and every write is
    /// audited, so an unchanged end means nobody else wrote since.
    Since(String),
    /// In the open transaction, yes.
    Now,
    No,
}

impl Initial {
    /// At a transaction's start, under the write lock: `last_hash` ends the audit chain;
    /// `empty` tells whether the persons table is (asked only for the first transaction).
    async fn begin(
        &mut self,
        last_hash: Option<&str>,
        empty: impl Future<Output = Result<bool>>,
    ) -> Result<()> {
        *self = match self {
            Initial::Unknown if empty.await? => Initial::Now,
            Initial::Since(hash) if Some(hash.as_str()) == last_hash => Initial::Now,
            _ => Initial::No,
        };
        Ok(())
    }

    /// Before a commit: the audit chain's end, if this transaction kept the initial load going.
    fn commit(&mut self, last_hash: Option<String>) {
        if *self == Initial::Now {
            *self = last_hash.map_or(Initial::No, Initial::Since);
        }
    }
}

enum Open<'s> {
    /// SQLite; and on PostgreSQL a chunk that updates stored persons.
    Any {
        w: WriteTx<'s>,
        rows: usize,
        since: Instant,
    },
    /// PostgreSQL, new persons: buffered as COPY text, sent every [`COPY_ROWS`] rows and at
    /// the commit.
    Copy(CopyTx<'s>),
}

/// A transaction on [`BulkImport::pg`] holding the audit lock, and the rows it will COPY.
struct CopyTx<'s> {
    _writer: MutexGuard<'s, ()>,
    /// The audit chain's last hash, including the records buffered here.
    last_hash: String,
    rows: usize,
    since: Instant,
    persons: String,
    certificates: String,
    guardians: String,
    audit: String,
    /// Blind indexes (resident IDs and certificate numbers) buffered and not yet visible to
    /// lookups: a chunk meeting one of them sends the buffer first.
    keys: HashSet<Vec<u8>>,
    /// Rows in the buffers.
    buffered: usize,
}

impl Open<'_> {
    fn full(&self) -> bool {
        let (rows, since) = match self {
            Open::Any { rows, since, .. } => (*rows, since),
            Open::Copy(tx) => (tx.rows, &tx.since),
        };
        rows >= TX_ROWS || since.elapsed() >= TX_TIME
    }
}

impl Store {
    /// Encrypts, indexes and snapshots a chunk of rows on all cores. Blocking: call it from a
    /// blocking thread (an import's reader) or through `spawn_blocking`.
    pub fn encode_rows(&self, rows: Vec<PersonRow>) -> EncodedRows {
        let now = now_text();
        let (encoded, snapshots) = rows
            .par_iter()
            .map(|r| {
                let id = new_id();
                let e = Encoded::new(&self.crypto, &id, &r.input, &now);
                ((id, e), Some(snapshot(&r.input)))
            })
            .unzip();
        EncodedRows {
            rows,
            encoded,
            snapshots,
        }
    }

    /// Inserts new persons and updates known ones (by resident ID) in one transaction, auditing
    /// each row written; a row equal to the stored record is counted as unchanged and not
    /// written. Rows that clash with stored data are returned as rejected and not written.
    pub async fn import_persons(&self, actor: &Actor, rows: Vec<PersonRow>) -> Result<BulkOutcome> {
        let store = self.clone();
        let chunk = tokio::task::spawn_blocking(move || store.encode_rows(rows))
            .await
            .expect("encoding task panicked");
        let mut import = self.bulk_import(actor);
        let outcome = import.write(chunk).await?;
        import.finish().await?;
        Ok(outcome)
    }

    /// Starts an import of many chunks (see [`BulkImport`]).
    pub fn bulk_import(&self, actor: &Actor) -> BulkImport<'_> {
        BulkImport {
            store: self,
            actor: actor.clone(),
            open: None,
            pg: None,
            initial: Initial::Unknown,
        }
    }
}

impl BulkImport<'_> {
    /// Writes a chunk: new persons are inserted, known ones (by resident ID) updated unless the
    /// row says what is stored already, each row written audited; rows that clash with stored
    /// data are returned as rejected and not written.
    /// The chunk is committed with its transaction, at the latest by [`BulkImport::finish`].
    pub async fn write(&mut self, mut chunk: EncodedRows) -> Result<BulkOutcome> {
        let mut laps = Laps::start();
        let result = self.write_chunk(&mut chunk, &mut laps).await;
        if result.is_err() {
            // Roll back: the transaction ends with its connection.
            self.open = None;
            self.pg = None;
        }
        laps.log(chunk.len());
        result
    }

    async fn write_chunk(
        &mut self,
        chunk: &mut EncodedRows,
        laps: &mut Laps,
    ) -> Result<BulkOutcome> {
        let outcome = match self.store.backend {
            Backend::Sqlite => self.write_any(chunk, laps).await?,
            Backend::Postgres => match self.write_copy(chunk, laps).await? {
                Some(outcome) => outcome,
                None => {
                    // Updates take the general path, in a transaction of their own.
                    let outcome = self.write_any(chunk, laps).await?;
                    self.commit().await?;
                    outcome
                }
            },
        };
        if self.open.as_ref().is_some_and(Open::full) {
            self.commit().await?;
            laps.lap("commit");
        }
        Ok(outcome)
    }

    /// Commits what is written so far and ends the import.
    pub async fn finish(mut self) -> Result<()> {
        self.commit().await?;
        if let Some(conn) = self.pg.take() {
            conn.close().await?;
        }
        Ok(())
    }

    /// Commits what is written so far; the next chunk starts a new transaction.
    pub async fn commit(&mut self) -> Result<()> {
        match self.open.take() {
            None => {}
            Some(Open::Any { mut w, .. }) => {
                if self.initial == Initial::Now {
                    let last = sqlx::query_scalar(audit::LAST_HASH)
                        .fetch_optional(&mut *w.tx)
                        .await?;
                    self.initial.commit(last);
                }
                w.tx.commit().await?
            }
            Some(Open::Copy(mut tx)) => {
                self.initial.commit(Some(tx.last_hash.clone()));
                let conn = self
                    .pg
                    .as_mut()
                    .expect("a COPY transaction has its connection");
                let sent = async {
                    tx.send(conn, true).await?;
                    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                    Ok::<(), DbError>(())
                }
                .await;
                if sent.is_err() {
                    self.pg = None;
                }
                sent?
            }
        }
        Ok(())
    }

    /// The general path: lookups, UPDATE and multi-row INSERT statements.
    async fn write_any(&mut self, chunk: &mut EncodedRows, laps: &mut Laps) -> Result<BulkOutcome> {
        if !matches!(self.open, Some(Open::Any { .. })) {
            self.commit().await?;
            let mut w = self.store.write_tx().await?;
            let last: Option<String> = sqlx::query_scalar(audit::LAST_HASH)
                .fetch_optional(&mut *w.tx)
                .await?;
            let empty = async {
                Ok(sqlx::query("SELECT 1 FROM persons LIMIT 1")
                    .fetch_optional(&mut *w.tx)
                    .await?
                    .is_none())
            };
            self.initial.begin(last.as_deref(), empty).await?;
            self.open = Some(Open::Any {
                w,
                rows: 0,
                since: Instant::now(),
            });
            laps.lap("begin");
        }
        let store = self.store;
        let Some(Open::Any { w, rows, .. }) = &mut self.open else {
            unreachable!("opened above")
        };
        let found = if self.initial == Initial::Now {
            Found::default()
        } else {
            Found {
                persons: existing(&mut w.tx, "persons", "rid_index", "id", &rid_keys(chunk))
                    .await?,
                certificates: existing(
                    &mut w.tx,
                    "certificates",
                    "number_index",
                    "person_id",
                    &certificate_keys(chunk),
                )
                .await?,
            }
        };
        let plan = plan(chunk, &found);
        laps.lap("classify");
        // No other writer can change these persons meanwhile: the transaction holds the lock.
        let ids: Vec<&str> = plan.updates.iter().map(|(_, id)| id.as_str()).collect();
        let mut stored = store.persons_by_id(&ids).await?;
        laps.lap("read");
        let mut entries = Vec::with_capacity(plan.inserts.len() + plan.updates.len());
        let mut unchanged = 0;
        for (i, id) in &plan.updates {
            let input = &chunk.rows[*i].input;
            let before = stored.remove(id).ok_or(DbError::NotFound)?.to_input();
            let mut after = input.clone();
            after.certificate = after.certificate.or_else(|| before.certificate.clone());
            after.guardian = after.guardian.or_else(|| before.guardian.clone());
            if after == before {
                unchanged += 1;
                continue;
            }
            update_encoded(&mut w.tx, id, &chunk.encoded[*i].1, Absent::Keep).await?;
            entries.push(Entry {
                action: "import-update",
                entity: "person",
                entity_id: id.clone(),
                division_code: Some(input.division_code.as_str().to_owned()),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
            });
        }
        laps.lap("update");
        let inserts: Vec<&(String, Encoded)> =
            plan.inserts.iter().map(|&i| &chunk.encoded[i]).collect();
        insert_encoded(&mut w.tx, &inserts).await?;
        laps.lap("insert");
        entries.extend(created(chunk, &plan.inserts));
        audit::append(&mut w.tx, &store.crypto, &self.actor, &entries).await?;
        laps.lap("audit");
        *rows += chunk.len();
        Ok(plan.outcome(unchanged))
    }

    /// PostgreSQL: buffers a chunk of only new persons for COPY. Returns `None` (having
    /// written nothing) when the chunk updates stored persons, which take the general path.
    async fn write_copy(
        &mut self,
        chunk: &mut EncodedRows,
        laps: &mut Laps,
    ) -> Result<Option<BulkOutcome>> {
        if !matches!(self.open, Some(Open::Copy(_))) {
            self.commit().await?;
            // The same order as `write_tx`: this process's queue, a connection, then the lock.
            let writer = self.store.writer.lock().await;
            let conn = match &mut self.pg {
                Some(conn) => conn,
                None => self
                    .pg
                    .insert(PgConnection::connect(&self.store.url).await?),
            };
            sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(AUDIT_LOCK)
                .execute(&mut *conn)
                .await?;
            let last: Option<String> = sqlx::query_scalar(audit::LAST_HASH)
                .fetch_optional(&mut *conn)
                .await?;
            let empty = async {
                Ok(sqlx::query("SELECT 1 FROM persons LIMIT 1")
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_none())
            };
            self.initial.begin(last.as_deref(), empty).await?;
            self.open = Some(Open::Copy(CopyTx {
                _writer: writer,
                last_hash: last.unwrap_or_else(|| audit::GENESIS.to_owned()),
                rows: 0,
                since: Instant::now(),
                persons: String::new(),
                certificates: String::new(),
                guardians: String::new(),
                audit: String::new(),
                keys: HashSet::new(),
                buffered: 0,
            }));
            laps.lap("begin");
        }
        let conn = self.pg.as_mut().expect("opened above");
        let Some(Open::Copy(tx)) = &mut self.open else {
            unreachable!("opened above")
        };
        let rids = rid_keys(chunk);
        let certificates = certificate_keys(chunk);
        if rids
            .iter()
            .chain(&certificates)
            .any(|k| tx.keys.contains(*k))
        {
            tx.send(conn, true).await?;
        }
        // Every writer takes the lock held here, so these reads see what COPY will meet.
        let found = if self.initial == Initial::Now {
            Found::default()
        } else {
            Found {
                persons: existing_pg(
                    conn,
                    "persons",
                    "rid_index",
                    "id",
                    rids.iter().map(|k| k.to_vec()).collect(),
                )
                .await?,
                certificates: existing_pg(
                    conn,
                    "certificates",
                    "number_index",
                    "person_id",
                    certificates.iter().map(|k| k.to_vec()).collect(),
                )
                .await?,
            }
        };
        let plan = plan(chunk, &found);
        laps.lap("classify");
        if !plan.updates.is_empty() {
            return Ok(None);
        }
        tx.keys
            .extend(rids.iter().chain(&certificates).map(|k| k.to_vec()));
        let new: Vec<&(String, Encoded)> =
            plan.inserts.iter().map(|&i| &chunk.encoded[i]).collect();
        push_rows(&mut tx.persons, new.iter().map(|(_, e)| e.person.iter()));
        let certificates: Vec<Vec<Arg>> = new
            .iter()
            .filter_map(|(id, e)| e.certificate.as_ref().map(|c| child_row(id, &c.columns)))
            .collect();
        push_rows(&mut tx.certificates, certificates.iter());
        let guardians: Vec<Vec<Arg>> = new
            .iter()
            .filter_map(|(id, e)| e.guardian.as_ref().map(|g| child_row(id, g)))
            .collect();
        push_rows(&mut tx.guardians, guardians.iter());
        laps.lap("insert");
        let entries: Vec<Entry<'_>> = created(chunk, &plan.inserts).collect();
        let audit_rows = audit::rows(&self.store.crypto, &tx.last_hash, &self.actor, &entries);
        if let Some([.., Arg::Text(hash)]) = audit_rows.last() {
            tx.last_hash = hash.clone();
        }
        push_rows(&mut tx.audit, audit_rows.iter());
        laps.lap("audit");
        tx.rows += chunk.len();
        tx.buffered += chunk.len();
        if tx.buffered >= COPY_ROWS {
            tx.send(conn, false).await?;
            laps.lap("copy");
        }
        Ok(Some(plan.outcome(0)))
    }
}

impl CopyTx<'_> {
    /// Sends the buffered rows; parents before children, as the foreign keys require.
    /// Guardians, a few rows a chunk, wait for `all` (the commit): a small COPY cannot hide
    /// its 40 ms wait (see [`COPY_ROWS`]).
    async fn send(&mut self, conn: &mut PgConnection, all: bool) -> Result<()> {
        let mut tables = vec![
            ("persons", PERSON_COLUMNS, &mut self.persons),
            ("certificates", CERTIFICATE_COLUMNS, &mut self.certificates),
            ("audit_log", audit::AUDIT_COLUMNS, &mut self.audit),
        ];
        if all {
            tables.push(("guardians", GUARDIAN_COLUMNS, &mut self.guardians));
        }
        for (table, columns, data) in tables {
            copy_text(conn, table, columns, std::mem::take(data)).await?;
        }
        self.keys.clear();
        self.buffered = 0;
        Ok(())
    }
}

/// The audit entries of the rows at `inserts`, which are created.
fn created<'c>(
    chunk: &'c mut EncodedRows,
    inserts: &'c [usize],
) -> impl Iterator<Item = Entry<'static>> + 'c {
    inserts.iter().map(|&i| Entry {
        action: "import-create",
        entity: "person",
        entity_id: chunk.encoded[i].0.clone(),
        division_code: Some(chunk.rows[i].input.division_code.as_str().to_owned()),
        before: None,
        after: chunk.snapshots[i].take(),
    })
}

fn rid_keys(chunk: &EncodedRows) -> Vec<&[u8]> {
    chunk
        .encoded
        .iter()
        .map(|(_, e)| e.rid_index.as_slice())
        .collect()
}

fn certificate_keys(chunk: &EncodedRows) -> Vec<&[u8]> {
    chunk
        .encoded
        .iter()
        .filter_map(|(_, e)| e.certificate.as_ref().map(|c| c.number_index.as_slice()))
        .collect()
}

/// Stored rows met by a chunk: person id by resident ID index, owner by certificate index.
#[derive(Default)]
struct Found {
    persons: HashMap<Vec<u8>, String>,
    certificates: HashMap<Vec<u8>, String>,
}

/// What a chunk will do, by row index: insert, update (with the stored id) or reject.
struct Plan {
    inserts: Vec<usize>,
    updates: Vec<(usize, String)>,
    rejected: Vec<(u64, &'static str, Rejection)>,
}

impl Plan {
    /// The counts, `unchanged` of the planned updates having been found equal to what is stored.
    fn outcome(&self, unchanged: u64) -> BulkOutcome {
        BulkOutcome {
            inserted: self.inserts.len() as u64,
            updated: self.updates.len() as u64 - unchanged,
            unchanged,
            rejected: self.rejected.clone(),
        }
    }
}

fn plan(chunk: &EncodedRows, found: &Found) -> Plan {
    let mut plan = Plan {
        inserts: Vec::new(),
        updates: Vec::new(),
        rejected: Vec::new(),
    };
    let mut seen: HashMap<&[u8], u64> = HashMap::new();
    for (i, (row, (_, e))) in chunk.rows.iter().zip(&chunk.encoded).enumerate() {
        if let Some(first) = seen.insert(&e.rid_index, row.line) {
            plan.rejected
                .push((row.line, "resident_id", Rejection::SameIdAs { row: first }));
            continue;
        }
        let person_id = found.persons.get(&e.rid_index);
        let owner = e
            .certificate
            .as_ref()
            .and_then(|c| found.certificates.get(&c.number_index));
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
    plan
}

/// Wall time of an import chunk's stages, logged at debug level (`RUST_LOG=zhucan_store::bulk=debug`)
/// to see where an import's time goes.
struct Laps {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Laps {
    fn start() -> Laps {
        Laps {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.laps.push((stage, now - self.last));
        self.last = now;
    }

    fn log(&self, rows: usize) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let stages: Vec<String> = self
                .laps
                .iter()
                .map(|(stage, d)| format!("{stage}={:.3}", d.as_secs_f64() * 1e3))
                .collect();
            tracing::debug!(rows, stages_ms = %stages.join(" "), "import chunk");
        }
    }
}
