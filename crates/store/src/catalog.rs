//! The service catalog and the holiday calendar as stored: each service version in the services
//! crate's draft form (JSON of `ServiceDraft`), checked again when read, so a case can always
//! be decided under the version it was filed under.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sqlx::Row;
use zhucan_core::Lang;
use zhucan_services::{Amount, Catalog, HolidayCalendar, ServiceDraft, ServiceVersion, Step};

use crate::audit::{self, Actor, Entry};
use crate::persons::{date_text, parse_date};
use crate::{DbError, Result, Store, now_text};

/// A version in the shape of `ServiceDraft`, so `ServiceVersion::new` reads it back.
pub(crate) fn definition(v: &ServiceVersion) -> Value {
    let questions: Vec<Value> = v
        .questions()
        .iter()
        .map(|q| {
            let choices: Vec<Value> = q
                .choices()
                .iter()
                .map(|c| json!({ "value": c.value, "zh": c.zh, "en": c.en }))
                .collect();
            json!({
                "key": q.key(),
                "kind": q.kind().as_str(),
                "zh": q.text(Lang::Zh),
                "en": q.text(Lang::En),
                "choices": choices,
            })
        })
        .collect();
    let materials: Vec<Value> = v
        .materials()
        .iter()
        .map(|m| json!({ "zh": m.name_zh, "en": m.name_en, "required": m.required }))
        .collect();
    let amount = match v.amount() {
        Amount::None => json!({ "kind": "none" }),
        Amount::Fixed { amount, per } => {
            let fen = amount.fen();
            json!({
                "kind": "fixed",
                "yuan": format!("{}.{:02}", fen / 100, (fen % 100).abs()),
                "per": per.as_str(),
            })
        }
        Amount::Described { zh, en } => json!({ "kind": "described", "zh": zh, "en": en }),
    };
    json!({
        "code": v.code().as_str(),
        "version": v.version(),
        "effective_from": date_text(v.effective_from()),
        "name_zh": v.name(Lang::Zh),
        "name_en": v.name(Lang::En),
        "group": v.group().as_str(),
        "chain": chain_slugs(v.chain()),
        "notice_days": v.notice_days(),
        "limit_days": v.limit_days(),
        "who_zh": v.who(Lang::Zh),
        "who_en": v.who(Lang::En),
        "notes": v.notes(),
        "rule": v.eligibility_rule().source(),
        "questions": questions,
        "materials": materials,
        "amount": amount,
        "proactive": v.proactive(),
        "cross_province": v.cross_province(),
    })
}

fn chain_slugs(chain: &[Step]) -> Vec<&'static str> {
    chain.iter().map(|s| s.as_str()).collect()
}

/// The review chain as stored in `service_versions.chain`: slugs joined by commas.
pub(crate) fn parse_chain(text: &str) -> Result<Vec<Step>> {
    text.split(',')
        .map(|s| Step::from_slug(s).ok_or_else(|| DbError::Corrupt(format!("chain = {text:?}"))))
        .collect()
}

/// Inserts `v` unless (code, version) is already stored; whether it was inserted.
pub(crate) async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    v: &ServiceVersion,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO service_versions (code, version, effective_from, name_zh, name_en, chain, \
         notice_days, limit_days, definition, rule, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (code, version) DO NOTHING",
    )
    .bind(v.code().as_str())
    .bind(i64::from(v.version()))
    .bind(date_text(v.effective_from()))
    .bind(v.name(Lang::Zh))
    .bind(v.name(Lang::En))
    .bind(chain_slugs(v.chain()).join(","))
    .bind(i64::from(v.notice_days()))
    .bind(i64::from(v.limit_days()))
    .bind(definition(v).to_string())
    .bind(v.eligibility_rule().source())
    .bind(now_text())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The calendar in the `holidays` table; the 2026 schedule is stored first if it is empty.
pub(crate) async fn load_calendar(conn: &mut sqlx::AnyConnection) -> Result<HolidayCalendar> {
    let rows = sqlx::query("SELECT day, kind FROM holidays")
        .fetch_all(&mut *conn)
        .await?;
    if rows.is_empty() {
        let calendar = HolidayCalendar::china_2026();
        write_calendar(conn, &calendar).await?;
        return Ok(calendar);
    }
    let mut calendar = HolidayCalendar::default();
    for row in rows {
        let day: String = row.try_get("day")?;
        let kind: String = row.try_get("kind")?;
        let date = parse_date(&day).ok_or_else(|| DbError::Corrupt(format!("day = {day:?}")))?;
        match kind.as_str() {
            "holiday" => calendar.holidays.insert(date),
            "workday" => calendar.extra_workdays.insert(date),
            _ => return Err(DbError::Corrupt(format!("holiday kind = {kind:?}"))),
        };
    }
    Ok(calendar)
}

async fn write_calendar(conn: &mut sqlx::AnyConnection, calendar: &HolidayCalendar) -> Result<()> {
    let days = |set: &BTreeSet<time::Date>, kind: &'static str| {
        set.iter()
            .map(move |d| (date_text(*d), kind))
            .collect::<Vec<_>>()
    };
    for (day, kind) in days(&calendar.holidays, "holiday")
        .into_iter()
        .chain(days(&calendar.extra_workdays, "workday"))
    {
        sqlx::query(
            "INSERT INTO holidays (day, kind) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET kind = excluded.kind",
        )
        .bind(day)
        .bind(kind)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Stores every version of `catalog` not stored yet; versions already stored are kept as
    /// they are (cases refer to them). Returns how many were added.
    pub async fn seed_catalog(&self, catalog: &Catalog) -> Result<u64> {
        let actor = Actor::system("catalog");
        let mut w = self.write_tx().await?;
        let mut added = Vec::new();
        for v in catalog.versions() {
            if insert_version(&mut w.tx, v).await? {
                added.push(v);
            }
        }
        let entries: Vec<Entry<'_>> = added
            .iter()
            .map(|v| Entry {
                action: "create",
                entity: "service_version",
                entity_id: format!("{}@{}", v.code(), v.version()),
                division_code: None,
                before: None,
                after: Some(json!({
                    "effective_from": date_text(v.effective_from()),
                    "rule": v.eligibility_rule().source(),
                })),
            })
            .collect();
        if !entries.is_empty() {
            audit::append(&mut w.tx, &self.crypto, &actor, &entries).await?;
        }
        w.tx.commit().await?;
        Ok(added.len() as u64)
    }

    /// Every stored version, by code and version, checked as the services crate checks a draft.
    pub async fn service_versions(&self) -> Result<Vec<ServiceVersion>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT definition FROM service_versions ORDER BY code, version")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|d| read_definition(d)).collect()
    }

    /// The stored catalog (every version).
    pub async fn catalog(&self) -> Result<Catalog> {
        Catalog::new(self.service_versions().await?)
            .map_err(|p| DbError::Corrupt(format!("catalog: {p}")))
    }

    pub async fn service_version(&self, code: &str, version: u32) -> Result<ServiceVersion> {
        let definition: Option<String> = sqlx::query_scalar(
            "SELECT definition FROM service_versions WHERE code = $1 AND version = $2",
        )
        .bind(code)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await?;
        read_definition(&definition.ok_or(DbError::NotFound)?)
    }

    /// The working-day calendar deadlines run on (the 2026 schedule until one is stored).
    pub async fn holiday_calendar(&self) -> Result<HolidayCalendar> {
        let mut w = self.write_tx().await?;
        let calendar = load_calendar(&mut w.tx).await?;
        w.tx.commit().await?;
        Ok(calendar)
    }

    /// Replaces the stored calendar.
    pub async fn set_holiday_calendar(
        &self,
        actor: &Actor,
        calendar: &HolidayCalendar,
    ) -> Result<()> {
        let mut w = self.write_tx().await?;
        sqlx::query("DELETE FROM holidays")
            .execute(&mut *w.tx)
            .await?;
        write_calendar(&mut w.tx, calendar).await?;
        let list = |set: &BTreeSet<time::Date>| -> Vec<String> {
            set.iter().map(|d| date_text(*d)).collect()
        };
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "update",
                entity: "holiday_calendar",
                entity_id: "holidays".into(),
                division_code: None,
                before: None,
                after: Some(json!({
                    "holidays": list(&calendar.holidays),
                    "workdays": list(&calendar.extra_workdays),
                })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }
}

fn read_definition(text: &str) -> Result<ServiceVersion> {
    let draft: ServiceDraft = serde_json::from_str(text)
        .map_err(|e| DbError::Corrupt(format!("service definition: {e}")))?;
    ServiceVersion::new(draft).map_err(|p| DbError::Corrupt(format!("service definition: {p}")))
}
