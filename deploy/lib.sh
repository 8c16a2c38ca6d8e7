# shellcheck shell=bash
# Shell helpers shared by deploy/kafka.sh, deploy/redis.sh and deploy/alertmanager.sh
# (sourced, not run).
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
  # The process may end between the two checks: a failed $(<file) would end the whole
  # script, a failed read only this test.
  if [[ -r /proc/$pid/stat ]]; then
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
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

# Install Debian packages that ship a system service without letting the package start that
# service (it would take the port we want): a policy-rc.d that answers 101 ("action
# forbidden") is the standard Debian way to keep invoke-rc.d / deb-systemd-invoke from
# starting services. apt/debconf chatter goes to LOG, shown only if the install fails.
#   apt_install_quietly LOG PACKAGE...
apt_install_quietly() {
  local install_log=$1
  shift
  command -v apt-get >/dev/null || die "$* not found and no apt-get; install $* first"
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    added_policy=1
    # Do not leave it behind if we are interrupted mid-install.
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  mkdir -p "$(dirname "$install_log")"
  {
    as_root apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  } >"$install_log" 2>&1 || rc=$?
  if ((added_policy)); then
    as_root rm -f "$policy"
    trap - EXIT
  fi
  if ((rc != 0)); then
    cat "$install_log" >&2
    die "apt-get install $* failed (log: $install_log)"
  fi
}

# Wait until the command CHECK succeeds: wait_ready CHECK SECONDS WHAT. After SECONDS, or as
# soon as the pid file names a process that has ended, show the log's tail and die (WHAT says
# what was not ready). For a service script that defines running_pid, PID_FILE and LOG_FILE.
wait_ready() {
  local check=$1 timeout=$2 what=$3 deadline=$((SECONDS + $2))
  until "$check"; do
    if ((SECONDS >= deadline)); then
      [[ -s $LOG_FILE ]] && tail -n 20 "$LOG_FILE" >&2
      die "$what after ${timeout}s"
    fi
    if [[ -f $PID_FILE ]] && ! running_pid >/dev/null; then
      [[ -s $LOG_FILE ]] && tail -n 20 "$LOG_FILE" >&2
      die "$SERVICE exited during start-up (log: $LOG_FILE)"
    fi
    sleep 0.5
  done
}

# The command line of a service script that defines cmd_start, cmd_stop, cmd_status and
# cmd_wait: service_main HOME "$@" (start and stop hold the lock of HOME).
service_main() {
  local home=$1
  shift
  if [[ $# -ne 1 ]]; then
    echo "usage: $0 {start|stop|status|wait}" >&2
    exit 2
  fi
  case $1 in
    start) take_lock "$home" 120; cmd_start ;;
    stop) take_lock "$home" 120; cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    *)
      echo "usage: $0 {start|stop|status|wait}" >&2
      exit 2
      ;;
  esac
}

# The stop and status commands of a service script that defines running_pid (prints the pid
# of the service's process when it runs) and PID_FILE.
#   stop_service GRACE_SECONDS      SIGTERM, then SIGKILL after GRACE_SECONDS
#   status_service ADDRESS
stop_service() {
  local pid
  if ! pid=$(running_pid); then
    log "$SERVICE: not running"
    return 0
  fi
  log "$SERVICE: stopping (pid $pid)"
  terminate "$pid" "$1"
  rm -f "$PID_FILE"
}

status_service() {
  local pid
  if pid=$(running_pid); then
    log "$SERVICE: running (pid $pid, $1)"
  else
    log "$SERVICE: stopped"
  fi
}
