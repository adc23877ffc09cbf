//! `dockscope images [-a]`: what `docker images [-a]` lists.

use super::{human_size, human_time, sanitize, table, write_table, Report};
use crate::model::ids::{ChainId, ImageId};
use crate::model::Model;
use crate::problem::Problem;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct ImagesReport<'m> {
    pub images: Vec<ImageRow<'m>>,
    pub problems: Vec<Problem>,
}

/// One image (not one tag).
#[derive(Serialize)]
pub struct ImageRow<'m> {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: Option<ImageId>,
    pub created: Option<String>,
    /// Docker's `Size`: the sum of the layerdb `size` of every layer of the chain.
    pub size: u64,
    pub dangling: bool,
    pub intermediate: bool,
    /// Chain ids, base first (borrowed from the model: at 10,000 images, copies cost
    /// more than the model itself).
    pub layers: Vec<&'m ChainId>,
}

impl Report for ImagesReport<'_> {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build(model: &Model, all: bool) -> ImagesReport<'_> {
    let mut images: Vec<ImageRow> = model
        .loaded_images()
        .filter(|&i| all || !model.is_intermediate(i))
        .map(|i| row(model, i))
        .collect();
    // The daemon lists newest first.
    images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    ImagesReport {
        images,
        problems: model.problems.clone(),
    }
}

pub fn row(model: &Model, i: usize) -> ImageRow<'_> {
    let im = &model.images[i];
    let (repo_tags, repo_digests) = model.tags_and_digests(i);
    ImageRow {
        id: im.rec.id.clone(),
        repo_tags,
        repo_digests,
        parent: model
            .image_parent(i)
            .map(|p| model.images[p].rec.id.clone()),
        created: im.rec.created.clone(),
        size: model.image_size(i),
        dangling: model.is_dangling(i),
        intermediate: model.is_intermediate(i),
        layers: model
            .image_layers(i)
            .into_iter()
            .map(|l| &model.layers[l].chain_id)
            .collect(),
    }
}

/// The (repository, tag, digest) rows the docker CLI prints for one image: one per tag,
/// digests of the same repository beside it, then digest-only repositories.
pub fn cli_rows(img: &ImageRow<'_>) -> Vec<(String, String, String)> {
    if img.repo_tags.is_empty() && img.repo_digests.is_empty() {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let mut tags: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut digests: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &img.repo_tags {
        if let Some((repo, tag)) = split_tag(t) {
            tags.entry(repo).or_default().push(tag);
        }
    }
    for d in &img.repo_digests {
        if let Some((repo, digest)) = d.split_once('@') {
            digests.entry(repo).or_default().push(digest);
        }
    }
    let mut rows = Vec::new();
    for (repo, tag_list) in &tags {
        let ds = digests.remove(repo).unwrap_or_default();
        for tag in tag_list {
            if ds.is_empty() {
                rows.push(((*repo).to_owned(), (*tag).to_owned(), "<none>".to_owned()));
            }
            for d in &ds {
                rows.push(((*repo).to_owned(), (*tag).to_owned(), (*d).to_owned()));
            }
        }
    }
    for (repo, ds) in digests {
        for d in ds {
            rows.push((repo.to_owned(), "<none>".to_owned(), d.to_owned()));
        }
    }
    rows
}

/// `repo:tag` -> (`repo`, `tag`); the tag follows the last `:` after the last `/`.
fn split_tag(reference: &str) -> Option<(&str, &str)> {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let colon = reference[slash..].rfind(':')? + slash;
    Some((&reference[..colon], &reference[colon + 1..]))
}

pub fn render(report: &ImagesReport<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut t = table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    for img in &report.images {
        for (repo, tag, _digest) in cli_rows(img) {
            t.add_row(vec![
                sanitize(&repo),
                sanitize(&tag),
                img.id.short().to_owned(),
                img.created.as_deref().map(human_time).unwrap_or_default(),
                human_size(img.size),
            ]);
        }
    }
    write_table(t, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(split_tag("nginx:latest"), Some(("nginx", "latest")));
        assert_eq!(
            split_tag("127.0.0.1:5000/demo/app:1"),
            Some(("127.0.0.1:5000/demo/app", "1"))
        );
        assert_eq!(split_tag("127.0.0.1:5000/demo/app"), None);
    }
}
