"""Benchmarks for svimaged, run by hand (`python -m bench`), never in CI.

See docs/performance.md for what is measured and the latest figures.
"""
