//! 残疾人证 (second generation): category, grade and the certificate number.

use std::fmt;

use crate::{IdError, Lang, ResidentId};

/// Length of a number without a replacement suffix: resident ID + category + grade.
const BASE_LENGTH: usize = 20;

vocabulary! {
    /// 残疾类别 of GB/T 26341-2010; the discriminant is the digit in the certificate number.
    pub enum Category("disability category", "残疾类别") {
        Visual = 1 => ("visual", "视力残疾", "Visual"),
        Hearing = 2 => ("hearing", "听力残疾", "Hearing"),
        Speech = 3 => ("speech", "言语残疾", "Speech"),
        Physical = 4 => ("physical", "肢体残疾", "Physical"),
        Intellectual = 5 => ("intellectual", "智力残疾", "Intellectual"),
        Psychosocial = 6 => ("psychosocial", "精神残疾", "Psychosocial"),
        Multiple = 7 => ("multiple", "多重残疾", "Multiple"),
    }
    aliases {
        "1" => Visual, "2" => Hearing, "3" => Speech, "4" => Physical,
        "5" => Intellectual, "6" => Psychosocial, "7" => Multiple,
        "视力" => Visual, "听力" => Hearing, "言语" => Speech, "肢体" => Physical,
        "智力" => Intellectual, "精神" => Psychosocial, "多重" => Multiple,
    }
}

impl Category {
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Result<Category, CertificateError> {
        Self::ALL
            .into_iter()
            .find(|category| category.code() == code)
            .ok_or(CertificateError::CategoryCode { code })
    }
}

vocabulary! {
    /// 残疾等级: `One` (一级) is the most severe, so the derived order runs from most to
    /// least severe.
    pub enum Grade("disability grade", "残疾等级") {
        One = 1 => ("1", "一级", "Grade 1"),
        Two = 2 => ("2", "二级", "Grade 2"),
        Three = 3 => ("3", "三级", "Grade 3"),
        Four = 4 => ("4", "四级", "Grade 4"),
    }
    aliases { "一" => One, "二" => Two, "三" => Three, "四" => Four }
}

impl Grade {
    pub fn new(value: u8) -> Result<Grade, CertificateError> {
        Self::ALL
            .into_iter()
            .find(|grade| grade.value() == value)
            .ok_or(CertificateError::GradeValue { value })
    }

    pub const fn value(self) -> u8 {
        self as u8
    }
}

vocabulary! {
    /// State of a certificate.
    pub enum CertificateStatus("certificate status", "证件状态") {
        Valid => ("valid", "有效", "Valid"),
        Expired => ("expired", "过期", "Expired"),
        Frozen => ("frozen", "冻结", "Frozen"),
        Cancelled => ("cancelled", "注销", "Cancelled"),
    }
    aliases {}
}

/// Why a set of components of a multiple disability was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ComponentsError {
    #[error("a multiple disability needs at least 2 categories, found {found}")]
    TooFew { found: usize },
    #[error("category {} is listed twice", .category.slug())]
    Duplicate { category: Category },
    #[error("\"multiple\" cannot be a component of a multiple disability")]
    IncludesMultiple,
    #[error("{value:?} is not a disability category")]
    Unknown { value: String },
}

impl ComponentsError {
    fn zh(&self) -> String {
        match self {
            Self::TooFew { found } => format!("多重残疾至少应包含 2 个类别，实为 {found} 个"),
            Self::Duplicate { category } => format!("{}重复", category.name(Lang::Zh)),
            Self::IncludesMultiple => "多重残疾的组成不能包含“多重残疾”".to_owned(),
            Self::Unknown { value } => format!("“{value}”不是残疾类别"),
        }
    }
}

localized!(ComponentsError);

/// Why a certificate number (or one of its parts) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate number is empty")]
    Empty,
    #[error(
        "certificate number must be 20 characters, or 22-23 with a replacement suffix, found {found}"
    )]
    Length { found: usize },
    #[error("character 19 of the certificate number must be a category digit 1-7, found {found:?}")]
    Category { found: char },
    #[error("character 20 of the certificate number must be a grade digit 1-4, found {found:?}")]
    Grade { found: char },
    #[error("replacement suffix must be B1 to B99, found {value:?}")]
    Suffix { value: String },
    #[error("embedded resident ID: {0}")]
    ResidentId(IdError),
    #[error("certificate number does not match the holder's resident ID")]
    HolderMismatch,
    #[error("{reason}")]
    MultipleComponents { reason: ComponentsError },
    /// From [`Category::from_code`].
    #[error("category code must be 1-7, found {code}")]
    CategoryCode { code: u8 },
    /// From [`Grade::new`].
    #[error("grade must be 1-4, found {value}")]
    GradeValue { value: u8 },
}

impl CertificateError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "残疾人证号不能为空".to_owned(),
            Self::Length { found } => {
                format!("残疾人证号应为 20 位（换发证加后缀为 22-23 位），实为 {found} 位")
            }
            Self::Category { found } => format!("残疾人证号第 19 位应为类别码 1-7，实为“{found}”"),
            Self::Grade { found } => format!("残疾人证号第 20 位应为等级码 1-4，实为“{found}”"),
            Self::Suffix { value } => format!("换发后缀应为 B1 至 B99，实为“{value}”"),
            Self::ResidentId(err) => format!("证号中的身份证号码：{}", err.message(Lang::Zh)),
            Self::HolderMismatch => "残疾人证号与持证人身份证号码不符".to_owned(),
            Self::MultipleComponents { reason } => reason.message(Lang::Zh),
            Self::CategoryCode { code } => format!("残疾类别码应为 1-7，实为 {code}"),
            Self::GradeValue { value } => format!("残疾等级应为 1-4，实为 {value}"),
        }
    }
}

localized!(CertificateError);

impl From<ComponentsError> for CertificateError {
    fn from(reason: ComponentsError) -> Self {
        Self::MultipleComponents { reason }
    }
}

/// The categories making up a 多重残疾: at least two distinct ones, none of them
/// `Multiple`, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipleComponents(Vec<Category>);

impl MultipleComponents {
    pub fn new(
        categories: impl IntoIterator<Item = Category>,
    ) -> Result<MultipleComponents, CertificateError> {
        let mut categories: Vec<_> = categories.into_iter().collect();
        if categories.contains(&Category::Multiple) {
            return Err(ComponentsError::IncludesMultiple.into());
        }
        categories.sort_unstable();
        if let Some(pair) = categories.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(ComponentsError::Duplicate { category: pair[0] }.into());
        }
        if categories.len() < 2 {
            return Err(ComponentsError::TooFew {
                found: categories.len(),
            }
            .into());
        }
        Ok(MultipleComponents(categories))
    }

    /// A list such as `1,4`, `visual,physical` or `视力、肢体`.
    pub fn parse(s: &str) -> Result<MultipleComponents, CertificateError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ComponentsError::TooFew { found: 0 }.into());
        }
        let categories = s
            .split([',', '，', '、'])
            .map(|part| {
                part.parse().map_err(|_| ComponentsError::Unknown {
                    value: part.trim().to_owned(),
                })
            })
            .collect::<Result<Vec<Category>, _>>()?;
        Self::new(categories)
    }

    /// Sorted by code.
    pub fn categories(&self) -> &[Category] {
        &self.0
    }
}

impl fmt::Display for MultipleComponents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<_> = self.0.iter().map(|c| c.code().to_string()).collect();
        f.pad(&codes.join(","))
    }
}

impl std::str::FromStr for MultipleComponents {
    type Err = CertificateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_via_str!(MultipleComponents);

/// 残疾人证号: resident ID + category digit + grade digit, and `B1`, `B2`, ... on a
/// replacement certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNo {
    number: String,
    resident_id: ResidentId,
    category: Category,
    grade: Grade,
    replacement: Option<u8>,
}

impl CertificateNo {
    pub fn new(resident_id: ResidentId, category: Category, grade: Grade) -> CertificateNo {
        Self::assemble(resident_id, category, grade, None)
    }

    pub fn parse(s: &str) -> Result<CertificateNo, CertificateError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(CertificateError::Empty);
        }
        // Split by characters, not bytes: the input is not yet known to be ASCII.
        let chars: Vec<char> = s.chars().collect();
        if !matches!(chars.len(), BASE_LENGTH | 22 | 23) {
            return Err(CertificateError::Length { found: chars.len() });
        }
        let id: String = chars[..18].iter().collect();
        let resident_id = ResidentId::parse(&id).map_err(CertificateError::ResidentId)?;
        let digit = |c: char| c.to_digit(10).and_then(|d| u8::try_from(d).ok());
        let category = digit(chars[18])
            .and_then(|code| Category::from_code(code).ok())
            .ok_or(CertificateError::Category { found: chars[18] })?;
        let grade = digit(chars[19])
            .and_then(|value| Grade::new(value).ok())
            .ok_or(CertificateError::Grade { found: chars[19] })?;
        let suffix = &chars[BASE_LENGTH..];
        let replacement = if suffix.is_empty() {
            None
        } else {
            Some(
                parse_suffix(suffix).ok_or_else(|| CertificateError::Suffix {
                    value: suffix.iter().collect(),
                })?,
            )
        };
        Ok(Self::assemble(resident_id, category, grade, replacement))
    }

    /// Parses and checks that the number belongs to `holder`.
    pub fn parse_for(s: &str, holder: &ResidentId) -> Result<CertificateNo, CertificateError> {
        let number = Self::parse(s)?;
        if number.resident_id == *holder {
            Ok(number)
        } else {
            Err(CertificateError::HolderMismatch)
        }
    }

    /// The same certificate as its `n`th replacement (`B{n}`, 1-99).
    pub fn with_replacement(self, n: u8) -> Result<CertificateNo, CertificateError> {
        if !(1..=99).contains(&n) {
            return Err(CertificateError::Suffix {
                value: format!("B{n}"),
            });
        }
        Ok(Self::assemble(
            self.resident_id,
            self.category,
            self.grade,
            Some(n),
        ))
    }

    /// The number of the next replacement: none → B1, B1 → B2, ...; fails after B99.
    pub fn next_replacement(&self) -> Result<CertificateNo, CertificateError> {
        // At most 99, so adding one cannot overflow; 100 is rejected by `with_replacement`.
        let next = self.replacement.map_or(1, |n| n + 1);
        self.clone().with_replacement(next)
    }

    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn resident_id(&self) -> &ResidentId {
        &self.resident_id
    }

    pub fn category(&self) -> Category {
        self.category
    }

    pub fn grade(&self) -> Grade {
        self.grade
    }

    pub fn replacement(&self) -> Option<u8> {
        self.replacement
    }

    /// The masked resident ID plus `**`, e.g. `510***********123X**`: the last two characters
    /// (category and grade) and any replacement suffix are hidden too.
    pub fn masked(&self) -> String {
        format!("{}**", self.resident_id.masked())
    }

    fn assemble(
        resident_id: ResidentId,
        category: Category,
        grade: Grade,
        replacement: Option<u8>,
    ) -> CertificateNo {
        let suffix = replacement.map(|n| format!("B{n}")).unwrap_or_default();
        CertificateNo {
            number: format!("{resident_id}{}{}{suffix}", category.code(), grade.value()),
            resident_id,
            category,
            grade,
            replacement,
        }
    }
}

string_type!(CertificateNo, CertificateError);

/// `B1` to `B99` (either case), without a leading zero.
fn parse_suffix(suffix: &[char]) -> Option<u8> {
    let (letter, digits) = suffix.split_first()?;
    let digits: String = digits.iter().collect();
    let n = digits.parse().ok()?;
    let canonical = letter.eq_ignore_ascii_case(&'B')
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    (canonical && (1..=99).contains(&n)).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDER: &str = "11010519491231002X";

    fn holder() -> ResidentId {
        ResidentId::parse(HOLDER).unwrap()
    }

    #[test]
    fn category_vocabulary() {
        for (i, category) in Category::ALL.into_iter().enumerate() {
            let code = u8::try_from(i + 1).unwrap();
            assert_eq!(category.code(), code);
            assert_eq!(Category::from_code(code), Ok(category));
            assert_eq!(code.to_string().parse(), Ok(category));
            assert_eq!(category.slug().parse(), Ok(category));
            assert_eq!(category.name(Lang::Zh).parse(), Ok(category));
            let short = category.name(Lang::Zh).trim_end_matches("残疾");
            assert_eq!(short.parse(), Ok(category));
        }
        assert_eq!(Category::Psychosocial.slug(), "psychosocial");
        assert_eq!(Category::Visual.name(Lang::En), "Visual");
        assert_eq!(
            Category::from_code(0),
            Err(CertificateError::CategoryCode { code: 0 })
        );
        assert!("8".parse::<Category>().is_err());
    }

    #[test]
    fn grades() {
        assert_eq!(Grade::new(1), Ok(Grade::One));
        assert_eq!(
            Grade::new(5),
            Err(CertificateError::GradeValue { value: 5 })
        );
        assert_eq!(Grade::Four.value(), 4);
        assert_eq!(Grade::Two.name(Lang::Zh), "二级");
        assert_eq!(Grade::Two.name(Lang::En), "Grade 2");
        for input in ["3", "三级", "三", "grade 3"] {
            assert_eq!(input.parse(), Ok(Grade::Three), "{input}");
        }
        assert!("0".parse::<Grade>().is_err());
    }

    #[test]
    fn certificate_status() {
        assert_eq!(CertificateStatus::Cancelled.name(Lang::Zh), "注销");
        assert_eq!(
            CertificateStatus::from_slug("frozen"),
            Some(CertificateStatus::Frozen)
        );
    }

    #[test]
    fn multiple_components() {
        let components = MultipleComponents::parse("4,1").unwrap();
        assert_eq!(
            components.categories(),
            [Category::Visual, Category::Physical]
        );
        assert_eq!(components.to_string(), "1,4");
        assert_eq!(
            MultipleComponents::parse("visual, physical"),
            Ok(components.clone())
        );
        assert_eq!(
            MultipleComponents::parse("视力、肢体"),
            Ok(components.clone())
        );
        assert_eq!(
            serde_json::from_str::<MultipleComponents>(r#""1,4""#).unwrap(),
            components
        );
        let reason = |s| match MultipleComponents::parse(s) {
            Err(CertificateError::MultipleComponents { reason }) => reason,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(reason("1"), ComponentsError::TooFew { found: 1 });
        assert_eq!(reason(" "), ComponentsError::TooFew { found: 0 });
        assert_eq!(
            reason("1,4,1"),
            ComponentsError::Duplicate {
                category: Category::Visual
            }
        );
        assert_eq!(reason("1,7"), ComponentsError::IncludesMultiple);
        assert_eq!(
            reason("1,x"),
            ComponentsError::Unknown { value: "x".into() }
        );
        assert_eq!(
            CertificateError::from(ComponentsError::IncludesMultiple).to_string(),
            "\"multiple\" cannot be a component of a multiple disability"
        );
    }

    #[test]
    fn parses_and_formats_numbers() {
        let number = CertificateNo::parse("11010519491231002x41").unwrap();
        assert_eq!(number.as_str(), "11010519491231002X41");
        assert_eq!(number.resident_id(), &holder());
        assert_eq!(number.category(), Category::Physical);
        assert_eq!(number.grade(), Grade::One);
        assert_eq!(number.replacement(), None);
        assert_eq!(number.masked(), "110***********002X**");
        assert_eq!(
            number,
            CertificateNo::new(holder(), Category::Physical, Grade::One)
        );

        let replaced = CertificateNo::parse("11010519491231002X41b12").unwrap();
        assert_eq!(replaced.as_str(), "11010519491231002X41B12");
        assert_eq!(replaced.replacement(), Some(12));
        assert_eq!(replaced.masked(), "110***********002X**");
        assert_eq!(replaced.to_string(), replaced.as_str());
    }

    #[test]
    fn replacements() {
        let number = CertificateNo::new(holder(), Category::Hearing, Grade::Two);
        let first = number.next_replacement().unwrap();
        assert_eq!(first.as_str(), "11010519491231002X22B1");
        assert_eq!(
            first.next_replacement().unwrap().as_str(),
            "11010519491231002X22B2"
        );
        let last = number.clone().with_replacement(99).unwrap();
        assert_eq!(
            last.next_replacement(),
            Err(CertificateError::Suffix {
                value: "B100".into()
            })
        );
        assert_eq!(
            number.with_replacement(0),
            Err(CertificateError::Suffix { value: "B0".into() })
        );
    }

    #[test]
    fn rejections() {
        let parse = CertificateNo::parse;
        assert_eq!(parse(""), Err(CertificateError::Empty));
        assert_eq!(
            parse("11010519491231002X4"),
            Err(CertificateError::Length { found: 19 })
        );
        assert_eq!(
            parse("11010519491231002X41B"),
            Err(CertificateError::Length { found: 21 })
        );
        assert_eq!(
            parse("11010519491231002141"),
            Err(CertificateError::ResidentId(IdError::CheckCharacter {
                expected: 'X',
                found: '1'
            }))
        );
        assert_eq!(
            parse("11010519491231002X81"),
            Err(CertificateError::Category { found: '8' })
        );
        assert_eq!(
            parse("11010519491231002X45"),
            Err(CertificateError::Grade { found: '5' })
        );
        assert_eq!(
            parse("11010519491231002X4级"),
            Err(CertificateError::Grade { found: '级' })
        );
        for suffix in ["B0", "B00", "B01", "C1", "B+1", "Bx"] {
            assert_eq!(
                parse(&format!("11010519491231002X41{suffix}")),
                Err(CertificateError::Suffix {
                    value: suffix.into()
                }),
                "{suffix}"
            );
        }
    }

    #[test]
    fn holder_must_match() {
        let other = ResidentId::parse("510112199001011230").unwrap();
        assert!(CertificateNo::parse_for("11010519491231002X41", &holder()).is_ok());
        assert_eq!(
            CertificateNo::parse_for("11010519491231002X41", &other),
            Err(CertificateError::HolderMismatch)
        );
    }

    #[test]
    fn messages() {
        let err = CertificateError::ResidentId(IdError::CheckCharacter {
            expected: '7',
            found: '3',
        });
        assert_eq!(
            err.to_string(),
            "embedded resident ID: check character should be 7, found 3"
        );
        assert_eq!(
            err.message(Lang::Zh),
            "证号中的身份证号码：校验码应为 7，实为 3"
        );
        assert_eq!(
            CertificateError::HolderMismatch.to_string(),
            "certificate number does not match the holder's resident ID"
        );
    }

    #[test]
    fn serde_is_the_number() {
        let number = CertificateNo::new(holder(), Category::Visual, Grade::Three);
        let json = serde_json::to_string(&number).unwrap();
        assert_eq!(json, r#""11010519491231002X13""#);
        assert_eq!(
            serde_json::from_str::<CertificateNo>(&json).unwrap(),
            number
        );
    }
}
