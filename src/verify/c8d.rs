//! `verify` on Docker's containerd image store.
//!
//! Metadata: every image record's target is in the content store; each blob record's
//! size is its file's; each config's diff ids equal the `containerd.io/uncompressed`
//! labels of its layer blobs; an unpacked image's chain ids are snapshot keys, and each
//! committed snapshot has its `snapshots/<n>/fs`. `--content`: every blob's SHA-256 is
//! its name, and every entry of each image layer's tar is in its snapshot's `fs/` with
//! the same type, mode, owner, size, contents and link target. `--deep`: every layer blob, decompressed (gzip or zstd), hashes to its diff
//! id. `--content` and `--deep` also list each container's drift (`docker diff` of its RW
//! snapshot against its `-init` snapshot's view, merged by `fs`). Files are streamed
//! through fixed buffers, through `DataRoot` only.

use super::{Checked, Finding, Kind, LayerChecked, Level, Verified};
use crate::model::ids::{ChainId, ImageId};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::scan::containerd::content::blob_rel;
use crate::scan::containerd::records::C8d;
use crate::scan::containerd::{shown, CONTENT, META_DB, OVERLAYFS};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::Read;

const UNCOMPRESSED: &str = "containerd.io/uncompressed";

struct Out {
    findings: Vec<Finding>,
    problems: Vec<Problem>,
}

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        layer: Option<&str>,
        images: &[ImageId],
        path: String,
        kind: Kind,
        expected: Value,
        found: Value,
        detail: Option<String>,
    ) {
        self.findings.push(Finding {
            layer: layer.and_then(ChainId::parse),
            images: images.to_vec(),
            path,
            file: None,
            kind,
            expected,
            found,
            detail,
        });
    }
}

/// Hash a file of containerd's root, optionally through a decompressor.
fn hash_file(
    croot: &DataRoot,
    rel: &str,
    decompress: Option<&str>,
) -> Result<(String, u64), String> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = croot.dir(parent).map_err(|e| e.to_string())?;
    let (file, _) = dir.open(OsStr::new(name)).map_err(|e| e.to_string())?;
    let mut reader: Box<dyn Read> = match decompress {
        Some("gzip") => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        ))),
        Some("zstd") => Box::new(
            ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
                .map_err(|e| format!("not a zstd stream: {e}"))?,
        ),
        _ => Box::new(file),
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = reader.read(&mut buf).map_err(|e| e.to_string())?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((format!("sha256:{:x}", h.finalize()), n))
}

/// How a layer media type is compressed (OCI `+gzip`/`+zstd`, Docker's `.tar.gzip`).
fn compression(media_type: &str) -> Option<&'static str> {
    let mt = media_type.to_ascii_lowercase();
    if mt.ends_with("zstd") {
        Some("zstd")
    } else if mt.ends_with("gzip") {
        Some("gzip")
    } else if mt.ends_with("tar") {
        Some("none")
    } else {
        None
    }
}

/// Verify the containerd store. `images`: the selection (model image indices).
pub fn run(
    croot: Option<&DataRoot>,
    model: &Model,
    images: Option<&[usize]>,
    level: Level,
) -> Verified {
    let mut out = Out {
        findings: Vec::new(),
        problems: model.problems.clone(),
    };
    let mut checked = Checked::default();
    let mut layers_checked: Vec<LayerChecked> = Vec::new();
    let c8d: &C8d = match model.containerd.as_deref() {
        Some(c) => c,
        None => return empty(level, out),
    };
    let (Some(store), Some(croot)) = (c8d.store.as_ref(), croot) else {
        let reason = c8d.unusable.as_ref().map_or_else(
            || "containerd's records were not read".to_owned(),
            |u| u.reason.clone(),
        );
        out.add(
            None,
            &[],
            shown(META_DB),
            Kind::NotChecked,
            Value::Null,
            Value::Null,
            Some(format!("nothing verified: {reason}")),
        );
        return empty(level, out);
    };
    let ns = c8d.namespace.as_str();
    let sel: Vec<usize> =
        images.map_or_else(|| (0..model.images.len()).collect(), <[usize]>::to_vec);
    let recorded: HashMap<&str, &crate::scan::containerd::meta::BlobRecord> = store
        .meta
        .blobs
        .iter()
        .filter(|b| b.namespace == ns)
        .map(|b| (b.digest.as_str(), b))
        .collect();
    // Blobs of the selection (each once), with the images holding them.
    let mut blobs: BTreeMap<String, (Option<String>, BTreeSet<ImageId>)> = BTreeMap::new();
    let mut layers: BTreeMap<
        String,
        (
            String,
            crate::scan::containerd::content::Desc,
            BTreeSet<ImageId>,
        ),
    > = BTreeMap::new();
    for &i in &sel {
        let id = &model.images[i].rec.id;
        let Some(f) = c8d.image(id) else { continue };
        checked.images += 1;
        let t = &f.target.digest;
        if !store.blob_files.contains_key(t) {
            out.add(
                None,
                std::slice::from_ref(id),
                shown(META_DB),
                Kind::DanglingReference,
                json!(t),
                Value::Null,
                Some(format!(
                    "image record(s) {} name a target the content store lacks",
                    f.names.join(", ")
                )),
            );
        }
        blobs.entry(t.clone()).or_default().1.insert(id.clone());
        for m in &f.manifests {
            if m.kind == "unknown" {
                continue;
            }
            blobs
                .entry(m.digest.clone())
                .or_default()
                .1
                .insert(id.clone());
            if let Some(c) = &m.config {
                blobs
                    .entry(c.digest.clone())
                    .or_default()
                    .1
                    .insert(id.clone());
            }
            for (li, l) in m.layers.iter().enumerate() {
                let e = blobs.entry(l.digest.clone()).or_default();
                e.0.get_or_insert_with(|| l.media_type.clone());
                e.1.insert(id.clone());
                // diff ids against the uncompressed labels
                if let (Some(diff), Some(rec)) =
                    (m.diff_ids.get(li), recorded.get(l.digest.as_str()))
                {
                    if let Some(label) = rec.labels.get(UNCOMPRESSED) {
                        if label != diff.as_str() {
                            out.add(
                                m.chain_ids.get(li).map(ChainId::as_str),
                                std::slice::from_ref(id),
                                blob_rel(&l.digest).map_or_else(|| shown(META_DB), |r| shown(&r)),
                                Kind::DiffIdMismatch,
                                json!(diff),
                                json!(label),
                                Some(format!("the config's diff id differs from the blob's {UNCOMPRESSED} label")),
                            );
                        }
                    }
                    if m.available {
                        let chain = m.chain_ids[li].as_str().to_owned();
                        let e = layers.entry(chain).or_insert_with(|| {
                            (diff.as_str().to_owned(), l.clone(), BTreeSet::new())
                        });
                        e.2.insert(id.clone());
                    }
                }
            }
            // An unpacked image: the chain ids are snapshot keys, committed, with dirs.
            let top = m.chain_ids.last();
            if m.kind == "image" && top.is_some_and(|t| c8d.snapshots.contains_key(t.as_str())) {
                for c in m.chain_ids.iter().map(ChainId::as_str) {
                    match c8d.snapshots.get(c) {
                        None => out.add(
                            Some(c),
                            std::slice::from_ref(id),
                            shown(&format!("{META_DB}#v1/{ns}/snapshots/overlayfs/{c}")),
                            Kind::MissingLayer,
                            json!(c),
                            Value::Null,
                            Some("the image is unpacked but this chain id has no snapshot".into()),
                        ),
                        Some(s) if s.kind != Some("committed") => out.add(
                            Some(c),
                            std::slice::from_ref(id),
                            shown(&format!("{META_DB}#v1/{ns}/snapshots/overlayfs/{c}")),
                            Kind::DanglingReference,
                            json!("committed"),
                            json!(s.kind),
                            Some("an image layer's snapshot is not committed".into()),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    // Committed snapshots of the selection's chains have their dirs.
    for (chain, (_, _, holders)) in &layers {
        let holders: Vec<ImageId> = holders.iter().cloned().collect();
        let mut unchecked = Vec::new();
        if let Some(n) = c8d.snapshots.get(chain).and_then(|s| s.id) {
            let fs = format!("{OVERLAYFS}/snapshots/{n}/fs");
            if croot.lstat(&fs).is_err() {
                out.add(
                    Some(chain),
                    &holders,
                    shown(&fs),
                    Kind::MissingCacheDir,
                    json!(shown(&fs)),
                    Value::Null,
                    Some("a committed snapshot's dir is gone".into()),
                );
                unchecked.push("snapshot dir".to_owned());
            }
        }
        checked.layers += 1;
        layers_checked.push(LayerChecked {
            chain_id: ChainId::parse(chain).expect("a chain id"),
            fully_checked: unchecked.is_empty(),
            size_rule: None,
            unchecked,
        });
    }
    // Blob records: sizes (metadata), digests (content). (Each blob's lstat by name, in
    // its dir opened once.)
    let blobs_dir = croot.dir(&format!("{CONTENT}/blobs/sha256"));
    for (digest, (_, holders)) in &blobs {
        let holders: Vec<ImageId> = holders.iter().cloned().collect();
        let (Some(rel), true) = (blob_rel(digest), store.blob_files.contains_key(digest)) else {
            continue;
        };
        let not_read = |out: &mut Out, e: &dyn std::fmt::Display| {
            out.add(
                None,
                &holders,
                shown(&rel),
                Kind::NotChecked,
                json!(digest),
                Value::Null,
                Some(format!("not read: {e}")),
            );
        };
        if let Some(rec) = recorded.get(digest.as_str()) {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            let meta = match &blobs_dir {
                Ok(d) => d.lstat(std::ffi::OsStr::new(hex)),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            match meta {
                Ok(m) if u64::try_from(rec.size).ok() != Some(m.len) => out.add(
                    None,
                    &holders,
                    shown(&rel),
                    Kind::SizeMismatch,
                    json!(rec.size),
                    json!(m.len),
                    Some("the blob's record and its file disagree on its size".into()),
                ),
                Ok(_) => {}
                // Its size is not known: not checked, whatever the level (said once).
                Err(e) => {
                    not_read(&mut out, &e);
                    continue;
                }
            }
        }
        if level != Level::Metadata {
            match hash_file(croot, &rel, None) {
                Ok((h, n)) => {
                    checked.bytes += n;
                    checked.files += 1;
                    if &h != digest {
                        out.add(
                            None,
                            &holders,
                            shown(&rel),
                            Kind::ContentModified,
                            json!(digest),
                            json!(h),
                            Some("the blob's SHA-256 is not its name".into()),
                        );
                    }
                }
                Err(e) => not_read(&mut out, &e),
            }
        }
    }
    if level != Level::Metadata {
        for (chain, (_, blob, holders)) in &layers {
            let holders: Vec<ImageId> = holders.iter().cloned().collect();
            let Some(n) = c8d.snapshots.get(chain).and_then(|s| s.id) else {
                continue;
            };
            let Some(rel) = blob_rel(&blob.digest) else {
                continue;
            };
            let how = compression(&blob.media_type).unwrap_or("none");
            let fs = format!("{OVERLAYFS}/snapshots/{n}/fs");
            if let Err(e) = snapshot_against_tar(
                croot,
                &rel,
                how,
                &fs,
                chain,
                &holders,
                &mut out,
                &mut checked,
            ) {
                out.add(
                    Some(chain),
                    &holders,
                    shown(&rel),
                    Kind::NotChecked,
                    Value::Null,
                    Value::Null,
                    Some(format!("the layer's files were not compared: {e}")),
                );
            }
        }
    }
    let mut drift = Vec::new();
    if level >= Level::Content {
        // Containers' RW snapshots as `docker diff` lists them (drift, not a failure).
        for c in 0..model.containers.len() {
            if let Some(sel) = images {
                if !model.container_image(c).is_some_and(|i| sel.contains(&i)) {
                    continue;
                }
            }
            if model.container_dirs(c).0.is_none() {
                continue;
            }
            match crate::fs::target::container_changes(croot, model, c, &mut out.problems) {
                Ok(d) => drift.push(self::drift(model, c, d)),
                Err(e) => out.problems.push(Problem::new(
                    model.containers[c].rec.path.clone(),
                    crate::problem::ProblemKind::Missing,
                    e,
                )),
            }
        }
        drift.sort_by(|a, b| a.container.cmp(&b.container));
        checked.containers = drift.len();
    }
    if level == Level::Deep {
        for (chain, (diff, blob, holders)) in &layers {
            let holders: Vec<ImageId> = holders.iter().cloned().collect();
            let Some(rel) = blob_rel(&blob.digest) else {
                continue;
            };
            let how = compression(&blob.media_type).unwrap_or("none");
            let how = if how == "none" { None } else { Some(how) };
            match hash_file(croot, &rel, how) {
                Ok((h, _)) => {
                    checked.diff_ids += 1;
                    if &h != diff {
                        out.add(
                            Some(chain),
                            &holders,
                            shown(&rel),
                            Kind::DiffIdMismatch,
                            json!(diff),
                            json!(h),
                            Some("the decompressed layer does not hash to its diff id".into()),
                        );
                    }
                }
                Err(e) => out.add(
                    Some(chain),
                    &holders,
                    shown(&rel),
                    Kind::NotChecked,
                    json!(diff),
                    Value::Null,
                    Some(format!("not decompressed: {e}")),
                ),
            }
        }
    }
    for l in &mut layers_checked {
        if out
            .findings
            .iter()
            .any(|f| f.layer.as_ref() == Some(&l.chain_id) && f.kind == Kind::NotChecked)
        {
            l.fully_checked = false;
        }
    }
    checked.layers_total = layers_checked.len();
    checked.layers_fully_checked = layers_checked.iter().filter(|l| l.fully_checked).count();
    out.findings
        .sort_by(|a, b| (&a.path, a.kind).cmp(&(&b.path, b.kind)));
    out.problems.sort();
    out.problems.dedup();
    Verified {
        level,
        findings: out.findings,
        layers: layers_checked,
        drift,
        checked,
        problems: out.problems,
    }
}

fn empty(level: Level, out: Out) -> Verified {
    Verified {
        level,
        findings: out.findings,
        layers: Vec::new(),
        drift: Vec::new(),
        checked: Checked::default(),
        problems: out.problems,
    }
}

/// Hash a reader to its end.
fn sha_of(r: &mut dyn Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Every entry of a layer's tar against its committed snapshot's `fs/`: type, mode,
/// owner, size, contents, link targets, whiteouts (a 0:0 character device).
#[allow(clippy::too_many_arguments)]
fn snapshot_against_tar(
    croot: &DataRoot,
    blob_rel: &str,
    how: &str,
    fs: &str,
    chain: &str,
    holders: &[ImageId],
    out: &mut Out,
    checked: &mut Checked,
) -> Result<(), String> {
    use crate::root::FileKind;
    let (parent, name) = blob_rel.rsplit_once('/').unwrap_or(("", blob_rel));
    let dir = croot.dir(parent).map_err(|e| e.to_string())?;
    let (file, _) = dir.open(OsStr::new(name)).map_err(|e| e.to_string())?;
    let reader: Box<dyn Read> = match how {
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        ))),
        "zstd" => Box::new(
            ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
                .map_err(|e| format!("not a zstd stream: {e}"))?,
        ),
        _ => Box::new(file),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("layer tar unreadable: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if path.is_empty() || path == "." {
            continue;
        }
        checked.files += 1;
        let (dpath, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let at = if dpath.is_empty() {
            fs.to_owned()
        } else {
            format!("{fs}/{dpath}")
        };
        let shown_path = shown(&format!("{fs}/{path}"));
        let mut finding = |kind: Kind, expected: Value, found: Value| {
            out.findings.push(Finding {
                layer: ChainId::parse(chain),
                images: holders.to_vec(),
                path: shown_path.clone(),
                file: Some(path.clone()),
                kind,
                expected,
                found,
                detail: None,
            });
        };
        if base == ".wh..wh..opq" {
            continue; // an opaque marker: the dir's xattr, not an entry
        }
        let (target_name, whiteout) = match base.strip_prefix(".wh.") {
            Some(n) => (n.to_owned(), true),
            None => (base.to_owned(), false),
        };
        let meta = croot
            .dir(&at)
            .and_then(|d| d.lstat(OsStr::new(&target_name)));
        let Ok(meta) = meta else {
            finding(Kind::ContentMissing, json!(path), Value::Null);
            continue;
        };
        let h = entry.header().clone();
        let want = if whiteout {
            FileKind::CharDevice
        } else {
            match h.entry_type() {
                tar::EntryType::Directory => FileKind::Dir,
                tar::EntryType::Symlink => FileKind::Symlink,
                tar::EntryType::Char => FileKind::CharDevice,
                tar::EntryType::Block => FileKind::BlockDevice,
                tar::EntryType::Fifo => FileKind::Fifo,
                _ => FileKind::File,
            }
        };
        if meta.kind != want {
            finding(
                Kind::TypeChanged,
                json!(format!("{want:?}")),
                json!(format!("{:?}", meta.kind)),
            );
            continue;
        }
        if whiteout {
            continue;
        }
        if let Ok(m) = h.mode() {
            if m & 0o7777 != meta.mode & 0o7777 {
                finding(
                    Kind::ModeChanged,
                    json!(format!("{:o}", m & 0o7777)),
                    json!(format!("{:o}", meta.mode & 0o7777)),
                );
            }
        }
        if let (Ok(u), Ok(g)) = (h.uid(), h.gid()) {
            if u != u64::from(meta.uid) || g != u64::from(meta.gid) {
                finding(
                    Kind::OwnerChanged,
                    json!(format!("{u}:{g}")),
                    json!(format!("{}:{}", meta.uid, meta.gid)),
                );
            }
        }
        match want {
            FileKind::File if h.entry_type() != tar::EntryType::Link => {
                let size = h.size().unwrap_or(0);
                if size != meta.len {
                    finding(Kind::ContentModified, json!(size), json!(meta.len));
                    continue;
                }
                let expected = sha_of(&mut entry).map_err(|e| e.to_string())?;
                let found = croot
                    .dir(&at)
                    .and_then(|d| d.open(OsStr::new(&target_name)))
                    .and_then(|(mut f, _)| sha_of(&mut f));
                match found {
                    Ok(f) if f == expected => checked.bytes += size,
                    Ok(f) => finding(
                        Kind::ContentModified,
                        json!(format!("sha256:{expected}")),
                        json!(format!("sha256:{f}")),
                    ),
                    Err(e) => finding(Kind::NotChecked, Value::Null, json!(e.to_string())),
                }
            }
            FileKind::Symlink => {
                let target = h
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned());
                let found = croot
                    .dir(&at)
                    .and_then(|d| d.read_link(OsStr::new(&target_name)))
                    .map(|t| t.to_string_lossy().into_owned())
                    .ok();
                if target != found {
                    finding(Kind::LinkTargetChanged, json!(target), json!(found));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A container's changes on Docker's containerd image store, as `drift` lists them.
pub fn drift(
    model: &Model,
    c: usize,
    (path, changes): (String, super::drift::Changes),
) -> super::drift::Drift {
    let rec = &model.containers[c].rec;
    super::drift::Drift {
        container: rec.id.clone(),
        name: rec.name.trim_start_matches('/').to_owned(),
        image: rec.image.clone(),
        path,
        changes,
    }
}
