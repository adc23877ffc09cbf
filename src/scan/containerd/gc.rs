//! containerd's garbage-collection rules, applied offline to the records read from
//! meta.db (containerd `core/metadata/gc.go` and its garbage-collection document).
//!
//! Roots, per namespace: images (unless expired by `containerd.io/gc.expire`),
//! containers, leases not past `containerd.io/gc.expire` (what they hold; with
//! `containerd.io/gc.flat` the held objects' labels are not followed from the lease),
//! content and snapshots labelled `containerd.io/gc.root`, ingests whose `expireat` is
//! in the future. Edges: an image's target, a container's snapshot, a snapshot's parent,
//! an ingest's expected digest, and the `containerd.io/gc.ref.content*`,
//! `containerd.io/gc.ref.snapshot.<snapshotter>*` and `containerd.io/gc.ref.image*`
//! labels. References never cross namespaces here; on disk, a blob or snapshot kept by
//! any namespace stays.

use super::meta::MetaDb;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A GC node: (kind, namespace, key). Snapshots are keyed `<snapshotter>/<key>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Content(String, String),
    Snapshot(String, String),
    Image(String, String),
    Container(String, String),
    Ingest(String, String),
}

/// When a time label has passed (`now` as Unix seconds).
pub fn expired(value: &str, now: i64) -> bool {
    value
        .parse::<jiff::Timestamp>()
        .is_ok_and(|t| t.as_second() < now)
}

const GC_ROOT: &str = "containerd.io/gc.root";
const GC_EXPIRE: &str = "containerd.io/gc.expire";
const GC_FLAT: &str = "containerd.io/gc.flat";

/// The nodes a set of labels references.
fn label_refs(ns: &str, labels: &BTreeMap<String, String>, out: &mut Vec<Node>) {
    let prefixed = |k: &str, p: &str| {
        k.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('/'))
    };
    for (k, v) in labels {
        if prefixed(k, "containerd.io/gc.ref.content") {
            out.push(Node::Content(ns.to_owned(), v.clone()));
        } else if let Some(rest) = k.strip_prefix("containerd.io/gc.ref.snapshot.") {
            let ss = rest.split('/').next().unwrap_or(rest);
            out.push(Node::Snapshot(ns.to_owned(), format!("{ss}/{v}")));
        } else if prefixed(k, "containerd.io/gc.ref.image") {
            out.push(Node::Image(ns.to_owned(), v.clone()));
        }
    }
}

/// The record graph of meta.db, ready for reachability questions.
pub struct Graph<'m> {
    meta: &'m MetaDb,
    now: i64,
    content: HashMap<(&'m str, &'m str), usize>,
    snapshots: HashMap<(&'m str, String), usize>,
    images: HashMap<(&'m str, &'m str), usize>,
    containers: HashMap<(&'m str, &'m str), usize>,
    ingests: HashMap<(&'m str, &'m str), usize>,
    counted: OnceCell<Counted>,
}

/// What is reachable: nodes seen fully (labels followed) or flat only.
///
/// A reach computed with roots skipped is kept as the reach of every root less what
/// only the skipped roots reach: its `full` and `flat` are then empty and `has`
/// answers (asking it for one image after another stays linear, not one whole walk of
/// the graph each).
#[derive(Default)]
pub struct Reach {
    pub full: HashSet<Node>,
    pub flat: HashSet<Node>,
    without: Option<(Arc<Reach>, HashSet<Node>)>,
}

impl Reach {
    pub fn has(&self, n: &Node) -> bool {
        self.get(n).is_some()
    }

    fn get(&self, n: &Node) -> Option<&Node> {
        match &self.without {
            Some((_, lost)) if lost.contains(n) => None,
            Some((all, _)) => all.get(n),
            None => self.full.get(n).or_else(|| self.flat.get(n)),
        }
    }

    /// The nodes this reach holds and `other` (a reach of the same graph) lacks. When
    /// `other` was computed with roots skipped, only what those roots alone reached is
    /// looked at: every reach of a graph lies within the reach of all its roots.
    pub fn not_in<'a>(&'a self, other: &Reach) -> Vec<&'a Node> {
        if let Some((_, lost)) = &other.without {
            return lost.iter().filter_map(|n| self.get(n)).collect();
        }
        match &self.without {
            Some((all, _)) => all
                .full
                .iter()
                .chain(all.flat.iter())
                .filter(|n| self.has(n) && !other.has(n))
                .collect(),
            None => self
                .full
                .iter()
                .chain(self.flat.iter())
                .filter(|n| !other.has(n))
                .collect(),
        }
    }
}

/// The reach of every root, and for each node how many roots reach it.
struct Counted {
    all: Arc<Reach>,
    roots: HashMap<Node, u32>,
}

impl<'m> Graph<'m> {
    pub fn new(meta: &'m MetaDb, now: i64) -> Self {
        Graph {
            meta,
            now,
            content: meta
                .blobs
                .iter()
                .enumerate()
                .map(|(i, b)| ((b.namespace.as_str(), b.digest.as_str()), i))
                .collect(),
            snapshots: meta
                .snapshots
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        (s.namespace.as_str(), format!("{}/{}", s.snapshotter, s.key)),
                        i,
                    )
                })
                .collect(),
            images: meta
                .images
                .iter()
                .enumerate()
                .map(|(i, x)| ((x.namespace.as_str(), x.name.as_str()), i))
                .collect(),
            containers: meta
                .containers
                .iter()
                .enumerate()
                .map(|(i, x)| ((x.namespace.as_str(), x.id.as_str()), i))
                .collect(),
            ingests: meta
                .ingests
                .iter()
                .enumerate()
                .map(|(i, x)| ((x.namespace.as_str(), x.key.as_str()), i))
                .collect(),
            counted: OnceCell::new(),
        }
    }

    pub fn lease_expired(&self, labels: &BTreeMap<String, String>) -> bool {
        labels.get(GC_EXPIRE).is_some_and(|v| expired(v, self.now))
    }

    /// The roots, leaving out the leases and images named in `skip_leases`/`skip_images`
    /// ((namespace, id)). Each root comes with "flat" (from a flat lease).
    fn roots(
        &self,
        skip_leases: &HashSet<(String, String)>,
        skip_images: &HashSet<(String, String)>,
    ) -> Vec<(Node, bool)> {
        self.roots_marked(skip_leases, skip_images, false)
    }

    /// The GC roots: those the skip sets name are left out, or (`only_skipped`) the
    /// only ones listed.
    fn roots_marked(
        &self,
        skip_leases: &HashSet<(String, String)>,
        skip_images: &HashSet<(String, String)>,
        only_skipped: bool,
    ) -> Vec<(Node, bool)> {
        let m = self.meta;
        let mut out = Vec::new();
        for l in &m.leases {
            if self.lease_expired(&l.labels)
                || skip_leases.contains(&(l.namespace.clone(), l.id.clone())) != only_skipped
            {
                continue;
            }
            let flat = l.labels.contains_key(GC_FLAT);
            let ns = &l.namespace;
            for c in &l.content {
                out.push((Node::Content(ns.clone(), c.clone()), flat));
            }
            for (ss, k) in &l.snapshots {
                out.push((Node::Snapshot(ns.clone(), format!("{ss}/{k}")), flat));
            }
            for i in &l.ingests {
                out.push((Node::Ingest(ns.clone(), i.clone()), false));
            }
            for i in &l.images {
                out.push((Node::Image(ns.clone(), i.clone()), flat));
            }
        }
        for i in &m.images {
            let expired_image = i
                .labels
                .get(GC_EXPIRE)
                .is_some_and(|v| expired(v, self.now));
            if !expired_image
                && skip_images.contains(&(i.namespace.clone(), i.name.clone())) == only_skipped
            {
                out.push((Node::Image(i.namespace.clone(), i.name.clone()), false));
            }
        }
        if only_skipped {
            return out;
        }
        for c in &m.containers {
            out.push((Node::Container(c.namespace.clone(), c.id.clone()), false));
        }
        for b in &m.blobs {
            if b.labels.contains_key(GC_ROOT) {
                out.push((Node::Content(b.namespace.clone(), b.digest.clone()), false));
            }
        }
        for s in &m.snapshots {
            if s.labels.contains_key(GC_ROOT) {
                out.push((
                    Node::Snapshot(s.namespace.clone(), format!("{}/{}", s.snapshotter, s.key)),
                    false,
                ));
            }
        }
        for i in &m.ingests {
            if i.expire_at
                .as_deref()
                .is_some_and(|e| !expired(e, self.now))
            {
                out.push((Node::Ingest(i.namespace.clone(), i.key.clone()), false));
            }
        }
        out
    }

    /// A node's references; `flat`: only the structural ones (target, parent).
    fn refs(&self, n: &Node, flat: bool, out: &mut Vec<Node>) {
        let m = self.meta;
        match n {
            Node::Content(ns, d) => {
                if let Some(&i) = self.content.get(&(ns.as_str(), d.as_str())) {
                    if !flat {
                        label_refs(ns, &m.blobs[i].labels, out);
                    }
                }
            }
            Node::Snapshot(ns, k) => {
                if let Some(&i) = self.snapshots.get(&(ns.as_str(), k.clone())) {
                    let s = &m.snapshots[i];
                    if let Some(p) = &s.parent {
                        out.push(Node::Snapshot(ns.clone(), format!("{}/{p}", s.snapshotter)));
                    }
                    if !flat {
                        label_refs(ns, &s.labels, out);
                    }
                }
            }
            Node::Image(ns, name) => {
                if let Some(&i) = self.images.get(&(ns.as_str(), name.as_str())) {
                    let im = &m.images[i];
                    if !im.target.digest.is_empty() {
                        out.push(Node::Content(ns.clone(), im.target.digest.clone()));
                    }
                    if !flat {
                        label_refs(ns, &im.labels, out);
                    }
                }
            }
            Node::Container(ns, id) => {
                if let Some(&i) = self.containers.get(&(ns.as_str(), id.as_str())) {
                    let c = &m.containers[i];
                    if let (Some(ss), Some(k)) = (&c.snapshotter, &c.snapshot_key) {
                        out.push(Node::Snapshot(ns.clone(), format!("{ss}/{k}")));
                    }
                    label_refs(ns, &c.labels, out);
                }
            }
            Node::Ingest(ns, k) => {
                if let Some(&i) = self.ingests.get(&(ns.as_str(), k.as_str())) {
                    if let Some(e) = m.ingests[i].expected.as_ref().filter(|e| !e.is_empty()) {
                        out.push(Node::Content(ns.clone(), e.clone()));
                    }
                }
            }
        }
    }

    /// Everything reachable from the roots (less the skipped leases and images).
    /// What the GC keeps when the named leases and images are gone.
    pub fn reach(
        &self,
        skip_leases: &HashSet<(String, String)>,
        skip_images: &HashSet<(String, String)>,
    ) -> Reach {
        if skip_leases.is_empty() && skip_images.is_empty() {
            return self.walk(self.roots(skip_leases, skip_images));
        }
        // A node stays reachable unless every root that reaches it is skipped.
        let counted = self.counted.get_or_init(|| {
            let all = Arc::new(self.walk(self.roots(&HashSet::new(), &HashSet::new())));
            let mut roots: HashMap<Node, u32> = HashMap::new();
            for (n, flat) in self.roots(&HashSet::new(), &HashSet::new()) {
                for m in self.reach_of_one(n, flat) {
                    *roots.entry(m).or_default() += 1;
                }
            }
            Counted { all, roots }
        });
        let mut hits: HashMap<Node, u32> = HashMap::new();
        for (n, flat) in self.roots_marked(skip_leases, skip_images, true) {
            for m in self.reach_of_one(n, flat) {
                *hits.entry(m).or_default() += 1;
            }
        }
        let lost = hits
            .into_iter()
            .filter(|(n, h)| counted.roots.get(n).is_none_or(|c| h >= c))
            .map(|(n, _)| n)
            .collect();
        Reach {
            without: Some((Arc::clone(&counted.all), lost)),
            ..Reach::default()
        }
    }

    /// Every node one root reaches (with that root's flatness).
    fn reach_of_one(&self, root: Node, flat: bool) -> HashSet<Node> {
        let mut seen = HashSet::new();
        let mut stack = vec![root];
        let mut buf = Vec::new();
        while let Some(n) = stack.pop() {
            if seen.contains(&n) {
                continue;
            }
            buf.clear();
            self.refs(&n, flat, &mut buf);
            seen.insert(n);
            stack.append(&mut buf);
        }
        seen
    }

    fn walk(&self, roots: Vec<(Node, bool)>) -> Reach {
        let mut r = Reach::default();
        let mut stack = roots;
        let mut buf = Vec::new();
        while let Some((n, flat)) = stack.pop() {
            if r.full.contains(&n) || (flat && r.flat.contains(&n)) {
                continue;
            }
            if flat {
                r.flat.insert(n.clone());
            } else {
                r.flat.remove(&n);
                r.full.insert(n.clone());
            }
            buf.clear();
            self.refs(&n, flat, &mut buf);
            stack.extend(buf.drain(..).map(|x| (x, flat)));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_prefixes_as_containerd_reads_them() {
        let mut labels = BTreeMap::new();
        labels.insert("containerd.io/gc.ref.content.l.0".into(), "sha256:a".into());
        labels.insert("containerd.io/gc.ref.content".into(), "sha256:b".into());
        labels.insert("containerd.io/gc.ref.contentx".into(), "sha256:c".into());
        labels.insert(
            "containerd.io/gc.ref.snapshot.overlayfs/1".into(),
            "sha256:d".into(),
        );
        let mut out = Vec::new();
        label_refs("moby", &labels, &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![
                Node::Content("moby".into(), "sha256:a".into()),
                Node::Content("moby".into(), "sha256:b".into()),
                Node::Snapshot("moby".into(), "overlayfs/sha256:d".into()),
            ]
        );
    }

    /// A reach with skipped roots answers `has` exactly as a whole walk of the roots
    /// left would, for every subset of images and leases skipped.
    #[test]
    fn reach_without_matches_a_whole_walk() {
        use super::super::meta::{
            BlobRecord, Descriptor, ImageRecord, LeaseRecord, SnapshotRecord,
        };
        let lab = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        let blob = |d: &str, kv: &[(&str, &str)]| BlobRecord {
            namespace: "moby".into(),
            digest: d.into(),
            size: 1,
            created: None,
            labels: lab(kv),
        };
        let image = |name: &str, target: &str| ImageRecord {
            namespace: "moby".into(),
            name: name.into(),
            target: Descriptor {
                media_type: String::new(),
                digest: target.into(),
                size: 1,
            },
            created: None,
            updated: None,
            labels: BTreeMap::new(),
        };
        let snap = |key: &str, parent: Option<&str>| SnapshotRecord {
            namespace: "moby".into(),
            snapshotter: "overlayfs".into(),
            key: key.into(),
            name: String::new(),
            parent: parent.map(str::to_owned),
            created: None,
            labels: BTreeMap::new(),
        };
        let meta = MetaDb {
            namespaces: vec!["moby".into()],
            images: vec![image("a", "m1"), image("b", "m2"), image("c", "m1")],
            blobs: vec![
                blob(
                    "m1",
                    &[
                        ("containerd.io/gc.ref.content.config", "c1"),
                        ("containerd.io/gc.ref.content.l.0", "l1"),
                    ],
                ),
                blob(
                    "m2",
                    &[
                        ("containerd.io/gc.ref.content.l.0", "l1"),
                        ("containerd.io/gc.ref.content.l.1", "l2"),
                        ("containerd.io/gc.ref.content.config", "c2"),
                    ],
                ),
                blob("c1", &[("containerd.io/gc.ref.snapshot.overlayfs", "s1")]),
                blob("c2", &[("containerd.io/gc.ref.snapshot.overlayfs", "s2")]),
                blob("l1", &[]),
                blob("l2", &[]),
            ],
            snapshots: vec![
                snap("s0", None),
                snap("s1", Some("s0")),
                snap("s2", Some("s1")),
            ],
            leases: vec![LeaseRecord {
                namespace: "moby".into(),
                id: "pull".into(),
                created: None,
                labels: lab(&[("containerd.io/gc.flat", "x")]),
                snapshots: vec![("overlayfs".into(), "s2".into())],
                content: vec!["c2".into()],
                ingests: Vec::new(),
                images: Vec::new(),
            }],
            ..MetaDb::default()
        };
        let g = Graph::new(&meta, 0);
        let none = HashSet::new();
        let all = g.reach(&none, &none);
        let nodes: Vec<Node> = all.full.iter().chain(all.flat.iter()).cloned().collect();
        assert!(nodes.len() >= 10, "{nodes:?}");
        for bits in 0u32..16 {
            let mut images = HashSet::new();
            for (i, name) in ["a", "b", "c"].iter().enumerate() {
                if bits & (1 << i) != 0 {
                    images.insert(("moby".to_owned(), (*name).to_owned()));
                }
            }
            let mut leases = HashSet::new();
            if bits & 8 != 0 {
                leases.insert(("moby".to_owned(), "pull".to_owned()));
            }
            let fast = g.reach(&leases, &images);
            let slow = g.walk(g.roots(&leases, &images));
            for n in &nodes {
                assert_eq!(fast.has(n), slow.has(n), "skip {bits:04b}: {n:?}");
            }
            let mut a = all.not_in(&fast);
            let mut b = all.not_in(&slow);
            a.sort();
            b.sort();
            assert_eq!(a, b, "skip {bits:04b}");
            if bits == 0 {
                assert!(a.is_empty());
            }
            if bits & 7 == 7 {
                assert!(a.contains(&&Node::Content("moby".into(), "m1".into())));
            }
        }
    }

    #[test]
    fn expiry() {
        assert!(expired("2020-01-01T00:00:00Z", 1_700_000_000));
        assert!(!expired("2030-01-01T00:00:00Z", 1_700_000_000));
        assert!(!expired("not a time", 1_700_000_000));
    }
}
