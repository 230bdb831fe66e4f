//! Work that falls due with time rather than with a request: public notices ending, overdue
//! cases escalating. Every server instance runs the loop; the store makes each change at most
//! once however many do.

use std::time::Duration;

use zhucan_store::{HeadFile, Store};

/// How often the timed work runs: notices end by the day, so minutes are plenty.
const EVERY: Duration = Duration::from_secs(300);

pub async fn run_due_work(store: Store) {
    loop {
        match store.run_due_work().await {
            Ok(done) if done.notices_ended + done.escalated > 0 => {
                tracing::info!(
                    notices_ended = done.notices_ended,
                    escalated = done.escalated,
                    "timed work done"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "timed work"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Copies the audit chain's head outside the database every minute (and `serve` once more at
/// shutdown), so that deleting the newest records shows in `audit verify`.
pub async fn copy_audit_head(store: Store, file: HeadFile) {
    loop {
        if let Err(e) = store.checkpoint_audit(&file).await {
            tracing::error!(error = %e, "copying the audit head");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
