//! The OpenAPI document: valid, complete (every route it lists is served, and the list is the
//! one expected), and true to the bodies the registry routes actually send.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use zhucan_core::Role;

use crate::common::*;

/// Every route of `/api/v1`, as "METHOD /path".
const ROUTES: &[&str] = &[
    "GET /openapi.json",
    "POST /session/code",
    "POST /session",
    "DELETE /session",
    "GET /me",
    "GET /persons",
    "POST /persons",
    "GET /persons/{id}",
    "PUT /persons/{id}",
    "GET /services",
    "GET /services/{code}",
    "GET /services/{code}/eligibility",
    "GET /cases",
    "POST /cases",
    "GET /cases/{id}",
    "POST /cases/{id}/withdraw",
];

async fn spec(app: &App) -> Value {
    let resp = app.client().get("/api/v1/openapi.json").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.content_type().starts_with("application/json"));
    resp.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_and_each_is_served() {
    let app = App::new().await;
    let spec = spec(&app).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");

    let mut listed = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.insert(format!("{} {path}", method.to_uppercase()));
            // Each operation says what it answers, and refers only to schemas that exist.
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
    }
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(listed, expected);

    let text = spec.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "{name} is referred to but not defined"
        );
    }

    // A listed path is routed: another method gets 405, where an unknown path gets 404.
    for route in ROUTES {
        let (_, path) = route.split_once(' ').unwrap();
        let uri = format!(
            "/api/v1{}",
            path.replace("{id}", "x").replace("{code}", "y")
        );
        let resp = app
            .client()
            .send(
                Request::builder()
                    .method(Method::PATCH)
                    .uri(&uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED, "{route}");
    }
    let unknown = app
        .client()
        .send(
            Request::builder()
                .method(Method::PATCH)
                .uri("/api/v1/nothing-here")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["errors"].is_array());
}

/// The property names of a schema object.
fn properties(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no properties in {schema}"))
        .keys()
        .cloned()
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_schemas_match_what_is_sent() {
    let app = App::new().await;
    let spec = spec(&app).await;
    let schemas = &spec["components"]["schemas"];
    let id = app.person(&person(71, "冯静", COMMUNITY_A1)).await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;

    let record = worker.get(&format!("/api/v1/persons/{id}")).await.json();
    assert_eq!(keys(&record), properties(&schemas["PersonRecord"]));
    let certificate = &schemas["PersonRecord"]["properties"]["certificate"]["oneOf"][1];
    assert_eq!(keys(&record["certificate"]), properties(certificate));

    let page = worker.get("/api/v1/persons").await.json();
    assert_eq!(keys(&page), properties(&schemas["PersonPage"]));
    assert_eq!(
        keys(&page["items"][0]),
        properties(&schemas["PersonPage"]["properties"]["items"]["items"])
    );

    let errors = worker.get("/api/v1/persons?grade=9").await.json();
    assert_eq!(keys(&errors), properties(&schemas["Errors"]));
}
