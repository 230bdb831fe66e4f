//! One data row into a [`PersonInput`], with every bad cell reported, not just the first.

use std::collections::HashSet;

use time::Date;
use zhucan_core::{
    Category, CertificateNo, CertificateStatus, DivisionCode, HouseholdStatus, Lang, LifeStatus,
    Localized, MultipleComponents, PersonName, Phone, ResidentId,
};
use zhucan_store::{CertificateInput, GuardianInput, PersonInput};

use crate::columns::Column;

/// What every row is checked against.
pub(crate) struct RowContext {
    pub lang: Lang,
    pub today: Date,
    /// Division codes known to the store.
    pub divisions: HashSet<String>,
    /// Rows must lie inside this division, if set.
    pub within: Option<DivisionCode>,
}

/// A rule of the import format itself (the domain types explain their own rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RowProblem {
    #[error("row has {found} fields, header has {expected}")]
    FieldCount { found: usize, expected: usize },
    #[error("same resident ID as row {first}")]
    DuplicateId { first: u64 },
    #[error("division {code} is not in the division table")]
    UnknownDivision { code: String },
    #[error("division {code} is outside {within}, where you may import")]
    OutsideScope { code: String, within: String },
    #[error("{value:?} is not a date; write YYYY-MM-DD")]
    Date { value: String },
    #[error("expiry date is before the issue date")]
    ExpiresBeforeIssued,
    #[error("only a certificate has this; certificate_no is empty")]
    NoCertificate,
    #[error("components are only for a multiple disability (category 7)")]
    NotMultiple,
    #[error("guardian name is required when other guardian columns are filled")]
    GuardianName,
    #[error("guardian relation is required when other guardian columns are filled")]
    GuardianRelation,
}

impl Localized for RowProblem {
    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => match self {
                Self::FieldCount { found, expected } => {
                    format!("本行有 {found} 列，表头有 {expected} 列")
                }
                Self::DuplicateId { first } => format!("与第 {first} 行的公民身份号码重复"),
                Self::UnknownDivision { code } => format!("行政区划 {code} 不在区划表中"),
                Self::OutsideScope { code, within } => {
                    format!("行政区划 {code} 不在您可导入的范围 {within} 内")
                }
                Self::Date { value } => format!("“{value}”不是日期，请写作 YYYY-MM-DD"),
                Self::ExpiresBeforeIssued => "有效期至早于发证日期".to_owned(),
                Self::NoCertificate => "残疾人证号为空，不能填写此项".to_owned(),
                Self::NotMultiple => "只有多重残疾（类别 7）才填写多重残疾类别".to_owned(),
                Self::GuardianName => "填写了监护人信息时，监护人姓名不能为空".to_owned(),
                Self::GuardianRelation => "填写了监护人信息时，监护人关系不能为空".to_owned(),
            },
        }
    }
}

/// A bad cell: its column, its value and why, in the context's language.
pub(crate) type CellError = (Column, String, String);

/// Collects the cells' errors while a row is parsed.
struct Cells<'a> {
    cells: &'a [&'a str],
    positions: &'a [Option<usize>; 16],
    lang: Lang,
    errors: Vec<CellError>,
}

impl Cells<'_> {
    /// The trimmed cell of `column`; empty if the file lacks the column.
    fn get(&self, column: Column) -> &str {
        self.positions[column.index()]
            .and_then(|i| self.cells.get(i))
            .map_or("", |cell| cell.trim())
    }

    /// The parsed cell, or `None` with the error recorded.
    fn parse<T, E: Localized>(
        &mut self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.get(column);
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                let reason = err.message(self.lang);
                self.errors.push((column, value.to_owned(), reason));
                None
            }
        }
    }

    /// `None` for an empty cell, else as [`Cells::parse`]; `Err` marks a bad cell.
    fn optional<T, E: Localized>(
        &mut self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ()> {
        if self.get(column).is_empty() {
            Ok(None)
        } else {
            self.parse(column, parse).map(Some).ok_or(())
        }
    }

    fn text(&self, column: Column) -> Option<String> {
        Some(self.get(column))
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    fn fail(&mut self, column: Column, problem: RowProblem) {
        let value = self.get(column).to_owned();
        self.errors
            .push((column, value, problem.message(self.lang)));
    }
}

/// Parses `cells` (positions per column in `positions`); on failure, every bad cell.
pub(crate) fn parse_person(
    cells: &[&str],
    positions: &[Option<usize>; 16],
    ctx: &RowContext,
) -> Result<PersonInput, Vec<CellError>> {
    let mut row = Cells {
        cells,
        positions,
        lang: ctx.lang,
        errors: Vec::new(),
    };
    let resident_id = row.parse(Column::ResidentId, |s| ResidentId::parse_on(s, ctx.today));
    let name = row.parse(Column::Name, PersonName::parse);
    let division_code = row
        .parse(Column::DivisionCode, DivisionCode::parse)
        .filter(|code| check_division(&mut row, code, ctx));
    let residence_code = row.optional(Column::ResidenceCode, DivisionCode::parse);
    let phone = row.optional(Column::Phone, Phone::parse);
    let household_status = row.parse(Column::HouseholdStatus, HouseholdStatus::parse_or_default);
    let life_status = row.parse(Column::LifeStatus, |s| {
        if s.is_empty() {
            Ok(LifeStatus::Alive)
        } else {
            s.parse()
        }
    });
    let certificate = certificate(&mut row, resident_id.as_ref(), ctx.today);
    let guardian = guardian(&mut row);
    let ethnicity = row.text(Column::Ethnicity);
    let address = row.text(Column::Address);
    match (
        resident_id,
        name,
        division_code,
        residence_code,
        phone,
        household_status,
        life_status,
        certificate,
        guardian,
    ) {
        (
            Some(resident_id),
            Some(name),
            Some(division_code),
            Ok(residence_code),
            Ok(phone),
            Some(household_status),
            Some(life_status),
            Ok(certificate),
            Ok(guardian),
        ) if row.errors.is_empty() => Ok(PersonInput {
            resident_id,
            name,
            ethnicity,
            phone,
            division_code,
            residence_code,
            address,
            household_status,
            life_status,
            certificate,
            guardian,
        }),
        _ => Err(row.errors),
    }
}

fn check_division(row: &mut Cells, code: &DivisionCode, ctx: &RowContext) -> bool {
    let problem = if !ctx.divisions.contains(code.as_str()) {
        RowProblem::UnknownDivision {
            code: code.to_string(),
        }
    } else if let Some(within) = ctx.within.as_ref().filter(|w| !w.contains(code)) {
        RowProblem::OutsideScope {
            code: code.to_string(),
            within: within.to_string(),
        }
    } else {
        return true;
    };
    row.fail(Column::DivisionCode, problem);
    false
}

/// The certificate columns; `Ok(None)` when they are all empty. The category and grade come
/// from the number, which must belong to the row's resident ID.
fn certificate(
    row: &mut Cells,
    resident_id: Option<&ResidentId>,
    today: Date,
) -> Result<Option<CertificateInput>, ()> {
    let number = row.optional(Column::CertificateNo, |s| match resident_id {
        Some(holder) => CertificateNo::parse_for(s, holder),
        // The ID's own error is reported; still report what is wrong with the number.
        None => CertificateNo::parse(s),
    });
    let issued_on = row.optional(Column::CertificateIssuedOn, parse_date);
    let expires_on = row.optional(Column::CertificateExpiresOn, parse_date);
    let components = row.optional(Column::Components, MultipleComponents::parse);
    let (Ok(number), Ok(issued_on), Ok(expires_on), Ok(components)) =
        (number, issued_on, expires_on, components)
    else {
        return Err(());
    };
    let Some(number) = number else {
        let orphans = [
            Column::CertificateIssuedOn,
            Column::CertificateExpiresOn,
            Column::Components,
        ];
        let orphans: Vec<Column> = orphans
            .into_iter()
            .filter(|&c| !row.get(c).is_empty())
            .collect();
        for &column in &orphans {
            row.fail(column, RowProblem::NoCertificate);
        }
        return if orphans.is_empty() {
            Ok(None)
        } else {
            Err(())
        };
    };
    if components.is_some() && number.category() != Category::Multiple {
        row.fail(Column::Components, RowProblem::NotMultiple);
        return Err(());
    }
    if let (Some(issued), Some(expires)) = (issued_on, expires_on)
        && expires < issued
    {
        row.fail(
            Column::CertificateExpiresOn,
            RowProblem::ExpiresBeforeIssued,
        );
        return Err(());
    }
    let status = if expires_on.is_some_and(|expires| expires < today) {
        CertificateStatus::Expired
    } else {
        CertificateStatus::Valid
    };
    Ok(Some(CertificateInput {
        number,
        components,
        issued_on,
        expires_on,
        status,
    }))
}

/// The guardian columns; `Ok(None)` when they are all empty.
fn guardian(row: &mut Cells) -> Result<Option<GuardianInput>, ()> {
    let columns = [
        Column::GuardianName,
        Column::GuardianRelation,
        Column::GuardianPhone,
    ];
    if columns.iter().all(|&c| row.get(c).is_empty()) {
        return Ok(None);
    }
    let name = if row.get(Column::GuardianName).is_empty() {
        row.fail(Column::GuardianName, RowProblem::GuardianName);
        None
    } else {
        row.parse(Column::GuardianName, PersonName::parse)
    };
    let relation = row.text(Column::GuardianRelation);
    if relation.is_none() {
        row.fail(Column::GuardianRelation, RowProblem::GuardianRelation);
    }
    let phone = row.optional(Column::GuardianPhone, Phone::parse);
    match (name, relation, phone) {
        (Some(name), Some(relation), Ok(phone)) => Ok(Some(GuardianInput {
            name,
            relation,
            phone,
        })),
        _ => Err(()),
    }
}

/// `2024-03-05`, `2024/3/5`, `2024.3.5`, `20240305` or `2024年3月5日`.
fn parse_date(s: &str) -> Result<Date, RowProblem> {
    let bad = || RowProblem::Date {
        value: s.to_owned(),
    };
    let parts: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        vec![&s[..4], &s[4..6], &s[6..]]
    } else {
        s.trim_end_matches('日')
            .split(['-', '/', '.', '年', '月'])
            .collect()
    };
    let [year, month, day] = parts[..] else {
        return Err(bad());
    };
    let number = |part: &str| part.parse::<u16>().ok();
    let (Some(year), Some(month), Some(day)) = (number(year), number(month), number(day)) else {
        return Err(bad());
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok());
    let day = u8::try_from(day).ok();
    month
        .zip(day)
        .and_then(|(month, day)| Date::from_calendar_date(i32::from(year), month, day).ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_in_common_spellings() {
        for s in [
            "2024-03-05",
            "2024/3/5",
            "2024.03.05",
            "20240305",
            "2024年3月5日",
        ] {
            assert_eq!(parse_date(s), Ok(date!(2024 - 03 - 05)), "{s}");
        }
        for s in [
            "2024-02-30",
            "2024-3",
            "5/3/2024x",
            "yesterday",
            "2024-13-01",
        ] {
            assert!(parse_date(s).is_err(), "{s}");
        }
        assert_eq!(
            parse_date("2024-02-30").unwrap_err().message(Lang::Zh),
            "“2024-02-30”不是日期，请写作 YYYY-MM-DD"
        );
    }
}
