#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, no ZooKeeper, no Docker) for
# development and CI.
#
#   deploy/kafka.sh fetch    download the pinned Kafka jars with Maven (once)
#   deploy/kafka.sh start    fetch, render config, format storage (once), start, wait
#   deploy/kafka.sh wait     wait until the broker answers Kafka API requests
#   deploy/kafka.sh status   print "running" or "stopped"
#   deploy/kafka.sh stop     SIGTERM, wait up to 30 s, then SIGKILL
#   deploy/kafka.sh reset    stop and delete the data dir (keeps the jars)
#   deploy/kafka.sh produce TOPIC   console producer: lines "customer_id<TAB>json" on stdin
#   deploy/kafka.sh consume TOPIC   console consumer: print TOPIC from the beginning
#   deploy/kafka.sh sasl-env        print the STREAMWATCH_KAFKA_* settings of the SASL_SSL
#                                   listener (SCRAM-SHA-512), for eval or an env file
#
# Besides PLAINTEXT on KAFKA_PORT the broker listens with SASL_SSL on KAFKA_SASL_PORT: mechanisms
# PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for user KAFKA_SASL_USER, with a broker certificate
# (127.0.0.1 and localhost) signed by a throwaway CA made on first start in $KAFKA_HOME/tls
# (ca.pem verifies the broker; client.pem/client.key are a client certificate it accepts).
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_SASL_PORT (9094),
# KAFKA_SASL_USER (streamwatch), KAFKA_SASL_PASSWORD (streamwatch-secret),
# SERVICES_DIR (<repo>/.services), KAFKA_WAIT_TIMEOUT (90 seconds),
# KAFKA_HEAP_OPTS (-Xms128m -Xmx512m). produce/consume use STREAMWATCH_KAFKA and the
# STREAMWATCH_KAFKA_* security settings when they are set, as every streamwatch client does.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)

SERVICES_DIR=${SERVICES_DIR:-$REPO_ROOT/.services}
# Resolve a relative SERVICES_DIR now: the broker runs with a different cwd.
[[ $SERVICES_DIR == /* ]] || SERVICES_DIR=$PWD/$SERVICES_DIR

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_SASL_PORT=${KAFKA_SASL_PORT:-9094}
KAFKA_SASL_USER=${KAFKA_SASL_USER:-streamwatch}
KAFKA_SASL_PASSWORD=${KAFKA_SASL_PASSWORD:-streamwatch-secret}
KAFKA_WAIT_TIMEOUT=${KAFKA_WAIT_TIMEOUT:-90}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
NODE_ID=1 # must match node.id in the template

CONF_DIR=$SCRIPT_DIR/kafka
POM=$CONF_DIR/pom.xml
KAFKA_HOME=$SERVICES_DIR/kafka
LIB_DIR=$KAFKA_HOME/lib
DATA_DIR=$KAFKA_HOME/data
LOG_DIR=$KAFKA_HOME/logs
CONFIG=$KAFKA_HOME/server.properties
PID_FILE=$KAFKA_HOME/kafka.pid
OUT_FILE=$KAFKA_HOME/kafka.out # JVM stdout/stderr; the broker log is $LOG_DIR/server.log
FETCH_STAMP=$LIB_DIR/.fetched  # sha256 of the pom the jars were fetched with
TLS_DIR=$KAFKA_HOME/tls
# Protects only the broker's keystore of a throwaway CA; not a secret.
TLS_STORE_PASSWORD=streamwatch-local

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")

# Short-lived tool JVMs (storage format, readiness probe): small heap and
# C1 only, because start-up time matters more than peak speed.
TOOL_JAVA_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  "-Dlog4j.configuration=file:$CONF_DIR/tools-log4j.properties")

SERVICE=kafka
# shellcheck source=deploy/lib.sh
source "$SCRIPT_DIR/lib.sh"


ensure_tools() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  command -v openssl >/dev/null || missing+=(openssl)
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]}; install Java 17+ and Maven"
  log "kafka: installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Serialise fetch/start/stop/reset between concurrent callers (e.g. two test
# runs on one machine sharing .services): the second start then simply finds
# the broker running instead of racing the first one.

# --- process helpers ---------------------------------------------------------


pid_cmdline() {
  if [[ -r /proc/$1/cmdline ]]; then tr '\0' ' ' <"/proc/$1/cmdline"; else ps -o args= -p "$1"; fi
}

is_our_broker() {
  pid_alive "$1" && [[ $(pid_cmdline "$1" 2>/dev/null) == *kafka.Kafka*"$CONFIG"* ]]
}

# Prints the broker pid if the pid file points at *our* broker. A stale pid
# file (reboot, crash, pid reuse) is removed. If the pid file is missing but
# a broker runs with our config (pid file deleted by hand), it is adopted so
# that stop/status still work.
running_pid() {
  local pid f
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if [[ $pid =~ ^[0-9]+$ ]] && is_our_broker "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
    rm -f "$PID_FILE"
  fi
  [[ -d /proc ]] || return 1
  while IFS= read -r f; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    if is_our_broker "$pid"; then
      mkdir -p "$KAFKA_HOME"
      printf '%s\n' "$pid" >"$PID_FILE"
      printf '%s\n' "$pid"
      return 0
    fi
  done < <(grep -laF -- "$CONFIG" /proc/[0-9]*/cmdline 2>/dev/null)
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# server.log is appended to across restarts; cmd_start records its size so a
# failure shows only what this start wrote.
SERVER_LOG_OFFSET=0

show_logs() {
  local text
  if [[ -s $LOG_DIR/server.log ]]; then
    text=$(tail -c "+$((SERVER_LOG_OFFSET + 1))" "$LOG_DIR/server.log" | tail -n 40)
    [[ -n $text ]] && printf -- '--- last lines of %s ---\n%s\n' "$LOG_DIR/server.log" "$text" >&2
  fi
  if [[ -s $OUT_FILE ]]; then
    printf -- '--- last lines of %s ---\n' "$OUT_FILE" >&2
    tail -n 20 "$OUT_FILE" >&2
  fi
  return 0
}

# --- subcommands ---------------------------------------------------------------

# cmd_fetch [quiet]: "quiet" skips the "already present" line (used by start).
cmd_fetch() {
  local want tmp
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [[ -f $FETCH_STAMP && $(<"$FETCH_STAMP") == "$want" ]]; then
    [[ ${1:-} == quiet ]] || log "kafka: Kafka $KAFKA_VERSION jars already present"
    return 0
  fi
  if running_pid >/dev/null; then
    die "the broker is running from the jars that would be replaced; run '$0 stop' first"
  fi
  ensure_tools
  log "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central"
  mkdir -p "$KAFKA_HOME"
  # Copy into a temp dir and swap it in, so an interrupted fetch never
  # leaves a half-populated lib dir that looks complete.
  tmp=$(mktemp -d "$KAFKA_HOME/lib.tmp.XXXXXX")
  # Maven's output goes to a file (even -q leaks ANSI escapes); shown on failure.
  if ! mvn -B -q -Dstyle.color=never -f "$POM" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$KAFKA_HOME/fetch.log" 2>&1; then
    cat "$KAFKA_HOME/fetch.log" >&2
    rm -rf "$tmp"
    die "maven could not fetch the Kafka jars (output above, also in $KAFKA_HOME/fetch.log)"
  fi
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  printf '%s\n' "$want" >"$FETCH_STAMP"
}

render_config() {
  local tpl
  tpl=$(<"$CONF_DIR/server.properties.template")
  # Quoted replacements: with bash 5.2 an unquoted '&' would expand to the match.
  tpl=${tpl//@KAFKA_PORT@/"$KAFKA_PORT"}
  tpl=${tpl//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}
  tpl=${tpl//@DATA_DIR@/"$DATA_DIR"}
  tpl=${tpl//@KAFKA_SASL_PORT@/"$KAFKA_SASL_PORT"}
  tpl=${tpl//@KAFKA_SASL_USER@/"$KAFKA_SASL_USER"}
  tpl=${tpl//@KAFKA_SASL_PASSWORD@/"$KAFKA_SASL_PASSWORD"}
  tpl=${tpl//@TLS_DIR@/"$TLS_DIR"}
  tpl=${tpl//@TLS_STORE_PASSWORD@/"$TLS_STORE_PASSWORD"}
  printf '%s\n' "$tpl" >"$CONFIG"
}

# A throwaway CA, a broker certificate for 127.0.0.1 and localhost in a PKCS12 keystore, and a
# client certificate, made once with openssl (a CA that signs nothing else: it only lets the
# SASL_SSL listener be tested as a real one, certificate checks included).
make_tls() {
  [[ -f $TLS_DIR/broker.p12 && -f $TLS_DIR/client.pem ]] && return 0
  command -v openssl >/dev/null || ensure_tools
  log "kafka: making a throwaway CA and certificates in $TLS_DIR"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=streamwatch local test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr \
      2>/dev/null
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile broker.ext -out broker.pem 2>/dev/null
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -passout "pass:$TLS_STORE_PASSWORD" -out broker.p12
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$KAFKA_SASL_USER" -keyout client.key \
      -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out client.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 644 ca.pem
  ) || die "making the test certificates with openssl failed"
}

# SCRAM credentials live in the cluster metadata: add (or reset) them through the PLAINTEXT
# listener with kafka-configs once the broker is ready. Both SCRAM mechanisms, one password;
# one call each (KRaft refuses two changes to one user in one request).
create_scram_users() {
  local out mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    if ! out=$(java "${TOOL_JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users \
      --entity-name "$KAFKA_SASL_USER" --add-config "$mechanism=[password=$KAFKA_SASL_PASSWORD]" \
      2>&1); then
      printf '%s\n' "$out" >&2
      die "creating the $mechanism user $KAFKA_SASL_USER with kafka-configs failed"
    fi
  done
  log "kafka: SASL_SSL on 127.0.0.1:$KAFKA_SASL_PORT (user $KAFKA_SASL_USER; CA $TLS_DIR/ca.pem)"
}

# Kafka cluster ids are 16 random bytes in unpadded base64url. Like
# Uuid.randomUuid() we reject ids starting with '-', which the CLI would
# parse as an option. (Saves a JVM start compared to `StorageTool random-uuid`.)
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $id != -* ]] && break
  done
  printf '%s\n' "$id"
}

format_storage() {
  [[ -f $DATA_DIR/meta.properties ]] && return 0
  local cluster_id
  cluster_id=$(new_cluster_id)
  log "kafka: formatting storage in $DATA_DIR (cluster id $cluster_id)"
  mkdir -p "$DATA_DIR"
  if ! java "${TOOL_JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.tools.StorageTool format \
    --config "$CONFIG" --cluster-id "$cluster_id" --ignore-formatted \
    >"$LOG_DIR/storage-format.log" 2>&1; then
    cat "$LOG_DIR/storage-format.log" >&2
    die "formatting the storage failed"
  fi
}

cmd_start() {
  local pid i
  cmd_fetch quiet
  if pid=$(running_pid); then
    log "kafka: already running (pid $pid)"
    cmd_wait
    create_scram_users
    return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is already in use by another process (another Kafka?); stop it or set KAFKA_PORT"
  port_open "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT is already in use by another process; stop it or set KAFKA_CONTROLLER_PORT"
  port_open "$KAFKA_SASL_PORT" && die "port $KAFKA_SASL_PORT is already in use by another process; stop it or set KAFKA_SASL_PORT"

  mkdir -p "$DATA_DIR" "$LOG_DIR"
  make_tls
  render_config
  format_storage

  log "kafka: starting broker on 127.0.0.1:$KAFKA_PORT"
  [[ -f $LOG_DIR/server.log ]] && SERVER_LOG_OFFSET=$(wc -c <"$LOG_DIR/server.log")
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
  (
    cd "$KAFKA_HOME" # hs_err / stray files land here, not in the repo
    nohup java $KAFKA_HEAP_OPTS \
      -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      "-Dkafka.logs.dir=$LOG_DIR" \
      "-Dlog4j.configuration=file:$CONF_DIR/log4j.properties" \
      -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG" \
      >"$OUT_FILE" 2>&1 </dev/null 9>&- & # 9>&-: the broker must not inherit the lock
    printf '%s\n' "$!" >"$PID_FILE"
  )
  # The pid file is written right after the fork, before nohup has exec'd
  # java; give it a moment so running_pid() recognises the command line.
  pid=$(<"$PID_FILE")
  for ((i = 0; i < 50; i++)); do
    [[ $(pid_cmdline "$pid" 2>/dev/null) == *kafka.Kafka* ]] && break
    pid_alive "$pid" || break
    sleep 0.1
  done
  cmd_wait
  create_scram_users
}

# Ready = the broker answers an ApiVersions request *and* lists itself in
# its metadata. BrokerApiVersionsCommand only probes the brokers returned by
# a Metadata request, and a KRaft broker leaves itself out of that list until
# the controller has unfenced it, so "(id: 1 " in the output means producers
# and topic creation will work. A bare TCP connect would succeed earlier.
probe_broker() {
  timeout 30 java "${TOOL_JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.admin.BrokerApiVersionsCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" 2>&1
}

cmd_wait() {
  local deadline=$((SECONDS + KAFKA_WAIT_TIMEOUT)) out="" we_started=0
  [[ -f $FETCH_STAMP ]] || die "Kafka jars not fetched; run '$0 fetch'"
  # Only a broker we started can be watched for an early exit; `wait` also
  # works for a broker started some other way (then it just polls the port).
  running_pid >/dev/null && we_started=1
  while :; do
    # Fail fast if our broker died instead of waiting out the timeout.
    if ((we_started)) && ! running_pid >/dev/null; then
      show_logs
      die "broker process exited during start-up"
    fi
    # Cheap TCP check first, so we do not start a JVM every second while the
    # broker is still booting.
    if port_open "$KAFKA_PORT"; then
      if out=$(probe_broker) && [[ $out == *"(id: $NODE_ID "* ]]; then
        log "kafka: ready on 127.0.0.1:$KAFKA_PORT"
        return 0
      fi
    fi
    if ((SECONDS >= deadline)); then
      [[ -n $out ]] && printf -- '--- last probe output ---\n%s\n' "$(tail -n 20 <<<"$out")" >&2
      show_logs
      die "broker not ready on 127.0.0.1:$KAFKA_PORT after ${KAFKA_WAIT_TIMEOUT}s"
    fi
    sleep 1
  done
}

# SIGTERM triggers Kafka's controlled shutdown (flushes logs, closes segments cleanly so the
# next start needs no log recovery).
cmd_stop() { stop_service 30; }

cmd_status() { status_service "127.0.0.1:$KAFKA_PORT"; }

cmd_reset() {
  cmd_stop
  log "kafka: deleting $DATA_DIR"
  rm -rf "$DATA_DIR"
}

# Kafka's own console tools, for trying the live path by hand: against the local broker, or
# the cluster STREAMWATCH_KAFKA names, secured as the STREAMWATCH_KAFKA_* settings say.
# Topic names get STREAMWATCH_TOPIC_PREFIX, as the worker's do.

# Writes the Java client properties of the STREAMWATCH_KAFKA_* settings to a private temp file
# and prints its path (deleted when the script exits).
client_config() {
  local file protocol=${STREAMWATCH_KAFKA_SECURITY_PROTOCOL:-PLAINTEXT} module password
  local mechanism=${STREAMWATCH_KAFKA_SASL_MECHANISM:-PLAIN}
  file=$(mktemp "${TMPDIR:-/tmp}/streamwatch-client.XXXXXX.properties")
  CLIENT_CONFIG=$file
  trap 'rm -f "$CLIENT_CONFIG"' EXIT
  protocol=${protocol^^}
  mechanism=${mechanism^^}
  printf 'security.protocol=%s\n' "$protocol" >"$file"
  if [[ $protocol == SASL_* ]]; then
    password=${STREAMWATCH_KAFKA_PASSWORD:-}
    if [[ -n ${STREAMWATCH_KAFKA_PASSWORD_FILE:-} ]]; then
      password=$(<"$STREAMWATCH_KAFKA_PASSWORD_FILE")
    fi
    module=org.apache.kafka.common.security.plain.PlainLoginModule
    [[ $mechanism == SCRAM-* ]] && module=org.apache.kafka.common.security.scram.ScramLoginModule
    # JAAS quotes: a backslash or double quote in a value is escaped with a backslash.
    password=${password//\\/\\\\}
    password=${password//\"/\\\"}
    printf 'sasl.mechanism=%s\nsasl.jaas.config=%s required username="%s" password="%s";\n' \
      "$mechanism" "$module" "${STREAMWATCH_KAFKA_USERNAME:-}" "$password" >>"$file"
  fi
  if [[ $protocol == *SSL && -n ${STREAMWATCH_KAFKA_CA_FILE:-} ]]; then
    printf 'ssl.truststore.type=PEM\nssl.truststore.location=%s\n' "$STREAMWATCH_KAFKA_CA_FILE" >>"$file"
  fi
  if [[ $protocol == *SSL && -n ${STREAMWATCH_KAFKA_CERT_FILE:-} ]]; then
    # A PEM keystore holds the key (PKCS#8) and the certificate chain in one file.
    local keystore=$file.keystore.pem
    cat "${STREAMWATCH_KAFKA_KEY_FILE:-$STREAMWATCH_KAFKA_CERT_FILE}" "$STREAMWATCH_KAFKA_CERT_FILE" >"$keystore"
    trap 'rm -f "$CLIENT_CONFIG" "$CLIENT_CONFIG.keystore.pem"' EXIT
    printf 'ssl.keystore.type=PEM\nssl.keystore.location=%s\n' "$keystore" >>"$file"
    [[ -n ${STREAMWATCH_KAFKA_KEY_PASSWORD:-} ]] && printf 'ssl.key.password=%s\n' "$STREAMWATCH_KAFKA_KEY_PASSWORD" >>"$file"
  fi
}

client_bootstrap() { printf '%s\n' "${STREAMWATCH_KAFKA:-127.0.0.1:$KAFKA_PORT}"; }

cmd_produce() {
  local topic=${STREAMWATCH_TOPIC_PREFIX:-}$1
  [[ -f $FETCH_STAMP ]] || die "no Kafka jars yet; run '$0 start' first"
  client_config
  # One message per line, "customer_id<TAB>json": the key is the customer id.
  java "${TOOL_JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.tools.ConsoleProducer \
    --bootstrap-server "$(client_bootstrap)" --producer.config "$CLIENT_CONFIG" --topic "$topic" \
    --property parse.key=true --property key.separator=$'\t'
}

cmd_consume() {
  local topic=${STREAMWATCH_TOPIC_PREFIX:-}$1
  [[ -f $FETCH_STAMP ]] || die "no Kafka jars yet; run '$0 start' first"
  client_config
  # Committed messages from the beginning; stops after 10 s without a new one.
  java "${TOOL_JAVA_OPTS[@]}" -cp "$LIB_DIR/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$(client_bootstrap)" --consumer.config "$CLIENT_CONFIG" \
    --topic "$topic" --from-beginning \
    --isolation-level read_committed --timeout-ms "${CONSUME_TIMEOUT_MS:-10000}" \
    --property print.key=true \
    2> >(grep -v -E "Processed a total of|Error processing message|TimeoutException" >&2) || true
}

# The settings a streamwatch client needs for the SASL_SSL listener (SCRAM-SHA-512).
cmd_sasl_env() {
  [[ -f $TLS_DIR/ca.pem ]] || die "no certificates yet; run '$0 start' first"
  printf 'export STREAMWATCH_KAFKA=127.0.0.1:%s\n' "$KAFKA_SASL_PORT"
  printf 'export STREAMWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL\n'
  printf 'export STREAMWATCH_KAFKA_SASL_MECHANISM=SCRAM-SHA-512\n'
  printf 'export STREAMWATCH_KAFKA_USERNAME=%s\n' "$KAFKA_SASL_USER"
  printf 'export STREAMWATCH_KAFKA_PASSWORD=%s\n' "$KAFKA_SASL_PASSWORD"
  printf 'export STREAMWATCH_KAFKA_CA_FILE=%s\n' "$TLS_DIR/ca.pem"
}

usage() {
  echo "usage: $0 {fetch|start|stop|status|wait|reset|sasl-env} | produce TOPIC | consume TOPIC" >&2
  exit 2
}

if [[ $# -eq 2 && ( $1 == produce || $1 == consume ) ]]; then
  "cmd_$1" "$2"
  exit
fi
[[ $# -eq 1 ]] || usage
case $1 in
  fetch) take_lock "$KAFKA_HOME" 300; cmd_fetch ;;
  start) take_lock "$KAFKA_HOME" 300; cmd_start ;;
  stop) take_lock "$KAFKA_HOME" 300; cmd_stop ;;
  reset) take_lock "$KAFKA_HOME" 300; cmd_reset ;;
  status) cmd_status ;;
  sasl-env) cmd_sasl_env ;;
  wait) cmd_wait ;;
  *) usage ;;
esac
