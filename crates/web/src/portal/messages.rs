//! The resident's inbox: in-app messages to them and their wards, newest first, each telling
//! of a step of a case. Opening a page of messages marks those read; that view still shows
//! which were new.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use zhucan_store::{InboxMessage, Page};

use crate::AppState;
use crate::ctx::{Ctx, Principal};
use crate::error::AppResult;
use crate::render::{Layout, local_time, page};

const PER_PAGE: i64 = 20;

pub struct CaseLink {
    pub id: String,
    pub number: String,
}

pub struct MessageRow {
    pub when: String,
    pub text: String,
    pub person: String,
    pub case: Option<CaseLink>,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "portal/messages.html")]
struct MessagesPage {
    l: Layout,
    rows: Vec<MessageRow>,
    results: Page<InboxMessage>,
    page_base: &'static str,
    /// A guardian reads messages for more than one person: each names whom it is about.
    several: bool,
}

#[derive(Deserialize)]
pub struct InboxQuery {
    page: Option<i64>,
}

/// `GET /me/messages`
pub async fn inbox(
    State(state): State<AppState>,
    mut ctx: Ctx,
    Query(q): Query<InboxQuery>,
) -> AppResult<Response> {
    let persons = ctx.resident_persons()?.to_vec();
    let results = state
        .store
        .inbox(&persons, q.page.unwrap_or(1), PER_PAGE)
        .await?;
    let unread: Vec<String> = results
        .items
        .iter()
        .filter(|m| m.read_at.is_none())
        .map(|m| m.id.clone())
        .collect();
    let marked = state
        .store
        .mark_messages_read(&ctx.actor(), &persons, &unread)
        .await?;
    // The navigation counts what is still unread after this view, here and on the next request.
    if let Some(hash) = ctx.session_hash.as_deref().filter(|_| marked > 0) {
        state.sessions.forget(hash);
    }
    if let Principal::Resident { unread, .. } = &mut ctx.principal {
        *unread = (*unread - marked as i64).max(0);
    }
    let rows = results
        .items
        .iter()
        .map(|m| MessageRow {
            when: local_time(&m.created_at),
            text: m.text(ctx.lang).to_owned(),
            person: m.person_name.clone(),
            case: m
                .case_id
                .clone()
                .zip(m.case_number.clone())
                .map(|(id, number)| CaseLink { id, number }),
            unread: m.read_at.is_none(),
        })
        .collect();
    page(&MessagesPage {
        l: Layout::new(&ctx, "消息", "Messages"),
        rows,
        results,
        page_base: "/me/messages?",
        several: persons.len() > 1,
    })
}
