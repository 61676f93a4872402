"""Public intake: bilingual, resumable application forms with documents, and their submission."""
