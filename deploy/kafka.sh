#!/usr/bin/env bash
# Apache Kafka for a machine without Docker: the broker's jars from Maven Central (cached outside
# the work tree), run as KRaft nodes (each one broker + controller) on 127.0.0.1.
#
# The broker of `loyalty up`, PLAINTEXT on 127.0.0.1:9092:
#   deploy/kafka.sh start    fetch jars if needed, format storage once, start, wait until a
#                            record can be produced (idempotent: a running broker is reused)
#   deploy/kafka.sh stop     SIGTERM the broker this script started and wait for it to exit
#   deploy/kafka.sh status   exit 0 when a record can be produced
#   deploy/kafka.sh produce TOPIC      the stock console producer (one record per line of stdin)
#   deploy/kafka.sh consume TOPIC ...  the stock console consumer (extra options passed on)
#
# A broker whose clients must use SASL_SSL, on 127.0.0.1:19092 (its controller on 19093):
#   deploy/kafka.sh secure start|stop|status
# The first start makes a throwaway CA and the broker's certificate (CN 127.0.0.1, SAN 127.0.0.1
# and localhost) in $LOYALTY_HOME/kafka-secure/tls: clients trust tls/ca.pem. User `loyalty`,
# password `loyalty-secret`, with SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN; user `admin` (password
# in kafka-secure/admin.password) is the broker's own. kafka-secure/client.properties and
# admin.properties are the same settings for Kafka's Java tools (--command-config and the like).
#
# Three nodes with a quorum of three controllers, on 127.0.0.1:29092,29093,29094 (controllers
# 29192,29193,29194): replication factor 3, min.insync.replicas 2, no unclean leader election.
#   deploy/kafka.sh cluster start        start the nodes not running, wait until a record is
#                                        acknowledged by all replicas and every partition is in sync
#   deploy/kafka.sh cluster stop         SIGTERM every node and wait for them to exit
#   deploy/kafka.sh cluster status       exit 0 when a record can be produced with acks=all
#   deploy/kafka.sh cluster kill N       SIGKILL node N (1, 2 or 3), for fault tests
#   deploy/kafka.sh cluster start-node N start node N again, wait until it answers and every
#                                        partition has all its replicas in sync
#
# Each node's directory holds server.properties, data/, broker.pid and broker.log:
# $LOYALTY_HOME/kafka, kafka-secure, kafka-cluster/node-1..3 (LOYALTY_HOME defaults to
# ~/.cache/loyalty).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${LOYALTY_KAFKA_VERSION:-3.9.1}"
STATE_DIR="${LOYALTY_HOME:-$HOME/.cache/loyalty}"
LIB_DIR="$STATE_DIR/kafka-$KAFKA_VERSION/lib"
LOG4J="-Dlog4j.configuration=file:$HERE/kafka/log4j.properties"
if [ -z "${PYTHON:-}" ]; then  # the project's interpreter has aiokafka, for the readiness check
  if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python3; fi
fi

SINGLE_DIR="$STATE_DIR/kafka"
SINGLE_BOOTSTRAP="127.0.0.1:9092"
SINGLE_HEAP=(-Xms256m -Xmx512m)

SECURE_DIR="$STATE_DIR/kafka-secure"
TLS_DIR="$SECURE_DIR/tls"
SECURE_PORT=19092
SECURE_CONTROLLER_PORT=19093
SECURE_USER=loyalty
SECURE_PASSWORD=loyalty-secret
ADMIN_USER="admin"
SCRAM_MECHANISMS=(SCRAM-SHA-256 SCRAM-SHA-512)

CLUSTER_DIR="$STATE_DIR/kafka-cluster"
CLUSTER_NODES=(1 2 3)
CLUSTER_BOOTSTRAP="127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094"
CLUSTER_VOTERS="1@127.0.0.1:29192,2@127.0.0.1:29193,3@127.0.0.1:29194"
cluster_port() { echo $((29091 + $1)); }
cluster_controller_port() { echo $((29191 + $1)); }

SMALL_HEAP=(-Xms128m -Xmx384m)  # the extra brokers: several JVMs share two cores

log() { echo "[kafka] $*" >&2; }

# --- One node. use_node DIR makes DIR the node the functions below act on. ---------------------

use_node() {
  RUN_DIR="$1"
  DATA_DIR="$RUN_DIR/data"
  PID_FILE="$RUN_DIR/broker.pid"
  LOG_FILE="$RUN_DIR/broker.log"
  CONFIG="$RUN_DIR/server.properties"
}

# How kafka_ready.py reaches the node(s): where, and any options (security) it always needs.
BOOTSTRAP="$SINGLE_BOOTSTRAP"
CONNECT=()

answers() {  # answers SECONDS [kafka_ready.py options]: a record can be produced
  "$PYTHON" "$HERE/kafka_ready.py" "$BOOTSTRAP" "${1:-5}" "${CONNECT[@]}" "${@:2}" >/dev/null 2>&1
}

running_pid() {
  # The saved pid, if that process is still our broker (a stale pid may have been reused).
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" && echo "$pid"
}

fetch_jars() {
  local marker
  marker="$LIB_DIR/.complete-$(sha1sum "$HERE/kafka/pom.xml" | cut -c1-12)"
  [ -f "$marker" ] && return 0
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIB_DIR"
  mkdir -p "$LIB_DIR"
  mvn -q -B -Dstyle.color=never -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB_DIR" >&2
  touch "$marker"
}

write_config() {
  # write_config [OVERLAY [NAME=VALUE...]]: deploy/kafka/server.properties with the keys of
  # deploy/kafka/OVERLAY put over it (the overlay's value wins), @NAME@ replaced by VALUE.
  local overlay="${1:-}" pair
  local substitutions=(-e "s#@DATA_DIR@#$DATA_DIR#g")
  for pair in "${@:2}"; do substitutions+=(-e "s#@${pair%%=*}@#${pair#*=}#g"); done
  mkdir -p "$RUN_DIR"
  {
    echo "# Written by deploy/kafka.sh from deploy/kafka/server.properties${overlay:+ and $overlay}"
    cat "$HERE/kafka/server.properties" ${overlay:+"$HERE/kafka/$overlay"} \
      | sed "${substitutions[@]}" \
      | awk -F= '/^[[:space:]]*(#|$)/ { next }
                 !($1 in at) { at[$1] = ++n }
                 { line[at[$1]] = $0 }
                 END { for (i = 1; i <= n; i++) print line[i] }'
  } > "$CONFIG"
}

new_cluster_id() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }

format_storage() {  # format_storage CLUSTER_ID [StorageTool options]: once per data directory
  [ -f "$DATA_DIR/meta.properties" ] && return 0
  log "formatting $DATA_DIR (cluster $1)"
  if ! java -cp "$LIB_DIR/*" "$LOG4J" kafka.tools.StorageTool format -t "$1" -c "$CONFIG" \
         "${@:2}" >>"$LOG_FILE" 2>&1; then
    log "formatting failed; last lines of $LOG_FILE:"
    tail -n 20 "$LOG_FILE" >&2
    return 1
  fi
}

start_broker() {  # start_broker JVM_OPTION...: in the background, its pid saved
  log "starting the broker (log: $LOG_FILE)"
  nohup java "$@" -XX:+UseG1GC -cp "$LIB_DIR/*" "$LOG4J" \
    kafka.Kafka "$CONFIG" </dev/null >"$LOG_FILE" 2>&1 &
  echo $! > "$PID_FILE"
}

wait_until_answers() {
  # wait_until_answers SECONDS [kafka_ready.py options] -- NODE_DIR...: or, when the time is up
  # or one of these nodes' brokers has exited, say why and show the end of their logs.
  local seconds="$1" options=() dir logs=() why
  shift
  while [ "$1" != "--" ]; do options+=("$1"); shift; done
  shift
  for dir in "$@"; do
    logs+=("$dir/broker.log")
    if [ -s "$dir/broker.pid" ]; then options+=(--pid "$(cat "$dir/broker.pid")"); fi
  done
  if why="$("$PYTHON" "$HERE/kafka_ready.py" "$BOOTSTRAP" "$seconds" "${CONNECT[@]}" \
              "${options[@]}" 2>&1)"; then
    return 0
  fi
  log "not ready on $BOOTSTRAP: $why; last lines of ${logs[*]}:"
  tail -n 20 "${logs[@]}" >&2
  return 1
}

alive() {  # alive PID...: any of them still running (a zombie is not)
  local pid state
  for pid in "$@"; do
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || continue
    if [ -n "$state" ] && [ "$state" != Z ]; then return 0; fi
  done
  return 1
}

stop_nodes() {
  # stop_nodes DIR...: SIGTERM the brokers this script started there, all at once, and wait for
  # them to exit (SIGKILL after 60 s).
  local dir pid pids=()
  for dir in "$@"; do
    use_node "$dir"
    if pid="$(running_pid)"; then pids+=("$pid"); fi
  done
  if [ "${#pids[@]}" -eq 0 ]; then
    log "not running (no broker started by this script)"
    return 0
  fi
  kill -TERM "${pids[@]}"
  for _ in $(seq 1 60); do alive "${pids[@]}" || break; sleep 1; done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then log "$pid still alive after 60 s, killing"; kill -KILL "$pid"; fi
  done
  for dir in "$@"; do rm -f "$dir/broker.pid"; done
  log "stopped"
}

# --- The SASL_SSL broker. ---------------------------------------------------------------------

secret() {  # secret FILE: a random password kept in FILE (made once)
  [ -s "$1" ] || { mkdir -p "$(dirname "$1")"; openssl rand -hex 16 > "$1"; }
  cat "$1"
}

make_tls() {
  # A throwaway CA (tls/ca.pem, its key tls/ca.key) and the broker's certificate and key,
  # signed by it, as one PEM key store (tls/broker.pem, the key encrypted with tls/key.password).
  [ -f "$TLS_DIR/broker.pem" ] && return 0
  log "making a throwaway CA and the broker's certificate in $TLS_DIR"
  local work="$TLS_DIR.new"
  rm -rf "$work"
  mkdir -p "$work"
  secret "$work/key.password" >/dev/null
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Loyalty throwaway test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$work/broker.ext"
  openssl x509 -req -days 825 -sha256 -in "$work/broker.csr" -CA "$work/ca.pem" \
    -CAkey "$work/ca.key" -CAcreateserial -extfile "$work/broker.ext" \
    -out "$work/broker.crt" 2>/dev/null
  # Kafka's PEM key store wants an encrypted PKCS#8 key, then the certificate chain. On Java 17
  # Kafka cannot decrypt openssl's default scheme (PBES2: "PBES2 SecretKeyFactory not
  # available"), hence the older SHA1 and 3DES; the password lies beside the key anyway.
  openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$work/broker.key" \
    -passout "file:$work/key.password" -out "$work/broker.key.p8"
  cat "$work/broker.key.p8" "$work/broker.crt" "$work/ca.pem" > "$work/broker.pem"
  rm -f "$work/broker.key" "$work/broker.key.p8" "$work/broker.csr" "$work/broker.ext" \
    "$work/ca.srl"
  chmod 644 "$work/ca.pem" "$work/broker.crt"
  rm -rf "$TLS_DIR"
  mv "$work" "$TLS_DIR"
}

client_properties() {  # client_properties USER PASSWORD: settings for Kafka's Java tools
  printf '%s\n' "bootstrap.servers=127.0.0.1:$SECURE_PORT" "security.protocol=SASL_SSL" \
    "sasl.mechanism=SCRAM-SHA-512" \
    "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$1\" password=\"$2\";" \
    "ssl.truststore.type=PEM" "ssl.truststore.location=$TLS_DIR/ca.pem"
}

secure() {
  use_node "$SECURE_DIR"
  BOOTSTRAP="127.0.0.1:$SECURE_PORT"
  CONNECT=(--security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512
           --username "$SECURE_USER" --password "$SECURE_PASSWORD" --cafile "$TLS_DIR/ca.pem")
  case "${1:-}" in
    start)
      if running_pid >/dev/null || answers 3; then
        log "already running on $BOOTSTRAP (SASL_SSL; CA: $TLS_DIR/ca.pem)"
        return 0
      fi
      umask 077  # keys, passwords and configs that hold them: the owner's only
      fetch_jars
      make_tls
      local admin_password scram=() mechanism user
      admin_password="$(secret "$SECURE_DIR/admin.password")"
      write_config secure.properties "PORT=$SECURE_PORT" \
        "CONTROLLER_PORT=$SECURE_CONTROLLER_PORT" "TLS_DIR=$TLS_DIR" \
        "KEY_PASSWORD=$(cat "$TLS_DIR/key.password")" "ADMIN_USER=$ADMIN_USER" \
        "ADMIN_PASSWORD=$admin_password" "USER=$SECURE_USER" "PASSWORD=$SECURE_PASSWORD"
      for mechanism in "${SCRAM_MECHANISMS[@]}"; do
        for user in "$ADMIN_USER=$admin_password" "$SECURE_USER=$SECURE_PASSWORD"; do
          scram+=(--add-scram "$mechanism=[name=${user%%=*},password=${user#*=}]")
        done
      done
      format_storage "$(new_cluster_id)" "${scram[@]}"
      client_properties "$SECURE_USER" "$SECURE_PASSWORD" > "$SECURE_DIR/client.properties"
      client_properties "$ADMIN_USER" "$admin_password" > "$SECURE_DIR/admin.properties"
      start_broker "${SMALL_HEAP[@]}"
      wait_until_answers 120 -- "$RUN_DIR"
      log "ready on $BOOTSTRAP (SASL_SSL): user $SECURE_USER, password $SECURE_PASSWORD," \
        "CA $TLS_DIR/ca.pem"
      ;;
    stop) stop_nodes "$SECURE_DIR" ;;
    status) answers 5 ;;
    *) echo "usage: $0 secure start|stop|status" >&2; exit 2 ;;
  esac
}

# --- The three-node cluster. ------------------------------------------------------------------

cluster_node() {  # cluster_node N: use node N (1..3), or fail with the usage
  case "${1:-}" in
    1|2|3) use_node "$CLUSTER_DIR/node-$1" ;;
    *) echo "usage: $0 cluster kill|start-node 1|2|3" >&2; exit 2 ;;
  esac
}

start_cluster_node() {  # start_cluster_node N: unless it runs
  cluster_node "$1"
  if running_pid >/dev/null; then log "node $1 already running"; return 0; fi
  local cluster_id="$CLUSTER_DIR/cluster.id"  # one id for the three nodes, made once
  [ -s "$cluster_id" ] || { mkdir -p "$CLUSTER_DIR"; new_cluster_id > "$cluster_id"; }
  write_config cluster.properties "NODE_ID=$1" "PORT=$(cluster_port "$1")" \
    "CONTROLLER_PORT=$(cluster_controller_port "$1")" "VOTERS=$CLUSTER_VOTERS"
  format_storage "$(cat "$cluster_id")"
  log "node $1 on 127.0.0.1:$(cluster_port "$1")"
  start_broker "${SMALL_HEAP[@]}"
}

cluster() {
  BOOTSTRAP="$CLUSTER_BOOTSTRAP"
  local n pid nodes=()
  for n in "${CLUSTER_NODES[@]}"; do nodes+=("$CLUSTER_DIR/node-$n"); done
  case "${1:-}" in
    start)
      fetch_jars
      for n in "${CLUSTER_NODES[@]}"; do start_cluster_node "$n"; done
      wait_until_answers 180 --acks all --brokers 3 --in-sync -- "${nodes[@]}"
      log "ready on $BOOTSTRAP"
      ;;
    stop) stop_nodes "${nodes[@]}" ;;
    status) answers 5 --acks all ;;
    kill)
      cluster_node "${2:-}"
      if ! pid="$(running_pid)"; then log "node $2 is not running"; return 1; fi
      kill -KILL "$pid"
      while alive "$pid"; do sleep 0.1; done
      rm -f "$PID_FILE"
      log "node $2 killed (pid $pid)"
      ;;
    start-node)
      cluster_node "${2:-}"
      fetch_jars
      start_cluster_node "$2"
      BOOTSTRAP="127.0.0.1:$(cluster_port "$2")"  # through this node: it answers
      wait_until_answers 180 --acks all --brokers 3 --in-sync -- "$RUN_DIR"
      log "node $2 back, every partition in sync"
      ;;
    *) echo "usage: $0 cluster start|stop|status|kill N|start-node N" >&2; exit 2 ;;
  esac
}

# --- The broker of `loyalty up`. --------------------------------------------------------------

use_node "$SINGLE_DIR"
case "${1:-start}" in
  secure) secure "${@:2}" ;;
  cluster) cluster "${@:2}" ;;
  start)
    if running_pid >/dev/null || answers 3; then log "already running on $BOOTSTRAP"; exit 0; fi
    fetch_jars
    write_config
    format_storage "$(new_cluster_id)"
    start_broker "${SINGLE_HEAP[@]}"
    wait_until_answers 120 -- "$RUN_DIR"
    log "ready on $BOOTSTRAP"
    ;;
  stop)
    stop_nodes "$SINGLE_DIR"
    ;;
  status)
    answers 5
    ;;
  produce)
    fetch_jars
    exec java -cp "$LIB_DIR/*" "$LOG4J" \
      kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP" --topic "${2:?topic}" "${@:3}"
    ;;
  consume)
    fetch_jars
    exec java -cp "$LIB_DIR/*" "$LOG4J" \
      org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
      --topic "${2:?topic}" "${@:3}"
    ;;
  *)
    echo "usage: $0 start|stop|status|produce TOPIC|consume TOPIC [options]" >&2
    echo "       $0 secure start|stop|status" >&2
    echo "       $0 cluster start|stop|status|kill N|start-node N" >&2
    exit 2
    ;;
esac
