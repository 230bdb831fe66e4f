//! `/api/v1`: the same operations as the pages, as JSON, for mobile, mini-program and partner
//! clients, described by the OpenAPI document at `/api/v1/openapi.json`.
//!
//! Callers sign in with a cookie session (writes then send the CSRF token in `X-CSRF-Token`)
//! or, without cookies, with `Authorization: Bearer <token>` from `POST /api/v1/session`.
//! Errors are `{"errors":[{"field":…,"detail":…}]}`, in the caller's language where they are
//! worded for people (`?lang=zh|en`, else the language cookie, else `Accept-Language`).

mod cases;
mod openapi;
mod persons;
mod services;
mod session;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zhucan_core::Lang;

use crate::AppState;
use crate::ctx::{Ctx, LANG_COOKIE, Principal, cookie};
use crate::error::AppError;

/// The API's routes, each registered with its OpenAPI description, and the document itself.
pub fn routes() -> Router<AppState> {
    let (router, spec) = api_router().split_for_parts();
    let spec = Arc::new(spec.to_json().expect("the OpenAPI document serializes"));
    router
        .layer(Extension(openapi::Document(spec)))
        .fallback(|| async { AppError::NotFound.into_json() })
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::document))
        .routes(routes!(session::request_code))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(persons::me))
        .routes(routes!(persons::list, persons::create))
        .routes(routes!(persons::show, persons::update))
        .routes(routes!(services::list))
        .routes(routes!(services::show))
        .routes(routes!(services::eligibility))
        .routes(routes!(cases::list, cases::create))
        .routes(routes!(cases::show))
        .routes(routes!(cases::withdraw))
}

/// JSON errors (`{"errors":[…]}`) instead of the HTML error page.
pub enum ApiError {
    App(AppError),
    /// A refusal worded for this case: status, the field it concerns (if any), and why.
    Plain(StatusCode, Option<String>, String),
}

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError::App(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::App(AppError::Unauthenticated { .. }) => {
                AppError::Unauthenticated { login: "" }.into_json()
            }
            ApiError::App(other) => other.into_json(),
            ApiError::Plain(status, field, detail) => (
                status,
                Json(json!({ "errors": [{ "field": field, "detail": detail }] })),
            )
                .into_response(),
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

/// The caller's context in the language they asked for, without the CSRF check: for signing
/// in, where there is no session yet. (A JSON body cannot be sent cross-site without a CORS
/// preflight, which this server never grants, and a token in a response body cannot be read
/// cross-site.)
struct LangCtx(Ctx);

/// The caller's context in their language, with the CSRF header checked for cookie-borne
/// writes.
struct ApiCtx(Ctx);

/// `?lang=`, which any route takes; documented on those whose answers are worded for people.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LangQuery {
    /// `zh` or `en`; else the language cookie, else `Accept-Language`, else Chinese.
    lang: Option<String>,
}

/// `en…` or `zh…`, whichever `Accept-Language` names first.
fn accept_language(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get("accept-language")?.to_str().ok()?;
    value.split(',').find_map(|tag| {
        let tag = tag.split(';').next()?.trim().to_ascii_lowercase();
        match tag.split('-').next()? {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    })
}

impl<S: Send + Sync> FromRequestParts<S> for LangCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<LangCtx, ApiError> {
        let mut ctx = Ctx::from_request_parts(parts, state).await?;
        let asked = Query::<LangQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Lang::from_code(&l));
        let chosen = cookie(&parts.headers, LANG_COOKIE).and_then(|l| Lang::from_code(&l));
        if let Some(lang) = asked.or(chosen).or_else(|| accept_language(&parts.headers)) {
            ctx.lang = lang;
        }
        Ok(LangCtx(ctx))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiCtx, ApiError> {
        let LangCtx(ctx) = LangCtx::from_request_parts(parts, state).await?;
        if !parts.method.is_safe() && !ctx.bearer {
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

impl ApiCtx {
    /// The people a signed-in resident or guardian acts for; staff are refused (403): these
    /// routes speak for the applicant.
    fn resident_persons(&self) -> Result<&[String], ApiError> {
        match &self.0.principal {
            Principal::Staff(_) => Err(AppError::Forbidden.into()),
            _ => Ok(self.0.resident_persons()?),
        }
    }

    fn z(&self, zh: &str, en: &str) -> String {
        crate::i18n::Tr { lang: self.0.lang }.z(zh, en).to_owned()
    }
}
