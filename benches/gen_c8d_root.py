#!/usr/bin/env python3
"""Generate a LARGE synthetic root of Docker's containerd image store (Docker 28.5/29
with features.containerd-snapshotter, containerd 2.x): both trees side by side.

    python3 benches/gen_c8d_root.py /tmp/bench-c8d --seed 1 --images 10000 --layers 20000 \
        --template sample-roots/c8d/root.tar.gz [--files 1000000]
    python3 benches/gen_c8d_root.py --check /tmp/bench-c8d --dockscope target/release/dockscope

Python 3 standard library only. The output depends only on the parameters (same seed
and sizes => the same bytes; only inode times differ).

OUT/containerd/ (containerd's --root):
* io.containerd.metadata.v1.bolt/meta.db: a bbolt file written by the bbolt writer
  below (meta pages 0 and 1, a freelist page, leaf and branch pages, overflow pages,
  nested buckets, inline buckets where bbolt inlines them: no sub-bucket and at most a
  quarter page). v1/version, v1/moby/{images, content/{blob,ingests}, snapshots/
  overlayfs, leases, containers} and a small v1/default, with the keys, label names
  and value encodings containerd 2.1 writes (Go binary times, zig-zag varint sizes).
* io.containerd.content.v1.content/blobs/sha256/<hex>: OCI image configs, manifests,
  indexes (amd64 present, arm64 not pulled) and gzip layer blobs; every file name is
  the sha256 of its bytes, every DiffID the sha256 of the uncompressed tar.
* io.containerd.snapshotter.v1.overlayfs/metadata.db (v1/snapshots/<ns>/<n>/<key>
  with id, kind, parent, size, inodes; v1/parents) and snapshots/<id>/{fs,work}: one
  committed snapshot per layer of a forest (images are stacks on a base or on another
  image, so prefixes are shared), `<ctr>-init` (committed) and `<ctr>` (active) per
  container. Committed sizes are measured on the written fs/ (st_blocks*512 of each
  inode once, dirs included), as containerd does at commit.
* --files N puts about N more files into the snapshots (dirs of up to 64 entries,
  empty and small files, hard links inside a layer, sparse files) for the du benchmark.

OUT/docker/ (Docker's data root): containers/<id>/ (config.v2.json with Driver
overlayfs and ImageManifest, hostconfig.json, hostname, hosts, resolv.conf, log),
volumes/metadata.db (bbolt) and volumes/<name>/_data, rootfs/overlayfs/<id>/,
engine-id, network/files/local-kv.db, tmp/, plugins/tmp/, runtimes/, swarm/.

The template archive gives one real image config, container config and hostconfig
to clone, and network/files/local-kv.db. OUT.gen.json records the parameters, the
expected counts and every image's size, and the blob list of the cat baseline;
--check compares dockscope's answers with it.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import time

GEN_VERSION = 1
PS = 4096
BASE_TIME = 1700000000
MAX_DEPTH = 40
GO_EPOCH = 62135596800  # seconds from year 1 to 1970

# ------------------------------------------------------------- bbolt writer --

MAGIC = 0xED0CDAED
P_BRANCH, P_LEAF, P_META, P_FREELIST = 0x01, 0x02, 0x04, 0x10
BUCKET_LEAF = 0x01
HDR = 16        # page header: id u64, flags u16, count u16, overflow u32
ELEM = 16       # leaf: flags, pos, ksize, vsize (u32); branch: pos, ksize u32, pgid u64


class Bucket(dict):
    """A bucket: keys -> bytes (a value) or Bucket (a nested bucket)."""

    def __init__(self, *a, seq=0, **kw):
        super().__init__(*a, **kw)
        self.seq = seq

    def sub(self, key):
        key = key if isinstance(key, bytes) else key.encode()
        b = self.get(key)
        if b is None:
            b = self[key] = Bucket()
        return b

    def put(self, key, value):
        key = key if isinstance(key, bytes) else key.encode()
        self[key] = value if isinstance(value, bytes) else value.encode()


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class BoltWriter:
    """Writes a bbolt file in one pass: children before parents, pages allocated in
    order; page 2 is the (empty) freelist; the tree fills pages up to the page size."""

    def __init__(self, path, page_size=PS):
        self.ps = page_size
        self.f = open(path, "wb")
        self.next = 3
        self.pages = 0

    def _write(self, data):
        n = max(1, -(-len(data) // self.ps))
        pgid = self.next
        self.next += n
        buf = bytearray(data)
        struct.pack_into("<Q", buf, 0, pgid)
        struct.pack_into("<I", buf, 12, n - 1)
        buf += bytes(n * self.ps - len(buf))
        self.f.seek(pgid * self.ps)
        self.f.write(buf)
        return pgid

    @staticmethod
    def leaf_image(items):
        n = len(items)
        head = bytearray(struct.pack("<QHHI", 0, P_LEAF, n, 0))
        elems = bytearray(n * ELEM)
        data = bytearray()
        base = HDR + n * ELEM
        for i, (flags, k, v) in enumerate(items):
            pos = base + len(data) - (HDR + i * ELEM)
            struct.pack_into("<IIII", elems, i * ELEM, flags, pos, len(k), len(v))
            data += k
            data += v
        return bytes(head + elems + data)

    @staticmethod
    def branch_image(items):
        n = len(items)
        head = bytearray(struct.pack("<QHHI", 0, P_BRANCH, n, 0))
        elems = bytearray(n * ELEM)
        data = bytearray()
        base = HDR + n * ELEM
        for i, (k, child) in enumerate(items):
            pos = base + len(data) - (HDR + i * ELEM)
            struct.pack_into("<IIQ", elems, i * ELEM, pos, len(k), child)
            data += k
        return bytes(head + elems + data)

    def _pack(self, items, size_of):
        """Split items into pages: greedy, at least one item per page."""
        pages, cur, size = [], [], HDR
        for it in items:
            s = ELEM + size_of(it)
            if cur and size + s > self.ps:
                pages.append(cur)
                cur, size = [], HDR
            cur.append(it)
            size += s
        if cur or not pages:
            pages.append(cur)
        return pages

    def tree(self, items):
        """Write a bucket's B+tree; returns its root page id."""
        level = []
        for page in self._pack(items, lambda it: len(it[1]) + len(it[2])):
            pgid = self._write(self.leaf_image(page))
            level.append((page[0][1] if page else b"", pgid))
        while len(level) > 1:
            nxt = []
            for page in self._pack(level, lambda it: len(it[0])):
                nxt.append((page[0][0], self._write(self.branch_image(page))))
            level = nxt
        return level[0][1]

    def bucket_value(self, b):
        items = []
        inline = True
        size = HDR
        for k in sorted(b):
            v = b[k]
            if isinstance(v, Bucket):
                items.append((BUCKET_LEAF, k, self.bucket_value(v)))
                inline = False
            else:
                items.append((0, k, v))
            size += ELEM + len(k) + len(items[-1][2])
        if inline and size <= self.ps // 4:
            return struct.pack("<QQ", 0, b.seq) + self.leaf_image(items)
        return struct.pack("<QQ", self.tree(items), b.seq)

    def finish(self, top, txid=2):
        items = []
        for k in sorted(top):
            items.append((BUCKET_LEAF, k, self.bucket_value(top[k])))
        root = self.tree(items)
        hw = self.next
        # freelist page 2: empty
        self.f.seek(2 * self.ps)
        self.f.write(struct.pack("<QHHI", 2, P_FREELIST, 0, 0) + bytes(self.ps - HDR))
        for i in (0, 1):
            m = struct.pack("<IIIIQQQQQ", MAGIC, 2, self.ps, 0, root, 0, 2, hw, txid - 1 + i)
            page = struct.pack("<QHHI", i, P_META, 0, 0) + m + struct.pack("<Q", fnv1a64(m))
            self.f.seek(i * self.ps)
            self.f.write(page + bytes(self.ps - len(page)))
        self.f.truncate(hw * self.ps)
        self.f.close()
        self.pages = hw
        return hw


def write_bolt(path, top):
    w = BoltWriter(path)
    return w.finish(top)


# ------------------------------------------------------------------ helpers --

def sha(data):
    return hashlib.sha256(data).hexdigest()


def go_time(sec, nanos=0):
    """Go's time.Time.MarshalBinary (version 1, UTC)."""
    return struct.pack(">BqiH", 1, sec + GO_EPOCH, nanos, 0xFFFF)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63) if n < 0 else n << 1)


def rfc3339(sec, nanos=0):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + (".%09dZ" % nanos).rstrip("0").replace(".Z", "Z")


def go_json(obj, indent=None):
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) if indent is None else \
        json.dumps(obj, indent=indent, ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def tar_header(name, kind, size, mtime, linkname="", mode=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size if kind == tarfile.REGTYPE else 0
    ti.mtime = mtime
    ti.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    ti.linkname = linkname
    ti.uname = ti.gname = ""
    return ti.tobuf(tarfile.PAX_FORMAT)


class Layer:
    __slots__ = ("idx", "parent", "depth", "entries", "mtime", "diff", "chain", "blob",
                 "blob_size", "snap_id", "snap_n", "size", "inodes", "children", "ns")


class Image:
    __slots__ = ("idx", "top", "chain_layers", "names", "created", "index", "config",
                 "manifest", "index_blob", "size", "target", "target_size", "target_mt")


# --------------------------------------------------------------------- plan --

def plan(args, rng):
    layers, images = [], []
    t = [BASE_TIME]

    def tick(step=41):
        t[0] += rng.randint(1, step)
        return t[0]

    def new_layer(parent):
        l = Layer()
        l.idx = len(layers)
        l.parent = parent
        l.depth = 1 if parent is None else layers[parent].depth + 1
        l.mtime = tick()
        l.children = []
        l.ns = "moby"
        # content: one or two small files, sometimes a dir only, sometimes a symlink
        ents = [("d", "layer%d" % l.idx, None)]
        r = rng.random()
        if r < 0.05:
            pass
        else:
            for j in range(rng.randint(1, 2)):
                txt = ("layer %d file %d: %s\n" % (l.idx, j, "%x" % rng.getrandbits(rng.randint(32, 256)))).encode()
                ents.append(("f", "layer%d/f%d.txt" % (l.idx, j), txt))
            if r > 0.9:
                ents.append(("l", "layer%d/link" % l.idx, "/etc/hostname"))
        l.entries = ents
        layers.append(l)
        if parent is not None:
            layers[parent].children.append(l.idx)
        return l.idx

    n_img = args.images
    ratio = max(1.0, (args.layers - args.bases) / max(1, n_img))
    bases = []
    for _ in range(args.bases):
        a = new_layer(None)
        bases.append(a)
    starts = list(bases)  # layer tops later images may build FROM
    for i in range(n_img):
        im = Image()
        im.idx = i
        im.created = tick()
        base = rng.choice(starts)
        if rng.random() < 0.05 and i > 0:
            n_new = 0  # same layers, another config (a rebuild with new labels)
        else:
            n_new = rng.randint(1, max(1, int(round(2 * ratio - 1))))
        top = base
        for _ in range(n_new):
            if layers[top].depth >= MAX_DEPTH:
                break
            top = new_layer(top)
        im.top = top
        chain = []
        li = top
        while li is not None:
            chain.append(li)
            li = layers[li].parent
        im.chain_layers = chain[::-1]
        if rng.random() < 0.3:
            starts.append(top)
        im.index = rng.random() < 0.05
        r = rng.random()
        if r < 0.03:
            im.names = []  # dangling: moby-dangling@<target>
        else:
            im.names = ["docker.io/library/app%d:v%d" % (i // 3, i % 3)]
            if r > 0.9:
                im.names.append("docker.io/team%d/app%d:latest" % (i % 17, i))
            if r > 0.97:
                im.names.append("registry.example.com:5000/mirror/app%d:1.%d" % (i, i % 10))
        images.append(im)
    return layers, images


# -------------------------------------------------------------------- write --

def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)


def disk_usage(top):
    """containerd's overlay snapshotter usage: st_blocks*512 of each inode once, the
    root included; and the inode count."""
    seen = set()
    size = inodes = 0
    stack = [top]
    while stack:
        d = stack.pop()
        st = os.lstat(d)
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            size += st.st_blocks * 512
            inodes += 1
        with os.scandir(d) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                size += st.st_blocks * 512
                inodes += 1
    return size, inodes


class Bulk:
    """Extra files for the du benchmark, spread over the layers."""

    def __init__(self, rng, total, n_layers):
        self.rng = rng
        self.left = total
        self.per = total / max(1, n_layers)

    def entries(self, l):
        rng = self.rng
        if self.left <= 0:
            return []
        n = min(self.left, int(rng.uniform(0, 2 * self.per) + 0.5))
        self.left -= n
        out, files = [], []
        d = None
        for k in range(n):
            if k % 64 == 0:
                d = "usr/share/p%d/d%d" % (l.idx, k // 64)
                if k == 0:
                    out.append(("d", "usr", None))
                    out.append(("d", "usr/share", None))
                    out.append(("d", "usr/share/p%d" % l.idx, None))
                out.append(("d", d, None))
            name = "%s/f%d" % (d, k)
            r = rng.random()
            if r < 0.35:
                out.append(("f", name, b""))
            elif r < 0.85:
                out.append(("f", name, rng.randbytes(rng.randint(1, 3000))))
            elif r < 0.999 and files:
                out.append(("h", name, rng.choice(files)))
                continue
            else:
                out.append(("s", name, rng.randint(1, 8) << 20))
            files.append(name)
        return out


def build_layer(l, snapdir, extra):
    """Write the layer's fs/ and its tar; return (diff_id, gzip blob)."""
    fs = os.path.join(snapdir, "fs")
    os.makedirs(fs, mode=0o755)
    os.mkdir(os.path.join(snapdir, "work"), 0o711)
    raw = io.BytesIO()
    h = hashlib.sha256()
    gz_buf = io.BytesIO()
    gz = gzip.GzipFile(fileobj=gz_buf, mode="wb", compresslevel=1, mtime=0)

    def emit(b):
        h.update(b)
        gz.write(b)

    made_dirs = set()
    for kind, name, payload in list(l.entries) + extra:
        p = os.path.join(fs, name)
        if kind == "d":
            if name not in made_dirs:
                os.makedirs(p, 0o755, exist_ok=True)
                made_dirs.add(name)
                emit(tar_header(name + "/", tarfile.DIRTYPE, 0, l.mtime))
        elif kind == "f":
            write_file(p, payload)
            emit(tar_header(name, tarfile.REGTYPE, len(payload), l.mtime))
            if payload:
                emit(payload + bytes(-len(payload) % 512))
        elif kind == "h":
            os.link(os.path.join(fs, payload), p)
            emit(tar_header(name, tarfile.LNKTYPE, 0, l.mtime, linkname=payload))
        elif kind == "l":
            os.symlink(payload, p)
            emit(tar_header(name, tarfile.SYMTYPE, 0, l.mtime, linkname=payload))
        elif kind == "s":
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.pwrite(fd, b"end\n", payload - 4)
            os.close(fd)
            emit(tar_header(name, tarfile.REGTYPE, payload, l.mtime))
            zero = bytes(1 << 20)
            left = payload - 4
            while left > 0:
                emit(zero[:min(left, len(zero))])
                left -= min(left, len(zero))
            emit(b"end\n" + bytes(-payload % 512))
    emit(bytes(1024))
    gz.close()
    del raw
    return "sha256:" + h.hexdigest(), gz_buf.getvalue()


def remove_tree(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def template_files(path):
    """(image config, container config, hostconfig, local-kv.db) from the real archive."""
    out = {}
    with tarfile.open(path) as tf:
        cfg_names = {}
        for m in tf:
            n = m.name
            if n.endswith("/config.v2.json") and "/containers/" in n and "cfg" not in out:
                out["cfg"] = json.loads(tf.extractfile(m).read())
            elif n.endswith("/hostconfig.json") and "/containers/" in n and "host" not in out:
                out["host"] = json.loads(tf.extractfile(m).read())
            elif n.endswith("network/files/local-kv.db"):
                out["kv"] = tf.extractfile(m).read()
            elif "/blobs/sha256/" in n and m.isfile() and m.size < 65536 and "image" not in out:
                data = tf.extractfile(m).read()
                try:
                    j = json.loads(data)
                except ValueError:
                    continue
                if isinstance(j, dict) and "rootfs" in j and "history" in j and "config" in j:
                    out["image"] = j
    missing = {"cfg", "host", "image"} - set(out)
    if missing:
        sys.exit("template %s lacks %s" % (path, ", ".join(sorted(missing))))
    return out


def generate(args):
    out = os.path.abspath(args.out)
    if not out.startswith("/tmp/"):
        sys.exit("refusing to write outside /tmp: %s" % out)
    if os.path.exists(out):
        if not args.force:
            sys.exit("%s exists (use --force)" % out)
        remove_tree(out)
    part = out + ".partial"
    remove_tree(part)
    rng = random.Random(args.seed)
    tpl = template_files(args.template)
    t0 = time.time()
    layers, images = plan(args, rng)
    # the default namespace: one image of one layer
    dl = Layer()
    dl.idx = len(layers)
    dl.parent = None
    dl.depth = 1
    dl.mtime = BASE_TIME
    dl.children = []
    dl.ns = "default"
    dl.entries = [("d", "tiny", None), ("f", "tiny/hello", b"hello from the default namespace\n")]
    layers.append(dl)

    C = os.path.join(part, "containerd")
    D = os.path.join(part, "docker")
    content = os.path.join(C, "io.containerd.content.v1.content")
    blobs = os.path.join(content, "blobs", "sha256")
    snaproot = os.path.join(C, "io.containerd.snapshotter.v1.overlayfs")
    for d in (blobs, os.path.join(content, "ingest"), os.path.join(snaproot, "snapshots"),
              os.path.join(C, "io.containerd.metadata.v1.bolt"), os.path.join(C, "tmpmounts"),
              os.path.join(C, "io.containerd.runtime.v2.task", "moby"),
              os.path.join(C, "io.containerd.snapshotter.v1.native", "snapshots"),
              os.path.join(C, "io.containerd.snapshotter.v1.erofs", "snapshots"),
              os.path.join(C, "io.containerd.snapshotter.v1.btrfs"),
              os.path.join(C, "io.containerd.snapshotter.v1.blockfile"),
              os.path.join(C, "io.containerd.sandbox.controller.v1.shim"),
              os.path.join(C, "io.containerd.grpc.v1.introspection")):
        os.makedirs(d, 0o700, exist_ok=True)
    write_file(os.path.join(C, "io.containerd.grpc.v1.introspection", "uuid"),
               ("%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                 rng.getrandbits(12), rng.getrandbits(48))).encode())

    blob_files = {}  # digest -> size

    def put_blob(data):
        hx = sha(data)
        if hx not in blob_files:
            write_file(os.path.join(blobs, hx), data, 0o444)
            blob_files[hx] = len(data)
        return "sha256:" + hx

    # ---- layers: fs, tar, blob, chain, committed size (parents first)
    bulk = Bulk(rng, args.files, len(layers) - 1) if args.files else None
    next_id = [0]
    ns_counter = {"moby": 0, "default": 0}
    snap_files = snap_bytes = 0
    for l in layers:
        next_id[0] += 1
        l.snap_id = next_id[0]
        ns_counter[l.ns] += 2  # containerd prepares extract-<n>-<chain> then commits
        l.snap_n = ns_counter[l.ns]
        sd = os.path.join(snaproot, "snapshots", str(l.snap_id))
        os.mkdir(sd, 0o700)
        extra = bulk.entries(l) if (bulk and l.ns == "moby") else []
        l.diff, gzb = build_layer(l, sd, extra)
        l.blob = put_blob(gzb)
        l.blob_size = len(gzb)
        if l.parent is None:
            l.chain = l.diff
        else:
            l.chain = "sha256:" + sha((layers[l.parent].chain + " " + l.diff).encode())
        l.size, l.inodes = disk_usage(os.path.join(sd, "fs"))
        snap_files += sum(1 for e in list(l.entries) + extra if e[0] != "d")
        if l.idx % 2000 == 0:
            print("  layer %d/%d (%.0f s)" % (l.idx, len(layers), time.time() - t0), file=sys.stderr)

    # ---- images: config, manifest, index
    tcfg = tpl["image"]
    for im in images:
        cl = [layers[i] for i in im.chain_layers]
        cfg = json.loads(json.dumps(tcfg))
        cfg["created"] = rfc3339(im.created, im.idx * 7919 % 1000000000)
        cfg["rootfs"] = {"type": "layers", "diff_ids": [l.diff for l in cl]}
        hist = []
        for k, l in enumerate(cl):
            hist.append({"created": rfc3339(l.mtime), "created_by": "RUN /bin/sh -c build step %d # buildkit" % l.idx,
                         "comment": "buildkit.dockerfile.v0"})
            if k == 0:
                hist.append({"created": rfc3339(l.mtime), "created_by": "CMD [\"sh\"]", "empty_layer": True})
        hist.append({"created": cfg["created"], "created_by": "LABEL image=%d" % im.idx,
                     "comment": "buildkit.dockerfile.v0", "empty_layer": True})
        cfg["history"] = hist
        cfg.setdefault("config", {})
        cfg["config"] = dict(cfg["config"] or {})
        cfg["config"]["Labels"] = {"bench.image": str(im.idx)}
        cfg_bytes = go_json(cfg)
        cfg_d = put_blob(cfg_bytes)
        im.config = (cfg_d, len(cfg_bytes))
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_d,
                          "size": len(cfg_bytes)},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l.blob,
                           "size": l.blob_size} for l in cl]}
        man_bytes = go_json(man, indent=3)
        man_d = put_blob(man_bytes)
        im.manifest = (man_d, len(man_bytes))
        im.target, im.target_size = man_d, len(man_bytes)
        im.target_mt = man["mediaType"]
        im.index_blob = None
        if im.index:
            absent = "sha256:" + sha(b"arm64 manifest of image %d" % im.idx)
            idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [
                       {"mediaType": man["mediaType"], "digest": man_d, "size": len(man_bytes),
                        "platform": {"architecture": "amd64", "os": "linux"}},
                       {"mediaType": man["mediaType"], "digest": absent, "size": 1000 + im.idx % 500,
                        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}
            ib = go_json(idx, indent=3)
            im.index_blob = (put_blob(ib), len(ib), absent)
            im.target, im.target_size = im.index_blob[0], len(ib)
            im.target_mt = idx["mediaType"]
        usage = sum(l.size for l in cl)
        im.size = len(man_bytes) + len(cfg_bytes) + sum(l.blob_size for l in cl) + usage

    # ---- containers (docker + snapshots)
    containers = []
    for k in range(args.containers):
        im = images[rng.randrange(len(images))]
        cid = "%064x" % rng.getrandbits(256)
        containers.append((cid, im))

    # ---- meta.db
    top = Bucket()
    v1 = top.sub("v1")
    v1.put("version", varint(4))
    nsb = {"moby": v1.sub("moby"), "default": v1.sub("default")}

    def labels_of(d):
        b = Bucket()
        for kk, vv in d.items():
            b.put(kk, vv)
        return b

    def blob_rec(ns, digest, size, created, labels):
        bb = nsb[ns].sub("content").sub("blob").sub(digest)
        bb.put("createdat", go_time(created, 1000))
        bb.put("updatedat", go_time(created, 2000))
        bb.put("size", varint(size))
        if labels:
            bb["labels".encode()] = labels_of(labels)

    for ns in nsb:
        nsb[ns].sub("content").sub("blob")
        nsb[ns].sub("content").sub("ingests")
        nsb[ns].sub("leases")
        nsb[ns].sub("snapshots").sub("overlayfs")
    nsb["moby"].sub("containers")
    src = "containerd.io/distribution.source.docker.io"
    for l in layers:
        blob_rec(l.ns, l.blob, l.blob_size, l.mtime,
                 {"containerd.io/uncompressed": l.diff, src: "library/app"})
    for im in images:
        cl = [layers[i] for i in im.chain_layers]
        repo = "library/app%d" % (im.idx // 3)
        blob_rec("moby", im.config[0], im.config[1], im.created,
                 {"containerd.io/gc.ref.snapshot.overlayfs": cl[-1].chain, src: repo})
        ml = {"containerd.io/gc.ref.content.config": im.config[0], src: repo}
        for k, l in enumerate(cl):
            ml["containerd.io/gc.ref.content.l.%d" % k] = l.blob
        blob_rec("moby", im.manifest[0], im.manifest[1], im.created, ml)
        if im.index_blob:
            blob_rec("moby", im.index_blob[0], im.index_blob[1], im.created,
                     {"containerd.io/gc.ref.content.m.0": im.manifest[0],
                      "containerd.io/gc.ref.content.m.1": im.index_blob[2], src: repo})
        names = im.names or ["moby-dangling@" + im.target]
        for name in names:
            ib = nsb["moby"].sub("images").sub(name)
            ib.put("createdat", go_time(im.created, 5))
            ib.put("updatedat", go_time(im.created, 5))
            tb = ib.sub("target")
            tb.put("digest", im.target)
            tb.put("mediatype", im.target_mt)
            tb.put("size", varint(im.target_size))
            if not im.names:
                ib["labels".encode()] = labels_of({"org.mobyproject.image.containerconfig": im.config[0]})
    # default namespace's image
    dimg_cfg = go_json({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                        "created": rfc3339(BASE_TIME), "rootfs": {"type": "layers", "diff_ids": [dl.diff]},
                        "history": [{"created": rfc3339(BASE_TIME), "created_by": "COPY hello /"}]})
    dcfg = put_blob(dimg_cfg)
    dman = go_json({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dcfg,
                               "size": len(dimg_cfg)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": dl.blob, "size": dl.blob_size}]}, indent=3)
    dmd = put_blob(dman)
    blob_rec("default", dcfg, len(dimg_cfg), BASE_TIME, {"containerd.io/gc.ref.snapshot.overlayfs": dl.chain})
    blob_rec("default", dmd, len(dman), BASE_TIME, {"containerd.io/gc.ref.content.config": dcfg,
                                                    "containerd.io/gc.ref.content.l.0": dl.blob})
    ib = nsb["default"].sub("images").sub("docker.io/library/tiny:1")
    ib.put("createdat", go_time(BASE_TIME))
    ib.put("updatedat", go_time(BASE_TIME))
    ib.sub("annotations").put("io.containerd.image.name", "docker.io/library/tiny:1")
    tb = ib.sub("target")
    tb.put("digest", dmd)
    tb.put("mediatype", "application/vnd.oci.image.manifest.v1+json")
    tb.put("size", varint(len(dman)))

    # snapshots: namespace records + the snapshotter's
    sdb = Bucket()
    sv1 = sdb.sub("v1")
    sparents = sv1.sub("parents")
    ssnaps = sv1.sub("snapshots")
    backend_key = {}

    def snap(ns, key, n, sid, kind, parent_key, created, size=None, inodes=None, labels=None):
        bkey = "%s/%d/%s" % (ns, n, key)
        backend_key[(ns, key)] = (bkey, sid)
        r = nsb[ns].sub("snapshots").sub("overlayfs").sub(key)
        r.put("name", bkey)
        r.put("createdat", go_time(created, 11))
        r.put("updatedat", go_time(created, 11))
        if parent_key:
            r.put("parent", parent_key)
            nsb[ns].sub("snapshots").sub("overlayfs").sub(parent_key).sub("children").put(key, b"")
        if labels:
            r["labels".encode()] = labels_of(labels)
        b = ssnaps.sub(bkey)
        b.put("id", uvarint(sid))
        b.put("kind", bytes([kind]))
        b.put("createdat", go_time(created, 12))
        b.put("updatedat", go_time(created, 12))
        if parent_key:
            pk, pid = backend_key[(ns, parent_key)]
            b.put("parent", pk)
            sparents.put(uvarint(pid) + b"\x00" + uvarint(sid), bkey)
        if size is not None:
            b.put("size", varint(size))
        if inodes is not None:
            b.put("inodes", varint(inodes))
        if labels:
            b["labels".encode()] = labels_of(labels)

    for l in layers:
        snap(l.ns, l.chain, l.snap_n, l.snap_id, 3, layers[l.parent].chain if l.parent is not None else None,
             l.mtime, l.size, l.inodes,
             {"containerd.io/snapshot.ref": l.chain} if l.ns == "default" else None)

    # containers: -init committed, RW active; docker's files
    cfgt, hostt = tpl["cfg"], tpl["host"]
    for k, (cid, im) in enumerate(containers):
        top_l = layers[im.top]
        created = BASE_TIME + 10_000_000 + k * 60
        for suffix, kind in (("-init", 3), ("", 2)):
            next_id[0] += 1
            sid = next_id[0]
            ns_counter["moby"] += 1
            sd = os.path.join(snaproot, "snapshots", str(sid))
            os.makedirs(os.path.join(sd, "fs"), 0o755)
            os.mkdir(os.path.join(sd, "work"), 0o711)
            fs = os.path.join(sd, "fs")
            if suffix:
                os.makedirs(os.path.join(fs, "etc"), 0o755)
                os.makedirs(os.path.join(fs, "dev", "shm"), 0o755)
                for f in ("hostname", "hosts", "resolv.conf"):
                    write_file(os.path.join(fs, "etc", f), b"")
                size, inodes = disk_usage(fs)
                parent = top_l.chain
            else:
                write_file(os.path.join(fs, "seen.txt"), ("container %d\n" % k).encode() * (k % 50 + 1))
                size = inodes = None
                parent = cid + "-init"
            snap("moby", cid + suffix, ns_counter["moby"], sid, kind, parent, created, size, inodes)
        lb = nsb["moby"].sub("leases").sub(cid)
        lb.put("createdat", go_time(created))
        ls = lb.sub("snapshots").sub("overlayfs")
        ls.put(cid, b"")
        ls.put(cid + "-init", b"")
        # docker/containers/<id>/
        cd = os.path.join(D, "containers", cid)
        os.makedirs(os.path.join(cd, "checkpoints"), 0o700)
        os.makedirs(os.path.join(cd, "mounts"), 0o710)
        c = json.loads(json.dumps(cfgt))
        c["ID"] = cid
        c["Name"] = "/bench-%d" % k
        c["Created"] = rfc3339(created)
        c["Image"] = im.target
        c["ImageManifest"] = {"mediaType": im.target_mt, "digest": im.target, "size": im.target_size} \
            if not im.index else {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                  "digest": im.manifest[0], "size": im.manifest[1]}
        c["Driver"] = "overlayfs"
        if isinstance(c.get("Config"), dict):
            c["Config"]["Image"] = (im.names[0] if im.names else im.target)
            c["Config"]["Hostname"] = cid[:12]
        if isinstance(c.get("State"), dict):
            c["State"].update({"Running": False, "Paused": False, "Restarting": False, "Pid": 0,
                               "ExitCode": 0, "Dead": False})
        for key in ("LogPath", "HostnamePath", "HostsPath", "ResolvConfPath"):
            if c.get(key):
                c[key] = os.path.join(out, "docker", "containers", cid, os.path.basename(c[key]).replace(
                    cfgt["ID"], cid))
        c["MountPoints"] = {}
        write_file(os.path.join(cd, "config.v2.json"), go_json(c), 0o600)
        write_file(os.path.join(cd, "hostconfig.json"), go_json(hostt), 0o600)
        write_file(os.path.join(cd, "hostname"), (cid[:12] + "\n").encode())
        write_file(os.path.join(cd, "hosts"), ("127.0.0.1\tlocalhost\n172.17.0.2\t%s\n" % cid[:12]).encode())
        write_file(os.path.join(cd, "resolv.conf"), b"nameserver 10.0.0.1\n")
        write_file(os.path.join(cd, "resolv.conf.hash"), (sha(b"nameserver 10.0.0.1\n") + "\n").encode())
        write_file(os.path.join(cd, cid + "-json.log"),
                   ('{"log":"hello %d\\n","stream":"stdout","time":"%s"}\n' % (k, rfc3339(created))).encode(), 0o640)
        os.makedirs(os.path.join(D, "rootfs", "overlayfs", cid), 0o710)

    nsb["moby"].sub("snapshots").sub("overlayfs").seq = ns_counter["moby"]
    nsb["default"].sub("snapshots").sub("overlayfs").seq = ns_counter["default"]
    ssnaps.seq = next_id[0]
    meta_pages = write_bolt(os.path.join(C, "io.containerd.metadata.v1.bolt", "meta.db"), top)
    snap_pages = write_bolt(os.path.join(snaproot, "metadata.db"), sdb)

    # ---- docker's other files
    os.makedirs(os.path.join(D, "volumes"), 0o701, exist_ok=True)
    vols = Bucket()
    vb = vols.sub("volumes")
    for k in range(args.volumes):
        name = "%064x" % rng.getrandbits(256) if k % 2 else "benchvol%d" % k
        vb.put(name, go_json({"Name": name, "Driver": "local", "Labels": None, "Options": None}))
        os.makedirs(os.path.join(D, "volumes", name, "_data"), 0o755)
        write_file(os.path.join(D, "volumes", name, "_data", "data.txt"), ("volume %d\n" % k).encode())
    write_bolt(os.path.join(D, "volumes", "metadata.db"), vols)
    for d in ("network/files", "tmp", "plugins/tmp", "runtimes", "swarm", "rootfs/overlayfs", "containers"):
        os.makedirs(os.path.join(D, d), 0o700, exist_ok=True)
    write_file(os.path.join(D, "engine-id"), ("%08x-%04x-%04x-%04x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16),
        rng.getrandbits(48))).encode(), 0o600)
    if "kv" in tpl:
        write_file(os.path.join(D, "network", "files", "local-kv.db"), tpl["kv"], 0o644)

    os.rename(part, out)

    # ---- expectations
    moby_layers = [l for l in layers if l.ns == "moby"]
    targets = {}
    for im in images:
        targets[im.target] = im.size
    cat_files = ["containerd/io.containerd.metadata.v1.bolt/meta.db",
                 "containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db"]
    doc_digests = set()
    for im in images:
        doc_digests.add(im.manifest[0])
        doc_digests.add(im.config[0])
        if im.index_blob:
            doc_digests.add(im.index_blob[0])
    cat_files += ["containerd/io.containerd.content.v1.content/blobs/sha256/" + d[7:] for d in sorted(doc_digests)]
    n_records = sum(max(1, len(im.names)) for im in images)
    gen = {
        "gen_version": GEN_VERSION,
        "params": {"seed": args.seed, "images": args.images, "layers": args.layers, "bases": args.bases,
                   "files": args.files, "containers": args.containers, "volumes": args.volumes,
                   "template": os.path.abspath(args.template)},
        "counts": {
            "images": len(targets),
            "image_records": n_records,
            "tagged": sum(1 for im in images if im.names),
            "dangling": sum(1 for im in images if not im.names),
            "indexes": sum(1 for im in images if im.index),
            "tags": sum(len(im.names) for im in images),
            "layers": len(moby_layers),
            "max_depth": max(len(im.chain_layers) for im in images),
            "blob_files": len(blob_files),
            "blob_bytes": sum(blob_files.values()),
            "snapshots_moby": len(moby_layers) + 2 * len(containers),
            "backend_snapshots": next_id[0],
            "containers": len(containers),
            "volumes": args.volumes,
            "snapshot_files": snap_files,
            "meta_db_pages": meta_pages,
            "snapshotter_db_pages": snap_pages,
            "cat_files": len(cat_files),
        },
        "sizes": targets,
        "cat_files": cat_files,
        "seconds": round(time.time() - t0, 1),
    }
    with open(out + ".gen.json", "w") as f:
        json.dump(gen, f, indent=1, sort_keys=True)
    c = gen["counts"]
    print("wrote %s in %.0f s: %d images (%d records, %d dangling, %d indexes), %d layers, %d blobs, "
          "%d snapshots, %d containers, %d files in snapshots; meta.db %d pages" % (
              out, gen["seconds"], c["images"], c["image_records"], c["dangling"], c["indexes"], c["layers"],
              c["blob_files"], c["backend_snapshots"], c["containers"], c["snapshot_files"], meta_pages))


# -------------------------------------------------------------------- check --

def check(args):
    out = os.path.abspath(args.check)
    gen = json.load(open(out + ".gen.json"))
    c = gen["counts"]
    root = os.path.join(out, "docker")
    r = subprocess.run([args.dockscope, "--root", root, "images", "-a", "--json"], capture_output=True)
    if r.returncode not in (0, 1):
        sys.exit("dockscope images failed (%d): %s" % (r.returncode, r.stderr.decode()[:2000]))
    j = json.loads(r.stdout)
    imgs = j["images"]
    bad = []
    if len(imgs) != c["images"]:
        bad.append("images: dockscope %d, expected %d" % (len(imgs), c["images"]))
    got = {i["id"]: i["size"] for i in imgs}
    wrong = [(d, got.get(d), s) for d, s in gen["sizes"].items() if got.get(d) != s]
    if wrong:
        bad.append("%d image sizes differ, e.g. %s dockscope %s expected %s" % ((len(wrong),) + wrong[0]))
    tags = sum(len(i.get("repo_tags") or []) for i in imgs)
    if tags != c["tags"]:
        bad.append("tags: dockscope %d, expected %d" % (tags, c["tags"]))
    dangling = sum(1 for i in imgs if i.get("dangling"))
    if dangling != c["dangling"]:
        bad.append("dangling: dockscope %d, expected %d" % (dangling, c["dangling"]))
    probs = j.get("problems") or []
    if probs:
        bad.append("%d problems, first: %s" % (len(probs), json.dumps(probs[0])[:300]))
    if bad:
        sys.exit("CHECK FAILED: " + "; ".join(bad))
    print("check ok: %d images (%d dangling, %d tags) with the expected sizes, no problems" % (
        len(imgs), dangling, tags))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--layers", type=int, default=20000)
    ap.add_argument("--bases", type=int, default=200)
    ap.add_argument("--files", type=int, default=0, help="extra files in the snapshots (du benchmark)")
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--volumes", type=int, default=6)
    ap.add_argument("--template", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                        "sample-roots", "c8d", "root.tar.gz"))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--check")
    ap.add_argument("--dockscope")
    args = ap.parse_args()
    if args.check:
        if not args.dockscope:
            sys.exit("--check needs --dockscope")
        check(args)
    elif args.out:
        generate(args)
    else:
        ap.error("give OUT or --check OUT")


if __name__ == "__main__":
    main()
