use std::collections::HashSet;

use zhucan_jobs::{generate_cases, persons, seed_demo};
use zhucan_services::{State, Step};
use zhucan_store::{AuditVerification, CaseRecord, Scope, Store};

use crate::common::store;

/// Every stored case, read as the case page reads it.
async fn all_cases(store: &Store) -> Vec<CaseRecord> {
    let mut cases = Vec::new();
    for person in store.case_persons(None, 1_000_000).await.unwrap() {
        for c in store
            .cases_for_person(&Scope::All, &person.id)
            .await
            .unwrap()
        {
            cases.push(store.case(&Scope::All, &c.id).await.unwrap());
        }
    }
    cases
}

#[tokio::test]
async fn generated_cases_are_numbered_valid_and_fill_the_queues() {
    let (_dir, store) = store().await;
    seed_demo(&store, 300, 1).await.unwrap();
    let phone = persons(300, 1)
        .find_map(|p| p.phone)
        .expect("some person has a phone");

    let made = generate_cases(&store, 200, 7, Some(&phone), false)
        .await
        .unwrap();
    assert_eq!(made.cases, 200);
    assert!(made.for_phone >= 3, "{made:?}");

    let cases = all_cases(&store).await;
    assert_eq!(cases.len(), 200);
    assert_eq!(
        cases.iter().map(|c| c.events.len() as u64).sum::<u64>(),
        made.events
    );
    // Numbers are the district's first 200 of the year, once each.
    let numbers: HashSet<u64> = cases
        .iter()
        .map(|c| c.number.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=200).collect());
    for c in &cases {
        assert_eq!(c.events[0].action, "create");
        assert_eq!(c.events.last().unwrap().to_state, c.state.slug());
        assert_eq!(c.version, c.events.len() as i64);
        let waiting = matches!(c.state, State::Submitted | State::InReview { .. });
        assert_eq!(c.deadline.is_some(), waiting || c.state == State::Notice);
        assert_eq!(c.submitted_at.is_some(), c.state != State::Draft);
    }
    let closed = cases.iter().filter(|c| c.state == State::Closed).count();
    assert!(closed > 100, "most cases are finished: {closed}");

    // The queues hold exactly the waiting cases.
    let mut queued = 0;
    for step in Step::ALL {
        queued += store.queue(&Scope::All, step, 1, 25).await.unwrap().total as u64;
    }
    assert_eq!(queued, made.waiting);
    assert!(
        store
            .queue(&Scope::All, Step::Street, 1, 25)
            .await
            .unwrap()
            .total
            > 0
    );

    // The phone's residents have a case waiting.
    let theirs = store.case_persons_for_phone(&phone).await.unwrap();
    let waiting = cases.iter().filter(|c| {
        theirs.iter().any(|p| p.id == c.person_id)
            && matches!(c.state, State::Submitted | State::InReview { .. })
    });
    assert!(waiting.count() >= 1);

    assert!(matches!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { .. }
    ));
}
