//! The registry in the workbench: search and list, a person's record and history, create and edit.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, Grade, HouseholdStatus, Lang,
    LifeStatus, MultipleComponents, PersonName, Phone, ResidentId, Role,
};
use zhucan_store::{
    AuditRecord, CaseSummary, CertificateInput, DbError, Division, Entitlement, GuardianInput,
    Page, PersonFilter, PersonInput, PersonRecord, PersonSummary, SearchTerm,
};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, page, url_encode};

const PER_PAGE: i64 = 25;

/// Divisions inside the caller's scope, for filters and the form's division list.
pub async fn divisions_in_scope(
    state: &AppState,
    scope: &DivisionCode,
) -> AppResult<Vec<Division>> {
    Ok(state
        .store
        .divisions()
        .await?
        .into_iter()
        .filter(|d| DivisionCode::parse(&d.code).is_ok_and(|c| scope.contains(&c)))
        .collect())
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    division: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    life: String,
    page: Option<i64>,
}

impl ListQuery {
    /// The query string without the page, for paging links.
    fn without_page(&self) -> String {
        [
            ("q", &self.q),
            ("category", &self.category),
            ("grade", &self.grade),
            ("division", &self.division),
            ("household", &self.household),
            ("life", &self.life),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", url_encode(v)))
        .collect()
    }
}

#[derive(Template)]
#[template(path = "staff/persons.html")]
struct ListPage {
    l: Layout,
    q: ListQuery,
    results: Page<PersonSummary>,
    divisions: Vec<Division>,
    /// The list's URL with its filters, up to `page=`, for the paging links.
    page_base: String,
    categories: [Category; 7],
    grades: Vec<Grade>,
    households: [HouseholdStatus; 5],
    lives: [LifeStatus; 3],
}

pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_view_registry)?;
    let filter = PersonFilter {
        term: SearchTerm::parse(&q.q),
        category: q.category.parse().ok(),
        grade: q.grade.parse().ok(),
        division: DivisionCode::parse(&q.division).ok(),
        household_status: q.household.parse().ok(),
        life_status: q.life.parse().ok(),
    };
    let results = state
        .store
        .search_persons(&ctx.scope(), &filter, q.page.unwrap_or(1), PER_PAGE)
        .await?;
    page(&ListPage {
        l: Layout::new(&ctx, "残疾人名册", "Registry of disabled residents"),
        divisions: divisions_in_scope(&state, &account.scope).await?,
        page_base: format!("/staff/persons?{}", q.without_page()),
        q,
        results,
        categories: Category::ALL,
        grades: (1..=4).filter_map(|g| Grade::new(g).ok()).collect(),
        households: HouseholdStatus::ALL,
        lives: LifeStatus::ALL,
    })
}

#[derive(Template)]
#[template(path = "staff/person.html")]
struct RecordPage {
    l: Layout,
    p: PersonRecord,
    can_edit: bool,
    saved: bool,
    /// (item name, entitlement) of each benefit, running first.
    benefits: Vec<(String, Entitlement)>,
    /// (item name, case) of each application, newest first.
    cases: Vec<(String, CaseSummary)>,
    /// The case pages are for the roles that review.
    can_open_cases: bool,
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// A person's full record: numbers unmasked for the roles that work on the registry, and the
/// view written to the audit log.
pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let account = ctx.staff_with(Role::can_view_registry)?;
    let p = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &id)
        .await?;
    let scope = ctx.scope();
    let name = |code: &str, version: Option<i64>| {
        let code = code.parse().ok();
        let service = code.as_ref().and_then(|c| match version {
            Some(v) => state.catalog.version(c, u32::try_from(v).ok()?),
            None => state.catalog.active_on(c, zhucan_core::today_shanghai()),
        });
        service.map(|s| s.name(ctx.lang).to_owned())
    };
    let benefits = state
        .store
        .entitlements(&scope, &id)
        .await?
        .into_iter()
        .map(|e| {
            (
                name(&e.service_code, None).unwrap_or_else(|| e.service_code.clone()),
                e,
            )
        })
        .collect();
    let cases = state
        .store
        .cases_for_person(&scope, &id)
        .await?
        .into_iter()
        .map(|c| {
            (
                name(&c.service_code, Some(c.service_version))
                    .unwrap_or_else(|| c.service_code.clone()),
                c,
            )
        })
        .collect();
    page(&RecordPage {
        l: Layout::new(&ctx, "残疾人档案", "Person's record"),
        can_edit: account.role.can_edit_registry(),
        saved: q.saved.is_some(),
        p,
        benefits,
        cases,
        can_open_cases: crate::staff::can_review(account.role),
    })
}

#[derive(Template)]
#[template(path = "staff/history.html")]
struct HistoryPage {
    l: Layout,
    id: String,
    name: String,
    changes: Vec<HistoryEntry>,
    views: Vec<AuditRecord>,
}

struct HistoryEntry {
    record: AuditRecord,
    action: &'static str,
    /// (field label, before, after) for every field that changed.
    changes: Vec<(&'static str, String, String)>,
}

/// Plain words for the audit log's action codes.
fn action_label(action: &str, lang: Lang) -> &'static str {
    let t = Tr { lang };
    match action {
        "create" => t.z("登记", "Registered"),
        "update" => t.z("修改", "Edited"),
        "import-create" => t.z("批量导入登记", "Registered by import"),
        "import-update" => t.z("批量导入更新", "Updated by import"),
        "consent" => t.z("记录同意", "Consent recorded"),
        "view" => t.z("查看", "Viewed"),
        _ => t.z("其他操作", "Other"),
    }
}

/// Plain words for the fields of a person's audit snapshot.
fn field_label(key: &str, lang: Lang) -> &'static str {
    let t = Tr { lang };
    match key {
        "name" => t.z("姓名", "Name"),
        "resident_id" => t.z("公民身份号码", "Resident ID"),
        "ethnicity" => t.z("民族", "Ethnicity"),
        "phone" => t.z("联系电话", "Phone"),
        "division_code" => t.z("户籍所在地", "Registered in"),
        "residence_code" => t.z("居住地", "Lives in"),
        "address" => t.z("地址", "Address"),
        "household_status" => t.z("家庭经济状况", "Household status"),
        "life_status" => t.z("人员状态", "Life status"),
        "certificate.number" => t.z("残疾人证号", "Certificate number"),
        "certificate.category" => t.z("残疾类别", "Category"),
        "certificate.components" => t.z("多重残疾组成", "Categories combined"),
        "certificate.grade" => t.z("残疾等级", "Grade"),
        "certificate.issued_on" => t.z("发证日期", "Issued on"),
        "certificate.expires_on" => t.z("有效期至", "Valid until"),
        "certificate.status" => t.z("证件状态", "Certificate status"),
        "guardian.name" => t.z("监护人姓名", "Guardian's name"),
        "guardian.relation" => t.z("监护人关系", "Guardian's relationship"),
        "guardian.phone" => t.z("监护人电话", "Guardian's phone"),
        "purpose" => t.z("同意用途", "Consent purpose"),
        "granted_by" => t.z("同意人", "Consent given by"),
        _ => t.z("其他", "Other"),
    }
}

/// Names for the slugs a snapshot stores (categories, statuses); other values as they are.
fn value_label(key: &str, value: &str, lang: Lang) -> String {
    let name = match key {
        "household_status" => value.parse::<HouseholdStatus>().ok().map(|v| v.name(lang)),
        "life_status" => value.parse::<LifeStatus>().ok().map(|v| v.name(lang)),
        "certificate.category" => value.parse::<Category>().ok().map(|v| v.name(lang)),
        "certificate.grade" => value.parse::<Grade>().ok().map(|v| v.name(lang)),
        "certificate.status" => value
            .parse::<CertificateStatus>()
            .ok()
            .map(|v| v.name(lang)),
        _ => None,
    };
    name.map_or_else(|| value.to_owned(), str::to_owned)
}

/// Flattens nested snapshots ("certificate.grade") and keeps the fields that differ.
fn changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
    lang: Lang,
) -> Vec<(&'static str, String, String)> {
    fn flatten(
        prefix: &str,
        v: Option<&serde_json::Value>,
        out: &mut std::collections::BTreeMap<String, String>,
    ) {
        match v {
            Some(serde_json::Value::Object(map)) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, Some(v), out);
                }
            }
            Some(serde_json::Value::Null) | None => {}
            Some(serde_json::Value::String(s)) => {
                out.insert(prefix.to_owned(), s.clone());
            }
            Some(other) => {
                out.insert(prefix.to_owned(), other.to_string());
            }
        }
    }
    let (mut b, mut a) = (Default::default(), Default::default());
    flatten("", before, &mut b);
    flatten("", after, &mut a);
    let keys: std::collections::BTreeSet<_> = b.keys().chain(a.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = (
                b.get(&k).cloned().unwrap_or_default(),
                a.get(&k).cloned().unwrap_or_default(),
            );
            (old != new).then(|| {
                (
                    field_label(&k, lang),
                    value_label(&k, &old, lang),
                    value_label(&k, &new, lang),
                )
            })
        })
        .collect()
}

pub async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    ctx.staff_with(Role::can_view_registry)?;
    let scope = ctx.scope();
    let p = state.store.view_person(&ctx.actor(), &scope, &id).await?;
    let (views, changed): (Vec<_>, Vec<_>) = state
        .store
        .person_history(&scope, &id)
        .await?
        .into_iter()
        .partition(|r| r.action == "view");
    page(&HistoryPage {
        l: Layout::new(&ctx, "变更记录", "Change history"),
        id,
        name: p.name.as_str().to_owned(),
        changes: changed
            .into_iter()
            .map(|record| HistoryEntry {
                action: action_label(&record.action, ctx.lang),
                changes: changes(record.before.as_ref(), record.after.as_ref(), ctx.lang),
                record,
            })
            .collect(),
        views,
    })
}

/// The create/edit form as typed, so a rejected form is shown again exactly as it was sent.
#[derive(Deserialize, Default, Clone)]
pub struct PersonForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resident_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ethnicity: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub division_code: String,
    #[serde(default)]
    pub residence_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub household_status: String,
    #[serde(default)]
    pub life_status: String,
    #[serde(default)]
    pub certificate_no: String,
    #[serde(default)]
    pub components: String,
    #[serde(default)]
    pub certificate_issued_on: String,
    #[serde(default)]
    pub certificate_expires_on: String,
    #[serde(default)]
    pub certificate_status: String,
    #[serde(default)]
    pub guardian_name: String,
    #[serde(default)]
    pub guardian_relation: String,
    #[serde(default)]
    pub guardian_phone: String,
}

fn date_field(s: &str) -> Result<time::Date, DateError> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| DateError(s.to_owned()))
}

#[derive(Debug)]
struct DateError(String);

impl zhucan_core::Localized for DateError {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "“{}”不是有效日期，请按 年-月-日 填写，例如 2026-03-01",
                self.0
            ),
            Lang::En => format!(
                "{:?} is not a date; use year-month-day, for example 2026-03-01",
                self.0
            ),
        }
    }
}

impl PersonForm {
    pub fn from_record(p: &PersonRecord) -> PersonForm {
        let input = p.to_input();
        let cert = input.certificate.as_ref();
        let guardian = input.guardian.as_ref();
        PersonForm {
            csrf: String::new(),
            version: p.version.to_string(),
            resident_id: input.resident_id.as_str().to_owned(),
            name: input.name.as_str().to_owned(),
            ethnicity: input.ethnicity.clone().unwrap_or_default(),
            phone: input
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            division_code: input.division_code.as_str().to_owned(),
            residence_code: input
                .residence_code
                .as_ref()
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            address: input.address.clone().unwrap_or_default(),
            household_status: input.household_status.slug().to_owned(),
            life_status: input.life_status.slug().to_owned(),
            certificate_no: cert
                .map(|c| c.number.as_str().to_owned())
                .unwrap_or_default(),
            components: cert
                .and_then(|c| c.components.as_ref())
                .map(|m| m.to_string())
                .unwrap_or_default(),
            certificate_issued_on: p
                .certificate
                .as_ref()
                .and_then(|c| c.issued_on.clone())
                .unwrap_or_default(),
            certificate_expires_on: p
                .certificate
                .as_ref()
                .and_then(|c| c.expires_on.clone())
                .unwrap_or_default(),
            certificate_status: cert.map(|c| c.status.slug().to_owned()).unwrap_or_default(),
            guardian_name: guardian
                .map(|g| g.name.as_str().to_owned())
                .unwrap_or_default(),
            guardian_relation: guardian.map(|g| g.relation.clone()).unwrap_or_default(),
            guardian_phone: guardian
                .and_then(|g| g.phone.as_ref())
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    /// Parses every field, collecting all errors (not just the first) for the error summary.
    pub fn parse(&self, lang: Lang) -> Result<PersonInput, FormErrors> {
        let t = Tr { lang };
        let mut e = FormErrors::default();
        let resident_id = e.required(
            lang,
            "resident_id",
            ("请输入公民身份号码", "Enter the resident ID number"),
            &self.resident_id,
            ResidentId::parse,
        );
        let name = e.required(
            lang,
            "name",
            ("请输入姓名", "Enter the name"),
            &self.name,
            PersonName::parse,
        );
        let phone = e.optional(lang, "phone", &self.phone, Phone::parse);
        let division_code = e.required(
            lang,
            "division_code",
            ("请选择户籍所在社区", "Choose the community of registration"),
            &self.division_code,
            DivisionCode::parse,
        );
        let residence_code = e.optional(
            lang,
            "residence_code",
            &self.residence_code,
            DivisionCode::parse,
        );
        let household_status = e.optional(lang, "household_status", &self.household_status, |s| {
            s.parse::<HouseholdStatus>()
        });
        let life_status = e.optional(lang, "life_status", &self.life_status, |s| {
            s.parse::<LifeStatus>()
        });
        let number = match &resident_id {
            Some(id) => e.optional(lang, "certificate_no", &self.certificate_no, |s| {
                CertificateNo::parse_for(s, id)
            }),
            None => e.optional(
                lang,
                "certificate_no",
                &self.certificate_no,
                CertificateNo::parse,
            ),
        };
        let components = e.optional(
            lang,
            "components",
            &self.components,
            MultipleComponents::parse,
        );
        let issued_on = e.optional(
            lang,
            "certificate_issued_on",
            &self.certificate_issued_on,
            date_field,
        );
        let expires_on = e.optional(
            lang,
            "certificate_expires_on",
            &self.certificate_expires_on,
            date_field,
        );
        let cert_status = e.optional(lang, "certificate_status", &self.certificate_status, |s| {
            s.parse::<CertificateStatus>()
        });
        if let Some(Some(no)) = &number {
            let multiple = no.category() == Category::Multiple;
            if multiple && matches!(components, Some(None)) {
                e.add(
                    "components",
                    t.z(
                        "多重残疾请填写包含的残疾类别，例如 1,4",
                        "For multiple disability, list the categories it combines, for example 1,4",
                    ),
                );
            }
            if !multiple && matches!(components, Some(Some(_))) {
                e.add(
                    "components",
                    t.z(
                        "只有多重残疾（类别 7）才填写组成类别",
                        "Only multiple disability (category 7) lists component categories",
                    ),
                );
            }
        }
        let guardian_name = e.optional(
            lang,
            "guardian_name",
            &self.guardian_name,
            PersonName::parse,
        );
        let guardian_phone = e.optional(lang, "guardian_phone", &self.guardian_phone, Phone::parse);
        let has_guardian = !self.guardian_name.trim().is_empty()
            || !self.guardian_phone.trim().is_empty()
            || !self.guardian_relation.trim().is_empty();
        if has_guardian && self.guardian_name.trim().is_empty() {
            e.add(
                "guardian_name",
                t.z("填写监护人时请输入监护人姓名", "Enter the guardian's name"),
            );
        }
        if has_guardian && self.guardian_relation.trim().is_empty() {
            e.add(
                "guardian_relation",
                t.z(
                    "请填写监护人与本人的关系",
                    "Enter how the guardian is related",
                ),
            );
        }
        if !e.is_empty() {
            return Err(e);
        }
        // Every `None` above recorded an error, so all are present here.
        let (
            Some(resident_id),
            Some(name),
            Some(phone),
            Some(division_code),
            Some(residence_code),
            Some(household_status),
            Some(life_status),
            Some(number),
            Some(components),
            Some(issued_on),
            Some(expires_on),
            Some(cert_status),
            Some(guardian_name),
            Some(guardian_phone),
        ) = (
            resident_id,
            name,
            phone,
            division_code,
            residence_code,
            household_status,
            life_status,
            number,
            components,
            issued_on,
            expires_on,
            cert_status,
            guardian_name,
            guardian_phone,
        )
        else {
            return Err(e);
        };
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(PersonInput {
            resident_id,
            name,
            ethnicity: text(&self.ethnicity),
            phone,
            division_code,
            residence_code,
            address: text(&self.address),
            household_status: household_status.unwrap_or_default(),
            life_status: life_status.unwrap_or(LifeStatus::Alive),
            certificate: number.map(|number| CertificateInput {
                number,
                components,
                issued_on,
                expires_on,
                status: cert_status.unwrap_or(CertificateStatus::Valid),
            }),
            guardian: guardian_name
                .filter(|_| has_guardian)
                .map(|name| GuardianInput {
                    name,
                    relation: self.guardian_relation.trim().to_owned(),
                    phone: guardian_phone,
                }),
        })
    }
}

#[derive(Template)]
#[template(path = "staff/person_form.html")]
struct FormPage {
    l: Layout,
    f: PersonForm,
    errors: FormErrors,
    /// `None` when creating.
    id: Option<String>,
    divisions: Vec<Division>,
    households: [HouseholdStatus; 5],
    lives: [LifeStatus; 3],
    statuses: [CertificateStatus; 4],
}

async fn form_page(
    state: &AppState,
    ctx: &Ctx,
    f: PersonForm,
    errors: FormErrors,
    id: Option<String>,
) -> AppResult<Response> {
    let account = ctx.staff()?;
    let (zh, en) = if id.is_some() {
        ("修改档案", "Edit record")
    } else {
        ("新增残疾人登记", "Register a person")
    };
    page(&FormPage {
        l: Layout::new(ctx, zh, en),
        divisions: divisions_in_scope(state, &account.scope).await?,
        f,
        errors,
        id,
        households: HouseholdStatus::ALL,
        lives: LifeStatus::ALL,
        statuses: CertificateStatus::ALL,
    })
}

pub async fn new_form(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    ctx.staff_with(Role::can_edit_registry)?;
    form_page(
        &state,
        &ctx,
        PersonForm::default(),
        FormErrors::default(),
        None,
    )
    .await
}

/// Turns store refusals that concern a field into field errors on the form.
fn store_error(e: DbError, lang: Lang) -> Result<FormErrors, AppError> {
    let t = Tr { lang };
    let mut errors = FormErrors::default();
    match e {
        DbError::Duplicate("resident ID") => errors.add("resident_id", t.z("该公民身份号码已登记，请在名册中搜索", "This resident ID is already registered; search the registry")),
        DbError::Duplicate(_) => errors.add("certificate_no", t.z("该残疾人证号已属于其他人", "This certificate number belongs to someone else")),
        DbError::UnknownDivision(_) => errors.add("division_code", t.z("该行政区划代码不在本区的区划表中", "This division code is not in the district's division table")),
        DbError::NotFound => errors.add("division_code", t.z("只能登记在您负责的区域内", "You can only register people in your own area")),
        DbError::Conflict { .. } => errors.add("name", t.z("保存前该档案已被他人修改，请重新打开后再编辑；您填写的内容保留在下方", "Someone else saved this record first; reopen it and edit again. What you entered is kept below")),
        other => return Err(other.into()),
    }
    Ok(errors)
}

pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<PersonForm>,
) -> AppResult<Response> {
    ctx.staff_with(Role::can_edit_registry)?;
    ctx.check_csrf(&f.csrf)?;
    let input = match f.parse(ctx.lang) {
        Ok(input) => input,
        Err(errors) => return form_page(&state, &ctx, f, errors, None).await,
    };
    match state
        .store
        .create_person(&ctx.actor(), &ctx.scope(), &input)
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/staff/persons/{id}?saved=1")).into_response()),
        Err(e) => {
            let errors = store_error(e, ctx.lang)?;
            form_page(&state, &ctx, f, errors, None).await
        }
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    ctx.staff_with(Role::can_edit_registry)?;
    let p = state
        .store
        .view_person(&ctx.actor(), &ctx.scope(), &id)
        .await?;
    form_page(
        &state,
        &ctx,
        PersonForm::from_record(&p),
        FormErrors::default(),
        Some(id),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<PersonForm>,
) -> AppResult<Response> {
    ctx.staff_with(Role::can_edit_registry)?;
    ctx.check_csrf(&f.csrf)?;
    let version: i64 = f
        .version
        .parse()
        .map_err(|_| AppError::BadRequest("version".into()))?;
    let input = match f.parse(ctx.lang) {
        Ok(input) => input,
        Err(errors) => return form_page(&state, &ctx, f, errors, Some(id)).await,
    };
    match state
        .store
        .update_person(&ctx.actor(), &ctx.scope(), &id, version, &input)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/staff/persons/{id}?saved=1")).into_response()),
        Err(DbError::NotFound)
            if state
                .store
                .view_person(&ctx.actor(), &ctx.scope(), &id)
                .await
                .is_err() =>
        {
            Err(AppError::NotFound)
        }
        Err(e) => {
            let errors = store_error(e, ctx.lang)?;
            form_page(&state, &ctx, f, errors, Some(id)).await
        }
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    purpose: String,
    granted_by: String,
}

pub async fn add_consent(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ConsentForm>,
) -> AppResult<Response> {
    ctx.staff_with(Role::can_edit_registry)?;
    ctx.check_csrf(&f.csrf)?;
    let purpose = f.purpose.trim();
    let granted_by = f.granted_by.trim();
    if purpose.is_empty() || granted_by.is_empty() {
        return Err(AppError::BadRequest(
            Tr { lang: ctx.lang }
                .z("请填写用途和同意人", "Enter the purpose and who consented")
                .to_owned(),
        ));
    }
    state
        .store
        .record_consent(&ctx.actor(), &ctx.scope(), &id, purpose, granted_by)
        .await?;
    Ok(Redirect::to(&format!("/staff/persons/{id}?saved=1")).into_response())
}
