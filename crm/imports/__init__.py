"""Imports of startups from CSV and XLSX files."""
