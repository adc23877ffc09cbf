#!/usr/bin/env bash
# Benchmark: the file commands inside the layers beside the tools run on a plain tree.
#
#     bash benches/layers.sh
#
# * `dockscope find --setuid` across every layer dir of a root (1M files, 400 layer dirs)
#   against GNU `find ROOT/overlay2 -perm -4000` on the same tree. The root is
#   benches/gen_tree.py's seeded tree with --setuid 200 (200 layer files made setuid).
# * `dockscope ls -R IMAGE` of an image's merged view (6 layers of a generated root,
#   whiteouts and opaque dirs applied) against GNU `ls -RA` of the same view
#   materialised with `dockscope export IMAGE` and `tar -x` (-A: dockscope lists
#   dot files too, so both print the same names).
# Both answers are checked equal before timing (the same setuid paths; the same
# directory/name pairs), then ONE hyperfine session runs all four, and the "layers"
# section of BENCHMARKS.md is written (between <!-- layers:begin --> and
# <!-- layers:end -->) with wall and CPU (user+sys) ratios and the load average.
#
# Environment (defaults): BENCH_SUID_TREE=/tmp/bench-tree-suid BENCH_LS_ROOT=/tmp/bench-layers-root
# BENCH_LS_MERGED=/tmp/bench-layers-merged BENCH_RUNS=10 BENCH_IDLE_WAIT=120
# BENCH_MD=<repo>/BENCHMARKS.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
TREE=${BENCH_SUID_TREE:-/tmp/bench-tree-suid}
LSROOT=${BENCH_LS_ROOT:-/tmp/bench-layers-root}
MERGED=${BENCH_LS_MERGED:-/tmp/bench-layers-merged}
RUNS=${BENCH_RUNS:-10}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-layers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BENCH_NAME=layers.sh
. "$HERE/lib.sh"
export LC_ALL=C

under_tmp "benchmark trees" "$TREE" "$LSROOT" "$MERGED"

need_tools hyperfine time

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

# params of a generated tree == the ones wanted?
same_params() { # FILE.gen.json key=value...
    python3 - "$@" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["params"]
sys.exit(0 if all(str(p.get(k)) == v for k, v in (a.split("=", 1) for a in sys.argv[2:])) else 1)
EOF
}
if [[ ! -d $TREE || ! -f $TREE.gen.json ]] || ! same_params "$TREE.gen.json" seed=1 files=1000000 setuid=200; then
    say "generating $TREE (1,000,000 files, seed 1, 200 setuid)"
    python3 "$HERE/gen_tree.py" "$TREE" --seed 1 --files 1000000 --setuid 200 --force
fi
if [[ ! -d $LSROOT || ! -f $LSROOT.gen.json ]] || ! same_params "$LSROOT.gen.json" seed=1 layers=6 small=25000; then
    say "generating $LSROOT (6 layers of 25,000 small files, seed 1)"
    rm -rf "$MERGED"
    python3 "$HERE/gen_verify_root.py" "$LSROOT" --seed 1 --gib 0.25 --layers 6 --small 25000 --big 1 --force
fi

# The image with the most layers.
IMAGE=$("$BIN" --root "$LSROOT" images --json | python3 -c '
import json, subprocess, sys
best = None
for im in json.load(sys.stdin)["images"]:
    n = len(json.loads(subprocess.run([sys.argv[1], "--root", sys.argv[2], "tree", im["id"], "--json"],
                                      capture_output=True, text=True).stdout)["layers"])
    if best is None or n > best[0]:
        best = (n, im["id"])
print(best[1])' "$BIN" "$LSROOT")
LAYERS=$("$BIN" --root "$LSROOT" tree "$IMAGE" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')
if [[ ! -d $MERGED || ! -f $MERGED.image || $(cat "$MERGED.image") != "$IMAGE" ]]; then
    say "materialising $IMAGE into $MERGED"
    rm -rf "$MERGED"
    mkdir -p "$MERGED"
    "$BIN" --root "$LSROOT" export "$IMAGE" -o "$WORK/image.tar" >/dev/null
    tar -xpf "$WORK/image.tar" -C "$MERGED" --numeric-owner
    rm -f "$WORK/image.tar"
    echo "$IMAGE" >"$MERGED.image"
fi

say "warming the cache and checking the answers"
find "$TREE" >/dev/null
find "$MERGED" >/dev/null
find "$LSROOT/overlay2" >/dev/null

# find: the same setuid paths
"$BIN" --root "$TREE" find --setuid --json | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hits"]:
    print(sys.argv[1] + "/" + h["source"]["dir"] + h["path"])' "$TREE" | sort >"$WORK/find-dockscope"
find "$TREE/overlay2" -perm -4000 | sort >"$WORK/find-gnu"
SUID=$(wc -l <"$WORK/find-gnu")
if ! cmp -s "$WORK/find-dockscope" "$WORK/find-gnu" || ((SUID == 0)); then
    say "MISMATCH (or nothing found): find --setuid against GNU find -perm -4000"
    diff "$WORK/find-dockscope" "$WORK/find-gnu" | head >&2 || true
    exit 1
fi
say "find: the same $SUID setuid files"

# ls -R: the same directory/name pairs
pairs() { # PREFIX-TO-STRIP < ls -R output > "dir/name" lines
    python3 -c '
import sys
strip = sys.argv[1]
d = None
for line in sys.stdin.read().split("\n"):
    if line.endswith(":") and (line.startswith("/") or line.startswith(strip)):
        d = line[:-1][len(strip):] if line.startswith(strip) else line[:-1]
        d = d.rstrip("/") or ""
        continue
    if line and d is not None:
        print(d + "/" + line)' "$1" | sort
}
"$BIN" --root "$LSROOT" ls -R "$IMAGE" | pairs "" >"$WORK/ls-dockscope"
(cd "$MERGED" && ls -RA .) | pairs "." >"$WORK/ls-gnu"
NAMES=$(wc -l <"$WORK/ls-gnu")
if ! cmp -s "$WORK/ls-dockscope" "$WORK/ls-gnu" || ((NAMES == 0)); then
    say "MISMATCH: dockscope ls -R against ls -RA of the materialised view"
    diff "$WORK/ls-dockscope" "$WORK/ls-gnu" | head >&2 || true
    exit 1
fi
say "ls -R: the same $NAMES names"

IDLE_WAITED=$(wait_idle 120)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "hyperfine (load average $LOAD_BEFORE)"
hyperfine --warmup 2 --runs "$RUNS" --export-markdown "$WORK/hf.md" --export-json "$WORK/hf.json" \
    -n "dockscope find --setuid" "$BIN --root $TREE find --setuid >/dev/null" \
    -n "find -perm -4000" "find $TREE/overlay2 -perm -4000 >/dev/null" \
    -n "dockscope ls -R" "$BIN --root $LSROOT ls -R $IMAGE >/dev/null" \
    -n "ls -RA" "cd $MERGED && ls -RA . >/dev/null" >&2
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

export MD WORK TREE LSROOT MERGED IMAGE LAYERS SUID NAMES IDLE_WAITED LOAD_BEFORE LOAD_AFTER RUNS
export V_NPROC=$(nproc) V_KERNEL=$(uname -r) V_DOCKSCOPE=$("$BIN" --version)
export V_FIND=$(find --version | head -1) V_LS=$(ls --version | head -1) V_HYPERFINE=$(hyperfine --version)
export V_CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
export GIT_REV=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo "?")
python3 - <<'EOF'
import json, os, re, time
e = os.environ
res = {r["command"]: r for r in json.load(open(e["WORK"] + "/hf.json"))["results"]}
def cpu(r):
    return r["user"] + r["system"]
def line(me, peer):
    a, b = res[me], res[peer]
    return (f"| `{me}` / `{peer}` | {a['mean']:.3f} / {b['mean']:.3f} | **{a['mean'] / b['mean']:.2f}** "
            f"| {a['median'] / b['median']:.2f} | {cpu(a):.3f} / {cpu(b):.3f} | **{cpu(a) / cpu(b):.2f}** | ≤ 1.0 |")
tree = json.load(open(e["TREE"] + ".gen.json"))
c = tree["counts"]
section = f"""<!-- layers:begin -->
## layers: find --setuid and ls -R beside GNU find and ls

Generated by `bash benches/layers.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (commit {e['GIT_REV']}); do not edit by hand.

**find:** `{e['TREE']}` from `python3 benches/gen_tree.py {e['TREE']} --seed 1 --files 1000000 --setuid 200`:
{c['files']} regular files, {c['dirs']} dirs, {c['symlinks']} symlinks, {c['whiteouts']} whiteouts over 400 layer dirs.
`dockscope find --setuid` walks every layer dir of the root (each hit with its layer);
GNU `find ROOT/overlay2 -perm -4000` walks the same files (and the layers' `work/` dirs and
`l/` links). Both printed the same {e['SUID']} paths before timing.

**ls -R:** image `{e['IMAGE'][:19]}` ({e['LAYERS']} layers) of `{e['LSROOT']}` from
`python3 benches/gen_verify_root.py {e['LSROOT']} --seed 1 --gib 0.25 --layers 6 --small 25000 --big 1`
(whiteouts and opaque dirs between the layers). `dockscope ls -R IMAGE` merges the layers
as overlayfs does; `ls -RA` lists the same view materialised in `{e['MERGED']}` with
`dockscope export` and `tar -x` (`-A`: dockscope lists dot files too). Both printed the same
{e['NAMES']} directory/name pairs before timing.

**Machine:** {e['V_NPROC']} CPUs ({e['V_CPU']}), kernel {e['V_KERNEL']}; page cache warm.
**Versions:** {e['V_DOCKSCOPE']}, {e['V_FIND']}, {e['V_LS']}, {e['V_HYPERFINE']}.
**Load average** (1/5/15 min): {e['LOAD_BEFORE']} before the session (waited {e['IDLE_WAITED']} over 5 s), {e['LOAD_AFTER']} after.
Other work shared the CPUs when the load is well above 0: wall times are inflated then, the
CPU-time ratio (user+sys, summed over threads) much less so.

{open(e['WORK'] + '/hf.md').read().strip()}

| dockscope / peer | mean [s] | wall ratio (mean) | wall ratio (median) | CPU [s] user+sys | CPU ratio | target |
|:---|---:|---:|---:|---:|---:|:---|
{line('dockscope find --setuid', 'find -perm -4000')}
{line('dockscope ls -R', 'ls -RA')}
<!-- layers:end -->"""
md = e["MD"]
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
if "<!-- layers:begin -->" in text:
    text = re.sub(r"<!-- layers:begin -->.*?<!-- layers:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(md, "w").write(text)
print(section)
EOF
