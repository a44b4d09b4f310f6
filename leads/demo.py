"""Demo data of the leads app beyond the plan (`config.demo` calls `seed` once the plan is written).

`seed(now, users)` trains a first predictive model on the demo history and activates it as the demo admin, so
a new user sees probabilities and their factors at once. The demo history covers 90 days: a horizon of 14
days leaves enough periods to train and validate on separate ones (the default horizon of 30 days would need
more history; training refuses it with a sentence). Idempotent: does nothing when a predictive model is active,
and a refused training (too little history, e.g. a small `--leads`) or a model below the quality floor
activates nothing.
"""

import datetime as dt

from leads import predictive, scores
from scoring import predictive_versions
from scoring.models import PredictiveModel

DEMO_HORIZON_DAYS = 14


def seed(now: dt.datetime, users: dict) -> None:
    if PredictiveModel.objects.filter(is_active=True).exists():
        return
    model = predictive.train(horizon_days=DEMO_HORIZON_DAYS, now=now)
    if model.status != PredictiveModel.TRAINED:
        return
    try:  # as the admin would: a model below the quality floor stays for the admin to judge
        predictive_versions.activate(model, by=users["admin"])
    except predictive_versions.ConfirmationNeeded:
        return
    scores.rescore_all(at=now)  # the probabilities through the same bulk path as every rescoring
