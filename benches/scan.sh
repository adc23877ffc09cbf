#!/usr/bin/env bash
# Benchmark: how fast dockscope reads a large root's metadata (`images -a --json`,
# `tree`) compared with merely reading every file of image/ (`find ... -exec cat`).
#
#     bash benches/scan.sh
#
# Steps: install hyperfine and GNU time if missing (apt), build dockscope (release),
# generate the synthetic root with benches/gen_root.py into /tmp (seeded; reused when
# the one there was made with the same parameters), check it with dockscope, warm the
# page cache, run ONE hyperfine session, measure each dockscope command's peak RSS
# with /usr/bin/time -v, then write the "Scan: images and tree" section of
# BENCHMARKS.md (between <!-- scan:begin --> and <!-- scan:end -->; the rest of the
# file is kept).
#
# Environment (defaults): BENCH_ROOT=/tmp/bench-root BENCH_SEED=1 BENCH_IMAGES=10000
# BENCH_LAYERS=50000 BENCH_TEMPLATE=<sample-roots/full/root.tar.gz, else vols.v2>
# BENCH_RSS_RUNS=3 BENCH_MD=<repo>/BENCHMARKS.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROOT=${BENCH_ROOT:-/tmp/bench-root}
SEED=${BENCH_SEED:-1}
IMAGES=${BENCH_IMAGES:-10000}
LAYERS=${BENCH_LAYERS:-50000}
RSS_RUNS=${BENCH_RSS_RUNS:-3}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-scan.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

BENCH_NAME=scan.sh
. "$HERE/lib.sh"

under_tmp BENCH_ROOT "$ROOT"

need_tools hyperfine time

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

# --------------------------------------------------------------- template ----
if [[ -n ${BENCH_TEMPLATE:-} ]]; then
    TEMPLATE=$BENCH_TEMPLATE
else
    TEMPLATE=
    for t in "$REPO"/sample-roots/full/root.tar.gz "$REPO"/sample-roots/*/root.tar.gz; do
        [[ -f $t ]] || continue
        tar tzf "$t" >"$WORK/list.txt" 2>/dev/null || continue
        if grep -q 'image/overlay2/imagedb/content/sha256/[0-9a-f]' "$WORK/list.txt"; then
            TEMPLATE=$t
            break
        fi
    done
    if [[ -z $TEMPLATE ]]; then
        TEMPLATE=/tmp/bench-template/docker
        if [[ ! -d $TEMPLATE ]]; then
            mkdir -p /tmp/bench-template
            tar xzf "$(dirname "$0")/../sample-roots/docker-explorer/vols.v2.tgz" -C /tmp/bench-template
        fi
    fi
fi

# ------------------------------------------------------------------- root ----
same_params() {
    [[ -d $ROOT && -f $ROOT.gen.json ]] || return 1
    python3 - "$ROOT.gen.json" "$SEED" "$IMAGES" "$LAYERS" "$TEMPLATE" "$HERE/gen_root.py" <<'EOF'
import json, os, re, sys
g = json.load(open(sys.argv[1]))
p = g["params"]
src = open(sys.argv[6]).read()
ver = int(re.search(r"^GEN_VERSION = (\d+)", src, re.M).group(1))
ok = (p["seed"] == int(sys.argv[2]) and p["images"] == int(sys.argv[3]) and p["layers"] == int(sys.argv[4])
      and p["template"] == os.path.abspath(sys.argv[5]) and g.get("gen_version") == ver)
sys.exit(0 if ok else 1)
EOF
}
if same_params; then
    say "reusing $ROOT (same parameters)"
else
    say "generating $ROOT: seed $SEED, $IMAGES images, $LAYERS layers, template $TEMPLATE"
    python3 "$HERE/gen_root.py" "$ROOT" --seed "$SEED" --images "$IMAGES" --layers "$LAYERS" \
        --template "$TEMPLATE" --force | tee "$WORK/gen.txt" >&2
fi
say "checking the root with dockscope"
python3 "$HERE/gen_root.py" --check "$ROOT" --dockscope "$BIN" | tee "$WORK/check.txt" >&2

# ------------------------------------------------------------- benchmark ----
CMD_IMAGES="$BIN --root $ROOT images -a --json >/dev/null"
CMD_TREE="$BIN --root $ROOT tree >/dev/null"
CMD_FIND="find $ROOT/image -type f -exec cat {} + > /dev/null"

say "warming the page cache"
find "$ROOT" >/dev/null
find "$ROOT/image" -type f -exec cat {} + >/dev/null
sh -c "$CMD_IMAGES"
sh -c "$CMD_TREE"

# Other work on this machine (builds, tests) skews wall times: wait (bounded) until
# the CPUs are idle, and record the load around the measurement.
IDLE_WAITED=$(wait_idle 900)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "hyperfine (load average $LOAD_BEFORE)"
hyperfine --warmup 3 --export-markdown "$WORK/hyperfine.md" --export-json "$WORK/hyperfine.json" \
    "$CMD_IMAGES" "$CMD_TREE" "$CMD_FIND" >&2

say "peak memory (/usr/bin/time -v, $RSS_RUNS runs each, max kept)"
rss_kb() { # largest "Maximum resident set size" over RSS_RUNS runs of: dockscope ARGS
    local best=0 kb i
    for ((i = 0; i < RSS_RUNS; i++)); do
        /usr/bin/time -v -o "$WORK/time.txt" "$BIN" --root "$ROOT" "$@" >/dev/null
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
        if ((kb > best)); then best=$kb; fi
    done
    echo "$best"
}
RSS_IMAGES=$(rss_kb images -a --json)
RSS_TREE=$(rss_kb tree)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report ----
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
FS=$(df -T "$ROOT" | awk 'NR==2 {print $2}')
GIT_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
GIT_DIRTY=$(cd "$REPO" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
ROOT_DU=$(du -sh --apparent-size "$ROOT" | cut -f1)
ROOT_DU_DISK=$(du -sh "$ROOT" | cut -f1)
ROOT_FILES=$(find "$ROOT" | wc -l)
IMAGE_FILES=$(find "$ROOT/image" -type f | wc -l)
IMAGE_BYTES=$(find "$ROOT/image" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')

export MD WORK ROOT SEED IMAGES LAYERS TEMPLATE CPU MEM FS GIT_REV GIT_DIRTY ROOT_DU ROOT_DU_DISK \
    ROOT_FILES IMAGE_FILES IMAGE_BYTES RSS_IMAGES RSS_TREE CMD_IMAGES CMD_TREE CMD_FIND \
    IDLE_WAITED LOAD_BEFORE LOAD_AFTER
export V_NPROC=$(nproc) V_KERNEL=$(uname -r) V_OS=$(. /etc/os-release && echo "$PRETTY_NAME")
export V_DOCKSCOPE=$("$BIN" --version) V_RUSTC=$(rustc --version) V_HYPERFINE=$(hyperfine --version)
export V_FIND=$(find --version | head -1) V_PYTHON=$(python3 --version)
export V_TIME=$(dpkg-query -W -f='${Version}' time 2>/dev/null || echo '?')
python3 - <<'EOF'
import json, os, re, time
e = os.environ
hf = json.load(open(e["WORK"] + "/hyperfine.json"))["results"]
table = open(e["WORK"] + "/hyperfine.md").read().strip()
gen = json.load(open(e["ROOT"] + ".gen.json"))
c = gen["counts"]
base = hf[2]
rows = []
names = ["`images -a --json`", "`tree`"]
rss = [int(e["RSS_IMAGES"]), int(e["RSS_TREE"])]
ok_all = True
for name, r, kb in zip(names, hf[:2], rss):
    ratio = r["mean"] / base["mean"]
    ratio_med = r["median"] / base["median"]
    mb = kb / 1000
    ok_t, ok_m = ratio <= 1.0, mb < 200
    ok_all = ok_all and ok_t and ok_m
    cpu = (r["user"] + r["system"]) / (base["user"] + base["system"])
    rows.append("| %s | %.3f ± %.3f | %.3f | %.2f | %.2f | %.2f | %s | %.1f MB (%d KiB) | %s |"
                % (name, r["mean"], r["stddev"], r["median"], ratio, ratio_med, cpu,
                   "met" if ok_t else "**missed**", mb, kb, "met" if ok_m else "**missed**"))
check = open(e["WORK"] + "/check.txt").read().strip() if os.path.exists(e["WORK"] + "/check.txt") else ""
section = f"""<!-- scan:begin -->
## Scan: images and tree

Generated by `bash benches/scan.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand (the script replaces this section).

**Question:** how long do `dockscope images -a --json` and `dockscope tree` take on a large
root, compared with just reading every metadata file under `image/` (`find … -exec cat`),
and how much memory do they need? Target from the product owner: time ratio
dockscope / find-cat **≤ 1.0** and peak RSS **< 200 MB**.

**Machine:** {e['V_NPROC']} CPUs ({e['CPU']}), {e['MEM']} RAM, kernel {e['V_KERNEL']}, {e['V_OS']}; root on {e['FS']}; page cache warm.

**Versions:** {e['V_DOCKSCOPE']} (git {e['GIT_REV']}, {e['GIT_DIRTY']} uncommitted paths under src/ and Cargo.*), {e['V_RUSTC']}, {e['V_HYPERFINE']}, {e['V_FIND']}, GNU time {e['V_TIME']}, {e['V_PYTHON']}.

**Root:** `{e['ROOT']}` from `python3 benches/gen_root.py {e['ROOT']} --seed {e['SEED']} --images {e['IMAGES']} --layers {e['LAYERS']} --template {e['TEMPLATE']}`
(fingerprint `{gen['fingerprint'][:16]}`): {c['images']} images ({c['tagged']} tagged, {c['dangling']} dangling,
{c['intermediate']} intermediate), {c['layers']} layers (max depth {c['max_depth']}), {c['overlay2_dirs']} overlay2 dirs,
no containers; {e['ROOT_FILES']} paths, {e['ROOT_DU']} apparent / {e['ROOT_DU_DISK']} on disk; `image/` holds {e['IMAGE_FILES']} files of {int(e['IMAGE_BYTES'])/1e6:.1f} MB in all (what find-cat reads).
`{check}`

**Commands** (one hyperfine session, `hyperfine --warmup 3 --export-markdown …`):

```
{e['CMD_IMAGES']}
{e['CMD_TREE']}
{e['CMD_FIND']}
```

Peak memory: `/usr/bin/time -v dockscope --root {e['ROOT']} images -a --json` and `… tree`, the largest
"Maximum resident set size" of {os.environ.get('BENCH_RSS_RUNS', '3')} runs each.

{table}

| dockscope command | mean [s] | median [s] | ratio to find-cat (mean) | ratio (median) | CPU-time ratio (user+sys) | time target ≤ 1.0 | peak RSS | memory target < 200 MB |
|:---|---:|---:|---:|---:|---:|:---|---:|:---|
{chr(10).join(rows)}

find-cat baseline: {base['mean']:.3f} ± {base['stddev']:.3f} s (median {base['median']:.3f} s). Targets {'all met' if ok_all else 'NOT all met'}.
Load average (1/5/15 min) {e['LOAD_BEFORE']} before the hyperfine session (waited {e['IDLE_WAITED']} over 5 s before starting), {e['LOAD_AFTER']} after the memory runs: a load well above 0 means other work shared the {e['V_NPROC']} CPUs and the wall times are inflated; the CPU-time ratio is less sensitive to that.
<!-- scan:end -->"""
md = e["MD"]
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n\nEach section is written by the script it names; rerun the script to refresh it.\n"
pat = re.compile(r"<!-- scan:begin -->.*?<!-- scan:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(md, "w").write(text)
print("\n".join(rows))
EOF
say "wrote the scan section of $MD"
