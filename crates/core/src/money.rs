//! Amounts of renminbi, held as whole fen (分) so that sums are exact.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// Why an amount was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is empty")]
    Empty,
    #[error("{value:?} is not an amount; write it like 1234.50 or ¥1,234.50")]
    Format { value: String },
    #[error("{value:?} has more than 2 decimal places; amounts are counted in fen")]
    Precision { value: String },
    #[error("amount is too large")]
    Overflow,
}

impl MoneyError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "金额不能为空".to_owned(),
            Self::Format { value } => format!("“{value}”不是有效金额，应写作 1234.50 或 ¥1,234.50"),
            Self::Precision { value } => format!("“{value}”的小数超过 2 位，金额精确到分"),
            Self::Overflow => "金额过大".to_owned(),
        }
    }
}

localized!(MoneyError);

/// An amount in fen; negative amounts (refunds, recoveries) are allowed.
///
/// Serialized as the integer number of fen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Yuan with an optional sign, `¥`/`￥`, thousands separators and up to two decimals:
    /// `1234`, `1234.5`, `¥1,234.50`, `-¥12.00`.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let value = s.trim();
        if value.is_empty() {
            return Err(MoneyError::Empty);
        }
        let format_error = || MoneyError::Format {
            value: value.to_owned(),
        };
        let (negative, unsigned) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let unsigned = unsigned.strip_prefix(['¥', '￥']).unwrap_or(unsigned);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let whole = ungroup(whole).ok_or_else(format_error)?;
        if unsigned.contains('.') && (fraction.is_empty() || !all_digits(fraction)) {
            return Err(format_error());
        }
        if fraction.len() > 2 {
            return Err(MoneyError::Precision {
                value: value.to_owned(),
            });
        }
        let fen = format!("{whole}{fraction:0<2}")
            .parse::<i128>()
            .map_err(|_| MoneyError::Overflow)?;
        let fen = if negative { -fen } else { fen };
        i64::try_from(fen)
            .map(Money)
            .map_err(|_| MoneyError::Overflow)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

/// The digits of `whole` without thousands separators, if any separators sit every three
/// digits; `None` if it is not a plain or grouped number.
fn ungroup(whole: &str) -> Option<String> {
    let mut groups = whole.split(',');
    let first = groups.next().filter(|g| !g.is_empty() && all_digits(g))?;
    let mut digits = first.to_owned();
    let mut grouped = false;
    for group in groups {
        if first.len() > 3 || group.len() != 3 || !all_digits(group) {
            return None;
        }
        grouped = true;
        digits.push_str(group);
    }
    // A grouped number does not start with a zero group such as `0,123`.
    (!grouped || !first.starts_with('0')).then_some(digits)
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fen = self.0.unsigned_abs();
        let yuan = (fen / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() * 4 / 3);
        for (i, digit) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        f.pad(&format!("{sign}¥{grouped}.{:02}", fen % 100))
    }
}

impl std::str::FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Panics on overflow rather than wrapping: a wrong total is worse than a crash.
impl Add for Money {
    type Output = Money;

    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("money overflow")
    }
}

/// Panics on overflow rather than wrapping: a wrong total is worse than a crash.
impl Sub for Money {
    type Output = Money;

    fn sub(self, other: Money) -> Money {
        self.checked_sub(other).expect("money overflow")
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    fn parse(s: &str) -> Result<i64, MoneyError> {
        Money::parse(s).map(Money::fen)
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse("1234"), Ok(123_400));
        assert_eq!(parse("1234.5"), Ok(123_450));
        assert_eq!(parse("1234.05"), Ok(123_405));
        assert_eq!(parse("¥1,234.50"), Ok(123_450));
        assert_eq!(parse(" ￥1234.50 "), Ok(123_450));
        assert_eq!(parse("1,234,567"), Ok(123_456_700));
        assert_eq!(parse("0.01"), Ok(1));
        assert_eq!(parse("-¥12.00"), Ok(-1200));
        assert_eq!(parse("-0.5"), Ok(-50));
    }

    #[test]
    fn rejections_name_the_rule() {
        assert_eq!(parse(""), Err(MoneyError::Empty));
        for bad in [
            "abc", "12a", "1.", ".5", "1.2.3", "1,23", "12,34.5", "1234,567", "0,123", "--1", "¥",
            "1 234", "+5", "1.-5", "¥-5",
        ] {
            assert_eq!(
                parse(bad),
                Err(MoneyError::Format { value: bad.into() }),
                "{bad}"
            );
        }
        assert_eq!(
            parse("1.234"),
            Err(MoneyError::Precision {
                value: "1.234".into()
            })
        );
        assert_eq!(parse("92233720368547758.08"), Err(MoneyError::Overflow));
        assert_eq!(
            parse("99999999999999999999999999999999999999999"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            MoneyError::Precision {
                value: "1.234".into()
            }
            .message(Lang::Zh),
            "“1.234”的小数超过 2 位，金额精确到分"
        );
    }

    #[test]
    fn extremes() {
        assert_eq!(parse("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(parse("-92233720368547758.08"), Ok(i64::MIN));
        assert_eq!(
            Money::from_fen(i64::MIN).to_string(),
            "-¥92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn display() {
        assert_eq!(Money::from_fen(123_450).to_string(), "¥1,234.50");
        assert_eq!(Money::from_fen(-1200).to_string(), "-¥12.00");
        assert_eq!(Money::from_fen(5).to_string(), "¥0.05");
        assert_eq!(Money::from_fen(100_000).to_string(), "¥1,000.00");
        assert_eq!(Money::from_fen(99_900).to_string(), "¥999.00");
    }

    #[test]
    fn arithmetic() {
        let a = Money::from_fen(150);
        let b = Money::from_fen(50);
        assert_eq!(a + b, Money::from_fen(200));
        assert_eq!(b - a, Money::from_fen(-100));
        assert_eq!([a, b, a].iter().sum::<Money>(), Money::from_fen(350));
        assert_eq!(Money::from_fen(i64::MAX).checked_add(b), None);
        assert_eq!(Money::from_fen(i64::MIN).checked_sub(b), None);
    }

    #[test]
    fn serde_is_integer_fen() {
        assert_eq!(
            serde_json::to_string(&Money::from_fen(123_450)).unwrap(),
            "123450"
        );
        assert_eq!(
            serde_json::from_str::<Money>("-5").unwrap(),
            Money::from_fen(-5)
        );
    }
}
