//! Graph -> output. Each report builds one plain `Serialize` struct from the model, then
//! renders it as a table for people or as JSON for programs (schema: docs/json.md).
//! Reports never touch the disk.

pub mod c8d;
pub mod c8d_orphans;
pub mod check;
pub mod color;
pub mod diff;
pub mod du;
pub mod export;
pub mod filter;
pub mod find;
pub mod format;
pub mod history;
pub mod images;
pub mod info;
pub mod inspect;
pub mod logs;
pub mod ls;
pub mod orphans;
pub mod ps;
pub mod timeline;
pub mod trace;
pub mod tree;
pub mod verify;
pub mod volumes;
pub mod waste;

use crate::model::resolve::Resolved;
use crate::model::Model;
use crate::problem::Problem;
use crate::Fatal;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use std::io::{self, Write};

/// Every report carries what could not be read.
pub trait Report: Serialize {
    fn problems(&self) -> &[Problem];

    /// The report as pretty JSON and a newline (a report with one long list may write
    /// it faster, byte for byte the same).
    fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        // A concrete buffer in front of `out`: the serializer's many small writes are
        // copies here, not calls through `dyn Write`.
        let mut buf = io::BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut buf, self)?;
        writeln!(buf)?;
        buf.flush()
    }
}

/// `{"<key>": items, "problems": problems}` and a newline, byte for byte as
/// `serde_json::to_writer_pretty` prints it, with the items serialized in parallel.
pub fn write_list_json<T: Serialize + Sync>(
    key: &str,
    items: &[T],
    problems: &[Problem],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut buf = io::BufWriter::with_capacity(1 << 16, out);
    buf.write_all(b"{\n  ")?;
    serde_json::to_writer(&mut buf, key)?;
    buf.write_all(b": ")?;
    write_pretty_seq(items, &mut buf)?;
    buf.write_all(b",\n  \"problems\": ")?;
    write_pretty_seq(problems, &mut buf)?;
    buf.write_all(b"\n}\n")?;
    buf.flush()
}

/// A list one level deep in a pretty-printed object, as serde_json prints it there:
/// each item is printed on its own (in parallel, in chunks) and indented one level
/// further. Only structural newlines are raw in JSON (one in a string is `\n`), so
/// indenting after each newline byte is exact. At most `BATCH` items are held as text
/// at once: the output is not kept whole in memory.
fn write_pretty_seq<T: Serialize + Sync>(items: &[T], out: &mut impl Write) -> io::Result<()> {
    use rayon::prelude::*;
    const INDENT: &[u8] = b"    ";
    const CHUNK: usize = 256;
    const BATCH: usize = 16 * CHUNK;
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    for (b, batch) in items.chunks(BATCH).enumerate() {
        let chunks: Vec<Vec<u8>> = batch
            .par_chunks(CHUNK)
            .map(|chunk| -> io::Result<Vec<u8>> {
                let mut text = Vec::new();
                let mut one = Vec::new();
                for item in chunk {
                    one.clear();
                    serde_json::to_writer_pretty(&mut one, item)?;
                    text.extend_from_slice(b",\n");
                    text.extend_from_slice(INDENT);
                    for (i, line) in one.split(|&b| b == b'\n').enumerate() {
                        if i > 0 {
                            text.push(b'\n');
                            text.extend_from_slice(INDENT);
                        }
                        text.extend_from_slice(line);
                    }
                }
                Ok(text)
            })
            .collect::<io::Result<_>>()?;
        for (i, c) in chunks.iter().enumerate() {
            // each chunk starts with the separator; the first item follows the bracket
            out.write_all(if b == 0 && i == 0 { &c[1..] } else { c })?;
        }
    }
    out.write_all(b"\n  ]")
}

/// Print a report: JSON on `out`, or the human rendering on `out` and the problems
/// as a footer on `err`.
pub fn emit<T: Report>(
    report: &T,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    render: fn(&T, &mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if json {
        return report.write_json(out);
    }
    render(report, out)?;
    write_problems(report.problems(), err)
}

/// The footer every human report ends with on stderr.
pub fn write_problems(problems: &[Problem], err: &mut dyn Write) -> io::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    writeln!(
        err,
        "\n{} problem(s) met; what they name was not read or not used:",
        problems.len()
    )?;
    for p in problems {
        writeln!(err, "  {}", sanitize(&p.to_string()))?;
    }
    Ok(())
}

/// Resolve IMAGE or fail with docker's words.
pub fn resolve_or_fail(model: &Model, name: &str) -> Result<usize, Fatal> {
    resolved_or_fail(model, name, model.resolve_image(name))
}

/// A resolution of IMAGE, or the failure in docker's words.
pub fn resolved_or_fail(model: &Model, name: &str, resolved: Resolved) -> Result<usize, Fatal> {
    match resolved {
        Resolved::Found(i) => Ok(i),
        Resolved::NotFound => Err(Fatal::Usage(model.not_found_message(name))),
        Resolved::Ambiguous(hits) => {
            let list: Vec<String> = hits
                .iter()
                .map(|&i| {
                    let im = &model.images[i];
                    let tags: Vec<&str> = model
                        .image_refs(i)
                        .iter()
                        .map(|r| r.reference.as_str())
                        .collect();
                    if tags.is_empty() {
                        format!("  {}", im.rec.id)
                    } else {
                        format!("  {} ({})", im.rec.id, tags.join(", "))
                    }
                })
                .collect();
            Err(Fatal::Usage(format!(
                "image id prefix {} is ambiguous; it matches:\n{}",
                sanitize(name),
                list.join("\n")
            )))
        }
    }
}

/// A size as docker prints it: decimal units, three significant digits (`1.15MB`).
pub fn human_size(bytes: u64) -> String {
    let mut scaled = bytes as f64;
    let mut steps = 0;
    while scaled >= 999.5 && steps < 6 {
        scaled /= 1000.0;
        steps += 1;
    }
    let places = if steps == 0 || scaled >= 99.95 {
        0
    } else if scaled >= 9.995 {
        1
    } else {
        2
    };
    let opts = humansize::FormatSizeOptions::from(humansize::DECIMAL)
        .decimal_places(places)
        .space_after_value(false);
    let s = humansize::format_size(bytes, opts);
    // Like Go's %g, which docker uses: no trailing zeros ("2MB", not "2.00MB").
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.contains('.') {
        format!("{}{unit}", num.trim_end_matches('0').trim_end_matches('.'))
    } else {
        s
    }
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` UTC; as given when it does not parse.
pub fn human_time(t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => sanitize(t),
    }
}

/// The one escaper of text output: names from a compromised root (paths, tags, container
/// names, commands) may carry newlines that fake lines of output, or terminal escapes.
/// Newlines, tabs and carriage returns show as `\n`, `\t`, `\r`, other control
/// characters as `\u{1b}`; everything else is kept. JSON output is escaped by JSON itself.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A name from a directory listing that may not be UTF-8, for JSON and keys: valid UTF-8
/// kept as it is, each other byte as `\xNN` (docs/json.md).
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\x{byte:02x}"));
        }
    }
    out
}

/// Bytes from a directory listing (maybe not UTF-8) as text: valid UTF-8 as
/// `sanitize` shows it, each other byte as `\xNN`.
pub fn sanitize_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\x{byte:02x}"));
        }
    }
    out
}

/// A borderless table like docker's.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    t
}

/// Print a table without the trailing spaces comfy-table pads lines with.
pub fn write_table(mut t: Table, out: &mut dyn Write) -> io::Result<()> {
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    // A safety net under the renderers' own escaping: control characters in cells are
    // escaped (a newline stays: some cells hold several lines on purpose).
    let rows = t.row_iter().len();
    for i in 0..rows {
        if let Some(row) = t.row_mut(i) {
            let odd = row
                .cell_iter()
                .any(|c| c.content().chars().any(|ch| ch.is_control() && ch != '\n'));
            if odd {
                let cells: Vec<String> = row
                    .cell_iter()
                    .map(|c| {
                        c.content()
                            .split('\n')
                            .map(sanitize)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .collect();
                *row = comfy_table::Row::from(cells);
            }
        }
    }
    for line in t.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(12), "12B");
        assert_eq!(human_size(307_219), "307kB");
        assert_eq!(human_size(1_146_369), "1.15MB");
        assert_eq!(human_size(5_574_537), "5.57MB");
        assert_eq!(human_size(12_300_000), "12.3MB");
        assert_eq!(human_size(1_999_494), "2MB");
        assert_eq!(human_size(8_198), "8.2kB");
    }

    #[test]
    fn escapes_are_shown_not_sent() {
        assert_eq!(sanitize("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(sanitize("plain"), "plain");
        assert_eq!(sanitize("a\nfake line\tx\r"), "a\\nfake line\\tx\\r");
        assert_eq!(sanitize_bytes(b"ok\xff\n"), "ok\\xff\\n");
    }

    #[test]
    fn times() {
        assert_eq!(
            human_time("2018-04-05T10:41:28.876407948Z"),
            "2018-04-05 10:41:28"
        );
        assert_eq!(human_time("garbage"), "garbage");
    }

    /// The parallel list writer prints what serde_json prints, for lists of every length
    /// around its chunk size, nested values, and strings holding escaped newlines.
    #[test]
    fn list_json_is_serde_json_pretty_byte_for_byte() {
        use crate::problem::{Problem, ProblemKind};
        #[derive(Serialize)]
        struct Whole<'a> {
            images: &'a [serde_json::Value],
            problems: &'a [Problem],
        }
        for n in [0usize, 1, 2, 255, 256, 257, 600, 4095, 4096, 4097, 9000] {
            let items: Vec<serde_json::Value> = (0..n)
                .map(|i| {
                    serde_json::json!({
                        "id": format!("sha256:{i:064x}"),
                        "tags": if i % 3 == 0 { vec![] } else { vec![format!("app{i}:v0")] },
                        "nested": {"a": [1, 2, {"b": null}], "empty": {}},
                        "text": format!("line one\nline \"two\"\t{i}"),
                    })
                })
                .collect();
            let problems: Vec<Problem> = (0..n % 3)
                .map(|i| Problem::new(format!("p/{i}"), ProblemKind::Malformed, "bad\nvalue"))
                .collect();
            let mut ours = Vec::new();
            write_list_json("images", &items, &problems, &mut ours).unwrap();
            let whole = Whole {
                images: &items,
                problems: &problems,
            };
            let theirs = serde_json::to_string_pretty(&whole).unwrap() + "\n";
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{n} items");
        }
    }
}
