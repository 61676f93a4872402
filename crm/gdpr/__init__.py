"""GDPR tools: export, erasure, restriction, consent records, retention and download logs."""
