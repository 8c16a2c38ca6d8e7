"""Replay: run recorded events (JSONL files or a Kafka time range) through the same core as the
live worker, in event-time order, and write alerts, enforcement requests and dead letters."""
