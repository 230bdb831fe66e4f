//! Applying online, GOV.UK style: a start page (who the application is for), one question per
//! page, the materials, "check your answers", then submit and a confirmation. Everything
//! entered lives in a draft case in the store, so a resident can stop and come back later,
//! on another device too.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use zhucan_core::Lang;
use zhucan_crypto::random_token;
use zhucan_services::{Action, ServiceVersion, State};
use zhucan_store::{CaseRecord, Channel, DbError, NewCase};

use super::applications::{
    QuestionView, case_service, editable, editable_case, own_case, own_cases, own_people,
    raw_answers, service, step_name, z,
};
use super::materials::{MaterialRow, material_rows, missing_materials};
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::render::{Layout, page};

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

/// 422 for a form re-shown with its errors.
fn status_of(errors: &FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// A page's layout; a page re-shown with errors says so first in its title.
fn layout(ctx: &Ctx, zh: &str, en: &str, errors: &FormErrors) -> Layout {
    if errors.is_empty() {
        Layout::new(ctx, zh, en)
    } else {
        Layout::new(ctx, &format!("错误：{zh}"), &format!("Error: {en}"))
    }
}

/// A form key: letters and digits, at most 64.
fn key_ok(key: &str) -> bool {
    !key.is_empty() && key.len() <= 64 && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// (case id, applicant, number) of a draft.
type DraftRow = (String, String, String);

#[derive(Template)]
#[template(path = "portal/apply.html")]
struct StartPage<'a> {
    l: Layout,
    s: &'a ServiceVersion,
    people: Vec<(String, String)>,
    person: String,
    start_key: String,
    drafts: Vec<DraftRow>,
    errors: FormErrors,
}

async fn start_page(
    state: &AppState,
    ctx: &Ctx,
    s: &ServiceVersion,
    start_key: String,
    errors: FormErrors,
) -> AppResult<Response> {
    let people = own_people(state, ctx).await?;
    let drafts = own_cases(state, ctx)
        .await?
        .into_iter()
        .filter(|c| c.state == State::Draft && c.service_code == s.code().as_str())
        .map(|c| (c.id, c.person_name, c.number))
        .collect();
    let zh = format!("申请{}", s.name(Lang::Zh));
    let en = format!("Apply: {}", s.name(Lang::En));
    let status = status_of(&errors);
    let resp = page(&StartPage {
        l: layout(ctx, &zh, &en, &errors),
        // One person needs no choosing; of several, none is chosen for the resident.
        person: match people.as_slice() {
            [only] => only.0.clone(),
            _ => String::new(),
        },
        people,
        s,
        start_key,
        drafts,
        errors,
    })?;
    Ok(with_status(resp, status))
}

/// `GET /services/{code}/apply`: the start page.
pub async fn start(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<Response> {
    ctx.resident_persons()?;
    let s = &service(&state, &code)?;
    start_page(&state, &ctx, s, random_token(16), FormErrors::default()).await
}

#[derive(serde::Deserialize)]
pub struct StartForm {
    csrf: String,
    start_key: String,
    #[serde(default)]
    person: String,
}

/// `POST /services/{code}/apply`: opens the draft, once per `start_key` (a start sent twice
/// opens one draft), and goes to its first page.
pub async fn begin(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    Form(form): Form<StartForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let persons = ctx.resident_persons()?.to_vec();
    let s = &service(&state, &code)?;
    if !key_ok(&form.start_key) {
        return Err(AppError::BadRequest("start_key".into()));
    }
    if !persons.contains(&form.person) {
        let mut errors = FormErrors::default();
        errors.add(
            "person",
            z(
                ctx.lang,
                "请选择为谁申请",
                "Choose who you are applying for",
            ),
        );
        return start_page(&state, &ctx, s, form.start_key, errors).await;
    }
    let c = state
        .store
        .create_case(
            &ctx.actor(),
            &ctx.scope(),
            NewCase {
                service: s,
                person_id: form.person,
                channel: Channel::Portal,
                answers: Value::Object(Default::default()),
                submit_key: Some(form.start_key),
            },
        )
        .await?;
    Ok(Redirect::to(&next_page(&state, &ctx, &c).await?).into_response())
}

/// Where a draft continues: its first unanswered question, then the materials while a
/// required one is missing, then the check page.
async fn next_page(state: &AppState, ctx: &Ctx, c: &CaseRecord) -> AppResult<String> {
    if !editable(c.state) {
        return Ok(format!("/me/cases/{}", c.id));
    }
    let s = &case_service(state, c)?;
    let raw = raw_answers(&c.answers);
    if let Some(n) = s.questions().iter().position(|q| {
        q.parse_answer(raw.get(q.key()).map_or("", String::as_str))
            .is_err()
    }) {
        return Ok(format!("/me/cases/{}/questions/{}", c.id, n + 1));
    }
    let (rows, _) = material_rows(s, c, ctx.lang);
    let mut missing = FormErrors::default();
    missing_materials(&rows, ctx.lang, &mut missing);
    Ok(if missing.is_empty() {
        format!("/me/cases/{}/check", c.id)
    } else {
        format!("/me/cases/{}/materials", c.id)
    })
}

/// `GET /me/cases/{id}/continue`: back to where the draft was left.
pub async fn resume(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let c = own_case(&state, &ctx, &id).await?;
    Ok(Redirect::to(&next_page(&state, &ctx, &c).await?).into_response())
}

#[derive(Template)]
#[template(path = "portal/question.html")]
struct QuestionPage {
    l: Layout,
    c: CaseRecord,
    item: String,
    q: QuestionView,
    n: usize,
    total: usize,
    back: String,
    change: bool,
    errors: FormErrors,
}

/// The question page `n` (1-based) of a case the applicant may still change, or where to go.
async fn question_page(
    state: &AppState,
    ctx: &Ctx,
    c: CaseRecord,
    n: usize,
    value: Option<&str>,
    change: bool,
    errors: FormErrors,
) -> AppResult<Response> {
    let s = &case_service(state, &c)?;
    let total = s.questions().iter().count();
    let q = s
        .questions()
        .iter()
        .nth(n.checked_sub(1).ok_or(AppError::NotFound)?)
        .ok_or(AppError::NotFound)?;
    let stored = raw_answers(&c.answers);
    let value = value
        .or(stored.get(q.key()).map(String::as_str))
        .unwrap_or("");
    let view = QuestionView::new(q, ctx.lang, value, errors.get("answer").cloned());
    let back = if change || c.state != State::Draft {
        format!("/me/cases/{}/check", c.id)
    } else if n > 1 {
        format!("/me/cases/{}/questions/{}", c.id, n - 1)
    } else {
        format!("/services/{}/apply", c.service_code)
    };
    let title = view.text.clone();
    let status = status_of(&errors);
    let resp = page(&QuestionPage {
        l: layout(ctx, &title, &title, &errors),
        item: state.service_name(&c.service_code, c.service_version, ctx.lang),
        c,
        q: view,
        n,
        total,
        back,
        change,
        errors,
    })?;
    Ok(with_status(resp, status))
}

#[derive(serde::Deserialize)]
pub struct ChangeQuery {
    change: Option<String>,
}

/// `GET /me/cases/{id}/questions/{n}`
pub async fn question(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path((id, n)): Path<(String, usize)>,
    Query(q): Query<ChangeQuery>,
) -> AppResult<Response> {
    let c = match editable_case(&state, &ctx, &id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    question_page(
        &state,
        &ctx,
        c,
        n,
        None,
        q.change.is_some(),
        FormErrors::default(),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct AnswerForm {
    csrf: String,
    version: i64,
    #[serde(default)]
    answer: String,
    change: Option<String>,
    /// "Save and come back later" rather than "Continue".
    save: Option<String>,
}

/// `POST /me/cases/{id}/questions/{n}`: checks and saves the answer, then goes on (or back to
/// the check page after a change, or to the case after "save and come back later", where an
/// empty answer may stay empty).
pub async fn answer(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path((id, n)): Path<(String, usize)>,
    Form(form): Form<AnswerForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let c = match editable_case(&state, &ctx, &id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let s = &case_service(&state, &c)?;
    let q = s
        .questions()
        .iter()
        .nth(n.checked_sub(1).ok_or(AppError::NotFound)?)
        .ok_or(AppError::NotFound)?;
    let saving = form.save.is_some();
    let change = form.change.is_some();
    let parsed = if saving && form.answer.trim().is_empty() {
        None
    } else {
        match q.parse_answer(&form.answer) {
            Ok(a) => Some(a),
            Err(e) => {
                let mut errors = FormErrors::default();
                errors.add("answer", e.message(ctx.lang));
                return question_page(&state, &ctx, c, n, Some(&form.answer), change, errors).await;
            }
        }
    };
    let c = match parsed {
        Some(a) => {
            let mut answers = c.answers.as_object().cloned().unwrap_or_default();
            answers.insert(
                q.key().to_owned(),
                serde_json::to_value(a).map_err(anyhow::Error::from)?,
            );
            match state
                .store
                .save_draft_answers(
                    &ctx.actor(),
                    &ctx.scope(),
                    &id,
                    form.version,
                    &Value::Object(answers),
                )
                .await
            {
                Ok(c) => c,
                Err(DbError::Conflict { .. }) => {
                    let mut errors = FormErrors::default();
                    errors.add("answer", changed_elsewhere(ctx.lang));
                    let fresh = own_case(&state, &ctx, &id).await?;
                    return question_page(
                        &state,
                        &ctx,
                        fresh,
                        n,
                        Some(&form.answer),
                        change,
                        errors,
                    )
                    .await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => c,
    };
    let total = s.questions().iter().count();
    let to = if saving {
        format!("/me/cases/{id}?saved=1")
    } else if change {
        format!("/me/cases/{id}/check")
    } else if n < total {
        format!("/me/cases/{id}/questions/{}", n + 1)
    } else if s.materials().is_empty() {
        format!("/me/cases/{id}/check")
    } else {
        format!("/me/cases/{}/materials", c.id)
    };
    Ok(Redirect::to(&to).into_response())
}

fn changed_elsewhere(lang: Lang) -> String {
    z(
        lang,
        "这份申请刚在别处（另一个窗口或设备）被修改过。请检查页面上的内容后再提交一次。",
        "This application was just changed elsewhere (another window or device). Check what the page shows now and send it again.",
    )
}

/// One answer on the check page, with the question page it is changed on.
pub struct AnswerRow {
    pub n: usize,
    pub q: QuestionView,
}

#[derive(Template)]
#[template(path = "portal/check.html")]
struct CheckPage {
    l: Layout,
    c: CaseRecord,
    item: String,
    answers: Vec<AnswerRow>,
    materials: Vec<MaterialRow>,
    has_materials: bool,
    confirm: bool,
    submit_key: String,
    resubmit: bool,
    errors: FormErrors,
}

/// What still stops the case from being sent: unanswered questions and missing materials.
async fn check_page(
    state: &AppState,
    ctx: &Ctx,
    c: CaseRecord,
    mut errors: FormErrors,
    confirm: bool,
    submit_key: String,
) -> AppResult<Response> {
    let lang = ctx.lang;
    let s = &case_service(state, &c)?;
    let raw = raw_answers(&c.answers);
    let mut answers = Vec::new();
    let mut problems = FormErrors::default();
    for (i, q) in s.questions().iter().enumerate() {
        let value = raw.get(q.key()).map_or("", String::as_str);
        let error = q.parse_answer(value).err().map(|e| e.message(lang));
        if let Some(e) = &error {
            problems.add(&format!("answer-{}", q.key()), e.clone());
        }
        answers.push(AnswerRow {
            n: i + 1,
            q: QuestionView::new(q, lang, value, error),
        });
    }
    let (mut materials, _) = material_rows(s, &c, lang);
    missing_materials(&materials, lang, &mut problems);
    for row in &mut materials {
        row.error = problems.get(&format!("material-{}", row.index)).cloned();
    }
    // What the page itself finds comes first, then what the submission added.
    problems.items.append(&mut errors.items);
    let status = if problems.get("send").is_some() {
        StatusCode::CONFLICT
    } else {
        status_of(&problems)
    };
    let resp = page(&CheckPage {
        l: layout(ctx, "检查您的回答", "Check your answers", &problems),
        item: state.service_name(&c.service_code, c.service_version, lang),
        resubmit: matches!(c.state, State::Returned { .. }),
        has_materials: !s.materials().is_empty(),
        c,
        answers,
        materials,
        confirm,
        submit_key,
        errors: problems,
    })?;
    Ok(with_status(resp, status))
}

/// `GET /me/cases/{id}/check`: "check your answers".
pub async fn check(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let c = match editable_case(&state, &ctx, &id).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let resp = check_page(
        &state,
        &ctx,
        c,
        FormErrors::default(),
        false,
        random_token(16),
    )
    .await?;
    // Unanswered questions are reported, but the page itself is fine to look at.
    Ok(with_status(resp, StatusCode::OK))
}

#[derive(serde::Deserialize)]
pub struct SubmitForm {
    csrf: String,
    version: i64,
    submit_key: String,
    confirm: Option<String>,
}

/// `POST /me/cases/{id}/submit`: sends a complete draft (once per `submit_key`: a second
/// send lands on the confirmation), or resubmits a case returned for correction.
pub async fn submit(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<SubmitForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    if !key_ok(&form.submit_key) {
        return Err(AppError::BadRequest("submit_key".into()));
    }
    let c = own_case(&state, &ctx, &id).await?;
    let confirmation = format!("/me/cases/{id}/confirmation");
    if !editable(c.state) {
        return Ok(Redirect::to(&confirmation).into_response());
    }
    let lang = ctx.lang;
    let s = &case_service(&state, &c)?;
    let mut errors = FormErrors::default();
    let complete = s
        .questions()
        .parse_answers(&raw_answers(&c.answers))
        .is_ok();
    let (rows, _) = material_rows(s, &c, lang);
    let mut missing = FormErrors::default();
    missing_materials(&rows, lang, &mut missing);
    let confirm = form.confirm.as_deref() == Some("yes");
    if !confirm {
        errors.add(
            "confirm",
            z(
                lang,
                "请勾选“我确认以上信息真实”",
                "Tick to confirm that the information is true",
            ),
        );
    }
    if !complete || !missing.is_empty() || !errors.is_empty() {
        return check_page(&state, &ctx, c, errors, confirm, form.submit_key).await;
    }
    let (actor, scope) = (ctx.actor(), ctx.scope());
    let sent = match c.state {
        State::Draft => {
            state
                .store
                .submit_case(&actor, &scope, &id, form.version, Some(&form.submit_key))
                .await
        }
        _ => {
            state
                .store
                .act_on_case(&actor, &scope, &id, form.version, Action::Resubmit, None)
                .await
        }
    };
    match sent {
        Ok(_) => Ok(Redirect::to(&confirmation).into_response()),
        Err(DbError::Conflict { .. }) => {
            errors.add("send", changed_elsewhere(lang));
            let fresh = own_case(&state, &ctx, &id).await?;
            check_page(&state, &ctx, fresh, errors, confirm, random_token(16)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/confirmation.html")]
struct ConfirmationPage {
    l: Layout,
    c: CaseRecord,
    item: String,
    office: String,
    resubmitted: bool,
}

/// `GET /me/cases/{id}/confirmation`: the panel with the case number, and what happens next.
pub async fn confirmation(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let c = own_case(&state, &ctx, &id).await?;
    if editable(c.state) {
        return Ok(Redirect::to(&format!("/me/cases/{id}/check")).into_response());
    }
    let lang = ctx.lang;
    let resubmitted = c.events.iter().any(|e| e.action == "resubmit");
    page(&ConfirmationPage {
        l: if resubmitted {
            Layout::new(&ctx, "补正材料已重新提交", "Application resubmitted")
        } else {
            Layout::new(&ctx, "申请已提交", "Application submitted")
        },
        item: state.service_name(&c.service_code, c.service_version, lang),
        office: step_name(c.step_code.as_deref(), lang),
        resubmitted,
        c,
    })
}
