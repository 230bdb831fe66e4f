//! Resolved sessions, kept for a few seconds in each server so that a signed-in request does not
//! pay the session's database lookups every time (the session, then the account or the persons
//! a resident's phone may see, and their unread messages).
//!
//! What this costs: a sign-out or an account's deactivation made on another instance takes
//! effect here within [`TTL`]; on this instance a sign-out takes effect at once (`forget`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ctx::Principal;

/// How long a resolved session is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(5);

/// More entries than this and the expired ones are dropped (bounded memory under many users).
const PRUNE_ABOVE: usize = 50_000;

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (Instant, Principal, String)>>,
}

impl SessionCache {
    /// The principal and CSRF token of the session with token hash `hash`, if resolved lately.
    pub fn get(&self, hash: &str) -> Option<(Principal, String)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, principal, csrf) = entries.get(hash)?;
        (at.elapsed() < TTL).then(|| (principal.clone(), csrf.clone()))
    }

    pub fn put(&self, hash: &str, principal: &Principal, csrf: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= PRUNE_ABOVE {
            entries.retain(|_, (at, _, _)| at.elapsed() < TTL);
        }
        entries.insert(
            hash.to_owned(),
            (Instant::now(), principal.clone(), csrf.to_owned()),
        );
    }

    /// Resolve the session afresh on its next request (signed out, messages read, …).
    pub fn forget(&self, hash: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_kept_until_forgotten() {
        let cache = SessionCache::default();
        assert!(cache.get("h").is_none());
        cache.put("h", &Principal::Anonymous, "csrf");
        let (p, csrf) = cache.get("h").unwrap();
        assert!(matches!(p, Principal::Anonymous));
        assert_eq!(csrf, "csrf");
        cache.forget("h");
        assert!(cache.get("h").is_none());
    }
}
