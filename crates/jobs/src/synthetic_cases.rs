//! Synthetic cases over the persons already stored, for benchmarks at scale (`zhucan gen cases`).
//!
//! Most cases are long finished; the rest wait at each step of their chain with deadlines spread
//! around today (some overdue), or are returned, in public notice, approved or drafts. Every case's
//! history is played through the services crate's state machine, so its events and state are
//! what the workflow would have written. Choices come from one ChaCha8 stream per seed; times are
//! relative to now, so queues look the same whenever the data is made.

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};
use zhucan_core::Phone;
use zhucan_services::{
    Action, Catalog, Decision, ServiceVersion, State, Step, shanghai_date, transition,
};
use zhucan_store::{
    Actor, CasePerson, Channel, DbError, Store, SyntheticCase, SyntheticEvent, action_name,
};

/// Cases per transaction.
const BATCH: usize = 10_000;
/// Persons read per query.
const PERSON_PAGE: i64 = 5_000;

/// How often each service is applied for, by code; others weigh [`OTHER_SERVICE`].
const SERVICE_WEIGHTS: &[(&str, u32)] = &[
    ("living-subsidy", 20),
    ("nursing-subsidy", 14),
    ("cert-new", 10),
    ("cert-renew", 8),
    ("device-fitting", 8),
    ("wheelchair-fuel", 5),
    ("care-support", 5),
];
const OTHER_SERVICE: u32 = 2;

/// Where a generated case ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Closed,
    Rejected,
    Withdrawn,
    Draft,
    /// Submitted or in review at a step of the chain.
    Waiting,
    Returned,
    /// In public notice (items without one wait in review instead).
    Notice,
    /// Approved, to be delivered.
    Approved,
}

const OUTCOMES: [(Outcome, u32); 8] = [
    (Outcome::Closed, 680),
    (Outcome::Rejected, 50),
    (Outcome::Withdrawn, 30),
    (Outcome::Draft, 20),
    (Outcome::Waiting, 150),
    (Outcome::Returned, 40),
    (Outcome::Notice, 15),
    (Outcome::Approved, 15),
];

const CHANNELS: [(Channel, u32); 4] = [
    (Channel::Portal, 60),
    (Channel::Counter, 25),
    (Channel::Proxy, 10),
    (Channel::Proactive, 5),
];

/// What `generate_cases` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedCases {
    pub cases: u64,
    pub events: u64,
    /// Cases submitted or in review (in some reviewer's queue).
    pub waiting: u64,
    /// Cases of the persons the `phone` option named.
    pub for_phone: u64,
}

impl std::fmt::Display for GeneratedCases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "generated: {} cases ({} waiting for review), {} events",
            self.cases, self.waiting, self.events
        )?;
        if self.for_phone > 0 {
            write!(f, "; {} for the given phone's residents", self.for_phone)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error(transparent)]
    Store(#[from] DbError),
    #[error("there are no persons to file cases for: import some first")]
    NoPersons,
    #[error("no registered person or guardian has the phone {0}")]
    UnknownPhone(String),
}

/// The role that decides at `step`, as the events record it.
fn reviewer(step: Step) -> (String, &'static str) {
    let role = match step {
        Step::Community => "community_worker",
        Step::Street => "street_reviewer",
        Step::District | Step::CivilAffairs | Step::Health => "district_reviewer",
        Step::Provider => "provider",
    };
    (format!("account:synthetic-{}", step.slug()), role)
}

struct CaseMaker {
    rng: ChaCha8Rng,
    services: Vec<ServiceVersion>,
    service_index: WeightedIndex<u32>,
    outcome_index: WeightedIndex<u32>,
    channel_index: WeightedIndex<u32>,
    now: OffsetDateTime,
}

impl CaseMaker {
    fn new(seed: u64, now: OffsetDateTime) -> CaseMaker {
        let services: Vec<ServiceVersion> = Catalog::seed()
            .services_on(shanghai_date(now))
            .into_iter()
            .cloned()
            .collect();
        let weights = services.iter().map(|s| {
            SERVICE_WEIGHTS
                .iter()
                .find(|(code, _)| *code == s.code().as_str())
                .map_or(OTHER_SERVICE, |(_, w)| *w)
        });
        CaseMaker {
            rng: ChaCha8Rng::seed_from_u64(seed),
            service_index: WeightedIndex::new(weights).expect("the seed catalog has items"),
            services,
            outcome_index: WeightedIndex::new(OUTCOMES.iter().map(|(_, w)| *w)).expect("weights"),
            channel_index: WeightedIndex::new(CHANNELS.iter().map(|(_, w)| *w)).expect("weights"),
            now,
        }
    }

    /// The actions that take a new draft to `outcome`, the last at `step` where it has one.
    fn actions(outcome: Outcome, step: usize, chain: usize, notice: bool) -> Vec<Action> {
        let approve = || Action::Decide(Decision::Approve);
        let mut actions = vec![Action::Submit];
        match outcome {
            Outcome::Draft => actions.clear(),
            Outcome::Withdrawn => actions.push(Action::Withdraw),
            Outcome::Waiting => actions.extend((0..step).map(|_| approve())),
            Outcome::Returned => {
                actions.extend((0..step).map(|_| approve()));
                actions.push(Action::Decide(Decision::ReturnForCorrection {
                    missing: vec!["残疾人证复印件".into()],
                }));
            }
            Outcome::Rejected => {
                actions.extend((0..step).map(|_| approve()));
                actions.push(Action::Decide(Decision::Reject {
                    reason: "不符合申请条件".into(),
                }));
            }
            Outcome::Notice | Outcome::Approved | Outcome::Closed => {
                actions.extend((0..chain).map(|_| approve()));
                if notice && outcome != Outcome::Notice {
                    actions.push(Action::NoticeEnded);
                }
                if outcome == Outcome::Closed {
                    actions.extend([Action::Fulfil, Action::Close]);
                }
            }
        }
        actions
    }

    fn case(&mut self, person: &CasePerson, outcome: Option<Outcome>) -> SyntheticCase {
        let service = &self.services[self.service_index.sample(&mut self.rng)];
        let chain = service.chain();
        let notice_days = service.notice_days();
        let mut outcome =
            outcome.unwrap_or_else(|| OUTCOMES[self.outcome_index.sample(&mut self.rng)].0);
        if outcome == Outcome::Notice && notice_days == 0 {
            outcome = Outcome::Waiting;
        }
        let step = self.rng.random_range(0..chain.len());
        let channel = CHANNELS[self.channel_index.sample(&mut self.rng)].0;
        let (filer, filer_role) = match channel {
            Channel::Portal => ("resident:synthetic".to_owned(), "resident"),
            Channel::Proactive => ("system:proactive".to_owned(), "system"),
            Channel::Counter | Channel::Proxy => reviewer(Step::Community),
        };
        let actions = Self::actions(outcome, step, chain.len(), notice_days > 0);

        // Times run backwards from the last event: recent for open cases, up to two years ago
        // for finished ones; hours to a week between events.
        let finished = matches!(
            outcome,
            Outcome::Closed | Outcome::Rejected | Outcome::Withdrawn
        );
        let age_days = if finished { 700 } else { 10 };
        let mut at = self.now - Duration::minutes(self.rng.random_range(5..age_days * 24 * 60));
        let mut times = vec![at];
        for _ in &actions {
            at -= Duration::minutes(self.rng.random_range(60..7 * 24 * 60));
            times.push(at);
        }
        times.reverse();

        let mut state = State::Draft;
        let mut events = vec![SyntheticEvent {
            at: times[0],
            actor: filer.clone(),
            actor_role: filer_role.to_owned(),
            action: "create",
            from: None,
            to: State::Draft,
            comment: None,
        }];
        let mut submitted_at = None;
        for (action, &at) in actions.iter().zip(&times[1..]) {
            let to = transition(state, chain, notice_days, action)
                .expect("generated actions follow the state machine");
            let (actor, role) = match action {
                Action::Submit | Action::Withdraw | Action::Resubmit => (filer.clone(), filer_role),
                Action::Decide(_) => reviewer(chain[state.step().unwrap_or(0)]),
                _ => ("system:outcome".to_owned(), "system"),
            };
            if matches!(action, Action::Submit) {
                submitted_at = Some(at);
            }
            let comment = match action {
                Action::Decide(Decision::ReturnForCorrection { missing }) => {
                    Some(missing.join("、"))
                }
                Action::Decide(Decision::Reject { reason }) => Some(reason.clone()),
                _ => None,
            };
            events.push(SyntheticEvent {
                at,
                actor,
                actor_role: role.to_owned(),
                action: action_name(action),
                from: Some(state),
                to,
                comment,
            });
            state = to;
        }

        let today = shanghai_date(self.now);
        let deadline = match state {
            // Spread around today: some overdue, most due within the item's time limit.
            State::Submitted | State::InReview { .. } => Some(
                today
                    + Duration::days(
                        self.rng
                            .random_range(-10..=i64::from(service.limit_days()).max(1)),
                    ),
            ),
            State::Notice => {
                Some(today + Duration::days(self.rng.random_range(0..=i64::from(notice_days))))
            }
            _ => None,
        };
        SyntheticCase {
            person: person.clone(),
            service_code: service.code().as_str().to_owned(),
            service_version: i64::from(service.version()),
            channel,
            filed_by: filer,
            step_code: state
                .step()
                .and_then(|s| chain.get(s))
                .map(|s| s.slug().to_owned()),
            state,
            deadline,
            created_at: times[0],
            submitted_at,
            events,
        }
    }
}

/// Writes batches by district (case numbers are per district), counting what went in.
struct Writer<'a> {
    store: &'a Store,
    actor: Actor,
    pending: Vec<SyntheticCase>,
    done: GeneratedCases,
    progress: Option<indicatif::ProgressBar>,
}

impl Writer<'_> {
    async fn push(&mut self, case: SyntheticCase) -> Result<(), DbError> {
        self.pending.push(case);
        if self.pending.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), DbError> {
        let mut batch = std::mem::take(&mut self.pending);
        batch.sort_by(|a, b| a.person.district_code.cmp(&b.person.district_code));
        for district in batch.chunk_by(|a, b| a.person.district_code == b.person.district_code) {
            self.store
                .insert_synthetic_cases(&self.actor, &district[0].person.district_code, district)
                .await?;
        }
        for c in &batch {
            self.done.cases += 1;
            self.done.events += c.events.len() as u64;
            self.done.waiting +=
                u64::from(matches!(c.state, State::Submitted | State::InReview { .. }));
        }
        if let Some(bar) = &self.progress {
            bar.inc(batch.len() as u64);
        }
        Ok(())
    }
}

/// Files `count` cases over the stored persons, spread evenly by person (so by street), after
/// storing the seed catalog's service versions. With `phone`, the persons registered with it
/// (or as whose guardian) get three cases first, one waiting at a step, so a benchmark can sign
/// in as a resident with cases.
pub async fn generate_cases(
    store: &Store,
    count: usize,
    seed: u64,
    phone: Option<&Phone>,
    progress: bool,
) -> Result<GeneratedCases, CasesError> {
    store.seed_catalog(&Catalog::seed()).await?;
    let persons = u64::try_from(store.count_persons().await?).unwrap_or(0);
    if persons == 0 {
        return Err(CasesError::NoPersons);
    }
    let mut maker = CaseMaker::new(seed, OffsetDateTime::now_utc());
    let mut writer = Writer {
        store,
        actor: Actor::system("gen-cases"),
        pending: Vec::new(),
        done: GeneratedCases::default(),
        progress: progress.then(|| indicatif::ProgressBar::new(count as u64)),
    };
    let mut left = count as u64;
    if let Some(phone) = phone {
        let theirs = store.case_persons_for_phone(phone).await?;
        if theirs.is_empty() {
            return Err(CasesError::UnknownPhone(phone.masked()));
        }
        for person in &theirs {
            for outcome in [Outcome::Closed, Outcome::Waiting, Outcome::Returned] {
                if left > 0 {
                    writer.push(maker.case(person, Some(outcome))).await?;
                    writer.done.for_phone += 1;
                    left -= 1;
                }
            }
        }
    }
    // Each person draws about `left / persons left` cases (0, 1 or 2 when fewer cases than
    // persons); the last person takes what remains, so exactly `count` are made.
    let mut persons_left = persons;
    let mut after: Option<String> = None;
    'pages: loop {
        let page = store.case_persons(after.as_deref(), PERSON_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for person in &page {
            if left == 0 {
                break 'pages;
            }
            let n = if persons_left <= 1 {
                left
            } else {
                let share = left as f64 / persons_left as f64;
                let spread = f64::from(maker.rng.random_range(0..=2u8));
                ((share * spread + maker.rng.random::<f64>()) as u64).min(left)
            };
            persons_left = persons_left.saturating_sub(1);
            for _ in 0..n {
                writer.push(maker.case(person, None)).await?;
            }
            left -= n;
        }
    }
    writer.flush().await?;
    if let Some(bar) = &writer.progress {
        bar.finish_and_clear();
    }
    Ok(writer.done)
}
