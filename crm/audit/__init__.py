"""The audit trail: the admin's page of audit events, and refusals recorded as events."""
