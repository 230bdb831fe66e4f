//! Notification outbox. Messages are written here in the same step as the event that causes
//! them; a sender (the log in the embedded default) delivers them.

use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::Row;

use zhucan_core::Phone;

use crate::{Result, Store, new_id, now_text};

const RECIPIENT_LABEL: &[u8] = b"notification.recipient";

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl Store {
    /// Queues a text message; the number is kept encrypted, the outbox page shows it masked.
    pub async fn enqueue_sms(&self, phone: &Phone, body: &str) -> Result<String> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO notifications (id, channel, recipient, recipient_enc, body, status, attempts, created_at) \
             VALUES ($1, 'sms', $2, $3, $4, 'pending', 0, $5)",
        )
        .bind(id.as_str())
        .bind(phone.masked())
        .bind(self.crypto.encrypt_str(RECIPIENT_LABEL, phone.as_str()))
        .bind(body)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    pub async fn pending_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.notifications_where("status = 'pending'", limit).await
    }

    pub async fn recent_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.notifications_where("1 = 1", limit).await
    }

    async fn notifications_where(&self, filter: &str, limit: i64) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT id, channel, recipient, body, status, attempts, last_error, created_at, sent_at \
             FROM notifications WHERE {filter} ORDER BY created_at DESC LIMIT $1"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Notification {
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    recipient: r.try_get("recipient")?,
                    body: r.try_get("body")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }

    /// Records a delivery attempt; after `max_attempts` failures the message is marked failed.
    pub async fn mark_notification(
        &self,
        id: &str,
        error: Option<&str>,
        max_attempts: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, last_error = $2, \
             status = CASE WHEN $3 = 1 THEN 'sent' WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END, \
             sent_at = CASE WHEN $3 = 1 THEN $5 ELSE sent_at END WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(i64::from(error.is_none()))
        .bind(max_attempts)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
