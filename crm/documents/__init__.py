"""Uploaded documents (evidence, pitch decks): checked by content, stored outside static."""
