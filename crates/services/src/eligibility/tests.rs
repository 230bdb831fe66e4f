use proptest::prelude::*;
use time::macros::date;
use zhucan_core::{
    Category, CertificateStatus, Grade, HouseholdStatus, LifeStatus, MultipleComponents, ResidentId,
};

use super::*;
use crate::facts::tests::{TODAY, draft, holder, person};
use crate::facts::{Answer, CertificateFacts, Person};
use crate::{Catalog, ServiceCode};

fn rule(source: &str) -> Rule {
    Rule::new(source, &Questions::default()).unwrap_or_else(|err| panic!("{source}: {err}"))
}

fn refused(source: &str) -> RuleError {
    Rule::new(source, &Questions::default()).expect_err(source)
}

fn at(line: u32, column: u32) -> Position {
    Position { line, column }
}

/// `(zh, en, passed)` of each clause.
fn clauses(evaluation: &Evaluation) -> Vec<(&str, &str, bool)> {
    evaluation
        .clauses
        .iter()
        .map(|c| (c.text(Lang::Zh), c.text(Lang::En), c.passed))
        .collect()
}

#[test]
fn rules_are_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Rule>();
    shared::<Catalog>();
}

#[test]
fn a_syntax_error_is_refused_with_its_position() {
    let err = refused("age >");
    assert_eq!(err.position(), Some(at(1, 6)));
    assert!(
        err.to_string()
            .starts_with("line 1, column 6: syntax error: "),
        "{err}"
    );
    assert!(
        err.message(Lang::Zh)
            .starts_with("第 1 行第 6 列：语法错误：")
    );
    assert_eq!(
        refused("has_certificate &&\n  grade <=").position(),
        Some(at(2, 11))
    );
    // Columns count characters, not bytes.
    assert_eq!(refused("category == '视力' &&").position(), Some(at(1, 20)));
    assert_eq!(refused("   "), RuleError::Empty);
}

#[test]
fn an_unknown_fact_is_refused_with_its_position() {
    let err = refused("has_valid_certificate &&\n  grde <= 2");
    assert_eq!(
        err,
        RuleError::UnknownFact {
            at: at(2, 3),
            name: "grde".into()
        }
    );
    assert_eq!(
        err.to_string(),
        r#"line 2, column 3: "grde" is not a person fact or a question of this service"#
    );
    assert_eq!(
        err.message(Lang::Zh),
        "第 2 行第 3 列：“grde”既不是人员事实，也不是本事项的问题"
    );
    // Columns after non-ASCII text count characters.
    assert_eq!(refused("'视力残疾' != '' || x").position(), Some(at(1, 17)));
    // An answer fact is known only with its question.
    assert!(matches!(refused("moved_in"), RuleError::UnknownFact { .. }));
    let questions = Questions::new(vec![draft("moved_in", "bool", &[])]).unwrap();
    assert!(Rule::new("has_certificate && moved_in", &questions).is_ok());
}

#[test]
fn unknown_functions_and_constructs_are_refused() {
    assert_eq!(
        refused("certificate_expires_within_days(365)"),
        RuleError::UnknownFunction {
            at: at(1, 32),
            name: "certificate_expires_within_days".into()
        }
    );
    assert!(matches!(
        refused("size(categories, 1) > 0"),
        RuleError::Arguments { .. }
    ));
    assert_eq!(
        refused("age >= 16.5"),
        RuleError::Unsupported {
            at: at(1, 8),
            construct: Construct::Decimal
        }
    );
    assert!(matches!(
        refused("grade.value == 1"),
        RuleError::Unsupported {
            construct: Construct::FieldSelection,
            ..
        }
    ));
    assert!(matches!(
        refused("{'a': true}['a']"),
        RuleError::Unsupported {
            construct: Construct::MapOrMessage,
            ..
        }
    ));
    assert_eq!(
        refused("age >= 1u").message(Lang::Zh),
        "第 1 行第 8 列：规则中不能使用无符号整数（如 1u）"
    );
}

#[test]
fn operands_must_have_matching_types() {
    let err = refused("grade <= '2'");
    assert_eq!(
        err,
        RuleError::Mismatch {
            at: at(1, 10),
            expected: ValueType::Int,
            found: ValueType::Text
        }
    );
    assert_eq!(
        err.to_string(),
        "line 1, column 10: expected a whole number, found text"
    );
    assert_eq!(
        err.message(Lang::Zh),
        "第 1 行第 10 列：此处应为整数，实为文本"
    );
    assert!(matches!(
        refused("age && resident"),
        RuleError::Mismatch { .. }
    ));
    assert!(matches!(
        refused("category in 'visual'"),
        RuleError::Mismatch { .. }
    ));
    assert!(matches!(
        refused("category in [1, 2]"),
        RuleError::Mismatch { .. }
    ));
    assert!(matches!(
        refused("[1, 'a'] == []"),
        RuleError::Mismatch { .. }
    ));
    assert!(matches!(
        refused("resident < true"),
        RuleError::Mismatch { .. }
    ));
    assert!(matches!(
        refused("categories.exists(c, c > 1)"),
        RuleError::Mismatch { .. }
    ));
    let err = refused("age + 1");
    assert_eq!(
        err,
        RuleError::NotACondition {
            found: ValueType::Int
        }
    );
    assert_eq!(
        err.message(Lang::Zh),
        "规则的结果应为是或否（true/false），实为整数"
    );
    assert_eq!(err.position(), None);
}

#[test]
fn text_compared_with_a_vocabulary_must_be_one_of_its_values() {
    let err = refused("household_status == 'rich'");
    assert_eq!(
        err.to_string(),
        r#"line 1, column 21: "rich" is not a value of household_status; expected one of: none, dibao, dibao_edge, tekun, low_income"#
    );
    assert_eq!(
        err.message(Lang::Zh),
        "第 1 行第 21 列：“rich”不是 household_status 的取值，可选：none、dibao、dibao_edge、tekun、low_income"
    );
    assert_eq!(
        refused("category in ['visual', 'physcal']").position(),
        Some(at(1, 24))
    );
    assert!(matches!(
        refused("'physcal' in categories"),
        RuleError::UnknownValue { .. }
    ));
    assert!(matches!(
        refused("categories.exists(c, c == 'x')"),
        RuleError::UnknownValue { .. }
    ));
    let questions =
        Questions::new(vec![draft("reason", "choice", &["damaged", "details"])]).unwrap();
    let err = Rule::new("reason == 'lost'", &questions).unwrap_err();
    assert!(
        matches!(err, RuleError::UnknownValue { ref accepted, .. } if accepted == &["damaged", "details"])
    );
    // Free text is not a closed set.
    let questions = Questions::new(vec![draft("note", "text", &[])]).unwrap();
    assert!(Rule::new("note == 'anything'", &questions).is_ok());
}

#[test]
fn the_rule_language_is_otherwise_cel() {
    for ok in [
        "true",
        "!has_certificate",
        "grade in [1, 2] && sex == 'female'",
        "size(categories) >= 2 || categories.exists(c, c in ['intellectual', 'psychosocial'])",
        "categories.all(c, c != 'visual')",
        "(age >= 60 ? 1 : 0) == 1",
        "categories[0] == 'visual'",
        "grade != null && -age < 0 && age % 2 == 0",
        "life_status.startsWith('a') && size(life_status) > 0",
    ] {
        rule(ok);
    }
}

#[test]
fn the_explanation_gives_the_persons_value_and_the_need() {
    let evaluation = rule("grade <= 2").evaluate(&holder(Category::Physical, 3));
    assert!(!evaluation.eligible);
    assert_eq!(
        clauses(&evaluation),
        [(
            "残疾等级为 3 级，需要 1 级或 2 级",
            "grade is 3, needs 1 or 2",
            false
        )]
    );
    // Written the other way round, the same sentence.
    assert_eq!(
        rule("2 >= grade").evaluate(&holder(Category::Physical, 3)),
        evaluation
    );
    let negated = rule("!(grade <= 2)").evaluate(&holder(Category::Physical, 3));
    assert_eq!(
        clauses(&negated),
        [(
            "残疾等级为 3 级，需要 3 级或 4 级",
            "grade is 3, needs 3 or 4",
            true
        )]
    );
}

#[test]
fn each_top_level_clause_is_explained() {
    let f = holder(Category::Intellectual, 1);
    let evaluation = rule(
        "has_valid_certificate && age >= 16 && age < 60 && household_status in ['dibao', 'dibao_edge', 'low_income']",
    )
    .evaluate(&f);
    assert!(!evaluation.eligible);
    assert_eq!(
        clauses(&evaluation),
        [
            (
                "持有有效残疾人证：是",
                "holds a valid disability certificate: yes",
                true
            ),
            (
                "年龄为 45 岁，需要 16 岁及以上",
                "age is 45, needs 16 or more",
                true
            ),
            (
                "年龄为 45 岁，需要不满 60 岁",
                "age is 45, needs under 60",
                true
            ),
            (
                "困难类别为无，需要低保、低保边缘或低收入",
                "household status is none, needs dibao, dibao edge or low income",
                false
            ),
        ]
    );
}

#[test]
fn a_group_of_alternatives_is_explained_as_one_clause() {
    let nursing = rule(
        "has_valid_certificate && (grade <= 2 || (grade <= 4 && category in ['intellectual', 'psychosocial']))",
    );
    let evaluation = nursing.evaluate(&holder(Category::Physical, 3));
    assert_eq!(evaluation.clauses.len(), 2);
    assert_eq!(
        evaluation.clauses[1].text_zh,
        "以下任一项：残疾等级为 3 级，需要 1 级或 2 级（不符合）；残疾等级为 3 级，需要 1 级、2 级、3 级或 4 级，且残疾类别为肢体残疾，需要智力残疾或精神残疾（不符合）"
    );
    assert_eq!(
        evaluation.clauses[1].text_en,
        "any of: grade is 3, needs 1 or 2 (not met); grade is 3, needs 1, 2, 3 or 4, and disability category is physical, needs intellectual or psychosocial (not met)"
    );
    assert!(!evaluation.eligible);
    let evaluation = nursing.evaluate(&holder(Category::Psychosocial, 3));
    assert!(evaluation.eligible);
    assert!(
        evaluation.clauses[1]
            .text_en
            .ends_with("needs intellectual or psychosocial (met)")
    );
}

#[test]
fn unknown_facts_never_pass_and_say_so() {
    let nobody = Facts::new(&person(date!(1990 - 01 - 01)), TODAY);
    let evaluation =
        rule("!has_valid_certificate && grade <= 2 && category == 'visual'").evaluate(&nobody);
    assert_eq!(
        clauses(&evaluation),
        [
            (
                "持有有效残疾人证：否",
                "holds a valid disability certificate: no",
                true
            ),
            (
                "残疾等级未登记，需要 1 级或 2 级",
                "grade is not recorded, needs 1 or 2",
                false
            ),
            (
                "残疾类别未登记，需要视力残疾",
                "disability category is not recorded, needs visual",
                false
            ),
        ]
    );
    assert!(!rule("!(grade <= 2)").evaluate(&nobody).eligible);
    let with = rule("has_valid_certificate").evaluate(&nobody);
    assert_eq!(
        clauses(&with),
        [(
            "持有有效残疾人证：否，需要：是",
            "holds a valid disability certificate: no, needs: yes",
            false
        )]
    );
}

#[test]
fn days_and_lists_read_naturally() {
    let f = holder(Category::Visual, 2);
    let renew = rule("certificate_expires_in_days <= 365");
    assert_eq!(
        clauses(&renew.evaluate(&f)),
        [(
            "残疾人证距到期为 1582 天，需要 365 天及以下",
            "time until the certificate expires is 1582 days, needs 365 days or less",
            false
        )]
    );
    let mut p = person(date!(1980 - 05 - 01));
    p.certificate = Some(CertificateFacts {
        components: Some(MultipleComponents::parse("4,5").unwrap()),
        ..crate::facts::tests::certificate(Category::Multiple, 1)
    });
    let multiple = Facts::new(&p, TODAY);
    let includes =
        rule("'intellectual' in categories && !('visual' in categories)").evaluate(&multiple);
    assert!(includes.eligible);
    assert_eq!(
        clauses(&includes),
        [
            (
                "残疾类别（含多重残疾的各类别）为肢体残疾、智力残疾，需要包括智力残疾",
                "disability categories (with those of a multiple disability) are physical, intellectual, needs to include intellectual",
                true
            ),
            (
                "残疾类别（含多重残疾的各类别）为肢体残疾、智力残疾，需要不包括视力残疾",
                "disability categories (with those of a multiple disability) are physical, intellectual, needs not to include visual",
                true
            ),
        ]
    );
    let not = rule("household_status != 'tekun' && !(sex in ['female'])").evaluate(&f);
    assert_eq!(
        clauses(&not),
        [
            (
                "困难类别为无，需要不是特困",
                "household status is none, needs not tekun",
                true
            ),
            (
                "性别为男，需要不是女",
                "sex is male, needs not female",
                true
            ),
        ]
    );
}

#[test]
fn other_conditions_quote_the_rule() {
    let f = holder(Category::Visual, 2);
    let evaluation =
        rule("size(categories) >= 2 && categories.exists(c, c in ['intellectual', 'psychosocial']) && !(age > 1 && age < 2)")
            .evaluate(&f);
    assert_eq!(
        clauses(&evaluation),
        [
            (
                "条件 size(categories) >= 2 不成立",
                "condition size(categories) >= 2 does not hold",
                false
            ),
            (
                "条件 categories.exists(c, c in ['intellectual', 'psychosocial']) 不成立",
                "condition categories.exists(c, c in ['intellectual', 'psychosocial']) does not hold",
                false
            ),
            (
                "并非：年龄为 45 岁，需要超过 1 岁，且年龄为 45 岁，需要不满 2 岁",
                "not: age is 45, needs over 1, and age is 45, needs under 2",
                true
            ),
        ]
    );
}

#[test]
fn brackets_inside_text_do_not_confuse_the_quote() {
    assert_eq!(with_closing_brackets_for("f('(' ", "))"), "f('(' )");
    assert_eq!(with_closing_brackets_for("[a", " ] ) x"), "[a ]");
    assert_eq!(with_closing_brackets_for("a", ")"), "a");
}

fn with_closing_brackets_for(text: &str, rest: &str) -> String {
    super::explain::with_closing_brackets(text, rest)
}

fn answers() -> Questions {
    Questions::new(vec![
        draft("owns", "bool", &[]),
        crate::QuestionDraft {
            key: "reason".into(),
            kind: "choice".into(),
            zh: "换领原因".into(),
            en: "Why renew".into(),
            choices: vec![
                crate::Choice {
                    value: "damaged".into(),
                    zh: "证件损坏".into(),
                    en: "It is damaged".into(),
                },
                crate::Choice {
                    value: "details".into(),
                    zh: "信息有变化".into(),
                    en: "My details changed".into(),
                },
            ],
        },
    ])
    .unwrap()
}

#[test]
fn unanswered_questions_leave_the_person_possibly_eligible() {
    let fuel = Rule::new(
        "has_valid_certificate && category == 'physical' && owns",
        &answers(),
    )
    .unwrap();
    let f = holder(Category::Physical, 2);
    let evaluation = fuel.evaluate(&f);
    assert!(!evaluation.eligible);
    assert!(evaluation.may_be_eligible());
    let last = &evaluation.clauses[2];
    assert!(!last.passed && last.pending);
    assert_eq!(last.text_zh, "“owns？”尚未回答，需要是");
    assert_eq!(last.text_en, "“owns?” is not answered yet, needs yes");

    let no = fuel.evaluate(&f.clone().with_answer("owns", Answer::Bool(false)));
    assert!(!no.may_be_eligible());
    assert_eq!(no.clauses[2].text_en, "answer to “owns?” is no, needs yes");
    let yes = fuel.evaluate(&f.with_answer("owns", Answer::Bool(true)));
    assert!(yes.eligible);
    assert_eq!(yes.clauses[2].text_zh, "“owns？”回答为是");
}

#[test]
fn choice_answers_are_named_by_their_choices() {
    let renew = Rule::new("has_certificate && (certificate_expires_in_days <= 365 || reason in ['damaged', 'details'])", &answers())
        .unwrap();
    let f = holder(Category::Physical, 2).with_answer("reason", Answer::Text("damaged".into()));
    let evaluation = renew.evaluate(&f);
    assert!(evaluation.eligible);
    assert_eq!(
        evaluation.clauses[1].text_en,
        "any of: time until the certificate expires is 1582 days, needs 365 days or less (not met); answer to “Why renew” is “It is damaged”, needs “It is damaged” or “My details changed” (met)"
    );
    assert_eq!(
        evaluation.clauses[1].text_zh,
        "以下任一项：残疾人证距到期为 1582 天，需要 365 天及以下（不符合）；“换领原因”回答为“证件损坏”，需要“证件损坏”或“信息有变化”（符合）"
    );
}

#[test]
fn a_rule_is_tried_on_sample_people() {
    let subsidy =
        rule("has_valid_certificate && household_status in ['dibao', 'dibao_edge', 'low_income']");
    let mut dibao = person(date!(1970 - 07 - 15));
    dibao.household_status = HouseholdStatus::Dibao;
    dibao.certificate = Some(crate::facts::tests::certificate(Category::Hearing, 4));
    let samples = [
        holder(Category::Visual, 1),
        Facts::new(&dibao, TODAY),
        Facts::new(&person(date!(2000 - 01 - 01)), TODAY),
    ];
    let trial = subsidy.try_on(&samples);
    let eligible: Vec<_> = trial.iter().map(|e| e.eligible).collect();
    assert_eq!(eligible, [false, true, false]);
    assert_eq!(trial[1].clauses.len(), 2);
}

#[test]
fn every_seed_rule_explains_every_clause() {
    let catalog = Catalog::seed();
    let f = holder(Category::Physical, 1);
    for service in catalog.versions() {
        let evaluation = service.eligibility_rule().evaluate(&f);
        assert!(!evaluation.clauses.is_empty(), "{}", service.code());
        for clause in &evaluation.clauses {
            assert!(!clause.text_zh.is_empty() && !clause.text_en.is_empty());
            assert!(
                !clause.text_en.starts_with("condition"),
                "{}: {}",
                service.code(),
                clause.text_en
            );
        }
    }
    let fuel = catalog
        .active_on(&ServiceCode::parse("wheelchair-fuel").unwrap(), TODAY)
        .unwrap();
    let evaluation = fuel.eligibility_rule().evaluate(&f);
    assert_eq!(
        evaluation.clauses[2].text_zh,
        "“您本人是否拥有符合国家标准（GB 12995-2006）的机动轮椅车？”尚未回答，需要是"
    );
}

fn any_facts() -> impl Strategy<Value = Facts> {
    let certificate = proptest::option::of((
        proptest::sample::select(Category::ALL.to_vec()),
        1u8..=4,
        proptest::sample::select(CertificateStatus::ALL.to_vec()),
        -400i64..4000,
    ));
    (
        0i64..36_000,
        proptest::sample::select(HouseholdStatus::ALL.to_vec()),
        proptest::sample::select(LifeStatus::ALL.to_vec()),
        any::<(bool, bool)>(),
        certificate,
        proptest::collection::vec((0usize..9, any::<bool>(), 0usize..4), 0..6),
    )
        .prop_map(
            |(
                days_old,
                household_status,
                life_status,
                (resident, residence),
                certificate,
                answers,
            )| {
                let birth = date!(2025 - 12 - 31) - time::Duration::days(days_old);
                let person = Person {
                    resident_id: ResidentId::from_parts("510112", birth, 7).unwrap(),
                    household_status,
                    life_status,
                    resident,
                    residence_in_district: residence,
                    certificate: certificate.map(|(category, grade, status, expires)| {
                        CertificateFacts {
                            components: (category == Category::Multiple)
                                .then(|| MultipleComponents::parse("1,5").unwrap()),
                            category,
                            grade: Grade::new(grade).unwrap(),
                            status,
                            expires_on: TODAY + time::Duration::days(expires),
                        }
                    }),
                };
                const KEYS: [&str; 9] = [
                    "reason",
                    "moved_in",
                    "reassessed_not_disabled",
                    "diagnosis",
                    "owns_motorised_wheelchair",
                    "severe_mental_disorder_registered",
                    "applicant_kind",
                    "enrolled_student",
                    "parent_has_valid_certificate",
                ];
                const TEXTS: [&str; 4] = ["damaged", "autism", "employer", "other"];
                answers
                    .into_iter()
                    .fold(Facts::new(&person, TODAY), |facts, (key, flag, text)| {
                        let answer = if flag {
                            Answer::Bool(text % 2 == 0)
                        } else {
                            Answer::Text(TEXTS[text].into())
                        };
                        facts.with_answer(KEYS[key], answer)
                    })
            },
        )
}

proptest! {
    /// Eligible exactly when every clause passes, for every seed rule and anyone.
    #[test]
    fn eligibility_agrees_with_its_clauses(facts in any_facts()) {
        for service in Catalog::seed().versions() {
            let evaluation = service.eligibility_rule().evaluate(&facts);
            let all_passed = evaluation.clauses.iter().all(|c| c.passed);
            prop_assert_eq!(evaluation.eligible, all_passed, "{}", service.code());
            prop_assert!(evaluation.clauses.iter().all(|c| !(c.passed && c.pending)));
        }
    }
}
