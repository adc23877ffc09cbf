//! TARGET: an image (its merged view), a layer (chain id, diff id or overlay2 dir id:
//! that layer alone), or a container (its merged view, or its own RW layer), turned
//! into a `Stack`.

use super::{LayerInfo, Stack};
use crate::model::resolve::Resolved;
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use std::collections::HashMap;

/// What TARGET names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Image(usize),
    Container(usize),
    /// A layerdb layer (chain id or diff id).
    Layer(usize),
    /// An overlay2 dir by id (a layer's cache id, a container's RW or init dir, or a
    /// dir nothing references).
    Dir(usize),
}

/// `TARGET[:PATH]` split at the first `:/` (image references never hold one).
pub fn split_spec(spec: &str) -> (&str, &str) {
    match spec.find(":/") {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec.strip_suffix(':').unwrap_or(spec), "/"),
    }
}

fn bare(s: &str) -> String {
    s.trim()
        .strip_prefix("sha256:")
        .unwrap_or(s.trim())
        .to_ascii_lowercase()
}

/// Resolve TARGET: a container (id, name, unique id prefix), then an image (as IMAGE
/// elsewhere), then a layer by chain id or diff id, then an overlay2 dir id (full ids or
/// unique prefixes of at least 4 characters).
pub fn resolve(model: &Model, name: &str) -> Result<Target, String> {
    let nothing = || {
        format!(
            "No such image, container or layer: {}",
            crate::report::sanitize(name)
        )
    };
    match crate::report::inspect::resolve_container(model, name) {
        Ok(Some(c)) => return Ok(Target::Container(c)),
        Ok(None) => {}
        Err(e) => return Err(e.to_string()),
    }
    match model.resolve_image(name) {
        Resolved::Found(i) => return Ok(Target::Image(i)),
        Resolved::Ambiguous(_) => {
            return crate::report::resolved_or_fail(model, name, model.resolve_image(name))
                .map(Target::Image)
                .map_err(|e| e.to_string())
        }
        Resolved::NotFound => {}
    }
    if let Some(t) = snapshot_target(model, name) {
        return Ok(t);
    }
    let want = bare(name);
    if want.len() < 4 {
        return Err(nothing());
    }
    let mut layers: Vec<usize> = (0..model.layers.len())
        .filter(|&l| {
            let r = &model.layers[l];
            r.chain_id.hex().starts_with(&want)
                || r.diff_id
                    .as_ref()
                    .is_some_and(|d| bare(d.as_str()).starts_with(&want))
        })
        .collect();
    if let Some(&l) = layers.iter().find(|&&l| {
        let r = &model.layers[l];
        r.chain_id.hex() == want || r.diff_id.as_ref().is_some_and(|d| bare(d.as_str()) == want)
    }) {
        layers = vec![l];
    }
    match layers.len() {
        1 => return Ok(Target::Layer(layers[0])),
        0 => {}
        _ => {
            return Err(format!(
                "layer id prefix {} is ambiguous; it matches:\n{}",
                crate::report::sanitize(name),
                layers
                    .iter()
                    .map(|&l| format!("  {}", model.layers[l].chain_id))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
    }
    let dirs: Vec<usize> = (0..model.dirs.len())
        .filter(|&d| model.dirs[d].id.starts_with(&want))
        .collect();
    if let Some(&d) = dirs.iter().find(|&&d| model.dirs[d].id == want) {
        return Ok(dir_target(model, d));
    }
    match dirs.len() {
        1 => Ok(dir_target(model, dirs[0])),
        0 => Err(nothing()),
        _ => Err(format!(
            "overlay2 dir id prefix {} is ambiguous; it matches:\n{}",
            crate::report::sanitize(name),
            dirs.iter()
                .map(|&d| format!("  {}", model.dirs[d].id))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// Docker's containerd image store: a snapshot by its key (a chain id is a layer, a
/// container's `<id>-init` its init snapshot, any other key its own snapshot), or by the
/// snapshotter's number (`snapshots/<n>`, or `<n>` alone, exact).
fn snapshot_target(model: &Model, name: &str) -> Option<Target> {
    let c8d = model.containerd.as_deref()?;
    let name = name.trim();
    let dir_by_id = |id: &str| {
        (0..model.dirs.len()).find(|&d| {
            model.dirs[d].id == id
                && model.dirs[d]
                    .path
                    .starts_with(crate::scan::containerd::PREFIX)
        })
    };
    let number = name
        .trim_start_matches("containerd:")
        .trim_start_matches(crate::scan::containerd::OVERLAYFS)
        .trim_start_matches('/')
        .strip_prefix("snapshots/")
        .map(|n| n.trim_end_matches('/').trim_end_matches("/fs"))
        .or_else(|| Some(name).filter(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if let Some(n) = number {
        return dir_by_id(n).map(|d| dir_target(model, d));
    }
    let s = c8d.snapshots.get(name)?;
    let d = dir_by_id(&s.id?.to_string())?;
    Some(dir_target(model, d))
}

/// A dir that is a layer's cache dir is that layer.
fn dir_target(model: &Model, d: usize) -> Target {
    (0..model.layers.len())
        .find(|&l| model.layer_dir(l) == Some(d))
        .map_or(Target::Dir(d), Target::Layer)
}

/// The step that made each layer of an image, base first: (created_by, created).
fn steps(model: &Model, image: usize) -> Vec<(Option<String>, Option<String>)> {
    model
        .layer_history(image)
        .into_iter()
        .map(|hs| {
            let h = hs.iter().find(|h| !h.empty_layer).or(hs.last());
            (
                h.and_then(|h| h.created_by.clone()),
                h.and_then(|h| h.created.clone()),
            )
        })
        .collect()
}

/// A layer's info, with the build step of the first image that holds it.
pub fn layer_info(model: &Model, l: usize) -> LayerInfo {
    let rec = &model.layers[l];
    let d = model.layer_dir(l);
    let mut info = LayerInfo {
        role: "layer",
        dir: match (d, &rec.cache_id) {
            (Some(d), _) => super::files_dir(&model.dirs[d].path),
            (None, Some(c)) if rec.path.starts_with(crate::scan::containerd::PREFIX) => {
                super::files_dir(&crate::scan::containerd::shown(&format!(
                    "{}/snapshots/{c}",
                    crate::scan::containerd::OVERLAYFS
                )))
            }
            (None, Some(c)) => format!("overlay2/{c}/diff"),
            (None, None) => String::new(),
        },
        cache_id: rec.cache_id.clone(),
        chain_id: Some(rec.chain_id.as_str().to_owned()),
        diff_id: rec.diff_id.as_ref().map(|d| d.as_str().to_owned()),
        created_by: None,
        created: None,
    };
    for &i in model.layer_images(l) {
        let chain = model.images[i].chain();
        if let Some(pos) = chain.iter().position(|c| *c == rec.chain_id) {
            if let Some((by, at)) = steps(model, i).into_iter().nth(pos) {
                info.created_by = by;
                info.created = at;
                break;
            }
        }
    }
    info
}

/// The image's layers, top first.
pub fn image_stack(model: &Model, image: usize) -> Stack {
    let steps = steps(model, image);
    let mut layers: Vec<LayerInfo> = model
        .image_layers(image)
        .into_iter()
        .enumerate()
        .map(|(k, l)| {
            let mut info = layer_info(model, l);
            if let Some((by, at)) = steps.get(k) {
                info.created_by.clone_from(by);
                info.created.clone_from(at);
            }
            info
        })
        .collect();
    layers.reverse();
    Stack {
        layers,
        ..Stack::default()
    }
}

/// A dir alone.
pub fn dir_info(model: &Model, d: usize, role: &'static str) -> LayerInfo {
    LayerInfo {
        role,
        dir: super::files_dir(&model.dirs[d].path),
        cache_id: Some(model.dirs[d].id.clone()),
        ..LayerInfo::default()
    }
}

/// A container's view, top first: its RW dir, then the dirs its `lower` file names
/// (init first), as the overlay mount stacks them. Without a readable `lower`, the init
/// dir and the layers of its image's chain.
pub fn container_stack(model: &Model, c: usize, problems: &mut Vec<Problem>) -> Option<Stack> {
    let (rw, init) = model.container_dirs(c);
    let rw = rw?;
    let dir_layer: HashMap<usize, usize> = (0..model.layers.len())
        .filter_map(|l| model.layer_dir(l).map(|d| (d, l)))
        .collect();
    let steps: HashMap<String, (Option<String>, Option<String>)> = model
        .container_image(c)
        .map(|i| {
            model.images[i]
                .chain()
                .iter()
                .map(|ch| ch.as_str().to_owned())
                .zip(steps(model, i))
                .collect()
        })
        .unwrap_or_default();
    let info_of = |d: usize| -> LayerInfo {
        if Some(d) == init {
            return dir_info(model, d, "init");
        }
        match dir_layer.get(&d) {
            Some(&l) => {
                let mut info = layer_info(model, l);
                if let Some((by, at)) = info.chain_id.as_ref().and_then(|ch| steps.get(ch)) {
                    info.created_by.clone_from(by);
                    info.created.clone_from(at);
                }
                info
            }
            None => dir_info(model, d, "layer"),
        }
    };
    let mut layers = vec![dir_info(model, rw, "rw")];
    let links: HashMap<&str, usize> = model
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let dir = &model.dirs[rw];
    let names: Vec<&str> = dir.lower().collect();
    if names.is_empty() {
        layers.extend(init.map(|d| dir_info(model, d, "init")));
        layers.extend(model.container_layers(c).into_iter().map(|l| {
            let mut info = layer_info(model, l);
            if let Some((by, at)) = info.chain_id.as_ref().and_then(|ch| steps.get(ch)) {
                info.created_by.clone_from(by);
                info.created.clone_from(at);
            }
            info
        }));
    } else {
        for name in names {
            match links
                .get(name)
                .and_then(|&i| model.links[i].dir_id.as_deref())
                .and_then(|id| model.dir_index(id))
            {
                Some(d) => layers.push(info_of(d)),
                None => problems.push(Problem::new(
                    format!("{}/lower", dir.path),
                    ProblemKind::BrokenReference,
                    format!("l/{name} names no layer dir; the view is shown without it"),
                )),
            }
        }
    }
    Some(Stack {
        layers,
        ..Stack::default()
    })
}

/// The stack TARGET names; `rw_only` keeps a container's own layer alone.
pub fn stack(
    model: &Model,
    t: Target,
    rw_only: bool,
    problems: &mut Vec<Problem>,
) -> Result<Stack, String> {
    match t {
        Target::Image(i) => Ok(image_stack(model, i)),
        Target::Layer(l) => Ok(Stack {
            layers: vec![layer_info(model, l)],
            raw: true,
            ..Stack::default()
        }),
        Target::Dir(d) => Ok(Stack {
            layers: vec![dir_info(model, d, "layer")],
            raw: true,
            ..Stack::default()
        }),
        Target::Container(c) => {
            let Some(mut s) = container_stack(model, c, problems) else {
                return Err(format!(
                    "container {} has no RW layer dir{}",
                    model.containers[c].rec.name.trim_start_matches('/'),
                    if model.containerd.is_some() {
                        " (no snapshot keyed by its id)"
                    } else {
                        " in overlay2"
                    }
                ));
            };
            if rw_only {
                s.layers.truncate(1);
                s.raw = true;
            }
            Ok(s)
        }
    }
}

/// How a target is named in output.
pub fn describe(model: &Model, t: Target) -> (String, String) {
    match t {
        Target::Image(i) => {
            let refs = model.image_refs(i);
            (
                "image".into(),
                refs.first().map_or_else(
                    || model.images[i].rec.id.as_str().to_owned(),
                    |r| r.reference.clone(),
                ),
            )
        }
        Target::Container(c) => (
            "container".into(),
            model.containers[c]
                .rec
                .name
                .trim_start_matches('/')
                .to_owned(),
        ),
        Target::Layer(l) => ("layer".into(), model.layers[l].chain_id.as_str().to_owned()),
        Target::Dir(d) => ("dir".into(), model.dirs[d].id.clone()),
    }
}

/// Is the target a single layer (shown with its whiteouts and opaque dirs)?
pub fn is_single(t: Target, rw_only: bool) -> bool {
    matches!(t, Target::Layer(_) | Target::Dir(_)) || (rw_only && matches!(t, Target::Container(_)))
}

/// A layer's view as of that layer: it and its parents, top first.
pub fn chain_stack(model: &Model, l: usize) -> Stack {
    let mut layers = Vec::new();
    let mut cur = Some(l);
    while let Some(x) = cur {
        if layers.len() > model.layers.len() {
            break; // a parent cycle (tampered files)
        }
        layers.push(layer_info(model, x));
        cur = model.layer_parent(x);
    }
    Stack {
        layers,
        ..Stack::default()
    }
}

/// A container's changes as `docker diff` lists them, from its stack (`container_stack`):
/// its RW layer against the layers below it. Returns the RW dir as shown and the
/// changes by path; `Err` when the container has no RW layer dir. Used where the stack
/// is known from the model alone (Docker's containerd image store: RW snapshot on
/// `<id>-init` on the image's chain), as the daemon's differ compares the container's
/// mount with its parent snapshot's view.
pub fn container_changes(
    root: &crate::root::DataRoot,
    model: &Model,
    c: usize,
    problems: &mut Vec<Problem>,
) -> Result<(String, super::merge::Changes), String> {
    let Some(mut stack) = container_stack(model, c, problems) else {
        return Err(format!(
            "container {} has no RW layer dir",
            model.containers[c].rec.name.trim_start_matches('/')
        ));
    };
    let rw = stack.layers.remove(0);
    let rw_dir = root.dir(rw.rel()).map_err(|e| format!("{}: {e}", rw.dir))?;
    let changes = super::merge::container_changes(root, rw_dir, &rw.dir, &stack, problems);
    Ok((rw.dir, changes))
}
