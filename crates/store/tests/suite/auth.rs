//! Accounts, sessions, login-attempt windows and one-time codes.

use time::{Duration, OffsetDateTime};
use zhucan_core::{Role, Username};
use zhucan_store::{Account, DbError, NewAccount, OneTimeCode, SessionKind};

use crate::common::*;

backend_tests!(
    accounts_are_unique_and_audited_without_their_hash,
    sessions_live_expire_and_end,
    login_failures_are_counted_per_subject_and_client_in_a_window,
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

async fn login_failures_are_counted_per_subject_and_client_in_a_window(db: TestDb) {
    let store = &db.store;
    let window = Duration::minutes(15);
    for _ in 0..3 {
        store
            .record_login_attempt("alice", "10.0.0.1", false)
            .await
            .unwrap();
    }
    store
        .record_login_attempt("alice", "10.0.0.1", true)
        .await
        .unwrap();
    store
        .record_login_attempt("bob", "10.0.0.1", false)
        .await
        .unwrap();
    store
        .record_login_attempt("alice", "10.0.0.2", false)
        .await
        .unwrap();
    assert_eq!(
        store
            .recent_failures("alice", "10.0.0.1", window)
            .await
            .unwrap(),
        (4, 4),
        "successes do not count; the subject across clients, the client across subjects"
    );
    assert_eq!(
        store
            .recent_failures("bob", "10.0.0.2", window)
            .await
            .unwrap(),
        (1, 1)
    );
    assert_eq!(
        store
            .recent_failures("carol", "10.9.9.9", window)
            .await
            .unwrap(),
        (0, 0)
    );
    // An hour-old failure is outside a 15-minute window and inside a 2-hour one.
    sqlx::query(
        "INSERT INTO login_attempts (id, subject, client, success, at) VALUES ('old-1', 'alice', '10.0.0.1', 0, $1)",
    )
    .bind(timestamp(OffsetDateTime::now_utc() - Duration::hours(1)))
    .execute(&db.raw)
    .await
    .unwrap();
    assert_eq!(
        store
            .recent_failures("alice", "10.0.0.1", window)
            .await
            .unwrap(),
        (4, 4)
    );
    assert_eq!(
        store
            .recent_failures("alice", "10.0.0.1", Duration::hours(2))
            .await
            .unwrap(),
        (5, 5)
    );
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
