#!/usr/bin/env bash
# Benchmark: `dockscope verify --deep` (every layer's tar rebuilt from tar-split and its
# files, CRC-64 per file, SHA-256 per layer) beside `cat FILES | sha256sum` over the
# same files, on a seeded root of a few GB.
#
#     bash benches/verify.sh
#
# Steps: install hyperfine and GNU time if missing (apt), build dockscope (release),
# generate the root with benches/gen_verify_root.py into /tmp (seeded; reused when the
# one there was made with the same parameters), check that every level verifies it
# clean and that --deep rebuilt every DiffID, list its layer files, warm the page
# cache, run ONE hyperfine session (metadata, --content, --deep, cat | sha256sum),
# measure --deep's peak RSS, then write the "Verify" section of BENCHMARKS.md (between
# <!-- verify:begin --> and <!-- verify:end -->; the rest of the file is kept).
#
# Target from the product owner: --deep time <= (cat FILES | sha256sum time) / cores.
#
# Environment (defaults): BENCH_VERIFY_ROOT=/tmp/bench-verify BENCH_SEED=1 BENCH_GIB=3
# BENCH_LAYERS=12 BENCH_RUNS=5 BENCH_MD=<repo>/BENCHMARKS.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROOT=${BENCH_VERIFY_ROOT:-/tmp/bench-verify}
SEED=${BENCH_SEED:-1}
GIB=${BENCH_GIB:-3}
LAYERS=${BENCH_LAYERS:-12}
RUNS=${BENCH_RUNS:-5}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-verify-work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

BENCH_NAME=verify.sh
. "$HERE/lib.sh"

under_tmp BENCH_VERIFY_ROOT "$ROOT"
if [[ $(id -u) != 0 ]]; then
    say "needs root (the generator makes whiteout devices and trusted.* xattrs)"
    exit 2
fi

need_tools hyperfine time

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

# ------------------------------------------------------------------- root ----
same_params() {
    [[ -d $ROOT && -f $ROOT.gen.json ]] || return 1
    python3 - "$ROOT.gen.json" "$SEED" "$GIB" "$LAYERS" "$HERE/gen_verify_root.py" <<'EOF'
import json, re, sys
g = json.load(open(sys.argv[1]))
p = g["params"]
ver = int(re.search(r"^GEN_VERSION = (\d+)", open(sys.argv[5]).read(), re.M).group(1))
ok = (p["seed"] == int(sys.argv[2]) and p["gib"] == float(sys.argv[3])
      and p["layers"] == int(sys.argv[4]) and g.get("gen_version") == ver)
sys.exit(0 if ok else 1)
EOF
}
if same_params; then
    say "reusing $ROOT (same parameters)"
else
    say "generating $ROOT: seed $SEED, $GIB GiB, $LAYERS layers"
    python3 "$HERE/gen_verify_root.py" "$ROOT" --seed "$SEED" --gib "$GIB" --layers "$LAYERS" \
        --force | tee "$WORK/gen.txt" >&2
fi

# ------------------------------------------------------------- the files ----
# Exactly the regular files of the layers' diff/ dirs: what --deep reads (a hard link's
# second name is listed too, and cat reads it twice; they are a few small files).
find "$ROOT"/overlay2/*/diff -type f -print0 >"$WORK/files"
NFILES=$(tr -cd '\0' <"$WORK/files" | wc -c)
FILE_BYTES=$(xargs -0 -a "$WORK/files" stat -c %s | python3 -c 'import sys; print(sum(map(int, sys.stdin)))')

say "warming the page cache ($NFILES files, $FILE_BYTES bytes)"
xargs -0 -a "$WORK/files" cat >/dev/null

say "checking: every level must verify the root clean"
for level in "" --content --deep; do
    if ! "$BIN" --root "$ROOT" verify $level --json >"$WORK/check$level.json"; then
        say "dockscope verify $level found something on the generated root:"
        head -c 2000 "$WORK/check$level.json" >&2
        exit 1
    fi
done
CHECK=$(python3 - "$WORK/check--deep.json" "$ROOT.gen.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
g = json.load(open(sys.argv[2]))
c = v["checked"]
assert v["ok"] and not v["findings"], v["findings"][:5]
assert c["diff_ids"] == len(g["layers"]) == c["layers"], (c, len(g["layers"]))
assert c["bytes"] == g["bytes"], (c["bytes"], g["bytes"])
print("check ok: %d layers, %d DiffIDs rebuilt and equal, %d tar entries, %d bytes read (= the generator's %d)"
      % (c["layers"], c["diff_ids"], c["files"], c["bytes"], g["bytes"]))
EOF
)
say "$CHECK"

# ------------------------------------------------------------- benchmark ----
CMD_META="$BIN --root $ROOT verify >/dev/null"
CMD_CONTENT="$BIN --root $ROOT verify --content >/dev/null"
CMD_DEEP="$BIN --root $ROOT verify --deep >/dev/null"
CMD_SHA="xargs -0 -a $WORK/files cat | sha256sum >/dev/null"

say "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
say "hyperfine"
hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$WORK/hyperfine.md" --export-json "$WORK/hyperfine.json" \
    "$CMD_META" "$CMD_CONTENT" "$CMD_DEEP" "$CMD_SHA" >&2

say "peak memory of --deep (/usr/bin/time -v)"
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" --root "$ROOT" verify --deep >/dev/null
RSS_DEEP=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
CPU_DEEP=$(awk -F': ' '/Percent of CPU this job got/ {print $2}' "$WORK/time.txt")

# ---------------------------------------------------------------- report ----
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
FS=$(df -T "$ROOT" | awk 'NR==2 {print $2}')
GIT_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
GIT_DIRTY=$(cd "$REPO" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
export MD WORK ROOT SEED GIB LAYERS RUNS CPU MEM FS GIT_REV GIT_DIRTY NFILES FILE_BYTES RSS_DEEP CPU_DEEP \
    CHECK CMD_META CMD_CONTENT CMD_DEEP CMD_SHA
export V_NPROC=$(nproc) V_KERNEL=$(uname -r) V_OS=$(. /etc/os-release && echo "$PRETTY_NAME")
export V_DOCKSCOPE=$("$BIN" --version) V_RUSTC=$(rustc --version) V_HYPERFINE=$(hyperfine --version)
export V_SHA=$(sha256sum --version | head -1) V_PYTHON=$(python3 --version)
python3 - <<'EOF'
import json, os, re, time
e = os.environ
hf = json.load(open(e["WORK"] + "/hyperfine.json"))["results"]
table = open(e["WORK"] + "/hyperfine.md").read().strip()
gen = json.load(open(e["ROOT"] + ".gen.json"))
meta, content, deep, sha = hf
cores = int(e["V_NPROC"])
target = sha["mean"] / cores
ratio = deep["mean"] / sha["mean"]
ok = deep["mean"] <= target
gib = int(e["FILE_BYTES"]) / (1 << 30)
section = f"""<!-- verify:begin -->
## Verify: `--deep` beside `cat | sha256sum`

Generated by `bash benches/verify.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand (the script replaces this section).

**Question:** how long does `dockscope verify --deep` take to rebuild every layer's tar
from its tar-split and files (CRC-64 of every file, SHA-256 of every layer tar,
compared with the DiffIDs), compared with merely hashing the same files once
(`cat FILES | sha256sum`)? Target from the product owner: `--deep` time
**≤ (cat | sha256sum time) / cores** ({cores} cores here).

**Machine:** {cores} CPUs ({e['CPU']}), {e['MEM']} RAM, kernel {e['V_KERNEL']}, {e['V_OS']}; root on {e['FS']}; page cache warm.

**Versions:** {e['V_DOCKSCOPE']} (git {e['GIT_REV']}, {e['GIT_DIRTY']} uncommitted paths under src/ and Cargo.*), {e['V_RUSTC']}, {e['V_HYPERFINE']}, {e['V_SHA']}, {e['V_PYTHON']}.

**Root:** `{e['ROOT']}` from `python3 benches/gen_verify_root.py {e['ROOT']} --seed {e['SEED']} --gib {e['GIB']} --layers {e['LAYERS']}`:
{len(gen['layers'])} layers in one chain, {gen['images']} images sharing them; {e['NFILES']} regular files, {gib:.2f} GiB
(large, medium and small files, symlinks, hard links, whiteouts, opaque dirs).
`{e['CHECK']}`

**Commands** (one hyperfine session, `hyperfine --warmup 1 --runs {e['RUNS']} …`; FILES = every regular file under `overlay2/*/diff`):

```
{e['CMD_META']}
{e['CMD_CONTENT']}
{e['CMD_DEEP']}
{e['CMD_SHA']}
```

{table}

| | time [s] | throughput |
|:---|---:|---:|
| `cat FILES \\| sha256sum` | {sha['mean']:.3f} ± {sha['stddev']:.3f} | {gib / sha['mean']:.2f} GiB/s |
| target: that / {cores} cores | {target:.3f} | {gib / target:.2f} GiB/s |
| `verify --deep` | {deep['mean']:.3f} ± {deep['stddev']:.3f} | {gib / deep['mean']:.2f} GiB/s |
| `verify --content` | {content['mean']:.3f} ± {content['stddev']:.3f} | {gib / content['mean']:.2f} GiB/s |
| `verify` (metadata) | {meta['mean']:.3f} ± {meta['stddev']:.3f} | |

Ratio `--deep` / `cat | sha256sum`: **{ratio:.3f}** (target ≤ 1/{cores} = {1 / cores:.3f}): target **{'met' if ok else 'missed'}**.
`--deep` peak RSS {int(e['RSS_DEEP']) / 1024:.1f} MiB (`/usr/bin/time -v`, CPU {e['CPU_DEEP']}): files are streamed through
two 1 MiB buffers per layer in flight, whatever their size.
<!-- verify:end -->"""
md = e["MD"]
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n\nEach section is written by the script it names; rerun the script to refresh it.\n"
pat = re.compile(r"<!-- verify:begin -->.*?<!-- verify:end -->", re.S)
if pat.search(text):
    text = pat.sub(lambda m: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(md, "w").write(text)
print("deep %.3fs, cat|sha256sum %.3fs, ratio %.3f, target %.3fs: %s"
      % (deep["mean"], sha["mean"], ratio, target, "met" if ok else "MISSED"))
EOF
say "wrote the verify section of $MD"
