#!/usr/bin/env bash
# Apache Kafka for a machine without Docker: the broker's jars from Maven Central (cached outside
# the work tree), one KRaft node (broker + controller) on 127.0.0.1:9092.
#   deploy/kafka.sh start    fetch jars if needed, format storage once, start, wait until a
#                            record can be produced (idempotent: a running broker is reused)
#   deploy/kafka.sh stop     SIGTERM the broker this script started and wait for it to exit
#   deploy/kafka.sh status   exit 0 when a record can be produced
#   deploy/kafka.sh produce TOPIC      the stock console producer (one record per line of stdin)
#   deploy/kafka.sh consume TOPIC ...  the stock console consumer (extra options passed on)
# Logs: $LOYALTY_HOME/kafka/broker.log (LOYALTY_HOME defaults to ~/.cache/loyalty).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${LOYALTY_KAFKA_VERSION:-3.9.1}"
STATE_DIR="${LOYALTY_HOME:-$HOME/.cache/loyalty}"
LIB_DIR="$STATE_DIR/kafka-$KAFKA_VERSION/lib"
RUN_DIR="$STATE_DIR/kafka"
DATA_DIR="$RUN_DIR/data"
PID_FILE="$RUN_DIR/broker.pid"
LOG_FILE="$RUN_DIR/broker.log"
CONFIG="$RUN_DIR/server.properties"
BOOTSTRAP="127.0.0.1:9092"
if [ -z "${PYTHON:-}" ]; then  # the project's interpreter has aiokafka, for the readiness check
  if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python3; fi
fi

log() { echo "[kafka] $*" >&2; }

answers() { "$PYTHON" "$HERE/kafka_ready.py" "$BOOTSTRAP" "${1:-5}" >/dev/null 2>&1; }

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
  mkdir -p "$RUN_DIR"
  sed "s#@DATA_DIR@#$DATA_DIR#" "$HERE/kafka/server.properties" > "$CONFIG"
}

format_storage() {
  [ -f "$DATA_DIR/meta.properties" ] && return 0
  local cluster_id
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  log "formatting $DATA_DIR (cluster $cluster_id)"
  java -cp "$LIB_DIR/*" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >>"$LOG_FILE" 2>&1
}

start_broker() {
  log "starting the broker (log: $LOG_FILE)"
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -cp "$LIB_DIR/*" \
    -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    kafka.Kafka "$CONFIG" >"$LOG_FILE" 2>&1 &
  echo $! > "$PID_FILE"
}

wait_until_answers() {
  if answers 120; then return 0; fi
  log "the broker did not accept a record within 120 s; last lines of $LOG_FILE:"
  tail -20 "$LOG_FILE" >&2
  return 1
}

case "${1:-start}" in
  start)
    if running_pid >/dev/null || answers 3; then log "already running on $BOOTSTRAP"; exit 0; fi
    fetch_jars
    write_config
    format_storage
    start_broker
    wait_until_answers
    log "ready on $BOOTSTRAP"
    ;;
  stop)
    if pid="$(running_pid)"; then
      kill -TERM "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -0 "$pid" 2>/dev/null && { log "still alive after 60 s, killing"; kill -KILL "$pid"; }
      rm -f "$PID_FILE"
      log "stopped"
    else
      log "not running (no broker started by this script)"
    fi
    ;;
  status)
    answers 5
    ;;
  produce)
    fetch_jars
    exec java -cp "$LIB_DIR/*" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
      kafka.tools.ConsoleProducer --bootstrap-server "$BOOTSTRAP" --topic "${2:?topic}" "${@:3}"
    ;;
  consume)
    fetch_jars
    exec java -cp "$LIB_DIR/*" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
      org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOTSTRAP" \
      --topic "${2:?topic}" "${@:3}"
    ;;
  *)
    echo "usage: $0 start|stop|status|produce TOPIC|consume TOPIC [options]" >&2
    exit 2
    ;;
esac
