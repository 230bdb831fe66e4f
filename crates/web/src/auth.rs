//! Signing in and out. Staff use user name + password (Argon2id); residents and guardians use
//! their phone and a one-time code sent through the notification outbox. Sessions are rows in
//! the database; failed attempts are counted there too, so limits hold across instances.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::Duration;
use zhucan_core::{Lang, Phone};
use zhucan_crypto::{random_digits, random_token, sm3_hex};
use zhucan_store::{Account, AttemptId, AttemptLimits, OneTimeCode, SessionKind};

use crate::AppState;
use crate::ctx::{CSRF_COOKIE, Ctx, ELDER_COOKIE, LANG_COOKIE, SESSION_COOKIE, set_cookie};
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::render::{Layout, page};

/// Failures allowed in 15 minutes: 5 for one user name (or phone) from one address, 50 for it
/// from anywhere (so one address cannot lock the real user out everywhere), 30 from one address.
const LIMITS: AttemptLimits = AttemptLimits {
    window: Duration::minutes(15),
    per_subject_client: 5,
    per_subject: 50,
    per_client: 30,
};
const STAFF_SESSION: Duration = Duration::hours(8);
const RESIDENT_SESSION: Duration = Duration::hours(2);
pub(crate) const CODE_LIFETIME: Duration = Duration::minutes(5);
const CODE_TRIES: i64 = 5;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    // Hex is a subset of the B64 alphabet: 128 random bits as a salt.
    let salt = SaltString::from_b64(&random_token(16)).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Verifies off the async workers (Argon2 is deliberately slow). Unknown users are checked
/// against a fixed hash so response time does not reveal which user names exist.
async fn verify_password(hash: Option<String>, password: String) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| {
        DUMMY
            .get_or_init(|| hash_password("not-a-password").unwrap_or_default())
            .clone()
    });
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
        && known
}

/// A session just stored: the token its holder sends (only its hash is kept) and its CSRF
/// token.
pub(crate) struct NewSession {
    pub token: String,
    pub csrf: String,
    pub lifetime: Duration,
}

/// Stores a new session of `kind`.
pub(crate) async fn open_session(
    state: &AppState,
    kind: SessionKind,
    account: Option<&Account>,
    phone_index: Option<&[u8]>,
) -> AppResult<NewSession> {
    let token = random_token(32);
    let csrf = random_token(32);
    let lifetime = if kind == SessionKind::Staff {
        STAFF_SESSION
    } else {
        RESIDENT_SESSION
    };
    state
        .store
        .create_session(
            &sm3_hex(token.as_bytes()),
            kind,
            account.map(|a| a.id.as_str()),
            phone_index,
            &csrf,
            lifetime,
        )
        .await?;
    Ok(NewSession {
        token,
        csrf,
        lifetime,
    })
}

/// Starts a session and returns its cookies; the CSRF token is renewed at sign-in.
async fn start_session(
    state: &AppState,
    ctx: &Ctx,
    kind: SessionKind,
    account: Option<&Account>,
    phone_index: Option<&[u8]>,
) -> AppResult<HeaderMap> {
    if let Some(old) = &ctx.session_hash {
        state.end_session(old).await?;
    }
    let NewSession {
        token,
        csrf,
        lifetime,
    } = open_session(state, kind, account, phone_index).await?;
    let mut headers = HeaderMap::new();
    let secure = state.config.secure_cookies;
    headers.append(
        SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token,
            Some(lifetime.whole_seconds()),
            secure,
        ),
    );
    headers.append(SET_COOKIE, set_cookie(CSRF_COOKIE, &csrf, None, secure));
    Ok(headers)
}

/// Counts the attempt (as failed until it succeeds) or refuses it when a limit is reached.
async fn count_attempt(state: &AppState, subject: &str, client: &str) -> AppResult<AttemptId> {
    state
        .store
        .begin_login_attempt(subject, client, &LIMITS)
        .await?
        .map_err(AppError::TooManyAttempts)
}

/// Only local paths, so a crafted link cannot send someone to another site after sign-in.
fn local_path(next: Option<&str>, default: &'static str) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => default.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "staff/login.html")]
struct StaffLoginPage {
    l: Layout,
    errors: FormErrors,
    username: String,
    next: String,
    demo: bool,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn staff_login_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    staff_login_page(
        &ctx,
        &state,
        FormErrors::default(),
        String::new(),
        q.next.as_deref(),
    )
}

fn staff_login_page(
    ctx: &Ctx,
    state: &AppState,
    errors: FormErrors,
    username: String,
    next: Option<&str>,
) -> AppResult<Response> {
    page(&StaffLoginPage {
        l: Layout::new(ctx, "工作人员登录", "Staff sign-in"),
        errors,
        username,
        next: local_path(next, "/staff"),
        demo: state.config.demo,
    })
}

#[derive(Deserialize)]
pub struct StaffLogin {
    #[serde(default)]
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn staff_login(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<StaffLogin>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let username = form.username.trim().to_lowercase();
    let mut errors = FormErrors::default();
    let t = crate::i18n::Tr { lang: ctx.lang };
    if username.is_empty() {
        errors.add("username", t.z("请输入用户名", "Enter your user name"));
    }
    if form.password.is_empty() {
        errors.add("password", t.z("请输入密码", "Enter your password"));
    }
    if errors.is_empty() {
        let attempt = count_attempt(&state, &username, &ctx.client).await?;
        let account = state
            .store
            .account_by_username(&username)
            .await?
            .filter(|a| a.active);
        let ok = verify_password(
            account.as_ref().map(|a| a.password_hash.clone()),
            form.password,
        )
        .await;
        if let (true, Some(account)) = (ok, account) {
            state.store.login_attempt_succeeded(attempt).await?;
            let headers =
                start_session(&state, &ctx, SessionKind::Staff, Some(&account), None).await?;
            let actor = zhucan_store::Actor {
                id: format!("account:{}", account.username.as_str()),
                role: account.role.slug().to_owned(),
                client: Some(ctx.client.clone()),
            };
            state
                .store
                .audit_event(&actor, "sign-in", "account", &account.id, None)
                .await?;
            return Ok((
                headers,
                Redirect::to(&local_path(form.next.as_deref(), "/staff")),
            )
                .into_response());
        }
        errors.add(
            "username",
            t.z(
                "用户名或密码不正确",
                "The user name or password is not right",
            ),
        );
    }
    staff_login_page(&ctx, &state, errors, username, form.next.as_deref())
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct ResidentLoginPage {
    l: Layout,
    errors: FormErrors,
    phone: String,
    code_sent: bool,
    demo: bool,
}

fn resident_login_page(
    ctx: &Ctx,
    state: &AppState,
    errors: FormErrors,
    phone: String,
    code_sent: bool,
) -> AppResult<Response> {
    page(&ResidentLoginPage {
        l: Layout::new(ctx, "居民登录", "Resident sign-in"),
        errors,
        phone,
        code_sent,
        demo: state.config.demo,
    })
}

pub async fn resident_login_form(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    resident_login_page(&ctx, &state, FormErrors::default(), String::new(), false)
}

#[derive(Deserialize)]
pub struct CodeRequest {
    #[serde(default)]
    csrf: String,
    phone: String,
}

fn code_hash(phone_index: &[u8], code: &str) -> String {
    sm3_hex(&[phone_index, code.as_bytes()].concat())
}

/// The mobile number a resident signs in with.
pub(crate) fn parse_phone(lang: Lang, raw: &str) -> Result<Phone, FormErrors> {
    let mut errors = FormErrors::default();
    errors
        .required(
            lang,
            "phone",
            ("请输入手机号码", "Enter your mobile number"),
            raw,
            Phone::parse,
        )
        .ok_or(errors)
}

/// The number and the one-time code of a resident's sign-in, every problem named.
pub(crate) fn parse_code<'a>(
    lang: Lang,
    raw_phone: &str,
    raw_code: &'a str,
) -> Result<(Phone, &'a str), FormErrors> {
    let (phone, mut errors) = match parse_phone(lang, raw_phone) {
        Ok(phone) => (Some(phone), FormErrors::default()),
        Err(errors) => (None, errors),
    };
    let code = raw_code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        errors.add(
            "code",
            crate::i18n::Tr { lang }.z(
                "请输入短信中的 6 位数字验证码",
                "Enter the 6-digit code from the text message",
            ),
        );
    }
    match phone {
        Some(phone) if errors.is_empty() => Ok((phone, code)),
        _ => Err(errors),
    }
}

/// Sends a sign-in code to any well-formed number, registered or not, so the caller does not
/// learn who is in the registry; only a registered number can then sign in.
pub(crate) async fn send_code(state: &AppState, ctx: &Ctx, phone: &Phone) -> AppResult<()> {
    let index = state.store.crypto().blind_index(b"phone", phone.as_str());
    let subject = format!("code:{}", sm3_hex(&index));
    // Each code sent counts as a failed attempt, which caps messages per number.
    let _sent = count_attempt(state, &subject, &ctx.client).await?;
    let code = random_digits(6);
    state
        .store
        .create_one_time_code(&index, &code_hash(&index, &code), CODE_LIFETIME)
        .await?;
    let body = if ctx.lang == Lang::Zh {
        format!("【龙泉驿区残联】您的登录验证码是 {code}，5 分钟内有效。请勿告诉他人。")
    } else {
        format!(
            "[Longquanyi DPF] Your sign-in code is {code}. It expires in 5 minutes. Do not share it."
        )
    };
    state.store.enqueue_sms(phone, &body).await?;
    Ok(())
}

/// Why a resident's code did not sign them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The code was right, but the number is no registered person's or guardian's.
    NotRegistered,
    Wrong,
    /// Expired, used, or tried too often.
    Unusable,
}

impl Refusal {
    pub(crate) fn message(self, lang: Lang) -> &'static str {
        let t = crate::i18n::Tr { lang };
        match self {
            Refusal::NotRegistered => t.z(
                "该手机号码未登记在残疾人名册中，请联系所在社区",
                "This number is not in the registry; please contact your community office",
            ),
            Refusal::Wrong => t.z(
                "验证码不正确，请重新输入",
                "The code is not right; try again",
            ),
            Refusal::Unusable => t.z(
                "验证码已失效，请重新获取",
                "The code has expired or was tried too often; ask for a new one",
            ),
        }
    }
}

/// Checks a resident's one-time code (rate-limited, counted, and audited on success) and
/// gives the blind index of the phone they proved they hold.
pub(crate) async fn check_code(
    state: &AppState,
    ctx: &Ctx,
    phone: &Phone,
    code: &str,
) -> AppResult<Result<Vec<u8>, Refusal>> {
    let index = state.store.crypto().blind_index(b"phone", phone.as_str());
    let subject = format!("verify:{}", sm3_hex(&index));
    let attempt = count_attempt(state, &subject, &ctx.client).await?;
    let result = state
        .store
        .check_one_time_code(&index, &code_hash(&index, code), CODE_TRIES)
        .await?;
    let persons = state.store.persons_for_phone(&index).await?;
    let outcome = match result {
        OneTimeCode::Valid if persons.is_empty() => Err(Refusal::NotRegistered),
        OneTimeCode::Valid => Ok(index),
        OneTimeCode::Wrong => Err(Refusal::Wrong),
        OneTimeCode::Unusable => Err(Refusal::Unusable),
    };
    if let Ok(index) = &outcome {
        state.store.login_attempt_succeeded(attempt).await?;
        let actor = zhucan_store::Actor {
            id: format!("resident:{}", &sm3_hex(index)[..16]),
            role: "resident".into(),
            client: Some(ctx.client.clone()),
        };
        state
            .store
            .audit_event(&actor, "sign-in", "resident", &persons.join(","), None)
            .await?;
    }
    Ok(outcome)
}

/// `POST /login/code`
pub async fn request_code(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CodeRequest>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let phone = match parse_phone(ctx.lang, &form.phone) {
        Ok(phone) => phone,
        Err(errors) => return resident_login_page(&ctx, &state, errors, form.phone, false),
    };
    send_code(&state, &ctx, &phone).await?;
    resident_login_page(
        &ctx,
        &state,
        FormErrors::default(),
        phone.as_str().to_owned(),
        true,
    )
}

#[derive(Deserialize)]
pub struct CodeCheck {
    #[serde(default)]
    csrf: String,
    phone: String,
    code: String,
}

pub async fn verify_code(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CodeCheck>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let (phone, code) = match parse_code(ctx.lang, &form.phone, &form.code) {
        Ok(input) => input,
        Err(errors) => return resident_login_page(&ctx, &state, errors, form.phone, true),
    };
    let refusal = match check_code(&state, &ctx, &phone, code).await? {
        Ok(index) => {
            let headers =
                start_session(&state, &ctx, SessionKind::Resident, None, Some(&index)).await?;
            return Ok((headers, Redirect::to("/me")).into_response());
        }
        Err(refusal) => refusal,
    };
    let mut errors = FormErrors::default();
    errors.add("code", refusal.message(ctx.lang));
    resident_login_page(
        &ctx,
        &state,
        errors,
        phone.as_str().to_owned(),
        refusal != Refusal::Unusable,
    )
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CsrfOnly>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    if let Some(hash) = &ctx.session_hash {
        state.end_session(hash).await?;
    }
    let mut headers = HeaderMap::new();
    headers.append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), state.config.secure_cookies),
    );
    let to = if matches!(ctx.principal, crate::ctx::Principal::Staff(_)) {
        "/staff/login"
    } else {
        "/"
    };
    Ok((headers, Redirect::to(to)).into_response())
}

#[derive(Deserialize)]
pub struct Prefs {
    lang: Option<String>,
    elder: Option<String>,
    back: Option<String>,
}

/// Language and elder mode persist in long-lived cookies; both are display preferences only.
pub async fn prefs(State(state): State<AppState>, Query(q): Query<Prefs>) -> Response {
    let year = Some(365 * 24 * 3600);
    let secure = state.config.secure_cookies;
    let mut headers = HeaderMap::new();
    if let Some(lang) = q.lang.as_deref().and_then(Lang::from_code) {
        headers.append(
            SET_COOKIE,
            set_cookie(LANG_COOKIE, lang.code(), year, secure),
        );
    }
    if let Some(elder) = q.elder.as_deref() {
        headers.append(
            SET_COOKIE,
            set_cookie(
                ELDER_COOKIE,
                if elder == "1" { "1" } else { "0" },
                year,
                secure,
            ),
        );
    }
    (headers, Redirect::to(&local_path(q.back.as_deref(), "/"))).into_response()
}
