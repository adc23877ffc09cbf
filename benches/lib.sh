# Shared by the benchmark scripts (sourced, never run): messages, the /tmp guard, the
# tools they install, and waiting for idle CPUs. Set BENCH_NAME before sourcing.

say() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&2; }

# under_tmp WHAT PATH...: stop unless every PATH is below /tmp (they are created and
# removed there).
under_tmp() {
    local what=$1 p
    shift
    for p in "$@"; do
        case $p in
            /tmp/?*) ;;
            *) say "$what must be under /tmp: $p"; exit 2 ;;
        esac
    done
}

# need_tools TOOL...: install what is missing. Debian's hyperfine, GNU time and zstd
# (apt); the peers diskus, pdu and dua from crates.io (dua is left out if it does not
# build here).
need_tools() {
    local t apt=()
    for t in "$@"; do
        case $t in
            time) [[ -x /usr/bin/time ]] || apt+=(time) ;;
            hyperfine | zstd) command -v "$t" >/dev/null || apt+=("$t") ;;
        esac
    done
    if ((${#apt[@]})); then
        say "installing ${apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt[@]}" >/dev/null
    fi
    export PATH=$HOME/.cargo/bin:$PATH
    for t in "$@"; do
        case $t in
            diskus) command -v diskus >/dev/null || cargo install --quiet diskus ;;
            pdu) command -v pdu >/dev/null || cargo install --quiet parallel-disk-usage ;;
            dua) command -v dua >/dev/null || cargo install --quiet --locked dua-cli ||
                say "dua-cli did not build here: it is left out" ;;
        esac
    done
}

cpu_busy_pct() { # share of CPU time not idle over 5 s, in percent
    local a b
    a=($(head -1 /proc/stat)); sleep 5; b=($(head -1 /proc/stat))
    local tot=0 i
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    local idle=$(((b[4] - a[4]) + (b[5] - a[5])))
    echo $(((tot - idle) * 100 / (tot > 0 ? tot : 1)))
}

# wait_idle [MAX]: wait until the CPUs are less than BENCH_IDLE_PCT (10) % busy, at
# most BENCH_IDLE_WAIT (else MAX, else 300) seconds; prints how long and how busy.
wait_idle() {
    local limit=${BENCH_IDLE_PCT:-10} max=${BENCH_IDLE_WAIT:-${1:-300}} waited=0 busy
    while :; do
        busy=$(cpu_busy_pct)
        ((busy < limit)) && break
        if ((waited >= max)); then
            say "CPUs still ${busy}% busy after ${waited}s; measuring anyway"
            break
        fi
        ((waited == 0)) && say "other work keeps the CPUs ${busy}% busy; waiting for < ${limit}% (at most ${max}s)"
        sleep 10
        waited=$((waited + 15))
    done
    echo "$waited s, then ${busy}% busy"
}
