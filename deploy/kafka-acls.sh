#!/usr/bin/env bash
# The Kafka ACLs of docs/security.md, for per-programme topics (LOYALTY_TOPICS_PER_PROGRAMME) on a
# broker with an authorizer and SASL (or mTLS) principals:
#   deploy/kafka-acls.sh BOOTSTRAP ADMIN_CLIENT_PROPERTIES PROGRAMME...
# e.g. deploy/kafka-acls.sh broker:9093 admin.properties bank shop
# Organiser `organiser-<programme>` writes only its own commands topic and reads only its own
# results and events (literal topic names: a prefix would also match longer programme names).
# It uses the Kafka tools that deploy/kafka.sh fetches; adapt principals and topics to yours.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOTSTRAP="${1:?bootstrap servers}"; CONFIG="${2:?admin client properties}"; shift 2
LIB="${LOYALTY_HOME:-$HOME/.cache/loyalty}/kafka-${LOYALTY_KAFKA_VERSION:-3.9.1}/lib"

acl() {
  if [ -n "${LOYALTY_ACLS_DRY_RUN:-}" ]; then echo "$*"; return; fi  # print, for tests
  java -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    kafka.admin.AclCommand --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --add "$@"
}
allow() { acl --allow-principal "User:$1" "${@:2}"; }

for programme in "$@"; do
  allow "organiser-$programme" --operation Write --operation Describe \
    --topic "loyalty.commands.$programme"
  allow "organiser-$programme" --operation Read --operation Describe \
    --topic "loyalty.results.$programme" --topic "loyalty.events.$programme"
  allow "organiser-$programme" --operation Read --group "organiser-$programme" \
    --resource-pattern-type prefixed
done
allow loyalty-prepare --operation Create --operation Describe --operation DescribeConfigs \
  --topic loyalty. --resource-pattern-type prefixed
for service in intake processor relay clock; do
  # At start these compare every topic (partitions, replicas, configs) with their settings.
  allow "loyalty-$service" --operation Describe --operation DescribeConfigs \
    --topic loyalty. --resource-pattern-type prefixed
done
allow loyalty-api --operation Write --topic loyalty.commands. --resource-pattern-type prefixed
allow loyalty-api --operation Write --topic loyalty.items
allow loyalty-intake --operation Read --topic loyalty.commands. --resource-pattern-type prefixed
allow loyalty-intake --operation Read --group loyalty-intake
allow loyalty-intake --operation Write --topic loyalty.results. --resource-pattern-type prefixed
allow loyalty-intake --operation Write --topic loyalty.items --topic loyalty.deadletter
allow loyalty-processor --operation Read --topic loyalty.items --group loyalty-processor
allow loyalty-processor --operation Write --topic loyalty.deadletter
allow loyalty-relay --operation Write --topic loyalty.results. --topic loyalty.events. \
  --resource-pattern-type prefixed
allow loyalty-relay --operation Write --topic loyalty.deadletter
allow loyalty-projections --operation Read --topic loyalty.results. --resource-pattern-type prefixed
allow loyalty-projections --operation Read --group loyalty-projections
allow loyalty-clock --operation Write --topic loyalty.items
allow loyalty-operator --operation Read --operation Write --topic loyalty.deadletter
allow loyalty-operator --operation Read --operation Write --topic loyalty. \
  --resource-pattern-type prefixed
