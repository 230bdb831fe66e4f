//! The residents' side of online applications, the parts every page shares: the item a case
//! is for, the resident's people and cases, the answers as a form shows them, the event
//! timeline, and the list of a resident's (and their wards') cases. The journey itself is in
//! `apply` (start, questions, check, submit), `materials` (uploads) and `case_page` (follow,
//! correct, withdraw, rate).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State as AxState;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use zhucan_core::{Lang, today_shanghai};
use zhucan_services::{Answer, AnswerKind, Question, ServiceVersion, State, Step};
use zhucan_store::{CaseEvent, CaseRecord, CaseSummary, Channel, NewCase};

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::render::{Layout, local_time, page};
use crate::{AppState, ItemVersion};

pub(crate) fn z(lang: Lang, zh: &str, en: &str) -> String {
    if lang == Lang::Zh { zh } else { en }.to_owned()
}

/// The active version of the item `code`, or 404.
pub(crate) fn service(state: &AppState, code: &str) -> AppResult<ServiceVersion> {
    let code = code.parse().map_err(|_| AppError::NotFound)?;
    state
        .catalog()
        .active_on(&code, today_shanghai())
        .cloned()
        .ok_or(AppError::NotFound)
}

/// (id, name) of each person the signed-in resident acts for.
pub(super) async fn own_people(state: &AppState, ctx: &Ctx) -> AppResult<Vec<(String, String)>> {
    let ids = ctx.resident_persons()?.to_vec();
    let (scope, actor) = (ctx.scope(), ctx.actor());
    let mut people = Vec::with_capacity(ids.len());
    for id in ids {
        let p = state.store.view_person(&actor, &scope, &id).await?;
        people.push((id, p.name.as_str().to_owned()));
    }
    Ok(people)
}

/// One question as a form shows it.
pub struct QuestionView {
    pub key: String,
    pub text: String,
    /// Radios (yes/no or choices) or a text input.
    pub radios: bool,
    /// (value, label) of each radio.
    pub options: Vec<(String, String)>,
    pub value: String,
    pub error: Option<String>,
}

impl QuestionView {
    pub fn new(q: &Question, lang: Lang, value: &str, error: Option<String>) -> QuestionView {
        let options = match q.kind() {
            AnswerKind::Bool => vec![
                ("yes".to_owned(), z(lang, "是", "Yes")),
                ("no".to_owned(), z(lang, "否", "No")),
            ],
            AnswerKind::Choice => q
                .choices()
                .iter()
                .map(|c| (c.value.clone(), c.name(lang).to_owned()))
                .collect(),
            AnswerKind::Text => Vec::new(),
        };
        QuestionView {
            key: q.key().to_owned(),
            text: q.text(lang).to_owned(),
            radios: q.kind() != AnswerKind::Text,
            options,
            value: value.to_owned(),
            error,
        }
    }

    /// The answer as the check page shows it: the option's label, or the text.
    pub fn shown(&self) -> &str {
        self.options
            .iter()
            .find(|(v, _)| *v == self.value)
            .map_or(self.value.as_str(), |(_, label)| label.as_str())
    }
}

/// A case's stored answers as a form gives them back (`yes`/`no`, a choice's value, text).
pub(crate) fn raw_answers(answers: &Value) -> BTreeMap<String, String> {
    answers
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let raw = match v {
                Value::Bool(true) => "yes".to_owned(),
                Value::Bool(false) => "no".to_owned(),
                Value::String(s) => s.clone(),
                _ => return None,
            };
            Some((k.clone(), raw))
        })
        .collect()
}

/// A case of one of the signed-in resident's people; anyone else's is not found.
pub(crate) async fn own_case(state: &AppState, ctx: &Ctx, id: &str) -> AppResult<CaseRecord> {
    ctx.resident_persons()?;
    Ok(state.store.case(&ctx.scope(), id).await?)
}

/// A case of the resident's that they may still change, or a redirect to its page.
pub(crate) async fn editable_case(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
) -> AppResult<Result<CaseRecord, Response>> {
    let c = own_case(state, ctx, id).await?;
    Ok(if editable(c.state) {
        Ok(c)
    } else {
        Err(Redirect::to(&format!("/me/cases/{id}")).into_response())
    })
}

/// The item version a case was filed under.
pub(crate) fn case_service(state: &AppState, c: &CaseSummary) -> AppResult<ItemVersion> {
    state
        .service_version(&c.service_code, c.service_version)
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "case {} names an unknown item {} v{}",
                c.id,
                c.service_code,
                c.service_version
            ))
        })
}

/// The applicant may still change the answers and materials: a draft, or returned for 补正.
pub(crate) fn editable(state: State) -> bool {
    matches!(state, State::Draft | State::Returned { .. })
}

/// The idempotency key a form carries, so that sending it twice files one case.
/// The idempotency key a form carries, so that sending it twice files one case.
pub(crate) fn submit_key(key: String) -> AppResult<String> {
    if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::BadRequest("submit_key".into()));
    }
    Ok(key)
}

/// A form's answers to `s`'s questions (fields `q_<key>`): the texts as given, to show again,
/// and the parsed answers when every one is valid; each problem is added to `errors`.
pub(crate) fn form_answers(
    s: &ServiceVersion,
    field: &impl Fn(&str) -> String,
    lang: Lang,
    errors: &mut FormErrors,
) -> (BTreeMap<String, String>, Option<BTreeMap<String, Answer>>) {
    let raw: BTreeMap<String, String> = s
        .questions()
        .iter()
        .map(|q| (q.key().to_owned(), field(&format!("q_{}", q.key()))))
        .collect();
    let answers = s
        .questions()
        .parse_answers(&raw)
        .map_err(|problems| {
            for (key, problem) in problems {
                errors.add(&format!("q-{key}"), problem.message(lang));
            }
        })
        .ok();
    (raw, answers)
}

/// The declaration box ticked (`confirm=yes`), or an error on it.
pub(crate) fn confirmed(
    field: &impl Fn(&str) -> String,
    lang: Lang,
    errors: &mut FormErrors,
) -> bool {
    let confirm = field("confirm") == "yes";
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
    confirm
}

/// Files and submits a case, once per `submit_key`: with a key already used, the
/// case filed under it is returned as it is. The flag says whether this call filed it.
pub(crate) async fn file_case(
    state: &AppState,
    ctx: &Ctx,
    s: &ServiceVersion,
    person_id: String,
    channel: Channel,
    answers: &BTreeMap<String, Answer>,
    submit_key: String,
) -> AppResult<(CaseRecord, bool)> {
    let (actor, scope) = (ctx.actor(), ctx.scope());
    let case = state
        .store
        .create_case(
            &actor,
            &scope,
            NewCase {
                service: s,
                person_id,
                channel,
                answers: serde_json::to_value(answers).map_err(anyhow::Error::from)?,
                submit_key: Some(submit_key.clone()),
            },
        )
        .await?;
    // A draft left under the key (by a call cut short) is submitted now.
    if case.state != State::Draft {
        return Ok((case, false));
    }
    let case = state
        .store
        .submit_case(&actor, &scope, &case.id, case.version, Some(&submit_key))
        .await?;
    Ok((case, true))
}

pub(crate) fn step_name(code: Option<&str>, lang: Lang) -> String {
    code.and_then(|c| c.parse::<Step>().ok())
        .map(|s| s.name(lang).to_owned())
        .unwrap_or_default()
}

pub struct CaseRow {
    pub id: String,
    pub number: String,
    pub item: String,
    pub person: String,
    pub state: String,
    pub office: String,
    pub deadline: String,
    pub overdue: bool,
    /// Still being filled in: the list offers to continue.
    pub draft: bool,
}

#[derive(Template)]
#[template(path = "portal/cases.html")]
struct CasesPage {
    l: Layout,
    cases: Vec<CaseRow>,
}

/// Every case of the signed-in resident's people, newest first.
pub(crate) async fn own_cases(state: &AppState, ctx: &Ctx) -> AppResult<Vec<CaseSummary>> {
    let persons = ctx.resident_persons()?.to_vec();
    let scope = ctx.scope();
    let mut all = Vec::new();
    for id in &persons {
        all.extend(state.store.cases_for_person(&scope, id).await?);
    }
    all.sort_by(|a, b| {
        (b.created_at.as_str(), b.id.as_str()).cmp(&(a.created_at.as_str(), a.id.as_str()))
    });
    Ok(all)
}

/// `GET /me/cases`: every case of the resident's people, newest first.
pub async fn list(AxState(state): AxState<AppState>, ctx: Ctx) -> AppResult<Response> {
    let lang = ctx.lang;
    let cases = own_cases(&state, &ctx)
        .await?
        .into_iter()
        .map(|c| CaseRow {
            item: state.service_name(&c.service_code, c.service_version, lang),
            person: c.person_name.clone(),
            state: c.state.label(lang).to_owned(),
            office: step_name(c.step_code.as_deref(), lang),
            deadline: c.deadline.clone().unwrap_or_default(),
            overdue: c.overdue,
            draft: c.state == State::Draft,
            number: c.number,
            id: c.id,
        })
        .collect();
    page(&CasesPage {
        l: Layout::new(&ctx, "我的申请", "My applications"),
        cases,
    })
}

pub struct TimelineItem {
    /// When, as stored (RFC 3339, UTC).
    pub at: String,
    /// When, in China time for display.
    pub when: String,
    /// The event's action name (`submit`, `approve`, ...).
    pub action: String,
    pub what: String,
    pub who: String,
}

/// What an event did, in plain words.
fn event_text(e: &CaseEvent, lang: Lang) -> String {
    let (zh, en) = match e.action.as_str() {
        "create" => ("填写了申请", "Application filled in"),
        "submit" => ("提交了申请", "Application submitted"),
        "withdraw" => ("撤回了申请", "Application withdrawn"),
        "resubmit" => (
            "补正材料后重新提交",
            "Resubmitted with the missing material",
        ),
        "approve" => ("审核通过，转下一环节", "Approved at this step"),
        "return" => ("退回补正", "Returned for correction"),
        "reject" => ("不予批准", "Rejected"),
        "send_back" => ("退回前一环节重新审核", "Sent back to an earlier step"),
        "notice_ended" => ("公示期满", "Public notice ended"),
        "objection_upheld" => ("公示异议成立", "Objection upheld"),
        "fulfil" => ("已落实", "Fulfilled"),
        "close" => ("已办结", "Closed"),
        other => (other, other),
    };
    let mut text = z(lang, zh, en);
    if matches!(e.action.as_str(), "return" | "reject" | "objection_upheld")
        && let Some(c) = e.comment.as_deref().filter(|c| !c.is_empty())
    {
        text.push_str(if lang == Lang::Zh { "：" } else { ": " });
        text.push_str(c);
    }
    text
}

/// The timeline: who did what and when, naming the office (never a staff member) for staff.
pub(crate) fn timeline(record: &CaseRecord, chain: &[Step], lang: Lang) -> Vec<TimelineItem> {
    let mut held_by: Option<i64> = None;
    record
        .events
        .iter()
        .map(|e| {
            let who = match e.actor_role.as_str() {
                "resident" => z(lang, "您", "You"),
                "system" => z(lang, "系统", "The system"),
                _ => held_by
                    .or(e.step)
                    .and_then(|i| chain.get(usize::try_from(i).ok()?))
                    .map(|s| s.name(lang).to_owned())
                    .unwrap_or_else(|| z(lang, "经办机构", "The office")),
            };
            held_by = e.step;
            TimelineItem {
                at: e.at.clone(),
                when: local_time(&e.at),
                action: e.action.clone(),
                what: event_text(e, lang),
                who,
            }
        })
        .collect()
}

/// The review chain of the version a case was filed under.
pub(crate) fn chain_of(state: &AppState, c: &CaseSummary) -> Vec<Step> {
    case_service(state, c)
        .map(|s| s.chain().to_vec())
        .unwrap_or_default()
}
