"""Power and seeds: what a design can decide, read off the interval a chapter reports.

A Student-t interval's half-width gives the spread over seeds behind it; from the spread follow the
chance that a rule's bound is cleared when the true effect has a given size (the noncentral t
distribution, exactly), the seeds that would raise that chance to :data:`TARGET_POWER`, and the seeds
that would decide an undecided claim at the mean and spread a run observed. A sample with no spread
at all is decided, if at all, by the exact sign test.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

from clipbook.evaluate.stats import Interval

TARGET_POWER = 0.8
"""The power at which a design counts as able to decide: the seeds a claim needs are read here."""
MAX_SEEDS = 10_000
"""The largest number of seeds the searches for seeds try."""


def sign_test_decides(x: Interval) -> bool:
    """Whether ``n`` values that all equal one number (no spread: a Student-t interval of zero width
    is no estimate) decide a one-sided question by the exact sign test: all ``n`` on one side has
    chance ``0.5 ** n`` when the median sits on the bound, to be below the interval's one-sided
    error ``(1 - confidence) / 2`` (six values or more at 95%)."""
    return 0.5 ** x.n < (1 - x.confidence) / 2


def sign_test_seeds(confidence: float) -> int:
    """The fewest identical values :func:`sign_test_decides` accepts."""
    return math.floor(math.log2(2 / (1 - confidence))) + 1


def standard_error(x: Interval) -> float:
    """The standard error behind a Student-t interval (for a bootstrap interval, the normal-theory
    one its half-width implies)."""
    return (x.hi - x.lo) / (2 * stats.t.ppf(1 - (1 - x.confidence) / 2, x.n - 1))


def one_sided_power(gap: float, sd: float, n: int, confidence: float = 0.95) -> float:
    """P(the lower bound of a ``confidence`` Student-t interval over ``n`` values clears a
    threshold) when the true mean lies ``gap`` beyond it and values spread with ``sd``: the
    noncentral t distribution, exactly."""
    if n < 2 or not math.isfinite(gap) or not sd > 0:
        return float("nan")
    critical = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
    return float(stats.nct.sf(critical, n - 1, gap * math.sqrt(n) / sd))


def seeds_needed(power, target: float = TARGET_POWER, limit: int = MAX_SEEDS) -> int | None:
    """The smallest ``n`` >= 2 with ``power(n) >= target`` (power grows with ``n``); None when even
    ``limit`` falls short or power is not a number."""
    if not power(limit) >= target:
        return None
    lo, hi = 2, limit
    while lo < hi:
        mid = (lo + hi) // 2
        if power(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def seeds_to_decide(x: Interval, distance: float, limit: int = MAX_SEEDS) -> int | None:
    """The fewest values at which an interval with ``x``'s mean and spread would be narrower, on one
    side, than ``distance`` (how far its mean lies from the bound it would have to clear): how many
    seeds would decide an undecided claim if the mean and spread stayed what this run saw (more than
    it ran). None when no feasible number would."""
    if not distance > 0:
        return None
    sd = standard_error(x) * math.sqrt(x.n)

    def clears(n: int) -> bool:
        return stats.t.ppf(1 - (1 - x.confidence) / 2, n - 1) * sd / math.sqrt(n) < distance

    n = seeds_needed(lambda n: float(clears(n)), target=1.0, limit=limit)
    return None if n is None else max(n, x.n + 1)  # the run's own seeds did not decide it


def poisson_binomial_at_least(k: int, p: Sequence[float]) -> float:
    """P(at least ``k`` of independent events with probabilities ``p`` happen)."""
    dist = np.array([1.0])
    for q in p:
        dist = np.convolve(dist, [1 - q, q])
    return float(dist[k:].sum())
