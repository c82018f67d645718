//! Timestamps as the service writes and reads them, on `chrono` (~10 KB of
//! wasm): RFC 3339 in UTC with whole seconds for the image JSON, RFC 3339
//! with any offset and fraction from Keystone, and the ISO 8601 basic form
//! of Huawei's `X-Sdk-Date`.

use chrono::{DateTime, NaiveDate, SecondsFormat};

/// Unix seconds now; the epoch when the clock is before it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// `2026-11-28T01:44:36Z`; outside chrono's range, the epoch.
pub fn format(unix_seconds: i64) -> String {
    DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Unix seconds of an RFC 3339 date and time (`T`, `t` or a space between
/// date and time, any fraction, `Z` or an offset).
pub fn parse(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// Unix seconds of `YYYYMMDDTHHMMSSZ` exactly; `None` for anything else
/// (chrono's `%Y` would also take a sign or more digits).
pub fn parse_basic(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |from: usize, len: usize| s.get(from..from + len)?.parse::<u32>().ok();
    let year = i32::try_from(n(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, n(4, 2)?, n(6, 2)?)?;
    let time = date.and_hms_opt(n(9, 2)?, n(11, 2)?, n(13, 2)?)?;
    Some(time.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_whole_seconds() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format(1_795_830_276), "2026-11-28T01:44:36Z");
        assert_eq!(format(i64::MAX), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn parses_what_keystone_and_clients_send() {
        let t = 1_795_830_276;
        for s in [
            "2026-11-28T01:44:36Z",
            "2026-11-28T01:44:36.000000Z",
            "2026-11-28t01:44:36z",
            "2026-11-28 01:44:36Z",
            "2026-11-28T03:14:36+01:30",
        ] {
            assert_eq!(parse(s), Some(t), "{s}");
        }
        for s in [
            "2026-11-28T01:44:36",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert_eq!(parse(&format(t)), Some(t));
    }

    #[test]
    fn basic_form_is_exact() {
        assert_eq!(parse_basic("20260101T000000Z"), Some(1_767_225_600));
        assert_eq!(parse_basic("20240229T235959Z"), Some(1_709_251_199));
        for s in [
            "20230229T000000Z",
            "20261301T000000Z",
            "20260101T240000Z",
            "20260101T000060Z",
            "2026-01-01T00:00:00Z",
            "20260101T000000",
            "20260101t000000z",
            "+2026101T000000Z",
            "2026010１T000000Z",
            "",
        ] {
            assert_eq!(parse_basic(s), None, "{s}");
        }
    }
}
