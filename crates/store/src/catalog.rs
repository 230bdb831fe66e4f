//! The service catalog and the holiday calendar as stored: each service version in the services
//! crate's draft form (JSON of `ServiceDraft`), checked again when read, so a case can always
//! be decided under the version it was filed under.
//!
//! An administrator saves a new version as a draft (saving again replaces the draft), then
//! activates it from its date. A version once active is never changed: cases refer to it.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Value, json};
use sqlx::Row;
use time::Date;
use zhucan_core::{Lang, localized, today_shanghai, vocabulary};
use zhucan_services::{
    Amount, Catalog, HolidayCalendar, Problem, Problems, Reason, ServiceCode, ServiceDraft,
    ServiceVersion, Step,
};

use crate::audit::{self, Actor, Entry};
use crate::persons::{date_text, parse_date};
use crate::{DbError, Result, Store, now_text};

vocabulary! {
    /// Where a stored version stands: a draft is not in the catalog until activated.
    pub enum VersionStatus("version status", "版本状态") {
        Draft => ("draft", "草稿", "Draft"),
        Active => ("active", "已启用", "Activated"),
    }
}

vocabulary! {
    /// An exception to the Monday-Friday week in the holiday calendar.
    pub enum DayKind("kind of day", "日期类型") {
        Holiday => ("holiday", "法定节假日", "Public holiday"),
        Workday => ("workday", "调休上班日", "Weekend working day (调休)"),
    }
}

/// A stored version with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    pub version: ServiceVersion,
    pub status: VersionStatus,
    /// When it was saved (UTC), and when activated.
    pub saved_at: String,
    pub activated_at: Option<String>,
}

/// Why a version was not saved or activated. Nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionRefusal {
    /// Field problems, as `ServiceVersion::new` names them (and `effective_from` when it is
    /// not after the version in force before it).
    Invalid(Problems),
    /// A new version takes effect today or later, never in the past.
    Past { effective_from: Date, today: Date },
    /// Only a draft is activated; an active version is changed by saving a new one.
    NotADraft { version: u32 },
}

impl fmt::Display for VersionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(problems) => problems.fmt(f),
            Self::Past {
                effective_from,
                today,
            } => write!(
                f,
                "effective_from: {effective_from} has passed; a new version takes effect today ({today}) or later"
            ),
            Self::NotADraft { version } => write!(
                f,
                "version {version} is already activated; save a new version to change it"
            ),
        }
    }
}

impl std::error::Error for VersionRefusal {}

impl VersionRefusal {
    fn zh(&self) -> String {
        match self {
            Self::Invalid(problems) => problems.message(Lang::Zh),
            Self::Past {
                effective_from,
                today,
            } => format!(
                "effective_from：{effective_from} 已过，新版本只能从今天（{today}）或以后生效"
            ),
            Self::NotADraft { version } => {
                format!("版本 {version} 已启用，不能修改；如需修改请保存一个新版本")
            }
        }
    }
}

localized!(VersionRefusal);

/// The draft a stored version was made from, to start the next version from.
pub fn draft_of(v: &ServiceVersion) -> ServiceDraft {
    serde_json::from_value(definition(v)).expect("a version's definition has the shape of a draft")
}

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

/// Inserts `v`, in force, unless (code, version) is already stored; whether it was inserted.
pub(crate) async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    v: &ServiceVersion,
) -> Result<bool> {
    insert_row(conn, v, VersionStatus::Active).await
}

async fn insert_row(
    conn: &mut sqlx::AnyConnection,
    v: &ServiceVersion,
    status: VersionStatus,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO service_versions (code, version, effective_from, name_zh, name_en, chain, \
         notice_days, limit_days, definition, rule, created_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
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
    .bind(status.slug())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Marks in `meta` that the calendar was seeded, so a calendar an administrator emptied stays
/// empty.
const CALENDAR_SEEDED: &str = "holidays_seeded";

/// The calendar in the `holidays` table; the 2026 schedule is stored first, once, if the table
/// is empty then.
pub(crate) async fn load_calendar(conn: &mut sqlx::AnyConnection) -> Result<HolidayCalendar> {
    let seeded: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(CALENDAR_SEEDED)
        .fetch_optional(&mut *conn)
        .await?;
    if seeded.is_none() {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM holidays")
            .fetch_one(&mut *conn)
            .await?;
        if stored == 0 {
            write_calendar(conn, &HolidayCalendar::china_2026()).await?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING")
            .bind(CALENDAR_SEEDED)
            .execute(&mut *conn)
            .await?;
    }
    let rows = sqlx::query("SELECT day, kind FROM holidays")
        .fetch_all(&mut *conn)
        .await?;
    let mut calendar = HolidayCalendar::default();
    for row in rows {
        let day: String = row.try_get("day")?;
        let kind: String = row.try_get("kind")?;
        let date = parse_date(&day).ok_or_else(|| DbError::Corrupt(format!("day = {day:?}")))?;
        let kind = DayKind::from_slug(&kind)
            .ok_or_else(|| DbError::Corrupt(format!("holiday kind = {kind:?}")))?;
        match kind {
            DayKind::Holiday => calendar.holidays.insert(date),
            DayKind::Workday => calendar.extra_workdays.insert(date),
        };
    }
    Ok(calendar)
}

/// The kind of `day` in `calendar`, if it is an exception.
fn kind_of(calendar: &HolidayCalendar, day: Date) -> Option<DayKind> {
    if calendar.holidays.contains(&day) {
        Some(DayKind::Holiday)
    } else if calendar.extra_workdays.contains(&day) {
        Some(DayKind::Workday)
    } else {
        None
    }
}

/// (version, status, effective_from) of every stored version of `code`, oldest first.
async fn schedule(conn: &mut sqlx::AnyConnection, code: &str) -> Result<Vec<Scheduled>> {
    let rows = sqlx::query(
        "SELECT version, status, effective_from FROM service_versions WHERE code = $1 \
         ORDER BY version",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let version: i64 = row.try_get("version")?;
            let status: String = row.try_get("status")?;
            let from: String = row.try_get("effective_from")?;
            Ok(Scheduled {
                version: u32::try_from(version)
                    .map_err(|_| DbError::Corrupt(format!("{code} version {version}")))?,
                status: VersionStatus::from_slug(&status)
                    .ok_or_else(|| DbError::Corrupt(format!("version status {status:?}")))?,
                effective_from: parse_date(&from)
                    .ok_or_else(|| DbError::Corrupt(format!("effective_from {from:?}")))?,
            })
        })
        .collect()
}

struct Scheduled {
    version: u32,
    status: VersionStatus,
    effective_from: Date,
}

/// Whether `v` may take effect: today or later, and after every active version before it.
fn check_schedule(
    v: &ServiceVersion,
    stored: &[Scheduled],
    today: Date,
) -> Result<(), VersionRefusal> {
    if v.effective_from() < today {
        return Err(VersionRefusal::Past {
            effective_from: v.effective_from(),
            today,
        });
    }
    let earlier = stored
        .iter()
        .filter(|s| s.status == VersionStatus::Active && s.version < v.version())
        .max_by_key(|s| s.effective_from);
    match earlier {
        Some(previous) if previous.effective_from >= v.effective_from() => {
            Err(VersionRefusal::Invalid(Problems(vec![Problem {
                field: "effective_from".into(),
                reason: Reason::VersionOrder {
                    version: v.version(),
                    previous: previous.version,
                    previous_from: previous.effective_from,
                },
            }])))
        }
        _ => Ok(()),
    }
}

fn version_id(v: &ServiceVersion) -> String {
    format!("{}@{}", v.code(), v.version())
}

/// The query for [`StoredVersion`]s, with `$rest` (a `WHERE` and `ORDER BY`) appended.
macro_rules! stored_select {
    ($rest:literal) => {
        concat!(
            "SELECT definition, status, created_at, activated_at FROM service_versions ",
            $rest
        )
    };
}

fn stored_version(row: &sqlx::any::AnyRow) -> Result<StoredVersion> {
    let status: String = row.try_get("status")?;
    Ok(StoredVersion {
        version: read_definition(&row.try_get::<String, _>("definition")?)?,
        status: VersionStatus::from_slug(&status)
            .ok_or_else(|| DbError::Corrupt(format!("version status {status:?}")))?,
        saved_at: row.try_get("created_at")?,
        activated_at: row.try_get("activated_at")?,
    })
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

    /// Every activated version, by code and version, checked as the services crate checks a
    /// draft.
    pub async fn service_versions(&self) -> Result<Vec<ServiceVersion>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT definition FROM service_versions WHERE status = 'active' \
             ORDER BY code, version",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|d| read_definition(d)).collect()
    }

    /// Every stored version of `code` (of every item without), drafts too, by code and version.
    pub async fn catalog_versions(&self, code: Option<&ServiceCode>) -> Result<Vec<StoredVersion>> {
        let rows = match code {
            Some(code) => {
                sqlx::query(stored_select!("WHERE code = $1 ORDER BY version"))
                    .bind(code.as_str())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(stored_select!("ORDER BY code, version"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(stored_version).collect()
    }

    /// Saves `draft` as the next version of its item, a draft until activated; a draft saved
    /// before and not yet activated is replaced (it keeps its number). The version number in
    /// `draft` is ignored. Audited; nothing is written when refused.
    pub async fn save_service_version(
        &self,
        actor: &Actor,
        mut draft: ServiceDraft,
    ) -> Result<Result<StoredVersion, VersionRefusal>> {
        let today = today_shanghai();
        let mut w = self.write_tx().await?;
        let code = draft.code.trim().to_owned();
        let stored = schedule(&mut w.tx, &code).await?;
        let replaced = stored.last().filter(|s| s.status == VersionStatus::Draft);
        draft.version = match (replaced, stored.last()) {
            (Some(d), _) => d.version,
            (None, Some(last)) => last.version + 1,
            (None, None) => 1,
        };
        let v = match ServiceVersion::new(draft) {
            Ok(v) => v,
            Err(problems) => return Ok(Err(VersionRefusal::Invalid(problems))),
        };
        if let Err(refusal) = check_schedule(&v, &stored, today) {
            return Ok(Err(refusal));
        }
        let before = match replaced {
            Some(_) => {
                let old: String = sqlx::query_scalar(
                    "SELECT definition FROM service_versions WHERE code = $1 AND version = $2",
                )
                .bind(v.code().as_str())
                .bind(i64::from(v.version()))
                .fetch_one(&mut *w.tx)
                .await?;
                sqlx::query("DELETE FROM service_versions WHERE code = $1 AND version = $2")
                    .bind(v.code().as_str())
                    .bind(i64::from(v.version()))
                    .execute(&mut *w.tx)
                    .await?;
                Some(serde_json::from_str::<Value>(&old).unwrap_or(Value::String(old)))
            }
            None => None,
        };
        insert_row(&mut w.tx, &v, VersionStatus::Draft).await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: if before.is_some() { "update" } else { "create" },
                entity: "service_version",
                entity_id: version_id(&v),
                division_code: None,
                before,
                after: Some(definition(&v)),
            }],
        )
        .await?;
        w.tx.commit().await?;
        let saved = self.stored_version(v.code(), v.version()).await?;
        Ok(Ok(saved))
    }

    /// Activates a draft from its date (today or later, after the versions before it): from
    /// then on new cases are filed under it; cases filed before keep theirs. Audited.
    pub async fn activate_service_version(
        &self,
        actor: &Actor,
        code: &ServiceCode,
        version: u32,
    ) -> Result<Result<ServiceVersion, VersionRefusal>> {
        let today = today_shanghai();
        let mut w = self.write_tx().await?;
        let stored = schedule(&mut w.tx, code.as_str()).await?;
        let this = stored
            .iter()
            .find(|s| s.version == version)
            .ok_or(DbError::NotFound)?;
        if this.status != VersionStatus::Draft {
            return Ok(Err(VersionRefusal::NotADraft { version }));
        }
        let text: String = sqlx::query_scalar(
            "SELECT definition FROM service_versions WHERE code = $1 AND version = $2",
        )
        .bind(code.as_str())
        .bind(i64::from(version))
        .fetch_one(&mut *w.tx)
        .await?;
        let v = read_definition(&text)?;
        if let Err(refusal) = check_schedule(&v, &stored, today) {
            return Ok(Err(refusal));
        }
        sqlx::query(
            "UPDATE service_versions SET status = 'active', activated_at = $1 \
             WHERE code = $2 AND version = $3 AND status = 'draft'",
        )
        .bind(now_text())
        .bind(code.as_str())
        .bind(i64::from(version))
        .execute(&mut *w.tx)
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "activate",
                entity: "service_version",
                entity_id: version_id(&v),
                division_code: None,
                before: Some(json!({ "status": VersionStatus::Draft.slug() })),
                after: Some(json!({
                    "status": VersionStatus::Active.slug(),
                    "effective_from": date_text(v.effective_from()),
                })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(Ok(v))
    }

    async fn stored_version(&self, code: &ServiceCode, version: u32) -> Result<StoredVersion> {
        let row = sqlx::query(stored_select!("WHERE code = $1 AND version = $2"))
            .bind(code.as_str())
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(DbError::NotFound)?;
        stored_version(&row)
    }

    /// The stored catalog (every activated version).
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

    /// Marks `day` as a public holiday or a weekend working day (调休), replacing what it was.
    /// Deadlines computed from now on count it; deadlines already set stay. Audited.
    pub async fn set_calendar_day(&self, actor: &Actor, day: Date, kind: DayKind) -> Result<()> {
        self.change_calendar_day(actor, day, Some(kind)).await
    }

    /// Makes `day` an ordinary day again (a working day Monday to Friday). Audited.
    pub async fn clear_calendar_day(&self, actor: &Actor, day: Date) -> Result<()> {
        self.change_calendar_day(actor, day, None).await
    }

    async fn change_calendar_day(
        &self,
        actor: &Actor,
        day: Date,
        kind: Option<DayKind>,
    ) -> Result<()> {
        let mut w = self.write_tx().await?;
        // Seeds first, so the first edit is not mistaken for a calendar already stored.
        let before = kind_of(&load_calendar(&mut w.tx).await?, day);
        if before == kind {
            w.tx.commit().await?;
            return Ok(());
        }
        let text = date_text(day);
        match kind {
            Some(kind) => {
                sqlx::query(
                    "INSERT INTO holidays (day, kind) VALUES ($1, $2) \
                     ON CONFLICT (day) DO UPDATE SET kind = excluded.kind",
                )
                .bind(text.as_str())
                .bind(kind.slug())
                .execute(&mut *w.tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM holidays WHERE day = $1")
                    .bind(text.as_str())
                    .execute(&mut *w.tx)
                    .await?;
            }
        }
        let state = |kind: Option<DayKind>| kind.map(|k| json!({ "day": text, "kind": k.slug() }));
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: if kind.is_some() { "update" } else { "delete" },
                entity: "holiday",
                entity_id: text.clone(),
                division_code: None,
                before: state(before),
                after: state(kind),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Replaces the stored calendar.
    pub async fn set_holiday_calendar(
        &self,
        actor: &Actor,
        calendar: &HolidayCalendar,
    ) -> Result<()> {
        let mut w = self.write_tx().await?;
        // Seeds (and marks seeded) first, so an empty calendar stays empty.
        load_calendar(&mut w.tx).await?;
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
