"""Settings for benchmark runs: the product's settings plus the bench-only URLs (the ceiling view).

Clusters a benchmark starts (`manage.py qcluster`, e.g. rescoring's) run no schedules: a minute's SLA sweep
or the nightly rescore must not run in the middle of a measurement.
"""

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

ROOT_URLCONF = "benchmarks.bench_urls"
Q_CLUSTER = {**Q_CLUSTER, "scheduler": False}
