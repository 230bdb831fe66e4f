//! Working days in China (Asia/Shanghai: UTC+8 all year, no daylight saving) on an
//! editable holiday calendar, and case deadlines whose clock stops while a case is
//! returned for correction (补正).
//!
//! Counting follows the usual reading of "within N working days from acceptance": the day
//! a case is filed is not counted, and the N-th working day after it is the last day.

use std::collections::BTreeSet;
use zhucan_core::localized;

use time::macros::{date, offset};
use time::{Date, OffsetDateTime, Weekday};
use zhucan_core::Lang;

/// The calendar date in China at `at`: timestamps are stored in UTC, deadlines run on
/// Chinese dates.
pub fn shanghai_date(at: OffsetDateTime) -> Date {
    at.to_offset(offset!(+8)).date()
}

/// Which days are working days: Monday to Friday, except public holidays, plus the
/// weekend days worked in exchange for a longer holiday (调休).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolidayCalendar {
    pub holidays: BTreeSet<Date>,
    pub extra_workdays: BTreeSet<Date>,
}

impl HolidayCalendar {
    /// The 2026 schedule of the State Council's notice on public holidays (国务院办公厅
    /// 关于2026年部分节假日安排的通知). The days fixed by the holiday regulations are
    /// certain (元旦 1/1, 除夕 to 初三 2/16-2/19, 清明 4/5, 劳动节 5/1-5/2, 端午 6/19,
    /// 中秋 9/25, 国庆 10/1-10/3); the bridging days and the weekend workdays come from the
    /// notice as recalled here and should be confirmed against it by an administrator.
    pub fn china_2026() -> HolidayCalendar {
        let spans = [
            (date!(2026 - 01 - 01), date!(2026 - 01 - 03)),
            (date!(2026 - 02 - 15), date!(2026 - 02 - 23)),
            (date!(2026 - 04 - 04), date!(2026 - 04 - 06)),
            (date!(2026 - 05 - 01), date!(2026 - 05 - 05)),
            (date!(2026 - 06 - 19), date!(2026 - 06 - 21)),
            (date!(2026 - 09 - 25), date!(2026 - 09 - 27)),
            (date!(2026 - 10 - 01), date!(2026 - 10 - 07)),
        ];
        let holidays = spans
            .into_iter()
            .flat_map(|(first, last)| {
                std::iter::successors(Some(first), |d| d.next_day()).take_while(move |d| *d <= last)
            })
            .collect();
        let extra_workdays = [
            date!(2026 - 01 - 04),
            date!(2026 - 02 - 14),
            date!(2026 - 02 - 28),
            date!(2026 - 05 - 09),
            date!(2026 - 09 - 20),
            date!(2026 - 10 - 10),
        ]
        .into();
        HolidayCalendar {
            holidays,
            extra_workdays,
        }
    }

    pub fn is_working_day(&self, day: Date) -> bool {
        if self.extra_workdays.contains(&day) {
            return true;
        }
        !self.holidays.contains(&day)
            && !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// The `n`-th working day after `start` (`start` itself when `n` is 0).
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            let Some(next) = day.next_day() else {
                return day;
            };
            day = next;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The working days after `a` up to and including `b`; negative when `b` is before
    /// `a`. The inverse of [`Self::add_working_days`]: from `a`, `add_working_days(a, n)`
    /// is `n` working days away.
    pub fn working_days_between(&self, a: Date, b: Date) -> i64 {
        if b < a {
            return -self.working_days_between(b, a);
        }
        let days = std::iter::successors(a.next_day(), |d| d.next_day()).take_while(|d| *d <= b);
        let count = days.filter(|d| self.is_working_day(*d)).count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// The deadline of a case filed on `start` with `limit_days` working days, returned
    /// for correction during `pauses` (in order). A working day after a return, up to and
    /// including the day of resubmission, does not count; a pause that begins after the
    /// due date does not move it.
    pub fn deadline(
        &self,
        start: Date,
        limit_days: u32,
        pauses: &[Pause],
    ) -> Result<Deadline, PauseError> {
        check_pauses(start, pauses)?;
        let mut day = start;
        let mut left = limit_days;
        let mut paused_working_days = 0;
        while left > 0 {
            let Some(next) = day.next_day() else {
                break;
            };
            day = next;
            match pauses.iter().find(|p| p.covers(day)) {
                Some(Pause {
                    returned_on,
                    resubmitted_on: None,
                }) => {
                    return Ok(Deadline::Paused {
                        since: *returned_on,
                        remaining: left,
                    });
                }
                Some(_) if self.is_working_day(day) => paused_working_days += 1,
                None if self.is_working_day(day) => left -= 1,
                _ => {}
            }
        }
        Ok(Deadline::Due {
            due: day,
            paused_working_days,
        })
    }
}

/// A time a case spent returned for correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub returned_on: Date,
    /// `None` while the applicant has not resubmitted.
    pub resubmitted_on: Option<Date>,
}

impl Pause {
    fn covers(&self, day: Date) -> bool {
        self.returned_on < day && self.resubmitted_on.is_none_or(|r| day <= r)
    }
}

/// When a case must be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The last working day allowed, after adding the working days spent returned.
    Due { due: Date, paused_working_days: u32 },
    /// Returned for correction since `since`: the clock is stopped with `remaining`
    /// working days left.
    Paused { since: Date, remaining: u32 },
}

/// Why a list of pauses cannot belong to a case (`index` is 0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PauseError {
    #[error("pause {index} begins before the case was filed")]
    BeforeStart { index: usize },
    #[error("pause {index} ends before it begins")]
    EndsBeforeItBegins { index: usize },
    #[error("pause {index} begins before the previous pause ended")]
    Overlapping { index: usize },
}

impl PauseError {
    fn zh(&self) -> String {
        match self {
            Self::BeforeStart { index } => format!("第 {} 次补正早于办件提交", index + 1),
            Self::EndsBeforeItBegins { index } => {
                format!("第 {} 次补正的重新提交日期早于退回日期", index + 1)
            }
            Self::Overlapping { index } => {
                format!("第 {} 次补正开始时上一次补正尚未结束", index + 1)
            }
        }
    }
}

localized!(PauseError);

fn check_pauses(start: Date, pauses: &[Pause]) -> Result<(), PauseError> {
    let mut previous_end = Some(start);
    for (index, pause) in pauses.iter().enumerate() {
        if pause.returned_on < start {
            return Err(PauseError::BeforeStart { index });
        }
        if previous_end.is_none_or(|end| pause.returned_on < end) {
            return Err(PauseError::Overlapping { index });
        }
        if pause.resubmitted_on.is_some_and(|r| r < pause.returned_on) {
            return Err(PauseError::EndsBeforeItBegins { index });
        }
        previous_end = pause.resubmitted_on;
    }
    Ok(())
}

impl Deadline {
    /// The deadline in words, for a case's timeline.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Due { due, .. }, Lang::Zh) => format!("办理期限：{due}"),
            (Self::Due { due, .. }, Lang::En) => format!("due by {due}"),
            (Self::Paused { remaining, .. }, Lang::Zh) => {
                format!("补正中，计时暂停，剩余 {remaining} 个工作日")
            }
            (Self::Paused { remaining, .. }, Lang::En) => {
                format!(
                    "returned for correction: the clock is stopped with {remaining} working days left"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    /// Weekends only: every expectation below is independent of any holiday schedule.
    fn weekends() -> HolidayCalendar {
        HolidayCalendar::default()
    }

    #[test]
    fn china_is_utc_plus_8() {
        assert_eq!(
            shanghai_date(datetime!(2026-01-01 15:59 UTC)),
            date!(2026 - 01 - 01)
        );
        assert_eq!(
            shanghai_date(datetime!(2026-01-01 16:00 UTC)),
            date!(2026 - 01 - 02)
        );
    }

    #[test]
    fn weekends_are_not_working_days() {
        let c = weekends();
        // 2026-03-06 is a Friday.
        assert!(c.is_working_day(date!(2026 - 03 - 06)));
        assert!(!c.is_working_day(date!(2026 - 03 - 07)));
        assert!(!c.is_working_day(date!(2026 - 03 - 08)));
        assert!(c.is_working_day(date!(2026 - 03 - 09)));
    }

    #[test]
    fn holidays_and_weekend_workdays_override_the_week() {
        let mut c = weekends();
        c.holidays.insert(date!(2026 - 03 - 09));
        c.extra_workdays.insert(date!(2026 - 03 - 07));
        assert!(!c.is_working_day(date!(2026 - 03 - 09)));
        assert!(c.is_working_day(date!(2026 - 03 - 07)));
        // Friday + 1 working day: Saturday is worked.
        assert_eq!(
            c.add_working_days(date!(2026 - 03 - 06), 1),
            date!(2026 - 03 - 07)
        );
        // Saturday + 1: Sunday off, Monday a holiday.
        assert_eq!(
            c.add_working_days(date!(2026 - 03 - 07), 1),
            date!(2026 - 03 - 10)
        );
    }

    #[test]
    fn adding_working_days_skips_weekends() {
        let c = weekends();
        let friday = date!(2026 - 03 - 06);
        assert_eq!(c.add_working_days(friday, 0), friday);
        assert_eq!(c.add_working_days(friday, 1), date!(2026 - 03 - 09));
        assert_eq!(c.add_working_days(friday, 5), date!(2026 - 03 - 13));
        // Filed on a Saturday: Monday is the first working day.
        assert_eq!(
            c.add_working_days(date!(2026 - 03 - 07), 1),
            date!(2026 - 03 - 09)
        );
        assert_eq!(c.add_working_days(friday, 20), date!(2026 - 04 - 03));
    }

    #[test]
    fn working_days_between_counts_after_the_first_day() {
        let c = weekends();
        let friday = date!(2026 - 03 - 06);
        assert_eq!(c.working_days_between(friday, friday), 0);
        assert_eq!(c.working_days_between(friday, date!(2026 - 03 - 08)), 0);
        assert_eq!(c.working_days_between(friday, date!(2026 - 03 - 13)), 5);
        assert_eq!(c.working_days_between(date!(2026 - 03 - 13), friday), -5);
    }

    #[test]
    fn the_2026_calendar_has_the_statutory_days() {
        let c = HolidayCalendar::china_2026();
        let statutory = [
            date!(2026 - 01 - 01),
            date!(2026 - 02 - 16),
            date!(2026 - 02 - 17),
            date!(2026 - 02 - 18),
            date!(2026 - 02 - 19),
            date!(2026 - 04 - 05),
            date!(2026 - 05 - 01),
            date!(2026 - 05 - 02),
            date!(2026 - 06 - 19),
            date!(2026 - 09 - 25),
            date!(2026 - 10 - 01),
            date!(2026 - 10 - 02),
            date!(2026 - 10 - 03),
        ];
        for day in statutory {
            assert!(!c.is_working_day(day), "{day}");
        }
        // Swapped workdays fall on weekends, and no day is both.
        for day in &c.extra_workdays {
            assert!(
                matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{day}"
            );
            assert!(!c.holidays.contains(day));
        }
    }

    #[test]
    fn a_deadline_without_pauses_is_the_working_day_sum() {
        let c = weekends();
        let friday = date!(2026 - 03 - 06);
        assert_eq!(
            c.deadline(friday, 5, &[]),
            Ok(Deadline::Due {
                due: date!(2026 - 03 - 13),
                paused_working_days: 0
            })
        );
        assert_eq!(
            c.deadline(friday, 0, &[]),
            Ok(Deadline::Due {
                due: friday,
                paused_working_days: 0
            })
        );
    }

    #[test]
    fn a_return_stops_the_clock_until_resubmission() {
        let c = weekends();
        let monday = date!(2026 - 03 - 02);
        // Returned on Tuesday (counted), resubmitted the next Monday: Wed-Fri and Monday
        // (4 working days) do not count.
        let pause = Pause {
            returned_on: date!(2026 - 03 - 03),
            resubmitted_on: Some(date!(2026 - 03 - 09)),
        };
        assert_eq!(
            c.deadline(monday, 5, &[pause]),
            Ok(Deadline::Due {
                due: date!(2026 - 03 - 13),
                paused_working_days: 4
            })
        );
        let open = Pause {
            resubmitted_on: None,
            ..pause
        };
        let paused = c.deadline(monday, 5, &[open]).unwrap();
        assert_eq!(
            paused,
            Deadline::Paused {
                since: date!(2026 - 03 - 03),
                remaining: 4
            }
        );
        assert_eq!(
            paused.describe(Lang::En),
            "returned for correction: the clock is stopped with 4 working days left"
        );
        assert_eq!(
            paused.describe(Lang::Zh),
            "补正中，计时暂停，剩余 4 个工作日"
        );
    }

    #[test]
    fn a_pause_after_the_due_date_does_not_move_it() {
        let c = weekends();
        let monday = date!(2026 - 03 - 02);
        let late = Pause {
            returned_on: date!(2026 - 03 - 20),
            resubmitted_on: None,
        };
        assert_eq!(
            c.deadline(monday, 3, &[late]),
            Ok(Deadline::Due {
                due: date!(2026 - 03 - 05),
                paused_working_days: 0
            })
        );
    }

    #[test]
    fn pauses_must_be_in_order() {
        let c = weekends();
        let start = date!(2026 - 03 - 02);
        let pause = |from: Date, to: Option<Date>| Pause {
            returned_on: from,
            resubmitted_on: to,
        };
        let (d3, d5, d9) = (
            date!(2026 - 03 - 03),
            date!(2026 - 03 - 05),
            date!(2026 - 03 - 09),
        );
        assert_eq!(
            c.deadline(start, 5, &[pause(date!(2026 - 03 - 01), None)]),
            Err(PauseError::BeforeStart { index: 0 })
        );
        assert_eq!(
            c.deadline(start, 5, &[pause(d5, Some(d3))]),
            Err(PauseError::EndsBeforeItBegins { index: 0 })
        );
        assert_eq!(
            c.deadline(start, 5, &[pause(d3, Some(d9)), pause(d5, None)]),
            Err(PauseError::Overlapping { index: 1 })
        );
        assert_eq!(
            c.deadline(start, 5, &[pause(d3, None), pause(d9, None)]),
            Err(PauseError::Overlapping { index: 1 })
        );
        let err = PauseError::Overlapping { index: 1 };
        assert_eq!(
            err.to_string(),
            "pause 1 begins before the previous pause ended"
        );
        assert_eq!(err.message(Lang::Zh), "第 2 次补正开始时上一次补正尚未结束");
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (0i64..3000).prop_map(|n| date!(2025 - 01 - 01) + time::Duration::days(n))
    }

    fn any_calendar() -> impl Strategy<Value = HolidayCalendar> {
        (
            proptest::collection::btree_set(any_date(), 0..40),
            proptest::collection::btree_set(any_date(), 0..10),
        )
            .prop_map(|(holidays, extra_workdays)| HolidayCalendar {
                holidays,
                extra_workdays,
            })
    }

    proptest! {
        #[test]
        fn adding_then_counting_round_trips(c in any_calendar(), start in any_date(), n in 0u32..60) {
            let end = c.add_working_days(start, n);
            prop_assert_eq!(c.working_days_between(start, end), i64::from(n));
            prop_assert!(n == 0 || c.is_working_day(end));
        }

        #[test]
        fn a_closed_pause_adds_exactly_its_working_days(
            c in any_calendar(),
            start in any_date(),
            limit in 1u32..40,
            offset in 0i64..30,
            length in 0i64..30,
        ) {
            let returned_on = start + time::Duration::days(offset);
            let pause = Pause { returned_on, resubmitted_on: Some(returned_on + time::Duration::days(length)) };
            let Ok(Deadline::Due { due, paused_working_days }) = c.deadline(start, limit, &[pause]) else {
                return Err(TestCaseError::fail("a closed pause leaves a due date"));
            };
            prop_assert_eq!(due, c.add_working_days(start, limit + paused_working_days));
            prop_assert_eq!(c.working_days_between(start, due), i64::from(limit + paused_working_days));
        }
    }
}
