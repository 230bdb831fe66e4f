//! The catalog of service items: the pages, the API, and eligibility explained from a resident's
//! own record.

use axum::http::StatusCode;
use zhucan_core::HouseholdStatus;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_pages_and_api_list_the_eighteen_items() {
    let app = App::new().await;
    let mut anon = app.client();
    let list = anon.get("/services").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("残疾人证新办") && list.body.contains("/services/living-subsidy"));
    let item = anon.get("/services/nursing-subsidy").await;
    assert_eq!(item.status, StatusCode::OK);
    assert!(
        item.body.contains("居民登录，查看是否符合条件"),
        "anonymous visitors are asked to sign in"
    );
    assert_eq!(
        anon.get("/services/no-such-item").await.status,
        StatusCode::NOT_FOUND
    );

    let api = anon.get("/api/v1/services").await;
    assert_eq!(api.status, StatusCode::OK);
    let services = api.json()["services"].as_array().unwrap().clone();
    assert_eq!(services.len(), 18);
    let nursing = services
        .iter()
        .find(|s| s["code"] == "nursing-subsidy")
        .unwrap();
    assert_eq!(
        nursing["chain"],
        serde_json::json!(["street", "district", "civil_affairs"])
    );
    assert!(
        nursing["name"]["zh-CN"]
            .as_str()
            .unwrap()
            .contains("护理补贴")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_sees_why_they_may_or_may_not_be_eligible() {
    let app = App::new().await;
    // Grade 3 hearing, no hardship status: the living subsidy needs a hardship household and the
    // nursing subsidy grade 1 or 2.
    let mut input = person(1, "张伟", COMMUNITY_A1);
    input.household_status = HouseholdStatus::None;
    app.person(&input).await;
    let mut resident = app.resident(input.phone.as_ref().unwrap()).await;

    let nursing = resident.get("/services/nursing-subsidy").await;
    assert_eq!(nursing.status, StatusCode::OK);
    assert!(
        nursing.body.contains("张伟：暂不符合条件"),
        "{}",
        nursing.body
    );
    assert!(
        nursing.body.contains("不符合："),
        "the failing clause is explained"
    );

    let living = resident.get("/services/living-subsidy").await;
    assert!(living.body.contains("张伟：暂不符合条件"));

    // Once the household is on dibao, the living subsidy's rule passes.
    let mut dibao = person(2, "李娜", COMMUNITY_A1);
    dibao.household_status = HouseholdStatus::Dibao;
    app.person(&dibao).await;
    let mut other = app.resident(dibao.phone.as_ref().unwrap()).await;
    let living = other.get("/services/living-subsidy").await;
    assert!(
        living.body.contains("李娜：可能符合条件"),
        "{}",
        living.body
    );
}
