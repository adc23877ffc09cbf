#!/usr/bin/env bash
# Benchmark: dockscope on Docker's containerd image store (both trees: docker/ and
# containerd/ side by side), on a large generated root.
#
#     bash benches/c8d.sh
#
# (a) `dockscope images -a --json` against `cat` of what it has to read at least:
#     meta.db, the overlayfs snapshotter's metadata.db and every index, manifest and
#     config blob (the list comes from the generator's OUT.gen.json);
#     targets: time ratio <= 1.0, peak RSS < 200 MB.
# (b) `dockscope du` against diskus and pdu on both trees, with ~1M files in the
#     snapshots; target: time ratio to diskus <= 0.85.
#
# Steps: install hyperfine and GNU time if missing (apt), diskus and pdu (cargo),
# build dockscope (release), generate the root with benches/gen_c8d_root.py into /tmp
# unless the one there has the same parameters, check dockscope's answers (every
# image's size, tags, dangling images; du's totals equal GNU du's on both trees: speed
# must not hide a wrong answer), warm the page cache, run ONE hyperfine session,
# measure peak RSS with /usr/bin/time -v, and write the "c8d" section of
# BENCHMARKS.md (between <!-- c8d:begin --> and <!-- c8d:end -->).
#
# Environment (defaults): BENCH_ROOT=/tmp/bench-c8d BENCH_SEED=1 BENCH_IMAGES=10000
# BENCH_LAYERS=20000 BENCH_FILES=1000000 BENCH_RUNS=10 BENCH_RSS_RUNS=3
# BENCH_IDLE_PCT=10 BENCH_IDLE_WAIT=300 BENCH_MD=<repo>/BENCHMARKS.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROOT=${BENCH_ROOT:-/tmp/bench-c8d}
SEED=${BENCH_SEED:-1}
IMAGES=${BENCH_IMAGES:-10000}
LAYERS=${BENCH_LAYERS:-20000}
FILES=${BENCH_FILES:-1000000}
RUNS=${BENCH_RUNS:-10}
RSS_RUNS=${BENCH_RSS_RUNS:-3}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-c8d-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BENCH_NAME=c8d.sh
. "$HERE/lib.sh"

under_tmp BENCH_ROOT "$ROOT"

need_tools hyperfine time diskus pdu

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

# ------------------------------------------------------------------- root ----
same_params() {
    [[ -d $ROOT && -f $ROOT.gen.json ]] || return 1
    python3 - "$ROOT.gen.json" "$HERE/gen_c8d_root.py" "$SEED" "$IMAGES" "$LAYERS" "$FILES" <<'EOF'
import json, re, sys
g = json.load(open(sys.argv[1]))
p = g["params"]
ver = int(re.search(r"^GEN_VERSION = (\d+)", open(sys.argv[2]).read(), re.M).group(1))
want = [int(x) for x in sys.argv[3:7]]
sys.exit(0 if [p["seed"], p["images"], p["layers"], p["files"]] == want and g.get("gen_version") == ver else 1)
EOF
}
if same_params; then
    say "reusing $ROOT (same parameters)"
else
    say "generating $ROOT: seed $SEED, $IMAGES images, $LAYERS layers, $FILES extra files"
    python3 "$HERE/gen_c8d_root.py" "$ROOT" --seed "$SEED" --images "$IMAGES" --layers "$LAYERS" \
        --files "$FILES" --force >&2
fi
GEN_LINE=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); print(" ".join("--%s %s" % (k, v) for k, v in sorted(g["params"].items()) if k != "template"))' "$ROOT.gen.json")

say "checking dockscope's answers"
python3 "$HERE/gen_c8d_root.py" --check "$ROOT" --dockscope "$BIN" | tee "$WORK/check.txt" >&2
"$BIN" --root "$ROOT/docker" du --json >"$WORK/du.json" || [[ $? -eq 1 ]]
want_disk=$(cd "$ROOT" && du -scB1 docker containerd | tail -1 | cut -f1)
want_apparent=$(cd "$ROOT" && du -scb docker containerd | tail -1 | cut -f1)
read -r got_disk got_apparent files dirs < <(python3 -c '
import json,sys
t=json.load(open(sys.argv[1]))["total"]
print(t["disk_bytes"], t["apparent_bytes"], t["files"], t["dirs"])' "$WORK/du.json")
if [[ $got_disk != "$want_disk" || $got_apparent != "$want_apparent" ]]; then
    say "MISMATCH: dockscope du disk=$got_disk apparent=$got_apparent, GNU du disk=$want_disk apparent=$want_apparent"
    exit 1
fi
DU_CHECK="du totals agree with GNU du on both trees: $got_disk bytes on disk, $got_apparent apparent, $files files, $dirs dirs"
say "$DU_CHECK"

# ------------------------------------------------------------- benchmark ----
python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["cat_files"]))' "$ROOT.gen.json" >"$WORK/cat.list"
CAT_FILES=$(wc -l <"$WORK/cat.list")
CAT_BYTES=$(cd "$ROOT" && xargs -a "$WORK/cat.list" stat -c %s | awk '{s += $1} END {print s + 0}')
cp "$WORK/cat.list" "$ROOT.cat.list"
CMD_IMAGES="$BIN --root $ROOT/docker images -a --json >/dev/null"
CMD_CAT="cd $ROOT && xargs -a $ROOT.cat.list cat >/dev/null"
CMD_DU="$BIN --root $ROOT/docker du --json >/dev/null"
CMD_DISKUS="diskus $ROOT/docker $ROOT/containerd >/dev/null"
CMD_PDU="pdu --max-depth=1 $ROOT/docker $ROOT/containerd >/dev/null"

say "warming the page cache"
find "$ROOT" >/dev/null
sh -c "$CMD_CAT"
sh -c "$CMD_IMAGES"
sh -c "$CMD_DU" || true

IDLE_WAITED=$(wait_idle)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "hyperfine (load average $LOAD_BEFORE)"
# dockscope exits 1 when it has findings: not a failure here.
hyperfine --warmup 2 --runs "$RUNS" -i --export-markdown "$WORK/hf.md" --export-json "$WORK/hf.json" \
    -n "dockscope images -a --json" "$CMD_IMAGES" \
    -n "cat meta.db, snapshotter db, manifests, configs" "$CMD_CAT" \
    -n "dockscope du --json" "$CMD_DU" \
    -n "diskus docker containerd" "$CMD_DISKUS" \
    -n "pdu docker containerd" "$CMD_PDU" >&2

say "peak memory (/usr/bin/time -v, $RSS_RUNS runs each, max kept)"
rss_kb() {
    local best=0 kb i
    for ((i = 0; i < RSS_RUNS; i++)); do
        /usr/bin/time -v -o "$WORK/time.txt" "$BIN" --root "$ROOT/docker" "$@" >/dev/null || true
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
        if ((kb > best)); then best=$kb; fi
    done
    echo "$best"
}
RSS_IMAGES=$(rss_kb images -a --json)
RSS_DU=$(rss_kb du --json)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report ----
export MD WORK ROOT GEN_LINE RSS_IMAGES RSS_DU IDLE_WAITED LOAD_BEFORE LOAD_AFTER CAT_FILES CAT_BYTES \
    DU_CHECK CMD_IMAGES CMD_CAT CMD_DU CMD_DISKUS CMD_PDU
export V_NPROC=$(nproc) V_KERNEL=$(uname -r) V_OS=$(. /etc/os-release && echo "$PRETTY_NAME")
export V_CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
export V_MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
export V_FS=$(df -T "$ROOT" | awk 'NR==2 {print $2}')
export V_DOCKSCOPE=$("$BIN" --version) V_HYPERFINE=$(hyperfine --version) V_RUSTC=$(rustc --version)
export V_DISKUS=$(diskus --version) V_PDU=$(pdu --version) V_PYTHON=$(python3 --version)
export GIT_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
export GIT_DIRTY=$(cd "$REPO" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
export ROOT_DISK=$(du -sh "$ROOT" | cut -f1) ROOT_APPARENT=$(du -sh --apparent-size "$ROOT" | cut -f1)
export META_SIZE=$(stat -c %s "$ROOT/containerd/io.containerd.metadata.v1.bolt/meta.db")
export SDB_SIZE=$(stat -c %s "$ROOT/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db")
python3 - <<'EOF'
import json, os, re, time
e = os.environ
res = {r["command"]: r for r in json.load(open(e["WORK"] + "/hf.json"))["results"]}
gen = json.load(open(e["ROOT"] + ".gen.json"))
c = gen["counts"]
img, cat = res["dockscope images -a --json"], res["cat meta.db, snapshotter db, manifests, configs"]
du, diskus, pdu = res["dockscope du --json"], res["diskus docker containerd"], res["pdu docker containerd"]
cpu = lambda r: r["user"] + r["system"]
rss_i, rss_d = int(e["RSS_IMAGES"]) / 1000, int(e["RSS_DU"]) / 1000
r_img, r_du = img["mean"] / cat["mean"], du["mean"] / diskus["mean"]
ok_img, ok_mem, ok_du = r_img <= 1.0, rss_i < 200, r_du <= 0.85
mark = lambda ok: "met" if ok else "**missed**"
rows = [
    "| `images -a --json` / cat | %.3f | %.3f | %.2f | %.2f | %.2f | ≤ 1.0: %s | %.1f MB | < 200 MB: %s |" % (
        img["mean"], cat["mean"], r_img, img["median"] / cat["median"], cpu(img) / cpu(cat), mark(ok_img),
        rss_i, mark(ok_mem)),
    "| `du --json` / diskus | %.3f | %.3f | %.2f | %.2f | %.2f | ≤ 0.85: %s | %.1f MB | |" % (
        du["mean"], diskus["mean"], r_du, du["median"] / diskus["median"], cpu(du) / cpu(diskus), mark(ok_du),
        rss_d),
    "| `du --json` / pdu | %.3f | %.3f | %.2f | %.2f | %.2f | | | |" % (
        du["mean"], pdu["mean"], du["mean"] / pdu["mean"], du["median"] / pdu["median"], cpu(du) / cpu(pdu)),
]
section = f"""<!-- c8d:begin -->
## containerd image store: images and du

Generated by `bash benches/c8d.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand (the script replaces this section).

**Question:** on Docker's containerd image store (images in containerd's root, containers and
volumes in Docker's), how does `dockscope images -a --json` compare with merely reading the
metadata it needs (`cat` of meta.db, the snapshotter's metadata.db and every index, manifest
and config blob), and `dockscope du` with diskus and pdu on both trees? Targets: images
≤ 1.0× cat and < 200 MB peak RSS; du ≤ 0.85× diskus.

**Machine:** {e['V_NPROC']} CPUs ({e['V_CPU']}), {e['V_MEM']} RAM, kernel {e['V_KERNEL']}, {e['V_OS']}; root on {e['V_FS']}; page cache warm.

**Versions:** {e['V_DOCKSCOPE']} (git {e['GIT_REV']}, {e['GIT_DIRTY']} uncommitted paths under src/ and Cargo.*), {e['V_RUSTC']}, {e['V_HYPERFINE']}, {e['V_DISKUS']}, {e['V_PDU']}, {e['V_PYTHON']}.

**Root:** `{e['ROOT']}` from `python3 benches/gen_c8d_root.py {e['ROOT']} {e['GEN_LINE']}`: {c['images']} images
({c['image_records']} image records in namespace moby, {c['tags']} tags, {c['dangling']} `moby-dangling@` records,
{c['indexes']} OCI indexes with one platform pulled), {c['layers']} layers (max {c['max_depth']} per image) as committed
snapshots, {c['containers']} containers (`-init` and RW snapshots), {c['blob_files']} blobs ({c['blob_bytes'] / 1e6:.0f} MB),
{c['backend_snapshots']} snapshot dirs holding {c['snapshot_files']} files and links (empty, small, sparse,
hard-linked); meta.db {int(e['META_SIZE']) / 1e6:.0f} MB ({c['meta_db_pages']} pages), snapshotter metadata.db
{int(e['SDB_SIZE']) / 1e6:.1f} MB; {e['ROOT_APPARENT']} apparent, {e['ROOT_DISK']} on disk. The cat baseline reads
{e['CAT_FILES']} files, {int(e['CAT_BYTES']) / 1e6:.0f} MB.

**Checked before timing:** `{open(e['WORK'] + '/check.txt').read().strip()}`; {e['DU_CHECK']}.

**Commands** (one hyperfine session, `hyperfine --warmup 2 --runs N -i`; dockscope exits 1 when it
has findings):

```
{e['CMD_IMAGES']}
{e['CMD_CAT']}
{e['CMD_DU']}
{e['CMD_DISKUS']}
{e['CMD_PDU']}
```

{open(e['WORK'] + '/hf.md').read().strip()}

| comparison | dockscope mean [s] | peer mean [s] | time ratio (mean) | ratio (median) | CPU-time ratio (user+sys) | time target | dockscope peak RSS | memory target |
|:---|---:|---:|---:|---:|---:|:---|---:|:---|
{chr(10).join(rows)}

Peak RSS: the largest "Maximum resident set size" of `/usr/bin/time -v` over {os.environ.get('BENCH_RSS_RUNS', '3')} runs.
Load average (1/5/15 min) {e['LOAD_BEFORE']} before the hyperfine session (waited {e['IDLE_WAITED']} over 5 s
before starting), {e['LOAD_AFTER']} after the memory runs: a load well above 0 means other work shared the
{e['V_NPROC']} CPUs and wall times are inflated; the CPU-time ratio is less sensitive to that.
<!-- c8d:end -->"""
md = e["MD"]
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
pat = re.compile(r"<!-- c8d:begin -->.*?<!-- c8d:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(md, "w").write(text)
print("\n".join(rows))
EOF
say "wrote the c8d section of $MD"
