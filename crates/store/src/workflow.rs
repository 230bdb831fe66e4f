//! The work around a case besides its moves: a reviewer claims it, the public notice (公示)
//! and its objections, the applicant's materials and rating (好差评), the tasks a decision
//! leaves (fulfilment, follow-up of a poor rating, escalation of an overdue case), and the
//! timed work (notices ending, cases escalating) a server runs every few minutes.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use time::OffsetDateTime;
use zhucan_core::{PersonName, Role, today_shanghai};
use zhucan_crypto::sm3_hex;
use zhucan_services::{Action, DocumentKind, State, Step, offices};

use crate::audit::{self, Actor, Entry};
use crate::cases::{Move, insert_event, push_case_scope, state_from};
use crate::persons::date_text;
use crate::sql::Sql;
use crate::{DbError, Result, Scope, Store, new_id, now_text, timestamp_text};

/// Objections one client may send to public notices in [`OBJECTION_WINDOW`].
pub const MAX_OBJECTIONS_PER_CLIENT: i64 = 5;
const OBJECTION_WINDOW: time::Duration = time::Duration::hours(1);

/// A case in its public notice, as anyone may see it: the name masked, no numbers.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeEntry {
    pub case_id: String,
    pub service_code: String,
    pub service_version: i64,
    pub name_masked: String,
    pub division_name: Option<String>,
    /// Last day of the notice (China time).
    pub until: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Objection {
    pub id: String,
    pub case_id: String,
    pub at: String,
    pub raised_by: String,
    pub contact: Option<String>,
    pub body: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    pub score: i64,
    pub comment: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub id: String,
    pub case_id: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub digest: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: String,
    pub kind: String,
    pub case_id: String,
    pub case_number: String,
    pub service_code: String,
    pub service_version: i64,
    pub person_name: String,
    pub assignee_role: Role,
    pub detail: Option<String>,
    pub open: bool,
    pub version: i64,
    pub created_at: String,
    pub done_at: Option<String>,
    pub note: Option<String>,
}

/// What the timed work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DueWork {
    pub notices_ended: u64,
    pub escalated: u64,
}

fn invalid(field: &'static str, zh: &str, en: &str) -> DbError {
    DbError::Invalid {
        field,
        zh: zh.to_owned(),
        en: en.to_owned(),
    }
}

/// Free text from a form: trimmed, required, at most `max` characters.
fn text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "不能为空", "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(DbError::Invalid {
            field,
            zh: format!("不能超过 {max} 个字"),
            en: format!("must be at most {max} characters"),
        });
    }
    Ok(value.to_owned())
}

const TASK_SELECT: &str = "SELECT t.id, t.kind, t.case_id, c.number, c.service_code, \
     c.service_version, p.name AS person_name, t.assignee_role, t.detail, t.status, t.version, \
     t.created_at, t.done_at, t.note FROM tasks t JOIN cases c ON c.id = t.case_id \
     JOIN persons p ON p.id = t.person_id WHERE ";

fn task(row: &sqlx::any::AnyRow) -> Result<Task> {
    let role: String = row.try_get("assignee_role")?;
    Ok(Task {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        case_id: row.try_get("case_id")?,
        case_number: row.try_get("number")?,
        service_code: row.try_get("service_code")?,
        service_version: row.try_get("service_version")?,
        person_name: row.try_get("person_name")?,
        assignee_role: role
            .parse()
            .map_err(|_| DbError::Corrupt(format!("task role = {role:?}")))?,
        detail: row.try_get("detail")?,
        open: row.try_get::<String, _>("status")? == "open",
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        done_at: row.try_get("done_at")?,
        note: row.try_get("note")?,
    })
}

impl Store {
    /// Claims a case waiting at its step for `actor`, from `expected_version`: others cannot
    /// decide it until it moves. A case claimed by someone else is [`DbError::Claimed`].
    pub async fn claim_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
    ) -> Result<()> {
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, scope, id).await?;
        if case.version != expected_version {
            return Err(DbError::Conflict {
                current: case.version,
            });
        }
        if case.state.step().is_none() || matches!(case.state, State::Returned { .. }) {
            return Err(DbError::Transition(
                zhucan_services::TransitionError::NotInReview { state: case.state },
            ));
        }
        if let Some(holder) = case.claimed_by.as_deref().filter(|h| *h != actor.id) {
            return Err(DbError::Claimed {
                by: holder.to_owned(),
            });
        }
        let now = now_text();
        sqlx::query(
            "UPDATE cases SET claimed_by = $1, claimed_at = $2, version = version + 1 \
             WHERE id = $3 AND version = $4",
        )
        .bind(actor.id.as_str())
        .bind(now.as_str())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *w.tx)
        .await?;
        insert_event(
            &mut w.tx,
            id,
            &case.division_code,
            actor,
            "claim",
            Some(case.state),
            case.state,
            None,
        )
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "claim",
                entity: "case",
                entity_id: id.to_owned(),
                division_code: Some(case.division_code.clone()),
                before: Some(json!({ "version": case.version })),
                after: Some(json!({ "claimed_by": actor.id, "version": case.version + 1 })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// The cases in public notice today, ending soonest first.
    pub async fn public_notices(&self) -> Result<Vec<NoticeEntry>> {
        let today = date_text(today_shanghai());
        sqlx::query(
            "SELECT c.id, c.service_code, c.service_version, p.name, d.name AS division_name, \
             c.deadline FROM cases c JOIN persons p ON p.id = c.person_id \
             LEFT JOIN divisions d ON d.code = c.street_code \
             WHERE c.state = 'notice' AND c.deadline >= $1 ORDER BY c.deadline, c.id",
        )
        .bind(today.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let name: String = r.try_get("name")?;
            Ok(NoticeEntry {
                case_id: r.try_get("id")?,
                service_code: r.try_get("service_code")?,
                service_version: r.try_get("service_version")?,
                name_masked: PersonName::parse(&name)
                    .map(|n| n.masked())
                    .unwrap_or_else(|_| "*".to_owned()),
                division_name: r.try_get("division_name")?,
                until: r.try_get("deadline")?,
            })
        })
        .collect()
    }

    /// Records an objection to a case in its public notice; the notice cannot end while an
    /// objection is open.
    pub async fn raise_objection(
        &self,
        actor: &Actor,
        case_id: &str,
        raised_by: &str,
        contact: &str,
        body: &str,
    ) -> Result<String> {
        let raised_by = text("raised_by", raised_by, 50)?;
        let body = text("body", body, 2000)?;
        let contact = Some(contact.trim()).filter(|c| !c.is_empty());
        if contact.is_some_and(|c| c.chars().count() > 100) {
            return Err(invalid(
                "contact",
                "不能超过 100 个字",
                "must be at most 100 characters",
            ));
        }
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, &Scope::All, case_id).await?;
        if case.state != State::Notice {
            return Err(DbError::NotFound);
        }
        // Anyone may object without signing in, so each client gets a budget per hour.
        if let Some(client) = &actor.client {
            let since = timestamp_text(OffsetDateTime::now_utc() - OBJECTION_WINDOW);
            let recent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM case_objections WHERE client = $1 AND at > $2",
            )
            .bind(client.as_str())
            .bind(since)
            .fetch_one(&mut *w.tx)
            .await?;
            if recent >= MAX_OBJECTIONS_PER_CLIENT {
                return Err(DbError::RateLimited {
                    zh: format!(
                        "一小时内最多可提出 {MAX_OBJECTIONS_PER_CLIENT} 条异议，请稍后再试"
                    ),
                    en: format!(
                        "At most {MAX_OBJECTIONS_PER_CLIENT} objections an hour can be sent \
                         from one place; try again later"
                    ),
                });
            }
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO case_objections (id, case_id, division_code, at, raised_by, contact, body, \
             status, client) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
        )
        .bind(id.as_str())
        .bind(case_id)
        .bind(case.division_code.as_str())
        .bind(now_text())
        .bind(raised_by.as_str())
        .bind(contact)
        .bind(body.as_str())
        .bind(actor.client.as_deref())
        .execute(&mut *w.tx)
        .await?;
        insert_event(
            &mut w.tx,
            case_id,
            &case.division_code,
            actor,
            "objection",
            Some(case.state),
            case.state,
            None,
        )
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "objection",
                entity_id: id.clone(),
                division_code: Some(case.division_code.clone()),
                before: None,
                after: Some(json!({ "case_id": case_id, "raised_by": raised_by, "body": body })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(id)
    }

    /// The objections to a case inside `scope`, oldest first.
    pub async fn objections(&self, scope: &Scope, case_id: &str) -> Result<Vec<Objection>> {
        let mut sql = Sql::new(
            "SELECT o.id, o.case_id, o.at, o.raised_by, o.contact, o.body, o.status, \
             o.decided_by, o.decided_at, o.decision FROM case_objections o \
             JOIN cases c ON c.id = o.case_id WHERE o.case_id = ",
        );
        sql.bind(case_id);
        push_case_scope(&mut sql, scope);
        sql.push(" ORDER BY o.at, o.id");
        sql.query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Objection {
                    id: r.try_get("id")?,
                    case_id: r.try_get("case_id")?,
                    at: r.try_get("at")?,
                    raised_by: r.try_get("raised_by")?,
                    contact: r.try_get("contact")?,
                    body: r.try_get("body")?,
                    status: r.try_get("status")?,
                    decided_by: r.try_get("decided_by")?,
                    decided_at: r.try_get("decided_at")?,
                    decision: r.try_get("decision")?,
                })
            })
            .collect()
    }

    /// Decides an open objection: upheld, the case is rejected with `reason`; dismissed, the
    /// notice runs on (and ends at its date once no objection is open).
    pub async fn decide_objection(
        &self,
        actor: &Actor,
        scope: &Scope,
        objection_id: &str,
        uphold: bool,
        reason: &str,
    ) -> Result<()> {
        let reason = text("reason", reason, 2000)?;
        let mut w = self.write_tx().await?;
        let mut sql = Sql::new(
            "SELECT o.case_id, o.status FROM case_objections o JOIN cases c ON c.id = o.case_id \
             WHERE o.id = ",
        );
        sql.bind(objection_id);
        push_case_scope(&mut sql, scope);
        let row = sql
            .query(self.backend)
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(DbError::NotFound)?;
        let case_id: String = row.try_get("case_id")?;
        if row.try_get::<String, _>("status")? != "open" {
            return Err(invalid(
                "objection",
                "该异议已处理",
                "the objection was already decided",
            ));
        }
        let status = if uphold { "upheld" } else { "dismissed" };
        sqlx::query(
            "UPDATE case_objections SET status = $1, decided_by = $2, decided_at = $3, \
             decision = $4 WHERE id = $5 AND status = 'open'",
        )
        .bind(status)
        .bind(actor.id.as_str())
        .bind(now_text())
        .bind(reason.as_str())
        .bind(objection_id)
        .execute(&mut *w.tx)
        .await?;
        let case = self.current(&mut w.tx, scope, &case_id).await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: status,
                entity: "objection",
                entity_id: objection_id.to_owned(),
                division_code: Some(case.division_code.clone()),
                before: Some(json!({ "status": "open" })),
                after: Some(json!({ "status": status, "decision": reason })),
            }],
        )
        .await?;
        if uphold {
            let action = Action::ObjectionUpheld {
                reason: reason.clone(),
            };
            let step = Move {
                action: &action,
                comment: None,
                submit_key: None,
                award: None,
            };
            self.act(&mut w.tx, actor, scope, &case_id, case.version, step)
                .await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// Adds a material to a case inside `scope` that is not finished; `kind` is what the
    /// content was recognised as.
    pub async fn add_document(
        &self,
        actor: &Actor,
        scope: &Scope,
        case_id: &str,
        name: &str,
        kind: DocumentKind,
        content: &[u8],
    ) -> Result<DocumentMeta> {
        let name = text("file", name, 200)?;
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, scope, case_id).await?;
        if case.state.is_terminal() {
            return Err(DbError::Transition(
                zhucan_services::TransitionError::Finished { state: case.state },
            ));
        }
        let meta = DocumentMeta {
            id: new_id(),
            case_id: case_id.to_owned(),
            name,
            mime: kind.mime().to_owned(),
            size: content.len() as i64,
            digest: sm3_hex(content),
            created_at: now_text(),
        };
        sqlx::query(
            "INSERT INTO case_documents (id, case_id, division_code, name, mime, size, digest, \
             content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(meta.id.as_str())
        .bind(case_id)
        .bind(case.division_code.as_str())
        .bind(meta.name.as_str())
        .bind(meta.mime.as_str())
        .bind(meta.size)
        .bind(meta.digest.as_str())
        .bind(content)
        .bind(meta.created_at.as_str())
        .execute(&mut *w.tx)
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "case_document",
                entity_id: meta.id.clone(),
                division_code: Some(case.division_code.clone()),
                before: None,
                after: Some(document_audit(&meta)),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(meta)
    }

    /// Removes a material the applicant may still take back ([`may_remove`]); the removal is
    /// audited with the file's digest.
    pub async fn remove_document(
        &self,
        actor: &Actor,
        scope: &Scope,
        case_id: &str,
        id: &str,
    ) -> Result<DocumentMeta> {
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, scope, case_id).await?;
        let row = sqlx::query(
            "SELECT id, case_id, name, mime, size, digest, created_at FROM case_documents \
             WHERE id = $1 AND case_id = $2",
        )
        .bind(id)
        .bind(case_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .ok_or(DbError::NotFound)?;
        let meta = document_meta(&row)?;
        let returned_at: Option<String> = sqlx::query_scalar(
            "SELECT MAX(at) FROM case_events WHERE case_id = $1 AND action = 'return'",
        )
        .bind(case_id)
        .fetch_one(&mut *w.tx)
        .await?;
        if !may_remove(case.state, &meta, returned_at.as_deref()) {
            return Err(DbError::Invalid {
                field: "document",
                zh: "只能删除草稿中的文件，或退回补正后新上传的文件".into(),
                en: "Only a draft's files, or files uploaded since the case was returned for \
                     correction, can be removed"
                    .into(),
            });
        }
        sqlx::query("DELETE FROM case_documents WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "delete",
                entity: "case_document",
                entity_id: meta.id.clone(),
                division_code: Some(case.division_code.clone()),
                before: Some(document_audit(&meta)),
                after: None,
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(meta)
    }

    /// One material with its content; the view is audited (materials are personal data).
    pub async fn document(
        &self,
        actor: &Actor,
        scope: &Scope,
        case_id: &str,
        id: &str,
    ) -> Result<(DocumentMeta, Vec<u8>)> {
        let mut sql = Sql::new(
            "SELECT d.id, d.case_id, d.name, d.mime, d.size, d.digest, d.created_at, d.content, \
             d.division_code FROM case_documents d JOIN cases c ON c.id = d.case_id WHERE d.id = ",
        );
        sql.bind(id).push(" AND d.case_id = ").bind(case_id);
        push_case_scope(&mut sql, scope);
        let row = sql
            .query(self.backend)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(DbError::NotFound)?;
        let meta = document_meta(&row)?;
        let content: Vec<u8> = row.try_get("content")?;
        let mut w = self.write_tx().await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "view",
                entity: "case_document",
                entity_id: meta.id.clone(),
                division_code: row.try_get("division_code")?,
                before: None,
                after: None,
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok((meta, content))
    }

    /// Rates a finished case (1 to 5) once; a rating of 1 or 2 opens a follow-up task for the
    /// office that last held the case.
    pub async fn rate_case(
        &self,
        actor: &Actor,
        scope: &Scope,
        case_id: &str,
        score: i64,
        comment: &str,
    ) -> Result<()> {
        if !(1..=5).contains(&score) {
            return Err(invalid(
                "score",
                "请选择 1 到 5 之间的评价",
                "choose a rating from 1 to 5",
            ));
        }
        let comment = Some(comment.trim()).filter(|c| !c.is_empty());
        if comment.is_some_and(|c| c.chars().count() > 1000) {
            return Err(invalid(
                "comment",
                "不能超过 1000 个字",
                "must be at most 1000 characters",
            ));
        }
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, scope, case_id).await?;
        if !matches!(
            case.state,
            State::Fulfilled | State::Closed | State::Rejected
        ) {
            return Err(invalid(
                "score",
                "办件办结后才能评价",
                "a case can be rated once it is finished",
            ));
        }
        let rated: Option<i64> =
            sqlx::query_scalar("SELECT score FROM case_ratings WHERE case_id = $1")
                .bind(case_id)
                .fetch_optional(&mut *w.tx)
                .await?;
        if rated.is_some() {
            return Err(DbError::Duplicate("rating"));
        }
        sqlx::query(
            "INSERT INTO case_ratings (case_id, division_code, score, comment, rated_by, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(case_id)
        .bind(case.division_code.as_str())
        .bind(score)
        .bind(comment)
        .bind(actor.id.as_str())
        .bind(now_text())
        .execute(&mut *w.tx)
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "rate",
                entity: "case",
                entity_id: case_id.to_owned(),
                division_code: Some(case.division_code.clone()),
                before: None,
                after: Some(json!({ "score": score, "comment": comment })),
            }],
        )
        .await?;
        if score <= 2 {
            let office = self.last_office(&mut w.tx, case_id).await?;
            let detail = format!(
                "差评 {score} 分：{} / poor rating {score}: {}",
                comment.unwrap_or("（无留言）"),
                comment.unwrap_or("(no comment)")
            );
            let system = Actor::system("rating");
            self.open_task(
                &mut w.tx,
                &system,
                "follow_up",
                case_id,
                offices::reviewer_of(office),
                &detail,
            )
            .await?;
        }
        w.tx.commit().await?;
        Ok(())
    }

    pub async fn rating(&self, scope: &Scope, case_id: &str) -> Result<Option<Rating>> {
        let mut sql = Sql::new(
            "SELECT r.score, r.comment, r.at FROM case_ratings r JOIN cases c ON c.id = r.case_id \
             WHERE r.case_id = ",
        );
        sql.bind(case_id);
        push_case_scope(&mut sql, scope);
        sql.query(self.backend)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(Rating {
                    score: r.try_get("score")?,
                    comment: r.try_get("comment")?,
                    at: r.try_get("at")?,
                })
            })
            .transpose()
    }

    /// The step that last held a case: the last event that left it at a step.
    async fn last_office(&self, conn: &mut sqlx::AnyConnection, case_id: &str) -> Result<Step> {
        let row = sqlx::query(
            "SELECT e.step, s.chain FROM case_events e JOIN cases c ON c.id = e.case_id \
             JOIN service_versions s ON s.code = c.service_code AND s.version = c.service_version \
             WHERE e.case_id = $1 AND e.step IS NOT NULL ORDER BY e.at DESC, e.id DESC",
        )
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("case {case_id} was never at a step")))?;
        let step: i64 = row.try_get("step")?;
        let chain = crate::catalog::parse_chain(&row.try_get::<String, _>("chain")?)?;
        usize::try_from(step)
            .ok()
            .and_then(|s| chain.get(s).copied())
            .ok_or_else(|| DbError::Corrupt(format!("case {case_id}: step {step}")))
    }

    /// Opens a task on a case for `role`, inside the caller's transaction.
    pub(crate) async fn open_task(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        kind: &str,
        case_id: &str,
        role: Role,
        detail: &str,
    ) -> Result<String> {
        let id = new_id();
        let done = sqlx::query(
            "INSERT INTO tasks (id, kind, case_id, person_id, district_code, street_code, \
             community_code, division_code, assignee_role, detail, status, version, created_at) \
             SELECT $1, $2, c.id, c.person_id, c.district_code, c.street_code, c.community_code, \
             c.division_code, $3, $4, 'open', 1, $5 FROM cases c WHERE c.id = $6",
        )
        .bind(id.as_str())
        .bind(kind)
        .bind(role.slug())
        .bind(detail)
        .bind(now_text())
        .bind(case_id)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() != 1 {
            return Err(DbError::NotFound);
        }
        audit::append(
            conn,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "task",
                entity_id: id.clone(),
                division_code: None,
                before: None,
                after: Some(json!({
                    "kind": kind,
                    "case_id": case_id,
                    "assignee_role": role.slug(),
                    "detail": detail,
                })),
            }],
        )
        .await?;
        Ok(id)
    }

    /// Tasks inside `scope` for `role` (every role's for `None`), open ones oldest first, then
    /// the latest done.
    pub async fn tasks(
        &self,
        scope: &Scope,
        role: Option<Role>,
        open: bool,
        limit: i64,
    ) -> Result<Vec<Task>> {
        let mut sql = Sql::new(TASK_SELECT);
        sql.push("t.status = ")
            .bind(if open { "open" } else { "done" });
        if let Some(role) = role {
            sql.push(" AND t.assignee_role = ").bind(role.slug());
        }
        push_case_scope(&mut sql, scope);
        sql.push(if open {
            " ORDER BY t.created_at, t.id LIMIT "
        } else {
            " ORDER BY t.done_at DESC, t.id LIMIT "
        })
        .bind(limit.clamp(1, 500));
        sql.query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(task)
            .collect()
    }

    /// The tasks on one case inside `scope`.
    pub async fn case_tasks(&self, scope: &Scope, case_id: &str) -> Result<Vec<Task>> {
        let mut sql = Sql::new(TASK_SELECT);
        sql.push("t.case_id = ").bind(case_id);
        push_case_scope(&mut sql, scope);
        sql.push(" ORDER BY t.created_at, t.id");
        sql.query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(task)
            .collect()
    }

    /// Marks a task done from `expected_version`; a done fulfilment task fulfils and closes
    /// its case.
    pub async fn complete_task(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        note: &str,
    ) -> Result<()> {
        let note = text("note", note, 2000)?;
        let mut w = self.write_tx().await?;
        let mut sql = Sql::new(TASK_SELECT);
        sql.push("t.id = ").bind(id);
        push_case_scope(&mut sql, scope);
        let found = sql
            .query(self.backend)
            .fetch_optional(&mut *w.tx)
            .await?
            .ok_or(DbError::NotFound)?;
        let found = task(&found)?;
        if found.version != expected_version || !found.open {
            return Err(DbError::Conflict {
                current: found.version,
            });
        }
        sqlx::query(
            "UPDATE tasks SET status = 'done', done_at = $1, done_by = $2, note = $3, \
             version = version + 1 WHERE id = $4 AND version = $5",
        )
        .bind(now_text())
        .bind(actor.id.as_str())
        .bind(note.as_str())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *w.tx)
        .await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "complete",
                entity: "task",
                entity_id: id.to_owned(),
                division_code: None,
                before: Some(json!({ "status": "open", "version": expected_version })),
                after: Some(json!({ "status": "done", "note": note })),
            }],
        )
        .await?;
        if found.kind == "fulfilment" {
            for action in [Action::Fulfil, Action::Close] {
                let case = self.current(&mut w.tx, scope, &found.case_id).await?;
                let step = Move {
                    action: &action,
                    comment: Some(note.as_str()),
                    submit_key: None,
                    award: None,
                };
                self.act(&mut w.tx, actor, scope, &found.case_id, case.version, step)
                    .await?;
            }
        }
        w.tx.commit().await?;
        Ok(())
    }

    /// The timed work, run by each server every few minutes (and safe to run on several at
    /// once: each change is its own write transaction with the usual checks): notices whose
    /// last day has passed without an open objection end; overdue cases escalate once per step.
    pub async fn run_due_work(&self) -> Result<DueWork> {
        let today = date_text(today_shanghai());
        let mut done = DueWork::default();
        let ended: Vec<(String, i64)> = sqlx::query(
            "SELECT c.id, c.version FROM cases c WHERE c.state = 'notice' AND c.deadline < $1 \
             AND NOT EXISTS (SELECT 1 FROM case_objections o WHERE o.case_id = c.id \
             AND o.status = 'open') ORDER BY c.deadline, c.id",
        )
        .bind(today.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("version")?)))
        .collect::<Result<_>>()?;
        let system = Actor::system("notice");
        for (id, version) in ended {
            let step = Move {
                action: &Action::NoticeEnded,
                comment: None,
                submit_key: None,
                award: None,
            };
            let mut w = self.write_tx().await?;
            match self
                .act(&mut w.tx, &system, &Scope::All, &id, version, step)
                .await
            {
                Ok(_) => {
                    w.tx.commit().await?;
                    done.notices_ended += 1;
                }
                // Another server ended it, or someone acted first: nothing to do.
                Err(DbError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let overdue: Vec<(String, String, String, Option<i64>, String)> = sqlx::query(
            "SELECT c.id, c.queue_step, c.state, c.step, c.division_code FROM cases c \
             WHERE c.queue_step IS NOT NULL AND c.deadline < $1 AND c.escalated_at IS NULL \
             ORDER BY c.deadline, c.id",
        )
        .bind(today.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("queue_step")?,
                r.try_get("state")?,
                r.try_get("step")?,
                r.try_get("division_code")?,
            ))
        })
        .collect::<Result<_>>()?;
        let system = Actor::system("escalation");
        for (id, step, state, step_index, division) in overdue {
            let step: Step = step
                .parse()
                .map_err(|_| DbError::Corrupt(format!("case {id}: queue step {step:?}")))?;
            let state = state_from(&state, step_index)?;
            let mut w = self.write_tx().await?;
            let claimed = sqlx::query(
                "UPDATE cases SET escalated_at = $1 WHERE id = $2 AND escalated_at IS NULL \
                 AND queue_step IS NOT NULL",
            )
            .bind(now_text())
            .bind(id.as_str())
            .execute(&mut *w.tx)
            .await?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            let supervisor = offices::supervisor_of(step);
            let detail = format!(
                "{}逾期未办，请督办 / overdue at {}: please follow up",
                step.name(zhucan_core::Lang::Zh),
                step.name(zhucan_core::Lang::En)
            );
            self.open_task(&mut w.tx, &system, "escalation", &id, supervisor, &detail)
                .await?;
            insert_event(
                &mut w.tx,
                &id,
                &division,
                &system,
                "escalate",
                Some(state),
                state,
                Some(supervisor.slug().to_owned()),
            )
            .await?;
            w.tx.commit().await?;
            done.escalated += 1;
        }
        Ok(done)
    }
}

/// Whether the applicant may take a material back: any file of a draft, or one uploaded since
/// the case was returned for correction (at `returned_at`); what reviewers have seen stays.
pub(crate) fn may_remove(state: State, doc: &DocumentMeta, returned_at: Option<&str>) -> bool {
    match state {
        State::Draft => true,
        State::Returned { .. } => returned_at.is_some_and(|at| doc.created_at.as_str() > at),
        _ => false,
    }
}

/// What the audit log keeps of a material: enough to prove which file it was, not its content.
fn document_audit(meta: &DocumentMeta) -> serde_json::Value {
    json!({
        "case_id": meta.case_id,
        "name": meta.name,
        "mime": meta.mime,
        "size": meta.size,
        "digest": meta.digest,
    })
}

fn document_meta(r: &sqlx::any::AnyRow) -> Result<DocumentMeta> {
    Ok(DocumentMeta {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        name: r.try_get("name")?,
        mime: r.try_get("mime")?,
        size: r.try_get("size")?,
        digest: r.try_get("digest")?,
        created_at: r.try_get("created_at")?,
    })
}
