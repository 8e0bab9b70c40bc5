#!/usr/bin/env bash
# The broker of docker-compose.yml, configured as `scripts/services up` configures
# the local one (devtools/services/kafka.py): SASL/SCRAM-SHA-512 for every client,
# SASL/PLAIN from the admin alone on the controller listener, the StandardAuthorizer
# with no ACL meaning no access, and the admin's SCRAM credential written into the
# storage when it is formatted, so the broker never runs without authentication.
# Needs CME_KAFKA_ADMIN_PASSWORD; run inside the apache/kafka image (KAFKA_BIN).
set -euo pipefail
: "${CME_KAFKA_ADMIN_PASSWORD:?set CME_KAFKA_ADMIN_PASSWORD (the cme-admin principal)}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
data="${KAFKA_DATA:-/var/lib/kafka/data}"
config="${KAFKA_CONFIG:-/tmp/cme-server.properties}"
internal="${KAFKA_INTERNAL_HOST:-kafka}"
pw="$CME_KAFKA_ADMIN_PASSWORD"
umask 077
cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${internal}:19093
listeners=CLIENT://:9092,HOST://:19092,CONTROLLER://:19093
advertised.listeners=CLIENT://${internal}:9092,HOST://127.0.0.1:19092
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="cme-admin" password="${pw}";
listener.name.host.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="cme-admin" password="${pw}";
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="cme-admin" password="${pw}" user_cme-admin="${pw}";
sasl.mechanism.controller.protocol=PLAIN
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:cme-admin
allow.everyone.if.no.acl.found=false
log.dirs=${data}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES
if [ ! -f "$data/meta.properties" ]; then
  "$bin/kafka-storage.sh" format --config "$config" \
    --cluster-id "${KAFKA_CLUSTER_ID:-$("$bin/kafka-storage.sh" random-uuid)}" \
    --add-scram "SCRAM-SHA-512=[name=cme-admin,password=${pw}]"
fi
exec "$bin/kafka-server-start.sh" "$config"
