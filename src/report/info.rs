//! `dockscope info`: what the root holds, what was analysed, and every problem met.

use super::{sanitize, table, write_table, Report};
use crate::model::ids::DirIdForm;
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::scan::layout::{Area, LayoutFound};
use serde::Serialize;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct InfoReport {
    /// The root as given.
    pub root: String,
    /// True when the root was read from a tar archive.
    pub archive: bool,
    /// For an archive, the folder inside it that holds the data root.
    pub archive_prefix: Option<String>,
    /// The storage driver analysed.
    pub driver: &'static str,
    pub layouts: Vec<LayoutFound>,
    pub areas: Vec<Area>,
    pub counts: Counts,
    pub version_hints: Vec<String>,
    /// Docker's containerd image store: containerd's root and its namespaces (absent
    /// on a classic root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd: Option<super::c8d::C8dInfo>,
    pub problems: Vec<Problem>,
}

#[derive(Serialize, Default)]
pub struct Counts {
    /// Images Docker would load.
    pub images: usize,
    pub tagged: usize,
    pub dangling: usize,
    pub intermediate: usize,
    /// Image configs Docker would not load (bad digest or missing layers).
    pub unloadable_images: usize,
    pub tags: usize,
    pub digests: usize,
    pub layers: usize,
    pub layers_removing: usize,
    pub layerdb_tmp: usize,
    pub overlay2_dirs: usize,
    pub init_dirs: usize,
    pub buildkit_dirs: usize,
    pub l_links: usize,
    pub containers: usize,
    pub running: usize,
    pub volumes: usize,
}

impl Report for InfoReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build(root: &DataRoot, model: &Model) -> InfoReport {
    let loaded: Vec<usize> = model.loaded_images().collect();
    let counts = Counts {
        images: loaded.len(),
        tagged: loaded
            .iter()
            .filter(|&&i| !model.image_refs(i).is_empty())
            .count(),
        dangling: loaded.iter().filter(|&&i| model.is_dangling(i)).count(),
        intermediate: loaded.iter().filter(|&&i| model.is_intermediate(i)).count(),
        unloadable_images: model.images.len() - loaded.len(),
        tags: model.tags.iter().filter(|t| !t.is_digest).count(),
        digests: model.tags.iter().filter(|t| t.is_digest).count(),
        layers: model.layers.len(),
        layers_removing: model.removing.len(),
        layerdb_tmp: model.layerdb_tmp.len(),
        overlay2_dirs: model.dirs.len(),
        init_dirs: model
            .dirs
            .iter()
            .filter(|d| d.form == DirIdForm::Init)
            .count(),
        buildkit_dirs: model
            .dirs
            .iter()
            .filter(|d| d.form == DirIdForm::Buildkit)
            .count(),
        l_links: model.links.len(),
        containers: model.containers.len(),
        running: model
            .containers
            .iter()
            .filter(|c| c.rec.state.running)
            .count(),
        volumes: model.volumes.len(),
    };
    InfoReport {
        root: root.shown().display().to_string(),
        archive: root.is_archive(),
        archive_prefix: root.archive_prefix().map(str::to_owned),
        driver: if model.containerd.is_some() {
            "overlayfs"
        } else {
            "overlay2"
        },
        layouts: model.layout.layouts.clone(),
        areas: model.layout.areas.clone(),
        counts,
        version_hints: model.layout.version_hints.clone(),
        containerd: super::c8d::info(model),
        problems: model.problems.clone(),
    }
}

pub fn render(r: &InfoReport, out: &mut dyn Write) -> io::Result<()> {
    let kind = if r.archive {
        " (tar archive, read in place)"
    } else {
        ""
    };
    writeln!(out, "Root:            {}{kind}", sanitize(&r.root))?;
    if let Some(p) = r.archive_prefix.as_deref().filter(|p| !p.is_empty()) {
        writeln!(out, "Root in archive: {}/", sanitize(p))?;
    }
    writeln!(out, "Storage driver:  {}", r.driver)?;
    if let Some(c) = &r.containerd {
        super::c8d::render_info(c, out)?;
    }
    for l in r.layouts.iter().filter(|l| !l.analysed) {
        writeln!(
            out,
            "Also found:      {} at {} ({})",
            l.name,
            l.paths.join(", "),
            l.note
        )?;
    }
    let areas: Vec<String> = r.areas.iter().map(|a| sanitize(&a.name)).collect();
    writeln!(out, "Areas:           {}", areas.join(" "))?;
    let c = &r.counts;
    let mut t = table(&["WHAT", "COUNT", "NOTE"]);
    let rows: [(&str, usize, String); 13] = [
        (
            "images",
            c.images,
            format!(
                "{} tagged, {} dangling, {} intermediate",
                c.tagged, c.dangling, c.intermediate
            ),
        ),
        (
            "unloadable images",
            c.unloadable_images,
            "configs Docker would not load".into(),
        ),
        (
            "tags / digests",
            c.tags,
            format!("{} digest references", c.digests),
        ),
        ("layers", c.layers, "layerdb/sha256 entries".into()),
        (
            "layers being removed",
            c.layers_removing,
            "layerdb *-removing".into(),
        ),
        (
            "layerdb/tmp entries",
            c.layerdb_tmp,
            "interrupted registrations".into(),
        ),
        (
            "overlay2 dirs",
            c.overlay2_dirs,
            format!("{} init, {} BuildKit", c.init_dirs, c.buildkit_dirs),
        ),
        ("l/ links", c.l_links, String::new()),
        (
            "containers",
            c.containers,
            format!("{} recorded running at capture", c.running),
        ),
        ("volumes", c.volumes, String::new()),
        ("problems", r.problems.len(), "listed below (stderr)".into()),
        ("version hints", r.version_hints.len(), String::new()),
        ("layouts found", r.layouts.len(), String::new()),
    ];
    for (what, n, note) in rows {
        t.add_row(vec![what.to_owned(), n.to_string(), note]);
    }
    write_table(t, out)?;
    for h in &r.version_hints {
        writeln!(out, "hint: {h}")?;
    }
    Ok(())
}
