//! What an approved case does to the registry (issue: "decisions change the registry"):
//! a subsidy becomes the person's entitlement, a certificate item acts on the certificate,
//! a device, rehabilitation, training or education item opens its fulfilment task.
//!
//! What the final reviewer must state for that (an amount the catalog only describes, the
//! category and grade the assessment found) is the case's [`Award`], checked here before the
//! approval is recorded.

use serde::{Deserialize, Serialize};
use time::Date;
use zhucan_core::{
    Category, CertificateError, CertificateNo, Grade, Lang, Money, MultipleComponents, ResidentId,
    localized,
};

use crate::catalog::{Amount, Group, Period, ServiceVersion};

/// What an approval of a service item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Approved is the end of it (e.g. an employer's quota review).
    Nothing,
    /// A running benefit: amount per period from the start month.
    Entitlement,
    Certificate(CertificateAction),
    /// Someone must still deliver: a device, a course, rehabilitation, school aid.
    Fulfilment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateAction {
    Issue,
    Renew,
    Replace,
    Cancel,
    /// Category or grade changed after a new assessment.
    Change,
    /// Household registration moved into the district: the certificate is valid here.
    Transfer,
}

impl Outcome {
    /// Certificate items are told apart by their stable codes; the rest by their group.
    pub fn of(service: &ServiceVersion) -> Outcome {
        match (service.group(), service.code().as_str()) {
            (Group::Certificate, "cert-new") => Outcome::Certificate(CertificateAction::Issue),
            (Group::Certificate, "cert-renew") => Outcome::Certificate(CertificateAction::Renew),
            (Group::Certificate, "cert-replace") => {
                Outcome::Certificate(CertificateAction::Replace)
            }
            (Group::Certificate, "cert-cancel") => Outcome::Certificate(CertificateAction::Cancel),
            (Group::Certificate, "cert-change") => Outcome::Certificate(CertificateAction::Change),
            (Group::Certificate, _) => Outcome::Certificate(CertificateAction::Transfer),
            (Group::Security | Group::Care, _) => Outcome::Entitlement,
            (Group::Employment, "employment-subsidy") => Outcome::Entitlement,
            (Group::Employment, "quota-review") => Outcome::Nothing,
            (Group::Devices | Group::Rehab | Group::Education | Group::Employment, _) => {
                Outcome::Fulfilment
            }
        }
    }

    /// The award fields the final approval must state for `service`.
    pub fn needs(self, service: &ServiceVersion) -> Needs {
        Needs {
            amount: self == Outcome::Entitlement
                && !matches!(service.amount(), Amount::Fixed { .. }),
            assessment: matches!(
                self,
                Outcome::Certificate(CertificateAction::Issue | CertificateAction::Change)
            ),
        }
    }
}

/// Which award fields a final approval needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// The amount, when the catalog only describes it (tiers, caps).
    pub amount: bool,
    /// Category and grade from the disability assessment.
    pub assessment: bool,
}

impl Needs {
    pub fn any(self) -> bool {
        self.amount || self.assessment
    }
}

/// What the final reviewer decided beyond "approve".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Period>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<MultipleComponents>,
}

/// Why an award cannot be recorded, or an outcome not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    #[error("state the amount granted: the catalog only describes it")]
    AmountMissing,
    #[error("the amount granted must be more than zero")]
    AmountNotPositive,
    #[error("state the category and grade the assessment found")]
    AssessmentMissing,
    #[error("a multiple disability (category 7) needs its component categories")]
    ComponentsMissing,
    #[error("the person has no certificate to act on")]
    NoCertificate,
    #[error("the person already holds a valid certificate")]
    AlreadyCertified,
    #[error("{0}")]
    Certificate(#[from] CertificateError),
}

impl OutcomeError {
    fn zh(&self) -> String {
        match self {
            Self::AmountMissing => "请填写核定金额：该事项的金额按说明确定".to_owned(),
            Self::AmountNotPositive => "核定金额应大于零".to_owned(),
            Self::AssessmentMissing => "请填写评定的残疾类别和等级".to_owned(),
            Self::ComponentsMissing => "多重残疾（类别 7）应写明包含的残疾类别".to_owned(),
            Self::NoCertificate => "此人没有可办理的残疾人证".to_owned(),
            Self::AlreadyCertified => "此人已持有有效的残疾人证".to_owned(),
            Self::Certificate(e) => e.message(Lang::Zh),
        }
    }
}

localized!(OutcomeError);

impl Award {
    /// Checks an award against what the service's outcome needs; fills the period of a fixed
    /// amount so the entitlement can be made from the award alone.
    pub fn checked(mut self, service: &ServiceVersion) -> Result<Award, OutcomeError> {
        let outcome = Outcome::of(service);
        let needs = outcome.needs(service);
        if outcome == Outcome::Entitlement {
            match service.amount() {
                Amount::Fixed { amount, per } => {
                    self.amount = Some(*amount);
                    self.per = Some(*per);
                }
                _ => {
                    let amount = self.amount.ok_or(OutcomeError::AmountMissing)?;
                    if amount <= Money::ZERO {
                        return Err(OutcomeError::AmountNotPositive);
                    }
                    self.per.get_or_insert(Period::Month);
                }
            }
        }
        if needs.assessment {
            let category = self.category.ok_or(OutcomeError::AssessmentMissing)?;
            self.grade.ok_or(OutcomeError::AssessmentMissing)?;
            if category == Category::Multiple && self.components.is_none() {
                return Err(OutcomeError::ComponentsMissing);
            }
        }
        Ok(self)
    }
}

/// The certificate as it stands, for [`certificate_effect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCertificate {
    pub number: CertificateNo,
    /// Valid now (not expired, frozen or cancelled).
    pub valid: bool,
}

/// What to write to the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateEffect {
    /// A new card: a new number (or the same number re-issued), issued today, valid ten years.
    Issue {
        number: CertificateNo,
        components: Option<MultipleComponents>,
        issued_on: Date,
        expires_on: Date,
    },
    /// Same number, new card: valid ten years from today.
    Renew {
        issued_on: Date,
        expires_on: Date,
    },
    /// Lost or damaged: the next replacement number (`B1`, `B2`…), validity unchanged.
    Replace {
        number: CertificateNo,
    },
    Cancel,
    /// Frozen after a move: valid again in the new district.
    Reinstate,
}

/// Ten years of validity from `day` (29 February lands on 28 February).
pub fn ten_years_from(day: Date) -> Date {
    let year = day.year() + 10;
    day.replace_year(year)
        .or_else(|_| day.replace_day(28).and_then(|d| d.replace_year(year)))
        .unwrap_or(day)
}

/// What `action` does to the certificate of the holder of `resident_id`.
pub fn certificate_effect(
    action: CertificateAction,
    resident_id: &ResidentId,
    held: Option<&HeldCertificate>,
    award: &Award,
    today: Date,
) -> Result<CertificateEffect, OutcomeError> {
    let assessed = || -> Result<(CertificateNo, Option<MultipleComponents>), OutcomeError> {
        let category = award.category.ok_or(OutcomeError::AssessmentMissing)?;
        let grade = award.grade.ok_or(OutcomeError::AssessmentMissing)?;
        let components = (category == Category::Multiple)
            .then(|| {
                award
                    .components
                    .clone()
                    .ok_or(OutcomeError::ComponentsMissing)
            })
            .transpose()?;
        Ok((
            CertificateNo::new(resident_id.clone(), category, grade),
            components,
        ))
    };
    let issue = |(number, components)| CertificateEffect::Issue {
        number,
        components,
        issued_on: today,
        expires_on: ten_years_from(today),
    };
    match (action, held) {
        (CertificateAction::Issue, Some(h)) if h.valid => Err(OutcomeError::AlreadyCertified),
        (CertificateAction::Issue, _) => Ok(issue(assessed()?)),
        (_, None) => Err(OutcomeError::NoCertificate),
        (CertificateAction::Change, Some(_)) => Ok(issue(assessed()?)),
        (CertificateAction::Renew, Some(_)) => Ok(CertificateEffect::Renew {
            issued_on: today,
            expires_on: ten_years_from(today),
        }),
        (CertificateAction::Replace, Some(h)) => Ok(CertificateEffect::Replace {
            number: h.number.next_replacement()?,
        }),
        (CertificateAction::Cancel, Some(_)) => Ok(CertificateEffect::Cancel),
        (CertificateAction::Transfer, Some(_)) => Ok(CertificateEffect::Reinstate),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::Catalog;

    const RID: &str = "11010519491231002X";

    fn service(code: &str) -> ServiceVersion {
        let catalog = Catalog::seed();
        catalog
            .versions()
            .iter()
            .find(|s| s.code().as_str() == code)
            .unwrap()
            .clone()
    }

    fn rid() -> ResidentId {
        RID.parse().unwrap()
    }

    fn held(number: &str) -> HeldCertificate {
        HeldCertificate {
            number: CertificateNo::parse_for(number, &rid()).unwrap(),
            valid: true,
        }
    }

    fn assessed(category: u8, grade: u8) -> Award {
        Award {
            category: Some(Category::from_code(category).unwrap()),
            grade: Some(Grade::new(grade).unwrap()),
            ..Award::default()
        }
    }

    #[test]
    fn every_seed_item_has_an_outcome_and_the_kinds_are_where_expected() {
        let kind = |code| Outcome::of(&service(code));
        assert_eq!(kind("living-subsidy"), Outcome::Entitlement);
        assert_eq!(kind("nursing-subsidy"), Outcome::Entitlement);
        assert_eq!(kind("employment-subsidy"), Outcome::Entitlement);
        assert_eq!(kind("quota-review"), Outcome::Nothing);
        assert_eq!(kind("device-fitting"), Outcome::Fulfilment);
        assert_eq!(kind("child-rehab"), Outcome::Fulfilment);
        assert_eq!(kind("vocational-training"), Outcome::Fulfilment);
        assert_eq!(kind("education-aid"), Outcome::Fulfilment);
        assert_eq!(
            kind("cert-replace"),
            Outcome::Certificate(CertificateAction::Replace)
        );
        assert_eq!(
            kind("cert-migrate"),
            Outcome::Certificate(CertificateAction::Transfer)
        );
    }

    #[test]
    fn a_fixed_subsidy_takes_the_catalog_amount_and_a_described_one_needs_the_reviewers() {
        let living = service("living-subsidy");
        let award = Award::default().checked(&living).unwrap();
        assert_eq!(award.amount, Some(Money::parse("90").unwrap()));
        assert_eq!(award.per, Some(Period::Month));

        let nursing = service("nursing-subsidy");
        assert!(Outcome::of(&nursing).needs(&nursing).amount);
        assert_eq!(
            Award::default().checked(&nursing),
            Err(OutcomeError::AmountMissing)
        );
        let given = Award {
            amount: Some(Money::parse("100").unwrap()),
            ..Award::default()
        };
        assert_eq!(given.checked(&nursing).unwrap().per, Some(Period::Month));
        let zero = Award {
            amount: Some(Money::ZERO),
            ..Award::default()
        };
        assert_eq!(zero.checked(&nursing), Err(OutcomeError::AmountNotPositive));
    }

    #[test]
    fn a_new_certificate_is_numbered_from_the_assessment_and_valid_ten_years() {
        let new = service("cert-new");
        assert_eq!(
            Award::default().checked(&new),
            Err(OutcomeError::AssessmentMissing)
        );
        let today = date!(2026 - 11 - 29);
        let effect = certificate_effect(
            CertificateAction::Issue,
            &rid(),
            None,
            &assessed(4, 2),
            today,
        )
        .unwrap();
        assert_eq!(
            effect,
            CertificateEffect::Issue {
                number: CertificateNo::parse(&format!("{RID}42")).unwrap(),
                components: None,
                issued_on: today,
                expires_on: date!(2036 - 11 - 29),
            }
        );
        assert_eq!(
            certificate_effect(
                CertificateAction::Issue,
                &rid(),
                Some(&held(&format!("{RID}42"))),
                &assessed(4, 2),
                today
            ),
            Err(OutcomeError::AlreadyCertified)
        );
    }

    #[test]
    fn replacement_appends_the_next_suffix_and_other_actions_need_a_certificate() {
        let today = date!(2026 - 11 - 29);
        let replace = |number: &str| {
            certificate_effect(
                CertificateAction::Replace,
                &rid(),
                Some(&held(number)),
                &Award::default(),
                today,
            )
        };
        assert_eq!(
            replace(&format!("{RID}42")),
            Ok(CertificateEffect::Replace {
                number: CertificateNo::parse(&format!("{RID}42B1")).unwrap()
            })
        );
        assert_eq!(
            replace(&format!("{RID}42B1")),
            Ok(CertificateEffect::Replace {
                number: CertificateNo::parse(&format!("{RID}42B2")).unwrap()
            })
        );
        for action in [
            CertificateAction::Renew,
            CertificateAction::Replace,
            CertificateAction::Cancel,
            CertificateAction::Change,
            CertificateAction::Transfer,
        ] {
            assert_eq!(
                certificate_effect(action, &rid(), None, &assessed(1, 1), today),
                Err(OutcomeError::NoCertificate),
                "{action:?}"
            );
        }
    }

    #[test]
    fn ten_years_from_a_leap_day_is_the_28th() {
        assert_eq!(ten_years_from(date!(2028 - 02 - 29)), date!(2038 - 02 - 28));
        assert_eq!(ten_years_from(date!(2026 - 03 - 01)), date!(2036 - 03 - 01));
    }
}
