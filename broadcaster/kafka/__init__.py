"""Kafka plumbing: topic names and creation, client settings, the CLI's producer. Knows nothing of incidents."""
