"""The email outbox: messages written in the request's transaction, delivered by workers."""
