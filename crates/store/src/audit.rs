//! The append-only audit log: who did what to which record, with before/after, hash-chained with
//! SM3 so that an edit or deletion made behind the application's back shows in `audit verify`.

use serde::Serialize;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::{Any, Row};
use zhucan_crypto::FieldCrypto;

use crate::sql::{Arg, insert_rows};
use crate::{Result, Store, now_text};

/// Hash of "nothing before": the first record chains from it.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acts: a staff account, a signed-in resident, or the system (CLI jobs, seeding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: String,
    pub role: String,
    pub client: Option<String>,
}

impl Actor {
    pub fn system(what: &str) -> Actor {
        Actor {
            id: format!("system:{what}"),
            role: "system".into(),
            client: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub division_code: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    Intact { records: i64 },
    Broken { seq: i64, reason: String },
}

/// One entry to append; `before`/`after` hold masked values only.
pub(crate) struct Entry<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub division_code: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The bytes the hash covers: every column but the hashes, unit-separated.
fn canonical(
    at: &str,
    actor: &Actor,
    e: &Entry<'_>,
    before: &Option<String>,
    after: &Option<String>,
) -> Vec<u8> {
    [
        at,
        &actor.id,
        &actor.role,
        e.action,
        e.entity,
        &e.entity_id,
        e.division_code.as_deref().unwrap_or(""),
        before.as_deref().unwrap_or(""),
        after.as_deref().unwrap_or(""),
        actor.client.as_deref().unwrap_or(""),
    ]
    .join("\u{1f}")
    .into_bytes()
}

pub(crate) const AUDIT_COLUMNS: &str = "at, actor, actor_role, action, entity, entity_id, division_code, \
     before_json, after_json, client, prev_hash, hash";

/// The column values of `entries`, chained from `prev`; shared by the INSERT and COPY paths.
pub(crate) fn rows(
    crypto: &FieldCrypto,
    prev: &str,
    actor: &Actor,
    entries: &[Entry<'_>],
) -> Vec<[Arg; 12]> {
    let at = now_text();
    let mut prev = prev.to_owned();
    entries
        .iter()
        .map(|e| {
            let before = e.before.as_ref().map(Value::to_string);
            let after = e.after.as_ref().map(Value::to_string);
            let hash = crypto.chain_mac(&prev, &canonical(&at, actor, e, &before, &after));
            [
                Arg::from(at.as_str()),
                actor.id.clone().into(),
                actor.role.clone().into(),
                e.action.into(),
                e.entity.into(),
                e.entity_id.clone().into(),
                e.division_code.clone().into(),
                before.into(),
                after.into(),
                actor.client.clone().into(),
                std::mem::replace(&mut prev, hash.clone()).into(),
                hash.into(),
            ]
        })
        .collect()
}

pub(crate) const LAST_HASH: &str = "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1";

/// Appends entries inside the caller's write transaction (see `Store::write_tx`), so a record and
/// its audit trail commit or roll back together.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    crypto: &FieldCrypto,
    actor: &Actor,
    entries: &[Entry<'_>],
) -> Result<()> {
    let last: Option<String> = sqlx::query_scalar(LAST_HASH)
        .fetch_optional(&mut *conn)
        .await?;
    let rows = rows(crypto, last.as_deref().unwrap_or(GENESIS), actor, entries);
    insert_rows(conn, "audit_log", AUDIT_COLUMNS, &rows).await
}

fn record(row: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    let json = |col: &str| -> Result<Option<Value>> {
        Ok(row
            .try_get::<Option<String>, _>(col)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        actor_role: row.try_get("actor_role")?,
        action: row.try_get("action")?,
        entity: row.try_get("entity")?,
        entity_id: row.try_get("entity_id")?,
        division_code: row.try_get("division_code")?,
        before: json("before_json")?,
        after: json("after_json")?,
        client: row.try_get("client")?,
    })
}

const COLUMNS: &str = "seq, at, actor, actor_role, action, entity, entity_id, division_code, \
                       before_json, after_json, client";

impl Store {
    /// Appends entries in a transaction of their own (for reads that must be recorded, and
    /// events such as sign-in).
    pub(crate) async fn audit(&self, actor: &Actor, entries: &[Entry<'_>]) -> Result<()> {
        let mut w = self.write_tx().await?;
        append(&mut w.tx, &self.crypto, actor, entries).await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Records an event that is not a change to a stored record (sign-in, export, page view).
    pub async fn audit_event(
        &self,
        actor: &Actor,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: Option<Value>,
    ) -> Result<()> {
        self.audit(
            actor,
            &[Entry {
                action,
                entity,
                entity_id: entity_id.to_owned(),
                division_code: None,
                before: None,
                after: detail,
            }],
        )
        .await
    }

    pub async fn audit_for(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY seq DESC"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(entity)
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// Recomputes the whole chain; the first record whose hash does not follow is reported.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query::<Any>(
            "SELECT seq, at, actor, actor_role, action, entity, entity_id, division_code, \
             before_json, after_json, client, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch(&self.pool);
        let mut prev = GENESIS.to_owned();
        let mut count = 0;
        while let Some(row) = rows.try_next().await? {
            let seq: i64 = row.try_get("seq")?;
            let actor = Actor {
                id: row.try_get("actor")?,
                role: row.try_get("actor_role")?,
                client: row.try_get("client")?,
            };
            let action: String = row.try_get("action")?;
            let entity: String = row.try_get("entity")?;
            let entry = Entry {
                action: &action,
                entity: &entity,
                entity_id: row.try_get("entity_id")?,
                division_code: row.try_get("division_code")?,
                before: None,
                after: None,
            };
            let before: Option<String> = row.try_get("before_json")?;
            let after: Option<String> = row.try_get("after_json")?;
            let at: String = row.try_get("at")?;
            let stored_prev: String = row.try_get("prev_hash")?;
            let stored: String = row.try_get("hash")?;
            if stored_prev != prev {
                return Ok(AuditVerification::Broken {
                    seq,
                    reason: "previous-hash link does not match the record before it".into(),
                });
            }
            if self
                .crypto
                .chain_mac(&prev, &canonical(&at, &actor, &entry, &before, &after))
                != stored
            {
                return Ok(AuditVerification::Broken {
                    seq,
                    reason: "content does not match its hash".into(),
                });
            }
            prev = stored;
            count += 1;
        }
        Ok(AuditVerification::Intact { records: count })
    }
}
