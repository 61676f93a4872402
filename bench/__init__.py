"""Benchmarks: a deterministic data generator at agency scale and the measurements on it."""
