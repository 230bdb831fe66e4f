//! 公民身份号码: the resident ID of GB 11643-1999.

use time::{Date, Month, macros::date};

use crate::{first_non_digit, is_province, today_shanghai};

const LENGTH: usize = 18;
const EARLIEST_BIRTH: Date = date!(1900 - 01 - 01);

/// Why a resident ID was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdError {
    #[error("resident ID is empty")]
    Empty,
    #[error("resident ID must be 18 characters, found {found}")]
    Length { found: usize },
    /// `position` is 1-based.
    #[error(
        "character {position} of the resident ID must be {}, found {found:?}",
        if *position == LENGTH { "a digit or X" } else { "a digit" }
    )]
    NonDigit { position: usize, found: char },
    #[error("{code} is not a province code")]
    Province { code: String },
    #[error("birth date {value} is not a real calendar date")]
    BirthDate { value: String },
    #[error("birth date is in the future")]
    BirthInFuture,
    #[error("birth date is before 1900-01-01")]
    BirthBefore1900,
    #[error("check character should be {expected}, found {found}")]
    CheckCharacter { expected: char, found: char },
    /// Only from [`ResidentId::from_parts`].
    #[error("address code must be 6 digits, found {value:?}")]
    AddressCode { value: String },
    /// Only from [`ResidentId::from_parts`].
    #[error("sequence number must be 0-999, found {value}")]
    Sequence { value: u16 },
}

impl IdError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "公民身份号码不能为空".to_owned(),
            Self::Length { found } => format!("公民身份号码应为 18 位，实为 {found} 位"),
            Self::NonDigit { position, found } => {
                let expected = if *position == LENGTH {
                    "数字或 X"
                } else {
                    "数字"
                };
                format!("公民身份号码第 {position} 位应为{expected}，实为“{found}”")
            }
            Self::Province { code } => format!("{code} 不是有效的省级行政区划代码"),
            Self::BirthDate { value } => format!("出生日期 {value} 不是有效日期"),
            Self::BirthInFuture => "出生日期不能晚于今天".to_owned(),
            Self::BirthBefore1900 => "出生日期不能早于 1900 年 1 月 1 日".to_owned(),
            Self::CheckCharacter { expected, found } => {
                format!("校验码应为 {expected}，实为 {found}")
            }
            Self::AddressCode { value } => format!("地址码应为 6 位数字，实为“{value}”"),
            Self::Sequence { value } => format!("顺序码应为 0-999，实为 {value}"),
        }
    }
}

localized!(IdError);

/// A valid 18-character resident ID; a lowercase check character is stored as `X`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId {
    id: String,
    birth: Date,
}

impl ResidentId {
    /// Parses against today's date in China.
    pub fn parse(s: &str) -> Result<ResidentId, IdError> {
        Self::parse_on(s, today_shanghai())
    }

    /// Parses against `today`, so that a birth date after it is rejected.
    pub fn parse_on(s: &str, today: Date) -> Result<ResidentId, IdError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let found = s.chars().count();
        if found != LENGTH {
            return Err(IdError::Length { found });
        }
        if let Some((i, found)) = s
            .chars()
            .enumerate()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == LENGTH - 1 && matches!(c, 'x' | 'X'))))
        {
            return Err(IdError::NonDigit {
                position: i + 1,
                found,
            });
        }
        // All ASCII from here on, so byte slicing is safe.
        let id = s.to_ascii_uppercase();
        let (first17, last) = id.split_at(LENGTH - 1);
        let last = char::from(last.as_bytes()[0]);
        check_province(&first17[..2])?;
        let birth = parse_birth(&first17[6..14])?;
        check_birth(birth, today)?;
        let expected = check_character(first17);
        if last != expected {
            return Err(IdError::CheckCharacter {
                expected,
                found: last,
            });
        }
        Ok(ResidentId { id, birth })
    }

    /// Assembles an ID and computes its check character; for synthetic data.
    pub fn from_parts(
        address_code: &str,
        birth: Date,
        sequence: u16,
    ) -> Result<ResidentId, IdError> {
        if address_code.len() != 6 || first_non_digit(address_code).is_some() {
            return Err(IdError::AddressCode {
                value: address_code.to_owned(),
            });
        }
        check_province(&address_code[..2])?;
        check_birth(birth, today_shanghai())?;
        if sequence > 999 {
            return Err(IdError::Sequence { value: sequence });
        }
        let first17 = format!(
            "{address_code}{:04}{:02}{:02}{sequence:03}",
            birth.year(),
            u8::from(birth.month()),
            birth.day()
        );
        let check = check_character(&first17);
        Ok(ResidentId {
            id: format!("{first17}{check}"),
            birth,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The 6-digit address code of the household registration at issue. It may name a
    /// county that no longer exists.
    pub fn address_code(&self) -> &str {
        &self.id[..6]
    }

    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// From the parity of the 17th digit: odd is male.
    pub fn sex(&self) -> Sex {
        if (self.id.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Completed years on `today`; 0 if `today` is before the birth date.
    pub fn age_on(&self, today: Date) -> u32 {
        let birthday_passed = (u8::from(today.month()), today.day())
            >= (u8::from(self.birth.month()), self.birth.day());
        let years = today.year() - self.birth.year() - i32::from(!birthday_passed);
        u32::try_from(years).unwrap_or(0)
    }

    /// The year of birth: plain enough for statistics and age bands, unlike the whole date.
    pub fn birth_year(&self) -> i32 {
        self.birth.year()
    }

    /// First 3 and last 4 characters, e.g. `510***********123X`: the birth date (characters
    /// 7-14) and most of the address code are hidden, so the year of birth and the division
    /// kept next to the mask in lists cannot complete it.
    pub fn masked(&self) -> String {
        format!("{}***********{}", &self.id[..3], &self.id[14..])
    }
}

string_type!(ResidentId, IdError);

/// The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident ID.
///
/// # Panics
///
/// If `first17` is not exactly 17 ASCII digits.
pub fn check_character(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHARACTERS: &[u8; 11] = b"10X98765432";
    assert!(
        first17.len() == 17 && first_non_digit(first17).is_none(),
        "check_character needs 17 digits, got {first17:?}"
    );
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    char::from(CHARACTERS[(sum % 11) as usize])
}

fn check_province(code: &str) -> Result<(), IdError> {
    if is_province(code) {
        Ok(())
    } else {
        Err(IdError::Province {
            code: code.to_owned(),
        })
    }
}

/// `YYYYMMDD`, already known to be 8 digits.
fn parse_birth(value: &str) -> Result<Date, IdError> {
    let number = |range: std::ops::Range<usize>| value[range].parse::<u8>().unwrap_or_default();
    Month::try_from(number(4..6))
        .ok()
        .and_then(|month| {
            let year = value[..4].parse().ok()?;
            Date::from_calendar_date(year, month, number(6..8)).ok()
        })
        .ok_or_else(|| IdError::BirthDate {
            value: value.to_owned(),
        })
}

fn check_birth(birth: Date, today: Date) -> Result<(), IdError> {
    if birth < EARLIEST_BIRTH {
        Err(IdError::BirthBefore1900)
    } else if birth > today {
        Err(IdError::BirthInFuture)
    } else {
        Ok(())
    }
}

vocabulary! {
    /// Sex as encoded in the resident ID.
    pub enum Sex("sex", "性别") {
        Male => ("male", "男", "Male"),
        Female => ("female", "女", "Female"),
    }
    aliases {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    const TODAY: Date = date!(2026 - 03 - 01);

    fn parse(s: &str) -> Result<ResidentId, IdError> {
        ResidentId::parse_on(s, TODAY)
    }

    /// A valid ID with the given first 17 digits.
    fn valid(first17: &str) -> String {
        format!("{first17}{}", check_character(first17))
    }

    #[test]
    fn check_characters_of_known_ids() {
        // The example printed in GB 11643-1999.
        assert_eq!(check_character("11010519491231002"), 'X');
        assert_eq!(check_character("44052418800101001"), '4');
        assert_eq!(check_character("51011219900101123"), '0');
    }

    #[test]
    fn parses_the_standard_example() {
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.address_code(), "110105");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "110***********002X");
        assert_eq!(id.birth_year(), 1949);
        assert_eq!(id.to_string(), id.as_str());
    }

    #[test]
    fn normalises_whitespace_and_lowercase_x() {
        let id = parse("  11010519491231002x\n").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn male_from_odd_sequence() {
        let id = parse("510112199001011230").unwrap();
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.masked(), "510***********1230");
    }

    #[test]
    fn errors_in_check_order() {
        assert_eq!(parse("  "), Err(IdError::Empty));
        assert_eq!(
            parse("51011219900101123"),
            Err(IdError::Length { found: 17 })
        );
        assert_eq!(
            parse("身份证号码身份证号码身份证号码身份证号"),
            Err(IdError::Length { found: 19 })
        );
        assert_eq!(
            parse("51011a199001011234"),
            Err(IdError::NonDigit {
                position: 6,
                found: 'a'
            })
        );
        assert_eq!(
            parse("51011219900101123Y"),
            Err(IdError::NonDigit {
                position: 18,
                found: 'Y'
            })
        );
        assert_eq!(
            parse(&valid("99011219900101123")),
            Err(IdError::Province { code: "99".into() })
        );
        assert_eq!(
            parse(&valid("51011219900230123")),
            Err(IdError::BirthDate {
                value: "19900230".into()
            })
        );
        assert_eq!(
            parse(&valid("51011219901301123")),
            Err(IdError::BirthDate {
                value: "19901301".into()
            })
        );
        assert_eq!(
            parse(&valid("51011218991231123")),
            Err(IdError::BirthBefore1900)
        );
        assert_eq!(
            parse(&valid("51011220260302123")),
            Err(IdError::BirthInFuture)
        );
        assert!(parse(&valid("51011220260301123")).is_ok());
        assert_eq!(
            parse("510112199001011233"),
            Err(IdError::CheckCharacter {
                expected: '0',
                found: '3'
            })
        );
    }

    #[test]
    fn full_width_digits_are_not_digits() {
        // 18 characters, one of them a full-width ３.
        assert_eq!(
            parse("5101121990010112３4"),
            Err(IdError::NonDigit {
                position: 17,
                found: '３'
            })
        );
    }

    #[test]
    fn keeps_retired_address_codes() {
        // 510122 (old Shuangliu county) no longer exists but its IDs remain valid.
        assert!(parse(&valid("51012219900101123")).is_ok());
    }

    #[test]
    fn messages_in_both_languages() {
        let err = IdError::CheckCharacter {
            expected: '7',
            found: '3',
        };
        assert_eq!(err.to_string(), "check character should be 7, found 3");
        assert_eq!(err.message(Lang::Zh), "校验码应为 7，实为 3");
        assert_eq!(err.message(Lang::En), err.to_string());
        assert_eq!(
            IdError::Length { found: 17 }.to_string(),
            "resident ID must be 18 characters, found 17"
        );
        assert_eq!(
            IdError::NonDigit {
                position: 18,
                found: 'Y'
            }
            .to_string(),
            "character 18 of the resident ID must be a digit or X, found 'Y'"
        );
        assert_eq!(
            IdError::NonDigit {
                position: 3,
                found: 'a'
            }
            .message(Lang::Zh),
            "公民身份号码第 3 位应为数字，实为“a”"
        );
    }

    #[test]
    fn from_parts_computes_the_check_character() {
        let id = ResidentId::from_parts("110105", date!(1949 - 12 - 31), 2).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            ResidentId::from_parts("11010", date!(1949 - 12 - 31), 2),
            Err(IdError::AddressCode {
                value: "11010".into()
            })
        );
        assert_eq!(
            ResidentId::from_parts("990105", date!(1949 - 12 - 31), 2),
            Err(IdError::Province { code: "99".into() })
        );
        assert_eq!(
            ResidentId::from_parts("110105", date!(1899 - 12 - 31), 2),
            Err(IdError::BirthBefore1900)
        );
        assert_eq!(
            ResidentId::from_parts("110105", date!(1949 - 12 - 31), 1000),
            Err(IdError::Sequence { value: 1000 })
        );
    }

    #[test]
    fn age_counts_completed_years() {
        let id = parse("510112199001011230").unwrap();
        assert_eq!(id.age_on(date!(2025 - 12 - 31)), 35);
        assert_eq!(id.age_on(date!(2026 - 01 - 01)), 36);
        assert_eq!(id.age_on(date!(1990 - 01 - 01)), 0);
        assert_eq!(id.age_on(date!(1980 - 01 - 01)), 0);

        let leap = parse(&valid("51011220000229123")).unwrap();
        assert_eq!(leap.age_on(date!(2001 - 02 - 28)), 0);
        assert_eq!(leap.age_on(date!(2001 - 03 - 01)), 1);
    }

    #[test]
    fn serde_is_the_canonical_string() {
        let id = parse("11010519491231002X").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            r#""11010519491231002X""#
        );
        assert_eq!(
            serde_json::from_str::<ResidentId>(r#""11010519491231002x""#).unwrap(),
            id
        );
        assert!(serde_json::from_str::<ResidentId>(r#""110105194912310021""#).is_err());
    }

    #[test]
    fn sex_vocabulary() {
        assert_eq!(Sex::Male.as_str(), "male");
        assert_eq!(Sex::Female.name(Lang::Zh), "女");
        assert_eq!("男".parse(), Ok(Sex::Male));
        assert_eq!("Female".parse(), Ok(Sex::Female));
        assert!("x".parse::<Sex>().is_err());
    }
}
