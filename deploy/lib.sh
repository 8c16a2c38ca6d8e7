# shellcheck shell=bash
# Shell helpers shared by deploy/kafka.sh and deploy/redis.sh (sourced, not run).
# The sourcing script sets SERVICE (its name in messages) before sourcing.

log() { printf '%s\n' "$*"; }
die() { printf '%s: error: %s\n' "$SERVICE" "$*" >&2; exit 1; }

# Run a command as root (apt-get), via sudo only when we are not root.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Serialise start/stop/fetch of one service: take_lock DIR SECONDS.
take_lock() {
  command -v flock >/dev/null || return 0
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock -w "$2" 9 || die "another deploy/$SERVICE.sh has held $1/.lock for $2 seconds"
}

pid_alive() {
  local pid=$1 stat
  kill -0 "$pid" 2>/dev/null || return 1
  # A killed process whose parent does not reap it (e.g. a container whose
  # PID 1 is not an init) lingers as a zombie: kill -0 succeeds, but it is dead.
  if [[ -r /proc/$pid/stat ]]; then
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
  fi
}

# Stop a process: SIGTERM, wait up to $2 seconds, then SIGKILL; die if it survives.
terminate() {
  local pid=$1 grace=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 2; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.5
  done
  log "$SERVICE: still running after $grace s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.5
  done
  die "could not stop pid $pid"
}
