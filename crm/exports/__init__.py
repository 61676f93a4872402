"""Exports of startups-list views to CSV and XLSX."""
