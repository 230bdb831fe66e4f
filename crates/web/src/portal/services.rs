//! The catalog of service items for residents: what each item is, who may apply, what to bring,
//! and — for a signed-in resident or guardian — whether each of their people may be eligible,
//! explained clause by clause.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use time::Date;
use zhucan_core::{Lang, today_shanghai};
use zhucan_services::{Evaluation, ServiceVersion};
use zhucan_store::PersonRecord;

use crate::AppState;
use crate::ctx::{Ctx, Principal};
use crate::error::{AppError, AppResult};
use crate::render::{Layout, page};

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
            evaluation: service.eligibility_rule().evaluate(&p.facts(today)),
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
    let services = state
        .catalog
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
    let s = state
        .catalog
        .active_on(&code, today)
        .ok_or(AppError::NotFound)?;
    let records = own_records(&state, &ctx).await?;
    page(&ItemPage {
        l: Layout::new(&ctx, s.name(Lang::Zh), s.name(Lang::En)),
        assessments: assess(s, &records, today),
        signed_in: !records.is_empty(),
        s,
    })
}
