#!/usr/bin/env python3
"""Generate a large Docker-like directory tree for disk-usage benchmarks.

    python3 benches/gen_tree.py /tmp/bench-tree --seed 1               # ~1,000,000 files
    python3 benches/gen_tree.py /tmp/bench-tree-small --files 20000    # quick try

Python 3 standard library only; the output depends only on --seed, --files and
--layers (contents, names, sizes, links; not inode times).

What it writes (all under OUT, which must be under /tmp):
* overlay2/<64 hex>/ x --layers (400): diff/ with a nested tree (depth up to 8) of
  real files, `link`, `lower` and `work/work` (mode 000) for non-base layers,
  overlay2/l/<26 chars> -> ../<id>/diff; about 97% of the files;
* image/overlay2/: imagedb configs and layerdb-like entries (small files);
* containers/<64 hex>/: config.v2.json, hostconfig.json, hosts, ... and
  <id>-json.log files (some of them several MB);
* volumes/<name>/_data/: small trees.
File sizes come from a seeded distribution: 4% empty, mostly a lognormal around
700 B (capped at 256 KiB), about 1 in 8000 between 1 and 8 MiB, 5% of the
container logs up to 6 MiB; for 1M files about 2.3 GB of data (under 3 GB). Also, per 1M files:
* ~10,000 hard links (half to a file of the same layer, half across layers);
* ~20,000 symlinks: relative, dangling, and absolute ones such as /etc/passwd,
  /proc/self/root, / and .. that a disk-usage tool must never follow;
* ~40 sparse files: os.truncate to 1-16 GiB with a few KiB of data written;
* as root: overlay whiteouts (0/0 char devices) and trusted.overlay.opaque dirs;
* with --setuid N (default 0: none, so the tree is as without the flag): N regular
  files of the layers' diff/ dirs made setuid (one in ten also setgid), picked by a
  generator seeded apart from the rest, after everything else is written.
OUT.gen.json records the counts and the expected totals (apparent size with each
inode once, bytes of data written).
"""

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import random
import stat
import subprocess
import sys
import time

GEN_VERSION = 1
POOL_SIZE = 1 << 24          # 16 MiB of seeded random bytes that file contents are cut from
SMALL_CAP = 256 << 10
TOP_DIRS = ["usr", "etc", "var", "opt", "srv", "app", "lib", "bin", "home", "root"]
ABS_TARGETS = ["/etc/passwd", "/etc/shadow", "/proc/self/root", "/", "/usr/bin/python3",
               "/var/lib/docker", "/dev/null", "/proc/1/cwd"]
REL_ODD = ["..", "../..", ".", "../../../../../../../..", "nonexistent/target"]

POOL = None


def make_pool(seed):
    global POOL
    r = random.Random(("pool", seed).__repr__())
    POOL = r.randbytes(POOL_SIZE)


def hex64(rng):
    return "%064x" % rng.getrandbits(256)


def link_id(rng):
    import base64
    return base64.b32encode(rng.getrandbits(128).to_bytes(16, "big")).decode()[:26]


def file_size(rng):
    r = rng.random()
    if r < 0.04:
        return 0
    if r < 0.04 + 0.000125:
        return rng.randint(1 << 20, 8 << 20)
    return min(SMALL_CAP, max(1, int(rng.lognormvariate(math.log(700), 1.2))))


def write_data(path, size, rng):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        left = size
        while left:
            n = min(left, POOL_SIZE // 2)
            off = rng.randrange(0, POOL_SIZE - n + 1)
            os.write(fd, POOL[off:off + n])
            left -= n
    finally:
        os.close(fd)


def sub_rng(seed, *key):
    return random.Random(hashlib.sha256(repr((seed,) + key).encode()).digest())


def build_tree(base, n_files, rng, stats, is_root, allow_special=True):
    """Create a nested tree with n_files entries under base (which exists).

    Returns a few regular files (paths) that cross-area hard links may use."""
    dirs = [(base, 0)]
    for t in rng.sample(TOP_DIRS, rng.randint(2, len(TOP_DIRS))):
        p = os.path.join(base, t)
        os.mkdir(p)
        dirs.append((p, 1))
        stats["dirs"] += 1
    regular = []
    n_dirs_target = max(1, n_files // 12)
    made = 0
    while made < n_files:
        # now and then a new directory, at most 8 deep
        if len(dirs) < n_dirs_target and rng.random() < 0.1:
            parent, depth = rng.choice(dirs)
            if depth < 8:
                p = os.path.join(parent, "d%x" % rng.getrandbits(24))
                if not os.path.lexists(p):
                    os.mkdir(p)
                    dirs.append((p, depth + 1))
                    stats["dirs"] += 1
                    if is_root and allow_special and rng.random() < 0.01:
                        try:
                            os.setxattr(p, "trusted.overlay.opaque", b"y")
                            stats["opaque_dirs"] += 1
                        except OSError:
                            pass
            continue
        parent, _ = rng.choice(dirs[1:] or dirs)
        name = "f%x" % rng.getrandbits(32)
        p = os.path.join(parent, name + rng.choice([".txt", ".so", ".py", ".json", "", ".bin", ".conf"]))
        if os.path.lexists(p):
            continue
        r = rng.random()
        if allow_special and r < 0.02:
            rr = rng.random()
            if rr < 0.3:
                target = rng.choice(ABS_TARGETS)
                stats["symlinks_absolute"] += 1
            elif rr < 0.4:
                target = rng.choice(REL_ODD)
            elif rr < 0.5 or not regular:
                target = "missing-%x" % rng.getrandbits(16)
            else:
                target = os.path.relpath(rng.choice(regular), parent)
            os.symlink(target, p)
            stats["symlinks"] += 1
            stats["apparent"] += len(target.encode())
        elif allow_special and r < 0.025 and regular:
            os.link(rng.choice(regular), p)
            stats["hardlinks"] += 1
        elif allow_special and is_root and r < 0.0265:
            try:
                os.mknod(p, stat.S_IFCHR | 0o000, os.makedev(0, 0))
                stats["whiteouts"] += 1
            except OSError:
                continue
        else:
            size = file_size(rng)
            write_data(p, size, rng)
            stats["files"] += 1
            stats["apparent"] += size
            stats["data"] += size
            if size >= 1 << 20:
                stats["big_files"] += 1
            if len(regular) < 64 or rng.random() < 0.01:
                regular.append(p)
        made += 1
    return regular


def new_stats():
    return {k: 0 for k in ("files", "dirs", "symlinks", "symlinks_absolute", "hardlinks",
                           "cross_hardlinks", "whiteouts", "opaque_dirs", "sparse",
                           "apparent", "data", "big_files")}


def add_stats(a, b):
    for k, v in b.items():
        a[k] += v


OUT = SEED = IS_ROOT = None


def init_worker(out, seed, is_root):
    global OUT, SEED, IS_ROOT
    OUT, SEED, IS_ROOT = out, seed, is_root
    make_pool(seed)
    os.umask(0o022)


def make_layer(task):
    """One overlay2 layer dir; runs in a worker, seeded by the layer index alone."""
    i, cache, link, lower, n_files = task
    rng = sub_rng(SEED, "layer", i)
    stats = new_stats()
    d = os.path.join(OUT, "overlay2", cache)
    os.mkdir(d, 0o710)
    os.mkdir(d + "/diff", 0o755)
    with open(d + "/link", "w") as f:
        f.write(link)
    if lower:
        with open(d + "/lower", "w") as f:
            f.write(lower)
        os.mkdir(d + "/work", 0o700)
        os.mkdir(d + "/work/work", 0o000)
    stats["dirs"] += 3 if lower else 2
    stats["files"] += 2 if lower else 1
    stats["apparent"] += len(link) + len(lower)
    stats["data"] += len(link) + len(lower)
    regular = build_tree(d + "/diff", n_files, rng, stats, IS_ROOT)
    return i, stats, regular[:16]


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


def mark_setuid(part, caches, n, seed):
    """chmod u+s (one in ten also g+s) n regular files of the layers, picked in a sorted
    walk by a generator of their own, so the rest of the tree does not depend on n."""
    rng = sub_rng(seed, "setuid")
    files = []
    for c in sorted(caches):
        base = os.path.join(part, "overlay2", c, "diff")
        for d, dirs, names in os.walk(base):
            dirs.sort()
            for name in sorted(names):
                p = os.path.join(d, name)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                    files.append(p)
    picked = rng.sample(files, min(n, len(files)))
    for k, p in enumerate(picked):
        os.chmod(p, 0o4755 | (0o2000 if k % 10 == 0 else 0))
    return len(picked)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=1_000_000, help="about how many entries (default 1,000,000)")
    ap.add_argument("--layers", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="replace OUT if it exists")
    ap.add_argument("--setuid", type=int, default=0, metavar="N",
                    help="make N layer files setuid (default 0; the rest of the tree is unchanged)")
    args = ap.parse_args()
    ok, out = under_tmp(args.out)
    if not ok:
        sys.exit("gen_tree: refusing to write outside /tmp: %s" % args.out)
    if os.path.lexists(out):
        if not args.force:
            sys.exit("gen_tree: %s exists (use --force to replace it)" % out)
        remove_tree(out)
    part = out + ".partial"
    if os.path.lexists(part):
        remove_tree(part)
    t0 = time.time()
    is_root = os.geteuid() == 0
    os.umask(0o022)
    rng = random.Random(args.seed)
    n_layers = max(1, args.layers)
    n_total = max(100, args.files)
    n_image = max(10, n_total // 100)
    n_ctr_files = max(10, n_total // 100)
    n_vol = max(10, n_total // 100)
    n_layer_files = n_total - n_image - n_ctr_files - n_vol
    for d in ["overlay2/l", "image/overlay2/imagedb/content/sha256", "image/overlay2/layerdb/sha256",
              "containers", "volumes"]:
        os.makedirs(os.path.join(part, d))

    # layers: a forest, file counts skewed (a few big layers, many small ones)
    weights = [rng.paretovariate(1.2) for _ in range(n_layers)]
    tw = sum(weights)
    counts = [max(1, int(n_layer_files * w / tw)) for w in weights]
    counts[0] += n_layer_files - sum(counts)
    if counts[0] < 1:
        counts[0] = 1
    caches = [hex64(rng) for _ in range(n_layers)]
    links = [link_id(rng) for _ in range(n_layers)]
    parents = [None if i < max(1, n_layers // 20) else rng.randrange(0, i) for i in range(n_layers)]
    tasks = []
    for i in range(n_layers):
        lower, p = [], parents[i]
        while p is not None and len(lower) < 120:
            lower.append("l/" + links[p])
            p = parents[p]
        tasks.append((i, caches[i], links[i], ":".join(lower), counts[i]))
    for i in range(n_layers):
        os.symlink("../%s/diff" % caches[i], os.path.join(part, "overlay2/l", links[i]))
    l_links_apparent = sum(len("../%s/diff" % c) for c in caches)
    # biggest layers first, so that the workers end together
    order = sorted(tasks, key=lambda t: -t[4])
    stats = new_stats()
    stats["symlinks"] += n_layers
    stats["apparent"] += l_links_apparent
    regular_by_layer = {}
    jobs = max(1, args.jobs)
    if jobs == 1:
        init_worker(part, args.seed, is_root)
        results = map(make_layer, order)
    else:
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=init_worker,
                                                        initargs=(part, args.seed, is_root))
        results = pool.imap_unordered(make_layer, order, chunksize=1)
    for i, st, regular in results:
        add_stats(stats, st)
        regular_by_layer[i] = regular
    if jobs != 1:
        pool.close()
        pool.join()
    make_pool(args.seed)

    # cross-layer hard links (same file system, different layer dirs)
    n_cross = max(1, n_layer_files // 200)
    cand = [p for i in range(n_layers) for p in regular_by_layer.get(i, [])]
    made = 0
    while cand and made < n_cross:
        src = rng.choice(cand)
        i = rng.randrange(n_layers)
        dst = os.path.join(part, "overlay2", caches[i], "diff", "xlink-%x" % rng.getrandbits(40))
        if os.path.lexists(dst):
            continue
        os.link(src, dst)
        made += 1
    stats["hardlinks"] += made
    stats["cross_hardlinks"] = made

    # sparse files: big apparent size, a few KiB of data at random offsets
    n_sparse = max(2, n_total // 25000)
    for k in range(n_sparse):
        if k % 4 == 3:
            base = os.path.join(part, "volumes")
        else:
            base = os.path.join(part, "overlay2", caches[rng.randrange(n_layers)], "diff")
        p = os.path.join(base, "sparse-%d.img" % k)
        size = rng.randint(1, 16) << 30
        with open(p, "wb") as f:
            for _ in range(rng.randint(1, 4)):
                f.seek(rng.randrange(0, size - 4096))
                f.write(POOL[:4096])
                stats["data"] += 4096
            f.truncate(size)
        stats["sparse"] += 1
        stats["files"] += 1
        stats["apparent"] += size

    # image/: configs and layerdb-like entries (small files)
    imgdir = os.path.join(part, "image/overlay2")
    for k in range(n_image // 2):
        body = json.dumps({"created": "2024-01-01T00:00:%02dZ" % (k % 60), "n": k,
                           "history": ["x" * rng.randint(10, 300)]}).encode()
        with open(os.path.join(imgdir, "imagedb/content/sha256", hashlib.sha256(body).hexdigest()), "wb") as f:
            f.write(body)
        stats["files"] += 1
        stats["apparent"] += len(body)
        stats["data"] += len(body)
    for k in range(n_image - n_image // 2):
        d = os.path.join(imgdir, "layerdb/sha256", hex64(rng))
        os.mkdir(d, 0o700)
        stats["dirs"] += 1
        body = ("sha256:" + hex64(rng)).encode()
        with open(d + "/diff", "wb") as f:
            f.write(body)
        stats["files"] += 1
        stats["apparent"] += len(body)
        stats["data"] += len(body)

    # containers/: small config files and json logs, some of them MB-sized
    made = 0
    while made < n_ctr_files:
        cid = hex64(rng)
        d = os.path.join(part, "containers", cid)
        os.makedirs(d + "/mounts")
        stats["dirs"] += 2
        for name in ("config.v2.json", "hostconfig.json", "hostname", "hosts", "resolv.conf",
                     cid + "-json.log"):
            size = rng.randint(1, 6 << 20) if name.endswith(".log") and rng.random() < 0.05 else rng.randint(10, 4000)
            write_data(os.path.join(d, name), size, rng)
            stats["files"] += 1
            stats["apparent"] += size
            stats["data"] += size
            made += 1

    # volumes/: a few named volumes with small trees
    n_volumes = max(1, n_vol // 500)
    per = n_vol // n_volumes
    for k in range(n_volumes):
        d = os.path.join(part, "volumes", "vol%d" % k, "_data")
        os.makedirs(d)
        stats["dirs"] += 2
        build_tree(d, per, sub_rng(args.seed, "volume", k), stats, is_root, allow_special=True)

    if args.setuid > 0:
        stats["setuid"] = mark_setuid(part, caches, args.setuid, args.seed)
    os.rename(part, out)
    dt = time.time() - t0
    summary = {"generator": "benches/gen_tree.py", "gen_version": GEN_VERSION,
               "params": dict({"seed": args.seed, "files": args.files, "layers": args.layers},
                              **({"setuid": args.setuid} if args.setuid else {})),
               "counts": stats, "seconds": round(dt, 1),
               "note": "apparent = bytes of regular files (each inode once, sparse at full size) + "
                       "symlink target lengths; data = bytes actually written"}
    with open(out + ".gen.json", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    s = stats
    print("gen_tree: %s  seed=%d  %.1fs" % (out, args.seed, dt))
    print("  regular files %d (%d of 1 MiB or more, %d sparse), dirs %d, symlinks %d (%d absolute), "
          "hard links %d (%d across layers), whiteouts %d, opaque dirs %d"
          % (s["files"], s["big_files"], s["sparse"], s["dirs"], s["symlinks"], s["symlinks_absolute"],
             s["hardlinks"], s["cross_hardlinks"], s["whiteouts"], s["opaque_dirs"]))
    print("  data written %.2f GB, apparent size %.2f GB (each inode once)" % (s["data"] / 1e9, s["apparent"] / 1e9))


if __name__ == "__main__":
    main()
