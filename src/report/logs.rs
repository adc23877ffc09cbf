//! `dockscope logs CONTAINER`: what `docker logs` would print, from the files on disk.
//! stdout entries go to stdout and stderr entries to stderr, as docker prints them.

use super::sanitize;
use crate::exit::ExitStatus;
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::scan::logs::{self, Entry, LogSet};
use crate::Fatal;
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{self, Write};

/// What to print.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    /// The last N entries (`None`: all).
    pub tail: Option<usize>,
    pub timestamps: bool,
}

/// docker's `--since`/`--until` forms (`timetypes.GetTimestamp`): a Go duration
/// (`10m`, `1h30m`, `1.5h`) before `now`, an RFC 3339 time (`2026-11-25T14:33:10Z`,
/// with or without seconds' fraction and zone: no zone is UTC here), a date
/// (`2026-11-25`), or Unix seconds (`1795617190`, `1795617190.5`).
pub fn parse_time(value: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp, String> {
    let bad = || {
        format!("invalid time {value:?}: use a duration (10m, 1h30m), an RFC 3339 time (2026-11-25T14:33:10Z), a date, or Unix seconds")
    };
    if value != "0" {
        if let Some(nanos) = go_duration(value) {
            let d = jiff::SignedDuration::from_nanos(i64::try_from(nanos).map_err(|_| bad())?);
            return now.checked_sub(d).map_err(|_| bad());
        }
    }
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = value.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    if let Ok(d) = value.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let s: i64 = secs.parse().map_err(|_| bad())?;
        let n: i32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        return jiff::Timestamp::new(s, n).map_err(|_| bad());
    }
    Err(bad())
}

/// Go's `time.ParseDuration` (non-negative), in nanoseconds.
fn go_duration(s: &str) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * mult;
    }
    // Non-negative and below 1e20 here, so the conversion is exact enough and in range.
    #[allow(clippy::cast_sign_loss)]
    (total.is_finite() && (0.0..1e20).contains(&total)).then_some(total as u128)
}

/// docker's timestamp prefix (`jsonmessage.RFC3339NanoFixed`): nine fraction digits.
pub fn fixed_time(t: jiff::Timestamp) -> String {
    format!(
        "{}.{:09}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_nanosecond()
    )
}

#[derive(Serialize)]
struct JsonEntry<'a> {
    time: Option<String>,
    stream: &'a str,
    log: String,
}

fn keep(e: &Entry, opts: &Options) -> bool {
    match e.time {
        Some(t) => opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t <= u),
        None => opts.since.is_none() && opts.until.is_none(),
    }
}

fn emit_entry(
    e: &Entry,
    opts: &Options,
    json: bool,
    first: &mut bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    if json {
        let j = JsonEntry {
            time: e.time.map(fixed_time),
            stream: &e.stream,
            log: String::from_utf8_lossy(&e.line).into_owned(),
        };
        if !*first {
            out.write_all(b",\n")?;
        }
        *first = false;
        out.write_all(b"    ")?;
        serde_json::to_writer(&mut *out, &j)?;
        return Ok(());
    }
    let w: &mut dyn Write = if e.stream == "stderr" { err } else { out };
    if opts.timestamps {
        if let Some(t) = e.time {
            write!(w, "{} ", fixed_time(t))?;
        }
    }
    w.write_all(&e.line)
}

/// Print a container's log. Problems (damaged lines, unreadable files) go to stderr at
/// the end, or into the JSON.
pub fn run(
    root: &DataRoot,
    model: &Model,
    name: &str,
    opts: &Options,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitStatus, Fatal> {
    let c = match super::inspect::resolve_container(model, name) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Fatal::Usage(format!(
                "No such container: {}",
                sanitize(name)
            )))
        }
        Err(e) => return Err(Fatal::Usage(e.to_string())),
    };
    let rec = &model.containers[c].rec;
    if root.is_archive() {
        // The archive index keeps metadata files only, never log contents (they are bulk).
        return Err(Fatal::Usage(format!(
            "logs of {}: log files are not read from an archive; unpack it and give the directory",
            sanitize(rec.name.trim_start_matches('/'))
        )));
    }
    let (set, mut problems): (LogSet, Vec<Problem>) = logs::log_set(root, rec);
    if set.files.is_empty() && set.driver != "json-file" && set.driver != "local" {
        problems.push(Problem::new(
            format!("containers/{}", rec.id.as_str()),
            crate::problem::ProblemKind::Missing,
            format!(
                "the container logs to {:?} and no local cache (container-cached.log) was kept",
                set.driver
            ),
        ));
    }
    let mut first = true;
    if json {
        #[derive(Serialize)]
        struct Head<'a> {
            container: &'a str,
            name: &'a str,
            driver: &'a str,
            format: logs::Format,
            files: &'a [logs::LogFile],
        }
        let head = serde_json::to_value(Head {
            container: rec.id.as_str(),
            name: rec.name.trim_start_matches('/'),
            driver: &set.driver,
            format: set.format,
            files: &set.files,
        })
        .map_err(io::Error::from)?;
        let mut text = serde_json::to_string_pretty(&head).map_err(io::Error::from)?;
        // Open the object again to stream the entries into it.
        text.truncate(text.trim_end().len().saturating_sub(1));
        write!(out, "{}", text.trim_end())?;
        write!(out, ",\n  \"entries\": [\n")?;
    }
    match opts.tail {
        Some(n) => {
            let mut last: VecDeque<Entry> = VecDeque::with_capacity(n.min(1 << 16));
            logs::read(root, &set, &mut problems, &mut |e| {
                if keep(&e, opts) {
                    if n > 0 {
                        if last.len() == n {
                            last.pop_front();
                        }
                        last.push_back(e);
                    }
                } else if opts.until.is_some_and(|u| e.time.is_some_and(|t| t > u)) {
                    return Ok(false);
                }
                Ok(true)
            })?;
            for e in &last {
                emit_entry(e, opts, json, &mut first, out, err)?;
            }
        }
        None => {
            logs::read(root, &set, &mut problems, &mut |e| {
                if keep(&e, opts) {
                    emit_entry(&e, opts, json, &mut first, out, err)?;
                } else if opts.until.is_some_and(|u| e.time.is_some_and(|t| t > u)) {
                    return Ok(false);
                }
                Ok(true)
            })?;
        }
    }
    if json {
        write!(out, "\n  ],\n  \"problems\": ")?;
        serde_json::to_writer_pretty(&mut *out, &problems).map_err(io::Error::from)?;
        writeln!(out, "\n}}")?;
    } else {
        out.flush()?;
        super::write_problems(&problems, err)?;
    }
    Ok(ExitStatus::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_docker_reads_them() {
        let now: jiff::Timestamp = "2026-11-25T15:00:00Z".parse().unwrap();
        let t = |s: &str| parse_time(s, now).unwrap().to_string();
        assert_eq!(t("10m"), "2026-11-25T14:50:00Z");
        assert_eq!(t("1h30m"), "2026-11-25T13:30:00Z");
        assert_eq!(t("1.5h"), "2026-11-25T13:30:00Z");
        assert_eq!(t("2026-11-25T14:33:10.5Z"), "2026-11-25T14:33:10.5Z");
        assert_eq!(t("2026-11-25T14:33:10+01:00"), "2026-11-25T13:33:10Z");
        assert_eq!(t("2026-11-25T14:33:10"), "2026-11-25T14:33:10Z");
        assert_eq!(t("2026-11-25"), "2026-11-25T00:00:00Z");
        assert_eq!(t("1795617190"), "2026-11-25T14:33:10Z");
        assert_eq!(t("1795617190.25"), "2026-11-25T14:33:10.25Z");
        assert_eq!(t("0"), "1970-01-01T00:00:00Z");
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("10x", now).is_err());
        assert_eq!(
            fixed_time("2026-11-25T14:33:10.5Z".parse().unwrap()),
            "2026-11-25T14:33:10.500000000Z"
        );
    }
}
