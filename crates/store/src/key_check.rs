//! A database remembers which master key it belongs to: the key check value
//! ([`zhucan_crypto::FieldCrypto::key_check`]) is written when the schema is first created, and
//! every command and the server refuse to read or write under any other key. Without it, one
//! command run with a new key would write rows nobody can read beside rows the new key cannot.

use sqlx::any::install_default_drivers;
use sqlx::{AnyConnection, Connection, Row};

use crate::persons::RID_LABEL;
use crate::{Backend, DbError, Result, Store, sqlite_file};

const KEY_CHECK: &str = "key_check";

/// Counts zhucan's `meta` table: 0 in a database that holds no zhucan schema yet.
fn meta_tables(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'meta'"
        }
    }
}

impl Store {
    /// Whether the database at `url` holds no zhucan schema yet (or, for SQLite, does not exist):
    /// a new master key may be made only for such a one. Creates nothing.
    pub async fn is_new_database(url: &str) -> Result<bool> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite && sqlite_file(url).is_some_and(|f| !f.exists()) {
            return Ok(true);
        }
        let mut conn = AnyConnection::connect(url).await?;
        let tables: i64 = sqlx::query_scalar(meta_tables(backend))
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        Ok(tables == 0)
    }

    /// Refuses a key that is not the database's ([`DbError::WrongKey`]). A database without a
    /// check value takes this key's — after proving, on a database made before check values
    /// existed, that the key reads what is stored.
    pub async fn check_key(&self) -> Result<()> {
        let tables: i64 = sqlx::query_scalar(meta_tables(self.backend))
            .fetch_one(&self.pool)
            .await?;
        if tables == 0 {
            // Nothing is stored yet; `migrate` records the key.
            return Ok(());
        }
        let ours = self.crypto.key_check();
        let mut w = self.write_tx().await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(KEY_CHECK)
            .fetch_optional(&mut *w.tx)
            .await?;
        match stored {
            Some(stored) if zhucan_crypto::constant_time_eq(stored.as_bytes(), ours.as_bytes()) => {
                Ok(())
            }
            Some(_) => Err(DbError::WrongKey),
            None => {
                let sample = sqlx::query("SELECT rid_enc FROM persons LIMIT 1")
                    .fetch_optional(&mut *w.tx)
                    .await?;
                if let Some(row) = sample {
                    let blob: Vec<u8> = row.try_get("rid_enc")?;
                    if self.crypto.decrypt(RID_LABEL, &blob).is_err() {
                        return Err(DbError::WrongKey);
                    }
                }
                sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                    .bind(KEY_CHECK)
                    .bind(ours)
                    .execute(&mut *w.tx)
                    .await?;
                w.tx.commit().await?;
                Ok(())
            }
        }
    }
}
