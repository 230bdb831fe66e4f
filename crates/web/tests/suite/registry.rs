//! The registry pages: masking, audited views, form validation, stale edits, import upload.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use zhucan_core::Role;
use zhucan_store::{Actor, Scope};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_mask_numbers_and_the_record_page_shows_them_with_an_audited_view() {
    let app = App::new().await;
    let inputs = [
        person(1, "张伟", COMMUNITY_A1),
        person(2, "王芳", COMMUNITY_A2),
        person(3, "李四", COMMUNITY_B1),
    ];
    let mut ids = Vec::new();
    for p in &inputs {
        ids.push(app.person(p).await);
    }
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;

    let secrets: Vec<String> = inputs
        .iter()
        .flat_map(|p| {
            [
                p.resident_id.as_str().to_owned(),
                p.phone.as_ref().unwrap().as_str().to_owned(),
                p.certificate.as_ref().unwrap().number.as_str().to_owned(),
            ]
        })
        .collect();
    let list = district.get("/staff/persons").await;
    assert_eq!(list.status, StatusCode::OK);
    for p in &inputs {
        assert!(list.body.contains(p.name.as_str()));
        assert!(
            list.body.contains(&p.resident_id.masked()),
            "masked ID listed"
        );
    }
    for s in &secrets {
        assert!(!list.body.contains(s.as_str()), "the list shows {s}");
    }
    assert!(
        !has_digit_run(&list.body, 13),
        "no full ID on the list page"
    );
    let api = district.get("/api/v1/persons").await;
    assert_eq!(api.json()["total"], 3);
    for s in &secrets {
        assert!(!api.body.contains(s.as_str()), "the API list shows {s}");
    }

    let views_before = views_of(&app, &ids[0]).await;
    let record = district.get(&format!("/staff/persons/{}", ids[0])).await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(record.body.contains(inputs[0].resident_id.as_str()));
    assert!(
        record
            .body
            .contains(inputs[0].phone.as_ref().unwrap().as_str())
    );
    assert!(
        record
            .body
            .contains(inputs[0].certificate.as_ref().unwrap().number.as_str())
    );
    let views = views_of(&app, &ids[0]).await;
    assert_eq!(views.len(), views_before.len() + 1);
    assert_eq!(views[0].actor, "account:district");
    assert_eq!(views[0].actor_role, "district_reviewer");
    assert_eq!(views[0].client.as_deref(), Some("local"));

    let json = district
        .get(&format!("/api/v1/persons/{}", ids[1]))
        .await
        .json();
    assert_eq!(json["resident_id"], inputs[1].resident_id.as_str());
    assert_eq!(
        views_of(&app, &ids[1]).await.len(),
        1,
        "API reads are audited too"
    );

    // An exact search finds one person.
    let found = district
        .get(&format!(
            "/staff/persons?q={}",
            inputs[2].resident_id.as_str()
        ))
        .await;
    assert!(found.body.contains("<strong>1</strong>"), "one result");
    assert!(found.body.contains("李四"));
    let found = district
        .get(&format!(
            "/api/v1/persons?q={}",
            inputs[1].phone.as_ref().unwrap().as_str()
        ))
        .await
        .json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["name"], "王芳");
}

/// Security issue #8: `GET /api/v1/persons?q=张明` gave `rid_masked` (`440305********0077`)
/// and `birth_date` (`1964-09-01`) for every match, together the whole resident ID. Lists now
/// give masks that hide the birth segment and an age by year; the record (audited) has it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_give_no_birth_date_and_masks_hide_it() {
    let app = App::new().await;
    let input = person(7, "张明", COMMUNITY_A1);
    let id = app.person(&input).await;
    let mut district = app
        .staff("district", Role::DistrictReviewer, DISTRICT)
        .await;
    let rid = input.resident_id.as_str();
    let birth = input.resident_id.birth_date();
    let date = format!(
        "{:04}-{:02}-{:02}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let certificate = input.certificate.as_ref().unwrap().number.as_str();

    let views_before = views_of(&app, &id).await.len();
    let api = district.get("/api/v1/persons?q=%E5%BC%A0%E6%98%8E").await;
    assert_eq!(api.status, StatusCode::OK);
    let item = &api.json()["items"][0];
    assert_eq!(item["name"], "张明");
    let masked = format!("{}***********{}", &rid[..3], &rid[14..]);
    assert_eq!(item["rid_masked"], masked.as_str());
    assert_eq!(item["certificate_masked"], format!("{masked}**").as_str());
    assert_eq!(
        item["age"],
        i64::from(zhucan_core::today_shanghai().year() - birth.year())
    );
    assert!(item.get("birth_date").is_none(), "{item}");
    for secret in [&rid[6..14], date.as_str(), certificate, rid] {
        assert!(
            !api.body.contains(secret),
            "the list gives away {secret}: {}",
            api.body
        );
    }
    let page = district.get("/staff/persons?q=%E5%BC%A0%E6%98%8E").await;
    assert!(page.body.contains(&masked));
    assert!(!page.body.contains(&rid[6..14]) && !page.body.contains(&date));
    assert_eq!(
        views_of(&app, &id).await.len(),
        views_before,
        "a list is no view"
    );

    // The record shows the full number and the birth date, and the view is audited.
    let record = district.get(&format!("/staff/persons/{id}")).await;
    assert!(record.body.contains(rid) && record.body.contains(&date));
    let json = district.get(&format!("/api/v1/persons/{id}")).await.json();
    assert_eq!(
        (json["resident_id"].as_str(), json["birth_date"].as_str()),
        (Some(rid), Some(date.as_str()))
    );
    assert_eq!(views_of(&app, &id).await.len(), views_before + 2);
}

async fn views_of(app: &App, id: &str) -> Vec<zhucan_store::AuditRecord> {
    app.store
        .audit_for("person", id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "view")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_form_names_every_error_and_writes_nothing() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let csrf = worker.csrf_cookie().unwrap();
    let audit_before = app.store.recent_audit(1000).await.unwrap().len();

    // A resident ID with a wrong check character, a short phone, no name, a certificate of
    // someone else and a malformed date, all at once.
    let good = rid(1).as_str().to_owned();
    let last = good.chars().last().unwrap();
    let wrong_check = if last == '0' { '1' } else { '0' };
    let bad_id = format!("{}{wrong_check}", &good[..17]);
    let fields = [
        ("csrf", csrf.as_str()),
        ("resident_id", bad_id.as_str()),
        ("name", ""),
        ("phone", "12345"),
        ("division_code", COMMUNITY_A1),
        ("certificate_issued_on", "2021-13-01"),
        ("guardian_phone", "13800000000"),
    ];
    let resp = worker.post_form("/staff/persons/new", &fields).await;
    assert_eq!(resp.status, StatusCode::OK);
    let errors = resp.error_summary();
    let expect = [
        format!("校验码应为 {last}"),
        "请输入姓名".to_owned(),
        "手机号码应为 11 位数字".to_owned(),
        "不是有效日期".to_owned(),
        "请输入监护人姓名".to_owned(),
        "请填写监护人与本人的关系".to_owned(),
    ];
    for e in &expect {
        assert!(
            errors.iter().any(|m| m.contains(e.as_str())),
            "{e:?} not in {errors:?}"
        );
    }
    for field in [
        "resident_id",
        "name",
        "phone",
        "certificate_issued_on",
        "guardian_name",
    ] {
        assert!(
            resp.body.contains(&format!("href=\"#{field}\"")),
            "summary links {field}"
        );
    }
    // What was typed is shown again.
    assert!(resp.body.contains(&bad_id));
    assert!(resp.body.contains("12345"));
    assert_eq!(app.store.count_persons().await.unwrap(), 0);
    assert_eq!(
        app.store.recent_audit(1000).await.unwrap().len(),
        audit_before
    );

    // The same in English.
    worker.jar.insert("zhucan_lang".into(), "en".into());
    let resp = worker.post_form("/staff/persons/new", &fields).await;
    let errors = resp.error_summary();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("check character should be")),
        "{errors:?}"
    );
    worker.jar.remove("zhucan_lang");

    // A certificate number that is not the holder's, and a place outside the worker's area.
    let mut p = person(2, "王芳", COMMUNITY_A2);
    p.certificate = person(3, "x", COMMUNITY_A1).certificate;
    let mut f = form_fields(&p);
    f.push(("csrf", csrf.clone()));
    let resp = worker.post_form("/staff/persons/new", &as_refs(&f)).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.error_summary().len(), 1, "{:?}", resp.error_summary());
    let mut f = form_fields(&person(2, "王芳", COMMUNITY_A2));
    f.push(("csrf", csrf.clone()));
    let resp = worker.post_form("/staff/persons/new", &as_refs(&f)).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.error_summary(), ["只能登记在您负责的区域内"]);
    assert_eq!(app.store.count_persons().await.unwrap(), 0);

    // Fixed, it saves; the same ID again is a named error.
    let mut f = form_fields(&person(2, "王芳", COMMUNITY_A1));
    f.push(("csrf", csrf.clone()));
    let resp = worker.post_form("/staff/persons/new", &as_refs(&f)).await;
    assert_eq!(
        resp.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        resp.error_summary()
    );
    let location = resp.location().unwrap().to_owned();
    assert!(location.starts_with("/staff/persons/") && location.ends_with("?saved=1"));
    let saved = worker.get(&location).await;
    assert!(saved.body.contains("已保存") && saved.body.contains("王芳"));
    let resp = worker.post_form("/staff/persons/new", &as_refs(&f)).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.error_summary(),
        ["该公民身份号码已登记，请在名册中搜索"]
    );
    assert_eq!(app.store.count_persons().await.unwrap(), 1);
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_edit_is_refused_and_the_other_save_is_kept() {
    let app = App::new().await;
    let original = person(1, "张伟", COMMUNITY_A1);
    let id = app.person(&original).await;
    let mut a = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let mut b = app.staff("liming", Role::StreetReviewer, STREET_A).await;
    let edit = format!("/staff/persons/{id}/edit");

    let form_a = a.get(&edit).await;
    let form_b = b.get(&edit).await;
    assert_eq!(hidden(&form_a.body, "version"), "1");
    assert_eq!(
        hidden(&form_a.body, "resident_id"),
        original.resident_id.as_str()
    );

    let submit = |client: &Client, form: &Resp, name: &str| {
        let mut p = original.clone();
        p.name = zhucan_core::PersonName::parse(name).unwrap();
        let mut f = form_fields(&p);
        f.push(("csrf", client.csrf_cookie().unwrap()));
        f.push(("version", hidden(&form.body, "version")));
        f
    };
    let fields_b = submit(&b, &form_b, "乙女士");
    let resp = b.post_form(&edit, &as_refs(&fields_b)).await;
    assert_eq!(
        resp.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        resp.error_summary()
    );

    let fields_a = submit(&a, &form_a, "甲先生");
    let resp = a.post_form(&edit, &as_refs(&fields_a)).await;
    assert_eq!(resp.status, StatusCode::OK);
    let errors = resp.error_summary();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("已被他人修改"), "{errors:?}");
    assert!(
        resp.body.contains("甲先生"),
        "what A typed is kept on the page"
    );

    let stored = app
        .store
        .view_person(&Actor::system("test"), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("乙女士", 2));

    // Reopened, the edit goes through; a version that is not a number is a bad request.
    let fresh = a.get(&edit).await;
    let fields = submit(&a, &fresh, "甲先生");
    assert_eq!(
        a.post_form(&edit, &as_refs(&fields)).await.status,
        StatusCode::SEE_OTHER
    );
    let mut bad = fields.clone();
    bad.retain(|(k, _)| *k != "version");
    bad.push(("version", "latest".into()));
    assert_eq!(
        a.post_form(&edit, &as_refs(&bad)).await.status,
        StatusCode::BAD_REQUEST
    );
    let history = a.get(&format!("/staff/persons/{id}/history")).await;
    assert!(history.body.contains("乙女士") && history.body.contains("甲先生"));
}

fn multipart(csrf: &str, file_name: &str, content: &str, dry_run: bool) -> (String, String) {
    let boundary = "zhucan-test-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n");
    if dry_run {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\n1\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(client: &mut Client, csrf: &str, content: &str, dry_run: bool) -> Resp {
    let (content_type, body) = multipart(csrf, "persons.csv", content, dry_run);
    client
        .send(
            Request::post("/staff/import")
                .header(CONTENT_TYPE, content_type)
                .body(Body::from(body))
                .unwrap(),
        )
        .await
}

fn import_csv(rows: &[(u32, &str, &str)]) -> String {
    let mut csv = String::from("resident_id,name,division_code,phone\n");
    for (n, name, division) in rows {
        csv.push_str(&format!("{},{name},{division},{}\n", rid(*n), phone(*n)));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_imports_rows_in_scope_and_reports_the_rest() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let csrf = worker.csrf_cookie().unwrap();
    let csv = import_csv(&[
        (1, "张伟", COMMUNITY_A1),
        (2, "王芳", COMMUNITY_A1),
        (3, "李四", COMMUNITY_B1),
    ]);

    let resp = upload(&mut worker, &csrf, &csv, true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
    assert!(resp.body.contains("未写入"), "a dry run says so");
    assert_eq!(app.store.count_persons().await.unwrap(), 0);

    let resp = upload(&mut worker, &csrf, &csv, false).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.body
            .contains("<strong>2</strong>，更新 <strong>0</strong>，无变化 <strong>0</strong>，拒绝 <strong>1</strong>"),
        "{}",
        resp.body
    );
    assert_eq!(app.store.count_persons().await.unwrap(), 2);
    let report = resp
        .body
        .split("href=\"/staff/import/reports/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a report link")
        .to_owned();
    let download = worker.get(&format!("/staff/import/reports/{report}")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.content_type().contains("spreadsheetml"));
    // Someone else's report, and paths, are not found.
    let mut other = app
        .staff("liming", Role::CommunityWorker, COMMUNITY_A1)
        .await;
    assert_eq!(
        other
            .get(&format!("/staff/import/reports/{report}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        worker
            .get("/staff/import/reports/..%2F..%2Fweb.db")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Again: the same rows are unchanged, and not written again; a changed row is updated.
    let resp = upload(&mut worker, &csrf, &csv, false).await;
    assert!(
        resp.body
            .contains("<strong>0</strong>，更新 <strong>0</strong>，无变化 <strong>2</strong>"),
        "{}",
        resp.body
    );
    let changed = import_csv(&[(1, "张伟", COMMUNITY_A1), (2, "王芳芳", COMMUNITY_A1)]);
    let resp = upload(&mut worker, &csrf, &changed, false).await;
    assert!(
        resp.body
            .contains("<strong>0</strong>，更新 <strong>1</strong>，无变化 <strong>1</strong>"),
        "{}",
        resp.body
    );
    assert_eq!(app.store.count_persons().await.unwrap(), 2);

    // A bad token is refused before anything is imported.
    let resp = upload(
        &mut worker,
        "forged",
        &import_csv(&[(5, "周五", COMMUNITY_A1)]),
        false,
    )
    .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(app.store.count_persons().await.unwrap(), 2);
}

/// Found while writing these tests: `import_upload` streams the file to
/// `data_dir/uploads/<uuid>` before checking the CSRF token, and returns on a bad token (or a
/// multipart error mid-stream) without removing it, so uploaded personal data stays on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_leaves_no_file_behind() {
    let app = App::new().await;
    let mut worker = app.staff("wang", Role::CommunityWorker, COMMUNITY_A1).await;
    let resp = upload(
        &mut worker,
        "forged",
        &import_csv(&[(5, "周五", COMMUNITY_A1)]),
        false,
    )
    .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let uploads = app.dir.path().join("data").join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}
