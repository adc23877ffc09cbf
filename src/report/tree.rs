//! `dockscope tree [IMAGE]`: one image's layer stack, or the forest of all images,
//! branching where they share layers.

use super::{human_size, sanitize, Report};
use crate::model::ids::{ChainId, DiffId, ImageId};
use crate::model::Model;
use crate::problem::Problem;
use crate::scan::imagedb::HistoryEntry;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

#[derive(Serialize)]
pub struct StackReport {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub size: u64,
    /// Base first.
    pub layers: Vec<StackLayer>,
    /// The images the stack is made of, base first, this image last: each listed image
    /// (tagged, or dangling) whose layers and history are a prefix of this one's, with the
    /// steps it added.
    pub images: Vec<StackImage>,
    /// Whether `shared_with_listed` and the human SHARED WITH count every image (`-a`).
    pub all: bool,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    pub no_trunc: bool,
    #[serde(skip)]
    pub glyphs: Glyphs,
    /// The tag to name the image by in the human rendering.
    #[serde(skip)]
    pub preferred: Option<String>,
}

#[derive(Serialize)]
pub struct StackLayer {
    pub diff_id: Option<DiffId>,
    pub chain_id: ChainId,
    /// The chain id of the layer below (null for the base layer).
    pub parent: Option<ChainId>,
    /// The overlay2 dir name (`cache-id`).
    pub cache_id: Option<String>,
    /// Its short name in `overlay2/l/`.
    pub link: Option<String>,
    /// Docker's size of this layer alone (the layerdb `size` file).
    pub size: u64,
    /// The history steps that made this layer, then the empty-layer steps after it.
    pub created_by: Vec<String>,
    /// Other loaded images whose chain holds this layer.
    pub shared_with: Vec<ImageId>,
    /// containerd image store only: the compressed blob, the snapshot and its dir.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub containerd: Option<super::c8d::LayerC8d>,
    /// Of those, the ones `docker images` lists (all of them with `-a`).
    pub shared_with_listed: Vec<ImageId>,
    /// The image of `images` that added this layer.
    pub added_by: ImageId,
}

/// One image of the stack and what it added on top of the one below.
#[derive(Serialize)]
pub struct StackImage {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Its layers are `layers[0..layer_count]`.
    pub layer_count: usize,
    /// Its history is the first `history_count` steps.
    pub history_count: usize,
    /// The history steps it added, in order, each with the layer it made (if any).
    pub steps: Vec<StackStep>,
}

#[derive(Serialize)]
pub struct StackStep {
    pub created_by: String,
    pub comment: Option<String>,
    pub created: Option<String>,
    /// True for metadata-only steps (ENV, LABEL, CMD …).
    pub empty_layer: bool,
    /// 1-based position in `layers` of the layer this step made.
    pub layer: Option<usize>,
}

impl Report for StackReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// Tree and ellipsis glyphs: box drawing on a UTF-8 terminal, ASCII elsewhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Glyphs {
    pub ascii: bool,
}

impl Glyphs {
    /// From the locale, as the C library decides it: the first set of `LC_ALL`,
    /// `LC_CTYPE`, `LANG`; UTF-8 when it names UTF-8.
    pub fn from_locale(get: impl Fn(&str) -> Option<String>) -> Glyphs {
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| get(k).filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        Glyphs {
            ascii: !(locale.contains("utf-8") || locale.contains("utf8")),
        }
    }
    fn tee(self) -> &'static str {
        if self.ascii {
            "|-- "
        } else {
            "├── "
        }
    }
    fn elbow(self) -> &'static str {
        if self.ascii {
            "`-- "
        } else {
            "└── "
        }
    }
    fn pipe(self) -> &'static str {
        if self.ascii {
            "|   "
        } else {
            "│   "
        }
    }
    fn ellipsis(self) -> &'static str {
        if self.ascii {
            "..."
        } else {
            "…"
        }
    }
    fn rule(self) -> &'static str {
        if self.ascii {
            "-"
        } else {
            "─"
        }
    }
}

/// The last history entry of an image (parsed only when needed).
fn last_step(model: &Model, image: usize) -> (usize, Option<HistoryEntry>) {
    let h = model.images[image].rec.history();
    let n = h.len();
    (n, h.into_iter().last())
}

/// The stack of one image; SHARED WITH counts the images `docker images` lists.
pub fn build_stack(model: &Model, image: usize) -> StackReport {
    build_stack_with(model, image, false)
}

/// The stack of one image; with `all`, SHARED WITH counts every image (`tree -a`).
pub fn build_stack_with(model: &Model, image: usize, all: bool) -> StackReport {
    let im = &model.images[image];
    let chain = model.image_layers(image);
    let history = im.rec.history();
    let pos: HashMap<usize, usize> = chain.iter().enumerate().map(|(k, &l)| (l, k)).collect();
    let listed = |o: usize| all || model.is_listed(o);

    // The images below this one: they hold its base layer, their top layer is in its
    // chain, and their history is a prefix of its history.
    let mut below: Vec<(usize, usize, usize)> = Vec::new(); // (history count, layer count, image)
    if let Some(&base) = chain.first() {
        for &o in model.layer_images(base) {
            if o == image || !model.is_listed(o) {
                continue;
            }
            let layers = model.image_layers(o);
            let Some(top) = layers.last() else { continue };
            if pos.get(top) != Some(&(layers.len() - 1)) {
                continue;
            }
            let (n, last) = last_step(model, o);
            if n == 0 || n >= history.len() {
                continue;
            }
            let same = last.is_some_and(|e| {
                let mine = &history[n - 1];
                e.created_by == mine.created_by && e.created == mine.created
            });
            if same {
                below.push((n, layers.len(), o));
            }
        }
    }
    below.sort_unstable();
    // Several images ending on the same step (tags of one id are one image) keep the first.
    below.dedup_by_key(|b| (b.0, b.1));
    let mut bounds: Vec<(usize, usize, usize)> = below;
    bounds.push((history.len(), chain.len(), image));

    // History steps paired with layers, as Docker pairs them.
    let mut step_layer: Vec<Option<usize>> = Vec::with_capacity(history.len());
    let mut next = 0usize;
    for h in &history {
        if h.empty_layer || next >= chain.len() {
            step_layer.push(None);
        } else {
            step_layer.push(Some(next));
            next += 1;
        }
    }
    let mut images = Vec::with_capacity(bounds.len());
    let mut added_by = vec![im.rec.id.clone(); chain.len()];
    let mut from_step = 0usize;
    let mut from_layer = 0usize;
    for &(hn, ln, o) in &bounds {
        let steps = (from_step..hn.min(history.len()))
            .map(|k| {
                let h = &history[k];
                StackStep {
                    created_by: h.created_by.clone().unwrap_or_default(),
                    comment: h.comment.clone().filter(|c| !c.is_empty()),
                    created: h.created.clone(),
                    empty_layer: h.empty_layer,
                    layer: step_layer[k].map(|l| l + 1),
                }
            })
            .collect();
        for slot in added_by.iter_mut().take(ln).skip(from_layer) {
            *slot = model.images[o].rec.id.clone();
        }
        let (repo_tags, repo_digests) = model.tags_and_digests(o);
        images.push(StackImage {
            id: model.images[o].rec.id.clone(),
            repo_tags,
            repo_digests,
            layer_count: ln,
            history_count: hn,
            steps,
        });
        from_step = hn;
        from_layer = ln;
    }

    let paired = model.layer_history(image);
    let layers = chain
        .iter()
        .enumerate()
        .map(|(k, &l)| {
            let rec = &model.layers[l];
            let dir = model.layer_dir(l).map(|d| &model.dirs[d]);
            let others: Vec<usize> = model
                .layer_images(l)
                .iter()
                .copied()
                .filter(|&o| o != image)
                .collect();
            StackLayer {
                diff_id: rec.diff_id.clone(),
                chain_id: rec.chain_id.clone(),
                parent: k
                    .checked_sub(1)
                    .map(|p| model.layers[chain[p]].chain_id.clone()),
                cache_id: rec.cache_id.clone(),
                link: dir.and_then(|d| d.link.clone()),
                size: model.layer_size(l),
                created_by: paired
                    .get(k)
                    .map(|steps| {
                        steps
                            .iter()
                            .map(|h| h.created_by.clone().unwrap_or_default())
                            .collect()
                    })
                    .unwrap_or_default(),
                shared_with_listed: others
                    .iter()
                    .filter(|&&o| listed(o))
                    .map(|&o| model.images[o].rec.id.clone())
                    .collect(),
                containerd: super::c8d::layer(model, &im.rec.id, k, &rec.chain_id),
                shared_with: others
                    .iter()
                    .map(|&o| model.images[o].rec.id.clone())
                    .collect(),
                added_by: added_by[k].clone(),
            }
        })
        .collect();
    let (repo_tags, repo_digests) = model.tags_and_digests(image);
    StackReport {
        id: im.rec.id.clone(),
        repo_tags,
        repo_digests,
        size: model.image_size(image),
        layers,
        images,
        all,
        problems: model.problems.clone(),
        no_trunc: false,
        glyphs: Glyphs::default(),
        preferred: None,
    }
}

impl StackReport {
    /// Name the image by the reference the user gave when it is one of its tags
    /// (`app` is `app:latest`), rather than by the first tag in order.
    /// (The JSON keeps docker's order; only the human rendering changes.)
    pub fn prefer_name(&mut self, name: &str) {
        let want = [name.to_owned(), format!("{name}:latest")];
        self.preferred = self.repo_tags.iter().find(|t| want.contains(t)).cloned();
    }

    /// The tags with the preferred one first.
    fn tags_shown(&self, tags: &[String]) -> Vec<String> {
        let mut v = tags.to_vec();
        if let Some(p) = &self.preferred {
            if let Some(k) = v.iter().position(|t| t == p) {
                let t = v.remove(k);
                v.insert(0, t);
            }
        }
        v
    }
}

/// A build step as a person reads it: `RUN …` for a shell step, the instruction alone
/// for the classic builder's metadata steps (`ENV …`), BuildKit's text as recorded.
fn step_text(s: &str) -> String {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("/bin/sh -c #(nop)") {
        return rest.trim().to_owned();
    }
    if let Some(rest) = s.strip_prefix("/bin/sh -c ") {
        return format!("RUN {}", rest.trim());
    }
    s.to_owned()
}

fn cut_to(s: &str, width: usize, g: Glyphs) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let e = g.ellipsis();
    let keep = width.saturating_sub(e.chars().count());
    format!("{}{e}", s.chars().take(keep).collect::<String>())
}

fn image_name(tags: &[String], digests: &[String], id: &ImageId, no_trunc: bool) -> String {
    let id = if no_trunc { id.as_str() } else { id.short() };
    match tags.first().or(digests.first()) {
        Some(n) => format!("{} ({id})", sanitize(n)),
        None => format!("<none> ({id})"),
    }
}

/// The stack on an 80-column terminal: one line per layer (number, chain id, size,
/// how many images share it, the step that made it), the metadata-only steps on lines
/// of their own, and a rule where each image of the stack ends and the next begins.
pub fn render_stack(report: &StackReport, out: &mut dyn Write) -> io::Result<()> {
    const WIDTH: usize = 80;
    let g = report.glyphs;
    let nt = report.no_trunc;
    let my_tags = report.tags_shown(&report.repo_tags);
    let width = if nt { usize::MAX } else { WIDTH };
    let head = format!(
        "{}  {} in {} layer(s)",
        image_name(&my_tags, &report.repo_digests, &report.id, nt),
        human_size(report.size),
        report.layers.len()
    );
    writeln!(out, "{}", cut_to(&head, width, g))?;
    let others: Vec<String> = my_tags
        .iter()
        .skip(1)
        .chain(
            report
                .repo_digests
                .iter()
                .skip(usize::from(report.repo_tags.is_empty())),
        )
        .map(|s| sanitize(s))
        .collect();
    if !others.is_empty() {
        writeln!(
            out,
            "{}",
            cut_to(
                &format!("also: {}", others.join(", ")),
                if nt { usize::MAX } else { WIDTH },
                g
            )
        )?;
    }
    writeln!(out)?;
    let id_w = if nt { 71 } else { 12 };
    let num_w = report.layers.len().to_string().len().max(2);
    // # | LAYER (chain id) | SIZE | SHARED WITH | BUILD STEP
    let step_col = num_w + 2 + id_w + 2 + 7 + 2 + 11 + 2;
    let step_w = if nt {
        usize::MAX
    } else {
        WIDTH.saturating_sub(step_col).max(20)
    };
    writeln!(
        out,
        "{:>num_w$}  {:<id_w$}  {:<7}  {:<11}  BUILD STEP",
        "#", "LAYER", "SIZE", "SHARED WITH"
    )?;
    let rule = |text: &str| {
        let t = cut_to(&format!("{0}{0} {text}", g.rule()), width, g);
        let fill = WIDTH.saturating_sub(t.chars().count() + 1);
        if fill == 0 {
            t
        } else {
            format!("{t} {}", g.rule().repeat(fill))
        }
    };
    let mut prev: Option<String> = None;
    for img in &report.images {
        let tags = if img.id == report.id {
            report.tags_shown(&img.repo_tags)
        } else {
            img.repo_tags.clone()
        };
        let name = image_name(&tags, &img.repo_digests, &img.id, nt);
        let head = match &prev {
            None => name.clone(),
            Some(p) => format!("{p} ends here; {name} adds:"),
        };
        writeln!(out, "{}", rule(&head))?;
        for step in &img.steps {
            let text = if nt {
                sanitize(step.created_by.trim())
            } else {
                sanitize(&step_text(&step.created_by))
            };
            let text = match (text.is_empty(), &step.comment) {
                (false, _) => text,
                (true, Some(c)) => format!("({})", sanitize(c)),
                (true, None) => "(no command recorded)".to_owned(),
            };
            let text = cut_to(&text, step_w, g);
            match step
                .layer
                .and_then(|n| report.layers.get(n - 1).map(|l| (n, l)))
            {
                Some((n, l)) => {
                    let id = if nt {
                        l.chain_id.as_str().to_owned()
                    } else {
                        l.chain_id.short().to_owned()
                    };
                    let shared = if report.all {
                        l.shared_with.len()
                    } else {
                        l.shared_with_listed.len()
                    };
                    writeln!(
                        out,
                        "{n:>num_w$}  {id:<id_w$}  {:<7}  {:<11}  {text}",
                        human_size(l.size),
                        shared
                    )?;
                }
                None => {
                    writeln!(out, "{:step_col$}{text}", "")?;
                }
            }
        }
        prev = Some(
            tags.first()
                .or(img.repo_digests.first())
                .map_or_else(|| name.clone(), |n| sanitize(n)),
        );
    }
    // Layers no history step names (a history shorter than the chain).
    let named: usize = report
        .images
        .iter()
        .flat_map(|i| &i.steps)
        .filter(|s| s.layer.is_some())
        .count();
    for (k, l) in report.layers.iter().enumerate().skip(named) {
        let id = if nt {
            l.chain_id.as_str().to_owned()
        } else {
            l.chain_id.short().to_owned()
        };
        writeln!(
            out,
            "{:>num_w$}  {id:<id_w$}  {:<7}  {:<11}  (no history step recorded)",
            k + 1,
            human_size(l.size),
            if report.all {
                l.shared_with.len()
            } else {
                l.shared_with_listed.len()
            }
        )?;
    }
    Ok(())
}

/// The forest: one node per layer, children where images diverge.
#[derive(Serialize)]
pub struct ForestReport<'m> {
    /// The forest nested (roots, then `children`); empty when it is deeper than
    /// `NESTED_DEPTH_LIMIT` (see `tree_omitted`): `layers` is the form for programs.
    pub tree: Vec<ForestNode<'m>>,
    /// Why `tree` is empty although `layers` is not, else null.
    pub tree_omitted: Option<String>,
    /// Every layer of the forest once, flat: parents before their children (depth-first,
    /// children by chain id), each with its parent's chain id.
    pub layers: Vec<FlatLayer<'m>>,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    pub glyphs: Glyphs,
}

/// Past this depth the nested `tree` of the JSON is left empty (tools such as jq
/// refuse documents nested 10,000 deep; Docker itself stacks at most 125 layers).
pub const NESTED_DEPTH_LIMIT: usize = 128;

/// One layer of the forest; ids are borrowed from the model.
#[derive(Serialize)]
pub struct ForestNode<'m> {
    pub chain_id: &'m ChainId,
    pub diff_id: Option<&'m DiffId>,
    pub cache_id: Option<&'m str>,
    pub size: u64,
    /// This layer and everything above it, each layer once.
    pub branch_size: u64,
    /// Images whose top layer this is.
    pub images: Vec<ForestImage>,
    pub children: Vec<ForestNode<'m>>,
}

/// One layer of the flat list.
#[derive(Serialize)]
pub struct FlatLayer<'m> {
    pub chain_id: &'m ChainId,
    /// The chain id of the layer below; null for a base layer.
    pub parent: Option<&'m ChainId>,
    pub diff_id: Option<&'m DiffId>,
    pub cache_id: Option<&'m str>,
    pub size: u64,
    /// This layer and everything above it, each layer once.
    pub branch_size: u64,
    /// Layers below it (0 for a base layer).
    pub depth: usize,
    /// Images whose top layer this is.
    pub images: Vec<ForestImage>,
    /// Positions in `layers` of its children.
    #[serde(skip)]
    pub children: Vec<usize>,
}

#[derive(Serialize, Clone)]
pub struct ForestImage {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub dangling: bool,
    pub intermediate: bool,
}

impl Report for ForestReport<'_> {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// The forest of every image's layers. `nested`: also build the nested form of the
/// JSON (`tree`); the table reads the flat list alone.
pub fn build_forest(model: &Model, all: bool, nested: bool) -> ForestReport<'_> {
    // Layers used by loaded images, with children keyed by chain id for stable order.
    let mut used = vec![false; model.layers.len()];
    let mut tips: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in model.loaded_images() {
        let layers = model.image_layers(i);
        for &l in &layers {
            used[l] = true;
        }
        if let Some(&top) = layers.last() {
            if all || !model.is_intermediate(i) {
                tips.entry(top).or_default().push(i);
            }
        }
    }
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for l in (0..model.layers.len()).filter(|&l| used[l]) {
        match model.layer_parent(l) {
            Some(p) => children.entry(p).or_default().push(l),
            None => roots.push(l),
        }
    }
    let by_chain = |v: &mut Vec<usize>| {
        v.sort_by(|&a, &b| model.layers[a].chain_id.cmp(&model.layers[b].chain_id));
    };
    by_chain(&mut roots);
    for v in children.values_mut() {
        by_chain(v);
    }
    // Pre-order with an explicit stack: parents before children, no recursion.
    let mut layers: Vec<FlatLayer> = Vec::new();
    let mut stack: Vec<(usize, Option<usize>, usize)> =
        roots.iter().rev().map(|&r| (r, None, 0)).collect();
    let mut seen = vec![false; model.layers.len()];
    while let Some((l, parent_pos, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[l], true) {
            continue; // a cycle in tampered files
        }
        let rec = &model.layers[l];
        let images = tips
            .get(&l)
            .map(|v| {
                v.iter()
                    .map(|&i| {
                        let (repo_tags, repo_digests) = model.tags_and_digests(i);
                        ForestImage {
                            id: model.images[i].rec.id.clone(),
                            repo_tags,
                            repo_digests,
                            dangling: model.is_dangling(i),
                            intermediate: model.is_intermediate(i),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let at = layers.len();
        if let Some(p) = parent_pos {
            layers[p].children.push(at);
        }
        layers.push(FlatLayer {
            chain_id: &rec.chain_id,
            parent: parent_pos.map(|p| layers[p].chain_id),
            diff_id: rec.diff_id.as_ref(),
            cache_id: rec.cache_id.as_deref(),
            size: model.layer_size(l),
            branch_size: 0,
            depth,
            images,
            children: Vec::new(),
        });
        if let Some(kids) = children.get(&l) {
            for &k in kids.iter().rev() {
                stack.push((k, Some(at), depth + 1));
            }
        }
    }
    // Branch sizes: children come after their parent, so one backward pass adds them up.
    for k in (0..layers.len()).rev() {
        let own = layers[k].size;
        let kids: u64 = layers[k]
            .children
            .iter()
            .map(|&c| layers[c].branch_size)
            .fold(0u64, u64::saturating_add);
        layers[k].branch_size = own.saturating_add(kids);
    }
    let depth = layers.iter().map(|l| l.depth + 1).max().unwrap_or(0);
    let (tree, tree_omitted) = if !nested {
        (Vec::new(), None)
    } else if depth <= NESTED_DEPTH_LIMIT {
        (nest(&layers), None)
    } else {
        (
            Vec::new(),
            Some(format!(
                "the forest is {depth} layers deep (more than {NESTED_DEPTH_LIMIT}): see `layers`"
            )),
        )
    };
    ForestReport {
        tree,
        tree_omitted,
        layers,
        problems: model.problems.clone(),
        glyphs: Glyphs::default(),
    }
}

/// The nested form of the flat list (bounded depth: built bottom-up, no recursion).
fn nest<'m>(layers: &[FlatLayer<'m>]) -> Vec<ForestNode<'m>> {
    let mut built: Vec<Option<ForestNode<'m>>> = (0..layers.len()).map(|_| None).collect();
    for k in (0..layers.len()).rev() {
        let l = &layers[k];
        let children = l.children.iter().filter_map(|&c| built[c].take()).collect();
        built[k] = Some(ForestNode {
            chain_id: l.chain_id,
            diff_id: l.diff_id,
            cache_id: l.cache_id,
            size: l.size,
            branch_size: l.branch_size,
            images: l.images.clone(),
            children,
        });
    }
    layers
        .iter()
        .enumerate()
        .filter(|(_, l)| l.depth == 0)
        .filter_map(|(k, _)| built[k].take())
        .collect()
}

fn image_label(im: &ForestImage) -> String {
    let mut names: Vec<String> = im.repo_tags.iter().map(|t| sanitize(t)).collect();
    if names.is_empty() {
        names.extend(im.repo_digests.iter().map(|d| sanitize(d)));
    }
    if names.is_empty() {
        let what = if im.intermediate {
            "intermediate"
        } else {
            "dangling"
        };
        return format!("<none> {} ({what})", im.id.short());
    }
    format!("{} ({})", names.join(", "), im.id.short())
}

/// Indentation stops growing past this many columns, so a deep chain prints in linear
/// time and space.
const MAX_INDENT: usize = 40;

pub fn render_forest(report: &ForestReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    let g = report.glyphs;
    if report.layers.is_empty() {
        writeln!(out, "no images")?;
        return Ok(());
    }
    let ls = &report.layers;
    // (layer position, prefix for its children, connector for its own line)
    let mut stack: Vec<(usize, String, &'static str)> = ls
        .iter()
        .enumerate()
        .filter(|(_, l)| l.depth == 0)
        .map(|(k, _)| (k, String::new(), ""))
        .collect();
    stack.reverse();
    while let Some((first, prefix, connector)) = stack.pop() {
        // Fold a run of single-child layers that no image ends on into one line.
        let mut last = first;
        let mut run = 1usize;
        let mut sum = ls[first].size;
        while ls[last].images.is_empty() && ls[last].children.len() == 1 {
            last = ls[last].children[0];
            run += 1;
            sum = sum.saturating_add(ls[last].size);
        }
        let head = if run == 1 {
            format!(
                "{} {}",
                ls[last].chain_id.short(),
                human_size(ls[last].size)
            )
        } else {
            format!(
                "{} {} {} ({run} layers) {}",
                ls[first].chain_id.short(),
                g.ellipsis(),
                ls[last].chain_id.short(),
                human_size(sum)
            )
        };
        let branch = if ls[last].children.len() > 1 {
            format!("  [branch {}]", human_size(ls[first].branch_size))
        } else {
            String::new()
        };
        let tags: Vec<String> = ls[last].images.iter().map(image_label).collect();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!("  {}", tags.join("; "))
        };
        writeln!(out, "{prefix}{connector}{head}{branch}{tags}")?;
        let mut child_prefix = prefix.clone();
        if child_prefix.chars().count() < MAX_INDENT {
            if connector == g.tee() {
                child_prefix.push_str(g.pipe());
            } else if connector == g.elbow() {
                child_prefix.push_str("    ");
            }
        }
        let kids = &ls[last].children;
        let n = kids.len();
        for (k, &child) in kids.iter().enumerate().rev() {
            let conn = if k + 1 == n { g.elbow() } else { g.tee() };
            stack.push((child, child_prefix.clone(), conn));
        }
    }
    Ok(())
}
