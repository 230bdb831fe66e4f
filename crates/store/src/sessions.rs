//! Sessions, login attempts and one-time codes live in the database so that several server
//! instances can share them. Only hashes of tokens and codes are stored.

use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::{Result, Store, new_id, now_text, timestamp_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Staff,
    Resident,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Staff => "staff",
            SessionKind::Resident => "resident",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub kind: SessionKind,
    pub account_id: Option<String>,
    /// For residents: the blind index of the phone they proved they hold.
    pub phone_index: Option<Vec<u8>>,
    pub csrf_token: String,
    pub expires_at: String,
}

/// Failed sign-in attempts a window allows. The limit for one subject from one client is
/// the tight one; the subject's limit from anywhere is much higher, so that guessing from many
/// addresses is capped without letting one address lock the real user out everywhere.
#[derive(Debug, Clone)]
pub struct AttemptLimits {
    pub window: Duration,
    pub per_subject_client: i64,
    pub per_subject: i64,
    pub per_client: i64,
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptLimit {
    /// This subject (user name, phone) from this client.
    SubjectFromClient,
    /// This subject from any client.
    Subject,
    /// This client, whatever the subject.
    Client,
}

/// An attempt counted (as failed until marked a success).
#[derive(Debug)]
pub struct AttemptId(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneTimeCode {
    Valid,
    Wrong,
    /// Expired, used, or too many wrong tries: ask for a new code.
    Unusable,
}

impl Store {
    pub async fn create_session(
        &self,
        token_hash: &str,
        kind: SessionKind,
        account_id: Option<&str>,
        phone_index: Option<&[u8]>,
        csrf_token: &str,
        lifetime: Duration,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, kind, account_id, phone_index, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(account_id)
        .bind(phone_index)
        .bind(csrf_token)
        .bind(now_text())
        .bind(timestamp_text(OffsetDateTime::now_utc() + lifetime))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A live session, or `None` when unknown or expired.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT kind, account_id, phone_index, csrf_token, expires_at FROM sessions \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_text())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Session {
                kind: if r.try_get::<String, _>("kind")? == "staff" {
                    SessionKind::Staff
                } else {
                    SessionKind::Resident
                },
                account_id: r.try_get("account_id")?,
                phone_index: r.try_get("phone_index")?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_text())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Counts a sign-in attempt before its secret is checked, so parallel guesses cannot all
    /// pass the limit: in one write transaction, refuses when a limit of failures in the window is
    /// reached, else records the attempt as failed. [`Store::login_attempt_succeeded`] marks it
    /// once the secret proves right.
    pub async fn begin_login_attempt(
        &self,
        subject: &str,
        client: &str,
        limits: &AttemptLimits,
    ) -> Result<Result<AttemptId, AttemptLimit>> {
        let since = timestamp_text(OffsetDateTime::now_utc() - limits.window);
        let mut w = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN subject = $1 AND client = $2 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN subject = $1 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN client = $2 THEN 1 ELSE 0 END), 0) \
             FROM login_attempts WHERE (subject = $1 OR client = $2) AND success = 0 AND at > $3",
        )
        .bind(subject)
        .bind(client)
        .bind(&since)
        .fetch_one(&mut *w.tx)
        .await?;
        let (here, anywhere, from_client): (i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let refusal = if here >= limits.per_subject_client {
            Some(AttemptLimit::SubjectFromClient)
        } else if anywhere >= limits.per_subject {
            Some(AttemptLimit::Subject)
        } else if from_client >= limits.per_client {
            Some(AttemptLimit::Client)
        } else {
            None
        };
        if let Some(limit) = refusal {
            return Ok(Err(limit));
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO login_attempts (id, subject, client, success, at) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(&id)
        .bind(subject)
        .bind(client)
        .bind(now_text())
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(Ok(AttemptId(id)))
    }

    pub async fn login_attempt_succeeded(&self, attempt: AttemptId) -> Result<()> {
        sqlx::query("UPDATE login_attempts SET success = 1 WHERE id = $1")
            .bind(attempt.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_one_time_code(
        &self,
        phone_index: &[u8],
        code_hash: &str,
        lifetime: Duration,
    ) -> Result<()> {
        // A new code replaces any earlier one for the same phone.
        let mut w = self.write_tx().await?;
        sqlx::query("UPDATE one_time_codes SET used = 1 WHERE phone_index = $1 AND used = 0")
            .bind(phone_index)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query(
            "INSERT INTO one_time_codes (id, phone_index, code_hash, attempts, used, created_at, expires_at) \
             VALUES ($1, $2, $3, 0, 0, $4, $5)",
        )
        .bind(new_id())
        .bind(phone_index)
        .bind(code_hash)
        .bind(now_text())
        .bind(timestamp_text(OffsetDateTime::now_utc() + lifetime))
        .execute(&mut *w.tx)
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Checks a code; a right code is used up, a wrong one counts against `max_attempts`.
    pub async fn check_one_time_code(
        &self,
        phone_index: &[u8],
        code_hash: &str,
        max_attempts: i64,
    ) -> Result<OneTimeCode> {
        let mut w = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT id, code_hash, attempts FROM one_time_codes \
             WHERE phone_index = $1 AND used = 0 AND expires_at > $2 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(phone_index)
        .bind(now_text())
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(row) = row else {
            return Ok(OneTimeCode::Unusable);
        };
        let id: String = row.try_get("id")?;
        let attempts: i64 = row.try_get("attempts")?;
        if attempts >= max_attempts {
            return Ok(OneTimeCode::Unusable);
        }
        let stored: String = row.try_get("code_hash")?;
        let valid = zhucan_crypto::constant_time_eq(stored.as_bytes(), code_hash.as_bytes());
        let update = if valid {
            "UPDATE one_time_codes SET used = 1 WHERE id = $1"
        } else {
            "UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = $1"
        };
        sqlx::query(update)
            .bind(id.as_str())
            .execute(&mut *w.tx)
            .await?;
        w.tx.commit().await?;
        Ok(if valid {
            OneTimeCode::Valid
        } else {
            OneTimeCode::Wrong
        })
    }
}
