"""Settings for the one test that runs a real `manage.py qcluster` (tests/leads/sla/test_sla_qcluster.py).

The project's settings, pointed at the database the test run uses (its name comes in
LEADWERK_QCLUSTER_DATABASE, xdist suffix included), with tasks queued for real (never inline) and the
cluster's guard loop set to 30 s: django-q2 calls its scheduler when the loop has counted 30 s, so the
first call happens at once instead of half a minute after start-up.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import DATABASES, Q_CLUSTER

DATABASES["default"]["NAME"] = os.environ["LEADWERK_QCLUSTER_DATABASE"]
Q_CLUSTER = {**Q_CLUSTER, "sync": False, "workers": 1, "guard_cycle": 30}
