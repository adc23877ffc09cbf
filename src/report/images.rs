//! `dockscope images [-a] [REPOSITORY[:TAG]] [--filter k=v]...`: what `docker images`
//! lists, with the daemon's filters (moby `daemon/images/image_list.go`) and the CLI's
//! rows, `-q`, `--digests`, `--no-trunc` and `--format` (docker/cli `formatter/image.go`).

use super::filter::{glob_match, Filters};
use super::format::{self, Row};
use super::{human_size, human_time, sanitize, table, write_table, Report};
use crate::model::ids::{ChainId, ImageId};
use crate::model::resolve::Resolved;
use crate::model::Model;
use crate::problem::Problem;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct ImagesReport<'m> {
    pub images: Vec<ImageRow<'m>>,
    pub problems: Vec<Problem>,
    /// How the human table is printed (not part of the JSON).
    #[serde(skip)]
    pub view: View,
}

/// `-q`, `--digests`, `--no-trunc`.
#[derive(Clone, Copy, Debug, Default)]
pub struct View {
    pub quiet: bool,
    pub digests: bool,
    pub no_trunc: bool,
}

/// The filter keys `docker images --filter` accepts.
pub const FILTER_KEYS: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];

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
    /// Containers created from it (the API's `Containers`).
    #[serde(skip)]
    pub containers: usize,
}

impl Report for ImagesReport<'_> {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }

    fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        super::write_list_json("images", &self.images, &self.problems, out)
    }
}

pub fn build(model: &Model, all: bool) -> ImagesReport<'_> {
    build_filtered(model, all, &Filters::default())
        .unwrap_or_else(|_| unreachable!("no filter cannot fail"))
}

/// The image's config labels (`None`: the config has no `config` object).
pub fn image_labels(model: &Model, i: usize) -> Option<BTreeMap<String, String>> {
    let raw = model.images[i].rec.config.as_ref()?;
    let v: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
    let labels = v
        .get("Labels")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Some(labels)
}

fn created_ts(model: &Model, i: usize) -> Option<jiff::Timestamp> {
    model.images[i].rec.created.as_deref()?.parse().ok()
}

/// An image named in `before=`/`since=`, as docker resolves it.
fn filter_image(model: &Model, key: &str, name: &str) -> Result<Option<jiff::Timestamp>, String> {
    match model.resolve_image(name) {
        Resolved::Found(i) => Ok(created_ts(model, i)),
        Resolved::NotFound => Err(format!(
            "invalid filter '{key}={name}': {}",
            model.not_found_message(name)
        )),
        Resolved::Ambiguous(_) => Err(format!(
            "invalid filter '{key}={name}': the id prefix matches several images"
        )),
    }
}

/// docker's `until=`: a Unix time, an RFC 3339 time or date, or a duration before now
/// (`10m`, `24h`, `1h30m`).
fn until_time(value: &str) -> Result<jiff::Timestamp, String> {
    let bad = || format!("invalid filter 'until={value}': not a time or a duration");
    if let Ok(secs) = value.parse::<f64>() {
        return jiff::Timestamp::from_second(secs as i64).map_err(|_| bad());
    }
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = value.parse::<jiff::civil::DateTime>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    if let Ok(d) = value.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|_| bad());
    }
    let mut secs = 0f64;
    let mut num = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return Err(bad());
        }
        num.clear();
        num.push_str(&rest[..n]);
        rest = &rest[n..];
        let u = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        secs += num.parse::<f64>().map_err(|_| bad())? * scale;
    }
    jiff::Timestamp::from_second(crate::clock::now().as_second() - secs as i64).map_err(|_| bad())
}

/// `docker images` with filters, as the daemon applies them: `dangling` (only images
/// with no child and no tag), `label` (every one given), `before`/`since` (creation
/// time, the strictest value wins), `until`, and `reference` (a glob on the familiar name
/// or the familiar reference; only the references that match are listed).
pub fn build_filtered<'m>(
    model: &'m Model,
    all: bool,
    filters: &Filters,
) -> Result<ImagesReport<'m>, String> {
    filters.validate(FILTER_KEYS)?;
    let dangling_only = filters.get_bool("dangling", false)?;
    let mut before: Option<jiff::Timestamp> = None;
    for v in filters.get("before") {
        if let Some(t) = filter_image(model, "before", v)? {
            before = Some(before.map_or(t, |b| b.min(t)));
        }
    }
    for v in filters.get("until") {
        let t = until_time(v)?;
        before = Some(before.map_or(t, |b| b.min(t)));
    }
    let mut since: Option<jiff::Timestamp> = None;
    for v in filters.get("since") {
        if let Some(t) = filter_image(model, "since", v)? {
            since = Some(since.map_or(t, |b| b.max(t)));
        }
    }
    let patterns = filters.get("reference");
    for p in &patterns {
        glob_match(p, "").map_err(|e| format!("invalid filter 'reference={p}': {e}"))?;
    }
    // Each image on its own, in parallel (the rows keep the images' order).
    let loaded: Vec<usize> = model.loaded_images().collect();
    let mut images: Vec<ImageRow<'m>> = loaded
        .par_iter()
        .filter_map(|&i| {
            let has_children = !model.image_children(i).is_empty();
            if dangling_only && has_children {
                return None;
            }
            let created = created_ts(model, i);
            if before.is_some() && !matches!((created, before), (Some(c), Some(b)) if c < b) {
                return None;
            }
            if since.is_some() && !matches!((created, since), (Some(c), Some(s)) if c > s) {
                return None;
            }
            if filters.contains("label") {
                match image_labels(model, i) {
                    Some(l) if filters.match_kv_list("label", &l) => {}
                    _ => return None,
                }
            }
            let mut r = row(model, i);
            if !patterns.is_empty() {
                let keep = |reference: &str| {
                    let name = reference.split_once('@').map_or_else(
                        || split_tag(reference).map_or(reference, |(n, _)| n),
                        |(n, _)| n,
                    );
                    patterns.iter().any(|p| {
                        glob_match(p, reference).unwrap_or(false)
                            || glob_match(p, name).unwrap_or(false)
                    })
                };
                r.repo_tags.retain(|t| keep(t));
                r.repo_digests.retain(|d| keep(d));
            }
            if r.repo_tags.is_empty() && r.repo_digests.is_empty() {
                if !all && has_children {
                    return None;
                }
                if filters.contains("dangling") && !dangling_only {
                    return None;
                }
                if filters.contains("reference") {
                    return None;
                }
            } else if dangling_only && !r.repo_tags.is_empty() {
                return None;
            }
            Some(r)
        })
        .collect();
    // The daemon lists newest first.
    images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(ImagesReport {
        images,
        problems: model.problems.clone(),
        view: View::default(),
    })
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
        containers: model.image_containers(i).len(),
    }
}

/// The (repository, tag, digest) rows the docker CLI prints for one image: one per tag
/// (with `need_digest`, one per tag and digest of its repository), then the repositories
/// known only by digest (one row per digest with `--digests`, else one row).
pub fn cli_rows(
    img: &ImageRow<'_>,
    digests: bool,
    need_digest: bool,
) -> Vec<(String, String, String)> {
    if img.repo_tags.is_empty() && img.repo_digests.is_empty() {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let mut tags: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_repo: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &img.repo_tags {
        if let Some((repo, tag)) = split_tag(t) {
            tags.entry(repo).or_default().push(tag);
        }
    }
    for d in &img.repo_digests {
        if let Some((repo, digest)) = d.split_once('@') {
            by_repo.entry(repo).or_default().push(digest);
        }
    }
    let mut rows = Vec::new();
    for (repo, tag_list) in &tags {
        let mut ds = by_repo.remove(repo).unwrap_or_default();
        if !need_digest {
            ds.clear();
        }
        for tag in tag_list {
            if ds.is_empty() {
                rows.push(((*repo).to_owned(), (*tag).to_owned(), "<none>".to_owned()));
            }
            for d in &ds {
                rows.push(((*repo).to_owned(), (*tag).to_owned(), (*d).to_owned()));
            }
        }
    }
    for (repo, ds) in by_repo {
        if digests {
            for d in ds {
                rows.push((repo.to_owned(), "<none>".to_owned(), d.to_owned()));
            }
        } else {
            rows.push((repo.to_owned(), "<none>".to_owned(), String::new()));
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
    let v = report.view;
    let id = |img: &ImageRow<'_>| {
        if v.no_trunc {
            img.id.as_str().to_owned()
        } else {
            img.id.short().to_owned()
        }
    };
    if v.quiet {
        for img in &report.images {
            for _ in cli_rows(img, v.digests, v.digests) {
                writeln!(out, "{}", id(img))?;
            }
        }
        return Ok(());
    }
    let mut header = vec!["REPOSITORY", "TAG"];
    if v.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut t = table(&header);
    for img in &report.images {
        for (repo, tag, digest) in cli_rows(img, v.digests, v.digests) {
            let mut cells = vec![sanitize(&repo), sanitize(&tag)];
            if v.digests {
                cells.push(sanitize(&digest));
            }
            cells.extend([
                id(img),
                img.created.as_deref().map(human_time).unwrap_or_default(),
                human_size(img.size),
            ]);
            t.add_row(cells);
        }
    }
    write_table(t, out)
}

/// docker's image formatter fields and their table headers.
pub const HEADERS: format::Headers = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

/// The rows `--format` reads, one per CLI row, with docker's field values: sizes in
/// docker's units, `CreatedAt` in Go's time format (UTC), `CreatedSince` from now.
/// `SharedSize` and `UniqueSize` are `N/A`, as `docker images` prints them.
pub fn format_rows(report: &ImagesReport<'_>, source: &str) -> Vec<Row> {
    let v = report.view;
    let need_digest = v.digests || source.contains("{{.Digest}}");
    let mut rows = Vec::new();
    for img in &report.images {
        let unix = img.created.as_deref().and_then(format::unix_seconds);
        for (repo, tag, digest) in cli_rows(img, v.digests, need_digest) {
            let mut r = Row::new();
            r.set(
                "ID",
                if v.no_trunc {
                    img.id.as_str().to_owned()
                } else {
                    format::truncate_id(img.id.as_str())
                },
            )
            .set("Repository", repo)
            .set("Tag", tag)
            .set("Digest", digest)
            .set("CreatedSince", unix.map(format::since).unwrap_or_default())
            .set("CreatedAt", format::go_time_string(unix.unwrap_or(0)))
            .set("Size", format::go_human_size(img.size, 3))
            .set("Containers", img.containers.to_string())
            .set("VirtualSize", format::go_human_size(img.size, 4))
            .set("SharedSize", "N/A")
            .set("UniqueSize", "N/A");
            rows.push(r);
        }
    }
    rows
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
