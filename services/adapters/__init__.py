"""Adapters: the store, keys, the access log, Kafka clients, logging and metrics."""
