"""Benchmarks of the follow-ups pipeline against the naive design (see bench/README.md)."""
