//! What every page shares: the layout's data and turning a template into a response.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use zhucan_core::{Lang, Role};

use crate::ctx::{Ctx, Principal};
use crate::error::AppResult;
use crate::i18n::Tr;

/// One link of the workbench or portal navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

/// Data the base layout needs: language, mode, token, who is signed in, navigation.
pub struct Layout {
    pub t: Tr,
    pub title: String,
    pub elder: bool,
    pub csrf: String,
    pub here: String,
    pub user: Option<String>,
    pub staff: bool,
    pub nav: Vec<NavItem>,
}

impl Layout {
    pub fn new(ctx: &Ctx, title_zh: &str, title_en: &str) -> Layout {
        let t = Tr { lang: ctx.lang };
        let (user, staff, nav) = match &ctx.principal {
            Principal::Staff(a) => {
                // An account named after its role (the demo's "系统管理员") is shown once.
                let role = a.role.name(ctx.lang);
                let label = if a.display_name == role {
                    role.to_owned()
                } else {
                    format!("{} ({role})", a.display_name)
                };
                (Some(label), true, nav_for(a.role, ctx.lang, &ctx.here))
            }
            Principal::Resident { unread, .. } => (
                Some(t.z("居民", "Resident").to_owned()),
                false,
                resident_nav(*unread, ctx.lang, &ctx.here),
            ),
            Principal::Anonymous => (None, false, Vec::new()),
        };
        Layout {
            t,
            title: t.z(title_zh, title_en).to_owned(),
            elder: ctx.elder,
            csrf: ctx.csrf.clone(),
            here: ctx.here.clone(),
            user,
            staff,
            nav,
        }
    }

    pub fn lang_code(&self) -> &'static str {
        self.t.lang.code()
    }

    /// Link that switches to the other language and comes back here.
    pub fn other_lang_href(&self) -> String {
        let other = if self.t.is_zh() { "en" } else { "zh-CN" };
        format!("/prefs?lang={other}&back={}", url_encode(&self.here))
    }

    pub fn elder_href(&self) -> String {
        format!(
            "/prefs?elder={}&back={}",
            if self.elder { 0 } else { 1 },
            url_encode(&self.here)
        )
    }
}

fn nav_for(role: Role, lang: Lang, here: &str) -> Vec<NavItem> {
    let zh = lang == Lang::Zh;
    let mut items: Vec<(&'static str, &'static str)> =
        vec![("/staff", if zh { "工作台" } else { "Workbench" })];
    if role.can_view_registry() {
        items.push(("/staff/persons", if zh { "残疾人名册" } else { "Registry" }));
    }
    if crate::staff::can_review(role) && role != Role::Admin {
        items.push(("/staff/cases", if zh { "待办审核" } else { "Review queue" }));
    }
    if crate::staff::tasks::has_tasks(role) {
        items.push(("/staff/tasks", if zh { "待办任务" } else { "Tasks" }));
    }
    if role.can_edit_registry() {
        items.push((
            "/staff/persons/new",
            if zh {
                "新增登记"
            } else {
                "Register a person"
            },
        ));
    }
    if role.can_import() {
        items.push(("/staff/import", if zh { "批量导入" } else { "Import" }));
        items.push(("/staff/export", if zh { "导出" } else { "Export" }));
    }
    if crate::staff::is_admin(role) {
        items.push((
            "/staff/services",
            if zh { "服务事项" } else { "Service items" },
        ));
        items.push(("/staff/holidays", if zh { "节假日" } else { "Holidays" }));
    }
    if role.can_see_outbox() {
        items.push(("/staff/outbox", if zh { "消息发件箱" } else { "Outbox" }));
    }
    if role.can_view_audit() {
        items.push(("/staff/audit", if zh { "审计日志" } else { "Audit log" }));
    }
    nav_items(items, here)
}

/// The portal's links for a signed-in resident; the messages link says how many are unread.
fn resident_nav(unread: i64, lang: Lang, here: &str) -> Vec<NavItem> {
    let zh = lang == Lang::Zh;
    let messages = match (unread, zh) {
        (0, true) => "消息".to_owned(),
        (0, false) => "Messages".to_owned(),
        (n, true) => format!("消息（{n} 条未读）"),
        (n, false) => format!("Messages ({n} unread)"),
    };
    let items = vec![
        ("/services", if zh { "办事服务" } else { "Services" }),
        ("/me", if zh { "我的信息" } else { "My record" }),
        (
            "/me/cases",
            if zh {
                "我的申请"
            } else {
                "My applications"
            },
        ),
    ];
    let mut nav = nav_items(items, here);
    nav.push(NavItem {
        href: "/me/messages",
        label: messages,
        current: path_of(here) == "/me/messages",
    });
    nav
}

fn path_of(here: &str) -> &str {
    here.split('?').next().unwrap_or(here)
}

fn nav_items(items: Vec<(&'static str, &'static str)>, here: &str) -> Vec<NavItem> {
    items
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label: label.to_owned(),
            current: path_of(here) == href,
        })
        .collect()
}

/// A stored UTC timestamp in China Standard Time, to the minute; unparsable text as it is.
pub fn local_time(ts: impl AsRef<str>) -> String {
    let ts = ts.as_ref();
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map(|t| {
            let t = t.to_offset(time::macros::offset!(+8));
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|_| ts.to_owned())
}

pub fn page(template: &impl Template) -> AppResult<Response> {
    Ok(Html(template.render()?).into_response())
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e[1..].to_owned())
        .unwrap_or_default()
}

/// A stored file sent as a download: the stored type, the name in RFC 5987 form (Chinese
/// names survive), and no sniffing by the browser.
pub fn attachment(mime: &str, name: &str, content: Vec<u8>) -> Response {
    use axum::http::header;
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"document\"; filename*=UTF-8''{encoded}"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        content,
    )
        .into_response()
}
