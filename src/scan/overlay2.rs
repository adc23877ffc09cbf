//! `overlay2/`: layer directories (`<id>/{diff,link,lower,work,merged,committed}`) and
//! the short-name links in `l/` (read with readlink, never followed).

use super::{open_optional, read_text, sorted_names, SMALL_LIMIT};
use crate::model::ids::{is_link_id, DirIdForm};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, FileKind};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::path::{Component, Path};

/// One `overlay2/<id>/` directory.
#[derive(Clone, Debug)]
pub struct DirRec {
    pub id: String,
    pub form: DirIdForm,
    pub path: String,
    /// The `link` file: this dir's name in `l/`.
    pub link: Option<String>,
    /// The `lower` file's link names (`l/` dropped), `:`-separated, immediate parent
    /// first: one string, not one allocation per name (deep stacks have 100+).
    pub lower_names: String,
    pub has_diff: bool,
    pub has_work: bool,
    pub has_merged: bool,
    pub committed: bool,
}

/// One entry of `overlay2/l/`.
impl DirRec {
    /// The link names of the `lower` file, immediate parent first.
    pub fn lower(&self) -> impl Iterator<Item = &str> {
        self.lower_names.split(':').filter(|n| !n.is_empty())
    }
}

#[derive(Clone, Debug)]
pub struct LinkRec {
    pub name: String,
    pub path: String,
    /// The symlink's target as stored, when it is a symlink.
    pub target: Option<String>,
    /// The dir the target names, when it has Docker's form `../<id>/diff`.
    pub dir_id: Option<String>,
}

#[derive(Default)]
pub struct Overlay2Scan {
    pub dirs: Vec<DirRec>,
    pub links: Vec<LinkRec>,
    pub problems: Vec<Problem>,
}

pub fn scan(root: &DataRoot) -> Overlay2Scan {
    let mut out = Overlay2Scan::default();
    let dir = match open_optional(root, "overlay2") {
        Err(p) => {
            out.problems.push(p);
            return out;
        }
        Ok(None) => return out,
        Ok(Some(d)) => d,
    };
    let names = sorted_names(&dir, &mut out.problems);
    let results: Vec<(Option<DirRec>, Vec<Problem>)> = names
        .par_iter()
        .filter(|n| n.as_str() != "l" && n.as_str() != "backingFsBlockDev")
        .map(|n| read_layer_dir(&dir, n))
        .collect();
    out.dirs.reserve_exact(results.len());
    for (rec, problems) in results {
        out.dirs.extend(rec);
        out.problems.extend(problems);
    }
    if names.iter().any(|n| n == "l") {
        match dir.sub(OsStr::new("l")) {
            Ok(l) => read_links(&l, &mut out),
            Err(e) => out.problems.push(Problem::io("overlay2/l", &e)),
        }
    }
    out
}

fn read_layer_dir(parent: &Dir<'_>, name: &str) -> (Option<DirRec>, Vec<Problem>) {
    let rel = parent.rel_of(OsStr::new(name));
    let mut problems = Vec::new();
    let dir = match parent.sub(OsStr::new(name)) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (None, problems);
        }
    };
    let entries = match dir.entries() {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (None, problems);
        }
    };
    let is_dir = |n: &str| {
        entries.iter().any(|e| {
            e.name == OsStr::new(n)
                && e.kind
                    .or_else(|| dir.lstat(&e.name).ok().map(|m| m.kind))
                    .is_some_and(|k| k == FileKind::Dir)
        })
    };
    let has = |n: &str| entries.iter().any(|e| e.name == OsStr::new(n));
    let mut rec = DirRec {
        id: name.to_owned(),
        form: DirIdForm::of(name),
        path: rel,
        link: None,
        lower_names: String::new(),
        has_diff: is_dir("diff"),
        has_work: is_dir("work"),
        has_merged: is_dir("merged"),
        committed: has("committed"),
    };
    if has("link") {
        match read_text(&dir, "link", SMALL_LIMIT) {
            Ok(Some(l)) => {
                let l = l.trim();
                if is_link_id(l) {
                    rec.link = Some(l.to_owned());
                } else {
                    problems.push(Problem::new(
                        dir.rel_of(OsStr::new("link")),
                        ProblemKind::Malformed,
                        format!(
                            "expected a 26-character l/ name, found {:?}",
                            super::layerdb::shorten(l)
                        ),
                    ));
                }
            }
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if has("lower") {
        match read_text(&dir, "lower", SMALL_LIMIT) {
            Ok(Some(l)) => {
                for part in l.trim().split(':').filter(|p| !p.is_empty()) {
                    match part.strip_prefix("l/").filter(|id| is_link_id(id)) {
                        Some(id) => {
                            if !rec.lower_names.is_empty() {
                                rec.lower_names.push(':');
                            }
                            rec.lower_names.push_str(id);
                        }
                        None => problems.push(Problem::new(
                            dir.rel_of(OsStr::new("lower")),
                            ProblemKind::Malformed,
                            format!(
                                "expected l/<26 characters>, found {:?}",
                                super::layerdb::shorten(part)
                            ),
                        )),
                    }
                }
            }
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    (Some(rec), problems)
}

fn read_links(l: &Dir<'_>, out: &mut Overlay2Scan) {
    let entries = match l.entries() {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(Problem::io(l.rel(), &e));
            return;
        }
    };
    let mut links = Vec::with_capacity(entries.len());
    for e in entries {
        let path = l.rel_of(&e.name);
        let name = e.name.to_string_lossy().into_owned();
        let kind = e.kind.or_else(|| l.lstat(&e.name).ok().map(|m| m.kind));
        if kind != Some(FileKind::Symlink) {
            out.problems.push(Problem::new(
                path.clone(),
                ProblemKind::WrongType,
                "expected a symbolic link to ../<id>/diff",
            ));
            links.push(LinkRec {
                name,
                path,
                target: None,
                dir_id: None,
            });
            continue;
        }
        match l.read_link(&e.name) {
            Ok(target) => {
                let dir_id = docker_link_target(&target);
                links.push(LinkRec {
                    name,
                    path,
                    target: Some(target.to_string_lossy().into_owned()),
                    dir_id,
                });
            }
            Err(err) => {
                out.problems.push(Problem::io(path.clone(), &err));
                links.push(LinkRec {
                    name,
                    path,
                    target: None,
                    dir_id: None,
                });
            }
        }
    }
    links.sort_by(|a, b| a.name.cmp(&b.name));
    out.links = links;
}

/// `../<id>/diff` -> `<id>`; any other target (absolute, elsewhere) -> `None`.
fn docker_link_target(target: &Path) -> Option<String> {
    let mut c = target.components();
    match (c.next(), c.next(), c.next(), c.next()) {
        (
            Some(Component::ParentDir),
            Some(Component::Normal(id)),
            Some(Component::Normal(d)),
            None,
        ) if d == "diff" => {
            let id = id.to_str()?;
            (id != "l").then(|| id.to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets() {
        assert_eq!(
            docker_link_target(Path::new("../abc/diff")).as_deref(),
            Some("abc")
        );
        assert_eq!(docker_link_target(Path::new("/etc")), None);
        assert_eq!(docker_link_target(Path::new("../../etc/diff")), None);
        assert_eq!(docker_link_target(Path::new("../abc/diff/x")), None);
        assert_eq!(docker_link_target(Path::new("../l/diff")), None);
    }
}
