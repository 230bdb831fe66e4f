//! What an approved case does to the registry, in the approval's transaction: a subsidy
//! becomes an entitlement, a certificate item acts on the certificate (a cancellation stops
//! the person's entitlements, a category or grade change re-checks them against their rules),
//! and a delivery item opens its fulfilment task.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use zhucan_core::{CertificateStatus, Lang, Money, today_shanghai};
use zhucan_services::{
    Award, CertificateAction, CertificateEffect, HeldCertificate, Outcome, Period, Step,
    certificate_effect, offices,
};

use crate::audit::{self, Actor, Entry};
use crate::cases::{Current, facts_with_answers, version_u32};
use crate::persons::{
    Absent, CertificateInput, CertificateRecord, Encoded, PersonRecord, date_text, push_scope,
    snapshot, update_encoded,
};
use crate::sql::Sql;
use crate::{DbError, Result, Scope, Store, new_id, now_text};

/// A person's benefit, running or stopped.
#[derive(Debug, Clone, Serialize)]
pub struct Entitlement {
    pub id: String,
    pub person_id: String,
    pub case_id: Option<String>,
    pub service_code: String,
    pub amount: Money,
    pub period: Period,
    /// `YYYY-MM`.
    pub start_month: String,
    pub active: bool,
    pub stopped_month: Option<String>,
    pub reason: Option<String>,
}

fn month_text(day: time::Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

fn award_of(text: Option<String>) -> Result<Award> {
    text.map(|a| serde_json::from_str(&a))
        .transpose()
        .map_err(|e| DbError::Corrupt(format!("award: {e}")))
        .map(Option::unwrap_or_default)
}

/// The office that delivers an item: its provider when the chain has one, else the district.
fn deliverer(chain: &[Step]) -> zhucan_core::Role {
    if chain.contains(&Step::Provider) {
        offices::reviewer_of(Step::Provider)
    } else {
        offices::reviewer_of(Step::District)
    }
}

impl Store {
    /// Acts on the registry for a case that was just approved. Returns whether the case is
    /// thereby delivered (so it can be fulfilled and closed at once), or waits for a task.
    pub(crate) async fn settle(
        &self,
        conn: &mut sqlx::AnyConnection,
        case_id: &str,
        case: &Current,
    ) -> Result<bool> {
        let service = self
            .service_version(&case.service_code, version_u32(case.service_version)?)
            .await?;
        let award = award_of(
            sqlx::query_scalar("SELECT award FROM cases WHERE id = $1")
                .bind(case_id)
                .fetch_one(&mut *conn)
                .await?,
        )?;
        let actor = Actor::system("outcome");
        match Outcome::of(&service) {
            Outcome::Nothing => Ok(true),
            Outcome::Entitlement => {
                let award = award.checked(&service)?;
                self.grant(conn, &actor, case_id, case, &award).await?;
                Ok(true)
            }
            Outcome::Certificate(action) => {
                self.act_on_certificate(conn, &actor, case_id, case, action, &award)
                    .await?;
                Ok(true)
            }
            Outcome::Fulfilment => {
                let role = deliverer(service.chain());
                let detail = format!("{} / {}", service.name(Lang::Zh), service.name(Lang::En));
                self.open_task(conn, &actor, "fulfilment", case_id, role, &detail)
                    .await?;
                Ok(false)
            }
        }
    }

    async fn grant(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        case_id: &str,
        case: &Current,
        award: &Award,
    ) -> Result<()> {
        let (Some(amount), Some(per)) = (award.amount, award.per) else {
            return Err(DbError::Corrupt(format!(
                "case {case_id}: award without amount"
            )));
        };
        let id = new_id();
        let start = month_text(today_shanghai());
        sqlx::query(
            "INSERT INTO entitlements (id, person_id, case_id, division_code, service_code, \
             amount_fen, start_month, status, reason, created_at, period) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', NULL, $8, $9)",
        )
        .bind(id.as_str())
        .bind(case.person_id.as_str())
        .bind(case_id)
        .bind(case.division_code.as_str())
        .bind(case.service_code.as_str())
        .bind(amount.fen())
        .bind(start.as_str())
        .bind(now_text())
        .bind(per.slug())
        .execute(&mut *conn)
        .await?;
        audit::append(
            conn,
            &self.crypto,
            actor,
            &[Entry {
                action: "create",
                entity: "entitlement",
                entity_id: id,
                division_code: Some(case.division_code.clone()),
                before: None,
                after: Some(json!({
                    "person_id": case.person_id,
                    "case_id": case_id,
                    "service": case.service_code,
                    "amount_fen": amount.fen(),
                    "period": per.slug(),
                    "start_month": start,
                })),
            }],
        )
        .await
    }

    async fn act_on_certificate(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        case_id: &str,
        case: &Current,
        action: CertificateAction,
        award: &Award,
    ) -> Result<()> {
        let before = self.person(&Scope::All, &case.person_id).await?;
        let today = today_shanghai();
        let held = before.certificate.as_ref().map(|c| HeldCertificate {
            number: c.number.clone(),
            valid: c.status == CertificateStatus::Valid,
        });
        let effect = certificate_effect(action, &before.resident_id, held.as_ref(), award, today)?;
        let mut input = before.to_input();
        let current = input.certificate.take();
        let certificate = match (effect, current) {
            (
                CertificateEffect::Issue {
                    number,
                    components,
                    issued_on,
                    expires_on,
                },
                _,
            ) => CertificateInput {
                number,
                components,
                issued_on: Some(issued_on),
                expires_on: Some(expires_on),
                status: CertificateStatus::Valid,
            },
            (_, None) => return Err(zhucan_services::OutcomeError::NoCertificate.into()),
            (
                CertificateEffect::Renew {
                    issued_on,
                    expires_on,
                },
                Some(c),
            ) => CertificateInput {
                issued_on: Some(issued_on),
                expires_on: Some(expires_on),
                status: CertificateStatus::Valid,
                ..c
            },
            (CertificateEffect::Replace { number }, Some(c)) => CertificateInput { number, ..c },
            (CertificateEffect::Cancel, Some(c)) => CertificateInput {
                status: CertificateStatus::Cancelled,
                ..c
            },
            (CertificateEffect::Reinstate, Some(c)) => CertificateInput {
                status: CertificateStatus::Valid,
                ..c
            },
        };
        input.certificate = Some(certificate.clone());
        let encoded = Encoded::new(&self.crypto, &before.id, &input, &now_text());
        update_encoded(conn, &before.id, &encoded, Absent::Keep).await?;
        audit::append(
            conn,
            &self.crypto,
            actor,
            &[Entry {
                action: "update",
                entity: "person",
                entity_id: before.id.clone(),
                division_code: Some(case.division_code.clone()),
                before: Some(snapshot(&before.to_input())),
                after: Some(json!({ "case_id": case_id, "record": snapshot(&input) })),
            }],
        )
        .await?;
        match action {
            CertificateAction::Cancel => {
                let reason = "残疾人证已注销 / certificate cancelled";
                self.stop_entitlements(conn, actor, &case.person_id, None, reason)
                    .await
            }
            CertificateAction::Change => {
                let after = PersonRecord {
                    certificate: Some(CertificateRecord {
                        id: String::new(),
                        category: certificate.number.category(),
                        grade: certificate.number.grade(),
                        number: certificate.number,
                        components: certificate.components,
                        issued_on: certificate.issued_on.map(date_text),
                        expires_on: certificate.expires_on.map(date_text),
                        status: certificate.status,
                    }),
                    ..before
                };
                self.recheck_entitlements(conn, actor, &after).await
            }
            _ => Ok(()),
        }
    }

    /// Stops the person's active entitlements that fail their rule on the changed record.
    async fn recheck_entitlements(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        person: &PersonRecord,
    ) -> Result<()> {
        let rows = sqlx::query(
            "SELECT e.id, c.service_code, c.service_version, c.answers FROM entitlements e \
             JOIN cases c ON c.id = e.case_id WHERE e.person_id = $1 AND e.status = 'active'",
        )
        .bind(person.id.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let today = today_shanghai();
        for row in rows {
            let service = self
                .service_version(
                    &row.try_get::<String, _>("service_code")?,
                    version_u32(row.try_get("service_version")?)?,
                )
                .await?;
            let answers: Value = serde_json::from_str(&row.try_get::<String, _>("answers")?)
                .map_err(|e| DbError::Corrupt(format!("answers: {e}")))?;
            let evaluation = service
                .eligibility_rule()
                .evaluate(&facts_with_answers(person.facts(today), &answers));
            if evaluation.eligible {
                continue;
            }
            let failed = |lang| {
                evaluation
                    .clauses
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.text(lang).to_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let reason = format!(
                "类别或等级变更后不再符合：{} / no longer eligible after the change: {}",
                failed(Lang::Zh),
                failed(Lang::En)
            );
            let id: String = row.try_get("id")?;
            self.stop_entitlements(conn, actor, &person.id, Some(&id), &reason)
                .await?;
        }
        Ok(())
    }

    /// Stops one entitlement (`only`) or all the person's active ones, from this month.
    pub(crate) async fn stop_entitlements(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        person_id: &str,
        only: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let mut select = Sql::new(
            "SELECT id, division_code FROM entitlements WHERE status = 'active' AND person_id = ",
        );
        select.bind(person_id);
        if let Some(id) = only {
            select.push(" AND id = ").bind(id);
        }
        let rows = select.query(self.backend).fetch_all(&mut *conn).await?;
        let month = month_text(today_shanghai());
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            sqlx::query(
                "UPDATE entitlements SET status = 'stopped', stopped_month = $1, reason = $2 \
                 WHERE id = $3",
            )
            .bind(month.as_str())
            .bind(reason)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
            entries.push(Entry {
                action: "stop",
                entity: "entitlement",
                entity_id: id,
                division_code: row.try_get("division_code")?,
                before: Some(json!({ "status": "active" })),
                after: Some(json!({ "status": "stopped", "month": month, "reason": reason })),
            });
        }
        if entries.is_empty() {
            return Ok(());
        }
        audit::append(conn, &self.crypto, actor, &entries).await
    }

    /// A person's entitlements inside `scope`, running ones first.
    pub async fn entitlements(&self, scope: &Scope, person_id: &str) -> Result<Vec<Entitlement>> {
        let mut sql = Sql::new(
            "SELECT e.id, e.person_id, e.case_id, e.service_code, e.amount_fen, e.period, \
             e.start_month, e.status, e.stopped_month, e.reason FROM entitlements e \
             JOIN persons p ON p.id = e.person_id WHERE e.person_id = ",
        );
        sql.bind(person_id);
        push_scope(&mut sql, scope);
        sql.push(" ORDER BY e.status, e.start_month DESC, e.id");
        sql.query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let period: String = r.try_get("period")?;
                Ok(Entitlement {
                    id: r.try_get("id")?,
                    person_id: r.try_get("person_id")?,
                    case_id: r.try_get("case_id")?,
                    service_code: r.try_get("service_code")?,
                    amount: Money::from_fen(r.try_get("amount_fen")?),
                    period: period
                        .parse()
                        .map_err(|_| DbError::Corrupt(format!("period = {period:?}")))?,
                    start_month: r.try_get("start_month")?,
                    active: r.try_get::<String, _>("status")? == "active",
                    stopped_month: r.try_get("stopped_month")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }
}
