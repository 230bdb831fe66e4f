//! The audit log: every change and view is appended with masked snapshots, the SM3 chain shows
//! tampering, and the database itself refuses UPDATE and DELETE.

use sqlx::Row;
use zhucan_core::PersonName;
use zhucan_store::{AuditVerification, Backend, Scope};

use crate::common::*;

backend_tests!(
    every_create_update_and_view_is_audited_with_masked_snapshots,
    tampering_with_a_record_breaks_the_chain_there,
    the_database_refuses_to_change_the_audit_log,
);

const AUDIT_COLUMNS: [&str; 13] = [
    "seq",
    "at",
    "actor",
    "actor_role",
    "action",
    "entity",
    "entity_id",
    "division_code",
    "before_json",
    "after_json",
    "client",
    "prev_hash",
    "hash",
];

async fn every_create_update_and_view_is_audited_with_masked_snapshots(db: TestDb) {
    let store = &db.store;
    let worker = staff("wang", "community_worker");
    let input = with_guardian(person(1, "张伟", COMMUNITY_A1), "李芳", phone(901));
    let id = store
        .create_person(&worker, &Scope::All, &input)
        .await
        .unwrap();
    let mut edited = input.clone();
    edited.name = PersonName::parse("张伟强").unwrap();
    edited.phone = Some(phone(77));
    store
        .update_person(&worker, &Scope::All, &id, 1, &edited)
        .await
        .unwrap();
    store.view_person(&worker, &Scope::All, &id).await.unwrap();
    store
        .record_consent(&worker, &Scope::All, &id, "康复服务", "本人")
        .await
        .unwrap();

    let trail = store.audit_for("person", &id).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["consent", "view", "update", "create"],
        "newest first"
    );
    assert!(trail.windows(2).all(|w| w[0].seq > w[1].seq));
    for r in &trail {
        assert_eq!(r.actor, "account:wang");
        assert_eq!(r.actor_role, "community_worker");
        assert_eq!(r.client.as_deref(), Some("127.0.0.1"));
        assert_eq!(r.entity, "person");
        assert_eq!(r.division_code.as_deref(), Some(COMMUNITY_A1));
    }
    let (view, update, create) = (&trail[1], &trail[2], &trail[3]);
    assert!(view.before.is_none() && view.after.is_none());
    assert!(create.before.is_none());
    let after = create.after.as_ref().unwrap();
    assert_eq!(after["resident_id"], input.resident_id.masked());
    assert_eq!(after["phone"], input.phone.as_ref().unwrap().masked());
    assert_eq!(
        after["certificate"]["number"],
        input.certificate.as_ref().unwrap().number.masked()
    );
    assert_eq!(after["certificate"]["grade"], 2);
    assert_eq!(after["guardian"]["phone"], phone(901).masked());
    let (before, after) = (
        update.before.as_ref().unwrap(),
        update.after.as_ref().unwrap(),
    );
    assert_eq!(before["name"], "张伟");
    assert_eq!(after["name"], "张伟强");
    assert_eq!(before["phone"], phone(1).masked());
    assert_eq!(after["phone"], phone(77).masked());
    // The whole history is also what person_history gives inside a scope.
    assert_eq!(
        store
            .person_history(&street_scope(STREET_A), &id)
            .await
            .unwrap()
            .len(),
        4
    );

    // No full number anywhere in the audit log, in any column.
    let secrets = [
        input.resident_id.as_str().to_owned(),
        input
            .certificate
            .as_ref()
            .unwrap()
            .number
            .as_str()
            .to_owned(),
        phone(1).as_str().to_owned(),
        phone(77).as_str().to_owned(),
        phone(901).as_str().to_owned(),
    ];
    for value in db.column_bytes("audit_log", &AUDIT_COLUMNS).await {
        for secret in &secrets {
            assert!(
                !contains(&value, secret.as_bytes()),
                "audit_log holds {secret} in the clear"
            );
        }
    }
    let snapshots: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT before_json FROM audit_log UNION ALL SELECT after_json FROM audit_log",
    )
    .fetch_all(&db.raw)
    .await
    .unwrap();
    for s in snapshots.into_iter().flatten() {
        assert!(!has_digit_run(&s, 13), "an unmasked ID in {s}");
    }

    let total = db.count("audit_log").await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { records: total }
    );
}

async fn tampering_with_a_record_breaks_the_chain_there(db: TestDb) {
    let store = &db.store;
    let mut ids = Vec::new();
    for (n, name) in [(1, "张伟"), (2, "王芳"), (3, "李四")] {
        ids.push(
            store
                .create_person(&system(), &Scope::All, &person(n, name, COMMUNITY_A1))
                .await
                .unwrap(),
        );
    }
    store
        .view_person(&system(), &Scope::All, &ids[0])
        .await
        .unwrap();
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM audit_log ORDER BY seq")
        .fetch_all(&db.raw)
        .await
        .unwrap();
    assert!(seqs.len() >= 4);
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact {
            records: seqs.len() as i64
        }
    );

    // The record of 王芳's creation, rewritten as someone with database access could.
    let target = seqs[seqs.len() - 3];
    let original: String = sqlx::query_scalar("SELECT after_json FROM audit_log WHERE seq = $1")
        .bind(target)
        .fetch_one(&db.raw)
        .await
        .unwrap();
    assert!(original.contains("王芳"));
    db.allow_audit_tampering().await;
    sqlx::query("UPDATE audit_log SET after_json = $1 WHERE seq = $2")
        .bind(original.replace("王芳", "李鬼"))
        .bind(target)
        .execute(&db.raw)
        .await
        .unwrap();
    match store.verify_audit().await.unwrap() {
        AuditVerification::Broken { seq, reason } => {
            assert_eq!(seq, target);
            assert!(reason.contains("hash"), "{reason}");
        }
        intact => panic!("tampering not detected: {intact:?}"),
    }

    // Put back, the chain holds again; a changed actor is caught the same way.
    sqlx::query("UPDATE audit_log SET after_json = $1 WHERE seq = $2")
        .bind(&original)
        .bind(target)
        .execute(&db.raw)
        .await
        .unwrap();
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
    sqlx::query("UPDATE audit_log SET actor = 'system:nobody' WHERE seq = $1")
        .bind(seqs[0])
        .execute(&db.raw)
        .await
        .unwrap();
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Broken { seq, .. } if seq == seqs[0]
    ));
    sqlx::query("UPDATE audit_log SET actor = 'system:test' WHERE seq = $1")
        .bind(seqs[0])
        .execute(&db.raw)
        .await
        .unwrap();

    // A deleted record shows at the one after it, whose link no longer matches.
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(target)
        .execute(&db.raw)
        .await
        .unwrap();
    match store.verify_audit().await.unwrap() {
        AuditVerification::Broken { seq, reason } => {
            assert_eq!(seq, seqs[seqs.len() - 2]);
            assert!(reason.contains("previous"), "{reason}");
        }
        intact => panic!("deletion not detected: {intact:?}"),
    }
}

async fn the_database_refuses_to_change_the_audit_log(db: TestDb) {
    let store = &db.store;
    let id = store
        .create_person(&system(), &Scope::All, &person(1, "张伟", COMMUNITY_A1))
        .await
        .unwrap();
    store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    let before = db.count("audit_log").await;
    assert_eq!(before, 2);

    let mut refused = vec![
        "UPDATE audit_log SET actor = 'someone else'",
        "UPDATE audit_log SET after_json = NULL WHERE action = 'create'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'view'",
    ];
    if db.backend == Backend::Postgres {
        refused.push("TRUNCATE audit_log");
    }
    for sql in refused {
        let err = db
            .exec(sql)
            .await
            .expect_err(&format!("{sql} should be refused"));
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(db.count("audit_log").await, before);
    let row = sqlx::query("SELECT actor FROM audit_log ORDER BY seq LIMIT 1")
        .fetch_one(&db.raw)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "system:test");
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { records: before }
    );
    // Appending still works.
    store
        .audit_event(&system(), "sign-in", "account", "x", None)
        .await
        .unwrap();
    assert_eq!(db.count("audit_log").await, before + 1);
}
