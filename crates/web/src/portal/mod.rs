//! The residents' portal: the home page and a resident's (or guardian's) own records.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use zhucan_store::PersonRecord;

pub mod applications;
pub mod apply;
pub mod case_page;
pub mod materials;
pub mod messages;
mod notice;
pub mod services;

use crate::AppState;
use crate::auth;
use crate::ctx::{Ctx, Principal};
use crate::error::AppResult;
use crate::render::{Layout, page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/login", get(auth::resident_login_form))
        .route("/login/code", post(auth::request_code))
        .route("/login/verify", post(auth::verify_code))
        .route("/logout", post(auth::logout))
        .route("/prefs", get(auth::prefs))
        .route("/services", get(services::list))
        .route("/services/{code}", get(services::show))
        .route(
            "/services/{code}/apply",
            get(apply::start).post(apply::begin),
        )
        .route("/me/cases", get(applications::list))
        .route("/me/cases/{id}", get(case_page::show))
        .route("/me/cases/{id}/continue", get(apply::resume))
        .route(
            "/me/cases/{id}/questions/{n}",
            get(apply::question).post(apply::answer),
        )
        .route(
            "/me/cases/{id}/materials",
            get(materials::form).post(materials::upload),
        )
        .route("/me/cases/{id}/documents/{doc}", get(materials::download))
        .route(
            "/me/cases/{id}/documents/{doc}/remove",
            post(materials::remove),
        )
        .route("/me/cases/{id}/check", get(apply::check))
        .route("/me/cases/{id}/submit", post(apply::submit))
        .route("/me/cases/{id}/confirmation", get(apply::confirmation))
        .route("/me/cases/{id}/withdraw", post(case_page::withdraw))
        .route("/me/cases/{id}/rating", post(case_page::rate))
        .route("/me/messages", get(messages::inbox))
        .route("/notice", get(notice::list))
        .route(
            "/notice/{case}/objection",
            get(notice::objection_form).post(notice::object),
        )
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    l: Layout,
    resident: bool,
}

async fn home(ctx: Ctx) -> AppResult<Response> {
    page(&HomePage {
        resident: matches!(ctx.principal, Principal::Resident { .. }),
        l: Layout::new(&ctx, "龙泉驿区助残服务", "Longquanyi disability services"),
    })
}

#[derive(Template)]
#[template(path = "portal/me.html")]
struct MePage {
    l: Layout,
    records: Vec<PersonRecord>,
}

/// A resident sees their own record, and a guardian their wards'; each view is audited.
async fn me(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let ids = ctx.resident_persons()?.to_vec();
    let scope = ctx.scope();
    let actor = ctx.actor();
    let mut records = Vec::with_capacity(ids.len());
    for id in &ids {
        records.push(state.store.view_person(&actor, &scope, id).await?);
    }
    page(&MePage {
        l: Layout::new(&ctx, "我的信息", "My record"),
        records,
    })
}
