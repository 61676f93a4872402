"""The beat schedule, as data: what runs periodically and how often."""

from __future__ import annotations

BEAT_SCHEDULE: dict[str, dict] = {
    "heartbeat": {
        "task": "workers.health.heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "deliver-outbox": {
        "task": "workers.outbox.deliver_outbox",
        "schedule": 60.0,
        "options": {"expires": 55},  # a run the worker could not start in time is skipped
    },
}
