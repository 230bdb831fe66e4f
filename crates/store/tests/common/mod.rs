//! The harness every store test runs under: one test body, run once on SQLite (a file in a
//! temporary directory) and once on PostgreSQL (a fresh database per test, created from
//! `TEST_DATABASE_URL` and dropped afterwards, even when the test fails).
//!
//! `backend_tests!(name, …)` turns each `async fn name(db: TestDb)` into a module `name` with
//! two tests, `name::sqlite` and `name::postgres`, so `cargo test postgres` runs one backend.
//!
//! Without `TEST_DATABASE_URL` the PostgreSQL variants fail, on purpose, unless
//! `ZHUCAN_SKIP_POSTGRES=1` says to skip them: a silently skipped backend hides breakage.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Row};
use time::macros::date;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, Grade, HouseholdStatus, LifeStatus,
    PersonName, Phone, ResidentId,
};
use zhucan_crypto::{FieldCrypto, MasterKey};
use zhucan_store::{
    Actor, Backend, CertificateInput, Division, GuardianInput, PersonInput, Scope, Store,
};

/// Generates `name::sqlite` and `name::postgres` for each `async fn name(db: TestDb)`.
/// Attributes before a name (e.g. `#[ignore = "bug: …"]`) go on both tests.
macro_rules! backend_tests {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::common::run(zhucan_store::Backend::Sqlite, super::$name).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::common::run(zhucan_store::Backend::Postgres, super::$name).await;
            }
        }
    )+};
}

pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";
pub const SKIP_POSTGRES: &str = "ZHUCAN_SKIP_POSTGRES";
/// Test databases are named `zhucan_test_<unix seconds>_<random>`; ones older than this are
/// left-overs of killed runs and are dropped when a test run starts.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The district and divisions every test works in: two streets, three communities.
pub const DISTRICT: &str = "510112";
pub const STREET_A: &str = "510112001";
pub const STREET_B: &str = "510112002";
pub const COMMUNITY_A1: &str = "510112001001";
pub const COMMUNITY_A2: &str = "510112001002";
pub const COMMUNITY_B1: &str = "510112002001";

pub fn divisions() -> Vec<Division> {
    let d = |code: &str, name: &str, level: &str, parent: Option<&str>| Division {
        code: code.into(),
        name: name.into(),
        level: level.into(),
        parent: parent.map(Into::into),
    };
    vec![
        d(DISTRICT, "龙泉驿区", "district", None),
        d(STREET_A, "龙泉街道", "street", Some(DISTRICT)),
        d(STREET_B, "大面街道", "street", Some(DISTRICT)),
        d(COMMUNITY_A1, "驿都社区", "community", Some(STREET_A)),
        d(COMMUNITY_A2, "长柏社区", "community", Some(STREET_A)),
        d(COMMUNITY_B1, "龙泉社区", "community", Some(STREET_B)),
    ]
}

/// A migrated store with [`divisions`], plus a second pool for raw SQL on the same database.
pub struct TestDb {
    pub store: Store,
    pub backend: Backend,
    pub url: String,
    pub raw: AnyPool,
    // Dropped last: removes the temporary directory or drops the PostgreSQL database.
    _guard: Guard,
}

enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

/// Runs one test body on `backend`; see the module docs for how PostgreSQL is found.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    test(db).await;
}

impl TestDb {
    /// `None` only when PostgreSQL is asked for, not configured, and skipping was requested.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        install_default_drivers();
        let (url, guard) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/t.db", dir.path().display());
                (url, Guard::Sqlite(dir))
            }
            Backend::Postgres => {
                let db = PgDatabase::create().await?;
                (db.url.clone(), Guard::Postgres(db))
            }
        };
        let store = Store::connect(&url, FieldCrypto::new(&MasterKey::generate()))
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        assert_eq!(store.backend(), backend);
        store.migrate().await.expect("migrations");
        store
            .upsert_divisions(&divisions())
            .await
            .expect("divisions");
        let raw = AnyPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("raw pool");
        Some(TestDb {
            store,
            backend,
            url,
            raw,
            _guard: guard,
        })
    }

    /// Runs a statement on the raw pool, bypassing the store.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&self.raw)
            .await?
            .rows_affected())
    }

    pub async fn count(&self, table_and_filter: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table_and_filter}"
        )))
        .fetch_one(&self.raw)
        .await
        .unwrap_or_else(|e| panic!("counting {table_and_filter}: {e}"))
    }

    /// Every value of the given columns of a table, as bytes (text as UTF-8), for "does this
    /// plain value appear anywhere" checks.
    pub async fn column_bytes(&self, table: &str, columns: &[&str]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let sql = format!("SELECT {} FROM {table}", columns.join(", "));
        for row in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.raw)
            .await
            .unwrap()
        {
            for i in 0..columns.len() {
                if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    out.push(b);
                } else if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                    out.push(s.into_bytes());
                } else if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
                    out.push(n.to_string().into_bytes());
                }
            }
        }
        out
    }

    /// Lets raw SQL change the audit log, as an attacker with database access could: drops the
    /// SQLite triggers, or disables the PostgreSQL ones (we connect as a superuser).
    pub async fn allow_audit_tampering(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.exec("DROP TRIGGER audit_log_no_update").await.unwrap();
                self.exec("DROP TRIGGER audit_log_no_delete").await.unwrap();
            }
            Backend::Postgres => {
                self.exec("ALTER TABLE audit_log DISABLE TRIGGER ALL")
                    .await
                    .unwrap();
            }
        }
    }
}

/// A database of its own on the server `TEST_DATABASE_URL` names; dropped on drop.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = postgres_admin_url()?;
        cleanup_stale(&admin_url).await;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!(
            "zhucan_test_{secs}_{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let mut admin = sqlx::postgres::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("{TEST_DATABASE_URL}={admin_url}: cannot connect to PostgreSQL: {e}")
            });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        Some(PgDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (and during unwinding): use a thread of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(drop_database(&admin_url, &name));
        })
        .join();
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(admin_url).await {
        if let Err(e) = sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        {
            eprintln!("warning: could not drop test database {name}: {e}");
        }
        let _ = admin.close().await;
    }
}

/// The server URL, or `None` to skip; panics when neither is set.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var(SKIP_POSTGRES).as_deref() == Ok("1") => {
            eprintln!("skipping the PostgreSQL variant: {SKIP_POSTGRES}=1");
            None
        }
        _ => panic!(
            "{TEST_DATABASE_URL} is not set, so the PostgreSQL variant of this test cannot run.\n\
             Set it to a server where the user may create databases, e.g.\n  \
             {TEST_DATABASE_URL}=postgres://postgres@127.0.0.1:5432/postgres\n\
             or set {SKIP_POSTGRES}=1 to skip the PostgreSQL variants on purpose."
        ),
    }
}

/// `postgres://u@h:p/old?x` with the database replaced: `postgres://u@h:p/name?x`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Drops test databases left by runs that were killed before their guards ran; once a process.
async fn cleanup_stale(admin_url: &str) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let Ok(mut admin) = sqlx::postgres::PgConnection::connect(admin_url).await else {
            return;
        };
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'zhucan\\_test\\_%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap_or_default();
        let _ = admin.close().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for name in names {
            let created = name
                .strip_prefix("zhucan_test_")
                .and_then(|rest| rest.split('_').next())
                .and_then(|s| s.parse::<u64>().ok());
            // Unparseable names are not ours to judge; stale ones are an hour old.
            if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
                drop_database(admin_url, &name).await;
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Test data

pub fn system() -> Actor {
    Actor::system("test")
}

pub fn staff(name: &str, role: &str) -> Actor {
    Actor {
        id: format!("account:{name}"),
        role: role.into(),
        client: Some("127.0.0.1".into()),
    }
}

pub fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

pub fn street_scope(s: &str) -> Scope {
    Scope::Division(code(s))
}

/// A valid resident ID issued in the district; distinct `n` give distinct IDs.
pub fn rid(n: u32) -> ResidentId {
    let birth = date!(1950 - 01 - 01) + time::Duration::days(i64::from(n / 1000) * 7 + 3);
    ResidentId::from_parts("510112", birth, (n % 1000) as u16).unwrap()
}

/// A mobile number derived from `n`.
pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("139{:08}", n)).unwrap()
}

/// A person `n` in `division`, with phone and a physical grade-2 certificate.
pub fn person(n: u32, name: &str, division: &str) -> PersonInput {
    let id = rid(n);
    PersonInput {
        certificate: Some(CertificateInput {
            number: CertificateNo::new(id.clone(), Category::Physical, Grade::Two),
            components: None,
            issued_on: Some(date!(2020 - 05 - 01)),
            expires_on: Some(date!(2030 - 05 - 01)),
            status: CertificateStatus::Valid,
        }),
        resident_id: id,
        name: PersonName::parse(name).unwrap(),
        ethnicity: Some("汉族".into()),
        phone: Some(phone(n)),
        division_code: code(division),
        residence_code: None,
        address: Some("龙泉驿区某路 1 号".into()),
        household_status: HouseholdStatus::None,
        life_status: LifeStatus::Alive,
        guardian: None,
    }
}

pub fn with_certificate(mut p: PersonInput, category: Category, grade: Grade) -> PersonInput {
    let number = CertificateNo::new(p.resident_id.clone(), category, grade);
    let c = p.certificate.get_or_insert(CertificateInput {
        number: number.clone(),
        components: None,
        issued_on: None,
        expires_on: None,
        status: CertificateStatus::Valid,
    });
    c.number = number;
    p
}

pub fn with_guardian(mut p: PersonInput, name: &str, guardian_phone: Phone) -> PersonInput {
    p.guardian = Some(GuardianInput {
        name: PersonName::parse(name).unwrap(),
        relation: "母亲".into(),
        phone: Some(guardian_phone),
    });
    p
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The store's timestamp format (fixed-width UTC, sorts as text), for rows written by hand.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Whether `text` has a run of at least `n` ASCII digits (a full ID or phone number would).
pub fn has_digit_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}
