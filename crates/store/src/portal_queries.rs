//! What the residents' portal needs beyond the case moves: saving a draft's answers page by
//! page, so an application in progress lives in the store and not in the browser.

use serde_json::{Value, json};
use sqlx::Row;
use zhucan_services::State;

use crate::audit::{self, Actor, Entry};
use crate::cases::CaseRecord;
use crate::{DbError, Result, Scope, Store, now_text};

impl Store {
    /// Replaces the answers of a case inside `scope` that its applicant may still change: a
    /// draft, or a case returned for correction (补正). `expected_version` is the version the
    /// form was read at; a newer one is a [`DbError::Conflict`].
    pub async fn save_draft_answers(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: &str,
        expected_version: i64,
        answers: &Value,
    ) -> Result<CaseRecord> {
        let mut w = self.write_tx().await?;
        let case = self.current(&mut w.tx, scope, id).await?;
        if case.version != expected_version {
            return Err(DbError::Conflict {
                current: case.version,
            });
        }
        if !matches!(case.state, State::Draft | State::Returned { .. }) {
            return Err(DbError::Invalid {
                field: "answers",
                zh: format!(
                    "此申请为“{}”，只有草稿或待补正的申请可以修改回答",
                    case.state.label(zhucan_core::Lang::Zh)
                ),
                en: format!(
                    "this application is {}; only a draft or a returned one can change its answers",
                    case.state.label(zhucan_core::Lang::En)
                ),
            });
        }
        let before: String = sqlx::query("SELECT answers FROM cases WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("answers")?;
        let before: Value =
            serde_json::from_str(&before).map_err(|e| DbError::Corrupt(format!("answers: {e}")))?;
        let done = sqlx::query(
            "UPDATE cases SET answers = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND version = $4",
        )
        .bind(answers.to_string())
        .bind(now_text())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *w.tx)
        .await?;
        if done.rows_affected() == 0 {
            let current: i64 = sqlx::query_scalar("SELECT version FROM cases WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *w.tx)
                .await?;
            return Err(DbError::Conflict { current });
        }
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "update",
                entity: "case",
                entity_id: id.to_owned(),
                division_code: Some(case.division_code.clone()),
                before: Some(json!({
                    "answers": before,
                    "version": case.version,
                })),
                after: Some(json!({ "answers": answers, "version": case.version + 1 })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        self.case(scope, id).await
    }
}
