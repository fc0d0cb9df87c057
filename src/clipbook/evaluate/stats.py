"""Means with confidence intervals over seeds, paired differences, rank correlations.

Every number a claim rests on is reported with a 95% interval over independent seeds
(Student-t, since a chapter runs a handful of seeds).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from scipy import stats


class Interval(NamedTuple):
    mean: float
    lo: float
    hi: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


UNDECIDED = Interval(float("nan"), float("nan"), float("nan"), 0)
"""A statistic the data at hand cannot give: a claim resting on it is undecided."""


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval; a zero-spread sample gets a zero-width interval."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(x.mean())
    if len(x) == 1:
        return Interval(mean, float("nan"), float("nan"), 1)
    sem = stats.sem(x)
    if sem == 0:
        return Interval(mean, mean, mean, len(x))
    lo, hi = stats.t.interval(confidence, len(x) - 1, loc=mean, scale=sem)
    return Interval(mean, float(lo), float(hi), len(x))


def equivalence(values: Sequence[float], margin: float, alpha: float = 0.05) -> bool | None:
    """Two one-sided tests (TOST) at level ``alpha``, read off the ``1 - 2 alpha`` Student-t
    interval: True (equivalent) when it lies within +/- ``margin``, False (different by more than
    the margin) when it lies wholly outside, None (the data cannot decide) when it straddles
    a bound. An interval that is not a number decides nothing either."""
    interval = mean_ci(values, 1 - 2 * alpha)
    if not (np.isfinite(interval.lo) and np.isfinite(interval.hi)):
        return None
    if -margin < interval.lo and interval.hi < margin:
        return True
    if interval.lo >= margin or interval.hi <= -margin:
        return False
    return None


def equivalence_power(sd: float, n: int, margin: float, effect: float = 0.0, alpha: float = 0.05,
                      draws: int = 20_000, seed: int = 0) -> float:
    """The chance that :func:`equivalence` confirms equivalence with ``n`` seeds when the true
    mean effect is ``effect`` and seeds vary with standard deviation ``sd`` (normal; simulated
    with ``draws`` seeded samples): the number of seeds an equivalence claim needs."""
    x = np.random.default_rng(seed).normal(effect, sd, size=(draws, n))
    half = stats.t.ppf(1 - alpha, n - 1) * x.std(axis=1, ddof=1) / np.sqrt(n)
    mean = x.mean(axis=1)
    return float(np.mean((mean - half > -margin) & (mean + half < margin)))


def summarize(df: pd.DataFrame, by: str | list[str], value: str, confidence: float = 0.95) -> pd.DataFrame:
    """One row per group: mean, lo, hi, n of ``value``."""
    rows = df.groupby(by, sort=True)[value].apply(lambda v: pd.Series(mean_ci(v, confidence)._asdict()))
    return rows.unstack().reset_index().astype({"n": int})


def ci_table(df: pd.DataFrame, index: str, columns: str, value: str, digits: int = 3) -> pd.DataFrame:
    """Readable pivot: one cell per (index, column) reading ``mean [lo, hi]``."""
    summary = summarize(df, [index, columns], value)
    text = summary.apply(lambda r: f"{r['mean']:.{digits}f} [{r['lo']:.{digits}f}, {r['hi']:.{digits}f}]", axis=1)
    return summary.assign(cell=text).pivot(index=index, columns=columns, values="cell").rename_axis(columns=None)


def paired_difference(df: pd.DataFrame, value: str, column: str, a: str, b: str, pair_on: str = "seed") -> Interval:
    """CI of ``value[a] - value[b]``, paired on ``pair_on`` (the same seed sees the same data)."""
    wide = df.pivot_table(index=pair_on, columns=column, values=value)
    return mean_ci((wide[a] - wide[b]).to_numpy())


def spearman_per_group(df: pd.DataFrame, x: str, y: str, group: str = "seed") -> pd.Series:
    """Spearman correlation of ``y`` with ``x`` within each group (e.g. over a sweep, per seed)."""
    return df.groupby(group).apply(lambda g: stats.spearmanr(g[x], g[y]).statistic, include_groups=False)


def percentile_bounds(values, confidence: float = 0.95) -> tuple:
    """The central ``confidence`` interval of bootstrap values: their ``(1 - c) / 2`` and
    ``1 - (1 - c) / 2`` quantiles (per column of a 2-D array)."""
    alpha = (1 - confidence) / 2
    return np.quantile(values, alpha, axis=0), np.quantile(values, 1 - alpha, axis=0)


def spearman_ci(x: Sequence[float], y: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000,
                seed: int = 0) -> Interval:
    """Spearman's rho of ``y`` with ``x`` and a percentile bootstrap interval over the pairs
    (resampled together); ``n`` is the number of pairs. Resamples that leave either variable
    constant have no correlation and are dropped."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y) or len(x) < 3:
        raise ValueError("spearman_ci needs two equally long samples of at least three values")
    with warnings.catch_warnings():  # a constant sample has no correlation: NaN, said in the docstring
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = float(stats.spearmanr(x, y).statistic)
    idx = np.random.default_rng(seed).integers(len(x), size=(n_resamples, len(x)))
    rx, ry = stats.rankdata(x[idx], axis=1), stats.rankdata(y[idx], axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (rx * ry).sum(axis=1) / np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    boot = boot[np.isfinite(boot)]
    if len(boot) == 0 or not np.isfinite(rho):
        return Interval(rho, float("nan"), float("nan"), len(x))
    lo, hi = percentile_bounds(boot, confidence)
    return Interval(rho, float(lo), float(hi), len(x))
