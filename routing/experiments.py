"""Experiments, pure: arms, deterministic assignment by a hash of the lead id, and the statistics of a report.

No database. An experiment splits the leads one routing rule matches between two or more arms (each a routing
method, with a share in percent). A lead's arm is fixed by SHA-256 of "<experiment id>:<lead id>": the same lead
always lands in the same arm, whatever the order leads come in, and the shares hold in the long run.

Statistics (all hand-checkable): a rate per arm with its 95 % Wilson interval; two arms compared by the pooled
two-proportion z-test (two-sided p-value from the normal distribution); a mean per arm with a normal 95 %
interval and Welch's z for two means; and the leads per arm still needed to detect the observed difference with
80 % power at the 5 % level (the usual normal-approximation formula for two proportions).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from routing import policy

Z_95 = 1.959963984540054  # two-sided 5 %
Z_POWER_80 = 0.8416212335729143


@dataclass(frozen=True)
class Arm:
    name: str
    share: int  # percent
    method: str


def parse_arms(arms: Sequence[Mapping]) -> list[Arm]:
    """The arms from their JSON form; ValueError with a sentence for anything wrong."""
    if not isinstance(arms, list | tuple) or len(arms) < 2:
        raise ValueError("An experiment needs at least two arms to compare.")
    parsed, names = [], set()
    for number, arm in enumerate(arms, start=1):
        if not isinstance(arm, Mapping):
            raise ValueError(f"Arm {number} must be an object with a name, a share and a method.")
        name = str(arm.get("name") or "").strip()
        if not name:
            raise ValueError(f"Arm {number} needs a name.")
        if name.casefold() in names:
            raise ValueError(f"Two arms are called {name}: every arm needs its own name.")
        names.add(name.casefold())
        share = arm.get("share")
        if isinstance(share, bool) or not isinstance(share, int) or not 1 <= share <= 99:
            raise ValueError(f"The share of arm {name} must be a whole percentage from 1 to 99.")
        method = arm.get("method")
        if method not in policy.METHODS:
            raise ValueError(f"Arm {name} needs a routing method: one of {', '.join(policy.METHODS)}.")
        parsed.append(Arm(name=name, share=share, method=method))
    total = sum(arm.share for arm in parsed)
    if total != 100:
        raise ValueError(f"The arms' shares add up to {total} %; they must add up to 100 %.")
    return parsed


def assign(experiment_id: int, lead_id: int, arms: Sequence[Arm]) -> Arm:
    """The lead's arm: deterministic, by a hash of the experiment and the lead id."""
    digest = hashlib.sha256(f"{experiment_id}:{lead_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % 10000  # 0..9999, in hundredths of a percent
    upper = 0
    for arm in arms:
        upper += arm.share * 100
        if point < upper:
            return arm
    return arms[-1]


# --- statistics ------------------------------------------------------------------------------------------


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """95 % Wilson score interval of a rate (None without trials)."""
    if trials <= 0:
        return None
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def normal_p_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportions(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float] | None:
    """(z, two-sided p) of the pooled two-proportion z-test; None when it is undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (s1 / n1 - s2 / n2) / math.sqrt(variance)
    return z, normal_p_two_sided(z)


def sample_size_per_arm(p1: float, p2: float, *, z_alpha: float = Z_95, z_power: float = Z_POWER_80) -> int | None:
    """Leads per arm needed to detect p1 against p2 (None when they are equal: no difference to detect)."""
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    numerator = (z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(numerator / (p1 - p2) ** 2)


@dataclass(frozen=True)
class MeanSummary:
    count: int
    mean: float | None
    interval: tuple[float, float] | None
    variance: float | None


def summarise(values: Sequence[float]) -> MeanSummary:
    count = len(values)
    if count == 0:
        return MeanSummary(0, None, None, None)
    mean = math.fsum(values) / count
    if count < 2:
        return MeanSummary(count, mean, None, None)
    variance = math.fsum((value - mean) ** 2 for value in values) / (count - 1)
    half = Z_95 * math.sqrt(variance / count)
    return MeanSummary(count, mean, (mean - half, mean + half), variance)


def two_means(first: MeanSummary, second: MeanSummary) -> tuple[float, float] | None:
    """(Welch's z, two-sided p from the normal distribution) for two means; None when undefined."""
    if first.variance is None or second.variance is None:
        return None
    error = math.sqrt(first.variance / first.count + second.variance / second.count)
    if error == 0:
        return None
    z = (first.mean - second.mean) / error
    return z, normal_p_two_sided(z)


def sample_size_for_means(variance_1: float, variance_2: float, difference: float, *, z_alpha: float = Z_95,
                          z_power: float = Z_POWER_80) -> int | None:
    """Values per arm needed to detect `difference` between two means with these variances."""
    if difference == 0:
        return None
    return math.ceil((z_alpha + z_power) ** 2 * (variance_1 + variance_2) / difference ** 2)
