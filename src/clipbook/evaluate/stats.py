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


def fixed(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, never a negative zero ("-0.000" reads as a sign the data
    do not have)."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


class Interval(NamedTuple):
    """An estimate with its interval over ``n`` values; ``missing`` values (NaN) were left out,
    which a decision rule does not accept (:mod:`clipbook.evaluate.rules`)."""
    mean: float
    lo: float
    hi: float
    n: int
    confidence: float = 0.95
    missing: int = 0

    def __str__(self) -> str:
        text = f"{fixed(self.mean)} [{fixed(self.lo)}, {fixed(self.hi)}]"
        return text + (f" ({self.missing} of {self.n + self.missing} missing)" if self.missing else "")


UNDECIDED = Interval(float("nan"), float("nan"), float("nan"), 0)
"""A statistic the data at hand cannot give: a claim resting on it is undecided."""


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval of the values that are numbers, counting the NaNs
    left out as ``missing``; a zero-spread sample gets a zero-width interval (which no decision
    rule reads as an estimate)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        raise ValueError("mean_ci needs at least one value")
    missing = int(np.isnan(x).sum())
    x = x[~np.isnan(x)]
    nan = float("nan")
    if len(x) == 0:
        return Interval(nan, nan, nan, 0, confidence, missing)
    mean = float(x.mean())
    if len(x) == 1:
        return Interval(mean, nan, nan, 1, confidence, missing)
    sem = stats.sem(x)
    if sem == 0:
        return Interval(mean, mean, mean, len(x), confidence, missing)
    lo, hi = stats.t.interval(confidence, len(x) - 1, loc=mean, scale=sem)
    return Interval(mean, float(lo), float(hi), len(x), confidence, missing)


def equivalence_power(sd: float, n: int, margin: float, effect: float = 0.0, alpha: float = 0.05,
                      draws: int = 20_000, seed: int = 0) -> float:
    """The chance that two one-sided tests (:class:`~clipbook.evaluate.rules.Within`) confirm
    equivalence within +/- ``margin`` with ``n`` seeds when the true mean effect is ``effect`` and
    seeds vary with standard deviation ``sd`` (normal; simulated with ``draws`` seeded samples):
    the number of seeds an equivalence claim needs."""
    if n < 2 or not sd > 0:
        return float("nan")
    rng = np.random.default_rng(seed)  # a sample's mean and standard deviation, drawn from their exact laws
    mean = rng.normal(effect, sd / np.sqrt(n), size=draws)
    spread = sd * np.sqrt(rng.chisquare(n - 1, size=draws) / (n - 1))
    half = stats.t.ppf(1 - alpha, n - 1) * spread / np.sqrt(n)
    return float(np.mean((mean - half > -margin) & (mean + half < margin)))


def summarize(df: pd.DataFrame, by: str | list[str], value: str, confidence: float = 0.95) -> pd.DataFrame:
    """One row per group: mean, lo, hi, n of ``value``."""
    rows = df.groupby(by, sort=True)[value].apply(lambda v: pd.Series(mean_ci(v, confidence)._asdict()))
    return rows.unstack().reset_index()[[*([by] if isinstance(by, str) else by), "mean", "lo", "hi", "n"]].astype(
        {"n": int})


BOUND_EPS = 1e-4
"""How close to its bound a bounded value is taken to be at most (a value at the bound has no logit)."""


def bounded_ci(values: Sequence[float], bounds: tuple[float, float], confidence: float = 0.95) -> Interval:
    """The mean of a quantity that lives in ``bounds`` (an accuracy in [0, 1], a correlation in
    [-1, 1]) with a Student-t interval computed on the logit of its position between the bounds
    and mapped back: the interval stays within the bounds, where a plain Student-t interval over a
    few seeds can leave them (it is widened, in the rare skewed case, to hold the reported mean).
    Missing values are counted as :func:`mean_ci` counts them."""
    lo, hi = bounds
    x = np.asarray(values, dtype=float)
    plain = mean_ci(x, confidence)
    if plain.n < 2 or plain.hi == plain.lo:
        return plain
    unit = np.clip((x[~np.isnan(x)] - lo) / (hi - lo), BOUND_EPS, 1 - BOUND_EPS)
    z = mean_ci(np.log(unit / (1 - unit)), confidence)
    back = [float(lo + (hi - lo) / (1 + np.exp(-v))) for v in (z.lo, z.hi)]
    return plain._replace(lo=min(back[0], plain.mean), hi=max(back[1], plain.mean))


def ci_table(df: pd.DataFrame, index: str, columns: str, value: str, digits: int = 3,
             bounds: tuple[float, float] | None = None) -> pd.DataFrame:
    """Readable pivot: one cell per (index, column) reading ``mean [lo, hi]`` over seeds, and a last
    column ``seeds`` with how many values each row rests on. A cell of one value shows no
    interval (there is none); with ``bounds``, intervals are :func:`bounded_ci`'s and stay within
    them."""
    rows = []
    for (row, column), group in df.groupby([index, columns], sort=True)[value]:
        ci = mean_ci(group, 0.95) if bounds is None else bounded_ci(group, bounds)
        cell = f"{ci.mean:.{digits}f}" + ("" if ci.n < 2 else f" [{ci.lo:.{digits}f}, {ci.hi:.{digits}f}]")
        rows.append({index: row, columns: column, "cell": cell, "n": ci.n})
    frame = pd.DataFrame(rows)
    table = frame.pivot(index=index, columns=columns, values="cell").rename_axis(columns=None)
    counts = frame.groupby(index).n.agg(["min", "max"])
    return table.assign(seeds=[f"{a}" if a == b else f"{a}-{b}" for a, b in zip(counts["min"], counts["max"])])


def paired_difference(df: pd.DataFrame, value: str, column: str, a: str, b: str, pair_on: str = "seed",
                      confidence: float = 0.95) -> Interval:
    """CI of ``value[a] - value[b]``, paired on ``pair_on`` (the same seed sees the same data). A
    seed that lacks one of the two arms, or has no value there, is a missing pair (counted in the
    interval, never silently left out); two rows of one arm at one seed are refused."""
    rows = df[df[column].isin([a, b])]
    twice = rows[rows.duplicated([pair_on, column], keep=False)]
    if not twice.empty:
        raise ValueError(f"paired_difference: {column} {sorted(set(twice[column]))} has several rows at "
                         f"{pair_on} {sorted(set(twice[pair_on]))}; pair one value per arm")
    wide = rows.pivot(index=pair_on, columns=column, values=value).reindex(columns=[a, b])
    return mean_ci((wide[a] - wide[b]).to_numpy(dtype=float), confidence)


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
