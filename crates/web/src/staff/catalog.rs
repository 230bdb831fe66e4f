//! The service catalog for administrators: each item's versions; a new version saved as a
//! draft, every problem named at its field; the draft rule tried on sample people from the
//! registry; activation from a date. Residents are served a version once it is in effect.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhucan_core::{Lang, Role, today_shanghai};
use zhucan_services::{
    AmountDraft, AmountKind, Evaluation, FACTS, Material, Period, Problem, Rule, ServiceCode,
    ServiceDraft, ServiceVersion, Step,
};
use zhucan_store::{
    PersonFilter, SearchTerm, StoredVersion, VersionRefusal, VersionStatus, draft_of,
};

use crate::AppState;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::render::{Layout, page};

/// Administrators keep the catalog and the holiday calendar.
pub(crate) fn is_admin(role: Role) -> bool {
    role == Role::Admin
}

/// How many people "try the rule" evaluates.
const SAMPLES: i64 = 10;

/// One item in the list: the version in effect, the next one scheduled, a draft.
struct ItemRow {
    code: String,
    name: String,
    current: Option<String>,
    next: Option<String>,
    draft: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/services.html")]
struct ListPage {
    l: Layout,
    items: Vec<ItemRow>,
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    let today = today_shanghai();
    let stored = state.store.catalog_versions(None).await?;
    let mut items: Vec<ItemRow> = Vec::new();
    for group in stored.chunk_by(|a, b| a.version.code() == b.version.code()) {
        let schedule = Schedule::of(group, today);
        let shown = schedule.current.or(group.last()).map(|s| &s.version);
        let brief = |s: Option<&StoredVersion>| {
            s.map(|s| {
                let (n, from) = (s.version.version(), s.version.effective_from());
                match ctx.lang {
                    Lang::Zh => format!("第 {n} 版，{from} 起"),
                    Lang::En => format!("version {n}, from {from}"),
                }
            })
        };
        items.push(ItemRow {
            code: group[0].version.code().to_string(),
            name: shown.map_or_else(String::new, |v| v.name(ctx.lang).to_owned()),
            current: brief(schedule.current),
            next: brief(schedule.next),
            draft: brief(schedule.draft),
        });
    }
    page(&ListPage {
        l: Layout::new(&ctx, "服务事项管理", "Service items"),
        items,
    })
}

/// Where an item's versions stand on a day.
struct Schedule<'a> {
    current: Option<&'a StoredVersion>,
    next: Option<&'a StoredVersion>,
    draft: Option<&'a StoredVersion>,
}

impl<'a> Schedule<'a> {
    /// `versions`: one item's, oldest first.
    fn of(versions: &'a [StoredVersion], today: time::Date) -> Schedule<'a> {
        let active = || {
            versions
                .iter()
                .filter(|s| s.status == VersionStatus::Active)
        };
        Schedule {
            current: active()
                .filter(|s| s.version.effective_from() <= today)
                .max_by_key(|s| s.version.version()),
            next: active()
                .filter(|s| s.version.effective_from() > today)
                .min_by_key(|s| s.version.effective_from()),
            draft: versions.iter().find(|s| s.status == VersionStatus::Draft),
        }
    }

    /// "In effect", "scheduled", "superseded" or "draft", for the versions table.
    fn state(&self, v: &StoredVersion, today: time::Date, t: Tr) -> &'static str {
        let number = v.version.version();
        if v.status == VersionStatus::Draft {
            t.z("草稿（未启用）", "Draft (not activated)")
        } else if self.current.is_some_and(|c| c.version.version() == number) {
            t.z("现行", "In effect")
        } else if v.version.effective_from() > today {
            t.z("已排期", "Scheduled")
        } else {
            t.z("已被替代", "Superseded")
        }
    }
}

/// The new-version form, as typed.
#[derive(Debug, Clone, Default)]
struct VersionForm {
    name_zh: String,
    name_en: String,
    who_zh: String,
    who_en: String,
    notes: String,
    /// One material a line: `中文|English`, with `|选填` (or `|optional`) when not required.
    materials: String,
    /// The chain's selects, in order; empty ones are skipped.
    chain: Vec<String>,
    notice_days: String,
    limit_days: String,
    amount_kind: String,
    amount_yuan: String,
    amount_per: String,
    amount_zh: String,
    amount_en: String,
    rule: String,
    effective_from: String,
    /// Who to try the rule on: a name, resident ID, certificate number or phone; empty for the
    /// first people of the registry.
    sample: String,
}

/// The chain has as many selects as there are steps.
const CHAIN_SLOTS: usize = Step::ALL.len();

impl VersionForm {
    fn from_draft(d: &ServiceDraft, lang: Lang, effective_from: String) -> VersionForm {
        let optional = Tr { lang }.z("选填", "optional");
        let materials: Vec<String> = d
            .materials
            .iter()
            .map(|m| {
                let mut line = format!("{}|{}", m.name_zh, m.name_en);
                if !m.required {
                    line.push('|');
                    line.push_str(optional);
                }
                line
            })
            .collect();
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        VersionForm {
            name_zh: d.name_zh.clone(),
            name_en: d.name_en.clone(),
            who_zh: d.who_zh.clone(),
            who_en: d.who_en.clone(),
            notes: d.notes.clone(),
            materials: materials.join("\n"),
            chain: d.chain.clone(),
            notice_days: d.notice_days.to_string(),
            limit_days: d.limit_days.to_string(),
            amount_kind: d.amount.kind.clone(),
            amount_yuan: text(&d.amount.yuan),
            amount_per: text(&d.amount.per),
            amount_zh: text(&d.amount.zh),
            amount_en: text(&d.amount.en),
            rule: d.rule.clone(),
            effective_from,
            sample: String::new(),
        }
    }

    /// The form's fields and which button was pressed (`save` or `try`), with the CSRF token.
    fn from_pairs(pairs: Vec<(String, String)>) -> (VersionForm, String, String) {
        let mut f = VersionForm::default();
        let (mut action, mut csrf) = (String::new(), String::new());
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "chain" => {
                    f.chain.push(value);
                    continue;
                }
                "action" => &mut action,
                "csrf" => &mut csrf,
                "name_zh" => &mut f.name_zh,
                "name_en" => &mut f.name_en,
                "who_zh" => &mut f.who_zh,
                "who_en" => &mut f.who_en,
                "notes" => &mut f.notes,
                "materials" => &mut f.materials,
                "notice_days" => &mut f.notice_days,
                "limit_days" => &mut f.limit_days,
                "amount_kind" => &mut f.amount_kind,
                "amount_yuan" => &mut f.amount_yuan,
                "amount_per" => &mut f.amount_per,
                "amount_zh" => &mut f.amount_zh,
                "amount_en" => &mut f.amount_en,
                "rule" => &mut f.rule,
                "effective_from" => &mut f.effective_from,
                "sample" => &mut f.sample,
                _ => continue,
            };
            *slot = value;
        }
        (f, action, csrf)
    }

    /// The step chosen in select `i` (0-based), or "" for none.
    fn chain_at(&self, i: &usize) -> &str {
        self.chain.get(*i).map_or("", String::as_str)
    }

    /// The material lines that are not blank, with their line numbers (1-based).
    fn material_lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.materials
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| (i + 1, line))
    }

    /// A draft from the form, with what the form does not edit (code, group, questions, flags)
    /// taken from `base`. A field that cannot be read is recorded in `errors` and left out of
    /// the draft (a number as 1, a material line skipped), so the rest can still be checked.
    fn to_draft(&self, base: ServiceDraft, lang: Lang, errors: &mut FormErrors) -> ServiceDraft {
        let t = Tr { lang };
        let mut days = |field: &str, value: &str, label: (&str, &str)| {
            value.trim().parse::<u32>().unwrap_or_else(|_| {
                errors.add(
                    field,
                    format!(
                        "{}{}",
                        t.z(label.0, label.1),
                        t.z("应为 0 或正整数", " must be a whole number, 0 or more")
                    ),
                );
                1
            })
        };
        let notice_days = days(
            "notice_days",
            &self.notice_days,
            ("公示天数", "Notice days"),
        );
        let limit_days = days("limit_days", &self.limit_days, ("办理时限", "Time limit"));
        let mut materials = Vec::new();
        for (number, line) in self.material_lines() {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let required = match parts.get(2) {
                None => Some(true),
                Some(&("选填" | "optional" | "Optional")) => Some(false),
                Some(_) => None,
            };
            match (parts.as_slice(), required) {
                ([zh, en, ..], Some(required)) if parts.len() <= 3 => materials.push(Material {
                    name_zh: (*zh).to_owned(),
                    name_en: (*en).to_owned(),
                    required,
                }),
                _ => errors.add(
                    "materials",
                    format!(
                        "{} {number} {}",
                        t.z("材料第", "Materials, line"),
                        t.z(
                            "行应写作“中文名称|English name”，选填的在末尾加“|选填”",
                            ": write it as “中文名称|English name”, adding “|optional” if it is not required"
                        )
                    ),
                ),
            }
        }
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        ServiceDraft {
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            who_zh: self.who_zh.clone(),
            who_en: self.who_en.clone(),
            notes: self.notes.trim().to_owned(),
            materials,
            chain: self
                .chain
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            notice_days,
            limit_days,
            amount: AmountDraft {
                kind: self.amount_kind.clone(),
                yuan: given(&self.amount_yuan),
                per: given(&self.amount_per),
                zh: given(&self.amount_zh),
                en: given(&self.amount_en),
            },
            rule: self.rule.clone(),
            effective_from: self.effective_from.trim().to_owned(),
            ..base
        }
    }

    /// The `id` of the input a problem of `ServiceVersion::new` belongs to.
    fn input_of(&self, field: &str) -> String {
        let index = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|rest| rest.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
        };
        if field.starts_with("chain") {
            // `chain[i]` counts the chosen steps; the inputs count every select.
            let chosen: Vec<usize> = (0..self.chain.len())
                .filter(|i| !self.chain[*i].is_empty())
                .collect();
            let slot = index("chain[").and_then(|i| chosen.get(i)).copied();
            return format!("chain-{}", slot.unwrap_or(0) + 1);
        }
        if field.starts_with("materials") {
            return "materials".into();
        }
        match field {
            "name_zh" | "name_en" | "who_zh" | "who_en" | "notes" | "notice_days"
            | "limit_days" | "rule" | "effective_from" => field.to_owned(),
            amount if amount.starts_with("amount.") => amount.replace('.', "_"),
            // Questions and the rest are carried over from the version before.
            _ => "rule".into(),
        }
    }

    /// A problem as the error summary shows it: the field in words, then why.
    fn message(&self, p: &Problem, lang: Lang) -> String {
        let t = Tr { lang };
        let label = match p.field.as_str() {
            "name_zh" => t.z("中文名称", "Name in Chinese").to_owned(),
            "name_en" => t.z("英文名称", "Name in English").to_owned(),
            "who_zh" => t.z("中文申请条件", "Who can apply, in Chinese").to_owned(),
            "who_en" => t.z("英文申请条件", "Who can apply, in English").to_owned(),
            "notice_days" => t.z("公示天数", "Notice days").to_owned(),
            "limit_days" => t.z("办理时限", "Time limit").to_owned(),
            "rule" => t.z("资格规则", "Eligibility rule").to_owned(),
            "effective_from" => t.z("生效日期", "Effective from").to_owned(),
            "chain" => t.z("审核环节", "Review chain").to_owned(),
            field if field.starts_with("chain[") => t.z("审核环节", "Review chain").to_owned(),
            field if field.starts_with("materials[") => {
                let i = field["materials[".len()..]
                    .split(']')
                    .next()
                    .and_then(|i| i.parse::<usize>().ok())
                    .unwrap_or(0);
                let line = self.material_lines().nth(i).map_or(i + 1, |(n, _)| n);
                format!(
                    "{} {line} {}",
                    t.z("材料第", "Materials, line"),
                    t.z("行", "")
                )
                .trim_end()
                .to_owned()
            }
            "amount.kind" => t.z("金额类型", "Kind of amount").to_owned(),
            "amount.yuan" => t.z("金额（元）", "Amount (yuan)").to_owned(),
            "amount.per" => t.z("发放周期", "Paid").to_owned(),
            "amount.zh" => t.z("中文金额说明", "Amount in words, Chinese").to_owned(),
            "amount.en" => t.z("英文金额说明", "Amount in words, English").to_owned(),
            other => other.to_owned(),
        };
        format!("{label}{}{}", t.z("：", ": "), p.reason.message(lang))
    }
}

/// One person the draft rule was tried on.
struct TrialRow {
    name: String,
    rid_masked: String,
    evaluation: Evaluation,
}

struct VersionRow {
    number: u32,
    effective_from: String,
    state: &'static str,
    saved_at: String,
    activated_at: Option<String>,
}

/// A documented fact, in the page's language.
struct FactRow {
    name: String,
    kind: String,
    label: String,
    about: String,
}

#[derive(Template)]
#[template(path = "staff/service.html")]
struct ItemPage {
    l: Layout,
    code: String,
    versions: Vec<VersionRow>,
    /// The draft waiting for activation: (version, effective from).
    draft: Option<(u32, String)>,
    f: VersionForm,
    errors: FormErrors,
    /// The people the rule was tried on, when it was.
    trial: Option<Vec<TrialRow>>,
    facts: Vec<FactRow>,
    questions: Vec<FactRow>,
    steps: [Step; CHAIN_SLOTS],
    slots: Vec<usize>,
    kinds: [AmountKind; 3],
    periods: [Period; 3],
    saved: Option<u32>,
    activated: Option<u32>,
}

/// An item's versions, oldest first; not found for an unknown item.
async fn versions_of(state: &AppState, code: &str) -> AppResult<(ServiceCode, Vec<StoredVersion>)> {
    let code = ServiceCode::parse(code).map_err(|_| AppError::NotFound)?;
    let versions = state.store.catalog_versions(Some(&code)).await?;
    if versions.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok((code, versions))
}

/// The version a new one starts from: the draft if there is one, else the latest.
fn base_of(versions: &[StoredVersion]) -> &ServiceVersion {
    &versions
        .last()
        .expect("versions_of returns at least one version")
        .version
}

struct Outcome {
    f: Option<VersionForm>,
    errors: FormErrors,
    trial: Option<Vec<TrialRow>>,
    saved: Option<u32>,
    activated: Option<u32>,
}

fn item_page(
    ctx: &Ctx,
    code: &ServiceCode,
    versions: &[StoredVersion],
    o: Outcome,
) -> AppResult<Response> {
    let today = today_shanghai();
    let t = Tr { lang: ctx.lang };
    let schedule = Schedule::of(versions, today);
    let base = base_of(versions);
    let f = o.f.unwrap_or_else(|| {
        // A draft keeps its date; a new version starts from today.
        let from = schedule
            .draft
            .map_or(today, |d| d.version.effective_from().max(today));
        VersionForm::from_draft(&draft_of(base), ctx.lang, from.to_string())
    });
    let shown = schedule.current.map_or(base, |s| &s.version);
    let describe = |name: &str, kind: String, label: &str, about: &str| FactRow {
        name: name.to_owned(),
        kind,
        label: label.to_owned(),
        about: about.to_owned(),
    };
    page(&ItemPage {
        l: Layout::new(ctx, shown.name(Lang::Zh), shown.name(Lang::En)),
        code: code.to_string(),
        versions: versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                number: v.version.version(),
                effective_from: v.version.effective_from().to_string(),
                state: schedule.state(v, today, t),
                saved_at: crate::render::local_time(&v.saved_at),
                activated_at: v.activated_at.as_ref().map(crate::render::local_time),
            })
            .collect(),
        draft: schedule
            .draft
            .map(|d| (d.version.version(), d.version.effective_from().to_string())),
        f,
        errors: o.errors,
        trial: o.trial,
        facts: FACTS
            .iter()
            .map(|d| {
                describe(
                    d.name,
                    d.kind.describe(ctx.lang),
                    d.label(ctx.lang),
                    d.about(ctx.lang),
                )
            })
            .collect(),
        questions: base
            .questions()
            .iter()
            .map(|q| {
                describe(
                    q.key(),
                    q.kind().name(ctx.lang).to_owned(),
                    q.text(ctx.lang),
                    "",
                )
            })
            .collect(),
        steps: Step::ALL,
        slots: (0..CHAIN_SLOTS).collect(),
        kinds: AmountKind::ALL,
        periods: Period::ALL,
        saved: o.saved,
        activated: o.activated,
    })
}

#[derive(Deserialize, Default)]
pub struct DoneQuery {
    saved: Option<u32>,
    activated: Option<u32>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    let (code, versions) = versions_of(&state, &code).await?;
    item_page(
        &ctx,
        &code,
        &versions,
        Outcome {
            f: None,
            errors: FormErrors::default(),
            trial: None,
            saved: q.saved,
            activated: q.activated,
        },
    )
}

/// `action=save` saves the form as the item's draft version; `action=try` only evaluates its
/// rule on sample people.
pub async fn save_or_try(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    let (f, action, csrf) = VersionForm::from_pairs(pairs);
    ctx.check_csrf(&csrf)?;
    let (code, versions) = versions_of(&state, &code).await?;
    let lang = ctx.lang;
    let mut errors = FormErrors::default();
    let mut trial = None;
    if action == "try" {
        match Rule::new(&f.rule, base_of(&versions).questions()) {
            Ok(rule) => trial = Some(try_rule(&state, &ctx, &rule, &f.sample).await?),
            Err(e) => errors.add(
                "rule",
                format!(
                    "{}{}",
                    Tr { lang }.z("资格规则：", "Eligibility rule: "),
                    e.message(lang)
                ),
            ),
        }
    } else {
        let draft = f.to_draft(draft_of(base_of(&versions)), lang, &mut errors);
        if errors.is_empty() {
            match state
                .store
                .save_service_version(&ctx.actor(), draft)
                .await?
            {
                Ok(saved) => {
                    let to = format!("/staff/services/{code}?saved={}", saved.version.version());
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(refusal) => refusal_errors(&f, &refusal, lang, &mut errors),
            }
        } else if let Err(problems) = ServiceVersion::new(draft) {
            // Nothing is saved; the other fields' problems are named too, where a field has
            // none already.
            for p in &problems.0 {
                let input = f.input_of(&p.field);
                if errors.get(&input).is_none() {
                    errors.add(&input, f.message(p, lang));
                }
            }
        }
        in_page_order(&mut errors);
    }
    item_page(
        &ctx,
        &code,
        &versions,
        Outcome {
            f: Some(f),
            errors,
            trial,
            saved: None,
            activated: None,
        },
    )
}

/// The error summary lists the fields as the page shows them.
fn in_page_order(errors: &mut FormErrors) {
    const ORDER: &[&str] = &[
        "name_zh",
        "name_en",
        "who_zh",
        "who_en",
        "notes",
        "materials",
        "chain-1",
        "chain-2",
        "chain-3",
        "chain-4",
        "chain-5",
        "chain-6",
        "notice_days",
        "limit_days",
        "amount_kind",
        "amount_yuan",
        "amount_per",
        "amount_zh",
        "amount_en",
        "rule",
        "effective_from",
    ];
    errors.items.sort_by_key(|e| {
        ORDER
            .iter()
            .position(|f| *f == e.field)
            .unwrap_or(ORDER.len())
    });
}

fn refusal_errors(f: &VersionForm, refusal: &VersionRefusal, lang: Lang, errors: &mut FormErrors) {
    let t = Tr { lang };
    match refusal {
        VersionRefusal::Invalid(problems) => {
            for p in &problems.0 {
                errors.add(&f.input_of(&p.field), f.message(p, lang));
            }
        }
        VersionRefusal::Past { today, .. } => errors.add(
            "effective_from",
            format!(
                "{}{today}{}",
                t.z(
                    "生效日期不能早于今天（",
                    "Effective from cannot be before today ("
                ),
                t.z("）", ")")
            ),
        ),
        VersionRefusal::NotADraft { .. } => errors.add("versions", refusal.message(lang)),
    }
}

/// The rule on up to [`SAMPLES`] people inside the administrator's scope who match `sample`
/// (everyone when empty). Each record read is audited as a view.
async fn try_rule(
    state: &AppState,
    ctx: &Ctx,
    rule: &Rule,
    sample: &str,
) -> AppResult<Vec<TrialRow>> {
    let (scope, actor) = (ctx.scope(), ctx.actor());
    let filter = PersonFilter {
        term: SearchTerm::parse(sample),
        ..PersonFilter::default()
    };
    let found = state
        .store
        .search_persons(&scope, &filter, 1, SAMPLES)
        .await?;
    let today = today_shanghai();
    let mut rows = Vec::with_capacity(found.items.len());
    for person in found.items {
        let record = state.store.view_person(&actor, &scope, &person.id).await?;
        rows.push(TrialRow {
            name: person.name,
            rid_masked: person.rid_masked,
            evaluation: rule.evaluate(&record.facts(today)),
        });
    }
    Ok(rows)
}

/// Activates the item's draft from its date and serves it from then on.
pub async fn activate(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((code, version)): Path<(String, u32)>,
    Form(form): Form<CsrfForm>,
) -> AppResult<Response> {
    ctx.staff_with(is_admin)?;
    ctx.check_csrf(&form.csrf)?;
    let (code, _) = versions_of(&state, &code).await?;
    match state
        .store
        .activate_service_version(&ctx.actor(), &code, version)
        .await?
    {
        Ok(_) => {
            state.refresh_catalog().await?;
            Ok(
                Redirect::to(&format!("/staff/services/{code}?activated={version}"))
                    .into_response(),
            )
        }
        Err(refusal) => {
            let mut errors = FormErrors::default();
            refusal_errors(&VersionForm::default(), &refusal, ctx.lang, &mut errors);
            let (_, versions) = versions_of(&state, code.as_str()).await?;
            item_page(
                &ctx,
                &code,
                &versions,
                Outcome {
                    f: None,
                    errors,
                    trial: None,
                    saved: None,
                    activated: None,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}
