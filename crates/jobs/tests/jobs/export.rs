use zhucan_core::{DivisionCode, Lang};
use zhucan_jobs::{
    ExportError, ImportOptions, ImportSource, WriteError, export_persons, import_persons,
    write_persons_csv,
};
use zhucan_store::{Actor, Scope, Store};

use crate::common::{contents, read_csv, store};

/// A store holding `count` generated persons, imported as a user would.
async fn filled(count: usize) -> (tempfile::TempDir, Store) {
    let (dir, store) = store().await;
    let file = dir.path().join("persons.csv");
    write_persons_csv(&file, count, 21).unwrap();
    let summary = import_persons(
        &store,
        &Actor::system("import"),
        ImportSource::path(&file),
        &ImportOptions::default(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(summary.imported, count as u64);
    (dir, store)
}

fn staff() -> Actor {
    Actor {
        id: "account-1".into(),
        role: "district".into(),
        client: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_export_hides_numbers_and_is_audited() {
    let (dir, store) = filled(120).await;
    let out = dir.path().join("masked.csv");
    let rows = export_persons(&store, &staff(), &Scope::All, &out, false, Lang::Zh)
        .await
        .unwrap();
    assert_eq!(rows, 120);
    let lines = read_csv(&out);
    assert_eq!(lines.len(), 121);
    assert_eq!(lines[0][0], "resident_id");
    let column = |name: &str| lines[0].iter().position(|h| h == name).unwrap();
    for line in &lines[1..] {
        assert!(
            line[column("resident_id")].contains("***********"),
            "{line:?}"
        );
        assert!(line[column("certificate_no")].ends_with("**"), "{line:?}");
        let phone = &line[column("phone")];
        assert!(phone.is_empty() || phone.contains("****"), "{line:?}");
        let guardian_phone = &line[column("guardian_phone")];
        assert!(guardian_phone.is_empty() || guardian_phone.contains("****"));
        assert!(["在世", "死亡", "迁出"].contains(&line[column("life_status")].as_str()));
    }
    let audit = store.recent_audit(5).await.unwrap();
    let event = audit.iter().find(|a| a.action == "export-masked").unwrap();
    assert_eq!(event.actor, "account-1");
    let detail = event.after.as_ref().unwrap();
    assert_eq!(detail["rows"], 120);
    assert_eq!(detail["file"], "masked.csv");
}

#[tokio::test(flavor = "multi_thread")]
async fn unmasked_export_imports_back_unchanged() {
    let (dir, source) = filled(150).await;
    let expected = contents(&source).await;
    for name in ["all.csv", "all.xlsx"] {
        let out = dir.path().join(name);
        let rows = export_persons(&source, &staff(), &Scope::All, &out, true, Lang::En)
            .await
            .unwrap();
        assert_eq!(rows, 150);

        let (_dir, target) = store().await;
        let summary = import_persons(
            &target,
            &Actor::system("import"),
            ImportSource::path(&out),
            &ImportOptions::default(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            summary.to_string(),
            "imported: 150, updated: 0, unchanged: 0, rejected: 0",
            "{name}"
        );
        assert_eq!(contents(&target).await, expected, "{name}");
    }
    let audit = source.recent_audit(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "export-unmasked")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn export_follows_the_scope_and_needs_a_known_extension() {
    let (dir, store) = filled(80).await;
    let street = DivisionCode::parse("510112001").unwrap();
    let inside = contents(&store)
        .await
        .iter()
        .filter(|p| street.contains(&p.division_code))
        .count() as u64;
    let out = dir.path().join("street.csv");
    let rows = export_persons(
        &store,
        &staff(),
        &Scope::Division(street),
        &out,
        false,
        Lang::En,
    )
    .await
    .unwrap();
    assert_eq!(rows, inside);
    assert_eq!(read_csv(&out).len() as u64, inside + 1);

    let pdf = dir.path().join("persons.pdf");
    let err = export_persons(&store, &staff(), &Scope::All, &pdf, false, Lang::En)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExportError::Write(WriteError::Extension(_))),
        "{err}"
    );
    assert!(!pdf.exists());
}
