//! Civil-affairs household status and life status of a registered person.

/// The error of every vocabulary parser in this module.
pub type StatusError = crate::UnknownValue;

vocabulary! {
    /// 困难类别 as certified by civil affairs (民政).
    #[derive(Default)]
    pub enum HouseholdStatus("household status", "困难类别") {
        #[default]
        None => ("none", "无", "None"),
        Dibao => ("dibao", "低保", "Dibao"),
        DibaoEdge => ("dibao_edge", "低保边缘", "Dibao edge"),
        Tekun => ("tekun", "特困", "Tekun"),
        LowIncome => ("low_income", "低收入", "Low income"),
    }
    aliases {
        "低保户" => Dibao,
        "低保边缘户" => DibaoEdge,
        "特困供养" => Tekun,
        "特困人员" => Tekun,
        "低收入户" => LowIncome,
    }
}

impl HouseholdStatus {
    /// Like `parse`, but a blank value means [`HouseholdStatus::None`]; for imported
    /// spreadsheets where the column is left empty for ordinary households.
    pub fn parse_or_default(s: &str) -> Result<HouseholdStatus, StatusError> {
        if s.trim().is_empty() {
            Ok(HouseholdStatus::None)
        } else {
            s.parse()
        }
    }
}

vocabulary! {
    /// Whether the person is still alive and registered in the district.
    pub enum LifeStatus("life status", "人员状态") {
        Alive => ("alive", "在世", "Alive"),
        Deceased => ("deceased", "死亡", "Deceased"),
        MovedOut => ("moved_out", "迁出", "Moved out"),
    }
    aliases {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    #[test]
    fn household_status_parsing() {
        for status in HouseholdStatus::ALL {
            assert_eq!(status.slug().parse(), Ok(status));
            assert_eq!(status.name(Lang::Zh).parse(), Ok(status));
            assert_eq!(status.name(Lang::En).parse(), Ok(status));
            assert_eq!(HouseholdStatus::from_slug(status.slug()), Some(status));
        }
        assert_eq!("低保户".parse(), Ok(HouseholdStatus::Dibao));
        assert_eq!("特困供养".parse(), Ok(HouseholdStatus::Tekun));
        assert_eq!(" DIBAO_EDGE ".parse(), Ok(HouseholdStatus::DibaoEdge));
        assert!("".parse::<HouseholdStatus>().is_err());
        assert_eq!(
            HouseholdStatus::parse_or_default(" "),
            Ok(HouseholdStatus::None)
        );
        assert_eq!(
            HouseholdStatus::parse_or_default("特困"),
            Ok(HouseholdStatus::Tekun)
        );
        assert_eq!(HouseholdStatus::default(), HouseholdStatus::None);
    }

    #[test]
    fn errors_list_accepted_values() {
        let err = "rich".parse::<HouseholdStatus>().unwrap_err();
        assert_eq!(err.field, "household status");
        assert_eq!(err.value, "rich");
        assert_eq!(
            err.to_string(),
            r#""rich" is not a valid household status; expected one of: none, dibao, dibao_edge, tekun, low_income"#
        );
        assert_eq!(
            err.message(Lang::Zh),
            "“rich”不是有效的困难类别，可选：无、低保、低保边缘、特困、低收入"
        );
    }

    #[test]
    fn life_status() {
        assert_eq!(LifeStatus::ALL.len(), 3);
        assert_eq!(LifeStatus::MovedOut.slug(), "moved_out");
        assert_eq!(LifeStatus::Deceased.name(Lang::Zh), "死亡");
        assert_eq!("迁出".parse(), Ok(LifeStatus::MovedOut));
        assert_eq!(
            serde_json::to_string(&LifeStatus::MovedOut).unwrap(),
            r#""moved_out""#
        );
        assert_eq!(
            serde_json::from_str::<LifeStatus>(r#""在世""#).unwrap(),
            LifeStatus::Alive
        );
    }
}
