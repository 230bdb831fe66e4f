//! The portal's own queries: a draft's answers saved page by page.

use serde_json::json;
use zhucan_services::{Action, Catalog, Decision};
use zhucan_store::{Actor, Channel, DbError, NewCase, Scope};

use crate::common::*;

backend_tests!(a_drafts_answers_are_saved_version_checked_until_it_is_submitted);

async fn a_drafts_answers_are_saved_version_checked_until_it_is_submitted(db: TestDb) {
    let pid = db
        .store
        .create_person(&system(), &Scope::All, &person(1, "张伟", COMMUNITY_A1))
        .await
        .unwrap();
    let actor = Actor {
        id: "resident:test".into(),
        role: "resident".into(),
        client: None,
    };
    let scope = Scope::Persons(vec![pid.clone()]);
    let catalog = Catalog::seed();
    let service = catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == "wheelchair-fuel")
        .unwrap();
    let draft = db
        .store
        .create_case(
            &actor,
            &scope,
            NewCase {
                service,
                person_id: pid.clone(),
                channel: Channel::Portal,
                answers: json!({}),
                submit_key: Some("start1".into()),
            },
        )
        .await
        .unwrap();

    let answers = json!({ "owns_motorised_wheelchair": true });
    let saved = db
        .store
        .save_draft_answers(&actor, &scope, &draft.id, draft.version, &answers)
        .await
        .unwrap();
    assert_eq!(saved.answers, answers);
    assert_eq!(saved.version, draft.version + 1);

    // A page read before the save is stale.
    assert!(matches!(
        db.store
            .save_draft_answers(&actor, &scope, &draft.id, draft.version, &json!({}))
            .await,
        Err(DbError::Conflict { current }) if current == saved.version
    ));
    // Someone else's draft is not there at all.
    let other = Scope::Persons(vec!["someone-else".into()]);
    assert!(matches!(
        db.store
            .save_draft_answers(&actor, &other, &draft.id, saved.version, &json!({}))
            .await,
        Err(DbError::NotFound)
    ));

    // Submitted, the answers are fixed; returned for correction, they may change again.
    let submitted = db
        .store
        .submit_case(&actor, &scope, &draft.id, saved.version, None)
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .save_draft_answers(&actor, &scope, &draft.id, submitted.version, &json!({}))
            .await,
        Err(DbError::Invalid {
            field: "answers",
            ..
        })
    ));
    let returned = db
        .store
        .act_on_case(
            &staff("s", "street_reviewer"),
            &Scope::All,
            &draft.id,
            submitted.version,
            Action::Decide(Decision::ReturnForCorrection {
                missing: vec!["车辆合格证".into()],
            }),
            None,
        )
        .await
        .unwrap();
    let corrected = json!({ "owns_motorised_wheelchair": false });
    let saved = db
        .store
        .save_draft_answers(&actor, &scope, &draft.id, returned.version, &corrected)
        .await
        .unwrap();
    assert_eq!(saved.answers, corrected);

    let audit = db.store.audit_for("case", &draft.id).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "update").count(),
        2,
        "each save is audited"
    );
}
