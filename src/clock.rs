//! The instant that time-dependent judgements are made at: now, or `--as-of` (the time
//! an evidence disk was imaged, or a sample root recorded). Lease expiry, "N hours ago"
//! and `--since`/`--until` durations read it.

use std::sync::RwLock;

static AS_OF: RwLock<Option<jiff::Timestamp>> = RwLock::new(None);

/// Judge as of `t` (`None`: now) from here on; each run of a command sets it first.
pub fn set_as_of(t: Option<jiff::Timestamp>) {
    if let Ok(mut at) = AS_OF.write() {
        *at = t;
    }
}

/// `--as-of` when given, else the system clock.
pub fn now() -> jiff::Timestamp {
    AS_OF
        .read()
        .ok()
        .and_then(|at| *at)
        .unwrap_or_else(jiff::Timestamp::now)
}

/// `--as-of`'s value: RFC 3339 (`2026-11-29T19:26:04Z`) or Unix seconds.
pub fn parse(s: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return jiff::Timestamp::from_second(secs).map_err(|e| format!("{s:?}: {e}"));
    }
    s.parse::<jiff::Timestamp>().map_err(|e| {
        format!("{s:?} is neither RFC 3339 (2026-11-29T19:26:04Z) nor Unix seconds: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn as_of_takes_rfc3339_and_unix_seconds() {
        assert_eq!(
            parse("2026-11-29T19:26:04Z").unwrap().as_second(),
            1_795_980_364
        );
        assert_eq!(parse("1795980364").unwrap().as_second(), 1_795_980_364);
        assert!(parse("yesterday").is_err());
    }
}
