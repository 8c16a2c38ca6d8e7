#!/usr/bin/env bash
# Local Kafka, Redis and Alertmanager for development and CI (no Docker needed).
#
#   deploy/services.sh up       fetch/install, start all three, wait until ready
#   deploy/services.sh down     stop all three
#   deploy/services.sh status   show all three
#
# Honours the same environment as deploy/kafka.sh, deploy/redis.sh and deploy/alertmanager.sh
# (KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT, ALERTMANAGER_PORT, SERVICES_DIR, ...).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
KAFKA=$SCRIPT_DIR/kafka.sh
REDIS=$SCRIPT_DIR/redis.sh
ALERTMANAGER=$SCRIPT_DIR/alertmanager.sh

case ${1:-} in
  up)
    bash "$KAFKA" fetch
    bash "$REDIS" start
    bash "$ALERTMANAGER" start
    bash "$KAFKA" start
    ;;
  down)
    # Stop each even if another fails.
    rc=0
    bash "$KAFKA" stop || rc=$?
    bash "$REDIS" stop || rc=$?
    bash "$ALERTMANAGER" stop || rc=$?
    exit "$rc"
    ;;
  status)
    bash "$KAFKA" status
    bash "$REDIS" status
    bash "$ALERTMANAGER" status
    ;;
  *)
    echo "usage: $0 {up|down|status}" >&2
    exit 2
    ;;
esac
