"""Data quality: duplicate candidates, merge with undo, the data-health page (docs/data-quality.md)."""
