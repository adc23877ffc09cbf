#!/usr/bin/env bash
# Benchmark: `dockscope capture` of a root of about 1M files beside GNU tar writing the
# same root's metadata files to /dev/null, on the same warm tree.
#
#     bash benches/capture.sh
#
# Generates the seeded Docker-like tree (benches/gen_tree.py, shared with du.sh) into
# /tmp unless it is already there, captures it once and checks that `du` from the
# capture gives the live root's totals (speed must not hide a wrong answer), lists the
# files the capture kept whole (its metadata files), runs ONE hyperfine session, and
# writes the "capture" section of BENCHMARKS.md (between <!-- capture:begin --> and
# <!-- capture:end -->).
#
# Peers: `tar -cf /dev/null -T <metadata files>` (the issue's yardstick: GNU tar stats
# and lists just those files; it skips reading contents when the archive is /dev/null),
# `tar -cf - -T <metadata files> | zstd -1` (the same files really archived and
# compressed), `tar --xattrs -cf /dev/null .` (every entry's header, no contents), and
# GNU `du -s` and diskus (the floor: stating every entry once, writing nothing).
#
# Then the size target: a root of about 100 MB on disk (the same generator, --files
# 21000 --layers 20: layer files of their real sizes, hard links, sparse files) is
# captured and the archive's size written beside the root's.
#
# Environment (defaults): BENCH_TREE=/tmp/bench-tree BENCH_SEED=1 BENCH_FILES=1000000
# BENCH_RUNS=5 BENCH_SMALL=/tmp/bench-root-100m BENCH_MD=<repo>/BENCHMARKS.md
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
TREE=${BENCH_TREE:-/tmp/bench-tree}
SEED=${BENCH_SEED:-1}
FILES=${BENCH_FILES:-1000000}
RUNS=${BENCH_RUNS:-5}
MD=${BENCH_MD:-$REPO/BENCHMARKS.md}
SMALL=${BENCH_SMALL:-/tmp/bench-root-100m}
SMALL_FILES=21000
SMALL_LAYERS=20
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-capture.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BENCH_NAME=capture.sh
. "$HERE/lib.sh"

under_tmp "BENCH_TREE and BENCH_SMALL" "$TREE" "$SMALL"

need_tools hyperfine zstd diskus

say "building dockscope (release)"
(cd "$REPO" && cargo build --release --quiet)

if [[ ! -d $TREE || ! -f $TREE.gen.json ]] ||
    ! python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["params"]; sys.exit(0 if (p["seed"],p["files"])==(int(sys.argv[2]),int(sys.argv[3])) else 1)' \
        "$TREE.gen.json" "$SEED" "$FILES"; then
    say "generating $TREE ($FILES files, seed $SEED)"
    rm -rf "$TREE"
    python3 "$HERE/gen_tree.py" "$TREE" --seed "$SEED" --files "$FILES"
fi

if [[ ! -d $SMALL || ! -f $SMALL.gen.json ]] ||
    ! python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["params"]; sys.exit(0 if (p["seed"],p["files"],p["layers"])==(int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4])) else 1)' \
        "$SMALL.gen.json" "$SEED" "$SMALL_FILES" "$SMALL_LAYERS"; then
    say "generating $SMALL ($SMALL_FILES files, $SMALL_LAYERS layers, seed $SEED)"
    rm -rf "$SMALL"
    python3 "$HERE/gen_tree.py" "$SMALL" --seed "$SEED" --files "$SMALL_FILES" --layers "$SMALL_LAYERS"
fi
say "the size target: capturing $SMALL"
"$BIN" --root "$SMALL" capture -o "$WORK/small.tar.zst" --json >"$WORK/small.json"
small_disk=$(du -s --block-size=1 "$SMALL" | cut -f1)
small_apparent=$(du -sb "$SMALL" | cut -f1)
small_entries=$(find "$SMALL" | wc -l)
small_capture=$(stat -c %s "$WORK/small.tar.zst")
say "$SMALL: $small_disk bytes on disk, $small_entries entries; capture $small_capture bytes"

say "warming the cache, capturing once, checking du from the capture against the root"
du -s "$TREE" >/dev/null
"$BIN" --root "$TREE" capture -o "$WORK/check.tar" --json >"$WORK/report.json"
"$BIN" --root "$TREE" du --json >"$WORK/du-root.json"
"$BIN" --root "$WORK/check.tar" du --json >"$WORK/du-capture.json"
python3 - "$WORK/du-root.json" "$WORK/du-capture.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for k in ("disk_bytes", "apparent_bytes", "size", "files", "dirs"):
    if a["total"][k] != b["total"][k]:
        sys.exit(f"MISMATCH total.{k}: root {a['total'][k]}, capture {b['total'][k]}")
if a["areas"] != b["areas"]:
    sys.exit("MISMATCH: areas differ")
PY
# The metadata files: regular files the capture kept whole.
python3 - "$WORK/check.tar" "$WORK/meta.list" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t, open(sys.argv[2], "w") as out:
    for m in t:
        if m.isfile() and "DOCKSCOPE.omitted" not in m.pax_headers and m.name.startswith("docker/"):
            out.write(m.name[len("docker/"):] + "\n")
PY
meta_files=$(wc -l <"$WORK/meta.list")
meta_bytes=$(cd "$TREE" && tr '\n' '\0' <"$WORK/meta.list" | du -cb --files0-from=- | tail -1 | cut -f1)
say "$meta_files metadata files ($meta_bytes bytes)"

say "hyperfine"
hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$WORK/hf.md" --export-json "$WORK/hf.json" \
    -n "dockscope capture (.tar.zst)" "$BIN --root $TREE capture -o $WORK/c.tar.zst --force >/dev/null" \
    -n "tar -cf /dev/null (metadata files)" "tar -C $TREE -cf /dev/null -T $WORK/meta.list" \
    -n "tar -c (metadata files), zstd -1" "tar -C $TREE -cf - -T $WORK/meta.list | zstd -1 -q >/dev/null" \
    -n "tar --xattrs -cf /dev/null (every entry)" "tar -C $TREE --xattrs -cf /dev/null ." \
    -n "du -s (stats every entry, writes nothing)" "du -s $TREE >/dev/null" \
    -n "diskus (stats every entry, parallel)" "diskus $TREE >/dev/null" >&2

# CPU time (user + sys, best of 3): on a shared machine wall time also counts the wait
# for a core, CPU time does not.
cpu() {
    local best=
    for _ in 1 2 3; do
        /usr/bin/time -o "$WORK/t" -f '%U %S' bash -c "$1" >/dev/null 2>&1
        local t
        t=$(awk '{print $1 + $2}' "$WORK/t")
        if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$t; fi
    done
    echo "$best"
}
cpu_capture=$(cpu "$BIN --root $TREE capture -o $WORK/c.tar.zst --force")
cpu_capture_tar=$(cpu "$BIN --root $TREE capture -o $WORK/c.tar --force")
cpu_meta=$(cpu "tar -C $TREE -cf /dev/null -T $WORK/meta.list")
cpu_all=$(cpu "tar -C $TREE --xattrs -cf /dev/null .")
say "CPU s: capture .tar.zst $cpu_capture, .tar $cpu_capture_tar, tar metadata $cpu_meta, tar every entry $cpu_all"

python3 - "$WORK/hf.json" "$WORK/hf.md" "$MD" "$TREE" "$WORK/report.json" "$meta_files" "$meta_bytes" "$WORK/c.tar.zst" "$BIN" "$SEED" "$FILES" "$cpu_capture" "$cpu_capture_tar" "$cpu_meta" "$cpu_all" \
    "$SMALL" "$SMALL_FILES" "$SMALL_LAYERS" "$small_disk" "$small_apparent" "$small_entries" "$small_capture" "$WORK/small.json" <<'PY'
import json, os, platform, re, subprocess, sys, time
hf, hfmd, md, tree, report, meta_files, meta_bytes, cap, binary, seed, nfiles = sys.argv[1:12]
cpu_capture, cpu_capture_tar, cpu_meta, cpu_all = (float(x) for x in sys.argv[12:16])
small, small_files, small_layers = sys.argv[16:19]
small_disk, small_apparent, small_entries, small_capture = (int(x) for x in sys.argv[19:23])
small_rep = json.load(open(sys.argv[23]))
res = {r["command"]: r for r in json.load(open(hf))["results"]}
me = res["dockscope capture (.tar.zst)"]["mean"]
rep = json.load(open(report))
c = rep["counts"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
def ver(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        return "?"
rows = [f"| {n} | {r['mean']:.3f} | {me / r['mean']:.2f} |" for n, r in res.items() if not n.startswith("dockscope")]
yard = res["tar -cf /dev/null (metadata files)"]["mean"]
floor = min(res["du -s (stats every entry, writes nothing)"]["mean"], res["diskus (stats every entry, parallel)"]["mean"])
section = f"""<!-- capture:begin -->
## capture: a generated root beside tar of its metadata files

Generated by `bash benches/capture.sh` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand.

**Tree:** `{tree}` from `python3 benches/gen_tree.py {tree} --seed {seed} --files {nfiles}`:
{c['entries']} entries ({c['dirs']} dirs, {c['files']} files, {c['symlinks']} symlinks, {c['hard_links']} hard links),
{rep['total_apparent_bytes'] / 1e9:.1f} GB apparent. The capture keeps {c['contents_kept']} files whole
({meta_files} metadata files, {int(meta_bytes) / 1e6:.1f} MB) and {c['contents_omitted']} without contents
({c['bytes_omitted'] / 1e9:.1f} GB left on the host); the `.tar.zst` is {os.path.getsize(cap) / 1e6:.1f} MB.
`du` from the capture was checked equal to `du` on the tree (totals and areas) before timing.

**Machine:** {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}; page cache warm.
**Versions:** {ver([binary, '--version'])}, {ver(['tar', '--version'])}, {ver(['zstd', '--version'])}, {ver(['hyperfine', '--version'])}.

The capture does more than the yardstick: it stats and writes every entry of the root
(headers with xattrs and the `DOCKSCOPE.*` records), reads and redacts the metadata
files, tallies the size walk's buckets for the manifest, and compresses with zstd
(libzstd level 1 on its own worker threads). Worker threads list, stat and serialize
whole directories ahead of the one writer, which keeps the archive's order.

{open(hfmd).read().strip()}

| peer | peer mean [s] | capture / peer |
|:---|---:|---:|
{chr(10).join(rows)}

Capture / `tar -cf /dev/null` of the metadata files: wall time **{me / yard:.2f}x**, CPU time
**{cpu_capture / max(cpu_meta, 1e-9):.2f}x** (target ≤ 1.5x). The yardstick stats and lists
{meta_files} files; the capture stats, reads the xattrs of and writes a header for each of
{c['entries']} entries, so the target is out of reach by construction: against GNU tar
writing every entry's header (`tar --xattrs -cf /dev/null .`, no compression, no contents)
the capture takes {me / res["tar --xattrs -cf /dev/null (every entry)"]["mean"]:.2f}x the wall time and
{cpu_capture / max(cpu_all, 1e-9):.2f}x the CPU time.

No capture can beat the floor of stating every entry once, which the yardstick does not
do: GNU `du -s` alone takes {res["du -s (stats every entry, writes nothing)"]["mean"] / yard:.2f}x the yardstick and diskus (the fastest
parallel stat walker here) {floor / yard:.2f}x, before a byte is written. The 1.5x target
would need a capture faster than merely stating the root's entries.

CPU time (user + sys, best of 3), which a busy machine does not inflate:

| run | CPU [s] | capture (.tar.zst) / it |
|:---|---:|---:|
| dockscope capture (.tar.zst) | {cpu_capture:.2f} | 1.00 |
| dockscope capture (.tar, no compression) | {cpu_capture_tar:.2f} | {cpu_capture / max(cpu_capture_tar, 1e-9):.2f} |
| tar -cf /dev/null (metadata files) | {cpu_meta:.2f} | {cpu_capture / max(cpu_meta, 1e-9):.2f} |
| tar --xattrs -cf /dev/null (every entry) | {cpu_all:.2f} | {cpu_capture / max(cpu_all, 1e-9):.2f} |

Load average while measuring: {open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPUs.

### Size: a root of about 100 MB

`python3 benches/gen_tree.py {small} --seed {seed} --files {small_files} --layers {small_layers}`:
{small_entries} entries, **{small_disk / 1e6:.1f} MB on disk** (`du -s`; {small_apparent / 1e9:.1f} GB apparent,
its sparse files counted at full size). Its capture (`.tar.zst`, default options) is
**{small_capture / 1e6:.2f} MB** (target < 3 MB), {small_capture / small_disk * 100:.1f}% of the disk bytes; it keeps
{small_rep['counts']['contents_kept']} files whole and {small_rep['counts']['contents_omitted']} without contents.
<!-- capture:end -->"""
text = open(md).read() if os.path.exists(md) else "# Benchmarks\n"
if "<!-- capture:begin -->" in text:
    text = re.sub(r"<!-- capture:begin -->.*?<!-- capture:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + section + "\n"
open(md, "w").write(text)
print(section)
PY
