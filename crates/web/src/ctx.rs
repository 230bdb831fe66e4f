//! Per-request context: who is asking (from the session cookie, or for API clients without
//! cookies an `Authorization: Bearer` token), in which language and display mode, and the CSRF
//! token their forms must carry.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use zhucan_core::{Lang, Role};
use zhucan_crypto::{constant_time_eq, random_token, sm3_hex};
use zhucan_store::{Account, Actor, Scope, SessionKind};

use crate::AppState;
use crate::error::{AppError, AppResult};

pub const SESSION_COOKIE: &str = "zhucan_session";
pub const CSRF_COOKIE: &str = "zhucan_csrf";
pub const LANG_COOKIE: &str = "zhucan_lang";
pub const ELDER_COOKIE: &str = "zhucan_elder";

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Staff(Account),
    /// A resident or guardian who proved they hold a phone; `persons` are the records it may see.
    Resident {
        phone_index: Vec<u8>,
        persons: Vec<String>,
        /// Their unread in-app messages, for the navigation.
        unread: i64,
    },
}

#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub elder: bool,
    pub csrf: String,
    pub principal: Principal,
    pub client: String,
    /// Path and query of this request, for "back" links after switching language or mode.
    pub here: String,
    pub session_hash: Option<String>,
    /// The session came in an `Authorization: Bearer` header, which a browser never adds on
    /// its own: such a request cannot be a forged cross-site one and needs no CSRF token.
    pub bearer: bool,
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `HttpOnly; SameSite=Lax` always; `Secure` behind HTTPS. `max_age` None = browser session.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are ASCII tokens")
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

pub fn token_hash(token: &str) -> String {
    sm3_hex(token.as_bytes())
}

fn client_address(req: &Request, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| {
            req.headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(|s| s.trim().to_owned())
        })
        .flatten();
    forwarded
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "local".to_owned())
}

async fn principal(
    state: &AppState,
    token: Option<&str>,
) -> AppResult<(Principal, Option<String>, Option<String>)> {
    let Some(token) = token else {
        return Ok((Principal::Anonymous, None, None));
    };
    let hash = token_hash(token);
    if let Some((principal, csrf)) = state.sessions.get(&hash) {
        return Ok((principal, Some(hash), Some(csrf)));
    }
    let Some(session) = state.store.session(&hash).await? else {
        return Ok((Principal::Anonymous, None, None));
    };
    let principal = match session.kind {
        SessionKind::Staff => match session.account_id.as_deref() {
            Some(id) => match state.store.account(id).await? {
                Some(account) if account.active => Principal::Staff(account),
                _ => Principal::Anonymous,
            },
            None => Principal::Anonymous,
        },
        SessionKind::Resident => match session.phone_index {
            Some(phone_index) => {
                let persons = state.store.persons_for_phone(&phone_index).await?;
                let unread = state.store.unread_messages(&persons).await?;
                Principal::Resident {
                    phone_index,
                    persons,
                    unread,
                }
            }
            None => Principal::Anonymous,
        },
    };
    state.sessions.put(&hash, &principal, &session.csrf_token);
    Ok((principal, Some(hash), Some(session.csrf_token)))
}

/// Middleware: builds the [`Ctx`], refuses cross-origin writes, and hands a new visitor their
/// CSRF cookie. The token itself is checked where the form is read (`Ctx::check_csrf`).
pub async fn context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let lang = cookie(headers, LANG_COOKIE)
        .and_then(|l| Lang::from_code(&l))
        .unwrap_or_default();
    let elder = cookie(headers, ELDER_COOKIE).as_deref() == Some("1");
    let csrf_cookie = cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64);
    let bearer = bearer_token(headers);
    let session_token = bearer.clone().or_else(|| cookie(headers, SESSION_COOKIE));
    let (principal, session_hash, session_csrf) =
        match principal(&state, session_token.as_deref()).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
    let new_cookie = csrf_cookie.is_none().then(|| random_token(32));
    let csrf = session_csrf
        .or(csrf_cookie)
        .or_else(|| new_cookie.clone())
        .unwrap_or_default();
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let ctx = Ctx {
        lang,
        elder,
        csrf,
        principal,
        client: client_address(&req, state.config.trust_proxy),
        here,
        session_hash,
        bearer: bearer.is_some(),
    };
    if !ctx.bearer
        && req.method() != Method::GET
        && req.method() != Method::HEAD
        && let Err(e) = check_origin(req.headers())
    {
        return e.into_response();
    }
    req.extensions_mut().insert(ctx);
    let mut response = next.run(req).await;
    if let Some(token) = new_cookie {
        response.headers_mut().append(
            SET_COOKIE,
            set_cookie(CSRF_COOKIE, &token, None, state.config.secure_cookies),
        );
    }
    response
}

/// A cross-site form post carries a foreign `Origin`; same-site requests and clients that send
/// none (curl, old browsers) fall through to the token check.
fn check_origin(headers: &HeaderMap) -> AppResult<()> {
    let (Some(origin), Some(host)) = (headers.get("origin"), headers.get("host")) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let host = host.to_str().unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    if origin == "null" || origin_host != host {
        return Err(AppError::Csrf);
    }
    Ok(())
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, AppError> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("context middleware missing")))
    }
}

impl Ctx {
    pub fn check_csrf(&self, submitted: &str) -> AppResult<()> {
        if !self.csrf.is_empty() && constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }

    pub fn staff(&self) -> AppResult<&Account> {
        match &self.principal {
            Principal::Staff(account) => Ok(account),
            _ => Err(AppError::Unauthenticated {
                login: "/staff/login",
            }),
        }
    }

    /// The signed-in staff member, if their role passes `allowed`.
    pub fn staff_with(&self, allowed: fn(Role) -> bool) -> AppResult<&Account> {
        let account = self.staff()?;
        if allowed(account.role) {
            Ok(account)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn resident_persons(&self) -> AppResult<&[String]> {
        match &self.principal {
            Principal::Resident { persons, .. } => Ok(persons),
            _ => Err(AppError::Unauthenticated { login: "/login" }),
        }
    }

    pub fn actor(&self) -> Actor {
        let (id, role) = match &self.principal {
            Principal::Anonymous => ("anonymous".to_owned(), "anonymous".to_owned()),
            Principal::Staff(a) => (
                format!("account:{}", a.username.as_str()),
                a.role.slug().to_owned(),
            ),
            Principal::Resident { phone_index, .. } => (
                format!("resident:{}", &sm3_hex(phone_index)[..16]),
                "resident".to_owned(),
            ),
        };
        Actor {
            id,
            role,
            client: Some(self.client.clone()),
        }
    }

    /// What the caller may see: staff their division, residents their own records.
    pub fn scope(&self) -> Scope {
        match &self.principal {
            Principal::Staff(a) => Scope::Division(a.scope.clone()),
            Principal::Resident { persons, .. } => Scope::Persons(persons.clone()),
            Principal::Anonymous => Scope::Persons(Vec::new()),
        }
    }
}
