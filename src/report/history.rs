//! `dockscope history IMAGE`: what `docker history` lists, newest step first.
//!
//! As moby's `ImageHistory` (`daemon/images/image_history.go`): each non-empty step gets
//! the layerdb `size` of the layer it made (empty-layer steps 0); then, from the newest
//! step down, the steps get the image's id, its parent's id, the parent's parent's, ...
//! (imagedb metadata `parent`) until an image has no parent; the rest are `<missing>`.

use super::format::{self, Row};
use super::{human_size, human_time, sanitize, table, write_table, Report};
use crate::model::ids::ImageId;
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct HistoryReport {
    pub image: ImageId,
    /// Newest first.
    pub history: Vec<HistoryRow>,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    pub no_trunc: bool,
    #[serde(skip)]
    pub quiet: bool,
    /// `--human=false`: RFC 3339 times and byte counts.
    #[serde(skip)]
    pub raw: bool,
}

impl Report for HistoryReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

#[derive(Serialize)]
pub struct HistoryRow {
    /// The image this step is the last of, or `null` where docker prints `<missing>`.
    pub id: Option<ImageId>,
    pub created: Option<String>,
    pub created_by: String,
    /// The layerdb `size` of the layer the step made; 0 for an empty-layer step.
    pub size: u64,
    pub comment: String,
    pub empty_layer: bool,
    /// Tags (not digests) of `id`, as the API's `Tags`.
    pub tags: Vec<String>,
}

pub fn build(model: &Model, image: usize) -> HistoryReport {
    let im = &model.images[image];
    let mut problems = model.problems.clone();
    let chain = im.chain();
    let history = im.rec.history();
    let mut rows = Vec::with_capacity(history.len());
    let mut layer = 0usize;
    for h in &history {
        let mut size = 0;
        if !h.empty_layer {
            match chain.get(layer) {
                Some(c) => match model.layer_index(c) {
                    Some(l) => size = model.layer_size(l),
                    None => problems.push(Problem::new(
                        im.rec.path.clone(),
                        ProblemKind::BrokenReference,
                        format!(
                            "history step {} names layer {} which is not in layerdb; its size is shown as 0",
                            layer + 1,
                            c.short()
                        ),
                    )),
                },
                None => problems.push(Problem::new(
                    im.rec.path.clone(),
                    ProblemKind::Malformed,
                    "more non-empty history steps than layers; docker history refuses this image",
                )),
            }
            layer += 1;
        }
        rows.push(HistoryRow {
            id: None,
            created: h.created.clone(),
            created_by: h.created_by.clone().unwrap_or_default(),
            size,
            comment: h.comment.clone().unwrap_or_default(),
            empty_layer: h.empty_layer,
            tags: Vec::new(),
        });
    }
    rows.reverse();
    if model.containerd.is_some() {
        // The containerd store: parents by the classic builder's label of each record.
        let chain = super::c8d::history_images(model, image);
        for (row, &i) in rows.iter_mut().zip(&chain) {
            row.id = Some(model.images[i].rec.id.clone());
            row.tags = model
                .image_refs(i)
                .iter()
                .filter(|r| !r.is_digest)
                .map(|r| r.reference.clone())
                .collect();
        }
        rows.iter_mut().skip(chain.len()).for_each(|r| r.id = None);
    }
    let mut current = Some(image).filter(|_| model.containerd.is_none());
    for row in &mut rows {
        let Some(i) = current else { break };
        row.id = Some(model.images[i].rec.id.clone());
        row.tags = model
            .image_refs(i)
            .iter()
            .filter(|r| !r.is_digest)
            .map(|r| r.reference.clone())
            .collect();
        // The containerd store's daemon names only the image itself: the steps below
        // it are `<missing>`, parent images or not.
        current = model.image_parent(i).filter(|&p| model.images[p].loaded);
    }
    problems.sort();
    problems.dedup();
    HistoryReport {
        image: im.rec.id.clone(),
        history: rows,
        problems,
        no_trunc: false,
        quiet: false,
        raw: false,
    }
}

/// A step's id as docker prints it: `<missing>`, the full id, or 12 characters.
fn shown_id(h: &HistoryRow, no_trunc: bool) -> String {
    match &h.id {
        None => "<missing>".to_owned(),
        Some(id) if no_trunc => id.as_str().to_owned(),
        Some(id) => id.short().to_owned(),
    }
}

/// docker's history formatter fields and their table headers.
pub const HEADERS: format::Headers = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// The rows `--format` reads, with docker's values: `CreatedAt` RFC 3339 (UTC),
/// `CreatedSince` from now (`N/A` before 2000), `CreatedBy` with tabs as spaces and cut at
/// 45 characters unless `--no-trunc`.
pub fn format_rows(r: &HistoryReport) -> Vec<Row> {
    // Go's zero time and anything before 2000 print as N/A.
    const EPOCH_2000: i64 = 946_684_800;
    r.history
        .iter()
        .map(|h| {
            let unix = h.created.as_deref().and_then(format::unix_seconds);
            let by = h.created_by.replace('\t', " ");
            let mut row = Row::new();
            row.set("ID", shown_id(h, r.no_trunc))
                .set(
                    "CreatedSince",
                    match unix {
                        _ if r.raw => format::go_rfc3339(unix.unwrap_or(-62_135_596_800)),
                        Some(t) if t > EPOCH_2000 => format::since(t),
                        _ => "N/A".to_owned(),
                    },
                )
                .set(
                    "CreatedAt",
                    format::go_rfc3339(unix.unwrap_or(-62_135_596_800)),
                )
                .set(
                    "CreatedBy",
                    if r.no_trunc {
                        by
                    } else {
                        super::ps::ellipsis(&by, 45)
                    },
                )
                .set(
                    "Size",
                    if r.raw {
                        h.size.to_string()
                    } else {
                        format::go_human_size(h.size, 3)
                    },
                )
                .set("Comment", h.comment.clone());
            row
        })
        .collect()
}

pub fn render(r: &HistoryReport, out: &mut dyn Write) -> io::Result<()> {
    if r.quiet {
        for h in &r.history {
            writeln!(out, "{}", shown_id(h, r.no_trunc))?;
        }
        return Ok(());
    }
    let created = if r.raw { "CREATED AT" } else { "CREATED" };
    let mut t = table(&["IMAGE", created, "CREATED BY", "SIZE", "COMMENT"]);
    for h in &r.history {
        let id = shown_id(h, r.no_trunc);
        let by = h.created_by.replace('\t', " ");
        let by = if r.no_trunc {
            by
        } else {
            super::ps::ellipsis(&by, 45)
        };
        let (when, size) = if r.raw {
            let unix = h.created.as_deref().and_then(format::unix_seconds);
            (
                format::go_rfc3339(unix.unwrap_or(-62_135_596_800)),
                h.size.to_string(),
            )
        } else {
            (
                h.created.as_deref().map(human_time).unwrap_or_default(),
                human_size(h.size),
            )
        };
        t.add_row(vec![id, when, sanitize(&by), size, sanitize(&h.comment)]);
    }
    write_table(t, out)
}
