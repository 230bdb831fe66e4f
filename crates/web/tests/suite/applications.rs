//! The residents' side of online applications: apply, follow, withdraw.

use axum::http::StatusCode;

use super::portal_apply::{filed, hidden};
use crate::common::*;

/// The number of `/me/cases/` links on the list page.
async fn case_count(client: &mut Client) -> usize {
    let list = client.get("/me/cases").await;
    assert_eq!(list.status, StatusCode::OK);
    list.body.matches("href=\"/me/cases/").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_applies_once_follows_and_withdraws() {
    let app = App::new().await;
    let input = person(11, "王芳", COMMUNITY_A1);
    app.person(&input).await;
    let mut resident = app.resident(input.phone.as_ref().unwrap()).await;

    let me = resident.get("/me").await;
    assert!(
        me.body.contains("href=\"/me/cases\""),
        "/me links to my applications"
    );
    let item = resident.get("/services/wheelchair-fuel").await;
    assert!(item.body.contains("/services/wheelchair-fuel/apply"));

    let form = resident.get("/services/wheelchair-fuel/apply").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("开始申请"));

    // Filed through the journey's pages (see `portal_apply`), submitted, and shown.
    let location = filed(&mut resident).await;
    let case = resident.get(&location).await;
    assert_eq!(case.status, StatusCode::OK);
    assert!(
        case.body.contains("510112-"),
        "the case number: {}",
        case.body
    );
    assert!(case.body.contains("已提交"));
    assert!(case.body.contains("您 · 提交了申请"), "{}", case.body);
    assert!(case.body.contains("撤回申请"));
    assert_eq!(case_count(&mut resident).await, 1);
    let list = resident.get("/me/cases").await;
    assert!(list.body.contains("已提交"));

    // Someone else cannot see it, nor withdraw it.
    let other_input = person(12, "赵强", COMMUNITY_A1);
    app.person(&other_input).await;
    let mut other = app.resident(other_input.phone.as_ref().unwrap()).await;
    assert_eq!(other.get(&location).await.status, StatusCode::NOT_FOUND);
    let other_csrf = other.csrf_from("/me").await;
    let version = hidden(&case.body, "version");
    let steal = other
        .post_form(
            &format!("{location}/withdraw"),
            &[("csrf", &other_csrf), ("version", &version)],
        )
        .await;
    assert_eq!(steal.status, StatusCode::NOT_FOUND);

    // The applicant withdraws before the first review.
    let csrf = hidden_csrf(&case.body).unwrap();
    let withdrawn = resident
        .post_form(
            &format!("{location}/withdraw"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await;
    assert_eq!(
        withdrawn.status,
        StatusCode::SEE_OTHER,
        "{}",
        withdrawn.body
    );
    let case = resident.get(&location).await;
    assert!(case.body.contains("已撤回"));
    assert!(case.body.contains("您 · 撤回了申请"));
    assert!(
        !case.body.contains("/withdraw\""),
        "no withdraw form any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = App::new().await;
    let mut anon = app.client();
    let resp = anon.get("/services/living-subsidy/apply").await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(resp.location(), Some("/login"));
    let resp = anon.get("/me/cases").await;
    assert_eq!(resp.location(), Some("/login"));
}
