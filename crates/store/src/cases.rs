//! Online applications (办件): cases filed under a service version, moved by the services
//! crate's state machine. Every move checks the caller's scope, takes an optimistic lock on the
//! case's version, and records a case event and an audit entry in the same transaction.
//!
//! Cases carry the person's district, street and community codes, so scope filtering and the
//! reviewers' queues need no join, and a distributed engine can shard the table by division.
//! Records and summaries show the masked resident ID only.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zhucan_core::{DivisionLevel, Lang};
use zhucan_services::{
    Action, Answer, Award, Deadline, Decision, Facts, Pause, ServiceVersion, State, Step,
    shanghai_date, transition,
};

use crate::Backend;
use crate::audit::{self, Actor, Entry};
use crate::catalog::{insert_version, load_calendar, parse_chain};
use crate::persons::{Page, PersonRecord, date_text, push_scope};
use crate::sql::{Arg, Columns, Sql};
use crate::workflow::DocumentMeta;
use crate::{DbError, Result, Scope, Store, new_id, now_text};

/// How a case came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The resident (or their guardian) online.
    Portal,
    /// Staff at a service counter.
    Counter,
    /// 代办: a community or street worker for a resident.
    Proxy,
    /// 主动办: the platform found the person eligible from data.
    Proactive,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Counter => "counter",
            Channel::Proxy => "proxy",
            Channel::Proactive => "proactive",
        }
    }
}

impl FromStr for Channel {
    type Err = ();

    fn from_str(s: &str) -> Result<Channel, ()> {
        Ok(match s {
            "portal" => Channel::Portal,
            "counter" => Channel::Counter,
            "proxy" => Channel::Proxy,
            "proactive" => Channel::Proactive,
            _ => return Err(()),
        })
    }
}

/// A new case (a draft) as the form or a worker files it.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub service: &'a ServiceVersion,
    pub person_id: String,
    pub channel: Channel,
    pub answers: Value,
    /// Idempotency key of the form: a second create with the same key returns the first case.
    pub submit_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseEvent {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    /// `None` for the event that created the case.
    pub from_state: Option<String>,
    pub to_state: String,
    pub step: Option<i64>,
    pub comment: Option<String>,
}

/// A case in full: its summary (also reachable as fields, through `Deref`) and what only the
/// case page needs.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    #[serde(flatten)]
    pub case: CaseSummary,
    pub filed_by: String,
    pub answers: Value,
    /// What the final approval stated, once it has.
    pub award: Option<Award>,
    pub updated_at: String,
    /// Oldest first.
    pub events: Vec<CaseEvent>,
    /// The materials uploaded, oldest first (without their content).
    pub documents: Vec<DocumentMeta>,
}

/// A person's facts with the answers a case gave, as its rule sees them.
pub(crate) fn facts_with_answers(mut facts: Facts, answers: &Value) -> Facts {
    for (key, value) in answers.as_object().into_iter().flatten() {
        let answer = match value {
            Value::Bool(b) => Answer::Bool(*b),
            Value::String(s) => Answer::Text(s.clone()),
            Value::Number(n) => Answer::Text(n.to_string()),
            _ => continue,
        };
        facts = facts.with_answer(key, answer);
    }
    facts
}

impl CaseRecord {
    /// Whether the applicant may still remove `doc` (a draft's, or uploaded since the return).
    pub fn may_remove(&self, doc: &DocumentMeta) -> bool {
        let returned_at = self
            .events
            .iter()
            .filter(|e| e.action == "return")
            .map(|e| e.at.as_str())
            .max();
        crate::workflow::may_remove(self.state, doc, returned_at)
    }

    /// What the case's rule is evaluated on: the person's facts today and the case's answers.
    pub fn facts_for(&self, person: &PersonRecord, today: time::Date) -> Facts {
        facts_with_answers(person.facts(today), &self.answers)
    }
}

impl std::ops::Deref for CaseRecord {
    type Target = CaseSummary;

    fn deref(&self) -> &CaseSummary {
        &self.case
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub service_code: String,
    pub service_version: i64,
    pub person_id: String,
    pub person_name: String,
    pub rid_masked: String,
    pub division_code: String,
    pub channel: Channel,
    pub state: State,
    pub step_code: Option<String>,
    pub deadline: Option<String>,
    /// The deadline is before today (China time).
    pub overdue: bool,
    pub version: i64,
    pub created_at: String,
    pub submitted_at: Option<String>,
    /// The account that claimed the case at its step; others cannot decide it meanwhile.
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
}

/// The name an action is recorded under (case events and the audit log).
pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Submit => "submit",
        Action::Withdraw => "withdraw",
        Action::Resubmit => "resubmit",
        Action::Decide(Decision::Approve) => "approve",
        Action::Decide(Decision::ReturnForCorrection { .. }) => "return",
        Action::Decide(Decision::Reject { .. }) => "reject",
        Action::Decide(Decision::SendBack { .. }) => "send_back",
        Action::NoticeEnded => "notice_ended",
        Action::ObjectionUpheld { .. } => "objection_upheld",
        Action::Fulfil => "fulfil",
        Action::Close => "close",
    }
}

/// What an action says beyond its name: what is missing, the reason, the step sent back to.
fn action_detail(action: &Action) -> Option<String> {
    match action {
        Action::Decide(Decision::ReturnForCorrection { missing }) => Some(missing.join("、")),
        Action::Decide(Decision::Reject { reason }) | Action::ObjectionUpheld { reason } => {
            Some(reason.clone())
        }
        Action::Decide(Decision::SendBack { to_step }) => Some(format!("step {}", to_step + 1)),
        _ => None,
    }
}

fn step_of(state: State) -> Option<i64> {
    state.step().map(|s| s as i64)
}

pub(crate) fn state_from(slug: &str, step: Option<i64>) -> Result<State> {
    let corrupt = || DbError::Corrupt(format!("case state = {slug:?}, step = {step:?}"));
    let step = || {
        step.and_then(|s| usize::try_from(s).ok())
            .ok_or_else(corrupt)
    };
    Ok(match slug {
        "draft" => State::Draft,
        "submitted" => State::Submitted,
        "in_review" => State::InReview { step: step()? },
        "returned" => State::Returned { step: step()? },
        "notice" => State::Notice,
        "approved" => State::Approved,
        "fulfilled" => State::Fulfilled,
        "closed" => State::Closed,
        "rejected" => State::Rejected,
        "withdrawn" => State::Withdrawn,
        _ => return Err(corrupt()),
    })
}

/// Restricts `c` (cases) to a scope by the division codes copied from the person.
pub(crate) fn push_case_scope(sql: &mut Sql, scope: &Scope) {
    match scope {
        Scope::All => {}
        Scope::Division(code) => {
            let column = match code.level() {
                DivisionLevel::District => "c.district_code",
                DivisionLevel::Street => "c.street_code",
                DivisionLevel::Community => "c.community_code",
            };
            sql.push(" AND ")
                .push(column)
                .push(" = ")
                .bind(code.as_str());
        }
        Scope::Persons(ids) if ids.is_empty() => {
            sql.push(" AND 1 = 0");
        }
        Scope::Persons(ids) => {
            sql.push(" AND c.person_id IN ")
                .bind_tuple(ids.iter().map(|id| Arg::from(id.as_str())));
        }
    }
}

fn shanghai_day(timestamp: &str) -> Result<time::Date> {
    OffsetDateTime::parse(timestamp, &Rfc3339)
        .map(shanghai_date)
        .map_err(|_| DbError::Corrupt(format!("timestamp = {timestamp:?}")))
}

fn today() -> time::Date {
    shanghai_date(OffsetDateTime::now_utc())
}

macro_rules! case_columns {
    () => {
        "SELECT c.id, c.number, c.service_code, c.service_version, c.person_id, \
         p.name AS person_name, p.rid_masked, c.division_code, c.filed_by, c.channel, c.state, \
         c.step, c.step_code, c.deadline, c.version, c.answers, c.created_at, c.updated_at, \
         c.submitted_at, c.claimed_by, c.claimed_at, c.award"
    };
}

const CASE_SELECT: &str = concat!(
    case_columns!(),
    " FROM cases c JOIN persons p ON p.id = c.person_id WHERE "
);

/// A case with its events and its materials in one statement and one row, the lists as JSON
/// arrays built by each backend's aggregate functions (the one query text that differs per
/// backend): the case page is the page residents load most, and each statement and each row
/// costs a hand-off or a round trip.
fn case_with_lists(backend: Backend) -> &'static str {
    macro_rules! with_lists {
        ($events:literal, $documents:literal) => {
            concat!(
                case_columns!(),
                ", (SELECT ",
                $events,
                " FROM case_events e WHERE e.case_id = c.id) AS events, (SELECT ",
                $documents,
                " FROM case_documents d WHERE d.case_id = c.id) AS documents \
                 FROM cases c JOIN persons p ON p.id = c.person_id WHERE "
            )
        };
    }
    match backend {
        Backend::Sqlite => with_lists!(
            "json_group_array(json_object('id', e.id, 'at', e.at, 'actor', e.actor, \
             'actor_role', e.actor_role, 'action', e.action, 'from_state', e.from_state, \
             'to_state', e.to_state, 'step', e.step, 'comment', e.comment) ORDER BY e.at, e.id)",
            "json_group_array(json_object('id', d.id, 'case_id', d.case_id, 'name', d.name, \
             'mime', d.mime, 'size', d.size, 'digest', d.digest, 'created_at', d.created_at) \
             ORDER BY d.created_at, d.id)"
        ),
        Backend::Postgres => with_lists!(
            "COALESCE(json_agg(json_build_object('id', e.id, 'at', e.at, 'actor', e.actor, \
             'actor_role', e.actor_role, 'action', e.action, 'from_state', e.from_state, \
             'to_state', e.to_state, 'step', e.step, 'comment', e.comment) ORDER BY e.at, e.id), \
             '[]')::text",
            "COALESCE(json_agg(json_build_object('id', d.id, 'case_id', d.case_id, 'name', d.name, \
             'mime', d.mime, 'size', d.size, 'digest', d.digest, 'created_at', d.created_at) \
             ORDER BY d.created_at, d.id), '[]')::text"
        ),
    }
}

fn summary(row: &impl Columns, today: &str) -> Result<CaseSummary> {
    let deadline: Option<String> = row.column("deadline")?;
    let state = state_from(&row.column::<String>("state")?, row.column("step")?)?;
    Ok(CaseSummary {
        id: row.column("id")?,
        number: row.column("number")?,
        service_code: row.column("service_code")?,
        service_version: row.column("service_version")?,
        person_id: row.column("person_id")?,
        person_name: row.column("person_name")?,
        rid_masked: row.column("rid_masked")?,
        division_code: row.column("division_code")?,
        channel: parse_channel(&row.column::<String>("channel")?)?,
        overdue: state.step().is_some() && deadline.as_deref().is_some_and(|d| d < today),
        state,
        step_code: row.column("step_code")?,
        deadline,
        version: row.column("version")?,
        created_at: row.column("created_at")?,
        submitted_at: row.column("submitted_at")?,
        claimed_by: row.column("claimed_by")?,
        claimed_at: row.column("claimed_at")?,
    })
}

fn parse_channel(s: &str) -> Result<Channel> {
    s.parse()
        .map_err(|()| DbError::Corrupt(format!("channel = {s:?}")))
}

fn record(row: &impl Columns) -> Result<CaseRecord> {
    let answers: String = row.column("answers")?;
    let award: Option<String> = row.column("award")?;
    Ok(CaseRecord {
        award: award.map(|a| json_column("award", &a)).transpose()?,
        case: summary(row, &date_text(today()))?,
        filed_by: row.column("filed_by")?,
        answers: json_column("answers", &answers)?,
        updated_at: row.column("updated_at")?,
        events: json_column("events", &row.column::<String>("events")?)?,
        documents: json_column("documents", &row.column::<String>("documents")?)?,
    })
}

fn json_column<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("{column}: {e}")))
}

async fn events(conn: &mut sqlx::AnyConnection, case_id: &str) -> Result<Vec<CaseEvent>> {
    sqlx::query(
        "SELECT id, at, actor, actor_role, action, from_state, to_state, step, comment \
         FROM case_events WHERE case_id = $1 ORDER BY at, id",
    )
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(event)
    .collect()
}

/// An event from a row whose event columns carry `prefix`.
fn event(r: &sqlx::any::AnyRow) -> Result<CaseEvent> {
    Ok(CaseEvent {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        actor_role: r.try_get("actor_role")?,
        action: r.try_get("action")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        step: r.try_get("step")?,
        comment: r.try_get("comment")?,
    })
}

/// What a message says about a case that arrived in `state` (`None`: nothing worth a text).
fn status_text(
    state: State,
    step: Option<Step>,
    deadline: Option<&str>,
    detail: Option<&str>,
) -> Option<(String, String)> {
    let office = |lang| step.map_or("", |s| s.name(lang));
    let due_zh = deadline.map_or(String::new(), |d| format!("，办理期限 {d}"));
    let due_en = deadline.map_or(String::new(), |d| format!(", due by {d}"));
    let detail = detail.unwrap_or("");
    Some(match state {
        State::Draft | State::Fulfilled => return None,
        State::Submitted => (
            format!("已提交，等待{}{due_zh}。", office(Lang::Zh)),
            format!("was submitted and waits for {}{due_en}.", office(Lang::En)),
        ),
        State::InReview { .. } => (
            format!("已转到{}{due_zh}。", office(Lang::Zh)),
            format!("is now at {}{due_en}.", office(Lang::En)),
        ),
        State::Returned { .. } => (
            format!("需要补正：{detail}。请登录查看，补充后重新提交。"),
            format!("needs more from you: {detail}. Sign in to add it and resubmit."),
        ),
        State::Notice => (
            format!("已审核通过，正在公示，公示至 {}。", deadline.unwrap_or("")),
            format!(
                "was approved and is on public notice until {}.",
                deadline.unwrap_or("")
            ),
        ),
        State::Approved => (
            "已批准，将由承办机构落实，届时另行通知。".to_owned(),
            "was approved; the office that delivers it will contact you.".to_owned(),
        ),
        State::Closed => (
            "已办结。欢迎对本次服务进行评价。".to_owned(),
            "is complete. Please rate the service.".to_owned(),
        ),
        State::Rejected => (
            format!("不予批准，理由：{detail}。"),
            format!("was not approved: {detail}."),
        ),
        State::Withdrawn => ("已撤回。".to_owned(), "was withdrawn.".to_owned()),
    })
}

/// The times a case spent returned for correction, from its events; `resubmitting_today`
/// closes the open one (the event is written after the deadline is computed).
fn pauses(events: &[CaseEvent], resubmitting_today: bool) -> Result<Vec<Pause>> {
    let mut pauses: Vec<Pause> = Vec::new();
    for e in events {
        if e.to_state == "returned" {
            pauses.push(Pause {
                returned_on: shanghai_day(&e.at)?,
                resubmitted_on: None,
            });
        } else if e.action == "resubmit"
            && let Some(open) = pauses.last_mut().filter(|p| p.resubmitted_on.is_none())
        {
            open.resubmitted_on = Some(shanghai_day(&e.at)?);
        }
    }
    if resubmitting_today
        && let Some(open) = pauses.last_mut().filter(|p| p.resubmitted_on.is_none())
    {
        open.resubmitted_on = Some(today());
    }
    Ok(pauses)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    division_code: &str,
    actor: &Actor,
    action: &str,
    from: Option<State>,
    to: State,
    comment: Option<String>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_events (id, case_id, division_code, at, actor, actor_role, action, \
         from_state, to_state, step, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(case_id)
    .bind(division_code)
    .bind(now_text())
    .bind(actor.id.as_str())
    .bind(actor.role.as_str())
    .bind(action)
    .bind(from.map(State::slug))
    .bind(to.slug())
    .bind(step_of(to))
    .bind(comment)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One move of a case: the action and what comes with it.
pub(crate) struct Move<'a> {
    pub(crate) action: &'a Action,
    pub(crate) comment: Option<&'a str>,
    /// The form's idempotency key, kept on a submitted case.
    pub(crate) submit_key: Option<&'a str>,
    /// What a final approval states (see [`Store::approve_case`]).
    pub(crate) award: Option<&'a Award>,
}

pub(crate) fn version_u32(version: i64) -> Result<u32> {
    u32::try_from(version).map_err(|_| DbError::Corrupt(format!("service version {version}")))
}

/// A case as its row says, before a move.
pub(crate) struct Current {
    pub(crate) state: State,
    pub(crate) version: i64,
    pub(crate) person_id: String,
    pub(crate) division_code: String,
    pub(crate) claimed_by: Option<String>,
    pub(crate) service_code: String,
    pub(crate) service_version: i64,
    submitted_at: Option<String>,
    submit_key: Option<String>,
}

/// A move just written: where the case went, and its new version.
pub(crate) struct Moved {
    pub(crate) to: State,
    pub(crate) version: i64,
    pub(crate) case: Current,
}

impl Store {
    /// Files a draft for a person visible in `scope`. With a `submit_key` already used, the case
    /// filed under it is returned instead (a form sent twice files one case).
    pub async fn create_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        new: NewCase<'_>,
    ) -> Result<CaseRecord> {
        let mut sql = Sql::new(
            "SELECT p.district_code, p.street_code, p.community_code, p.division_code \
             FROM persons p WHERE p.id = ",
        );
        sql.bind(new.person_id.as_str());
        push_scope(&mut sql, scope);
        let mut w = self.write_tx().await?;
        if let Some(key) = &new.submit_key
            && let Some(existing) = case_for_key(&mut w.tx, key).await?
        {
            drop(w);
            return self.case(scope, &existing).await;
        }
        let person = sql
            .query(self.backend)
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(DbError::NotFound)?;
        let district: String = person.try_get("district_code")?;
        let street: Option<String> = person.try_get("street_code")?;
        let community: Option<String> = person.try_get("community_code")?;
        let division: String = person.try_get("division_code")?;
        insert_version(&mut w.tx, new.service).await?;
        let now = now_text();
        let number = next_number(&mut w.tx, &district).await?;
        let id = new_id();
        sqlx::query(
            "INSERT INTO cases (id, number, service_code, service_version, person_id, district_code, \
             street_code, community_code, division_code, filed_by, channel, state, step, step_code, \
             deadline, version, answers, submit_key, created_at, updated_at, submitted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, NULL, 1, $13, \
             $14, $15, $16, NULL)",
        )
        .bind(id.as_str())
        .bind(number.as_str())
        .bind(new.service.code().as_str())
        .bind(i64::from(new.service.version()))
        .bind(new.person_id.as_str())
        .bind(district.as_str())
        .bind(street)
        .bind(community)
        .bind(division.as_str())
        .bind(actor.id.as_str())
        .bind(new.channel.as_str())
        .bind(State::Draft.slug())
        .bind(new.answers.to_string())
        .bind(new.submit_key.as_deref())
        .bind(now.as_str())
        .bind(now.as_str())
        .execute(&mut *w.tx)
        .await?;
        insert_event(
            &mut w.tx,
            &id,
            &division,
            actor,
            "create",
            None,
            State::Draft,
            None,
        )
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "case",
                entity_id: id.clone(),
                division_code: Some(division),
                before: None,
                after: Some(json!({
                    "number": number,
                    "service": new.service.code().as_str(),
                    "service_version": new.service.version(),
                    "person_id": new.person_id,
                    "channel": new.channel.as_str(),
                    "state": State::Draft.slug(),
                })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        self.case(scope, &id).await
    }

    /// Submits a draft: it waits at the first step with its deadline running. Submitting again
    /// with the key of the first submission returns the case as it is.
    pub async fn submit_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        submit_key: Option<&str>,
    ) -> Result<CaseRecord> {
        let mut w = self.write_tx().await?;
        if let Some(key) = submit_key
            && let Some(existing) = case_for_key(&mut w.tx, key).await?
        {
            let current = self.current(&mut w.tx, scope, &existing).await?;
            if existing != id || current.state != State::Draft {
                drop(w);
                return self.case(scope, &existing).await;
            }
        }
        let step = Move {
            action: &Action::Submit,
            comment: None,
            submit_key,
            award: None,
        };
        self.act(&mut w.tx, actor, scope, id, expected_version, step)
            .await?;
        w.tx.commit().await?;
        self.case(scope, id).await
    }

    /// Moves a case by `action` if it is still at `expected_version`: a newer version is a
    /// [`DbError::Conflict`] (another reviewer decided first), an illegal move a
    /// [`DbError::Transition`], a case outside `scope` [`DbError::NotFound`].
    pub async fn act_on_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        action: Action,
        comment: Option<&str>,
    ) -> Result<CaseRecord> {
        let step = Move {
            action: &action,
            comment,
            submit_key: None,
            award: None,
        };
        self.act_alone(actor, scope, id, expected_version, step)
            .await
    }

    /// Approves a case at its step, with what the final approval must state for the item's
    /// outcome (an amount the catalog only describes, the assessed category and grade); the
    /// award is checked, kept on the case, and acted on when the case is approved.
    pub async fn approve_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        award: &Award,
        comment: Option<&str>,
    ) -> Result<CaseRecord> {
        let step = Move {
            action: &Action::Decide(Decision::Approve),
            comment,
            submit_key: None,
            award: Some(award),
        };
        self.act_alone(actor, scope, id, expected_version, step)
            .await
    }

    /// One move in its own write transaction, and the case as it then is.
    async fn act_alone(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        step: Move<'_>,
    ) -> Result<CaseRecord> {
        let mut w = self.write_tx().await?;
        self.act(&mut w.tx, actor, scope, id, expected_version, step)
            .await?;
        w.tx.commit().await?;
        self.case(scope, id).await
    }

    /// Moves a case, then does what its arrival means: an approved case acts on the registry
    /// and, when nothing is left to deliver, is fulfilled and closed by the system at once.
    pub(crate) async fn act(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        step: Move<'_>,
    ) -> Result<Moved> {
        let detail = action_detail(step.action);
        let moved = self
            .apply(conn, actor, scope, id, expected_version, step)
            .await?;
        let last = if moved.to == State::Approved && self.settle(conn, id, &moved.case).await? {
            let system = Actor::system("outcome");
            let mut last = moved;
            for action in [Action::Fulfil, Action::Close] {
                let step = Move {
                    action: &action,
                    comment: None,
                    submit_key: None,
                    award: None,
                };
                last = self
                    .apply(conn, &system, &Scope::All, id, last.version, step)
                    .await?;
            }
            last
        } else {
            moved
        };
        self.tell_applicant(conn, id, &last, detail.as_deref())
            .await?;
        Ok(last)
    }

    /// Tells the applicant (and their guardians) where the case now is, in the same
    /// transaction as the move: one message per action, whatever the system did after it.
    async fn tell_applicant(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        moved: &Moved,
        detail: Option<&str>,
    ) -> Result<()> {
        let row = sqlx::query(
            "SELECT c.number, c.step_code, c.deadline, s.name_zh, s.name_en FROM cases c \
             JOIN service_versions s ON s.code = c.service_code AND s.version = c.service_version \
             WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let number: String = row.try_get("number")?;
        let step = row
            .try_get::<Option<String>, _>("step_code")?
            .and_then(|s| Step::from_slug(&s));
        let deadline: Option<String> = row.try_get("deadline")?;
        let name_zh: String = row.try_get("name_zh")?;
        let name_en: String = row.try_get("name_en")?;
        let Some((zh, en)) = status_text(moved.to, step, deadline.as_deref(), detail) else {
            return Ok(());
        };
        crate::outbox::enqueue_case_message(
            conn,
            &self.crypto,
            &crate::CaseMessage {
                person_id: &moved.case.person_id,
                case_id: Some(id),
                division_code: &moved.case.division_code,
                zh: &format!("【龙泉驿区残联】您的申请 {number}（{name_zh}）{zh}"),
                en: &format!("Your application {number} ({name_en}) {en}"),
            },
        )
        .await
    }

    pub(crate) async fn current(
        &self,
        conn: &mut sqlx::AnyConnection,
        scope: &Scope,
        id: &str,
    ) -> Result<Current> {
        let mut sql = Sql::new(
            "SELECT c.state, c.step, c.version, c.person_id, c.division_code, c.claimed_by, \
             c.service_code, c.service_version, c.submitted_at, c.submit_key FROM cases c \
             WHERE c.id = ",
        );
        sql.bind(id);
        push_case_scope(&mut sql, scope);
        let row = sql
            .query(self.backend)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DbError::NotFound)?;
        Ok(Current {
            state: state_from(&row.try_get::<String, _>("state")?, row.try_get("step")?)?,
            version: row.try_get("version")?,
            person_id: row.try_get("person_id")?,
            division_code: row.try_get("division_code")?,
            claimed_by: row.try_get("claimed_by")?,
            service_code: row.try_get("service_code")?,
            service_version: row.try_get("service_version")?,
            submitted_at: row.try_get("submitted_at")?,
            submit_key: row.try_get("submit_key")?,
        })
    }

    async fn apply(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        step: Move<'_>,
    ) -> Result<Moved> {
        let Move {
            action,
            comment,
            submit_key,
            award,
        } = step;
        let case = self.current(conn, scope, id).await?;
        if case.version != expected_version {
            return Err(DbError::Conflict {
                current: case.version,
            });
        }
        if matches!(action, Action::Decide(_))
            && let Some(holder) = case.claimed_by.as_deref().filter(|h| *h != actor.id)
        {
            return Err(DbError::Claimed {
                by: holder.to_owned(),
            });
        }
        let service = sqlx::query(
            "SELECT chain, notice_days, limit_days FROM service_versions \
             WHERE code = $1 AND version = $2",
        )
        .bind(case.service_code.as_str())
        .bind(case.service_version)
        .fetch_one(&mut *conn)
        .await?;
        let chain = parse_chain(&service.try_get::<String, _>("chain")?)?;
        let notice_days: i64 = service.try_get("notice_days")?;
        let limit_days: i64 = service.try_get("limit_days")?;
        let notice = u32::try_from(notice_days).unwrap_or(0);
        let to = transition(case.state, &chain, notice, action)?;

        let now = now_text();
        let submitted_at = case
            .submitted_at
            .clone()
            .or_else(|| matches!(action, Action::Submit).then(|| now.clone()));
        let deadline = match (to, &submitted_at) {
            (State::Submitted | State::InReview { .. }, Some(submitted)) => {
                let calendar = load_calendar(conn).await?;
                let history = events(conn, id).await?;
                let pauses = pauses(&history, matches!(action, Action::Resubmit))?;
                let limit = u32::try_from(limit_days).unwrap_or(0);
                match calendar
                    .deadline(shanghai_day(submitted)?, limit, &pauses)
                    .map_err(|e| DbError::Corrupt(format!("case {id}: {e}")))?
                {
                    Deadline::Due { due, .. } => Some(date_text(due)),
                    Deadline::Paused { .. } => None,
                }
            }
            (State::Notice, _) => Some(date_text(today() + time::Duration::days(notice_days))),
            _ => None,
        };
        let step_code = to
            .step()
            .and_then(|s| chain.get(s))
            .map(|s: &Step| s.as_str());
        let queue_step =
            step_code.filter(|_| matches!(to, State::Submitted | State::InReview { .. }));
        // The final approval states the award its outcome needs; it is kept on the case.
        let award = match (action, to) {
            (Action::Decide(Decision::Approve), State::Notice | State::Approved) => {
                let service = self
                    .service_version(&case.service_code, version_u32(case.service_version)?)
                    .await?;
                let award = award.cloned().unwrap_or_default().checked(&service)?;
                Some(serde_json::to_string(&award).map_err(|e| DbError::Corrupt(e.to_string()))?)
            }
            _ => None,
        };
        let key = submit_key.map(str::to_owned).or(case.submit_key.clone());
        // A move releases the claim and starts the new step's escalation afresh.
        let done = sqlx::query(
            "UPDATE cases SET state = $1, step = $2, step_code = $3, deadline = $4, \
             submitted_at = $5, submit_key = $6, updated_at = $7, queue_step = $8, \
             award = COALESCE($9, award), claimed_by = NULL, claimed_at = NULL, \
             escalated_at = NULL, version = version + 1 WHERE id = $10 AND version = $11",
        )
        .bind(to.slug())
        .bind(step_of(to))
        .bind(step_code)
        .bind(deadline.as_deref())
        .bind(submitted_at.as_deref())
        .bind(key.as_deref())
        .bind(now.as_str())
        .bind(queue_step)
        .bind(award.as_deref())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            let current: i64 = sqlx::query_scalar("SELECT version FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            return Err(DbError::Conflict { current });
        }
        let name = action_name(action);
        let detail = action_detail(action);
        let event_comment = match (&detail, comment) {
            (Some(d), Some(c)) => Some(format!("{d}: {c}")),
            (d, c) => d.clone().or(c.map(str::to_owned)),
        };
        insert_event(
            conn,
            id,
            &case.division_code,
            actor,
            name,
            Some(case.state),
            to,
            event_comment,
        )
        .await?;
        audit::append(
            conn,
            &self.crypto,
            actor,
            &[Entry {
                action: name,
                entity: "case",
                entity_id: id.to_owned(),
                division_code: Some(case.division_code.clone()),
                before: Some(json!({
                    "state": case.state.slug(),
                    "step": step_of(case.state),
                    "version": case.version,
                })),
                after: Some(json!({
                    "state": to.slug(),
                    "step": step_of(to),
                    "deadline": deadline,
                    "detail": detail,
                    "comment": comment,
                    "award": award,
                    "version": case.version + 1,
                })),
            }],
        )
        .await?;
        Ok(Moved {
            to,
            version: case.version + 1,
            case,
        })
    }

    /// A case inside `scope`, with its events and materials.
    pub async fn case(&self, scope: &Scope, id: &str) -> Result<CaseRecord> {
        let mut sql = Sql::new(case_with_lists(self.backend));
        sql.push("c.id = ").bind(id);
        push_case_scope(&mut sql, scope);
        let case = match &self.reader {
            Some(reader) => reader.first_row(&sql, |row| record(row))?,
            None => {
                let row = sql.query(self.backend).fetch_optional(&self.pool).await?;
                row.as_ref().map(record).transpose()?
            }
        };
        case.ok_or(DbError::NotFound)
    }

    /// A person's cases inside `scope`, newest first.
    pub async fn cases_for_person(
        &self,
        scope: &Scope,
        person_id: &str,
    ) -> Result<Vec<CaseSummary>> {
        let mut sql = Sql::new(CASE_SELECT);
        sql.push("c.person_id = ").bind(person_id);
        push_case_scope(&mut sql, scope);
        sql.push(" ORDER BY c.created_at DESC, c.id DESC");
        let today = date_text(today());
        sql.query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| summary(r, &today))
            .collect()
    }

    /// The cases waiting at `step` inside `scope` (submitted or in review there), the earliest
    /// deadline (so the overdue) first.
    pub async fn queue(
        &self,
        scope: &Scope,
        step: Step,
        page: i64,
        per_page: i64,
    ) -> Result<Page<CaseSummary>> {
        let page = page.max(1);
        let per_page = per_page.max(1);
        let filter = |sql: &mut Sql| {
            sql.push("c.queue_step = ").bind(step.as_str());
            push_case_scope(sql, scope);
        };
        let mut count = Sql::new("SELECT COUNT(*) FROM cases c WHERE ");
        filter(&mut count);
        let total: i64 = count
            .query(self.backend)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let mut sql = Sql::new(CASE_SELECT);
        filter(&mut sql);
        sql.push(" ORDER BY c.deadline, c.submitted_at, c.id LIMIT ")
            .bind(per_page)
            .push(" OFFSET ")
            .bind((page - 1) * per_page);
        let today = date_text(today());
        let items = sql
            .query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| summary(r, &today))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            page,
            per_page,
        })
    }
}

async fn case_for_key(conn: &mut sqlx::AnyConnection, key: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM cases WHERE submit_key = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// The next number of the district's year: `510112-2026-000123`. Runs inside a write
/// transaction, which orders writers, so two cases never draw the same number.
async fn next_number(conn: &mut sqlx::AnyConnection, district: &str) -> Result<String> {
    let year = i64::from(today().year());
    let bumped = sqlx::query(
        "UPDATE case_counters SET last = last + 1 WHERE district_code = $1 AND year = $2",
    )
    .bind(district)
    .bind(year)
    .execute(&mut *conn)
    .await?;
    if bumped.rows_affected() == 0 {
        sqlx::query("INSERT INTO case_counters (district_code, year, last) VALUES ($1, $2, 1)")
            .bind(district)
            .bind(year)
            .execute(&mut *conn)
            .await?;
    }
    let last: i64 =
        sqlx::query_scalar("SELECT last FROM case_counters WHERE district_code = $1 AND year = $2")
            .bind(district)
            .bind(year)
            .fetch_one(&mut *conn)
            .await?;
    Ok(format!("{district}-{year}-{last:06}"))
}
