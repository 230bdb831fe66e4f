//! `/api/v1`: the same operations as the pages, as JSON, for mobile and partner clients.
//! Cookie-authenticated writes must send the CSRF token in `X-CSRF-Token`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use zhucan_core::{DivisionCode, Role};
use zhucan_store::{PersonFilter, SearchTerm};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::staff::PersonForm;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/persons", get(list).post(create))
        .route("/persons/{id}", get(show).put(update))
        .route("/me", get(me))
        .route("/services", get(crate::portal::services::api_list))
        .fallback(|| async { AppError::NotFound.into_json() })
}

/// JSON errors (`{"errors":[…]}`) instead of the HTML error page.
pub struct ApiError(AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            AppError::Unauthenticated { .. } => AppError::Unauthenticated { login: "" }.into_json(),
            other => other.into_json(),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

/// A JSON body whose rejections (malformed JSON, wrong types) answer in the API's error shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
struct Body<T>(T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        AppError::Invalid(vec![("body".into(), rejection.body_text())])
    }
}

/// The caller's context, with the CSRF header checked for writes.
struct ApiCtx(Ctx);

impl<S: Send + Sync> FromRequestParts<S> for ApiCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiCtx, ApiError> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        if !parts.method.is_safe() {
            let token = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            ctx.check_csrf(token)?;
        }
        Ok(ApiCtx(ctx))
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    grade: Option<String>,
    division: Option<String>,
    household_status: Option<String>,
    life_status: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// Unknown filter values are errors here (a client should know), unlike the page's selects.
fn parse_filter(q: &ListQuery) -> Result<PersonFilter, AppError> {
    fn field<T: std::str::FromStr>(
        name: &str,
        v: &Option<String>,
        errors: &mut Vec<(String, String)>,
    ) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let v = v.as_deref().filter(|s| !s.is_empty())?;
        v.parse()
            .map_err(|e: T::Err| errors.push((name.to_owned(), e.to_string())))
            .ok()
    }
    let mut errors = Vec::new();
    let filter = PersonFilter {
        term: q.q.as_deref().and_then(SearchTerm::parse),
        category: field("category", &q.category, &mut errors),
        grade: field("grade", &q.grade, &mut errors),
        division: field::<DivisionCode>("division", &q.division, &mut errors),
        household_status: field("household_status", &q.household_status, &mut errors),
        life_status: field("life_status", &q.life_status, &mut errors),
    };
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(AppError::Invalid(errors))
    }
}

async fn list(
    State(state): State<AppState>,
    ApiCtx(ctx): ApiCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    ctx.staff_with(Role::can_view_registry)?;
    let filter = parse_filter(&q)?;
    let per_page = q.per_page.unwrap_or(25).clamp(1, 200);
    let page = state
        .store
        .search_persons(&ctx.scope(), &filter, q.page.unwrap_or(1), per_page)
        .await?;
    Ok(Json(page).into_response())
}

async fn show(
    State(state): State<AppState>,
    ApiCtx(ctx): ApiCtx,
    Path(id): Path<String>,
) -> ApiResult {
    ctx.staff_with(Role::can_view_registry)?;
    let record = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &id)
        .await?;
    Ok(Json(record).into_response())
}

fn parse_body(form: &PersonForm, ctx: &Ctx) -> Result<zhucan_store::PersonInput, AppError> {
    form.parse(ctx.lang)
        .map_err(|e| AppError::Invalid(e.into_fields()))
}

async fn create(
    State(state): State<AppState>,
    ApiCtx(ctx): ApiCtx,
    Body(form): Body<PersonForm>,
) -> ApiResult {
    ctx.staff_with(Role::can_edit_registry)?;
    let input = parse_body(&form, &ctx)?;
    let id = state
        .store
        .create_person(&ctx.actor(), &ctx.scope(), &input)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn update(
    State(state): State<AppState>,
    ApiCtx(ctx): ApiCtx,
    Path(id): Path<String>,
    Body(form): Body<PersonForm>,
) -> ApiResult {
    ctx.staff_with(Role::can_edit_registry)?;
    let version: i64 = form.version.parse().map_err(|_| {
        AppError::Invalid(vec![(
            "version".into(),
            "the version read before editing is required".into(),
        )])
    })?;
    let input = parse_body(&form, &ctx)?;
    state
        .store
        .update_person(&ctx.actor(), &ctx.scope(), &id, version, &input)
        .await?;
    Ok(Json(json!({ "id": id, "version": version + 1 })).into_response())
}

async fn me(State(state): State<AppState>, ApiCtx(ctx): ApiCtx) -> ApiResult {
    let ids = ctx.resident_persons()?.to_vec();
    let (scope, actor) = (ctx.scope(), ctx.actor());
    let mut records: Vec<Value> = Vec::new();
    for id in &ids {
        records.push(
            serde_json::to_value(state.store.view_person(&actor, &scope, id).await?)
                .map_err(anyhow::Error::from)?,
        );
    }
    Ok(Json(json!({ "persons": records })).into_response())
}
