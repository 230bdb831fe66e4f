//! Notification outbox. Messages are written here in the same step as the event that causes
//! them; a sender (the log in the embedded default, or an SMS gateway) delivers the text
//! messages, with retries. In-app messages are delivered by being stored: they are the
//! resident's inbox.

use serde::Serialize;
use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use zhucan_core::Phone;
use zhucan_crypto::FieldCrypto;

use crate::audit::{self, Actor, Entry};
use crate::persons::{GUARDIAN_PHONE, PERSON_PHONE, Page};
use crate::sql::{Arg, Sql, insert_rows};
use crate::{DbError, Result, Store, new_id, now_text, parse_stored, timestamp_text};

const RECIPIENT_LABEL: &[u8] = b"notification.recipient";

/// Waits before the second, third, … attempt of a failed delivery; the last one repeats.
const BACKOFF: [Duration; 4] = [
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
];

/// A message being sent is held back from other senders this long: longer than any gateway
/// call may take, short enough that a sender that died mid-way is retried soon.
const SENDING_LEASE: Duration = Duration::minutes(2);

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
    pub next_attempt_at: Option<String>,
    pub person_id: Option<String>,
    pub case_id: Option<String>,
}

/// A message to a person about their case (or about them): an in-app copy for their inbox and
/// a text message to their phone and to each guardian's, since a guardian acts for them.
#[derive(Debug, Clone, Copy)]
pub struct CaseMessage<'a> {
    pub person_id: &'a str,
    pub case_id: Option<&'a str>,
    /// The person's division, carried like on every large table.
    pub division_code: &'a str,
    /// The text in Chinese; text messages carry this one.
    pub zh: &'a str,
    pub en: &'a str,
}

/// One message of a resident's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxMessage {
    pub id: String,
    pub person_id: String,
    pub person_name: String,
    pub case_id: Option<String>,
    pub case_number: Option<String>,
    pub body: String,
    pub body_en: Option<String>,
    pub created_at: String,
    pub read_at: Option<String>,
}

impl InboxMessage {
    /// The text in the reader's language (Chinese when there is no English text).
    pub fn text(&self, lang: zhucan_core::Lang) -> &str {
        match (&self.body_en, lang) {
            (Some(en), zhucan_core::Lang::En) => en,
            _ => &self.body,
        }
    }
}

/// A text message claimed for sending, with the number in the clear.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    pub id: String,
    pub phone: Phone,
    pub body: String,
    pub attempts: i64,
}

const COLUMNS: &str = "id, channel, recipient, recipient_enc, body, body_en, status, attempts, \
     created_at, sent_at, next_attempt_at, person_id, case_id, division_code";

/// The row of a new message: in-app ones are delivered (sent) as they are stored, text
/// messages wait for a sender from now on.
fn message_row(
    crypto: &FieldCrypto,
    id: String,
    to: Option<&Phone>,
    recipient: String,
    body: &str,
    msg: Option<&CaseMessage<'_>>,
) -> [Arg; 14] {
    let now = now_text();
    let (channel, status, sent_at, next_attempt_at) = match to {
        Some(_) => ("sms", "pending", None, Some(now.clone())),
        None => ("in_app", "sent", Some(now.clone()), None),
    };
    [
        id.into(),
        channel.into(),
        recipient.into(),
        to.map(|p| crypto.encrypt_str(RECIPIENT_LABEL, p.as_str()))
            .into(),
        body.into(),
        msg.map(|m| m.en.to_owned()).into(),
        status.into(),
        0_i64.into(),
        now.into(),
        sent_at.into(),
        next_attempt_at.into(),
        msg.map(|m| m.person_id.to_owned()).into(),
        msg.and_then(|m| m.case_id.map(str::to_owned)).into(),
        msg.map(|m| m.division_code.to_owned()).into(),
    ]
}

fn decrypt_phone(crypto: &FieldCrypto, label: &[u8], blob: &[u8]) -> Result<Phone> {
    let text = crypto
        .decrypt_string(label, blob)
        .map_err(|e| DbError::Corrupt(format!("{}: {e}", String::from_utf8_lossy(label))))?;
    parse_stored("phone", &text)
}

/// Queues `msg` inside the caller's write transaction, so the message exists exactly when the
/// event it tells of does: one in-app message, and one text to each distinct phone of the
/// person and their guardians. An unknown person is [`DbError::NotFound`].
pub(crate) async fn enqueue_case_message(
    conn: &mut sqlx::AnyConnection,
    crypto: &FieldCrypto,
    msg: &CaseMessage<'_>,
) -> Result<()> {
    let own: Option<Vec<u8>> = sqlx::query("SELECT phone_enc FROM persons WHERE id = $1")
        .bind(msg.person_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DbError::NotFound)?
        .try_get("phone_enc")?;
    let guardians: Vec<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT phone_enc FROM guardians WHERE person_id = $1 ORDER BY created_at",
    )
    .bind(msg.person_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut phones: Vec<Phone> = Vec::new();
    let labelled = own
        .map(|b| (PERSON_PHONE, b))
        .into_iter()
        .chain(guardians.into_iter().flatten().map(|b| (GUARDIAN_PHONE, b)));
    for (label, blob) in labelled {
        let phone = decrypt_phone(crypto, label, &blob)?;
        // A guardian who is also the person's own contact gets one text, not two.
        if !phones.contains(&phone) {
            phones.push(phone);
        }
    }
    let mut rows = vec![message_row(
        crypto,
        new_id(),
        None,
        msg.person_id.to_owned(),
        msg.zh,
        Some(msg),
    )];
    rows.extend(
        phones
            .iter()
            .map(|p| message_row(crypto, new_id(), Some(p), p.masked(), msg.zh, Some(msg))),
    );
    insert_rows(conn, "notifications", COLUMNS, &rows).await
}

/// `IN ($1, $2, …)` over `values`.
fn push_in(sql: &mut Sql, values: &[String]) {
    sql.push(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v.as_str());
    }
    sql.push(")");
}

impl Store {
    /// Queues a text message; the number is kept encrypted, the outbox page shows it masked.
    pub async fn enqueue_sms(&self, phone: &Phone, body: &str) -> Result<String> {
        let id = new_id();
        let row = message_row(
            &self.crypto,
            id.clone(),
            Some(phone),
            phone.masked(),
            body,
            None,
        );
        let mut conn = self.pool.acquire().await?;
        insert_rows(&mut conn, "notifications", COLUMNS, &[row]).await?;
        Ok(id)
    }

    /// Sends `msg` (see [`CaseMessage`]) in a transaction of its own, with an audit entry: for
    /// staff writing to a resident, and for tests.
    pub async fn send_person_message(&self, actor: &Actor, msg: &CaseMessage<'_>) -> Result<()> {
        let mut w = self.write_tx().await?;
        enqueue_case_message(&mut w.tx, &self.crypto, msg).await?;
        audit::append(
            &mut w.tx,
            &self.crypto,
            actor,
            &[Entry {
                action: "message",
                entity: "person",
                entity_id: msg.person_id.to_owned(),
                division_code: Some(msg.division_code.to_owned()),
                before: None,
                after: Some(json!({ "case_id": msg.case_id, "text": msg.zh })),
            }],
        )
        .await?;
        w.tx.commit().await?;
        Ok(())
    }

    /// Every message still waiting to be sent, due or backing off.
    pub async fn pending_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.notifications_where("status = 'pending'", limit).await
    }

    pub async fn recent_notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.notifications_where("1 = 1", limit).await
    }

    async fn notifications_where(&self, filter: &str, limit: i64) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT id, channel, recipient, body, status, attempts, last_error, created_at, sent_at, \
             next_attempt_at, person_id, case_id \
             FROM notifications WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $1"
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
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    person_id: r.try_get("person_id")?,
                    case_id: r.try_get("case_id")?,
                })
            })
            .collect()
    }

    /// Takes up to `limit` text messages that are due, oldest due first. Each is pushed
    /// [`SENDING_LEASE`] into the future only if no other sender moved it first, so of several
    /// server instances one sends it; [`Store::mark_notification`] then records the outcome.
    pub async fn claim_due_sms(&self, limit: i64) -> Result<Vec<OutgoingSms>> {
        let now = OffsetDateTime::now_utc();
        let rows = sqlx::query(
            "SELECT id, recipient_enc, body, attempts, next_attempt_at FROM notifications \
             WHERE status = 'pending' AND channel = 'sms' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(timestamp_text(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let lease = timestamp_text(now + SENDING_LEASE);
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let due: String = r.try_get("next_attempt_at")?;
            let taken = sqlx::query(
                "UPDATE notifications SET next_attempt_at = $1 \
                 WHERE id = $2 AND status = 'pending' AND next_attempt_at = $3",
            )
            .bind(lease.as_str())
            .bind(id.as_str())
            .bind(due.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
            if taken == 0 {
                continue;
            }
            let phone = r
                .try_get::<Option<Vec<u8>>, _>("recipient_enc")?
                .ok_or_else(|| DbError::Corrupt(format!("notification {id} has no recipient")))
                .and_then(|b| decrypt_phone(&self.crypto, RECIPIENT_LABEL, &b));
            match phone {
                Ok(phone) => claimed.push(OutgoingSms {
                    phone,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    id,
                }),
                // No retry can read it either: give up on this one, keep sending the others.
                Err(e) => self.mark_notification(&id, Some(&e.to_string()), 1).await?,
            }
        }
        Ok(claimed)
    }

    /// Records a delivery attempt: sent, or failed and retried after the next [`BACKOFF`]
    /// delay, or failed for good after `max_attempts` failures.
    pub async fn mark_notification(
        &self,
        id: &str,
        error: Option<&str>,
        max_attempts: i64,
    ) -> Result<()> {
        let now = OffsetDateTime::now_utc();
        let retry = |i: usize| timestamp_text(now + BACKOFF[i]);
        // SET expressions see the row as it was, so `attempts` is the count before this one.
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, last_error = $2, \
             status = CASE WHEN $3 = 1 THEN 'sent' WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END, \
             sent_at = CASE WHEN $3 = 1 THEN $5 ELSE sent_at END, \
             next_attempt_at = CASE WHEN $3 = 1 THEN NULL WHEN attempts = 0 THEN $6 \
               WHEN attempts = 1 THEN $7 WHEN attempts = 2 THEN $8 ELSE $9 END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(i64::from(error.is_none()))
        .bind(max_attempts)
        .bind(timestamp_text(now))
        .bind(retry(0))
        .bind(retry(1))
        .bind(retry(2))
        .bind(retry(3))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// In-app messages to `persons` (a resident and their wards), newest first.
    pub async fn inbox(
        &self,
        persons: &[String],
        page: i64,
        per_page: i64,
    ) -> Result<Page<InboxMessage>> {
        let page = page.max(1);
        if persons.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
                page,
                per_page,
            });
        }
        let mut count =
            Sql::new("SELECT COUNT(*) FROM notifications WHERE channel = 'in_app' AND person_id");
        push_in(&mut count, persons);
        let total: i64 = count
            .query(self.backend)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let mut sql = Sql::new(
            "SELECT n.id, n.person_id, p.name AS person_name, n.case_id, c.number AS case_number, \
             n.body, n.body_en, n.created_at, n.read_at FROM notifications n \
             JOIN persons p ON p.id = n.person_id LEFT JOIN cases c ON c.id = n.case_id \
             WHERE n.channel = 'in_app' AND n.person_id",
        );
        push_in(&mut sql, persons);
        sql.push(" ORDER BY n.created_at DESC, n.id DESC LIMIT ")
            .bind(per_page)
            .push(" OFFSET ")
            .bind((page - 1) * per_page);
        let items = sql
            .query(self.backend)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(InboxMessage {
                    id: r.try_get("id")?,
                    person_id: r.try_get("person_id")?,
                    person_name: r.try_get("person_name")?,
                    case_id: r.try_get("case_id")?,
                    case_number: r.try_get("case_number")?,
                    body: r.try_get("body")?,
                    body_en: r.try_get("body_en")?,
                    created_at: r.try_get("created_at")?,
                    read_at: r.try_get("read_at")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total,
            page,
            per_page,
        })
    }

    /// How many in-app messages to `persons` are unread.
    pub async fn unread_messages(&self, persons: &[String]) -> Result<i64> {
        if persons.is_empty() {
            return Ok(0);
        }
        let mut sql = Sql::new(
            "SELECT COUNT(*) FROM notifications \
             WHERE channel = 'in_app' AND read_at IS NULL AND person_id",
        );
        push_in(&mut sql, persons);
        Ok(sql
            .query(self.backend)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Marks the messages `ids` read, those of them that are unread in-app messages to
    /// `persons` (others are left alone), with one audit entry per person; returns how many.
    pub async fn mark_messages_read(
        &self,
        actor: &Actor,
        persons: &[String],
        ids: &[String],
    ) -> Result<u64> {
        if persons.is_empty() || ids.is_empty() {
            return Ok(0);
        }
        let mut w = self.write_tx().await?;
        let mut sql = Sql::new(
            "SELECT id, person_id, division_code FROM notifications \
             WHERE channel = 'in_app' AND read_at IS NULL AND person_id",
        );
        push_in(&mut sql, persons);
        sql.push(" AND id");
        push_in(&mut sql, ids);
        sql.push(" ORDER BY person_id, id");
        let rows = sql.query(self.backend).fetch_all(&mut *w.tx).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // (person, division, message ids), in person order.
        let mut read: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
        for r in &rows {
            let person: String = r.try_get("person_id")?;
            let id: String = r.try_get("id")?;
            match read.last_mut() {
                Some((p, _, ids)) if *p == person => ids.push(id),
                _ => read.push((person, r.try_get("division_code")?, vec![id])),
            }
        }
        let marked: Vec<String> = read.iter().flat_map(|(_, _, ids)| ids.clone()).collect();
        let mut update = Sql::new("UPDATE notifications SET read_at = ");
        update.bind(now_text()).push(" WHERE id");
        push_in(&mut update, &marked);
        update.query(self.backend).execute(&mut *w.tx).await?;
        let entries: Vec<Entry<'_>> = read
            .into_iter()
            .map(|(person, division, ids)| Entry {
                action: "read_messages",
                entity: "person",
                entity_id: person,
                division_code: division,
                before: None,
                after: Some(json!({ "messages": ids })),
            })
            .collect();
        audit::append(&mut w.tx, &self.crypto, actor, &entries).await?;
        w.tx.commit().await?;
        Ok(marked.len() as u64)
    }
}
