//! Online applications for the federation's service items: the catalog of items and their
//! versions, eligibility rules written in CEL over documented person facts, working-day
//! deadlines on an editable holiday calendar, and the case state machine.
//!
//! Pure: no I/O, no clock (callers pass "today"), no database. Every rejection explains
//! itself in English (`Display`) and Chinese (`message(Lang::Zh)`).

use zhucan_core::localized;

pub mod calendar;
pub mod case;
pub mod catalog;
pub mod documents;
pub mod eligibility;
pub mod facts;
pub mod offices;
pub mod outcome;

use std::fmt;

use zhucan_core::{Lang, MoneyError};

pub use calendar::{Deadline, HolidayCalendar, Pause, PauseError, shanghai_date};
pub use case::{Action, Decision, State, TransitionError, transition};
pub use catalog::{
    Amount, AmountDraft, AmountKind, Catalog, CatalogError, Group, Material, Period, SEED,
    ServiceCode, ServiceDraft, ServiceVersion, Step,
};
pub use documents::{DocumentError, DocumentKind, MAX_DOCUMENT_BYTES, check_document};
pub use eligibility::{ClauseResult, Construct, Evaluation, Rule, RuleError, ValueType};
pub use facts::{
    Answer, AnswerError, AnswerKind, CertificateFacts, Choice, FACTS, FactDoc, FactKind, FactValue,
    Facts, Person, Question, QuestionDraft, Questions, Vocabulary, fact,
};
pub use outcome::{
    Award, CertificateAction, CertificateEffect, HeldCertificate, Needs, Outcome, OutcomeError,
    certificate_effect, ten_years_from,
};

/// A value outside a closed vocabulary (step, group, answer kind, ...).
pub use zhucan_core::UnknownValue as UnknownTerm;

/// A place in a text (a rule, a TOML file): 1-based line, and 1-based column counted in
/// characters, as an editor shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
        Position {
            line: count(before.matches('\n').count()),
            column: count(before[line_start..].chars().count()),
        }
    }

    fn zh(self) -> String {
        format!("第 {} 行第 {} 列", self.line, self.column)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why one field of a service definition was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    #[error("must not be empty")]
    Empty,
    #[error("must be at least 1")]
    Zero,
    #[error("must be more than zero")]
    NotPositive,
    #[error("{0}")]
    Unknown(UnknownTerm),
    #[error("{value:?} is listed more than once")]
    Repeated { value: String },
    #[error(
        "{value:?} is not a service code: use 2-40 lowercase letters, digits and single hyphens, starting with a letter"
    )]
    Code { value: String },
    #[error(
        "{value:?} is not a key: use up to 40 lowercase letters, digits and underscores, starting with a letter, and no CEL keyword"
    )]
    Key { value: String },
    #[error("{key:?} is already the name of a person fact")]
    ShadowsFact { key: String },
    #[error("{value:?} is not a date; write it like 2026-01-01")]
    Date { value: String },
    #[error("{0}")]
    Money(MoneyError),
    #[error("{0}")]
    Rule(eligibility::RuleError),
    #[error("a choice question needs at least one choice")]
    NoChoices,
    #[error("only a choice question has choices")]
    ChoicesNotAllowed,
    #[error("is required for this kind of amount")]
    Required,
    #[error("is not used by this kind of amount")]
    NotUsed,
    #[error(
        "version {version} must take effect after version {previous}, which takes effect on {previous_from}"
    )]
    VersionOrder {
        version: u32,
        previous: u32,
        previous_from: time::Date,
    },
}

impl Reason {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "不能为空".to_owned(),
            Self::Zero => "至少为 1".to_owned(),
            Self::NotPositive => "应大于零".to_owned(),
            Self::Unknown(err) => err.message(Lang::Zh),
            Self::Repeated { value } => format!("“{value}”重复出现"),
            Self::Code { value } => format!(
                "“{value}”不是有效的事项编码：应为 2-40 位小写字母、数字和单个连字符，以字母开头"
            ),
            Self::Key { value } => format!(
                "“{value}”不是有效的键名：应为不超过 40 位的小写字母、数字和下划线，以字母开头，且不是 CEL 关键字"
            ),
            Self::ShadowsFact { key } => format!("“{key}”已是人员事实的名称"),
            Self::Date { value } => format!("“{value}”不是日期，应写作 2026-01-01"),
            Self::Money(err) => err.message(Lang::Zh),
            Self::Rule(err) => err.message(Lang::Zh),
            Self::NoChoices => "选择题至少需要一个选项".to_owned(),
            Self::ChoicesNotAllowed => "只有选择题才有选项".to_owned(),
            Self::Required => "此类金额必须填写".to_owned(),
            Self::NotUsed => "此类金额不使用该项".to_owned(),
            Self::VersionOrder {
                version,
                previous,
                previous_from,
            } => {
                format!("版本 {version} 的生效日期应晚于版本 {previous} 的生效日期 {previous_from}")
            }
        }
    }
}

localized!(Reason);

/// One thing wrong with a service definition: the field (a path such as `chain[1]` or
/// `questions[0].key`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Problem {
    pub field: String,
    pub reason: Reason,
}

impl Problem {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<Reason>) -> Problem {
        Problem {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same problem under `prefix`, e.g. `questions[2].` or `service[3].`.
    pub(crate) fn within(self, prefix: &str) -> Problem {
        Problem {
            field: format!("{prefix}{}", self.field),
            reason: self.reason,
        }
    }

    fn zh(&self) -> String {
        format!("{}：{}", self.field, self.reason.message(Lang::Zh))
    }
}

localized!(Problem);

impl From<UnknownTerm> for Reason {
    fn from(err: UnknownTerm) -> Self {
        Reason::Unknown(err)
    }
}

impl From<MoneyError> for Reason {
    fn from(err: MoneyError) -> Self {
        Reason::Money(err)
    }
}

impl From<eligibility::RuleError> for Reason {
    fn from(err: eligibility::RuleError) -> Self {
        Reason::Rule(err)
    }
}

/// Every problem found in a definition, so a form can name them all at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    fn zh(&self) -> String {
        let lines: Vec<_> = self.0.iter().map(Problem::zh).collect();
        lines.join("\n")
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<_> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for Problems {}

localized!(Problems);

/// `items` joined as a list: "a, b or c" / "a、b或c".
pub(crate) fn join_alternatives(items: &[String], lang: Lang) -> String {
    let (separator, last) = match lang {
        Lang::Zh => ("、", "或"),
        Lang::En => (", ", " or "),
    };
    match items.split_last() {
        None => String::new(),
        Some((only, [])) => only.clone(),
        Some((tail, head)) => {
            let mut parts: Vec<&str> = Vec::with_capacity(items.len() * 2);
            for (i, item) in head.iter().enumerate() {
                parts.extend([if i == 0 { "" } else { separator }, item.as_str()]);
            }
            parts.extend([last, tail.as_str()]);
            zh_text(&parts)
        }
    }
}

/// `parts` joined, with a space where a Chinese character meets a Latin letter or digit,
/// as Chinese typography sets them ("残疾等级为 3 级"); other text is joined as it is.
pub(crate) fn zh_text(parts: &[&str]) -> String {
    let is_han = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let mut out = String::new();
    for part in parts {
        if let (Some(last), Some(first)) = (out.chars().last(), part.chars().next())
            && ((is_han(last) && first.is_ascii_alphanumeric())
                || (last.is_ascii_alphanumeric() && is_han(first)))
        {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "ab\n中文x\ny";
        assert_eq!(
            Position::of_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        // `x` follows two 3-byte characters.
        assert_eq!(
            Position::of_offset(text, 9),
            Position { line: 2, column: 3 }
        );
        // Inside a multi-byte character, and past the end, clamp.
        assert_eq!(
            Position::of_offset(text, 4),
            Position { line: 2, column: 1 }
        );
        assert_eq!(
            Position::of_offset(text, 99),
            Position { line: 3, column: 2 }
        );
        assert_eq!(
            Position { line: 2, column: 3 }.to_string(),
            "line 2, column 3"
        );
        assert_eq!(Position { line: 2, column: 3 }.zh(), "第 2 行第 3 列");
    }

    #[test]
    fn alternatives_read_naturally() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_alternatives(&items(&[]), Lang::En), "");
        assert_eq!(join_alternatives(&items(&["1"]), Lang::En), "1");
        assert_eq!(join_alternatives(&items(&["1", "2"]), Lang::En), "1 or 2");
        assert_eq!(
            join_alternatives(&items(&["低保", "特困", "低收入"]), Lang::Zh),
            "低保、特困或低收入"
        );
        assert_eq!(
            join_alternatives(&items(&["1 级", "2 级", "3 级"]), Lang::Zh),
            "1 级、2 级或 3 级"
        );
        assert_eq!(
            zh_text(&["年龄为", "45 岁", "，需要", "A 类"]),
            "年龄为 45 岁，需要 A 类"
        );
    }

    #[test]
    fn problems_name_field_and_reason_in_both_languages() {
        let problems = Problems(vec![
            Problem::new("chain", Reason::Empty),
            Problem::new("limit_days", Reason::Zero).within("service[2]."),
        ]);
        assert_eq!(
            problems.to_string(),
            "chain: must not be empty\nservice[2].limit_days: must be at least 1"
        );
        assert_eq!(
            problems.message(Lang::Zh),
            "chain：不能为空\nservice[2].limit_days：至少为 1"
        );
    }
}
