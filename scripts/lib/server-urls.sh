# shellcheck shell=bash
# The addresses of the servers scripts/servers started under a state folder, with the passwords it
# made there (sourced, not run): for the stack's stack.env, the test command and the benchmarks.
#
#   server_url postgres STATE [DATABASE]   postgresql://skillup:...@127.0.0.1:PORT/DATABASE (skillup)
#   server_url rabbitmq STATE [VHOST]      amqp://skillup:...@127.0.0.1:PORT/VHOST (/)
#   server_url redis STATE                 redis://default:...@127.0.0.1:PORT
#   server_url redis-socket STATE          unix://default:...@STATE/redis/redis.sock
#   server_password NAME STATE             the password alone (PGPASSWORD for psql)

server_password() {
  [[ -s $2/$1/password ]] || { echo "no password in $2/$1/password: was $1 started by scripts/servers?" >&2; return 1; }
  cat "$2/$1/password"
}

# A file's absolute path as a URL's path: the characters that would end or change it escaped.
url_path() {
  local path
  path=$(readlink -m "$1")
  path=${path//%/%25} path=${path// /%20} path=${path//#/%23} path=${path//\?/%3F}
  echo "$path"
}

server_url() {
  local name=$1 state=$2 port
  [[ $name == redis-socket ]] && { echo "unix://default:$(server_password redis "$state")@$(url_path "$state/redis/redis.sock")"; return; }
  port=$(<"$state/$name/port")
  case $name in
    postgres) echo "postgresql://skillup:$(server_password postgres "$state")@127.0.0.1:$port/${3:-skillup}" ;;
    rabbitmq) echo "amqp://skillup:$(server_password rabbitmq "$state")@127.0.0.1:$port/${3:-}" ;;
    redis) echo "redis://default:$(server_password redis "$state")@127.0.0.1:$port" ;;
  esac
}
