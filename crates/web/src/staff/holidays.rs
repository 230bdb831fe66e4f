//! The holiday calendar deadlines run on: public holidays and the weekend days worked in
//! exchange (调休), kept by administrators day by day. A change counts for deadlines computed
//! from then on; deadlines already set stay as they are.

use std::collections::BTreeSet;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::{Date, Weekday};
use zhucan_core::{Lang, today_shanghai};
use zhucan_store::DayKind;

use super::catalog::is_admin;
use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, page};

struct DayRow {
    day: String,
    weekday: &'static str,
    kind: DayKind,
}

struct Year {
    year: i32,
    days: Vec<DayRow>,
}

#[derive(Deserialize, Default)]
pub struct DayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    day: String,
    #[serde(default)]
    kind: String,
}

#[derive(Template)]
#[template(path = "staff/holidays.html")]
struct CalendarPage {
    l: Layout,
    years: Vec<Year>,
    kinds: [DayKind; 2],
    f: DayForm,
    errors: FormErrors,
    done: Option<Done>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    added: Option<String>,
    removed: Option<String>,
}

fn weekday(day: Date, lang: Lang) -> &'static str {
    let t = Tr { lang };
    match day.weekday() {
        Weekday::Monday => t.z("星期一", "Monday"),
        Weekday::Tuesday => t.z("星期二", "Tuesday"),
        Weekday::Wednesday => t.z("星期三", "Wednesday"),
        Weekday::Thursday => t.z("星期四", "Thursday"),
        Weekday::Friday => t.z("星期五", "Friday"),
        Weekday::Saturday => t.z("星期六", "Saturday"),
        Weekday::Sunday => t.z("星期日", "Sunday"),
    }
}

async fn calendar_page(
    state: &AppState,
    ctx: &Ctx,
    f: DayForm,
    errors: FormErrors,
    done: Option<Done>,
) -> AppResult<Response> {
    let calendar = state.store.holiday_calendar().await?;
    let this_year = today_shanghai().year();
    let listed = |set: &BTreeSet<Date>, kind: DayKind| {
        set.iter().map(move |d| (*d, kind)).collect::<Vec<_>>()
    };
    let mut days = listed(&calendar.holidays, DayKind::Holiday);
    days.extend(listed(&calendar.extra_workdays, DayKind::Workday));
    days.sort();
    // This year and next are always shown, so a year not yet entered is visible as empty.
    let mut years: BTreeSet<i32> = days.iter().map(|(d, _)| d.year()).collect();
    years.extend([this_year, this_year + 1]);
    let years = years
        .into_iter()
        .map(|year| Year {
            year,
            days: days
                .iter()
                .filter(|(d, _)| d.year() == year)
                .map(|(d, kind)| DayRow {
                    day: d.to_string(),
                    weekday: weekday(*d, ctx.lang),
                    kind: *kind,
                })
                .collect(),
        })
        .collect();
    page(&CalendarPage {
        l: Layout::new(ctx, "节假日与调休日历", "Holiday calendar"),
        years,
        kinds: DayKind::ALL,
        f,
        errors,
        done,
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(done): Query<Done>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    calendar_page(
        &state,
        &ctx,
        DayForm::default(),
        FormErrors::default(),
        Some(done),
    )
    .await
}

/// The date of the form, with why not recorded in `errors`.
fn parse_day(f: &DayForm, lang: Lang, errors: &mut FormErrors) -> Option<Date> {
    let t = Tr { lang };
    let day = Date::parse(
        f.day.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok();
    if day.is_none() {
        errors.add(
            "day",
            t.z(
                "请填写日期，例如 2027-01-01",
                "Enter a date, for example 2027-01-01",
            ),
        );
    }
    day
}

pub async fn add(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<DayForm>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    ctx.check_csrf(&f.csrf)?;
    let t = Tr { lang: ctx.lang };
    let mut errors = FormErrors::default();
    let day = parse_day(&f, ctx.lang, &mut errors);
    let kind = f.kind.parse::<DayKind>().ok();
    if kind.is_none() {
        errors.add(
            "kind-holiday",
            t.z("请选择日期类型", "Choose what kind of day it is"),
        );
    }
    let weekend = day.is_some_and(|d| matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday));
    if kind == Some(DayKind::Workday) && day.is_some() && !weekend {
        errors.add(
            "day",
            t.z(
                "调休上班日应为星期六或星期日，工作日本来就要上班",
                "A working weekend day must be a Saturday or Sunday; weekdays are working days anyway",
            ),
        );
    }
    let (Some(day), Some(kind), true) = (day, kind, errors.is_empty()) else {
        return calendar_page(&state, &ctx, f, errors, None).await;
    };
    state
        .store
        .set_calendar_day(&ctx.actor(), day, kind)
        .await?;
    Ok(Redirect::to(&format!("/staff/holidays?added={day}")).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<DayForm>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    ctx.check_csrf(&f.csrf)?;
    let mut errors = FormErrors::default();
    let Some(day) = parse_day(&f, ctx.lang, &mut errors) else {
        return calendar_page(&state, &ctx, DayForm::default(), errors, None).await;
    };
    state.store.clear_calendar_day(&ctx.actor(), day).await?;
    Ok(Redirect::to(&format!("/staff/holidays?removed={day}")).into_response())
}
