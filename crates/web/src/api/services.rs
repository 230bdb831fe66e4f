//! The service items in force, one item with its application form, and whether one of the
//! caller's people may be eligible, explained clause by clause.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zhucan_core::{Lang, today_shanghai};
use zhucan_services::{AnswerKind, ServiceVersion};

use super::{ApiCtx, ApiResult};
use crate::AppState;
use crate::error::AppError;
use crate::portal::applications::service;

/// A text in both languages.
#[derive(Serialize, ToSchema)]
pub(super) struct Texts {
    #[serde(rename = "zh-CN")]
    zh: String,
    en: String,
}

impl Texts {
    pub(super) fn of(f: impl Fn(Lang) -> String) -> Texts {
        Texts {
            zh: f(Lang::Zh),
            en: f(Lang::En),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct Material {
    name: Texts,
    /// False for material brought only if the applicant has it.
    required: bool,
}

/// A service item as it is in force today.
#[derive(Serialize, ToSchema)]
pub(super) struct Service {
    /// E.g. `nursing-subsidy`.
    code: String,
    version: u32,
    /// The day this version took effect (YYYY-MM-DD).
    effective_from: String,
    name: Texts,
    group: String,
    /// Who may apply, in plain words.
    who: Texts,
    /// The review steps in order (`community`, `street`, `district`, ...).
    chain: Vec<String>,
    /// Days of public notice (公示) before approval; 0 for none.
    notice_days: u32,
    /// The time limit, in working days.
    limit_working_days: u32,
    materials: Vec<Material>,
    amount: Texts,
    /// The eligibility rule (CEL) over the documented person facts and the form's answers.
    eligibility_rule: String,
    proactive: bool,
    cross_province: bool,
}

impl Service {
    fn of(s: &ServiceVersion) -> Service {
        Service {
            code: s.code().as_str().to_owned(),
            version: s.version(),
            effective_from: s.effective_from().to_string(),
            name: Texts::of(|l| s.name(l).to_owned()),
            group: s.group().slug().to_owned(),
            who: Texts::of(|l| s.who(l).to_owned()),
            chain: s
                .chain()
                .iter()
                .map(|step| step.slug().to_owned())
                .collect(),
            notice_days: s.notice_days(),
            limit_working_days: s.limit_days(),
            materials: s
                .materials()
                .iter()
                .map(|m| Material {
                    name: Texts::of(|l| m.name(l).to_owned()),
                    required: m.required,
                })
                .collect(),
            amount: Texts::of(|l| s.amount().text(l)),
            eligibility_rule: s.eligibility_rule().source().to_owned(),
            proactive: s.proactive(),
            cross_province: s.cross_province(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct ServiceList {
    services: Vec<Service>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Step {
    code: String,
    name: Texts,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Choice {
    /// What to send as the answer.
    value: String,
    name: Texts,
}

/// A question of the application form; its answer goes in `answers.<key>`.
#[derive(Serialize, ToSchema)]
pub(super) struct FormQuestion {
    key: String,
    /// `bool` (answer `true`/`false`), `choice` (one of `choices`' values) or `text`.
    kind: String,
    text: Texts,
    /// Empty unless the kind is `choice`.
    choices: Vec<Choice>,
}

/// One item in full: what the list gives, the steps by name, and the application form.
#[derive(Serialize, ToSchema)]
pub(super) struct ServiceDetail {
    #[serde(flatten)]
    service: Service,
    steps: Vec<Step>,
    questions: Vec<FormQuestion>,
}

/// The items in force today, in both languages.
#[utoipa::path(
    get,
    path = "/services",
    operation_id = "list_services",
    tag = "services",
    responses((status = 200, description = "The items in force today", body = ServiceList))
)]
pub(super) async fn list(State(state): State<AppState>) -> Json<ServiceList> {
    Json(ServiceList {
        services: state
            .catalog
            .services_on(today_shanghai())
            .into_iter()
            .map(Service::of)
            .collect(),
    })
}

/// One item in force today, with its review steps and application form.
#[utoipa::path(
    get,
    path = "/services/{code}",
    operation_id = "show_service",
    tag = "services",
    params(("code" = String, Path, description = "The item's code, e.g. `wheelchair-fuel`")),
    responses(
        (status = 200, description = "The item", body = ServiceDetail),
        (status = 404, description = "No item with this code is in force", body = ref("#/components/schemas/Errors")),
    )
)]
pub(super) async fn show(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let s = service(&state, &code)?;
    let questions = s
        .questions()
        .iter()
        .map(|q| FormQuestion {
            key: q.key().to_owned(),
            kind: q.kind().slug().to_owned(),
            text: Texts::of(|l| q.text(l).to_owned()),
            choices: match q.kind() {
                AnswerKind::Choice => q
                    .choices()
                    .iter()
                    .map(|c| Choice {
                        value: c.value.clone(),
                        name: Texts::of(|l| c.name(l).to_owned()),
                    })
                    .collect(),
                AnswerKind::Bool | AnswerKind::Text => Vec::new(),
            },
        })
        .collect();
    Ok(Json(ServiceDetail {
        service: Service::of(s),
        steps: s
            .chain()
            .iter()
            .map(|step| Step {
                code: step.slug().to_owned(),
                name: Texts::of(|l| step.name(l).to_owned()),
            })
            .collect(),
        questions,
    })
    .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EligibilityQuery {
    /// One of the people the caller acts for (themselves or a ward), from `GET /me`.
    person_id: Option<String>,
}

/// One clause of the rule, with the person's own values.
#[derive(Serialize, ToSchema)]
pub(super) struct Clause {
    text: String,
    passed: bool,
    /// Not passed only because a question of the form is not answered yet.
    pending: bool,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Eligibility {
    service_code: String,
    person_id: String,
    person_name: String,
    /// Every clause passes on the facts in the registry.
    eligible: bool,
    /// Every clause passes or waits for an answer on the application form.
    may_be_eligible: bool,
    /// The language of `clauses`: `zh-CN` or `en`.
    lang: String,
    clauses: Vec<Clause>,
}

/// Whether one of the caller's people may be eligible for an item, clause by clause.
#[utoipa::path(
    get,
    path = "/services/{code}/eligibility",
    operation_id = "check_eligibility",
    tag = "services",
    params(("code" = String, Path, description = "The item's code"), EligibilityQuery, super::LangQuery),
    responses(
        (status = 200, description = "The rule's verdict and explanation", body = Eligibility),
        (status = 401, description = "Not signed in", body = ref("#/components/schemas/Errors")),
        (status = 403, description = "A staff session: this is the applicant's check", body = ref("#/components/schemas/Errors")),
        (status = 404, description = "No such item, or not one of the caller's people", body = ref("#/components/schemas/Errors")),
        (status = 422, description = "`person_id` missing", body = ref("#/components/schemas/Errors")),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub(super) async fn eligibility(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(code): Path<String>,
    Query(q): Query<EligibilityQuery>,
) -> ApiResult {
    let persons = ctx.resident_persons()?;
    let s = service(&state, &code)?;
    let Some(person_id) = q.person_id.filter(|p| !p.is_empty()) else {
        return Err(AppError::Invalid(vec![(
            "person_id".into(),
            ctx.z(
                "请指明为谁查询（person_id）",
                "Say whom to check for (person_id)",
            ),
        )])
        .into());
    };
    if !persons.contains(&person_id) {
        return Err(AppError::NotFound.into());
    }
    let ApiCtx(ctx) = ctx;
    let today = today_shanghai();
    let record = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &person_id)
        .await?;
    let evaluation = s.eligibility_rule().evaluate(&record.facts(today));
    Ok(Json(Eligibility {
        service_code: s.code().as_str().to_owned(),
        person_name: record.name.as_str().to_owned(),
        person_id,
        eligible: evaluation.eligible,
        may_be_eligible: evaluation.may_be_eligible(),
        lang: ctx.lang.code().to_owned(),
        clauses: evaluation
            .clauses
            .iter()
            .map(|c| Clause {
                text: c.text(ctx.lang).to_owned(),
                passed: c.passed,
                pending: c.pending,
            })
            .collect(),
    })
    .into_response())
}
