# shellcheck shell=bash
# Renders monitoring/ into a folder Prometheus, the blackbox exporter and mtail run from, for the
# local stack (scripts/stack up --monitoring) and a host (scripts/install-host) alike:
#
#   render_monitoring REPO OUT_DIR RULES_PARENT SCRAPE_INTERVAL METRICS_PORT MTAIL_PORT RABBITMQ_METRICS_PORT HTTPS_PORT BLACKBOX_PORT [CA_FILE]
#
# OUT_DIR gets prometheus.yml (its rule files RULES_PARENT/rules/*.yml), blackbox.yml and
# mtail/nginx-access.mtail. With CA_FILE the probe trusts that certificate (a self-signed one);
# without, it checks the gateway's certificate as any client would.
render_monitoring() {
  local repo=$1 out=$2 rules_parent=$3 interval=$4 metrics=$5 mtail=$6 rabbitmq=$7 https=$8 blackbox=$9 ca=${10:-}
  mkdir -p "$out/mtail"
  sed -e "s|@SCRAPE_INTERVAL@|$interval|g" -e "s|@MONITORING_DIR@|$rules_parent|g" -e "s|@METRICS_PORT@|$metrics|g" \
    -e "s|@MTAIL_PORT@|$mtail|g" -e "s|@RABBITMQ_METRICS_PORT@|$rabbitmq|g" -e "s|@HTTPS_PORT@|$https|g" \
    -e "s|@BLACKBOX_PORT@|$blackbox|g" "$repo/monitoring/prometheus.yml" >"$out/prometheus.yml"
  if [[ -n $ca ]]; then
    sed -e "s|@TLS_CERTIFICATE@|$ca|g" "$repo/monitoring/blackbox.yml" >"$out/blackbox.yml"
  else
    sed -e '/tls_config:/d' -e '/@TLS_CERTIFICATE@/d' "$repo/monitoring/blackbox.yml" >"$out/blackbox.yml"
  fi
  cp "$repo/monitoring/nginx-access.mtail" "$out/mtail/"
  chmod 0644 "$out/prometheus.yml" "$out/blackbox.yml" "$out/mtail/nginx-access.mtail"
}
