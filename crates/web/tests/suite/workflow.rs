//! The work around a case in the workbench and the portal: claims, the award a final approval
//! states, materials, the public notice and its objections, tasks, and what the person's
//! record shows afterwards.

use axum::http::StatusCode;
use zhucan_core::{HouseholdStatus, Role};
use zhucan_services::{Action, Catalog, Decision, DocumentKind, State};
use zhucan_store::{Actor, CaseRecord, Channel, Scope};

use crate::common::*;

/// Approves through the store at every step before the last.
async fn to_last_step(app: &App, mut case: CaseRecord, steps: usize) -> CaseRecord {
    for _ in 1..steps {
        case = app
            .store
            .act_on_case(
                &Actor::system("test"),
                &Scope::All,
                &case.id,
                case.version,
                Action::Decide(Decision::Approve),
                None,
            )
            .await
            .unwrap();
    }
    case
}

async fn decide(client: &mut Client, case: &CaseRecord, fields: &[(&str, &str)]) -> Resp {
    let page = client.get(&format!("/staff/cases/{}", case.id)).await;
    let csrf = hidden_csrf(&page.body).unwrap();
    let version = case.version.to_string();
    let mut all = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
    all.extend_from_slice(fields);
    client
        .post_form(&format!("/staff/cases/{}/decide", case.id), &all)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_case_is_left_to_its_claimant() {
    let app = App::new().await;
    let pid = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let case = app.submitted("living-subsidy", &pid).await;
    let mut a = app.staff("street_a", Role::StreetReviewer, STREET_A).await;
    let mut b = app.staff("street_b", Role::StreetReviewer, STREET_A).await;
    let page = a.get(&format!("/staff/cases/{}", case.id)).await;
    assert!(page.body.contains("认领此办件"));
    let csrf = hidden_csrf(&page.body).unwrap();
    let claimed = a
        .post_form(
            &format!("/staff/cases/{}/claim", case.id),
            &[("csrf", &csrf), ("version", &case.version.to_string())],
        )
        .await;
    assert_eq!(claimed.status, StatusCode::SEE_OTHER, "{}", claimed.body);
    let mine = a.get(&format!("/staff/cases/{}", case.id)).await;
    assert!(mine.body.contains("您已认领此办件"));
    let theirs = b.get(&format!("/staff/cases/{}", case.id)).await;
    assert!(theirs.body.contains("已由审核员认领：street_a"));
    assert!(!theirs.body.contains("认领此办件</button>"));
    let latest = app.store.case(&Scope::All, &case.id).await.unwrap();
    let refused = decide(&mut b, &latest, &[("decision", "approve")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.error_summary()[0].contains("认领"),
        "{:?}",
        refused.error_summary()
    );
    let done = decide(&mut a, &latest, &[("decision", "approve")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        app.store.case(&Scope::All, &case.id).await.unwrap().state,
        State::InReview { step: 1 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_approval_states_the_amount_and_the_notice_takes_objections() {
    let app = App::new().await;
    let mut input = person(1, "张伟", COMMUNITY_A1);
    input.household_status = HouseholdStatus::Dibao;
    let pid = app.person(&input).await;
    // Nursing subsidy: street → district → civil affairs; the catalog only describes the amount.
    let case = app.submitted("nursing-subsidy", &pid).await;
    let case = to_last_step(&app, case, 3).await;
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;
    let page = district.get(&format!("/staff/cases/{}", case.id)).await;
    assert!(page.body.contains("核定金额"), "{}", page.body);
    let missing = decide(&mut district, &case, &[("decision", "approve")]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("href=\"#amount\""));
    let bad = decide(
        &mut district,
        &case,
        &[("decision", "approve"), ("amount", "一百")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.store.case(&Scope::All, &case.id).await.unwrap().version,
        case.version
    );
    let ok = decide(
        &mut district,
        &case,
        &[("decision", "approve"), ("amount", "100")],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let in_notice = app.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(in_notice.state, State::Notice);

    // The public notice: masked name, no numbers; anyone may object.
    let mut public = app.client();
    let notice = public.get("/notice").await;
    assert_eq!(notice.status, StatusCode::OK);
    assert!(notice.body.contains("张*"));
    assert!(!notice.body.contains("张伟"));
    assert!(!notice.body.contains(&in_notice.number));
    assert!(!has_digit_run(&notice.body, 15));
    let form_path = format!("/notice/{}/objection", case.id);
    let form = public.get(&form_path).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden_csrf(&form.body).unwrap();
    let empty = public.post_form(&form_path, &[("csrf", &csrf)]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.error_summary().len(), 2);
    let sent = public
        .post_form(
            &form_path,
            &[
                ("csrf", &csrf),
                ("raised_by", "王五"),
                ("body", "其家庭已不是低保户"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("您的异议已记录"));
    assert_eq!(
        app.store
            .objections(&Scope::All, &case.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Objections are anonymous, so one client has a budget of them an hour.
    for n in 2..=zhucan_store::MAX_OBJECTIONS_PER_CLIENT {
        let body = format!("补充说明 {n}");
        let again = public
            .post_form(
                &form_path,
                &[("csrf", &csrf), ("raised_by", "王五"), ("body", &body)],
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    }
    let flood = public
        .post_form(
            &form_path,
            &[("csrf", &csrf), ("raised_by", "王五"), ("body", "再说一次")],
        )
        .await;
    assert_eq!(flood.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        flood.error_summary()[0].contains("一小时内最多可提出 5 条异议"),
        "{:?}",
        flood.error_summary()
    );
    // A case not in notice takes no objection.
    assert_eq!(
        public.get("/notice/nonexistent/objection").await.status,
        StatusCode::NOT_FOUND
    );

    // The district checks it: upheld, the case is rejected.
    let page = district.get(&format!("/staff/cases/{}", case.id)).await;
    assert!(page.body.contains("其家庭已不是低保户"));
    let objection = app.store.objections(&Scope::All, &case.id).await.unwrap()[0]
        .id
        .clone();
    let csrf = hidden_csrf(&page.body).unwrap();
    let no_reason = district
        .post_form(
            &format!("/staff/objections/{objection}"),
            &[
                ("csrf", &csrf),
                ("case_id", &case.id),
                ("decision", "uphold"),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let upheld = district
        .post_form(
            &format!("/staff/objections/{objection}"),
            &[
                ("csrf", &csrf),
                ("case_id", &case.id),
                ("decision", "uphold"),
                ("reason", "经核实已退出低保"),
            ],
        )
        .await;
    assert_eq!(upheld.status, StatusCode::SEE_OTHER, "{}", upheld.body);
    assert_eq!(
        app.store.case(&Scope::All, &case.id).await.unwrap().state,
        State::Rejected
    );
    // A street reviewer does not decide objections.
    let mut street = app.staff("street", Role::StreetReviewer, STREET_A).await;
    let csrf = street.csrf_from("/staff").await;
    assert_eq!(
        street
            .post_form(
                &format!("/staff/objections/{objection}"),
                &[
                    ("csrf", &csrf),
                    ("case_id", &case.id),
                    ("decision", "dismiss")
                ],
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_certificate_needs_the_assessment_and_the_record_shows_it() {
    let app = App::new().await;
    let mut input = person(1, "张伟", COMMUNITY_A1);
    input.certificate = None;
    let pid = app.person(&input).await;
    let case = app.submitted("cert-new", &pid).await;
    let case = to_last_step(&app, case, 3).await;
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;
    let missing = decide(&mut district, &case, &[("decision", "approve")]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("href=\"#category\""));
    assert!(missing.body.contains("href=\"#grade\""));
    let ok = decide(
        &mut district,
        &case,
        &[
            ("decision", "approve"),
            ("category", "hearing"),
            ("grade", "3"),
        ],
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        app.store.case(&Scope::All, &case.id).await.unwrap().state,
        State::Closed
    );
    let record = district.get(&format!("/staff/persons/{pid}")).await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(record.body.contains(&format!("{}23", rid(1).as_str())));
    assert!(record.body.contains(&case.number));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_task_is_done_from_the_task_list_and_closes_the_case() {
    let app = App::new().await;
    let pid = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let case = app.submitted("device-fitting", &pid).await;
    let case = to_last_step(&app, case, 3).await;
    app.store
        .act_on_case(
            &Actor::system("test"),
            &Scope::All,
            &case.id,
            case.version,
            Action::Decide(Decision::Approve),
            None,
        )
        .await
        .unwrap();
    // The material the resident uploaded, for the provider to see.
    let png = b"\x89PNG\r\n\x1a\n....".to_vec();
    let doc = app
        .store
        .add_document(
            &Actor::system("test"),
            &Scope::All,
            &case.id,
            "处方.png",
            DocumentKind::Png,
            &png,
        )
        .await
        .unwrap();
    let mut provider = app.staff("provider", Role::Provider, DISTRICT).await;
    let page = provider.get(&format!("/staff/cases/{}", case.id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("处方.png"));
    let file = provider
        .get(&format!("/staff/cases/{}/documents/{}", case.id, doc.id))
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type(), "image/png");
    let mut street = app.staff("street", Role::StreetReviewer, STREET_B).await;
    assert_eq!(
        street
            .get(&format!("/staff/cases/{}/documents/{}", case.id, doc.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let tasks = provider.get("/staff/tasks").await;
    assert_eq!(tasks.status, StatusCode::OK);
    assert!(tasks.body.contains("落实服务"));
    assert!(tasks.body.contains("张伟"));
    let task = &app
        .store
        .tasks(&Scope::All, Some(Role::Provider), true, 10)
        .await
        .unwrap()[0];
    let csrf = hidden_csrf(&tasks.body).unwrap();
    let path = format!("/staff/tasks/{}/complete", task.id);
    let version = task.version.to_string();
    let empty = provider
        .post_form(&path, &[("csrf", &csrf), ("version", &version)])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains(&format!("href=\"#note-{}\"", task.id)));
    let done = provider
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("note", "已上门适配"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.case(&Scope::All, &case.id).await.unwrap().state,
        State::Closed
    );
    // Partners have no tasks.
    let mut partner = app.staff("partner", Role::Partner, DISTRICT).await;
    assert_eq!(
        partner.get("/staff/tasks").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_community_worker_files_on_a_residents_behalf() {
    let app = App::new().await;
    app.store.seed_catalog(&Catalog::seed()).await.unwrap();
    let pid = app.person(&person(1, "张伟", COMMUNITY_A1)).await;
    let elsewhere = app.person(&person(2, "李四", COMMUNITY_A2)).await;
    let mut worker = app
        .staff("community", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    let record = worker.get(&format!("/staff/persons/{pid}")).await;
    assert!(record.body.contains(&format!("/staff/persons/{pid}/apply")));
    let items = worker.get(&format!("/staff/persons/{pid}/apply")).await;
    assert_eq!(items.status, StatusCode::OK);
    assert!(
        items.body.contains("残疾人机动轮椅车燃油补贴") || items.body.contains("wheelchair-fuel")
    );
    assert_eq!(
        worker
            .get(&format!("/staff/persons/{elsewhere}/apply"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let path = format!("/staff/persons/{pid}/apply/wheelchair-fuel");
    let form = worker.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body
            .contains("id=\"channel-proxy\" name=\"channel\" value=\"proxy\" checked")
    );
    let csrf = hidden_csrf(&form.body).unwrap();
    let key = "proxykey123";
    let missing = worker
        .post_form(
            &path,
            &[("csrf", &csrf), ("submit_key", key), ("channel", "proxy")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.error_summary().len(),
        2,
        "{:?}",
        missing.error_summary()
    );
    let fields = [
        ("csrf", csrf.as_str()),
        ("submit_key", key),
        ("channel", "proxy"),
        ("q_owns_motorised_wheelchair", "yes"),
        ("confirm", "yes"),
    ];
    let filed = worker.post_form(&path, &fields).await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.body);
    assert!(filed.location().unwrap().contains("filed="));
    let again = worker.post_form(&path, &fields).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let cases = app.store.cases_for_person(&Scope::All, &pid).await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].channel, Channel::Proxy);
    assert_eq!(cases[0].state, State::Submitted);
    let case = app.store.case(&Scope::All, &cases[0].id).await.unwrap();
    assert_eq!(case.filed_by, "account:community");
    // Nor for someone outside the worker's community.
    let outside = worker
        .post_form(
            &format!("/staff/persons/{elsewhere}/apply/wheelchair-fuel"),
            &[
                ("csrf", &csrf),
                ("submit_key", "otherkey1"),
                ("channel", "proxy"),
                ("q_owns_motorised_wheelchair", "yes"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    // The administrator keeps the system, not the cases.
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    assert_eq!(
        admin
            .get(&format!("/staff/persons/{pid}/apply"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
