//! RFC 3339 timestamps, UTC, whole seconds: what the service writes and
//! what it reads from Keystone. Written out because `chrono` cost ~10 KB of
//! wasm; unit tests compare both directions with `chrono`.

const SECONDS_PER_DAY: i64 = 86_400;
/// `chrono`'s range: a timestamp outside it is shown as the epoch.
const MIN_YEAR: i64 = -262_143;
const MAX_YEAR: i64 = 262_142;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2026-11-28T01:44:36Z`; years outside 0..=9999 get a sign, as in `chrono`.
pub fn format(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(SECONDS_PER_DAY);
    let (mut year, mut month, mut day) = civil_from_days(days);
    let mut secs = unix_seconds.rem_euclid(SECONDS_PER_DAY);
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        (year, month, day, secs) = (1970, 1, 1, 0);
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:+05}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

/// Unix seconds of an RFC 3339 date and time, as `chrono`'s
/// `DateTime::parse_from_rfc3339(s)?.timestamp()`: `T`, `t` or a space
/// between date and time, any number of fractional digits, `Z`, `z` or a
/// `±HH:MM` offset (U+2212 allowed for minus), a leap second read as :59.
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let at = |i: usize, want: &[u8]| b.get(i).is_some_and(|c| want.contains(c));
    let year = digits(0, 4)?;
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    let hour = digits(11, 2)?;
    let minute = digits(14, 2)?;
    let second = digits(17, 2)?;
    if !(at(4, b"-") && at(7, b"-") && at(10, b"tT ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let second = if second == 60 { 59 } else { second };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = fraction.get(n..)?;
    }
    let offset = if let Some(tail) = rest.strip_prefix(['Z', 'z']) {
        rest = tail;
        0
    } else {
        let (negative, tail) = if let Some(t) = rest.strip_prefix('+') {
            (false, t)
        } else if let Some(t) = rest.strip_prefix(['-', '\u{2212}']) {
            (true, t)
        } else {
            return None;
        };
        let t = tail.as_bytes();
        let two = |i: usize| -> Option<i64> {
            let (a, b) = (*t.get(i)?, *t.get(i + 1)?);
            (a.is_ascii_digit() && b.is_ascii_digit())
                .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
        };
        let (h, m) = (two(0)?, two(3)?);
        if t.get(2) != Some(&b':') || h > 23 || m > 59 {
            return None;
        }
        rest = tail.get(5..)?;
        let offset = h * 3600 + m * 60;
        if negative {
            -offset
        } else {
            offset
        }
    };
    if !rest.is_empty() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset)
}

/// Unix seconds of an ISO 8601 basic-format UTC time, `YYYYMMDDTHHMMSSZ`
/// exactly (the form of `X-Sdk-Date`); `None` for anything else.
pub fn parse_basic(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let digits = |from: usize, n: usize| -> Option<i64> {
        b.get(from..from + n)?.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (digits(0, 4)?, digits(4, 2)?, digits(6, 2)?);
    let (hour, minute, second) = (digits(9, 2)?, digits(11, 2)?, digits(13, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_matches_chrono() {
        let mut times: Vec<i64> = vec![
            0,
            -1,
            1,
            86_399,
            86_400,
            951_782_400, // 2000-02-29
            1_700_000_000,
            1_795_743_876,
            253_402_300_799, // 9999-12-31T23:59:59
            253_402_300_800,
            -62_167_219_200, // 0000-01-01
            -62_167_219_201,
            i64::MIN,
            i64::MAX,
            8_210_266_876_799,
            8_210_266_876_800,
            -8_334_601_228_800,
            -8_334_601_228_801,
        ];
        let mut t: i64 = -9_000_000_000_000;
        while t < 9_000_000_000_000 {
            times.push(t);
            t += 7_777_777_777;
        }
        for t in times {
            let expected = chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            assert_eq!(format(t), expected, "{t}");
        }
    }

    #[test]
    fn parsing_matches_chrono() {
        let mut inputs: Vec<String> = [
            "2026-11-28T01:44:36.000000Z",
            "2030-01-01T00:00:00.000000Z",
            "2026-11-28T01:44:36Z",
            "2026-11-28t01:44:36z",
            "2026-11-28 01:44:36Z",
            "2026-11-28T01:44:36+01:30",
            "2026-11-28T01:44:36-23:59",
            "2026-11-28T01:44:36\u{2212}05:00",
            "2026-11-28T01:44:36+24:00",
            "2026-11-28T01:44:36+01:60",
            "2026-11-28T01:44:36+0130",
            "2026-11-28T01:44:36+01",
            "2026-11-28T01:44:36+01:3",
            "2026-11-28T01:44:36+01:30:00",
            "2026-11-28T01:44:36",
            "2026-11-28T01:44:36.Z",
            "2026-11-28T01:44:36.1234567890123Z",
            "2026-11-28T01:44:60Z",
            "2026-11-28T01:44:61Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T23:60:00Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59+00:00",
            "9999-12-31T23:59:59-23:59",
            "0000-01-01T00:00:00+23:59",
            "+2026-11-28T01:44:36Z",
            "2026/11/28T01:44:36Z",
            "2026-11-28X01:44:36Z",
            "2026-11-28T01-44:36Z",
            "２026-11-28T01:44:36Z",
            "2026-11-28T01:44:36Zx",
            "2026-11-28T01:44:36 Z",
            "",
            "2026",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every one-character change of a valid value.
        let base = "2026-11-28T01:44:36.5+01:30";
        for i in 0..base.len() {
            for c in ['0', '5', '9', '-', ':', '.', 'T', 'Z', '+', ' ', 'a', 'é'] {
                let mut s = base.to_string();
                s.replace_range(i..i + 1, &c.to_string());
                inputs.push(s);
                let mut s = base.to_string();
                s.insert(i, c);
                inputs.push(s);
                let mut s = base.to_string();
                s.remove(i);
                inputs.push(s);
            }
        }
        for s in &inputs {
            let expected = chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp())
                .ok();
            assert_eq!(parse(s), expected, "{s:?}");
        }
    }

    #[test]
    fn basic_format_matches_chrono() {
        let chrono_basic = |s: &str| -> Option<i64> {
            let shape = s.len() == 16
                && s.bytes().enumerate().all(|(i, c)| match i {
                    8 => c == b'T',
                    15 => c == b'Z',
                    _ => c.is_ascii_digit(),
                });
            if !shape {
                return None;
            }
            let n = |from: usize, len: usize| s[from..from + len].parse::<u32>().unwrap();
            let date = chrono::NaiveDate::from_ymd_opt(n(0, 4) as i32, n(4, 2), n(6, 2))?;
            Some(
                date.and_hms_opt(n(9, 2), n(11, 2), n(13, 2))?
                    .and_utc()
                    .timestamp(),
            )
        };
        assert_eq!(parse_basic("20260101T000000Z"), Some(1_767_225_600));
        let mut inputs: Vec<String> = [
            "20240229T235959Z",
            "20230229T000000Z",
            "21000229T000000Z",
            "20260431T000000Z",
            "20261301T000000Z",
            "20260001T000000Z",
            "20260100T000000Z",
            "20260101T240000Z",
            "20260101T006000Z",
            "20260101T000060Z",
            "00000101T000000Z",
            "99991231T235959Z",
            "2026-01-01T00:00:00Z",
            "20260101T000000",
            "20260101t000000z",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let base = "20261128T014436Z";
        for i in 0..base.len() {
            for c in ['0', '1', '3', '9', 'T', 'Z', '-', ' ', 'é'] {
                let mut s = base.to_string();
                s.replace_range(i..i + 1, &c.to_string());
                inputs.push(s);
                let mut s = base.to_string();
                s.insert(i, c);
                inputs.push(s);
                let mut s = base.to_string();
                s.remove(i);
                inputs.push(s);
            }
        }
        for s in &inputs {
            assert_eq!(parse_basic(s), chrono_basic(s), "{s:?}");
        }
    }
}
