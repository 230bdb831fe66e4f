//! Persons: encryption at rest, blind-index search, filters and paging, scope, duplicates,
//! optimistic locking and certificate history.

use std::collections::HashSet;

use zhucan_core::{
    Category, CertificateStatus, Grade, HouseholdStatus, LifeStatus, PersonName, ResidentId,
};
use zhucan_store::{DbError, PersonFilter, PersonInput, Scope, SearchTerm};

use crate::common::*;

backend_tests!(
    round_trip_decrypts_and_stores_only_ciphertext,
    search_by_blind_index_and_name,
    filters_and_paging_totals,
    division_scope_hides_other_streets,
    persons_scope_sees_only_listed_persons,
    duplicates_are_refused,
    stale_version_is_a_conflict_and_keeps_the_first_save,
    concurrent_updates_from_one_version_let_exactly_one_win,
    new_certificate_number_keeps_the_old_one_as_history,
    edit_without_certificate_is_what_the_record_then_shows,
    unknown_division_is_refused_and_nothing_written,
    export_page_reads_whole_records_in_id_order,
    nothing_stored_or_listed_gives_the_birth_date_away,
    the_migration_keeps_the_birth_year_and_shortens_old_masks,
    name_search_takes_wildcards_literally,
);

const NAMES: [&str; 12] = [
    "赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七", "王八", "冯九", "陈十", "褚明", "卫东",
];

async fn round_trip_decrypts_and_stores_only_ciphertext(db: TestDb) {
    let input = with_guardian(person(1, "张伟", COMMUNITY_A1), "李芳", phone(901));
    let id = db
        .store
        .create_person(&system(), &Scope::All, &input)
        .await
        .unwrap();
    let record = db
        .store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();

    assert_eq!(record.id, id);
    assert_eq!(record.resident_id, input.resident_id);
    assert_eq!(record.phone, input.phone);
    let cert = record.certificate.as_ref().expect("certificate");
    assert_eq!(cert.number, input.certificate.as_ref().unwrap().number);
    assert_eq!(
        (cert.category, cert.grade),
        (Category::Physical, Grade::Two)
    );
    assert_eq!(cert.issued_on.as_deref(), Some("2020-05-01"));
    assert_eq!(record.guardians.len(), 1);
    assert_eq!(record.guardians[0].phone, Some(phone(901)));
    assert_eq!(record.division_name.as_deref(), Some("驿都社区"));
    assert_eq!(record.sex, input.resident_id.sex());
    assert_eq!(record.version, 1);
    // Everything the input said comes back.
    assert_eq!(record.to_input(), input);

    // At rest: ciphertext, blind index and masked copies only.
    let rid = input.resident_id.as_str();
    let cert_no = input.certificate.as_ref().unwrap().number.as_str();
    let person_phone = input.phone.as_ref().unwrap().as_str();
    let guardian_phone = phone(901);
    let secrets: [&[u8]; 4] = [
        rid.as_bytes(),
        cert_no.as_bytes(),
        person_phone.as_bytes(),
        guardian_phone.as_str().as_bytes(),
    ];
    let row =
        sqlx::query("SELECT rid_enc, rid_index, rid_masked, phone_enc, phone_masked FROM persons")
            .fetch_one(&db.raw)
            .await
            .unwrap();
    use sqlx::Row;
    let rid_enc: Vec<u8> = row.get(0);
    let phone_enc: Vec<u8> = row.get(3);
    assert!(
        rid_enc.len() > rid.len(),
        "ciphertext carries nonce and tag"
    );
    assert_eq!(
        row.get::<String, _>(2),
        format!("510***********{}", &rid[14..])
    );
    assert_eq!(row.get::<String, _>(2), input.resident_id.masked());
    assert_eq!(
        row.get::<String, _>(4),
        format!("139****{}", &person_phone[7..])
    );
    for secret in secrets {
        for blob in [&rid_enc, &phone_enc, &row.get::<Vec<u8>, _>(1)] {
            assert!(
                !contains(blob, secret),
                "plain value inside an encrypted column"
            );
        }
    }
    // No column of any table holds a full number in the clear.
    let tables: [(&str, &[&str]); 3] = [
        (
            "persons",
            &[
                "id",
                "rid_enc",
                "rid_index",
                "rid_masked",
                "name",
                "sex",
                "birth_year",
                "ethnicity",
                "phone_enc",
                "phone_index",
                "phone_masked",
                "district_code",
                "street_code",
                "community_code",
                "division_code",
                "residence_code",
                "address",
                "household_status",
                "life_status",
                "created_at",
                "updated_at",
            ],
        ),
        (
            "certificates",
            &[
                "id",
                "person_id",
                "number_enc",
                "number_index",
                "number_masked",
                "components",
                "issued_on",
                "expires_on",
                "status",
            ],
        ),
        (
            "guardians",
            &[
                "id",
                "person_id",
                "name",
                "relation",
                "phone_enc",
                "phone_index",
                "phone_masked",
            ],
        ),
    ];
    for (table, columns) in tables {
        let values = db.column_bytes(table, columns).await;
        assert!(!values.is_empty(), "{table} has rows");
        for value in &values {
            for secret in secrets {
                assert!(
                    !contains(value, secret),
                    "{table} stores {:?} in the clear",
                    String::from_utf8_lossy(secret)
                );
            }
        }
    }
    // The ciphertext really is the value, under its column's label.
    assert_eq!(
        db.store
            .crypto()
            .decrypt_string(b"person.resident_id", &rid_enc)
            .unwrap(),
        rid
    );
}

async fn names(db: &TestDb, scope: &Scope, filter: PersonFilter) -> Vec<String> {
    db.store
        .search_persons(scope, &filter, 1, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn term(text: &str) -> PersonFilter {
    PersonFilter {
        term: SearchTerm::parse(text),
        ..PersonFilter::default()
    }
}

/// An `n` whose resident ID ends in the check character X.
fn n_with_x() -> u32 {
    (100..2000)
        .find(|&n| rid(n).as_str().ends_with('X'))
        .unwrap()
}

async fn search_by_blind_index_and_name(db: TestDb) {
    let nx = n_with_x();
    let inputs = [
        person(1, "张伟", COMMUNITY_A1),
        person(2, "张伟明", COMMUNITY_A2),
        with_guardian(person(nx, "王芳", COMMUNITY_B1), "王大", phone(902)),
    ];
    for p in &inputs {
        db.store
            .create_person(&system(), &Scope::All, p)
            .await
            .unwrap();
    }
    let all = Scope::All;
    let id2 = inputs[1].resident_id.as_str();
    assert!(matches!(
        SearchTerm::parse(id2),
        Some(SearchTerm::ResidentId(_))
    ));
    assert_eq!(names(&db, &all, term(id2)).await, ["张伟明"]);
    // A lowercase check character is the same ID.
    let x_id = inputs[2].resident_id.as_str().to_lowercase();
    assert_eq!(names(&db, &all, term(&x_id)).await, ["王芳"]);

    let cert = inputs[2].certificate.as_ref().unwrap().number.as_str();
    assert!(matches!(
        SearchTerm::parse(cert),
        Some(SearchTerm::Certificate(_))
    ));
    assert_eq!(names(&db, &all, term(cert)).await, ["王芳"]);

    let p1 = inputs[0].phone.as_ref().unwrap().as_str();
    assert!(matches!(SearchTerm::parse(p1), Some(SearchTerm::Phone(_))));
    assert_eq!(names(&db, &all, term(p1)).await, ["张伟"]);
    let spaced = format!("+86 {}-{}-{}", &p1[..3], &p1[3..7], &p1[7..]);
    assert_eq!(names(&db, &all, term(&spaced)).await, ["张伟"]);

    assert_eq!(names(&db, &all, term("张伟")).await, ["张伟", "张伟明"]);
    assert_eq!(names(&db, &all, term("伟明")).await, ["张伟明"]);
    assert!(names(&db, &all, term("李")).await.is_empty());
    // LIKE wildcards typed into the box match nothing special.
    assert!(names(&db, &all, term("%")).await.len() <= 3);
    assert!(names(&db, &all, term("_")).await.len() <= 3);

    // Valid numbers nobody has.
    assert!(names(&db, &all, term(rid(999).as_str())).await.is_empty());
    assert!(names(&db, &all, term(phone(999).as_str())).await.is_empty());
}

async fn filters_and_paging_totals(db: TestDb) {
    let mut inputs: Vec<PersonInput> = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let division = match i {
            0..5 => COMMUNITY_A1,
            5..8 => COMMUNITY_A2,
            _ => COMMUNITY_B1,
        };
        let category = if i % 2 == 0 {
            Category::Physical
        } else {
            Category::Hearing
        };
        let grade = if i % 3 == 0 { Grade::One } else { Grade::Four };
        let mut p = with_certificate(person(10 + i as u32, name, division), category, grade);
        if i == 7 {
            p.certificate = None;
        }
        if i % 4 == 0 {
            p.household_status = HouseholdStatus::Dibao;
        }
        if i == 11 {
            p.life_status = LifeStatus::Deceased;
        }
        db.store
            .create_person(&system(), &Scope::All, &p)
            .await
            .unwrap();
        inputs.push(p);
    }
    let category = |p: &PersonInput| p.certificate.as_ref().map(|c| c.number.category());
    let grade = |p: &PersonInput| p.certificate.as_ref().map(|c| c.number.grade());
    type Case<'a> = (&'a str, PersonFilter, Box<dyn Fn(&PersonInput) -> bool>);
    let cases: Vec<Case> = vec![
        ("none", PersonFilter::default(), Box::new(|_| true)),
        (
            "physical",
            PersonFilter {
                category: Some(Category::Physical),
                ..Default::default()
            },
            Box::new(move |p| category(p) == Some(Category::Physical)),
        ),
        (
            "hearing",
            PersonFilter {
                category: Some(Category::Hearing),
                ..Default::default()
            },
            Box::new(move |p| category(p) == Some(Category::Hearing)),
        ),
        (
            "grade 1",
            PersonFilter {
                grade: Some(Grade::One),
                ..Default::default()
            },
            Box::new(move |p| grade(p) == Some(Grade::One)),
        ),
        (
            "street A",
            PersonFilter {
                division: Some(code(STREET_A)),
                ..Default::default()
            },
            Box::new(|p| p.division_code.as_str().starts_with(STREET_A)),
        ),
        (
            "street B",
            PersonFilter {
                division: Some(code(STREET_B)),
                ..Default::default()
            },
            Box::new(|p| p.division_code.as_str().starts_with(STREET_B)),
        ),
        (
            "community A2",
            PersonFilter {
                division: Some(code(COMMUNITY_A2)),
                ..Default::default()
            },
            Box::new(|p| p.division_code.as_str() == COMMUNITY_A2),
        ),
        (
            "district",
            PersonFilter {
                division: Some(code(DISTRICT)),
                ..Default::default()
            },
            Box::new(|_| true),
        ),
        (
            "dibao",
            PersonFilter {
                household_status: Some(HouseholdStatus::Dibao),
                ..Default::default()
            },
            Box::new(|p| p.household_status == HouseholdStatus::Dibao),
        ),
        (
            "deceased",
            PersonFilter {
                life_status: Some(LifeStatus::Deceased),
                ..Default::default()
            },
            Box::new(|p| p.life_status == LifeStatus::Deceased),
        ),
        (
            "physical grade 1 in street A",
            PersonFilter {
                category: Some(Category::Physical),
                grade: Some(Grade::One),
                division: Some(code(STREET_A)),
                ..Default::default()
            },
            Box::new(move |p| {
                category(p) == Some(Category::Physical)
                    && grade(p) == Some(Grade::One)
                    && p.division_code.as_str().starts_with(STREET_A)
            }),
        ),
    ];
    for (label, filter, matches) in &cases {
        let expected: HashSet<String> = inputs
            .iter()
            .filter(|p| matches(p))
            .map(|p| p.name.as_str().to_owned())
            .collect();
        let page = db
            .store
            .search_persons(&Scope::All, filter, 1, 100)
            .await
            .unwrap();
        assert_eq!(page.total, expected.len() as i64, "total for {label}");
        let got: HashSet<String> = page.items.into_iter().map(|p| p.name).collect();
        assert_eq!(got, expected, "rows for {label}");
    }
    // A filter inside a scope narrows further; one outside it finds nothing.
    let street_a = street_scope(STREET_A);
    let in_b = PersonFilter {
        division: Some(code(STREET_B)),
        ..Default::default()
    };
    assert_eq!(
        db.store
            .search_persons(&street_a, &in_b, 1, 100)
            .await
            .unwrap()
            .total,
        0
    );

    // Paging: every row exactly once, in name order, with the same total on every page.
    let mut seen = Vec::new();
    for page_no in 1..=4 {
        let page = db
            .store
            .search_persons(&Scope::All, &PersonFilter::default(), page_no, 5)
            .await
            .unwrap();
        assert_eq!(page.total, 12);
        assert_eq!(page.pages(), 3);
        assert_eq!(page.page, page_no);
        let expected_len = [5, 5, 2, 0][page_no as usize - 1];
        assert_eq!(page.items.len(), expected_len, "page {page_no}");
        seen.extend(page.items.into_iter().map(|p| (p.name, p.id)));
    }
    let ids: HashSet<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids.len(), 12, "no row on two pages");
    let in_order: Vec<_> = seen.iter().map(|(n, _)| n.clone()).collect();
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_eq!(in_order, sorted, "ordered by name");
    // Page 0 or below is page 1.
    let first = db
        .store
        .search_persons(&Scope::All, &PersonFilter::default(), 0, 5)
        .await
        .unwrap();
    assert_eq!(first.page, 1);
    assert_eq!(first.items.len(), 5);
    // The list rows are masked.
    for item in db
        .store
        .search_persons(&Scope::All, &PersonFilter::default(), 1, 100)
        .await
        .unwrap()
        .items
    {
        assert!(
            item.rid_masked.contains("***********"),
            "{}",
            item.rid_masked
        );
        if let Some(c) = &item.certificate_masked {
            assert!(c.ends_with("**"), "{c}");
        }
    }
}

async fn division_scope_hides_other_streets(db: TestDb) {
    let store = &db.store;
    let a = person(1, "张伟", COMMUNITY_A1);
    let b = person(2, "王芳", COMMUNITY_B1);
    let id_a = store
        .create_person(&system(), &Scope::All, &a)
        .await
        .unwrap();
    let id_b = store
        .create_person(&system(), &Scope::All, &b)
        .await
        .unwrap();
    let audit_before = db.count("audit_log").await;

    let street_a = street_scope(STREET_A);
    let worker = staff("street_a", "street_reviewer");
    assert!(matches!(
        store.view_person(&worker, &street_a, &id_b).await,
        Err(DbError::NotFound)
    ));
    let mut renamed = b.clone();
    renamed.name = PersonName::parse("改名").unwrap();
    assert!(matches!(
        store
            .update_person(&worker, &street_a, &id_b, 1, &renamed)
            .await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store.person_history(&street_a, &id_b).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store
            .record_consent(&worker, &street_a, &id_b, "服务", "本人")
            .await,
        Err(DbError::NotFound)
    ));
    // Creating in, or moving someone to, another street is refused the same way.
    assert!(matches!(
        store
            .create_person(&worker, &street_a, &person(3, "李四", COMMUNITY_B1))
            .await,
        Err(DbError::NotFound)
    ));
    let mut moved = a.clone();
    moved.division_code = code(COMMUNITY_B1);
    assert!(matches!(
        store
            .update_person(&worker, &street_a, &id_a, 1, &moved)
            .await,
        Err(DbError::NotFound)
    ));
    // Lists and exact look-ups stay inside the street.
    assert_eq!(
        names(&db, &street_a, PersonFilter::default()).await,
        ["张伟"]
    );
    assert!(
        names(&db, &street_a, term(b.resident_id.as_str()))
            .await
            .is_empty()
    );
    assert!(
        store
            .export_page(&street_a, None, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id == id_a)
    );
    // Nothing was written or audited by the refused calls.
    assert_eq!(db.count("persons").await, 2);
    assert_eq!(db.count("audit_log").await, audit_before);
    let stored_b = store
        .view_person(&system(), &Scope::All, &id_b)
        .await
        .unwrap();
    assert_eq!((stored_b.name.as_str(), stored_b.version), ("王芳", 1));

    // The street itself may do all of it, a community only its own, the district everything.
    store.view_person(&worker, &street_a, &id_a).await.unwrap();
    store.person_history(&street_a, &id_a).await.unwrap();
    let a2 = street_scope(COMMUNITY_A2);
    assert!(matches!(
        store.view_person(&worker, &a2, &id_a).await,
        Err(DbError::NotFound)
    ));
    assert!(names(&db, &a2, PersonFilter::default()).await.is_empty());
    let district = street_scope(DISTRICT);
    assert_eq!(
        names(&db, &district, PersonFilter::default()).await.len(),
        2
    );
    store.view_person(&worker, &district, &id_b).await.unwrap();
}

async fn persons_scope_sees_only_listed_persons(db: TestDb) {
    let store = &db.store;
    let mut ids = Vec::new();
    for (n, name) in [(1, "张伟"), (2, "王芳"), (3, "李四")] {
        ids.push(
            store
                .create_person(&system(), &Scope::All, &person(n, name, COMMUNITY_A1))
                .await
                .unwrap(),
        );
    }
    let resident = Scope::Persons(vec![ids[0].clone(), ids[2].clone()]);
    let actor = staff("resident", "resident");
    store.view_person(&actor, &resident, &ids[0]).await.unwrap();
    store.view_person(&actor, &resident, &ids[2]).await.unwrap();
    assert!(matches!(
        store.view_person(&actor, &resident, &ids[1]).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(
        names(&db, &resident, PersonFilter::default()).await,
        ["张伟", "李四"]
    );
    // A resident scope never creates, and an empty one sees nothing.
    assert!(matches!(
        store
            .create_person(&actor, &resident, &person(4, "周五", COMMUNITY_A1))
            .await,
        Err(DbError::NotFound)
    ));
    let nobody = Scope::Persons(Vec::new());
    assert!(
        names(&db, &nobody, PersonFilter::default())
            .await
            .is_empty()
    );
    assert!(matches!(
        store.view_person(&actor, &nobody, &ids[0]).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store.view_person(&actor, &resident, "no-such-id").await,
        Err(DbError::NotFound)
    ));
}

async fn duplicates_are_refused(db: TestDb) {
    let store = &db.store;
    let first = person(1, "张伟", COMMUNITY_A1);
    store
        .create_person(&system(), &Scope::All, &first)
        .await
        .unwrap();
    let mut same_id = person(1, "张伟", COMMUNITY_B1);
    same_id.name = PersonName::parse("另一人").unwrap();
    assert!(matches!(
        store.create_person(&system(), &Scope::All, &same_id).await,
        Err(DbError::Duplicate("resident ID"))
    ));
    // Another person claiming the first one's certificate number.
    let mut cert_thief = person(2, "王芳", COMMUNITY_A1);
    cert_thief.certificate = first.certificate.clone();
    assert!(matches!(
        store
            .create_person(&system(), &Scope::All, &cert_thief)
            .await,
        Err(DbError::Duplicate("certificate number"))
    ));
    // An edit may not take someone else's resident ID either.
    let second = person(2, "王芳", COMMUNITY_A1);
    let id2 = store
        .create_person(&system(), &Scope::All, &second)
        .await
        .unwrap();
    let mut takes_id = second.clone();
    takes_id.resident_id = first.resident_id.clone();
    takes_id.certificate = None;
    assert!(matches!(
        store
            .update_person(&system(), &Scope::All, &id2, 1, &takes_id)
            .await,
        Err(DbError::Duplicate("resident ID"))
    ));
    assert!(matches!(
        store
            .update_person(&system(), &Scope::All, &id2, 1, &cert_thief)
            .await,
        Err(DbError::Duplicate("certificate number"))
    ));
    assert_eq!(db.count("persons").await, 2);
    assert_eq!(db.count("certificates").await, 2);
    let stored = store
        .view_person(&system(), &Scope::All, &id2)
        .await
        .unwrap();
    assert_eq!(stored.resident_id, second.resident_id);
    assert_eq!(stored.version, 1);
}

async fn stale_version_is_a_conflict_and_keeps_the_first_save(db: TestDb) {
    let store = &db.store;
    let original = person(1, "张伟", COMMUNITY_A1);
    let id = store
        .create_person(&system(), &Scope::All, &original)
        .await
        .unwrap();
    let mut first = original.clone();
    first.name = PersonName::parse("甲先生").unwrap();
    first.address = Some("第一次保存".into());
    let mut second = original.clone();
    second.name = PersonName::parse("乙女士").unwrap();
    second.household_status = HouseholdStatus::Tekun;

    store
        .update_person(&staff("a", "community_worker"), &Scope::All, &id, 1, &first)
        .await
        .unwrap();
    match store
        .update_person(
            &staff("b", "community_worker"),
            &Scope::All,
            &id,
            1,
            &second,
        )
        .await
    {
        Err(DbError::Conflict { current }) => assert_eq!(current, 2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.to_input(), first);
    // Saving again from the version now current works.
    store
        .update_person(
            &staff("b", "community_worker"),
            &Scope::All,
            &id,
            2,
            &second,
        )
        .await
        .unwrap();
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!((stored.version, stored.to_input()), (3, second));
    let updates = store
        .audit_for("person", &id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "update")
        .count();
    assert_eq!(updates, 2, "the refused save is not audited");
}

async fn concurrent_updates_from_one_version_let_exactly_one_win(db: TestDb) {
    let original = person(1, "张伟", COMMUNITY_A1);
    let id = db
        .store
        .create_person(&system(), &Scope::All, &original)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for name in NAMES {
        let store = db.store.clone();
        let id = id.clone();
        let mut edit = original.clone();
        edit.name = PersonName::parse(name).unwrap();
        tasks.push(tokio::spawn(async move {
            let result = store
                .update_person(&staff(name, "community_worker"), &Scope::All, &id, 1, &edit)
                .await;
            (name, result)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (name, result) = task.await.unwrap();
        match result {
            Ok(()) => winners.push(name),
            Err(DbError::Conflict { current: 2 }) => {}
            Err(e) => panic!("{name}: unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = db
        .store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.name.as_str(), winners[0]);
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        zhucan_store::AuditVerification::Intact { .. }
    ));
}

async fn certificate_rows(db: &TestDb, person_id: &str) -> Vec<(i64, i64, String)> {
    let mut rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT grade, is_current, status FROM certificates WHERE person_id = $1 ORDER BY created_at, grade",
    )
    .bind(person_id)
    .fetch_all(&db.raw)
    .await
    .unwrap();
    rows.sort();
    rows
}

async fn new_certificate_number_keeps_the_old_one_as_history(db: TestDb) {
    let store = &db.store;
    let original = person(1, "张伟", COMMUNITY_A1);
    let old_number = original.certificate.as_ref().unwrap().number.clone();
    let id = store
        .create_person(&system(), &Scope::All, &original)
        .await
        .unwrap();

    // Re-assessed: grade 2 becomes grade 1, which is a new number.
    let regraded = with_certificate(original.clone(), Category::Physical, Grade::One);
    let new_number = regraded.certificate.as_ref().unwrap().number.clone();
    assert_ne!(new_number, old_number);
    store
        .update_person(&system(), &Scope::All, &id, 1, &regraded)
        .await
        .unwrap();
    assert_eq!(
        certificate_rows(&db, &id).await,
        [(1, 1, "valid".to_owned()), (2, 0, "valid".to_owned())]
    );
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    let current = stored.certificate.unwrap();
    assert_eq!(current.number, new_number);
    assert_eq!(current.grade, Grade::One);
    // Lists and filters use the current certificate only.
    let by_grade = |grade| PersonFilter {
        grade: Some(grade),
        ..Default::default()
    };
    assert_eq!(
        names(&db, &Scope::All, by_grade(Grade::One)).await,
        ["张伟"]
    );
    assert!(
        names(&db, &Scope::All, by_grade(Grade::Two))
            .await
            .is_empty()
    );
    assert_eq!(
        names(&db, &Scope::All, PersonFilter::default()).await.len(),
        1,
        "history does not duplicate the person in lists"
    );
    assert_eq!(
        names(&db, &Scope::All, term(new_number.as_str())).await,
        ["张伟"]
    );

    // The same number with another status is updated in place, not added.
    let mut expired = regraded.clone();
    expired.certificate.as_mut().unwrap().status = CertificateStatus::Expired;
    store
        .update_person(&system(), &Scope::All, &id, 2, &expired)
        .await
        .unwrap();
    assert_eq!(
        certificate_rows(&db, &id).await,
        [(1, 1, "expired".to_owned()), (2, 0, "valid".to_owned())]
    );

    // A replacement certificate (B1) is a third number; exactly one stays current.
    let mut replaced = expired.clone();
    let c = replaced.certificate.as_mut().unwrap();
    c.number = c.number.next_replacement().unwrap();
    c.status = CertificateStatus::Valid;
    store
        .update_person(&system(), &Scope::All, &id, 3, &replaced)
        .await
        .unwrap();
    assert_eq!(db.count("certificates").await, 3);
    assert_eq!(db.count("certificates WHERE is_current = 1").await, 1);
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!(
        stored.certificate.unwrap().number.as_str(),
        format!("{}B1", new_number.as_str())
    );
    // The old number is still this person's: nobody else may take it.
    let mut other = person(2, "王芳", COMMUNITY_A1);
    other.certificate.as_mut().unwrap().number = old_number;
    assert!(matches!(
        store.create_person(&system(), &Scope::All, &other).await,
        Err(DbError::Duplicate("certificate number"))
    ));
}

/// Found while writing these tests: `update_encoded` only touches certificates when the input
/// has one, so an edit that clears the certificate number saves "no certificate" in the audit
/// snapshot while the old certificate stays current and keeps showing on the record.
async fn edit_without_certificate_is_what_the_record_then_shows(db: TestDb) {
    let store = &db.store;
    let original = person(1, "张伟", COMMUNITY_A1);
    let id = store
        .create_person(&system(), &Scope::All, &original)
        .await
        .unwrap();
    let mut cleared = original.clone();
    cleared.certificate = None;
    store
        .update_person(&system(), &Scope::All, &id, 1, &cleared)
        .await
        .unwrap();
    let audit = store.audit_for("person", &id).await.unwrap();
    let after = audit[0].after.as_ref().unwrap();
    assert!(
        after["certificate"].is_null(),
        "the audit says it was removed"
    );
    let stored = store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!(
        stored.to_input(),
        cleared,
        "the record shows what was saved (and audited)"
    );
}

#[test]
fn resident_ids_of_the_fixtures_are_distinct() {
    let ids: HashSet<ResidentId> = (0..3000).map(rid).collect();
    assert_eq!(ids.len(), 3000);
}

async fn unknown_division_is_refused_and_nothing_written(db: TestDb) {
    let mut input = person(7, "周七", COMMUNITY_A1);
    input.division_code = "510112001099".parse().unwrap();
    let err = db
        .store
        .create_person(&system(), &Scope::All, &input)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DbError::UnknownDivision(ref c) if c == "510112001099"),
        "{err:?}"
    );
    assert_eq!(db.store.count_persons().await.unwrap(), 0);
}

async fn export_page_reads_whole_records_in_id_order(db: TestDb) {
    let mut ids = Vec::new();
    for (i, name) in NAMES.iter().enumerate().take(5) {
        let input = with_guardian(
            person(i as u32 + 1, name, COMMUNITY_A1),
            "李芳",
            phone(900 + i as u32),
        );
        ids.push(
            db.store
                .create_person(&system(), &Scope::All, &input)
                .await
                .unwrap(),
        );
    }
    ids.sort();
    let first = db.store.export_page(&Scope::All, None, 3).await.unwrap();
    let rest = db
        .store
        .export_page(&Scope::All, Some(&first[2].id), 3)
        .await
        .unwrap();
    let got: Vec<_> = first.iter().chain(&rest).map(|r| r.id.clone()).collect();
    assert_eq!(got, ids);
    for r in first.iter().chain(&rest) {
        assert_eq!(r.guardians.len(), 1, "{}", r.name);
        assert!(r.certificate.is_some());
        let single = db
            .store
            .view_person(&system(), &Scope::All, &r.id)
            .await
            .unwrap();
        assert_eq!(single.to_input(), r.to_input());
    }
}

/// Security issue #8: a masked ID next to the plain birth date (or a masked certificate number
/// next to its category and grade) was the whole number. Only the birth year is stored in
/// clear, masks keep the first 3 and last 4 characters of the ID, lists give an age by year,
/// and the birth date appears on the (audited) record only.
async fn nothing_stored_or_listed_gives_the_birth_date_away(db: TestDb) {
    let input = with_guardian(person(1, "张伟", COMMUNITY_A1), "李芳", phone(901));
    let id = db
        .store
        .create_person(&system(), &Scope::All, &input)
        .await
        .unwrap();
    let rid = input.resident_id.as_str();
    let birth = input.resident_id.birth_date();
    let birth_texts = [
        rid[6..14].to_owned(),
        format!(
            "{:04}-{:02}-{:02}",
            birth.year(),
            u8::from(birth.month()),
            birth.day()
        ),
    ];

    use sqlx::Row;
    let row = sqlx::query(
        "SELECT p.rid_masked, p.birth_year, c.number_masked FROM persons p \
         JOIN certificates c ON c.person_id = p.id",
    )
    .fetch_one(&db.raw)
    .await
    .unwrap();
    let masked: String = row.get(0);
    assert_eq!(masked, format!("{}***********{}", &rid[..3], &rid[14..]));
    assert_eq!(row.get::<i64, _>(1), i64::from(birth.year()));
    assert_eq!(row.get::<String, _>(2), format!("{masked}**"));

    // No plain column of any table, audit snapshots included, holds the birth date.
    let plain: [(&str, &[&str]); 4] = [
        (
            "persons",
            &[
                "rid_masked",
                "name",
                "sex",
                "birth_year",
                "ethnicity",
                "phone_masked",
                "address",
            ],
        ),
        (
            "certificates",
            &["number_masked", "components", "issued_on", "expires_on"],
        ),
        ("guardians", &["name", "relation", "phone_masked"]),
        ("audit_log", &["before_json", "after_json"]),
    ];
    for (table, columns) in plain {
        for value in db.column_bytes(table, columns).await {
            for text in &birth_texts {
                assert!(
                    !contains(&value, text.as_bytes()),
                    "{table} holds the birth date: {}",
                    String::from_utf8_lossy(&value)
                );
            }
        }
    }

    // The list: the mask and an age by year, no birth date.
    let page = db
        .store
        .search_persons(&Scope::All, &term("张伟"), 1, 10)
        .await
        .unwrap();
    let item = &page.items[0];
    assert_eq!(item.rid_masked, masked);
    assert_eq!(
        item.age,
        i64::from(zhucan_core::today_shanghai().year() - birth.year())
    );
    let listed = serde_json::to_string(&page).unwrap();
    for text in &birth_texts {
        assert!(
            !listed.contains(text.as_str()),
            "the list shows {text}: {listed}"
        );
    }
    assert!(!listed.contains("birth"), "{listed}");

    // The record, an audited view, shows the whole date from the decrypted number.
    let record = db
        .store
        .view_person(&system(), &Scope::All, &id)
        .await
        .unwrap();
    assert_eq!(record.birth_date, birth_texts[1]);
}

/// A database made before migration 0007 (birth dates in clear, masks of the first 6 and last
/// 4 characters) is converted: the year kept, the date dropped, every mask shortened.
async fn the_migration_keeps_the_birth_year_and_shortens_old_masks(db: TestDb) {
    let _dir;
    let _pg;
    let (url, migrator) = match db.backend {
        zhucan_store::Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
            _dir = dir;
            (url, sqlx::migrate!("migrations/sqlite"))
        }
        zhucan_store::Backend::Postgres => {
            let pg = PgDatabase::create().await.unwrap();
            let url = pg.url.clone();
            _pg = pg;
            (url, sqlx::migrate!("migrations/postgres"))
        }
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    migrator.run_to(6, &pool).await.unwrap();
    let rid = rid(1).as_str().to_owned();
    let old_mask = format!("{}********{}", &rid[..6], &rid[14..]);
    let at = "2026-01-01T00:00:00.000000Z";
    sqlx::query(
        "INSERT INTO persons (id, rid_enc, rid_index, rid_masked, name, sex, birth_date, \
         district_code, division_code, created_at, updated_at) \
         VALUES ('p1', $1, $2, $3, '张伟', 'male', $4, $5, $6, $7, $8)",
    )
    .bind(vec![1u8])
    .bind(vec![2u8])
    .bind(old_mask.as_str())
    .bind(format!("{}-{}-{}", &rid[6..10], &rid[10..12], &rid[12..14]))
    .bind(DISTRICT)
    .bind(COMMUNITY_A1)
    .bind(at)
    .bind(at)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO certificates (id, person_id, number_enc, number_index, number_masked, \
         category, grade, created_at, updated_at) VALUES ('c1', 'p1', $1, $2, $3, 4, 2, $4, $5)",
    )
    .bind(vec![3u8])
    .bind(vec![4u8])
    .bind(format!("{old_mask}**"))
    .bind(at)
    .bind(at)
    .execute(&pool)
    .await
    .unwrap();

    migrator.run(&pool).await.unwrap();
    let (masked, year): (String, i64) =
        sqlx::query_as("SELECT rid_masked, birth_year FROM persons WHERE id = 'p1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let expected = format!("{}***********{}", &rid[..3], &rid[14..]);
    assert_eq!(masked, expected);
    assert_eq!(year, i64::from(rid[6..10].parse::<i32>().unwrap()));
    let number: String = sqlx::query_scalar("SELECT number_masked FROM certificates")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(number, format!("{expected}**"));
    assert!(
        sqlx::query("SELECT birth_date FROM persons")
            .fetch_all(&pool)
            .await
            .is_err(),
        "the birth date column is gone"
    );
    pool.close().await;
}

/// `%` and `_` in a name search match only themselves (they used to be dropped, so `q=%`
/// listed everyone); so does the escape character.
async fn name_search_takes_wildcards_literally(db: TestDb) {
    // Names as the registry allows them hold none of these characters; older data may.
    for (n, name, stored) in [
        (1, "张伟", "张伟"),
        (2, "王芳", "王芳"),
        (3, "李明", "李%明"),
        (4, "赵东", "赵_东"),
        (5, "钱一", "钱\\一"),
    ] {
        let id = db
            .store
            .create_person(&system(), &Scope::All, &person(n, name, COMMUNITY_A1))
            .await
            .unwrap();
        sqlx::query("UPDATE persons SET name = $1 WHERE id = $2")
            .bind(stored)
            .bind(id)
            .execute(&db.raw)
            .await
            .unwrap();
    }
    let all = Scope::All;
    assert_eq!(names(&db, &all, term("%")).await, ["李%明"]);
    assert_eq!(names(&db, &all, term("_")).await, ["赵_东"]);
    assert_eq!(names(&db, &all, term("\\")).await, ["钱\\一"]);
    assert_eq!(names(&db, &all, term("李%")).await, ["李%明"]);
    assert!(names(&db, &all, term("%%")).await.is_empty());
    assert!(names(&db, &all, term("张_")).await.is_empty());
    assert!(names(&db, &all, term("李_明")).await.is_empty());
    assert_eq!(names(&db, &all, term("伟")).await, ["张伟"]);
}
