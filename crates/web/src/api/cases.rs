//! A resident's applications: file and submit one (once per `Idempotency-Key`), list them,
//! follow one on its timeline, withdraw before the first review.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zhucan_crypto::sm3_hex;
use zhucan_services::{Action, State as CaseState};
use zhucan_store::{CaseRecord, CaseSummary, DbError};

use super::{ApiCtx, ApiError, ApiResult, Body};
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppError;
use crate::portal::applications::{
    chain_of, file_case, item_name, own_cases, service, step_name, timeline,
};

/// The item a case was filed under.
#[derive(Serialize, ToSchema)]
pub(super) struct Item {
    code: String,
    version: i64,
    /// In the caller's language.
    name: String,
}

/// The person a case is for.
#[derive(Serialize, ToSchema)]
pub(super) struct Applicant {
    id: String,
    name: String,
}

/// A case as its applicant follows it.
#[derive(Serialize, ToSchema)]
pub(super) struct Case {
    id: String,
    /// E.g. `510112-2026-000123`.
    number: String,
    service: Item,
    person: Applicant,
    /// `draft`, `submitted`, `in_review`, `returned`, `notice`, `approved`, `fulfilled`,
    /// `closed`, `rejected` or `withdrawn`.
    state: String,
    /// The state in the caller's language.
    state_label: String,
    /// The review step that holds the case (`community`, `street`, ...), if one does.
    step: Option<String>,
    /// The office that holds it, in the caller's language.
    office: Option<String>,
    /// The step's deadline (YYYY-MM-DD, China time); none while returned for correction.
    deadline: Option<String>,
    overdue: bool,
    /// Send it back to withdraw (optimistic lock).
    version: i64,
    /// `portal`, `counter`, `proxy` or `proactive`.
    channel: String,
    created_at: String,
    submitted_at: Option<String>,
    /// The applicant may still withdraw it (before the first review).
    can_withdraw: bool,
}

/// One event of a case's timeline; staff appear as their office, never by name.
#[derive(Serialize, ToSchema)]
pub(super) struct Event {
    /// RFC 3339, UTC.
    at: String,
    /// `create`, `submit`, `withdraw`, `approve`, `return`, `reject`, ...
    action: String,
    /// What happened, in the caller's language, with the reason of a return or rejection.
    text: String,
    /// You, the system, or the office that acted.
    by: String,
}

/// A case in full: as in the list, with the answers given and the timeline.
#[derive(Serialize, ToSchema)]
pub(super) struct CaseDetail {
    #[serde(flatten)]
    case: Case,
    /// The answers of the application form, by question key.
    #[schema(value_type = Object)]
    answers: Value,
    /// Oldest first.
    timeline: Vec<Event>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct CaseList {
    /// Newest first.
    cases: Vec<Case>,
}

fn case_view(state: &AppState, ctx: &Ctx, c: &CaseSummary) -> Case {
    let lang = ctx.lang;
    Case {
        id: c.id.clone(),
        number: c.number.clone(),
        service: Item {
            code: c.service_code.clone(),
            version: c.service_version,
            name: item_name(state, &c.service_code, c.service_version, lang),
        },
        person: Applicant {
            id: c.person_id.clone(),
            name: c.person_name.clone(),
        },
        state: c.state.slug().to_owned(),
        state_label: c.state.label(lang).to_owned(),
        step: c.step_code.clone(),
        office: c
            .step_code
            .as_deref()
            .map(|code| step_name(Some(code), lang)),
        deadline: c.deadline.clone(),
        overdue: c.overdue,
        version: c.version,
        channel: c.channel.as_str().to_owned(),
        created_at: c.created_at.clone(),
        submitted_at: c.submitted_at.clone(),
        can_withdraw: c.state == CaseState::Submitted,
    }
}

fn detail(state: &AppState, ctx: &Ctx, c: CaseRecord) -> CaseDetail {
    let events = timeline(&c, &chain_of(state, &c), ctx.lang)
        .into_iter()
        .map(|t| Event {
            at: t.at,
            action: t.action,
            text: t.what,
            by: t.who,
        })
        .collect();
    CaseDetail {
        case: case_view(state, ctx, &c),
        timeline: events,
        answers: c.answers,
    }
}

/// The caller's cases and their wards', newest first.
#[utoipa::path(
    get,
    path = "/cases",
    operation_id = "list_cases",
    tag = "cases",
    params(super::LangQuery),
    responses(
        (status = 200, description = "The cases", body = CaseList),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "A staff session", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub(super) async fn list(State(state): State<AppState>, ctx: ApiCtx) -> ApiResult {
    ctx.resident_persons()?;
    let ApiCtx(ctx) = ctx;
    let cases = own_cases(&state, &ctx)
        .await?
        .iter()
        .map(|c| case_view(&state, &ctx, c))
        .collect();
    Ok(Json(CaseList { cases }).into_response())
}

/// One case: status, the office holding it, its deadline and timeline.
#[utoipa::path(
    get,
    path = "/cases/{id}",
    operation_id = "show_case",
    tag = "cases",
    params(("id" = String, Path, description = "The case's id"), super::LangQuery),
    responses(
        (status = 200, description = "The case", body = CaseDetail),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "A staff session", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "No such case of the caller's people", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<String>,
) -> ApiResult {
    ctx.resident_persons()?;
    let ApiCtx(ctx) = ctx;
    let c = state.store.case(&ctx.scope(), &id).await?;
    Ok(Json(detail(&state, &ctx, c)).into_response())
}

/// An application to file and submit.
#[derive(Deserialize, ToSchema)]
pub(super) struct NewCase {
    /// The item's code, from `GET /services`.
    service_code: String,
    /// One of the people the caller acts for, from `GET /me`.
    person_id: String,
    /// An answer to every question of the item's form, by key: `true`/`false` for a yes/no
    /// question (or `"yes"`/`"no"`), a choice's value, or text.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({ "owns_motorised_wheelchair": true }))]
    answers: BTreeMap<String, Value>,
}

/// The text the shared form parser reads for one JSON answer; `None` for a value no question
/// takes (a list, an object).
fn answer_text(value: &Value) -> Option<String> {
    match value {
        Value::Bool(true) => Some("yes".into()),
        Value::Bool(false) => Some("no".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// The client's idempotency key, kept per caller: a key reused by someone else is another key.
fn submit_key(ctx: &ApiCtx, headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128);
    let Some(key) = key else {
        return Err(ApiError::Plain(
            StatusCode::BAD_REQUEST,
            Some("Idempotency-Key".into()),
            ctx.z(
                "请在 Idempotency-Key 请求头中提供本次申请的唯一标识（不超过 128 个字符），重试时使用同一标识",
                "Send a unique key of up to 128 characters for this application in the Idempotency-Key header, and the same key when retrying",
            ),
        ));
    };
    Ok(format!(
        "api:{}",
        sm3_hex(format!("{}\n{key}", ctx.0.actor().id).as_bytes())
    ))
}

/// File and submit an application. Sent again with the same `Idempotency-Key`, it files
/// nothing more and answers with the case already filed (200 instead of 201).
#[utoipa::path(
    post,
    path = "/cases",
    operation_id = "create_case",
    tag = "cases",
    params(
        ("Idempotency-Key" = String, Header, description = "A unique key per application (up to 128 characters); send the same key when retrying"),
        super::LangQuery,
    ),
    request_body = NewCase,
    responses(
        (status = 201, description = "Filed and submitted; `Location` is the case", body = CaseDetail,
            headers(("Location" = String, description = "/api/v1/cases/{id}"))),
        (status = 200, description = "Already filed under this key: the case as it is", body = CaseDetail),
        (status = 400, description = "No `Idempotency-Key` header", body = ref("#/components/schemas/Errors")),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "No CSRF header on a cookie session, or a staff session", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "Not one of the caller's people", body = ref("#/components/schemas/Errors")),
        (status = 409, description = "The key was used for another application", body = ref("#/components/schemas/Errors")),
        (status = 422, description = "One entry per bad answer (`answers.<key>`), or an unknown `service_code`", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = [], "csrf" = []), ("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    headers: HeaderMap,
    Body(body): Body<NewCase>,
) -> ApiResult {
    if !ctx.resident_persons()?.contains(&body.person_id) {
        return Err(AppError::NotFound.into());
    }
    let key = submit_key(&ctx, &headers)?;
    let s = service(&state, &body.service_code).map_err(|_| {
        AppError::Invalid(vec![(
            "service_code".into(),
            ctx.z(
                "没有该编码的在办服务事项",
                "No service item with this code is in force",
            ),
        )])
    })?;
    let lang = ctx.0.lang;
    let mut errors = Vec::new();
    let mut given = BTreeMap::new();
    for (k, v) in &body.answers {
        match answer_text(v) {
            Some(text) => {
                given.insert(k.clone(), text);
            }
            None => errors.push((
                format!("answers.{k}"),
                ctx.z("请给出 true/false 或文字", "Give true/false or text"),
            )),
        }
    }
    let answers = s.questions().parse_answers(&given).map_err(|problems| {
        errors.extend(
            problems
                .into_iter()
                .map(|(k, p)| (format!("answers.{k}"), p.message(lang))),
        );
    });
    let answers = match answers {
        Ok(a) if errors.is_empty() => a,
        _ => return Err(AppError::Invalid(errors).into()),
    };
    let ApiCtx(ctx) = ctx;
    let (case, filed) = file_case(&state, &ctx, s, body.person_id.clone(), &answers, key).await?;
    if !filed && (case.service_code != s.code().as_str() || case.person_id != body.person_id) {
        return Err(ApiError::Plain(
            StatusCode::CONFLICT,
            Some("Idempotency-Key".into()),
            crate::i18n::Tr { lang }
                .z(
                    "该 Idempotency-Key 已用于另一份申请，新的申请请使用新的标识",
                    "This Idempotency-Key was used for another application; use a new key for a new one",
                )
                .to_owned(),
        ));
    }
    let location = format!("/api/v1/cases/{}", case.id);
    let body = Json(detail(&state, &ctx, case));
    let status = if filed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(LOCATION, location)], body).into_response())
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Withdraw {
    /// The case's `version` as last read.
    version: i64,
}

/// Withdraw an application before its first review.
#[utoipa::path(
    post,
    path = "/cases/{id}/withdraw",
    operation_id = "withdraw_case",
    tag = "cases",
    params(("id" = String, Path, description = "The case's id"), super::LangQuery),
    request_body = Withdraw,
    responses(
        (status = 200, description = "Withdrawn: the case as it is now", body = CaseDetail),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "No CSRF header on a cookie session, or a staff session", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "No such case of the caller's people", body = ref("#/components/schemas/Errors")),
        (status = 409, description = "The case changed since it was read (a stale `version`), or is past the point where it can be withdrawn", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = [], "csrf" = []), ("bearer" = []))
)]
pub(super) async fn withdraw(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<String>,
    Body(body): Body<Withdraw>,
) -> ApiResult {
    ctx.resident_persons()?;
    let result = state
        .store
        .act_on_case(
            &ctx.0.actor(),
            &ctx.0.scope(),
            &id,
            body.version,
            Action::Withdraw,
            None,
        )
        .await;
    let refusal = |detail: String| ApiError::Plain(StatusCode::CONFLICT, None, detail);
    let case = match result {
        Ok(case) => case,
        Err(DbError::Conflict { current }) => {
            return Err(refusal(if ctx.0.lang == zhucan_core::Lang::Zh {
                format!("该申请在您读取后已有变化（当前版本为 {current}），请重新获取后再操作")
            } else {
                format!(
                    "The application has changed since you read it (it is now version {current}); fetch it again and retry"
                )
            }));
        }
        Err(DbError::Transition(e)) => return Err(refusal(e.message(ctx.0.lang))),
        Err(e) => return Err(e.into()),
    };
    let ApiCtx(ctx) = ctx;
    Ok(Json(detail(&state, &ctx, case)).into_response())
}
