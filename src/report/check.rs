//! `dockscope check`: the orphan audit and the consistency problems turned into one
//! yes/no answer for CI and cron, as text, JSON or node_exporter textfile metrics.

use super::du::AreaUsage;
use super::orphans::{CannotJudge, Finding, OrphansReport, Totals};
use super::{human_size, Report};
use crate::problem::Problem;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// What may pass.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Finding kinds that pass (`problem` lets unreadable input pass).
    pub allow: Vec<String>,
    /// Reclaimable findings pass while their bytes (on disk, or apparent when unknown)
    /// stay at or under this.
    pub max_orphan_bytes: Option<u64>,
    /// Broken references that hold no bytes (a container whose image `rmi -f` removed,
    /// a tag naming no image) fail too.
    pub strict: bool,
}

/// What `--allow` accepts: every finding kind, and `problem`.
pub fn known_kinds() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = super::orphans::KINDS.to_vec();
    v.push("problem");
    v.sort_unstable();
    v
}

/// `--allow` names that are not kinds, as one usage message; `None` when all are known.
pub fn unknown_allow(allow: &[String]) -> Option<String> {
    let known = known_kinds();
    let unknown: Vec<&str> = allow
        .iter()
        .map(String::as_str)
        .filter(|a| !known.contains(a))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "--allow: unknown kind {}; known kinds: {}",
            unknown
                .iter()
                .map(|u| super::sanitize(u))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        )
    })
}

#[derive(Serialize, Default)]
pub struct CheckCounts {
    pub images: usize,
    pub dangling_images: usize,
    pub layers: usize,
    pub overlay2_dirs: usize,
    pub containers: usize,
    pub volumes: usize,
}

#[derive(Serialize)]
pub struct CheckReport {
    /// True when nothing failed the policy: exit 0.
    pub ok: bool,
    /// Why it failed: finding kinds (and `problem`) that the policy did not allow.
    pub failing: Vec<String>,
    pub findings: Vec<Finding>,
    pub docker_reclaimable: Vec<Finding>,
    pub totals: Totals,
    /// As in `orphans`: non-empty means exit 2, nothing of these kinds is reclaimable.
    pub cannot_judge: Vec<CannotJudge>,
    /// Broken references that hold no bytes fail only with `--strict`.
    pub strict: bool,
    pub counts: CheckCounts,
    pub areas: Vec<AreaUsage>,
    pub scan_seconds: f64,
    pub problems: Vec<Problem>,
}

impl Report for CheckReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build(
    orphans: OrphansReport,
    counts: CheckCounts,
    areas: Vec<AreaUsage>,
    scan_seconds: f64,
    policy: &Policy,
) -> CheckReport {
    let allowed = |k: &str| policy.allow.iter().any(|a| a == k);
    let reclaimable_bytes = orphans
        .totals
        .reclaimable_disk_bytes
        .unwrap_or(orphans.totals.reclaimable_apparent_bytes);
    let under_budget = policy
        .max_orphan_bytes
        .is_some_and(|max| reclaimable_bytes <= max);
    let mut failing: Vec<String> = orphans
        .findings
        .iter()
        .filter(|f| {
            !(allowed(f.kind)
                || f.reclaimable && under_budget
                || !policy.strict && f.paths.is_empty())
        })
        .map(|f| f.kind.to_owned())
        .collect();
    if !orphans.problems.is_empty() && !allowed("problem") {
        failing.push("problem".into());
    }
    if !orphans.cannot_judge.is_empty() {
        failing.push("cannot-judge".into());
    }
    failing.sort();
    failing.dedup();
    CheckReport {
        ok: failing.is_empty(),
        failing,
        findings: orphans.findings,
        docker_reclaimable: orphans.docker_reclaimable,
        totals: orphans.totals,
        cannot_judge: orphans.cannot_judge,
        strict: policy.strict,
        counts,
        areas,
        scan_seconds,
        problems: orphans.problems,
    }
}

pub fn render(r: &CheckReport, out: &mut dyn Write) -> io::Result<()> {
    super::orphans::render_cannot_judge(&r.cannot_judge, out)?;
    if r.ok {
        writeln!(
            out,
            "OK: no finding fails the policy ({} finding(s) in all)",
            r.findings.len()
        )?;
    } else {
        writeln!(out, "FAIL: {}", r.failing.join(", "))?;
    }
    let mut per: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for f in &r.findings {
        let e = per.entry(f.kind).or_default();
        e.0 += 1;
        e.1 += f.disk_bytes.unwrap_or(f.apparent_bytes);
    }
    for (kind, (n, bytes)) in per {
        let passes = !r.failing.iter().any(|k| k == kind);
        let note = if passes { ", passes" } else { "" };
        writeln!(out, "  {kind}: {n} ({}{note})", human_size(bytes))?;
    }
    if !r.problems.is_empty() {
        writeln!(out, "  problem: {} (see stderr)", r.problems.len())?;
    }
    Ok(())
}

/// A label value in the Prometheus text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// node_exporter textfile-collector metrics.
pub fn prometheus(r: &CheckReport, root: &str) -> String {
    let root = label(root);
    let mut s = String::new();
    let mut metric = |name: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(s, "# HELP dockscope_{name} {help}");
        let _ = writeln!(s, "# TYPE dockscope_{name} gauge");
        for (labels, v) in samples {
            let sep = if labels.is_empty() { "" } else { "," };
            let _ = writeln!(s, "dockscope_{name}{{root=\"{root}\"{sep}{labels}}} {v}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "check_ok",
        "1 when no finding fails the policy.",
        &one(if r.ok { 1.0 } else { 0.0 }),
    );
    let mut counts: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
    for f in &r.findings {
        let e = counts.entry(f.kind).or_default();
        e.0 += 1.0;
        e.1 += f.apparent_bytes as f64;
        e.2 += f.disk_bytes.unwrap_or(0) as f64;
    }
    metric(
        "findings",
        "Leftovers and broken references, per kind.",
        &counts
            .iter()
            .map(|(k, v)| (format!("kind=\"{k}\""), v.0))
            .collect::<Vec<_>>(),
    );
    let mut bytes = Vec::new();
    for (k, v) in &counts {
        bytes.push((format!("kind=\"{k}\",measure=\"apparent\""), v.1));
        bytes.push((format!("kind=\"{k}\",measure=\"disk\""), v.2));
    }
    metric("finding_bytes", "Bytes held by findings, per kind.", &bytes);
    let mut docker: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for f in &r.docker_reclaimable {
        let e = docker.entry(f.kind).or_default();
        e.0 += 1.0;
        e.1 += f.disk_bytes.unwrap_or(f.apparent_bytes) as f64;
    }
    metric(
        "docker_reclaimable_bytes",
        "Bytes Docker itself would free (dangling images, stopped containers, build cache, ...), per kind.",
        &docker.iter().map(|(k, v)| (format!("kind=\"{k}\""), v.1)).collect::<Vec<_>>(),
    );
    let c = &r.counts;
    metric(
        "objects",
        "Objects in the root, per kind.",
        &[
            ("kind=\"images\"".to_owned(), c.images as f64),
            (
                "kind=\"dangling_images\"".to_owned(),
                c.dangling_images as f64,
            ),
            ("kind=\"layers\"".to_owned(), c.layers as f64),
            ("kind=\"overlay2_dirs\"".to_owned(), c.overlay2_dirs as f64),
            ("kind=\"containers\"".to_owned(), c.containers as f64),
            ("kind=\"volumes\"".to_owned(), c.volumes as f64),
        ],
    );
    let mut areas = Vec::new();
    for a in &r.areas {
        let n = label(&a.name);
        if let Some(d) = a.disk_bytes {
            areas.push((format!("area=\"{n}\",measure=\"disk\""), d as f64));
        }
        areas.push((
            format!("area=\"{n}\",measure=\"apparent\""),
            a.apparent_bytes as f64,
        ));
    }
    metric(
        "area_bytes",
        "Bytes per top-level area of the root.",
        &areas,
    );
    metric(
        "cannot_judge",
        "Record areas that could not be read in full (nothing they could claim is called reclaimable).",
        &one(r.cannot_judge.len() as f64),
    );
    metric(
        "problems",
        "Files that could not be read or made sense of.",
        &one(r.problems.len() as f64),
    );
    metric(
        "scan_duration_seconds",
        "Time the scan and walk took.",
        &one(r.scan_seconds),
    );
    s
}
