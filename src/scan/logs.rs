//! Container logs as the daemon wrote them, read offline: the `json-file` driver's
//! `<id>-json.log` (one JSON object a line) and the `local` driver's framed files
//! (`local-logs/container.log`; also `container-cached.log`, the cache the daemon keeps
//! for `docker logs` when a container logs to a remote driver), each with its rotated
//! files `.1`, `.2`, … and their compressed forms `.N.gz`.
//!
//! The local format: each entry is a protobuf `LogEntry` message (`source` = 1,
//! `time_nano` = 2, `line` = 3, `partial` = 4) between two copies of its length as a
//! 4-byte big-endian number.

use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use crate::scan::containers::ContainerRec;
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};

/// A json-file line or a local frame longer than this is damaged (Docker splits
/// messages at 16 KiB; its local driver refuses frames over 1 MiB).
const MAX_ENTRY: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    JsonFile,
    Local,
}

/// One log file, oldest first in a `LogSet`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogFile {
    /// Relative to the root.
    pub path: String,
    pub compressed: bool,
}

/// Where a container's logs are and how they are written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogSet {
    /// The container's `LogConfig.Type` (`json-file` when empty, as Docker defaults).
    pub driver: String,
    pub format: Format,
    /// Oldest first: `.N(.gz)` … `.1(.gz)`, then the live file.
    pub files: Vec<LogFile>,
}

/// One entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub stream: String,
    pub time: Option<jiff::Timestamp>,
    pub line: Vec<u8>,
}

/// The files of a container's log, found by listing its directory.
pub fn log_set(root: &DataRoot, c: &ContainerRec) -> (LogSet, Vec<Problem>) {
    let id = c.id.as_str();
    let driver = match c.host.log_config.kind.as_str() {
        "" => "json-file".to_owned(),
        d => d.to_owned(),
    };
    let (dir, base, format) = match driver.as_str() {
        "json-file" => (
            format!("containers/{id}"),
            format!("{id}-json.log"),
            Format::JsonFile,
        ),
        "local" => (
            format!("containers/{id}/local-logs"),
            "container.log".to_owned(),
            Format::Local,
        ),
        _ => (
            format!("containers/{id}"),
            "container-cached.log".to_owned(),
            Format::Local,
        ),
    };
    let mut problems = Vec::new();
    let mut found: Vec<(u64, LogFile)> = Vec::new();
    match root.dir(&dir) {
        Ok(d) => match d.entries() {
            Ok(entries) => {
                for e in entries {
                    let Some(name) = e.name_str() else { continue };
                    let Some(rest) = name.strip_prefix(base.as_str()) else {
                        continue;
                    };
                    let (rest, compressed) = match rest.strip_suffix(".gz") {
                        Some(r) => (r, true),
                        None => (rest, false),
                    };
                    let n = if rest.is_empty() && !compressed {
                        0
                    } else if let Some(num) = rest.strip_prefix('.') {
                        match num.parse::<u64>() {
                            Ok(n) if n > 0 => n,
                            _ => continue,
                        }
                    } else {
                        continue;
                    };
                    found.push((
                        n,
                        LogFile {
                            path: format!("{dir}/{name}"),
                            compressed,
                        },
                    ));
                }
            }
            Err(e) => problems.push(Problem::io(dir.clone(), &e)),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => problems.push(Problem::io(dir.clone(), &e)),
    }
    // Oldest first: the highest rotation number, down to the live file (0).
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.path.cmp(&b.1.path)));
    (
        LogSet {
            driver,
            format,
            files: found.into_iter().map(|(_, f)| f).collect(),
        },
        problems,
    )
}

#[derive(serde::Deserialize)]
struct JsonLine {
    log: String,
    #[serde(default)]
    stream: String,
    time: String,
}

fn damaged(path: &str, n: u64, what: impl Into<String>) -> Problem {
    Problem::new(format!("{path}:{n}"), ProblemKind::Malformed, what)
}

/// Read a varint; `None` at a truncation or past 10 bytes.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in 0..10 {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Decode one protobuf `LogEntry`.
fn decode_local(b: &[u8]) -> Option<Entry> {
    let mut at = 0usize;
    let mut e = Entry {
        stream: String::new(),
        time: None,
        line: Vec::new(),
    };
    while at < b.len() {
        let key = varint(b, &mut at)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = varint(b, &mut at)?;
                if field == 2 {
                    // int64 on the wire: the varint holds its two's complement.
                    let nanos = i128::from(i64::from_ne_bytes(v.to_ne_bytes()));
                    e.time = jiff::Timestamp::from_nanosecond(nanos).ok();
                }
            }
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len)?;
                let bytes = b.get(at..end)?;
                at = end;
                match field {
                    1 => e.stream = String::from_utf8_lossy(bytes).into_owned(),
                    3 => e.line = bytes.to_vec(),
                    _ => {}
                }
            }
            1 => at = at.checked_add(8)?,
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    (at == b.len()).then_some(e)
}

/// Read every entry of the set, oldest first, handing each to `each` (which returns
/// false to stop). A damaged line or frame is a problem named `file:line` (json-file)
/// or `file:entry` (local) and is skipped; a file that cannot be read is a problem too.
pub fn read(
    root: &DataRoot,
    set: &LogSet,
    problems: &mut Vec<Problem>,
    each: &mut dyn FnMut(Entry) -> io::Result<bool>,
) -> io::Result<()> {
    for f in &set.files {
        let (parent, name) = f.path.rsplit_once('/').unwrap_or(("", &f.path));
        let opened = root.dir(parent).and_then(|d| d.open(OsStr::new(name)));
        let reader = match opened {
            Ok((r, _)) => r,
            Err(e) => {
                problems.push(Problem::io(f.path.clone(), &e));
                continue;
            }
        };
        let reader: Box<dyn Read> = if f.compressed {
            Box::new(flate2::read::MultiGzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        let mut r = BufReader::with_capacity(64 << 10, reader);
        let go_on = match set.format {
            Format::JsonFile => read_json_file(&f.path, &mut r, problems, each)?,
            Format::Local => read_local(&f.path, &mut r, problems, each)?,
        };
        if !go_on {
            return Ok(());
        }
    }
    Ok(())
}

fn read_json_file(
    path: &str,
    reader: &mut dyn BufRead,
    problems: &mut Vec<Problem>,
    each: &mut dyn FnMut(Entry) -> io::Result<bool>,
) -> io::Result<bool> {
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let got = match reader
            .take(MAX_ENTRY as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(g) => g,
            Err(e) => {
                problems.push(Problem::io(format!("{path}:{}", n + 1), &e));
                return Ok(true);
            }
        };
        if got == 0 {
            return Ok(true);
        }
        n += 1;
        if buf.len() > MAX_ENTRY && buf.last() != Some(&b'\n') {
            problems.push(damaged(path, n, format!("a line over {MAX_ENTRY} bytes")));
            // Skip to the end of this line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let g = reader.take(1 << 20).read_until(b'\n', &mut rest)?;
                if g == 0 || rest.last() == Some(&b'\n') {
                    break;
                }
            }
            continue;
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<JsonLine>(text) {
            Ok(j) => match j.time.parse::<jiff::Timestamp>() {
                Ok(t) => {
                    let e = Entry {
                        stream: j.stream,
                        time: Some(t),
                        line: j.log.into_bytes(),
                    };
                    if !each(e)? {
                        return Ok(false);
                    }
                }
                Err(e) => problems.push(damaged(path, n, format!("time {:?}: {e}", j.time))),
            },
            Err(e) => problems.push(damaged(path, n, format!("not a json-file log entry: {e}"))),
        }
    }
}

fn read_local(
    path: &str,
    reader: &mut dyn BufRead,
    problems: &mut Vec<Problem>,
    each: &mut dyn FnMut(Entry) -> io::Result<bool>,
) -> io::Result<bool> {
    let mut n = 0u64;
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(true),
            Err(e) => {
                problems.push(Problem::io(path.to_owned(), &e));
                return Ok(true);
            }
        }
        n += 1;
        let size = u32::from_be_bytes(len) as usize;
        if size > MAX_ENTRY {
            problems.push(damaged(
                path,
                n,
                format!("entry of {size} bytes: not a local-driver frame; the rest of the file is not read"),
            ));
            return Ok(true);
        }
        let mut msg = vec![0u8; size + 4];
        if let Err(e) = reader.read_exact(&mut msg) {
            problems.push(damaged(path, n, format!("truncated entry: {e}")));
            return Ok(true);
        }
        let (body, tail) = msg.split_at(size);
        if tail != len {
            problems.push(damaged(
                path,
                n,
                "the entry's closing length differs from its opening one; the rest of the file is not read",
            ));
            return Ok(true);
        }
        match decode_local(body) {
            Some(e) => {
                if !each(e)? {
                    return Ok(false);
                }
            }
            None => problems.push(damaged(path, n, "not a protobuf log entry")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_log_entry() {
        // source "stdout", time_nano 1_500_000_000_123_456_789, line "hi\n".
        let mut b = vec![0x0a, 6];
        b.extend_from_slice(b"stdout");
        b.push(0x10);
        let mut v: u64 = 1_500_000_000_123_456_789;
        while v >= 0x80 {
            b.push((v as u8) | 0x80);
            v >>= 7;
        }
        b.push(v as u8);
        b.extend_from_slice(&[0x1a, 3, b'h', b'i', b'\n']);
        let e = decode_local(&b).unwrap();
        assert_eq!(e.stream, "stdout");
        assert_eq!(e.line, b"hi\n");
        assert_eq!(
            e.time.unwrap().as_nanosecond(),
            1_500_000_000_123_456_789_i128
        );
        assert!(decode_local(&b[..b.len() - 1]).is_none());
    }
}
