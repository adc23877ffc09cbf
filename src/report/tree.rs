//! `dockscope tree [IMAGE]`: one image's layer stack, or the forest of all images,
//! branching where they share layers.

use super::{human_size, sanitize, table, write_table, Report};
use crate::model::ids::{ChainId, DiffId, ImageId};
use crate::model::Model;
use crate::problem::Problem;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct StackReport {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub size: u64,
    /// Base first.
    pub layers: Vec<StackLayer>,
    pub problems: Vec<Problem>,
}

#[derive(Serialize)]
pub struct StackLayer {
    pub diff_id: Option<DiffId>,
    pub chain_id: ChainId,
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
}

impl Report for StackReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build_stack(model: &Model, image: usize) -> StackReport {
    let im = &model.images[image];
    let history = model.layer_history(image);
    let layers = model
        .image_layers(image)
        .into_iter()
        .enumerate()
        .map(|(pos, l)| {
            let rec = &model.layers[l];
            let dir = model.layer_dir(l).map(|d| &model.dirs[d]);
            StackLayer {
                diff_id: rec.diff_id.clone(),
                chain_id: rec.chain_id.clone(),
                cache_id: rec.cache_id.clone(),
                link: dir.and_then(|d| d.link.clone()),
                size: model.layer_size(l),
                created_by: history
                    .get(pos)
                    .map(|steps| {
                        steps
                            .iter()
                            .map(|h| h.created_by.clone().unwrap_or_default())
                            .collect()
                    })
                    .unwrap_or_default(),
                shared_with: model
                    .layer_images(l)
                    .iter()
                    .filter(|&&o| o != image)
                    .map(|&o| model.images[o].rec.id.clone())
                    .collect(),
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
        problems: model.problems.clone(),
    }
}

fn short_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_owned(), |s| s.chars().take(12).collect())
}

pub fn render_stack(report: &StackReport, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<&str> = report
        .repo_tags
        .iter()
        .chain(&report.repo_digests)
        .map(String::as_str)
        .collect();
    let names = if names.is_empty() {
        "<none>".to_owned()
    } else {
        sanitize(&names.join(", "))
    };
    writeln!(out, "{}\n{names}", report.id)?;
    writeln!(
        out,
        "{} in {} layer(s)\n",
        human_size(report.size),
        report.layers.len()
    )?;
    let mut t = table(&[
        "#",
        "CHAIN ID",
        "DIFF ID",
        "CACHE ID",
        "LINK",
        "SIZE",
        "CREATED BY",
        "SHARED WITH",
    ]);
    // Build steps are long; the table shows each on one line, cut to a readable width.
    for (n, l) in report.layers.iter().enumerate() {
        let steps: Vec<String> = l
            .created_by
            .iter()
            .map(|s| {
                let s = match sanitize(s.trim()) {
                    s if s.is_empty() => "(no command recorded)".to_owned(),
                    s => s,
                };
                if s.chars().count() > 60 {
                    format!("{}…", s.chars().take(59).collect::<String>())
                } else {
                    s
                }
            })
            .collect();
        t.add_row(vec![
            (n + 1).to_string(),
            l.chain_id.short().to_owned(),
            short_opt(l.diff_id.as_ref().map(DiffId::short)),
            short_opt(l.cache_id.as_deref()),
            l.link.clone().unwrap_or_else(|| "-".into()),
            human_size(l.size),
            steps.join("\n"),
            format!("{}", l.shared_with.len()),
        ]);
    }
    write_table(t, out)?;
    Ok(())
}

/// The forest: one node per layer, children where images diverge.
#[derive(Serialize)]
pub struct ForestReport<'m> {
    pub tree: Vec<ForestNode<'m>>,
    pub problems: Vec<Problem>,
}

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

#[derive(Serialize)]
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

pub fn build_forest(model: &Model, all: bool) -> ForestReport<'_> {
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
    roots.sort_by(|&a, &b| model.layers[a].chain_id.cmp(&model.layers[b].chain_id));
    for v in children.values_mut() {
        by_chain(v);
    }
    // Iterative post-order so a deep chain cannot overflow the stack.
    let mut built: BTreeMap<usize, ForestNode> = BTreeMap::new();
    let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
    while let Some((l, expanded)) = stack.pop() {
        let kids = children.get(&l).cloned().unwrap_or_default();
        if !expanded {
            stack.push((l, true));
            for &k in kids.iter().rev() {
                stack.push((k, false));
            }
            continue;
        }
        let kid_nodes: Vec<ForestNode> = kids.iter().filter_map(|k| built.remove(k)).collect();
        let rec = &model.layers[l];
        let size = model.layer_size(l);
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
        built.insert(
            l,
            ForestNode {
                chain_id: &rec.chain_id,
                diff_id: rec.diff_id.as_ref(),
                cache_id: rec.cache_id.as_deref(),
                size,
                branch_size: crate::model::size::add_capped(
                    size,
                    crate::model::size::sum_capped(kid_nodes.iter().map(|k| k.branch_size)),
                ),
                images,
                children: kid_nodes,
            },
        );
    }
    ForestReport {
        tree: roots.iter().filter_map(|r| built.remove(r)).collect(),
        problems: model.problems.clone(),
    }
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

pub fn render_forest(report: &ForestReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    if report.tree.is_empty() {
        writeln!(out, "no images")?;
        return Ok(());
    }
    // (node, prefix for its children, connector for its own line)
    let mut stack: Vec<(&ForestNode<'_>, String, String)> = report
        .tree
        .iter()
        .rev()
        .map(|n| (n, String::new(), String::new()))
        .collect();
    while let Some((node, prefix, connector)) = stack.pop() {
        // Fold a run of single-child layers that no image ends on into one line.
        let mut run = vec![node];
        let mut last = node;
        while last.images.is_empty() && last.children.len() == 1 {
            last = &last.children[0];
            run.push(last);
        }
        let head = if run.len() == 1 {
            format!("{} {}", last.chain_id.short(), human_size(last.size))
        } else {
            let sum = crate::model::size::sum_capped(run.iter().map(|n| n.size));
            format!(
                "{} … {} ({} layers) {}",
                node.chain_id.short(),
                last.chain_id.short(),
                run.len(),
                human_size(sum)
            )
        };
        let branch = if last.children.len() > 1 {
            format!("  [branch {}]", human_size(node.branch_size))
        } else {
            String::new()
        };
        let tags: Vec<String> = last.images.iter().map(image_label).collect();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!("  {}", tags.join("; "))
        };
        writeln!(out, "{prefix}{connector}{head}{branch}{tags}")?;
        let child_prefix = format!(
            "{prefix}{}",
            match connector.as_str() {
                "├── " => "│   ",
                "└── " => "    ",
                _ => "",
            }
        );
        let n = last.children.len();
        for (k, child) in last.children.iter().enumerate().rev() {
            let conn = if k + 1 == n {
                "└── "
            } else {
                "├── "
            };
            stack.push((child, child_prefix.clone(), conn.to_owned()));
        }
    }
    Ok(())
}
