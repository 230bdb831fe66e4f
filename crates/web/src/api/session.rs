//! Signing in without cookies, for mobile and mini-program clients: a one-time code by text
//! message, exchanged for a bearer token (a database session, like the portal's cookie). The
//! checks, limits and audit are the portal sign-in's own (`crate::auth`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhucan_store::SessionKind;

use super::{ApiCtx, ApiError, ApiResult, Body, LangCtx};
use crate::AppState;
use crate::auth::{CODE_LIFETIME, check_code, open_session, parse_code, parse_phone, send_code};
use crate::ctx::token_hash;
use crate::error::AppError;

#[derive(Deserialize, ToSchema)]
pub(super) struct CodeRequest {
    /// A mainland mobile number, e.g. `13800000001`.
    phone: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct CodeSent {
    /// How long the code can be used.
    expires_in_seconds: i64,
}

/// Send a sign-in code by text message. Any well-formed number gets one, so the answer does
/// not reveal who is in the registry; only a registered number can then sign in.
#[utoipa::path(
    post,
    path = "/session/code",
    operation_id = "request_code",
    tag = "session",
    params(super::LangQuery),
    request_body = CodeRequest,
    responses(
        (status = 202, description = "The code is on its way", body = CodeSent),
        (status = 422, description = "The number is missing or not a mobile number", body = ref("#/components/schemas/Errors")),
        (status = 429, description = "Too many codes for this number or from this client; wait 15 minutes", body = ref("#/components/schemas/Errors")),
    )
)]
pub(super) async fn request_code(
    State(state): State<AppState>,
    LangCtx(ctx): LangCtx,
    Body(body): Body<CodeRequest>,
) -> ApiResult {
    let phone = parse_phone(ctx.lang, &body.phone).map_err(invalid)?;
    send_code(&state, &ctx, &phone).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            expires_in_seconds: CODE_LIFETIME.whole_seconds(),
        }),
    )
        .into_response())
}

fn invalid(errors: crate::forms::FormErrors) -> ApiError {
    AppError::Invalid(errors.into_fields()).into()
}

#[derive(Deserialize, ToSchema)]
pub(super) struct SignIn {
    phone: String,
    /// The 6 digits from the text message.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Token {
    /// Send as `Authorization: Bearer <token>`; no CSRF header is needed then.
    token: String,
    /// RFC 3339, UTC.
    expires_at: String,
}

/// Exchange the code for a bearer token.
#[utoipa::path(
    post,
    path = "/session",
    operation_id = "sign_in",
    tag = "session",
    params(super::LangQuery),
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in", body = Token),
        (status = 422, description = "The code is wrong, expired or used up, or the number is not in the registry (`field`: `code`); or the input is malformed", body = ref("#/components/schemas/Errors")),
        (status = 429, description = "Too many tries; wait 15 minutes", body = ref("#/components/schemas/Errors")),
    )
)]
pub(super) async fn sign_in(
    State(state): State<AppState>,
    LangCtx(ctx): LangCtx,
    Body(body): Body<SignIn>,
) -> ApiResult {
    let (phone, code) = parse_code(ctx.lang, &body.phone, &body.code).map_err(invalid)?;
    let index = match check_code(&state, &ctx, &phone, code).await? {
        Ok(index) => index,
        Err(refusal) => {
            return Err(AppError::Invalid(vec![(
                "code".into(),
                refusal.message(ctx.lang).to_owned(),
            )])
            .into());
        }
    };
    let session = open_session(&state, SessionKind::Resident, None, Some(&index)).await?;
    let stored = state
        .store
        .session(&token_hash(&session.token))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the new session is not stored"))?;
    Ok((
        StatusCode::CREATED,
        Json(Token {
            token: session.token,
            expires_at: stored.expires_at,
        }),
    )
        .into_response())
}

/// Sign out: the token (or cookie session) stops working.
#[utoipa::path(
    delete,
    path = "/session",
    operation_id = "sign_out",
    tag = "session",
    responses(
        (status = 204, description = "Signed out (also when no session was live)"),
        (status = 403, description = "No CSRF header on a cookie session", body = ref("#/components/schemas/Errors")),
    ),
    security(("bearer" = []), ("session" = [], "csrf" = []))
)]
pub(super) async fn sign_out(State(state): State<AppState>, ApiCtx(ctx): ApiCtx) -> ApiResult {
    if let Some(hash) = &ctx.session_hash {
        state.end_session(hash).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
