#!/usr/bin/env bash
# Remake the sample Docker data roots in sample-roots/ from a real dockerd 20.10
# (Debian docker.io), overlay2 driver.  Run as root:
#
#     sudo bash sample-roots/make.sh            # all roots: full, empty, crashed
#     sudo bash sample-roots/make.sh crashed    # only one (full | empty | crashed)
#
# For each root <name> it
#   * starts a PRIVATE dockerd (own data root, socket, exec root, containerd,
#     cgroup parent) under /tmp/dockscope-capture/<name>,
#   * builds images / runs containers (full), does nothing (empty), or
#     (crashed) kills dockerd with SIGKILL during a layer extraction (docker
#     pull), restarts it, and kills it again during a layer removal (docker rmi),
#   * records the daemon's answers into sample-roots/<name>/daemon/,
#   * stops everything it started (by pid only), unmounts what is left mounted,
#   * archives the data root to sample-roots/<name>/root.tar.gz,
#   * removes its work directory.
# See sample-roots/README.md for what each root holds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CAPTURE_BASE=/tmp/dockscope-capture
DOCKER=/usr/bin/docker          # 20.10 CLI matching the 20.10 daemon (not /usr/local/bin/docker)
DOCKERD=/usr/sbin/dockerd
REGISTRY_BIN=/usr/bin/docker-registry
API=v1.41                       # Engine API version of dockerd 20.10
REGISTRY_ADDR=127.0.0.1:5000

ROOTS=("$@")
[[ ${#ROOTS[@]} -gt 0 ]] || ROOTS=(full empty crashed)
KNOWN_ROOTS="full, empty, crashed"

# Per-root state (set by setup_root)
NAME= W= OUT= CMDLOG= DOCKERD_PID= REGISTRY_PID=
HAD_RUN_DOCKER=1   # whether /run/docker existed before we started (set in main)

say() { printf '[make.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- setup ----
ensure_packages() {
    local missing=0
    [[ -x $DOCKER && -x $DOCKERD ]] || missing=1
    [[ -x $REGISTRY_BIN && -f /etc/docker/registry/config.yml ]] || missing=1
    dpkg -s busybox-static >/dev/null 2>&1 || missing=1
    command -v curl >/dev/null || missing=1
    command -v jq >/dev/null || missing=1
    if ((missing)); then
        say "installing packages"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io busybox-static docker-registry curl jq
    fi
    for c in ps mountpoint umount tar gzip sha256sum awk; do
        command -v "$c" >/dev/null || die "missing command $c"
    done
}

# Quote a command for the log.
q() { local out= a; for a in "$@"; do out+="$(printf '%q' "$a") "; done; printf '%s' "${out% }"; }

note() { printf '# %s\n' "$*" >>"$CMDLOG"; }

# dk [VAR=value ...] docker-args...   run /usr/bin/docker, logging the command.
dk() {
    local envs=()
    while [[ $# -gt 0 && $1 =~ ^[A-Z_]+= ]]; do envs+=("$1"); shift; done
    printf '%s\n' "${envs[*]:+${envs[*]} }docker $(q "$@")" >>"$CMDLOG"
    env ${envs[@]+"${envs[@]}"} "$DOCKER" "$@"
}

# api PATH OUTFILE   GET from the Engine API over the private socket, logged.
api() {
    printf 'curl -s --unix-socket $W/sock http://localhost/%s%s\n' "$API" "$1" >>"$CMDLOG"
    curl -sSf --unix-socket "$W/sock" "http://localhost/$API$1" >"$2"
}

# Processes whose command line mentions our work dir (dockerd, containerd,
# containerd-shim-runc-v2, docker-registry that we started).
pids_under_w() {
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "$BASHPID" ]] && continue
        cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        [[ $cmd == *"$W/"* ]] && printf '%s\n' "$p"
    done
    return 0
}

proc_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# wait_gone PID SECONDS
wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do proc_alive "$1" || return 0; sleep 0.1; done
    return 1
}

stop_pid() {   # stop_pid PID [signal]: TERM (or given), then KILL after 20 s
    local pid=$1 sig=${2:-TERM}
    proc_alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_gone "$pid" 20 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
}

cgroup_dirs() {  # our container cgroup parents, one per hierarchy
    local d
    for d in /sys/fs/cgroup/*/"dockscope-$NAME" /sys/fs/cgroup/"dockscope-$NAME"; do
        [[ -d $d ]] && printf '%s\n' "$d"
    done
    return 0
}

# Kill container processes, shims and containerd that we started; unmount
# everything under $W; remove our cgroups and the shims' sockets.
# With argument "log", what is done is also noted in commands.log.
kill_leftovers() {
    local p d f pids cg logit=${1:-}
    kl_note() { [[ $logit == log ]] && note "$*"; return 0; }
    # 1. container processes: thaw (paused ones) and SIGKILL everything in our cgroups
    for d in /sys/fs/cgroup/freezer/"dockscope-$NAME"/*/; do
        [[ -f ${d}freezer.state ]] || continue
        if [[ $(cat "${d}freezer.state" 2>/dev/null) != THAWED ]]; then
            kl_note "after dockerd exit: echo THAWED > ${d}freezer.state  (paused container)"
            echo THAWED >"${d}freezer.state" 2>/dev/null || true
        fi
    done
    local -A cpids=()
    for cg in $(cgroup_dirs); do
        for f in $(find "$cg" -name cgroup.procs 2>/dev/null); do
            for p in $(cat "$f" 2>/dev/null); do cpids[$p]=${f%/cgroup.procs}; done
        done
    done
    for p in "${!cpids[@]}"; do
        kl_note "after dockerd exit: kill -KILL $p  (container process '$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)', cgroup ${cpids[$p]#/sys/fs/cgroup/*/})"
        kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${!cpids[@]}"; do wait_gone "$p" 10 || true; done
    # 2. remaining processes started by us (shims, containerd, registry, dockerd)
    #    shims first, containerd and the rest afterwards
    local shims=() others=()
    for p in $(pids_under_w); do
        if grep -q containerd-shim "/proc/$p/cmdline" 2>/dev/null; then shims+=("$p"); else others+=("$p"); fi
    done
    for p in ${shims[@]+"${shims[@]}"}; do
        # remove the shim's socket (/run/containerd/s/<sha256(address/ns/id)>)
        local args addr= ns= id= prev=
        args=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null || true)
        while IFS= read -r a; do
            case $prev in -address) addr=$a ;; -namespace) ns=$a ;; -id) id=$a ;; esac
            prev=$a
        done <<<"$args"
        say "killing containerd-shim pid $p (container ${id:0:12})"
        kl_note "after dockerd exit: kill -KILL $p  (containerd-shim-runc-v2 of container $id)"
        stop_pid "$p" KILL
        if [[ -n $addr && -n $ns && -n $id ]]; then
            local h; h=$(printf '%s' "$addr/$ns/$id" | sha256sum | cut -d' ' -f1)
            rm -f "/run/containerd/s/$h"
        fi
    done
    for p in ${others[@]+"${others[@]}"}; do
        say "stopping pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
        kl_note "after dockerd exit: kill -TERM $p  ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100))"
        stop_pid "$p" TERM
    done
    rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    # 3. unmount everything under $W, deepest first, repeat for stacked mounts
    unmount_under_w "$logit" "after dockerd exit"
    # 4. our (now empty) container cgroups
    for cg in $(cgroup_dirs); do
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    return 0
}

# unmount_under_w [log] [PREFIX]: unmount everything under $W, deepest first,
# repeating for stacked mounts; with "log", each umount is noted as "PREFIX: umount ...".
unmount_under_w() {
    local logit=${1:-} prefix=${2:-after dockerd exit} round mps m
    for round in 1 2 3 4 5; do
        mps=$(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r -u)
        [[ -z $mps ]] && break
        while IFS= read -r m; do
            m=$(printf '%b' "${m//\\/\\0}")      # undo \040-style escapes
            [[ $logit == log ]] && note "$prefix: umount $m  ($(awk -v m="$m" '$5 == m { for (i = 7; $i != "-"; i++); print $(i+1); exit }' /proc/self/mountinfo))"
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done <<<"$mps"
    done
    return 0
}

remove_workdir() {
    [[ $W == "$CAPTURE_BASE"/* && -d $W ]] || return 0
    if awk -v w="$W/" 'index($5, w) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        say "WARNING: mounts remain under $W; not removing it"
        return 0
    fi
    rm -rf --one-file-system "$W"
}

on_exit() {
    local rc=$?
    if [[ -n $W && -d $W ]]; then
        if ((rc != 0)); then say "failed (rc=$rc); stopping what was started under $W"; fi
        kill_leftovers || true
        if ((rc != 0)); then say "work dir kept for inspection: $W (dockerd.log inside)"; fi
    fi
    rmdir "$CAPTURE_BASE" 2>/dev/null || true
    # dockerd 20.10 always creates /run/docker/plugins (outside --exec-root)
    ((HAD_RUN_DOCKER)) || rmdir /run/docker/plugins /run/docker 2>/dev/null || true
    exit "$rc"
}
trap on_exit EXIT

setup_root() {
    NAME=$1
    W=$CAPTURE_BASE/$NAME
    OUT=$HERE/$NAME
    [[ $W == /tmp/dockscope-capture/* ]] || die "bad work dir $W"
    if [[ -e $W ]]; then
        say "removing leftovers of an earlier run in $W"
        kill_leftovers
        remove_workdir
        [[ ! -e $W ]] || die "could not remove $W"
    fi
    mkdir -p "$W"/root "$W"/exec "$W"/ctx "$W"/cli-config
    rm -rf "$OUT/daemon" "$OUT/root.tar.gz" "$OUT/EXPECTED.md"
    mkdir -p "$OUT/daemon"
    CMDLOG=$OUT/daemon/commands.log
    {
        echo "# Commands run by sample-roots/make.sh to make the '$NAME' root, in order."
        echo "# W=$W   DOCKER_HOST=unix://\$W/sock   docker = $DOCKER ($(dpkg-query -W -f '${Version}' docker.io 2>/dev/null || echo '?'))"
        echo "# Paths below are literal; \$W was removed after the capture."
    } >"$CMDLOG"
    export DOCKER_HOST=unix://$W/sock
    export DOCKER_CONFIG=$W/cli-config   # keep ~/.docker out of it
}

start_daemon() {
    [[ -e /run/containerd/containerd.sock ]] &&
        die "a system containerd socket exists at /run/containerd/containerd.sock; dockerd 20.10 would use it instead of its own"
    # Own key.json (daemon ID) under $W instead of /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$W" >"$W/daemon.json"
    local args=(--config-file "$W/daemon.json" --data-root "$W/root" --host "unix://$W/sock"
        --pidfile "$W/pid" --exec-root "$W/exec" --storage-driver overlay2
        --iptables=false --bridge=none --live-restore --cgroup-parent "dockscope-$NAME")
    note "daemon: dockerd $(q "${args[@]}")   (daemon.json: $(cat "$W/daemon.json"))"
    say "starting dockerd for '$NAME'"
    "$DOCKERD" "${args[@]}" >>"$W/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    local i
    for ((i = 0; i < 600; i++)); do
        proc_alive "$DOCKERD_PID" || { tail -20 "$W/dockerd.log" >&2; die "dockerd exited"; }
        "$DOCKER" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$DOCKER" version >/dev/null || die "dockerd did not come up"
    say "dockerd pid $DOCKERD_PID up"
}

stop_daemon() {
    note "daemon: kill -TERM <dockerd pid>   (with --live-restore, running containers stay recorded as running)"
    say "stopping dockerd pid $DOCKERD_PID (SIGTERM)"
    kill -TERM "$DOCKERD_PID"
    wait_gone "$DOCKERD_PID" 60 || die "dockerd did not exit"
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=
}

start_registry() {
    mkdir -p "$W/registry/data"
    # Copy of the package config: storage under $W, listen on 127.0.0.1:5000,
    # no htpasswd auth (the package config points at a file that does not exist).
    awk -v root="$W/registry/data" -v addr="$REGISTRY_ADDR" '
        /^[^ ]/ { skip = ($0 ~ /^auth:/) }
        skip { next }
        /^ +rootdirectory:/ { sub(/rootdirectory:.*/, "rootdirectory: " root) }
        /^ +addr:/ { sub(/addr:.*/, "addr: " addr) }
        { print }' /etc/docker/registry/config.yml >"$W/registry/config.yml"
    if curl -s -o /dev/null "http://$REGISTRY_ADDR/v2/"; then die "something already listens on $REGISTRY_ADDR"; fi
    note "registry: docker-registry serve \$W/registry/config.yml (listening on $REGISTRY_ADDR)"
    "$REGISTRY_BIN" serve "$W/registry/config.yml" >"$W/registry.log" 2>&1 &
    REGISTRY_PID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        curl -sf "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && { say "registry pid $REGISTRY_PID up"; return 0; }
        proc_alive "$REGISTRY_PID" || break
        sleep 0.1
    done
    cat "$W/registry.log" >&2
    die "registry did not come up"
}

stop_registry() {
    [[ -n $REGISTRY_PID ]] || return 0
    note "registry: stopped"
    stop_pid "$REGISTRY_PID" TERM
    wait "$REGISTRY_PID" 2>/dev/null || true
    REGISTRY_PID=
}

# ------------------------------------------------------------ the images ---
make_base_rootfs() {   # busybox + applet symlinks
    local r=$1 a
    mkdir -p "$r"/bin "$r"/etc "$r"/tmp "$r"/root "$r"/usr/bin "$r"/var
    chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for a in sh ls cat echo sleep rm mkdir touch dd truncate ln chmod cp mv sed \
        head tail wc true false printf seq find stat du df id env test '[' sync \
        yes rmdir readlink sha256sum tr uname date hostname; do
        ln -s busybox "$r/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    printf 'dockscope sample base (busybox)\n' >"$r/etc/motd"
}

make_base2_rootfs() {  # no binaries at all: a few small files in another layout
    local r=$1
    mkdir -p "$r"/etc "$r"/usr/share/base2 "$r"/var/lib/base2 "$r"/opt
    printf 'NAME=base2\nVERSION=1\n' >"$r/etc/base2-release"
    for i in $(seq 1 40); do echo "base2 note line $i"; done >"$r/usr/share/base2/notes.txt"
    : >"$r/usr/share/base2/empty-file"
    ln "$r/usr/share/base2/notes.txt" "$r/usr/share/base2/notes-hardlink.txt"
    ln -s ../../etc/base2-release "$r/usr/share/base2/release-link"
}

# build TAG CONTEXTDIR BUILDKIT(0|1)   (Dockerfile in CONTEXTDIR)
build() {
    local tag=$1 ctx=$2 bk=$3
    note "Dockerfile for $tag ($ctx/Dockerfile):"
    sed 's/^/#     /' "$ctx/Dockerfile" >>"$CMDLOG"
    if ((bk)); then
        dk DOCKER_BUILDKIT=1 build --progress=plain --network=none -t "$tag" "$ctx"
    else
        dk DOCKER_BUILDKIT=0 build --network=none -t "$tag" "$ctx"
    fi
}

populate_full() {
    local c

    # --- two unrelated bases -------------------------------------------------
    make_base_rootfs "$W/ctx/base-rootfs"
    note "stdin of the next command: tar -C \$W/ctx/base-rootfs -c .   (busybox-static + applet symlinks)"
    tar -C "$W/ctx/base-rootfs" -c . |
        dk import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["sh"]' - base:1

    make_base2_rootfs "$W/ctx/base2-rootfs"
    tar -C "$W/ctx/base2-rootfs" -cf "$W/ctx/base2.tar" .
    note "\$W/ctx/base2.tar = tar -C \$W/ctx/base2-rootfs -cf - .  (no binaries; hard link + symlink)"
    dk import --message 'base2: imported from a tar file' --change 'ENV BASE2=1' \
        --change 'LABEL org.example.base=base2' "$W/ctx/base2.tar" base2:1

    # --- app:1, classic builder, 6 layers + empty-layer steps --------------
    c=$W/ctx/app; mkdir -p "$c/files"
    printf 'file a\n' >"$c/files/a.txt"
    printf 'file b\n' >"$c/files/b.txt"
    mkdir -p "$c/files/nested"; printf 'nested\n' >"$c/files/nested/n.txt"
    cat >"$c/Dockerfile" <<'EOF'
FROM base:1
ENV APP_MODE=demo
LABEL org.example.role=app org.example.builder=classic
RUN mkdir -p /data/sub /opt/keep && echo a > /data/sub/a && echo b > /data/sub/b && echo k1 > /opt/keep/k1 && echo k2 > /opt/keep/k2 && echo gone > /data/gone.txt && dd if=/dev/urandom of=/data/blob bs=1k count=16 2>/dev/null
RUN echo hello > /data/hello.txt && ln /data/hello.txt /data/hardlink.txt && ln -s hello.txt /data/symlink.txt
RUN rm /data/sub/a /data/gone.txt
RUN rm -rf /opt/keep && mkdir /opt/keep && touch /opt/keep/x
COPY files/ /srv/files/
WORKDIR /srv
CMD ["cat", "/data/hello.txt"]
EOF
    build app:1 "$c" 0
    dk tag app:1 app:latest

    # --- more images FROM base:1 sharing its layer -------------------------
    c=$W/ctx/tool; mkdir -p "$c"
    cat >"$c/Dockerfile" <<'EOF'
FROM base:1
RUN mkdir -p /usr/local/share && echo tool > /usr/local/share/tool.txt
CMD ["cat", "/usr/local/share/tool.txt"]
EOF
    build tool:1 "$c" 0

    c=$W/ctx/orphan; mkdir -p "$c"
    cat >"$c/Dockerfile" <<'EOF'
FROM base:1
RUN echo orphan > /orphan.txt
EOF
    build orphan:1 "$c" 0

    # dangling: the same tag built twice with different content
    c=$W/ctx/dangle; mkdir -p "$c"
    printf 'FROM base:1\nRUN echo v1 > /version.txt\n' >"$c/Dockerfile"
    build dangle:1 "$c" 0
    printf 'FROM base:1\nRUN echo v2 > /version.txt\n' >"$c/Dockerfile"
    build dangle:1 "$c" 0

    # --- an image on the second base (COPY only, nothing runs) -------------
    c=$W/ctx/base2-app; mkdir -p "$c"
    printf 'hello from base2-app\n' >"$c/hello.txt"
    cat >"$c/Dockerfile" <<'EOF'
FROM base2:1
LABEL org.example.role=base2-app
COPY hello.txt /srv/hello.txt
ENV GREETING=hi
EOF
    build base2-app:1 "$c" 0

    # --- BuildKit -----------------------------------------------------------
    c=$W/ctx/bk; mkdir -p "$c"
    printf 'copied by buildkit\n' >"$c/bkfile.txt"
    cat >"$c/Dockerfile" <<'EOF'
FROM base:1
ENV BUILT_WITH=buildkit
RUN mkdir -p /bk && echo buildkit > /bk/hello.txt && ln -s hello.txt /bk/link.txt
COPY bkfile.txt /bk/
RUN rm /etc/motd
WORKDIR /bk
CMD ["cat", "/bk/hello.txt"]
EOF
    build bk:1 "$c" 1

    # --- docker commit --------------------------------------------------------
    dk run --name c-commit-src --network none app:1 sh -c 'echo committed > /committed.txt && rm /data/sub/b'
    dk commit -a dockscope -m 'commit of c-commit-src' -c 'CMD ["cat", "/committed.txt"]' c-commit-src committed:1

    # --- registry round trips (digests) ---------------------------------------
    start_registry
    # app: tag, push, untag, pull back (same image, now with a name@sha256 ref)
    dk tag app:1 "$REGISTRY_ADDR/demo/app:1"
    dk push "$REGISTRY_ADDR/demo/app:1"
    dk rmi "$REGISTRY_ADDR/demo/app:1"
    dk pull "$REGISTRY_ADDR/demo/app:1"
    # tool: push, delete the image completely, pull back (a genuinely pulled
    # image: its own layer is downloaded again, no parent/lastUpdated metadata)
    dk tag tool:1 "$REGISTRY_ADDR/demo/tool:1"
    dk push "$REGISTRY_ADDR/demo/tool:1"
    dk rmi tool:1 "$REGISTRY_ADDR/demo/tool:1"
    dk pull "$REGISTRY_ADDR/demo/tool:1"
    stop_registry

    # --- containers (all --network none) ---------------------------------------
    dk create --name c-created --network none app:1 echo never-started
    dk create --name c-created-base2 --network none base2-app:1 /nonexistent
    dk run --name c-exit0 --network none app:1 sh -c 'echo ok; echo new > /data/new.txt'
    dk run --name c-exit3 --network none app:1 sh -c 'echo failing >&2; exit 3' || true
    dk run -d --name c-killed --network none app:1 sleep 1000000
    dk kill c-killed
    dk wait c-killed
    # sparse files and a deleted lower-layer file (whiteout) in the RW layer
    dk run --name c-sparse --network none app:1 sh -c \
        'truncate -s 10M /sparse && dd if=/dev/zero of=/sparse-dd bs=1k count=4 seek=2048 2>/dev/null && rm /data/sub/b /etc/motd && echo modified >> /srv/files/a.txt'
    # named volume, anonymous volume (over image content at /data), bind mount
    mkdir -p "$W/bind"
    dk volume create vol1
    dk run --name c-mounts --network none -v vol1:/named -v /data -v "$W/bind:/bind" app:1 sh -c \
        'echo named > /named/n.txt && dd if=/dev/zero of=/named/zeros bs=1k count=8 2>/dev/null && echo anon > /data/anon.txt && echo bind > /bind/b.txt'
    # rotated json-file logs
    dk run --name c-logs --network none --log-opt max-size=1k --log-opt max-file=3 app:1 sh -c \
        'i=0; while [ $i -lt 200 ]; do echo "log line $i: the quick brown fox jumps over the lazy dog"; i=$((i+1)); done' >/dev/null
    # container whose image is then force-removed
    dk run --name c-orphan --network none orphan:1 sh -c 'cat /orphan.txt > /seen.txt'
    dk rmi -f orphan:1
    # running and paused at capture time
    dk run -d --name c-running --network none app:1 sh -c 'echo running > /running.txt; exec sleep 1000000'
    dk run -d --name c-paused --network none app:1 sh -c 'echo paused > /paused.txt; exec sleep 1000000'
    sleep 1
    if ! dk pause c-paused; then
        note "docker pause failed in this sandbox; c-paused is left running"
        say "WARNING: docker pause failed"
    fi

    check_states
}

check_states() {
    local want=(c-created:created:0 c-created-base2:created:0 c-exit0:exited:0 c-exit3:exited:3
        c-killed:exited:137 c-sparse:exited:0 c-mounts:exited:0 c-logs:exited:0
        c-orphan:exited:0 c-commit-src:exited:0 c-running:running:0 c-paused:paused:0)
    local w n got bad=0
    for w in "${want[@]}"; do
        n=${w%%:*}
        got=$("$DOCKER" inspect -f '{{.State.Status}}:{{.State.ExitCode}}' "$n")
        if [[ $n:$got != "$w" ]]; then
            say "WARNING: $n is $got, expected ${w#*:}"
            [[ $n == c-paused ]] || bad=1   # pause may be unsupported in a sandbox
        fi
    done
    ((bad == 0)) || die "containers are not in the expected states"
    local nlogs
    nlogs=$(ls "$W/root/containers/$("$DOCKER" inspect -f '{{.Id}}' c-logs)"/ | grep -c -- '-json.log' || true)
    ((nlogs >= 2)) || say "WARNING: c-logs has only $nlogs log file(s), no rotation"
}

# ------------------------------------------------------ the crashed root ---
# Leftovers of interrupted work, made for real: dockerd (and the containerd it
# started) is killed with SIGKILL, by pid, while it extracts a pulled layer and
# while it removes a layer.
BIG_MIB=512          # big:1's top layer: one file of zeros (its pull is interrupted)
BIGRM_MIB=64         # bigrm:1's top layer (its rmi is interrupted)
CRASH_TRIES=5
CONTAINERD_PID=
CRASH_FACTS=         # $W/crash-facts.md: what was seen at the crashes (for EXPECTED.md)

# The containerd our dockerd started: its child whose comm is "containerd".
containerd_pid() {
    local p s comm rest
    for p in /proc/[0-9]*; do
        { read -r s <"$p/stat"; } 2>/dev/null || continue
        comm=${s#*(}; comm=${comm%%)*}
        [[ $comm == containerd ]] || continue
        rest=${s##*) }                      # "state ppid ..."
        rest=${rest#* }
        [[ ${rest%% *} == "$DOCKERD_PID" ]] && { printf '%s\n' "${p#/proc/}"; return 0; }
    done
    return 0
}

start_daemon_crashable() {
    start_daemon
    CONTAINERD_PID=$(containerd_pid)
    [[ -n $CONTAINERD_PID ]] || die "cannot find the containerd started by dockerd $DOCKERD_PID"
    say "its containerd: pid $CONTAINERD_PID"
}

# crash_daemon WHAT: SIGKILL our dockerd, then its containerd (pids known
# beforehand: nothing slow before the first kill), then unmount what they left.
crash_daemon() {
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
    note "CRASH during $1: kill -KILL $DOCKERD_PID (dockerd); kill -KILL $CONTAINERD_PID (its containerd)"
    say "killed dockerd $DOCKERD_PID and containerd $CONTAINERD_PID (SIGKILL) during $1"
    wait_gone "$DOCKERD_PID" 10 || die "dockerd survived SIGKILL"
    wait "$DOCKERD_PID" 2>/dev/null || true
    wait_gone "$CONTAINERD_PID" 10 || say "WARNING: containerd $CONTAINERD_PID still there"
    DOCKERD_PID= CONTAINERD_PID=
    local p
    for p in $(pids_under_w); do
        grep -q containerd-shim "/proc/$p/cmdline" 2>/dev/null && die "a shim survived the crash: $p"
    done
    # as after a reboot: nothing stays mounted (dockerd's bind mounts of the
    # data root and of overlay2/ onto themselves)
    unmount_under_w log "after the crash"
}

# orphan_dirs ROOT: overlay2/<id> dirs that no layerdb sha256/<chain>/cache-id,
# mounts/<ctr>/mount-id or init-id names ("-removing" dirs are not counted).
orphan_dirs() {
    local r=$1 f d
    local -A named=()
    for f in "$r"/image/overlay2/layerdb/sha256/*/cache-id "$r"/image/overlay2/layerdb/mounts/*/mount-id \
        "$r"/image/overlay2/layerdb/mounts/*/init-id; do
        [[ -f $f && $f != *-removing/* ]] || continue
        named[$(<"$f")]=1
    done
    for d in "$r"/overlay2/*/; do
        d=${d%/}; d=${d##*/}
        [[ -d $r/overlay2/$d && $d != l && -z ${named[$d]:-} ]] && printf '%s\n' "$d"
    done
    return 0
}

# Describe the interesting state of the data root $W/root into commands.log and CRASH_FACTS.
crash_state() {   # crash_state TITLE
    local r=$W/root out
    out=$(cd "$r" && {
        echo "tmp/:"; find tmp -mindepth 1 -printf '  %y %s %p\n' 2>/dev/null | sort -k3
        echo "image/overlay2/layerdb/tmp/:"; find image/overlay2/layerdb/tmp -mindepth 1 -printf '  %y %s %p\n' 2>/dev/null | sort -k3
        echo "image/overlay2/layerdb/sha256/*-removing:"; find image/overlay2/layerdb/sha256 -path '*-removing*' -printf '  %y %s %p\n' | sort -k3
        echo "overlay2/ dirs named by no layerdb cache-id/mount-id/init-id:"
        local o; for o in $(orphan_dirs "$r"); do
            echo "  $o: du -sb $(du -sb "overlay2/$o" | cut -f1), du -sB1 $(du -sB1 "overlay2/$o" | cut -f1)"
            find "overlay2/$o" -mindepth 1 -printf '    %y %s %p\n' | sort -k3
        done
    })
    note "$1:"
    sed 's/^/#   /' <<<"$out" >>"$CMDLOG"
    { echo "#### $1"; echo; echo '```'; echo "$out"; echo '```'; echo; } >>"$CRASH_FACTS"
}

populate_crashed() {
    local c
    CRASH_FACTS=$W/crash-facts.md; : >"$CRASH_FACTS"
    CONTAINERD_PID=$(containerd_pid)
    [[ -n $CONTAINERD_PID ]] || die "cannot find the containerd started by dockerd $DOCKERD_PID"

    # --- base:1 (as in full), a small image, two containers ----------------
    make_base_rootfs "$W/ctx/base-rootfs"
    note "stdin of the next command: tar -C \$W/ctx/base-rootfs -c .   (busybox-static + applet symlinks)"
    tar -C "$W/ctx/base-rootfs" -c . |
        dk import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["sh"]' - base:1
    c=$W/ctx/small; mkdir -p "$c"
    printf 'FROM base:1\nRUN echo small > /small.txt\nCMD ["cat", "/small.txt"]\n' >"$c/Dockerfile"
    build small:1 "$c" 0
    dk create --name c-created --network none small:1 echo never-started
    dk run --name c-exited --network none small:1 sh -c 'echo done > /done.txt'

    # --- big:1: a large layer of zeros (compresses ~1000:1), pushed, removed --
    c=$W/ctx/big; mkdir -p "$c"
    printf 'FROM base:1\nRUN mkdir /big && dd if=/dev/zero of=/big/zeros bs=1048576 count=%d 2>/dev/null\n' \
        "$BIG_MIB" >"$c/Dockerfile"
    build big:1 "$c" 0
    start_registry
    dk tag big:1 "$REGISTRY_ADDR/demo/big:1"
    dk push "$REGISTRY_ADDR/demo/big:1"
    dk rmi big:1 "$REGISTRY_ADDR/demo/big:1"

    crash_pull
    stop_registry

    note "operator restart after the crash: same data root, same options"
    start_daemon_crashable
    sleep 1
    crash_state "state seen by the restarted daemon (dockerd moved tmp/ to tmp-old/ and removed it)"
}

# Pull big:1 again and SIGKILL dockerd while the new layer's overlay2/<id>/diff
# grows and its layerdb/tmp/write-set-* exists.  Retried (daemon restarted on
# the same root) until an orphan overlay2 dir and a write-set are left.
crash_pull() {
    local img=$REGISTRY_ADDR/demo/big:1 L=$W/root/image/overlay2/layerdb
    local try i pullpid killed sz prev newdir n ng ws=() sets=()
    local -A before=()
    ng=$(shopt -p nullglob || true); shopt -s nullglob
    for ((try = 1; try <= CRASH_TRIES; try++)); do
        [[ -n $DOCKERD_PID ]] || { note "restart after an unsuccessful crash try"; start_daemon_crashable; }
        before=()
        for n in "$W"/root/overlay2/* "$L"/tmp/*; do before[$n]=1; done
        note "pull crash, try $try: pull in the background; SIGKILL dockerd as soon as a new overlay2/<id>/diff grows while a new layerdb/tmp/write-set-* exists"
        printf 'docker pull %s &\n' "$img" >>"$CMDLOG"
        "$DOCKER" pull "$img" >"$W/pull-$try.log" 2>&1 &
        pullpid=$!
        killed=0 prev=-1 newdir= sz=0
        for ((i = 0; i < 6000; i++)); do
            if [[ -z $newdir ]]; then
                for n in "$W"/root/overlay2/*/diff; do
                    n=${n%/diff}; [[ -z ${before[$n]:-} ]] && { newdir=${n##*/}; break; }
                done
            fi
            sets=()
            for n in "$L"/tmp/write-set-*; do [[ -z ${before[$n]:-} ]] && sets+=("${n##*/}"); done
            if [[ -n $newdir ]] && ((${#sets[@]})); then
                sz=$(du -sb "$W/root/overlay2/$newdir/diff" 2>/dev/null | cut -f1)
                if ((prev >= 0 && sz > prev)); then
                    crash_daemon "docker pull (layer extraction)"
                    killed=1
                    break
                fi
                prev=$sz
            fi
            proc_alive "$pullpid" || break
            sleep 0.02
        done
        wait "$pullpid" 2>/dev/null || true
        note "output of that docker pull:"
        sed 's/^/#   | /' "$W/pull-$try.log" >>"$CMDLOG"
        if ((killed)); then
            ws=("$L"/tmp/write-set-*)
            if ((${#ws[@]})) && orphan_dirs "$W/root" | grep -qx "$newdir"; then
                note "pull crash, try $try: done: overlay2/$newdir (diff was $sz bytes at the last look before the kill) is named by no layerdb cache-id; write-set(s): ${sets[*]}"
                printf '%s\n' "- pull crash: try $try of $CRASH_TRIES; the new layer dir \`overlay2/$newdir\`: \`du -sb diff\` = $sz at the last look before the kill; new write-set(s): \`${sets[*]}\`" >>"$CRASH_FACTS.head"
                crash_state "state right after the pull crash (before the restart)"
                eval "$ng"
                return 0
            fi
            say "pull crash try $try: leftovers not as wanted (newdir=$newdir write-sets=${#ws[@]}); retrying"
            note "pull crash, try $try: leftovers not as wanted; they stay, trying again"
        else
            say "pull crash try $try: the pull ended before the kill; removing the image and retrying"
            note "pull crash, try $try: the pull ended before a kill"
            proc_alive "$DOCKERD_PID" && { dk rmi "$img" || true; }
        fi
    done
    die "could not interrupt a pull in $CRASH_TRIES tries"
}

# After the recording: build bigrm:1 and SIGKILL dockerd during `docker rmi
# bigrm:1`, as soon as layerdb/sha256/<chain>-<random>-removing appears (the
# rename that precedes the removal of overlay2/<cache-id>).  The daemon is NOT
# restarted afterwards: a clean shutdown (layerStore.Cleanup) would delete the
# "-removing" dir and its overlay2 dir.
crash_rmi() {
    local L=$W/root/image/overlay2/layerdb c=$W/ctx/bigrm try rmipid ng r=() id cid
    ng=$(shopt -p nullglob || true); shopt -s nullglob
    mkdir -p "$c"
    printf 'FROM base:1\nRUN mkdir /bigrm && dd if=/dev/zero of=/bigrm/zeros bs=1048576 count=%d 2>/dev/null\n' \
        "$BIGRM_MIB" >"$c/Dockerfile"
    for ((try = 1; try <= CRASH_TRIES; try++)); do
        if [[ -z $DOCKERD_PID ]]; then
            note "rmi crash, try $try: start the daemon again on the same root"
            start_daemon_crashable
        fi
        build bigrm:1 "$c" 0
        id=$("$DOCKER" image inspect -f '{{.Id}}' bigrm:1)
        r=("$L"/sha256/*-removing)
        ((${#r[@]} == 0)) || die "a -removing dir exists before the rmi"
        note "rmi crash, try $try: rmi in the background; SIGKILL dockerd as soon as layerdb/sha256/*-removing appears"
        printf 'docker rmi bigrm:1 &\n' >>"$CMDLOG"
        "$DOCKER" rmi bigrm:1 >"$W/rmi-$try.log" 2>&1 &
        rmipid=$!
        # busy loop: builtins only (glob, kill -0), to kill within a few microseconds
        while :; do
            r=("$L"/sha256/*-removing)
            ((${#r[@]})) && break
            kill -0 "$rmipid" 2>/dev/null || break
        done
        if ((${#r[@]})); then crash_daemon "docker rmi (layer removal)"; fi
        wait "$rmipid" 2>/dev/null || true
        note "output of that docker rmi:"
        sed 's/^/#   | /' "$W/rmi-$try.log" >>"$CMDLOG"
        r=("$L"/sha256/*-removing)
        if ((${#r[@]})); then
            cid=$(cat "${r[0]}/cache-id" 2>/dev/null || true)
            note "rmi crash, try $try: done: ${r[*]##*/} left (cache-id $cid, image $id)"
            printf '%s\n' "- rmi crash: try $try of $CRASH_TRIES; image \`$id\` (bigrm:1); left \`${r[*]##*/}\` whose cache-id is \`$cid\`" >>"$CRASH_FACTS.head"
            crash_state "final state, right after the rmi crash (no restart after it)"
            eval "$ng"
            return 0
        fi
        say "rmi crash try $try: no -removing dir left; retrying"
        note "rmi crash, try $try: no -removing dir left"
    done
    eval "$ng"
    say "WARNING: could not interrupt an rmi in $CRASH_TRIES tries; no -removing dir"
    note "could not interrupt an rmi in $CRASH_TRIES tries: the root has no -removing dir"
    printf '%s\n' "- rmi crash: FAILED in $CRASH_TRIES tries; no \`-removing\` dir" >>"$CRASH_FACTS.head"
    if [[ -n $DOCKERD_PID ]]; then stop_daemon; fi
}

# ------------------------------------------------------------- record ------
record() {
    local D=$OUT/daemon ids=() cids=() id img
    mkdir -p "$D/history" "$D/api-history" "$D/diff"
    note "---- recording the daemon's answers ----"
    date -u +%Y-%m-%dT%H:%M:%S.%NZ >"$D/captured-at.txt"
    dk version --format '{{json .}}' >"$D/version.json"
    dk info --format '{{json .}}' >"$D/info.json"
    dk images -a --no-trunc --digests >"$D/images.txt"
    dk images --no-trunc --digests >"$D/images-default.txt"
    api '/images/json?all=1' "$D/api-images-all.json"
    api '/images/json' "$D/api-images.json"
    mapfile -t ids < <(dk images -aq --no-trunc | sort -u)
    if ((${#ids[@]})); then
        dk image inspect "${ids[@]}" >"$D/image-inspect.json"
    else
        note "no images: image-inspect.json written as [] by make.sh"
        echo '[]' >"$D/image-inspect.json"
    fi
    for id in ${ids[@]+"${ids[@]}"}; do
        dk history --no-trunc "$id" >"$D/history/${id#sha256:}.txt"
        api "/images/$id/history" "$D/api-history/${id#sha256:}.json"
    done
    dk ps -a --size --no-trunc >"$D/ps.txt"
    api '/containers/json?all=1&size=1' "$D/api-containers.json"
    mapfile -t cids < <(dk ps -aq --no-trunc)
    if ((${#cids[@]})); then
        dk container inspect "${cids[@]}" >"$D/container-inspect.json"
    else
        note "no containers: container-inspect.json written as [] by make.sh"
        echo '[]' >"$D/container-inspect.json"
    fi
    dk system df -v >"$D/system-df.txt"
    dk system df >"$D/system-df-summary.txt"
    api '/system/df' "$D/api-system-df.json"
    dk volume ls >"$D/volumes.txt"
    api '/volumes' "$D/api-volumes.json"
    for id in ${cids[@]+"${cids[@]}"}; do
        img=$(dk container inspect -f '{{.Image}}' "$id")
        if dk image inspect -f '{{.Id}}' "$img" >/dev/null 2>&1; then
            dk diff "$id" >"$D/diff/$id.txt"
        else
            note "skipped docker diff of $id: its image $img no longer exists"
        fi
    done
    rmdir "$D/history" "$D/api-history" "$D/diff" 2>/dev/null || true
}

# ------------------------------------------------------------- archive -----
archive() {
    local tgz=$OUT/root.tar.gz listing
    say "archiving $W/root"
    # --sparse keeps the holes of sparse files (GNU PAX sparse 1.0 entries)
    tar --format=posix --xattrs --xattrs-include='*' --numeric-owner --sparse \
        -C "$W/root" -czf "$tgz" .
    listing=$W/listing.txt
    tar --xattrs --xattrs-include='*' -tvvf "$tgz" >"$listing"
    if [[ $NAME == full ]]; then
        grep -qE '^c--------- +0/0 +0,0 ' "$listing" || die "no 0/0 whiteout device in $tgz"
        grep -q 'trusted.overlay.opaque' "$listing" || die "no trusted.overlay.opaque xattr in $tgz"
        grep -qE '^h' "$listing" || die "no hard link in $tgz"
        grep -qE '^l' "$listing" || die "no symlink in $tgz"
        # extract once and check the whiteouts, xattrs and sparse files survive
        mkdir "$W/verify"
        tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$tgz" -C "$W/verify"
        local wh sp
        wh=$(find "$W/verify/overlay2" -type c | head -1)
        [[ $(stat -c '%t,%T' "$wh") == 0,0 ]] || die "whiteout device not restored"
        sp=$(find "$W/verify/overlay2" -path '*/diff/sparse' -type f | head -1)
        if [[ -n $sp && $(stat -c %b "$sp") -gt 100 ]]; then
            say "WARNING: sparse file not restored sparse"
        fi
    fi
    if [[ $NAME == crashed ]]; then
        grep -q '/image/overlay2/layerdb/tmp/write-set-' "$listing" || die "no layerdb/tmp/write-set-* in $tgz"
        grep -q -- '-removing/' "$listing" || say "WARNING: no layerdb/sha256/*-removing in $tgz"
        (( $(stat -c %s "$tgz") < 1300000 )) || say "WARNING: $tgz is larger than ~1.3 MB"
    fi
    say "$NAME: $(du -h "$tgz" | cut -f1) $(basename "$tgz"): $(grep -c '' "$listing") entries"
    (( $(stat -c %s "$tgz") < 3500000 )) || say "WARNING: $tgz is larger than ~3 MB"
}

# ------------------------------------------------- crashed: EXPECTED.md ------
# verify_daemon ROOT: start a throwaway dockerd on ROOT (an extraction of the
# archive) and compare its API answers with the recorded ones (ignoring the
# relative "Status" texts).  Prints the result as markdown lines.
verify_daemon() {
    local V=$1 vs=$W/v pid i q a f D=$OUT/daemon ok=1
    # lists come in map order: sort them; drop the relative "Status" texts
    local norm='def s(k): if type == "array" then sort_by(k) else . end;
        walk(if type == "object" then del(.Status) else . end)
        | if type == "array" then s(.Id)
          else (.Images |= s(.Id)) | (.Containers |= s(.Id)) | (.Volumes |= s(.Name)) | (.BuildCache |= s(.ID)) end'
    mkdir -p "$vs/exec"
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$vs" >"$vs/daemon.json"
    "$DOCKERD" --config-file "$vs/daemon.json" --data-root "$V" --host "unix://$vs/sock" \
        --pidfile "$vs/pid" --exec-root "$vs/exec" --storage-driver overlay2 --iptables=false \
        --bridge=none --live-restore --cgroup-parent "dockscope-$NAME" >"$vs/dockerd.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 600; i++)); do
        proc_alive "$pid" || break
        DOCKER_HOST=unix://$vs/sock "$DOCKER" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ! DOCKER_HOST=unix://$vs/sock "$DOCKER" version >/dev/null 2>&1; then
        echo "- FAILED: a dockerd on the extraction did not come up"
        ok=0
    else
        for q in '/images/json?all=1 api-images-all.json' '/containers/json?all=1&size=1 api-containers.json' \
            '/system/df api-system-df.json'; do
            a=${q% *} f=${q#* }
            { curl -sSf --unix-socket "$vs/sock" "http://localhost/$API$a" |
                jq -S "$norm" >"$vs/got.json"; } || echo 'request failed' >"$vs/got.json"
            jq -S "$norm" "$D/$f" >"$vs/want.json"
            if cmp -s "$vs/got.json" "$vs/want.json"; then
                echo "- \`GET $a\`: same as \`daemon/$f\` (\"Status\" texts aside)"
            else
                echo "- \`GET $a\`: DIFFERS from \`daemon/$f\`:"
                echo '```'; { diff "$vs/want.json" "$vs/got.json" || true; } | head -40; echo '```'
                ok=0
            fi
        done
    fi
    stop_pid "$pid" TERM
    wait "$pid" 2>/dev/null || true
    ((ok)) || say "WARNING: the daemon on the extraction does not answer as recorded (see EXPECTED.md)"
    return 0
}

# List a directory tree relative to the extraction: type, mode, bytes, path.
tree_lines() {
    (cd "$1" && find "${@:2}" \( -type l -printf '%y %M %12s %p -> %l\n' \) -o -printf '%y %M %12s %p\n' 2>/dev/null |
        sort -k4) || true
}

expected_crashed() {
    local tgz=$OUT/root.tar.gz V=$W/verify e=$OUT/EXPECTED.md D=$OUT/daemon L o d cid lid how
    local -A rmcache=()
    rm -rf "$V"; mkdir -p "$V"
    tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$tgz" -C "$V"
    L=$V/image/overlay2/layerdb
    for d in "$L"/sha256/*-removing; do [[ -f $d/cache-id ]] && rmcache[$(<"$d/cache-id")]=${d##*/}; done
    {
        echo "# \`crashed/\`: the leftovers in \`root.tar.gz\`"
        echo
        echo "Generated by make.sh from an extraction of the archive (GNU tar, as in README.md"
        echo "\"Extracting a root\", on ext4); do not edit by hand. How the root was made: README.md,"
        echo "section \`crashed/\`; every command, with the state seen at each crash: \`daemon/commands.log\`."
        echo
        echo '```'
        (cd "$HERE" && sha256sum "$NAME/root.tar.gz")
        echo "$(stat -c %s "$tgz") bytes"
        echo '```'
        echo
        echo "## The crashes"
        echo
        cat "$CRASH_FACTS.head"
        echo
        echo "What was on the live root at each step (\`find -printf '%y %s %p'\`; the same is in \`daemon/commands.log\`):"
        echo
        cat "$CRASH_FACTS"
        echo "## overlay2 dirs named by no layerdb \`cache-id\`, \`mount-id\` or \`init-id\`"
        echo
        echo "(\`-removing\` dirs not counted as naming anything.)"
        echo
        echo "| overlay2 dir | du -sb | du -sB1 | \`link\` → \`l/\` symlink | left by |"
        echo "|---|---|---|---|---|"
        for o in $(orphan_dirs "$V"); do
            lid=$(cat "$V/overlay2/$o/link" 2>/dev/null || true)
            if [[ -z $lid ]]; then lid="no \`link\` file"
            elif [[ -L $V/overlay2/l/$lid ]]; then lid="\`$lid\` (symlink present)"
            else lid="\`$lid\` (no symlink)"; fi
            if [[ -n ${rmcache[$o]:-} ]]; then how="rmi crash: cache-id of \`${rmcache[$o]}\`"
            else how="pull crash: partial extraction"; fi
            echo "| \`$o\` | $(du -sb "$V/overlay2/$o" | cut -f1) | $(du -sB1 "$V/overlay2/$o" | cut -f1) | $lid | $how |"
        done
        for cid in "${!rmcache[@]}"; do
            [[ -d $V/overlay2/$cid ]] || echo "| \`$cid\` (cache-id of \`${rmcache[$cid]}\`) | absent | | | rmi crash: already removed |"
        done
        echo
        echo "Their content:"
        echo
        echo '```'
        for o in $(orphan_dirs "$V"); do tree_lines "$V" "overlay2/$o"; done
        echo '```'
        echo
        echo "## \`image/overlay2/layerdb/tmp/\` (write-sets of unfinished layer registrations)"
        echo
        echo '```'
        tree_lines "$V" image/overlay2/layerdb/tmp -mindepth 1
        echo '```'
        echo
        echo "## \`image/overlay2/layerdb/sha256/*-removing\`"
        echo
        echo '```'
        for d in "$L"/sha256/*-removing; do
            tree_lines "$V" "image/overlay2/layerdb/sha256/${d##*/}"
            for f in cache-id diff parent size; do
                [[ -f $d/$f ]] && echo "  $f = $(cat "$d/$f")"
            done
        done
        echo '```'
        echo
        echo "## \`tmp/\` (dockerd's TMPDIR; emptied by the restart after the pull crash)"
        echo
        echo '```'
        tree_lines "$V" tmp
        echo '```'
        echo
        echo "## containerd content store"
        echo
        echo '```'
        tree_lines "$V" containerd/daemon/io.containerd.content.v1.content
        echo '```'
        echo
        echo "## Totals on the extraction"
        echo
        echo "| path | du -sb | du -sB1 |"
        echo "|---|---|---|"
        for d in . overlay2 image/overlay2/layerdb; do
            echo "| \`$d\` | $(du -sb "$V/$d" | cut -f1) | $(du -sB1 "$V/$d" | cut -f1) |"
        done
        echo
        echo "## What the restarted daemon said"
        echo
        echo "Recorded in \`daemon/\` by the daemon restarted after the pull crash, before the rmi"
        echo "crash (bigrm:1 was built and removed after the recording, so the recorded answers"
        echo "hold for the archive: see the check below). \`api-system-df.json\`: LayersSize"
        echo "$(jq .LayersSize "$D/api-system-df.json"), $(jq '.Images | length' "$D/api-system-df.json") images"
        echo "($(jq -r '[.Images[] | "\(.RepoTags // [] | join(",")) \(.Size)"] | join("; ")' "$D/api-system-df.json")),"
        echo "$(jq '.Containers | length' "$D/api-system-df.json") containers, $(jq '.Volumes | length' "$D/api-system-df.json") volumes, $(jq '.BuildCache | length' "$D/api-system-df.json") build cache records."
        echo
        echo '`docker system df`:'
        echo
        echo '```'
        cat "$D/system-df-summary.txt"
        echo '```'
        echo
        echo '`docker system df -v`:'
        echo
        echo '```'
        cat "$D/system-df.txt"
        echo '```'
        echo
        echo "## Check: a dockerd started on the extraction"
        echo
        verify_daemon "$V"
    } >"$e"
    kill_leftovers
    say "wrote $e"
}

capture() {
    local t0=$SECONDS
    setup_root "$1"
    start_daemon
    case $NAME in
        full) populate_full ;;
        empty) note "nothing done: fresh daemon" ;;
        crashed) populate_crashed ;;
        *) die "unknown root '$NAME' (known: $KNOWN_ROOTS)" ;;
    esac
    record
    stop_daemon
    if [[ $NAME == crashed ]]; then crash_rmi; fi
    stop_registry
    kill_leftovers log
    archive
    if [[ $NAME == crashed ]]; then expected_crashed; fi
    remove_workdir
    say "$NAME done in $((SECONDS - t0)) s"
}

# ------------------------------------------------------- README block -------
readme_block() {
    local n f
    echo "Generated by make.sh at the last capture; do not edit by hand."
    echo
    echo '```'
    (cd "$HERE" && for n in full empty crashed; do
        if [[ -f $n/root.tar.gz ]]; then sha256sum "$n/root.tar.gz"; fi
    done)
    echo '```'
    echo
    echo "| root | archive bytes | captured at (UTC) | images | containers |"
    echo "|---|---|---|---|---|"
    for n in full empty crashed; do
        f=$HERE/$n
        [[ -f $f/root.tar.gz ]] || continue
        echo "| $n | $(stat -c %s "$f/root.tar.gz") | $(cat "$f/daemon/captured-at.txt") |" \
            "$(jq length "$f/daemon/image-inspect.json") | $(jq length "$f/daemon/container-inspect.json") |"
    done
    for n in full empty crashed; do
        f=$HERE/$n/daemon
        [[ -f $f/image-inspect.json ]] || continue
        echo
        [[ $(jq length "$f/image-inspect.json") -gt 0 ]] || continue
        echo "**$n: images** (\`docker image inspect\`, sorted by id)"
        echo
        echo "| image id | tags / digests | layers | parent |"
        echo "|---|---|---|---|"
        jq -r '.[] | "| `\(.Id[7:19])` | \(((.RepoTags // []) + (.RepoDigests // []) | map(sub("@sha256:(?<d>.{12}).*"; "@sha256:\(.d)…")) | join(", ")) | if . == "" then "(none)" else . end) | \(.RootFS.Layers | length) | \(if .Parent == "" then "" else "`" + .Parent[7:19] + "`" end) |"' \
            "$f/image-inspect.json"
        [[ $(jq length "$f/container-inspect.json") -gt 0 ]] || continue
        echo
        echo "**$n: containers**"
        echo
        echo "| name | id | state | exit | image (as typed) | image id |"
        echo "|---|---|---|---|---|---|"
        jq -r 'sort_by(.Name)[] | "| \(.Name[1:]) | `\(.Id[0:12])` | \(.State.Status) | \(.State.ExitCode) | \(.Config.Image) | `\(.Image[7:19])` |"' \
            "$f/container-inspect.json"
    done
}

update_readme() {
    local readme=$HERE/README.md block
    [[ -f $readme ]] || printf '# Sample Docker data roots\n\n<!-- BEGIN make.sh -->\n<!-- END make.sh -->\n' >"$readme"
    grep -q '<!-- BEGIN make.sh -->' "$readme" || printf '\n<!-- BEGIN make.sh -->\n<!-- END make.sh -->\n' >>"$readme"
    block=$(mktemp)
    readme_block >"$block"
    awk -v bf="$block" '
        /<!-- BEGIN make.sh -->/ { print; while ((getline l < bf) > 0) print l; skip = 1; next }
        /<!-- END make.sh -->/ { skip = 0 }
        !skip { print }' "$readme" >"$readme.tmp"
    mv "$readme.tmp" "$readme"
    rm -f "$block"
}

# ----------------------------------------------------------------- main -----
main() {
    [[ $(id -u) == 0 ]] || die "run as root"
    local t0=$SECONDS n
    for n in "${ROOTS[@]}"; do
        [[ $n == full || $n == empty || $n == crashed ]] || die "unknown root '$n' (known: $KNOWN_ROOTS)"
    done
    ensure_packages
    mkdir -p "$CAPTURE_BASE"
    [[ -e /run/docker ]] || HAD_RUN_DOCKER=0
    for n in "${ROOTS[@]}"; do capture "$n"; done
    W=
    update_readme
    say "all done in $((SECONDS - t0)) s:"
    (cd "$HERE" && ls -l */root.tar.gz && du -ch */root.tar.gz | tail -1) >&2
}

main
