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
mod staff;
mod timers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use zhucan_store::Store;

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
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub metrics: Arc<Metrics>,
    /// The service items; seeded from the reference catalog until versions live in the store.
    pub catalog: Arc<zhucan_services::Catalog>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            catalog: Arc::new(zhucan_services::Catalog::seed()),
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

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    outbox.abort();
    due.abort();
    result
}
