//! Generated cases loaded in bulk (`zhucan gen cases`): numbered after the district's counter,
//! readable as the workflow's own, in the reviewers' queues, and audited.

use time::{Duration, OffsetDateTime};
use zhucan_services::{Action, Catalog, Decision, State, Step, transition};
use zhucan_store::{
    AuditVerification, CasePerson, Channel, Scope, SyntheticCase, SyntheticEvent, action_name,
};

use crate::common::*;

backend_tests!(generated_cases_read_back_numbered_queued_and_audited);

/// A `code` case of `person` taken from a new draft through `actions`.
fn generated(person: &CasePerson, code: &str, actions: &[Action]) -> SyntheticCase {
    let catalog = Catalog::seed();
    let service = catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == code)
        .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::days(3);
    let mut state = State::Draft;
    let mut events = vec![SyntheticEvent {
        at: start,
        actor: "resident:test".into(),
        actor_role: "resident".into(),
        action: "create",
        from: None,
        to: state,
        comment: None,
    }];
    for (i, action) in actions.iter().enumerate() {
        let to = transition(state, service.chain(), service.notice_days(), action).unwrap();
        events.push(SyntheticEvent {
            at: start + Duration::hours(i as i64 + 1),
            actor: "account:test".into(),
            actor_role: "street_reviewer".into(),
            action: action_name(action),
            from: Some(state),
            to,
            comment: None,
        });
        state = to;
    }
    SyntheticCase {
        person: person.clone(),
        service_code: code.into(),
        service_version: i64::from(service.version()),
        channel: Channel::Portal,
        filed_by: "resident:test".into(),
        step_code: state.step().map(|s| service.chain()[s].slug().to_owned()),
        deadline: matches!(state, State::Submitted | State::InReview { .. })
            .then(|| time::Date::from_calendar_date(2030, time::Month::January, 1).unwrap()),
        created_at: start,
        submitted_at: (!actions.is_empty()).then(|| start + Duration::hours(1)),
        state,
        events,
    }
}

async fn generated_cases_read_back_numbered_queued_and_audited(db: TestDb) {
    db.store.seed_catalog(&Catalog::seed()).await.unwrap();
    for (n, division) in [(1, COMMUNITY_A1), (2, COMMUNITY_B1)] {
        db.store
            .create_person(&system(), &Scope::All, &person(n, "张三", division))
            .await
            .unwrap();
    }
    let persons = db.store.case_persons(None, 10).await.unwrap();
    assert_eq!(persons.len(), 2);
    assert_eq!(
        db.store
            .case_persons(Some(&persons[0].id), 10)
            .await
            .unwrap(),
        persons[1..]
    );
    let a = db.store.case_persons_for_phone(&phone(1)).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].street_code.as_deref(), Some(STREET_A));
    let a = &a[0];
    let b = persons.iter().find(|p| p.id != a.id).unwrap();

    let approve = || Action::Decide(Decision::Approve);
    let batch = [
        generated(a, "living-subsidy", &[Action::Submit]),
        generated(a, "living-subsidy", &[Action::Submit, approve()]),
        generated(b, "wheelchair-fuel", &[Action::Submit]),
        generated(
            a,
            "wheelchair-fuel",
            &[
                Action::Submit,
                approve(),
                approve(),
                Action::Fulfil,
                Action::Close,
            ],
        ),
    ];
    db.store
        .insert_synthetic_cases(&system(), DISTRICT, &batch)
        .await
        .unwrap();
    db.store
        .insert_synthetic_cases(&system(), DISTRICT, &batch[..1])
        .await
        .unwrap();

    let mut numbers = Vec::new();
    for p in [a, b] {
        for summary in db.store.cases_for_person(&Scope::All, &p.id).await.unwrap() {
            let case = db.store.case(&Scope::All, &summary.id).await.unwrap();
            assert_eq!(case.version, case.events.len() as i64);
            assert_eq!(case.events.last().unwrap().to_state, case.state.slug());
            numbers.push(case.number.rsplit('-').next().unwrap().to_owned());
        }
    }
    numbers.sort();
    assert_eq!(numbers, ["000001", "000002", "000003", "000004", "000005"]);

    // Street A waits on its submitted living subsidy, loaded twice; B's case is not in its scope.
    let queue = db
        .store
        .queue(&street_scope(STREET_A), Step::Street, 1, 25)
        .await
        .unwrap();
    assert_eq!(queue.total, 2);
    assert!(queue.items.iter().all(|c| c.state == State::Submitted));
    let district = db
        .store
        .queue(&Scope::All, Step::District, 1, 25)
        .await
        .unwrap();
    assert_eq!(district.total, 1);
    assert_eq!(district.items[0].state, State::InReview { step: 1 });
    assert_eq!(db.count("audit_log WHERE action = 'generate'").await, 2);
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}
