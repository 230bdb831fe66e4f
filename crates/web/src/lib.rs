//! The web server: the residents' portal (`/`), the staff workbench (`/staff`), the JSON API
//! (`/api/v1`) and operations endpoints. Handlers are thin: parse into domain types, call the
//! store, render.

mod api;
mod auth;
mod ctx;
mod error;
mod forms;
mod i18n;
mod notify;
mod ops;
mod portal;
mod render;
mod sessions;
mod staff;
mod timers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use zhucan_services::Catalog;
use zhucan_store::{DbError, Store};

pub use auth::hash_password;
pub use error::AppError;
pub use notify::{GatewayUrl, HttpGateway, LogSender, SmsSender, deliver_due};
pub use ops::Metrics;

/// Settings the server needs beyond the store.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where import error reports and other files are written.
    pub data_dir: PathBuf,
    /// Demo mode prints one-time codes on the sign-in page's outbox link and shows demo hints.
    pub demo: bool,
    /// Set `Secure` on cookies (when served over HTTPS behind a proxy).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For` for the client address (only behind a reverse proxy).
    pub trust_proxy: bool,
    /// Where text messages go; `None` writes them to the log (the embedded default).
    pub sms_gateway: Option<GatewayUrl>,
    /// Where the audit chain's head is copied every minute and at shutdown (`audit verify`
    /// compares the chain with it); `None` keeps no copy.
    pub audit_head: Option<zhucan_store::HeadFile>,
}

/// An item version, borrowed from the catalog that was in force when it was looked up (a
/// version is several kilobytes of texts: pages look it up without copying it).
pub struct ItemVersion {
    catalog: Arc<Catalog>,
    index: usize,
}

impl std::ops::Deref for ItemVersion {
    type Target = zhucan_services::ServiceVersion;

    fn deref(&self) -> &zhucan_services::ServiceVersion {
        &self.catalog.versions()[self.index]
    }
}

/// What every handler shares; cloned per request and per extractor, so one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Store,
    pub config: WebConfig,
    pub metrics: Metrics,
    /// The service items in force, swapped whole when an administrator activates a version.
    catalog: RwLock<Arc<Catalog>>,
    /// Sessions resolved in the last few seconds.
    sessions: sessions::SessionCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Starts with the reference catalog; [`serve`] loads the stored one before listening.
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState(Arc::new(Shared {
            store,
            config,
            metrics: Metrics::default(),
            catalog: RwLock::new(Arc::new(Catalog::seed())),
            sessions: sessions::SessionCache::default(),
        }))
    }

    /// The catalog as it is now; hold on to it for the whole request.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Ends a session: in the database, and in this server's memory at once.
    pub async fn end_session(&self, hash: &str) -> Result<(), DbError> {
        self.sessions.forget(hash);
        self.store.delete_session(hash).await
    }

    /// The version a case or task was filed under.
    pub fn service_version(&self, code: &str, version: i64) -> Option<ItemVersion> {
        let catalog = self.catalog();
        let index = catalog.index_of(&code.parse().ok()?, u32::try_from(version).ok()?)?;
        Some(ItemVersion { catalog, index })
    }

    /// The name of the version `(code, version)` in `lang`, or the code when it is unknown.
    pub fn service_name(&self, code: &str, version: i64, lang: zhucan_core::Lang) -> String {
        self.service_version(code, version)
            .map_or_else(|| code.to_owned(), |s| s.name(lang).to_owned())
    }

    /// Stores the reference items not stored yet (on first run), then reads the catalog.
    pub async fn load_catalog(&self) -> Result<(), DbError> {
        self.store.seed_catalog(&Catalog::seed()).await?;
        self.refresh_catalog().await
    }

    /// Reads the catalog from the store: after an activation here, and now and then for the
    /// activations made on other instances.
    pub async fn refresh_catalog(&self) -> Result<(), DbError> {
        let catalog = Arc::new(self.store.catalog().await?);
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = catalog;
        Ok(())
    }
}

/// How often a server re-reads the catalog, for versions activated on another instance.
const CATALOG_REFRESH: Duration = Duration::from_secs(60);

async fn refresh_catalog_now_and_then(state: AppState) {
    let mut ticks = tokio::time::interval(CATALOG_REFRESH);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(e) = state.refresh_catalog().await {
            tracing::warn!(error = %e, "could not re-read the service catalog");
        }
    }
}

/// Uploads (imports, later application materials) are capped here.
const MAX_UPLOAD: usize = 64 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(portal::routes())
        .nest("/staff", staff::routes())
        .nest("/api/v1", api::routes())
        .merge(ops::routes())
        .fallback(|| async { AppError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), ctx::context))
        .layer(middleware::from_fn_with_state(state.clone(), ops::measure))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Loads the catalog, then serves until `shutdown` resolves and finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.load_catalog().await.map_err(std::io::Error::other)?;
    // Earlier versions spooled web imports (full resident IDs, phones) to this folder; a crash
    // could leave one behind.
    match std::fs::remove_dir_all(state.config.data_dir.join("uploads")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let store = state.store.clone();
    let outbox = match &state.config.sms_gateway {
        Some(url) => {
            tracing::info!(gateway = %url, "text messages go to the SMS gateway");
            let gateway = HttpGateway::new(url.clone()).map_err(std::io::Error::other)?;
            tokio::spawn(notify::deliver_forever(store, gateway))
        }
        None => tokio::spawn(notify::deliver_forever(store, LogSender)),
    };
    let due = tokio::spawn(timers::run_due_work(state.store.clone()));
    let head = state
        .config
        .audit_head
        .clone()
        .map(|file| (state.store.clone(), file));
    let copies = head
        .clone()
        .map(|(store, file)| tokio::spawn(timers::copy_audit_head(store, file)));
    let refresh = tokio::spawn(refresh_catalog_now_and_then(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    outbox.abort();
    due.abort();
    refresh.abort();
    if let Some(copies) = copies {
        copies.abort();
    }
    if let Some((store, file)) = &head
        && let Err(e) = store.checkpoint_audit(file).await
    {
        tracing::error!(error = %e, "copying the audit head at shutdown");
    }
    result
}
