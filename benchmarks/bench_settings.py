"""Settings for benchmark runs: the product's settings plus the bench-only URLs (the ceiling view)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
