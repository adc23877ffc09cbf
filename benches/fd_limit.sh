#!/usr/bin/env bash
# `du`, `check` and `orphans` at `ulimit -n 256` and at the hard limit, twice each, on a
# generated root with 5,000 layers (more overlay2 dirs than descriptors): every --json
# answer must be the same (timings aside), run after run.
#
#     bash benches/fd_limit.sh
#
# Environment (defaults): BENCH_ROOT=/tmp/bench-fd-root BENCH_LAYERS=5000 BENCH_LOW=256
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ROOT=${BENCH_ROOT:-/tmp/bench-fd-root}
LAYERS=${BENCH_LAYERS:-5000}
LOW=${BENCH_LOW:-256}
BIN=$REPO/target/release/dockscope
WORK=$(mktemp -d /tmp/bench-fd.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BENCH_NAME=fd_limit.sh
. "$HERE/lib.sh"

under_tmp BENCH_ROOT "$ROOT"

(cd "$REPO" && cargo build --release --quiet)
if [[ ! -d $ROOT ]]; then
    say "generating $ROOT ($LAYERS layers)"
    python3 "$HERE/gen_root.py" "$ROOT" --seed 3 --images $((LAYERS / 5)) --layers "$LAYERS" \
        --bases 20 --template "$REPO/sample-roots/full/root.tar.gz" >&2
fi
HARD=$(ulimit -Hn)
say "$(ls "$ROOT/overlay2" | wc -l) overlay2 entries; limits $LOW and $HARD"

strip() { python3 -c '
import json, sys
def s(v):
    if isinstance(v, dict): return {k: s(x) for k, x in v.items() if not k.endswith("_seconds")}
    if isinstance(v, list): return [s(x) for x in v]
    return v
print(json.dumps(s(json.load(open(sys.argv[1]))), sort_keys=True))' "$1"; }

fail=0
for cmd in du check orphans; do
    for run in 1 2; do
        for lim in "$LOW" "$HARD"; do
            code=0
            sh -c "ulimit -n $lim && exec \"\$0\" --root \"\$1\" $cmd --json" "$BIN" "$ROOT" \
                >"$WORK/$cmd-$lim-$run.json" 2>"$WORK/err" || code=$?
            strip "$WORK/$cmd-$lim-$run.json" >"$WORK/$cmd-$lim-$run.s"
            echo "$code" >"$WORK/$cmd-$lim-$run.code"
        done
    done
    ref=$WORK/$cmd-$HARD-1
    for f in "$WORK/$cmd"-*.s; do
        if ! cmp -s "$f" "$ref.s" || ! cmp -s "${f%.s}.code" "$ref.code"; then
            say "$cmd: $(basename "$f") differs from the run at the hard limit"
            fail=1
        fi
    done
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("problems", [])))' "$ref.json")
    say "$cmd: exit $(cat "$ref.code"), $n problems, same answer at ulimit -n $LOW and $HARD, twice each"
done
exit $fail
