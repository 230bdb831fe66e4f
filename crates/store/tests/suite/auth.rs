//! Accounts, sessions, login-attempt windows and one-time codes.

use time::{Duration, OffsetDateTime};
use zhucan_core::{Role, Username};
use zhucan_store::{
    Account, AttemptId, AttemptLimit, AttemptLimits, AuditVerification, DbError, NewAccount,
    OneTimeCode, SessionKind, Store,
};

use crate::common::*;

backend_tests!(
    accounts_are_unique_and_audited_without_their_hash,
    sessions_live_expire_and_end,
    login_attempts_are_limited_per_subject_and_client_in_a_window,
    parallel_login_attempts_cannot_race_the_limit,
    sixty_four_parallel_writers_all_succeed,
    one_time_codes_work_once_and_run_out,
);

async fn account(db: &TestDb, username: &str, role: Role, scope: &str) -> Account {
    db.store
        .create_account(
            &system(),
            NewAccount {
                username: Username::parse(username).unwrap(),
                display_name: format!("{username} 显示名"),
                password_hash: "$argon2id$fake-hash-for-tests".into(),
                role,
                scope: code(scope),
            },
        )
        .await
        .unwrap()
}

async fn accounts_are_unique_and_audited_without_their_hash(db: TestDb) {
    let store = &db.store;
    let wang = account(&db, "Wang", Role::StreetReviewer, STREET_A).await;
    assert_eq!(wang.username.as_str(), "wang");
    assert_eq!(wang.role, Role::StreetReviewer);
    assert_eq!(wang.scope.as_str(), STREET_A);
    assert!(wang.active);
    let again = store
        .create_account(
            &system(),
            NewAccount {
                username: Username::parse("WANG").unwrap(),
                display_name: "另一个王".into(),
                password_hash: "x".into(),
                role: Role::Admin,
                scope: code(DISTRICT),
            },
        )
        .await;
    assert!(matches!(again, Err(DbError::Duplicate("username"))));
    account(&db, "admin", Role::Admin, DISTRICT).await;

    let found = store.account_by_username("wang").await.unwrap().unwrap();
    assert_eq!(found.id, wang.id);
    assert_eq!(found.password_hash, "$argon2id$fake-hash-for-tests");
    assert!(store.account_by_username("nobody").await.unwrap().is_none());
    assert!(store.account("no-such-id").await.unwrap().is_none());
    let names: Vec<String> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username.as_str().to_owned())
        .collect();
    assert_eq!(names, ["admin", "wang"]);

    let trail = store.audit_for("account", &wang.id).await.unwrap();
    assert_eq!(trail.len(), 1);
    let after = trail[0].after.as_ref().unwrap();
    assert_eq!(after["username"], "wang");
    assert_eq!(after["role"], "street_reviewer");
    for value in db
        .column_bytes("audit_log", &["before_json", "after_json"])
        .await
    {
        assert!(
            !contains(&value, b"argon2"),
            "a password hash in the audit log"
        );
    }
}

async fn sessions_live_expire_and_end(db: TestDb) {
    let store = &db.store;
    let staff_account = account(&db, "wang", Role::CommunityWorker, COMMUNITY_A1).await;
    store
        .create_session(
            "hash-staff",
            SessionKind::Staff,
            Some(&staff_account.id),
            None,
            "csrf-staff",
            Duration::hours(8),
        )
        .await
        .unwrap();
    let phone_index = store.crypto().blind_index(b"phone", phone(1).as_str());
    store
        .create_session(
            "hash-resident",
            SessionKind::Resident,
            None,
            Some(&phone_index),
            "csrf-resident",
            Duration::hours(2),
        )
        .await
        .unwrap();
    store
        .create_session(
            "hash-expired",
            SessionKind::Staff,
            Some(&staff_account.id),
            None,
            "csrf-old",
            Duration::seconds(-1),
        )
        .await
        .unwrap();

    let s = store.session("hash-staff").await.unwrap().expect("live");
    assert_eq!(s.kind, SessionKind::Staff);
    assert_eq!(s.account_id.as_deref(), Some(staff_account.id.as_str()));
    assert_eq!(s.phone_index, None);
    assert_eq!(s.csrf_token, "csrf-staff");
    let in_7h = timestamp(OffsetDateTime::now_utc() + Duration::hours(7));
    assert!(s.expires_at > in_7h, "{} lasts about 8 hours", s.expires_at);
    let r = store.session("hash-resident").await.unwrap().expect("live");
    assert_eq!(r.kind, SessionKind::Resident);
    assert_eq!(r.account_id, None);
    assert_eq!(r.phone_index.as_deref(), Some(phone_index.as_slice()));

    assert!(store.session("hash-expired").await.unwrap().is_none());
    assert!(store.session("unknown").await.unwrap().is_none());
    // A token hash is a key: the same one cannot start a second session.
    assert!(
        store
            .create_session(
                "hash-staff",
                SessionKind::Staff,
                None,
                None,
                "x",
                Duration::hours(1)
            )
            .await
            .is_err()
    );

    store.delete_session("hash-staff").await.unwrap();
    assert!(store.session("hash-staff").await.unwrap().is_none());
    store.delete_session("hash-staff").await.unwrap();
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    assert_eq!(db.count("sessions").await, 1);
    assert!(store.session("hash-resident").await.unwrap().is_some());
}

const LIMITS: AttemptLimits = AttemptLimits {
    window: Duration::minutes(15),
    per_subject_client: 3,
    per_subject: 5,
    per_client: 8,
};

async fn attempt(db: &TestDb, subject: &str, client: &str) -> Result<AttemptId, AttemptLimit> {
    db.store
        .begin_login_attempt(subject, client, &LIMITS)
        .await
        .unwrap()
}

async fn login_attempts_are_limited_per_subject_and_client_in_a_window(db: TestDb) {
    for _ in 0..3 {
        attempt(&db, "alice", "10.0.0.1").await.unwrap();
    }
    assert_eq!(
        attempt(&db, "alice", "10.0.0.1").await.unwrap_err(),
        AttemptLimit::SubjectFromClient,
        "the fourth failure from one address is refused"
    );
    // The same user from another address is not locked out by the first one.
    let ok = attempt(&db, "alice", "10.0.0.2").await.unwrap();
    db.store.login_attempt_succeeded(ok).await.unwrap();
    attempt(&db, "alice", "10.0.0.3").await.unwrap();
    attempt(&db, "alice", "10.0.0.4").await.unwrap();
    assert_eq!(
        attempt(&db, "alice", "10.0.0.5").await.unwrap_err(),
        AttemptLimit::Subject,
        "a success does not count; five failures from anywhere reach the account's cap"
    );
    for n in 0..3 {
        attempt(&db, &format!("user{n}"), "10.9.9.9").await.unwrap();
    }
    attempt(&db, "bob", "10.0.0.1").await.unwrap();
    for n in 0..4 {
        attempt(&db, &format!("other{n}"), "10.0.0.1")
            .await
            .unwrap();
    }
    assert_eq!(
        attempt(&db, "carol", "10.0.0.1").await.unwrap_err(),
        AttemptLimit::Client,
        "eight failures from one address, whatever the user names"
    );
    // Failures older than the window do not count.
    sqlx::query("UPDATE login_attempts SET at = $1")
        .bind(timestamp(OffsetDateTime::now_utc() - Duration::hours(1)))
        .execute(&db.raw)
        .await
        .unwrap();
    attempt(&db, "alice", "10.0.0.1").await.unwrap();
    attempt(&db, "carol", "10.0.0.1").await.unwrap();
}

/// Parallel guesses are counted before any is checked: no more pass than the limit allows.
async fn parallel_login_attempts_cannot_race_the_limit(db: TestDb) {
    let store = db.store.clone();
    let guesses = (0..40).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .begin_login_attempt("alice", "10.0.0.1", &LIMITS)
                .await
                .unwrap()
                .is_ok()
        })
    });
    let mut passed = 0;
    for guess in guesses.collect::<Vec<_>>() {
        passed += usize::from(guess.await.unwrap());
    }
    assert_eq!(passed, 3, "exactly the limit is let through");
}

/// 64 writers at once, of every kind: transactions that read before they write (audit appends,
/// counted sign-in attempts) beside single-statement writes (sessions), from two stores on one
/// database as a server and a command would be. SQLite once answered some of them
/// `database is locked` (code 517).
async fn sixty_four_parallel_writers_all_succeed(db: TestDb) {
    let other = Store::connect(&db.url, db.store.crypto().clone())
        .await
        .unwrap();
    let tasks = (0..64).map(|n| {
        let store = if n % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tokio::spawn(async move {
            let who = format!("user{n}");
            match n % 3 {
                0 => store
                    .create_session(
                        &who,
                        SessionKind::Staff,
                        None,
                        None,
                        "csrf",
                        Duration::hours(1),
                    )
                    .await
                    .map(drop),
                1 => {
                    store
                        .audit_event(&system(), "sign-in", "account", &who, None)
                        .await
                }
                _ => store
                    .begin_login_attempt(&who, &format!("10.0.0.{n}"), &LIMITS)
                    .await
                    .map(|counted| assert!(counted.is_ok())),
            }
        })
    });
    let mut failures = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        if let Err(e) = task.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} writers failed: {failures:?}",
        failures.len()
    );
    assert_eq!(db.count("sessions").await, 22);
    assert_eq!(db.count("login_attempts").await, 21);
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}

async fn one_time_codes_work_once_and_run_out(db: TestDb) {
    let store = &db.store;
    let index = |n: u32| store.crypto().blind_index(b"phone", phone(n).as_str());
    let five = Duration::minutes(5);

    // Valid once; a wrong try before it is only counted.
    let p1 = index(1);
    store
        .create_one_time_code(&p1, "code-a", five)
        .await
        .unwrap();
    assert_eq!(
        store.check_one_time_code(&p1, "wrong", 5).await.unwrap(),
        OneTimeCode::Wrong
    );
    assert_eq!(
        store.check_one_time_code(&p1, "code-a", 5).await.unwrap(),
        OneTimeCode::Valid
    );
    assert_eq!(
        store.check_one_time_code(&p1, "code-a", 5).await.unwrap(),
        OneTimeCode::Unusable,
        "a used code does not work twice"
    );

    // Too many wrong tries use the code up, even for the right code afterwards.
    let p2 = index(2);
    store
        .create_one_time_code(&p2, "code-b", five)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            store.check_one_time_code(&p2, "wrong", 3).await.unwrap(),
            OneTimeCode::Wrong
        );
    }
    assert_eq!(
        store.check_one_time_code(&p2, "code-b", 3).await.unwrap(),
        OneTimeCode::Unusable
    );
    let attempts: i64 =
        sqlx::query_scalar("SELECT attempts FROM one_time_codes WHERE code_hash = 'code-b'")
            .fetch_one(&db.raw)
            .await
            .unwrap();
    assert_eq!(attempts, 3);

    // Expired.
    let p3 = index(3);
    store
        .create_one_time_code(&p3, "code-c", Duration::seconds(-1))
        .await
        .unwrap();
    assert_eq!(
        store.check_one_time_code(&p3, "code-c", 5).await.unwrap(),
        OneTimeCode::Unusable
    );

    // A new code supersedes the old one.
    let p4 = index(4);
    store
        .create_one_time_code(&p4, "code-old", five)
        .await
        .unwrap();
    store
        .create_one_time_code(&p4, "code-new", five)
        .await
        .unwrap();
    assert_eq!(
        store.check_one_time_code(&p4, "code-old", 5).await.unwrap(),
        OneTimeCode::Wrong
    );
    assert_eq!(
        store.check_one_time_code(&p4, "code-new", 5).await.unwrap(),
        OneTimeCode::Valid
    );

    // Codes belong to their phone.
    let p5 = index(5);
    store
        .create_one_time_code(&p5, "code-e", five)
        .await
        .unwrap();
    assert_eq!(
        store
            .check_one_time_code(&index(6), "code-e", 5)
            .await
            .unwrap(),
        OneTimeCode::Unusable
    );
    assert_eq!(
        store.check_one_time_code(&p5, "code-e", 5).await.unwrap(),
        OneTimeCode::Valid
    );
}
