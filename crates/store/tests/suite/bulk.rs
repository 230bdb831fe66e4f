//! Bulk import (`Store::import_persons`) and the notification outbox.

use zhucan_core::{Lang, Localized, PersonName, Phone};
use zhucan_store::PersonInput;
use zhucan_store::{
    AuditVerification, DbError, PersonFilter, PersonRow, Rejection, Scope, SearchTerm,
};

use crate::common::*;

backend_tests!(
    import_inserts_then_reimport_updates_without_duplicates,
    import_rejects_foreign_certificates_and_repeated_ids,
    a_failing_chunk_writes_nothing,
    an_initial_load_writes_what_the_general_path_writes,
    an_initial_load_meets_persons_written_meanwhile,
    a_failure_rolls_back_the_uncommitted_chunks_only,
    reimporting_the_same_rows_writes_nothing,
    outbox_retries_then_fails_after_max_attempts,
);

fn rows(numbers: impl IntoIterator<Item = u32>, name: &str) -> Vec<PersonRow> {
    numbers
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let division = [COMMUNITY_A1, COMMUNITY_A2, COMMUNITY_B1][n as usize % 3];
            PersonRow {
                line: i as u64 + 2,
                input: person(n, name, division),
            }
        })
        .collect()
}

async fn by_id(db: &TestDb, row: &PersonRow) -> Vec<zhucan_store::PersonSummary> {
    db.store
        .search_persons(
            &Scope::All,
            &PersonFilter {
                term: Some(SearchTerm::ResidentId(row.input.resident_id.clone())),
                ..Default::default()
            },
            1,
            10,
        )
        .await
        .unwrap()
        .items
}

async fn import_inserts_then_reimport_updates_without_duplicates(db: TestDb) {
    let store = &db.store;
    // 520 rows: more than one multi-row INSERT (400 persons) and one audit INSERT (500 rows).
    let first = rows(1000..1520, "张伟");
    let outcome = store
        .import_persons(&system(), first.clone())
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (520, 0));
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    assert_eq!(db.count("persons").await, 520);
    assert_eq!(db.count("certificates").await, 520);
    let sample = &first[417];
    let found = by_id(&db, sample).await;
    assert_eq!(found.len(), 1);
    let stored = store
        .view_person(&system(), &Scope::All, &found[0].id)
        .await
        .unwrap();
    assert_eq!(stored.to_input(), sample.input);

    // The same file again, corrected: every row updates, none is added.
    let second = rows(1000..1520, "王芳");
    let outcome = store.import_persons(&system(), second).await.unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (0, 520));
    assert!(outcome.rejected.is_empty());
    assert_eq!(db.count("persons").await, 520);
    assert_eq!(db.count("certificates").await, 520);
    let stored = store
        .view_person(&system(), &Scope::All, &found[0].id)
        .await
        .unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("王芳", 2));

    // Old and new rows mixed.
    let outcome = store
        .import_persons(&system(), rows((1510..1530).chain([1000]), "李四"))
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (10, 11));
    assert_eq!(db.count("persons").await, 530);

    assert_eq!(
        db.count("audit_log WHERE action = 'import-create'").await,
        530
    );
    assert_eq!(
        db.count("audit_log WHERE action = 'import-update'").await,
        531
    );
    let snapshots: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT before_json FROM audit_log UNION ALL SELECT after_json FROM audit_log",
    )
    .fetch_all(&db.raw)
    .await
    .unwrap();
    assert!(
        snapshots
            .iter()
            .flatten()
            .all(|s| !has_digit_run(s, 13)
                && !s.contains(sample.input.phone.as_ref().unwrap().as_str())),
        "import audit snapshots are masked"
    );
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { records } if records == db.count("audit_log").await
    ));
}

async fn import_rejects_foreign_certificates_and_repeated_ids(db: TestDb) {
    let store = &db.store;
    let owner = person(1, "张伟", COMMUNITY_A1);
    store
        .create_person(&system(), &Scope::All, &owner)
        .await
        .unwrap();

    let mut batch = rows([200, 201, 202, 200], "王芳");
    // Line 3 claims the stored person's certificate; line 5 repeats line 2's ID.
    batch[1].input.certificate = owner.certificate.clone();
    batch[3].input.name = PersonName::parse("重复").unwrap();
    // Line 6 updates the stored person with their own certificate.
    let mut owner_edit = owner.clone();
    owner_edit.name = PersonName::parse("张伟强").unwrap();
    batch.push(PersonRow {
        line: 6,
        input: owner_edit,
    });

    let outcome = store
        .import_persons(&system(), batch.clone())
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (2, 1));
    let rejected: Vec<(u64, &str)> = outcome.rejected.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(rejected, [(3, "certificate_no"), (5, "resident_id")]);
    assert_eq!(outcome.rejected[0].2, Rejection::CertificateTaken);
    assert_eq!(outcome.rejected[1].2, Rejection::SameIdAs { row: 2 });
    assert_eq!(
        outcome.rejected[1].2.message(Lang::Zh),
        "与第 2 行的公民身份号码重复"
    );

    assert_eq!(db.count("persons").await, 3);
    assert!(
        by_id(&db, &batch[1]).await.is_empty(),
        "rejected row not written"
    );
    let first = by_id(&db, &batch[0]).await;
    assert_eq!(
        first[0].name, "王芳",
        "the first of two rows with one ID wins"
    );
    let owner_now = by_id(&db, &batch[4]).await;
    assert_eq!(owner_now[0].name, "张伟强");
    assert_eq!(db.count("certificates").await, 3);
}

async fn a_failing_chunk_writes_nothing(db: TestDb) {
    let store = &db.store;
    let existing = person(1, "张伟", COMMUNITY_A1);
    let id = store
        .create_person(&system(), &Scope::All, &existing)
        .await
        .unwrap();
    let before = counts(&db).await;

    // New persons only (on PostgreSQL the COPY path): two share a certificate number.
    let mut only_new = rows([400, 401, 402], "李四");
    only_new[2].input.certificate = only_new[0].input.certificate.clone();
    only_new[1].input = with_guardian(
        only_new[1].input.clone(),
        "李芳",
        Phone::parse("13700000001").unwrap(),
    );
    let result = store.import_persons(&system(), only_new).await;
    assert!(
        matches!(result, Err(DbError::Sqlx(_))),
        "expected a database error, got {result:?}"
    );
    assert_eq!(
        counts(&db).await,
        before,
        "nothing of the new-only chunk was kept"
    );

    // Two new persons with one certificate number: the unique index refuses the second insert
    // after the update and the first insert of the chunk have run.
    let mut renamed = existing.clone();
    renamed.name = PersonName::parse("改名").unwrap();
    let mut batch = vec![PersonRow {
        line: 2,
        input: renamed.clone(),
    }];
    batch.extend(rows([300, 301], "王芳").into_iter().map(|mut r| {
        r.line += 1;
        r
    }));
    batch[2].input.certificate = batch[1].input.certificate.clone();
    batch[1].input = with_guardian(
        batch[1].input.clone(),
        "李芳",
        Phone::parse("13700000000").unwrap(),
    );
    let result = store.import_persons(&system(), batch.clone()).await;
    assert!(
        matches!(result, Err(DbError::Sqlx(_))),
        "expected a database error, got {result:?}"
    );

    assert_eq!(counts(&db).await, before, "nothing of the chunk was kept");
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("张伟", 1));
    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));

    // The store is usable afterwards and the corrected chunk goes through whole.
    batch.remove(2);
    let outcome = store.import_persons(&system(), batch).await.unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (1, 1));
    assert_eq!(db.count("persons").await, 2);
    assert_eq!(db.count("guardians").await, 1);
}

async fn counts(db: &TestDb) -> (i64, i64, i64, i64) {
    (
        db.count("persons").await,
        db.count("certificates").await,
        db.count("guardians").await,
        db.count("audit_log").await,
    )
}

async fn outbox_retries_then_fails_after_max_attempts(db: TestDb) {
    let store = &db.store;
    let to = phone(1);
    let id = store.enqueue_sms(&to, "您的验证码是 123456").await.unwrap();
    let pending = store.pending_notifications(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let n = &pending[0];
    assert_eq!(n.id, id);
    assert_eq!(n.channel, "sms");
    assert_eq!(n.recipient, to.masked());
    assert_eq!(n.body, "您的验证码是 123456");
    assert_eq!((n.status.as_str(), n.attempts), ("pending", 0));
    for value in db
        .column_bytes("notifications", &["recipient", "recipient_enc"])
        .await
    {
        assert!(
            !contains(&value, to.as_str().as_bytes()),
            "phone stored in the clear"
        );
    }

    store
        .mark_notification(&id, Some("timeout"), 3)
        .await
        .unwrap();
    store
        .mark_notification(&id, Some("timeout"), 3)
        .await
        .unwrap();
    let n = &store.pending_notifications(10).await.unwrap()[0];
    assert_eq!((n.attempts, n.last_error.as_deref()), (2, Some("timeout")));
    store
        .mark_notification(&id, Some("gateway down"), 3)
        .await
        .unwrap();
    assert!(store.pending_notifications(10).await.unwrap().is_empty());
    let n = &store.recent_notifications(10).await.unwrap()[0];
    assert_eq!(n.status, "failed");
    assert_eq!(n.attempts, 3);
    assert_eq!(n.last_error.as_deref(), Some("gateway down"));
    assert!(n.sent_at.is_none());

    let ok = store.enqueue_sms(&phone(2), "通知").await.unwrap();
    store.mark_notification(&ok, None, 3).await.unwrap();
    let all = store.recent_notifications(10).await.unwrap();
    let sent = all.iter().find(|n| n.id == ok).unwrap();
    assert_eq!(sent.status, "sent");
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some() && sent.last_error.is_none());
    assert!(store.pending_notifications(10).await.unwrap().is_empty());
}

/// Found while writing these tests (PostgreSQL only): an import holds the audit advisory lock
/// and then asks the pool for a *second* connection: `copy_new_persons` runs
/// `classify(&mut *self.pool.acquire().await?, …)` after `pg_advisory_xact_lock` on its own
/// connection, and the general path calls `self.person(&Scope::All, id)` (pool) for each
/// update inside `write_tx`. Every other writer, including every audited view, waits for that
/// lock while holding a pool connection, so once 16 of them wait the pool is empty: the import
/// waits for a connection that only frees up after it commits, until sqlx's acquire timeout
/// (30 s) fails the import, and every request stalls meanwhile. SQLite is not affected (its
/// writer mutex is taken before a connection is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_is_not_starved_by_concurrent_audited_reads_postgres() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    let Some(db) = TestDb::new(zhucan_store::Backend::Postgres).await else {
        return;
    };
    let store = db.store.clone();
    store
        .import_persons(&system(), rows(2000..2200, "张伟"))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .search_persons(&Scope::All, &PersonFilter::default(), 1, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.id)
        .collect();

    // Staff reading records: each view appends to the audit log (a short write).
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for i in 0..32 {
        let (store, stop, id) = (store.clone(), stop.clone(), ids[i % ids.len()].clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = store.view_person(&system(), &Scope::All, &id).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // New persons only (PostgreSQL's COPY path), then updates (the general path).
    let mut outcomes = Vec::new();
    for (batch, what) in [
        (rows(3000..3200, "李四"), "new persons"),
        (rows(2000..2200, "王芳"), "updates"),
    ] {
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(45),
            store.import_persons(&system(), batch),
        )
        .await;
        let elapsed = started.elapsed();
        let outcome = match result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                stop.store(true, Ordering::Relaxed);
                panic!("the import of {what} failed after {elapsed:?}: {e}")
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                panic!("the import of {what} hung for {elapsed:?}")
            }
        };
        assert!(
            elapsed < Duration::from_secs(10),
            "{what}: stalled for {elapsed:?}"
        );
        outcomes.push(outcome);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    assert_eq!((outcomes[0].inserted, outcomes[1].updated), (200, 200));
}

/// What an import left: persons (by resident ID) with their record, and per person the actions
/// and masked snapshots of their history.
async fn imported(
    db: &TestDb,
    rows: &[PersonRow],
) -> Vec<(PersonInput, Vec<(String, Option<serde_json::Value>)>)> {
    let mut out = Vec::new();
    for row in rows {
        let found = by_id(db, row).await;
        assert_eq!(found.len(), 1, "line {}", row.line);
        let record = db
            .store
            .view_person(&system(), &Scope::All, &found[0].id)
            .await
            .unwrap();
        let history = db
            .store
            .person_history(&Scope::All, &found[0].id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.action, r.after))
            .collect();
        out.push((record.to_input(), history));
    }
    out
}

/// Writes `rows` in chunks of `size` through one bulk import, committing after each; returns
/// the rows inserted, updated and unchanged.
async fn bulk(db: &TestDb, rows: &[PersonRow], size: usize) -> (u64, u64, u64) {
    let mut import = db.store.bulk_import(&system());
    let mut counts = (0, 0, 0);
    for chunk in rows.chunks(size) {
        let encoded = db.store.encode_rows(chunk.to_vec());
        let outcome = import.write(encoded).await.unwrap();
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        counts.0 += outcome.inserted;
        counts.1 += outcome.updated;
        counts.2 += outcome.unchanged;
        import.commit().await.unwrap();
    }
    import.finish().await.unwrap();
    counts
}

async fn an_initial_load_writes_what_the_general_path_writes(db: TestDb) {
    let mut rows = rows(5000..5300, "赵敏");
    rows[7].input = with_guardian(
        rows[7].input.clone(),
        "赵强",
        Phone::parse("13700000007").unwrap(),
    );
    // Into the empty table: the initial load, which looks nothing up.
    assert_eq!(bulk(&db, &rows[..150], 50).await, (150, 0, 0));
    let initial = imported(&db, &rows[..150]).await;

    // With a person stored already (not in the file): the general path, with lookups.
    let other = TestDb::new(db.backend).await.unwrap();
    other
        .store
        .create_person(&system(), &Scope::All, &person(1, "张伟", COMMUNITY_A1))
        .await
        .unwrap();
    assert_eq!(bulk(&other, &rows[..150], 50).await, (150, 0, 0));
    assert_eq!(imported(&other, &rows[..150]).await, initial);
    for db in [&db, &other] {
        assert_eq!(
            db.count("audit_log WHERE action = 'import-create'").await,
            150
        );
        assert_eq!(db.count("guardians").await, 1);
        assert!(matches!(
            db.store.verify_audit().await.unwrap(),
            AuditVerification::Intact { .. }
        ));
    }

    // A second import into the loaded table updates (it is not an initial load any more); the
    // rows it repeats as they are stay unchanged.
    let mut again = rows.clone();
    again[0].input.name = PersonName::parse("赵敏敏").unwrap();
    assert_eq!(bulk(&db, &again, 100).await, (150, 1, 149));
    assert_eq!(db.count("persons").await, 300);
    let first = by_id(&db, &again[0]).await;
    assert_eq!(first[0].name, "赵敏敏");
}

async fn an_initial_load_meets_persons_written_meanwhile(db: TestDb) {
    let rows = rows(6000..6040, "钱进");
    let mut import = db.store.bulk_import(&system());
    let outcome = import
        .write(db.store.encode_rows(rows[..20].to_vec()))
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 20);
    import.commit().await.unwrap();

    // Between the import's transactions a member of staff records a person the file holds
    // (with another address, so the file's row changes the record).
    let mut recorded = rows[30].input.clone();
    recorded.address = Some("龙泉驿区另一路 2 号".into());
    let id = db
        .store
        .create_person(&system(), &Scope::All, &recorded)
        .await
        .unwrap();

    let outcome = import
        .write(db.store.encode_rows(rows[20..].to_vec()))
        .await
        .unwrap();
    import.finish().await.unwrap();
    assert_eq!((outcome.inserted, outcome.updated), (19, 1));
    assert_eq!(db.count("persons").await, 40);
    let history: Vec<String> = db
        .store
        .person_history(&Scope::All, &id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(history[0], "import-update");
}

async fn a_failure_rolls_back_the_uncommitted_chunks_only(db: TestDb) {
    let rows = rows(7000..7030, "孙丽");
    let mut import = db.store.bulk_import(&system());
    import
        .write(db.store.encode_rows(rows[..10].to_vec()))
        .await
        .unwrap();
    import.commit().await.unwrap();
    let committed = counts(&db).await;
    import
        .write(db.store.encode_rows(rows[10..20].to_vec()))
        .await
        .unwrap();
    // The third chunk repeats a certificate number of the second (two rows, one certificate):
    // the database refuses it.
    let mut bad = rows[20..].to_vec();
    bad[0].input.certificate = rows[10].input.certificate.clone();
    bad[0].input.resident_id = rid(7100);
    // On PostgreSQL the rows go out with COPY when the transaction commits.
    let result = match import.write(db.store.encode_rows(bad)).await {
        Ok(_) => import.commit().await,
        Err(e) => Err(e),
    };
    assert!(result.is_err(), "expected a database error, got {result:?}");
    drop(import);
    assert_eq!(
        counts(&db).await,
        committed,
        "the committed chunk stays, the open transaction is rolled back whole"
    );
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
    // Re-running the whole file completes it; the committed rows are unchanged.
    assert_eq!(bulk(&db, &rows, 15).await, (20, 0, 10));
    assert_eq!(db.count("persons").await, 30);
}

/// Re-running the same file used to rewrite every row: counted as updated, its version bumped
/// and an identical before/after audit record written. Now such rows are `unchanged` and left
/// alone; a row that does change among them is updated and audited as before, and a row that
/// lacks the certificate columns keeps the stored certificate without counting as a change.
async fn reimporting_the_same_rows_writes_nothing(db: TestDb) {
    let store = &db.store;
    let file = rows(8000..8300, "周杰");
    let outcome = store.import_persons(&system(), file.clone()).await.unwrap();
    assert_eq!(
        (outcome.inserted, outcome.updated, outcome.unchanged),
        (300, 0, 0)
    );
    let stored = || async {
        sqlx::query_as::<_, (String, i64, String)>(
            "SELECT id, version, updated_at FROM persons ORDER BY id",
        )
        .fetch_all(&db.raw)
        .await
        .unwrap()
    };
    let before = stored().await;
    let audit = db.count("audit_log").await;

    let outcome = store.import_persons(&system(), file.clone()).await.unwrap();
    assert_eq!(
        (outcome.inserted, outcome.updated, outcome.unchanged),
        (0, 0, 300)
    );
    assert!(outcome.rejected.is_empty());
    assert_eq!(
        stored().await,
        before,
        "no version bumped, nothing rewritten"
    );
    assert_eq!(db.count("audit_log").await, audit, "no audit record");
    assert_eq!(db.count("certificates").await, 300);

    let mut edited = file.clone();
    edited[5].input.address = Some("龙泉驿区某路 5 号".into());
    edited[6].input.certificate = None;
    let outcome = store
        .import_persons(&system(), edited.clone())
        .await
        .unwrap();
    assert_eq!(
        (outcome.inserted, outcome.updated, outcome.unchanged),
        (0, 1, 299)
    );
    assert_eq!(db.count("audit_log").await, audit + 1);
    assert_eq!(
        db.count("audit_log WHERE action = 'import-update'").await,
        1
    );
    let changed = by_id(&db, &edited[5]).await[0].id.clone();
    let record = store
        .view_person(&system(), &Scope::All, &changed)
        .await
        .unwrap();
    assert_eq!(
        (record.version, record.to_input()),
        (2, edited[5].input.clone())
    );
    let kept = by_id(&db, &edited[6]).await[0].id.clone();
    let record = store
        .view_person(&system(), &Scope::All, &kept)
        .await
        .unwrap();
    assert_eq!(
        (record.version, record.to_input()),
        (1, file[6].input.clone())
    );
}
