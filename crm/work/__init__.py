"""My work: the BD manager's start page (tasks by due day, SLAs near or past, new startups)."""
