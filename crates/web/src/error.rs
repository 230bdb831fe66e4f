//! One error type for every handler. Pages get an accessible HTML error page; `/api` gets
//! `{"errors":[{"field":…,"detail":…}]}`. Internal details go to the log, never to the user.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use zhucan_store::{AttemptLimit, DbError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Also what a caller outside the record's scope gets, so scope does not leak existence.
    #[error("not found")]
    NotFound,
    /// Sends the visitor to the sign-in page for their side (portal or workbench).
    #[error("sign-in required")]
    Unauthenticated { login: &'static str },
    #[error("forbidden")]
    Forbidden,
    #[error("the form has expired; reload the page and try again")]
    Csrf,
    #[error("too many attempts")]
    TooManyAttempts(AttemptLimit),
    #[error("{0}")]
    BadRequest(String),
    /// Field errors for an API request: (field, detail).
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    #[error("the record was changed by someone else")]
    Conflict,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e {
            DbError::NotFound => AppError::NotFound,
            DbError::Conflict { .. } => AppError::Conflict,
            DbError::Duplicate(what) => {
                let field = match what {
                    "resident ID" => "resident_id",
                    "certificate number" => "certificate_no",
                    other => other,
                };
                AppError::Invalid(vec![(field.into(), format!("{what} already exists"))])
            }
            DbError::Transition(e) => AppError::BadRequest(e.message(zhucan_core::Lang::Zh)),
            DbError::Claimed { .. } => AppError::BadRequest(
                "该办件已由其他审核员认领，认领人处理前不能作出决定 / \
                 another reviewer has claimed this case"
                    .into(),
            ),
            DbError::Outcome(e) => {
                AppError::Invalid(vec![("award".into(), e.message(zhucan_core::Lang::Zh))])
            }
            DbError::Invalid { field, zh, en } => {
                AppError::Invalid(vec![(field.into(), format!("{zh} / {en}"))])
            }
            DbError::RateLimited { .. } => AppError::TooManyAttempts(AttemptLimit::Client),
            DbError::UnknownDivision(code) => AppError::Invalid(vec![(
                "division_code".into(),
                format!("division {code} is not in the division table"),
            )]),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> AppError {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict => StatusCode::CONFLICT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (Chinese, English) text for the error page.
    fn texts(&self) -> (&'static str, &'static str) {
        match self {
            AppError::NotFound => ("找不到该页面或记录", "Page or record not found"),
            AppError::Unauthenticated { .. } => ("请先登录", "Please sign in"),
            AppError::Forbidden => ("您没有权限执行此操作", "You are not allowed to do this"),
            AppError::Csrf => (
                "表单已过期，请刷新页面后重试",
                "The form has expired; reload the page and try again",
            ),
            AppError::TooManyAttempts(AttemptLimit::SubjectFromClient) => (
                "该账号在本设备上尝试次数过多，请 15 分钟后再试",
                "Too many attempts for this account from this device; try again in 15 minutes",
            ),
            AppError::TooManyAttempts(AttemptLimit::Subject) => (
                "该账号近期失败次数过多，已暂停登录 15 分钟；如非本人操作，请联系管理员",
                "Too many failed attempts for this account; sign-in is paused for 15 minutes. \
                 If this was not you, tell your administrator",
            ),
            AppError::TooManyAttempts(AttemptLimit::Client) => (
                "本网络地址尝试次数过多，请 15 分钟后再试",
                "Too many attempts from this network address; try again in 15 minutes",
            ),
            AppError::BadRequest(_) | AppError::Invalid(_) => {
                ("请求有误", "The request is not valid")
            }
            AppError::Conflict => (
                "该记录已被他人修改，请重新打开后再编辑",
                "Someone else changed this record; reopen it and edit again",
            ),
            AppError::Internal(_) => (
                "系统出错了，请稍后再试",
                "Something went wrong; please try again later",
            ),
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::BadRequest(m) => m.clone(),
            AppError::Internal(_) => String::new(),
            other => other.to_string(),
        }
    }

    pub fn into_json(self) -> Response {
        let status = self.status();
        if let AppError::Internal(e) = &self {
            tracing::error!(error = %e, "internal error");
        }
        let errors = match self {
            AppError::Invalid(fields) => fields
                .into_iter()
                .map(|(field, detail)| json!({ "field": field, "detail": detail }))
                .collect(),
            other => {
                vec![json!({ "field": null, "detail": other.texts().1, "message": other.detail() })]
            }
        };
        (status, Json(json!({ "errors": errors }))).into_response()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(e) => tracing::error!(error = %e, "internal error"),
            AppError::Unauthenticated { login } => return Redirect::to(login).into_response(),
            _ => {}
        }
        let (zh, en) = self.texts();
        let detail = self.detail();
        let detail = if detail.is_empty() || detail == en {
            String::new()
        } else {
            format!("<p lang=\"en\">{}</p>", crate::render::escape(&detail))
        };
        // Self-contained on purpose: it must render even when templates or the store fail.
        let page = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{zh} - 助残</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><a class=\"skip-link\" href=\"#main\">跳到主要内容</a>\
             <header class=\"site-header\"><a class=\"brand\" href=\"/\">助残 · 智慧残联</a></header>\
             <main id=\"main\" class=\"container\" tabindex=\"-1\"><h1>{zh}</h1><p lang=\"en\">{en}</p>{detail}\
             <p><a href=\"/\">返回首页 / Home</a> · <a href=\"/staff\">工作台 / Workbench</a></p></main></body></html>"
        );
        (status, Html(page)).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
