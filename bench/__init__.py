"""Hand-run benchmarks for ackgate: ingest, REST actions and start-up (see bench/README.md)."""
