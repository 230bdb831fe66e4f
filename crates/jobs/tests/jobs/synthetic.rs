use std::collections::{HashMap, HashSet};
use std::time::Instant;

use zhucan_core::{Category, CertificateNo, Grade, HouseholdStatus, Lang, ResidentId};
use zhucan_jobs::{
    ImportOptions, ImportSource, demo_divisions, export_persons, import_persons, persons,
    seed_demo, write_persons_csv,
};
use zhucan_store::{Actor, Scope};

use crate::common::{read_csv, store};

#[test]
fn same_seed_same_persons() {
    let first: Vec<_> = persons(500, 42).collect();
    assert_eq!(first, persons(500, 42).collect::<Vec<_>>());
    assert_ne!(first, persons(500, 43).collect::<Vec<_>>());
    assert_eq!(persons(500, 42).len(), 500);
}

fn share<T: Eq + std::hash::Hash>(counts: &HashMap<T, usize>, key: T, total: usize) -> f64 {
    counts.get(&key).copied().unwrap_or_default() as f64 / total as f64
}

#[test]
fn shares_follow_the_survey_and_ids_are_valid_and_unique() {
    const N: usize = 20_000;
    let communities: HashSet<String> = demo_divisions()
        .into_iter()
        .filter(|d| matches!(d.level.as_str(), "community" | "village"))
        .map(|d| d.code)
        .collect();
    let mut ids = HashSet::new();
    let mut categories = HashMap::new();
    let mut grades = HashMap::new();
    let mut household = HashMap::new();
    let (mut phones, mut local, mut minors, mut old) = (0, 0, 0, 0);
    for p in persons(N, 7) {
        let id = ResidentId::parse(p.resident_id.as_str()).expect("valid ID");
        assert!(ids.insert(id.to_string()), "duplicate {id}");
        let certificate = p
            .certificate
            .as_ref()
            .expect("every person holds a certificate");
        CertificateNo::parse_for(certificate.number.as_str(), &id).expect("certificate matches");
        let category = certificate.number.category();
        *categories.entry(category).or_insert(0) += 1;
        *grades.entry(certificate.number.grade()).or_insert(0) += 1;
        *household.entry(p.household_status).or_insert(0) += 1;
        let components = certificate
            .components
            .as_ref()
            .map_or(0, |c| c.categories().len());
        if category == Category::Multiple {
            assert!((2..=3).contains(&components), "{components} components");
        } else {
            assert_eq!(components, 0);
        }
        let issued = certificate.issued_on.unwrap();
        assert!(issued >= id.birth_date());
        assert_eq!(certificate.expires_on.unwrap().year(), issued.year() + 10);
        assert!(communities.contains(p.division_code.as_str()));
        assert!(p.address.as_deref().unwrap().starts_with("龙泉驿区"));
        let age = id.age_on(time::macros::date!(2026 - 01 - 01));
        let severe_mind = matches!(category, Category::Intellectual | Category::Psychosocial)
            && certificate.number.grade() <= Grade::Two;
        assert_eq!(p.guardian.is_some(), age < 18 || severe_mind, "{id}");
        assert!(age <= 96);
        minors += usize::from(age < 18);
        old += usize::from(age >= 60);
        phones += usize::from(p.phone.is_some());
        local += usize::from(id.address_code() == "510112");
    }
    let near = |actual: f64, expected: f64, what: &str| {
        assert!(
            (actual - expected).abs() < 0.02,
            "{what}: {actual:.3}, expected {expected}"
        );
    };
    for (category, expected) in [
        (Category::Physical, 0.30),
        (Category::Hearing, 0.24),
        (Category::Multiple, 0.16),
        (Category::Visual, 0.14),
        (Category::Psychosocial, 0.07),
        (Category::Intellectual, 0.07),
        (Category::Speech, 0.02),
    ] {
        near(share(&categories, category, N), expected, category.slug());
    }
    for (grade, expected) in [
        (Grade::One, 0.15),
        (Grade::Two, 0.25),
        (Grade::Three, 0.30),
        (Grade::Four, 0.30),
    ] {
        near(share(&grades, grade, N), expected, grade.slug());
    }
    near(share(&household, HouseholdStatus::None, N), 0.78, "none");
    near(share(&household, HouseholdStatus::Dibao, N), 0.12, "dibao");
    near(phones as f64 / N as f64, 0.85, "phones");
    near(local as f64 / N as f64, 0.88, "local IDs");
    near(minors as f64 / N as f64, 0.04, "minors");
    assert!(old as f64 / N as f64 > 0.5, "mostly older people");
}

#[test]
fn csv_has_the_import_columns_and_one_row_per_person() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persons.csv");
    assert_eq!(write_persons_csv(&path, 300, 9).unwrap(), 300);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "BOM for Excel");
    let rows = read_csv(&path);
    assert_eq!(rows.len(), 301);
    assert_eq!(rows[0][..3], ["resident_id", "name", "certificate_no"]);
    assert!(rows[0].ends_with(&[
        "guardian_name".to_owned(),
        "guardian_relation".to_owned(),
        "guardian_phone".to_owned()
    ]));
    let first = persons(300, 9).next().unwrap();
    assert_eq!(rows[1][0], first.resident_id.as_str());
    // Only the temporary file's rename leaves something in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_is_idempotent() {
    let (_dir, store) = store().await;
    assert_eq!(seed_demo(&store, 2_500, 1).await.unwrap(), 2_500);
    assert_eq!(store.count_persons().await.unwrap(), 2_500);
    // The same persons again are unchanged: nothing is written.
    assert_eq!(seed_demo(&store, 2_500, 1).await.unwrap(), 0);
    assert_eq!(store.count_persons().await.unwrap(), 2_500);
    assert_eq!(
        store.divisions().await.unwrap().len(),
        demo_divisions().len()
    );
}

// Benchmarks: `cargo test -p zhucan-jobs --release -- --ignored --nocapture benchmark`.

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release"]
async fn benchmark_seed_demo() {
    let (_dir, store) = store().await;
    let started = Instant::now();
    assert_eq!(seed_demo(&store, 15_790, 2022).await.unwrap(), 15_790);
    println!("seed_demo 15,790: {:.2?}", started.elapsed());
}

#[test]
#[ignore = "benchmark; run in release"]
fn benchmark_generate_a_million() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    write_persons_csv(&dir.path().join("million.csv"), 1_000_000, 1).unwrap();
    println!("gen 1,000,000 rows to CSV: {:.2?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run in release"]
async fn benchmark_import_and_export() {
    const ROWS: usize = 100_000;
    let (dir, store) = store().await;
    let file = dir.path().join("persons.csv");
    write_persons_csv(&file, ROWS, 3).unwrap();
    let rate = |elapsed: std::time::Duration| ROWS as f64 / elapsed.as_secs_f64();
    // A dry run first: reading and validating alone.
    for dry_run in [true, false] {
        let opts = ImportOptions {
            dry_run,
            ..ImportOptions::default()
        };
        let source = ImportSource::path(&file);
        let started = Instant::now();
        let summary = import_persons(&store, &Actor::system("import"), source, &opts, None)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(summary.imported, ROWS as u64, "{summary}");
        let what = if dry_run { "validate" } else { "import" };
        println!(
            "{what} {ROWS} rows: {elapsed:.2?} ({:.0} rows/s)",
            rate(elapsed)
        );
    }

    let started = Instant::now();
    let out = dir.path().join("export.csv");
    let rows = export_persons(
        &store,
        &Actor::system("export"),
        &Scope::All,
        &out,
        true,
        Lang::En,
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(rows, ROWS as u64);
    println!(
        "export {ROWS} rows: {elapsed:.2?} ({:.0} rows/s)",
        rate(elapsed)
    );
}
