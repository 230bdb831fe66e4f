//! Explanations of an evaluation: each clause in plain words with the person's own value,
//! e.g. "残疾等级为 3 级，需要 1 级或 2 级" / "grade is 3, needs 1 or 2".

use cel::common::ast::operators as op;
use cel::common::ast::{Expr, LiteralValue};
use cel::{Context, IdedExpr};
use zhucan_core::Lang;

use super::{ClauseResult, Rule, Subject, call_of, conjuncts, disjuncts, holds, subject, walk};
use crate::facts::{AnswerKind, FactDoc, FactKind, FactValue, Facts};
use crate::{join_alternatives, zh_text};

pub(super) struct Explainer<'a> {
    pub rule: &'a Rule,
    pub facts: &'a Facts,
    pub context: &'a Context<'static, 'static>,
}

impl Explainer<'_> {
    /// `expr` explained in both languages.
    pub fn explain(&self, expr: &IdedExpr) -> ClauseResult {
        let passed = holds(expr, self.context);
        let (text_zh, text_en) = self.describe(expr, passed);
        ClauseResult {
            text_zh,
            text_en,
            passed,
            pending: !passed && self.awaits_answer(expr),
        }
    }

    fn describe(&self, expr: &IdedExpr, passed: bool) -> (String, String) {
        let alternatives = disjuncts(expr);
        if alternatives.len() > 1 {
            let parts: Vec<_> = alternatives.into_iter().map(|a| self.explain(a)).collect();
            let zh: Vec<_> = parts
                .iter()
                .map(|p| {
                    format!(
                        "{}（{}）",
                        p.text_zh,
                        if p.passed { "符合" } else { "不符合" }
                    )
                })
                .collect();
            let en: Vec<_> = parts
                .iter()
                .map(|p| {
                    format!(
                        "{} ({})",
                        p.text_en,
                        if p.passed { "met" } else { "not met" }
                    )
                })
                .collect();
            return (
                format!("以下任一项：{}", zh.join("；")),
                format!("any of: {}", en.join("; ")),
            );
        }
        let all = conjuncts(expr);
        if all.len() > 1 {
            let parts: Vec<_> = all.into_iter().map(|a| self.explain(a)).collect();
            let zh: Vec<_> = parts.iter().map(|p| p.text_zh.as_str()).collect();
            let en: Vec<_> = parts.iter().map(|p| p.text_en.as_str()).collect();
            return (zh.join("，且"), en.join(", and "));
        }
        if let Some(atom) = self.atom(expr) {
            return (
                atom.sentence(self.facts, passed, Lang::Zh),
                atom.sentence(self.facts, passed, Lang::En),
            );
        }
        if let Some([inner]) = call_of(expr, op::LOGICAL_NOT) {
            let inner = self.explain(inner);
            return (
                format!("并非：{}", inner.text_zh),
                format!("not: {}", inner.text_en),
            );
        }
        let text = self.source_of(expr);
        (
            format!("条件 {text} {}", if passed { "成立" } else { "不成立" }),
            format!(
                "condition {text} {}",
                if passed { "holds" } else { "does not hold" }
            ),
        )
    }

    /// Whether `expr` uses a question that is not answered yet.
    fn awaits_answer(&self, expr: &IdedExpr) -> bool {
        let mut waiting = false;
        walk(expr, &mut |e| {
            if let Expr::Ident(name) = &e.expr
                && let Some(question) = self.rule.questions.get(name)
            {
                waiting |= matches!(
                    question.value(self.facts),
                    FactValue::Bool(None) | FactValue::Text(None)
                );
            }
        });
        waiting
    }

    fn subject_of(&self, expr: &IdedExpr) -> Option<Subject<'_>> {
        match &expr.expr {
            Expr::Ident(name) => subject(name, &self.rule.questions),
            _ => None,
        }
    }

    /// A comparison of one fact with literals, which reads as a sentence.
    fn atom(&self, expr: &IdedExpr) -> Option<Atom<'_>> {
        let call = match &expr.expr {
            Expr::Ident(_) => {
                let subject = self.subject_of(expr)?;
                return is_bool(subject).then_some(Atom {
                    subject,
                    need: Need::Is(true),
                });
            }
            Expr::Call(call) if call.target.is_none() => call,
            _ => return None,
        };
        let name = call.func_name.as_str();
        match call.args.as_slice() {
            [inner] if name == op::LOGICAL_NOT => self.atom(inner).map(Atom::negate),
            [a, b] if name == op::IN => {
                if let (Some(subject), Some(values)) = (self.subject_of(a), literal_list(b)) {
                    return Some(Atom {
                        subject,
                        need: Need::OneOf(values),
                    });
                }
                let (Literal::Text(value), subject) = (literal(a)?, self.subject_of(b)?) else {
                    return None;
                };
                is_list(subject).then_some(Atom {
                    subject,
                    need: Need::Includes(value),
                })
            }
            [a, b] => {
                let cmp = Cmp::of(name)?;
                let (subject, cmp, value) = match (self.subject_of(a), literal(b)) {
                    (Some(subject), Some(value)) => (subject, cmp, value),
                    _ => (self.subject_of(b)?, cmp.flip(), literal(a)?),
                };
                let need = match (value, cmp) {
                    (Literal::Int(n), cmp) if is_int(subject) => Need::Compare(cmp, n),
                    (Literal::Text(t), Cmp::Eq) => Need::OneOf(vec![t]),
                    (Literal::Text(t), Cmp::Ne) => Need::NoneOf(vec![t]),
                    (Literal::Bool(b), Cmp::Eq) if is_bool(subject) => Need::Is(b),
                    (Literal::Bool(b), Cmp::Ne) if is_bool(subject) => Need::Is(!b),
                    _ => return None,
                };
                Some(Atom { subject, need })
            }
            _ => None,
        }
    }

    /// The text of `expr` in the rule, with the closing brackets the parser leaves out of
    /// a node's extent.
    fn source_of(&self, expr: &IdedExpr) -> String {
        let source = self.rule.source.as_str();
        let info = self.rule.program.source_info();
        let (mut start, mut stop) = (usize::MAX, 0);
        walk(expr, &mut |e| {
            if let Some((a, b)) = info.offset_for(e.id) {
                start = start.min(usize::try_from(a).unwrap_or(usize::MAX));
                stop = stop.max(usize::try_from(b).unwrap_or(0));
            }
        });
        // A call's own extent begins at its `(`: take in the function's name.
        let name_length = source.get(..start).map_or(0, |before| {
            before.len()
                - before
                    .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    .len()
        });
        let start = start - name_length;
        match (source.get(start..=stop), source.get(stop + 1..)) {
            (Some(text), Some(rest)) => with_closing_brackets(text, rest),
            _ => source.trim().to_owned(),
        }
    }
}

/// `text` followed by as many of the closing brackets at the start of `rest` as `text`
/// leaves open (brackets inside string literals do not count).
pub(super) fn with_closing_brackets(text: &str, rest: &str) -> String {
    let mut open = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if matches!(c, '(' | '[' | '{') => open += 1,
            None if matches!(c, ')' | ']' | '}') => open = open.saturating_sub(1),
            None => {}
        }
    }
    let mut out = text.to_owned();
    let mut pending_space = String::new();
    for c in rest.chars() {
        if open == 0 {
            break;
        }
        if c.is_whitespace() {
            pending_space.push(c);
        } else if matches!(c, ')' | ']' | '}') {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(c);
            open -= 1;
        } else {
            break;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Bool(bool),
    Int(i64),
    Text(String),
}

fn literal(expr: &IdedExpr) -> Option<Literal> {
    match &expr.expr {
        Expr::Literal(LiteralValue::Boolean(b)) => Some(Literal::Bool(**b)),
        Expr::Literal(LiteralValue::Int(i)) => Some(Literal::Int(**i)),
        Expr::Literal(LiteralValue::String(s)) => Some(Literal::Text(s.inner().to_owned())),
        _ => None,
    }
}

/// The items of a list literal of text or whole numbers, as text.
fn literal_list(expr: &IdedExpr) -> Option<Vec<String>> {
    let Expr::List(list) = &expr.expr else {
        return None;
    };
    list.elements
        .iter()
        .map(|item| match literal(item)? {
            Literal::Int(n) => Some(n.to_string()),
            Literal::Text(t) => Some(t),
            Literal::Bool(_) => None,
        })
        .collect()
}

fn is_bool(subject: Subject) -> bool {
    match subject {
        Subject::Person(doc) => doc.kind == FactKind::Bool,
        Subject::Answer(q) => q.kind() == AnswerKind::Bool,
    }
}

fn is_int(subject: Subject) -> bool {
    matches!(subject, Subject::Person(doc) if matches!(doc.kind, FactKind::Int { .. }))
}

fn is_list(subject: Subject) -> bool {
    matches!(subject, Subject::Person(doc) if matches!(doc.kind, FactKind::Terms(_)))
}

/// A comparison operator, as written with the fact on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    fn of(function: &str) -> Option<Cmp> {
        Some(match function {
            op::LESS => Cmp::Lt,
            op::LESS_EQUALS => Cmp::Le,
            op::GREATER => Cmp::Gt,
            op::GREATER_EQUALS => Cmp::Ge,
            op::EQUALS => Cmp::Eq,
            op::NOT_EQUALS => Cmp::Ne,
            _ => return None,
        })
    }

    /// The same comparison with its operands swapped: `2 >= grade` is `grade <= 2`.
    fn flip(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            same => same,
        }
    }

    fn negate(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Ge,
            Cmp::Le => Cmp::Gt,
            Cmp::Gt => Cmp::Le,
            Cmp::Ge => Cmp::Lt,
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
        }
    }

    fn test(self, a: i64, b: i64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// What a clause asks of its fact.
#[derive(Debug, Clone, PartialEq)]
enum Need {
    Is(bool),
    Compare(Cmp, i64),
    OneOf(Vec<String>),
    NoneOf(Vec<String>),
    Includes(String),
    Excludes(String),
}

struct Atom<'a> {
    subject: Subject<'a>,
    need: Need,
}

impl Atom<'_> {
    fn negate(self) -> Self {
        let need = match self.need {
            Need::Is(b) => Need::Is(!b),
            Need::Compare(cmp, n) => Need::Compare(cmp.negate(), n),
            Need::OneOf(values) => Need::NoneOf(values),
            Need::NoneOf(values) => Need::OneOf(values),
            Need::Includes(value) => Need::Excludes(value),
            Need::Excludes(value) => Need::Includes(value),
        };
        Atom { need, ..self }
    }

    fn sentence(&self, facts: &Facts, passed: bool, lang: Lang) -> String {
        let actual = self.actual(facts, lang);
        // "holds a valid certificate: yes" says all; the need would repeat it.
        let need = (!(passed && matches!(self.need, Need::Is(_)))).then(|| self.need(lang));
        match (self.subject, actual, lang) {
            (Subject::Person(doc), Some(actual), Lang::Zh) if is_bool(self.subject) => {
                let need = need.map(|n| format!("，需要：{n}")).unwrap_or_default();
                format!("{}：{actual}{need}", doc.label_zh)
            }
            (Subject::Person(doc), Some(actual), Lang::En) if is_bool(self.subject) => {
                let need = need.map(|n| format!(", needs: {n}")).unwrap_or_default();
                format!("{}: {actual}{need}", doc.label_en)
            }
            (Subject::Person(doc), Some(actual), Lang::Zh) => {
                let need = need.map(|n| zh_text(&["，需要", &n])).unwrap_or_default();
                zh_text(&[doc.label_zh, "为", &actual, &need])
            }
            (Subject::Person(doc), Some(actual), Lang::En) => {
                let verb = if is_list(self.subject) { "are" } else { "is" };
                let need = need.map(|n| format!(", needs {n}")).unwrap_or_default();
                format!("{} {verb} {actual}{need}", doc.label_en)
            }
            (Subject::Person(doc), None, Lang::Zh) => {
                zh_text(&[doc.label_zh, "未登记，需要", &self.need(lang)])
            }
            (Subject::Person(doc), None, Lang::En) => {
                format!(
                    "{} is not recorded, needs {}",
                    doc.label_en,
                    self.need(lang)
                )
            }
            (Subject::Answer(q), Some(actual), Lang::Zh) => {
                let need = need.map(|n| zh_text(&["，需要", &n])).unwrap_or_default();
                format!("“{}”回答为{actual}{need}", q.text(lang))
            }
            (Subject::Answer(q), Some(actual), Lang::En) => {
                let need = need.map(|n| format!(", needs {n}")).unwrap_or_default();
                format!("answer to “{}” is {actual}{need}", q.text(lang))
            }
            (Subject::Answer(q), None, Lang::Zh) => {
                zh_text(&["“", q.text(lang), "”尚未回答，需要", &self.need(lang)])
            }
            (Subject::Answer(q), None, Lang::En) => {
                format!(
                    "“{}” is not answered yet, needs {}",
                    q.text(lang),
                    self.need(lang)
                )
            }
        }
    }

    /// The person's value in words; `None` if unknown.
    fn actual(&self, facts: &Facts, lang: Lang) -> Option<String> {
        match self.subject.value(facts) {
            FactValue::Bool(b) => b.map(|b| yes_no(b, lang).to_owned()),
            FactValue::Int(n) => n.map(|n| self.number(n, lang)),
            FactValue::Text(t) => t.map(|t| self.term(&t, lang)),
            FactValue::List(items) if items.is_empty() => Some(none(lang).to_owned()),
            FactValue::List(items) => {
                let names: Vec<_> = items.iter().map(|t| self.term(t, lang)).collect();
                Some(names.join(if lang == Lang::Zh { "、" } else { ", " }))
            }
        }
    }

    fn need(&self, lang: Lang) -> String {
        match &self.need {
            Need::Is(b) => yes_no(*b, lang).to_owned(),
            Need::Compare(cmp, n) => self.compare(*cmp, *n, lang),
            Need::OneOf(values) => join_alternatives(&self.values(values, lang), lang),
            Need::NoneOf(values) => match (self.values(values, lang).as_slice(), lang) {
                ([one], Lang::Zh) => format!("不是{one}"),
                ([one], Lang::En) => format!("not {one}"),
                (many, Lang::Zh) => format!("不是{}中的任何一项", many.join("、")),
                (many, Lang::En) => format!("none of {}", many.join(", ")),
            },
            Need::Includes(value) => match lang {
                Lang::Zh => format!("包括{}", self.term(value, lang)),
                Lang::En => format!("to include {}", self.term(value, lang)),
            },
            Need::Excludes(value) => match lang {
                Lang::Zh => format!("不包括{}", self.term(value, lang)),
                Lang::En => format!("not to include {}", self.term(value, lang)),
            },
        }
    }

    fn compare(&self, cmp: Cmp, n: i64, lang: Lang) -> String {
        if let Subject::Person(FactDoc {
            kind:
                FactKind::Int {
                    range: Some((low, high)),
                    ..
                },
            ..
        }) = self.subject
        {
            let allowed: Vec<_> = (*low..=*high)
                .filter(|&v| cmp.test(v, n))
                .map(|v| self.number(v, lang))
                .collect();
            return if allowed.is_empty() {
                match lang {
                    Lang::Zh => "（没有可满足的值）".to_owned(),
                    Lang::En => "(no possible value)".to_owned(),
                }
            } else {
                join_alternatives(&allowed, lang)
            };
        }
        let n = self.number(n, lang);
        match (cmp, lang) {
            (Cmp::Lt, Lang::Zh) => zh_text(&["不满", &n]),
            (Cmp::Le, Lang::Zh) => zh_text(&[&n, "及以下"]),
            (Cmp::Gt, Lang::Zh) => zh_text(&["超过", &n]),
            (Cmp::Ge, Lang::Zh) => zh_text(&[&n, "及以上"]),
            (Cmp::Eq, _) => n,
            (Cmp::Ne, Lang::Zh) => zh_text(&["不是", &n]),
            (Cmp::Lt, Lang::En) => format!("under {n}"),
            (Cmp::Le, Lang::En) => format!("{n} or less"),
            (Cmp::Gt, Lang::En) => format!("over {n}"),
            (Cmp::Ge, Lang::En) => format!("{n} or more"),
            (Cmp::Ne, Lang::En) => format!("not {n}"),
        }
    }

    /// The literals of a list in words: numbers with their unit, text by its name.
    fn values(&self, values: &[String], lang: Lang) -> Vec<String> {
        values
            .iter()
            .map(|v| match v.parse() {
                Ok(n) if is_int(self.subject) => self.number(n, lang),
                _ => self.term(v, lang),
            })
            .collect()
    }

    fn number(&self, n: i64, lang: Lang) -> String {
        let (unit_zh, unit_en) = match self.subject {
            Subject::Person(doc) => match doc.kind {
                FactKind::Int {
                    unit_zh, unit_en, ..
                } => (unit_zh, unit_en),
                _ => ("", ""),
            },
            Subject::Answer(_) => ("", ""),
        };
        match lang {
            Lang::Zh => zh_text(&[&n.to_string(), unit_zh]),
            Lang::En => format!("{n}{unit_en}"),
        }
    }

    /// The name of a value of the subject, or the value quoted if it has none.
    fn term(&self, value: &str, lang: Lang) -> String {
        self.subject
            .values()
            .and_then(|values| values.name(value, lang))
            .unwrap_or_else(|| format!("“{value}”"))
    }
}

fn yes_no(b: bool, lang: Lang) -> &'static str {
    match (b, lang) {
        (true, Lang::Zh) => "是",
        (false, Lang::Zh) => "否",
        (true, Lang::En) => "yes",
        (false, Lang::En) => "no",
    }
}

fn none(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "无",
        Lang::En => "none",
    }
}
