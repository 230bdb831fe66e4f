//! Messages: the resident's inbox (own and wards' messages only, new ones marked in words and
//! read once shown, the unread count in the navigation), and delivery of text messages through
//! the log sender and an HTTP gateway (a small server in the test).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};
use zhucan_core::Role;
use zhucan_services::Catalog;
use zhucan_store::{Actor, CaseMessage, Channel, NewCase, Scope};
use zhucan_web::{GatewayUrl, HttpGateway, LogSender, deliver_due};

use crate::common::*;

async fn message(app: &App, person_id: &str, case_id: Option<&str>, zh: &str, en: &str) {
    app.store
        .send_person_message(
            &Actor::system("test"),
            &CaseMessage {
                person_id,
                case_id,
                division_code: COMMUNITY_A1,
                zh,
                en,
            },
        )
        .await
        .unwrap();
}

/// A counter case for `person_id`: (id, number).
async fn case_for(app: &App, person_id: &str) -> (String, String) {
    let catalog = Catalog::seed();
    app.store.seed_catalog(&catalog).await.unwrap();
    let service = catalog
        .versions()
        .iter()
        .find(|v| v.code().as_str() == "living-subsidy")
        .unwrap();
    let c = app
        .store
        .create_case(
            &Actor::system("test"),
            &Scope::All,
            NewCase {
                service,
                person_id: person_id.to_owned(),
                channel: Channel::Counter,
                answers: json!({}),
                submit_key: None,
            },
        )
        .await
        .unwrap();
    (c.id.clone(), c.number.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_shows_own_messages_marks_them_read_and_counts_unread() {
    let app = App::new().await;
    let own = person(21, "王芳", COMMUNITY_A1);
    let own_id = app.person(&own).await;
    let other_id = app.person(&person(22, "李强", COMMUNITY_A1)).await;
    let (case_id, number) = case_for(&app, &own_id).await;
    message(
        &app,
        &own_id,
        Some(&case_id),
        "您的申请已受理。",
        "Application received.",
    )
    .await;
    message(
        &app,
        &own_id,
        None,
        "请补充材料。",
        "Please add the missing material.",
    )
    .await;
    message(&app, &other_id, None, "给李强的消息", "For Li Qiang").await;
    let mut resident = app.resident(own.phone.as_ref().unwrap()).await;

    let me = resident.get("/me").await;
    assert!(
        me.body.contains("消息（2 条未读）"),
        "the navigation counts unread messages"
    );
    let inbox = resident.get("/me/messages").await;
    assert_eq!(inbox.status, StatusCode::OK);
    let body = &inbox.body;
    assert!(body.contains("您的申请已受理。") && body.contains("请补充材料。"));
    assert!(!body.contains("给李强的消息"), "another person's message");
    assert_eq!(
        body.matches(">未读</strong>").count(),
        2,
        "new ones, in words"
    );
    assert!(
        body.find("请补充材料。") < body.find("您的申请已受理。"),
        "newest first"
    );
    assert!(body.contains(&format!("href=\"/me/cases/{case_id}\"")));
    assert!(body.contains(&number));
    assert!(body.contains("aria-current=\"page\""));
    assert!(
        body.contains(">消息</a>"),
        "after this view nothing is unread"
    );

    let again = resident.get("/me/messages").await;
    assert!(!again.body.contains(">未读</strong>"), "read once shown");
    assert_eq!(app.store.unread_messages(&[other_id]).await.unwrap(), 1);

    resident.jar.insert("zhucan_lang".into(), "en".into());
    let en = resident.get("/me/messages").await;
    assert!(en.body.contains("Please add the missing material."));
    assert!(en.body.contains(">Messages</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_never_sees_or_marks_another_persons_messages() {
    let app = App::new().await;
    let a = person(31, "张伟", COMMUNITY_A1);
    let a_id = app.person(&a).await;
    let b = person(32, "赵敏", COMMUNITY_A1);
    let b_id = app.person(&b).await;
    message(&app, &a_id, None, "只给张伟", "Only for Zhang Wei").await;
    let mut other = app.resident(b.phone.as_ref().unwrap()).await;
    let inbox = other.get("/me/messages").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(!inbox.body.contains("只给张伟"));
    assert!(inbox.body.contains("您还没有消息"));
    assert_eq!(app.store.unread_messages(&[a_id]).await.unwrap(), 1);
    assert_eq!(app.store.unread_messages(&[b_id]).await.unwrap(), 0);

    // Signed out, or signed in as staff: sent to the resident sign-in.
    let anonymous = app.client().get("/me/messages").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(anonymous.location().unwrap().starts_with("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_reads_the_wards_messages() {
    let app = App::new().await;
    let guardian_phone = phone(99);
    let mut ward = person(41, "刘洋", COMMUNITY_A1);
    ward.phone = None;
    ward.guardian = Some(zhucan_store::GuardianInput {
        name: zhucan_core::PersonName::parse("刘敏").unwrap(),
        relation: "母亲".into(),
        phone: Some(guardian_phone.clone()),
    });
    let ward_id = app.person(&ward).await;
    message(&app, &ward_id, None, "给刘洋的通知", "For Liu Yang").await;
    let mut guardian = app.resident(&guardian_phone).await;
    let inbox = guardian.get("/me/messages").await;
    assert!(inbox.body.contains("给刘洋的通知"));
}

/// A gateway stand-in on 127.0.0.1:0 answering `status`; returns its URL and what it received.
async fn gateway(status: StatusCode) -> (GatewayUrl, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/send?token=s3cret").parse().unwrap();
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_gateway_delivers_a_text_on_2xx() {
    let app = App::new().await;
    let (url, received) = gateway(StatusCode::OK).await;
    let to = phone(51);
    let id = app
        .store
        .enqueue_sms(&to, "您的验证码是 123456")
        .await
        .unwrap();
    let sender = HttpGateway::new(url).unwrap();
    assert_eq!(deliver_due(&app.store, &sender).await.unwrap(), 1);
    assert_eq!(
        received.lock().unwrap().as_slice(),
        [json!({ "id": id, "phone": to.as_str(), "text": "您的验证码是 123456" })]
    );
    let n = &app.store.recent_notifications(1).await.unwrap()[0];
    assert_eq!((n.id.as_str(), n.status.as_str()), (id.as_str(), "sent"));
    assert_eq!(
        deliver_due(&app.store, &sender).await.unwrap(),
        0,
        "sent once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_gateway_answering_500_leaves_the_text_pending_with_backoff() {
    let app = App::new().await;
    let (url, received) = gateway(StatusCode::INTERNAL_SERVER_ERROR).await;
    app.store.enqueue_sms(&phone(52), "通知").await.unwrap();
    let sender = HttpGateway::new(url).unwrap();
    assert_eq!(deliver_due(&app.store, &sender).await.unwrap(), 0);
    assert_eq!(received.lock().unwrap().len(), 1);
    let n = &app.store.pending_notifications(10).await.unwrap()[0];
    assert_eq!(
        (n.status.as_str(), n.attempts, n.last_error.as_deref()),
        ("pending", 1, Some("HTTP 500"))
    );
    let retry = time::OffsetDateTime::parse(
        n.next_attempt_at.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(retry - time::OffsetDateTime::now_utc() > time::Duration::seconds(50));
    // Not due yet: the next pass leaves it alone.
    assert_eq!(deliver_due(&app.store, &sender).await.unwrap(), 0);
    assert_eq!(received.lock().unwrap().len(), 1);
    let mut admin = app.staff("outbox-admin", Role::Admin, DISTRICT).await;
    let outbox = admin.get("/staff/outbox").await;
    assert!(
        outbox.body.contains("HTTP 500") && outbox.body.contains("下次尝试"),
        "the outbox page shows why and when it retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gateway_is_a_failed_attempt_and_the_log_sender_always_delivers() {
    let app = App::new().await;
    // A port nobody listens on: bound, then released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url: GatewayUrl = format!("http://{addr}/send").parse().unwrap();
    app.store.enqueue_sms(&phone(53), "通知").await.unwrap();
    let sender = HttpGateway::new(url).unwrap();
    assert_eq!(deliver_due(&app.store, &sender).await.unwrap(), 0);
    let n = &app.store.pending_notifications(10).await.unwrap()[0];
    let error = n.last_error.as_deref().unwrap();
    assert!(
        !error.is_empty() && !error.contains(&addr.to_string()),
        "{error}"
    );

    app.store.enqueue_sms(&phone(54), "通知").await.unwrap();
    assert_eq!(deliver_due(&app.store, &LogSender).await.unwrap(), 1);
}

#[test]
fn the_gateway_url_is_http_and_never_printed_whole() {
    for bad in ["", "gateway", "ftp://gw.example/send", "http://"] {
        assert!(bad.parse::<GatewayUrl>().is_err(), "{bad:?}");
    }
    let url: GatewayUrl = "https://user:pw@gw.example:8443/send?token=s3cret"
        .parse()
        .unwrap();
    for shown in [format!("{url}"), format!("{url:?}")] {
        assert!(shown.contains("gw.example:8443"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("pw"),
            "{shown}"
        );
    }
}
