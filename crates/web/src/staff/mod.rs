//! The staff workbench: dashboard, registry, import/export, and the admin's outbox and audit log.

mod cases;
pub(crate) use cases::can_review;
mod registry;
pub(crate) use registry::PersonForm;
pub(crate) mod tasks;
mod transfer;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use zhucan_core::{Category, Role};
use zhucan_store::{AuditRecord, AuditVerification, Notification, PersonFilter};

use crate::AppState;
use crate::auth;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::render::{Layout, page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route(
            "/login",
            get(auth::staff_login_form).post(auth::staff_login),
        )
        .route("/persons", get(registry::list))
        .route(
            "/persons/new",
            get(registry::new_form).post(registry::create),
        )
        .route("/persons/{id}", get(registry::show))
        .route(
            "/persons/{id}/edit",
            get(registry::edit_form).post(registry::update),
        )
        .route("/persons/{id}/history", get(registry::history))
        .route(
            "/persons/{id}/consents",
            axum::routing::post(registry::add_consent),
        )
        .route(
            "/import",
            get(transfer::import_form).post(transfer::import_upload),
        )
        .route("/import/reports/{file}", get(transfer::report))
        .route("/export", get(transfer::export_form).post(transfer::export))
        .route("/cases", get(cases::queue))
        .route("/cases/{id}", get(cases::show))
        .route("/cases/{id}/decide", axum::routing::post(cases::decide))
        .route("/cases/{id}/claim", axum::routing::post(cases::claim))
        .route("/cases/{id}/documents/{doc}", get(cases::document))
        .route(
            "/objections/{id}",
            axum::routing::post(cases::decide_objection),
        )
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}/complete", axum::routing::post(tasks::complete))
        .route("/outbox", get(outbox))
        .route("/audit", get(audit))
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    l: Layout,
    scope_name: String,
    total: i64,
    by_category: Vec<(Category, i64)>,
    can_view: bool,
}

/// The dashboard: how many people are registered in the caller's area, by category.
async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let account = ctx.staff()?;
    let scope = ctx.scope();
    let can_view = account.role.can_view_registry();
    let (mut total, mut by_category) = (0, Vec::new());
    if can_view {
        total = state
            .store
            .search_persons(&scope, &PersonFilter::default(), 1, 1)
            .await?
            .total;
        for category in Category::ALL {
            let filter = PersonFilter {
                category: Some(category),
                ..PersonFilter::default()
            };
            by_category.push((
                category,
                state
                    .store
                    .search_persons(&scope, &filter, 1, 1)
                    .await?
                    .total,
            ));
        }
    }
    let scope_name = state
        .store
        .divisions()
        .await?
        .into_iter()
        .find(|d| d.code == account.scope.as_str())
        .map(|d| d.name)
        .unwrap_or_else(|| account.scope.as_str().to_owned());
    page(&HomePage {
        l: Layout::new(&ctx, "工作台", "Workbench"),
        scope_name,
        total,
        by_category,
        can_view,
    })
}

#[derive(Template)]
#[template(path = "staff/outbox.html")]
struct OutboxPage {
    l: Layout,
    messages: Vec<Notification>,
}

/// Admin only: in the embedded default this is where sign-in codes can be read.
async fn outbox(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    ctx.staff_with(Role::can_see_outbox)?;
    page(&OutboxPage {
        l: Layout::new(&ctx, "消息发件箱", "Outbox"),
        messages: state.store.recent_notifications(100).await?,
    })
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    l: Layout,
    records: Vec<AuditRecord>,
    verification: AuditVerification,
}

async fn audit(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    ctx.staff_with(Role::can_view_audit)?;
    page(&AuditPage {
        l: Layout::new(&ctx, "审计日志", "Audit log"),
        records: state.store.recent_audit(200).await?,
        verification: state.store.verify_audit().await?,
    })
}
