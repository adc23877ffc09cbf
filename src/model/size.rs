//! Sizes as Docker parses and sums them.
//!
//! Docker reads a layer's `size` file with `strconv.ParseInt(s, 10, 64)`: an int64,
//! decimal, an optional sign, nothing else (no space, no newline). It sums sizes as
//! int64. Here every sum is checked: a total beyond int64 is never wrapped into a small
//! number; it is shown capped at the int64 maximum and a problem names the files.

/// The largest size Docker can hold (int64).
pub const MAX: u64 = i64::MAX as u64;

/// `strconv.ParseInt(s, 10, 64)`: `Err` says why Docker would refuse it.
pub fn parse_int64(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
            "out of int64 range".to_owned()
        }
        _ => "not a decimal integer".to_owned(),
    })
}

/// `a + b` within int64; `None` past it.
pub fn add(a: u64, b: u64) -> Option<u64> {
    a.checked_add(b).filter(|&s| s <= MAX)
}

/// The sum within int64; `None` past it.
pub fn sum<I: IntoIterator<Item = u64>>(items: I) -> Option<u64> {
    items.into_iter().try_fold(0u64, add)
}

/// The sum, capped at the int64 maximum (the caller reports the overflow).
pub fn sum_capped<I: IntoIterator<Item = u64>>(items: I) -> u64 {
    sum(items).unwrap_or(MAX)
}

/// `a + b`, capped at the int64 maximum.
pub fn add_capped(a: u64, b: u64) -> u64 {
    add(a, b).unwrap_or(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go_parse_int() {
        assert_eq!(parse_int64("36"), Ok(36));
        assert_eq!(parse_int64("-5"), Ok(-5));
        assert_eq!(parse_int64("+5"), Ok(5));
        assert_eq!(parse_int64("9223372036854775807"), Ok(i64::MAX));
        assert!(parse_int64("9223372036854775808")
            .unwrap_err()
            .contains("range"));
        for bad in ["", " 1", "1\n", "0x10", "1_000", "1.0", "-"] {
            assert!(parse_int64(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sums_never_wrap() {
        let half = 1u64 << 62;
        assert_eq!(sum([half, half - 1]), Some(MAX));
        assert_eq!(sum([half, half]), None);
        assert_eq!(sum([u64::MAX, 37]), None);
        assert_eq!(sum_capped([MAX, 36]), MAX);
        assert_eq!(add_capped(1, 2), 3);
    }
}
