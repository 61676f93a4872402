"""Duplicates: probable matches between startups, the find-duplicates page and merging."""
