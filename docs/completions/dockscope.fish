# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dockscope_global_optspecs
    string join \n root= json containerd-root= namespace= as-of= no-sandbox color= h/help V/version
end

function __fish_dockscope_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_dockscope_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_dockscope_using_subcommand
    set -l cmd (__fish_dockscope_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c dockscope -n "__fish_dockscope_needs_command" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_needs_command" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_needs_command" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_needs_command" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_needs_command" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_needs_command" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_needs_command" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_needs_command" -s V -l version -d 'Print version'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "tree" -d 'An image\'s layer stack, or with no IMAGE the forest of all images'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "images" -d 'Images, as `docker images` lists them'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "info" -d 'What the root holds: layouts, counts, version hints and problems'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "du" -d 'Disk usage per area, image, layer, container and volume, and `docker system df`'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "orphans" -d 'Leftovers nothing references and broken references, with the bytes each holds'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "check" -d 'Orphans and consistency as one answer for CI: exit 0 clean, 1 findings, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "ps" -d 'Containers, as `docker ps` lists them, in their state when the root was captured'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "history" -d 'An image\'s build steps, as `docker history` lists them'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "inspect" -d 'Containers or images in `docker inspect`\'s JSON, with the files each fact came from'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "volumes" -d 'Volumes, with driver, size, the containers using them, anonymity and labels'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "verify" -d 'Do the files still say what Docker recorded? Exit 0 clean, 1 mismatches, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "ls" -d 'Files of an image or container (merged view) or of one layer, as `ls`'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "diff" -d 'A container\'s changes as `docker diff` lists them, or two images/layers compared'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "cat" -d 'A file of an image, container or layer, to stdout (symlinks resolved inside the view)'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "export" -d 'A layer as the tar Docker would produce, or a view or subtree as a tar file'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "find" -d 'Files by name, path, type, size, mode bits, time or owner, with the layers holding them'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "trace" -d 'The life of one path through a layer stack: created, changed, deleted, by which step'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "waste" -d 'Bytes an image\'s lower layers hold that upper layers overwrite or delete'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "timeline" -d 'What the root records, as one sorted list of timestamped events with their source files'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "logs" -d 'A container\'s log, as `docker logs` prints it (json-file and local drivers, rotated and compressed files); stdout entries to stdout, stderr entries to stderr'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish) to stdout'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "capture" -d 'Write a small, secret-free archive of the root that `--root FILE` reads like the root'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -s a -l all -d 'In the forest, also name the classic builder\'s intermediate images; for one image, count them in SHARED WITH (default: the images `docker images` lists)'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l no-trunc -d 'Full ids and build steps as recorded, not cut to the terminal\'s width'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s f -l filter -d 'Filter as `docker images --filter`: dangling=true|false, label=KEY[=VALUE], before=IMAGE, since=IMAGE, until=TIME, reference=GLOB (repeatable)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l format -d 'Print with a Go template, as `docker images --format` (`json`, `table …`, `{{.ID}}` …)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s a -l all -d 'Also list intermediate images, as `docker images -a`'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s q -l quiet -d 'Only image ids, one per row docker would print'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l digests -d 'Show digests'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l no-trunc -d 'Full image ids'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l sort -d 'Order of the rows' -r -f -a "size\t''
name\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l top -d 'Show only the first N rows' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l by -d 'What the table lists' -r -f -a "area\t''
image\t''
layer\t''
container\t''
volume\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l df-compat -d 'Whose rule `shared_size` follows: Docker 23+ (every image counts) or 20.10 (only listed images). Default: the rule of the Docker release the root\'s version hints name' -r -f -a "23\t'Docker 23 and later: every image counts when deciding what is shared'
20.10\t'Docker 20.10: only the images `docker images` lists count'"
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l apparent-size -d 'Rank by apparent size (as `du -b`) instead of allocated blocks'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l bytes -d 'Print exact byte counts instead of human sizes'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l system-df -d 'Print only `docker system df`\'s table, as the docker CLI prints it'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -s v -l verbose -d 'With --system-df: also list images, containers, volumes and build cache records, as `docker system df -v` (times relative to now)'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l print0 -d 'Print the reclaimable findings\' paths, NUL-separated, for review (nothing is deleted)'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l allow -d 'Let findings of this kind pass (repeatable; `problem` lets unreadable input pass)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l max-orphan-bytes -d 'Let reclaimable leftovers pass while they hold at most N bytes (on disk)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l format -d 'Output format (`--json` is the same as `--format json`)' -r -f -a "text\t''
json\t''
prometheus\t'node_exporter textfile-collector metrics'"
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l strict -d 'Also fail on broken references that hold no bytes (a container whose image was removed with `rmi -f`, a tag naming no image)'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s n -l last -d 'The N most recently created containers, whatever their state' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s f -l filter -d 'Filter as `docker ps --filter`: status=, name=, id=, ancestor=, exited=, label=, volume=, network=, health=, before=, since= (repeatable)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l format -d 'Print with a Go template, as `docker ps --format`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s a -l all -d 'All containers (default: those recorded running, paused or restarting)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s s -l size -d 'Add SIZE: the RW layer and, in brackets, the whole root filesystem (walks the root)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l show-env -d 'Show Env values in `--json` (hidden by default: they may hold secrets)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l no-trunc -d 'Full ids and commands, as `docker ps --no-trunc`'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s q -l quiet -d 'Only container ids'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s l -l latest -d 'The most recently created container, whatever its state'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -s H -l human -d 'Human sizes and times (`--human=false`: RFC 3339 times and byte counts, as docker)' -r -f -a "true\t''
false\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l format -d 'Print with a Go template, as `docker history --format`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l no-trunc -d 'Full ids and CREATED BY, as `docker history --no-trunc`'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -s q -l quiet -d 'Only the ids (`<missing>` where docker prints it)'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -s f -l format -d 'Print each object with a Go template, as `docker inspect --format`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l show-env -d 'Show Env values (hidden by default: they may hold secrets)'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -s s -l size -d 'Add containers\' SizeRw and SizeRootFs (walks the root)'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -s f -l filter -d 'Filter as `docker volume ls --filter`: dangling=true|false, name=REGEX, driver=NAME, label=KEY[=VALUE] (repeatable)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l format -d 'Print with a Go template, as `docker volume ls --format`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -s q -l quiet -d 'Only volume names'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l content -d 'Also compare every layer file with its tar-split record, and list containers\' drift'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l deep -d 'Also rebuild every layer\'s tar and compare its SHA-256 with the DiffID (implies --content)'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -s l -l long -d 'Long listing: type, mode, owner, size, mtime, layer, link target'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -s R -l recursive -d 'List subdirectories recursively'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l rw -d 'A container\'s own RW layer alone (its whiteouts and opaque dirs shown as such)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand diff" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l rw -d 'A container\'s own RW layer alone'
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand cat" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -s o -l output -d 'The tar file to write (outside the root)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l force -d 'Replace FILE if it exists'
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l rw -d 'A container\'s own RW layer alone'
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand export" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l name -d 'File name glob (`*`, `?`, `[...]`), as `find -name`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l path -d 'Path glob on the whole path (`/usr/*/python*`), as `find -path`' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l type -d 'Type: f, d, l, c, b, p, s' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l size -d 'Size as `find -size`: `+10M` (more than), `-4k` (less than), `100` (exactly, bytes)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l newer -d 'Modified after TIME (RFC 3339 or YYYY-MM-DD)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l older -d 'Modified before TIME (RFC 3339 or YYYY-MM-DD)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l uid -d 'Owner uid' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l gid -d 'Group gid' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l setuid -d 'Setuid files'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l setgid -d 'Setgid files'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l world-writable -d 'World-writable entries (symlinks left out)'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l in-containers -d 'Only what containers hold: their RW layers and the image layers under them'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l rw -d 'With a container TARGET: its own RW layer alone'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand find" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand trace" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l top -d 'Show only the first N paths' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand waste" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l format -d 'Output format (`--json` is the same as `--format json`)' -r -f -a "text\t''
json\t''
csv\t''
bodyfile\t'Sleuth Kit bodyfile 3.x (for `mactime`)'"
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l files -d 'Also the mtimes of the files in containers\' RW layers'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l csv -d 'Same as `--format csv`'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l bodyfile -d 'Same as `--format bodyfile`'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand timeline" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l since -d 'Only entries at or after this time: a duration before now (10m, 1h30m), an RFC 3339 time, a date, or Unix seconds' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l until -d 'Only entries at or before this time (same forms as --since)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s n -l tail -d 'Only the last N entries (`all` for every one)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s t -l timestamps -d 'Prefix each entry with its time (RFC 3339, nanoseconds)'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -s o -l output -d 'The archive to write: FILE.tar.zst, FILE.tar.gz or FILE.tar (outside the root)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l include-content -d 'Keep the contents of layer files up to BYTES (for `verify --content`; default none)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l containerd-root -d 'containerd\'s root (or an archive of it) for Docker\'s containerd image store (default: `containerd/` beside the root, else `<root>/containerd/daemon`)' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l namespace -d 'containerd namespace holding Docker\'s images (containerd image store)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l as-of -d 'Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when the disk was imaged (default: now)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l force -d 'Replace FILE if it exists'
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l keep-env -d 'Keep Env values in container and image configs (default: `NAME=<redacted>`)'
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -l no-sandbox -d 'Do not enter the Landlock sandbox (read-only beneath --root, no writes); for debugging'
complete -c dockscope -n "__fish_dockscope_using_subcommand capture" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "tree" -d 'An image\'s layer stack, or with no IMAGE the forest of all images'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "images" -d 'Images, as `docker images` lists them'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "info" -d 'What the root holds: layouts, counts, version hints and problems'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "du" -d 'Disk usage per area, image, layer, container and volume, and `docker system df`'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "orphans" -d 'Leftovers nothing references and broken references, with the bytes each holds'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "check" -d 'Orphans and consistency as one answer for CI: exit 0 clean, 1 findings, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "ps" -d 'Containers, as `docker ps` lists them, in their state when the root was captured'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "history" -d 'An image\'s build steps, as `docker history` lists them'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "inspect" -d 'Containers or images in `docker inspect`\'s JSON, with the files each fact came from'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "volumes" -d 'Volumes, with driver, size, the containers using them, anonymity and labels'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "verify" -d 'Do the files still say what Docker recorded? Exit 0 clean, 1 mismatches, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "ls" -d 'Files of an image or container (merged view) or of one layer, as `ls`'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "diff" -d 'A container\'s changes as `docker diff` lists them, or two images/layers compared'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "cat" -d 'A file of an image, container or layer, to stdout (symlinks resolved inside the view)'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "export" -d 'A layer as the tar Docker would produce, or a view or subtree as a tar file'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "find" -d 'Files by name, path, type, size, mode bits, time or owner, with the layers holding them'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "trace" -d 'The life of one path through a layer stack: created, changed, deleted, by which step'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "waste" -d 'Bytes an image\'s lower layers hold that upper layers overwrite or delete'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "timeline" -d 'What the root records, as one sorted list of timestamped events with their source files'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "logs" -d 'A container\'s log, as `docker logs` prints it (json-file and local drivers, rotated and compressed files); stdout entries to stdout, stderr entries to stderr'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish) to stdout'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "capture" -d 'Write a small, secret-free archive of the root that `--root FILE` reads like the root'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify ls diff cat export find trace waste timeline logs completions man capture help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
