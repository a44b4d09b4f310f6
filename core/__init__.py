"""Leadwerk's shared vocabulary, error family and small helpers.

A plain package: no models, and it imports nothing of ours, so every app (`scoring` and `routing`
included) may import it. See docs/architecture.md.
"""
