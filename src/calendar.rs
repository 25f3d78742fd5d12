//! Working days in the team's time zone. Pure: every function takes the date or instant.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The calendar date of `instant` in `tz`.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

pub fn is_working_day(date: NaiveDate, working_days: &[Weekday]) -> bool {
    working_days.contains(&date.weekday())
}

/// The last working day strictly before `date` (Monday → Friday).
pub fn previous_working_day(date: NaiveDate, working_days: &[Weekday]) -> NaiveDate {
    let mut day = date;
    for _ in 0..7 {
        day = day - Days::new(1);
        if is_working_day(day, working_days) {
            return day;
        }
    }
    date - Days::new(1)
}

/// Midnight at the start of `date` in `tz`, as UTC; on a day that starts in a DST gap,
/// the first instant that exists.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let later = midnight + chrono::Duration::hours(1);
            tz.from_local_datetime(&later).earliest().map_or_else(|| later.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

/// Working days after `from` up to and including `to` (0 when `to <= from`).
pub fn working_days_between(from: NaiveDate, to: NaiveDate, working_days: &[Weekday]) -> u32 {
    from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| is_working_day(*d, working_days)).count() as u32
}

/// The working day's hours, local time: 09:00 to 17:00.
pub const WORKDAY_START: u32 = 9;
pub const WORKDAY_HOURS: f64 = 8.0;

/// Hours between `from` and `to` that fall in working hours (09:00–17:00 in `tz`) on working
/// days that are not `holidays`. A DST change moves the window with the clock.
pub fn working_hours_between(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
    working_days: &[Weekday],
    holidays: &[NaiveDate],
) -> f64 {
    if to <= from {
        return 0.0;
    }
    let (first, last) = (local_date(from, tz), local_date(to, tz));
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| is_working_day(*d, working_days) && !holidays.contains(d))
        .map(|day| {
            let local_start = day.and_time(NaiveTime::MIN) + chrono::Duration::hours(i64::from(WORKDAY_START));
            let Some(start) = tz.from_local_datetime(&local_start).earliest() else { return 0.0 };
            let start = start.with_timezone(&Utc);
            let end = start + chrono::Duration::minutes((WORKDAY_HOURS * 60.0) as i64);
            let (a, b) = (start.max(from), end.min(to));
            if b > a {
                (b - a).num_seconds() as f64 / 3600.0
            } else {
                0.0
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::*;

    const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn monday_looks_back_to_friday() {
        assert_eq!(previous_working_day(d(2026, 11, 16), &WEEK), d(2026, 11, 13));
        assert_eq!(previous_working_day(d(2026, 11, 18), &WEEK), d(2026, 11, 17));
    }

    #[test]
    fn weekends_do_not_count_as_idle_days() {
        assert_eq!(working_days_between(d(2026, 11, 13), d(2026, 11, 16), &WEEK), 1);
        assert_eq!(working_days_between(d(2026, 11, 9), d(2026, 11, 16), &WEEK), 5);
        assert_eq!(working_days_between(d(2026, 11, 16), d(2026, 11, 16), &WEEK), 0);
    }

    #[test]
    fn local_dates_follow_the_time_zone() {
        let late_friday_in_new_york = Utc.with_ymd_and_hms(2026, 11, 14, 3, 0, 0).unwrap();
        assert_eq!(local_date(late_friday_in_new_york, chrono_tz::America::New_York), d(2026, 11, 13));
        assert_eq!(
            start_of_day(d(2026, 11, 13), chrono_tz::America::New_York),
            Utc.with_ymd_and_hms(2026, 11, 13, 5, 0, 0).unwrap()
        );
    }

    #[test]
    fn working_hours_skip_nights_weekends_and_holidays() {
        use chrono_tz::America::New_York;
        let at =
            |day: u32, hour: u32| New_York.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(working_hours_between(at(16, 9), at(16, 17), New_York, &WEEK, &[]), 8.0);
        assert_eq!(working_hours_between(at(13, 15), at(16, 11), New_York, &WEEK, &[]), 4.0, "Friday 2 h, Monday 2 h");
        assert_eq!(working_hours_between(at(16, 20), at(17, 8), New_York, &WEEK, &[]), 0.0);
        assert_eq!(working_hours_between(at(25, 12), at(27, 12), New_York, &WEEK, &[d(2026, 11, 26)]), 8.0);
        assert_eq!(working_hours_between(at(17, 9), at(16, 9), New_York, &WEEK, &[]), 0.0);
        // Across the DST change (1 November): each day still has 8 working hours.
        let oct30 = New_York.with_ymd_and_hms(2026, 10, 30, 9, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(working_hours_between(oct30, at(2, 17), New_York, &WEEK, &[]), 16.0);
    }
}
