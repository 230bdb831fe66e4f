//! One application as its applicant follows it: where it is and until when, each office of
//! the chain with its status, the result (the benefit granted, or why not), the materials,
//! what a case returned for correction (补正) lacks, withdrawal before the first review, and
//! the rating (好差评) of a finished case.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use zhucan_core::Lang;
use zhucan_services::{Action, State, Step};
use zhucan_store::{CaseEvent, CaseRecord, DbError, Rating};

use super::applications::{TimelineItem, case_service, own_case, step_name, timeline, z};
use super::materials::{FileRow, MaterialRow, material_rows};
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::forms::FormErrors;
use crate::render::{Layout, local_time, page};

/// Where a step of the chain stands for this case.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Current,
    /// Current, but waiting for the applicant's correction.
    WaitingForYou,
    ToCome,
    /// The case was rejected or withdrawn while here.
    Ended,
    /// The case ended before it got there.
    NotReached,
}

impl StepStatus {
    pub fn label(self, lang: Lang) -> String {
        let (zh, en) = match self {
            Self::Done => ("已完成", "done"),
            Self::Current => ("正在办理", "in progress"),
            Self::WaitingForYou => ("等待您补正", "waiting for your correction"),
            Self::ToCome => ("尚未开始", "not started yet"),
            Self::Ended => ("办理在此结束", "ended here"),
            Self::NotReached => ("未经过", "not reached"),
        };
        z(lang, zh, en)
    }

    /// The CSS class; the status is also written out, never shown by colour alone.
    pub fn class(self) -> &'static str {
        match self {
            Self::Done | Self::Ended => "done",
            Self::Current | Self::WaitingForYou => "current",
            Self::ToCome | Self::NotReached => "later",
        }
    }
}

/// One office of the chain on the case's progress list.
pub struct StepRow {
    pub office: String,
    pub status: StepStatus,
    /// When the case last arrived there (China time).
    pub arrived: Option<String>,
    /// When it left (China time).
    pub left: Option<String>,
    pub deadline: Option<String>,
}

/// Each step of `chain` with its status, from the case's state and its events.
fn step_rows(c: &CaseRecord, chain: &[Step], lang: Lang) -> Vec<StepRow> {
    let mut arrived = vec![None; chain.len()];
    let mut left = vec![None; chain.len()];
    let mut held: Option<usize> = None;
    // Where the case was when its last event (a rejection, a withdrawal) moved it.
    let mut last_held = None;
    for e in &c.events {
        last_held = held;
        let now = e.step.and_then(|s| usize::try_from(s).ok());
        if now != held {
            if let Some(old) = held.and_then(|h| left.get_mut(h)) {
                *old = Some(local_time(&e.at));
            }
            if let Some(new) = now.and_then(|n| arrived.get_mut(n)) {
                *new = Some(local_time(&e.at));
            }
            if let Some(n) = now.and_then(|n| left.get_mut(n)) {
                *n = None;
            }
        }
        held = now;
    }
    let past_review = matches!(
        c.state,
        State::Notice | State::Approved | State::Fulfilled | State::Closed
    );
    chain
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let status = match c.state.step() {
                Some(cur) if i == cur && matches!(c.state, State::Returned { .. }) => {
                    StepStatus::WaitingForYou
                }
                Some(cur) if i == cur => StepStatus::Current,
                Some(cur) if i < cur => StepStatus::Done,
                Some(_) => StepStatus::ToCome,
                None if past_review => StepStatus::Done,
                None if c.state == State::Draft => StepStatus::ToCome,
                None if last_held == Some(i) => StepStatus::Ended,
                None if arrived[i].is_some() => StepStatus::Done,
                None => StepStatus::NotReached,
            };
            StepRow {
                office: step.name(lang).to_owned(),
                deadline: matches!(status, StepStatus::Current)
                    .then(|| c.deadline.clone())
                    .flatten(),
                arrived: arrived[i].clone().filter(|_| status != StepStatus::ToCome),
                left: left[i]
                    .clone()
                    .filter(|_| matches!(status, StepStatus::Done | StepStatus::Ended)),
                status,
            }
        })
        .collect()
}

/// The comment of the latest event with one of `actions` (what is missing, why rejected).
fn last_comment(events: &[CaseEvent], actions: &[&str]) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|e| actions.contains(&e.action.as_str()))
        .and_then(|e| e.comment.clone())
}

/// What the case got: "¥1,234.00 每月，自 2026-05 起".
async fn result_text(state: &AppState, ctx: &Ctx, c: &CaseRecord) -> AppResult<Option<String>> {
    let lang = ctx.lang;
    let entitlement = state
        .store
        .entitlements(&ctx.scope(), &c.person_id)
        .await?
        .into_iter()
        .find(|e| e.case_id.as_deref() == Some(c.id.as_str()));
    if let Some(e) = entitlement {
        return Ok(Some(if lang == Lang::Zh {
            format!(
                "{}{}，自 {} 起发放",
                e.period.name(lang),
                e.amount,
                e.start_month
            )
        } else {
            format!(
                "{} {}, from {}",
                e.amount,
                e.period.name(lang),
                e.start_month
            )
        }));
    }
    Ok(c.award.as_ref().and_then(|a| a.amount).map(|amount| {
        let per = c
            .award
            .as_ref()
            .and_then(|a| a.per)
            .map(|p| p.name(lang))
            .unwrap_or_default();
        if lang == Lang::Zh {
            format!("{per}{amount}")
        } else {
            format!("{amount} {per}")
        }
    }))
}

/// The five levels of a rating, best last.
pub fn score_options(lang: Lang) -> Vec<(i64, String)> {
    [
        ("非常不满意", "Very dissatisfied"),
        ("不满意", "Dissatisfied"),
        ("一般", "Neither satisfied nor dissatisfied"),
        ("满意", "Satisfied"),
        ("非常满意", "Very satisfied"),
    ]
    .iter()
    .zip(1..)
    .map(|((zh, en), score)| (score, z(lang, zh, en)))
    .collect()
}

#[derive(Template)]
#[template(path = "portal/case.html")]
struct CasePage {
    l: Layout,
    c: CaseRecord,
    item: String,
    state: String,
    office: String,
    steps: Vec<StepRow>,
    timeline: Vec<TimelineItem>,
    missing: Option<String>,
    reason: Option<String>,
    result: Option<String>,
    materials: Vec<MaterialRow>,
    other: Vec<FileRow>,
    can_withdraw: bool,
    can_rate: bool,
    rating: Option<Rating>,
    scores: Vec<(i64, String)>,
    score: String,
    comment: String,
    saved: bool,
    errors: FormErrors,
}

/// The case page, with the rating form's values and errors when it is re-shown.
async fn case_page(
    state: &AppState,
    ctx: &Ctx,
    c: CaseRecord,
    saved: bool,
    (score, comment): (String, String),
    errors: FormErrors,
) -> AppResult<Response> {
    let lang = ctx.lang;
    let scope = ctx.scope();
    let item = case_service(state, &c)?;
    let chain = item.chain();
    let (materials, other) = material_rows(&item, &c, lang);
    let finished = matches!(c.state, State::Fulfilled | State::Closed | State::Rejected);
    let rating = if finished {
        state.store.rating(&scope, &c.id).await?
    } else {
        None
    };
    let result = if matches!(c.state, State::Approved | State::Fulfilled | State::Closed) {
        result_text(state, ctx, &c).await?
    } else {
        None
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (zh, en) = (
        format!("申请 {}", c.number),
        format!("Application {}", c.number),
    );
    let mut resp = page(&CasePage {
        l: if errors.is_empty() {
            Layout::new(ctx, &zh, &en)
        } else {
            Layout::new(ctx, &format!("错误：{zh}"), &format!("Error: {en}"))
        },
        item: item.name(lang).to_owned(),
        state: c.state.label(lang).to_owned(),
        office: step_name(c.step_code.as_deref(), lang),
        steps: step_rows(&c, chain, lang),
        timeline: timeline(&c, chain, lang),
        missing: matches!(c.state, State::Returned { .. })
            .then(|| last_comment(&c.events, &["return"]))
            .flatten(),
        reason: (c.state == State::Rejected)
            .then(|| last_comment(&c.events, &["reject", "objection_upheld"]))
            .flatten(),
        result,
        materials,
        other,
        can_withdraw: c.state == State::Submitted,
        can_rate: finished && rating.is_none(),
        rating,
        scores: score_options(lang),
        score,
        comment,
        saved,
        errors,
        c,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

/// `GET /me/cases/{id}`
pub async fn show(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> AppResult<Response> {
    let c = own_case(&state, &ctx, &id).await?;
    case_page(
        &state,
        &ctx,
        c,
        q.saved.is_some(),
        Default::default(),
        FormErrors::default(),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    version: i64,
}

/// `POST /me/cases/{id}/withdraw`: only before the first review.
pub async fn withdraw(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<WithdrawForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    ctx.resident_persons()?;
    state
        .store
        .act_on_case(
            &ctx.actor(),
            &ctx.scope(),
            &id,
            form.version,
            Action::Withdraw,
            None,
        )
        .await?;
    Ok(Redirect::to(&format!("/me/cases/{id}")).into_response())
}

#[derive(serde::Deserialize)]
pub struct RatingForm {
    csrf: String,
    score: Option<String>,
    #[serde(default)]
    comment: String,
}

/// `POST /me/cases/{id}/rating`: once, on a finished case; a poor rating (1 or 2) opens a
/// follow-up for the office (the store does that).
pub async fn rate(
    AxState(state): AxState<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RatingForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&form.csrf)?;
    let c = own_case(&state, &ctx, &id).await?;
    let lang = ctx.lang;
    let mut errors = FormErrors::default();
    let raw = form.score.unwrap_or_default();
    match raw.trim().parse::<i64>() {
        Err(_) => errors.add(
            "score",
            z(
                lang,
                "请选择您对本次办理的评价（1 到 5）",
                "Choose how satisfied you are (1 to 5)",
            ),
        ),
        Ok(score) => match state
            .store
            .rate_case(&ctx.actor(), &ctx.scope(), &id, score, &form.comment)
            .await
        {
            Ok(()) => return Ok(Redirect::to(&format!("/me/cases/{id}#rating")).into_response()),
            Err(DbError::Invalid { field, zh, en }) => {
                errors.add(field, if lang == Lang::Zh { zh } else { en })
            }
            Err(DbError::Duplicate(_)) => errors.add(
                "score",
                z(
                    lang,
                    "您已经评价过这份申请，每份申请只能评价一次",
                    "You have already rated this application; each can be rated once",
                ),
            ),
            Err(e) => return Err(e.into()),
        },
    }
    // The summary links to the first radio; the comment box has its own id.
    if let Some(e) = errors.items.iter_mut().find(|e| e.field == "score") {
        e.field = "score-1".into();
    }
    case_page(&state, &ctx, c, false, (raw, form.comment), errors).await
}
