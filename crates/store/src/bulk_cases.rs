//! Bulk load of generated cases for benchmarks (`zhucan gen cases`): a batch of cases with their
//! events is one transaction with one audit entry, written as the import writes persons (multi-row
//! INSERTs on SQLite, `COPY` on PostgreSQL), so half a million cases load in minutes.
//!
//! The rows are what the state machine would have left: the caller builds each case's events
//! with `zhucan_services::transition`; here `step`, `step_code`'s queue copy (`queue_step`) and
//! the case numbers are filled in as `Store::create_case` and the moves set them.

use serde_json::json;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use time::OffsetDateTime;
use zhucan_core::Phone;
use zhucan_services::{State, shanghai_date};

use crate::audit::{self, Actor, Entry};
use crate::cases::Channel;
use crate::copy::copy_rows;
use crate::persons::{PHONE_INDEX, date_text};
use crate::sql::{Arg, insert_rows};
use crate::{AUDIT_LOCK, Backend, Result, Store, new_id, timestamp_text};

/// A person as a case copies them: the id and the division codes cases are filtered by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePerson {
    pub id: String,
    pub district_code: String,
    pub street_code: Option<String>,
    pub community_code: Option<String>,
    pub division_code: String,
}

/// One generated case; `events` oldest first, the first one creating the draft.
#[derive(Debug, Clone)]
pub struct SyntheticCase {
    pub person: CasePerson,
    pub service_code: String,
    pub service_version: i64,
    pub channel: Channel,
    pub filed_by: String,
    pub state: State,
    /// The chain's step at `state.step()`.
    pub step_code: Option<String>,
    pub deadline: Option<time::Date>,
    pub created_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub events: Vec<SyntheticEvent>,
}

#[derive(Debug, Clone)]
pub struct SyntheticEvent {
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_role: String,
    pub action: &'static str,
    pub from: Option<State>,
    pub to: State,
    pub comment: Option<String>,
}

const CASE_COLUMNS: &str = "id, number, service_code, service_version, person_id, district_code, \
     street_code, community_code, division_code, filed_by, channel, state, step, step_code, \
     deadline, version, answers, created_at, updated_at, submitted_at, queue_step";
const EVENT_COLUMNS: &str = "id, case_id, division_code, at, actor, actor_role, action, from_state, to_state, step, comment";

/// Takes `n` numbers of a district's year at once; gives the last one taken.
const RESERVE_NUMBERS: &str = "INSERT INTO case_counters (district_code, year, last) \
     VALUES ($1, $2, $3) ON CONFLICT (district_code, year) \
     DO UPDATE SET last = case_counters.last + excluded.last RETURNING last";

/// The `step` column: the state's step, or NULL.
fn step_arg(state: State) -> Arg {
    match state.step() {
        Some(step) => Arg::Int(step as i64),
        None => Arg::OptText(None),
    }
}

/// The rows of `cases` (numbered from `first` in the district's year) and of their events.
fn rows(cases: &[SyntheticCase], year: i32, first: i64) -> (Vec<Vec<Arg>>, Vec<Vec<Arg>>) {
    let mut case_rows = Vec::with_capacity(cases.len());
    let mut event_rows = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let id = new_id();
        let p = &c.person;
        // As `apply` sets it: the reviewers' queues hold cases submitted or in review.
        let queue_step = c
            .step_code
            .clone()
            .filter(|_| matches!(c.state, State::Submitted | State::InReview { .. }));
        let updated = c.events.last().map_or(c.created_at, |e| e.at);
        case_rows.push(vec![
            Arg::from(id.as_str()),
            format!("{}-{year}-{:06}", p.district_code, first + i as i64).into(),
            c.service_code.as_str().into(),
            Arg::Int(c.service_version),
            p.id.as_str().into(),
            p.district_code.as_str().into(),
            p.street_code.clone().into(),
            p.community_code.clone().into(),
            p.division_code.as_str().into(),
            c.filed_by.as_str().into(),
            c.channel.as_str().into(),
            c.state.slug().into(),
            step_arg(c.state),
            c.step_code.clone().into(),
            c.deadline.map(date_text).into(),
            // Each event after the creating one moved the case, as `apply` counts versions.
            Arg::Int(c.events.len().max(1) as i64),
            "{}".into(),
            timestamp_text(c.created_at).into(),
            timestamp_text(updated).into(),
            c.submitted_at.map(timestamp_text).into(),
            queue_step.into(),
        ]);
        for e in &c.events {
            event_rows.push(vec![
                new_id().into(),
                id.as_str().into(),
                p.division_code.as_str().into(),
                timestamp_text(e.at).into(),
                e.actor.as_str().into(),
                e.actor_role.as_str().into(),
                e.action.into(),
                e.from.map(|s| s.slug().to_owned()).into(),
                e.to.slug().into(),
                step_arg(e.to),
                e.comment.clone().into(),
            ]);
        }
    }
    (case_rows, event_rows)
}

fn batch_entry(district: &str, year: i32, first: i64, cases: usize, events: usize) -> Entry<'_> {
    let last = first + cases as i64 - 1;
    Entry {
        action: "generate",
        entity: "case",
        entity_id: format!("{district}-{year}-{first:06}..{last:06}"),
        division_code: Some(district.to_owned()),
        before: None,
        after: Some(json!({ "cases": cases, "events": events })),
    }
}

impl Store {
    /// Persons in id order after `after`, for spreading generated cases over them.
    pub async fn case_persons(&self, after: Option<&str>, limit: i64) -> Result<Vec<CasePerson>> {
        sqlx::query(
            "SELECT id, district_code, street_code, community_code, division_code FROM persons \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(case_person)
        .collect()
    }

    /// The persons a resident signing in with `phone` acts for (themselves and their wards).
    pub async fn case_persons_for_phone(&self, phone: &Phone) -> Result<Vec<CasePerson>> {
        let index = self.crypto.blind_index(PHONE_INDEX, phone.as_str());
        sqlx::query(
            "SELECT id, district_code, street_code, community_code, division_code FROM persons \
             WHERE id IN (SELECT id FROM persons WHERE phone_index = $1 \
             UNION SELECT person_id FROM guardians WHERE phone_index = $2) ORDER BY id",
        )
        .bind(index.as_slice())
        .bind(index.as_slice())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(case_person)
        .collect()
    }

    /// Writes generated cases of one district and their events in one transaction, numbered
    /// after the district's last case this year, with one audit entry for the batch. Their
    /// service versions must be stored (`seed_catalog`).
    pub async fn insert_synthetic_cases(
        &self,
        actor: &Actor,
        district: &str,
        cases: &[SyntheticCase],
    ) -> Result<()> {
        if cases.is_empty() {
            return Ok(());
        }
        let year = shanghai_date(OffsetDateTime::now_utc()).year();
        let n = cases.len() as i64;
        match self.backend {
            Backend::Sqlite => {
                let mut w = self.write_tx().await?;
                let last: i64 = sqlx::query_scalar(RESERVE_NUMBERS)
                    .bind(district)
                    .bind(i64::from(year))
                    .bind(n)
                    .fetch_one(&mut *w.tx)
                    .await?;
                let first = last - n + 1;
                let (case_rows, event_rows) = rows(cases, year, first);
                insert_rows(&mut w.tx, "cases", CASE_COLUMNS, &case_rows).await?;
                insert_rows(&mut w.tx, "case_events", EVENT_COLUMNS, &event_rows).await?;
                let entry = batch_entry(district, year, first, cases.len(), event_rows.len());
                audit::append(&mut w.tx, &self.crypto, actor, &[entry]).await?;
                w.tx.commit().await?;
            }
            Backend::Postgres => {
                // The same order as `write_tx`: this process's queue, then the advisory lock,
                // which also orders case numbers with `create_case` in other instances.
                let _writer = self.writer.lock().await;
                let mut conn = PgConnection::connect(&self.url).await?;
                let mut tx = conn.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let last: i64 = sqlx::query_scalar(RESERVE_NUMBERS)
                    .bind(district)
                    .bind(i64::from(year))
                    .bind(n)
                    .fetch_one(&mut *tx)
                    .await?;
                let first = last - n + 1;
                let (case_rows, event_rows) = rows(cases, year, first);
                copy_rows(&mut tx, "cases", CASE_COLUMNS, case_rows.iter()).await?;
                copy_rows(&mut tx, "case_events", EVENT_COLUMNS, event_rows.iter()).await?;
                let entry = batch_entry(district, year, first, cases.len(), event_rows.len());
                let prev: Option<String> = sqlx::query_scalar(audit::LAST_HASH)
                    .fetch_optional(&mut *tx)
                    .await?;
                let audit_rows = audit::rows(
                    &self.crypto,
                    prev.as_deref().unwrap_or(audit::GENESIS),
                    actor,
                    &[entry],
                );
                copy_rows(
                    &mut tx,
                    "audit_log",
                    audit::AUDIT_COLUMNS,
                    audit_rows.iter(),
                )
                .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

fn case_person(row: &sqlx::any::AnyRow) -> Result<CasePerson> {
    Ok(CasePerson {
        id: row.try_get("id")?,
        district_code: row.try_get("district_code")?,
        street_code: row.try_get("street_code")?,
        community_code: row.try_get("community_code")?,
        division_code: row.try_get("division_code")?,
    })
}
