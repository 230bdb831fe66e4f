//! The case (办件) state machine of DESIGN §3:
//! `draft → submitted → in_review(step) → notice → approved → fulfilled → closed`, with the
//! side states `returned` (补正), `rejected` and `withdrawn`.
//!
//! `submitted` is a case waiting at the first step before any review decision; the first
//! decision takes it on. The applicant may withdraw only until then.

use serde::{Deserialize, Serialize};
use zhucan_core::Lang;
use zhucan_core::localized;

use crate::Step;

/// Where a case is. A step is an index into the service version's review chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    InReview {
        step: usize,
    },
    /// Returned for correction (补正) by `step`, which takes it back on resubmission.
    Returned {
        step: usize,
    },
    Notice,
    Approved,
    Fulfilled,
    Closed,
    Rejected,
    Withdrawn,
}

impl State {
    pub fn slug(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::InReview { .. } => "in_review",
            Self::Returned { .. } => "returned",
            Self::Notice => "notice",
            Self::Approved => "approved",
            Self::Fulfilled => "fulfilled",
            Self::Closed => "closed",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Draft, Lang::Zh) => "草稿",
            (Self::Draft, Lang::En) => "draft",
            (Self::Submitted, Lang::Zh) => "已提交",
            (Self::Submitted, Lang::En) => "submitted",
            (Self::InReview { .. }, Lang::Zh) => "审核中",
            (Self::InReview { .. }, Lang::En) => "in review",
            (Self::Returned { .. }, Lang::Zh) => "待补正",
            (Self::Returned { .. }, Lang::En) => "returned for correction",
            (Self::Notice, Lang::Zh) => "公示中",
            (Self::Notice, Lang::En) => "in public notice",
            (Self::Approved, Lang::Zh) => "已批准",
            (Self::Approved, Lang::En) => "approved",
            (Self::Fulfilled, Lang::Zh) => "已落实",
            (Self::Fulfilled, Lang::En) => "fulfilled",
            (Self::Closed, Lang::Zh) => "已办结",
            (Self::Closed, Lang::En) => "closed",
            (Self::Rejected, Lang::Zh) => "不予批准",
            (Self::Rejected, Lang::En) => "rejected",
            (Self::Withdrawn, Lang::Zh) => "已撤回",
            (Self::Withdrawn, Lang::En) => "withdrawn",
        }
    }

    /// The step that holds the case: a submitted case waits at the first.
    pub fn step(self) -> Option<usize> {
        match self {
            Self::Submitted => Some(0),
            Self::InReview { step } | Self::Returned { step } => Some(step),
            _ => None,
        }
    }

    /// A state no action leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Closed | Self::Rejected | Self::Withdrawn)
    }
}

/// A reviewer's decision at the step that holds the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// 补正: the applicant must supply what is `missing`.
    ReturnForCorrection {
        missing: Vec<String>,
    },
    Reject {
        reason: String,
    },
    /// 退回: to an earlier step of the chain.
    SendBack {
        to_step: usize,
    },
}

/// Anything that moves a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The applicant files the draft.
    Submit,
    /// The applicant withdraws (撤回), only before the first review decision.
    Withdraw,
    /// The applicant resubmits a case returned for correction.
    Resubmit,
    Decide(Decision),
    /// The public notice (公示) ended without an upheld objection.
    NoticeEnded,
    /// An objection raised during the notice was upheld: the case is rejected.
    ObjectionUpheld {
        reason: String,
    },
    /// The entitlement, certificate or service was delivered.
    Fulfil,
    Close,
}

/// Why an action cannot move a case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the service has no review steps")]
    EmptyChain,
    #[error("the case is at step {}, but the service has {steps} steps", .step + 1)]
    StepOutOfRange { step: usize, steps: usize },
    #[error("the case is {} and can no longer change", .state.label(Lang::En))]
    Finished { state: State },
    #[error("only a draft can be submitted; this case is {}", .state.label(Lang::En))]
    NotDraft { state: State },
    #[error(
        "a case can be withdrawn only before its first review decision; this case is {}",
        .state.label(Lang::En)
    )]
    AlreadyReviewed { state: State },
    #[error("only a case returned for correction can be resubmitted; this case is {}", .state.label(Lang::En))]
    NotReturned { state: State },
    #[error("a review decision needs a case waiting for review; this case is {}", .state.label(Lang::En))]
    NotInReview { state: State },
    #[error("name what is missing when returning a case for correction")]
    NothingMissing,
    #[error("give the reason")]
    NoReason,
    #[error(
        "a case can be sent back only to an earlier step: it is at step {}, and step {} is not before it",
        .step + 1, .to_step + 1
    )]
    NotAnEarlierStep { step: usize, to_step: usize },
    #[error("only a case in public notice has a notice outcome; this case is {}", .state.label(Lang::En))]
    NotInNotice { state: State },
    #[error("only an approved case can be fulfilled; this case is {}", .state.label(Lang::En))]
    NotApproved { state: State },
    #[error("only a fulfilled case can be closed; this case is {}", .state.label(Lang::En))]
    NotFulfilled { state: State },
}

impl TransitionError {
    fn zh(&self) -> String {
        let is = |state: &State| format!("此办件为“{}”", state.label(Lang::Zh));
        match self {
            Self::EmptyChain => "该事项没有审核环节".to_owned(),
            Self::StepOutOfRange { step, steps } => {
                format!("办件在第 {} 步，但该事项只有 {steps} 步", step + 1)
            }
            Self::Finished { state } => format!("{}，已不能再变更", is(state)),
            Self::NotDraft { state } => format!("只有草稿可以提交，{}", is(state)),
            Self::AlreadyReviewed { state } => {
                format!("只能在首次审核决定之前撤回，{}", is(state))
            }
            Self::NotReturned { state } => format!("只有退回补正的办件可以重新提交，{}", is(state)),
            Self::NotInReview { state } => {
                format!("只有待审核的办件可以作出审核决定，{}", is(state))
            }
            Self::NothingMissing => "退回补正时应写明缺少什么".to_owned(),
            Self::NoReason => "应写明理由".to_owned(),
            Self::NotAnEarlierStep { step, to_step } => format!(
                "只能退回到之前的环节：办件在第 {} 步，第 {} 步不在其前",
                step + 1,
                to_step + 1
            ),
            Self::NotInNotice { state } => format!("只有公示中的办件才有公示结果，{}", is(state)),
            Self::NotApproved { state } => format!("只有已批准的办件可以落实，{}", is(state)),
            Self::NotFulfilled { state } => format!("只有已落实的办件可以办结，{}", is(state)),
        }
    }
}

localized!(TransitionError);

/// The state after `action`, for a case of a service version with review `chain` and
/// `notice_days` of public notice; approving at the last step opens the notice, or
/// approves outright when the version has none.
pub fn transition(
    state: State,
    chain: &[Step],
    notice_days: u32,
    action: &Action,
) -> Result<State, TransitionError> {
    use TransitionError as E;
    if chain.is_empty() {
        return Err(E::EmptyChain);
    }
    if let Some(step) = state.step().filter(|&step| step >= chain.len()) {
        return Err(E::StepOutOfRange {
            step,
            steps: chain.len(),
        });
    }
    if state.is_terminal() {
        return Err(E::Finished { state });
    }
    let blank = |text: &str| text.trim().is_empty();
    match (state, action) {
        (State::Draft, Action::Submit) => Ok(State::Submitted),
        (_, Action::Submit) => Err(E::NotDraft { state }),
        (State::Draft | State::Submitted, Action::Withdraw) => Ok(State::Withdrawn),
        (_, Action::Withdraw) => Err(E::AlreadyReviewed { state }),
        (State::Returned { step }, Action::Resubmit) => Ok(State::InReview { step }),
        (_, Action::Resubmit) => Err(E::NotReturned { state }),
        (State::Submitted | State::InReview { .. }, Action::Decide(decision)) => {
            let step = state.step().unwrap_or(0);
            match decision {
                Decision::Approve if step + 1 < chain.len() => {
                    Ok(State::InReview { step: step + 1 })
                }
                Decision::Approve if notice_days > 0 => Ok(State::Notice),
                Decision::Approve => Ok(State::Approved),
                Decision::ReturnForCorrection { missing } if missing.iter().all(|m| blank(m)) => {
                    Err(E::NothingMissing)
                }
                Decision::ReturnForCorrection { .. } => Ok(State::Returned { step }),
                Decision::Reject { reason } if blank(reason) => Err(E::NoReason),
                Decision::Reject { .. } => Ok(State::Rejected),
                Decision::SendBack { to_step } if *to_step < step => {
                    Ok(State::InReview { step: *to_step })
                }
                Decision::SendBack { to_step } => Err(E::NotAnEarlierStep {
                    step,
                    to_step: *to_step,
                }),
            }
        }
        (_, Action::Decide(_)) => Err(E::NotInReview { state }),
        (State::Notice, Action::NoticeEnded) => Ok(State::Approved),
        (State::Notice, Action::ObjectionUpheld { reason }) if blank(reason) => Err(E::NoReason),
        (State::Notice, Action::ObjectionUpheld { .. }) => Ok(State::Rejected),
        (_, Action::NoticeEnded | Action::ObjectionUpheld { .. }) => Err(E::NotInNotice { state }),
        (State::Approved, Action::Fulfil) => Ok(State::Fulfilled),
        (_, Action::Fulfil) => Err(E::NotApproved { state }),
        (State::Fulfilled, Action::Close) => Ok(State::Closed),
        (_, Action::Close) => Err(E::NotFulfilled { state }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CHAIN: [Step; 3] = [Step::Street, Step::District, Step::CivilAffairs];

    fn run(notice_days: u32, actions: &[Action]) -> Result<State, TransitionError> {
        actions.iter().try_fold(State::Draft, |state, action| {
            transition(state, &CHAIN, notice_days, action)
        })
    }

    fn approve() -> Action {
        Action::Decide(Decision::Approve)
    }

    fn missing(items: &[&str]) -> Action {
        Action::Decide(Decision::ReturnForCorrection {
            missing: items.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    #[test]
    fn the_happy_path_with_a_notice() {
        let mut actions = vec![Action::Submit, approve()];
        assert_eq!(run(7, &actions), Ok(State::InReview { step: 1 }));
        actions.push(approve());
        assert_eq!(run(7, &actions), Ok(State::InReview { step: 2 }));
        actions.push(approve());
        assert_eq!(run(7, &actions), Ok(State::Notice));
        actions.extend([Action::NoticeEnded, Action::Fulfil, Action::Close]);
        assert_eq!(run(7, &actions), Ok(State::Closed));
    }

    #[test]
    fn without_notice_days_the_last_approval_approves() {
        assert_eq!(
            run(0, &[Action::Submit, approve(), approve(), approve()]),
            Ok(State::Approved)
        );
        let one = [Step::District];
        assert_eq!(
            transition(State::Submitted, &one, 0, &approve()),
            Ok(State::Approved)
        );
        assert_eq!(
            transition(State::Submitted, &one, 7, &approve()),
            Ok(State::Notice)
        );
    }

    #[test]
    fn a_returned_case_goes_back_to_the_step_that_returned_it() {
        let actions = [Action::Submit, approve(), missing(&["低保证明"])];
        assert_eq!(run(7, &actions), Ok(State::Returned { step: 1 }));
        let mut resubmitted = actions.to_vec();
        resubmitted.push(Action::Resubmit);
        assert_eq!(run(7, &resubmitted), Ok(State::InReview { step: 1 }));
        // Returned at the first step, a case comes back under review, not submitted.
        assert_eq!(
            run(7, &[Action::Submit, missing(&["photo"]), Action::Resubmit]),
            Ok(State::InReview { step: 0 })
        );
    }

    #[test]
    fn returning_names_what_is_missing_and_rejecting_gives_a_reason() {
        assert_eq!(
            run(7, &[Action::Submit, missing(&[])]),
            Err(TransitionError::NothingMissing)
        );
        assert_eq!(
            run(7, &[Action::Submit, missing(&[" "])]),
            Err(TransitionError::NothingMissing)
        );
        let reject = |reason: &str| {
            Action::Decide(Decision::Reject {
                reason: reason.into(),
            })
        };
        assert_eq!(
            run(7, &[Action::Submit, reject("  ")]),
            Err(TransitionError::NoReason)
        );
        assert_eq!(
            run(7, &[Action::Submit, reject("不是低保户")]),
            Ok(State::Rejected)
        );
    }

    #[test]
    fn send_back_only_to_an_earlier_step() {
        let back = |to_step| Action::Decide(Decision::SendBack { to_step });
        let at_third = [Action::Submit, approve(), approve()];
        let mut actions = at_third.to_vec();
        actions.push(back(0));
        assert_eq!(run(7, &actions), Ok(State::InReview { step: 0 }));
        actions.pop();
        actions.push(back(2));
        let err = run(7, &actions).unwrap_err();
        assert_eq!(
            err,
            TransitionError::NotAnEarlierStep {
                step: 2,
                to_step: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "a case can be sent back only to an earlier step: it is at step 3, and step 3 is not before it"
        );
        assert_eq!(
            err.message(Lang::Zh),
            "只能退回到之前的环节：办件在第 3 步，第 3 步不在其前"
        );
        assert!(run(7, &[Action::Submit, back(0)]).is_err());
    }

    #[test]
    fn withdrawal_only_before_the_first_decision() {
        assert_eq!(run(7, &[Action::Withdraw]), Ok(State::Withdrawn));
        assert_eq!(
            run(7, &[Action::Submit, Action::Withdraw]),
            Ok(State::Withdrawn)
        );
        let err = run(7, &[Action::Submit, approve(), Action::Withdraw]).unwrap_err();
        assert_eq!(
            err,
            TransitionError::AlreadyReviewed {
                state: State::InReview { step: 1 }
            }
        );
        assert_eq!(
            err.to_string(),
            "a case can be withdrawn only before its first review decision; this case is in review"
        );
        assert_eq!(
            err.message(Lang::Zh),
            "只能在首次审核决定之前撤回，此办件为“审核中”"
        );
    }

    #[test]
    fn an_upheld_objection_rejects() {
        let notice = [Action::Submit, approve(), approve(), approve()];
        let mut actions = notice.to_vec();
        actions.push(Action::ObjectionUpheld {
            reason: String::new(),
        });
        assert_eq!(run(7, &actions), Err(TransitionError::NoReason));
        actions.pop();
        actions.push(Action::ObjectionUpheld {
            reason: "已有工作收入".into(),
        });
        assert_eq!(run(7, &actions), Ok(State::Rejected));
    }

    #[test]
    fn each_illegal_move_has_its_own_error() {
        let at = |state, action: Action| transition(state, &CHAIN, 7, &action).unwrap_err();
        assert_eq!(
            at(State::Submitted, Action::Submit),
            TransitionError::NotDraft {
                state: State::Submitted
            }
        );
        assert_eq!(
            at(State::Draft, Action::Resubmit),
            TransitionError::NotReturned {
                state: State::Draft
            }
        );
        assert_eq!(
            at(State::Returned { step: 0 }, approve()),
            TransitionError::NotInReview {
                state: State::Returned { step: 0 }
            }
        );
        assert_eq!(
            at(State::Approved, Action::NoticeEnded),
            TransitionError::NotInNotice {
                state: State::Approved
            }
        );
        assert_eq!(
            at(State::Notice, Action::Fulfil),
            TransitionError::NotApproved {
                state: State::Notice
            }
        );
        assert_eq!(
            at(State::Approved, Action::Close),
            TransitionError::NotFulfilled {
                state: State::Approved
            }
        );
        assert_eq!(
            at(State::InReview { step: 3 }, approve()),
            TransitionError::StepOutOfRange { step: 3, steps: 3 }
        );
        assert_eq!(
            transition(State::Draft, &[], 0, &Action::Submit),
            Err(TransitionError::EmptyChain)
        );
        let finished = at(State::Closed, Action::Close);
        assert_eq!(
            finished.to_string(),
            "the case is closed and can no longer change"
        );
        assert_eq!(finished.message(Lang::Zh), "此办件为“已办结”，已不能再变更");
    }

    #[test]
    fn states_name_themselves_and_their_step() {
        assert_eq!(State::InReview { step: 2 }.slug(), "in_review");
        assert_eq!(State::Returned { step: 1 }.step(), Some(1));
        assert_eq!(State::Submitted.step(), Some(0));
        assert_eq!(State::Notice.step(), None);
        assert_eq!(State::Notice.label(Lang::Zh), "公示中");
        assert!(State::Withdrawn.is_terminal() && !State::Approved.is_terminal());
    }

    fn any_action() -> impl Strategy<Value = Action> {
        let text = prop_oneof![
            Just(String::new()),
            Just(" ".to_owned()),
            Just("理由".to_owned())
        ];
        prop_oneof![
            Just(Action::Submit),
            Just(Action::Withdraw),
            Just(Action::Resubmit),
            Just(Action::Decide(Decision::Approve)),
            proptest::collection::vec(text.clone(), 0..3)
                .prop_map(|missing| Action::Decide(Decision::ReturnForCorrection { missing })),
            text.clone()
                .prop_map(|reason| Action::Decide(Decision::Reject { reason })),
            (0usize..6).prop_map(|to_step| Action::Decide(Decision::SendBack { to_step })),
            Just(Action::NoticeEnded),
            text.prop_map(|reason| Action::ObjectionUpheld { reason }),
            Just(Action::Fulfil),
            Just(Action::Close),
        ]
    }

    fn any_chain() -> impl Strategy<Value = Vec<Step>> {
        proptest::sample::subsequence(Step::ALL.to_vec(), 1..=Step::ALL.len())
    }

    fn any_state() -> impl Strategy<Value = State> {
        prop_oneof![
            Just(State::Draft),
            Just(State::Submitted),
            (0usize..6).prop_map(|step| State::InReview { step }),
            (0usize..6).prop_map(|step| State::Returned { step }),
            Just(State::Notice),
            Just(State::Approved),
            Just(State::Fulfilled),
            Just(State::Closed),
            Just(State::Rejected),
            Just(State::Withdrawn),
        ]
    }

    /// Steps inside the chain, and a notice only where the version has one.
    fn valid(state: State, chain: &[Step], notice_days: u32) -> bool {
        state.step().is_none_or(|step| step < chain.len())
            && (state != State::Notice || notice_days > 0)
    }

    proptest! {
        #[test]
        fn random_actions_never_reach_an_invalid_state(
            chain in any_chain(),
            notice_days in 0u32..3,
            actions in proptest::collection::vec(any_action(), 0..40),
        ) {
            let mut state = State::Draft;
            for action in &actions {
                match transition(state, &chain, notice_days, action) {
                    Ok(next) => {
                        prop_assert!(!state.is_terminal());
                        prop_assert!(valid(next, &chain, notice_days), "{state:?} --{action:?}--> {next:?}");
                        state = next;
                    }
                    Err(_) if state.is_terminal() => {}
                    Err(err) => prop_assert!(!matches!(err, TransitionError::Finished { .. }), "{err:?}"),
                }
            }
        }

        #[test]
        fn terminal_states_accept_nothing(
            chain in any_chain(),
            notice_days in 0u32..3,
            state in prop_oneof![Just(State::Closed), Just(State::Rejected), Just(State::Withdrawn)],
            action in any_action(),
        ) {
            prop_assert_eq!(
                transition(state, &chain, notice_days, &action),
                Err(TransitionError::Finished { state })
            );
        }

        #[test]
        fn withdrawal_is_allowed_exactly_before_review(state in any_state()) {
            let allowed = transition(state, &CHAIN, 7, &Action::Withdraw).is_ok();
            let before_review = matches!(state, State::Draft | State::Submitted);
            prop_assert_eq!(allowed, before_review);
        }

        #[test]
        fn approvals_walk_the_chain_in_order(chain in any_chain(), notice_days in 0u32..3) {
            let mut state = State::Submitted;
            for step in 1..chain.len() {
                state = transition(state, &chain, notice_days, &approve()).unwrap();
                prop_assert_eq!(state, State::InReview { step });
            }
            let last = transition(state, &chain, notice_days, &approve()).unwrap();
            prop_assert_eq!(last, if notice_days > 0 { State::Notice } else { State::Approved });
        }
    }
}
