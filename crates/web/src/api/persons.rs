//! The registry for staff (`/persons`) and a resident's own records (`/me`). Their bodies are
//! the store's and the person form's; the OpenAPI document describes them by hand
//! (`openapi::person_schemas`), and a test holds the two together.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use zhucan_core::{DivisionCode, Role};
use zhucan_store::{PersonFilter, SearchTerm};

use super::{ApiCtx, ApiResult, Body};
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::staff::PersonForm;

/// Filters of the registry search; an unknown value is an error naming its parameter.
#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Name, resident ID or certificate number (a blind-index match).
    q: Option<String>,
    /// Disability category slug, e.g. `physical`.
    category: Option<String>,
    /// Grade 1 to 4.
    grade: Option<String>,
    /// A division code inside the caller's scope.
    division: Option<String>,
    /// `none`, `dibao`, `dibao_edge`, `tekun` or `low_income`.
    household_status: Option<String>,
    /// `alive`, `deceased` or `moved_out`.
    life_status: Option<String>,
    /// From 1.
    page: Option<i64>,
    /// 1 to 200, 25 unless given.
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

/// Search the registry (staff whose role may view it, inside their division).
#[utoipa::path(
    get,
    path = "/persons",
    operation_id = "list_persons",
    tag = "registry",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of people, masked", body = ref("#/components/schemas/PersonPage")),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "The role may not view the registry", body = ref("#/components/schemas/Errors")),
        (status = 422, description = "An unknown filter value, named", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []))
)]
pub(super) async fn list(
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

/// One person's full record (the view is audited).
#[utoipa::path(
    get,
    path = "/persons/{id}",
    operation_id = "show_person",
    tag = "registry",
    params(("id" = String, Path, description = "The person's id")),
    responses(
        (status = 200, description = "The record", body = ref("#/components/schemas/PersonRecord")),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "The role may not view the registry", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "No such person in the caller's scope", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []))
)]
pub(super) async fn show(
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

/// Register a person (staff whose role may edit the registry, inside their division).
#[utoipa::path(
    post,
    path = "/persons",
    operation_id = "create_person",
    tag = "registry",
    request_body(content = ref("#/components/schemas/PersonForm"), content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = ref("#/components/schemas/Created")),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "No CSRF header, or the role may not edit", body = ref("#/components/schemas/Errors")),
        (status = 422, description = "Every bad field, named", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = [], "csrf" = []))
)]
pub(super) async fn create(
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
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// Change a person's record; `version` is the one read before editing.
#[utoipa::path(
    put,
    path = "/persons/{id}",
    operation_id = "update_person",
    tag = "registry",
    params(("id" = String, Path, description = "The person's id")),
    request_body(content = ref("#/components/schemas/PersonForm"), content_type = "application/json"),
    responses(
        (status = 200, description = "Saved, with the new version", body = ref("#/components/schemas/Saved")),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "No CSRF header, or the role may not edit", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "No such person in the caller's scope", body = ref("#/components/schemas/Errors")),
        (status = 409, description = "Someone else saved it first", body = ref("#/components/schemas/Errors")),
        (status = 422, description = "Every bad field, named", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = [], "csrf" = []))
)]
pub(super) async fn update(
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

/// The signed-in resident's own record and their wards' (each view is audited).
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "my_records",
    tag = "resident",
    responses(
        (status = 200, description = "The records", body = ref("#/components/schemas/MyRecords")),
        (status = 401, description = "Not signed in as a resident", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub(super) async fn me(State(state): State<AppState>, ApiCtx(ctx): ApiCtx) -> ApiResult {
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
