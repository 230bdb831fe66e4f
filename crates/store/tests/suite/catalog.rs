//! The catalog as administrators keep it: new versions saved as drafts with the next number,
//! activated from a date (never in the past), cases keeping the version they were filed under,
//! and the holiday calendar edited day by day; every write audited.

use serde_json::json;
use zhucan_core::today_shanghai;
use zhucan_services::{Catalog, Reason, ServiceCode, ServiceDraft};
use zhucan_store::{Channel, DayKind, NewCase, Scope, VersionRefusal, VersionStatus, draft_of};

use crate::common::*;

backend_tests!(
    a_saved_version_is_a_draft_with_the_next_number,
    a_refused_version_writes_nothing,
    cases_keep_the_version_they_were_filed_under,
    a_version_takes_effect_after_the_one_before,
    holiday_days_are_added_and_removed,
);

fn living() -> ServiceCode {
    ServiceCode::parse("living-subsidy").unwrap()
}

/// The seeded living subsidy as a draft of its next version, from `days` days from today.
async fn next_draft(db: &TestDb, days: i64) -> ServiceDraft {
    db.store.seed_catalog(&Catalog::seed()).await.unwrap();
    let catalog = db.store.catalog().await.unwrap();
    let current = catalog.active_on(&living(), today_shanghai()).unwrap();
    let mut draft = draft_of(current);
    draft.effective_from = (today_shanghai() + time::Duration::days(days)).to_string();
    draft
}

async fn audit_actions(db: &TestDb, entity_id: &str) -> Vec<String> {
    let mut actions: Vec<String> = db
        .store
        .recent_audit(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entity_id == entity_id)
        .map(|r| r.action)
        .collect();
    actions.reverse();
    actions
}

async fn a_saved_version_is_a_draft_with_the_next_number(db: TestDb) {
    let admin = staff("admin", "admin");
    let mut draft = next_draft(&db, 3).await;
    draft.version = 77; // ignored: the store numbers versions
    draft.name_zh = "困难残疾人生活补贴（新标准）".into();
    let saved = db
        .store
        .save_service_version(&admin, draft.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.version.version(), 2);
    assert_eq!(saved.status, VersionStatus::Draft);
    assert!(saved.activated_at.is_none());
    // A draft is not in the catalog residents see.
    let catalog = db.store.catalog().await.unwrap();
    let far = today_shanghai() + time::Duration::days(30);
    assert_eq!(catalog.active_on(&living(), far).unwrap().version(), 1);

    // Saving again replaces the draft under the same number.
    draft.name_en = "Living subsidy (new rates)".into();
    let again = db
        .store
        .save_service_version(&admin, draft)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version.version(), 2);
    let versions = db.store.catalog_versions(Some(&living())).await.unwrap();
    let numbers: Vec<_> = versions
        .iter()
        .map(|v| (v.version.version(), v.status))
        .collect();
    assert_eq!(
        numbers,
        vec![(1, VersionStatus::Active), (2, VersionStatus::Draft)]
    );
    assert_eq!(
        versions[1].version.name(zhucan_core::Lang::En),
        "Living subsidy (new rates)"
    );
    assert_eq!(
        audit_actions(&db, "living-subsidy@2").await,
        vec!["create", "update"]
    );
    assert_eq!(
        db.store.catalog_versions(None).await.unwrap().len(),
        Catalog::seed().versions().len() + 1
    );
}

async fn a_refused_version_writes_nothing(db: TestDb) {
    let admin = staff("admin", "admin");
    let past = next_draft(&db, -1).await;
    let stored = db.count("service_versions").await;
    let audit = db.count("audit_log").await;
    match db.store.save_service_version(&admin, past).await.unwrap() {
        Err(VersionRefusal::Past {
            effective_from,
            today,
        }) => {
            assert_eq!(today, today_shanghai());
            assert_eq!(effective_from, today - time::Duration::days(1));
        }
        other => panic!("a past date is refused: {other:?}"),
    }
    let mut bad = next_draft(&db, 0).await;
    bad.rule = "has_valid_certificate &&\n  income < 100".into();
    bad.name_en = " ".into();
    match db.store.save_service_version(&admin, bad).await.unwrap() {
        Err(VersionRefusal::Invalid(problems)) => {
            let fields: Vec<_> = problems.0.iter().map(|p| p.field.as_str()).collect();
            assert_eq!(fields, vec!["name_en", "rule"]);
            let rule = problems.0[1].to_string();
            assert!(
                rule.contains("line 2, column 3") && rule.contains("income"),
                "{rule}"
            );
        }
        other => panic!("a bad rule is refused: {other:?}"),
    }
    assert_eq!(db.count("service_versions").await, stored);
    assert_eq!(db.count("audit_log").await, audit);
}

async fn cases_keep_the_version_they_were_filed_under(db: TestDb) {
    let admin = staff("admin", "admin");
    let mut draft = next_draft(&db, 0).await;
    let pid = db
        .store
        .create_person(&system(), &Scope::All, &person(1, "张伟", COMMUNITY_A1))
        .await
        .unwrap();
    let v1 = db.store.service_version("living-subsidy", 1).await.unwrap();
    let case = db
        .store
        .create_case(
            &system(),
            &Scope::All,
            NewCase {
                service: &v1,
                person_id: pid.clone(),
                channel: Channel::Counter,
                answers: json!({}),
                submit_key: None,
            },
        )
        .await
        .unwrap();

    draft.rule = "has_valid_certificate".into();
    draft.limit_days = 15;
    let saved = db
        .store
        .save_service_version(&admin, draft)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.version.version(), 2);
    let activated = db
        .store
        .activate_service_version(&admin, &living(), 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(activated.effective_from(), today_shanghai());

    let catalog = db.store.catalog().await.unwrap();
    let now = catalog.active_on(&living(), today_shanghai()).unwrap();
    assert_eq!((now.version(), now.limit_days()), (2, 15));
    // The case filed before still reads version 1, which is as it was.
    let case = db.store.case(&Scope::All, &case.id).await.unwrap();
    assert_eq!(case.service_version, 1);
    assert_eq!(
        db.store.service_version("living-subsidy", 1).await.unwrap(),
        v1
    );
    assert_eq!(catalog.version(&living(), 1), Some(&v1));
    let versions = db.store.catalog_versions(Some(&living())).await.unwrap();
    assert_eq!(versions[1].status, VersionStatus::Active);
    assert!(versions[1].activated_at.is_some());

    // An active version is never changed: activating again is refused, saving makes version 3.
    assert_eq!(
        db.store
            .activate_service_version(&admin, &living(), 2)
            .await
            .unwrap(),
        Err(VersionRefusal::NotADraft { version: 2 })
    );
    let mut next = draft_of(now);
    next.effective_from = (today_shanghai() + time::Duration::days(1)).to_string();
    let three = db
        .store
        .save_service_version(&admin, next)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(three.version.version(), 3);
    assert!(matches!(
        db.store
            .activate_service_version(&admin, &living(), 9)
            .await,
        Err(zhucan_store::DbError::NotFound)
    ));

    let audit = db.store.recent_audit(50).await.unwrap();
    let activation = audit
        .iter()
        .find(|r| r.action == "activate" && r.entity_id == "living-subsidy@2")
        .expect("activation audited");
    assert_eq!(activation.actor, "account:admin");
    assert_eq!(activation.after.as_ref().unwrap()["status"], "active");
    assert_eq!(
        audit_actions(&db, "living-subsidy@2").await,
        vec!["create", "activate"]
    );
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        zhucan_store::AuditVerification::Intact { .. }
    ));
}

async fn a_version_takes_effect_after_the_one_before(db: TestDb) {
    let admin = staff("admin", "admin");
    let later = next_draft(&db, 10).await;
    db.store
        .save_service_version(&admin, later.clone())
        .await
        .unwrap()
        .unwrap();
    db.store
        .activate_service_version(&admin, &living(), 2)
        .await
        .unwrap()
        .unwrap();
    // Scheduled: version 1 stays in force until then.
    let catalog = db.store.catalog().await.unwrap();
    assert_eq!(
        catalog
            .active_on(&living(), today_shanghai())
            .unwrap()
            .version(),
        1
    );
    let mut earlier = later;
    earlier.effective_from = (today_shanghai() + time::Duration::days(5)).to_string();
    match db
        .store
        .save_service_version(&admin, earlier)
        .await
        .unwrap()
    {
        Err(VersionRefusal::Invalid(problems)) => {
            assert_eq!(problems.0.len(), 1);
            assert_eq!(problems.0[0].field, "effective_from");
            assert!(matches!(
                problems.0[0].reason,
                Reason::VersionOrder {
                    version: 3,
                    previous: 2,
                    ..
                }
            ));
        }
        other => panic!("an earlier date than the version before is refused: {other:?}"),
    }
}

async fn holiday_days_are_added_and_removed(db: TestDb) {
    let admin = staff("admin", "admin");
    let new_year = time::macros::date!(2027 - 01 - 01);
    let saturday = time::macros::date!(2027 - 02 - 06);
    db.store
        .set_calendar_day(&admin, new_year, DayKind::Holiday)
        .await
        .unwrap();
    db.store
        .set_calendar_day(&admin, saturday, DayKind::Workday)
        .await
        .unwrap();
    let calendar = db.store.holiday_calendar().await.unwrap();
    // The 2026 schedule was seeded before the first edit, and is kept.
    let seeded = zhucan_services::HolidayCalendar::china_2026();
    assert!(seeded.holidays.is_subset(&calendar.holidays));
    assert!(calendar.holidays.contains(&new_year));
    assert!(calendar.extra_workdays.contains(&saturday));
    assert!(!calendar.is_working_day(new_year));
    assert!(calendar.is_working_day(saturday));

    // A day changes kind, and is removed.
    db.store
        .set_calendar_day(&admin, saturday, DayKind::Holiday)
        .await
        .unwrap();
    db.store.clear_calendar_day(&admin, new_year).await.unwrap();
    let calendar = db.store.holiday_calendar().await.unwrap();
    assert!(!calendar.holidays.contains(&new_year));
    assert!(calendar.holidays.contains(&saturday));
    assert!(!calendar.extra_workdays.contains(&saturday));
    assert!(calendar.is_working_day(new_year));
    // Removing a day that is not listed changes and audits nothing.
    let audit = db.count("audit_log").await;
    db.store.clear_calendar_day(&admin, new_year).await.unwrap();
    assert_eq!(db.count("audit_log").await, audit);
    assert_eq!(
        audit_actions(&db, "2027-01-01").await,
        vec!["update", "delete"]
    );
    assert_eq!(
        audit_actions(&db, "2027-02-06").await,
        vec!["update", "update"]
    );

    // Emptied by an administrator, the calendar stays empty rather than being seeded again.
    db.store
        .set_holiday_calendar(&admin, &zhucan_services::HolidayCalendar::default())
        .await
        .unwrap();
    assert_eq!(
        db.store.holiday_calendar().await.unwrap(),
        zhucan_services::HolidayCalendar::default()
    );
}
