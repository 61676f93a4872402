"""Startups, their contacts, activities and tasks."""
