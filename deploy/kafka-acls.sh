#!/usr/bin/env bash
# A sample of the Kafka ACLs of docs/security.md, for a broker with an authorizer and SASL (or
# mTLS) principals:  deploy/kafka-acls.sh BOOTSTRAP ADMIN_CLIENT_PROPERTIES ORGANISER...
# e.g. deploy/kafka-acls.sh broker:9093 admin.properties bank shop
# It uses the Kafka tools that deploy/kafka.sh fetches; adapt principals and topics to yours.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BOOTSTRAP="${1:?bootstrap servers}"; CONFIG="${2:?admin client properties}"; shift 2
LIB="${LOYALTY_HOME:-$HOME/.cache/loyalty}/kafka-${LOYALTY_KAFKA_VERSION:-3.9.1}/lib"

acl() {
  java -cp "$LIB/*" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties" \
    kafka.admin.AclCommand --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --add "$@"
}
allow() { acl --allow-principal "User:$1" "${@:2}"; }

for organiser in "$@"; do
  allow "organiser-$organiser" --operation Write --topic loyalty.commands
  allow "organiser-$organiser" --operation Read --topic loyalty.results --topic loyalty.events \
    --group "organiser-$organiser" --resource-pattern-type prefixed
done
allow loyalty-prepare --operation Create --operation Describe --topic loyalty.commands \
  --topic loyalty.items --topic loyalty.results --topic loyalty.events --topic loyalty.deadletter
allow loyalty-api --operation Write --topic loyalty.commands --topic loyalty.items
allow loyalty-intake --operation Read --topic loyalty.commands --group loyalty-intake
allow loyalty-intake --operation Write --topic loyalty.items --topic loyalty.results \
  --topic loyalty.deadletter
allow loyalty-processor --operation Read --topic loyalty.items --group loyalty-processor
allow loyalty-processor --operation Write --topic loyalty.deadletter
allow loyalty-relay --operation Write --topic loyalty.results --topic loyalty.events \
  --topic loyalty.deadletter
allow loyalty-projections --operation Read --topic loyalty.results --group loyalty-projections
allow loyalty-clock --operation Write --topic loyalty.items
allow loyalty-operator --operation Read --operation Write --topic loyalty.deadletter \
  --topic loyalty.commands --topic loyalty.items
