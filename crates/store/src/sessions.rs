//! Sessions, login attempts and one-time codes live in the database so that several server
//! instances can share them. Only hashes of tokens and codes are stored.

use sqlx::AssertSqlSafe;
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

    pub async fn record_login_attempt(
        &self,
        subject: &str,
        client: &str,
        success: bool,
    ) -> Result<()> {
        sqlx::query("INSERT INTO login_attempts (id, subject, client, success, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(new_id())
            .bind(subject)
            .bind(client)
            .bind(i64::from(success))
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failed attempts since `window` ago, for this subject (user name or phone) and for this client.
    pub async fn recent_failures(
        &self,
        subject: &str,
        client: &str,
        window: Duration,
    ) -> Result<(i64, i64)> {
        let since = timestamp_text(OffsetDateTime::now_utc() - window);
        let count = |column: &'static str, value: &str| {
            let sql = format!(
                "SELECT COUNT(*) FROM login_attempts WHERE {column} = $1 AND success = 0 AND at > $2"
            );
            let value = value.to_owned();
            let since = since.clone();
            async move {
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                    .bind(value)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await
            }
        };
        Ok((
            count("subject", subject).await?,
            count("client", client).await?,
        ))
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
