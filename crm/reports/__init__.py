"""Pipeline figures as SQL aggregates and the pages that show them."""
