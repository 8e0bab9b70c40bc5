"""Long-running Kafka workers: intake, relay, projector and ledger."""
