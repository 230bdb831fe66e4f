//! 行政区划代码: district (GB/T 2260), street/town and community/village (NBS) codes.

use crate::{first_non_digit, is_province};

vocabulary! {
    /// How deep a division code reaches; ordered from the top down.
    pub enum DivisionLevel("division level", "区划层级") {
        District => ("district", "区县", "District"),
        Street => ("street", "街道乡镇", "Street/town"),
        Community => ("community", "社区村", "Community/village"),
    }
    aliases {}
}

impl DivisionLevel {
    /// Number of digits of a code at this level.
    const fn digits(self) -> usize {
        match self {
            Self::District => 6,
            Self::Street => 9,
            Self::Community => 12,
        }
    }
}

/// Why a division code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DivisionError {
    #[error("division code is empty")]
    Empty,
    #[error("division code must have 6, 9 or 12 digits, found {found}")]
    Length { found: usize },
    /// `position` is 1-based.
    #[error("character {position} of the division code must be a digit, found {found:?}")]
    NonDigit { position: usize, found: char },
    #[error("{code} is not a province code")]
    Province { code: String },
    /// A 12-digit code whose street part is `000` but whose community part is not.
    #[error("division code {code} has a community under street 000")]
    ZeroStreet { code: String },
}

impl DivisionError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "行政区划代码不能为空".to_owned(),
            Self::Length { found } => {
                format!("行政区划代码应为 6、9 或 12 位数字，实为 {found} 位")
            }
            Self::NonDigit { position, found } => {
                format!("行政区划代码第 {position} 位应为数字，实为“{found}”")
            }
            Self::Province { code } => format!("{code} 不是有效的省级行政区划代码"),
            Self::ZeroStreet { code } => {
                format!("行政区划代码 {code} 的街道部分为 000，却含有社区部分")
            }
        }
    }
}

localized!(DivisionError);

/// A district, street/town or community/village code.
///
/// NBS publishes every level as 12 digits padded with zeros (`110105000000`,
/// `110105001000`); such padding is stripped on parsing so that each place has one code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(s: &str) -> Result<DivisionCode, DivisionError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DivisionError::Empty);
        }
        let found = s.chars().count();
        if !DivisionLevel::ALL
            .iter()
            .any(|level| level.digits() == found)
        {
            return Err(DivisionError::Length { found });
        }
        if let Some((position, found)) = first_non_digit(s) {
            return Err(DivisionError::NonDigit { position, found });
        }
        if !is_province(&s[..2]) {
            return Err(DivisionError::Province {
                code: s[..2].to_owned(),
            });
        }
        let mut code = s;
        while code.len() > DivisionLevel::District.digits() && code.ends_with("000") {
            code = &code[..code.len() - 3];
        }
        if code.len() == DivisionLevel::Community.digits() && &code[6..9] == "000" {
            return Err(DivisionError::ZeroStreet { code: s.to_owned() });
        }
        Ok(DivisionCode(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> DivisionLevel {
        DivisionLevel::ALL
            .into_iter()
            .find(|level| level.digits() == self.0.len())
            .unwrap_or(DivisionLevel::Community)
    }

    /// The enclosing division: community → street → district → `None`.
    pub fn parent(&self) -> Option<DivisionCode> {
        let parent = match self.level() {
            DivisionLevel::District => return None,
            DivisionLevel::Street => DivisionLevel::District,
            DivisionLevel::Community => DivisionLevel::Street,
        };
        Some(self.truncated(parent))
    }

    /// From the district down to `self`.
    pub fn chain(&self) -> Vec<DivisionCode> {
        DivisionLevel::ALL
            .into_iter()
            .filter(|&level| level <= self.level())
            .map(|level| self.truncated(level))
            .collect()
    }

    /// Whether `other` is `self` or lies within it.
    pub fn contains(&self, other: &DivisionCode) -> bool {
        other.0.starts_with(&self.0)
    }

    pub fn district(&self) -> DivisionCode {
        self.truncated(DivisionLevel::District)
    }

    /// `self` cut to a level at or above its own.
    fn truncated(&self, level: DivisionLevel) -> DivisionCode {
        DivisionCode(self.0[..level.digits()].to_owned())
    }
}

string_type!(DivisionCode, DivisionError);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    #[test]
    fn levels_and_parents() {
        let community = code("510112001002");
        assert_eq!(community.level(), DivisionLevel::Community);
        assert_eq!(community.parent(), Some(code("510112001")));
        assert_eq!(code("510112001").level(), DivisionLevel::Street);
        assert_eq!(code("510112001").parent(), Some(code("510112")));
        assert_eq!(code("510112").level(), DivisionLevel::District);
        assert_eq!(code("510112").parent(), None);
        assert_eq!(community.district(), code("510112"));
        assert_eq!(
            community.chain(),
            vec![code("510112"), code("510112001"), community.clone()]
        );
        assert_eq!(code("510112").chain(), vec![code("510112")]);
    }

    #[test]
    fn containment() {
        let district = code("510112");
        let street = code("510112001");
        let community = code("510112001002");
        assert!(district.contains(&district));
        assert!(district.contains(&community));
        assert!(street.contains(&community));
        assert!(!community.contains(&street));
        assert!(!code("510112002").contains(&community));
        assert!(!code("510113").contains(&street));
    }

    #[test]
    fn strips_nbs_padding() {
        assert_eq!(code("510112000000").as_str(), "510112");
        assert_eq!(code("510112001000").as_str(), "510112001");
        assert_eq!(code("510112000").as_str(), "510112");
        assert_eq!(code(" 510112001002 ").as_str(), "510112001002");
        assert_eq!(
            DivisionCode::parse("510112000002"),
            Err(DivisionError::ZeroStreet {
                code: "510112000002".into()
            })
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(DivisionCode::parse(""), Err(DivisionError::Empty));
        assert_eq!(
            DivisionCode::parse("5101120"),
            Err(DivisionError::Length { found: 7 })
        );
        assert_eq!(
            DivisionCode::parse("51011a"),
            Err(DivisionError::NonDigit {
                position: 6,
                found: 'a'
            })
        );
        assert_eq!(
            DivisionCode::parse("990112"),
            Err(DivisionError::Province { code: "99".into() })
        );
        assert_eq!(
            DivisionError::Length { found: 7 }.to_string(),
            "division code must have 6, 9 or 12 digits, found 7"
        );
        assert_eq!(
            DivisionError::Length { found: 7 }.message(Lang::Zh),
            "行政区划代码应为 6、9 或 12 位数字，实为 7 位"
        );
    }

    #[test]
    fn level_vocabulary() {
        assert_eq!(DivisionLevel::Street.slug(), "street");
        assert_eq!(DivisionLevel::Community.name(Lang::Zh), "社区村");
        assert!(DivisionLevel::District < DivisionLevel::Street);
    }

    #[test]
    fn serde_is_the_code() {
        let c = code("510112001");
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""510112001""#);
        assert_eq!(
            serde_json::from_str::<DivisionCode>(r#""510112001""#).unwrap(),
            c
        );
        assert!(serde_json::from_str::<DivisionCode>(r#""5101""#).is_err());
    }
}
