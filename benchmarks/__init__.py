"""Leadwerk's benchmark suite: `python -m benchmarks.run` (or `make bench`); see docs/performance.md.

Benchmarks are not tests: they print figures next to a reference figure measured on the same machine in
the same run, write `benchmarks/results/`, and never fail because something was slow.
"""
