//! containerd's metadata database (`io.containerd.metadata.v1.bolt/meta.db`), read from
//! its bytes with the read-only bbolt walker: per namespace, images, content blob
//! records, snapshot records, leases, ingests and containers.
//!
//! Schema (containerd `core/metadata/buckets.go`): `v1/<namespace>/{labels, images,
//! content/{blob,ingests}, snapshots/<snapshotter>, leases, containers}`. Sizes are
//! signed varints, times Go's `time.MarshalBinary`.

use crate::scan::bbolt::{Bucket, BucketBuf, Db};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// A content descriptor as an image record holds it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

/// A descriptor as the Engine API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct DescriptorJson {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

impl From<Descriptor> for DescriptorJson {
    fn from(d: Descriptor) -> Self {
        DescriptorJson {
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageRecord {
    pub namespace: String,
    pub name: String,
    pub target: Descriptor,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BlobRecord {
    pub namespace: String,
    pub digest: String,
    pub size: i64,
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SnapshotRecord {
    pub namespace: String,
    pub snapshotter: String,
    pub key: String,
    /// The snapshotter's own key (`<namespace>/<n>/<key>`).
    pub name: String,
    pub parent: Option<String>,
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LeaseRecord {
    pub namespace: String,
    pub id: String,
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// (snapshotter, key)
    pub snapshots: Vec<(String, String)>,
    pub content: Vec<String>,
    pub ingests: Vec<String>,
    pub images: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IngestRecord {
    pub namespace: String,
    pub key: String,
    /// The content store's ingest ref (its dir is `ingest/<sha256 of ref>`).
    pub backend_ref: Option<String>,
    pub expire_at: Option<String>,
    pub expected: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerRecord {
    pub namespace: String,
    pub id: String,
    pub image: Option<String>,
    pub snapshotter: Option<String>,
    pub snapshot_key: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// Everything meta.db holds that dockscope uses.
#[derive(Clone, Debug, Default)]
pub struct MetaDb {
    pub namespaces: Vec<String>,
    pub images: Vec<ImageRecord>,
    pub blobs: Vec<BlobRecord>,
    pub snapshots: Vec<SnapshotRecord>,
    pub leases: Vec<LeaseRecord>,
    pub ingests: Vec<IngestRecord>,
    pub containers: Vec<ContainerRecord>,
    /// Parts that could not be read: (where, what).
    pub errors: Vec<(String, String)>,
}

/// Go's `binary.Varint` (zig-zag).
pub fn varint(b: &[u8]) -> Option<i64> {
    let u = uvarint(b)?;
    let x = i64::try_from(u >> 1).ok()?; // always fits: the top bit is shifted out
    Some(if u & 1 != 0 { !x } else { x })
}

/// Go's `binary.Uvarint`.
pub fn uvarint(b: &[u8]) -> Option<u64> {
    let mut x: u64 = 0;
    let mut s = 0u32;
    for (i, &byte) in b.iter().enumerate() {
        if i >= 10 {
            return None;
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some(x | u64::from(byte) << s);
        }
        x |= u64::from(byte & 0x7f) << s;
        s += 7;
    }
    None
}

/// Go's `time.Time.MarshalBinary` -> RFC 3339 (UTC, nanoseconds when non-zero).
pub fn go_time(b: &[u8]) -> Option<String> {
    // version 1: 15 bytes; version 2: 16 (seconds of the offset added)
    if b.len() < 15 || !(b[0] == 1 || b[0] == 2) {
        return None;
    }
    let secs = i64::from_be_bytes(b[1..9].try_into().ok()?);
    let nanos = u32::from_be_bytes(b[9..13].try_into().ok()?);
    if secs == 0 {
        return None; // the zero time: unset
    }
    let unix = secs.checked_sub(62_135_596_800)?;
    let t = jiff::Timestamp::new(unix, i32::try_from(nanos).ok()?).ok()?;
    Some(t.to_string())
}

fn text(v: &[u8]) -> String {
    // (valid UTF-8 is checked word by word; only invalid text goes the lossy way)
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(v).into_owned(),
    }
}

/// The labels dockscope reads: garbage collection's (`containerd.io/gc.*`), a layer
/// blob's `containerd.io/uncompressed` and the classic builder's parent. Only these are
/// kept from the records (a manifest's record has a label per layer, and meta.db has a
/// record per blob: the rest would be most of what is held).
pub fn label_used(key: &[u8]) -> bool {
    key.starts_with(b"containerd.io/gc.")
        || key == b"containerd.io/uncompressed"
        || key == super::records::PARENT_LABEL.as_bytes()
}

fn sub<'b>(b: &'b Bucket, key: &str) -> Option<&'b [u8]> {
    b.buckets
        .iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v.as_slice())
}

/// A bucket read whole (`Bucket`) or into a reusable buffer (`BucketBuf`).
trait Subs {
    fn sub_raw(&self, key: &str) -> Option<&[u8]>;
}

impl Subs for Bucket {
    fn sub_raw(&self, key: &str) -> Option<&[u8]> {
        sub(self, key)
    }
}

impl Subs for BucketBuf {
    fn sub_raw(&self, key: &str) -> Option<&[u8]> {
        self.sub(key.as_bytes())
    }
}

fn text_of(b: &BucketBuf, key: &str) -> Option<String> {
    b.pair(key.as_bytes()).map(text)
}

/// Reads buckets, listing those that cannot be read; where they are (`at`) is only
/// spelled out for those.
struct Reader<'d, 'a> {
    db: &'d Db<'a>,
    errors: Vec<(String, String)>,
    /// Reused for every labels bucket.
    labels_buf: BucketBuf,
    /// Keep only the classic builder's parent label, and of the content records only
    /// their digests (a command that lists images).
    lean: bool,
}

impl Reader<'_, '_> {
    /// A bucket read whole (the buckets that hold records: their children are listed).
    fn open(&mut self, raw: &[u8], at: impl FnOnce() -> String) -> Option<Bucket> {
        match self.db.open_bucket(raw) {
            Ok(b) => Some(b),
            Err(e) => {
                self.errors.push((at(), e.to_string()));
                None
            }
        }
    }

    /// A record's bucket, into a reused buffer; `false` when it cannot be read.
    fn open_into(&mut self, raw: &[u8], out: &mut BucketBuf, at: impl FnOnce() -> String) -> bool {
        match self.db.open_bucket_into(raw, out) {
            Ok(()) => true,
            Err(e) => {
                self.errors.push((at(), e.to_string()));
                false
            }
        }
    }

    /// A sub-bucket into a buffer (one holding many records' names: one allocation).
    fn child_into(&mut self, b: &impl Subs, key: &str, at: &str, out: &mut BucketBuf) -> bool {
        match b.sub_raw(key) {
            Some(raw) => self.open_into(raw, out, || format!("{at}/{key}")),
            None => false,
        }
    }

    fn child(&mut self, b: &impl Subs, key: &str, at: &str) -> Option<Bucket> {
        let raw = b.sub_raw(key)?;
        self.open(raw, || format!("{at}/{key}"))
    }

    /// The labels dockscope reads (`label_used`) of a record.
    fn labels(&mut self, b: &impl Subs, at: impl FnOnce() -> String) -> BTreeMap<String, String> {
        let Some(raw) = b.sub_raw("labels") else {
            return BTreeMap::new();
        };
        let mut buf = std::mem::take(&mut self.labels_buf);
        let out = if self.open_into(raw, &mut buf, || format!("{}/labels", at())) {
            buf.pairs()
                .filter(|(k, _)| {
                    if self.lean {
                        *k == super::records::PARENT_LABEL.as_bytes()
                    } else {
                        label_used(k)
                    }
                })
                .map(|(k, v)| (text(k), text(v)))
                .collect()
        } else {
            BTreeMap::new()
        };
        self.labels_buf = buf;
        out
    }

    /// One record per sub-bucket of `parent` (`f` reads one, with buffers of its own;
    /// `None`: not read), read by parallel jobs of `CHUNK` records and put together in
    /// order, their damage too.
    fn records<T: Send>(
        &mut self,
        parent: &BucketBuf,
        f: impl Fn(&mut Reader<'_, '_>, &mut [BucketBuf; 2], &[u8], &[u8]) -> Option<T> + Sync,
    ) -> Vec<T> {
        let items: Vec<(&[u8], &[u8])> = parent.buckets().collect();
        let (db, lean) = (self.db, self.lean);
        let parts: Vec<(Vec<T>, Damage)> = items
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut r = Reader {
                    db,
                    errors: Vec::new(),
                    labels_buf: BucketBuf::default(),
                    lean,
                };
                let mut bufs = [BucketBuf::default(), BucketBuf::default()];
                let got: Vec<T> = chunk
                    .iter()
                    .filter_map(|(k, raw)| f(&mut r, &mut bufs, k, raw))
                    .collect();
                (got, r.errors)
            })
            .collect();
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
        for (got, errors) in parts {
            self.errors.extend(errors);
            out.extend(got);
        }
        out
    }

    /// The names of a bucket's sub-buckets (their values are empty buckets or nil).
    fn names(&mut self, b: &impl Subs, key: &str, at: &str) -> Vec<String> {
        self.child(b, key, at)
            .map(|c| {
                c.pairs
                    .iter()
                    .map(|p| text(&p.key))
                    .chain(c.buckets.iter().map(|(k, _)| text(k)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parse meta.db's bytes. `Err` when the file is not a readable bbolt database or has
/// no `v1` bucket; damage inside is listed in `errors`.
pub fn read(bytes: &[u8]) -> Result<MetaDb, String> {
    let db = Db::parse(bytes).map_err(|e| e.to_string())?;
    read_db(&db)
}

/// `read` over an opened database (bytes, or a file read page by page).
pub fn read_db(db: &Db<'_>) -> Result<MetaDb, String> {
    read_db_with(db, false)
}

/// Parts that could not be read: (where, what).
type Damage = Vec<(String, String)>;

/// Records one parallel job reads.
const CHUNK: usize = 2048;

/// The parts of a namespace's records, in the order they are put together.
type Part = fn(&mut Reader<'_, '_>, &Bucket, &str, &str, &mut MetaDb);
const PARTS: [Part; 5] = [
    read_images,
    read_content,
    read_snapshots,
    read_leases,
    read_containers,
];

/// `read_db`; `lean`: of the labels, only the classic builder's parent is kept (every
/// labels bucket is still read, so that damage is seen as well), and a content record
/// is its digest alone (its bucket is not read: listing images needs to know only
/// that the namespace holds the blob).
pub fn read_db_with(db: &Db<'_>, lean: bool) -> Result<MetaDb, String> {
    let top = db.root().map_err(|e| e.to_string())?;
    let v1raw = sub(&top, "v1").ok_or("no v1 bucket: not containerd's metadata database")?;
    let v1 = db.open_bucket(v1raw).map_err(|e| format!("v1: {e}"))?;
    let mut r = Reader {
        db,
        errors: Vec::new(),
        labels_buf: BucketBuf::default(),
        lean,
    };
    let mut out = MetaDb::default();
    for (nsname, nsraw) in &v1.buckets {
        let ns = text(nsname);
        let at = format!("v1/{ns}");
        let Some(nsb) = r.open(nsraw, || at.clone()) else {
            continue;
        };
        out.namespaces.push(ns.clone());
        // The parts of a namespace are read at once (pages read apart), then put
        // together in this order, their damage too.
        let parts: Vec<(MetaDb, Vec<(String, String)>)> = PARTS
            .par_iter()
            .map(|part| {
                let mut pr = Reader {
                    db,
                    errors: Vec::new(),
                    labels_buf: BucketBuf::default(),
                    lean,
                };
                let mut got = MetaDb::default();
                part(&mut pr, &nsb, &ns, &at, &mut got);
                (got, pr.errors)
            })
            .collect();
        for (got, errors) in parts {
            r.errors.extend(errors);
            append(&mut out.images, got.images);
            append(&mut out.blobs, got.blobs);
            append(&mut out.snapshots, got.snapshots);
            append(&mut out.leases, got.leases);
            append(&mut out.ingests, got.ingests);
            append(&mut out.containers, got.containers);
        }
    }
    out.errors = r.errors;
    // Grown by doubling: give the slack back (tens of MB on a store of 10,000 images).
    out.images.shrink_to_fit();
    out.blobs.shrink_to_fit();
    out.snapshots.shrink_to_fit();
    Ok(out)
}

fn append<T>(to: &mut Vec<T>, mut more: Vec<T>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.append(&mut more);
    }
}

fn read_images(r: &mut Reader<'_, '_>, nsb: &Bucket, ns: &str, at: &str, out: &mut MetaDb) {
    let mut images = BucketBuf::default();
    if !r.child_into(nsb, "images", at, &mut images) {
        return;
    }
    let at = format!("{at}/images");
    let recs = r.records(&images, |r, bufs, name, raw| {
        let [ib, tb] = bufs;
        let iat = || format!("{at}/{}", text(name));
        if !r.open_into(raw, ib, iat) {
            return None;
        }
        let mut target = Descriptor::default();
        if let Some(t) = ib.sub(b"target") {
            if r.open_into(t, tb, || format!("{}/target", iat())) {
                target.digest = text_of(tb, "digest").unwrap_or_default();
                target.media_type = text_of(tb, "mediatype").unwrap_or_default();
                target.size = tb.pair(b"size").and_then(varint).unwrap_or(0);
            }
        }
        let labels = r.labels(ib, iat);
        Some(ImageRecord {
            namespace: ns.to_owned(),
            name: text(name),
            target,
            created: ib.pair(b"createdat").and_then(go_time),
            updated: ib.pair(b"updatedat").and_then(go_time),
            labels,
        })
    });
    append(&mut out.images, recs);
}

fn read_content(r: &mut Reader<'_, '_>, nsb: &Bucket, ns: &str, at: &str, out: &mut MetaDb) {
    let Some(content) = r.child(nsb, "content", at) else {
        return;
    };
    let cat = format!("{at}/content");
    let mut bb = BucketBuf::default();
    let mut blobs = BucketBuf::default();
    if r.child_into(&content, "blob", &cat, &mut blobs) {
        let recs = r.records(&blobs, |r, [bb, _], dg, raw| {
            if r.lean {
                // A command that lists images asks only whether the record is there:
                // the blob's own bucket (a page each) is not read.
                return Some(BlobRecord {
                    namespace: ns.to_owned(),
                    digest: text(dg),
                    size: 0,
                    created: None,
                    labels: BTreeMap::new(),
                });
            }
            let bat = || format!("{cat}/blob/{}", text(dg));
            if !r.open_into(raw, bb, bat) {
                return None;
            }
            let labels = r.labels(bb, bat);
            Some(BlobRecord {
                namespace: ns.to_owned(),
                digest: text(dg),
                size: bb.pair(b"size").and_then(varint).unwrap_or(0),
                created: bb.pair(b"createdat").and_then(go_time),
                labels,
            })
        });
        append(&mut out.blobs, recs);
    }
    if let Some(ingests) = r.child(&content, "ingests", &cat) {
        for (k, raw) in &ingests.buckets {
            if !r.open_into(raw, &mut bb, || format!("{cat}/ingests/{}", text(k))) {
                continue;
            }
            out.ingests.push(IngestRecord {
                namespace: ns.to_owned(),
                key: text(k),
                backend_ref: text_of(&bb, "ref"),
                expire_at: bb.pair(b"expireat").and_then(go_time),
                expected: text_of(&bb, "expected"),
            });
        }
    }
}

fn read_snapshots(r: &mut Reader<'_, '_>, nsb: &Bucket, ns: &str, at: &str, out: &mut MetaDb) {
    let Some(snaps) = r.child(nsb, "snapshots", at) else {
        return;
    };
    for (ss, raw) in &snaps.buckets {
        let snapshotter = text(ss);
        let sat = format!("{at}/snapshots/{snapshotter}");
        let mut sb = BucketBuf::default();
        if !r.open_into(raw, &mut sb, || sat.clone()) {
            continue;
        }
        let recs = r.records(&sb, |r, [kb, _], k, raw| {
            let kat = || format!("{sat}/{}", text(k));
            if !r.open_into(raw, kb, kat) {
                return None;
            }
            let labels = r.labels(kb, kat);
            Some(SnapshotRecord {
                namespace: ns.to_owned(),
                snapshotter: snapshotter.clone(),
                key: text(k),
                name: text_of(kb, "name").unwrap_or_default(),
                parent: text_of(kb, "parent").filter(|p| !p.is_empty()),
                created: kb.pair(b"createdat").and_then(go_time),
                labels,
            })
        });
        append(&mut out.snapshots, recs);
    }
}

fn read_leases(r: &mut Reader<'_, '_>, nsb: &Bucket, ns: &str, at: &str, out: &mut MetaDb) {
    let Some(leases) = r.child(nsb, "leases", at) else {
        return;
    };
    let mut lb = BucketBuf::default();
    for (id, raw) in &leases.buckets {
        let id = text(id);
        let lat = format!("{at}/leases/{id}");
        if !r.open_into(raw, &mut lb, || lat.clone()) {
            continue;
        }
        let labels = r.labels(&lb, || lat.clone());
        let mut snapshots = Vec::new();
        if let Some(sb) = r.child(&lb, "snapshots", &lat) {
            for (ss, raw) in &sb.buckets {
                let snapshotter = text(ss);
                if let Some(keys) = r.open(raw, || format!("{lat}/snapshots/{snapshotter}")) {
                    for p in &keys.pairs {
                        snapshots.push((snapshotter.clone(), text(&p.key)));
                    }
                }
            }
        }
        let content = r.names(&lb, "content", &lat);
        let ingests = r.names(&lb, "ingests", &lat);
        let images = r.names(&lb, "images", &lat);
        out.leases.push(LeaseRecord {
            namespace: ns.to_owned(),
            id,
            created: lb.pair(b"createdat").and_then(go_time),
            labels,
            snapshots,
            content,
            ingests,
            images,
        });
    }
}

fn read_containers(r: &mut Reader<'_, '_>, nsb: &Bucket, ns: &str, at: &str, out: &mut MetaDb) {
    let Some(cs) = r.child(nsb, "containers", at) else {
        return;
    };
    let mut cb = BucketBuf::default();
    for (id, raw) in &cs.buckets {
        let id = text(id);
        let cat = format!("{at}/containers/{id}");
        if !r.open_into(raw, &mut cb, || cat.clone()) {
            continue;
        }
        let labels = r.labels(&cb, || cat.clone());
        out.containers.push(ContainerRecord {
            namespace: ns.to_owned(),
            id,
            image: text_of(&cb, "image").filter(|s| !s.is_empty()),
            snapshotter: text_of(&cb, "snapshotter").filter(|s| !s.is_empty()),
            snapshot_key: text_of(&cb, "snapshotKey").filter(|s| !s.is_empty()),
            labels,
        });
    }
}

/// The overlayfs snapshotter's `metadata.db`: one record per snapshot it holds.
#[derive(Clone, Debug, Serialize)]
pub struct BackendSnapshot {
    /// `<namespace>/<n>/<key>`.
    pub key: String,
    /// Its directory is `snapshots/<id>`.
    pub id: u64,
    pub kind: &'static str,
    pub parent: Option<String>,
    /// Stored at commit (committed snapshots only).
    pub size: Option<i64>,
    pub inodes: Option<i64>,
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
}

pub fn kind_name(k: Option<u8>) -> &'static str {
    match k {
        Some(1) => "view",
        Some(2) => "active",
        Some(3) => "committed",
        _ => "unknown",
    }
}

/// Parse the snapshotter's metadata.db (`v1/snapshots/<key>`).
pub fn read_snapshotter(bytes: &[u8]) -> Result<(Vec<BackendSnapshot>, Vec<String>), String> {
    let db = Db::parse(bytes).map_err(|e| e.to_string())?;
    read_snapshotter_db(&db)
}

/// `read_snapshotter` over an opened database.
pub fn read_snapshotter_db(db: &Db<'_>) -> Result<(Vec<BackendSnapshot>, Vec<String>), String> {
    let top = db.root().map_err(|e| e.to_string())?;
    let Some(v1raw) = sub(&top, "v1") else {
        return Ok((Vec::new(), Vec::new())); // a snapshotter that never held anything
    };
    let v1 = db.open_bucket(v1raw).map_err(|e| format!("v1: {e}"))?;
    let mut r = Reader {
        db,
        errors: Vec::new(),
        labels_buf: BucketBuf::default(),
        lean: false,
    };
    let mut out = Vec::new();
    let mut snaps = BucketBuf::default();
    if r.child_into(&v1, "snapshots", "v1", &mut snaps) {
        out = r.records(&snaps, |r, [b, _], k, raw| {
            let at = || format!("v1/snapshots/{}", text(k));
            if !r.open_into(raw, b, at) {
                return None;
            }
            let labels = r.labels(b, at);
            let Some(id) = b.pair(b"id").and_then(uvarint) else {
                r.errors.push((at(), "no id".into()));
                return None;
            };
            Some(BackendSnapshot {
                key: text(k),
                id,
                kind: kind_name(b.pair(b"kind").and_then(|k| k.first().copied())),
                parent: text_of(b, "parent").filter(|p| !p.is_empty()),
                size: b.pair(b"size").and_then(varint),
                inodes: b.pair(b"inodes").and_then(varint),
                created: b.pair(b"createdat").and_then(go_time),
                labels,
            })
        });
    }
    let errors = r
        .errors
        .into_iter()
        .map(|(a, e)| format!("{a}: {e}"))
        .collect();
    Ok((out, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_as_go_writes_them() {
        assert_eq!(uvarint(&[0x96, 0x01]), Some(150));
        assert_eq!(varint(&[0x02]), Some(1));
        assert_eq!(varint(&[0x01]), Some(-1));
        assert_eq!(varint(&[0xac, 0x02]), Some(150));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[]), None);
    }

    #[test]
    fn labels_kept_are_the_ones_read() {
        assert!(label_used(b"containerd.io/gc.ref.content.l.0"));
        assert!(label_used(b"containerd.io/gc.ref.snapshot.overlayfs"));
        assert!(label_used(b"containerd.io/gc.expire"));
        assert!(label_used(b"containerd.io/gc.flat"));
        assert!(label_used(b"containerd.io/gc.root"));
        assert!(label_used(b"containerd.io/uncompressed"));
        assert!(label_used(b"org.mobyproject.image.parent"));
        assert!(!label_used(b"containerd.io/distribution.source.docker.io"));
        assert!(!label_used(b"containerd.io/snapshot.ref"));
    }

    #[test]
    fn go_binary_time() {
        // 2024-01-02T03:04:05Z: unix 1704164645 + 62135596800 seconds of year 1
        let secs: i64 = 1_704_164_645 + 62_135_596_800;
        let mut b = vec![1u8];
        b.extend(secs.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        b.extend((-1i16).to_be_bytes());
        assert_eq!(go_time(&b).as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(go_time(&b[..10]), None);
    }
}
