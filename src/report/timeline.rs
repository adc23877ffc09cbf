//! `dockscope timeline`: what the root records, as one list sorted by time, each event
//! with the file it comes from. Images: created (config `created`), each build step
//! (history `created`), pulled or built here (imagedb metadata `lastUpdated`). Layers:
//! unpacked (the mtime of the overlay2 dir's `diff/`). Containers: created, started,
//! finished (OOM-killed when recorded so, with the exit code and restart count), the
//! first and last lines of a json-file log. With `--files`, the mtime of every entry of
//! the containers' RW layers. As text, JSON, CSV, or a Sleuth Kit bodyfile (3.x:
//! `MD5|name|inode|mode_as_string|UID|GID|size|atime|mtime|ctime|crtime`), which
//! `mactime -b FILE` reads; times the root does not record are 0 there.

use crate::fs::merge::walk;
use crate::fs::target::container_stack;
use crate::fs::{self, Stack};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use serde::Serialize;
use std::ffi::OsStr;
use std::io::{self, BufRead, Read, Write};

#[derive(Serialize, Clone, Debug)]
pub struct Event {
    /// RFC 3339, UTC.
    pub time: String,
    /// Unix seconds (for sorting and the bodyfile).
    pub unix: i64,
    /// `image-created`, `build-step`, `image-pulled-or-built`, `layer-unpacked`,
    /// `container-created`, `container-started`, `container-finished`,
    /// `container-oom-killed`, `log-first-line`, `log-last-line`, `file-modified`.
    pub kind: &'static str,
    /// The image, layer or container (a tag or name when there is one).
    pub object: String,
    pub detail: String,
    /// The file the time was read from, relative to the root.
    pub source: String,
    /// For `file-modified`: mode string, uid, gid, size, inode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
}

#[derive(Serialize, Clone, Debug)]
pub struct FileFacts {
    pub perms: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub inode: u64,
}

#[derive(Serialize)]
pub struct TimelineReport {
    pub events: Vec<Event>,
    pub problems: Vec<Problem>,
}

impl super::Report for TimelineReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

fn parse(t: &str) -> Option<jiff::Timestamp> {
    let ts = t.parse::<jiff::Timestamp>().ok()?;
    // Docker's zero time (0001-01-01) means "never"
    (ts.as_second() > 0).then_some(ts)
}

#[allow(clippy::many_single_char_names)]
/// The first and last `time` of a json-file log, streamed (any size, bounded memory).
fn log_ends(root: &DataRoot, rel: &str) -> io::Result<Option<(String, String, String, String)>> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let (f, _) = root.dir(dir)?.open(OsStr::new(name))?;
    let mut r = io::BufReader::new(f);
    let mut first: Option<(String, String)> = None;
    let mut last: Option<(String, String)> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        // one line at most 1 MiB kept: longer ones are cut (the rest is skipped)
        let n = (&mut r).take(1 << 20).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if !line.ends_with(b"\n") && n == 1 << 20 {
            let mut skip = Vec::new();
            r.read_until(b'\n', &mut skip)?;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        let (Some(t), Some(l)) = (v["time"].as_str(), v["log"].as_str()) else {
            continue;
        };
        let entry = (
            t.to_owned(),
            l.trim_end().chars().take(200).collect::<String>(),
        );
        if first.is_none() {
            first = Some(entry.clone());
        }
        last = Some(entry);
    }
    Ok(first.zip(last).map(|(a, b)| (a.0, a.1, b.0, b.1)))
}

pub fn build(root: &DataRoot, model: &Model, files: bool) -> TimelineReport {
    build_with(root, root, model, files)
}

/// `build`, the layer dirs read from `lroot` (containerd's root on Docker's containerd
/// image store; the Docker root otherwise).
pub fn build_with(root: &DataRoot, lroot: &DataRoot, model: &Model, files: bool) -> TimelineReport {
    let mut ev: Vec<Event> = Vec::new();
    let mut problems = Vec::new();
    let push = |ev: &mut Vec<Event>, t: &str, kind, object: &str, detail: String, source: &str| {
        if let Some(ts) = parse(t) {
            ev.push(Event {
                time: ts.to_string(),
                unix: ts.as_second(),
                kind,
                object: object.to_owned(),
                detail,
                source: source.to_owned(),
                file: None,
            });
        }
    };
    for i in model.loaded_images() {
        let im = &model.images[i];
        let (_, name) = crate::fs::target::describe(model, crate::fs::target::Target::Image(i));
        if let Some(c) = &im.rec.created {
            push(
                &mut ev,
                c,
                "image-created",
                &name,
                im.rec.id.as_str().to_owned(),
                &im.rec.path,
            );
        }
        for h in im.rec.history() {
            if let Some(c) = &h.created {
                let by = h.created_by.clone().unwrap_or_default();
                push(&mut ev, c, "build-step", &name, by, &im.rec.path);
            }
        }
        if let Some(m) = &im.meta {
            if let Some(t) = &m.last_updated {
                let how = if m.built_locally {
                    "built here"
                } else {
                    "pulled or loaded"
                };
                push(
                    &mut ev,
                    t,
                    "image-pulled-or-built",
                    &name,
                    how.to_owned(),
                    &format!("{}/lastUpdated", m.path),
                );
            }
        }
    }
    for l in 0..model.layers.len() {
        let Some(d) = model.layer_dir(l) else {
            continue;
        };
        let rel = fs::files_dir(&model.dirs[d].path);
        let on = if rel.starts_with(crate::scan::containerd::PREFIX) {
            lroot
        } else {
            root
        };
        match on.lstat(fs::rel(&rel)) {
            Ok(m) => ev.push(Event {
                time: super::ls::rfc3339(m.mtime, m.mtime_nsec),
                unix: m.mtime,
                kind: "layer-unpacked",
                object: model.layers[l].chain_id.as_str().to_owned(),
                detail: "mtime of the layer dir (its last change)".into(),
                source: rel,
                file: None,
            }),
            Err(e) => problems.push(Problem::io(rel, &e)),
        }
    }
    for (c, ctr) in model.containers.iter().enumerate() {
        let rec = &ctr.rec;
        let name = rec.name.trim_start_matches('/').to_owned();
        let st = &rec.state;
        push(
            &mut ev,
            &rec.created,
            "container-created",
            &name,
            rec.id.as_str().to_owned(),
            &rec.path,
        );
        push(
            &mut ev,
            &st.started_at,
            "container-started",
            &name,
            format!("restart count {}", rec.restart_count),
            &rec.path,
        );
        let kind = if st.oom_killed {
            "container-oom-killed"
        } else {
            "container-finished"
        };
        if !st.running {
            push(
                &mut ev,
                &st.finished_at,
                kind,
                &name,
                format!("exit code {}", st.exit_code),
                &rec.path,
            );
        }
        let log = format!(
            "containers/{}/{}-json.log",
            rec.id.as_str(),
            rec.id.as_str()
        );
        // the oldest rotated file (`-json.log.N`, highest N) holds the first line
        let oldest = (1..=100)
            .rev()
            .map(|n| format!("{log}.{n}"))
            .find(|p| root.lstat(p).is_ok())
            .unwrap_or_else(|| log.clone());
        let mut ends = |file: &str| match log_ends(root, file) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(Problem::io(file.to_owned(), &e));
                None
            }
        };
        if let Some((t1, l1, _, _)) = ends(&oldest) {
            push(&mut ev, &t1, "log-first-line", &name, l1, &oldest);
        }
        if let Some((_, _, t2, l2)) = ends(&log) {
            push(&mut ev, &t2, "log-last-line", &name, l2, &log);
        }
        if files {
            if let Some(s) = container_stack(model, c, &mut problems) {
                let one = Stack {
                    layers: vec![s.layers[0].clone()],
                    raw: true,
                    ..Stack::default()
                };
                let top = one.open(lroot, &mut problems);
                let src = one.layers[0].dir.clone();
                walk(&one, top, b"", &mut problems, |p, e, _| {
                    let m = &e.meta;
                    ev.push(Event {
                        time: super::ls::rfc3339(m.mtime, m.mtime_nsec),
                        unix: m.mtime,
                        kind: "file-modified",
                        object: name.clone(),
                        detail: if e.whiteout {
                            format!("{} (deleted: whiteout)", fs::shown(p))
                        } else {
                            fs::shown(p)
                        },
                        source: format!("{src}/{}", fs::lossy(p)),
                        file: Some(FileFacts {
                            perms: super::ls::perms(m),
                            uid: m.uid,
                            gid: m.gid,
                            size: m.len,
                            inode: m.ino,
                        }),
                    });
                    true
                });
            }
        }
    }
    // A build step shared by several images (their common ancestry) is one event.
    let mut steps: std::collections::BTreeMap<(String, String, String), Vec<String>> =
        std::collections::BTreeMap::new();
    ev.retain(|e| {
        if e.kind != "build-step" {
            return true;
        }
        steps
            .entry((e.time.clone(), e.detail.clone(), e.source.clone()))
            .or_default()
            .push(e.object.clone());
        false
    });
    let mut merged: std::collections::BTreeMap<(String, String), (String, i64, Vec<String>)> =
        std::collections::BTreeMap::new();
    for ((time, detail, source), objects) in steps {
        let unix = parse(&time).map_or(0, jiff::Timestamp::as_second);
        let m = merged
            .entry((time, detail))
            .or_insert_with(|| (source, unix, Vec::new()));
        m.2.extend(objects);
    }
    for ((time, detail), (source, unix, mut objects)) in merged {
        // tagged images first, then ids
        objects.sort_by_key(|o| (o.starts_with("sha256:"), o.clone()));
        objects.dedup();
        let object = if objects.len() > 1 {
            format!("{} (and {} other images)", objects[0], objects.len() - 1)
        } else {
            objects.swap_remove(0)
        };
        ev.push(Event {
            time,
            unix,
            kind: "build-step",
            object,
            detail,
            source,
            file: None,
        });
    }
    ev.sort_by(|a, b| {
        (&a.time, a.kind, &a.object, &a.detail).cmp(&(&b.time, b.kind, &b.object, &b.detail))
    });
    problems.sort();
    problems.dedup();
    TimelineReport {
        events: ev,
        problems,
    }
}

pub fn render(r: &TimelineReport, out: &mut dyn Write) -> io::Result<()> {
    for e in &r.events {
        writeln!(
            out,
            "{}  {:<22} {}  {}  [{}]",
            super::human_time(&e.time),
            e.kind,
            super::sanitize(&e.object),
            super::sanitize(&e.detail),
            super::sanitize(&e.source)
        )?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn render_csv(r: &TimelineReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "time,kind,object,detail,source")?;
    for e in &r.events {
        writeln!(
            out,
            "{},{},{},{},{}",
            e.time,
            e.kind,
            csv_field(&e.object),
            csv_field(&e.detail),
            csv_field(&e.source)
        )?;
    }
    Ok(())
}

/// The bodyfile: the event's time as mtime (the files' own mtime for `--files`).
pub fn render_bodyfile(r: &TimelineReport, out: &mut dyn Write) -> io::Result<()> {
    for e in &r.events {
        let name = format!("[{}] {}: {} ({})", e.kind, e.object, e.detail, e.source)
            .replace(['|', '\n', '\r'], " ");
        let (mode, uid, gid, size, inode) = match &e.file {
            Some(f) => (f.perms.clone(), f.uid, f.gid, f.size, f.inode),
            None => ("----------".to_owned(), 0, 0, 0, 0),
        };
        writeln!(
            out,
            "0|{name}|{inode}|{mode}|{uid}|{gid}|{size}|0|{}|0|0",
            e.unix
        )?;
    }
    Ok(())
}
