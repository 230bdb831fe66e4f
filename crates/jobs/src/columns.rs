//! The person table's columns, shared by import, export and generated files, so that whatever
//! one writes the other reads.

use time::Date;
use zhucan_core::{Lang, Phone};
use zhucan_store::PersonInput;

/// A column of a person file, in the order exports and generated files write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    ResidentId,
    Name,
    CertificateNo,
    Components,
    CertificateIssuedOn,
    CertificateExpiresOn,
    DivisionCode,
    ResidenceCode,
    Address,
    Phone,
    Ethnicity,
    HouseholdStatus,
    LifeStatus,
    GuardianName,
    GuardianRelation,
    GuardianPhone,
}

/// English header, Chinese headers, required, width in an XLSX sheet.
type Spec = (&'static str, &'static [&'static str], bool, f64);

impl Column {
    pub const ALL: [Column; 16] = [
        Column::ResidentId,
        Column::Name,
        Column::CertificateNo,
        Column::Components,
        Column::CertificateIssuedOn,
        Column::CertificateExpiresOn,
        Column::DivisionCode,
        Column::ResidenceCode,
        Column::Address,
        Column::Phone,
        Column::Ethnicity,
        Column::HouseholdStatus,
        Column::LifeStatus,
        Column::GuardianName,
        Column::GuardianRelation,
        Column::GuardianPhone,
    ];

    const fn spec(self) -> Spec {
        match self {
            Column::ResidentId => (
                "resident_id",
                &["公民身份号码", "身份证号", "身份证号码"],
                true,
                22.0,
            ),
            Column::Name => ("name", &["姓名"], true, 12.0),
            Column::CertificateNo => ("certificate_no", &["残疾人证号", "残疾证号"], false, 26.0),
            Column::Components => ("components", &["多重残疾类别"], false, 12.0),
            Column::CertificateIssuedOn => ("certificate_issued_on", &["发证日期"], false, 14.0),
            Column::CertificateExpiresOn => ("certificate_expires_on", &["有效期至"], false, 14.0),
            Column::DivisionCode => ("division_code", &["行政区划代码"], true, 15.0),
            Column::ResidenceCode => ("residence_code", &["居住地行政区划代码"], false, 15.0),
            Column::Address => ("address", &["地址", "居住地址"], false, 40.0),
            Column::Phone => ("phone", &["联系电话", "手机号", "手机号码"], false, 14.0),
            Column::Ethnicity => ("ethnicity", &["民族"], false, 8.0),
            Column::HouseholdStatus => (
                "household_status",
                &["家庭经济状况", "困难类别"],
                false,
                12.0,
            ),
            Column::LifeStatus => ("life_status", &["生存状态", "人员状态"], false, 10.0),
            Column::GuardianName => ("guardian_name", &["监护人姓名"], false, 12.0),
            Column::GuardianRelation => ("guardian_relation", &["监护人关系"], false, 10.0),
            Column::GuardianPhone => ("guardian_phone", &["监护人电话"], false, 14.0),
        }
    }

    /// The English header, as exports write it.
    pub const fn header(self) -> &'static str {
        self.spec().0
    }

    /// The usual Chinese header.
    pub const fn chinese_header(self) -> &'static str {
        self.spec().1[0]
    }

    pub const fn required(self) -> bool {
        self.spec().2
    }

    pub(crate) const fn width(self) -> f64 {
        self.spec().3
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The column a header names, ignoring case, surrounding spaces and a BOM; `Resident ID`
    /// and `resident-id` are taken as `resident_id`.
    pub fn from_header(header: &str) -> Option<Column> {
        let header = normalize_header(header);
        let english = header.to_ascii_lowercase().replace([' ', '-'], "_");
        Self::ALL.into_iter().find(|column| {
            let (name, chinese, ..) = column.spec();
            english == name || chinese.contains(&header.as_str())
        })
    }
}

pub(crate) fn normalize_header(header: &str) -> String {
    header
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .to_owned()
}

pub(crate) fn date_text(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A person as one row of cells in [`Column::ALL`] order. `masked` hides the resident ID,
/// certificate number and phones; `lang` chooses the words for statuses (both read back).
pub(crate) fn person_cells(p: &PersonInput, masked: bool, lang: Lang) -> [String; 16] {
    let phone = |phone: Option<&Phone>| {
        phone.map_or_else(String::new, |p| {
            if masked {
                p.masked()
            } else {
                p.as_str().to_owned()
            }
        })
    };
    let status_word = |slug: &'static str, name: &'static str| match lang {
        Lang::Zh => name.to_owned(),
        Lang::En => slug.to_owned(),
    };
    let certificate = p.certificate.as_ref();
    let guardian = p.guardian.as_ref();
    let text = |value: Option<&String>| value.cloned().unwrap_or_default();
    [
        if masked {
            p.resident_id.masked()
        } else {
            p.resident_id.as_str().to_owned()
        },
        p.name.as_str().to_owned(),
        certificate.map_or_else(String::new, |c| {
            if masked {
                c.number.masked()
            } else {
                c.number.as_str().to_owned()
            }
        }),
        certificate
            .and_then(|c| c.components.as_ref())
            .map_or_else(String::new, ToString::to_string),
        certificate
            .and_then(|c| c.issued_on)
            .map_or_else(String::new, date_text),
        certificate
            .and_then(|c| c.expires_on)
            .map_or_else(String::new, date_text),
        p.division_code.as_str().to_owned(),
        p.residence_code
            .as_ref()
            .map_or_else(String::new, |d| d.as_str().to_owned()),
        text(p.address.as_ref()),
        phone(p.phone.as_ref()),
        text(p.ethnicity.as_ref()),
        status_word(p.household_status.slug(), p.household_status.name(Lang::Zh)),
        status_word(p.life_status.slug(), p.life_status.name(Lang::Zh)),
        guardian.map_or_else(String::new, |g| g.name.as_str().to_owned()),
        guardian.map_or_else(String::new, |g| g.relation.clone()),
        phone(guardian.and_then(|g| g.phone.as_ref())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_either_language() {
        assert_eq!(Column::from_header("resident_id"), Some(Column::ResidentId));
        assert_eq!(
            Column::from_header(" \u{feff}Resident ID "),
            Some(Column::ResidentId)
        );
        assert_eq!(Column::from_header("身份证号码"), Some(Column::ResidentId));
        assert_eq!(Column::from_header("PHONE"), Some(Column::Phone));
        assert_eq!(
            Column::from_header(" 监护人电话 "),
            Some(Column::GuardianPhone)
        );
        assert_eq!(Column::from_header("residentid"), None);
    }

    #[test]
    fn all_is_in_declaration_order() {
        for (i, column) in Column::ALL.into_iter().enumerate() {
            assert_eq!(column.index(), i);
        }
    }
}
