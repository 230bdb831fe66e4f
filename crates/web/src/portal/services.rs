//! The catalog of service items for residents: what each item is, who may apply, what to bring,
//! and — for a signed-in resident or guardian — whether each of their people may be eligible,
//! explained clause by clause.

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::Date;
use zhucan_core::{Lang, today_shanghai};
use zhucan_services::{CertificateFacts, Evaluation, Facts, Person, ServiceVersion};
use zhucan_store::PersonRecord;

use crate::AppState;
use crate::ctx::{Ctx, Principal};
use crate::error::{AppError, AppResult};
use crate::render::{Layout, page};

/// Eligibility facts from a registry record. A person in this registry is registered in the
/// district; they live in it unless another residence outside it is recorded.
pub fn facts_of(p: &PersonRecord, today: Date) -> Facts {
    let date = |s: &Option<String>| {
        s.as_deref().and_then(|s| {
            Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
        })
    };
    let certificate = p.certificate.as_ref().map(|c| CertificateFacts {
        category: c.category,
        components: c.components.clone(),
        grade: c.grade,
        status: c.status,
        // A missing expiry counts as ten years from issue, or as today when that is unknown too.
        expires_on: date(&c.expires_on)
            .or_else(|| date(&c.issued_on).and_then(|d| d.replace_year(d.year() + 10).ok()))
            .unwrap_or(today),
    });
    let person = Person {
        resident_id: p.resident_id.clone(),
        household_status: p.household_status,
        life_status: p.life_status,
        resident: true,
        residence_in_district: p
            .residence_code
            .as_ref()
            .is_none_or(|r| p.division_code.district().contains(r)),
        certificate,
    };
    Facts::new(&person, today)
}

/// One of the signed-in resident's people and what a rule says about them.
struct Assessment {
    name: String,
    evaluation: Evaluation,
}

async fn own_records(state: &AppState, ctx: &Ctx) -> AppResult<Vec<PersonRecord>> {
    let Principal::Resident { persons, .. } = &ctx.principal else {
        return Ok(Vec::new());
    };
    let (scope, actor) = (ctx.scope(), ctx.actor());
    let mut records = Vec::with_capacity(persons.len());
    for id in persons {
        records.push(state.store.view_person(&actor, &scope, id).await?);
    }
    Ok(records)
}

fn assess(service: &ServiceVersion, records: &[PersonRecord], today: Date) -> Vec<Assessment> {
    records
        .iter()
        .map(|p| Assessment {
            name: p.name.as_str().to_owned(),
            evaluation: service.eligibility_rule().evaluate(&facts_of(p, today)),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "portal/services.html")]
struct ListPage<'a> {
    l: Layout,
    services: Vec<(&'a ServiceVersion, Vec<Assessment>)>,
    signed_in: bool,
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let today = today_shanghai();
    let records = own_records(&state, &ctx).await?;
    let catalog = state.catalog();
    let services = catalog
        .services_on(today)
        .into_iter()
        .map(|s| (s, assess(s, &records, today)))
        .collect();
    page(&ListPage {
        l: Layout::new(&ctx, "办事服务", "Services"),
        services,
        signed_in: !records.is_empty(),
    })
}

#[derive(Template)]
#[template(path = "portal/service.html")]
struct ItemPage<'a> {
    l: Layout,
    s: &'a ServiceVersion,
    assessments: Vec<Assessment>,
    signed_in: bool,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let today = today_shanghai();
    let code = code.parse().map_err(|_| AppError::NotFound)?;
    let catalog = state.catalog();
    let s = catalog.active_on(&code, today).ok_or(AppError::NotFound)?;
    let records = own_records(&state, &ctx).await?;
    page(&ItemPage {
        l: Layout::new(&ctx, s.name(Lang::Zh), s.name(Lang::En)),
        assessments: assess(s, &records, today),
        signed_in: !records.is_empty(),
        s,
    })
}

/// `GET /api/v1/services`: the items in force today, in both languages.
pub async fn api_list(State(state): State<AppState>) -> Response {
    let services: Vec<_> = state
        .catalog()
        .services_on(today_shanghai())
        .into_iter()
        .map(|s| {
            let both =
                |f: &dyn Fn(Lang) -> String| json!({ "zh-CN": f(Lang::Zh), "en": f(Lang::En) });
            json!({
                "code": s.code().as_str(),
                "version": s.version(),
                "effective_from": s.effective_from().to_string(),
                "name": both(&|l| s.name(l).to_owned()),
                "group": s.group().slug(),
                "who": both(&|l| s.who(l).to_owned()),
                "chain": s.chain().iter().map(|step| step.slug()).collect::<Vec<_>>(),
                "notice_days": s.notice_days(),
                "limit_working_days": s.limit_days(),
                "materials": s.materials().iter().map(|m| json!({
                    "name": both(&|l| m.name(l).to_owned()), "required": m.required,
                })).collect::<Vec<_>>(),
                "amount": both(&|l| s.amount().text(l)),
                "eligibility_rule": s.eligibility_rule().source(),
                "proactive": s.proactive(),
                "cross_province": s.cross_province(),
            })
        })
        .collect();
    Json(json!({ "services": services })).into_response()
}
