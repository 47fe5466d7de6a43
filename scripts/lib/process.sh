# Shell helpers shared by scripts/servers and scripts/stack (sourced, not run).

# Whether a pid is a live process. A zombie counts as gone: it has closed its sockets, and the init
# of a container may be slow to reap it.
process_alive() { [[ -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# Whether the pid written in a file is a live process.
pid_alive() { [[ -f $1 ]] && process_alive "$(head -n 1 "$1")"; }
