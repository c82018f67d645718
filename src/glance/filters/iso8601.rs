//! The ISO 8601 times Glance's `created_at` / `updated_at` filters take:
//! oslo.utils' `parse_isotime`, which is iso8601 2.1's `parse_date`, a
//! regular expression (`re.match`, ending in `$`) and Python's `datetime`.
//! The expression is matched here by hand, trying its alternatives in the
//! order Python's backtracking does, so that odd readings agree too
//! (`2026-123` is 2026-01-23, `10:5` is ten o'clock and five seconds):
//!
//! ```text
//! YYYY ( (-M{1,2} | MM(?!$)) ( (-D{1,2} | DD) ( [ T]hh (:?mm)? (:?s{1,2}([.,]f+)?)?
//!      (Z | [-+]hh:?(mm)?)? )? )? )? $
//! ```

use chrono::NaiveDate;

/// Longest value tried: the expression's alternatives are few, so this only
/// bounds the fraction's digits.
const MAX_CHARS: usize = 256;

/// A byte range of the text, `None` when that part did not match.
type Span = Option<(usize, usize)>;

/// Where each part of the expression matched.
#[derive(Default, Clone, Copy)]
struct Caps {
    month: Span,
    day: Span,
    hour: Span,
    minute: Span,
    second: Span,
    fraction: Span,
    /// Sign (`+1`, `-1`; 0 for `Z`), hours, minutes.
    zone: Option<(i64, Span, Span)>,
}

type Next<'a> = &'a mut dyn FnMut(usize, &mut Caps) -> bool;

fn digits(s: &[u8], at: usize, n: usize) -> bool {
    s.get(at..at + n)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// Python's `$`: the end, or just before a final newline.
fn at_end(s: &[u8], at: usize) -> bool {
    at == s.len() || (at + 1 == s.len() && s.get(at) == Some(&b'\n'))
}

/// `-N{1,2}` (two digits tried first) or, when `two` allows it, `NN`.
fn field(s: &[u8], at: usize, c: &mut Caps, month: bool, next: Next<'_>) -> bool {
    let set = |c: &mut Caps, r: Span| {
        if month {
            c.month = r
        } else {
            c.day = r
        }
    };
    if s.get(at) == Some(&b'-') {
        for n in [2, 1] {
            if digits(s, at + 1, n) {
                set(c, Some((at + 1, at + 1 + n)));
                if next(at + 1 + n, c) {
                    return true;
                }
                set(c, None);
            }
        }
    }
    // `MM(?!$)`: a bare month may not end the text (no `YYYYMM`).
    if digits(s, at, 2) && !(month && at_end(s, at + 2)) {
        set(c, Some((at, at + 2)));
        if next(at + 2, c) {
            return true;
        }
        set(c, None);
    }
    false
}

/// `:?` then `n` digits (each of `widths`, in order), into `slot`; or nothing.
fn clock(
    s: &[u8],
    at: usize,
    c: &mut Caps,
    widths: &[usize],
    slot: fn(&mut Caps) -> &mut Span,
    next: Next<'_>,
) -> bool {
    let starts: &[usize] = if s.get(at) == Some(&b':') {
        &[1, 0]
    } else {
        &[0]
    };
    for &skip in starts {
        for &n in widths {
            let from = at + skip;
            if digits(s, from, n) {
                *slot(c) = Some((from, from + n));
                if next(from + n, c) {
                    return true;
                }
                *slot(c) = None;
            }
        }
    }
    next(at, c)
}

/// `([.,]f+)?`, then the zone and the end.
fn fraction(s: &[u8], at: usize, c: &mut Caps, next: Next<'_>) -> bool {
    if matches!(s.get(at), Some(b'.' | b',')) {
        let n = s
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        // Fewer digits would leave a digit that neither the zone nor `$` takes.
        if n > 0 {
            c.fraction = Some((at + 1, at + 1 + n));
            if next(at + 1 + n, c) {
                return true;
            }
            c.fraction = None;
        }
    }
    next(at, c)
}

/// `(Z | [-+]hh:?(mm)?)?`
fn zone(s: &[u8], at: usize, c: &mut Caps, next: Next<'_>) -> bool {
    match s.get(at) {
        Some(b'Z') => {
            c.zone = Some((0, None, None));
            if next(at + 1, c) {
                return true;
            }
        }
        Some(&sign @ (b'+' | b'-')) if digits(s, at + 1, 2) => {
            let sign = if sign == b'+' { 1 } else { -1 };
            let hours = Some((at + 1, at + 3));
            let after = at + 3;
            let starts: &[usize] = if s.get(after) == Some(&b':') {
                &[1, 0]
            } else {
                &[0]
            };
            for &skip in starts {
                let from = after + skip;
                if digits(s, from, 2) {
                    c.zone = Some((sign, hours, Some((from, from + 2))));
                    if next(from + 2, c) {
                        return true;
                    }
                }
                c.zone = Some((sign, hours, None));
                if next(from, c) {
                    return true;
                }
            }
        }
        _ => {}
    }
    c.zone = None;
    next(at, c)
}

/// `[ T]hh(:?mm)?(:?s{1,2}([.,]f+)?)?(zone)?`, or nothing.
fn time(s: &[u8], at: usize, c: &mut Caps, next: Next<'_>) -> bool {
    if matches!(s.get(at), Some(b' ' | b'T')) && digits(s, at + 1, 2) {
        c.hour = Some((at + 1, at + 3));
        let found = clock(s, at + 3, c, &[2], |c| &mut c.minute, &mut |p, c| {
            clock(s, p, c, &[2, 1], |c| &mut c.second, &mut |p, c| {
                if c.second.is_some() {
                    fraction(s, p, c, &mut |p, c| zone(s, p, c, next))
                } else {
                    zone(s, p, c, next)
                }
            })
        });
        if found {
            return true;
        }
        c.hour = None;
    }
    next(at, c)
}

/// Unix seconds and microseconds of `text`, in UTC (no zone is UTC), or
/// `None` where Glance answers 'Bad "created_at" query filter format'.
pub fn parse(text: &str) -> Option<(i64, u32)> {
    let s = text.as_bytes();
    if s.len() > MAX_CHARS || !digits(s, 0, 4) {
        return None;
    }
    let mut found = None;
    let mut done = |at: usize, c: &mut Caps| {
        let end = at_end(s, at);
        if end {
            found = Some(*c);
        }
        end
    };
    let mut c = Caps::default();
    let matched = field(s, 4, &mut c, true, &mut |p, c| {
        field(s, p, c, false, &mut |p, c| time(s, p, c, &mut done)) || done(p, c)
    }) || done(4, &mut c);
    if !matched {
        return None;
    }
    let c = found?;
    let num = |r: Span, default: u32| -> Option<u32> {
        match r {
            Some((a, b)) => text.get(a..b)?.parse().ok(),
            None => Some(default),
        }
    };
    // Python's datetime starts at year 1, chrono's before.
    let year = num(Some((0, 4)), 0).filter(|y| *y >= 1)?;
    let date = NaiveDate::from_ymd_opt(year as i32, num(c.month, 1)?, num(c.day, 1)?)?;
    let at = date.and_hms_opt(num(c.hour, 0)?, num(c.minute, 0)?, num(c.second, 0)?)?;
    let micros = c.fraction.map_or(0, |(a, b)| {
        let f = &text[a..b.min(a + 6)];
        f.parse::<u32>().unwrap_or(0) * 10u32.pow(6 - f.len() as u32)
    });
    let offset = match c.zone {
        Some((sign, hours, minutes)) if sign != 0 => {
            let minutes = i64::from(num(hours, 0)?) * 60 + i64::from(num(minutes, 0)?);
            // datetime.timezone takes less than a day either way.
            if minutes >= 24 * 60 {
                return None;
            }
            sign * minutes * 60
        }
        _ => 0,
    };
    Some((at.and_utc().timestamp() - offset, micros))
}
