//! Messages: a case message's in-app copy and texts to the person and guardians, the inbox
//! scoped to a resident's persons, marking read, and delivery with backoff and a final failure.

use serde_json::json;
use time::OffsetDateTime;
use zhucan_core::Lang;
use zhucan_services::Catalog;
use zhucan_store::{AuditVerification, CaseMessage, Channel, DbError, NewCase, Scope};

use crate::common::*;

backend_tests!(
    a_case_message_goes_to_the_inbox_and_every_phone,
    the_inbox_shows_only_its_persons_and_marks_only_theirs_read,
    a_failed_text_backs_off_then_fails_after_max_attempts,
    a_text_is_claimed_by_one_sender_at_a_time,
);

fn message<'a>(person_id: &'a str, case_id: Option<&'a str>, zh: &'a str) -> CaseMessage<'a> {
    CaseMessage {
        person_id,
        case_id,
        division_code: COMMUNITY_A1,
        zh,
        en: "Your application was received.",
    }
}

async fn new_person(db: &TestDb, input: zhucan_store::PersonInput) -> String {
    db.store
        .create_person(&system(), &Scope::All, &input)
        .await
        .unwrap()
}

/// A draft case for `person_id`, so messages can name a real case.
async fn case_for(db: &TestDb, person_id: &str) -> (String, String) {
    let catalog = Catalog::seed();
    db.store.seed_catalog(&catalog).await.unwrap();
    let service = catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == "living-subsidy")
        .unwrap();
    let c = db
        .store
        .create_case(
            &system(),
            &Scope::All,
            NewCase {
                service,
                person_id: person_id.to_owned(),
                channel: Channel::Counter,
                answers: json!({}),
                submit_key: None,
            },
        )
        .await
        .unwrap();
    (c.id.clone(), c.number.clone())
}

async fn audit_intact(db: &TestDb) {
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}

/// Makes every pending text due now, as if its wait had passed.
async fn make_due(db: &TestDb) {
    db.exec(
        "UPDATE notifications SET next_attempt_at = '2000-01-01T00:00:00.000000Z' \
         WHERE status = 'pending'",
    )
    .await
    .unwrap();
}

async fn a_case_message_goes_to_the_inbox_and_every_phone(db: TestDb) {
    let store = &db.store;
    let ward = new_person(
        &db,
        with_guardian(person(1, "张伟", COMMUNITY_A1), "李芳", phone(2)),
    )
    .await;
    let (case_id, _) = case_for(&db, &ward).await;
    let before = db.count("notifications").await;
    store
        .send_person_message(
            &staff("clerk", "community_worker"),
            &message(&ward, Some(&case_id), "您的申请已受理。"),
        )
        .await
        .unwrap();

    let in_app = format!("notifications WHERE channel = 'in_app' AND person_id = '{ward}'");
    assert_eq!(db.count(&in_app).await, 1);
    assert_eq!(
        db.count(&format!(
            "{in_app} AND status = 'sent' AND case_id = '{case_id}'"
        ))
        .await,
        1,
        "an in-app message is delivered by being stored"
    );
    let mut texts = store.claim_due_sms(10).await.unwrap();
    texts.sort_by(|a, b| a.phone.as_str().cmp(b.phone.as_str()));
    let phones: Vec<_> = texts.iter().map(|t| t.phone.clone()).collect();
    assert_eq!(
        phones,
        vec![phone(1), phone(2)],
        "the person and the guardian"
    );
    assert!(texts.iter().all(|t| t.body == "您的申请已受理。"));
    assert_eq!(db.count("notifications").await, before + 3);
    for value in db
        .column_bytes("notifications", &["recipient", "recipient_enc", "body"])
        .await
    {
        for p in [phone(1), phone(2)] {
            assert!(
                !contains(&value, p.as_str().as_bytes()),
                "phone stored in the clear"
            );
        }
    }
    let audit = store.audit_for("person", &ward).await.unwrap();
    let entry = audit.iter().find(|a| a.action == "message").unwrap();
    assert_eq!(entry.actor, "account:clerk");
    assert_eq!(entry.after.as_ref().unwrap()["case_id"], json!(case_id));

    // One text when the guardian's phone is the person's own; none without any phone.
    let same = new_person(
        &db,
        with_guardian(person(3, "王芳", COMMUNITY_A1), "王强", phone(3)),
    )
    .await;
    let mut silent = person(4, "赵敏", COMMUNITY_A1);
    silent.phone = None;
    let silent = new_person(&db, silent).await;
    for id in [&same, &silent] {
        store
            .send_person_message(&system(), &message(id, None, "通知"))
            .await
            .unwrap();
    }
    let texts = store.claim_due_sms(10).await.unwrap();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].phone, phone(3));
    assert_eq!(
        db.count(&format!("notifications WHERE person_id = '{silent}'"))
            .await,
        1,
        "only the in-app copy"
    );

    // An unknown person: refused, nothing written, not even the audit entry.
    let (count, audits) = (db.count("notifications").await, db.count("audit_log").await);
    let unknown = store
        .send_person_message(&system(), &message("no-such-person", None, "通知"))
        .await;
    assert!(matches!(unknown, Err(DbError::NotFound)), "{unknown:?}");
    assert_eq!(db.count("notifications").await, count);
    assert_eq!(db.count("audit_log").await, audits);
    audit_intact(&db).await;
}

async fn the_inbox_shows_only_its_persons_and_marks_only_theirs_read(db: TestDb) {
    let store = &db.store;
    let a = new_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let b = new_person(&db, person(2, "王芳", COMMUNITY_A1)).await;
    let (case_id, number) = case_for(&db, &a).await;
    for (who, case, text) in [
        (&a, Some(case_id.as_str()), "第一条"),
        (&b, None, "给王芳"),
        (&a, None, "第二条"),
    ] {
        store
            .send_person_message(&system(), &message(who, case, text))
            .await
            .unwrap();
    }
    let only_a = vec![a.clone()];
    let only_b = vec![b.clone()];
    let inbox = store.inbox(&only_a, 1, 20).await.unwrap();
    assert_eq!(inbox.total, 2);
    let texts: Vec<_> = inbox.items.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(texts, ["第二条", "第一条"], "newest first, only A's");
    let first = &inbox.items[1];
    assert_eq!(first.case_number.as_deref(), Some(number.as_str()));
    assert_eq!(first.person_name, "张伟");
    assert_eq!(first.text(Lang::En), "Your application was received.");
    assert_eq!(first.text(Lang::Zh), "第一条");
    assert!(inbox.items.iter().all(|m| m.read_at.is_none()));

    let paged = store.inbox(&only_a, 2, 1).await.unwrap();
    assert_eq!((paged.total, paged.pages()), (2, 2));
    assert_eq!(paged.items[0].body, "第一条");
    let nobody = store.inbox(&[], 1, 20).await.unwrap();
    assert!(nobody.items.is_empty() && nobody.total == 0);

    let both = vec![a.clone(), b.clone()];
    assert_eq!(store.unread_messages(&only_a).await.unwrap(), 2);
    assert_eq!(store.unread_messages(&both).await.unwrap(), 3);
    assert_eq!(store.unread_messages(&[]).await.unwrap(), 0);

    // A's reader asks to mark B's message too: only A's is marked.
    let b_message = store.inbox(&only_b, 1, 20).await.unwrap().items[0]
        .id
        .clone();
    let resident = staff("resident-a", "resident");
    let marked = store
        .mark_messages_read(&resident, &only_a, &[first.id.clone(), b_message.clone()])
        .await
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(store.unread_messages(&only_a).await.unwrap(), 1);
    assert_eq!(store.unread_messages(&only_b).await.unwrap(), 1);
    let reread = store.inbox(&only_a, 1, 20).await.unwrap();
    assert!(reread.items[1].read_at.is_some() && reread.items[0].read_at.is_none());
    // Marking again changes nothing and writes no audit entry.
    let audits = db.count("audit_log").await;
    let again = store
        .mark_messages_read(&resident, &only_a, std::slice::from_ref(&first.id))
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(db.count("audit_log").await, audits);
    let audit = store.audit_for("person", &a).await.unwrap();
    let entry = audit.iter().find(|e| e.action == "read_messages").unwrap();
    assert_eq!(entry.after.as_ref().unwrap()["messages"], json!([first.id]));
    audit_intact(&db).await;
}

/// The stored retry time, in seconds from now.
async fn retry_in(db: &TestDb, id: &str) -> i64 {
    let n = db.store.pending_notifications(10).await.unwrap();
    let n = n.iter().find(|n| n.id == id).expect("still pending");
    let at = OffsetDateTime::parse(
        n.next_attempt_at.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    (at - OffsetDateTime::now_utc()).whole_seconds()
}

async fn a_failed_text_backs_off_then_fails_after_max_attempts(db: TestDb) {
    let store = &db.store;
    let id = store.enqueue_sms(&phone(1), "通知").await.unwrap();
    let mut waits = Vec::new();
    for attempt in 1..=2 {
        let due = store.claim_due_sms(10).await.unwrap();
        assert_eq!(due.len(), 1, "attempt {attempt}");
        assert_eq!(due[0].attempts, attempt - 1);
        store
            .mark_notification(&id, Some("HTTP 500"), 3)
            .await
            .unwrap();
        assert!(
            store.claim_due_sms(10).await.unwrap().is_empty(),
            "waits after a failure"
        );
        waits.push(retry_in(&db, &id).await);
        make_due(&db).await;
    }
    assert!((55..=60).contains(&waits[0]), "one minute: {waits:?}");
    assert!((295..=300).contains(&waits[1]), "five minutes: {waits:?}");
    let n = &store.pending_notifications(10).await.unwrap()[0];
    assert_eq!((n.attempts, n.last_error.as_deref()), (2, Some("HTTP 500")));

    store.claim_due_sms(10).await.unwrap();
    store
        .mark_notification(&id, Some("timeout"), 3)
        .await
        .unwrap();
    assert!(store.pending_notifications(10).await.unwrap().is_empty());
    let n = &store.recent_notifications(10).await.unwrap()[0];
    assert_eq!(
        (n.status.as_str(), n.attempts, n.last_error.as_deref()),
        ("failed", 3, Some("timeout"))
    );
    make_due(&db).await;
    assert!(store.claim_due_sms(10).await.unwrap().is_empty());

    // Sent on the first try: no retry time left behind.
    let ok = store.enqueue_sms(&phone(2), "通知").await.unwrap();
    assert_eq!(store.claim_due_sms(10).await.unwrap()[0].id, ok);
    store.mark_notification(&ok, None, 3).await.unwrap();
    let sent = &store.recent_notifications(1).await.unwrap()[0];
    assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 1));
    assert!(sent.sent_at.is_some() && sent.next_attempt_at.is_none());
}

async fn a_text_is_claimed_by_one_sender_at_a_time(db: TestDb) {
    let store = &db.store;
    store.enqueue_sms(&phone(1), "通知").await.unwrap();
    let (first, second) = tokio::join!(store.claim_due_sms(10), store.claim_due_sms(10));
    let claims = first.unwrap().len() + second.unwrap().len();
    assert_eq!(claims, 1, "two senders at once send one text");
    assert!(store.claim_due_sms(10).await.unwrap().is_empty());
    // A sender that took it and died: the text is due again once its lease runs out.
    make_due(&db).await;
    assert_eq!(store.claim_due_sms(10).await.unwrap().len(), 1);
}
