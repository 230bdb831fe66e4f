//! The JSON API: error shape with field names, CSRF header, status codes.

use axum::http::{Method, StatusCode};
use serde_json::json;
use zhucan_core::Role;

use crate::common::*;

fn fields_of(resp: &Resp) -> Vec<String> {
    resp.json()["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {}", resp.body))
        .iter()
        .map(|e| {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
            e["field"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_name_their_fields() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let good = rid(1).as_str().to_owned();
    let bad_id = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('0') { '1' } else { '0' }
    );
    let invalid = json!({
        "resident_id": bad_id,
        "name": "",
        "phone": "12345",
        "division_code": "9901",
        "household_status": "rich",
    })
    .to_string();

    // Without the CSRF header: refused, in the same shape.
    let resp = worker
        .json(Method::POST, "/api/v1/persons", &invalid, false)
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(fields_of(&resp), [""]);
    assert!(resp.json()["errors"][0]["field"].is_null());

    let resp = worker
        .json(Method::POST, "/api/v1/persons", &invalid, true)
        .await;
    assert_eq!(
        resp.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        resp.body
    );
    assert!(resp.content_type().starts_with("application/json"));
    assert_eq!(
        fields_of(&resp),
        [
            "resident_id",
            "name",
            "phone",
            "division_code",
            "household_status"
        ]
    );
    assert!(resp.body.contains("校验码应为"));
    assert_eq!(app.store.count_persons().await.unwrap(), 0);

    // A good one is created; the same again is a 422 naming the field.
    let body = json!({
        "resident_id": good, "name": "张伟", "phone": phone(1).as_str(),
        "division_code": COMMUNITY_A1,
        "certificate_no": format!("{good}43"),
    })
    .to_string();
    let resp = worker
        .json(Method::POST, "/api/v1/persons", &body, true)
        .await;
    assert_eq!(resp.status, StatusCode::CREATED, "{}", resp.body);
    let id = resp.json()["id"].as_str().unwrap().to_owned();
    let resp = worker
        .json(Method::POST, "/api/v1/persons", &body, true)
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&resp), ["resident_id"]);

    // Updates: the version is required and must be current.
    let path = format!("/api/v1/persons/{id}");
    let record = worker.get(&path).await.json();
    assert_eq!(record["version"], 1);
    assert_eq!(record["certificate"]["grade"], "3");
    let resp = worker.json(Method::PUT, &path, &body, true).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&resp), ["version"]);
    let mut update: serde_json::Value = serde_json::from_str(&body).unwrap();
    update["version"] = json!("1");
    update["name"] = json!("张伟强");
    let resp = worker
        .json(Method::PUT, &path, &update.to_string(), true)
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
    assert_eq!(resp.json()["version"], 2);
    let resp = worker
        .json(Method::PUT, &path, &update.to_string(), true)
        .await;
    assert_eq!(resp.status, StatusCode::CONFLICT);
    assert_eq!(fields_of(&resp), [""]);
    assert_eq!(worker.get(&path).await.json()["name"], "张伟强");

    // List filters with unknown values are field errors too.
    let resp = worker
        .get("/api/v1/persons?category=giant&grade=9&life_status=x")
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&resp), ["category", "grade", "life_status"]);
    let resp = worker
        .get("/api/v1/persons?category=physical&per_page=1000")
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.json()["per_page"], 200, "page size is capped");

    // Unknown records and signed-out callers get the same shape.
    let resp = worker.get("/api/v1/persons/nope").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(fields_of(&resp), [""]);
    let resp = app.client().get("/api/v1/persons").await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fields_of(&resp), [""]);
}

/// Found while writing these tests: `create`/`update` take `axum::Json<PersonForm>`, whose
/// rejection (malformed JSON, a number where a string goes, a missing content type) is axum's
/// plain-text response, not the API's `{"errors":[{"field","detail"}]}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_json_body_gets_the_api_error_shape() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    for body in ["{\"name\": ", "{\"name\": 5}", "[]"] {
        let resp = worker
            .json(Method::POST, "/api/v1/persons", body, true)
            .await;
        assert!(resp.status.is_client_error(), "{body}: {}", resp.status);
        assert!(
            resp.content_type().starts_with("application/json"),
            "{body}: {} {:?}",
            resp.content_type(),
            resp.body
        );
        assert!(!fields_of(&resp).is_empty());
    }
}
