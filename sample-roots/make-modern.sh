#!/usr/bin/env bash
# Remake the sample roots written by a MODERN Docker: dockerd 28.5 (Engine API
# v1.51) with containerd 2.1, as found in Debian unstable (docker.io 28.5.2,
# docker-cli, containerd 2.1.9, runc 1.3.6, docker-buildx 0.29.1, tini).
# Run as root on Debian 12 (bookworm):
#
#     sudo bash sample-roots/make-modern.sh               # c8d, c8d-crashed, modern
#     sudo bash sample-roots/make-modern.sh c8d-crashed   # only one
#     sudo bash sample-roots/make-modern.sh readme        # only the README block
#     sudo bash sample-roots/make-modern.sh annotate c8d  # only daemon/ctr/snapshot-dirs-*.tsv
#     sudo bash sample-roots/make-modern.sh exports c8d   # only export/c-bk.txt, export/c-orphan.txt
#
# Roots made (see sample-roots/README.md):
#   c8d          containerd image store (features.containerd-snapshotter=true):
#                images, snapshots and BuildKit data in containerd's root;
#                containers and volumes in docker's.  The archive holds both
#                trees side by side: docker/ (data root) and containerd/ (--root).
#   c8d-crashed  same setup; dockerd and containerd killed with SIGKILL while a
#                `docker pull` (through a slow proxy) downloads and unpacks:
#                ingests, extract-* snapshots and the pull's lease are left.
#   modern       classic overlay2 data root written by dockerd 28.5 (the layout
#                of an upgraded host); dockerd starts its own containerd.
#
# Needs: root, the overlay filesystem, 127.0.0.1:5000 and :5001 free, and (the
# first time) deb.debian.org for the sid packages.  About 4 minutes for all three.
#
# Nothing is installed from sid: the .debs are downloaded with a private apt
# list and unpacked (dpkg -x) under $BIN; runc and tini need sid's glibc and are
# pointed at it with patchelf.  bookworm packages used: busybox-static,
# docker-registry, patchelf, curl, jq, python3 (installed with apt-get if missing).
#
# For each root <name> the script
#   * starts a PRIVATE containerd (c8d roots) and dockerd under
#     /tmp/dockscope-modern/<name> (own data root, containerd root and state,
#     sockets, pidfile, exec root, cgroup parent; --iptables=false
#     --ip6tables=false --bridge=none --live-restore), and a docker-registry on
#     127.0.0.1:5000 only,
#   * makes the content, records the daemon's answers (docker CLI, Engine API
#     v1.51, ctr) into sample-roots/<name>/daemon/,
#   * stops what it started, by pid (dockerd with SIGTERM: with --live-restore
#     running containers stay recorded as running; then containerd; then the
#     shims and container processes), unmounts what is left under its work dir,
#   * archives the root(s) into sample-roots/<name>/root.tar.gz (GNU tar,
#     POSIX format, xattrs, numeric owners, sparse),
#   * c8d roots: maps every snapshot key to its snapshots/<n> dir with a
#     throwaway containerd on an extraction of the archive
#     (daemon/ctr/snapshot-dirs-<ns>.tsv); c8d-crashed: restarts containerd and
#     dockerd on the crashed root (after the archive) to record their view, and
#     writes EXPECTED.md (the pull's leftovers, measured on an extraction),
#   * publishes an unpacked copy under $MODERN_ROOTS_PUBLISH/<name>/ (default
#     /tmp/modern-roots) with a READY marker, removes its work dir, and
#     rewrites the generated block at the end of sample-roots/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=/tmp/dockscope-d28            # unpacked sid packages (kept between runs)
CAPTURE_BASE=/tmp/dockscope-modern
PUBLISH_BASE=${MODERN_ROOTS_PUBLISH:-/tmp/modern-roots}   # unpacked copies + READY markers
API=v1.51
REGISTRY_BIN=/usr/bin/docker-registry
REGISTRY_ADDR=127.0.0.1:5000
PROXY_PORT=5001
SID_MIRROR=http://deb.debian.org/debian

ROOTS=("$@")
[[ ${#ROOTS[@]} -gt 0 ]] || ROOTS=(c8d c8d-crashed modern)

NAME= W= OUT= CMDLOG= DOCKERD_PID= CONTAINERD_PID= REGISTRY_PID= PROXY_PID= MODE=
DOCKER= DOCKERD= CONTAINERD= CTR=
HAD_RUN_DOCKER=1; [[ -e /run/docker ]] || HAD_RUN_DOCKER=0
HAD_RUN_CONTAINERD=1; [[ -e /run/containerd ]] || HAD_RUN_CONTAINERD=0   # containerd makes /run/containerd(/s) whatever its --state
HAD_RUN_RUNC=1; [[ -e /run/runc ]] || HAD_RUN_RUNC=0    # runc's default --root (made by the classic builder's runs)

say() { printf '[make-modern.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
q() { local out= a; for a in "$@"; do out+="$(printf '%q' "$a") "; done; printf '%s' "${out% }"; }
note() { printf '# %s\n' "$*" >>"$CMDLOG"; }
proc_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() { local i; for ((i = 0; i < $2 * 10; i++)); do proc_alive "$1" || return 0; sleep 0.1; done; return 1; }
stop_pid() {
    local pid=$1 sig=${2:-TERM}
    proc_alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_gone "$pid" 30 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
}

# ---------------------------------------------------------------- binaries --
ensure_packages() {
    local need=()
    [[ -x $REGISTRY_BIN && -f /etc/docker/registry/config.yml ]] || need+=(docker-registry)
    dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
    for c in patchelf curl jq python3; do command -v $c >/dev/null || need+=($c); done
    if ((${#need[@]})); then
        say "installing ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
}

ensure_binaries() {
    local R=$BIN/root L=$BIN/libc/usr/lib/x86_64-linux-gnu
    if [[ ! -x $R/usr/sbin/dockerd || ! -f $BIN/.done ]]; then
        say "downloading dockerd 28.5 / containerd 2.1 from sid into $BIN (nothing is installed)"
        rm -rf "$BIN"; mkdir -p "$BIN/lists/partial" "$BIN/debs" "$R" "$BIN/libc"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SID_MIRROR sid main" >"$BIN/sid.list"
        local O=(-o "Dir::Etc::sourcelist=$BIN/sid.list" -o Dir::Etc::sourceparts=/dev/null -o "Dir::State::Lists=$BIN/lists")
        apt-get "${O[@]}" update -qq
        (cd "$BIN/debs" && apt-get "${O[@]}" download docker.io docker-cli containerd runc docker-buildx tini libc6 libseccomp2)
        local d
        for d in docker.io docker-cli containerd runc docker-buildx tini; do dpkg -x "$BIN"/debs/"${d}"_*.deb "$R"; done
        dpkg -x "$BIN"/debs/libc6_*.deb "$BIN/libc"
        dpkg -x "$BIN"/debs/libseccomp2_*.deb "$BIN/libc"
        # runc and tini are linked against sid's glibc
        patchelf --set-interpreter "$L/ld-linux-x86-64.so.2" --set-rpath "$L" "$R/usr/sbin/runc"
        patchelf --set-interpreter "$L/ld-linux-x86-64.so.2" --set-rpath "$L" "$R/usr/bin/tini"
        # the package's docker-init points at tini-static (another package)
        ln -sf tini "$R/usr/bin/docker-init"
        touch "$BIN/.done"
    fi
    export PATH=$R/usr/sbin:$R/usr/bin:$PATH
    DOCKER=$R/usr/bin/docker DOCKERD=$R/usr/sbin/dockerd CONTAINERD=$R/usr/bin/containerd CTR=$R/usr/bin/ctr
    "$R/usr/sbin/runc" --version >/dev/null || die "runc does not run"
    "$R/usr/bin/docker-init" --version >/dev/null || die "docker-init (tini) does not run"
}

versions_line() {
    printf 'dockerd %s; containerd %s; runc %s; buildx %s' \
        "$("$DOCKERD" --version | sed 's/^Docker version //')" \
        "$("$CONTAINERD" --version | awk '{print $3}')" \
        "$(runc --version | head -1 | awk '{print $3}')" \
        "$("$BIN/root/usr/libexec/docker/cli-plugins/docker-buildx" version | awk '{print $2}')"
}

# ---------------------------------------------------------------- logging --
dk() {   # dk [VAR=value ...] docker-args...   (logged)
    local envs=()
    while [[ $# -gt 0 && $1 =~ ^[A-Z_]+= ]]; do envs+=("$1"); shift; done
    printf '%s\n' "${envs[*]:+${envs[*]} }docker $(q "$@")" >>"$CMDLOG"
    env ${envs[@]+"${envs[@]}"} "$DOCKER" "$@"
}
ctrl() {  # ctrl ctr-args...   (logged; -a is added)
    printf 'ctr -a $W/containerd.sock %s\n' "$(q "$@")" >>"$CMDLOG"
    "$CTR" -a "$W/containerd.sock" "$@"
}
api() {   # api PATH OUTFILE
    printf 'curl -s --unix-socket $W/sock http://localhost/%s%s\n' "$API" "$1" >>"$CMDLOG"
    curl -sSf --unix-socket "$W/sock" "http://localhost/$API$1" | jq . >"$2"
}

# ------------------------------------------------------------- processes --
pids_under_w() {
    local p cmd
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "$BASHPID" ]] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [[ $cmd == *"$W/"* ]] && printf '%s\n' "$p"
    done
    return 0
}
cgroup_dirs() {
    local d
    for d in /sys/fs/cgroup/*/"dockscope-$NAME" /sys/fs/cgroup/"dockscope-$NAME"; do
        [[ -d $d ]] && printf '%s\n' "$d"
    done
    return 0
}
unmount_under_w() {
    local logit=${1:-} prefix=${2:-after the daemons stopped} round mps m
    for round in 1 2 3 4 5; do
        mps=$(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r -u)
        [[ -z $mps ]] && break
        while IFS= read -r m; do
            m=$(printf '%b' "${m//\\/\\0}")
            [[ $logit == log ]] && note "$prefix: umount $m"
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done <<<"$mps"
    done
    return 0
}
# Kill container processes (our cgroups), shims, then whatever else we started
# (dockerd, containerd, registry, proxy); unmount; remove our cgroups.
kill_leftovers() {
    local logit=${1:-} p f cg
    local -A cpids=()
    for cg in $(cgroup_dirs); do
        for f in $(find "$cg" -name cgroup.procs 2>/dev/null); do
            for p in $(cat "$f" 2>/dev/null); do cpids[$p]=1; done
        done
    done
    for d in /sys/fs/cgroup/freezer/"dockscope-$NAME"/*/; do
        [[ -f ${d}freezer.state ]] && echo THAWED >"${d}freezer.state" 2>/dev/null || true
    done
    for p in "${!cpids[@]}"; do
        [[ $logit == log ]] && note "after the daemons stopped: kill -KILL $p  (container process '$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")')"
        kill -KILL "$p" 2>/dev/null || true
    done
    for p in "${!cpids[@]}"; do wait_gone "$p" 10 || true; done
    local shims=() others=()
    for p in $(pids_under_w); do
        if grep -q containerd-shim "/proc/$p/cmdline" 2>/dev/null; then shims+=("$p"); else others+=("$p"); fi
    done
    for p in ${shims[@]+"${shims[@]}"}; do
        # the shim's socket: /run/containerd/s/<sha256(address/namespace/id)>
        local args addr= ns= id= prev= a h
        args=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null || true)
        while IFS= read -r a; do
            case $prev in -address) addr=$a ;; -namespace) ns=$a ;; -id) id=$a ;; esac
            prev=$a
        done <<<"$args"
        [[ $logit == log ]] && note "after the daemons stopped: kill -KILL $p  (containerd-shim-runc-v2 -namespace $ns -id $id)"
        stop_pid "$p" KILL
        if [[ -n $addr && -n $ns && -n $id ]]; then
            h=$(printf '%s' "$addr/$ns/$id" | sha256sum | cut -d' ' -f1)
            [[ -S /run/containerd/s/$h ]] && rm -f "/run/containerd/s/$h"
        fi
    done
    ((HAD_RUN_CONTAINERD)) || rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    for p in ${others[@]+"${others[@]}"}; do
        [[ $logit == log ]] && note "after the daemons stopped: kill -TERM $p  ($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-120))"
        stop_pid "$p" TERM
    done
    unmount_under_w "$logit"
    for cg in $(cgroup_dirs); do find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
    return 0
}
remove_workdir() {
    [[ $W == "$CAPTURE_BASE"/* && -d $W ]] || return 0
    if awk -v w="$W/" 'index($5, w) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        say "WARNING: mounts remain under $W; not removing it"; return 0
    fi
    rm -rf --one-file-system "$W"
}
on_exit() {
    local rc=$?
    if [[ -n $PROXY_PID ]]; then stop_pid "$PROXY_PID" TERM; fi
    if [[ -n $REGISTRY_PID ]]; then stop_pid "$REGISTRY_PID" TERM; fi
    if [[ -n $W && -d $W ]]; then
        ((rc == 0)) || say "failed (rc=$rc); stopping what was started under $W (logs kept there)"
        kill_leftovers || true
    fi
    rmdir "$CAPTURE_BASE" 2>/dev/null || true
    # dockerd always creates /run/docker/plugins (outside --exec-root)
    ((HAD_RUN_DOCKER)) || rmdir /run/docker/plugins /run/docker 2>/dev/null || true
    ((HAD_RUN_RUNC)) || rmdir /run/runc 2>/dev/null || true
    ((HAD_RUN_CONTAINERD)) || rmdir /run/containerd/s /run/containerd 2>/dev/null || true
    exit "$rc"
}
trap on_exit EXIT

# ------------------------------------------------------------------ setup --
setup_root() {
    NAME=$1 W=$CAPTURE_BASE/$1 OUT=$HERE/$1
    case $NAME in c8d | c8d-crashed) MODE=c8d ;; modern) MODE=overlay2 ;; *) die "unknown root $NAME (c8d | c8d-crashed | modern)" ;; esac
    if [[ -e $W ]]; then
        say "removing leftovers of an earlier run in $W"
        kill_leftovers; remove_workdir
        [[ ! -e $W ]] || die "could not remove $W"
    fi
    mkdir -p "$W"/exec "$W"/ctx "$W"/cli-config/cli-plugins
    ln -s "$BIN/root/usr/libexec/docker/cli-plugins/docker-buildx" "$W/cli-config/cli-plugins/docker-buildx"
    rm -rf "$OUT/daemon" "$OUT/root.tar.gz" "$OUT/EXPECTED.md"
    mkdir -p "$OUT/daemon"
    CMDLOG=$OUT/daemon/commands.log
    {
        echo "# Commands run by sample-roots/make-modern.sh to make the '$NAME' root, in order."
        echo "# $(versions_line)"
        echo "# W=$W   DOCKER_HOST=unix://\$W/sock   DOCKER_CONFIG=\$W/cli-config (docker-buildx plugin linked there)"
        echo "# Paths below are literal; \$W was removed after the capture."
    } >"$CMDLOG"
    export DOCKER_HOST=unix://$W/sock DOCKER_CONFIG=$W/cli-config
}

start_containerd() {
    mkdir -p "$W/containerd" "$W/cstate"
    cat >"$W/containerd.toml" <<EOF
version = 3
root = "$W/containerd"
state = "$W/cstate"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]

[grpc]
  address = "$W/containerd.sock"

[ttrpc]
  address = "$W/containerd.sock.ttrpc"

[debug]
  address = "$W/containerd-debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$W/opt"
EOF
    local args=(--config "$W/containerd.toml" --root "$W/containerd" --state "$W/cstate" --address "$W/containerd.sock")
    note "daemon: containerd $(q "${args[@]}")   (config: version = 3, CRI and NRI plugins disabled, opt path under \$W)"
    "$CONTAINERD" "${args[@]}" >>"$W/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    local i
    for ((i = 0; i < 300; i++)); do
        proc_alive "$CONTAINERD_PID" || { tail -20 "$W/containerd.log" >&2; die "containerd exited"; }
        "$CTR" -a "$W/containerd.sock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$CTR" -a "$W/containerd.sock" version >/dev/null || die "containerd did not come up"
    say "containerd pid $CONTAINERD_PID up"
}

start_dockerd() {
    mkdir -p "$W/docker"
    local args=(--data-root "$W/docker" --host "unix://$W/sock" --pidfile "$W/docker.pid"
        --exec-root "$W/exec" --iptables=false --ip6tables=false --bridge=none --live-restore
        --cgroup-parent "dockscope-$NAME")
    if [[ $MODE == c8d ]]; then
        echo '{"features": {"containerd-snapshotter": true}}' >"$W/daemon.json"
        args+=(--containerd "$W/containerd.sock")
    else
        echo '{"storage-driver": "overlay2"}' >"$W/daemon.json"
    fi
    args=(--config-file "$W/daemon.json" "${args[@]}")
    note "daemon: dockerd $(q "${args[@]}")   (daemon.json: $(cat "$W/daemon.json"))"
    "$DOCKERD" "${args[@]}" >>"$W/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    local i
    for ((i = 0; i < 600; i++)); do
        proc_alive "$DOCKERD_PID" || { tail -20 "$W/dockerd.log" >&2; die "dockerd exited"; }
        "$DOCKER" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$DOCKER" version >/dev/null || die "dockerd did not come up"
    say "dockerd pid $DOCKERD_PID up ($("$DOCKER" info -f '{{.Driver}}'))"
}

stop_dockerd() {
    [[ -n $DOCKERD_PID ]] || return 0
    note "daemon: kill -TERM <dockerd pid>   (with --live-restore, running containers stay recorded as running)"
    kill -TERM "$DOCKERD_PID"
    wait_gone "$DOCKERD_PID" 60 || die "dockerd did not exit"
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=
}

stop_containerd() {
    [[ -n $CONTAINERD_PID ]] || return 0
    note "daemon: kill -TERM <containerd pid>   (the shims of running containers survive it)"
    kill -TERM "$CONTAINERD_PID"
    wait_gone "$CONTAINERD_PID" 60 || die "containerd did not exit"
    wait "$CONTAINERD_PID" 2>/dev/null || true
    CONTAINERD_PID=
}

start_registry() {
    mkdir -p "$W/registry/data"
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
        curl -sf "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return 0
        proc_alive "$REGISTRY_PID" || break
        sleep 0.1
    done
    cat "$W/registry.log" >&2; die "registry did not come up"
}
stop_registry() {
    [[ -n $REGISTRY_PID ]] || return 0
    note "registry: stopped"
    stop_pid "$REGISTRY_PID" TERM; wait "$REGISTRY_PID" 2>/dev/null || true; REGISTRY_PID=
}

# ------------------------------------------------------------- content -----
make_base_rootfs() {   # busybox + applet symlinks
    local r=$1 a
    mkdir -p "$r"/bin "$r"/etc "$r"/tmp "$r"/root "$r"/usr/bin "$r"/var
    chmod 1777 "$r/tmp"
    cp /bin/busybox "$r/bin/busybox"
    for a in sh ls cat echo sleep rm mkdir touch dd truncate ln chmod cp mv sed \
        head tail wc true false printf seq find stat du env test '[' sync rmdir readlink tr; do
        ln -s busybox "$r/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
    printf 'dockscope sample base (busybox)\n' >"$r/etc/motd"
}
make_tiny_rootfs() {   # no binaries: a few small files (hard link, symlink, empty file)
    local r=$1 i
    mkdir -p "$r"/etc "$r"/usr/share/tiny
    printf 'NAME=tiny\nVERSION=1\n' >"$r/etc/tiny-release"
    for i in $(seq 1 20); do echo "tiny note line $i"; done >"$r/usr/share/tiny/notes.txt"
    : >"$r/usr/share/tiny/empty-file"
    ln "$r/usr/share/tiny/notes.txt" "$r/usr/share/tiny/notes-hardlink.txt"
    ln -s ../../../etc/tiny-release "$r/usr/share/tiny/release-link"
}
import_base() {
    make_base_rootfs "$W/ctx/base-rootfs"
    note "stdin of the next command: tar -C \$W/ctx/base-rootfs -c .   (busybox-static + applet symlinks)"
    tar -C "$W/ctx/base-rootfs" -c . |
        dk import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["sh"]' - base:1
}
import_tiny() {
    make_tiny_rootfs "$W/ctx/tiny-rootfs"
    tar -C "$W/ctx/tiny-rootfs" -cf "$W/ctx/tiny.tar" .
    note "\$W/ctx/tiny.tar = tar -C \$W/ctx/tiny-rootfs -cf - .  (no binaries; hard link, symlink, empty file)"
    dk import --message 'tiny: imported from a tar file' --change 'LABEL org.example.base=tiny' \
        --change 'CMD ["/nonexistent"]' "$W/ctx/tiny.tar" tiny:1
}
build() {   # build TAG CTX BUILDKIT(0|1) [extra docker build args]
    local tag=$1 ctx=$2 bk=$3
    shift 3
    note "Dockerfile for $tag ($ctx/Dockerfile):"
    sed 's/^/#     /' "$ctx/Dockerfile" >>"$CMDLOG"
    if ((bk)); then
        dk DOCKER_BUILDKIT=1 build --progress=plain --network=none "$@" -t "$tag" "$ctx"
    else
        dk DOCKER_BUILDKIT=0 build --network=none "$@" -t "$tag" "$ctx"
    fi
}

BUILDKIT_OK=0
build_common() {   # images shared by c8d and modern
    local c
    import_base
    import_tiny

    # classic builder: ENV/LABEL steps, files, hard link, symlink, whiteouts, opaque dir
    c=$W/ctx/app; mkdir -p "$c/files"
    printf 'a\n' >"$c/files/a.txt"; printf 'b\n' >"$c/files/b.txt"
    cat >"$c/Dockerfile" <<'EOF'
FROM base:1
ENV APP_ENV=sample
LABEL org.example.app=app
RUN mkdir -p /data/sub /opt/keep && echo hello > /data/hello.txt && echo a > /data/sub/a && echo b > /data/sub/b && echo gone > /data/gone.txt && echo keep > /opt/keep/old.txt && dd if=/dev/zero of=/data/blob bs=1k count=16 2>/dev/null
RUN ln /data/hello.txt /data/hardlink.txt && ln -s hello.txt /data/symlink.txt
RUN rm /data/sub/a /data/gone.txt
RUN rm -rf /opt/keep && mkdir /opt/keep && touch /opt/keep/x
COPY files/ /srv/files/
WORKDIR /srv
CMD ["cat", "/data/hello.txt"]
EOF
    build app:1 "$c" 0
    dk tag app:1 app:latest

    # dangling: the same tag built twice with different content
    c=$W/ctx/dangle; mkdir -p "$c"
    printf 'FROM base:1\nRUN echo v1 > /version.txt\n' >"$c/Dockerfile"
    build dangle:1 "$c" 0
    printf 'FROM base:1\nRUN echo v2 > /version.txt\n' >"$c/Dockerfile"
    build dangle:1 "$c" 0

    # an image that is force-removed while a stopped container uses it
    c=$W/ctx/orphan; mkdir -p "$c"
    printf 'FROM base:1\nRUN echo orphan > /orphan.txt\n' >"$c/Dockerfile"
    build orphan:1 "$c" 0

    # BuildKit (the daemon's builder, through the docker-buildx plugin)
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
    if build bk:1 "$c" 1; then
        BUILDKIT_OK=1
    else
        note "BuildKit build failed: bk:1 not made"
        say "WARNING: BuildKit build failed"
    fi

    # docker commit
    dk run --name c-commit-src --network none app:1 sh -c 'echo committed > /committed.txt && rm /data/sub/b'
    dk commit -a dockscope -m 'commit of c-commit-src' -c 'CMD ["cat", "/committed.txt"]' c-commit-src committed:1
}

registry_round_trips() {
    start_registry
    dk tag app:1 "$REGISTRY_ADDR/demo/app:1"
    dk push "$REGISTRY_ADDR/demo/app:1"
    dk rmi "$REGISTRY_ADDR/demo/app:1"
    dk pull "$REGISTRY_ADDR/demo/app:1"
    if ((BUILDKIT_OK)); then
        # BuildKit's image (an index with an attestation manifest in c8d mode)
        dk tag bk:1 "$REGISTRY_ADDR/demo/bk:1"
        dk push "$REGISTRY_ADDR/demo/bk:1"
        dk rmi bk:1 "$REGISTRY_ADDR/demo/bk:1"
        dk pull "$REGISTRY_ADDR/demo/bk:1"
        dk tag "$REGISTRY_ADDR/demo/bk:1" bk:1
    fi
    stop_registry
}

make_containers() {
    dk create --name c-created --network none app:1 echo never-started
    dk run --name c-exit0 --network none app:1 sh -c 'echo ok; echo new > /data/new.txt'
    dk run --name c-exit3 --network none app:1 sh -c 'echo failing >&2; exit 3' || true
    dk run --name c-changes --network none app:1 sh -c \
        'echo added > /added.txt && rm /data/sub/b /etc/motd && echo modified >> /srv/files/a.txt && mkdir -p /newdir/deep && echo x > /newdir/deep/x'
    dk volume create vol1
    dk run --name c-mounts --network none -v vol1:/named -v /data app:1 sh -c \
        'echo named > /named/n.txt && dd if=/dev/zero of=/named/zeros bs=1k count=8 2>/dev/null && echo anon > /data/anon.txt'
    dk run --name c-logs --network none app:1 sh -c \
        'i=0; while [ $i -lt 20 ]; do echo "log line $i: the quick brown fox"; i=$((i+1)); done' >/dev/null
    dk run --name c-orphan --network none orphan:1 sh -c 'cat /orphan.txt > /seen.txt'
    dk rmi -f orphan:1
    if ((BUILDKIT_OK)); then dk create --name c-bk --network none bk:1; fi
    dk run -d --name c-running --network none app:1 sh -c 'echo running > /running.txt; exec sleep 1000000'
    sleep 1
}

populate_c8d() {
    build_common
    registry_round_trips
    make_containers
    # cross-namespace: tiny:1 saved by docker and imported by ctr into namespace "default"
    # (same blobs as in "moby", its own snapshot)
    note "stdout of the next command is \$W/ctx/tiny-save.tar"
    dk save -o "$W/ctx/tiny-save.tar" tiny:1
    ctrl -n default images import --snapshotter overlayfs "$W/ctx/tiny-save.tar"
}

populate_modern() {
    build_common
    registry_round_trips
    make_containers
}

# ------------------------------------------------------------- record ------
safe() { printf '%s' "$1" | tr -c 'A-Za-z0-9._@:-' '_' | tr ':' '_'; }

record_docker() {
    local D=$OUT/daemon ids=() cids=() id img n
    mkdir -p "$D/history" "$D/api-history" "$D/api-image-inspect" "$D/api-container-inspect" "$D/diff" "$D/save" "$D/export"
    note "---- recording the daemon's answers ----"
    date -u +%Y-%m-%dT%H:%M:%S.%NZ >"$D/captured-at.txt"
    dk version --format '{{json .}}' >"$D/version.json"
    dk version >"$D/version.txt"
    dk info --format '{{json .}}' >"$D/info.json"
    dk info >"$D/info.txt" 2>&1
    jq -r '"DockerRootDir=\(.DockerRootDir)\nDriver=\(.Driver)\nDriverStatus=\(.DriverStatus|tostring)\nServerVersion=\(.ServerVersion)\nImages=\(.Images)\nContainers=\(.Containers)"' "$D/info.json" >"$D/info-summary.txt"
    dk images -a --no-trunc --digests >"$D/images.txt"
    dk images --no-trunc --digests >"$D/images-default.txt"
    dk images -a >"$D/images-a.txt"
    dk images >"$D/images-plain.txt"
    dk images --digests >"$D/images-digests.txt"
    dk images --filter dangling=true -q >"$D/images-dangling-q.txt"
    dk images -a --filter dangling=true -q --no-trunc >"$D/images-dangling-a-q-no-trunc.txt"
    api '/images/json?all=1' "$D/api-images-all.json"
    api '/images/json' "$D/api-images.json"
    mapfile -t ids < <(jq -r '.[].Id' "$D/api-images-all.json" | sort -u)
    if ((${#ids[@]})); then dk image inspect "${ids[@]}" >"$D/image-inspect.json"; else echo '[]' >"$D/image-inspect.json"; fi
    for id in ${ids[@]+"${ids[@]}"}; do
        dk history --no-trunc "$id" >"$D/history/${id#sha256:}.txt"
        dk history "$id" >"$D/history/${id#sha256:}.trunc.txt"
        api "/images/$id/history" "$D/api-history/${id#sha256:}.json"
        api "/images/$id/json" "$D/api-image-inspect/${id#sha256:}.json"
    done
    dk ps -a --size --no-trunc >"$D/ps.txt"
    dk ps -a --size >"$D/ps-size.txt"
    dk ps -a --no-trunc >"$D/ps-no-trunc.txt"
    api '/containers/json?all=1&size=1' "$D/api-containers.json"
    mapfile -t cids < <(jq -r '.[].Id' "$D/api-containers.json" | sort)
    if ((${#cids[@]})); then dk container inspect "${cids[@]}" >"$D/container-inspect.json"; else echo '[]' >"$D/container-inspect.json"; fi
    for id in ${cids[@]+"${cids[@]}"}; do
        api "/containers/$id/json?size=1" "$D/api-container-inspect/$id.json"
        dk diff "$id" >"$D/diff/$id.txt" 2>"$D/diff/$id.err" || note "docker diff $id failed: $(cat "$D/diff/$id.err")"
        [[ -s $D/diff/$id.err ]] || rm -f "$D/diff/$id.err"
    done
    dk system df -v >"$D/system-df.txt"
    dk system df >"$D/system-df-summary.txt"
    api '/system/df' "$D/api-system-df.json"
    dk volume ls >"$D/volumes.txt"
    api '/volumes' "$D/api-volumes.json"
    api '/info' "$D/api-info.json"
    api '/version' "$D/api-version.json"
    # layer contents references: docker save per image kind, docker export per container kind
    for img in base:1 tiny:1 app:1 committed:1 "$REGISTRY_ADDR/demo/app:1" bk:1; do
        dk image inspect "$img" >/dev/null 2>&1 || continue
        n=$(safe "$img")
        printf 'docker save %s | tar -tvf -\n' "$(q "$img")" >>"$CMDLOG"
        "$DOCKER" save "$img" | tar -tvf - >"$D/save/$n.txt"
    done
    record_exports c-exit0 c-changes c-created c-bk c-orphan
    rmdir "$D"/* 2>/dev/null || true
}

# docker export listings: containers from a classic-built and pulled image
# (app:1), a BuildKit image (c-bk), a force-removed image (c-orphan), tiny:1
record_exports() {
    local D=$OUT/daemon n
    mkdir -p "$D/export"
    for n in "$@"; do
        "$DOCKER" container inspect "$n" >/dev/null 2>&1 || continue
        printf 'docker export %s | tar -tvf -\n' "$n" >>"$CMDLOG"
        "$DOCKER" export "$n" | tar -tvf - >"$D/export/$n.txt"
    done
}

# exports NAME: add export listings of c-bk and c-orphan to an existing capture,
# from a throwaway daemon on an extraction of its archive (the root is unchanged)
exports_on_copy() {
    NAME=$1 OUT=$HERE/$1 W=$CAPTURE_BASE/$1-exports
    case $NAME in c8d) MODE=c8d ;; modern) MODE=overlay2 ;; *) die "exports: c8d or modern" ;; esac
    CMDLOG=$OUT/daemon/commands.log
    [[ -e $W ]] && { kill_leftovers; remove_workdir; }
    mkdir -p "$W/exec" "$W/cli-config"
    export DOCKER_HOST=unix://$W/sock DOCKER_CONFIG=$W/cli-config
    note "---- after the archive was made: docker export of c-bk and c-orphan by a throwaway containerd/dockerd on an extraction of root.tar.gz (\$W = $W) ----"
    if [[ $MODE == c8d ]]; then
        tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$OUT/root.tar.gz" -C "$W"
        start_containerd
    else
        mkdir -p "$W/docker"
        tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$OUT/root.tar.gz" -C "$W/docker"
    fi
    start_dockerd
    record_exports c-bk c-orphan
    stop_dockerd
    stop_containerd
    kill_leftovers
    remove_workdir
}

# containerd's view (containerd up, dockerd stopped or killed)
record_ctr() {
    local D=$OUT/daemon/ctr ns keys k
    mkdir -p "$D"
    note "---- recording containerd's view (ctr) ----"
    ctrl namespaces ls >"$D/namespaces.txt"
    for ns in $(awk 'NR > 1 { print $1 }' "$D/namespaces.txt"); do
        ctrl -n "$ns" images ls >"$D/images-$ns.txt"
        ctrl -n "$ns" content ls >"$D/content-$ns.txt"
        ctrl -n "$ns" snapshots --snapshotter overlayfs ls >"$D/snapshots-$ns.txt"
        ctrl -n "$ns" snapshots --snapshotter overlayfs usage >"$D/snapshots-usage-$ns.txt" || true
        ctrl -n "$ns" leases ls >"$D/leases-$ns.txt"
        ctrl -n "$ns" containers ls >"$D/containers-$ns.txt"
        # one JSON array of `snapshots info` answers (keys may hold spaces: extract-… sha256:…)
        python3 - "$D/snapshots-$ns.txt" >"$W/keys" <<'PY'
import sys
for line in open(sys.argv[1]).read().splitlines()[1:]:
    t = line.split()
    if len(t) < 2:
        continue
    print(t[0] + " " + t[1] if t[0].startswith("extract-") and len(t) > 2 else t[0])
PY
        : >"$W/infos"
        while IFS= read -r k; do
            [[ -n $k ]] || continue
            ctrl -n "$ns" snapshots --snapshotter overlayfs info "$k" >>"$W/infos"
        done <"$W/keys"
        jq -s . "$W/infos" >"$D/snapshots-info-$ns.json"
    done
    cp "$D/images-moby.txt" "$D/images.txt" 2>/dev/null || true
}

# ------------------------------------------------------------- archive -----
archive() {
    local tgz=$OUT/root.tar.gz
    say "archiving"
    if [[ $MODE == c8d ]]; then
        tar --format=posix --xattrs --xattrs-include='*' --numeric-owner --sparse \
            -C "$W" -cf - docker containerd | gzip -9 >"$tgz"
    else
        tar --format=posix --xattrs --xattrs-include='*' --numeric-owner --sparse \
            -C "$W/docker" -cf - . | gzip -9 >"$tgz"
    fi
    tar --xattrs --xattrs-include='*' -tvvf "$tgz" >"$W/listing.txt"
    say "$NAME: $(stat -c %s "$tgz") bytes, $(grep -c '' "$W/listing.txt") entries"
}

# Unpacked copy for other work, with the recorded answers and a READY marker.
publish() {
    local P=$PUBLISH_BASE/$NAME
    rm -rf "$P.new"; mkdir -p "$P.new"
    if [[ $MODE == c8d ]]; then
        tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$OUT/root.tar.gz" -C "$P.new"
    else
        mkdir -p "$P.new/docker"
        tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$OUT/root.tar.gz" -C "$P.new/docker"
    fi
    cp -a "$OUT/daemon" "$P.new/daemon"
    [[ -f $OUT/EXPECTED.md ]] && cp "$OUT/EXPECTED.md" "$P.new/"
    cp "$OUT/root.tar.gz" "$P.new/"
    [[ -f $P/CHANGES ]] && cp "$P/CHANGES" "$P.new/CHANGES"
    rm -rf "$P"; mv "$P.new" "$P"
    touch "$P/READY"
    say "published $P"
}

# ------------------------------------------------------- crashed root ------
# c8d-crashed: tiny:1 and a created container; then big:1 (FROM scratch, three
# layers: a small file, then two files of zeros) is pushed to the local registry
# and removed, and pulled back through slowproxy.py, which throttles the third
# layer's blob: while that blob downloads (an ingest), layer 1 is unpacked and
# committed and layer 2 is being unpacked into an extract-* snapshot.  dockerd
# and containerd are killed with SIGKILL (pids known beforehand) as soon as a
# new snapshot's fs grows while the throttled blob's ingest exists (or, failing that,
# once three snapshots exist while the ingest is still open).
BIG1_MIB=512            # layer 2: /big/zeros1 (full speed; being unpacked when killed)
BIG2_MIB=64             # layer 3: /big2/zeros2 (throttled; downloading when killed)
PROXY_RATE=16384        # bytes per second for layer 3's blob
CRASH_TRIES=4
CROOT_SNAP=io.containerd.snapshotter.v1.overlayfs/snapshots
CROOT_INGEST=io.containerd.content.v1.content/ingest
PULL_REF= SLOW_DIGEST=
declare -a NEW_SNAPS=()

populate_crashed() {
    local c
    import_tiny
    dk create --name c-created --network none tiny:1
    c=$W/ctx/big; mkdir -p "$c"
    note "\$W/ctx/big/small.txt: one line; zeros1: $BIG1_MIB MiB of zeros, zeros2: $BIG2_MIB MiB of zeros (dd if=/dev/zero)"
    echo 'the first layer of big:1' >"$c/small.txt"
    dd if=/dev/zero of="$c/zeros1" bs=1M count=$BIG1_MIB status=none
    dd if=/dev/zero of="$c/zeros2" bs=1M count=$BIG2_MIB status=none
    printf 'FROM scratch\nCOPY small.txt /small.txt\nCOPY zeros1 /big/zeros1\nCOPY zeros2 /big2/zeros2\n' >"$c/Dockerfile"
    build big:1 "$c" 0
    rm -f "$c/zeros1" "$c/zeros2"
    start_registry
    dk tag big:1 "$REGISTRY_ADDR/demo/big:1"
    dk push "$REGISTRY_ADDR/demo/big:1"
    dk rmi big:1 "$REGISTRY_ADDR/demo/big:1"
    dk image prune -f     # the classic builder's intermediate (moby-dangling@) holds layer 1
    local m l1 l2
    curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -o "$W/big-manifest.raw" "http://$REGISTRY_ADDR/v2/demo/big/manifests/1"
    m=$(cat "$W/big-manifest.raw")
    printf '%s\n' "$m" | jq . >"$W/big-manifest.json"
    l1=$(jq -r '.layers[1].digest' <<<"$m"); l2=$(jq -r '.layers[2].digest' <<<"$m")
    note "registry manifest of demo/big:1: $(jq -c '[.layers[] | {digest, size}]' <<<"$m")"
    if ctrl -n moby content ls | grep -qE "${l1#sha256:}|${l2#sha256:}"; then
        die "big:1's layer blobs are still in the content store after rmi + prune"
    fi
    note "proxy: python3 slowproxy.py $PROXY_PORT ${REGISTRY_ADDR##*:} ${l2#sha256:} $PROXY_RATE   (127.0.0.1:$PROXY_PORT -> $REGISTRY_ADDR; layer 3's blob at $PROXY_RATE B/s)"
    if curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/"; then die "something already listens on 127.0.0.1:$PROXY_PORT"; fi
    python3 "$HERE/slowproxy.py" "$PROXY_PORT" "${REGISTRY_ADDR##*:}" "${l2#sha256:}" "$PROXY_RATE" >"$W/proxy.log" 2>&1 &
    PROXY_PID=$!
    sleep 0.5
    PULL_REF=127.0.0.1:$PROXY_PORT/demo/big:1 SLOW_DIGEST=$l2
    crash_pull
    stop_pid "$PROXY_PID" TERM; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
    stop_registry
}

crash_pull() {
    local C=$W/containerd try i n pullpid killed sz why
    local -A before=() prev=()
    local ng; ng=$(shopt -p nullglob || true); shopt -s nullglob
    for ((try = 1; try <= CRASH_TRIES; try++)); do
        if [[ -z $DOCKERD_PID ]]; then
            note "restart after an unsuccessful try"
            [[ -n $CONTAINERD_PID ]] || start_containerd
            start_dockerd
        fi
        before=() prev=() NEW_SNAPS=()
        for n in "$C/$CROOT_SNAP"/*; do before[${n##*/}]=1; done
        note "pull crash, try $try: pull in the background; SIGKILL dockerd and containerd as soon as a new snapshot's fs grows while an ingest exists"
        printf 'docker pull %s &\n' "$PULL_REF" >>"$CMDLOG"
        "$DOCKER" pull "$PULL_REF" >"$W/pull-$try.log" 2>&1 &
        pullpid=$!
        killed=0 why=
        for ((i = 0; i < 3000; i++)); do
            local ing=("$C/$CROOT_INGEST"/*) news=() ingdata=0
            for n in "$C/$CROOT_SNAP"/*; do [[ -z ${before[${n##*/}]:-} ]] && news+=("${n##*/}"); done
            for n in ${ing[@]+"${ing[@]}"}; do
                # (containerd 2.1 writes nothing into data/ until the whole 131 KB blob is there)
                grep -q "${SLOW_DIGEST#sha256:}" "$n/ref" 2>/dev/null && ingdata=1
            done
            if ((ingdata)); then
                for n in ${news[@]+"${news[@]}"}; do
                    sz=$(du -sb "$C/$CROOT_SNAP/$n/fs" 2>/dev/null | cut -f1) || sz=0
                    if [[ -n ${prev[$n]:-} ]] && ((sz > ${prev[$n]} && sz > 1048576)); then
                        why="snapshot dir $n: fs grew from ${prev[$n]} to $sz bytes (du -sb) between two looks 20 ms apart; ${#ing[@]} ingest(s), one of them the throttled blob's"
                        break
                    fi
                    prev[$n]=$sz
                done
                if [[ -z $why ]] && ((${#news[@]} >= 3)); then
                    why="${#news[@]} new snapshot dirs (${news[*]}) and ${#ing[@]} ingest(s)"
                fi
            fi
            if [[ -n $why ]]; then
                kill -KILL "$DOCKERD_PID" 2>/dev/null || true
                kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
                note "CRASH during docker pull: kill -KILL $DOCKERD_PID (dockerd); kill -KILL $CONTAINERD_PID (containerd); seen just before: $why"
                say "killed dockerd and containerd: $why"
                killed=1
                break
            fi
            proc_alive "$pullpid" || break
            sleep 0.02
        done
        if ((killed)); then
            wait_gone "$DOCKERD_PID" 10 || die "dockerd survived SIGKILL"
            wait_gone "$CONTAINERD_PID" 10 || die "containerd survived SIGKILL"
            wait "$DOCKERD_PID" "$CONTAINERD_PID" 2>/dev/null || true
            DOCKERD_PID= CONTAINERD_PID=
        fi
        wait "$pullpid" 2>/dev/null || true
        note "output of that docker pull:"
        sed 's/^/#   | /' "$W/pull-$try.log" >>"$CMDLOG"
        if ((killed)); then
            for n in "$C/$CROOT_SNAP"/*; do [[ -z ${before[${n##*/}]:-} ]] && NEW_SNAPS+=("${n##*/}"); done
            # as after a reboot: nothing stays mounted
            unmount_under_w log "after the crash"
            local ing=("$C/$CROOT_INGEST"/*)
            if ((${#ing[@]} && ${#NEW_SNAPS[@]})); then
                note "pull crash, try $try: done: ${#ing[@]} ingest(s), new snapshot dirs: ${NEW_SNAPS[*]}"
                eval "$ng"; return 0
            fi
            note "pull crash, try $try: leftovers not as wanted (${#ing[@]} ingests, ${#NEW_SNAPS[@]} new snapshot dirs)"
        else
            note "pull crash, try $try: the pull ended before a kill"
            dk rmi "$PULL_REF" || true
        fi
    done
    die "could not interrupt a pull in $CRASH_TRIES tries"
}

# after the archive: restart containerd (and dockerd) on the crashed root to
# record their view; the archive was taken before.
record_crashed() {
    note "---- after the archive was made: containerd and dockerd restarted on the crashed root to record their view ----"
    snapshot_state >"$W/state-before-restart.txt"
    start_containerd
    record_ctr
    start_dockerd
    record_docker
    stop_dockerd
    snapshot_state >"$W/state-after-restart.txt"
    stop_containerd
    kill_leftovers log
}

snapshot_state() {   # what is on disk under containerd's root that the crash left
    (cd "$W/containerd" && find "$CROOT_INGEST" "$CROOT_SNAP" tmpmounts -maxdepth 2 -printf '%y %p\n' 2>/dev/null | sort)
}

key_to_dir() {   # key_to_dir SOCK NS: "<key>\t<kind>\t<n of snapshots/<n>>" for every snapshot of NS
    local sock=$1 ns=$2 k m d kind
    python3 - "$OUT/daemon/ctr/snapshots-$ns.txt" <<'PY' >"$W/keys-$ns"
import sys
for line in open(sys.argv[1]).read().splitlines()[1:]:
    t = line.split()
    if len(t) >= 2:
        key = t[0] + " " + t[1] if t[0].startswith("extract-") and len(t) > 2 else t[0]
        print(t[-1] + "\t" + key)
PY
    # active: the upper dir (or the bind source) of its mounts; committed: the
    # first lower dir of a temporary view on it (made and removed again, on the
    # copy); view: its mounts name only its parents, so no dir is given.
    local S="$CTR -a $sock -n $ns snapshots --snapshotter overlayfs"
    while IFS=$'\t' read -r kind k; do
        d=
        case $kind in
        Active)
            m=$($S mounts /mnt "$k" 2>/dev/null || true)
            d=$(grep -oE "upperdir=[^,]*" <<<"$m" | grep -oE "snapshots/[0-9]+/fs" | cut -d/ -f2 || true)
            [[ -n $d ]] || d=$(grep -oE "$CROOT_SNAP/[0-9]+/fs" <<<"$m" | head -1 | cut -d/ -f3 || true)
            ;;
        Committed)
            m=$($S view --mounts dockscope-tmp-view "$k" 2>/dev/null || true)
            d=$(grep -oE "$CROOT_SNAP/[0-9]+/fs" <<<"$m" | head -1 | cut -d/ -f3 || true)
            $S rm dockscope-tmp-view >/dev/null 2>&1 || true
            ;;
        esac
        printf '%s\t%s\t%s\n' "$k" "$kind" "${d:--}"
    done <"$W/keys-$ns"
}

# daemon/ctr/snapshot-dirs-<ns>.tsv ("key<TAB>kind<TAB>n" for snapshots/<n>/):
# found by a throwaway containerd on an extraction of the archive (not on the
# archived root: a committed key is mapped through a temporary view).
annotate_snapshot_dirs() {
    local SW=$W/annot ns pid i
    note "---- after the archive was made: snapshot keys mapped to snapshot dirs by a throwaway containerd on an extraction of root.tar.gz (\$W/annot): ctr snapshots mounts /mnt <key>; for committed keys a temporary view ----"
    rm -rf "$SW"; mkdir -p "$SW"
    tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$OUT/root.tar.gz" -C "$SW" containerd
    {
        echo 'version = 3'
        echo "root = \"$SW/containerd\""
        echo "state = \"$SW/cstate\""
        echo 'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.nri.v1.nri"]'
        echo '[grpc]'; echo "  address = \"$SW/c.sock\""
        echo '[ttrpc]'; echo "  address = \"$SW/c.sock.ttrpc\""
        echo '[debug]'; echo "  address = \"$SW/c-debug.sock\""
        echo '[plugins."io.containerd.internal.v1.opt"]'; echo "  path = \"$SW/opt\""
    } >"$SW/containerd.toml"
    "$CONTAINERD" --config "$SW/containerd.toml" --root "$SW/containerd" --state "$SW/cstate" --address "$SW/c.sock" >"$SW/containerd.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 300; i++)); do "$CTR" -a "$SW/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
    for ns in $(awk 'NR > 1 { print $1 }' "$OUT/daemon/ctr/namespaces.txt"); do
        [[ -f $OUT/daemon/ctr/snapshots-$ns.txt ]] || continue
        key_to_dir "$SW/c.sock" "$ns" >"$OUT/daemon/ctr/snapshot-dirs-$ns.tsv"
    done
    stop_pid "$pid" TERM; wait "$pid" 2>/dev/null || true
    local save=$W; W=$SW; unmount_under_w; W=$save
    rm -rf --one-file-system "$SW"
}

expected_crashed() {
    local tgz=$OUT/root.tar.gz V=$W/verify e=$OUT/EXPECTED.md C n k f ref
    rm -rf "$V"; mkdir -p "$V"
    tar --xattrs --xattrs-include='*' --numeric-owner -xpzf "$tgz" -C "$V"
    C=$V/containerd
    {
        echo "# \`c8d-crashed/\`: what the interrupted pull left in \`root.tar.gz\`"
        echo
        echo "Generated by make-modern.sh from an extraction of the archive (GNU tar, ext4); do not edit"
        echo "by hand. Every command: \`daemon/commands.log\`. containerd's view (\`daemon/ctr/\`) and"
        echo "dockerd's answers (\`daemon/\`) were recorded AFTER the archive was made, by restarting"
        echo "containerd, then dockerd, on the crashed root."
        echo
        echo '```'
        (cd "$HERE" && sha256sum "$NAME/root.tar.gz")
        echo "$(stat -c %s "$tgz") bytes; top level: docker/ (dockerd --data-root), containerd/ (containerd --root)"
        echo '```'
        echo
        echo "## The interrupted pull"
        echo
        echo "\`docker pull $PULL_REF\` (through slowproxy.py to the registry on $REGISTRY_ADDR). Registry manifest:"
        echo
        echo '```json'
        cat "$W/big-manifest.json"
        echo '```'
        echo
        echo "The kill: $(grep '^# CRASH during' "$CMDLOG" | tail -1 | sed 's/^# //')"
        echo
        echo "## Ingests (\`containerd/$CROOT_INGEST/\`)"
        echo
        echo "| dir | ref | total | data bytes (size) | du -sb dir | du -sB1 dir | files |"
        echo "|---|---|---|---|---|---|---|"
        for f in "$C/$CROOT_INGEST"/*; do
            n=${f##*/}
            ref=$(cat "$f/ref" 2>/dev/null || true)
            echo "| \`$n\` | \`$ref\` | $(cat "$f/total" 2>/dev/null || echo -) | $(stat -c %s "$f/data" 2>/dev/null || echo -) | $(du -sb "$f" | cut -f1) | $(du -sB1 "$f" | cut -f1) | $(cd "$f" && ls | tr '\n' ' ') |"
        done
        echo
        echo "## Snapshot dirs made by the pull (\`containerd/$CROOT_SNAP/<n>\`)"
        echo
        echo "Key and kind from \`ctr snapshots ls\` / \`ctr snapshots mounts\` after the restart."
        echo
        echo "| dir | key | kind | parent | du -sb dir | du -sB1 dir | du -sb fs | du -sB1 fs |"
        echo "|---|---|---|---|---|---|---|---|"
        for n in "${NEW_SNAPS[@]}"; do
            k=$(awk -F'\t' -v d="$n" '$3 == d { print $1 }' "$OUT/daemon/ctr/snapshot-dirs-moby.tsv")
            local info kind parent
            info=$(jq -c --arg k "$k" '.[] | select(.Name == $k)' "$OUT/daemon/ctr/snapshots-info-moby.json" 2>/dev/null || true)
            [[ -n $info ]] || info='{}'
            kind=$(jq -r '.Kind // "-"' <<<"$info")
            parent=$(jq -r '.Parent // "-"' <<<"$info")
            echo "| \`$n\` | \`${k:-?}\` | $kind | \`$parent\` | $(du -sb "$C/$CROOT_SNAP/$n" | cut -f1) | $(du -sB1 "$C/$CROOT_SNAP/$n" | cut -f1) | $(du -sb "$C/$CROOT_SNAP/$n/fs" | cut -f1) | $(du -sB1 "$C/$CROOT_SNAP/$n/fs" | cut -f1) |"
        done
        echo
        echo "Files in them:"
        echo
        echo '```'
        for n in "${NEW_SNAPS[@]}"; do (cd "$C/$CROOT_SNAP" && find "$n" -printf '%y %M %12s %p\n' | sort -k4); done
        echo '```'
        echo
        echo "## Blobs of the pulled image in \`containerd/io.containerd.content.v1.content/blobs/sha256/\`"
        echo
        echo "The manifest and what it names (from the registry). Present ones were committed by the pull"
        echo "but are named by no image record: only the pull's lease holds them."
        echo
        echo "| blob | what | registry size | present | size | du -sb | du -sB1 |"
        echo "|---|---|---|---|---|---|---|"
        local bd what rsz bf mdig
        mdig=sha256:$(sha256sum <"$W/big-manifest.raw" | cut -d' ' -f1)
        while IFS=$'\t' read -r bd what rsz; do
            bf=$C/io.containerd.content.v1.content/blobs/sha256/${bd#sha256:}
            if [[ -f $bf ]]; then
                echo "| \`${bd#sha256:}\` | $what | $rsz | yes | $(stat -c %s "$bf") | $(du -sb "$bf" | cut -f1) | $(du -sB1 "$bf" | cut -f1) |"
            else
                echo "| \`${bd#sha256:}\` | $what | $rsz | no | - | - | - |"
            fi
        done < <(printf '%s\tmanifest\t%s\n' "$mdig" "$(stat -c %s "$W/big-manifest.raw")"
            jq -r '"\(.config.digest)\tconfig\t\(.config.size)", (.layers | to_entries[] | "\(.value.digest)\tlayer \(.key + 1)\t\(.value.size)")' "$W/big-manifest.json")
        echo
        echo "## Leases (\`ctr -n moby leases ls\`, after the restart)"
        echo
        echo '```'
        cat "$OUT/daemon/ctr/leases-moby.txt"
        echo '```'
        echo
        echo "## Content blobs (\`ctr -n moby content ls\`, after the restart)"
        echo
        echo '```'
        cat "$OUT/daemon/ctr/content-moby.txt"
        echo '```'
        echo
        echo "## \`containerd/tmpmounts/\`"
        echo
        echo '```'
        (cd "$C" && find tmpmounts -printf '%y %M %12s %p\n' 2>/dev/null | sort -k4)
        echo '```'
        echo
        echo "## Did the restart change these? (ingest, snapshots, tmpmounts on the live root, before vs. after)"
        echo
        if cmp -s "$W/state-before-restart.txt" "$W/state-after-restart.txt"; then
            echo "No: same entries before the restart and after dockerd and containerd stopped again."
        else
            echo '```diff'
            diff "$W/state-before-restart.txt" "$W/state-after-restart.txt" || true
            echo '```'
        fi
    } >"$e"
}

# ------------------------------------------------------- README block -------
readme_block() {
    local n D
    echo "Generated by make-modern.sh at the last capture; do not edit by hand."
    echo
    echo '```'
    for n in c8d c8d-crashed modern; do [[ -f $HERE/$n/root.tar.gz ]] && (cd "$HERE" && sha256sum "$n/root.tar.gz"); done
    echo '```'
    echo
    echo "| root | archive bytes | captured at (UTC) | server | driver | images (\`/images/json?all=1\`) | containers |"
    echo "|---|---|---|---|---|---|---|"
    for n in c8d c8d-crashed modern; do
        D=$HERE/$n/daemon
        [[ -f $HERE/$n/root.tar.gz && -f $D/api-images-all.json ]] || continue
        echo "| $n | $(stat -c %s "$HERE/$n/root.tar.gz") | $(cat "$D/captured-at.txt") | $(jq -r .ServerVersion "$D/info.json") | $(jq -r .Driver "$D/info.json") | $(jq length "$D/api-images-all.json") | $(jq length "$D/api-containers.json") |"
    done
    for n in c8d c8d-crashed modern; do
        D=$HERE/$n/daemon
        [[ -f $D/api-containers.json ]] || continue
        echo
        echo "**$n: containers**"
        echo
        echo "| name | id | state | image (as typed) | image id |"
        echo "|---|---|---|---|---|"
        jq -r 'sort_by(.Names[0])[] | "| \(.Names[0][1:]) | `\(.Id[0:12])` | \(.State) | \(.Image) | `\(.ImageID[7:19])` |"' "$D/api-containers.json"
    done
}
update_readme() {
    local readme=$HERE/README.md block
    grep -q '<!-- BEGIN make-modern.sh -->' "$readme" 2>/dev/null || printf '\n<!-- BEGIN make-modern.sh -->\n<!-- END make-modern.sh -->\n' >>"$readme"
    block=$(mktemp); readme_block >"$block"
    awk -v f="$block" '
        /<!-- BEGIN make-modern.sh -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- END make-modern.sh -->/ { skip = 0 }
        !skip { print }' "$readme" >"$readme.tmp"
    mv "$readme.tmp" "$readme"; rm -f "$block"
}

capture() {
    setup_root "$1"
    if [[ $MODE == c8d ]]; then start_containerd; fi
    start_dockerd
    case $NAME in
    c8d) populate_c8d ;;
    modern) populate_modern ;;
    c8d-crashed) populate_crashed ;;
    esac
    if [[ $NAME != c8d-crashed ]]; then
        record_docker
        stop_dockerd
        [[ $MODE == c8d ]] && record_ctr
        stop_containerd
        kill_leftovers log
    fi
    archive
    if [[ $NAME == c8d-crashed ]]; then record_crashed; fi
    if [[ $MODE == c8d ]]; then annotate_snapshot_dirs; fi
    if [[ $NAME == c8d-crashed ]]; then expected_crashed; fi
    publish
    remove_workdir
}

main() {
    ensure_packages
    ensure_binaries
    local r
    if [[ ${ROOTS[*]} == readme ]]; then update_readme; return 0; fi
    if [[ ${ROOTS[0]} == exports ]]; then exports_on_copy "${ROOTS[1]:?exports what?}"; return 0; fi
    if [[ ${ROOTS[0]} == annotate ]]; then   # annotate <c8d root>: only daemon/ctr/snapshot-dirs-*.tsv
        NAME=${ROOTS[1]:?annotate what?} OUT=$HERE/${ROOTS[1]}
        W=$CAPTURE_BASE/$NAME-annotate CMDLOG=$OUT/daemon/commands.log
        rm -rf "$W"; mkdir -p "$W"
        annotate_snapshot_dirs
        rm -rf "$W"
        return 0
    fi
    for r in "${ROOTS[@]}"; do capture "$r"; done
    update_readme
}
main
