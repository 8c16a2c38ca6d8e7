#!/usr/bin/env bash
# Checks of what deploy/ hands to operators, run by scripts/test:
#   - the Prometheus alerting rules: `promtool check rules`, and `promtool test rules` on
#     series that must (and must not) raise each alert;
#   - the Grafana dashboard: it parses as JSON;
#   - the Kubernetes manifests: valid against the Kubernetes JSON schemas (kubernetes-validate,
#     strict: unknown fields are errors), offline with the schemas that package ships.
# promtool comes from Debian's prometheus package, installed with apt-get when missing.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SERVICE=check
# shellcheck source=deploy/lib.sh
source "$SCRIPT_DIR/lib.sh"

PYTHON=${PYTHON:-python3}

if ! command -v promtool >/dev/null; then
  log "check: installing promtool (Debian package prometheus) with apt-get"
  # Without starting the Prometheus service the package ships (it would take port 9090).
  apt_install_quietly "$(mktemp -t streamwatch-promtool-install.XXXXXX)" prometheus
fi

promtool check rules "$SCRIPT_DIR/prometheus/rules.yml"
(cd "$SCRIPT_DIR/prometheus" && promtool test rules rules.test.yml)
"$PYTHON" -m json.tool "$SCRIPT_DIR/grafana/streamwatch.json" >/dev/null
log "check: deploy/grafana/streamwatch.json parses"
"$PYTHON" -m kubernetes_validate --strict --quiet "$SCRIPT_DIR"/kubernetes/*.yaml
log "check: deploy/kubernetes/*.yaml valid against the Kubernetes schemas (strict)"
