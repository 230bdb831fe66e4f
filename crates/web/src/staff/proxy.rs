//! 代办: a community or street worker (or the district counter) files an application for a
//! resident in their scope. The case records who filed it and through which channel.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use zhucan_core::{Lang, Role, today_shanghai};
use zhucan_crypto::random_token;
use zhucan_services::{Evaluation, ServiceVersion};
use zhucan_store::{Channel, PersonRecord};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::forms::FormErrors;
use crate::portal::applications::{
    QuestionView, confirmed, file_case, form_answers, service, submit_key,
};
use crate::render::{Layout, page};

/// Federation staff file for residents; providers and partners do not.
fn can_file(role: Role) -> bool {
    role.can_edit_registry() && role != Role::Admin
}

/// The channel a role files through by default: the district works a service counter.
fn default_channel(role: Role) -> Channel {
    if role == Role::DistrictReviewer {
        Channel::Counter
    } else {
        Channel::Proxy
    }
}

#[derive(Template)]
#[template(path = "staff/proxy_services.html")]
struct ServicesPage {
    l: Layout,
    p: PersonRecord,
    /// Each item in force with what its rule says about this person.
    items: Vec<(ServiceVersion, Evaluation)>,
}

/// `GET /staff/persons/{id}/apply`: the items, each with the person's eligibility.
pub async fn services(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    ctx.staff_with(can_file)?;
    let p = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &id)
        .await?;
    let today = today_shanghai();
    let facts = p.facts(today);
    let items = state
        .catalog()
        .services_on(today)
        .into_iter()
        .map(|s| (s.clone(), s.eligibility_rule().evaluate(&facts)))
        .collect();
    page(&ServicesPage {
        l: Layout::new(&ctx, "代办申请", "Apply on someone's behalf"),
        p,
        items,
    })
}

#[derive(Template)]
#[template(path = "staff/proxy_apply.html")]
struct ApplyPage {
    l: Layout,
    p: PersonRecord,
    s: ServiceVersion,
    questions: Vec<QuestionView>,
    channel: &'static str,
    confirm: bool,
    submit_key: String,
    errors: FormErrors,
}

/// Every question of the item on one page, with what was given and its error.
fn question_views(
    s: &ServiceVersion,
    lang: Lang,
    given: &std::collections::BTreeMap<String, String>,
    errors: &FormErrors,
) -> Vec<QuestionView> {
    s.questions()
        .iter()
        .map(|q| {
            let value = given.get(q.key()).map_or("", String::as_str);
            let error = errors.get(&format!("q-{}", q.key())).cloned();
            QuestionView::new(q, lang, value, error)
        })
        .collect()
}

fn title(s: &ServiceVersion) -> (String, String) {
    (
        format!("代办：{}", s.name(Lang::Zh)),
        format!("On someone's behalf: {}", s.name(Lang::En)),
    )
}

/// `GET /staff/persons/{id}/apply/{code}`
pub async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, code)): Path<(String, String)>,
) -> AppResult<Response> {
    let account = ctx.staff_with(can_file)?;
    let s = service(&state, &code)?;
    let p = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &id)
        .await?;
    let errors = FormErrors::default();
    let (zh, en) = title(&s);
    page(&ApplyPage {
        l: Layout::new(&ctx, &zh, &en),
        questions: question_views(&s, ctx.lang, &Default::default(), &errors),
        channel: default_channel(account.role).as_str(),
        p,
        s,
        confirm: false,
        submit_key: random_token(16),
        errors,
    })
}

/// `POST /staff/persons/{id}/apply/{code}`: files and submits, once per submit key.
pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, code)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    ctx.check_csrf(&field("csrf"))?;
    ctx.staff_with(can_file)?;
    let s = service(&state, &code)?;
    let key = submit_key(field("submit_key"))?;
    let lang = ctx.lang;
    let mut errors = FormErrors::default();
    let channel = match field("channel").as_str() {
        "proxy" => Some(Channel::Proxy),
        "counter" => Some(Channel::Counter),
        _ => {
            errors.add(
                "channel-proxy",
                if lang == Lang::Zh {
                    "请选择受理方式"
                } else {
                    "Choose how the application came in"
                },
            );
            None
        }
    };
    let (raw, answers) = form_answers(&s, &field, lang, &mut errors);
    let confirm = confirmed(&field, lang, &mut errors);
    let (Some(channel), Some(answers), true) = (channel, answers, errors.is_empty()) else {
        let p = state
            .store
            .view_person(&ctx.actor(), &ctx.scope(), &id)
            .await?;
        let (zh, en) = title(&s);
        let body = page(&ApplyPage {
            l: Layout::new(&ctx, &format!("错误：{zh}"), &format!("Error: {en}")),
            questions: question_views(&s, lang, &raw, &errors),
            channel: channel.map_or("", Channel::as_str),
            p,
            s,
            confirm,
            submit_key: key,
            errors,
        })?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
    };
    let (case, _) = file_case(&state, &ctx, &s, id.clone(), channel, &answers, key).await?;
    Ok(Redirect::to(&format!("/staff/persons/{id}?filed={}", case.number)).into_response())
}
