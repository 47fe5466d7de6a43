# shellcheck shell=bash
# Shell helpers shared by scripts/servers and scripts/stack (sourced, not run).

# Whether a pid is a live process. A zombie counts as gone: it has closed its sockets, and the init
# of a container may be slow to reap it.
process_alive() { [[ $1 =~ ^[0-9]+$ && -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# Whether the pid written in a file is a live process.
pid_alive() { [[ -f $1 ]] && process_alive "$(head -n 1 "$1")"; }

# Closes every descriptor above standard error. Servers and daemons started afterwards outlive the
# script: they must not keep a caller's pipe, socket or lock open (a test harness waits for its pipes
# to close, and `flock` holds its lock until every copy of the descriptor is gone).
close_inherited_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd"/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null || true
  done
}
