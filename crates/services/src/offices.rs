//! Which staff role works which review step, and who supervises it: the queues, the tasks a
//! decision leaves, and the escalation of overdue cases all follow this one table.

use zhucan_core::Role;

use crate::Step;

/// The steps whose queues a role works (an administrator sees every queue but decides none).
pub fn steps_for(role: Role) -> &'static [Step] {
    match role {
        Role::Admin => &Step::ALL,
        Role::DistrictReviewer => &[Step::District, Step::CivilAffairs, Step::Health],
        Role::StreetReviewer => &[Step::Street],
        Role::CommunityWorker => &[Step::Community],
        Role::Provider => &[Step::Provider],
        Role::Partner => &[],
    }
}

/// Whether `role` decides cases waiting at `step`.
pub fn decides(role: Role, step: Step) -> bool {
    role != Role::Admin && steps_for(role).contains(&step)
}

/// The role that reviews at `step`.
pub fn reviewer_of(step: Step) -> Role {
    match step {
        Step::Community => Role::CommunityWorker,
        Step::Street => Role::StreetReviewer,
        Step::District | Step::CivilAffairs | Step::Health => Role::DistrictReviewer,
        Step::Provider => Role::Provider,
    }
}

/// Who an overdue case at `step` escalates to: the level above the step's office.
pub fn supervisor_of(step: Step) -> Role {
    match step {
        Step::Community => Role::StreetReviewer,
        Step::Street | Step::Provider => Role::DistrictReviewer,
        Step::District | Step::CivilAffairs | Step::Health => Role::Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_reviewer_who_works_its_queue_and_a_supervisor_above() {
        for step in Step::ALL {
            let reviewer = reviewer_of(step);
            assert!(decides(reviewer, step), "{step:?}");
            assert_ne!(supervisor_of(step), reviewer, "{step:?}");
        }
        assert!(!decides(Role::Admin, Step::District));
        assert!(steps_for(Role::Partner).is_empty());
    }
}
