#!/usr/bin/env python3
"""Generate a seeded overlay2 data root of a few GB for `dockscope verify --deep`.

    python3 benches/gen_verify_root.py /tmp/bench-verify --seed 1 --gib 3 --layers 12

Python 3 standard library only; the files depend only on the parameters.

One chain of --layers layers, with an image (and a tag) on every third layer, so the
layers are shared. Each layer holds directories, a few large files (hundreds of MiB),
medium files (MiBs), many small files (bytes to 64 KiB), symlinks, hard links, and
above the base a whiteout (character device 0/0) and an opaque directory
(trusted.overlay.opaque=y): what Docker's overlay2 driver leaves after extracting a
layer tar. The tar itself is never written: it is streamed through SHA-256 (the DiffID)
while its tar-split.json.gz is written, as tar-split records it (headers and padding as
type 2 segments, each file as a type 1 entry with its CRC-64/GO-ISO).

File contents come from a pool of random 1 MiB blocks and of small random tails, so
the CRC-64 of any file is folded from precomputed CRCs (zlib's crc32_combine method for
the 64-bit polynomial) instead of summed byte by byte in Python.

Needs root (whiteout devices, trusted.* xattrs). Writes only under /tmp; OUT.gen.json
next to the root records the parameters and what was written.
"""

import argparse
import base64
import gzip
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_root as gr  # noqa: E402  (helpers: go_json, link_id, hex64, crc64, Template)

GEN_VERSION = 1
BLOCK = 1 << 20
MTIME = 1700000000
POLY = 0xD800000000000000  # CRC-64/GO-ISO, reflected
MASK = gr.MASK64


# ---------------------------------------------------------------- CRC-64 --

def gf2_times(mat, vec):
    s = 0
    i = 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def gf2_square(mat):
    return [gf2_times(mat, mat[n]) for n in range(64)]


def zeros_operator(nbytes):
    """The operator that appends nbytes zero bytes to a (reflected) CRC register."""
    odd = [POLY] + [1 << (n - 1) for n in range(1, 64)]  # one zero bit
    even = gf2_square(odd)  # two
    odd = gf2_square(even)  # four
    result = None  # identity
    n = nbytes
    while n:
        even = gf2_square(odd)  # 8, 32, 128, ... bits
        if n & 1:
            result = even if result is None else [gf2_times(even, result[k]) for k in range(64)]
        n >>= 1
        if not n:
            break
        odd = gf2_square(even)
        if n & 1:
            result = odd if result is None else [gf2_times(odd, result[k]) for k in range(64)]
        n >>= 1
    return result


def crc_combine(crc1, crc2, len2, op=None):
    """CRC of A+B from CRC(A), CRC(B) and len(B) (the init/xorout of ~0 cancel out)."""
    if len2 == 0:
        return crc1
    if op is None:
        op = zeros_operator(len2)
    return gf2_times(op, crc1) ^ crc2


assert crc_combine(gr.crc64_go_iso(b"12345"), gr.crc64_go_iso(b"6789"), 4) == gr.crc64_go_iso(b"123456789")


# ------------------------------------------------------------------ tar --

def header(name, kind, size=0, mode=0o644, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.mtime = MTIME
    ti.mode = mode
    ti.linkname = linkname
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict")


class Layer:
    """Streams one layer: files to disk, the tar through SHA-256, tar-split lines to gzip."""

    def __init__(self, diff, ts_path, pool):
        self.diff = diff
        self.sha = hashlib.sha256()
        self.ts = gzip.open(ts_path, "wb", compresslevel=6)
        self.pos = 0
        self.pending = b""  # padding of the previous file: tar-split puts it in the next segment
        self.pool = pool
        self.size = 0  # Docker's directory.Size: regular files (each inode once) + symlinks
        self.files = 0
        self.bytes = 0

    def _line(self, obj):
        obj["position"] = self.pos
        self.pos += 1
        self.ts.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def _entry(self, name, kind, size=0, mode=0o644, linkname="", crc=None):
        seg = self.pending + header(name, kind, size, mode, linkname)
        self.sha.update(seg)
        self._line({"type": 2, "payload": base64.b64encode(seg).decode()})
        e = {"type": 1, "name": name}
        if size:
            e["size"] = size
        e["payload"] = base64.b64encode(crc.to_bytes(8, "big")).decode() if size else None
        self._line(e)
        self.pending = b"\0" * ((-size) % 512)

    def dir(self, name, mode=0o755):
        os.mkdir(os.path.join(self.diff, name))
        os.chmod(os.path.join(self.diff, name), mode)
        self._entry(name + "/", tarfile.DIRTYPE, mode=mode)

    def file(self, name, blocks, tail, mode=0o644):
        """A file of `blocks` pool blocks (indices) then one pool tail (index)."""
        path = os.path.join(self.diff, name)
        tail_bytes, tail_crc = self.pool.tails[tail]
        size = len(blocks) * BLOCK + len(tail_bytes)
        crc = None
        for b in blocks:
            bc = self.pool.block_crcs[b]
            crc = bc if crc is None else crc_combine(crc, bc, BLOCK, self.pool.block_op)
        crc = tail_crc if crc is None else crc_combine(crc, tail_crc, len(tail_bytes))
        self._entry(name, tarfile.REGTYPE, size, mode, crc=crc)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            for b in blocks:
                data = self.pool.blocks[b]
                os.write(fd, data)
                self.sha.update(data)
            if tail_bytes:
                os.write(fd, tail_bytes)
                self.sha.update(tail_bytes)
        finally:
            os.close(fd)
        os.chmod(path, mode)
        self.size += size
        self.files += 1
        self.bytes += size

    def symlink(self, name, target):
        os.symlink(target, os.path.join(self.diff, name))
        self._entry(name, tarfile.SYMTYPE, mode=0o777, linkname=target)
        self.size += len(target.encode())

    def hardlink(self, name, target):
        os.link(os.path.join(self.diff, target), os.path.join(self.diff, name))
        self._entry(name, tarfile.LNKTYPE, mode=0o644, linkname=target)

    def whiteout(self, dirname, name):
        p = os.path.join(self.diff, dirname, name)
        os.mknod(p, stat.S_IFCHR, os.makedev(0, 0))
        self._entry((dirname + "/" if dirname else "") + ".wh." + name, tarfile.REGTYPE, mode=0o644)

    def opaque(self, dirname):
        os.setxattr(os.path.join(self.diff, dirname), "trusted.overlay.opaque", b"y")
        self._entry(dirname + "/.wh..wh..opq", tarfile.REGTYPE, mode=0o644)

    def close(self):
        end = self.pending + b"\0" * 1024
        self.sha.update(end)
        self._line({"type": 2, "payload": base64.b64encode(end).decode()})
        self._line({"type": 2, "payload": ""})
        self.ts.close()
        return "sha256:" + self.sha.hexdigest()


class Pool:
    def __init__(self, rng, nblocks, ntails):
        t = time.time()
        self.blocks = [rng.randbytes(BLOCK) for _ in range(nblocks)]
        self.block_crcs = [gr.crc64_go_iso(b) for b in self.blocks]
        self.block_op = zeros_operator(BLOCK)
        self.tails = []
        for i in range(ntails):
            n = 0 if i == 0 else int(rng.paretovariate(1.2) * 600) % (64 << 10)
            data = rng.randbytes(n)
            self.tails.append((data, gr.crc64_go_iso(data)))
        print("gen_verify_root: content pool (%d MiB blocks, %d tails) in %.1fs"
              % (nblocks, ntails, time.time() - t), file=sys.stderr)


def fill_layer(L, rng, pool, k, budget, smalls, bigs, prev_dirs):
    """Write layer k's content; return its directories (the next layer deletes from one)."""
    top = "l%02d" % k
    L.dir(top)
    dirs = [top]
    for d in range(max(1, smalls // 200)):
        name = "%s/d%03d" % (top, d)
        L.dir(name)
        dirs.append(name)
        if d % 7 == 3:
            L.dir(name + "/deep")
            dirs.append(name + "/deep")
    # large files take the byte budget; medium files a little of it
    used = 0
    nb = max(1, bigs)
    for i in range(nb):
        share = (budget * 9 // 10) // nb
        blocks = [rng.randrange(len(pool.blocks)) for _ in range(max(1, share // BLOCK))]
        L.file("%s/big%02d.bin" % (top, i), blocks, rng.randrange(len(pool.tails)), 0o644)
        used += len(blocks) * BLOCK
    while used < budget:
        n = rng.randint(1, 8)
        blocks = [rng.randrange(len(pool.blocks)) for _ in range(n)]
        L.file("%s/med%04d.bin" % (top, len(dirs) + int(used // BLOCK)), blocks,
               rng.randrange(len(pool.tails)), 0o755 if n % 3 == 0 else 0o644)
        used += n * BLOCK
    names = []
    for i in range(smalls):
        d = dirs[i % len(dirs)]
        name = "%s/f%05d.txt" % (d, i)
        L.file(name, [], rng.randrange(len(pool.tails)), 0o644)
        names.append(name)
        if i % 97 == 5:
            L.symlink("%s/s%05d" % (d, i), "f%05d.txt" % i)
        if i % 211 == 7:
            L.hardlink("%s/h%05d" % (d, i), name)
    if prev_dirs:
        # delete a file of the layer below (a whiteout), and make a new dir opaque
        below = prev_dirs[1 % len(prev_dirs)]
        L.dir(below.split("/")[0])
        L.dir(below)
        L.whiteout(below, "f00001.txt")
        od = "l%02d-opaque" % k
        L.dir(od)
        L.opaque(od)
        L.file(od + "/kept.txt", [], rng.randrange(len(pool.tails)))
    return dirs


def under_tmp(path):
    real = os.path.realpath(path)
    return real.startswith("/tmp/") and real.rstrip("/") != "/tmp", real


def generate(args):
    ok, out = under_tmp(args.out)
    if not ok:
        sys.exit("gen_verify_root: refusing to write outside /tmp: %s" % args.out)
    for p in (out, out + ".partial"):
        if os.path.lexists(p):
            if not args.force and p == out:
                sys.exit("gen_verify_root: %s exists (use --force to replace it)" % out)
            subprocess.run(["rm", "-rf", "--one-file-system", "--", p], check=True)
    part = out + ".partial"
    t0 = time.time()
    rng = random.Random(args.seed)
    pool = Pool(rng, args.blocks, 256)
    tpl_id, tpl_cfg = gr.Template(args.template).config()
    os.umask(0o022)
    for d in ["image/overlay2/imagedb/content/sha256", "image/overlay2/imagedb/metadata/sha256",
              "image/overlay2/layerdb/sha256", "image/overlay2/layerdb/mounts",
              "image/overlay2/layerdb/tmp", "overlay2/l", "containers", "volumes", "tmp"]:
        os.makedirs(os.path.join(part, d), exist_ok=True)
    budget = int(args.gib * (1 << 30)) // args.layers
    layers = []
    prev_dirs = None
    for k in range(args.layers):
        cache = gr.hex64(rng)
        link = gr.link_id(rng)
        od = os.path.join(part, "overlay2", cache)
        os.makedirs(od + "/diff")
        os.chmod(od, 0o710)
        tmp_ts = os.path.join(part, "image/overlay2/layerdb/tmp", "ts-%d.gz" % k)
        L = Layer(od + "/diff", tmp_ts, pool)
        prev_dirs = fill_layer(L, rng, pool, k, budget, args.small, args.big, prev_dirs)
        diff = L.close()
        parent = layers[-1] if layers else None
        chain = diff if parent is None else "sha256:" + hashlib.sha256(
            (parent["chain"] + " " + diff).encode()).hexdigest()
        ldir = os.path.join(part, "image/overlay2/layerdb/sha256", chain[7:])
        os.mkdir(ldir, 0o700)
        gr.wfile(ldir + "/diff", diff.encode())
        gr.wfile(ldir + "/cache-id", cache.encode())
        gr.wfile(ldir + "/size", str(L.size).encode())
        if parent:
            gr.wfile(ldir + "/parent", parent["chain"].encode())
        os.rename(tmp_ts, ldir + "/tar-split.json.gz")
        gr.wfile(od + "/link", link.encode())
        if parent:
            lower = ["l/" + parent["link"]] + parent["lower"]
            gr.wfile(od + "/lower", ":".join(lower).encode())
            os.mkdir(od + "/work", 0o700)
            gr.wfile(os.path.join(part, "overlay2", parent["cache"], "committed"), b"", 0o600)
        else:
            lower = []
        os.symlink("../%s/diff" % cache, os.path.join(part, "overlay2/l", link))
        layers.append({"chain": chain, "diff": diff, "cache": cache, "link": link, "lower": lower,
                       "size": L.size, "files": L.files, "bytes": L.bytes})
        print("gen_verify_root: layer %d/%d %s %d files %.0f MiB (%.0fs)"
              % (k + 1, args.layers, chain[7:19], L.files, L.bytes / BLOCK, time.time() - t0),
              file=sys.stderr)
    os.rmdir(os.path.join(part, "image/overlay2/layerdb/tmp"))
    os.mkdir(os.path.join(part, "image/overlay2/layerdb/tmp"))
    # an image on every third layer (and on the top), each tagged
    repos = {}
    images = []
    tops = sorted(set(list(range(2, args.layers, 3)) + [args.layers - 1]))
    for n, top in enumerate(tops):
        cfg = json.loads(json.dumps(tpl_cfg))
        cfg["created"] = gr.rfc3339nano(MTIME + n, 0)
        cfg["history"] = [{"created": cfg["created"], "created_by": "layer %d" % i}
                          for i in range(top + 1)]
        cfg["rootfs"] = {"type": "layers", "diff_ids": [l["diff"] for l in layers[:top + 1]]}
        raw = gr.go_json(cfg)
        iid = hashlib.sha256(raw).hexdigest()
        gr.wfile(os.path.join(part, "image/overlay2/imagedb/content/sha256", iid), raw, 0o600)
        repos.setdefault("bench/verify", {})["bench/verify:%d" % n] = "sha256:" + iid
        images.append(iid)
    gr.wfile(os.path.join(part, "image/overlay2/repositories.json"), gr.go_json({"Repositories": repos}), 0o600)
    os.rename(part, out)
    summary = {
        "generator": "benches/gen_verify_root.py", "gen_version": GEN_VERSION,
        "params": {"seed": args.seed, "gib": args.gib, "layers": args.layers, "small": args.small,
                   "big": args.big, "blocks": args.blocks, "template": os.path.abspath(args.template),
                   "template_config": tpl_id},
        "images": len(images),
        "layers": [{k: l[k] for k in ("chain", "diff", "size", "files", "bytes")} for l in layers],
        "files": sum(l["files"] for l in layers),
        "bytes": sum(l["bytes"] for l in layers),
    }
    with open(out + ".gen.json", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print("gen_verify_root: %s: %d layers, %d images, %d regular files, %.2f GiB, in %.0fs"
          % (out, args.layers, len(images), summary["files"], summary["bytes"] / (1 << 30), time.time() - t0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="directory to create (must be under /tmp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gib", type=float, default=3.0, help="bytes of regular files, in GiB")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--small", type=int, default=2000, help="small files per layer")
    ap.add_argument("--big", type=int, default=2, help="large files per layer")
    ap.add_argument("--blocks", type=int, default=16, help="random 1 MiB blocks in the content pool")
    ap.add_argument("--template", default=os.path.join(os.path.dirname(HERE), "sample-roots/full/root.tar.gz"),
                    help="captured root to take an image config from")
    ap.add_argument("--force", action="store_true", help="replace OUT if it exists")
    args = ap.parse_args()
    if args.layers < 1 or args.gib <= 0:
        ap.error("--layers and --gib must be positive")
    generate(args)


if __name__ == "__main__":
    main()
