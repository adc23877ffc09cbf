#!/usr/bin/env bash
# Benchmark: peak memory on the hostile inputs that once cost gigabytes, and the time of
# `verify --content` on a 20,000-deep directory chain in a container's RW layer beside
# `find` on that chain. Every input is rebuilt from the `full` sample root by
# tests/hostile/make.py, at the sizes the issue reported.
#
#     bash benches/hostile.sh
#
# Writes the "hostile" section of BENCHMARKS.md (between <!-- hostile:begin --> and
# <!-- hostile:end -->). Targets: peak RSS < 300 MB on every input; verify --content on
# the chain < 2x find.
#
# Environment (defaults): BENCH_WORK=/tmp/bench-hostile BENCH_DEPTH=20000 BENCH_RUNS=5
# BENCH_SANDBOX_RUNS=5 (runs of the sandboxed verify)
# BENCH_MD=<repo>/BENCHMARKS.md; BENCH_BASELINE=<an older dockscope binary> adds its
# numbers as "before" (run under a 4 GiB address-space cap and a 60 s timeout), named in the
# section by BENCH_BASELINE_NAME (default: its path).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/bench-hostile}
DEPTH=${BENCH_DEPTH:-20000}
RUNS=${BENCH_RUNS:-5}
SANDBOX_RUNS=${BENCH_SANDBOX_RUNS:-5}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
BASELINE=${BENCH_BASELINE:-}
BASELINE_NAME=${BENCH_BASELINE_NAME:-$BASELINE}
BIN=$REPO/target/release/dockscope
MAKE="python3 $REPO/tests/hostile/make.py"
SAMPLE=$REPO/sample-roots/full/root.tar.gz
BENCH_NAME=hostile.sh
. "$HERE/lib.sh"

under_tmp BENCH_WORK "$WORK"

need_tools hyperfine time

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

rm -rf "$WORK"
mkdir -p "$WORK"
unpack() { mkdir -p "$1" && tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$SAMPLE" -C "$1"; }

say "generating the hostile inputs in $WORK"
unpack "$WORK/bbolt"
$MAKE bbolt "$WORK/bbolt/volumes/metadata.db" "$WORK/hostile.db"
cp "$WORK/hostile.db" "$WORK/bbolt/volumes/metadata.db"
cp "$WORK/hostile.db" "$WORK/bbolt/buildkit/snapshots.db"
$MAKE archive pax-sparse "$SAMPLE" "$WORK/pax-sparse.tar.gz" --mb 4096 --gzip
$MAKE archive pax-header "$SAMPLE" "$WORK/pax-header.tar.gz" --mb 1024 --gzip
$MAKE archive hardlinks "$SAMPLE" "$WORK/hardlinks.tar.gz" --count 100 --gzip
$MAKE archive many-files "$SAMPLE" "$WORK/many-files.tar.gz" --count 70 --gzip
unpack "$WORK/deep"
rw=$($MAKE deep-chain "$WORK/deep" "$DEPTH")

# name | root | command | what it claims
cases=(
    "overlapping bbolt elements|$WORK/bbolt|volumes|65,535 elements over one 1.3 MB page run"
    "PAX sparse entry|$WORK/pax-sparse.tar.gz|check|4 GiB stored for a 4 KiB file"
    "PAX header|$WORK/pax-header.tar.gz|check|one 1 GiB PAX record"
    "hard links|$WORK/hardlinks.tar.gz|check|100 links to one 16 MiB body"
    "many 16 MiB files|$WORK/many-files.tar.gz|check|70 files of 16 MiB outside the layer dirs"
    "deep chain|$WORK/deep|verify --content|$DEPTH-deep directory chain in a RW layer"
)

peak() { # BIN ROOT CMD... -> "KiB exit seconds"
    local bin=$1 root=$2
    shift 2
    local out
    # exit 0/1/2 are answers; anything else (a kill, an abort) is reported as such
    out=$( (ulimit -v 4194304; /usr/bin/time -f '%M %x %e' timeout 60 "$bin" --root "$root" "$@" --json 2>&1 >/dev/null) | tail -1) || true
    echo "$out"
}

rows=()
worst=0
for c in "${cases[@]}"; do
    IFS='|' read -r name root cmd claim <<<"$c"
    read -r kib code secs < <(peak "$BIN" "$root" $cmd)
    ((kib > worst)) && worst=$kib
    before="–"
    if [[ -n $BASELINE ]]; then
        read -r bkib bcode bsecs < <(peak "$BASELINE" "$root" $cmd)
        if [[ $bcode == 0 || $bcode == 1 || $bcode == 2 ]]; then
            before="$((bkib / 1024)) MB, ${bsecs} s"
        else
            before="> 4 GiB or > 60 s (killed: exit $bcode, ${bsecs} s, $((bkib / 1024)) MB)"
        fi
    fi
    say "$name: $((kib / 1024)) MB, exit $code, $secs s (before: $before)"
    size=$(du -sh --apparent-size "$root" | cut -f1)
    rows+=("| $name | $claim | $size | \`$cmd\` | $((kib / 1024)) MB | $code | $secs | $before |")
done

say "hyperfine: verify --content vs find on the chain"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/hf.json" \
    -n "find" "find $WORK/deep/$rw >/dev/null" \
    -n "dockscope --no-sandbox verify --content" "$BIN --no-sandbox --root $WORK/deep verify --content --json >/dev/null || true" >&2
# Sandboxed (the default), fewer runs: each costs seconds of kernel time (see below).
hyperfine --runs "$SANDBOX_RUNS" --export-json "$WORK/hf-sandbox.json" \
    -n "dockscope verify --content" "$BIN --root $WORK/deep verify --content --json >/dev/null || true" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
sandbox=$("$BIN" --root "$WORK/deep" info --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["sandbox"]; print(s["state"], "ABI", s["abi"])')

out_bytes=$("$BIN" --root "$WORK/deep" verify --content --json | wc -c || true)

python3 - "$WORK/hf.json" "$WORK/hf-sandbox.json" "$MD" "$worst" "$DEPTH" "$out_bytes" \
    "$load_before" "$load_after" "$sandbox" "$BASELINE_NAME" "${rows[@]}" <<'PY2'
import json, os, platform, re, sys, time
hf, hfs, md, worst, depth, out_bytes, load_before, load_after, sandbox, baseline, *rows = sys.argv[1:]
res = {r["command"]: r for r in json.load(open(hf))["results"]}
res.update({r["command"]: r for r in json.load(open(hfs))["results"]})
find, free, boxed = (res[k] for k in ("find", "dockscope --no-sandbox verify --content", "dockscope verify --content"))
cpu_of = lambda r: r["user"] + r["system"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
section = f"""<!-- hostile:begin -->
## hostile inputs: peak memory and the deep chain

Generated by `bash benches/hostile.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand.
Each input is the `full` sample root broken on purpose by `tests/hostile/make.py` (the
tests run the same inputs, smaller). Peak RSS from `/usr/bin/time -f %M`, release build,
under a 4 GiB address-space cap, sandboxed as by default. **Machine:** {os.cpu_count()} CPUs ({cpu}),
kernel {platform.release()}, load average {load_before} before the timings, {load_after} after
(other builds ran beside: CPU time is the steadier measure).

| input | what it claims | size on disk | command | peak RSS | exit | seconds | before |
|:---|:---|---:|:---|---:|---:|---:|:---|
{chr(10).join(rows)}

{f"before: {baseline}, run the same way." if baseline else "(no baseline given: BENCH_BASELINE)"}

Worst peak RSS: {int(worst) / 1024:.0f} MB (target < 300 MB). The deep chain's drift
({int(out_bytes) / 1e6:.0f} MB of JSON) holds each name once in a tree and builds a path only
while writing it.

`verify --content` on the {int(depth):,}-deep chain (it also checks every other layer of the
root and lists the container's drift down to the depth bound), mean of the runs:

| run | wall s | CPU s (user + sys) | ratio to `find`, wall | ratio, CPU |
|:---|---:|---:|---:|---:|
| `find` on the chain | {find["mean"]:.3f} | {cpu_of(find):.3f} ({find["user"]:.3f} + {find["system"]:.3f}) | 1 | 1 |
| `verify --content --no-sandbox` | {free["mean"]:.3f} | {cpu_of(free):.3f} ({free["user"]:.3f} + {free["system"]:.3f}) | {free["mean"] / find["mean"]:.2f} | {cpu_of(free) / cpu_of(find):.2f} |
| `verify --content` (sandbox: {sandbox}) | {boxed["mean"]:.3f} | {cpu_of(boxed):.3f} ({boxed["user"]:.3f} + {boxed["system"]:.3f}) | {boxed["mean"] / find["mean"]:.2f} | {cpu_of(boxed) / cpu_of(find):.2f} |

Target < 2. dockscope opens, lists and closes each directory once, as `find` does, but
no deeper than 2,048 levels below the root (`MAX_DEPTH` in src/root/mod.rs: no path the
kernel accepts in one call goes deeper): the rest of the chain is one problem naming the
first directory not opened, and the drift lists the {2046:,} levels above it. The bound is
what keeps the sandboxed run linear: Landlock checks every open by walking from the
entry up to `/`, one step per level (it asks for the optional truncate right on every
open, so even a read-only open walks), and a directory chain of unbounded depth would
cost time quadratic in its depth. `find` runs without a sandbox and lists the whole chain.
<!-- hostile:end -->"""
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
if "<!-- hostile:begin -->" in text:
    text = re.sub(r"<!-- hostile:begin -->.*?<!-- hostile:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(md, "w").write(text)
print(section)
PY2
