//! `zhucan`: the one binary. `zhucan demo` runs the product on its embedded default; the other
//! subcommands serve, migrate, import, export, generate data and manage accounts.

mod demo;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use zhucan_core::{DivisionCode, Lang, Phone, Role, Username, check_password_strength};
use zhucan_crypto::{EnvKey, FieldCrypto, KeyFile, KeyProvider};
use zhucan_jobs::{ImportOptions, ImportSource};
use zhucan_store::{Actor, AuditVerification, DbError, HeadFile, NewAccount, Scope, Store};
use zhucan_web::{AppState, GatewayUrl, WebConfig};

#[derive(Parser)]
#[command(
    name = "zhucan",
    version,
    about = "助残 · Smart DPF: registry and services of a district Disabled Persons' Federation"
)]
struct Cli {
    /// Log as JSON lines (for production log collectors).
    #[arg(long, global = true, env = "ZHUCAN_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Db {
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "ZHUCAN_DATABASE_URL",
        default_value = "sqlite://zhucan-data/zhucan.db"
    )]
    database: String,
    /// File with the 32-byte master key (hex). Default for SQLite: `zhucan.key` beside the
    /// database file; PostgreSQL needs this or ZHUCAN_MASTER_KEY, which overrides it. A key is
    /// created only together with a new database.
    #[arg(long, env = "ZHUCAN_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Where the audit chain's head is copied, outside the database (default: `audit-head`
    /// beside a SQLite database file; for `serve`, in the data folder).
    #[arg(long, env = "ZHUCAN_AUDIT_HEAD")]
    audit_head: Option<PathBuf>,
}

/// Where a command takes the master key from.
enum KeySource {
    Env(EnvKey),
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(env) => write!(f, "the environment variable {}", env.var()),
            KeySource::File(path) => write!(f, "the key file {}", absolute(path).display()),
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

impl Db {
    fn audit_head(&self) -> Option<HeadFile> {
        self.audit_head
            .clone()
            .or_else(|| {
                zhucan_store::sqlite_file(&self.database).map(|f| f.with_file_name("audit-head"))
            })
            .map(HeadFile::new)
    }

    fn key_source(&self) -> anyhow::Result<KeySource> {
        let env = EnvKey::default();
        if std::env::var_os(env.var()).is_some() {
            return Ok(KeySource::Env(env));
        }
        if let Some(file) = &self.key_file {
            return Ok(KeySource::File(file.clone()));
        }
        match zhucan_store::sqlite_file(&self.database) {
            Some(db_file) => Ok(KeySource::File(db_file.with_file_name("zhucan.key"))),
            None => bail!(
                "no master key for {}: give the key its data is encrypted under with \
                 --key-file FILE (or ZHUCAN_KEY_FILE) or ZHUCAN_MASTER_KEY",
                self.database
            ),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the product on its embedded default: SQLite in ./zhucan-data, the demo district.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "zhucan-data")]
        data: PathBuf,
        /// Send text messages to this SMS gateway (JSON POST) instead of writing them to the log.
        #[arg(long, env = "ZHUCAN_SMS_GATEWAY")]
        sms_gateway: Option<GatewayUrl>,
    },
    /// Serve the web application (run `zhucan migrate` first).
    Serve {
        #[command(flatten)]
        db: Db,
        #[arg(long, env = "ZHUCAN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Folder for import reports and temporary files.
        #[arg(long, env = "ZHUCAN_DATA", default_value = "zhucan-data")]
        data: PathBuf,
        /// Mark cookies Secure (when users reach the server over HTTPS).
        #[arg(long, env = "ZHUCAN_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Take the client address from X-Forwarded-For (only behind a reverse proxy).
        #[arg(long, env = "ZHUCAN_TRUST_PROXY")]
        trust_proxy: bool,
        /// Send text messages to this SMS gateway (JSON POST) instead of writing them to the log.
        #[arg(long, env = "ZHUCAN_SMS_GATEWAY")]
        sms_gateway: Option<GatewayUrl>,
    },
    /// Create or upgrade the database schema.
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Import persons from CSV (UTF-8 or GB18030) or XLSX.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export persons to CSV or XLSX.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Generate synthetic data for tests and benchmarks.
    Gen {
        #[command(subcommand)]
        what: GenWhat,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        what: UserWhat,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    Persons {
        file: PathBuf,
        #[command(flatten)]
        db: Db,
        /// Check every row, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write every rejected row to this CSV or XLSX file.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Language of the error reasons: zh-CN or en.
        #[arg(long, default_value = "zh-CN")]
        lang: Lang,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    Persons {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        out: PathBuf,
        /// Full numbers instead of masked ones; needs --as an account allowed to (audited).
        #[arg(long)]
        unmasked: bool,
        /// The staff account doing the export: its scope limits the rows.
        #[arg(long = "as")]
        as_user: Option<String>,
    },
}

#[derive(Subcommand)]
enum GenWhat {
    Persons {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// File cases over the persons in the database (for benchmarks): most finished, the rest
    /// waiting at each step, returned or in public notice.
    Cases {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Also file three cases for the residents registered with this mobile number.
        #[arg(long)]
        phone: Option<Phone>,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum UserWhat {
    /// Create a staff account; the password is read from ZHUCAN_PASSWORD or standard input.
    Add {
        username: String,
        #[arg(long)]
        role: Role,
        /// Division code the account works in: the district, a street or a community.
        #[arg(long)]
        scope: DivisionCode,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        db: Db,
    },
    List {
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum AuditWhat {
    /// Recompute the SM3 hash chain and report the first broken record.
    Verify {
        #[command(flatten)]
        db: Db,
    },
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The master key, made only for a new database (and then only as a file); then the store,
/// which refuses to go on under a key that is not the database's own.
async fn open(db: &Db) -> anyhow::Result<Store> {
    if let Some(dir) = zhucan_store::sqlite_file(&db.database)
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        private_dir(dir)?;
    }
    let source = db.key_source()?;
    let key = match &source {
        KeySource::Env(env) => env.master_key()?,
        KeySource::File(path) => match KeyFile::new(path).load()? {
            Some(key) => key,
            None if Store::is_new_database(&db.database).await? => {
                KeyFile::new(path).load_or_create()?
            }
            None => bail!(
                "no master key at {}: {} already holds data, encrypted under its own key, and a \
                 new key is made only for a new database. Give that key with --key-file FILE or \
                 ZHUCAN_MASTER_KEY (for SQLite it is normally zhucan.key beside the database file)",
                absolute(path).display(),
                db.database
            ),
        },
    };
    let store = Store::connect(&db.database, FieldCrypto::new(&key))
        .await
        .with_context(|| format!("connecting to {}", db.database))?;
    match store.check_key().await {
        Err(DbError::WrongKey) => bail!(
            "the master key from {source} is not the key of {}: its data is encrypted under \
             another key, so nothing was read or written. Give the database's own key \
             (--key-file FILE or ZHUCAN_MASTER_KEY; for SQLite, zhucan.key beside the database file)",
            db.database
        ),
        other => other.with_context(|| format!("checking the master key of {}", db.database))?,
    }
    Ok(store)
}

/// The chain, and that it reaches the copy of its head kept outside the database.
async fn verify_audit(db: &Db) -> anyhow::Result<AuditVerification> {
    let store = open(db).await?;
    let Some(file) = db.audit_head() else {
        println!(
            "no copy of the chain's head is kept for this database (--audit-head FILE): \
             deleting its newest records would not show"
        );
        return Ok(store.verify_audit().await?);
    };
    let copy = file
        .read()
        .with_context(|| format!("reading {}", file.path().display()))?;
    Ok(match copy {
        Some(copy) => {
            println!(
                "checked against the copy of the chain's head made at {} ({})",
                copy.at,
                file.path().display()
            );
            store.verify_audit_to(&copy).await?
        }
        None => {
            println!(
                "no copy of the chain's head at {} yet",
                file.path().display()
            );
            store.verify_audit().await?
        }
    })
}

/// Copies the audit chain's head where the database keeps it, then closes the store.
async fn close(db: &Db, store: Store) -> anyhow::Result<()> {
    if let Some(file) = db.audit_head() {
        store.checkpoint_audit(&file).await?;
    }
    store.close().await;
    Ok(())
}

/// The data folder is its owner's only (the process's umask keeps what is created in it so).
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    #[cfg(not(unix))]
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}

/// Migrates and loads the district's division table (Longquanyi, with its communities), which
/// imports check division codes against.
async fn prepare(store: &Store) -> anyhow::Result<()> {
    store.migrate().await?;
    store
        .upsert_divisions(&zhucan_jobs::synthetic::demo_divisions())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn serve(store: Store, listen: SocketAddr, config: WebConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!("serving http://{listen}");
    zhucan_web::serve(
        listener,
        AppState::new(store.clone(), config),
        shutdown_signal(),
    )
    .await?;
    store.close().await;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("ZHUCAN_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            listen,
            data,
            sms_gateway,
        } => {
            let started = std::time::Instant::now();
            let db = Db {
                database: format!("sqlite://{}", data.join("zhucan.db").display()),
                key_file: None,
                audit_head: None,
            };
            let store = open(&db).await?;
            prepare(&store).await?;
            let seeded = demo::seed(&store).await?;
            if let Some(n) = seeded {
                println!(
                    "seeded the demo district: {n} residents in {:.2?}",
                    started.elapsed()
                );
            }
            demo::print_accounts(&store, listen).await?;
            let config = WebConfig {
                data_dir: data,
                demo: true,
                secure_cookies: false,
                trust_proxy: false,
                sms_gateway,
                audit_head: db.audit_head(),
            };
            serve(store, listen, config).await?;
        }
        Command::Serve {
            db,
            listen,
            data,
            secure_cookies,
            trust_proxy,
            sms_gateway,
        } => {
            let store = open(&db).await?;
            let audit_head = db
                .audit_head()
                .unwrap_or_else(|| HeadFile::new(data.join("audit-head")));
            serve(
                store,
                listen,
                WebConfig {
                    data_dir: data,
                    demo: false,
                    secure_cookies,
                    trust_proxy,
                    sms_gateway,
                    audit_head: Some(audit_head),
                },
            )
            .await?;
        }
        Command::Migrate { db } => {
            prepare(&open(&db).await?).await?;
            println!("migrated {}", db.database);
        }
        Command::Import {
            what:
                ImportWhat::Persons {
                    file,
                    db,
                    dry_run,
                    report,
                    lang,
                },
        } => {
            let store = open(&db).await?;
            prepare(&store).await?;
            let opts = ImportOptions {
                dry_run,
                lang,
                progress: true,
                within: None,
            };
            let actor = Actor::system("import");
            let summary = zhucan_jobs::import_persons(
                &store,
                &actor,
                ImportSource::path(file),
                &opts,
                report.as_deref(),
            )
            .await;
            close(&db, store).await?;
            let summary = summary?;
            for e in summary.errors.iter().take(20) {
                eprintln!("row {}, {}: {:?}: {}", e.row, e.column, e.value, e.reason);
            }
            if summary.errors.len() > 20 || summary.errors_omitted > 0 {
                eprintln!("… see the full list with --report FILE");
            }
            println!("{summary}");
            return Ok(if summary.rejected == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            });
        }
        Command::Export {
            what:
                ExportWhat::Persons {
                    db,
                    out,
                    unmasked,
                    as_user,
                },
        } => {
            let store = open(&db).await?;
            let (actor, scope) = match as_user {
                Some(name) => {
                    let account = store
                        .account_by_username(&name)
                        .await?
                        .filter(|a| a.active)
                        .with_context(|| format!("no active account {name:?}"))?;
                    if unmasked && !account.role.can_export_unmasked() {
                        bail!(
                            "{name} ({}) may not export unmasked numbers",
                            account.role.slug()
                        );
                    }
                    let actor = Actor {
                        id: format!("account:{name}"),
                        role: account.role.slug().to_owned(),
                        client: Some("cli".into()),
                    };
                    (actor, Scope::Division(account.scope))
                }
                None if unmasked => {
                    bail!("--unmasked needs --as USER, an account allowed to see full numbers")
                }
                None => (Actor::system("export"), Scope::All),
            };
            let n = zhucan_jobs::export_persons(&store, &actor, &scope, &out, unmasked, Lang::Zh)
                .await?;
            close(&db, store).await?;
            println!("exported: {n} to {}", out.display());
        }
        Command::Gen {
            what: GenWhat::Persons { count, seed, out },
        } => {
            let n = zhucan_jobs::synthetic::write_persons_csv(&out, count, seed)?;
            println!("generated: {n} rows in {}", out.display());
        }
        Command::Gen {
            what:
                GenWhat::Cases {
                    count,
                    seed,
                    phone,
                    db,
                },
        } => {
            let store = open(&db).await?;
            prepare(&store).await?;
            let made = zhucan_jobs::generate_cases(&store, count, seed, phone.as_ref(), true).await;
            close(&db, store).await?;
            println!("{}", made?);
        }
        Command::User {
            what:
                UserWhat::Add {
                    username,
                    role,
                    scope,
                    name,
                    db,
                },
        } => {
            let username = Username::parse(&username)?;
            let password = read_password()?;
            check_password_strength(&password)?;
            let store = open(&db).await?;
            // The first account is often made on a new database.
            prepare(&store).await?;
            let account = store
                .create_account(
                    &Actor::system("cli"),
                    NewAccount {
                        display_name: name.unwrap_or_else(|| username.as_str().to_owned()),
                        username,
                        password_hash: zhucan_web::hash_password(&password)?,
                        role,
                        scope,
                    },
                )
                .await?;
            close(&db, store).await?;
            println!(
                "created {} ({}) for {}",
                account.username,
                account.role.slug(),
                account.scope
            );
        }
        Command::User {
            what: UserWhat::List { db },
        } => {
            for a in open(&db).await?.accounts().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    a.username,
                    a.role.slug(),
                    a.scope,
                    if a.active { "active" } else { "disabled" }
                );
            }
        }
        Command::Audit {
            what: AuditWhat::Verify { db },
        } => match verify_audit(&db).await? {
            AuditVerification::Intact { records } => {
                println!("audit log intact: {records} records")
            }
            AuditVerification::Broken { seq, reason } => {
                println!("audit log broken at record {seq}: {reason}");
                return Ok(ExitCode::from(1));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Everything the process creates (the database and its journal files, the key, reports,
    // temporary files) is its owner's only: sensitive personal information.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
