"""Performance weights for routing, pure: each rep's recent conversion shrunk towards the team mean.

A rep with `successes` of `trials` (e.g. SAL->SQL over the window) gets the shrunk rate
``(successes + k * team_mean) / (trials + k)`` (empirical Bayes with a beta prior centred on the team mean and
worth `k` leads), so one lucky week with four leads moves the weight a little and a long record moves it a lot.
The weight is the shrunk rate over the team mean, bounded by a fairness floor and a ceiling: nobody's share of
new leads drops below `floor` times, or rises above `ceiling` times, an even share. Capacity is checked before
(a rep at capacity is not in line at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRIOR_STRENGTH = 20  # the team mean counts as this many leads
FLOOR = 0.5
CEILING = 2.0
WINDOW_DAYS = 90


@dataclass(frozen=True)
class Weight:
    weight: float
    successes: int
    trials: int
    shrunk_rate: float | None
    team_mean: float | None

    def explain(self, metric: str = "SAL→SQL", days: int = WINDOW_DAYS) -> str:
        if self.team_mean is None:
            return f"weight 1.0: no {metric} history in the team over {days} days"
        rate = self.successes / self.trials if self.trials else None
        own = f"{rate:.0%} {metric} ({self.successes} of {self.trials})" if rate is not None else f"no {metric} yet"
        return (f"weight {self.weight:.2f}: {own} over {days} days against a team mean of {self.team_mean:.0%}, "
                f"shrunk to {self.shrunk_rate:.0%}")


def weights(records: Mapping[int, tuple[int, int]], *, prior_strength: float = PRIOR_STRENGTH,
            floor: float = FLOOR, ceiling: float = CEILING) -> dict[int, Weight]:
    """{rep key: Weight} from {rep key: (successes, trials)} of one team."""
    total_successes = sum(successes for successes, _trials in records.values())
    total_trials = sum(trials for _successes, trials in records.values())
    if total_trials == 0 or total_successes == 0:
        return {key: Weight(1.0, s, t, None, None) for key, (s, t) in records.items()}
    mean = total_successes / total_trials
    result = {}
    for key, (successes, trials) in records.items():
        shrunk = (successes + prior_strength * mean) / (trials + prior_strength)
        result[key] = Weight(min(ceiling, max(floor, shrunk / mean)), successes, trials, shrunk, mean)
    return result
