"""Benchmarks: ratios measured side by side in one run, printed as one table (see README.md)."""
