//! The audit chain's head — its last sequence number and hash — copied outside the database
//! every minute and at shutdown. Deleting the newest records (after dropping the trigger that
//! refuses it) leaves a chain that still verifies, only shorter than its copy.

use std::io::Write;
use std::path::{Path, PathBuf};

use sqlx::Row;

use crate::{AuditVerification, Result, Store, now_text};

/// The last record of the chain when it was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    /// When it was copied (UTC).
    pub at: String,
}

/// The file the head is copied to: by default beside the SQLite database or in the data
/// folder; an operator may put it on another machine's mount, out of reach of whoever can
/// write the database.
#[derive(Debug, Clone)]
pub struct HeadFile(PathBuf);

impl HeadFile {
    pub fn new(path: impl Into<PathBuf>) -> HeadFile {
        HeadFile(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The head last copied; `None` before the first copy.
    pub fn read(&self) -> std::io::Result<Option<AuditHead>> {
        let text = match std::fs::read_to_string(&self.0) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut words = text.split_whitespace();
        let head = (|| {
            Some(AuditHead {
                seq: words.next()?.parse().ok()?,
                hash: words.next()?.to_owned(),
                at: words.next()?.to_owned(),
            })
        })();
        head.map(Some).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not an audit head (expected: SEQ HASH TIME)",
                    self.0.display()
                ),
            )
        })
    }

    /// Replaces the copy whole (a new file renamed over the old), so a crash leaves one or the other.
    fn write(&self, head: &AuditHead) -> std::io::Result<()> {
        let temp = self.0.with_extension("tmp");
        let mut file = std::fs::File::create(&temp)?;
        writeln!(file, "{} {} {}", head.seq, head.hash, head.at)?;
        file.sync_all()?;
        std::fs::rename(&temp, &self.0)
    }
}

impl Store {
    /// The chain's last record, if any.
    pub async fn audit_head(&self) -> Result<Option<AuditHead>> {
        let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(AuditHead {
                seq: row.try_get("seq")?,
                hash: row.try_get("hash")?,
                at: now_text(),
            })
        })
        .transpose()
    }

    /// Copies the head to `file` when it moved since the last copy; logs it too, for a log
    /// collector to keep. Returns the head copied.
    pub async fn checkpoint_audit(&self, file: &HeadFile) -> Result<Option<AuditHead>> {
        let Some(head) = self.audit_head().await? else {
            return Ok(None);
        };
        let last = file.read().ok().flatten();
        if last.as_ref().map(|l| (l.seq, &l.hash)) != Some((head.seq, &head.hash)) {
            file.write(&head)
                .map_err(|e| crate::DbError::AuditHead(file.path().to_owned(), e))?;
            tracing::info!(seq = head.seq, hash = %head.hash, "audit head copied");
        }
        Ok(Some(head))
    }

    /// Verifies the chain, then that it reaches the head last copied outside the database.
    pub async fn verify_audit_to(&self, copy: &AuditHead) -> Result<AuditVerification> {
        let verified = self.verify_audit().await?;
        if matches!(verified, AuditVerification::Broken { .. }) {
            return Ok(verified);
        }
        let stored: Option<String> =
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(copy.seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match stored {
            Some(hash) if hash == copy.hash => verified,
            Some(_) => AuditVerification::Broken {
                seq: copy.seq,
                reason: format!(
                    "the record differs from the copy of the chain's head made at {}",
                    copy.at
                ),
            },
            None => {
                let last = self.audit_head().await?.map_or(0, |h| h.seq);
                AuditVerification::Broken {
                    seq: last + 1,
                    reason: format!(
                        "records {} to {} are missing: the copy of the chain's head made at {} \
                         names record {} (the newest records were deleted, or the database was \
                         restored from an older backup)",
                        last + 1,
                        copy.seq,
                        copy.at,
                        copy.seq
                    ),
                }
            }
        })
    }
}
