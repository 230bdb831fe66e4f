//! The resident operations of the JSON API as a mobile client uses them: sign in by text
//! message for a bearer token, check eligibility, file once per idempotency key, follow,
//! withdraw; and who may not.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use zhucan_core::{Category, CertificateNo, Grade, Phone, Role};
use zhucan_services::{Action, Decision};
use zhucan_store::{Actor, PersonInput, Scope};

use crate::common::*;

/// A client without cookies: a bearer token, once it has one.
struct Mobile {
    client: Client,
    token: Option<String>,
}

impl Mobile {
    fn new(app: &App) -> Mobile {
        Mobile {
            client: app.client(),
            token: None,
        }
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        // Whatever cookie the server offered is never sent back.
        self.client.jar.clear();
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header(CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.client.send(req.body(body).unwrap()).await
    }

    async fn get(&mut self, path: &str) -> Resp {
        self.call(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        self.call(Method::POST, path, Some(body), headers).await
    }

    /// Files an application for the wheelchair fuel subsidy under `key`.
    async fn apply(&mut self, person_id: &str, answers: Value, key: &str) -> Resp {
        self.post(
            "/api/v1/cases",
            json!({
                "service_code": "wheelchair-fuel",
                "person_id": person_id,
                "answers": answers,
            }),
            &[("idempotency-key", key)],
        )
        .await
    }
}

/// Signs in through the API with the code from the outbox.
async fn mobile(app: &App, phone: &Phone) -> Mobile {
    let mut m = Mobile::new(app);
    let sent = m
        .post(
            "/api/v1/session/code",
            json!({ "phone": phone.as_str() }),
            &[],
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let code = app.last_sms_code().await;
    let signed_in = m
        .post(
            "/api/v1/session",
            json!({ "phone": phone.as_str(), "code": code }),
            &[],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED, "{}", signed_in.body);
    m.token = Some(signed_in.json()["token"].as_str().unwrap().to_owned());
    m
}

/// A physical-disability holder (grade 2), who may apply for the wheelchair fuel subsidy.
fn wheelchair_user(n: u32, name: &str) -> PersonInput {
    let mut input = person(n, name, COMMUNITY_A1);
    let cert = input.certificate.as_mut().unwrap();
    cert.number = CertificateNo::new(input.resident_id.clone(), Category::Physical, Grade::Two);
    input
}

fn fields(resp: &Resp) -> Vec<String> {
    resp.json()["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {}", resp.body))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn has_han(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn detail(resp: &Resp) -> String {
    resp.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_applies_follows_and_withdraws_with_a_bearer_token() {
    let app = App::new().await;
    let input = wheelchair_user(21, "李明");
    let person_id = app.person(&input).await;
    let phone = input.phone.clone().unwrap();

    // A wrong code is refused, naming the field; a malformed number too.
    let mut m = Mobile::new(&app);
    let bad = m
        .post("/api/v1/session/code", json!({ "phone": "12345" }), &[])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&bad), ["phone"]);
    m.post(
        "/api/v1/session/code",
        json!({ "phone": phone.as_str() }),
        &[],
    )
    .await;
    let code = app.last_sms_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = m
        .post(
            "/api/v1/session?lang=en",
            json!({ "phone": phone.as_str(), "code": wrong }),
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&refused), ["code"]);
    assert_eq!(detail(&refused), "The code is not right; try again");
    let token = m
        .post(
            "/api/v1/session",
            json!({ "phone": phone.as_str(), "code": code }),
            &[],
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    assert!(token.json()["expires_at"].as_str().unwrap().contains('T'));
    m.token = Some(token.json()["token"].as_str().unwrap().to_owned());

    let me = m.get("/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["persons"][0]["id"], person_id.as_str());

    // The item and its form.
    let item = m.get("/api/v1/services/wheelchair-fuel").await;
    assert_eq!(item.status, StatusCode::OK);
    let item = item.json();
    assert_eq!(item["questions"][0]["key"], "owns_motorised_wheelchair");
    assert_eq!(item["questions"][0]["kind"], "bool");
    assert_eq!(item["steps"][0]["code"], "street");
    assert_eq!(item["chain"], json!(["street", "district"]));
    assert!(item["name"]["zh-CN"].as_str().unwrap().contains("燃油"));
    assert_eq!(
        m.get("/api/v1/services/no-such-item").await.status,
        StatusCode::NOT_FOUND
    );

    // Eligibility: the registry's facts pass; the question is still open.
    let check = m
        .get(&format!(
            "/api/v1/services/wheelchair-fuel/eligibility?person_id={person_id}&lang=en"
        ))
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    let check = check.json();
    assert_eq!(check["eligible"], false);
    assert_eq!(check["may_be_eligible"], true);
    assert_eq!(check["lang"], "en");
    let clauses = check["clauses"].as_array().unwrap();
    assert!(clauses.iter().any(|c| c["pending"] == true));
    assert!(
        clauses
            .iter()
            .all(|c| !has_han(c["text"].as_str().unwrap())),
        "{clauses:?}"
    );
    let zh = m
        .get(&format!(
            "/api/v1/services/wheelchair-fuel/eligibility?person_id={person_id}"
        ))
        .await
        .json();
    assert_eq!(zh["lang"], "zh-CN");
    assert!(has_han(zh["clauses"][0]["text"].as_str().unwrap()));
    let missing = m.get("/api/v1/services/wheelchair-fuel/eligibility").await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&missing), ["person_id"]);

    // Without an idempotency key, or with bad answers: refused, nothing filed.
    let no_key = m
        .post(
            "/api/v1/cases",
            json!({ "service_code": "wheelchair-fuel", "person_id": person_id,
                    "answers": { "owns_motorised_wheelchair": true } }),
            &[],
        )
        .await;
    assert_eq!(no_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&no_key), ["Idempotency-Key"]);
    let bad = m
        .apply(
            &person_id,
            json!({ "owns_motorised_wheelchair": "maybe", "colour": "red" }),
            "k-bad",
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(
        fields(&bad),
        ["answers.owns_motorised_wheelchair", "answers.colour"]
    );
    assert!(detail(&bad).contains("maybe"), "{}", bad.body);
    let unanswered = m.apply(&person_id, json!({}), "k-bad").await;
    assert_eq!(fields(&unanswered), ["answers.owns_motorised_wheelchair"]);
    assert!(detail(&unanswered).starts_with("请回答"));
    let bad_item = m
        .post(
            "/api/v1/cases",
            json!({ "service_code": "no-such-item", "person_id": person_id }),
            &[("idempotency-key", "k-item")],
        )
        .await;
    assert_eq!(fields(&bad_item), ["service_code"]);
    assert_eq!(m.get("/api/v1/cases").await.json()["cases"], json!([]));

    // Filed and submitted once, however often it is sent.
    let answers = json!({ "owns_motorised_wheelchair": true });
    let filed = m.apply(&person_id, answers.clone(), "retry-1").await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    let case = filed.json();
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filed.location(),
        Some(format!("/api/v1/cases/{id}").as_str())
    );
    assert_eq!(case["state"], "submitted");
    assert_eq!(case["step"], "street");
    assert_eq!(case["state_label"], "已提交");
    assert_eq!(case["answers"], answers);
    assert_eq!(case["can_withdraw"], true);
    assert!(case["deadline"].as_str().is_some());
    let again = m.apply(&person_id, answers.clone(), "retry-1").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.json()["id"], id.as_str());
    let list = m.get("/api/v1/cases").await;
    assert_eq!(list.status, StatusCode::OK);
    let cases = list.json()["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["number"], case["number"]);
    // The same key for another application is a conflict, not a second case.
    let reused = m
        .post(
            "/api/v1/cases",
            json!({ "service_code": "cert-renew", "person_id": person_id,
                    "answers": { "reason": "damaged" } }),
            &[("idempotency-key", "retry-1")],
        )
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.body);

    // Its status: the office holding it, the timeline in plain words.
    let status = m.get(&format!("/api/v1/cases/{id}?lang=en")).await;
    assert_eq!(status.status, StatusCode::OK);
    let status = status.json();
    assert_eq!(status["state_label"], "submitted");
    assert!(status["office"].as_str().is_some_and(|o| !o.is_empty()));
    let timeline = status["timeline"].as_array().unwrap();
    let actions: Vec<_> = timeline.iter().map(|e| e["action"].clone()).collect();
    assert_eq!(actions, [json!("create"), json!("submit")]);
    assert_eq!(timeline[1]["by"], "You");
    assert_eq!(timeline[1]["text"], "Application submitted");

    // Withdrawn at the version read; the same request again is stale.
    let version = status["version"].as_i64().unwrap();
    let path = format!("/api/v1/cases/{id}/withdraw");
    let withdrawn = m.post(&path, json!({ "version": version }), &[]).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.body);
    assert_eq!(withdrawn.json()["state"], "withdrawn");
    assert_eq!(withdrawn.json()["can_withdraw"], false);
    let stale = m
        .post(
            &format!("{path}?lang=en"),
            json!({ "version": version }),
            &[],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        detail(&stale).contains("changed since you read it"),
        "{}",
        stale.body
    );
    let current = withdrawn.json()["version"].as_i64().unwrap();
    let too_late = m.post(&path, json!({ "version": current }), &[]).await;
    assert_eq!(too_late.status, StatusCode::CONFLICT, "{}", too_late.body);

    // Signed out: the token no longer works.
    let out = m.call(Method::DELETE, "/api/v1/session", None, &[]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        m.get("/api/v1/cases").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_cannot_see_or_file_for_someone_elses_person() {
    let app = App::new().await;
    let a = wheelchair_user(31, "周红");
    let a_id = app.person(&a).await;
    let b = wheelchair_user(32, "吴刚");
    let b_id = app.person(&b).await;
    let mut alice = mobile(&app, a.phone.as_ref().unwrap()).await;
    let mut bob = mobile(&app, b.phone.as_ref().unwrap()).await;

    let answers = json!({ "owns_motorised_wheelchair": true });
    let filed = alice.apply(&a_id, answers.clone(), "a-1").await;
    assert_eq!(filed.status, StatusCode::CREATED);
    let id = filed.json()["id"].as_str().unwrap().to_owned();

    assert_eq!(
        bob.get(&format!("/api/v1/cases/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let steal = bob
        .post(
            &format!("/api/v1/cases/{id}/withdraw"),
            json!({ "version": 2 }),
            &[],
        )
        .await;
    assert_eq!(steal.status, StatusCode::NOT_FOUND);
    let for_alice = bob.apply(&a_id, answers.clone(), "b-1").await;
    assert_eq!(for_alice.status, StatusCode::NOT_FOUND);
    let check = bob
        .get(&format!(
            "/api/v1/services/wheelchair-fuel/eligibility?person_id={a_id}"
        ))
        .await;
    assert_eq!(check.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get("/api/v1/cases").await.json()["cases"], json!([]));

    // Bob's key is his own: the same key files his own case.
    let own = bob.apply(&b_id, answers, "a-1").await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    assert_ne!(own.json()["id"], id.as_str());

    // A made-up token is no session.
    let mut forger = Mobile::new(&app);
    forger.token = Some("0".repeat(64));
    assert_eq!(
        forger.get("/api/v1/cases").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_cannot_use_the_resident_routes() {
    let app = App::new().await;
    let input = wheelchair_user(41, "郑洁");
    let person_id = app.person(&input).await;
    let mut worker = app
        .staff("worker", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    for path in [
        "/api/v1/cases".to_owned(),
        format!("/api/v1/services/wheelchair-fuel/eligibility?person_id={person_id}"),
    ] {
        let resp = worker.get(&path).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{path}: {}", resp.body);
    }
    let body = json!({ "service_code": "wheelchair-fuel", "person_id": person_id,
                       "answers": { "owns_motorised_wheelchair": true } })
    .to_string();
    let resp = worker
        .json(Method::POST, "/api/v1/cases", &body, true)
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN, "{}", resp.body);

    // Signed out altogether: 401 in the API's shape.
    let resp = app.client().get("/api/v1/cases").await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(resp.json()["errors"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_session_sends_the_csrf_header_to_write() {
    let app = App::new().await;
    let input = wheelchair_user(51, "孙丽");
    let person_id = app.person(&input).await;
    let mut resident = app.resident(input.phone.as_ref().unwrap()).await;
    let body = json!({ "service_code": "wheelchair-fuel", "person_id": person_id,
                       "answers": { "owns_motorised_wheelchair": true } })
    .to_string();
    resident.headers = vec![("idempotency-key".into(), "cookie-1".into())];
    let refused = resident
        .json(Method::POST, "/api/v1/cases", &body, false)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let filed = resident
        .json(Method::POST, "/api/v1/cases", &body, true)
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    // The portal shows the same case.
    resident.headers.clear();
    let id = filed.json()["id"].as_str().unwrap().to_owned();
    let page = resident.get(&format!("/me/cases/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("已提交"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_codes_are_rate_limited_like_the_portal() {
    let app = App::new().await;
    let mut m = Mobile::new(&app);
    let phone = phone(61);
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = m
            .post(
                "/api/v1/session/code",
                json!({ "phone": phone.as_str() }),
                &[],
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_names_the_office_never_the_reviewer() {
    let app = App::new().await;
    let input = wheelchair_user(71, "何平");
    let person_id = app.person(&input).await;
    let mut m = mobile(&app, input.phone.as_ref().unwrap()).await;
    let filed = m
        .apply(
            &person_id,
            json!({ "owns_motorised_wheelchair": true }),
            "t-1",
        )
        .await
        .json();
    let id = filed["id"].as_str().unwrap();
    let reviewer = Actor {
        id: "account:street_wang".into(),
        role: Role::StreetReviewer.slug().into(),
        client: None,
    };
    app.store
        .act_on_case(
            &reviewer,
            &Scope::All,
            id,
            filed["version"].as_i64().unwrap(),
            Action::Decide(Decision::ReturnForCorrection {
                missing: vec!["机动轮椅车行驶证".into()],
            }),
            None,
        )
        .await
        .unwrap();

    let resp = m.get(&format!("/api/v1/cases/{id}")).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(!resp.body.contains("street_wang"), "{}", resp.body);
    let case = resp.json();
    assert_eq!(case["state"], "returned");
    assert_eq!(case["state_label"], "待补正");
    assert_eq!(case["office"], "街道审核");
    assert_eq!(case["deadline"], Value::Null, "the clock pauses");
    assert_eq!(case["can_withdraw"], false);
    let last = case["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "return");
    assert_eq!(last["by"], "街道审核");
    assert!(
        last["text"].as_str().unwrap().contains("机动轮椅车行驶证"),
        "{last}"
    );
}
