//! The facts a rule may use: person facts from the registry, documented in [`FACTS`], and
//! a service's answer facts, asked by its application form ([`Question`]).

use std::collections::{BTreeMap, BTreeSet};
use zhucan_core::vocabulary;

use serde::{Deserialize, Serialize};
use time::Date;
use zhucan_core::{
    Category, CertificateStatus, Grade, HouseholdStatus, Lang, LifeStatus, MultipleComponents,
    ResidentId, Sex,
};

use crate::{Problem, Problems, Reason};

/// A closed vocabulary of `zhucan-core` that a text fact takes its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vocabulary {
    Sex,
    Category,
    HouseholdStatus,
    LifeStatus,
}

impl Vocabulary {
    /// `(slug, Chinese name, English name)` of every value.
    pub fn terms(self) -> Vec<(&'static str, &'static str, &'static str)> {
        macro_rules! terms {
            ($ty:ty) => {
                <$ty>::ALL
                    .iter()
                    .map(|v| (v.slug(), v.name(Lang::Zh), v.name(Lang::En)))
                    .collect()
            };
        }
        match self {
            Self::Sex => terms!(Sex),
            Self::Category => terms!(Category),
            Self::HouseholdStatus => terms!(HouseholdStatus),
            Self::LifeStatus => terms!(LifeStatus),
        }
    }

    /// The name of the value `slug`, if it is one.
    pub fn name(self, slug: &str, lang: Lang) -> Option<&'static str> {
        self.terms()
            .into_iter()
            .find(|&(s, _, _)| s == slug)
            .map(|(_, zh, en)| match lang {
                Lang::Zh => zh,
                Lang::En => en,
            })
    }
}

/// The type of a person fact, as a rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Bool,
    /// A whole number, with the unit an explanation shows after it, and its range where
    /// the range is small enough to list (a grade).
    Int {
        unit_zh: &'static str,
        unit_en: &'static str,
        range: Option<(i64, i64)>,
    },
    /// Text: one slug of the vocabulary.
    Term(Vocabulary),
    /// A list of slugs of the vocabulary.
    Terms(Vocabulary),
}

impl FactKind {
    /// The type in words, for the facts page.
    pub fn describe(self, lang: Lang) -> String {
        let slugs = |vocabulary: Vocabulary| {
            let slugs: Vec<_> = vocabulary.terms().iter().map(|t| t.0).collect();
            slugs.join(", ")
        };
        match (self, lang) {
            (Self::Bool, Lang::Zh) => "是/否（true/false）".to_owned(),
            (Self::Bool, Lang::En) => "yes/no (true/false)".to_owned(),
            (Self::Int { .. }, Lang::Zh) => "整数".to_owned(),
            (Self::Int { .. }, Lang::En) => "whole number".to_owned(),
            (Self::Term(v), Lang::Zh) => format!("文本，取值：{}", slugs(v)),
            (Self::Term(v), Lang::En) => format!("text, one of: {}", slugs(v)),
            (Self::Terms(v), Lang::Zh) => format!("文本列表，取值：{}", slugs(v)),
            (Self::Terms(v), Lang::En) => format!("list of text, each one of: {}", slugs(v)),
        }
    }
}

/// The value of one fact for one person; `None` where it is unknown or does not apply
/// (the grade of a person without a certificate, an unanswered question). A rule sees it
/// as `null`, and a comparison with `null` never passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactValue {
    Bool(Option<bool>),
    Int(Option<i64>),
    Text(Option<String>),
    List(Vec<String>),
}

/// One documented person fact: its name in rules, its type, a short label for
/// explanations, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct FactDoc {
    pub name: &'static str,
    pub kind: FactKind,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub about_zh: &'static str,
    pub about_en: &'static str,
    get: fn(&Facts) -> FactValue,
}

impl FactDoc {
    pub fn label(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.label_zh,
            Lang::En => self.label_en,
        }
    }

    pub fn about(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.about_zh,
            Lang::En => self.about_en,
        }
    }

    pub fn value(&self, facts: &Facts) -> FactValue {
        (self.get)(facts)
    }
}

/// The value of a text fact from a vocabulary slug.
fn term(slug: Option<&'static str>) -> FactValue {
    FactValue::Text(slug.map(str::to_owned))
}

/// Every person fact a rule may name.
pub const FACTS: &[FactDoc] = &[
    FactDoc {
        name: "age",
        kind: FactKind::Int {
            unit_zh: "岁",
            unit_en: "",
            range: None,
        },
        label_zh: "年龄",
        label_en: "age",
        about_zh: "周岁，按身份证号码中的出生日期计算",
        about_en: "completed years, from the birth date in the resident ID",
        get: |f| FactValue::Int(Some(i64::from(f.age))),
    },
    FactDoc {
        name: "sex",
        kind: FactKind::Term(Vocabulary::Sex),
        label_zh: "性别",
        label_en: "sex",
        about_zh: "按身份证号码",
        about_en: "from the resident ID",
        get: |f| term(Some(f.sex.slug())),
    },
    FactDoc {
        name: "category",
        kind: FactKind::Term(Vocabulary::Category),
        label_zh: "残疾类别",
        label_en: "disability category",
        about_zh: "残疾人证上的类别，多重残疾为 multiple；没有残疾人证时为空（null）",
        about_en: "the category on the certificate, `multiple` for a multiple disability; null without a certificate",
        get: |f| term(f.category.map(Category::slug)),
    },
    FactDoc {
        name: "categories",
        kind: FactKind::Terms(Vocabulary::Category),
        label_zh: "残疾类别（含多重残疾的各类别）",
        label_en: "disability categories (with those of a multiple disability)",
        about_zh: "单一残疾为该类别；多重残疾为其组成的各类别；没有残疾人证时为空列表。例：'intellectual' in categories",
        about_en: "the single category, or each component of a multiple disability; empty without a certificate. E.g. 'intellectual' in categories",
        get: |f| FactValue::List(f.categories.iter().map(|c| c.slug().to_owned()).collect()),
    },
    FactDoc {
        name: "grade",
        kind: FactKind::Int {
            unit_zh: "级",
            unit_en: "",
            range: Some((1, 4)),
        },
        label_zh: "残疾等级",
        label_en: "grade",
        about_zh: "1（最重）至 4；没有残疾人证时为空（null）",
        about_en: "1 (most severe) to 4; null without a certificate",
        get: |f| FactValue::Int(f.grade.map(|g| i64::from(g.value()))),
    },
    FactDoc {
        name: "has_certificate",
        kind: FactKind::Bool,
        label_zh: "持有残疾人证",
        label_en: "holds a disability certificate",
        about_zh: "持有未注销的残疾人证（有效、过期或冻结）",
        about_en: "holds a certificate that is not cancelled (valid, expired or frozen)",
        get: |f| FactValue::Bool(Some(f.has_certificate)),
    },
    FactDoc {
        name: "has_valid_certificate",
        kind: FactKind::Bool,
        label_zh: "持有有效残疾人证",
        label_en: "holds a valid disability certificate",
        about_zh: "残疾人证状态为有效且未过有效期",
        about_en: "the certificate's status is valid and it has not expired",
        get: |f| FactValue::Bool(Some(f.has_valid_certificate)),
    },
    FactDoc {
        name: "certificate_expires_in_days",
        kind: FactKind::Int {
            unit_zh: "天",
            unit_en: " days",
            range: None,
        },
        label_zh: "残疾人证距到期",
        label_en: "time until the certificate expires",
        about_zh: "距残疾人证有效期截止的天数，已过期为负数；没有残疾人证时为空（null）",
        about_en: "days until the certificate's expiry date, negative once expired; null without a certificate",
        get: |f| FactValue::Int(f.certificate_expires_in_days),
    },
    FactDoc {
        name: "household_status",
        kind: FactKind::Term(Vocabulary::HouseholdStatus),
        label_zh: "困难类别",
        label_en: "household status",
        about_zh: "民政认定的困难类别",
        about_en: "hardship status certified by civil affairs",
        get: |f| term(Some(f.household_status.slug())),
    },
    FactDoc {
        name: "life_status",
        kind: FactKind::Term(Vocabulary::LifeStatus),
        label_zh: "人员状态",
        label_en: "life status",
        about_zh: "在世、死亡或迁出",
        about_en: "alive, deceased or moved out",
        get: |f| term(Some(f.life_status.slug())),
    },
    FactDoc {
        name: "resident",
        kind: FactKind::Bool,
        label_zh: "户籍在本区",
        label_en: "household registration in the district",
        about_zh: "户籍登记在本区",
        about_en: "the household registration (户籍) is in the district",
        get: |f| FactValue::Bool(Some(f.resident)),
    },
    FactDoc {
        name: "residence_in_district",
        kind: FactKind::Bool,
        label_zh: "居住在本区",
        label_en: "lives in the district",
        about_zh: "经常居住在本区（如持本区居住证）",
        about_en: "habitually lives in the district (e.g. holds a residence permit here)",
        get: |f| FactValue::Bool(Some(f.residence_in_district)),
    },
];

/// The documented person fact called `name`.
pub fn fact(name: &str) -> Option<&'static FactDoc> {
    FACTS.iter().find(|doc| doc.name == name)
}

/// The certificate a person holds, as the registry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub category: Category,
    /// The components of a multiple disability (`category` is then `Multiple`).
    pub components: Option<MultipleComponents>,
    pub grade: Grade,
    pub status: CertificateStatus,
    pub expires_on: Date,
}

/// A person as the registry records them: the plain values person facts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub resident_id: ResidentId,
    pub household_status: HouseholdStatus,
    pub life_status: LifeStatus,
    /// Household registration (户籍) in the district.
    pub resident: bool,
    /// Habitual residence in the district (居住证).
    pub residence_in_district: bool,
    /// The current certificate, if one was ever issued.
    pub certificate: Option<CertificateFacts>,
}

/// An answer given on an application form; stored on the case as JSON `true`/`false` or text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Bool(bool),
    /// Free text, or the value of the chosen [`Choice`].
    Text(String),
}

/// Everything a rule can know about one applicant on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    age: u32,
    sex: Sex,
    category: Option<Category>,
    categories: Vec<Category>,
    grade: Option<Grade>,
    has_certificate: bool,
    has_valid_certificate: bool,
    certificate_expires_in_days: Option<i64>,
    household_status: HouseholdStatus,
    life_status: LifeStatus,
    resident: bool,
    residence_in_district: bool,
    answers: BTreeMap<String, Answer>,
}

impl Facts {
    /// The facts of `person` on `today` (a date in China), with no answers yet.
    ///
    /// A cancelled certificate counts as none: it gives no category, grade or expiry.
    pub fn new(person: &Person, today: Date) -> Facts {
        let held = person
            .certificate
            .as_ref()
            .filter(|c| c.status != CertificateStatus::Cancelled);
        let categories = match held {
            Some(CertificateFacts {
                components: Some(components),
                ..
            }) => components.categories().to_vec(),
            Some(certificate) => vec![certificate.category],
            None => Vec::new(),
        };
        Facts {
            age: person.resident_id.age_on(today),
            sex: person.resident_id.sex(),
            category: held.map(|c| c.category),
            categories,
            grade: held.map(|c| c.grade),
            has_certificate: held.is_some(),
            has_valid_certificate: held
                .is_some_and(|c| c.status == CertificateStatus::Valid && c.expires_on >= today),
            certificate_expires_in_days: held.map(|c| (c.expires_on - today).whole_days()),
            household_status: person.household_status,
            life_status: person.life_status,
            resident: person.resident,
            residence_in_district: person.residence_in_district,
            answers: BTreeMap::new(),
        }
    }

    /// The same facts with the answer to question `key`.
    pub fn with_answer(mut self, key: &str, answer: Answer) -> Facts {
        self.answers.insert(key.to_owned(), answer);
        self
    }

    pub fn answer(&self, key: &str) -> Option<&Answer> {
        self.answers.get(key)
    }
}

vocabulary! {
    /// The kind of answer a question takes.
    pub enum AnswerKind("answer kind", "回答类型") {
        Bool => ("bool", "是/否", "Yes/no"),
        Text => ("text", "文字", "Text"),
        Choice => ("choice", "单选", "Choice"),
    }
}

/// One option of a choice question: `value` is what a rule compares with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub zh: String,
    pub en: String,
}

impl Choice {
    pub fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// A question as written in the catalog or an admin form, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionDraft {
    pub key: String,
    pub kind: String,
    pub zh: String,
    pub en: String,
    #[serde(default)]
    pub choices: Vec<Choice>,
}

/// A question of a service's application form; its answer is the fact `key` of the
/// service's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    key: String,
    kind: AnswerKind,
    zh: String,
    en: String,
    choices: Vec<Choice>,
}

impl Question {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn kind(&self) -> AnswerKind {
        self.kind
    }

    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// Empty unless the kind is `choice`.
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The answer in `facts`; an answer of the wrong kind counts as none.
    pub fn value(&self, facts: &Facts) -> FactValue {
        let answer = facts.answer(&self.key);
        match self.kind {
            AnswerKind::Bool => FactValue::Bool(match answer {
                Some(Answer::Bool(b)) => Some(*b),
                _ => None,
            }),
            AnswerKind::Text | AnswerKind::Choice => FactValue::Text(match answer {
                Some(Answer::Text(text)) => Some(text.clone()),
                _ => None,
            }),
        }
    }

    /// The answer to this question alone, from the text a form gave (see
    /// [`Questions::parse_answers`]); a form asking one question per page checks each here.
    // The error carries the question to name it; it is made once per form post, not in a loop.
    #[allow(clippy::result_large_err)]
    pub fn parse_answer(&self, value: &str) -> Result<Answer, AnswerError> {
        let value = value.trim();
        match self.kind {
            _ if value.is_empty() => Err(AnswerError::Missing(self.clone())),
            AnswerKind::Bool => match value {
                "yes" => Ok(Answer::Bool(true)),
                "no" => Ok(Answer::Bool(false)),
                _ => Err(AnswerError::NotAnOption(self.clone(), value.to_owned())),
            },
            AnswerKind::Choice if !self.choices.iter().any(|c| c.value == value) => {
                Err(AnswerError::NotAnOption(self.clone(), value.to_owned()))
            }
            AnswerKind::Choice | AnswerKind::Text => Ok(Answer::Text(value.to_owned())),
        }
    }

    fn parse(draft: QuestionDraft, problems: &mut Vec<Problem>) -> Option<Question> {
        let before = problems.len();
        if !is_key(&draft.key) {
            problems.push(Problem::new(
                "key",
                Reason::Key {
                    value: draft.key.clone(),
                },
            ));
        } else if fact(&draft.key).is_some() {
            problems.push(Problem::new(
                "key",
                Reason::ShadowsFact {
                    key: draft.key.clone(),
                },
            ));
        }
        let kind = draft
            .kind
            .parse::<AnswerKind>()
            .map_err(|err| problems.push(Problem::new("kind", err)))
            .ok();
        require_text(problems, "zh", &draft.zh);
        require_text(problems, "en", &draft.en);
        match kind {
            Some(AnswerKind::Choice) if draft.choices.is_empty() => {
                problems.push(Problem::new("choices", Reason::NoChoices));
            }
            Some(AnswerKind::Bool | AnswerKind::Text) if !draft.choices.is_empty() => {
                problems.push(Problem::new("choices", Reason::ChoicesNotAllowed));
            }
            _ => {}
        }
        let mut values = BTreeSet::new();
        for (i, choice) in draft.choices.iter().enumerate() {
            let field = |name: &str| format!("choices[{i}].{name}");
            require_text(problems, &field("value"), &choice.value);
            if !values.insert(choice.value.trim()) {
                problems.push(Problem::new(
                    field("value"),
                    Reason::Repeated {
                        value: choice.value.clone(),
                    },
                ));
            }
            require_text(problems, &field("zh"), &choice.zh);
            require_text(problems, &field("en"), &choice.en);
        }
        let kind = kind.filter(|_| problems.len() == before)?;
        Some(Question {
            key: draft.key,
            kind,
            zh: draft.zh,
            en: draft.en,
            choices: draft.choices,
        })
    }
}

/// A service's questions: each checked, keys distinct and none the name of a person fact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Questions(Vec<Question>);

impl Questions {
    /// Checks every draft and reports every problem, under `questions[i].`.
    pub fn new(drafts: Vec<QuestionDraft>) -> Result<Questions, Problems> {
        let mut problems = Vec::new();
        let mut keys = BTreeSet::new();
        let mut questions = Vec::new();
        for (i, draft) in drafts.into_iter().enumerate() {
            let mut own = Vec::new();
            if !keys.insert(draft.key.clone()) {
                own.push(Problem::new(
                    "key",
                    Reason::Repeated {
                        value: draft.key.clone(),
                    },
                ));
            }
            questions.extend(Question::parse(draft, &mut own));
            let prefix = format!("questions[{i}].");
            problems.extend(own.into_iter().map(|p| p.within(&prefix)));
        }
        if problems.is_empty() {
            Ok(Questions(questions))
        } else {
            Err(Problems(problems))
        }
    }

    pub fn get(&self, key: &str) -> Option<&Question> {
        self.0.iter().find(|q| q.key == key)
    }

    /// The answers of a form, from the text given for each question key (`yes`/`no` for a
    /// yes/no question, a choice's value, free text; surrounding blanks ignored). Every
    /// question must be answered; every problem is reported, in question order, then any key
    /// that is no question of this form.
    pub fn parse_answers(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Answer>, Vec<(String, AnswerError)>> {
        let mut answers = BTreeMap::new();
        let mut problems = Vec::new();
        for q in &self.0 {
            match q.parse_answer(given.get(&q.key).map_or("", String::as_str)) {
                Ok(a) => {
                    answers.insert(q.key.clone(), a);
                }
                Err(e) => problems.push((q.key.clone(), e)),
            }
        }
        problems.extend(
            given
                .keys()
                .filter(|k| self.get(k).is_none())
                .map(|k| (k.clone(), AnswerError::NotAQuestion)),
        );
        if problems.is_empty() {
            Ok(answers)
        } else {
            Err(problems)
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Question> {
        self.0.iter()
    }
}

/// Why the answer to one question of a form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("Answer the question: {}", .0.en)]
    Missing(Question),
    /// The value given, which is no option of the yes/no or choice question.
    #[error("{:?} is not an answer to \"{}\"; choose {}", .1, .0.en, options(.0, Lang::En))]
    NotAnOption(Question, String),
    #[error("this service's form has no such question")]
    NotAQuestion,
}

/// The answers a yes/no or choice question takes, as "yes or no" / "是或否".
fn options(q: &Question, lang: Lang) -> String {
    let names: Vec<String> = match q.kind {
        AnswerKind::Bool => match lang {
            Lang::Zh => vec!["是（yes）".into(), "否（no）".into()],
            Lang::En => vec!["yes".into(), "no".into()],
        },
        _ => q
            .choices
            .iter()
            .map(|c| match lang {
                Lang::Zh => format!("{}（{}）", c.zh, c.value),
                Lang::En => format!("{} ({})", c.value, c.en),
            })
            .collect(),
    };
    crate::join_alternatives(&names, lang)
}

impl AnswerError {
    fn zh(&self) -> String {
        match self {
            Self::Missing(q) => format!("请回答：{}", q.zh),
            Self::NotAnOption(q, value) => {
                format!(
                    "“{value}”不是“{}”的选项，请选择{}",
                    q.zh,
                    options(q, Lang::Zh)
                )
            }
            Self::NotAQuestion => "本事项的申请表没有这个问题".to_owned(),
        }
    }
}

zhucan_core::localized!(AnswerError);

/// Pushes [`Reason::Empty`] for `field` if `text` is blank.
pub(crate) fn require_text(problems: &mut Vec<Problem>, field: &str, text: &str) {
    if text.trim().is_empty() {
        problems.push(Problem::new(field, Reason::Empty));
    }
}

/// Words CEL reserves: a question with such a key could never be named in a rule.
const CEL_RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "false",
    "for",
    "function",
    "if",
    "import",
    "in",
    "let",
    "loop",
    "namespace",
    "null",
    "package",
    "return",
    "true",
    "var",
    "void",
    "while",
];

/// A lowercase identifier a rule can name: `[a-z][a-z0-9_]*`, at most 40 characters.
fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 40
        && !CEL_RESERVED.contains(&s)
}

#[cfg(test)]
pub(crate) mod tests {
    use time::macros::date;

    use super::*;

    pub(crate) const TODAY: Date = date!(2026 - 03 - 01);

    /// A resident born on `birth`, with no certificate, in an ordinary household.
    pub(crate) fn person(birth: Date) -> Person {
        Person {
            resident_id: ResidentId::from_parts("510112", birth, 123).unwrap(),
            household_status: HouseholdStatus::None,
            life_status: LifeStatus::Alive,
            resident: true,
            residence_in_district: true,
            certificate: None,
        }
    }

    pub(crate) fn certificate(category: Category, grade: u8) -> CertificateFacts {
        CertificateFacts {
            category,
            components: None,
            grade: Grade::new(grade).unwrap(),
            status: CertificateStatus::Valid,
            expires_on: date!(2030 - 06 - 30),
        }
    }

    /// Facts of an adult of 45 holding `category`, `grade`, valid until mid-2030.
    pub(crate) fn holder(category: Category, grade: u8) -> Facts {
        let mut p = person(date!(1980 - 05 - 01));
        p.certificate = Some(certificate(category, grade));
        Facts::new(&p, TODAY)
    }

    fn value(facts: &Facts, name: &str) -> FactValue {
        fact(name).unwrap().value(facts)
    }

    #[test]
    fn facts_are_derived_from_the_person() {
        let f = holder(Category::Physical, 2);
        assert_eq!(value(&f, "age"), FactValue::Int(Some(45)));
        assert_eq!(value(&f, "sex"), FactValue::Text(Some("male".into())));
        assert_eq!(
            value(&f, "category"),
            FactValue::Text(Some("physical".into()))
        );
        assert_eq!(
            value(&f, "categories"),
            FactValue::List(vec!["physical".into()])
        );
        assert_eq!(value(&f, "grade"), FactValue::Int(Some(2)));
        assert_eq!(value(&f, "has_certificate"), FactValue::Bool(Some(true)));
        assert_eq!(
            value(&f, "has_valid_certificate"),
            FactValue::Bool(Some(true))
        );
        // 2026-03-01 to 2030-06-30.
        assert_eq!(
            value(&f, "certificate_expires_in_days"),
            FactValue::Int(Some(1582))
        );
        assert_eq!(
            value(&f, "household_status"),
            FactValue::Text(Some("none".into()))
        );
        assert_eq!(
            value(&f, "life_status"),
            FactValue::Text(Some("alive".into()))
        );
        assert_eq!(value(&f, "resident"), FactValue::Bool(Some(true)));
        assert_eq!(
            value(&f, "residence_in_district"),
            FactValue::Bool(Some(true))
        );
    }

    #[test]
    fn age_counts_completed_years() {
        let on = |birth| Facts::new(&person(birth), TODAY);
        assert_eq!(
            value(&on(date!(2020 - 03 - 01)), "age"),
            FactValue::Int(Some(6))
        );
        assert_eq!(
            value(&on(date!(2020 - 03 - 02)), "age"),
            FactValue::Int(Some(5))
        );
    }

    #[test]
    fn without_a_certificate_its_facts_are_unknown() {
        let f = Facts::new(&person(date!(1990 - 01 - 01)), TODAY);
        assert_eq!(value(&f, "category"), FactValue::Text(None));
        assert_eq!(value(&f, "categories"), FactValue::List(vec![]));
        assert_eq!(value(&f, "grade"), FactValue::Int(None));
        assert_eq!(value(&f, "has_certificate"), FactValue::Bool(Some(false)));
        assert_eq!(
            value(&f, "certificate_expires_in_days"),
            FactValue::Int(None)
        );
    }

    #[test]
    fn certificate_status_and_expiry_decide_validity() {
        let with = |status, expires_on| {
            let mut p = person(date!(1980 - 05 - 01));
            p.certificate = Some(CertificateFacts {
                status,
                expires_on,
                ..certificate(Category::Visual, 1)
            });
            Facts::new(&p, TODAY)
        };
        let expired = with(CertificateStatus::Valid, date!(2026 - 02 - 28));
        assert_eq!(
            value(&expired, "has_certificate"),
            FactValue::Bool(Some(true))
        );
        assert_eq!(
            value(&expired, "has_valid_certificate"),
            FactValue::Bool(Some(false))
        );
        assert_eq!(
            value(&expired, "certificate_expires_in_days"),
            FactValue::Int(Some(-1))
        );
        let last_day = with(CertificateStatus::Valid, TODAY);
        assert_eq!(
            value(&last_day, "has_valid_certificate"),
            FactValue::Bool(Some(true))
        );
        let frozen = with(CertificateStatus::Frozen, date!(2030 - 01 - 01));
        assert_eq!(
            value(&frozen, "has_certificate"),
            FactValue::Bool(Some(true))
        );
        assert_eq!(
            value(&frozen, "has_valid_certificate"),
            FactValue::Bool(Some(false))
        );
        let cancelled = with(CertificateStatus::Cancelled, date!(2030 - 01 - 01));
        assert_eq!(cancelled, Facts::new(&person(date!(1980 - 05 - 01)), TODAY));
    }

    #[test]
    fn a_multiple_disability_lists_its_components() {
        let mut p = person(date!(1980 - 05 - 01));
        p.certificate = Some(CertificateFacts {
            components: Some(MultipleComponents::parse("5,4").unwrap()),
            ..certificate(Category::Multiple, 1)
        });
        let f = Facts::new(&p, TODAY);
        assert_eq!(
            value(&f, "category"),
            FactValue::Text(Some("multiple".into()))
        );
        assert_eq!(
            value(&f, "categories"),
            FactValue::List(vec!["physical".into(), "intellectual".into()])
        );
    }

    #[test]
    fn the_facts_table_is_consistent() {
        let names: BTreeSet<_> = FACTS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), FACTS.len());
        let f = holder(Category::Hearing, 3);
        for doc in FACTS {
            assert!(is_key(doc.name), "{}", doc.name);
            assert!(!doc.label_zh.is_empty() && !doc.about_en.is_empty());
            let matches = matches!(
                (doc.kind, doc.value(&f)),
                (FactKind::Bool, FactValue::Bool(_))
                    | (FactKind::Int { .. }, FactValue::Int(_))
                    | (FactKind::Term(_), FactValue::Text(_))
                    | (FactKind::Terms(_), FactValue::List(_))
            );
            assert!(matches, "{} has a value of another kind", doc.name);
        }
        assert_eq!(
            fact("household_status").unwrap().kind.describe(Lang::En),
            "text, one of: none, dibao, dibao_edge, tekun, low_income"
        );
        assert_eq!(FactKind::Bool.describe(Lang::Zh), "是/否（true/false）");
    }

    #[test]
    fn vocabularies_name_their_values() {
        assert_eq!(
            Vocabulary::Category.name("physical", Lang::Zh),
            Some("肢体残疾")
        );
        assert_eq!(
            Vocabulary::HouseholdStatus.name("dibao_edge", Lang::En),
            Some("Dibao edge")
        );
        assert_eq!(Vocabulary::Sex.name("other", Lang::En), None);
        assert_eq!(Vocabulary::LifeStatus.terms().len(), 3);
    }

    pub(crate) fn draft(key: &str, kind: &str, choices: &[&str]) -> QuestionDraft {
        QuestionDraft {
            key: key.into(),
            kind: kind.into(),
            zh: format!("{key}？"),
            en: format!("{key}?"),
            choices: choices
                .iter()
                .map(|v| Choice {
                    value: (*v).into(),
                    zh: format!("选项{v}"),
                    en: format!("option {v}"),
                })
                .collect(),
        }
    }

    #[test]
    fn questions_are_checked() {
        let questions = Questions::new(vec![
            draft("moved_in", "bool", &[]),
            draft("reason", "choice", &["damaged", "details"]),
        ])
        .unwrap();
        assert_eq!(questions.get("reason").unwrap().choices().len(), 2);
        assert_eq!(questions.get("moved_in").unwrap().kind(), AnswerKind::Bool);
        assert_eq!(
            questions.get("moved_in").unwrap().text(Lang::En),
            "moved_in?"
        );
        assert!(questions.get("other").is_none());
        assert_eq!(questions.iter().count(), 2);
    }

    #[test]
    fn every_problem_with_the_questions_is_reported() {
        let mut blank = draft("note", "text", &["x"]);
        blank.zh = " ".into();
        let errors = Questions::new(vec![
            draft("Moved", "bool", &[]),
            draft("grade", "bool", &[]),
            draft("kind", "number", &[]),
            draft("pick", "choice", &[]),
            draft("pick", "choice", &["a", "a", ""]),
            blank,
            draft("in", "bool", &[]),
        ])
        .unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "questions[0].key",
                "questions[1].key",
                "questions[2].kind",
                "questions[3].choices",
                "questions[4].key",
                "questions[4].choices[1].value",
                "questions[4].choices[2].value",
                "questions[5].zh",
                "questions[5].choices",
                "questions[6].key",
            ]
        );
        assert_eq!(
            errors.0[1].to_string(),
            r#"questions[1].key: "grade" is already the name of a person fact"#
        );
        assert_eq!(
            errors.0[2].message(Lang::Zh),
            "questions[2].kind：“number”不是有效的回答类型，可选：是/否、文字、单选"
        );
    }

    #[test]
    fn answers_bind_by_the_question_kind() {
        let questions = Questions::new(vec![
            draft("owns", "bool", &[]),
            draft("reason", "choice", &["damaged"]),
        ])
        .unwrap();
        let owns = questions.get("owns").unwrap();
        let reason = questions.get("reason").unwrap();
        let f = holder(Category::Physical, 1);
        assert_eq!(owns.value(&f), FactValue::Bool(None));
        let f = f
            .with_answer("owns", Answer::Bool(true))
            .with_answer("reason", Answer::Bool(true));
        assert_eq!(owns.value(&f), FactValue::Bool(Some(true)));
        // An answer of the wrong kind is no answer.
        assert_eq!(reason.value(&f), FactValue::Text(None));
        let f = f.with_answer("reason", Answer::Text("damaged".into()));
        assert_eq!(reason.value(&f), FactValue::Text(Some("damaged".into())));
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn form() -> Questions {
        Questions::new(vec![
            draft("owns", "bool", &[]),
            draft("reason", "choice", &["damaged", "details"]),
            draft("note", "text", &[]),
        ])
        .unwrap()
    }

    #[test]
    fn answers_parse_by_the_question_kind() {
        let answers = form()
            .parse_answers(&given(&[
                ("owns", "no"),
                ("reason", " damaged "),
                ("note", " 轮椅坏了 "),
            ]))
            .unwrap();
        assert_eq!(answers["owns"], Answer::Bool(false));
        assert_eq!(answers["reason"], Answer::Text("damaged".into()));
        assert_eq!(answers["note"], Answer::Text("轮椅坏了".into()));
        assert_eq!(
            form()
                .parse_answers(&given(&[
                    ("owns", "yes"),
                    ("reason", "details"),
                    ("note", "x")
                ]))
                .unwrap()["owns"],
            Answer::Bool(true)
        );
        assert!(
            Questions::default()
                .parse_answers(&given(&[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn every_bad_answer_is_named_in_both_languages() {
        let errors = form()
            .parse_answers(&given(&[
                ("owns", "maybe"),
                ("reason", "lost"),
                ("note", "  "),
                ("colour", "red"),
            ]))
            .unwrap_err();
        let keys: Vec<_> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["owns", "reason", "note", "colour"]);
        let en: Vec<_> = errors.iter().map(|(_, e)| e.message(Lang::En)).collect();
        let zh: Vec<_> = errors.iter().map(|(_, e)| e.message(Lang::Zh)).collect();
        assert_eq!(
            en[0],
            r#""maybe" is not an answer to "owns?"; choose yes or no"#
        );
        assert_eq!(
            en[1],
            r#""lost" is not an answer to "reason?"; choose damaged (option damaged) or details (option details)"#
        );
        assert_eq!(en[2], "Answer the question: note?");
        assert_eq!(en[3], "this service's form has no such question");
        assert_eq!(
            zh[0],
            "“maybe”不是“owns？”的选项，请选择是（yes）或否（no）"
        );
        assert_eq!(zh[2], "请回答：note？");
        assert_eq!(zh[3], "本事项的申请表没有这个问题");
        // A question left out counts as unanswered.
        let missing = form()
            .parse_answers(&given(&[("owns", "yes")]))
            .unwrap_err();
        assert_eq!(
            missing,
            [
                (
                    "reason".to_owned(),
                    AnswerError::Missing(form().get("reason").unwrap().clone())
                ),
                (
                    "note".to_owned(),
                    AnswerError::Missing(form().get("note").unwrap().clone())
                ),
            ]
        );
    }

    #[test]
    fn answers_are_stored_as_json_values() {
        let answers = form()
            .parse_answers(&given(&[
                ("owns", "yes"),
                ("reason", "details"),
                ("note", "n"),
            ]))
            .unwrap();
        assert_eq!(
            serde_json::to_value(&answers).unwrap(),
            serde_json::json!({ "owns": true, "reason": "details", "note": "n" })
        );
    }

    #[test]
    fn keys_are_lowercase_identifiers() {
        for ok in ["a", "moved_in", "q2", &"x".repeat(40)] {
            assert!(is_key(ok), "{ok}");
        }
        for bad in [
            "",
            "2q",
            "_a",
            "Moved",
            "a-b",
            "a b",
            "in",
            "null",
            &"x".repeat(41),
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }

    #[test]
    fn answer_kinds_parse() {
        assert_eq!("bool".parse(), Ok(AnswerKind::Bool));
        assert_eq!("单选".parse(), Ok(AnswerKind::Choice));
        assert_eq!(AnswerKind::Text.name(Lang::En), "Text");
    }
}
