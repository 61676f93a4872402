"""Programmes (Corridor, Welcome Packages, Korea Desk) and their stages."""
