# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dockscope_global_optspecs
    string join \n root= json color= h/help V/version
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
complete -c dockscope -n "__fish_dockscope_needs_command" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_needs_command" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
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
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "logs" -d 'A container\'s log, as `docker logs` prints it (json-file and local drivers, rotated and compressed files); stdout entries to stdout, stderr entries to stderr'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish) to stdout'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c dockscope -n "__fish_dockscope_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -s a -l all -d 'In the forest, also name the classic builder\'s intermediate images; for one image, count them in SHARED WITH (default: the images `docker images` lists)'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l no-trunc -d 'Full ids and build steps as recorded, not cut to the terminal\'s width'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand tree" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s a -l all -d 'Also list intermediate images, as `docker images -a`'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand images" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand info" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
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
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l apparent-size -d 'Rank by apparent size (as `du -b`) instead of allocated blocks'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l bytes -d 'Print exact byte counts instead of human sizes'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l system-df -d 'Print only `docker system df`\'s table, as the docker CLI prints it'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -s v -l verbose -d 'With --system-df: also list images, containers, volumes and build cache records, as `docker system df -v` (times relative to now)'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand du" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l print0 -d 'Print the reclaimable findings\' paths, NUL-separated, for review (nothing is deleted)'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand orphans" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l allow -d 'Let findings of this kind pass (repeatable; `problem` lets unreadable input pass)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l max-orphan-bytes -d 'Let reclaimable leftovers pass while they hold at most N bytes (on disk)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l format -d 'Output format (`--json` is the same as `--format json`)' -r -f -a "text\t''
json\t''
prometheus\t'node_exporter textfile-collector metrics'"
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s a -l all -d 'All containers (default: those recorded running, paused or restarting)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s s -l size -d 'Add SIZE: the RW layer and, in brackets, the whole root filesystem (walks the root)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l show-env -d 'Show Env values in `--json` (hidden by default: they may hold secrets)'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l no-trunc -d 'Full ids and commands, as `docker ps --no-trunc`'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand ps" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l no-trunc -d 'Full ids and CREATED BY, as `docker history --no-trunc`'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand history" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l show-env -d 'Show Env values (hidden by default: they may hold secrets)'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -s s -l size -d 'Add containers\' SizeRw and SizeRootFs (walks the root)'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand volumes" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l content -d 'Also compare every layer file with its tar-split record, and list containers\' drift'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l deep -d 'Also rebuild every layer\'s tar and compare its SHA-256 with the DiffID (implies --content)'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand verify" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l since -d 'Only entries at or after this time: a duration before now (10m, 1h30m), an RFC 3339 time, a date, or Unix seconds' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l until -d 'Only entries at or before this time (same forms as --since)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s n -l tail -d 'Only the last N entries (`all` for every one)' -r
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s t -l timestamps -d 'Prefix each entry with its time (RFC 3339, nanoseconds)'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand logs" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand completions" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l root -d 'The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one' -r -F
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l color -d 'Colour states and findings: `auto` on a terminal unless NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -l json -d 'Print one JSON object (schema: docs/json.md) instead of tables'
complete -c dockscope -n "__fish_dockscope_using_subcommand man" -s h -l help -d 'Print help'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "tree" -d 'An image\'s layer stack, or with no IMAGE the forest of all images'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "images" -d 'Images, as `docker images` lists them'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "info" -d 'What the root holds: layouts, counts, version hints and problems'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "du" -d 'Disk usage per area, image, layer, container and volume, and `docker system df`'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "orphans" -d 'Leftovers nothing references and broken references, with the bytes each holds'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "check" -d 'Orphans and consistency as one answer for CI: exit 0 clean, 1 findings, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "ps" -d 'Containers, as `docker ps` lists them, in their state when the root was captured'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "history" -d 'An image\'s build steps, as `docker history` lists them'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "inspect" -d 'Containers or images in `docker inspect`\'s JSON, with the files each fact came from'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "volumes" -d 'Volumes, with driver, size, the containers using them, anonymity and labels'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "verify" -d 'Do the files still say what Docker recorded? Exit 0 clean, 1 mismatches, 2 unreadable'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "logs" -d 'A container\'s log, as `docker logs` prints it (json-file and local drivers, rotated and compressed files); stdout entries to stdout, stderr entries to stderr'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish) to stdout'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "man" -d 'Print the man page (roff) to stdout'
complete -c dockscope -n "__fish_dockscope_using_subcommand help; and not __fish_seen_subcommand_from tree images info du orphans check ps history inspect volumes verify logs completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
