//! The tasks decisions leave for an office: deliver an approved item (fulfilment), answer a
//! poor rating (follow-up), chase an overdue case (escalation, for the step's supervisor).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhucan_core::{Lang, Role};
use zhucan_store::{DbError, Task};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, local_time, page};

/// Everyone who works cases has tasks; partners do not.
pub fn has_tasks(role: Role) -> bool {
    role != Role::Partner
}

pub fn kind_label(kind: &str, lang: Lang) -> &'static str {
    let t = Tr { lang };
    match kind {
        "fulfilment" => t.z("落实服务", "Deliver"),
        "follow_up" => t.z("差评回访", "Follow up a poor rating"),
        "escalation" => t.z("超期督办", "Overdue case"),
        _ => t.z("任务", "Task"),
    }
}

struct TaskRow {
    t: Task,
    kind: &'static str,
    service: String,
    created: String,
    done: String,
}

#[derive(Template)]
#[template(path = "staff/tasks.html")]
struct TasksPage {
    l: Layout,
    open: Vec<TaskRow>,
    done: Vec<TaskRow>,
    errors: FormErrors,
    /// The task whose form the errors belong to.
    failed: Option<String>,
    note: String,
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    errors: FormErrors,
    failed: Option<String>,
    note: String,
) -> AppResult<Response> {
    let account = ctx.staff_with(has_tasks)?;
    // An administrator sees every office's tasks: escalations of the district's steps are theirs.
    let role = (account.role != Role::Admin).then_some(account.role);
    let scope = ctx.scope();
    let row = |t: Task| TaskRow {
        kind: kind_label(&t.kind, ctx.lang),
        service: t
            .service_code
            .parse()
            .ok()
            .and_then(|code| {
                state
                    .catalog
                    .version(&code, u32::try_from(t.service_version).unwrap_or(0))
            })
            .map_or_else(|| t.service_code.clone(), |s| s.name(ctx.lang).to_owned()),
        created: local_time(&t.created_at),
        done: t.done_at.as_deref().map(local_time).unwrap_or_default(),
        t,
    };
    let open = state.store.tasks(&scope, role, true, 200).await?;
    let done = state.store.tasks(&scope, role, false, 20).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = page(&TasksPage {
        l: Layout::new(ctx, "待办任务", "Tasks"),
        open: open.into_iter().map(row).collect(),
        done: done.into_iter().map(row).collect(),
        errors,
        failed,
        note,
    })?;
    Ok((status, body).into_response())
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    render(&state, &ctx, FormErrors::default(), None, String::new()).await
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    note: String,
}

/// `POST /staff/tasks/{id}/complete`: done, with a note of what was done; a fulfilment task
/// fulfils and closes its case.
pub async fn complete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CompleteForm>,
) -> AppResult<Response> {
    ctx.check_csrf(&f.csrf)?;
    ctx.staff_with(has_tasks)?;
    let t = Tr { lang: ctx.lang };
    let version = f
        .version
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("version".into()))?;
    let message = match state
        .store
        .complete_task(&ctx.actor(), &ctx.scope(), &id, version, &f.note)
        .await
    {
        Ok(()) => return Ok(Redirect::to("/staff/tasks").into_response()),
        Err(DbError::Invalid { .. }) => t.z("请写明办理情况", "Say what was done"),
        Err(DbError::Conflict { .. }) => t.z(
            "该任务已被他人处理，请查看最新状态",
            "Someone else has already dealt with this task",
        ),
        Err(e) => return Err(e.into()),
    };
    let mut errors = FormErrors::default();
    errors.add(&format!("note-{id}"), message);
    render(&state, &ctx, errors, Some(id), f.note).await
}
