//! The check a rule passes before it is saved: every identifier is a fact, every function
//! one rules may use, operands have matching types, and text compared with a fact of a
//! closed vocabulary is one of its values.

use cel::common::ast::{ComprehensionExpr, Expr, LiteralValue};
use cel::{IdedExpr, Program};

use super::{Construct, RuleError, Subject, ValueType, Values, subject};
use crate::Position;
use crate::facts::{AnswerKind, FactKind, Questions};

/// The static type of an expression.
#[derive(Debug, Clone)]
enum Ty<'a> {
    Bool,
    Int,
    /// Text, with the fact and values it is drawn from when known.
    Text(Option<(&'a str, Values<'a>)>),
    List(Box<Ty<'a>>),
    Null,
    /// Not known statically: the accumulator of a macro such as `exists`.
    Any,
}

impl Ty<'_> {
    fn value_type(&self) -> Option<ValueType> {
        match self {
            Ty::Bool => Some(ValueType::Bool),
            Ty::Int => Some(ValueType::Int),
            Ty::Text(_) => Some(ValueType::Text),
            Ty::List(_) => Some(ValueType::List),
            Ty::Null => Some(ValueType::Null),
            Ty::Any => None,
        }
    }

    /// Whether values of the two types can be compared; `null` compares with anything.
    fn compatible(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Any | Ty::Null, _) | (_, Ty::Any | Ty::Null) => true,
            (Ty::List(a), Ty::List(b)) => a.compatible(b),
            (a, b) => a.value_type() == b.value_type(),
        }
    }
}

pub(super) fn check(
    source: &str,
    program: &Program,
    questions: &Questions,
) -> Result<(), RuleError> {
    let mut checker = Checker {
        source,
        program,
        questions,
        scope: Vec::new(),
    };
    match checker.check(program.expression())? {
        Ty::Bool | Ty::Any => Ok(()),
        other => Err(RuleError::NotACondition {
            found: other.value_type().unwrap_or(ValueType::Null),
        }),
    }
}

struct Checker<'a> {
    source: &'a str,
    program: &'a Program,
    questions: &'a Questions,
    /// Variables bound by the macros being checked, innermost last.
    scope: Vec<(String, Ty<'a>)>,
}

impl<'a> Checker<'a> {
    fn at(&self, expr: &IdedExpr) -> Position {
        let offset = self
            .program
            .source_info()
            .offset_for(expr.id)
            .map_or(0, |(start, _)| start);
        Position::of_offset(self.source, usize::try_from(offset).unwrap_or(usize::MAX))
    }

    fn mismatch(&self, expr: &IdedExpr, expected: ValueType, found: &Ty) -> RuleError {
        RuleError::Mismatch {
            at: self.at(expr),
            expected,
            found: found.value_type().unwrap_or(ValueType::Null),
        }
    }

    fn unsupported(&self, expr: &IdedExpr, construct: Construct) -> RuleError {
        RuleError::Unsupported {
            at: self.at(expr),
            construct,
        }
    }

    fn check(&mut self, expr: &IdedExpr) -> Result<Ty<'a>, RuleError> {
        match &expr.expr {
            Expr::Ident(name) => self.ident(expr, name),
            Expr::Literal(literal) => match literal {
                LiteralValue::Boolean(_) => Ok(Ty::Bool),
                LiteralValue::Int(_) => Ok(Ty::Int),
                LiteralValue::String(_) => Ok(Ty::Text(None)),
                LiteralValue::Null => Ok(Ty::Null),
                LiteralValue::Double(_) => Err(self.unsupported(expr, Construct::Decimal)),
                LiteralValue::UInt(_) => Err(self.unsupported(expr, Construct::Unsigned)),
                LiteralValue::Bytes(_) => Err(self.unsupported(expr, Construct::Bytes)),
            },
            Expr::List(list) => {
                let mut element = Ty::Any;
                for item in &list.elements {
                    let ty = self.check(item)?;
                    if !element.compatible(&ty) {
                        let expected = element.value_type().unwrap_or(ValueType::Null);
                        return Err(self.mismatch(item, expected, &ty));
                    }
                    if matches!(element, Ty::Any | Ty::Null) {
                        element = ty;
                    }
                }
                Ok(Ty::List(Box::new(element)))
            }
            Expr::Call(call) => {
                self.call(expr, &call.func_name, call.target.as_deref(), &call.args)
            }
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Select(_) => Err(self.unsupported(expr, Construct::FieldSelection)),
            Expr::Map(_) | Expr::Struct(_) => Err(self.unsupported(expr, Construct::MapOrMessage)),
            Expr::Unspecified => Ok(Ty::Any),
        }
    }

    fn ident(&self, expr: &IdedExpr, name: &str) -> Result<Ty<'a>, RuleError> {
        if let Some((_, ty)) = self.scope.iter().rev().find(|(bound, _)| bound == name) {
            return Ok(ty.clone());
        }
        let subject = subject(name, self.questions).ok_or_else(|| RuleError::UnknownFact {
            at: self.at(expr),
            name: name.to_owned(),
        })?;
        let text = |name| Ty::Text(subject.values().map(|values| (name, values)));
        Ok(match subject {
            Subject::Person(doc) => match doc.kind {
                FactKind::Bool => Ty::Bool,
                FactKind::Int { .. } => Ty::Int,
                FactKind::Term(_) => text(doc.name),
                FactKind::Terms(_) => Ty::List(Box::new(text(doc.name))),
            },
            Subject::Answer(question) => match question.kind() {
                AnswerKind::Bool => Ty::Bool,
                AnswerKind::Text | AnswerKind::Choice => text(question.key()),
            },
        })
    }

    fn expect(&mut self, expr: &IdedExpr, expected: ValueType) -> Result<Ty<'a>, RuleError> {
        let ty = self.check(expr)?;
        if ty.value_type().is_some_and(|found| found != expected) && !matches!(ty, Ty::Null) {
            return Err(self.mismatch(expr, expected, &ty));
        }
        Ok(ty)
    }

    /// Fails unless `b` (written at `at`) can be compared with `a`.
    fn same(&self, at: &IdedExpr, a: &Ty, b: &Ty) -> Result<(), RuleError> {
        if a.compatible(b) {
            Ok(())
        } else {
            Err(self.mismatch(at, a.value_type().unwrap_or(ValueType::Null), b))
        }
    }

    /// Fails if `ty` is text of a closed set and `expr` is a text literal, or a list of
    /// them, outside it.
    fn in_vocabulary(&self, ty: &Ty, expr: &IdedExpr) -> Result<(), RuleError> {
        let Ty::Text(Some((fact, values))) = ty else {
            return Ok(());
        };
        let literals: Vec<&IdedExpr> = match &expr.expr {
            Expr::List(list) => list.elements.iter().collect(),
            _ => vec![expr],
        };
        let accepted = values.slugs();
        for literal in literals {
            if let Expr::Literal(LiteralValue::String(text)) = &literal.expr {
                let text = text.inner();
                if !accepted.iter().any(|slug| slug == text) {
                    return Err(RuleError::UnknownValue {
                        at: self.at(literal),
                        fact: (*fact).to_owned(),
                        value: text.to_owned(),
                        accepted,
                    });
                }
            }
        }
        Ok(())
    }

    fn call(
        &mut self,
        expr: &IdedExpr,
        name: &str,
        target: Option<&IdedExpr>,
        args: &[IdedExpr],
    ) -> Result<Ty<'a>, RuleError> {
        use cel::common::ast::operators as op;
        match (name, target, args) {
            (op::LOGICAL_AND | op::LOGICAL_OR, None, [a, b]) => {
                self.expect(a, ValueType::Bool)?;
                self.expect(b, ValueType::Bool)?;
                Ok(Ty::Bool)
            }
            (op::LOGICAL_NOT | op::NOT_STRICTLY_FALSE, None, [a]) => {
                self.expect(a, ValueType::Bool)?;
                Ok(Ty::Bool)
            }
            (op::EQUALS | op::NOT_EQUALS, None, [a, b]) => {
                let (ta, tb) = (self.check(a)?, self.check(b)?);
                self.same(b, &ta, &tb)?;
                self.in_vocabulary(&ta, b)?;
                self.in_vocabulary(&tb, a)?;
                Ok(Ty::Bool)
            }
            (op::LESS | op::LESS_EQUALS | op::GREATER | op::GREATER_EQUALS, None, [a, b]) => {
                let ta = self.check(a)?;
                if matches!(ta, Ty::Bool | Ty::List(_)) {
                    return Err(self.mismatch(a, ValueType::Int, &ta));
                }
                let tb = self.check(b)?;
                self.same(b, &ta, &tb)?;
                Ok(Ty::Bool)
            }
            (op::IN, None, [a, b]) => {
                let ta = self.check(a)?;
                match self.check(b)? {
                    Ty::List(element) => {
                        self.same(a, &element, &ta)?;
                        self.in_vocabulary(&element, a)?;
                        self.in_vocabulary(&ta, b)?;
                    }
                    Ty::Any | Ty::Null => {}
                    other => return Err(self.mismatch(b, ValueType::List, &other)),
                }
                Ok(Ty::Bool)
            }
            (op::ADD, None, [a, b]) => {
                let ta = self.check(a)?;
                if matches!(ta, Ty::Bool) {
                    return Err(self.mismatch(a, ValueType::Int, &ta));
                }
                let tb = self.check(b)?;
                self.same(b, &ta, &tb)?;
                Ok(if matches!(ta, Ty::Any | Ty::Null) {
                    tb
                } else {
                    ta
                })
            }
            (op::SUBSTRACT | op::MULTIPLY | op::DIVIDE | op::MODULO, None, [a, b]) => {
                self.expect(a, ValueType::Int)?;
                self.expect(b, ValueType::Int)?;
                Ok(Ty::Int)
            }
            (op::NEGATE, None, [a]) => {
                self.expect(a, ValueType::Int)?;
                Ok(Ty::Int)
            }
            (op::CONDITIONAL, None, [condition, then, otherwise]) => {
                self.expect(condition, ValueType::Bool)?;
                let (tt, to) = (self.check(then)?, self.check(otherwise)?);
                self.same(otherwise, &tt, &to)?;
                Ok(if matches!(tt, Ty::Any | Ty::Null) {
                    to
                } else {
                    tt
                })
            }
            (op::INDEX, None, [list, index]) => {
                let element = match self.check(list)? {
                    Ty::List(element) => *element,
                    Ty::Any => Ty::Any,
                    other => return Err(self.mismatch(list, ValueType::List, &other)),
                };
                self.expect(index, ValueType::Int)?;
                Ok(element)
            }
            ("size", Some(operand), []) | ("size", None, [operand]) => {
                let ty = self.check(operand)?;
                if matches!(ty, Ty::Bool | Ty::Int | Ty::Null) {
                    return Err(self.mismatch(operand, ValueType::List, &ty));
                }
                Ok(Ty::Int)
            }
            ("contains" | "startsWith" | "endsWith", Some(text), [part]) => {
                self.expect(text, ValueType::Text)?;
                self.expect(part, ValueType::Text)?;
                Ok(Ty::Bool)
            }
            ("size" | "contains" | "startsWith" | "endsWith", _, _) => Err(RuleError::Arguments {
                at: self.at(expr),
                name: name.to_owned(),
            }),
            _ => Err(RuleError::UnknownFunction {
                at: self.at(expr),
                name: name.to_owned(),
            }),
        }
    }

    /// A macro (`all`, `exists`, `map`, ...) as the parser expands it: the loop variables
    /// are in scope for the loop and the result only.
    fn comprehension(&mut self, c: &ComprehensionExpr) -> Result<Ty<'a>, RuleError> {
        let element = match self.check(&c.iter_range)? {
            Ty::List(element) => *element,
            Ty::Any => Ty::Any,
            other => return Err(self.mismatch(&c.iter_range, ValueType::List, &other)),
        };
        self.check(&c.accu_init)?;
        let depth = self.scope.len();
        match &c.iter_var2 {
            // Two variables range over index and element.
            Some(second) => {
                self.scope.push((c.iter_var.clone(), Ty::Int));
                self.scope.push((second.clone(), element));
            }
            None => self.scope.push((c.iter_var.clone(), element)),
        }
        self.scope.push((c.accu_var.clone(), Ty::Any));
        let result = [&c.loop_cond, &c.loop_step, &c.result]
            .into_iter()
            .map(|part| self.check(part))
            .collect::<Result<Vec<_>, _>>();
        self.scope.truncate(depth);
        Ok(result?.pop().unwrap_or(Ty::Any))
    }
}
