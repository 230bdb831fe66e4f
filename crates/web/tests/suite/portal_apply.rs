//! The resident's application journey: start (for whom), one question per page, save and
//! resume, materials checked by content, check your answers, submit once, confirmation;
//! correction (补正) and resubmission; rating (好差评); and nobody else's case reachable.

use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use zhucan_core::Role;
use zhucan_services::{Action, Decision};
use zhucan_store::{Actor, Scope};

use crate::common::*;

/// The hidden `name="{name}" value="…"` of a page's form.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR pretend image";
pub const PDF: &[u8] = b"%PDF-1.7\n pretend document";

/// A multipart upload of `files` as (field, file name, bytes), with the CSRF token first.
pub async fn upload(
    client: &mut Client,
    path: &str,
    csrf: &str,
    files: &[(&str, &str, &[u8])],
) -> Resp {
    let boundary = "zhucan-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    client
        .send(
            Request::post(path)
                .header(
                    CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
}

/// Starts an application for `item` (for the only person, or `person` when there are
/// several) and returns the case's path `/me/cases/{id}`.
pub async fn start(client: &mut Client, item: &str, person: Option<&str>) -> String {
    let form = client.get(&format!("/services/{item}/apply")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = hidden_csrf(&form.body).unwrap();
    let key = hidden(&form.body, "start_key");
    let person = person.map_or_else(|| hidden(&form.body, "person"), str::to_owned);
    let resp = client
        .post_form(
            &format!("/services/{item}/apply"),
            &[("csrf", &csrf), ("start_key", &key), ("person", &person)],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let to = resp.location().unwrap();
    let id = to
        .strip_prefix("/me/cases/")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    format!("/me/cases/{id}")
}

/// Answers question `n` with `value` (and `extra` fields), returning the response.
pub async fn answer(
    client: &mut Client,
    case: &str,
    n: usize,
    value: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let page = client.get(&format!("{case}/questions/{n}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = hidden_csrf(&page.body).unwrap();
    let version = hidden(&page.body, "version");
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("version", version.as_str()),
        ("answer", value),
    ];
    fields.extend_from_slice(extra);
    client
        .post_form(&format!("{case}/questions/{n}"), &fields)
        .await
}

/// Submits from the check page (ticking the declaration), returning the response.
pub async fn submit(client: &mut Client, case: &str) -> Resp {
    let check = client.get(&format!("{case}/check")).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    let fields = [
        ("csrf", hidden_csrf(&check.body).unwrap()),
        ("version", hidden(&check.body, "version")),
        ("submit_key", hidden(&check.body, "submit_key")),
        ("confirm", "yes".to_owned()),
    ];
    client
        .post_form(&format!("{case}/submit"), &as_refs(&fields))
        .await
}

/// A wheelchair-fuel application filed through the pages, every material a PDF.
pub async fn filed(client: &mut Client) -> String {
    let case = start(client, "wheelchair-fuel", None).await;
    let resp = answer(client, &case, 1, "yes", &[]).await;
    assert_eq!(resp.location(), Some(format!("{case}/materials").as_str()));
    let csrf = client.csrf_from(&format!("{case}/materials")).await;
    let files: Vec<(String, &[u8])> = (0..5).map(|i| (format!("m{i}"), PDF)).collect();
    let files: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(f, b)| (f.as_str(), "scan.pdf", *b))
        .collect();
    let resp = upload(client, &format!("{case}/materials"), &csrf, &files).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let resp = submit(client, &case).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    case
}

fn street_reviewer() -> Actor {
    Actor {
        id: "account:street".into(),
        role: Role::StreetReviewer.slug().into(),
        client: None,
    }
}

/// The resident and a ward of theirs (whose guardian phone is the resident's).
async fn resident_with_ward(app: &App) -> (Client, String, String) {
    let me = person(11, "王芳", COMMUNITY_A1);
    let me_id = app.person(&me).await;
    let mut ward = person(13, "李小明", COMMUNITY_A1);
    ward.phone = None;
    ward.guardian = Some(zhucan_store::GuardianInput {
        name: zhucan_core::PersonName::parse("王芳").unwrap(),
        relation: "母亲".into(),
        phone: me.phone.clone(),
    });
    let ward_id = app.person(&ward).await;
    (
        app.resident(me.phone.as_ref().unwrap()).await,
        me_id,
        ward_id,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_applies_for_a_ward_page_by_page() {
    let app = App::new().await;
    let (mut client, _, ward_id) = resident_with_ward(&app).await;

    // Start: two people, so the page asks for whom; none chosen is named.
    let form = client.get("/services/wheelchair-fuel/apply").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.body.matches("name=\"person\"").count(), 2);
    assert!(form.body.contains("<legend>"));
    let csrf = hidden_csrf(&form.body).unwrap();
    let key = hidden(&form.body, "start_key");
    let none = client
        .post_form(
            "/services/wheelchair-fuel/apply",
            &[("csrf", &csrf), ("start_key", &key)],
        )
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(none.error_summary(), vec!["请选择为谁申请"]);
    let fields = [
        ("csrf", csrf.as_str()),
        ("start_key", key.as_str()),
        ("person", ward_id.as_str()),
    ];
    let started = client
        .post_form("/services/wheelchair-fuel/apply", &fields)
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let first = started.location().unwrap().to_owned();
    assert!(first.ends_with("/questions/1"), "{first}");
    let case = first.trim_end_matches("/questions/1").to_owned();
    // The same start sent twice opens one draft.
    let again = client
        .post_form("/services/wheelchair-fuel/apply", &fields)
        .await;
    assert_eq!(again.location(), Some(first.as_str()));

    // One question per page; a missing or malformed answer is named.
    let page = client.get(&first).await;
    assert!(page.body.contains("<legend><h1>"), "{}", page.body);
    assert!(page.body.contains("保存草稿稍后继续"));
    let missing = answer(&mut client, &case, 1, "", &[]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = missing.error_summary();
    assert_eq!(summary.len(), 1);
    assert!(summary[0].starts_with("请回答"), "{summary:?}");
    assert!(missing.body.contains("href=\"#answer\""));
    assert!(missing.body.contains("<title>错误："));
    let malformed = answer(&mut client, &case, 1, "maybe", &[]).await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(malformed.error_summary()[0].contains("“maybe”不是"));

    // Save and come back later: the draft is in the list, and continuing resumes after it.
    let saved = answer(&mut client, &case, 1, "yes", &[("save", "1")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), Some(format!("{case}?saved=1").as_str()));
    let shown = client.get(&format!("{case}?saved=1")).await;
    assert!(shown.body.contains("草稿已保存"));
    let list = client.get("/me/cases").await;
    assert!(list.body.contains(&format!("{case}/continue")));
    assert!(list.body.contains("继续填写"));
    assert!(list.body.contains("李小明"));
    let resumed = client.get(&format!("{case}/continue")).await;
    assert_eq!(
        resumed.location(),
        Some(format!("{case}/materials").as_str())
    );

    // Materials: a PNG is kept; content decides the type, and size is limited.
    let materials = format!("{case}/materials");
    let page = client.get(&materials).await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("accept=\""));
    let csrf = hidden_csrf(&page.body).unwrap();
    let ok = upload(&mut client, &materials, &csrf, &[("m0", "申请表.png", PNG)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let page = client.get(ok.location().unwrap()).await;
    assert!(page.body.contains("申请表.png（1 KB）"), "{}", page.body);
    let exe = upload(
        &mut client,
        &materials,
        &csrf,
        &[("m1", "残疾人证.pdf", b"MZ\x90\0 an executable")],
    )
    .await;
    assert_eq!(exe.status, StatusCode::UNPROCESSABLE_ENTITY);
    let why = exe.error_summary();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].contains("残疾人证.pdf") && why[0].contains("不是 JPEG、PNG 图片或 PDF"),
        "{why:?}"
    );
    let mut big = PDF.to_vec();
    big.resize(11 * 1024 * 1024, b'x');
    let too_big = upload(&mut client, &materials, &csrf, &[("m1", "big.pdf", &big)]).await;
    assert_eq!(too_big.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_big.error_summary()[0].contains("超过上限"),
        "{:?}",
        too_big.error_summary()
    );
    // One bad file in a batch keeps the whole batch out.
    let mixed = upload(
        &mut client,
        &materials,
        &csrf,
        &[("m1", "id.pdf", PDF), ("m2", "x.pdf", b"not a pdf")],
    )
    .await;
    assert_eq!(mixed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let id = case.trim_start_matches("/me/cases/");
    let documents = || async { app.store.case(&Scope::All, id).await.unwrap().documents };
    assert_eq!(documents().await.len(), 1, "only the PNG is kept");
    // A file uploaded by mistake is taken back with its own button (and form).
    let wrong = upload(&mut client, &materials, &csrf, &[("m1", "错的.pdf", PDF)]).await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER, "{}", wrong.body);
    let doc = documents().await;
    let doc = doc.iter().find(|d| d.name.ends_with("错的.pdf")).unwrap();
    let page = client.get(&materials).await;
    assert!(
        page.body
            .contains(&format!("<form id=\"remove-{}\"", doc.id))
    );
    assert!(page.body.contains(&format!(
        "form=\"remove-{}\" class=\"link-button\">删除<span class=\"visually-hidden\"> 错的.pdf</span>",
        doc.id
    )));
    let action = format!("{case}/documents/{}/remove", doc.id);
    let forged = client.post_form(&action, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let removed = client.post_form(&action, &[("csrf", &csrf)]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let page = client.get(removed.location().unwrap()).await;
    assert!(page.body.contains("已删除文件："), "{}", page.body);
    assert!(!page.body.contains("错的.pdf（"));
    assert_eq!(documents().await.len(), 1);

    // Check your answers: the missing materials block it, each named.
    let check = client.get(&format!("{case}/check")).await;
    assert!(check.body.contains("检查您的回答"));
    let blocking = check.error_summary();
    assert_eq!(blocking.len(), 4, "{blocking:?}");
    assert!(
        blocking.contains(&"请上传：残疾人证".to_owned()),
        "{blocking:?}"
    );
    let refused = submit(&mut client, &case).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let files: Vec<(String, &[u8])> = (1..5).map(|i| (format!("m{i}"), PDF)).collect();
    let files: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(f, b)| (f.as_str(), "scan.pdf", *b))
        .collect();
    let rest = upload(&mut client, &materials, &csrf, &files).await;
    assert_eq!(rest.status, StatusCode::SEE_OTHER, "{}", rest.body);
    let check = client.get(&format!("{case}/check")).await;
    assert!(
        check.error_summary().is_empty(),
        "{:?}",
        check.error_summary()
    );
    assert!(check.body.contains("李小明"));
    let change = format!("{case}/questions/1?change=1");
    assert!(check.body.contains(&format!("href=\"{change}\"")));

    // Change the answer through its Change link: back to the check page.
    let page = client.get(&change).await;
    assert!(page.body.contains("name=\"change\""));
    let changed = answer(&mut client, &case, 1, "no", &[("change", "1")]).await;
    assert_eq!(changed.location(), Some(format!("{case}/check").as_str()));
    let check = client.get(&format!("{case}/check")).await;
    assert!(check.body.contains("<dd>否</dd>"), "{}", check.body);

    // The declaration must be ticked.
    let fields = [
        ("csrf", hidden_csrf(&check.body).unwrap()),
        ("version", hidden(&check.body, "version")),
        ("submit_key", hidden(&check.body, "submit_key")),
    ];
    let unticked = client
        .post_form(&format!("{case}/submit"), &as_refs(&fields))
        .await;
    assert_eq!(unticked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unticked.body.contains("href=\"#confirm\""));

    // Submitted twice: one case, and both land on the confirmation.
    let mut fields = fields.to_vec();
    fields.push(("confirm", "yes".to_owned()));
    let sent = client
        .post_form(&format!("{case}/submit"), &as_refs(&fields))
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let confirmation = format!("{case}/confirmation");
    assert_eq!(sent.location(), Some(confirmation.as_str()));
    let twice = client
        .post_form(&format!("{case}/submit"), &as_refs(&fields))
        .await;
    assert_eq!(twice.location(), Some(confirmation.as_str()));
    let record = app.store.case(&Scope::All, id).await.unwrap();
    assert_eq!(record.state.slug(), "submitted");
    assert_eq!(
        record
            .events
            .iter()
            .filter(|e| e.action == "submit")
            .count(),
        1
    );
    assert_eq!(
        app.store
            .cases_for_person(&Scope::All, &ward_id)
            .await
            .unwrap()
            .len(),
        1
    );
    let page = client.get(&confirmation).await;
    assert!(page.body.contains("申请已提交"));
    assert!(page.body.contains(&record.number));
    assert!(page.body.contains("接下来会怎样"));

    // The case page: where it is and until when, each step, the materials to download.
    let page = client.get(&case).await;
    assert!(page.body.contains("正在等待"), "{}", page.body);
    assert!(page.body.contains("<ol class=\"steps\""));
    assert!(page.body.contains("正在办理"));
    assert!(page.body.contains("尚未开始"));
    assert!(page.body.contains("aria-current=\"step\""));
    let docs = app.store.case(&Scope::All, id).await.unwrap().documents;
    let png = docs.iter().find(|d| d.mime == "image/png").unwrap();
    let href = format!("{case}/documents/{}", png.id);
    assert!(page.body.contains(&href));
    let download = client.get(&href).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.content_type(), "image/png");
    let disposition = download.headers[CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(
        download.body,
        String::from_utf8_lossy(PNG),
        "the bytes as uploaded"
    );
    let audit = app.store.audit_for("case_document", &png.id).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "view"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_case_is_corrected_and_resubmitted() {
    let app = App::new().await;
    let me = person(21, "张伟", COMMUNITY_A1);
    app.person(&me).await;
    let mut client = app.resident(me.phone.as_ref().unwrap()).await;
    let case = filed(&mut client).await;
    let id = case.trim_start_matches("/me/cases/");
    let record = app.store.case(&Scope::All, id).await.unwrap();
    app.store
        .act_on_case(
            &street_reviewer(),
            &Scope::Division(code(STREET_A)),
            id,
            record.version,
            Action::Decide(Decision::ReturnForCorrection {
                missing: vec!["低保证明".into()],
            }),
            None,
        )
        .await
        .unwrap();

    let page = client.get(&case).await;
    assert!(page.body.contains("需要补正"), "{}", page.body);
    assert!(page.body.contains("低保证明"));
    assert!(page.body.contains("等待您补正"));
    let materials = format!("{case}/materials");
    let csrf = client.csrf_from(&materials).await;
    let resp = upload(
        &mut client,
        &materials,
        &csrf,
        &[("m3", "低保证明.jpg", &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2])],
    )
    .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);

    let check = client.get(&format!("{case}/check")).await;
    assert!(check.body.contains("重新提交"));
    // A page read before someone else's change says so plainly.
    let stale = [
        ("csrf", hidden_csrf(&check.body).unwrap()),
        (
            "version",
            (hidden(&check.body, "version").parse::<i64>().unwrap() - 1).to_string(),
        ),
        ("submit_key", hidden(&check.body, "submit_key")),
        ("confirm", "yes".to_owned()),
    ];
    let resp = client
        .post_form(&format!("{case}/submit"), &as_refs(&stale))
        .await;
    assert_eq!(resp.status, StatusCode::CONFLICT);
    assert!(
        resp.error_summary()[0].contains("别处"),
        "{:?}",
        resp.error_summary()
    );

    let resp = submit(&mut client, &case).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let page = client.get(resp.location().unwrap()).await;
    assert!(page.body.contains("补正材料已重新提交"));
    let record = app.store.case(&Scope::All, id).await.unwrap();
    assert_eq!(record.state.slug(), "in_review");
    let page = client.get(&case).await;
    assert!(page.body.contains("审核中"));
    assert!(!page.body.contains("需要补正"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_case_is_rated_once_and_a_poor_rating_is_followed_up() {
    let app = App::new().await;
    let me = person(31, "刘洋", COMMUNITY_A1);
    app.person(&me).await;
    let mut client = app.resident(me.phone.as_ref().unwrap()).await;
    let case = filed(&mut client).await;
    let id = case.trim_start_matches("/me/cases/");
    let page = client.get(&case).await;
    assert!(!page.body.contains("name=\"score\""), "not finished yet");
    let record = app.store.case(&Scope::All, id).await.unwrap();
    app.store
        .act_on_case(
            &street_reviewer(),
            &Scope::All,
            id,
            record.version,
            Action::Decide(Decision::Reject {
                reason: "车辆不符合国家标准".into(),
            }),
            None,
        )
        .await
        .unwrap();

    let page = client.get(&case).await;
    assert!(page.body.contains("车辆不符合国家标准"), "the reason");
    assert!(
        page.body.contains("街道审核</strong>：办理在此结束"),
        "{}",
        page.body
    );
    assert!(page.body.contains("：未经过"), "the district never saw it");
    assert_eq!(page.body.matches("name=\"score\"").count(), 5);
    assert!(page.body.contains("非常不满意") && page.body.contains("非常满意"));
    let csrf = hidden_csrf(&page.body).unwrap();
    let rating = format!("{case}/rating");
    let none = client.post_form(&rating, &[("csrf", &csrf)]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("href=\"#score-1\""));
    assert!(none.error_summary()[0].contains("请选择"));

    let rated = client
        .post_form(
            &rating,
            &[("csrf", &csrf), ("score", "2"), ("comment", "等了很久")],
        )
        .await;
    assert_eq!(rated.status, StatusCode::SEE_OTHER, "{}", rated.body);
    let page = client.get(&case).await;
    assert!(page.body.contains("您的评价"));
    assert!(page.body.contains("等了很久"));
    let tasks = app.store.tasks(&Scope::All, None, true, 50).await.unwrap();
    assert!(
        tasks
            .iter()
            .any(|t| t.kind == "follow_up" && t.case_id == id),
        "{tasks:?}"
    );
    let again = client
        .post_form(&rating, &[("csrf", &csrf), ("score", "5")])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.error_summary()[0].contains("已经评价过"));
    assert_eq!(
        app.store
            .rating(&Scope::All, id)
            .await
            .unwrap()
            .unwrap()
            .score,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_else_reaches_a_residents_application() {
    let app = App::new().await;
    let me = person(41, "陈静", COMMUNITY_A1);
    app.person(&me).await;
    let mut client = app.resident(me.phone.as_ref().unwrap()).await;
    let case = filed(&mut client).await;
    let id = case.trim_start_matches("/me/cases/");
    let doc = app.store.case(&Scope::All, id).await.unwrap().documents[0]
        .id
        .clone();
    let draft = start(&mut client, "wheelchair-fuel", None).await;

    let other = person(42, "赵强", COMMUNITY_A1);
    app.person(&other).await;
    let mut other = app.resident(other.phone.as_ref().unwrap()).await;
    for path in [
        case.clone(),
        format!("{case}/confirmation"),
        format!("{case}/documents/{doc}"),
        format!("{draft}/continue"),
        format!("{draft}/questions/1"),
        format!("{draft}/materials"),
        format!("{draft}/check"),
    ] {
        assert_eq!(
            other.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let csrf = other.csrf_from("/me").await;
    for path in [
        format!("{draft}/questions/1"),
        format!("{draft}/submit"),
        format!("{case}/rating"),
        format!("{case}/withdraw"),
    ] {
        let resp = other
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("version", "2"),
                    ("answer", "yes"),
                    ("submit_key", "abc"),
                    ("confirm", "yes"),
                    ("score", "1"),
                ],
            )
            .await;
        assert_eq!(resp.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    let resp = upload(
        &mut other,
        &format!("{draft}/materials"),
        &csrf,
        &[("m0", "a.png", PNG)],
    )
    .await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.store
            .case(&Scope::All, draft.trim_start_matches("/me/cases/"))
            .await
            .unwrap()
            .documents
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_case_states_what_was_granted_and_every_step_done() {
    let app = App::new().await;
    let me = person(51, "周敏", COMMUNITY_A1);
    let me_id = app.person(&me).await;
    let mut client = app.resident(me.phone.as_ref().unwrap()).await;
    let case = filed(&mut client).await;
    let id = case.trim_start_matches("/me/cases/");
    let district = Actor {
        id: "account:district".into(),
        role: Role::DistrictReviewer.slug().into(),
        client: None,
    };
    let mut record = app.store.case(&Scope::All, id).await.unwrap();
    for actor in [street_reviewer(), district] {
        record = app
            .store
            .act_on_case(
                &actor,
                &Scope::All,
                id,
                record.version,
                Action::Decide(Decision::Approve),
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(record.state.slug(), "closed", "nothing left to deliver");
    let entitlement = &app.store.entitlements(&Scope::All, &me_id).await.unwrap()[0];

    let page = client.get(&case).await;
    assert!(page.body.contains("您的申请已获批准"), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "每年¥260.00，自 {} 起发放",
            entitlement.start_month
        )),
        "{}",
        page.body
    );
    assert_eq!(
        page.body.matches("：已完成").count(),
        2,
        "both offices done"
    );
    assert!(page.body.contains("完成时间"));
    assert_eq!(
        page.body.matches("name=\"score\"").count(),
        5,
        "it can be rated"
    );
}
