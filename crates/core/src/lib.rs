//! Domain types for zhucan, the district Disabled Persons' Federation platform.
//!
//! Every type is parsed once at the boundary ("parse, don't validate"): a value that exists
//! is valid. Every rejection names the rule broken, in English (`Display`) and in Chinese
//! ([`Localized::message`]).

#[macro_use]
mod macros;

pub mod account;
pub mod certificate;
pub mod contact;
pub mod division;
pub mod id;
pub mod money;
pub mod status;

use std::fmt;

use time::{Date, OffsetDateTime, macros::offset};

pub use account::{PasswordError, Role, Username, UsernameError, check_password_strength};
pub use certificate::{
    Category, CertificateError, CertificateNo, CertificateStatus, ComponentsError, Grade,
    MultipleComponents,
};
pub use contact::{NameError, PersonName, Phone, PhoneError};
pub use division::{DivisionCode, DivisionError, DivisionLevel};
pub use id::{IdError, ResidentId, Sex, check_character};
pub use money::{Money, MoneyError};
pub use status::{HouseholdStatus, LifeStatus, StatusError};

/// Language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// BCP 47 tag.
    pub fn code(&self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Accepts `zh`, `zh-CN` and `en`, ignoring ASCII case as BCP 47 does.
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("zh") || code.eq_ignore_ascii_case("zh-CN") {
            Some(Lang::Zh)
        } else if code.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

impl std::str::FromStr for Lang {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_code(s).ok_or_else(|| {
            UnknownValue::new(
                "language",
                "语言",
                s,
                &[("zh-CN", "中文"), ("en", "English")],
            )
        })
    }
}

serde_via_str!(Lang);

/// An error that can explain itself in either language; lets the web layer render any
/// domain error generically.
pub trait Localized {
    fn message(&self, lang: Lang) -> String;
}

/// A value outside a closed vocabulary (role, status, category, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownValue {
    /// What was being parsed, in English, e.g. "household status".
    pub field: &'static str,
    /// The rejected input, trimmed.
    pub value: String,
    field_zh: &'static str,
    /// `(slug, Chinese name)` of every accepted value.
    accepted: &'static [(&'static str, &'static str)],
}

impl UnknownValue {
    /// For [`vocabulary!`] (also used by other zhucan crates' vocabularies).
    #[doc(hidden)]
    pub fn new(
        field: &'static str,
        field_zh: &'static str,
        value: &str,
        accepted: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            field,
            value: value.to_owned(),
            field_zh,
            accepted,
        }
    }

    fn zh(&self) -> String {
        let names: Vec<_> = self.accepted.iter().map(|&(_, zh)| zh).collect();
        format!(
            "“{}”不是有效的{}，可选：{}",
            self.value,
            self.field_zh,
            names.join("、")
        )
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slugs: Vec<_> = self.accepted.iter().map(|&(slug, _)| slug).collect();
        write!(
            f,
            "{:?} is not a valid {}; expected one of: {}",
            self.value,
            self.field,
            slugs.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

localized!(UnknownValue);

/// Today's date in China Standard Time (UTC+8, no daylight saving).
pub fn today_shanghai() -> Date {
    OffsetDateTime::now_utc().to_offset(offset!(+8)).date()
}

/// 1-based position and value of the first character that is not an ASCII digit.
fn first_non_digit(s: &str) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(i, c)| (i + 1, c))
}

/// Whether a two-digit prefix is a province-level code of GB/T 2260
/// (including 71 Taiwan, 81 Hong Kong, 82 Macao).
fn is_province(prefix: &str) -> bool {
    matches!(
        prefix.parse::<u8>(),
        Ok(11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_codes_round_trip() {
        assert_eq!(Lang::default(), Lang::Zh);
        for lang in [Lang::Zh, Lang::En] {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
            assert_eq!(lang.to_string().parse::<Lang>(), Ok(lang));
        }
        assert_eq!(Lang::from_code("zh"), Some(Lang::Zh));
        assert_eq!(Lang::from_code("EN"), Some(Lang::En));
        assert_eq!(Lang::from_code("fr"), None);
    }

    #[test]
    fn lang_serde_uses_the_code() {
        assert_eq!(serde_json::to_string(&Lang::Zh).unwrap(), r#""zh-CN""#);
        assert_eq!(serde_json::from_str::<Lang>(r#""zh""#).unwrap(), Lang::Zh);
        assert!(serde_json::from_str::<Lang>(r#""de""#).is_err());
    }

    #[test]
    fn unknown_value_names_the_accepted_values() {
        let err = "fr".parse::<Lang>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""fr" is not a valid language; expected one of: zh-CN, en"#
        );
        assert_eq!(
            err.message(Lang::Zh),
            "“fr”不是有效的语言，可选：中文、English"
        );
    }

    #[test]
    fn provinces() {
        for ok in ["11", "15", "23", "37", "46", "54", "65", "71", "81", "82"] {
            assert!(is_province(ok), "{ok}");
        }
        for bad in [
            "00", "10", "16", "20", "30", "47", "55", "66", "72", "83", "1", "1a",
        ] {
            assert!(!is_province(bad), "{bad}");
        }
    }

    #[test]
    fn today_is_plausible() {
        assert!(today_shanghai().year() >= 2025);
    }
}
