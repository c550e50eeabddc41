"""Benchmarks of batch re-review (scripts print figures; see bench/RESULTS.md)."""
