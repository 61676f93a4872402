"""Webhooks: endpoints, signed deliveries through a worker outbox, SSRF checks."""
