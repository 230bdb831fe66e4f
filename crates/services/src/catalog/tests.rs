use time::macros::date;
use zhucan_core::Category;

use super::*;
use crate::facts::tests::{TODAY, holder};
use crate::facts::{Answer, Facts, QuestionDraft};

/// Code, group, chain, notice days, limit days, proactive, cross-province.
type ReferenceRow = (
    &'static str,
    &'static str,
    &'static [Step],
    u32,
    u32,
    bool,
    bool,
);

/// The facts of `shared/reference/services.toml` the seed must keep.
const REFERENCE: [ReferenceRow; 18] = [
    (
        "cert-new",
        "certificate",
        &[Step::Street, Step::Health, Step::District],
        0,
        20,
        false,
        true,
    ),
    (
        "cert-renew",
        "certificate",
        &[Step::District],
        0,
        3,
        true,
        true,
    ),
    (
        "cert-migrate",
        "certificate",
        &[Step::District],
        0,
        10,
        false,
        true,
    ),
    (
        "cert-replace",
        "certificate",
        &[Step::District],
        0,
        10,
        false,
        true,
    ),
    (
        "cert-cancel",
        "certificate",
        &[Step::District],
        0,
        10,
        true,
        true,
    ),
    (
        "cert-change",
        "certificate",
        &[Step::Health, Step::District],
        0,
        20,
        false,
        true,
    ),
    (
        "living-subsidy",
        "security",
        &[Step::Street, Step::District, Step::CivilAffairs],
        7,
        20,
        true,
        true,
    ),
    (
        "nursing-subsidy",
        "security",
        &[Step::Street, Step::District, Step::CivilAffairs],
        7,
        20,
        true,
        true,
    ),
    (
        "child-rehab",
        "rehab",
        &[Step::District, Step::Provider],
        0,
        10,
        true,
        false,
    ),
    (
        "device-fitting",
        "devices",
        &[Step::Street, Step::District, Step::Provider],
        0,
        15,
        false,
        false,
    ),
    (
        "wheelchair-fuel",
        "security",
        &[Step::Street, Step::District],
        0,
        15,
        false,
        false,
    ),
    (
        "home-accessibility",
        "devices",
        &[Step::Street, Step::District, Step::Provider],
        7,
        30,
        true,
        false,
    ),
    (
        "psych-medication",
        "rehab",
        &[Step::District, Step::Health],
        0,
        15,
        true,
        false,
    ),
    (
        "care-support",
        "care",
        &[Step::Street, Step::District],
        7,
        20,
        true,
        false,
    ),
    (
        "quota-review",
        "employment",
        &[Step::District],
        0,
        20,
        false,
        false,
    ),
    (
        "employment-subsidy",
        "employment",
        &[Step::Street, Step::District],
        0,
        20,
        false,
        false,
    ),
    (
        "vocational-training",
        "employment",
        &[Step::District, Step::Provider],
        0,
        10,
        false,
        false,
    ),
    (
        "education-aid",
        "education",
        &[Step::Street, Step::District],
        7,
        20,
        true,
        false,
    ),
];

fn code(s: &str) -> ServiceCode {
    ServiceCode::parse(s).unwrap()
}

#[test]
fn the_seed_keeps_the_reference_facts() {
    let catalog = Catalog::seed();
    assert_eq!(catalog.versions().len(), 18);
    for (c, group, chain, notice_days, limit_days, proactive, cross_province) in REFERENCE {
        let service = catalog
            .active_on(&code(c), TODAY)
            .unwrap_or_else(|| panic!("{c}"));
        assert_eq!(service.version(), 1);
        assert_eq!(service.group().slug(), group, "{c}");
        assert_eq!(service.chain(), chain, "{c}");
        assert_eq!(service.notice_days(), notice_days, "{c}");
        assert_eq!(service.limit_days(), limit_days, "{c}");
        assert_eq!(service.proactive(), proactive, "{c}");
        assert_eq!(service.cross_province(), cross_province, "{c}");
        for lang in [Lang::Zh, Lang::En] {
            assert!(
                !service.name(lang).is_empty() && !service.who(lang).is_empty(),
                "{c}"
            );
            assert!(!service.amount().text(lang).is_empty(), "{c}");
        }
        assert!(
            !service.notes().is_empty() && !service.materials().is_empty(),
            "{c}"
        );
    }
}

#[test]
fn the_seed_describes_each_item() {
    let catalog = Catalog::seed();
    let living = catalog.active_on(&code("living-subsidy"), TODAY).unwrap();
    assert_eq!(living.name(Lang::Zh), "困难残疾人生活补贴");
    assert_eq!(
        living.amount(),
        &Amount::Fixed {
            amount: Money::from_fen(9000),
            per: Period::Month
        }
    );
    assert_eq!(living.amount().text(Lang::Zh), "每月 ¥90.00");
    assert_eq!(living.amount().text(Lang::En), "¥90.00 per month");
    let optional: Vec<_> = living.materials().iter().filter(|m| !m.required).collect();
    assert_eq!(optional.len(), 1);
    assert!(optional[0].name(Lang::En).starts_with("Dibao proof"));
    let renew = catalog.active_on(&code("cert-renew"), TODAY).unwrap();
    let reason = renew.questions().get("reason").unwrap();
    assert_eq!(reason.choices().len(), 3);
    assert_eq!(renew.amount().text(Lang::En), "no payment");
    assert!(
        renew
            .eligibility_rule()
            .source()
            .contains("certificate_expires_in_days <= 365")
    );
}

#[test]
fn seed_rules_decide_typical_people() {
    let catalog = Catalog::seed();
    let eligible = |c: &str, facts: &Facts| {
        catalog
            .active_on(&code(c), TODAY)
            .unwrap()
            .eligibility_rule()
            .evaluate(facts)
            .eligible
    };
    let severe = holder(Category::Physical, 1);
    assert!(eligible("nursing-subsidy", &severe));
    assert!(!eligible("living-subsidy", &severe));
    assert!(!eligible("cert-new", &severe));
    assert!(eligible("care-support", &severe));
    assert!(!eligible("wheelchair-fuel", &severe));
    let owner = severe
        .clone()
        .with_answer("owns_motorised_wheelchair", Answer::Bool(true));
    assert!(eligible("wheelchair-fuel", &owner));
    assert!(eligible(
        "nursing-subsidy",
        &holder(Category::Intellectual, 3)
    ));
    assert!(!eligible("nursing-subsidy", &holder(Category::Hearing, 3)));
    let renewal = holder(Category::Visual, 2).with_answer("reason", Answer::Text("damaged".into()));
    assert!(eligible("cert-renew", &renewal));
    assert!(!eligible("cert-renew", &holder(Category::Visual, 2)));
}

fn draft() -> ServiceDraft {
    ServiceDraft {
        code: "test-item".into(),
        version: 1,
        effective_from: "2026-01-01".into(),
        name_zh: "测试事项".into(),
        name_en: "Test item".into(),
        group: "care".into(),
        chain: vec!["street".into(), "district".into()],
        notice_days: 0,
        limit_days: 10,
        who_zh: "任何人".into(),
        who_en: "Anyone".into(),
        notes: String::new(),
        rule: "true".into(),
        questions: Vec::new(),
        materials: vec![Material {
            name_zh: "申请表".into(),
            name_en: "Application".into(),
            required: true,
        }],
        amount: AmountDraft {
            kind: "none".into(),
            yuan: None,
            per: None,
            zh: None,
            en: None,
        },
        proactive: false,
        cross_province: false,
    }
}

fn fields(problems: &Problems) -> Vec<&str> {
    problems.0.iter().map(|p| p.field.as_str()).collect()
}

#[test]
fn a_valid_draft_becomes_a_version() {
    let version = ServiceVersion::new(draft()).unwrap();
    assert_eq!(version.code().as_str(), "test-item");
    assert_eq!(version.effective_from(), date!(2026 - 01 - 01));
    assert_eq!(version.chain(), [Step::Street, Step::District]);
    assert_eq!(version.amount(), &Amount::None);
}

#[test]
fn every_problem_of_a_draft_is_reported() {
    let bad = ServiceDraft {
        code: "Test_Item".into(),
        version: 0,
        effective_from: "2026-13-01".into(),
        name_zh: " ".into(),
        group: "leisure".into(),
        chain: vec!["street".into(), "mayor".into(), "street".into()],
        limit_days: 0,
        who_en: String::new(),
        rule: "grade <= 2 && foo".into(),
        materials: vec![Material {
            name_zh: "申请表".into(),
            name_en: String::new(),
            required: true,
        }],
        amount: AmountDraft {
            kind: "fixed".into(),
            yuan: Some("-5".into()),
            per: None,
            zh: Some("x".into()),
            en: None,
        },
        ..draft()
    };
    let problems = ServiceVersion::new(bad).unwrap_err();
    assert_eq!(
        fields(&problems),
        [
            "code",
            "version",
            "effective_from",
            "name_zh",
            "who_en",
            "group",
            "chain[1]",
            "chain[2]",
            "limit_days",
            "materials[0].en",
            "amount.per",
            "amount.yuan",
            "amount.zh",
            "rule",
        ]
    );
    assert_eq!(
        problems.0[6].to_string(),
        r#"chain[1]: "mayor" is not a valid review step; expected one of: community, street, district, civil_affairs, health, provider"#
    );
    assert_eq!(
        problems.0[7].message(Lang::Zh),
        "chain[2]：“street”重复出现"
    );
    assert_eq!(
        problems.0[13].to_string(),
        r#"rule: line 1, column 15: "foo" is not a person fact or a question of this service"#
    );
    assert_eq!(
        problems.0[2].message(Lang::Zh),
        "effective_from：“2026-13-01”不是日期，应写作 2026-01-01"
    );
}

#[test]
fn an_empty_chain_and_bad_questions_are_reported() {
    let bad = ServiceDraft {
        chain: Vec::new(),
        questions: vec![QuestionDraft {
            key: "age".into(),
            kind: "bool".into(),
            zh: "年龄？".into(),
            en: "Age?".into(),
            choices: Vec::new(),
        }],
        ..draft()
    };
    let problems = ServiceVersion::new(bad).unwrap_err();
    assert_eq!(fields(&problems), ["chain", "questions[0].key"]);
    assert_eq!(problems.0[0].message(Lang::En), "chain: must not be empty");
}

#[test]
fn amounts_are_checked_by_kind() {
    let amount =
        |kind: &str, yuan: Option<&str>, per: Option<&str>, zh: Option<&str>, en: Option<&str>| {
            let draft = AmountDraft {
                kind: kind.into(),
                yuan: yuan.map(Into::into),
                per: per.map(Into::into),
                zh: zh.map(Into::into),
                en: en.map(Into::into),
            };
            let mut problems = Vec::new();
            let amount = Amount::parse(&draft, &mut problems);
            (
                amount,
                problems
                    .into_iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>(),
            )
        };
    assert_eq!(
        amount("fixed", Some("260"), Some("year"), None, None).0,
        Some(Amount::Fixed {
            amount: Money::from_fen(26000),
            per: Period::Year
        })
    );
    assert_eq!(
        amount("described", None, None, Some("按公式"), Some("By formula"))
            .0
            .unwrap()
            .text(Lang::Zh),
        "按公式"
    );
    let (none, problems) = amount("fixed", Some("1.234"), Some("week"), None, None);
    assert_eq!(none, None);
    assert_eq!(problems.len(), 2);
    assert!(problems[0].starts_with("yuan: "), "{problems:?}");
    assert!(
        problems[1].starts_with("per: \"week\" is not a valid payment period"),
        "{problems:?}"
    );
    assert_eq!(
        amount("described", None, None, Some(" "), None).1,
        [
            "zh: must not be empty",
            "en: is required for this kind of amount"
        ]
    );
    assert_eq!(
        amount("none", Some("1"), None, None, None).1,
        ["yuan: is not used by this kind of amount"]
    );
    assert_eq!(
        amount("fixed", Some("0"), Some("once"), None, None).1,
        ["yuan: must be more than zero"]
    );
    assert!(
        amount("gift", None, None, None, None).1[0]
            .starts_with("kind: \"gift\" is not a valid amount kind")
    );
}

#[test]
fn service_codes_are_slugs() {
    for ok in ["cert-new", "a1", "living-subsidy-2"] {
        assert_eq!(ServiceCode::parse(ok).unwrap().to_string(), ok);
    }
    assert_eq!(
        " cert-new ".parse::<ServiceCode>().unwrap().as_str(),
        "cert-new"
    );
    for bad in [
        "",
        "a",
        "1a",
        "-a",
        "a-",
        "a--b",
        "Cert",
        "cert_new",
        "证件",
        &"a".repeat(41),
    ] {
        assert!(ServiceCode::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn vocabularies_accept_slugs_and_names() {
    assert_eq!("civil_affairs".parse(), Ok(Step::CivilAffairs));
    assert_eq!("社区初审".parse(), Ok(Step::Community));
    assert_eq!("service provider".parse(), Ok(Step::Provider));
    assert_eq!(Step::Health.name(Lang::Zh), "卫健评定");
    assert_eq!(Step::District.name(Lang::Zh), "区残联审定");
    assert_eq!(Group::Security.name(Lang::En), "Social security");
    assert_eq!(Step::ALL.len(), 6);
    let err = "mayor".parse::<Step>().unwrap_err();
    assert_eq!(
        err.message(Lang::Zh),
        "“mayor”不是有效的审核环节，可选：社区初审、街道审核、区残联审定、区民政审批、卫健评定、服务机构"
    );
}

const TWO_VERSIONS: &str = r#"
[[service]]
code = "demo"
version = 2
effective_from = "2026-07-01"
name_zh = "示例"
name_en = "Demo"
group = "care"
chain = ["district"]
notice_days = 0
limit_days = 5
who_zh = "持证人"
who_en = "Holders"
rule = "has_valid_certificate && grade <= 2"
materials = []
amount = { kind = "fixed", yuan = "100", per = "month" }
proactive = false
cross_province = false

[[service]]
code = "demo"
version = 1
effective_from = "2026-01-01"
name_zh = "示例"
name_en = "Demo"
group = "care"
chain = ["district"]
notice_days = 0
limit_days = 5
who_zh = "持证人"
who_en = "Holders"
rule = "has_valid_certificate"
materials = []
amount = { kind = "fixed", yuan = "80", per = "month" }
proactive = false
cross_province = false
"#;

#[test]
fn a_version_takes_effect_from_its_date() {
    let catalog = Catalog::from_toml(TWO_VERSIONS).unwrap();
    let demo = code("demo");
    assert_eq!(
        catalog
            .versions()
            .iter()
            .map(|v| v.version())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(catalog.active_on(&demo, date!(2025 - 12 - 31)), None);
    assert_eq!(
        catalog
            .active_on(&demo, date!(2026 - 06 - 30))
            .unwrap()
            .version(),
        1
    );
    assert_eq!(
        catalog
            .active_on(&demo, date!(2026 - 07 - 01))
            .unwrap()
            .version(),
        2
    );
    // A case filed under version 1 keeps it.
    let v1 = catalog.version(&demo, 1).unwrap();
    assert_eq!(v1.eligibility_rule().source(), "has_valid_certificate");
    assert_eq!(catalog.version(&demo, 3), None);
    assert_eq!(catalog.services_on(date!(2026 - 08 - 01)).len(), 1);
    assert_eq!(Catalog::seed().services_on(TODAY).len(), 18);
}

#[test]
fn versions_must_be_distinct_and_in_date_order() {
    let same_date = TWO_VERSIONS.replace("2026-07-01", "2026-01-01");
    let Err(CatalogError::Invalid(problems)) = Catalog::from_toml(&same_date) else {
        panic!("two versions on one date");
    };
    assert_eq!(
        problems.to_string(),
        "service[1].version: version 2 must take effect after version 1, which takes effect on 2026-01-01"
    );
    let twice = TWO_VERSIONS.replace("version = 2", "version = 1");
    let Err(CatalogError::Invalid(problems)) = Catalog::from_toml(&twice) else {
        panic!("a version listed twice");
    };
    assert_eq!(
        problems.message(Lang::Zh),
        "service[1].version：“demo 1”重复出现"
    );
}

#[test]
fn a_catalog_file_is_refused_with_where_and_why() {
    let err = Catalog::from_toml("[[service]]\ncode = \"demo\"\nversion = ").unwrap_err();
    let CatalogError::Syntax { at, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(at.line, 3);
    assert!(
        err.message(Lang::Zh).starts_with("第 3 行"),
        "{}",
        err.message(Lang::Zh)
    );
    let unknown = TWO_VERSIONS.replace(
        "proactive = false\ncross_province = false\n\n",
        "proactive = false\ncross_province = false\ncolour = 1\n\n",
    );
    let err = Catalog::from_toml(&unknown).unwrap_err();
    assert!(
        matches!(&err, CatalogError::Syntax { message, .. } if message.contains("colour")),
        "{err}"
    );
    let bad = TWO_VERSIONS.replace("limit_days = 5\nwho_zh = \"持证人\"\nwho_en = \"Holders\"\nrule = \"has_valid_certificate\"", "limit_days = 0\nwho_zh = \"持证人\"\nwho_en = \"Holders\"\nrule = \"has_valid_certificate\"");
    let err = Catalog::from_toml(&bad).unwrap_err();
    assert_eq!(err.to_string(), "service[1].limit_days: must be at least 1");
}
