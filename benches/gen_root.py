#!/usr/bin/env python3
"""Generate a LARGE synthetic, fully consistent Docker overlay2 data root.

    python3 benches/gen_root.py /tmp/bench-root --seed 1 \
        --images 10000 --layers 50000 --template sample-roots/full/root.tar.gz
    python3 benches/gen_root.py --check /tmp/bench-root --dockscope target/release/dockscope

Python 3 standard library only. The output depends only on the parameters (same
--seed, --images, --layers, --bases, --template => byte-identical files; only
inode times differ).

What is written, following the overlay2 on-disk format (image store, layerdb, overlay2 dirs):
* a forest of layers: --bases base layers; images are stacks of 1..N layers on a
  base or on another image, so bases and prefixes are shared;
* per layer: real content in overlay2/<cache-id>/diff (one or two tiny files, now
  and then a symlink, a few layers hold only a directory so their size is 0), the
  uncompressed tar of exactly that content, its DiffID (sha256 of the tar), a real
  tar-split.json.gz (segments + CRC-64/GO-ISO file entries, as tar-split writes it),
  the chain id computed as Docker does, layerdb/sha256/<chain>/{diff,cache-id,size,
  parent,tar-split.json.gz}, overlay2/<cache-id>/{link,lower,work/,committed,diff/},
  overlay2/l/<ID> -> ../<cache-id>/diff;
* image configs cloned from one real config of the template (key order kept, Go's
  HTML escaping of < > &), file name = sha256 of the bytes; classic-builder builds
  (one image per layer step, imagedb/metadata/<id>/parent, intermediates untagged)
  and BuildKit-style builds (one image, no metadata); history with one non-empty
  entry per layer plus empty_layer entries;
* image/overlay2/repositories.json: tags for most images (several for some, a
  digest reference for some), a few untagged top images (dangling).
* No containers and no volumes.

The root is written to OUT.partial and renamed to OUT at the end. Next to it,
OUT.gen.json records the parameters and what dockscope must report (counts and
every image's size); --check compares dockscope's output with it.
"""

import argparse
import base64
import copy
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tarfile
import time

GEN_VERSION = 1
MAX_DEPTH = 60          # layers per image at most (Docker allows 125)
BASE_TIME = 1700000000  # 2023-11-14T22:13:20Z, start of the synthetic history


# ------------------------------------------------------------------ helpers --

def hex64(rng):
    return "%064x" % rng.getrandbits(256)


def link_id(rng):
    # overlayutils.GenerateID: base32 of 16 random bytes, first 26 characters
    return base64.b32encode(rng.getrandbits(128).to_bytes(16, "big")).decode()[:26]


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def rfc3339nano(sec, nanos):
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction trimmed."""
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    frac = ("%09d" % nanos).rstrip("0")
    return base + ("." + frac if frac else "") + "Z"


def go_json(obj):
    """Compact JSON like Go's json.Marshal: no spaces, <>& escaped, UTF-8."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    s = s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return s.encode()


# CRC-64/GO-ISO (tar-split's CRCTable = crc64.MakeTable(crc64.ISO))
def _crc64_table():
    poly = 0xD800000000000000
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC64_TABLE = _crc64_table()
MASK64 = 0xFFFFFFFFFFFFFFFF


def crc64_go_iso(data):
    crc = MASK64
    t = CRC64_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ MASK64


assert crc64_go_iso(b"123456789") == 0xB90956C775A41001
assert base64.b64encode(crc64_go_iso(b"hello\n").to_bytes(8, "big")) == b"YUw+7uLYEAA="


def tar_header(name, kind, size, mtime, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mtime = mtime
    ti.mode = 0o755 if kind in (tarfile.DIRTYPE, tarfile.SYMTYPE) else 0o644
    if kind == tarfile.SYMTYPE:
        ti.mode = 0o777
    ti.linkname = linkname
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


def build_layer_tar(entries, mtime):
    """entries: [(name, kind, data_or_linkname)] in tar order.

    Returns (diff_id, tar_split_gz, size) where size is Docker's directory.Size of
    the extracted content (regular files + symlink target lengths, dirs skipped)."""
    tar = bytearray()
    lines = []
    pos = 0
    pending = b""  # padding of the previous file: tar-split puts it in the next segment
    size = 0
    for name, kind, payload in entries:
        if kind == tarfile.REGTYPE:
            hdr = tar_header(name, kind, len(payload), mtime)
        elif kind == tarfile.SYMTYPE:
            hdr = tar_header(name, kind, 0, mtime, linkname=payload)
        else:
            hdr = tar_header(name, kind, 0, mtime)
        seg = pending + hdr
        lines.append('{"type":2,"payload":"%s","position":%d}' % (base64.b64encode(seg).decode(), pos))
        pos += 1
        tar += hdr
        if kind == tarfile.REGTYPE and payload:
            crc = base64.b64encode(crc64_go_iso(payload).to_bytes(8, "big")).decode()
            lines.append('{"type":1,"name":%s,"size":%d,"payload":"%s","position":%d}'
                         % (json.dumps(name), len(payload), crc, pos))
            tar += payload
            pad = (-len(payload)) % 512
            pending = b"\0" * pad
            tar += pending
            size += len(payload)
        else:
            lines.append('{"type":1,"name":%s,"payload":null,"position":%d}' % (json.dumps(name), pos))
            pending = b""
            if kind == tarfile.SYMTYPE:
                size += len(payload)
        pos += 1
    end = b"\0" * 1024
    tar += end
    lines.append('{"type":2,"payload":"%s","position":%d}' % (base64.b64encode(pending + end).decode(), pos))
    pos += 1
    lines.append('{"type":2,"payload":"","position":%d}' % pos)
    ts = ("\n".join(lines) + "\n").encode()
    return "sha256:" + sha256_hex(bytes(tar)), gzip.compress(ts, compresslevel=6, mtime=0), size


# ---------------------------------------------------------------- template --

class Template:
    """Reads a captured root: a directory or a .tar/.tar.gz archive of one."""

    CONTENT = "image/overlay2/imagedb/content/sha256/"

    def __init__(self, path):
        if not os.path.exists(path):
            sys.exit("gen_root: template %s not found; give --template a captured root dir or archive "
                     "(e.g. extract sample-roots/docker-explorer/vols.v2.tgz and pass its docker/)" % path)
        self.path = path
        self.configs = {}  # id -> bytes
        self.source = path
        if os.path.isdir(path):
            d = os.path.join(path, self.CONTENT)
            for n in sorted(os.listdir(d)):
                with open(os.path.join(d, n), "rb") as f:
                    self.configs[n] = f.read()
        else:
            with tarfile.open(path) as tf:
                for m in tf:
                    name = m.name
                    if name.startswith("./"):
                        name = name[2:]
                    if m.isfile() and name.startswith(self.CONTENT):
                        self.configs[name[len(self.CONTENT):]] = tf.extractfile(m).read()
        if not self.configs:
            sys.exit("gen_root: template %s has no image config" % path)

    def config(self):
        """The richest classic-builder config: container_config, most history, no author."""
        best = None
        for cid in sorted(self.configs):
            raw = self.configs[cid]
            try:
                cfg = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(cfg, dict) or not isinstance(cfg.get("config"), dict):
                continue
            score = ("container_config" in cfg, "author" not in cfg, len(cfg.get("history", [])), cid)
            if best is None or score > best[0]:
                best = (score, cid, cfg)
        if best is None:
            sys.exit("gen_root: no usable image config in template %s" % self.path)
        return best[1], best[2]


# ---------------------------------------------------------------- planning --

class Layer:
    __slots__ = ("idx", "parent", "depth", "cache", "link", "entries", "mtime",
                 "diff", "chain", "size", "tarsplit", "children", "created_by")


class Image:
    __slots__ = ("idx", "kind", "top", "parent_img", "history", "created", "tags",
                 "digests", "id", "config_bytes", "last_updated", "has_child", "build")


def plan(args, rng):
    n_img, n_lay, n_base = args.images, args.layers, min(args.bases, args.images, args.layers)
    if n_lay < n_img:
        sys.exit("gen_root: --layers must be >= --images (every image adds a layer)")
    layers, images = [], []
    clock = [BASE_TIME]

    def tick(step=37):
        clock[0] += rng.randint(1, step)
        return clock[0], rng.randrange(1, 10**9)

    def new_layer(parent, created_by):
        l = Layer()
        l.idx = len(layers)
        l.parent = parent
        l.depth = 1 if parent is None else layers[parent].depth + 1
        l.cache = hex64(rng)
        l.link = link_id(rng)
        l.children = 0
        l.created_by = created_by
        sec, _ = tick(5)
        l.mtime = sec
        tag = "%08x" % rng.getrandbits(32)
        r = rng.random()
        if parent is None:
            osr = ('NAME="BenchOS"\nVERSION_ID="%d.%d"\nID=benchos\nBUILD_ID=%s\n'
                   % (l.idx, rng.randint(0, 20), tag)).encode()
            blob = rng.randbytes(rng.randint(512, 4096))
            l.entries = [("bin/", tarfile.DIRTYPE, None),
                         ("bin/tool-%s" % tag, tarfile.REGTYPE, blob),
                         ("etc/", tarfile.DIRTYPE, None),
                         ("etc/os-release", tarfile.REGTYPE, osr)]
        else:
            d = "srv/%s/" % tag
            l.entries = [("srv/", tarfile.DIRTYPE, None), (d, tarfile.DIRTYPE, None)]
            if r >= 0.02:  # 2% of layers hold only a directory: size 0
                txt = ("layer %d of parent %d: %s\n" % (l.idx, parent, hex64(rng)[:rng.randint(8, 64)])).encode()
                l.entries.append((d + "file.txt", tarfile.REGTYPE, txt))
                if r < 0.5:
                    l.entries.append((d + "data.bin", tarfile.REGTYPE, rng.randbytes(rng.randint(1, 2048))))
                if r > 0.9:
                    l.entries.append((d + "current", tarfile.SYMTYPE, "file.txt"))
        if parent is not None:
            layers[parent].children += 1
        layers.append(l)
        return l.idx

    def new_image(kind, top, parent_img, history, build):
        im = Image()
        im.idx = len(images)
        im.kind, im.top, im.parent_img, im.history, im.build = kind, top, parent_img, history, build
        sec, ns = tick()
        im.created = rfc3339nano(sec, ns)
        im.tags, im.digests, im.last_updated, im.has_child = [], [], None, False
        if parent_img is not None:
            images[parent_img].has_child = True
        images.append(im)
        return im.idx

    def hist(created_by, empty=False, comment=None):
        sec, ns = tick(3)
        h = {"created": rfc3339nano(sec, ns), "created_by": created_by}
        if comment:
            h["comment"] = comment
        if empty:
            h["empty_layer"] = True
        return h

    # 1. bases: one single-layer image each (pulled style: no metadata)
    for b in range(n_base):
        top = new_layer(None, None)
        h = [hist("/bin/sh -c #(nop) ADD file:%s in / " % hex64(rng)),
             hist('/bin/sh -c #(nop)  CMD ["sh"]', empty=True)]
        i = new_image("base", top, None, h, b)
        images[i].tags = ["bench/base%d:latest" % b, "bench/base%d:1.%d" % (b, rng.randint(0, 9))]
        if b % 3 == 0:
            images[i].digests = ["bench/base%d@sha256:%s" % (b, hex64(rng))]

    # 2. builds: decide their shapes first so that the totals come out exact
    rest_img, rest_lay = n_img - n_base, n_lay - n_base
    builds = []  # [kind, n_images, n_layers]
    left = rest_img
    while left > 0:
        if rng.random() < args.classic:
            k = min(left, rng.randint(2, 6))
            builds.append(["classic", k, k])
        else:
            k = 1
            builds.append(["bk", 1, 1])
        left -= k
    extra = rest_lay - sum(b[2] for b in builds)
    bk = [b for b in builds if b[0] == "bk"]
    if extra > 0 and not bk:
        sys.exit("gen_root: no BuildKit-style build to carry the extra layers; "
                 "raise --images or lower --classic")
    cap = MAX_DEPTH // 2
    if extra > len(bk) * (cap - 1):
        sys.exit("gen_root: too many layers for that many images (at most %d)"
                 % (n_base + sum(b[2] for b in builds) + len(bk) * (cap - 1)))
    if extra > 0:
        weights = [rng.gammavariate(2.0, 1.0) for _ in bk]
        total_w = sum(weights)
        shares = [extra * w / total_w for w in weights]
        alloc = [int(s) for s in shares]
        order = sorted(range(len(bk)), key=lambda j: shares[j] - alloc[j], reverse=True)
        for j in order[:extra - sum(alloc)]:
            alloc[j] += 1
        over = 0
        for j in range(len(bk)):
            if alloc[j] > cap - 1:
                over += alloc[j] - (cap - 1)
                alloc[j] = cap - 1
        j = 0
        while over:
            if alloc[j] < cap - 1:
                alloc[j] += 1
                over -= 1
            j = (j + 1) % len(bk)
        for b, a in zip(bk, alloc):
            b[2] += a

    # 3. realise the builds in order, each on a base or on an earlier tagged top image
    parents = list(range(n_base))  # tagged images that later builds may start FROM
    for bno, (kind, k_img, k_lay) in enumerate(builds):
        p = None
        if rng.random() < 0.5:
            for _ in range(8):
                c = rng.choice(parents)
                if layers[images[c].top].depth + k_lay <= MAX_DEPTH:
                    p = c
                    break
        if p is None:
            p = int(n_base * rng.random() ** 2)  # a few popular bases
        repo = "bench/svc%d" % (bno % max(1, n_img // 20))
        tagname = "b%d" % bno
        base_hist = list(images[p].history)
        top = images[p].top
        if kind == "classic":
            parent_img = p
            h = base_hist + [hist("/bin/sh -c #(nop)  ENV BUILD=%d" % bno, empty=True)]
            for s in range(k_img):
                x = hex64(rng)
                cb = ("/bin/sh -c #(nop) COPY file:%s in /srv/ " % x if s % 2
                      else "/bin/sh -c echo %s > /srv/step%d && test -s /srv/step%d" % (x[:16], s, s))
                top = new_layer(top, cb)
                h = h + [hist(cb)]
                if s == k_img - 1:
                    h = h + [hist('/bin/sh -c #(nop)  CMD ["/srv/run", "%d"]' % bno, empty=True)]
                parent_img = new_image("classic", top, parent_img, h, bno)
            im = images[parent_img]
            if rng.random() < 0.97:
                im.tags = ["%s:%s" % (repo, tagname)]
                im.last_updated = im.created
                parents.append(im.idx)
        else:
            h = base_hist + [hist("ENV BUILD=%d" % bno, empty=True, comment="buildkit.dockerfile.v0")]
            for s in range(k_lay):
                x = hex64(rng)
                cb = ("COPY . /srv/%s # buildkit" % x[:12] if s % 3 == 2
                      else "RUN /bin/sh -c make -C /srv step=%d # buildkit" % s)
                top = new_layer(top, cb)
                h.append(hist(cb, comment="buildkit.dockerfile.v0"))
            h.append(hist('CMD ["/srv/run"]', empty=True, comment="buildkit.dockerfile.v0"))
            i = new_image("bk", top, None, h, bno)
            im = images[i]
            r = rng.random()
            if r < 0.95:
                im.tags = ["%s:%s" % (repo, tagname)]
                if r < 0.25:
                    im.tags.append("%s:latest-%d" % (repo, bno))
                if r < 0.10:
                    im.digests = ["%s@sha256:%s" % (repo, hex64(rng))]
                parents.append(i)
    assert len(images) == n_img, (len(images), n_img)
    assert len(layers) == n_lay, (len(layers), n_lay)
    return layers, images


def finish_layers(layers):
    """Tars, DiffIDs, tar-splits, sizes, chain ids (in order: parents come first)."""
    for l in layers:
        l.diff, l.tarsplit, l.size = build_layer_tar(l.entries, l.mtime)
        if l.parent is None:
            l.chain = l.diff
        else:
            l.chain = "sha256:" + sha256_hex((layers[l.parent].chain + " " + l.diff).encode())


def finish_images(layers, images, tpl_cfg, rng):
    for im in images:
        stack = []
        li = im.top
        while li is not None:
            stack.append(layers[li].diff)
            li = layers[li].parent
        stack.reverse()
        cfg = copy.deepcopy(tpl_cfg)
        cfg.pop("author", None)
        cfg.pop("comment", None)
        cid = hex64(rng)
        if im.kind == "classic":
            cfg["container"] = cid
            cc = cfg.get("container_config")
            if isinstance(cc, dict):
                cc["Hostname"] = cid[:12]
                cc["Cmd"] = ["/bin/sh", "-c", im.history[-1]["created_by"][len("/bin/sh -c "):]]
        else:
            cfg.pop("container", None)
            cfg.pop("container_config", None)
        c = cfg.setdefault("config", {})
        if isinstance(c, dict):
            if "Hostname" in c:
                c["Hostname"] = cid[:12] if im.kind == "classic" else ""
            c["Labels"] = {"org.example.bench.build": str(im.build), "org.example.bench.kind": im.kind}
            c["Env"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "BUILD=%d" % im.build]
        cfg["created"] = im.created
        cfg["history"] = im.history
        cfg["rootfs"] = {"type": "layers", "diff_ids": stack}
        # keep the template's key order, but make sure the fields exist
        im.config_bytes = go_json(cfg)
        im.id = sha256_hex(im.config_bytes)


# ----------------------------------------------------------------- writing --

def wfile(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)


OUT_DIR = None


def write_layer_chunk(recs):
    """Runs in a worker: write the layerdb entry and overlay2 dir of each layer."""
    out = OUT_DIR
    ldb = os.path.join(out, "image/overlay2/layerdb/sha256")
    ov = os.path.join(out, "overlay2")
    nfiles = nbytes = 0
    for chain_hex, diff, parent_chain, cache, size, tarsplit, link, lower, committed, entries in recs:
        d = os.path.join(ldb, chain_hex)
        os.mkdir(d, 0o700)
        wfile(d + "/diff", diff.encode())
        wfile(d + "/cache-id", cache.encode())
        wfile(d + "/size", str(size).encode())
        if parent_chain:
            wfile(d + "/parent", parent_chain.encode())
        wfile(d + "/tar-split.json.gz", tarsplit)
        nfiles += 5 if parent_chain else 4
        nbytes += len(tarsplit) + 71 * (2 if parent_chain else 1) + 64 + len(str(size))
        od = os.path.join(ov, cache)
        os.mkdir(od, 0o710)
        os.chmod(od, 0o710)
        diffd = od + "/diff"
        os.mkdir(diffd, 0o755)
        for name, kind, payload in entries:
            p = os.path.join(diffd, name)
            if kind == tarfile.DIRTYPE:
                os.mkdir(p, 0o755)
            elif kind == tarfile.SYMTYPE:
                os.symlink(payload, p)
                nfiles += 1
            else:
                wfile(p, payload)
                nfiles += 1
                nbytes += len(payload)
        wfile(od + "/link", link.encode())
        nfiles += 1
        nbytes += 26
        if lower:
            wfile(od + "/lower", lower.encode())
            os.mkdir(od + "/work", 0o700)
            nfiles += 1
            nbytes += len(lower)
        if committed:
            wfile(od + "/committed", b"", 0o600)
            nfiles += 1
        os.symlink("../%s/diff" % cache, os.path.join(ov, "l", link))
    return nfiles, nbytes


def init_worker(out):
    global OUT_DIR
    OUT_DIR = out
    os.umask(0o022)


def remove_tree(path):
    """rm -rf of an earlier output (only ever called on a path under /tmp)."""
    t = time.time()
    assert under_tmp(path)[0]
    subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=True)
    print("%s: removed the previous %s in %.1fs" % (os.path.basename(sys.argv[0]), path, time.time() - t),
          file=sys.stderr)


def under_tmp(path):
    real = os.path.realpath(path)
    return real.startswith("/tmp/") and real.rstrip("/") != "/tmp", real


def generate(args):
    ok, out = under_tmp(args.out)
    if not ok:
        sys.exit("gen_root: refusing to write outside /tmp: %s" % args.out)
    if os.path.lexists(out):
        if not args.force:
            sys.exit("gen_root: %s exists (use --force to replace it)" % out)
        remove_tree(out)
    part = out + ".partial"
    if os.path.lexists(part):
        remove_tree(part)
    t0 = time.time()
    tpl = Template(args.template)
    tpl_id, tpl_cfg = tpl.config()
    rng = random.Random(args.seed)
    layers, images = plan(args, rng)
    finish_layers(layers)
    finish_images(layers, images, tpl_cfg, rng)
    t_plan = time.time() - t0

    os.umask(0o022)
    for d in ["image/overlay2/imagedb/content/sha256", "image/overlay2/imagedb/metadata/sha256",
              "image/overlay2/layerdb/sha256", "image/overlay2/layerdb/mounts",
              "image/overlay2/layerdb/tmp", "image/overlay2/distribution",
              "overlay2/l", "containers", "volumes", "tmp", "plugins/storage/ingest",
              "runtimes", "swarm", "trust", "network/files"]:
        os.makedirs(os.path.join(part, d), exist_ok=True)
    os.chmod(part, 0o710)
    os.chmod(os.path.join(part, "overlay2"), 0o710)
    os.chmod(os.path.join(part, "containers"), 0o710)

    recs = []
    for l in layers:
        lower = []
        p = l.parent
        while p is not None:
            lower.append("l/" + layers[p].link)
            p = layers[p].parent
        recs.append((l.chain[7:], l.diff, layers[l.parent].chain if l.parent is not None else None,
                     l.cache, l.size, l.tarsplit, l.link, ":".join(lower), l.children > 0, l.entries))
    chunk = 500
    chunks = [recs[i:i + chunk] for i in range(0, len(recs), chunk)]
    nfiles = nbytes = 0
    jobs = max(1, args.jobs)
    if jobs == 1:
        init_worker(part)
        results = map(write_layer_chunk, chunks)
    else:
        ctx = multiprocessing.get_context("fork")
        pool = ctx.Pool(jobs, initializer=init_worker, initargs=(part,))
        results = pool.imap_unordered(write_layer_chunk, chunks)
    for f, b in results:
        nfiles += f
        nbytes += b
    if jobs != 1:
        pool.close()
        pool.join()

    img = os.path.join(part, "image/overlay2")
    content = os.path.join(img, "imagedb/content/sha256")
    meta = os.path.join(img, "imagedb/metadata/sha256")
    by_idx = images
    for im in images:
        wfile(os.path.join(content, im.id), im.config_bytes, 0o600)
        nfiles += 1
        nbytes += len(im.config_bytes)
        if im.kind == "classic":
            md = os.path.join(meta, im.id)
            os.mkdir(md, 0o700)
            par = by_idx[im.parent_img].id
            wfile(md + "/parent", ("sha256:" + par).encode(), 0o600)
            nfiles += 1
            nbytes += 71
            if im.last_updated:
                wfile(md + "/lastUpdated", im.last_updated.encode(), 0o600)
                nfiles += 1
                nbytes += len(im.last_updated)
    repos = {}
    for im in images:
        for ref in im.tags + im.digests:
            name = ref.split("@", 1)[0] if "@" in ref else ref.rsplit(":", 1)[0]
            repos.setdefault(name, {})[ref] = "sha256:" + im.id
    repos = {k: dict(sorted(v.items())) for k, v in sorted(repos.items())}
    rj = go_json({"Repositories": repos})
    wfile(os.path.join(img, "repositories.json"), rj, 0o600)
    nfiles += 1
    nbytes += len(rj)

    # what dockscope must report
    img_by_id = {}
    for im in images:
        s = 0
        li = im.top
        while li is not None:
            s += layers[li].size
            li = layers[li].parent
        img_by_id["sha256:" + im.id] = s
    tagged = sum(1 for im in images if im.tags or im.digests)
    dangling = sum(1 for im in images if not (im.tags or im.digests) and not im.has_child)
    intermediate = sum(1 for im in images if not (im.tags or im.digests) and im.has_child)
    fp = hashlib.sha256(rj)
    for l in layers:
        fp.update(l.chain.encode())
    summary = {
        "generator": "benches/gen_root.py", "gen_version": GEN_VERSION,
        "params": {"seed": args.seed, "images": args.images, "layers": args.layers,
                   "bases": args.bases, "classic": args.classic,
                   "template": os.path.abspath(args.template), "template_config": tpl_id},
        "fingerprint": fp.hexdigest(),
        "counts": {"images": len(images), "tagged": tagged, "dangling": dangling,
                   "intermediate": intermediate,
                   "tags": sum(len(im.tags) for im in images),
                   "digests": sum(len(im.digests) for im in images),
                   "layers": len(layers), "overlay2_dirs": len(layers), "l_links": len(layers),
                   "containers": 0, "volumes": 0,
                   "max_depth": max(l.depth for l in layers),
                   "layer_bytes": sum(l.size for l in layers)},
        "files": nfiles, "bytes": nbytes,
        "image_sizes": img_by_id,
    }
    os.rename(part, out)
    with open(out + ".gen.json", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    dt = time.time() - t0
    c = summary["counts"]
    print("gen_root: %s  seed=%d  template=%s (config %s)" % (out, args.seed, args.template, tpl_id[:12]))
    print("  images %d (%d tagged, %d dangling, %d intermediate), layers %d (max depth %d), "
          "overlay2 dirs %d, files written %d, bytes %d (layer content %d)"
          % (c["images"], c["tagged"], c["dangling"], c["intermediate"], c["layers"], c["max_depth"],
             c["overlay2_dirs"], nfiles, nbytes, c["layer_bytes"]))
    print("  fingerprint %s  time %.1fs (plan %.1fs, write %.1fs)" % (summary["fingerprint"][:16], dt, t_plan, dt - t_plan))


# ------------------------------------------------------------------- check --

def check(args):
    out = os.path.realpath(args.check)
    with open(out + ".gen.json") as f:
        want = json.load(f)
    exe = args.dockscope
    info = json.loads(subprocess.run([exe, "--root", out, "--json", "info"], check=False,
                                     capture_output=True).stdout)
    errors = []
    probs = info.get("problems", [])
    if probs:
        errors.append("%d problems, first: %s" % (len(probs), probs[:3]))
    got = info.get("counts", {})
    for k in ("images", "tagged", "dangling", "intermediate", "tags", "digests", "layers",
              "overlay2_dirs", "l_links", "containers"):
        if k in got and got[k] != want["counts"][k]:
            errors.append("info counts.%s = %s, generated %s" % (k, got[k], want["counts"][k]))
        elif k not in got:
            errors.append("info has no counts.%s" % k)
    res = subprocess.run([exe, "--root", out, "--json", "images", "-a"], check=False, capture_output=True)
    listed = json.loads(res.stdout)["images"]
    sizes = want["image_sizes"]
    seen = set()
    bad = 0
    for im in listed:
        seen.add(im["id"])
        if sizes.get(im["id"]) != im["size"]:
            bad += 1
            if bad <= 3:
                errors.append("image %s: size %s, expected %s" % (im["id"][:19], im["size"], sizes.get(im["id"])))
    if bad:
        errors.append("%d images with a wrong size" % bad)
    missing = set(sizes) - seen
    if missing:
        errors.append("%d generated images not listed by images -a (e.g. %s)" % (len(missing), sorted(missing)[0]))
    if len(listed) != len(sizes):
        errors.append("images -a lists %d images, generated %d" % (len(listed), len(sizes)))
    # Rebuild some layers' tars from tar-split + diff/ as Docker does (§3) and compare
    # the CRCs and the DiffID: the generated content is really what the metadata says.
    ldb = os.path.join(out, "image/overlay2/layerdb/sha256")
    names = sorted(os.listdir(ldb))
    sample = random.Random(0).sample(names, min(args.verify, len(names)))
    for n in sample:
        d = os.path.join(ldb, n)
        with open(d + "/cache-id") as f:
            cache = f.read().strip()
        with open(d + "/diff") as f:
            diff = f.read().strip()
        h = hashlib.sha256()
        with gzip.open(d + "/tar-split.json.gz") as f:
            for line in f:
                e = json.loads(line)
                if e["type"] == 2:
                    h.update(base64.b64decode(e["payload"]))
                elif e.get("size", 0) > 0:
                    with open(os.path.join(out, "overlay2", cache, "diff", e["name"]), "rb") as g:
                        data = g.read()
                    crc = base64.b64encode(crc64_go_iso(data).to_bytes(8, "big")).decode()
                    if crc != e["payload"]:
                        errors.append("layer %s: CRC of %s differs from tar-split" % (n[:12], e["name"]))
                    h.update(data)
        if "sha256:" + h.hexdigest() != diff:
            errors.append("layer %s: tar rebuilt from tar-split does not match diff %s" % (n[:12], diff[:19]))
    if errors:
        print("check FAILED for %s:" % out)
        for e in errors:
            print("  " + e)
        return 1
    print("check ok: %s: 0 problems, %d images (sizes match), %d layers, %d DiffIDs rebuilt from tar-split"
          % (out, len(listed), got.get("layers"), len(sample)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="directory to create (must be under /tmp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--layers", type=int, default=50000)
    ap.add_argument("--bases", type=int, default=50)
    ap.add_argument("--classic", type=float, default=0.1,
                    help="share of builds done by the classic builder (default 0.1)")
    ap.add_argument("--template", default=None,
                    help="captured root (dir or .tar[.gz]) to take the image config from; "
                         "default: sample-roots/full/root.tar.gz next to this script's repo")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="replace OUT if it exists")
    ap.add_argument("--check", metavar="ROOT", help="compare dockscope's answers with ROOT.gen.json")
    ap.add_argument("--verify", type=int, default=200,
                    help="with --check: layers whose tar is rebuilt from tar-split (default 200)")
    ap.add_argument("--dockscope", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "../target/release/dockscope"))
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args))
    if not args.out:
        ap.error("OUT is required")
    if args.template is None:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        args.template = os.path.join(repo, "sample-roots/full/root.tar.gz")
    if args.images < 1 or args.layers < 1:
        ap.error("--images and --layers must be positive")
    generate(args)


if __name__ == "__main__":
    main()
