//! `dockscope trace PATH [IMAGE|CONTAINER]`: the life of one path through a stack,
//! base layer first: the layer that created it, each that changed it (type, mode,
//! owner, size, link target, SHA-256 of the content), the one that deleted it (a
//! whiteout, or a parent deleted, replaced by a non-directory or made opaque), and a
//! container's own change, each with the build step (history `created_by`) that made
//! the layer. The path is taken literally: symlinks along it are not followed (each
//! layer holds the names it holds). Without a target, every image and container whose
//! stack touches the path is traced.

use crate::fs::merge::type_name;
use crate::fs::target::{self, container_stack, image_stack};
use crate::fs::{self, absent, dir_is_opaque, is_whiteout, LayerInfo, Stack};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::{DataRoot, FileKind, Meta};
use crate::Fatal;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// What one layer holds at the path.
#[derive(Clone, Debug, PartialEq)]
enum Probe {
    Absent,
    /// The path itself, with its link target and content hash.
    Present(Meta, Option<String>, Option<String>),
    Whiteout,
    /// The layer hides the path: a parent deleted, replaced, or opaque here.
    Hidden(String),
}

/// The state of the path after a layer.
#[derive(Clone, Debug, PartialEq)]
struct State {
    meta: Meta,
    link: Option<String>,
    sha256: Option<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Event {
    /// `created`, `changed` or `deleted`.
    pub kind: &'static str,
    /// The stack index (top first) of the layer.
    pub layer_index: usize,
    pub layer: LayerInfo,
    #[serde(rename = "type")]
    pub file_type: Option<&'static str>,
    pub mode: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub mtime: Option<String>,
    pub link_target: Option<String>,
    pub sha256: Option<String>,
    /// What changed (`size 6 -> 9`), or why it is deleted.
    pub details: Vec<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Trace {
    /// `image` or `container`.
    pub kind: String,
    pub name: String,
    pub id: String,
    /// Base layer first.
    pub events: Vec<Event>,
    /// Is the path in the view at the top of the stack?
    pub present: bool,
}

#[derive(Serialize)]
pub struct TraceReport {
    pub path: String,
    pub traces: Vec<Trace>,
    pub problems: Vec<Problem>,
}

impl super::Report for TraceReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

fn probe(root: &DataRoot, layer: &LayerInfo, comps: &[Vec<u8>]) -> io::Result<Probe> {
    let mut dir = root.dir(layer.rel())?;
    let Some((last, parents)) = comps.split_last() else {
        return Ok(Probe::Absent);
    };
    let mut opaque_at: Option<String> = None;
    let mut walked = Vec::new();
    for c in parents {
        walked.push(c.clone());
        let name = OsStr::from_bytes(c);
        let m = match dir.lstat(name) {
            Ok(m) => m,
            Err(e) if absent(&e) => return Ok(opaque_at.map_or(Probe::Absent, Probe::Hidden)),
            Err(e) => return Err(e),
        };
        let at = fs::shown(&walked.join(&b'/'));
        if is_whiteout(&m) {
            return Ok(Probe::Hidden(format!("{at} deleted (whiteout)")));
        }
        if m.kind != FileKind::Dir {
            return Ok(Probe::Hidden(format!(
                "{at} replaced by a {}",
                type_name(m.kind)
            )));
        }
        dir = dir.sub(name)?;
        if dir_is_opaque(&dir) {
            opaque_at = Some(format!("{at} made opaque (its lower contents hidden)"));
        }
    }
    let name = OsStr::from_bytes(last);
    let m = match dir.lstat(name) {
        Ok(m) => m,
        Err(e) if absent(&e) => return Ok(opaque_at.map_or(Probe::Absent, Probe::Hidden)),
        Err(e) => return Err(e),
    };
    if is_whiteout(&m) {
        return Ok(Probe::Whiteout);
    }
    let link = (m.kind == FileKind::Symlink)
        .then(|| dir.read_link(name).ok())
        .flatten()
        .map(|p| fs::lossy(p.as_os_str().as_bytes()));
    let sha = if m.kind == FileKind::File {
        match dir.open(name) {
            Ok((mut f, _)) => {
                let mut h = Sha256::new();
                io::copy(&mut f, &mut h)?;
                Some(format!("sha256:{:x}", h.finalize()))
            }
            Err(_) => None, // an archive keeps only small files' contents
        }
    } else {
        None
    };
    Ok(Probe::Present(m, link, sha))
}

fn trace_stack(
    root: &DataRoot,
    stack: &Stack,
    comps: &[Vec<u8>],
    problems: &mut Vec<Problem>,
) -> (Vec<Event>, bool) {
    let mut state: Option<State> = None;
    let mut events = Vec::new();
    for (k, layer) in stack.layers.iter().enumerate().rev() {
        let p = match probe(root, layer, comps) {
            Ok(p) => p,
            Err(e) => {
                problems.push(Problem::io(
                    format!("{}/{}", layer.dir, fs::lossy(&comps.join(&b'/'))),
                    &e,
                ));
                continue;
            }
        };
        let ev = |kind: &'static str, st: Option<&State>, details: Vec<String>| Event {
            kind,
            layer_index: k,
            layer: layer.clone(),
            file_type: st.map(|s| type_name(s.meta.kind)),
            mode: st.map(|s| format!("{:04o}", s.meta.mode)),
            uid: st.map(|s| s.meta.uid),
            gid: st.map(|s| s.meta.gid),
            size: st.map(|s| s.meta.len),
            mtime: st.map(|s| super::ls::rfc3339(s.meta.mtime, s.meta.mtime_nsec)),
            link_target: st.and_then(|s| s.link.clone()),
            sha256: st.and_then(|s| s.sha256.clone()),
            details,
        };
        match p {
            Probe::Absent => {}
            Probe::Whiteout => {
                if state.is_some() {
                    events.push(ev("deleted", None, vec!["whiteout".into()]));
                    state = None;
                }
            }
            Probe::Hidden(why) => {
                if state.is_some() {
                    events.push(ev("deleted", None, vec![why]));
                    state = None;
                }
            }
            Probe::Present(meta, link, sha256) => {
                let new = State { meta, link, sha256 };
                match &state {
                    None => events.push(ev("created", Some(&new), Vec::new())),
                    Some(old) => {
                        let mut d = Vec::new();
                        let (a, b) = (&old.meta, &new.meta);
                        if a.kind != b.kind {
                            d.push(format!(
                                "type {} -> {}",
                                type_name(a.kind),
                                type_name(b.kind)
                            ));
                        }
                        if a.mode != b.mode {
                            d.push(format!("mode {:04o} -> {:04o}", a.mode, b.mode));
                        }
                        if (a.uid, a.gid) != (b.uid, b.gid) {
                            d.push(format!("owner {}:{} -> {}:{}", a.uid, a.gid, b.uid, b.gid));
                        }
                        if b.kind != FileKind::Dir && a.len != b.len {
                            d.push(format!("size {} -> {}", a.len, b.len));
                        }
                        if old.link != new.link {
                            d.push(format!(
                                "link target {} -> {}",
                                old.link.as_deref().unwrap_or("-"),
                                new.link.as_deref().unwrap_or("-")
                            ));
                        }
                        if old.sha256 != new.sha256 && old.sha256.is_some() && new.sha256.is_some()
                        {
                            d.push("content changed".into());
                        }
                        if b.kind != FileKind::Dir
                            && (a.mtime, a.mtime_nsec) != (b.mtime, b.mtime_nsec)
                            && d.is_empty()
                        {
                            d.push("mtime only (copied up, same content)".into());
                        }
                        if !d.is_empty() {
                            events.push(ev("changed", Some(&new), d));
                        }
                    }
                }
                state = Some(new);
            }
        }
    }
    (events, state.is_some())
}

pub fn build(
    root: &DataRoot,
    model: &Model,
    path: &str,
    target_name: Option<&str>,
) -> Result<TraceReport, Fatal> {
    let comps = fs::components(path.as_bytes());
    if comps.is_empty() {
        return Err(Fatal::Usage("trace needs a path below /".into()));
    }
    let mut problems = Vec::new();
    let mut stacks: Vec<(String, String, String, Stack)> = Vec::new();
    let all = target_name.is_none();
    if let Some(name) = target_name {
        let t = target::resolve(model, name).map_err(Fatal::Usage)?;
        let stack = match t {
            target::Target::Layer(l) => target::chain_stack(model, l),
            t => target::stack(model, t, false, &mut problems).map_err(Fatal::Usage)?,
        };
        let (kind, n) = target::describe(model, t);
        let id = match t {
            target::Target::Image(i) => model.images[i].rec.id.as_str().to_owned(),
            target::Target::Container(c) => model.containers[c].rec.id.as_str().to_owned(),
            target::Target::Layer(l) => model.layers[l].chain_id.as_str().to_owned(),
            target::Target::Dir(d) => model.dirs[d].id.clone(),
        };
        stacks.push((kind, n, id, stack));
    } else {
        for i in model.loaded_images() {
            let (kind, n) = target::describe(model, target::Target::Image(i));
            stacks.push((
                kind,
                n,
                model.images[i].rec.id.as_str().to_owned(),
                image_stack(model, i),
            ));
        }
        for c in 0..model.containers.len() {
            if let Some(s) = container_stack(model, c, &mut problems) {
                let (kind, n) = target::describe(model, target::Target::Container(c));
                stacks.push((kind, n, model.containers[c].rec.id.as_str().to_owned(), s));
            }
        }
    }
    let mut traces = Vec::new();
    for (kind, name, id, stack) in stacks {
        let (events, present) = trace_stack(root, &stack, &comps, &mut problems);
        if all && events.is_empty() {
            continue;
        }
        traces.push(Trace {
            kind,
            name,
            id,
            events,
            present,
        });
    }
    problems.sort();
    problems.dedup();
    Ok(TraceReport {
        path: fs::shown(&comps.join(&b'/')),
        traces,
        problems,
    })
}

pub fn render(r: &TraceReport, out: &mut dyn Write) -> io::Result<()> {
    use std::fmt::Write as _;
    if r.traces.is_empty() {
        return writeln!(out, "{}: in no layer", super::sanitize(&r.path));
    }
    for (n, t) in r.traces.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{} in {} {} ({}):",
            super::sanitize(&r.path),
            t.kind,
            super::sanitize(&t.name),
            if t.present { "present" } else { "absent" }
        )?;
        for e in &t.events {
            let mut line = format!("  {:<8} {:<12}", e.kind, e.layer.short());
            if let (Some(ty), Some(mode)) = (e.file_type, &e.mode) {
                let _ = write!(
                    line,
                    " {ty} {mode} {}:{} {}B",
                    e.uid.unwrap_or(0),
                    e.gid.unwrap_or(0),
                    e.size.unwrap_or(0)
                );
            }
            if let Some(l) = &e.link_target {
                let _ = write!(line, " -> {}", super::sanitize(l));
            }
            if let Some(s) = &e.sha256 {
                let _ = write!(line, " {}", crate::fs::short_hex(s));
            }
            if !e.details.is_empty() {
                let _ = write!(line, " [{}]", super::sanitize(&e.details.join(", ")));
            }
            writeln!(out, "{line}")?;
            if let Some(by) = &e.layer.created_by {
                let mut by = super::sanitize(by);
                if by.len() > 100 {
                    let mut cut = 100;
                    while !by.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    by.truncate(cut);
                    by.push('…');
                }
                writeln!(out, "           by: {by}")?;
            }
        }
    }
    Ok(())
}
