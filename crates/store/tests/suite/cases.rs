//! Cases: the service catalog as stored, filing and submitting, review through a chain,
//! idempotent submission, optimistic locking between reviewers, scope, queues, and the trail of
//! case events and audit entries.

use serde_json::json;
use zhucan_services::{Action, Catalog, Decision, ServiceVersion, State, Step, TransitionError};
use zhucan_store::{AuditVerification, CaseRecord, Channel, DbError, NewCase, Scope, action_name};

use crate::common::*;

backend_tests!(
    catalog_seeds_once_and_reads_back_equal,
    a_case_walks_the_chain_to_notice_and_approval,
    the_same_submit_key_files_one_case,
    concurrent_decisions_from_one_version_let_exactly_one_win,
    other_streets_cannot_see_or_decide_a_case,
    illegal_moves_are_refused_and_change_nothing,
    queue_orders_by_deadline_inside_the_scope,
    a_returned_case_stops_the_clock_until_resubmitted,
    reads_during_moves_see_each_case_whole,
);

fn service(catalog: &Catalog, code: &str) -> ServiceVersion {
    catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == code)
        .unwrap_or_else(|| panic!("{code} in the seed catalog"))
        .clone()
}

fn approve() -> Action {
    Action::Decide(Decision::Approve)
}

fn resident(person_id: &str) -> (zhucan_store::Actor, Scope) {
    (
        zhucan_store::Actor {
            id: format!("resident:{person_id}"),
            role: "resident".into(),
            client: None,
        },
        Scope::Persons(vec![person_id.to_owned()]),
    )
}

async fn new_person(db: &TestDb, n: u32, name: &str, division: &str) -> String {
    db.store
        .create_person(&system(), &Scope::All, &person(n, name, division))
        .await
        .unwrap()
}

/// A draft of `code` for `person_id`, filed by the resident on the portal.
async fn draft(db: &TestDb, code: &str, person_id: &str, key: Option<&str>) -> CaseRecord {
    let catalog = Catalog::seed();
    let v = service(&catalog, code);
    let (actor, scope) = resident(person_id);
    db.store
        .create_case(
            &actor,
            &scope,
            NewCase {
                service: &v,
                person_id: person_id.to_owned(),
                channel: Channel::Portal,
                answers: json!({ "agree": true }),
                submit_key: key.map(str::to_owned),
            },
        )
        .await
        .unwrap()
}

async fn submitted(db: &TestDb, code: &str, person_id: &str) -> CaseRecord {
    let case = draft(db, code, person_id, None).await;
    let (actor, scope) = resident(person_id);
    db.store
        .submit_case(&actor, &scope, &case.id, case.version, None)
        .await
        .unwrap()
}

async fn case_events(db: &TestDb, id: &str) -> i64 {
    db.count(&format!("case_events WHERE case_id = '{id}'"))
        .await
}

async fn case_audits(db: &TestDb, id: &str) -> i64 {
    db.count(&format!(
        "audit_log WHERE entity = 'case' AND entity_id = '{id}'"
    ))
    .await
}

async fn assert_audit_intact(db: &TestDb) {
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}

async fn catalog_seeds_once_and_reads_back_equal(db: TestDb) {
    let catalog = Catalog::seed();
    let added = db.store.seed_catalog(&catalog).await.unwrap();
    assert_eq!(added, catalog.versions().len() as u64);
    assert_eq!(db.store.seed_catalog(&catalog).await.unwrap(), 0);
    let stored = db.store.service_versions().await.unwrap();
    assert_eq!(stored.as_slice(), catalog.versions());
    assert_eq!(db.store.catalog().await.unwrap(), catalog);
    let one = db.store.service_version("living-subsidy", 1).await.unwrap();
    assert_eq!(one, service(&catalog, "living-subsidy"));
    assert!(matches!(
        db.store.service_version("living-subsidy", 9).await,
        Err(DbError::NotFound)
    ));
    // The calendar is the 2026 schedule until one is stored.
    let calendar = db.store.holiday_calendar().await.unwrap();
    assert_eq!(calendar, zhucan_services::HolidayCalendar::china_2026());
    assert_audit_intact(&db).await;
}

async fn a_case_walks_the_chain_to_notice_and_approval(db: TestDb) {
    db.store.seed_catalog(&Catalog::seed()).await.unwrap();
    let input = person(1, "张伟", COMMUNITY_A1);
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let case = draft(&db, "living-subsidy", &pid, None).await;
    assert_eq!(case.state, State::Draft);
    assert_eq!(case.version, 1);
    assert_eq!(case.channel, Channel::Portal);
    assert_eq!(case.filed_by, format!("resident:{pid}"));
    assert_eq!(case.rid_masked, input.resident_id.masked());
    assert_eq!(case.person_name, "张伟");
    assert_eq!(case.division_code, COMMUNITY_A1);
    assert_eq!(case.answers, json!({ "agree": true }));
    let year = time::OffsetDateTime::now_utc().year();
    assert_eq!(case.number, format!("{DISTRICT}-{year}-000001"));
    // No full resident ID in what a case shows.
    let shown = serde_json::to_string(&case).unwrap();
    assert!(!shown.contains(input.resident_id.as_str()));
    assert!(!has_digit_run(&shown.replace(&case.number, ""), 15));

    let (actor, scope) = resident(&pid);
    let case = db
        .store
        .submit_case(&actor, &scope, &case.id, 1, None)
        .await
        .unwrap();
    assert_eq!(case.state, State::Submitted);
    assert_eq!(case.step_code.as_deref(), Some("street"));
    assert!(case.deadline.is_some() && case.submitted_at.is_some());
    assert_eq!(case.version, 2);

    let street = street_scope(STREET_A);
    let district = street_scope(DISTRICT);
    let steps = [
        (
            &street,
            "street_reviewer",
            State::InReview { step: 1 },
            Some("district"),
        ),
        (
            &district,
            "district_reviewer",
            State::InReview { step: 2 },
            Some("civil_affairs"),
        ),
        (&district, "civil_affairs", State::Notice, None),
    ];
    let mut case = case;
    for (scope, role, state, step) in steps {
        case = db
            .store
            .act_on_case(
                &staff(role, role),
                scope,
                &case.id,
                case.version,
                approve(),
                Some("材料齐全"),
            )
            .await
            .unwrap();
        assert_eq!(case.state, state);
        assert_eq!(case.step_code.as_deref(), step);
    }
    // In notice, the deadline is the end of the 7-day notice.
    let notice_end =
        zhucan_services::shanghai_date(time::OffsetDateTime::now_utc()) + time::Duration::days(7);
    assert_eq!(
        case.deadline.as_deref(),
        Some(notice_end.to_string().as_str())
    );
    let case = db
        .store
        .act_on_case(
            &system(),
            &Scope::All,
            &case.id,
            case.version,
            Action::NoticeEnded,
            None,
        )
        .await
        .unwrap();
    // Approved, the subsidy became an entitlement, so the system fulfilled and closed it.
    assert_eq!(case.state, State::Closed);
    assert_eq!(case.version, 8);
    assert_eq!(case.deadline, None);

    let actions: Vec<&str> = case.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "approve",
            "approve",
            "approve",
            "notice_ended",
            "fulfil",
            "close"
        ]
    );
    let moves: Vec<(Option<&str>, &str)> = case
        .events
        .iter()
        .map(|e| (e.from_state.as_deref(), e.to_state.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (None, "draft"),
            (Some("draft"), "submitted"),
            (Some("submitted"), "in_review"),
            (Some("in_review"), "in_review"),
            (Some("in_review"), "notice"),
            (Some("notice"), "approved"),
            (Some("approved"), "fulfilled"),
            (Some("fulfilled"), "closed"),
        ]
    );
    assert_eq!(case.events[2].actor, "account:street_reviewer");
    assert_eq!(case.events[2].comment.as_deref(), Some("材料齐全"));
    assert_eq!(case.events[2].step, Some(1));
    // Every event is in the audit log, and the chain holds.
    assert_eq!(case_events(&db, &case.id).await, 8);
    assert_eq!(case_audits(&db, &case.id).await, 8);
    let audits = db.store.audit_for("case", &case.id).await.unwrap();
    assert_eq!(audits[2].action, action_name(&Action::NoticeEnded));
    assert_audit_intact(&db).await;

    // The person's cases, and the next number.
    let second = draft(&db, "cert-renew", &pid, None).await;
    assert_eq!(second.number, format!("{DISTRICT}-{year}-000002"));
    let mine = db.store.cases_for_person(&scope, &pid).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].id, second.id);
    assert_eq!(mine[1].state, State::Closed);
    assert_eq!(mine[1].rid_masked, input.resident_id.masked());
}

async fn the_same_submit_key_files_one_case(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let first = draft(&db, "cert-renew", &pid, Some("form-123")).await;
    let again = draft(&db, "cert-renew", &pid, Some("form-123")).await;
    assert_eq!(first.id, again.id);
    assert_eq!(db.count("cases").await, 1);

    let (actor, scope) = resident(&pid);
    let submitted = db
        .store
        .submit_case(&actor, &scope, &first.id, 1, Some("form-123"))
        .await
        .unwrap();
    assert_eq!(submitted.state, State::Submitted);
    // A retry (double click, a bad network) returns the submitted case, not an error.
    let retried = db
        .store
        .submit_case(&actor, &scope, &first.id, 1, Some("form-123"))
        .await
        .unwrap();
    assert_eq!(retried.id, first.id);
    assert_eq!(retried.version, submitted.version);
    assert_eq!(db.count("cases").await, 1);
    assert_eq!(db.count("case_events WHERE action = 'submit'").await, 1);

    // A draft without a key gets the key on submission; a second submit is answered the same.
    let other = draft(&db, "living-subsidy", &pid, None).await;
    let done = db
        .store
        .submit_case(&actor, &scope, &other.id, 1, Some("form-456"))
        .await
        .unwrap();
    let retried = db
        .store
        .submit_case(&actor, &scope, &other.id, 1, Some("form-456"))
        .await
        .unwrap();
    assert_eq!((&retried.id, retried.version), (&done.id, done.version));
    // Without a key, submitting twice is a stale version.
    let third = draft(&db, "cert-new", &pid, None).await;
    db.store
        .submit_case(&actor, &scope, &third.id, 1, None)
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .submit_case(&actor, &scope, &third.id, 1, None)
            .await,
        Err(DbError::Conflict { current: 2 })
    ));
    assert_audit_intact(&db).await;
}

async fn concurrent_decisions_from_one_version_let_exactly_one_win(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let case = submitted(&db, "living-subsidy", &pid).await;
    assert_eq!(case.version, 2);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        let id = case.id.clone();
        tasks.push(tokio::spawn(async move {
            let reviewer = format!("reviewer{i}");
            let action = if i % 2 == 0 {
                approve()
            } else {
                Action::Decide(Decision::Reject {
                    reason: "不符合条件".into(),
                })
            };
            let result = store
                .act_on_case(
                    &staff(&reviewer, "street_reviewer"),
                    &street_scope(STREET_A),
                    &id,
                    2,
                    action,
                    None,
                )
                .await;
            (reviewer, result)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (reviewer, result) = task.await.unwrap();
        match result {
            Ok(record) => winners.push((reviewer, record.state)),
            Err(DbError::Conflict { current: 3 }) => {}
            Err(e) => panic!("{reviewer}: unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(stored.version, 3);
    assert_eq!(stored.state, winners[0].1);
    assert_eq!(stored.events.len(), 3);
    assert_eq!(stored.events[2].actor, format!("account:{}", winners[0].0));
    assert_eq!(case_audits(&db, &case.id).await, 3);
    assert_audit_intact(&db).await;
}

async fn other_streets_cannot_see_or_decide_a_case(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_B1).await;
    let other = new_person(&db, 2, "李娜", COMMUNITY_A1).await;
    let case = submitted(&db, "living-subsidy", &pid).await;
    let a = street_scope(STREET_A);
    let community = street_scope(COMMUNITY_A1);
    for scope in [&a, &community, &Scope::Persons(vec![other.clone()])] {
        assert!(matches!(
            db.store.case(scope, &case.id).await,
            Err(DbError::NotFound)
        ));
        assert!(matches!(
            db.store
                .act_on_case(
                    &staff("a", "street_reviewer"),
                    scope,
                    &case.id,
                    2,
                    approve(),
                    None
                )
                .await,
            Err(DbError::NotFound)
        ));
        assert!(
            db.store
                .cases_for_person(scope, &pid)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.store
                .queue(scope, Step::Street, 1, 20)
                .await
                .unwrap()
                .total,
            0
        );
    }
    // Nor file a case for a person of another street.
    let catalog = Catalog::seed();
    let v = service(&catalog, "living-subsidy");
    let filed = db
        .store
        .create_case(
            &staff("a", "community_worker"),
            &a,
            NewCase {
                service: &v,
                person_id: pid.clone(),
                channel: Channel::Proxy,
                answers: json!({}),
                submit_key: None,
            },
        )
        .await;
    assert!(matches!(filed, Err(DbError::NotFound)));
    assert_eq!(db.count("cases").await, 1);
    // Its own street sees and decides it.
    let b = street_scope(STREET_B);
    assert_eq!(db.store.case(&b, &case.id).await.unwrap().id, case.id);
    let decided = db
        .store
        .act_on_case(
            &staff("b", "street_reviewer"),
            &b,
            &case.id,
            2,
            approve(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(decided.state, State::InReview { step: 1 });
    // A worker files for a person of their street (代办): the case records who and how.
    let proxy = db
        .store
        .create_case(
            &staff("a", "community_worker"),
            &a,
            NewCase {
                service: &v,
                person_id: other.clone(),
                channel: Channel::Proxy,
                answers: json!({}),
                submit_key: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(proxy.channel, Channel::Proxy);
    assert_eq!(proxy.filed_by, "account:a");
}

async fn illegal_moves_are_refused_and_change_nothing(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let case = draft(&db, "living-subsidy", &pid, None).await;
    let reviewer = staff("r", "street_reviewer");
    let err = db
        .store
        .act_on_case(&reviewer, &Scope::All, &case.id, 1, approve(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Transition(TransitionError::NotInReview {
                state: State::Draft
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("draft"), "{err}");
    let (actor, scope) = resident(&pid);
    let case = db
        .store
        .submit_case(&actor, &scope, &case.id, 1, None)
        .await
        .unwrap();
    let blank = Action::Decide(Decision::Reject {
        reason: "  ".into(),
    });
    assert!(matches!(
        db.store
            .act_on_case(&reviewer, &Scope::All, &case.id, 2, blank, None)
            .await,
        Err(DbError::Transition(TransitionError::NoReason))
    ));
    let back = Action::Decide(Decision::SendBack { to_step: 0 });
    assert!(matches!(
        db.store
            .act_on_case(&reviewer, &Scope::All, &case.id, 2, back, None)
            .await,
        Err(DbError::Transition(
            TransitionError::NotAnEarlierStep { .. }
        ))
    ));
    let stored = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!((stored.version, stored.state), (2, State::Submitted));
    assert_eq!(stored.events.len(), 2);
    assert_eq!(case_audits(&db, &case.id).await, 2);

    // Withdrawn before review, then nothing more.
    let withdrawn = db
        .store
        .act_on_case(&actor, &scope, &case.id, 2, Action::Withdraw, None)
        .await
        .unwrap();
    assert_eq!(withdrawn.state, State::Withdrawn);
    assert!(matches!(
        db.store
            .act_on_case(&reviewer, &Scope::All, &case.id, 3, approve(), None)
            .await,
        Err(DbError::Transition(TransitionError::Finished { .. }))
    ));
    assert!(matches!(
        db.store
            .act_on_case(&reviewer, &Scope::All, "no-such-case", 1, approve(), None)
            .await,
        Err(DbError::NotFound)
    ));
}

async fn queue_orders_by_deadline_inside_the_scope(db: TestDb) {
    let p1 = new_person(&db, 1, "赵一", COMMUNITY_A1).await;
    let p2 = new_person(&db, 2, "钱二", COMMUNITY_A2).await;
    let p3 = new_person(&db, 3, "孙三", COMMUNITY_A1).await;
    let p4 = new_person(&db, 4, "李四", COMMUNITY_B1).await;
    let c1 = submitted(&db, "living-subsidy", &p1).await;
    let c2 = submitted(&db, "employment-subsidy", &p2).await;
    let c3 = submitted(&db, "living-subsidy", &p3).await;
    let c4 = submitted(&db, "living-subsidy", &p4).await;
    // A draft and a case of a district-only chain are not in the street queue.
    draft(&db, "living-subsidy", &p1, None).await;
    submitted(&db, "cert-renew", &p1).await;
    for (case, deadline) in [
        (&c1, "2026-01-05"),
        (&c2, "2099-01-01"),
        (&c3, "2030-01-01"),
        (&c4, "2020-01-01"),
    ] {
        db.exec(&format!(
            "UPDATE cases SET deadline = '{deadline}' WHERE id = '{}'",
            case.id
        ))
        .await
        .unwrap();
    }
    let a = street_scope(STREET_A);
    let queue = db.store.queue(&a, Step::Street, 1, 20).await.unwrap();
    let ids: Vec<&str> = queue.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [c1.id.as_str(), c3.id.as_str(), c2.id.as_str()]);
    assert_eq!(queue.total, 3);
    let overdue: Vec<bool> = queue.items.iter().map(|c| c.overdue).collect();
    assert_eq!(overdue, [true, false, false]);
    assert!(
        queue
            .items
            .iter()
            .all(|c| !c.rid_masked.is_empty() && !has_digit_run(&c.rid_masked, 15))
    );

    let page2 = db.store.queue(&a, Step::Street, 2, 2).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].id, c2.id);
    assert_eq!((page2.total, page2.pages()), (3, 2));

    let community = db
        .store
        .queue(&street_scope(COMMUNITY_A2), Step::Street, 1, 20)
        .await
        .unwrap();
    assert_eq!(community.items.len(), 1);
    assert_eq!(community.items[0].id, c2.id);

    let whole = db
        .store
        .queue(&street_scope(DISTRICT), Step::Street, 1, 20)
        .await
        .unwrap();
    assert_eq!(whole.items[0].id, c4.id);
    assert_eq!(whole.total, 4);

    let district = db
        .store
        .queue(&street_scope(DISTRICT), Step::District, 1, 20)
        .await
        .unwrap();
    assert_eq!(
        district.total, 1,
        "the cert-renew case waits at the district"
    );

    // Approved at the street, a case moves to the district queue.
    db.store
        .act_on_case(
            &staff("r", "street_reviewer"),
            &a,
            &c1.id,
            2,
            approve(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        db.store.queue(&a, Step::Street, 1, 20).await.unwrap().total,
        2
    );
    assert_eq!(
        db.store
            .queue(&street_scope(DISTRICT), Step::District, 1, 20)
            .await
            .unwrap()
            .total,
        2
    );
}

async fn a_returned_case_stops_the_clock_until_resubmitted(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let case = submitted(&db, "employment-subsidy", &pid).await;
    let due = case.deadline.clone().expect("a deadline");
    let reviewer = staff("r", "street_reviewer");
    let returned = db
        .store
        .act_on_case(
            &reviewer,
            &Scope::All,
            &case.id,
            2,
            Action::Decide(Decision::ReturnForCorrection {
                missing: vec!["劳动合同".into()],
            }),
            // Quotes, a backslash, a line break and an emoji: events come back as JSON.
            Some("请补交\"原件\"\\扫描件\n第 2 页 ✅"),
        )
        .await
        .unwrap();
    assert_eq!(returned.state, State::Returned { step: 0 });
    assert_eq!(returned.deadline, None);
    assert_eq!(
        returned.events.last().unwrap().comment.as_deref(),
        Some("劳动合同: 请补交\"原件\"\\扫描件\n第 2 页 ✅")
    );
    assert_eq!(returned.events[0].from_state, None);
    assert_eq!(returned.events[0].step, None);
    // Not in the queue while returned.
    assert_eq!(
        db.store
            .queue(&Scope::All, Step::Street, 1, 20)
            .await
            .unwrap()
            .total,
        0
    );
    let (actor, scope) = resident(&pid);
    let back = db
        .store
        .act_on_case(&actor, &scope, &case.id, 3, Action::Resubmit, None)
        .await
        .unwrap();
    assert_eq!(back.state, State::InReview { step: 0 });
    // Returned and resubmitted the same day: at most that day is added.
    let again = back.deadline.clone().expect("running again");
    assert!(again >= due, "{again} < {due}");
    assert_eq!(back.events.len(), 4);
    assert_eq!(case_audits(&db, &case.id).await, 4);
}

/// The case page's one read (the case row, its events, its materials) comes from one snapshot
/// while the case keeps moving: never a row of one version with the events of another, and
/// never refused (on SQLite it runs on its own connection beside the writer).
async fn reads_during_moves_see_each_case_whole(db: TestDb) {
    let pid = new_person(&db, 1, "张伟", COMMUNITY_A1).await;
    let case = submitted(&db, "employment-subsidy", &pid).await;
    let (actor, scope) = resident(&pid);
    let reviewer = staff("r", "street_reviewer");
    let moves = 10;
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, scope, id) = (db.store.clone(), scope.clone(), case.id.clone());
            tokio::spawn(async move {
                let mut last = 0;
                let mut reads = 0;
                while last < 2 + 2 * moves {
                    let c = store.case(&scope, &id).await.expect("read during moves");
                    assert_eq!(c.events.len() as i64, c.version, "one snapshot: {c:?}");
                    assert!(c.version >= last, "versions never go back");
                    last = c.version;
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();
    let mut version = case.version;
    for _ in 0..moves {
        let back = Action::Decide(Decision::ReturnForCorrection {
            missing: vec!["劳动合同".into()],
        });
        version = db
            .store
            .act_on_case(&reviewer, &Scope::All, &case.id, version, back, None)
            .await
            .unwrap()
            .version;
        version = db
            .store
            .act_on_case(&actor, &scope, &case.id, version, Action::Resubmit, None)
            .await
            .unwrap()
            .version;
    }
    assert_eq!(version, 2 + 2 * moves);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
}
