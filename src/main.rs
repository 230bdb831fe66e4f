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
use zhucan_store::{Actor, AuditVerification, NewAccount, Scope, Store};
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
    /// File with the 32-byte master key (hex); created on first use. ZHUCAN_MASTER_KEY overrides it.
    #[arg(
        long,
        env = "ZHUCAN_KEY_FILE",
        default_value = "zhucan-data/zhucan.key"
    )]
    key_file: PathBuf,
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

/// The key from ZHUCAN_MASTER_KEY if set, else from the key file (created when absent).
fn field_crypto(key_file: &Path) -> anyhow::Result<FieldCrypto> {
    let env = EnvKey::default();
    let key = if std::env::var_os(env.var()).is_some() {
        env.master_key()?
    } else {
        KeyFile::new(key_file).load_or_create()?
    };
    Ok(FieldCrypto::new(&key))
}

async fn open(db: &Db) -> anyhow::Result<Store> {
    if let Some(path) = db.database.strip_prefix("sqlite://")
        && let Some(dir) = Path::new(path.split('?').next().unwrap_or(path))
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = Store::connect(&db.database, field_crypto(&db.key_file)?)
        .await
        .with_context(|| format!("connecting to {}", db.database))?;
    Ok(store)
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
                key_file: data.join("zhucan.key"),
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
            serve(
                store,
                listen,
                WebConfig {
                    data_dir: data,
                    demo: false,
                    secure_cookies,
                    trust_proxy,
                    sms_gateway,
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
            store.close().await;
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
            store.close().await;
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
        } => match open(&db).await?.verify_audit().await? {
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
