//! The work around a case: decisions that change the registry (entitlements, certificates,
//! fulfilment tasks), claims, the public notice and its objections, ratings with follow-up,
//! escalation of overdue cases, and application materials.

use serde_json::json;
use zhucan_core::{Category, CertificateStatus, Grade, HouseholdStatus, Money, Role};
use zhucan_services::{
    Action, Award, Catalog, Decision, DocumentKind, OutcomeError, State, TransitionError,
};
use zhucan_store::{Actor, AuditVerification, CaseRecord, Channel, DbError, NewCase, Scope};

use crate::common::*;

backend_tests!(
    an_approved_subsidy_after_its_notice_becomes_an_entitlement_and_closes,
    a_described_amount_must_be_stated_by_the_final_approval,
    certificate_items_issue_replace_and_cancel_the_certificate,
    a_grade_change_stops_the_entitlements_no_longer_due,
    a_delivery_item_waits_for_its_fulfilment_task,
    a_claimed_case_is_decided_only_by_its_claimant,
    an_open_objection_holds_the_notice_and_an_upheld_one_rejects,
    one_client_sends_a_limited_number_of_objections_an_hour,
    a_poor_rating_opens_a_follow_up_for_the_office,
    an_overdue_case_escalates_once_to_the_supervisor,
    materials_are_kept_with_their_digest_and_views_are_audited,
    a_material_is_taken_back_only_before_reviewers_have_seen_it,
    the_applicant_is_told_at_each_step,
);

fn approve() -> Action {
    Action::Decide(Decision::Approve)
}

fn resident(person_id: &str) -> (Actor, Scope) {
    (
        Actor {
            id: format!("resident:{person_id}"),
            role: "resident".into(),
            client: None,
        },
        Scope::Persons(vec![person_id.to_owned()]),
    )
}

async fn add_person(db: &TestDb, input: zhucan_store::PersonInput) -> String {
    db.store
        .create_person(&system(), &Scope::All, &input)
        .await
        .unwrap()
}

/// A draft of `code` filed by the resident.
async fn draft(db: &TestDb, code: &str, person_id: &str) -> CaseRecord {
    let catalog = Catalog::seed();
    let v = catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == code)
        .unwrap();
    let (actor, scope) = resident(person_id);
    db.store
        .create_case(
            &actor,
            &scope,
            NewCase {
                service: v,
                person_id: person_id.to_owned(),
                channel: Channel::Portal,
                answers: json!({ "agree": true }),
                submit_key: None,
            },
        )
        .await
        .unwrap()
}

/// A case of `code` submitted by the resident, waiting at its first step.
async fn submitted(db: &TestDb, code: &str, person_id: &str) -> CaseRecord {
    let case = draft(db, code, person_id).await;
    let (actor, scope) = resident(person_id);
    db.store
        .submit_case(&actor, &scope, &case.id, case.version, None)
        .await
        .unwrap()
}

/// The case returned for correction by a street reviewer, `missing` named.
async fn returned_for(db: &TestDb, case: &CaseRecord, missing: &str) -> CaseRecord {
    db.store
        .act_on_case(
            &staff("s", "street_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            Action::Decide(Decision::ReturnForCorrection {
                missing: vec![missing.into()],
            }),
            None,
        )
        .await
        .unwrap()
}

/// Approves at every step but the last.
async fn approve_to_last_step(db: &TestDb, mut case: CaseRecord, steps: usize) -> CaseRecord {
    for _ in 1..steps {
        case = db
            .store
            .act_on_case(
                &staff("r", "district_reviewer"),
                &Scope::All,
                &case.id,
                case.version,
                approve(),
                None,
            )
            .await
            .unwrap();
    }
    case
}

async fn final_approval(db: &TestDb, case: &CaseRecord, award: &Award) -> CaseRecord {
    db.store
        .approve_case(
            &staff("r", "district_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            award,
            None,
        )
        .await
        .unwrap()
}

/// Moves the notice's last day into the past, as if its days had run.
async fn notice_over(db: &TestDb, case_id: &str) {
    db.exec(&format!(
        "UPDATE cases SET deadline = '2020-01-01' WHERE id = '{case_id}'"
    ))
    .await
    .unwrap();
}

fn actions(case: &CaseRecord) -> Vec<&str> {
    case.events.iter().map(|e| e.action.as_str()).collect()
}

/// 张伟, on 低保 (so the living subsidy's rule holds).
async fn dibao_person(db: &TestDb) -> String {
    let mut input = person(1, "张伟", COMMUNITY_A1);
    input.household_status = HouseholdStatus::Dibao;
    add_person(db, input).await
}

/// A living-subsidy case approved at every step, now in its public notice.
async fn living_subsidy_in_notice(db: &TestDb, pid: &str) -> CaseRecord {
    let case = submitted(db, "living-subsidy", pid).await;
    let case = approve_to_last_step(db, case, 3).await;
    final_approval(db, &case, &Award::default()).await
}

async fn assert_audit_intact(db: &TestDb) {
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}

async fn an_approved_subsidy_after_its_notice_becomes_an_entitlement_and_closes(db: TestDb) {
    let pid = dibao_person(&db).await;
    let case = living_subsidy_in_notice(&db, &pid).await;
    assert_eq!(case.state, State::Notice);
    assert_eq!(
        case.award.as_ref().and_then(|a| a.amount),
        Some(Money::parse("90").unwrap())
    );
    // The notice runs its days: nothing ends early.
    assert_eq!(db.store.run_due_work().await.unwrap().notices_ended, 0);
    assert_eq!(db.store.public_notices().await.unwrap().len(), 1);
    assert!(
        db.store
            .entitlements(&Scope::All, &pid)
            .await
            .unwrap()
            .is_empty()
    );
    notice_over(&db, &case.id).await;
    assert_eq!(db.store.run_due_work().await.unwrap().notices_ended, 1);
    assert_eq!(db.store.run_due_work().await.unwrap().notices_ended, 0);
    let case = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(case.state, State::Closed);
    assert_eq!(
        actions(&case)[actions(&case).len() - 3..],
        ["notice_ended", "fulfil", "close"]
    );
    let entitlements = db.store.entitlements(&Scope::All, &pid).await.unwrap();
    assert_eq!(entitlements.len(), 1);
    let e = &entitlements[0];
    assert!(e.active);
    assert_eq!(e.amount, Money::from_fen(9000));
    assert_eq!(e.period.slug(), "month");
    assert_eq!(e.case_id.as_deref(), Some(case.id.as_str()));
    assert_eq!(e.start_month.len(), 7);
    // Outside the person's street nobody sees it.
    assert!(
        db.store
            .entitlements(&street_scope(STREET_B), &pid)
            .await
            .unwrap()
            .is_empty()
    );
    assert_audit_intact(&db).await;
}

async fn a_described_amount_must_be_stated_by_the_final_approval(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let case = submitted(&db, "nursing-subsidy", &pid).await;
    let case = approve_to_last_step(&db, case, 3).await;
    let refused = db
        .store
        .approve_case(
            &staff("r", "district_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            &Award::default(),
            None,
        )
        .await;
    assert!(matches!(
        refused,
        Err(DbError::Outcome(OutcomeError::AmountMissing))
    ));
    // So does a plain approval, which states nothing.
    let plain = db
        .store
        .act_on_case(
            &staff("r", "district_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            approve(),
            None,
        )
        .await;
    assert!(matches!(plain, Err(DbError::Outcome(_))));
    let unchanged = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(unchanged.version, case.version);
    assert_eq!(unchanged.state, case.state);
    let award = Award {
        amount: Some(Money::parse("80").unwrap()),
        ..Award::default()
    };
    let case = final_approval(&db, &case, &award).await;
    assert_eq!(case.state, State::Notice);
    notice_over(&db, &case.id).await;
    db.store.run_due_work().await.unwrap();
    let e = db.store.entitlements(&Scope::All, &pid).await.unwrap();
    assert_eq!(e[0].amount, Money::from_fen(8000));
}

async fn certificate_items_issue_replace_and_cancel_the_certificate(db: TestDb) {
    let mut input = person(1, "张伟", COMMUNITY_A1);
    input.certificate = None;
    let pid = add_person(&db, input).await;
    // New issue: chain street → health → district; the number follows the assessment.
    let case = submitted(&db, "cert-new", &pid).await;
    let case = approve_to_last_step(&db, case, 3).await;
    let assessed = Award {
        category: Some(Category::Hearing),
        grade: Some(Grade::Three),
        ..Award::default()
    };
    let case = final_approval(&db, &case, &assessed).await;
    assert_eq!(case.state, State::Closed);
    let record = db
        .store
        .view_person(&system(), &Scope::All, &pid)
        .await
        .unwrap();
    let cert = record.certificate.unwrap();
    assert_eq!(cert.number.as_str(), format!("{}23", rid(1).as_str()));
    assert_eq!(cert.status, CertificateStatus::Valid);
    assert!(cert.expires_on.unwrap().as_str() > "2036");

    // A second new issue while one is valid is refused and changes nothing.
    let again = submitted(&db, "cert-new", &pid).await;
    let again = approve_to_last_step(&db, again, 3).await;
    let refused = db
        .store
        .approve_case(
            &staff("r", "district_reviewer"),
            &Scope::All,
            &again.id,
            again.version,
            &assessed,
            None,
        )
        .await;
    assert!(matches!(
        refused,
        Err(DbError::Outcome(OutcomeError::AlreadyCertified))
    ));

    // Replacement appends B1, then B2.
    for suffix in ["B1", "B2"] {
        let case = submitted(&db, "cert-replace", &pid).await;
        let case = final_approval(&db, &case, &Award::default()).await;
        assert_eq!(case.state, State::Closed);
        let record = db
            .store
            .view_person(&system(), &Scope::All, &pid)
            .await
            .unwrap();
        assert_eq!(
            record.certificate.unwrap().number.as_str(),
            format!("{}23{suffix}", rid(1).as_str())
        );
    }

    // Cancellation cancels it and stops the running benefits.
    db.exec(&format!(
        "INSERT INTO entitlements (id, person_id, case_id, division_code, service_code, \
         amount_fen, start_month, status, created_at) VALUES ('e1', '{pid}', NULL, \
         '{COMMUNITY_A1}', 'living-subsidy', 9000, '2026-01', 'active', '2026-01-01T00:00:00Z')"
    ))
    .await
    .unwrap();
    let case = submitted(&db, "cert-cancel", &pid).await;
    final_approval(&db, &case, &Award::default()).await;
    let record = db
        .store
        .view_person(&system(), &Scope::All, &pid)
        .await
        .unwrap();
    assert_eq!(
        record.certificate.unwrap().status,
        CertificateStatus::Cancelled
    );
    let e = db.store.entitlements(&Scope::All, &pid).await.unwrap();
    assert!(!e[0].active);
    assert!(e[0].reason.as_deref().unwrap().contains("注销"));
    assert!(e[0].stopped_month.is_some());
    assert_audit_intact(&db).await;
}

async fn a_grade_change_stops_the_entitlements_no_longer_due(db: TestDb) {
    // Grade 2 physical: nursing subsidy due (grade ≤ 2).
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let nursing = submitted(&db, "nursing-subsidy", &pid).await;
    let nursing = approve_to_last_step(&db, nursing, 3).await;
    let award = Award {
        amount: Some(Money::parse("80").unwrap()),
        ..Award::default()
    };
    let nursing = final_approval(&db, &nursing, &award).await;
    notice_over(&db, &nursing.id).await;
    db.store.run_due_work().await.unwrap();
    assert!(db.store.entitlements(&Scope::All, &pid).await.unwrap()[0].active);

    // Re-assessed as grade 3: the new number, and the nursing subsidy stops.
    let change = submitted(&db, "cert-change", &pid).await;
    let change = approve_to_last_step(&db, change, 2).await;
    let missing = db
        .store
        .approve_case(
            &staff("r", "district_reviewer"),
            &Scope::All,
            &change.id,
            change.version,
            &Award::default(),
            None,
        )
        .await;
    assert!(matches!(
        missing,
        Err(DbError::Outcome(OutcomeError::AssessmentMissing))
    ));
    let regraded = Award {
        category: Some(Category::Physical),
        grade: Some(Grade::Three),
        ..Award::default()
    };
    final_approval(&db, &change, &regraded).await;
    let record = db
        .store
        .view_person(&system(), &Scope::All, &pid)
        .await
        .unwrap();
    assert_eq!(
        record.certificate.unwrap().number.as_str(),
        format!("{}43", rid(1).as_str())
    );
    let e = &db.store.entitlements(&Scope::All, &pid).await.unwrap()[0];
    assert!(!e.active);
    assert!(e.reason.as_deref().unwrap().contains("grade"), "{e:?}");
}

async fn a_delivery_item_waits_for_its_fulfilment_task(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let case = submitted(&db, "device-fitting", &pid).await;
    let case = approve_to_last_step(&db, case, 3).await;
    let case = final_approval(&db, &case, &Award::default()).await;
    assert_eq!(case.state, State::Approved);
    let tasks = db
        .store
        .tasks(&street_scope(DISTRICT), Some(Role::Provider), true, 50)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task.kind, "fulfilment");
    assert_eq!(task.case_id, case.id);
    assert_eq!(task.person_name, "张伟");
    // Nobody else's list, and not outside the scope.
    assert!(
        db.store
            .tasks(&Scope::All, Some(Role::StreetReviewer), true, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.store
            .tasks(&street_scope(STREET_B), None, true, 50)
            .await
            .unwrap()
            .is_empty()
    );
    let provider = staff("p", "provider");
    let empty = db
        .store
        .complete_task(&provider, &Scope::All, &task.id, task.version, "  ")
        .await;
    assert!(matches!(empty, Err(DbError::Invalid { field: "note", .. })));
    db.store
        .complete_task(&provider, &Scope::All, &task.id, task.version, "已适配轮椅")
        .await
        .unwrap();
    let stale = db
        .store
        .complete_task(&provider, &Scope::All, &task.id, task.version, "again")
        .await;
    assert!(matches!(stale, Err(DbError::Conflict { .. })));
    let case = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(case.state, State::Closed);
    assert_eq!(case.events.last().unwrap().actor, "account:p");
    assert!(
        db.store
            .tasks(&Scope::All, None, true, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_audit_intact(&db).await;
}

async fn a_claimed_case_is_decided_only_by_its_claimant(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let case = submitted(&db, "living-subsidy", &pid).await;
    let (a, b) = (staff("a", "street_reviewer"), staff("b", "street_reviewer"));
    let scope = street_scope(STREET_A);
    db.store
        .claim_case(&a, &scope, &case.id, case.version)
        .await
        .unwrap();
    let claimed = db.store.case(&scope, &case.id).await.unwrap();
    assert_eq!(claimed.claimed_by.as_deref(), Some("account:a"));
    assert_eq!(claimed.version, case.version + 1);
    // A stale claim and a claim over someone else's are refused.
    assert!(matches!(
        db.store
            .claim_case(&b, &scope, &case.id, case.version)
            .await,
        Err(DbError::Conflict { .. })
    ));
    assert!(matches!(
        db.store
            .claim_case(&b, &scope, &case.id, claimed.version)
            .await,
        Err(DbError::Claimed { by }) if by == "account:a"
    ));
    assert!(matches!(
        db.store
            .act_on_case(&b, &scope, &case.id, claimed.version, approve(), None)
            .await,
        Err(DbError::Claimed { .. })
    ));
    let moved = db
        .store
        .act_on_case(&a, &scope, &case.id, claimed.version, approve(), None)
        .await
        .unwrap();
    assert_eq!(moved.state, State::InReview { step: 1 });
    // The move releases the claim.
    assert_eq!(moved.claimed_by, None);
    // A case not waiting at a step cannot be claimed.
    let (actor, own) = resident(&pid);
    let other = submitted(&db, "cert-renew", &pid).await;
    let withdrawn = db
        .store
        .act_on_case(
            &actor,
            &own,
            &other.id,
            other.version,
            Action::Withdraw,
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .claim_case(&a, &Scope::All, &withdrawn.id, withdrawn.version)
            .await,
        Err(DbError::Transition(TransitionError::NotInReview { .. }))
    ));
}

async fn an_open_objection_holds_the_notice_and_an_upheld_one_rejects(db: TestDb) {
    let pid = dibao_person(&db).await;
    let public = Actor::system("public");
    let mut cases = Vec::new();
    for _ in 0..2 {
        cases.push(living_subsidy_in_notice(&db, &pid).await);
    }
    let notices = db.store.public_notices().await.unwrap();
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0].name_masked, "张*");
    let shown = serde_json::to_string(&notices).unwrap();
    assert!(!shown.contains("张伟"));
    assert!(!shown.contains(&cases[0].number));
    assert!(!has_digit_run(&shown, 15));

    // An objection needs a name and a text.
    assert!(matches!(
        db.store
            .raise_objection(&public, &cases[0].id, "", "", "不符合")
            .await,
        Err(DbError::Invalid {
            field: "raised_by",
            ..
        })
    ));
    let first = db
        .store
        .raise_objection(
            &public,
            &cases[0].id,
            "王五",
            "138****0000",
            "其家庭收入超标",
        )
        .await
        .unwrap();
    let second = db
        .store
        .raise_objection(&public, &cases[1].id, "赵六", "", "情况不实")
        .await
        .unwrap();
    for case in &cases {
        notice_over(&db, &case.id).await;
    }
    // Both notices are over, but objections are open: neither ends.
    assert_eq!(db.store.run_due_work().await.unwrap().notices_ended, 0);
    let reviewer = staff("r", "district_reviewer");
    db.store
        .decide_objection(&reviewer, &Scope::All, &first, false, "经核实收入符合")
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .decide_objection(&reviewer, &Scope::All, &first, true, "again")
            .await,
        Err(DbError::Invalid { .. })
    ));
    assert_eq!(db.store.run_due_work().await.unwrap().notices_ended, 1);
    assert_eq!(
        db.store
            .case(&Scope::All, &cases[0].id)
            .await
            .unwrap()
            .state,
        State::Closed
    );
    // Upheld: the case is rejected with the reason; no objection outside the notice.
    db.store
        .decide_objection(&reviewer, &Scope::All, &second, true, "经核实家庭收入超标")
        .await
        .unwrap();
    let rejected = db.store.case(&Scope::All, &cases[1].id).await.unwrap();
    assert_eq!(rejected.state, State::Rejected);
    assert!(
        rejected
            .events
            .last()
            .unwrap()
            .comment
            .as_deref()
            .unwrap()
            .contains("收入超标")
    );
    assert!(matches!(
        db.store
            .raise_objection(&public, &cases[1].id, "王五", "", "x")
            .await,
        Err(DbError::NotFound)
    ));
    let objections = db
        .store
        .objections(&Scope::All, &cases[1].id)
        .await
        .unwrap();
    assert_eq!(objections[0].status, "upheld");
    assert!(
        db.store
            .objections(&street_scope(STREET_B), &cases[1].id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.store
            .entitlements(&Scope::All, &pid)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_audit_intact(&db).await;
}

async fn a_poor_rating_opens_a_follow_up_for_the_office(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let (actor, scope) = resident(&pid);
    let case = submitted(&db, "living-subsidy", &pid).await;
    assert!(matches!(
        db.store.rate_case(&actor, &scope, &case.id, 5, "").await,
        Err(DbError::Invalid { field: "score", .. })
    ));
    // Rejected at the street step: the street office follows up.
    let rejected = db
        .store
        .act_on_case(
            &staff("s", "street_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            Action::Decide(Decision::Reject {
                reason: "不是低保家庭".into(),
            }),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .rate_case(&actor, &scope, &rejected.id, 6, "")
            .await,
        Err(DbError::Invalid { field: "score", .. })
    ));
    db.store
        .rate_case(&actor, &scope, &rejected.id, 2, "没有说明怎么补办")
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .rate_case(&actor, &scope, &rejected.id, 5, "")
            .await,
        Err(DbError::Duplicate("rating"))
    ));
    let rating = db
        .store
        .rating(&scope, &rejected.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rating.score, 2);
    let tasks = db
        .store
        .tasks(
            &street_scope(STREET_A),
            Some(Role::StreetReviewer),
            true,
            50,
        )
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, "follow_up");
    assert!(
        tasks[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("没有说明怎么补办")
    );
    // A good rating opens nothing.
    let other = submitted(&db, "cert-renew", &pid).await;
    let closed = final_approval(&db, &other, &Award::default()).await;
    assert_eq!(closed.state, State::Closed);
    db.store
        .rate_case(&actor, &scope, &closed.id, 5, "")
        .await
        .unwrap();
    assert_eq!(db.count("tasks").await, 1);
}

async fn an_overdue_case_escalates_once_to_the_supervisor(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let case = submitted(&db, "living-subsidy", &pid).await;
    assert_eq!(db.store.run_due_work().await.unwrap().escalated, 0);
    notice_over(&db, &case.id).await;
    assert_eq!(db.store.run_due_work().await.unwrap().escalated, 1);
    assert_eq!(db.store.run_due_work().await.unwrap().escalated, 0);
    let tasks = db
        .store
        .tasks(&Scope::All, Some(Role::DistrictReviewer), true, 50)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, "escalation");
    let record = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(record.events.last().unwrap().action, "escalate");
    // Escalation is not a move: the reviewer's page is not made stale.
    assert_eq!(record.version, case.version);
    // Moved on to the next step, it can escalate again there (to the district's supervisor).
    let moved = db
        .store
        .act_on_case(
            &staff("s", "street_reviewer"),
            &Scope::All,
            &case.id,
            case.version,
            approve(),
            None,
        )
        .await
        .unwrap();
    notice_over(&db, &moved.id).await;
    assert_eq!(db.store.run_due_work().await.unwrap().escalated, 1);
    assert_eq!(
        db.store
            .tasks(&Scope::All, Some(Role::Admin), true, 50)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn materials_are_kept_with_their_digest_and_views_are_audited(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let (actor, scope) = resident(&pid);
    let case = submitted(&db, "living-subsidy", &pid).await;
    let pdf = b"%PDF-1.7 low-income certificate".to_vec();
    let meta = db
        .store
        .add_document(
            &actor,
            &scope,
            &case.id,
            "低保证.pdf",
            DocumentKind::Pdf,
            &pdf,
        )
        .await
        .unwrap();
    assert_eq!(meta.mime, "application/pdf");
    assert_eq!(meta.size, pdf.len() as i64);
    assert_eq!(meta.digest, zhucan_crypto::sm3_hex(&pdf));
    let listed = db.store.case(&scope, &case.id).await.unwrap().documents;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, meta.name);
    assert_eq!(listed[0].digest, meta.digest);
    assert_eq!(listed[0].size, meta.size);
    assert!(matches!(
        db.store.case(&street_scope(STREET_B), &case.id).await,
        Err(DbError::NotFound)
    ));
    let views = || db.count("audit_log WHERE entity = 'case_document' AND action = 'view'");
    assert_eq!(views().await, 0);
    let (read, content) = db
        .store
        .document(
            &staff("s", "street_reviewer"),
            &street_scope(STREET_A),
            &case.id,
            &meta.id,
        )
        .await
        .unwrap();
    assert_eq!(content, pdf);
    assert_eq!(read.name, "低保证.pdf");
    assert_eq!(views().await, 1);
    assert!(matches!(
        db.store
            .document(
                &staff("b", "street_reviewer"),
                &street_scope(STREET_B),
                &case.id,
                &meta.id
            )
            .await,
        Err(DbError::NotFound)
    ));
    // A finished case takes no more materials.
    let withdrawn = db
        .store
        .act_on_case(
            &actor,
            &scope,
            &case.id,
            case.version,
            Action::Withdraw,
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .add_document(
                &actor,
                &scope,
                &withdrawn.id,
                "x.pdf",
                DocumentKind::Pdf,
                &pdf
            )
            .await,
        Err(DbError::Transition(_))
    ));
    assert_eq!(db.count("case_documents").await, 1);
    assert_audit_intact(&db).await;
}

async fn the_applicant_is_told_at_each_step(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let case = submitted(&db, "wheelchair-fuel", &pid).await;
    let returned = returned_for(&db, &case, "机动轮椅车行驶证").await;
    let (actor, scope) = resident(&pid);
    let resubmitted = db
        .store
        .act_on_case(
            &actor,
            &scope,
            &case.id,
            returned.version,
            Action::Resubmit,
            None,
        )
        .await
        .unwrap();
    let at_district = approve_to_last_step(&db, resubmitted, 2).await;
    final_approval(&db, &at_district, &Award::default()).await;
    let inbox = db
        .store
        .inbox(std::slice::from_ref(&pid), 1, 50)
        .await
        .unwrap();
    let texts: Vec<&str> = inbox.items.iter().rev().map(|m| m.body.as_str()).collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert!(
        texts[0].contains("已提交") && texts[0].contains("街道审核"),
        "{texts:?}"
    );
    assert!(texts[1].contains("需要补正：机动轮椅车行驶证"), "{texts:?}");
    assert!(texts[2].contains("街道审核"), "{texts:?}");
    assert!(texts[3].contains("区残联审定"), "{texts:?}");
    // Approved, granted and closed at once: one message, not three.
    assert!(texts[4].contains("已办结"), "{texts:?}");
    assert!(texts.iter().all(|t| t.contains(&case.number)));
    assert!(
        inbox.items[0]
            .body_en
            .as_deref()
            .unwrap()
            .contains("is complete")
    );
    // Each went to the person's phone as well.
    assert_eq!(db.count("notifications WHERE channel = 'sms'").await, 5);
}

async fn a_material_is_taken_back_only_before_reviewers_have_seen_it(db: TestDb) {
    let pid = add_person(&db, person(1, "张伟", COMMUNITY_A1)).await;
    let other = add_person(&db, person(2, "李娜", COMMUNITY_A1)).await;
    let (actor, scope) = resident(&pid);
    let case = draft(&db, "living-subsidy", &pid).await;
    let pdf = b"%PDF-1.7 scan".to_vec();
    let add = |name: &'static str| {
        let (db, actor, scope, id, pdf) = (&db, &actor, &scope, case.id.clone(), pdf.clone());
        async move {
            db.store
                .add_document(actor, scope, &id, name, DocumentKind::Pdf, &pdf)
                .await
                .unwrap()
        }
    };
    let removes = || db.count("audit_log WHERE entity = 'case_document' AND action = 'delete'");
    let refused = |r: Result<_, DbError>| {
        matches!(
            r,
            Err(DbError::Invalid {
                field: "document",
                ..
            })
        )
    };

    // A draft's file: taken back, and the removal audited.
    let wrong = add("错的.pdf").await;
    let stranger = resident(&other);
    assert!(matches!(
        db.store
            .remove_document(&stranger.0, &stranger.1, &case.id, &wrong.id)
            .await,
        Err(DbError::NotFound)
    ));
    let removed = db
        .store
        .remove_document(&actor, &scope, &case.id, &wrong.id)
        .await
        .unwrap();
    assert_eq!(removed.name, "错的.pdf");
    assert_eq!(removes().await, 1);
    assert!(
        db.store
            .case(&scope, &case.id)
            .await
            .unwrap()
            .documents
            .is_empty()
    );

    // Submitted: what reviewers see stays, also once the case is returned for correction.
    let seen = add("低保证.pdf").await;
    let case = db
        .store
        .submit_case(&actor, &scope, &case.id, case.version, None)
        .await
        .unwrap();
    assert!(refused(
        db.store
            .remove_document(&actor, &scope, &case.id, &seen.id)
            .await
    ));
    let returned = returned_for(&db, &case, "户口簿").await;
    assert!(!returned.may_remove(&returned.documents[0]));
    assert!(refused(
        db.store
            .remove_document(&actor, &scope, &case.id, &seen.id)
            .await
    ));
    // A file added during the correction can be taken back.
    let late = add("户口簿.pdf").await;
    let record = db.store.case(&scope, &case.id).await.unwrap();
    assert!(
        record
            .documents
            .iter()
            .any(|d| d.id == late.id && record.may_remove(d))
    );
    db.store
        .remove_document(&actor, &scope, &case.id, &late.id)
        .await
        .unwrap();
    let left = db.store.case(&scope, &case.id).await.unwrap().documents;
    assert_eq!(
        left.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [seen.id.as_str()]
    );
    assert_eq!(removes().await, 2);
    assert!(matches!(
        db.store
            .remove_document(&actor, &scope, &case.id, &late.id)
            .await,
        Err(DbError::NotFound)
    ));
    assert_audit_intact(&db).await;
}

async fn one_client_sends_a_limited_number_of_objections_an_hour(db: TestDb) {
    let pid = dibao_person(&db).await;
    let case = living_subsidy_in_notice(&db, &pid).await;
    let from = |client: &str| Actor {
        id: "public".into(),
        role: "public".into(),
        client: Some(client.into()),
    };
    let object = |actor: Actor| {
        let (db, id) = (&db, case.id.clone());
        async move {
            db.store
                .raise_objection(&actor, &id, "王五", "", "情况不实")
                .await
        }
    };
    for _ in 0..zhucan_store::MAX_OBJECTIONS_PER_CLIENT {
        object(from("203.0.113.7")).await.unwrap();
    }
    let refused = object(from("203.0.113.7")).await;
    assert!(
        matches!(&refused, Err(DbError::RateLimited { zh, .. }) if zh.contains("一小时内")),
        "{refused:?}"
    );
    // Another client is not held back by the first; nothing of the refused one was stored.
    object(from("198.51.100.2")).await.unwrap();
    assert_eq!(
        db.count("case_objections").await,
        zhucan_store::MAX_OBJECTIONS_PER_CLIENT + 1
    );
    assert_audit_intact(&db).await;
}
