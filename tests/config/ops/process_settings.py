"""Settings of the processes the operations tests start (gunicorn, qcluster, probes).

The project's settings (REDIS_URL and the rest come from the environment as in production) pointed at the
test run's database (LEADWERK_QCLUSTER_DATABASE, as tests/qcluster_settings.py), tasks queued for real,
e-mails written as files into LEADWERK_TEST_MAIL_DIR so the test counts what every process sent.
"""

import os

from tests.qcluster_settings import *  # noqa: F403
from tests.qcluster_settings import Q_CLUSTER

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["LEADWERK_TEST_MAIL_DIR"]  # every test that starts a process gives one
Q_CLUSTER = {**Q_CLUSTER, "workers": int(os.environ.get("LEADWERK_TEST_Q_WORKERS", "1"))}
