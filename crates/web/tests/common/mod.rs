//! In-process web tests: the real router over a real SQLite store in a temporary directory,
//! driven with `tower::ServiceExt::oneshot`, and a client that keeps cookies like a browser.

#![allow(dead_code)]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use time::macros::date;
use tower::ServiceExt;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, Grade, HouseholdStatus, LifeStatus,
    PersonName, Phone, ResidentId, Role, Username,
};
use zhucan_crypto::{FieldCrypto, MasterKey};
use zhucan_store::{Account, Actor, CertificateInput, NewAccount, PersonInput, Scope, Store};
use zhucan_web::{AppState, WebConfig};

pub const PASSWORD: &str = "Test@2026";
pub const DISTRICT: &str = "510112";
pub const STREET_A: &str = "510112001";
pub const STREET_B: &str = "510112002";
pub const COMMUNITY_A1: &str = "510112001001";
pub const COMMUNITY_A2: &str = "510112001002";
pub const COMMUNITY_B1: &str = "510112002001";

/// The application under test and its store; the directory holds the database and data files.
pub struct App {
    pub router: Router,
    pub store: Store,
    pub dir: TempDir,
}

impl App {
    pub async fn new() -> App {
        App::with_config(|_| {}).await
    }

    /// An app whose [`WebConfig`] `tweak` adjusts (secure cookies, proxy trust).
    pub async fn with_config(tweak: impl FnOnce(&mut WebConfig)) -> App {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/web.db", dir.path().display());
        let store = Store::connect(&url, FieldCrypto::new(&MasterKey::generate()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
            .upsert_divisions(&zhucan_jobs::synthetic::demo_divisions())
            .await
            .unwrap();
        let config = WebConfig {
            data_dir: dir.path().join("data"),
            demo: false,
            secure_cookies: false,
            trust_proxy: false,
            sms_gateway: None,
            audit_head: None,
        };
        let mut config = config;
        tweak(&mut config);
        let router = zhucan_web::router(AppState::new(store.clone(), config));
        App { router, store, dir }
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            jar: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// A staff account with [`PASSWORD`].
    pub async fn account(&self, username: &str, role: Role, scope: &str) -> Account {
        self.store
            .create_account(
                &Actor::system("test"),
                NewAccount {
                    username: Username::parse(username).unwrap(),
                    display_name: format!("测试{username}"),
                    password_hash: zhucan_web::hash_password(PASSWORD).unwrap(),
                    role,
                    scope: code(scope),
                },
            )
            .await
            .unwrap()
    }

    /// A signed-in client for a new account.
    pub async fn staff(&self, username: &str, role: Role, scope: &str) -> Client {
        self.account(username, role, scope).await;
        let mut client = self.client();
        let resp = client.staff_login(username, PASSWORD).await;
        assert_eq!(
            resp.status,
            StatusCode::SEE_OTHER,
            "{username} signs in: {}",
            resp.body
        );
        assert!(client.jar.contains_key("zhucan_session"));
        client
    }

    pub async fn person(&self, input: &PersonInput) -> String {
        self.store
            .create_person(&Actor::system("test"), &Scope::All, input)
            .await
            .unwrap()
    }

    /// A case of `code` filed and submitted on the portal by the resident `pid` (the catalog
    /// stored first), waiting at its first step.
    pub async fn submitted(&self, code: &str, pid: &str) -> zhucan_store::CaseRecord {
        let catalog = zhucan_services::Catalog::seed();
        self.store.seed_catalog(&catalog).await.unwrap();
        let v = catalog
            .versions()
            .iter()
            .find(|v| v.code().as_str() == code)
            .unwrap();
        let actor = Actor {
            id: format!("resident:{pid}"),
            role: "resident".into(),
            client: None,
        };
        let scope = Scope::Persons(vec![pid.to_owned()]);
        let draft = self
            .store
            .create_case(
                &actor,
                &scope,
                zhucan_store::NewCase {
                    service: v,
                    person_id: pid.to_owned(),
                    channel: zhucan_store::Channel::Portal,
                    answers: serde_json::json!({ "agree": true }),
                    submit_key: None,
                },
            )
            .await
            .unwrap();
        self.store
            .submit_case(&actor, &scope, &draft.id, draft.version, None)
            .await
            .unwrap()
    }

    /// The code of the latest text message to anyone.
    pub async fn last_sms_code(&self) -> String {
        let latest = self.store.recent_notifications(1).await.unwrap();
        let body = &latest.first().expect("a message in the outbox").body;
        six_digits(body).unwrap_or_else(|| panic!("no code in {body:?}"))
    }

    /// A client signed in as the resident who holds `phone`, through the real SMS flow.
    pub async fn resident(&self, phone: &Phone) -> Client {
        let mut client = self.client();
        let csrf = client.csrf_from("/login").await;
        let resp = client
            .post_form("/login/code", &[("csrf", &csrf), ("phone", phone.as_str())])
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
        let code = self.last_sms_code().await;
        let resp = client
            .post_form(
                "/login/verify",
                &[("csrf", &csrf), ("phone", phone.as_str()), ("code", &code)],
            )
            .await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.body);
        assert_eq!(resp.location(), Some("/me"));
        client
    }
}

pub fn six_digits(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .windows(6)
        .enumerate()
        .find(|(i, w)| {
            w.iter().all(char::is_ascii_digit)
                && chars.get(i + 6).is_none_or(|c| !c.is_ascii_digit())
                && (*i == 0 || !chars[i - 1].is_ascii_digit())
        })
        .map(|(_, w)| w.iter().collect())
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The messages of the page's error summary.
    pub fn error_summary(&self) -> Vec<String> {
        let Some(start) = self.body.find("class=\"error-summary\"") else {
            return Vec::new();
        };
        let summary = &self.body[start..];
        let summary = &summary[..summary.find("</div>").unwrap_or(summary.len())];
        summary
            .split("<li>")
            .skip(1)
            .map(|li| {
                let text = li.split("</li>").next().unwrap_or_default();
                let text = text.split_once('>').map_or(text, |(_, t)| t);
                text.split("</a>").next().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

/// A browser stand-in: sends the cookies it was given, and extra headers if set.
pub struct Client {
    router: Router,
    pub jar: BTreeMap<String, String>,
    /// Sent with every request (e.g. `Host`, `Origin`).
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub async fn send(&mut self, mut req: Request<Body>) -> Resp {
        if !self.jar.is_empty() {
            let cookie = self
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut().insert(COOKIE, cookie.parse().unwrap());
        }
        for (k, v) in &self.headers {
            req.headers_mut().insert(
                axum::http::HeaderName::try_from(k.as_str()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let resp = Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for c in resp.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || c.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        resp
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            Request::post(path)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// JSON to the API; with `csrf`, the `X-CSRF-Token` header carries the CSRF cookie.
    pub async fn json(&mut self, method: Method, path: &str, body: &str, csrf: bool) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(CONTENT_TYPE, "application/json");
        if csrf {
            req = req.header("x-csrf-token", self.csrf_cookie().expect("a CSRF cookie"));
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    pub fn csrf_cookie(&self) -> Option<String> {
        self.jar.get("zhucan_csrf").cloned()
    }

    /// GETs a page and returns its forms' CSRF token (also setting the cookie on a first visit).
    pub async fn csrf_from(&mut self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status, StatusCode::OK, "GET {path}");
        hidden_csrf(&resp.body).unwrap_or_else(|| panic!("no csrf input on {path}"))
    }

    pub async fn staff_login(&mut self, username: &str, password: &str) -> Resp {
        let csrf = self.csrf_from("/staff/login").await;
        self.post_form(
            "/staff/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

pub fn hidden_csrf(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

pub fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

pub fn rid(n: u32) -> ResidentId {
    let birth = date!(1960 - 03 - 01) + time::Duration::days(i64::from(n / 1000) * 11 + 5);
    ResidentId::from_parts("510112", birth, (n % 1000) as u16).unwrap()
}

pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("138{n:08}")).unwrap()
}

pub fn person(n: u32, name: &str, division: &str) -> PersonInput {
    let id = rid(n);
    PersonInput {
        certificate: Some(CertificateInput {
            number: CertificateNo::new(id.clone(), Category::Hearing, Grade::Three),
            components: None,
            issued_on: Some(date!(2021 - 06 - 01)),
            expires_on: None,
            status: CertificateStatus::Valid,
        }),
        resident_id: id,
        name: PersonName::parse(name).unwrap(),
        ethnicity: None,
        phone: Some(phone(n)),
        division_code: code(division),
        residence_code: None,
        address: None,
        household_status: HouseholdStatus::None,
        life_status: LifeStatus::Alive,
        guardian: None,
    }
}

/// The person form's fields for `p` (as the create/edit page would send them).
pub fn form_fields(p: &PersonInput) -> Vec<(&'static str, String)> {
    let cert = p.certificate.as_ref();
    vec![
        ("resident_id", p.resident_id.as_str().to_owned()),
        ("name", p.name.as_str().to_owned()),
        ("ethnicity", p.ethnicity.clone().unwrap_or_default()),
        (
            "phone",
            p.phone
                .as_ref()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("division_code", p.division_code.as_str().to_owned()),
        ("residence_code", String::new()),
        ("address", p.address.clone().unwrap_or_default()),
        ("household_status", p.household_status.slug().to_owned()),
        ("life_status", p.life_status.slug().to_owned()),
        (
            "certificate_no",
            cert.map(|c| c.number.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("components", String::new()),
        ("certificate_issued_on", String::new()),
        ("certificate_expires_on", String::new()),
        (
            "certificate_status",
            cert.map(|c| c.status.slug().to_owned()).unwrap_or_default(),
        ),
        ("guardian_name", String::new()),
        ("guardian_relation", String::new()),
        ("guardian_phone", String::new()),
    ]
}

pub fn as_refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Whether `text` has a run of at least `n` ASCII digits.
pub fn has_digit_run(text: &str, n: usize) -> bool {
    // Hex tokens (the CSRF token, digests) are 32 characters or more and may hold long digit
    // runs by chance; an identity or phone number is never that long.
    let mut run = 0;
    for token in text.split(|c: char| !c.is_ascii_hexdigit()) {
        if token.len() >= 32 {
            run = 0;
            continue;
        }
        for c in token.chars() {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            if run >= n {
                return true;
            }
        }
        run = 0;
    }
    false
}
