//! Eligibility rules: CEL expressions over the documented person facts ([`crate::FACTS`])
//! and the service's answer facts ([`crate::Question`]).
//!
//! A rule is parsed and checked when it is made: a syntax error, an unknown fact or
//! function, a comparison of unlike types, or a value outside a fact's vocabulary is
//! refused with its position. Evaluation explains itself clause by clause: one clause per
//! operand of the top-level `&&` chain, a `||` group explained as its alternatives.

mod check;
mod explain;

use std::sync::{Arc, LazyLock};
use zhucan_core::localized;

use cel::common::ast::Expr;
use cel::{Context, Env, IdedExpr, Program, Value};
use zhucan_core::Lang;

use crate::facts::{
    FACTS, FactDoc, FactKind, FactValue, Facts, Question, Questions, Vocabulary, fact,
};
use crate::{AnswerKind, Choice, Position};

/// A checked eligibility rule, with the questions whose answers it may use.
#[derive(Debug, Clone)]
pub struct Rule {
    source: String,
    program: Arc<Program>,
    questions: Questions,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.questions == other.questions
    }
}

impl Rule {
    /// Parses `source` and checks it against the person facts and `questions`.
    pub fn new(source: &str, questions: &Questions) -> Result<Rule, RuleError> {
        if source.trim().is_empty() {
            return Err(RuleError::Empty);
        }
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let at = first.map_or((1, 1), |error| error.pos);
            RuleError::Syntax {
                at: Position {
                    line: u32::try_from(at.0).unwrap_or(1),
                    column: u32::try_from(at.1).unwrap_or(1),
                },
                message: first.map_or_else(|| errors.to_string(), |error| error.msg.clone()),
            }
        })?;
        check::check(source, &program, questions)?;
        Ok(Rule {
            source: source.to_owned(),
            program: Arc::new(program),
            questions: questions.clone(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The questions whose answers this rule may use: the service's application form.
    pub fn questions(&self) -> &Questions {
        &self.questions
    }

    /// Whether `facts` satisfy the rule, and why, clause by clause.
    ///
    /// A fact that is unknown (`null`) fails every comparison, so an unknown is never
    /// eligible: it shows as "not recorded" or "not answered yet".
    pub fn evaluate(&self, facts: &Facts) -> Evaluation {
        let context = self.context(facts);
        let root = self.program.expression();
        let explainer = explain::Explainer {
            rule: self,
            facts,
            context: &context,
        };
        Evaluation {
            eligible: holds(root, &context),
            clauses: conjuncts(root)
                .into_iter()
                .map(|clause| explainer.explain(clause))
                .collect(),
        }
    }

    /// The rule tried on sample people before it is activated: one evaluation each.
    pub fn try_on(&self, samples: &[Facts]) -> Vec<Evaluation> {
        samples.iter().map(|facts| self.evaluate(facts)).collect()
    }

    fn context(&self, facts: &Facts) -> Context<'static, 'static> {
        // Building the standard environment costs more than a whole evaluation: share it.
        static STANDARD: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));
        let mut context = Context::with_env(Arc::clone(&STANDARD));
        for doc in FACTS {
            context.add_variable_from_value(doc.name, cel_value(doc.value(facts)));
        }
        for question in self.questions.iter() {
            context.add_variable_from_value(question.key(), cel_value(question.value(facts)));
        }
        context
    }
}

/// What the identifier `name` names: a person fact, else one of `questions`.
fn subject<'a>(name: &str, questions: &'a Questions) -> Option<Subject<'a>> {
    fact(name)
        .map(Subject::Person)
        .or_else(|| questions.get(name).map(Subject::Answer))
}

/// The outcome of a rule for one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub eligible: bool,
    pub clauses: Vec<ClauseResult>,
}

impl Evaluation {
    /// Whether the person may be eligible once the questions still open are answered:
    /// every clause passed or waits for an answer ("you may be eligible").
    pub fn may_be_eligible(&self) -> bool {
        self.clauses.iter().all(|c| c.passed || c.pending)
    }
}

/// One clause of a rule, explained with the person's own values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClauseResult {
    pub text_zh: String,
    pub text_en: String,
    pub passed: bool,
    /// Not passed because a question it uses is not answered yet.
    pub pending: bool,
}

impl ClauseResult {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.text_zh,
            Lang::En => &self.text_en,
        }
    }
}

/// The type of a value in a rule, as error messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Bool,
    Int,
    Text,
    List,
    Null,
}

impl ValueType {
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Bool, Lang::Zh) => "是/否",
            (Self::Bool, Lang::En) => "yes/no",
            (Self::Int, Lang::Zh) => "整数",
            (Self::Int, Lang::En) => "a whole number",
            (Self::Text, Lang::Zh) => "文本",
            (Self::Text, Lang::En) => "text",
            (Self::List, Lang::Zh) => "列表",
            (Self::List, Lang::En) => "a list",
            (Self::Null, Lang::Zh) => "空值（null）",
            (Self::Null, Lang::En) => "null",
        }
    }
}

/// A part of CEL that rules do not use: facts are plain values, not messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Construct {
    FieldSelection,
    MapOrMessage,
    Decimal,
    Unsigned,
    Bytes,
}

impl Construct {
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::FieldSelection, Lang::Zh) => "字段访问（a.b 或 has()）",
            (Self::FieldSelection, Lang::En) => "field selection (a.b or has())",
            (Self::MapOrMessage, Lang::Zh) => "映射或消息字面量",
            (Self::MapOrMessage, Lang::En) => "a map or message literal",
            (Self::Decimal, Lang::Zh) => "小数",
            (Self::Decimal, Lang::En) => "a decimal number",
            (Self::Unsigned, Lang::Zh) => "无符号整数（如 1u）",
            (Self::Unsigned, Lang::En) => "an unsigned number (like 1u)",
            (Self::Bytes, Lang::Zh) => "字节串",
            (Self::Bytes, Lang::En) => "bytes",
        }
    }
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the rule is empty")]
    Empty,
    #[error("{at}: syntax error: {message}")]
    Syntax { at: Position, message: String },
    #[error("{at}: {name:?} is not a person fact or a question of this service")]
    UnknownFact { at: Position, name: String },
    #[error(
        "{at}: {name:?} is not a function rules may use (size, contains, startsWith, endsWith, all, exists, exists_one, map, filter)"
    )]
    UnknownFunction { at: Position, name: String },
    #[error("{at}: wrong number of arguments for {name}")]
    Arguments { at: Position, name: String },
    #[error("{at}: {} cannot be used in a rule", .construct.name(Lang::En))]
    Unsupported { at: Position, construct: Construct },
    #[error("{at}: expected {}, found {}", .expected.name(Lang::En), .found.name(Lang::En))]
    Mismatch {
        at: Position,
        expected: ValueType,
        found: ValueType,
    },
    #[error("{at}: {value:?} is not a value of {fact}; expected one of: {}", .accepted.join(", "))]
    UnknownValue {
        at: Position,
        fact: String,
        value: String,
        accepted: Vec<String>,
    },
    #[error("the rule must give yes or no (true or false), but it gives {}", .found.name(Lang::En))]
    NotACondition { found: ValueType },
}

impl RuleError {
    /// Where in the rule the error is, if at one place.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Empty | Self::NotACondition { .. } => None,
            Self::Syntax { at, .. }
            | Self::UnknownFact { at, .. }
            | Self::UnknownFunction { at, .. }
            | Self::Arguments { at, .. }
            | Self::Unsupported { at, .. }
            | Self::Mismatch { at, .. }
            | Self::UnknownValue { at, .. } => Some(*at),
        }
    }

    fn zh(&self) -> String {
        match self {
            Self::Empty => "规则为空".to_owned(),
            Self::Syntax { at, message } => format!("{}：语法错误：{message}", at.zh()),
            Self::UnknownFact { at, name } => {
                format!("{}：“{name}”既不是人员事实，也不是本事项的问题", at.zh())
            }
            Self::UnknownFunction { at, name } => format!(
                "{}：规则中不能使用函数“{name}”（可用：size、contains、startsWith、endsWith、all、exists、exists_one、map、filter）",
                at.zh()
            ),
            Self::Arguments { at, name } => format!("{}：{name} 的参数个数不对", at.zh()),
            Self::Unsupported { at, construct } => {
                format!("{}：规则中不能使用{}", at.zh(), construct.name(Lang::Zh))
            }
            Self::Mismatch {
                at,
                expected,
                found,
            } => format!(
                "{}：此处应为{}，实为{}",
                at.zh(),
                expected.name(Lang::Zh),
                found.name(Lang::Zh)
            ),
            Self::UnknownValue {
                at,
                fact,
                value,
                accepted,
            } => format!(
                "{}：“{value}”不是 {fact} 的取值，可选：{}",
                at.zh(),
                accepted.join("、")
            ),
            Self::NotACondition { found } => format!(
                "规则的结果应为是或否（true/false），实为{}",
                found.name(Lang::Zh)
            ),
        }
    }
}

localized!(RuleError);

/// What an identifier of a rule names.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    Person(&'static FactDoc),
    Answer(&'a Question),
}

impl<'a> Subject<'a> {
    fn value(self, facts: &Facts) -> FactValue {
        match self {
            Self::Person(doc) => doc.value(facts),
            Self::Answer(question) => question.value(facts),
        }
    }

    /// The values a text subject takes, where they are a closed set.
    fn values(self) -> Option<Values<'a>> {
        match self {
            Self::Person(FactDoc {
                kind: FactKind::Term(v) | FactKind::Terms(v),
                ..
            }) => Some(Values::Vocabulary(*v)),
            Self::Answer(q) if q.kind() == AnswerKind::Choice => Some(Values::Choices(q.choices())),
            _ => None,
        }
    }
}

/// A closed set of text values: a vocabulary, or a question's choices.
#[derive(Debug, Clone, Copy)]
enum Values<'a> {
    Vocabulary(Vocabulary),
    Choices(&'a [Choice]),
}

impl Values<'_> {
    fn slugs(self) -> Vec<String> {
        match self {
            Self::Vocabulary(v) => v.terms().iter().map(|t| t.0.to_owned()).collect(),
            Self::Choices(choices) => choices.iter().map(|c| c.value.clone()).collect(),
        }
    }

    /// The name of `value` in `lang`, to sit inside a sentence.
    fn name(self, value: &str, lang: Lang) -> Option<String> {
        let name = match self {
            Self::Vocabulary(v) => v.name(value, lang).map(str::to_owned),
            Self::Choices(choices) => choices
                .iter()
                .find(|c| c.value == value)
                .map(|c| c.name(lang).to_owned()),
        }?;
        // Choice names are an administrator's words: quoted, as written.
        Some(match (self, lang) {
            (Self::Vocabulary(_), Lang::En) => name.to_lowercase(),
            (Self::Vocabulary(_), Lang::Zh) => name,
            (Self::Choices(_), _) => format!("“{name}”"),
        })
    }
}

fn cel_value(value: FactValue) -> Value {
    match value {
        FactValue::Bool(b) => b.into(),
        FactValue::Int(i) => i.into(),
        FactValue::Text(t) => t.into(),
        FactValue::List(items) => items.into(),
    }
}

/// Whether `expr` evaluates to `true`; an error (a comparison with `null`) is not.
fn holds(expr: &IdedExpr, context: &Context) -> bool {
    matches!(Value::resolve(expr, context), Ok(Value::Bool(true)))
}

/// The arguments of `expr` if it is a call of the global function or operator `name`.
fn call_of<'e>(expr: &'e IdedExpr, name: &str) -> Option<&'e [IdedExpr]> {
    match &expr.expr {
        Expr::Call(call) if call.func_name == name && call.target.is_none() => Some(&call.args),
        _ => None,
    }
}

/// The operands of a chain of the binary operator `name`, left to right.
fn chain<'e>(expr: &'e IdedExpr, name: &str) -> Vec<&'e IdedExpr> {
    match call_of(expr, name) {
        Some(args) => args.iter().flat_map(|arg| chain(arg, name)).collect(),
        None => vec![expr],
    }
}

/// Calls `visit` on `expr` and every expression inside it.
fn walk<'e>(expr: &'e IdedExpr, visit: &mut impl FnMut(&'e IdedExpr)) {
    visit(expr);
    match &expr.expr {
        Expr::Call(call) => {
            call.target.iter().for_each(|target| walk(target, visit));
            call.args.iter().for_each(|arg| walk(arg, visit));
        }
        Expr::List(list) => list.elements.iter().for_each(|item| walk(item, visit)),
        Expr::Comprehension(c) => {
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                walk(part, visit);
            }
        }
        Expr::Select(select) => walk(&select.operand, visit),
        // Rules cannot contain maps or messages (the check refuses them).
        Expr::Map(_) | Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn conjuncts(expr: &IdedExpr) -> Vec<&IdedExpr> {
    chain(expr, cel::common::ast::operators::LOGICAL_AND)
}

fn disjuncts(expr: &IdedExpr) -> Vec<&IdedExpr> {
    chain(expr, cel::common::ast::operators::LOGICAL_OR)
}

#[cfg(test)]
mod tests;
