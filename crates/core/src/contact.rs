//! Contact details: mainland mobile numbers and personal names.

const PHONE_DIGITS: usize = 11;
const NAME_MAX: usize = 50;

/// Why a phone number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number may contain only digits, found {found:?}")]
    NonDigit { found: char },
    #[error("mobile number must have 11 digits, found {found}")]
    Length { found: usize },
    #[error("mainland mobile numbers start with 13-19, found {found}")]
    Prefix { found: String },
}

impl PhoneError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "手机号码不能为空".to_owned(),
            Self::NonDigit { found } => format!("手机号码只能包含数字，实有“{found}”"),
            Self::Length { found } => format!("手机号码应为 11 位数字，实为 {found} 位"),
            Self::Prefix { found } => format!("大陆手机号码以 13-19 开头，实为 {found}"),
        }
    }
}

localized!(PhoneError);

/// A mainland China mobile number, 11 digits without country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Ignores spaces and hyphens, and a `+86`, `0086` or `86` country code before 11 digits.
    pub fn parse(s: &str) -> Result<Phone, PhoneError> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.is_empty() {
            return Err(PhoneError::Empty);
        }
        let number = ["+86", "0086", "86"]
            .into_iter()
            .filter_map(|code| compact.strip_prefix(code))
            .find(|rest| rest.chars().count() == PHONE_DIGITS)
            .unwrap_or(&compact);
        if let Some(found) = number.chars().find(|c| !c.is_ascii_digit()) {
            return Err(PhoneError::NonDigit { found });
        }
        if number.len() != PHONE_DIGITS {
            return Err(PhoneError::Length {
                found: number.len(),
            });
        }
        if !matches!(number.as_bytes(), [b'1', b'3'..=b'9', ..]) {
            return Err(PhoneError::Prefix {
                found: number[..2].to_owned(),
            });
        }
        Ok(Phone(number.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 3 and last 4 digits, e.g. `138****1234`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

string_type!(Phone, PhoneError);

/// Why a personal name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name must be at most {max} characters")]
    TooLong { max: usize },
    #[error(
        "name may contain only Chinese characters, Latin letters, spaces and · • . -, found {found:?}"
    )]
    Character { found: char },
}

impl NameError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "姓名不能为空".to_owned(),
            Self::TooLong { max } => format!("姓名不能超过 {max} 个字"),
            Self::Character { found } => {
                format!(
                    "姓名只能包含汉字、拉丁字母、空格和 · • . -，实有“{}”",
                    found.escape_debug()
                )
            }
        }
    }
}

localized!(NameError);

/// A person's name as written on their ID card, e.g. `张三` or `阿依古丽·买买提`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<PersonName, NameError> {
        let name = s.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(found) = name.chars().find(|&c| !is_name_char(c)) {
            return Err(NameError::Character { found });
        }
        if name.chars().count() > NAME_MAX {
            return Err(NameError::TooLong { max: NAME_MAX });
        }
        Ok(PersonName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For public notices: the first character, then one `*` per remaining character
    /// (`张**`); a one-character name becomes `*`.
    pub fn masked(&self) -> String {
        let count = self.0.chars().count();
        if count == 1 {
            return "*".to_owned();
        }
        self.0
            .chars()
            .take(1)
            .chain(std::iter::repeat_n('*', count - 1))
            .collect()
    }
}

string_type!(PersonName, NameError);

fn is_name_char(c: char) -> bool {
    matches!(c, ' ' | '·' | '•' | '.' | '-') || is_latin_letter(c) || is_han(c)
}

/// Latin letters including accented ones (Latin-1 Supplement and Latin Extended-A/B).
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (matches!(c, '\u{C0}'..='\u{24F}') && c.is_alphabetic())
}

/// CJK ideographs, including the extension blocks that rare name characters live in,
/// and 〇.
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    #[test]
    fn phone_normalisation() {
        for input in [
            "13812341234",
            "138 1234 1234",
            "138-1234-1234",
            "+86 138 1234 1234",
            "+8613812341234",
            "008613812341234",
            "8613812341234",
        ] {
            assert_eq!(
                Phone::parse(input).unwrap().as_str(),
                "13812341234",
                "{input}"
            );
        }
    }

    #[test]
    fn phone_rejections() {
        assert_eq!(Phone::parse(" - "), Err(PhoneError::Empty));
        assert_eq!(
            Phone::parse("138a2341234"),
            Err(PhoneError::NonDigit { found: 'a' })
        );
        assert_eq!(
            Phone::parse("1381234123"),
            Err(PhoneError::Length { found: 10 })
        );
        assert_eq!(
            Phone::parse("12812341234"),
            Err(PhoneError::Prefix { found: "12".into() })
        );
        assert_eq!(
            Phone::parse("02812341234"),
            Err(PhoneError::Prefix { found: "02".into() })
        );
        assert_eq!(
            PhoneError::Prefix { found: "12".into() }.to_string(),
            "mainland mobile numbers start with 13-19, found 12"
        );
        assert_eq!(
            PhoneError::Length { found: 10 }.message(Lang::Zh),
            "手机号码应为 11 位数字，实为 10 位"
        );
    }

    #[test]
    fn phone_masking_and_serde() {
        let phone = Phone::parse("13812345678").unwrap();
        assert_eq!(phone.masked(), "138****5678");
        assert_eq!(serde_json::to_string(&phone).unwrap(), r#""13812345678""#);
        assert_eq!(
            serde_json::from_str::<Phone>(r#""+86 138-1234-5678""#).unwrap(),
            phone
        );
    }

    #[test]
    fn names() {
        for ok in [
            "张三",
            "阿依古丽·买买提",
            "Li Na",
            "José-María",
            "O.Smith",
            "王〇",
            "𠮷野家",
        ] {
            assert_eq!(PersonName::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(PersonName::parse("  张三 ").unwrap().as_str(), "张三");
        assert_eq!(PersonName::parse(" "), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse("张三1"),
            Err(NameError::Character { found: '1' })
        );
        assert_eq!(
            PersonName::parse("张\u{7}三"),
            Err(NameError::Character { found: '\u{7}' })
        );
        assert_eq!(
            PersonName::parse(&"张".repeat(51)),
            Err(NameError::TooLong { max: 50 })
        );
        assert!(PersonName::parse(&"张".repeat(50)).is_ok());
    }

    #[test]
    fn name_masking() {
        let masked = |s| PersonName::parse(s).unwrap().masked();
        assert_eq!(masked("张三丰"), "张**");
        assert_eq!(masked("张三"), "张*");
        assert_eq!(masked("张"), "*");
    }

    #[test]
    fn name_messages() {
        let err = NameError::Character { found: '\u{7}' };
        assert_eq!(
            err.to_string(),
            r"name may contain only Chinese characters, Latin letters, spaces and · • . -, found '\u{7}'"
        );
        assert_eq!(
            err.message(Lang::Zh),
            r"姓名只能包含汉字、拉丁字母、空格和 · • . -，实有“\u{7}”"
        );
    }
}
