//! The reviewers' workbench: queues within scope, the case page, decisions, stale decisions.

use axum::http::StatusCode;
use zhucan_core::Role;
use zhucan_services::State;
use zhucan_store::{CaseRecord, Scope};

use crate::common::*;

/// A living-subsidy case (street → district → civil affairs) submitted for a new person.
async fn submitted_case(app: &App, n: u32, name: &str, division: &str) -> CaseRecord {
    let pid = app.person(&person(n, name, division)).await;
    app.submitted("living-subsidy", &pid).await
}

async fn state_of(app: &App, id: &str) -> CaseRecord {
    app.store.case(&Scope::All, id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_street_reviewer_sees_only_their_streets_queue_and_approves_to_district() {
    let app = App::new().await;
    let mine = submitted_case(&app, 1, "张伟", COMMUNITY_A1).await;
    let other = submitted_case(&app, 2, "李四", COMMUNITY_B1).await;
    let mut street = app.staff("street_a", Role::StreetReviewer, STREET_A).await;

    let queue = street.get("/staff/cases?step=street").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert!(queue.body.contains(&mine.number));
    assert!(queue.body.contains("张伟"));
    assert!(queue.body.contains(&mine.rid_masked));
    assert!(!queue.body.contains(&other.number));
    assert!(!queue.body.contains("李四"));
    assert!(queue.body.contains("<caption>"));
    // The default step is the role's own.
    let default = street.get("/staff/cases").await;
    assert!(default.body.contains(&mine.number));
    // A step the role does not review.
    assert_eq!(
        street.get("/staff/cases?step=district").await.status,
        StatusCode::FORBIDDEN
    );

    // Another street's case by URL does not exist for this reviewer.
    assert_eq!(
        street
            .get(&format!("/staff/cases/{}", other.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let page = street.get(&format!("/staff/cases/{}", mine.id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("审核决定"));
    assert!(page.body.contains("资格核对"));
    assert!(page.body.contains("提交申请"));
    let csrf = hidden_csrf(&page.body).unwrap();
    let other_post = street
        .post_form(
            &format!("/staff/cases/{}/decide", other.id),
            &[
                ("csrf", &csrf),
                ("version", &other.version.to_string()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(other_post.status, StatusCode::NOT_FOUND);
    assert_eq!(state_of(&app, &other.id).await.state, State::Submitted);

    let resp = street
        .post_form(
            &format!("/staff/cases/{}/decide", mine.id),
            &[
                ("csrf", &csrf),
                ("version", &mine.version.to_string()),
                ("decision", "approve"),
                ("comment", "材料齐全"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert!(
        resp.location()
            .unwrap()
            .starts_with("/staff/cases?step=street")
    );
    let after = state_of(&app, &mine.id).await;
    assert_eq!(after.state, State::InReview { step: 1 });
    assert_eq!(after.step_code.as_deref(), Some("district"));
    let notice = street.get(resp.location().unwrap()).await;
    assert!(notice.body.contains(&mine.number), "notice names the case");

    // Now it is in the district's queue, on the district reviewer's page.
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;
    let queue = district.get("/staff/cases").await;
    assert!(queue.body.contains(&mine.number));
    assert!(
        !queue.body.contains(&other.number),
        "other is still at street"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_decisions_from_one_version_let_the_first_win_and_tell_the_second() {
    let app = App::new().await;
    let case = submitted_case(&app, 1, "张伟", COMMUNITY_A1).await;
    let mut one = app
        .staff("street_one", Role::StreetReviewer, STREET_A)
        .await;
    let mut two = app
        .staff("street_two", Role::StreetReviewer, STREET_A)
        .await;
    let path = format!("/staff/cases/{}", case.id);
    let csrf_one = hidden_csrf(&one.get(&path).await.body).unwrap();
    let csrf_two = hidden_csrf(&two.get(&path).await.body).unwrap();
    let version = case.version.to_string();
    let first = one
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf_one),
                ("version", &version),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let second = two
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf_two),
                ("version", &version),
                ("decision", "reject"),
                ("reason", "不符合条件"),
            ],
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert!(second.body.contains("该申请已被他人处理，请查看最新状态"));
    let after = state_of(&app, &case.id).await;
    assert_eq!(after.state, State::InReview { step: 1 });
    assert_eq!(after.version, case.version + 1);
    assert_eq!(after.events.len(), case.events.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_without_a_reason_is_refused_and_changes_nothing() {
    let app = App::new().await;
    let case = submitted_case(&app, 1, "张伟", COMMUNITY_A1).await;
    let mut street = app.staff("street_a", Role::StreetReviewer, STREET_A).await;
    let path = format!("/staff/cases/{}", case.id);
    let csrf = hidden_csrf(&street.get(&path).await.body).unwrap();
    let version = case.version.to_string();
    let resp = street
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "reject"),
                ("reason", "  "),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        resp.error_summary(),
        vec!["请写明不予批准的理由".to_owned()]
    );
    assert!(resp.body.contains("href=\"#reason\""));
    // Return for correction without naming what is missing, and no decision at all.
    let resp = street
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "return"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.body.contains("href=\"#missing\""));
    let resp = street
        .post_form(
            &format!("{path}/decide"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.body.contains("href=\"#decision-approve\""));
    let after = state_of(&app, &case.id).await;
    assert_eq!(after.state, State::Submitted);
    assert_eq!(after.version, case.version);

    // A reasoned rejection is recorded with its reason.
    let resp = street
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "reject"),
                ("reason", "户籍不在本区"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let after = state_of(&app, &case.id).await;
    assert_eq!(after.state, State::Rejected);
    assert!(
        after
            .events
            .last()
            .unwrap()
            .comment
            .as_deref()
            .unwrap()
            .contains("户籍不在本区")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_workers_and_providers_cannot_decide_at_the_street_step() {
    let app = App::new().await;
    let case = submitted_case(&app, 1, "张伟", COMMUNITY_A1).await;
    let path = format!("/staff/cases/{}", case.id);
    let version = case.version.to_string();
    let mut community = app
        .staff("community", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let page = community.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("/decide"), "no decision form");
    let csrf = hidden_csrf(&page.body).unwrap();
    let resp = community
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);

    // A provider works the provider step's queue only.
    let mut provider = app.staff("provider", Role::Provider, DISTRICT).await;
    assert_eq!(
        provider.get("/staff/cases?step=street").await.status,
        StatusCode::FORBIDDEN
    );
    let own = provider.get("/staff/cases").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(!own.body.contains(&case.number));
    let home = provider.get("/staff").await;
    let csrf = hidden_csrf(&home.body).unwrap();
    let resp = provider
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "approve"),
            ],
        )
        .await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&resp.status),
        "{}",
        resp.status
    );
    assert_eq!(state_of(&app, &case.id).await.state, State::Submitted);
    assert_eq!(state_of(&app, &case.id).await.version, case.version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_reviewer_sends_a_case_back_to_the_street() {
    let app = App::new().await;
    let case = submitted_case(&app, 1, "张伟", COMMUNITY_A1).await;
    let mut street = app.staff("street_a", Role::StreetReviewer, STREET_A).await;
    let path = format!("/staff/cases/{}", case.id);
    let csrf = hidden_csrf(&street.get(&path).await.body).unwrap();
    let resp = street
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &case.version.to_string()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;
    let page = district.get(&path).await;
    assert!(page.body.contains("id=\"to_step\""));
    let csrf = hidden_csrf(&page.body).unwrap();
    let version = (case.version + 1).to_string();
    let resp = district
        .post_form(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("decision", "send_back"),
                ("to_step", "0"),
            ],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let after = state_of(&app, &case.id).await;
    assert_eq!(after.state, State::InReview { step: 0 });
    assert_eq!(after.step_code.as_deref(), Some("street"));
}
