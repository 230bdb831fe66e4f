//! The catalog and the holiday calendar in the workbench: administrators only; a bad rule is
//! re-shown with its position and nothing saved; a good version saved as a draft, activated,
//! and served to residents at once; the rule tried on people of the registry; holidays added
//! and removed.

use axum::http::StatusCode;
use zhucan_core::{HouseholdStatus, Role, today_shanghai};
use zhucan_services::{Catalog, ServiceCode};
use zhucan_store::{VersionStatus, draft_of};

use crate::common::*;

const ITEM: &str = "/staff/services/living-subsidy";

/// An app with the reference catalog stored, as a server has it after its first start.
async fn app() -> App {
    let app = App::new().await;
    app.store.seed_catalog(&Catalog::seed()).await.unwrap();
    app
}

fn living() -> ServiceCode {
    ServiceCode::parse("living-subsidy").unwrap()
}

/// The new-version form as the page fills it for the living subsidy (version 1), with `csrf`,
/// the button pressed, and `changes` applied.
fn form(csrf: &str, action: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let v1 = Catalog::seed()
        .active_on(&living(), today_shanghai())
        .unwrap()
        .clone();
    let d = draft_of(&v1);
    let materials: Vec<String> = d
        .materials
        .iter()
        .map(|m| {
            let optional = if m.required { "" } else { "|选填" };
            format!("{}|{}{optional}", m.name_zh, m.name_en)
        })
        .collect();
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.into()),
        ("name_zh".into(), d.name_zh.clone()),
        ("name_en".into(), d.name_en.clone()),
        ("who_zh".into(), d.who_zh.clone()),
        ("who_en".into(), d.who_en.clone()),
        ("notes".into(), d.notes.clone()),
        ("materials".into(), materials.join("\r\n")),
    ];
    for i in 0..6 {
        fields.push(("chain".into(), d.chain.get(i).cloned().unwrap_or_default()));
    }
    fields.extend([
        ("notice_days".into(), d.notice_days.to_string()),
        ("limit_days".into(), d.limit_days.to_string()),
        ("amount_kind".into(), d.amount.kind.clone()),
        (
            "amount_yuan".into(),
            d.amount.yuan.clone().unwrap_or_default(),
        ),
        (
            "amount_per".into(),
            d.amount.per.clone().unwrap_or_default(),
        ),
        ("amount_zh".into(), String::new()),
        ("amount_en".into(), String::new()),
        ("rule".into(), d.rule.clone()),
        ("effective_from".into(), today_shanghai().to_string()),
        ("sample".into(), String::new()),
        ("action".into(), action.into()),
    ]);
    for (key, value) in changes {
        let slot = fields
            .iter_mut()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no field {key}"));
        slot.1 = (*value).to_owned();
    }
    fields
}

async fn post(client: &mut Client, path: &str, fields: &[(String, String)]) -> Resp {
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client.post_form(path, &refs).await
}

async fn stored_versions(app: &App) -> Vec<(u32, VersionStatus)> {
    app.store
        .catalog_versions(Some(&living()))
        .await
        .unwrap()
        .iter()
        .map(|v| (v.version.version(), v.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_keep_the_catalog_and_the_calendar() {
    let app = app().await;
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    for path in ["/staff/services", ITEM, "/staff/holidays"] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }
    let home = admin.get("/staff").await;
    assert!(
        home.body.contains("href=\"/staff/services\"")
            && home.body.contains("href=\"/staff/holidays\"")
    );
    let list = admin.get("/staff/services").await;
    assert_eq!(list.body.matches("<a href=\"/staff/services/").count(), 18);
    assert!(
        list.body.contains("第 1 版，2026-01-01 起"),
        "{}",
        list.body
    );
    assert_eq!(
        admin.get("/staff/services/no-such-item").await.status,
        StatusCode::NOT_FOUND
    );

    for (name, role, scope) in [
        ("district", Role::DistrictReviewer, DISTRICT),
        ("street", Role::StreetReviewer, STREET_A),
        ("community", Role::CommunityWorker, COMMUNITY_A1),
    ] {
        let mut other = app.staff(name, role, scope).await;
        for path in ["/staff/services", ITEM, "/staff/holidays"] {
            assert_eq!(
                other.get(path).await.status,
                StatusCode::FORBIDDEN,
                "{name} {path}"
            );
        }
        let csrf = other.csrf_from("/staff").await;
        let save = post(&mut other, ITEM, &form(&csrf, "save", &[])).await;
        assert_eq!(save.status, StatusCode::FORBIDDEN, "{name} saves");
        let activate = other
            .post_form(&format!("{ITEM}/versions/1/activate"), &[("csrf", &csrf)])
            .await;
        assert_eq!(activate.status, StatusCode::FORBIDDEN, "{name} activates");
        let holiday = other
            .post_form(
                "/staff/holidays",
                &[("csrf", &csrf), ("day", "2027-01-01"), ("kind", "holiday")],
            )
            .await;
        assert_eq!(
            holiday.status,
            StatusCode::FORBIDDEN,
            "{name} edits holidays"
        );
        assert!(
            !other
                .get("/staff")
                .await
                .body
                .contains("href=\"/staff/services\"")
        );
    }
    let mut anonymous = app.client();
    let resp = anonymous.get("/staff/services").await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "sent to sign in");
    assert!(
        resp.location()
            .unwrap_or_default()
            .starts_with("/staff/login")
    );
    assert_eq!(
        stored_versions(&app).await,
        vec![(1, VersionStatus::Active)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rule_is_shown_with_its_position_and_nothing_is_saved() {
    let app = app().await;
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    let csrf = admin.csrf_from(ITEM).await;
    let bad = form(
        &csrf,
        "save",
        &[
            ("rule", "has_valid_certificate &&\n  income < 100"),
            ("name_en", ""),
            ("limit_days", "twenty"),
        ],
    );
    let resp = post(&mut admin, ITEM, &bad).await;
    assert_eq!(resp.status, StatusCode::OK);
    // Every field is named at once, in the order of the page.
    let summary = resp.error_summary();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(summary[0].starts_with("英文名称："), "{summary:?}");
    assert_eq!(summary[1], "办理时限应为 0 或正整数");
    assert!(
        summary[2].starts_with("资格规则：第 2 行第 3 列"),
        "{summary:?}"
    );

    let bad = form(
        &csrf,
        "save",
        &[
            ("rule", "has_valid_certificate &&\n  income < 100"),
            ("name_en", ""),
            ("chain", "mayor"),
        ],
    );
    let resp = post(&mut admin, ITEM, &bad).await;
    assert_eq!(resp.status, StatusCode::OK);
    let summary = resp.error_summary();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(summary[0].starts_with("英文名称："), "{summary:?}");
    assert!(summary[1].starts_with("审核环节："), "{summary:?}");
    assert!(
        summary[2].starts_with("资格规则：第 2 行第 3 列") && summary[2].contains("income"),
        "{summary:?}"
    );
    // Each message links to its field, and what was typed is kept.
    assert!(resp.body.contains("href=\"#name_en\""));
    assert!(resp.body.contains("href=\"#chain-1\""));
    assert!(resp.body.contains("href=\"#rule\""));
    assert!(resp.body.contains("income &lt; 100") || resp.body.contains("income &#60; 100"));
    assert!(resp.body.contains("aria-invalid=\"true\""));
    assert_eq!(
        stored_versions(&app).await,
        vec![(1, VersionStatus::Active)]
    );

    // A date in the past is refused too.
    let past = (today_shanghai() - time::Duration::days(1)).to_string();
    let resp = post(
        &mut admin,
        ITEM,
        &form(&csrf, "save", &[("effective_from", &past)]),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.error_summary()[0].starts_with("生效日期不能早于今天"),
        "{:?}",
        resp.error_summary()
    );
    assert_eq!(
        stored_versions(&app).await,
        vec![(1, VersionStatus::Active)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_activated_from_today_is_served_at_once() {
    let app = app().await;
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    let mut resident = app.client();
    let csrf = admin.csrf_from(ITEM).await;
    let new_name = "困难残疾人生活补贴（新标准）";
    let save = form(
        &csrf,
        "save",
        &[
            ("name_zh", new_name),
            ("amount_yuan", "120"),
            ("materials", "申请表|Application\n低保证明|Dibao proof|选填"),
        ],
    );
    let resp = post(&mut admin, ITEM, &save).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        resp.location(),
        Some("/staff/services/living-subsidy?saved=2")
    );
    assert_eq!(
        stored_versions(&app).await,
        vec![(1, VersionStatus::Active), (2, VersionStatus::Draft)]
    );
    let stored = app
        .store
        .service_version("living-subsidy", 2)
        .await
        .unwrap();
    assert_eq!(stored.materials().len(), 2);
    assert!(!stored.materials()[1].required);

    // A draft is not served.
    let page = admin.get("/staff/services/living-subsidy?saved=2").await;
    assert!(page.body.contains("已保存为草稿：第 2 版"));
    assert!(page.body.contains("草稿（未启用）"));
    assert!(
        !resident
            .get("/services/living-subsidy")
            .await
            .body
            .contains(new_name)
    );

    let resp = admin
        .post_form(&format!("{ITEM}/versions/2/activate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    assert_eq!(
        resp.location(),
        Some("/staff/services/living-subsidy?activated=2")
    );
    let served = resident.get("/services/living-subsidy").await;
    assert!(served.body.contains(new_name), "served without a restart");
    assert!(served.body.contains("¥120.00"), "{}", served.body);
    let api = resident.get("/api/v1/services").await.json();
    let living = api["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "living-subsidy")
        .unwrap()
        .clone();
    assert_eq!(living["version"], 2);

    // Activating again is refused plainly; the list shows version 2 in effect.
    let again = admin
        .post_form(&format!("{ITEM}/versions/2/activate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        again.error_summary()[0].contains("版本 2 已启用"),
        "{:?}",
        again.error_summary()
    );
    let list = admin.get("/staff/services").await;
    assert!(
        list.body
            .contains(&format!("第 2 版，{} 起", today_shanghai()))
    );
    let audit = app.store.recent_audit(20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "activate" && r.actor == "account:admin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_is_tried_on_people_of_the_registry_without_saving() {
    let app = app().await;
    let mut poor = person(1, "张伟", COMMUNITY_A1);
    poor.household_status = HouseholdStatus::Dibao;
    app.person(&poor).await;
    app.person(&person(2, "李娜", COMMUNITY_A2)).await;
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    let csrf = admin.csrf_from(ITEM).await;
    let rule = "has_valid_certificate && household_status == 'dibao'";
    let resp = post(&mut admin, ITEM, &form(&csrf, "try", &[("rule", rule)])).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.error_summary().is_empty(),
        "{:?}",
        resp.error_summary()
    );
    let results = &resp.body[resp.body.find("id=\"trial-title\"").expect("results")..];
    let zhang = &results[results.find("张伟").unwrap()..];
    let zhang = &zhang[..zhang.find("</li>\n  </ul>").unwrap_or(zhang.len())];
    assert!(zhang.contains("<strong>符合条件</strong>"), "{zhang}");
    let li = &results[results.find("李娜").unwrap()..];
    assert!(li.contains("<strong>不符合条件</strong>"), "{li}");
    assert!(li.contains("✗ 不符合："), "clause by clause: {li}");
    // Masked numbers only, and what was typed is kept.
    assert!(!has_digit_run(results, 11));
    assert!(
        resp.body.contains("household_status == &#39;dibao&#39;")
            || resp.body.contains("household_status == &#x27;dibao&#x27;")
    );
    assert_eq!(
        stored_versions(&app).await,
        vec![(1, VersionStatus::Active)]
    );

    // One person by name, in English.
    admin.get("/prefs?lang=en&back=/staff").await;
    let resp = post(
        &mut admin,
        ITEM,
        &form(&csrf, "try", &[("rule", rule), ("sample", "李娜")]),
    )
    .await;
    let results = &resp.body[resp.body.find("id=\"trial-title\"").unwrap()..];
    assert!(results.contains("李娜") && !results.contains("张伟"));
    assert!(
        results.contains("<strong>Not eligible</strong>"),
        "{results}"
    );
    assert!(results.contains("✗ Not met: "));

    // A rule that does not check is named, with its position, and nothing is tried.
    let resp = post(
        &mut admin,
        ITEM,
        &form(&csrf, "try", &[("rule", "grade <= 'two'")]),
    )
    .await;
    let summary = resp.error_summary();
    assert!(
        summary[0].starts_with("Eligibility rule: line 1, column"),
        "{summary:?}"
    );
    assert!(!resp.body.contains("id=\"trial-title\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holidays_are_added_and_removed() {
    let app = app().await;
    let mut admin = app.staff("admin", Role::Admin, DISTRICT).await;
    let page = admin.get("/staff/holidays").await;
    assert!(page.body.contains("2026-10-01") && page.body.contains("国务院办公厅"));
    let csrf = admin.csrf_from("/staff/holidays").await;
    let resp = admin
        .post_form(
            "/staff/holidays",
            &[("csrf", &csrf), ("day", "2027-01-01"), ("kind", "holiday")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
    let new_year = time::macros::date!(2027 - 01 - 01);
    assert!(
        app.store
            .holiday_calendar()
            .await
            .unwrap()
            .holidays
            .contains(&new_year)
    );
    let page = admin.get("/staff/holidays").await;
    assert!(page.body.contains("<th scope=\"row\">2027-01-01</th>"));

    // A working day on a weekday is refused, naming the field; a missing kind too.
    let resp = admin
        .post_form(
            "/staff/holidays",
            &[("csrf", &csrf), ("day", "2027-01-05"), ("kind", "workday")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.error_summary(),
        vec!["调休上班日应为星期六或星期日，工作日本来就要上班"]
    );
    let resp = admin
        .post_form("/staff/holidays", &[("csrf", &csrf), ("day", "2027-13-01")])
        .await;
    assert_eq!(resp.error_summary().len(), 2);

    let resp = admin
        .post_form(
            "/staff/holidays/remove",
            &[("csrf", &csrf), ("day", "2027-01-01")],
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert!(
        !app.store
            .holiday_calendar()
            .await
            .unwrap()
            .holidays
            .contains(&new_year)
    );
    let audit = app.store.recent_audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.entity == "holiday" && r.action == "delete" && r.entity_id == "2027-01-01")
    );
}
