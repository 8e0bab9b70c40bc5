"""Local PostgreSQL and Apache Kafka for development, tests and CI, without Docker."""
