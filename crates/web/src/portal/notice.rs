//! The public notice (公示): approved subsidy cases listed for their notice period with the
//! name masked and no numbers, and a form anyone may use to object. Objections are recorded
//! against the case and checked by the district office; the notice cannot end while one is open.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zhucan_store::{Actor, DbError, NoticeEntry};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, page};

struct Row {
    n: NoticeEntry,
    service: String,
}

#[derive(Template)]
#[template(path = "portal/notice.html")]
struct NoticePage {
    l: Layout,
    rows: Vec<Row>,
}

fn row(state: &AppState, ctx: &Ctx, n: NoticeEntry) -> Row {
    Row {
        service: state.service_name(&n.service_code, n.service_version, ctx.lang),
        n,
    }
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let rows = state
        .store
        .public_notices()
        .await?
        .into_iter()
        .map(|n| row(&state, &ctx, n))
        .collect();
    page(&NoticePage {
        l: Layout::new(&ctx, "公示公告", "Public notices"),
        rows,
    })
}

#[derive(Deserialize, Default)]
pub struct ObjectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    raised_by: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    body: String,
}

#[derive(Template)]
#[template(path = "portal/notice_objection.html")]
struct ObjectionPage {
    l: Layout,
    r: Row,
    f: ObjectionForm,
    errors: FormErrors,
    done: bool,
}

/// The entry of a case in notice today, or 404.
async fn entry(state: &AppState, ctx: &Ctx, case: &str) -> AppResult<Row> {
    let n = state
        .store
        .public_notices()
        .await?
        .into_iter()
        .find(|n| n.case_id == case)
        .ok_or(AppError::NotFound)?;
    Ok(row(state, ctx, n))
}

pub async fn objection_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(case): Path<String>,
) -> AppResult<Response> {
    let r = entry(&state, &ctx, &case).await?;
    page(&ObjectionPage {
        l: Layout::new(&ctx, "对公示提出异议", "Object to a notice"),
        r,
        f: ObjectionForm::default(),
        errors: FormErrors::default(),
        done: false,
    })
}

pub async fn object(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(case): Path<String>,
    Form(f): Form<ObjectionForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&f.csrf)?;
    let t = Tr { lang: ctx.lang };
    let r = entry(&state, &ctx, &case).await?;
    let mut errors = FormErrors::default();
    if f.raised_by.trim().is_empty() {
        errors.add("raised_by", t.z("请填写您的姓名", "Enter your name"));
    }
    if f.body.trim().is_empty() {
        errors.add("body", t.z("请写明异议内容", "Say what you object to"));
    }
    let (mut done, mut limited) = (false, false);
    if errors.is_empty() {
        let actor = Actor {
            id: "public".into(),
            role: "public".into(),
            client: Some(ctx.client.clone()),
        };
        match state
            .store
            .raise_objection(&actor, &case, &f.raised_by, &f.contact, &f.body)
            .await
        {
            Ok(_) => done = true,
            Err(DbError::Invalid { field, zh, en }) => {
                errors.add(field, t.z(&zh, &en).to_owned());
            }
            Err(DbError::RateLimited { zh, en }) => {
                errors.add("body", t.z(&zh, &en).to_owned());
                limited = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let status = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = page(&ObjectionPage {
        l: Layout::new(&ctx, "对公示提出异议", "Object to a notice"),
        r,
        f: if done { ObjectionForm::default() } else { f },
        errors,
        done,
    })?;
    Ok((status, body).into_response())
}
