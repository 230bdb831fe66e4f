//! Persistence for zhucan: one `Store` over SQLite (embedded default) or PostgreSQL.
//!
//! Queries are written once, in the SQL subset both backends share, and run through sqlx's `Any`
//! driver; each backend has its own migrations folder and its own bulk-load path (see `bulk`).
//! Every query on persons takes a [`Scope`] and filters by it here, so a handler cannot forget to.

mod accounts;
mod audit;
mod audit_head;
mod bulk;
mod bulk_cases;
mod cases;
mod catalog;
mod copy;
mod divisions;
mod key_check;
mod outbox;
mod outcomes;
mod persons;
mod portal_queries;
mod reader;
mod sessions;
mod sql;
mod workflow;

pub use accounts::{Account, NewAccount};
pub use audit::{Actor, AuditRecord, AuditVerification};
pub use audit_head::{AuditHead, HeadFile};
pub use bulk::{BulkImport, BulkOutcome, EncodedRows, PersonRow, Rejection};
pub use bulk_cases::{CasePerson, SyntheticCase, SyntheticEvent};
pub use cases::{CaseEvent, CaseRecord, CaseSummary, Channel, NewCase, action_name};
pub use catalog::{DayKind, StoredVersion, VersionRefusal, VersionStatus, draft_of};
pub use divisions::Division;
pub use outbox::{CaseMessage, InboxMessage, Notification, OutgoingSms};
pub use outcomes::Entitlement;
pub use persons::{
    CertificateInput, CertificateRecord, ConsentRecord, GuardianInput, GuardianRecord, Page,
    PersonFilter, PersonInput, PersonRecord, PersonSummary, SearchTerm,
};
pub use sessions::{AttemptId, AttemptLimit, AttemptLimits, OneTimeCode, Session, SessionKind};
pub use workflow::{
    DocumentMeta, DueWork, MAX_OBJECTIONS_PER_CLIENT, NoticeEntry, Objection, Rating, Task,
};

use std::str::FromStr;
use std::sync::Arc;

use sqlx::ConnectOptions;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, MutexGuard};
use zhucan_core::DivisionCode;
use zhucan_crypto::FieldCrypto;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    Url(String),
    #[error("not found")]
    NotFound,
    /// Optimistic lock: someone else saved the record since it was read.
    #[error("the record was changed by someone else (now at version {current})")]
    Conflict { current: i64 },
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error("division {0} is not in the division table")]
    UnknownDivision(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The copy of the audit chain's head outside the database could not be written.
    #[error("writing the audit head to {0}: {1}")]
    AuditHead(std::path::PathBuf, std::io::Error),
    /// The master key given is not the one this database's data is encrypted under.
    #[error("the master key is not this database's key")]
    WrongKey,
    /// The case cannot move that way from where it is.
    #[error("{0}")]
    Transition(#[from] zhucan_services::TransitionError),
    /// Another reviewer claimed the case at its step.
    #[error("the case is claimed by {by}")]
    Claimed { by: String },
    /// The decision cannot have its effect (award missing, no certificate to act on, …).
    #[error("{0}")]
    Outcome(#[from] zhucan_services::OutcomeError),
    /// Too many requests of one kind from one client in a while (zh, en).
    #[error("{en}")]
    RateLimited { zh: String, en: String },
    /// Input the store refuses, with the field it concerns and why (zh, en).
    #[error("{field}: {en}")]
    Invalid {
        field: &'static str,
        zh: String,
        en: String,
    },
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("PostgreSQL") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::Url(url.to_owned()))
        }
    }
}

/// Which persons a caller may see. Staff get their division; residents get themselves and
/// their wards; system jobs get everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Division(DivisionCode),
    Persons(Vec<String>),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: Arc<str>,
    crypto: FieldCrypto,
    /// Writers of this process queue here before taking a connection. SQLite allows one writer
    /// (this avoids lock-upgrade failures between pooled connections); on PostgreSQL the advisory
    /// lock orders writers across instances, and queueing here first keeps waiting writers from
    /// holding pool connections that the lock holder may need.
    writer: Arc<Mutex<()>>,
    /// SQLite: reads run on the calling thread (see `reader`).
    reader: Option<Arc<reader::Reader>>,
}

/// A write transaction that also orders audit appends (their hash chain needs a total order).
pub(crate) struct WriteTx<'a> {
    pub tx: Transaction<'static, Any>,
    _writer: MutexGuard<'a, ()>,
}

/// Advisory lock key for the audit hash chain on PostgreSQL ("zhucan" in ASCII, truncated).
pub(crate) const AUDIT_LOCK: i64 = 0x7a68_7563_616e;

impl Store {
    pub async fn connect(url: &str, crypto: FieldCrypto) -> Result<Store> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        // Statements are not logged: bulk INSERTs would print megabytes of placeholders, and
        // slow requests show in the server's latency metrics instead.
        let options = AnyConnectOptions::from_str(&match backend {
            Backend::Sqlite => sqlite_url(url),
            Backend::Postgres => url.to_owned(),
        })?
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, std::time::Duration::from_secs(1));
        // No ping before each use: on SQLite it is one more trip to the connection's thread, on
        // PostgreSQL one more round trip, on every statement. A connection found broken fails
        // its statement and is dropped; the next takes a fresh one.
        let pool_options = AnyPoolOptions::new().test_before_acquire(false);
        let pool = match backend {
            Backend::Sqlite => {
                pool_options
                    // Each connection keeps its own page cache; the pool hands out connections in
                    // turn, so their number times the cache size bounds the memory SQLite may hold.
                    .max_connections(4)
                    // Checkpointing every 64 MB of WAL rather than every 4 MB lets bulk imports
                    // write each index page to the database file once instead of many times.
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                 PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY; \
                                 PRAGMA wal_autocheckpoint = 16384;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => pool_options.max_connections(16).connect(url).await?,
        };
        Ok(Store {
            pool,
            backend,
            url: url.into(),
            crypto,
            writer: Arc::new(Mutex::new(())),
            reader: match backend {
                Backend::Sqlite => reader::Reader::for_url(url).map(Arc::new),
                Backend::Postgres => None,
            },
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&sqlite_url(&self.url)).await?;
                sqlx::migrate!("migrations/sqlite").run(&pool).await?;
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await?;
                sqlx::migrate!("migrations/postgres").run(&pool).await?;
                pool.close().await;
            }
        }
        self.check_key().await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn crypto(&self) -> &FieldCrypto {
        &self.crypto
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn write_tx(&self) -> Result<WriteTx<'_>> {
        let writer = self.writer.lock().await;
        let tx = match self.backend {
            // A deferred transaction that reads first and then writes fails at once with
            // SQLITE_BUSY_SNAPSHOT (517) when another connection (a command, an autocommit write
            // of this process) committed in between; the busy timeout does not help it. Taking
            // the write lock at BEGIN makes SQLite wait for it instead.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The file of a `sqlite://PATH[?…]` URL; `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// `sqlite://PATH` with the file created on first use.
fn sqlite_url(url: &str) -> String {
    if url.contains('?') || url.contains(":memory:") {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    }
}

pub(crate) fn now_text() -> String {
    timestamp_text(time::OffsetDateTime::now_utc())
}

/// Fixed-width UTC timestamps sort as text on both backends.
pub(crate) fn timestamp_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn parse_stored<T: FromStr>(column: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| DbError::Corrupt(format!("{column} = {value:?}")))
}
