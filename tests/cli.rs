//! The real `zhucan` binary: generate, import (SQLite and PostgreSQL), export, accounts, audit.
//!
//! The PostgreSQL test needs `TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! and fails without it unless `ZHUCAN_SKIP_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection};

/// A scratch directory with a database and a key file, and the binary to run against them.
struct Workdir {
    dir: tempfile::TempDir,
    database: String,
}

impl Workdir {
    fn sqlite() -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}/t.db", dir.path().display());
        Workdir { dir, database }
    }

    fn with_database(database: String) -> Workdir {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
            database,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db_args(&self) -> Vec<String> {
        vec![
            "--database".into(),
            self.database.clone(),
            "--key-file".into(),
            self.path("k.key").display().to_string(),
        ]
    }

    /// Runs `zhucan ARGS… [--database … --key-file …]` with a clean environment.
    fn run(&self, args: &[&str], with_db: bool, env: &[(&str, &str)]) -> Run {
        self.run_in(self.dir.path(), args, with_db, env)
    }

    /// The same, from the folder `cwd`.
    fn run_in(&self, cwd: &Path, args: &[&str], with_db: bool, env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zhucan"));
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .env("RUST_LOG", "warn");
        if with_db {
            cmd.args(self.db_args());
        }
        for (key, _) in std::env::vars() {
            if key.starts_with("ZHUCAN_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("running zhucan"), args)
    }

    fn generate(&self, count: usize, file: &str) -> PathBuf {
        let out = self.path(file);
        let run = self.run(
            &[
                "gen",
                "persons",
                "--count",
                &count.to_string(),
                "--out",
                out.to_str().unwrap(),
            ],
            false,
            &[],
        );
        run.success();
        assert_eq!(
            run.last_line(),
            format!("generated: {count} rows in {}", out.display())
        );
        out
    }

    fn import(&self, file: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["import", "persons", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.run(&args, true, &[])
    }
}

struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Run {
        Run {
            what: format!("zhucan {}", args.join(" ")),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    fn success(&self) -> &Run {
        assert_eq!(
            self.code,
            Some(0),
            "{}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The resident IDs (first column) of a generated or exported CSV file.
fn first_column(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

#[test]
fn import_twice_then_export_masked_and_verify_the_audit_log() {
    let w = Workdir::sqlite();
    let file = w.generate(50, "f.csv");
    let ids = first_column(&file);
    assert_eq!(ids.len(), 50);
    assert!(ids.iter().all(|id| id.len() == 18));

    assert_eq!(
        w.import(&file, &[]).success().last_line(),
        "imported: 50, updated: 0, unchanged: 0, rejected: 0"
    );
    assert_eq!(
        w.import(&file, &[]).success().last_line(),
        "imported: 0, updated: 0, unchanged: 50, rejected: 0",
        "a second run neither duplicates nor rewrites"
    );
    let export = w.path("x.csv");
    let run = w.run(
        &["export", "persons", "--out", export.to_str().unwrap()],
        true,
        &[],
    );
    assert_eq!(
        run.success().last_line(),
        format!("exported: 50 to {}", export.display())
    );
    let text = std::fs::read_to_string(&export).unwrap();
    for id in &ids {
        assert!(!text.contains(id.as_str()), "the export shows {id}");
    }
    let masked = first_column(&export);
    assert_eq!(masked.len(), 50);
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("{}***********{}", &id[..3], &id[14..]))
        .collect();
    let mut got = masked.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    // Full numbers need --as an account allowed to see them.
    let run = w.run(
        &[
            "export",
            "persons",
            "--out",
            w.path("full.csv").to_str().unwrap(),
            "--unmasked",
        ],
        true,
        &[],
    );
    run.code(1);
    assert!(
        run.stderr.contains("--unmasked needs --as"),
        "{}",
        run.stderr
    );
    assert!(!w.path("full.csv").exists());

    let run = w.run(&["audit", "verify"], true, &[]);
    // 50 creates and one export: the unchanged rows of the second run wrote nothing.
    assert_eq!(run.success().last_line(), "audit log intact: 51 records");
}

#[test]
fn first_import_reports_counts_and_dry_run_writes_nothing() {
    let w = Workdir::sqlite();
    let file = w.generate(50, "f.csv");
    let run = w.import(&file, &["--dry-run"]);
    assert_eq!(
        run.success().last_line(),
        "imported: 50, updated: 0, unchanged: 0, rejected: 0 (dry run: nothing written)"
    );
    let out = w.path("x.csv");
    let run = w.run(
        &["export", "persons", "--out", out.to_str().unwrap()],
        true,
        &[],
    );
    assert!(
        run.success().last_line().starts_with("exported: 0 "),
        "{}",
        run.stdout
    );

    let run = w.import(&file, &[]);
    assert_eq!(
        run.success().last_line(),
        "imported: 50, updated: 0, unchanged: 0, rejected: 0"
    );
}

#[test]
fn bad_rows_are_counted_reported_and_exit_2() {
    let w = Workdir::sqlite();
    let file = w.generate(50, "f.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Row 3 (line index 2): a wrong check character; row 11: a digit in the name.
    let id = lines[2][..18].to_owned();
    let wrong = if id.ends_with('1') { '2' } else { '1' };
    lines[2] = format!("{}{wrong}{}", &id[..17], &lines[2][18..]);
    let mut cells: Vec<&str> = lines[10].splitn(3, ',').collect();
    cells[1] = "张3";
    lines[10] = cells.join(",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let report = w.path("errors.csv");
    let run = w.import(
        &file,
        &["--report", report.to_str().unwrap(), "--lang", "en"],
    );
    run.code(2);
    assert_eq!(
        run.last_line(),
        "imported: 48, updated: 0, unchanged: 0, rejected: 2"
    );
    assert!(run.stderr.contains("row 3, resident_id"), "{}", run.stderr);
    assert!(run.stderr.contains("check character"), "{}", run.stderr);
    assert!(run.stderr.contains("row 11, name"), "{}", run.stderr);
    let report_text = std::fs::read_to_string(&report).unwrap();
    assert!(report_text.lines().count() >= 3, "{report_text}");

    // The good rows are in: a re-run leaves the 48 unchanged and still rejects the 2.
    let run = w.import(&file, &[]);
    run.code(2);
    assert_eq!(
        run.last_line(),
        "imported: 0, updated: 0, unchanged: 48, rejected: 2"
    );
}

#[test]
fn accounts_need_a_strong_password_and_unmasked_exports_an_allowed_role() {
    let w = Workdir::sqlite();
    let file = w.generate(10, "f.csv");
    w.import(&file, &[]).success();
    let add = |user: &str, role: &str, scope: &str, password: &str| {
        w.run(
            &["user", "add", user, "--role", role, "--scope", scope],
            true,
            &[("ZHUCAN_PASSWORD", password)],
        )
    };

    let run = add("alice", "admin", "510112", "weak");
    run.code(1);
    assert!(run.stderr.contains("password"), "{}", run.stderr);
    let run = add("alice", "admin", "510112", "alllowercase1");
    run.code(1);
    assert_eq!(
        w.run(&["user", "list"], true, &[]).success().stdout.trim(),
        "",
        "no account was created"
    );
    let run = add("alice", "admin", "510112", "Strong@2026");
    assert_eq!(
        run.success().last_line(),
        "created alice (admin) for 510112"
    );
    add("alice", "admin", "510112", "Strong@2026").code(1);
    add("bob", "street_reviewer", "510112001", "Strong@2026").success();
    let list = w.run(&["user", "list"], true, &[]);
    let list = &list.success().stdout;
    assert!(list.contains("alice\tadmin\t510112\tactive"), "{list}");
    assert!(
        list.contains("bob\tstreet_reviewer\t510112001\tactive"),
        "{list}"
    );

    // An admin may export full numbers; a street reviewer may not.
    let full = w.path("full.csv");
    w.run(
        &[
            "export",
            "persons",
            "--out",
            full.to_str().unwrap(),
            "--unmasked",
            "--as",
            "alice",
        ],
        true,
        &[],
    )
    .success();
    let ids = first_column(&file);
    let text = std::fs::read_to_string(&full).unwrap();
    assert!(ids.iter().all(|id| text.contains(id.as_str())));
    let run = w.run(
        &[
            "export",
            "persons",
            "--out",
            w.path("b.csv").to_str().unwrap(),
            "--unmasked",
            "--as",
            "bob",
        ],
        true,
        &[],
    );
    run.code(1);
    assert!(
        run.stderr.contains("may not export unmasked"),
        "{}",
        run.stderr
    );
    assert!(
        w.run(&["audit", "verify"], true, &[])
            .success()
            .last_line()
            .starts_with("audit log intact: ")
    );
}

/// A fresh database on the server `TEST_DATABASE_URL` names, dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let admin_url = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var("ZHUCAN_SKIP_POSTGRES").as_deref() == Ok("1") => {
                eprintln!("skipping the PostgreSQL import: ZHUCAN_SKIP_POSTGRES=1");
                return None;
            }
            _ => panic!(
                "TEST_DATABASE_URL is not set, so the PostgreSQL import cannot run; set it \
                 (e.g. postgres://postgres@127.0.0.1:5432/postgres) or ZHUCAN_SKIP_POSTGRES=1"
            ),
        };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("zhucan_test_{secs}_cli{}_{n}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL={admin_url}: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b.to_owned(), format!("?{q}")),
            None => (admin_url.clone(), String::new()),
        };
        let host_end = base[base.find("://").map_or(0, |i| i + 3)..]
            .find('/')
            .map_or(base.len(), |i| base.find("://").map_or(0, |j| j + 3) + i);
        let url = format!("{}/{name}{query}", &base[..host_end]);
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut admin)
                        .await;
                    }
                })
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let w = Workdir::with_database(db.url.clone());
    let file = w.generate(50, "f.csv");
    assert_eq!(
        w.import(&file, &[]).success().last_line(),
        "imported: 50, updated: 0, unchanged: 0, rejected: 0"
    );
    assert_eq!(
        w.import(&file, &[]).success().last_line(),
        "imported: 0, updated: 0, unchanged: 50, rejected: 0"
    );
    let out = w.path("x.csv");
    w.run(
        &["export", "persons", "--out", out.to_str().unwrap()],
        true,
        &[],
    )
    .success();
    assert_eq!(first_column(&out).len(), 50);
    assert_eq!(
        w.run(&["audit", "verify"], true, &[]).success().last_line(),
        "audit log intact: 51 records"
    );
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let persons: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(persons, 50);
    let _ = conn.close().await;
}

#[test]
fn a_bad_sms_gateway_url_is_refused_before_serving() {
    let w = Workdir::sqlite();
    for run in [
        w.run(
            &["serve", "--sms-gateway", "ftp://gw.example/send"],
            true,
            &[],
        ),
        w.run(&["serve"], true, &[("ZHUCAN_SMS_GATEWAY", "not a url")]),
    ] {
        run.code(2);
        assert!(run.stderr.contains("SMS gateway URL"), "{}", run.stderr);
    }
}

/// `gen persons` with a seed of its own, so that two files hold different people.
fn generate_seeded(w: &Workdir, count: usize, seed: u64, file: &str) -> PathBuf {
    let out = w.path(file);
    let (count, seed) = (count.to_string(), seed.to_string());
    w.run(
        &[
            "gen",
            "persons",
            "--count",
            &count,
            "--seed",
            &seed,
            "--out",
            out.to_str().unwrap(),
        ],
        false,
        &[],
    )
    .success();
    out
}

/// How many persons `export persons` writes with the database's own key (from the key file
/// beside a SQLite database, or `--key-file`).
fn exported(w: &Workdir, db_args: &[&str]) -> usize {
    let out = w.path("check-export.csv");
    let mut args = vec!["export", "persons", "--out", out.to_str().unwrap()];
    args.extend_from_slice(db_args);
    w.run(&args, false, &[]).success();
    first_column(&out).len()
}

#[test]
fn a_command_from_another_folder_uses_the_key_beside_the_database() {
    let a = Workdir::sqlite();
    let first = generate_seeded(&a, 5, 1, "a.csv");
    let db = ["--database", a.database.as_str()];
    let import = |cwd: &Path, file: &Path| {
        let mut args = vec!["import", "persons", file.to_str().unwrap()];
        args.extend_from_slice(&db);
        a.run_in(cwd, &args, false, &[])
    };
    import(a.dir.path(), &first).success();
    assert!(
        a.path("zhucan.key").exists(),
        "the key is made beside the new database"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let second = generate_seeded(&a, 5, 2, "b.csv");
    import(elsewhere.path(), &second).success();
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "no key (and no data folder) is made in the current folder"
    );
    assert_eq!(exported(&a, &db), 10, "the registry still exports whole");
}

#[test]
fn a_wrong_key_is_refused_and_nothing_is_written() {
    let w = Workdir::sqlite();
    let file = generate_seeded(&w, 5, 1, "a.csv");
    let db = ["--database", w.database.as_str()];
    let mut args = vec!["import", "persons", file.to_str().unwrap()];
    args.extend_from_slice(&db);
    w.run(&args, false, &[]).success();

    let other = generate_seeded(&w, 5, 2, "b.csv");
    args[2] = other.to_str().unwrap();
    let wrong = "00".repeat(32);
    let run = w.run(&args, false, &[("ZHUCAN_MASTER_KEY", wrong.as_str())]);
    run.code(1);
    assert!(
        run.stderr
            .contains("the master key from the environment variable ZHUCAN_MASTER_KEY")
            && run.stderr.contains("not the key of"),
        "{}",
        run.stderr
    );

    // A wrong key file, and a missing one for a database that holds data.
    std::fs::write(w.path("wrong.key"), format!("{wrong}\n")).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(
        w.path("wrong.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let wrong_file = w.path("wrong.key").display().to_string();
    let missing_file = w.path("missing.key").display().to_string();
    for (key_file, says) in [
        (&wrong_file, "not the key of"),
        (&missing_file, "no master key at"),
    ] {
        let mut with_file = args.clone();
        with_file.extend_from_slice(&["--key-file", key_file]);
        let run = w.run(&with_file, false, &[]);
        run.code(1);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    assert!(
        !w.path("missing.key").exists(),
        "no key is made for a database with data"
    );
    assert_eq!(exported(&w, &db), 5, "the registry still exports whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_its_key() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let w = Workdir::with_database(pg.url.clone());
    let file = generate_seeded(&w, 5, 1, "a.csv");
    let run = w.run(
        &[
            "import",
            "persons",
            file.to_str().unwrap(),
            "--database",
            &pg.url,
        ],
        false,
        &[],
    );
    run.code(1);
    assert!(
        run.stderr.contains("no master key for") && run.stderr.contains("--key-file"),
        "{}",
        run.stderr
    );
    w.import(&file, &[]).success();
    let key_file = w.path("k.key").display().to_string();
    assert_eq!(
        exported(&w, &["--database", &pg.url, "--key-file", &key_file]),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_newest_audit_records_shows_in_verify() {
    let w = Workdir::sqlite();
    let file = generate_seeded(&w, 5, 1, "a.csv");
    w.import(&file, &[]).success();
    let head = std::fs::read_to_string(w.path("audit-head")).unwrap();
    assert!(
        head.starts_with("5 "),
        "the import copied the chain's head: {head}"
    );
    assert_eq!(
        w.run(&["audit", "verify"], true, &[]).success().last_line(),
        "audit log intact: 5 records"
    );

    // Someone with write access to the database removes the trigger and the newest records.
    let mut conn = sqlx::SqliteConnection::connect(&w.database).await.unwrap();
    sqlx::raw_sql("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > 3")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let run = w.run(&["audit", "verify"], true, &[]);
    run.code(1);
    assert!(
        run.last_line()
            .starts_with("audit log broken at record 4: records 4 to 5 are missing"),
        "{}",
        run.stdout
    );
}

#[cfg(unix)]
#[test]
fn the_data_folder_and_its_files_are_its_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::sqlite();
    let file = generate_seeded(&w, 5, 1, "a.csv");
    let database = format!("sqlite://{}", w.path("data/zhucan.db").display());
    w.run(
        &[
            "import",
            "persons",
            file.to_str().unwrap(),
            "--database",
            &database,
        ],
        false,
        &[],
    )
    .success();
    let mode = |name: &str| {
        std::fs::metadata(w.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("data"), 0o700);
    for name in ["data/zhucan.db", "data/zhucan.key", "data/audit-head"] {
        assert_eq!(mode(name), 0o600, "{name}");
    }
}
