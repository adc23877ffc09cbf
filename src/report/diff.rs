//! `dockscope diff CONTAINER` (`docker diff`, offline) and `diff A B`: two images,
//! layers or containers compared file by file. A layer stands for the view as of
//! that layer (it and its parents merged), a container for its merged view.

use super::ls::TargetRef;
use crate::fs::merge::{compare, ViewChange};
use crate::fs::target::{self, Target};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::verify::drift::{self, Changes, Kind};
use crate::Fatal;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct DiffReport {
    /// `container` (one container's changes) or `views` (two views compared).
    pub mode: &'static str,
    /// The container (mode `container`) or the first view.
    pub from: TargetRef,
    /// The second view (mode `views`).
    pub to: Option<TargetRef>,
    /// Mode `container`: as `docker diff` lists them.
    pub changes: Changes,
    /// Mode `views`: added, changed, removed, with sizes.
    pub files: Vec<ViewChange>,
    pub totals: Totals,
    pub problems: Vec<Problem>,
}

#[derive(Serialize, Default)]
pub struct Totals {
    pub added: usize,
    pub changed: usize,
    pub deleted: usize,
    /// Bytes of the files added (and the new sizes of changed ones).
    pub added_bytes: u64,
    /// Bytes of the files removed (and the old sizes of changed ones).
    pub removed_bytes: u64,
}

impl super::Report for DiffReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

fn view(
    model: &Model,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Result<(crate::fs::Stack, TargetRef), Fatal> {
    let t = target::resolve(model, name).map_err(Fatal::Usage)?;
    let stack = match t {
        Target::Layer(l) => target::chain_stack(model, l),
        t => {
            let mut s = target::stack(model, t, false, problems).map_err(Fatal::Usage)?;
            s.raw = false;
            s
        }
    };
    let (kind, name) = target::describe(model, t);
    let tref = TargetRef {
        kind,
        name,
        stack: stack.layers.clone(),
    };
    Ok((stack, tref))
}

pub fn build(root: &DataRoot, model: &Model, names: &[String]) -> Result<DiffReport, Fatal> {
    let mut problems = Vec::new();
    match names {
        [one] => {
            let t = target::resolve(model, one).map_err(Fatal::Usage)?;
            let Target::Container(c) = t else {
                return Err(Fatal::Usage(
                    "diff with one argument compares a container with its image; give two images or layers to compare them".into(),
                ));
            };
            let links: HashMap<&str, usize> = model
                .links
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.as_str(), i))
                .collect();
            let (d, ps) = if model.containerd.is_some() {
                let mut ps = Vec::new();
                let d = target::container_changes(root, model, c, &mut ps)
                    .map_err(|e| Fatal::Usage(super::sanitize(&e)))?;
                (Some(crate::verify::c8d::drift(model, c, d)), ps)
            } else {
                drift::container(root, model, &links, c)
            };
            problems.extend(ps);
            let Some(d) = d else {
                return Err(Fatal::Usage(format!(
                    "container {} has no RW layer dir in overlay2",
                    super::sanitize(one)
                )));
            };
            let totals = Totals {
                added: d.changes.count(Kind::Added),
                changed: d.changes.count(Kind::Changed),
                deleted: d.changes.count(Kind::Deleted),
                ..Totals::default()
            };
            let (kind, name) = target::describe(model, t);
            let stack = target::stack(model, t, false, &mut problems)
                .map(|s| s.layers)
                .unwrap_or_default();
            Ok(DiffReport {
                mode: "container",
                from: TargetRef { kind, name, stack },
                to: None,
                changes: d.changes,
                files: Vec::new(),
                totals,
                problems,
            })
        }
        [a, b] => {
            let (sa, ra) = view(model, a, &mut problems)?;
            let (sb, rb) = view(model, b, &mut problems)?;
            let ta = sa.open(root, &mut problems);
            let tb = sb.open(root, &mut problems);
            let files = compare((&sa, ta), (&sb, tb), &mut problems);
            let mut totals = Totals::default();
            for f in &files {
                match f.kind {
                    "A" => totals.added += 1,
                    "C" => totals.changed += 1,
                    _ => totals.deleted += 1,
                }
                totals.added_bytes += f.size_after.unwrap_or(0);
                totals.removed_bytes += f.size_before.unwrap_or(0);
            }
            problems.sort();
            problems.dedup();
            Ok(DiffReport {
                mode: "views",
                from: ra,
                to: Some(rb),
                changes: Changes::default(),
                files,
                totals,
                problems,
            })
        }
        _ => Err(Fatal::Usage(
            "diff takes a container, or two images, layers or containers".into(),
        )),
    }
}

pub fn render(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    if r.mode == "container" {
        return r.changes.try_for_each_mapped(
            |name| std::borrow::Cow::Owned(super::sanitize(name)),
            |kind, path| writeln!(out, "{} {}", kind.as_str(), path),
        );
    }
    let size = |s: Option<u64>| s.map_or_else(|| "-".to_owned(), |n| n.to_string());
    for f in &r.files {
        let sizes = match f.kind {
            "A" => size(f.size_after),
            "D" => size(f.size_before),
            _ => format!("{} -> {}", size(f.size_before), size(f.size_after)),
        };
        writeln!(
            out,
            "{} {}  {}  {}",
            f.kind,
            super::sanitize(&f.path),
            f.file_type,
            sizes
        )?;
    }
    writeln!(
        out,
        "{} added, {} changed, {} removed",
        r.totals.added, r.totals.changed, r.totals.deleted
    )
}
