# shellcheck shell=bash
# For the benchmarks that measure a whole stack (sourced, not run): nginx's request-rate limits out
# of the way, and a user on a plan without limits. Needs the stack's SKILLUP_POSTGRES_PORT.

# raise_rate_limits STATE: every limit so high that nothing is refused (each request still pays its
# lookups). The bursts too: nginx counts in whole milliseconds, so wrk's connections starting in the
# same one passed a burst of 10 whatever the rate.
raise_rate_limits() {
  sed -i -E 's/rate=[0-9]+r\/[sm]/rate=1000000r\/s/' "$1/nginx/conf/conf.d/rate-limits.conf"
  grep -rlE 'burst=[0-9]+' "$1/nginx/conf" | xargs -r sed -i -E 's/burst=[0-9]+/burst=100000/'
  nginx -p "$1/nginx/" -c "$1/nginx/conf/nginx.conf" -s reload
}

# unlimited_user STATE BASE_URL: registers a user on the 'bench' plan (made if missing) and prints
# its access token.
unlimited_user() {
  local state=$1 base=$2 email credentials
  PGPASSWORD=$(<"$state/postgres/password") psql -q -X -h 127.0.0.1 -p "$SKILLUP_POSTGRES_PORT" -U skillup -d skillup -c "INSERT INTO billing.plans (code, title, price_cents,
    requests_per_minute, generations_per_month, features, generations_per_day, tasks_at_once) VALUES ('bench', 'Bench', 100, 1000000,
    100000000, ARRAY['generate.short', 'generate.long'], 100000000, 100000000) ON CONFLICT (code) DO NOTHING" >/dev/null
  email="bench-$RANDOM$RANDOM@example.com"
  credentials="{\"email\":\"$email\",\"password\":\"a bench passphrase\"}"
  curl -sk -o /dev/null -H 'Content-Type: application/json' -d "$credentials" "$base/auth/register"
  # shellcheck source=/dev/null # stack.env is written by scripts/stack up
  (set -a; source "$state/stack.env"; set +a; ".build/${SKILLUP_BUILD:-release}/skillctl" subscriptions grant "$email" bench --days 30 >/dev/null)
  # The grant reaches every authd within a second.
  sleep 1
  curl -sk -H 'Content-Type: application/json' -d "$credentials" "$base/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
