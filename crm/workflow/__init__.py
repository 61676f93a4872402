"""The workflow engine: enrollments, stage moves and their history."""
