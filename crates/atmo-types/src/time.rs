//! Calendar arithmetic, in one place for every crate: RFC 3339 timestamps
//! for new records and IMF-fixdates (HTTP dates) from `Retry-After`.
//! Hand-written because both are a few lines and a date crate would be the
//! largest dependency of the crates that need them, for no other use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 UTC with millisecond precision, e.g.
/// `2024-05-01T12:34:56.789Z` (the form TypeScript's `toISOString` writes and
/// the atproto `datetime` format accepts).
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// Formats a time as RFC 3339 UTC with milliseconds (times before 1970 are
/// written as 1970-01-01T00:00:00.000Z).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Parses an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (the HTTP
/// date of `Retry-After`). `None` for anything else, including a year that
/// is not four digits: the text comes from servers, and a longer year would
/// overflow the arithmetic.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let rest = s.split_once(", ")?.1;
    let mut it = rest.split(' ');
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let day = it.next().filter(|t| digits(t, 2))?;
    let day: i64 = day.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = it.next()?;
    let month = MONTHS.iter().position(|m| *m == name)? as i64 + 1;
    let year: i64 = it.next().filter(|t| digits(t, 4))?.parse().ok()?;
    let mut hms = it
        .next()?
        .split(':')
        .map(|p| Some(p).filter(|p| digits(p, 2))?.parse::<i64>().ok());
    let (hh, mm, ss) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hh * 3600 + mm * 60 + ss;
    UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after
/// Howard Hinnant's `civil_from_days` algorithm (eras of 400 years).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The inverse of [`civil_from_days`]: days since 1970-01-01 of a
/// proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_123); // leap day 2000
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799); // 2099-12-31T23:59:59
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn calendar_round_trips() {
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m.into(), d.into()), z);
        }
    }

    #[test]
    fn every_day_round_trips() {
        // Walk day by day over 600 years and check month/day progression.
        let (mut y, mut m, mut d) = civil_from_days(-100_000);
        for z in -99_999..120_000 {
            let (y2, m2, d2) = civil_from_days(z);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            if d == len[m as usize - 1] {
                if m == 12 {
                    assert_eq!((y2, m2, d2), (y + 1, 1, 1));
                } else {
                    assert_eq!((y2, m2, d2), (y, m + 1, 1));
                }
            } else {
                assert_eq!((y2, m2, d2), (y, m, d + 1));
            }
            (y, m, d) = (y2, m2, d2);
        }
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(253_402_300_799))
        );
        for bad in [
            "",
            "garbage",
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 1969 00:00:00 GMT",
            // Servers choose this text: absurd numbers are refused, not
            // overflowed.
            "Wed, 21 Oct 99999999999999999 07:28:00 GMT",
            "Wed, 21 Oct 9223372036854775807 07:28:00 GMT",
            "Wed, 21 Oct -9223372036854775808 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:9223372036854775807 GMT",
            "Wed, 21 Oct 2015 99999999999999999999:00:00 GMT",
            "Wed, 9999999999999999999 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct +015 07:28:00 GMT",
            "Wed, 1 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
