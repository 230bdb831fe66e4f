//! The reviewers' side of online applications: a queue per step within the caller's scope,
//! a case with the eligibility explanation beside the decision form, and the decision itself.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhucan_core::{Category, Grade, Money, MultipleComponents};
use zhucan_core::{Role, today_shanghai};
use zhucan_services::{
    Action, Award, Decision, Evaluation, Needs, Outcome, OutcomeError, ServiceVersion, Step,
    offices,
};
use zhucan_store::{CaseRecord, CaseSummary, DbError, Objection, Page, Task};

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, local_time, page, url_encode};
use crate::{AppState, ItemVersion};

const PER_PAGE: i64 = 25;

fn may_decide(role: Role, step: Option<&str>) -> bool {
    step.and_then(Step::from_slug)
        .is_some_and(|s| offices::decides(role, s))
}

/// The roles with a review queue (the nav item and the pages).
pub fn can_review(role: Role) -> bool {
    !offices::steps_for(role).is_empty()
}

/// A queue row with the deadline marks worked out.
struct Row {
    c: CaseSummary,
    service_name: String,
    due_soon: bool,
}

#[derive(Template)]
#[template(path = "staff/cases.html")]
struct QueuePage {
    l: Layout,
    steps: Vec<Step>,
    step: Step,
    rows: Vec<Row>,
    results: Page<CaseSummary>,
    /// The queue's URL up to `page=`, for the paging links.
    page_base: String,
    done: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    step: String,
    page: Option<i64>,
    done: Option<String>,
}

pub async fn queue(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<QueueQuery>,
) -> AppResult<Response> {
    let account = ctx.staff_with(can_review)?;
    let steps = offices::steps_for(account.role).to_vec();
    let step = if q.step.is_empty() {
        steps[0]
    } else {
        *steps
            .iter()
            .find(|s| s.slug() == q.step)
            .ok_or(AppError::Forbidden)?
    };
    let results = state
        .store
        .queue(&ctx.scope(), step, q.page.unwrap_or(1), PER_PAGE)
        .await?;
    let soon = (today_shanghai() + time::Duration::days(2)).to_string();
    let rows = results
        .items
        .iter()
        .map(|c| Row {
            service_name: state.service_name(&c.service_code, c.service_version, ctx.lang),
            due_soon: !c.overdue && c.deadline.as_deref().is_some_and(|d| d <= soon.as_str()),
            c: c.clone(),
        })
        .collect();
    page(&QueuePage {
        l: Layout::new(&ctx, "待办审核", "Review queue"),
        steps,
        page_base: format!("/staff/cases?step={}&", step.slug()),
        step,
        rows,
        results,
        done: q.done,
    })
}

/// One answer on the case page: the question's text and the answer in words.
struct AnswerRow {
    question: String,
    answer: String,
}

#[derive(Template)]
#[template(path = "staff/case.html")]
struct CasePage {
    l: Layout,
    c: CaseRecord,
    service_name: String,
    state_label: String,
    step_name: String,
    answers: Vec<AnswerRow>,
    events: Vec<(String, String, String, String)>,
    evaluation: Option<Evaluation>,
    can_decide: bool,
    /// Earlier steps the case may be sent back to: (index, name).
    earlier: Vec<(usize, String)>,
    /// What approving here must state (at the last step of the chain only).
    needs: Needs,
    /// (slug, name) of the categories and grades an assessment may find.
    categories: Vec<(&'static str, &'static str)>,
    grades: Vec<(&'static str, &'static str)>,
    /// The claim, in words, when someone holds the case.
    claim: Option<String>,
    can_claim: bool,
    objections: Vec<Objection>,
    /// Objections are decided by the federation (district) office.
    can_decide_objections: bool,
    tasks: Vec<Task>,
    f: DecideForm,
    errors: FormErrors,
    conflict: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    missing: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    to_step: String,
    #[serde(default)]
    comment: String,
    /// Award fields of a final approval: yuan, category and grade slugs, components.
    #[serde(default)]
    amount: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    components: String,
}

fn action_label(action: &str, t: Tr) -> String {
    match action {
        "create" => t.z("创建草稿", "Draft created"),
        "submit" => t.z("提交申请", "Submitted"),
        "withdraw" => t.z("撤回", "Withdrawn"),
        "resubmit" => t.z("补正后重新提交", "Resubmitted after correction"),
        "approve" => t.z("审核通过", "Approved"),
        "return" => t.z("退回补正", "Returned for correction"),
        "reject" => t.z("不予批准", "Rejected"),
        "send_back" => t.z("退回上一环节", "Sent back"),
        "notice_ended" => t.z("公示结束", "Notice ended"),
        "objection_upheld" => t.z("异议成立", "Objection upheld"),
        "fulfil" => t.z("落实", "Fulfilled"),
        "close" => t.z("办结", "Closed"),
        other => return other.to_owned(),
    }
    .to_owned()
}

async fn render_case(
    state: &AppState,
    ctx: &Ctx,
    c: CaseRecord,
    f: DecideForm,
    errors: FormErrors,
    conflict: bool,
) -> AppResult<Response> {
    let account = ctx.staff_with(can_review)?;
    let t = Tr { lang: ctx.lang };
    let catalog = state.catalog();
    let service: Option<&ServiceVersion> = c
        .service_code
        .parse()
        .ok()
        .and_then(|code| catalog.version(&code, u32::try_from(c.service_version).unwrap_or(0)));
    let answers = c
        .answers
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let q = service.and_then(|s| s.questions().get(k));
                    let answer = match v {
                        serde_json::Value::Bool(true) => t.z("是", "Yes").to_owned(),
                        serde_json::Value::Bool(false) => t.z("否", "No").to_owned(),
                        serde_json::Value::String(s) => q
                            .and_then(|q| q.choices().iter().find(|ch| ch.value == *s))
                            .map_or_else(|| s.clone(), |ch| ch.name(ctx.lang).to_owned()),
                        other => other.to_string(),
                    };
                    AnswerRow {
                        question: q.map_or_else(|| k.clone(), |q| q.text(ctx.lang).to_owned()),
                        answer,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let evaluation = match service {
        Some(s) => match state
            .store
            .view_person(&ctx.actor(), &ctx.scope(), &c.person_id)
            .await
        {
            Ok(p) => Some(
                s.eligibility_rule()
                    .evaluate(&c.facts_for(&p, today_shanghai())),
            ),
            Err(DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let chain: Vec<Step> = service.map(|s| s.chain().to_vec()).unwrap_or_default();
    let earlier = c
        .state
        .step()
        .map(|at| {
            chain
                .iter()
                .take(at)
                .enumerate()
                .map(|(i, s)| (i, s.name(ctx.lang).to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let step_name = c
        .step_code
        .as_deref()
        .and_then(Step::from_slug)
        .map_or_else(|| "—".to_owned(), |s| s.name(ctx.lang).to_owned());
    let events = c
        .events
        .iter()
        .map(|e| {
            (
                local_time(&e.at),
                action_label(&e.action, t),
                e.to_state.clone(),
                e.comment.clone().unwrap_or_default(),
            )
        })
        .map(|(at, action, to, comment)| {
            let to = match to.as_str() {
                "draft" => zhucan_services::State::Draft,
                "submitted" => zhucan_services::State::Submitted,
                "in_review" => zhucan_services::State::InReview { step: 0 },
                "returned" => zhucan_services::State::Returned { step: 0 },
                "notice" => zhucan_services::State::Notice,
                "approved" => zhucan_services::State::Approved,
                "fulfilled" => zhucan_services::State::Fulfilled,
                "closed" => zhucan_services::State::Closed,
                "rejected" => zhucan_services::State::Rejected,
                "withdrawn" => zhucan_services::State::Withdrawn,
                _ => return (at, action, to, comment),
            };
            (at, action, to.label(ctx.lang).to_owned(), comment)
        })
        .collect();
    let can_decide = may_decide(account.role, c.step_code.as_deref())
        && matches!(
            c.state,
            zhucan_services::State::Submitted | zhucan_services::State::InReview { .. }
        );
    let last_step = chain.len().checked_sub(1);
    let needs = match service {
        Some(s) if can_decide && c.state.step() == last_step => Outcome::of(s).needs(s),
        _ => Needs::default(),
    };
    let me = ctx.actor().id;
    let claim = c.claimed_by.as_deref().map(|by| {
        if by == me {
            t.z("您已认领此办件", "You have claimed this case")
                .to_owned()
        } else {
            format!(
                "{}{}",
                t.z("已由审核员认领：", "Claimed by reviewer "),
                by.trim_start_matches("account:")
            )
        }
    });
    let can_claim = can_decide && c.claimed_by.is_none();
    let scope = ctx.scope();
    let objections = state.store.objections(&scope, &c.id).await?;
    let tasks = state.store.case_tasks(&scope, &c.id).await?;
    let status = if conflict {
        StatusCode::CONFLICT
    } else if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let f = DecideForm {
        version: c.version.to_string(),
        ..f
    };
    let body = page(&CasePage {
        l: Layout::new(ctx, "办件审核", "Case review"),
        service_name: service
            .map_or_else(|| c.service_code.clone(), |s| s.name(ctx.lang).to_owned()),
        state_label: c.state.label(ctx.lang).to_owned(),
        step_name,
        answers,
        events,
        evaluation,
        can_decide,
        earlier,
        needs,
        categories: Category::ALL
            .iter()
            .map(|c| (c.slug(), c.name(ctx.lang)))
            .collect(),
        grades: Grade::ALL
            .iter()
            .map(|g| (g.slug(), g.name(ctx.lang)))
            .collect(),
        claim,
        can_claim,
        objections,
        can_decide_objections: account.role == Role::DistrictReviewer,
        tasks,
        f,
        errors,
        conflict,
        c,
    })?;
    Ok((status, body).into_response())
}

/// The case as it is now, told that someone else acted first and nothing was saved.
async fn conflict(state: &AppState, ctx: &Ctx, id: &str) -> AppResult<Response> {
    let latest = state.store.case(&ctx.scope(), id).await?;
    render_case(
        state,
        ctx,
        latest,
        DecideForm::default(),
        FormErrors::default(),
        true,
    )
    .await
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    ctx.staff_with(can_review)?;
    let c = state.store.case(&ctx.scope(), &id).await?;
    render_case(
        &state,
        &ctx,
        c,
        DecideForm::default(),
        FormErrors::default(),
        false,
    )
    .await
}

/// The step code the case was at in `version`, from its events: the case is created at
/// version 1 with an event, and every later event made the next version.
fn step_seen(state: &AppState, c: &CaseRecord, version: i64) -> Option<String> {
    let event = c.events.get(usize::try_from(version - 1).ok()?)?;
    if !matches!(event.to_state.as_str(), "submitted" | "in_review") {
        return None;
    }
    let step = usize::try_from(event.step.unwrap_or(0)).ok()?;
    let service = state.catalog();
    let service = service.version(
        &c.service_code.parse().ok()?,
        u32::try_from(c.service_version).ok()?,
    )?;
    service.chain().get(step).map(|s| s.slug().to_owned())
}

pub async fn decide(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&f.csrf)?;
    let account = ctx.staff_with(can_review)?;
    let t = Tr { lang: ctx.lang };
    let scope = ctx.scope();
    let c = state.store.case(&scope, &id).await?;
    let Some(version) = f.version.trim().parse::<i64>().ok() else {
        return Err(AppError::BadRequest("version".into()));
    };
    // Decided by someone else since the form was shown: say so before anything else, since
    // the case may since have moved to a step this reviewer does not hold.
    if version != c.version && may_decide(account.role, step_seen(&state, &c, version).as_deref()) {
        return render_case(
            &state,
            &ctx,
            c,
            DecideForm::default(),
            FormErrors::default(),
            true,
        )
        .await;
    }
    if !may_decide(account.role, c.step_code.as_deref()) {
        return Err(AppError::Forbidden);
    }
    let mut errors = FormErrors::default();
    let decision = match f.decision.as_str() {
        "approve" => Some(Decision::Approve),
        "return" => {
            let missing: Vec<String> = f
                .missing
                .lines()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if missing.is_empty() {
                errors.add(
                    "missing",
                    t.z("请写明需要补正的材料或信息", "Say what is missing"),
                );
            }
            Some(Decision::ReturnForCorrection { missing })
        }
        "reject" => {
            if f.reason.trim().is_empty() {
                errors.add(
                    "reason",
                    t.z("请写明不予批准的理由", "Give the reason for rejecting"),
                );
            }
            Some(Decision::Reject {
                reason: f.reason.trim().to_owned(),
            })
        }
        "send_back" => match f.to_step.trim().parse::<usize>() {
            Ok(to_step) => Some(Decision::SendBack { to_step }),
            Err(_) => {
                errors.add(
                    "to_step",
                    t.z("请选择退回到哪个环节", "Choose the step to send it back to"),
                );
                None
            }
        },
        _ => {
            errors.add(
                "decision-approve",
                t.z("请选择审核决定", "Choose a decision"),
            );
            None
        }
    };
    let award = match (&decision, final_needs(&state, &c)) {
        (Some(Decision::Approve), Some((needs, service))) if needs.any() => {
            parse_award(&f, needs, &service, &mut errors, t)
        }
        _ => None,
    };
    let (Some(decision), true) = (decision, errors.is_empty()) else {
        return render_case(&state, &ctx, c, f, errors, false).await;
    };
    let comment = f.comment.trim();
    let comment = (!comment.is_empty()).then_some(comment);
    let step = c.step_code.clone().unwrap_or_default();
    let actor = ctx.actor();
    let decided = match award {
        Some(award) => {
            state
                .store
                .approve_case(&actor, &scope, &id, version, &award, comment)
                .await
        }
        None => {
            state
                .store
                .act_on_case(
                    &actor,
                    &scope,
                    &id,
                    version,
                    Action::Decide(decision),
                    comment,
                )
                .await
        }
    };
    match decided {
        Ok(done) => Ok(Redirect::to(&format!(
            "/staff/cases?step={}&done={}",
            url_encode(&step),
            url_encode(&done.number)
        ))
        .into_response()),
        Err(DbError::Conflict { .. }) => conflict(&state, &ctx, &id).await,
        Err(DbError::Transition(e)) => {
            errors.add("decision-approve", e.message(ctx.lang));
            render_case(&state, &ctx, c, f, errors, false).await
        }
        Err(DbError::Outcome(e)) => {
            let field = match e {
                OutcomeError::AmountMissing | OutcomeError::AmountNotPositive => "amount",
                OutcomeError::AssessmentMissing => "category",
                OutcomeError::ComponentsMissing => "components",
                _ => "decision-approve",
            };
            errors.add(field, e.message(ctx.lang));
            render_case(&state, &ctx, c, f, errors, false).await
        }
        Err(DbError::Claimed { .. }) => {
            errors.add(
                "decision-approve",
                t.z(
                    "该办件已由其他审核员认领，认领人处理前您不能作出决定",
                    "Another reviewer has claimed this case; you cannot decide it until they act",
                ),
            );
            render_case(&state, &ctx, c, f, errors, false).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The case's service and what approving it must state, when it waits at its last step.
fn final_needs(state: &AppState, c: &CaseRecord) -> Option<(Needs, ItemVersion)> {
    let service = state.service_version(&c.service_code, c.service_version)?;
    let last = service.chain().len().checked_sub(1)?;
    (c.state.step() == Some(last)).then(|| (Outcome::of(&service).needs(&service), service))
}

/// The award a final approval states, each field checked with its own error.
fn parse_award(
    f: &DecideForm,
    needs: Needs,
    service: &ServiceVersion,
    errors: &mut FormErrors,
    t: Tr,
) -> Option<Award> {
    let mut award = Award::default();
    if needs.amount {
        match Money::parse(&f.amount) {
            Ok(m) if m > Money::ZERO => award.amount = Some(m),
            Ok(_) => errors.add(
                "amount",
                t.z("核定金额应大于零", "The amount must be more than zero"),
            ),
            Err(e) => errors.add("amount", e.message(t.lang())),
        }
    }
    if needs.assessment {
        match f.category.parse::<Category>() {
            Ok(c) => award.category = Some(c),
            Err(_) => errors.add(
                "category",
                t.z("请选择评定的残疾类别", "Choose the assessed category"),
            ),
        }
        match f.grade.parse::<Grade>() {
            Ok(g) => award.grade = Some(g),
            Err(_) => errors.add(
                "grade",
                t.z("请选择评定的残疾等级", "Choose the assessed grade"),
            ),
        }
        if award.category == Some(Category::Multiple) {
            match MultipleComponents::parse(&f.components) {
                Ok(c) => award.components = Some(c),
                Err(e) => errors.add("components", e.message(t.lang())),
            }
        }
    }
    if !errors.is_empty() {
        return None;
    }
    match award.checked(service) {
        Ok(award) => Some(award),
        Err(e) => {
            errors.add("decision-approve", e.message(t.lang()));
            None
        }
    }
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
}

/// `POST /staff/cases/{id}/claim`: takes the case at its step, so other reviewers of the step
/// leave it.
pub async fn claim(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<VersionForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&f.csrf)?;
    let account = ctx.staff_with(can_review)?;
    let scope = ctx.scope();
    let c = state.store.case(&scope, &id).await?;
    if !may_decide(account.role, c.step_code.as_deref()) {
        return Err(AppError::Forbidden);
    }
    let version = f
        .version
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("version".into()))?;
    match state
        .store
        .claim_case(&ctx.actor(), &scope, &id, version)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/staff/cases/{id}")).into_response()),
        Err(DbError::Conflict { .. }) => conflict(&state, &ctx, &id).await,
        Err(e) => Err(e.into()),
    }
}

/// `GET /staff/cases/{id}/documents/{doc}`: one material, its view audited.
pub async fn document(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, doc)): Path<(String, String)>,
) -> AppResult<Response> {
    ctx.staff_with(can_review)?;
    let (meta, content) = state
        .store
        .document(&ctx.actor(), &ctx.scope(), &id, &doc)
        .await?;
    Ok(crate::render::attachment(&meta.mime, &meta.name, content))
}

#[derive(Deserialize)]
pub struct ObjectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    case_id: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /staff/objections/{id}`: the district office upholds (the case is rejected) or
/// dismisses an objection raised during the public notice.
pub async fn decide_objection(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ObjectionForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&f.csrf)?;
    ctx.staff_with(|r| r == Role::DistrictReviewer)?;
    let t = Tr { lang: ctx.lang };
    let scope = ctx.scope();
    let field = format!("objection-{id}");
    let uphold = match f.decision.as_str() {
        "uphold" => Some(true),
        "dismiss" => Some(false),
        _ => None,
    };
    let result = match uphold {
        None => Err(t.z(
            "请选择异议是否成立",
            "Choose whether the objection is upheld",
        )),
        Some(uphold) => match state
            .store
            .decide_objection(&ctx.actor(), &scope, &id, uphold, &f.reason)
            .await
        {
            Ok(()) => Ok(()),
            Err(DbError::Invalid {
                field: "reason", ..
            }) => Err(t.z("请写明核实情况和处理理由", "Say what was checked and why")),
            Err(DbError::Invalid { .. }) => {
                Err(t.z("该异议已处理", "The objection was already decided"))
            }
            Err(e) => return Err(e.into()),
        },
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/staff/cases/{}", f.case_id)).into_response()),
        Err(msg) => {
            let c = state.store.case(&scope, &f.case_id).await?;
            let mut errors = FormErrors::default();
            errors.add(&field, msg);
            render_case(&state, &ctx, c, DecideForm::default(), errors, false).await
        }
    }
}
