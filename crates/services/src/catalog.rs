//! The catalog of service items: each item in versions, each version with its texts,
//! review chain, time limits, materials, form questions, amount and eligibility rule.
//! Cases keep the version they were filed under; a new version takes effect from a date.

use std::collections::BTreeSet;
use std::fmt;
use zhucan_core::{localized, vocabulary};

use serde::Deserialize;
use time::Date;
use time::macros::format_description;
use zhucan_core::{Lang, Money};

use crate::eligibility::Rule;
use crate::facts::{QuestionDraft, Questions, require_text};
use crate::{Position, Problem, Problems, Reason};

/// The seed catalog: the 18 items of `shared/reference/services.toml`, with the
/// plain-language texts the product shows.
pub const SEED: &str = include_str!("../data/services.toml");

vocabulary! {
    /// The area of a service item.
    pub enum Group("service group", "事项分类") {
        Certificate => ("certificate", "残疾人证", "Disability certificate"),
        Security => ("security", "社会保障", "Social security"),
        Rehab => ("rehab", "康复", "Rehabilitation"),
        Devices => ("devices", "辅助器具与无障碍", "Assistive devices and accessibility"),
        Employment => ("employment", "就业", "Employment"),
        Education => ("education", "教育", "Education"),
        Care => ("care", "托养", "Care"),
    }
}

vocabulary! {
    /// A level of a review chain.
    pub enum Step("review step", "审核环节") {
        Community => ("community", "社区初审", "Community first review"),
        Street => ("street", "街道审核", "Street review"),
        District => ("district", "区残联审定", "District federation decision"),
        CivilAffairs => ("civil_affairs", "区民政审批", "Civil affairs approval"),
        Health => ("health", "卫健评定", "Health assessment"),
        Provider => ("provider", "服务机构", "Service provider"),
    }
}

vocabulary! {
    /// How often a fixed amount is paid.
    pub enum Period("payment period", "发放周期") {
        Once => ("once", "一次性", "once"),
        Month => ("month", "每月", "per month"),
        Year => ("year", "每年", "per year"),
    }
}

vocabulary! {
    /// The kinds of [`Amount`], as the catalog names them.
    pub enum AmountKind("amount kind", "金额类型") {
        None => ("none", "无", "None"),
        Fixed => ("fixed", "固定金额", "Fixed"),
        Described => ("described", "按说明", "Described"),
    }
}

/// A stable identifier of a service item, used in URLs, data exchange and reports:
/// 2-40 lowercase ASCII letters, digits and single hyphens, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceCode(String);

impl ServiceCode {
    /// Fails with [`Reason::Code`].
    pub fn parse(s: &str) -> Result<ServiceCode, Reason> {
        let code = s.trim();
        let valid = (2..=40).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && !code.ends_with('-')
            && !code.contains("--")
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            Ok(ServiceCode(code.to_owned()))
        } else {
            Err(Reason::Code {
                value: code.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::str::FromStr for ServiceCode {
    type Err = Reason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A document the applicant uploads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    #[serde(rename = "zh")]
    pub name_zh: String,
    #[serde(rename = "en")]
    pub name_en: String,
    #[serde(default = "required_by_default")]
    pub required: bool,
}

fn required_by_default() -> bool {
    true
}

impl Material {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.name_zh,
            Lang::En => &self.name_en,
        }
    }
}

/// The money a service pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    /// No money involved (certificate items).
    None,
    Fixed {
        amount: Money,
        per: Period,
    },
    /// Tiers, caps or a formula, in words.
    Described {
        zh: String,
        en: String,
    },
}

impl Amount {
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::None, Lang::Zh) => "不涉及金额".to_owned(),
            (Self::None, Lang::En) => "no payment".to_owned(),
            (Self::Fixed { amount, per }, Lang::Zh) => format!("{} {amount}", per.name(lang)),
            (Self::Fixed { amount, per }, Lang::En) => format!("{amount} {}", per.name(lang)),
            (Self::Described { zh, .. }, Lang::Zh) => zh.clone(),
            (Self::Described { en, .. }, Lang::En) => en.clone(),
        }
    }

    fn parse(draft: &AmountDraft, problems: &mut Vec<Problem>) -> Option<Amount> {
        let kind = ok(problems, "kind", draft.kind.parse::<AmountKind>())?;
        let fields = [
            ("yuan", &draft.yuan),
            ("per", &draft.per),
            ("zh", &draft.zh),
            ("en", &draft.en),
        ];
        let used: &[&str] = match kind {
            AmountKind::None => &[],
            AmountKind::Fixed => &["yuan", "per"],
            AmountKind::Described => &["zh", "en"],
        };
        let before = problems.len();
        let mut given = |name: &str| -> Option<String> {
            let value = fields.iter().find(|(field, _)| *field == name)?.1.clone();
            match &value {
                None => problems.push(Problem::new(name, Reason::Required)),
                Some(text) => require_text(problems, name, text),
            }
            value
        };
        let amount = match kind {
            AmountKind::None => Some(Amount::None),
            AmountKind::Fixed => {
                let (yuan, per) = (given("yuan"), given("per"));
                let amount = yuan.and_then(|y| ok(problems, "yuan", Money::parse(&y)));
                if amount.is_some_and(|a| a <= Money::ZERO) {
                    problems.push(Problem::new("yuan", Reason::NotPositive));
                }
                let per = per.and_then(|p| ok(problems, "per", p.parse::<Period>()));
                amount
                    .zip(per)
                    .map(|(amount, per)| Amount::Fixed { amount, per })
            }
            AmountKind::Described => {
                let (zh, en) = (given("zh"), given("en"));
                zh.zip(en).map(|(zh, en)| Amount::Described { zh, en })
            }
        };
        for (name, value) in fields {
            if value.is_some() && !used.contains(&name) {
                problems.push(Problem::new(name, Reason::NotUsed));
            }
        }
        amount.filter(|_| problems.len() == before)
    }
}

/// An amount as written in the catalog: `kind` is `none`, `fixed` (with `yuan` and
/// `per`) or `described` (with `zh` and `en`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountDraft {
    pub kind: String,
    pub yuan: Option<String>,
    pub per: Option<String>,
    pub zh: Option<String>,
    pub en: Option<String>,
}

/// A service version as written in the catalog file or an admin form, before it is
/// checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDraft {
    pub code: String,
    pub version: u32,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    pub name_zh: String,
    pub name_en: String,
    pub group: String,
    pub chain: Vec<String>,
    /// Calendar days of public notice (公示) before the decision; 0 for none.
    pub notice_days: u32,
    /// Working days for the whole chain.
    pub limit_days: u32,
    /// Who can apply, in plain words.
    pub who_zh: String,
    pub who_en: String,
    /// For staff: the rule in words with its sources and caveats.
    #[serde(default)]
    pub notes: String,
    pub rule: String,
    #[serde(default)]
    pub questions: Vec<QuestionDraft>,
    pub materials: Vec<Material>,
    pub amount: AmountDraft,
    /// The platform can find eligible people from data (免申即享 / 主动办).
    pub proactive: bool,
    /// 跨省通办.
    pub cross_province: bool,
}

/// A checked version of a service item.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceVersion {
    code: ServiceCode,
    version: u32,
    effective_from: Date,
    name_zh: String,
    name_en: String,
    group: Group,
    chain: Vec<Step>,
    notice_days: u32,
    limit_days: u32,
    who_zh: String,
    who_en: String,
    notes: String,
    eligibility_rule: Rule,
    materials: Vec<Material>,
    amount: Amount,
    proactive: bool,
    cross_province: bool,
}

impl ServiceVersion {
    /// Checks every field and reports every problem, each under its field name.
    pub fn new(draft: ServiceDraft) -> Result<ServiceVersion, Problems> {
        let mut problems = Vec::new();
        let p = &mut problems;
        let code = ok(p, "code", ServiceCode::parse(&draft.code));
        if draft.version == 0 {
            p.push(Problem::new("version", Reason::Zero));
        }
        let effective_from = ok(
            p,
            "effective_from",
            Date::parse(
                draft.effective_from.trim(),
                format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| Reason::Date {
                value: draft.effective_from.clone(),
            }),
        );
        for (field, text) in [
            ("name_zh", &draft.name_zh),
            ("name_en", &draft.name_en),
            ("who_zh", &draft.who_zh),
            ("who_en", &draft.who_en),
        ] {
            require_text(p, field, text);
        }
        let group = ok(p, "group", draft.group.parse::<Group>());
        let chain = parse_chain(&draft.chain, p);
        if draft.limit_days == 0 {
            p.push(Problem::new("limit_days", Reason::Zero));
        }
        for (i, material) in draft.materials.iter().enumerate() {
            require_text(p, &format!("materials[{i}].zh"), &material.name_zh);
            require_text(p, &format!("materials[{i}].en"), &material.name_en);
        }
        let mut amount_problems = Vec::new();
        let amount = Amount::parse(&draft.amount, &mut amount_problems);
        p.extend(
            amount_problems
                .into_iter()
                .map(|problem| problem.within("amount.")),
        );
        // The rule can only be checked against well-formed questions.
        let eligibility_rule = match Questions::new(draft.questions) {
            Ok(questions) => ok(p, "rule", Rule::new(&draft.rule, &questions)),
            Err(Problems(question_problems)) => {
                p.extend(question_problems);
                None
            }
        };
        let (
            Some(code),
            Some(effective_from),
            Some(group),
            Some(chain),
            Some(amount),
            Some(eligibility_rule),
        ) = (code, effective_from, group, chain, amount, eligibility_rule)
        else {
            return Err(Problems(problems));
        };
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Ok(ServiceVersion {
            code,
            version: draft.version,
            effective_from,
            name_zh: draft.name_zh,
            name_en: draft.name_en,
            group,
            chain,
            notice_days: draft.notice_days,
            limit_days: draft.limit_days,
            who_zh: draft.who_zh,
            who_en: draft.who_en,
            notes: draft.notes,
            eligibility_rule,
            materials: draft.materials,
            amount,
            proactive: draft.proactive,
            cross_province: draft.cross_province,
        })
    }

    pub fn code(&self) -> &ServiceCode {
        &self.code
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn effective_from(&self) -> Date {
        self.effective_from
    }

    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.name_zh,
            Lang::En => &self.name_en,
        }
    }

    pub fn group(&self) -> Group {
        self.group
    }

    /// The review steps in order: never empty, no step twice.
    pub fn chain(&self) -> &[Step] {
        &self.chain
    }

    pub fn notice_days(&self) -> u32 {
        self.notice_days
    }

    pub fn limit_days(&self) -> u32 {
        self.limit_days
    }

    /// Who can apply, in plain words.
    pub fn who(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.who_zh,
            Lang::En => &self.who_en,
        }
    }

    /// For staff: the rule in words with its sources and caveats (English).
    pub fn notes(&self) -> &str {
        &self.notes
    }

    pub fn eligibility_rule(&self) -> &Rule {
        &self.eligibility_rule
    }

    /// The application form's questions, whose answers the rule may use.
    pub fn questions(&self) -> &Questions {
        self.eligibility_rule.questions()
    }

    pub fn materials(&self) -> &[Material] {
        &self.materials
    }

    pub fn amount(&self) -> &Amount {
        &self.amount
    }

    pub fn proactive(&self) -> bool {
        self.proactive
    }

    pub fn cross_province(&self) -> bool {
        self.cross_province
    }
}

fn parse_chain(chain: &[String], problems: &mut Vec<Problem>) -> Option<Vec<Step>> {
    if chain.is_empty() {
        problems.push(Problem::new("chain", Reason::Empty));
        return None;
    }
    let before = problems.len();
    let mut seen = BTreeSet::new();
    let steps: Vec<Step> = chain
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let step = ok(problems, &format!("chain[{i}]"), text.parse::<Step>())?;
            if !seen.insert(step) {
                problems.push(Problem::new(
                    format!("chain[{i}]"),
                    Reason::Repeated {
                        value: text.clone(),
                    },
                ));
            }
            Some(step)
        })
        .collect();
    (problems.len() == before).then_some(steps)
}

/// The value of `result`, or `None` with its error pushed as a problem of `field`.
fn ok<T, E: Into<Reason>>(
    problems: &mut Vec<Problem>,
    field: &str,
    result: Result<T, E>,
) -> Option<T> {
    result
        .map_err(|err| problems.push(Problem::new(field, err)))
        .ok()
}

/// Why a catalog was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("{at}: not a valid catalog file: {message}")]
    Syntax { at: Position, message: String },
    #[error("{0}")]
    Invalid(Problems),
}

impl CatalogError {
    fn zh(&self) -> String {
        match self {
            Self::Syntax { at, message } => format!("{}：目录文件格式错误：{message}", at.zh()),
            Self::Invalid(problems) => problems.message(Lang::Zh),
        }
    }
}

localized!(CatalogError);

/// Every version of every service item.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// By code, then version.
    versions: Vec<ServiceVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    service: Vec<ServiceDraft>,
}

impl Catalog {
    /// Checks that each (code, version) is listed once, and that a later version of an
    /// item takes effect after the earlier ones. Problems are named `service[i].…`, `i`
    /// being the place in `versions`.
    pub fn new(versions: Vec<ServiceVersion>) -> Result<Catalog, Problems> {
        let mut problems = Vec::new();
        for (i, v) in versions.iter().enumerate() {
            let field = format!("service[{i}].version");
            let earlier = versions[..i].iter().filter(|other| other.code == v.code);
            for other in earlier {
                if other.version == v.version {
                    problems.push(Problem::new(
                        field.clone(),
                        Reason::Repeated {
                            value: format!("{} {}", v.code, v.version),
                        },
                    ));
                } else {
                    let (early, late) = if other.version < v.version {
                        (other, v)
                    } else {
                        (v, other)
                    };
                    if late.effective_from <= early.effective_from {
                        problems.push(Problem::new(
                            field.clone(),
                            Reason::VersionOrder {
                                version: late.version,
                                previous: early.version,
                                previous_from: early.effective_from,
                            },
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let mut versions = versions;
        versions.sort_by(|a, b| (&a.code, a.version).cmp(&(&b.code, b.version)));
        Ok(Catalog { versions })
    }

    /// Parses a catalog file in the format of `data/services.toml` and checks every
    /// version, reporting every problem as `service[i].field`.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|err| CatalogError::Syntax {
            at: Position::of_offset(text, err.span().map_or(0, |span| span.start)),
            message: err.message().to_owned(),
        })?;
        let mut problems = Vec::new();
        let mut versions = Vec::new();
        for (i, draft) in file.service.into_iter().enumerate() {
            match ServiceVersion::new(draft) {
                Ok(version) => versions.push(version),
                Err(Problems(found)) => {
                    let prefix = format!("service[{i}].");
                    problems.extend(found.into_iter().map(|p| p.within(&prefix)));
                }
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid(Problems(problems)));
        }
        Catalog::new(versions).map_err(CatalogError::Invalid)
    }

    /// The seed catalog, [`SEED`].
    ///
    /// # Panics
    ///
    /// Never in a tested build: the seed is compiled in, and a test checks it.
    pub fn seed() -> Catalog {
        Catalog::from_toml(SEED).expect("the seed catalog is valid")
    }

    /// Every version, by code and then version.
    pub fn versions(&self) -> &[ServiceVersion] {
        &self.versions
    }

    /// The version a case was filed under.
    pub fn version(&self, code: &ServiceCode, version: u32) -> Option<&ServiceVersion> {
        self.index_of(code, version).map(|i| &self.versions[i])
    }

    /// Where version `(code, version)` stands in [`Catalog::versions`].
    pub fn index_of(&self, code: &ServiceCode, version: u32) -> Option<usize> {
        self.versions
            .iter()
            .position(|v| &v.code == code && v.version == version)
    }

    /// The version of `code` in effect on `day`: the latest one in effect by then.
    pub fn active_on(&self, code: &ServiceCode, day: Date) -> Option<&ServiceVersion> {
        self.versions
            .iter()
            .filter(|v| &v.code == code && v.effective_from <= day)
            .max_by_key(|v| v.version)
    }

    /// Every item in effect on `day`, one version each, by code.
    pub fn services_on(&self, day: Date) -> Vec<&ServiceVersion> {
        let codes: BTreeSet<_> = self.versions.iter().map(|v| &v.code).collect();
        codes
            .into_iter()
            .filter_map(|code| self.active_on(code, day))
            .collect()
    }
}

#[cfg(test)]
mod tests;
