# shellcheck shell=bash
# Where the clone's var/ really is: the local stack and the benchmarks keep data, sockets and logs
# there (sourced, not run).
#
# As root, PostgreSQL runs as the 'postgres' user and nginx's workers as 'www-data', and each must
# enter every folder on the way to its files. A clone inside a folder that other users cannot enter
# (root's home is 0700 on Debian, and so is a `mktemp -d` folder) therefore keeps var/ as a link to
# a folder of its own under /var/lib/skillup-local/, named after the clone's path.

# Whether users other than the owner can enter DIR (every folder on the way included).
others_can_enter() {
  [[ $(id -u) -ne 0 ]] || runuser -u nobody -- test -x "$1"
}

# project_var_dir ROOT [--create]: prints the real path of ROOT/var; with --create, makes it (and
# the link, when var/ lives outside the clone).
project_var_dir() {
  local root=$1 create=${2:-} outside
  if [[ -L $root/var ]]; then
    outside=$(readlink -m "$root/var")
    [[ $create == --create ]] && mkdir -p "$outside"
    echo "$outside"
  elif [[ -e $root/var ]] || others_can_enter "$root"; then
    [[ $create == --create ]] && mkdir -p "$root/var"
    echo "$root/var"
  else
    outside=/var/lib/skillup-local/$(printf '%s' "$root" | sha256sum | cut -c1-16)
    if [[ $create == --create ]]; then
      mkdir -p "$outside"
      chmod 755 /var/lib/skillup-local "$outside"
      ln -s "$outside" "$root/var"
      echo "stack: $root cannot be entered by the postgres and www-data users, so var/ links to $outside" >&2
    fi
    echo "$outside"
  fi
}

# Stops with one line naming the cause when DIR cannot hold a stack's state (as root only).
require_enterable_state() {
  local dir=$1
  others_can_enter "$dir" && return 0
  echo "stack: the postgres and www-data users cannot enter $dir (a folder on its path is closed to" \
    "other users). Point SKILLUP_STATE at a folder they can enter, or remove $dir and let" \
    "'scripts/stack up' keep the state under /var/lib/skillup-local/" >&2
  exit 1
}
