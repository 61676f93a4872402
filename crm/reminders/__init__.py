"""Reminders found by sweeping due dates in the database, each sent once under a unique key."""
