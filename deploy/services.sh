#!/usr/bin/env bash
# Local Kafka + Redis for development and CI (no Docker needed).
#
#   deploy/services.sh up       fetch/install, start both, wait until ready
#   deploy/services.sh down     stop both
#   deploy/services.sh status   show both
#
# Honours the same environment as deploy/kafka.sh and deploy/redis.sh
# (KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT, SERVICES_DIR, ...).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
KAFKA=$SCRIPT_DIR/kafka.sh
REDIS=$SCRIPT_DIR/redis.sh

case ${1:-} in
  up)
    bash "$KAFKA" fetch
    bash "$REDIS" start
    bash "$KAFKA" start
    ;;
  down)
    # Stop both even if the first one fails.
    rc=0
    bash "$KAFKA" stop || rc=$?
    bash "$REDIS" stop || rc=$?
    exit "$rc"
    ;;
  status)
    bash "$KAFKA" status
    bash "$REDIS" status
    ;;
  *)
    echo "usage: $0 {up|down|status}" >&2
    exit 2
    ;;
esac
