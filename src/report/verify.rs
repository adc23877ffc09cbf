//! `dockscope verify`: the findings of `crate::verify`, per layer and per image, and the
//! containers' drift, as a table or JSON (docs/json.md).

use super::{human_size, sanitize, table, write_table, Report};
use crate::model::ids::ImageId;
use crate::model::Model;
use crate::problem::Problem;
use crate::verify::drift::Drift;
use crate::verify::{Checked, Finding, LayerChecked, Level, Verified};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct VerifyReport {
    pub level: Level,
    /// No finding (drift and problems do not count).
    pub ok: bool,
    pub findings: Vec<Finding>,
    /// Each layer of the run: fully checked or not, and which `size` rule it matched.
    pub layers: Vec<LayerChecked>,
    pub drift: Vec<Drift>,
    pub checked: Checked,
    pub problems: Vec<Problem>,
    /// For the table: an image's first tag, else its short id.
    #[serde(skip)]
    names: BTreeMap<ImageId, String>,
}

impl Report for VerifyReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build(model: &Model, v: Verified) -> VerifyReport {
    let mut names = BTreeMap::new();
    for (i, im) in model.images.iter().enumerate() {
        let name = model
            .image_refs(i)
            .iter()
            .find(|r| !r.is_digest)
            .map_or_else(|| im.rec.id.short().to_owned(), |r| r.reference.clone());
        names.insert(im.rec.id.clone(), name);
    }
    VerifyReport {
        level: v.level,
        ok: v.findings.is_empty(),
        findings: v.findings,
        layers: v.layers,
        drift: v.drift,
        checked: v.checked,
        problems: v.problems,
        names,
    }
}

/// 64-hex path components shown as docker shows ids: 12 digits.
fn short_path(p: &str) -> String {
    p.split('/')
        .map(|c| {
            if c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
                &c[..12]
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn value(v: &Value) -> String {
    let s = match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.strip_prefix("sha256:").map_or_else(
            || s.clone(),
            |h| {
                if h.len() == 64 {
                    h[..12].to_owned()
                } else {
                    s.clone()
                }
            },
        ),
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                format!(
                    "{k} {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        v => v.to_string(),
    };
    sanitize(&s)
}

pub fn render(r: &VerifyReport, out: &mut dyn Write) -> io::Result<()> {
    let level = match r.level {
        Level::Metadata => "metadata",
        Level::Content => "content",
        Level::Deep => "deep",
    };
    let c = &r.checked;
    let mut line = format!("verify ({level}): {} images, {} layers", c.images, c.layers);
    if r.level >= Level::Content {
        let _ = write!(line, ", {} files, {} read", c.files, human_size(c.bytes));
    }
    if r.level == Level::Deep {
        let _ = write!(line, ", {} layer tars rebuilt", c.diff_ids);
    }
    writeln!(out, "{line}")?;
    let rules = |name: &str| {
        r.layers
            .iter()
            .filter(|l| l.size_rule == Some(name))
            .count()
    };
    let mut rule_note = format!("size rule: {} docker", rules("docker"));
    let naive = rules("naive-diff");
    if naive > 0 {
        let _ = write!(rule_note, ", {naive} naive-diff (symlinks not counted)");
    }
    writeln!(
        out,
        "{} of {} layers fully checked ({rule_note})",
        c.layers_fully_checked, c.layers_total
    )?;
    if !r.findings.is_empty() {
        writeln!(out, "\nFINDINGS")?;
        let mut t = table(&["LAYER", "KIND", "PATH", "EXPECTED", "FOUND"]);
        for f in &r.findings {
            t.add_row(vec![
                f.layer.as_ref().map_or("-", |l| l.short()).to_owned(),
                f.kind.as_str().to_owned(),
                sanitize(&short_path(&f.path)),
                value(&f.expected),
                value(&f.found),
            ]);
        }
        write_table(t, out)?;
        let mut per_image: BTreeMap<&ImageId, usize> = BTreeMap::new();
        for f in &r.findings {
            for i in &f.images {
                *per_image.entry(i).or_default() += 1;
            }
        }
        if !per_image.is_empty() {
            writeln!(out, "\nIMAGES AFFECTED")?;
            let mut t = table(&["IMAGE ID", "IMAGE", "FINDINGS"]);
            for (id, n) in per_image {
                t.add_row(vec![
                    id.short().to_owned(),
                    sanitize(r.names.get(id).map_or("-", String::as_str)),
                    n.to_string(),
                ]);
            }
            write_table(t, out)?;
        }
    }
    if r.drift.iter().any(|d| !d.changes.is_empty()) {
        writeln!(
            out,
            "\nDRIFT (container changes over their image; not failures)"
        )?;
        for d in r.drift.iter().filter(|d| !d.changes.is_empty()) {
            let image = d
                .image
                .as_ref()
                .map_or("-", |i| r.names.get(i).map_or(i.short(), String::as_str));
            writeln!(
                out,
                "{}  {}  ({})",
                d.container.short(),
                sanitize(&d.name),
                sanitize(image)
            )?;
            d.changes.try_for_each_mapped(
                |name| std::borrow::Cow::Owned(sanitize(name)),
                |kind, path| writeln!(out, "  {} {}", kind.as_str(), path),
            )?;
        }
    }
    if r.ok {
        writeln!(out, "\nno mismatch: the files agree with Docker's records")?;
    } else {
        writeln!(out, "\n{} mismatch(es)", r.findings.len())?;
    }
    Ok(())
}
