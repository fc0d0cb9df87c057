"""Effective robustness as imagenet-testbed defines it (Taori et al. 2020; Fang et al. 2022).

Accuracies of baseline models (trained on the narrow, ImageNet-like distribution) lie on a line
once both axes are logit-transformed. A model's *effective robustness* (ER) is its OOD accuracy
minus the baseline line's prediction at its ID accuracy: how much more robust it is than its ID
accuracy alone would predict. Bands and intervals come from bootstrapping the baseline models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from clipbook.evaluate.stats import Interval, percentile_bounds

_EPS = 1e-4  # accuracies of exactly 0 or 1 have no logit


def logit(accuracy) -> np.ndarray:
    return special.logit(np.clip(np.asarray(accuracy, dtype=float), _EPS, 1 - _EPS))


@dataclass(frozen=True)
class BaselineFit:
    """OOD = expit(slope * logit(ID) + intercept), fitted by least squares in logit space."""

    slope: float
    intercept: float

    def predict(self, id_accuracy) -> np.ndarray:
        return special.expit(self.slope * logit(id_accuracy) + self.intercept)

    def effective_robustness(self, id_accuracy, ood_accuracy) -> np.ndarray:
        return np.asarray(ood_accuracy, dtype=float) - self.predict(id_accuracy)


def fit_baseline(id_accuracy, ood_accuracy) -> BaselineFit:
    x, y = logit(id_accuracy), logit(ood_accuracy)
    if len(x) < 2 or np.ptp(x) == 0:
        raise ValueError("the baseline needs at least two models with different ID accuracies")
    fit = stats.linregress(x, y)
    return BaselineFit(float(fit.slope), float(fit.intercept))


def _bootstrap_fits(id_accuracy, ood_accuracy, n_boot: int, seed: int) -> list[BaselineFit]:
    """Refit on baseline models resampled with replacement (degenerate resamples skipped)."""
    x, y = np.asarray(id_accuracy, dtype=float), np.asarray(ood_accuracy, dtype=float)
    rng = np.random.default_rng(seed)
    fits = []
    for idx in rng.integers(0, len(x), size=(n_boot, len(x))):
        if np.ptp(x[idx]) > 0:
            fits.append(fit_baseline(x[idx], y[idx]))
    return fits


def baseline_band(id_accuracy, ood_accuracy, grid, *, n_boot: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bootstrap band of the baseline line's prediction on ``grid`` (ID accuracies)."""
    predictions = np.stack([f.predict(grid) for f in _bootstrap_fits(id_accuracy, ood_accuracy, n_boot, seed)])
    return percentile_bounds(predictions, confidence)


def effective_robustness_ci(baseline_id, baseline_ood, id_accuracy, ood_accuracy, *, n_boot: int = 1000,
                            confidence: float = 0.95, seed: int = 0) -> Interval:
    """Mean ER of the given models, with a bootstrap interval over the baseline's uncertainty."""
    point = float(np.mean(fit_baseline(baseline_id, baseline_ood).effective_robustness(id_accuracy, ood_accuracy)))
    values = [np.mean(f.effective_robustness(id_accuracy, ood_accuracy))
              for f in _bootstrap_fits(baseline_id, baseline_ood, n_boot, seed)]
    lo, hi = percentile_bounds(values, confidence)
    return Interval(point, float(lo), float(hi), len(values))


def at_accuracy(id_accuracy, values, accuracy: float) -> float:
    """A model's ``values`` (one per checkpoint, in training order) when its ID accuracy first
    reached ``accuracy``: linear in logit(ID) between the checkpoint before and the first at or
    above it. NaN when the model never got there, or was already past it at its first
    checkpoint (what it was below that is not measured)."""
    x, y = logit(id_accuracy), np.asarray(values, dtype=float)
    target = float(logit(accuracy))
    reached = np.flatnonzero(x >= target)
    if len(reached) == 0 or (reached[0] == 0 and x[0] > target):
        return float("nan")
    k = reached[0]
    if x[k] == target:
        return float(y[k])
    w = (target - x[k - 1]) / (x[k] - x[k - 1])
    return float(y[k - 1] + w * (y[k] - y[k - 1]))


def overlap_midpoint(a, b) -> float:
    """The middle of the range two sets of accuracies share; NaN when they do not overlap."""
    lo, hi = max(np.min(a), np.min(b)), min(np.max(a), np.max(b))
    return float((lo + hi) / 2) if lo <= hi else float("nan")


def line_gap(a: pd.DataFrame, b: pd.DataFrame, at: float, *, group: str = "seed", n_boot: int = 1000,
             confidence: float = 0.95, seed: int = 0) -> Interval:
    """How far line ``a`` lies above line ``b`` at ID accuracy ``at``: each fitted in logit space to
    its own models' ``id_accuracy`` and ``ood_accuracy`` (:func:`fit_baseline`), the difference of
    their predicted OOD accuracies. The interval is a percentile bootstrap that resamples whole
    ``group`` values (a run's checkpoints are not independent), ``a``'s and ``b``'s separately."""
    rng = np.random.default_rng(seed)

    def columns(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        keys = frame[group].to_numpy()
        return (frame.id_accuracy.to_numpy(float), frame.ood_accuracy.to_numpy(float),
                [np.flatnonzero(keys == k) for k in pd.unique(keys)])

    def predicted(x: np.ndarray, y: np.ndarray) -> float:
        return float(fit_baseline(x, y).predict(at))

    (xa, ya, groups_a), (xb, yb, groups_b) = columns(a), columns(b)
    values = []
    for _ in range(n_boot):
        ia, ib = (np.concatenate([g[i] for i in rng.integers(len(g), size=len(g))]) for g in (groups_a, groups_b))
        if np.ptp(xa[ia]) > 0 and np.ptp(xb[ib]) > 0:
            values.append(predicted(xa[ia], ya[ia]) - predicted(xb[ib], yb[ib]))
    lo, hi = percentile_bounds(values, confidence)
    return Interval(predicted(xa, ya) - predicted(xb, yb), float(lo), float(hi), len(values))


def matched_difference(a: pd.DataFrame, b: pd.DataFrame, column: str = "er") -> dict:
    """``column`` of model ``a`` minus model ``b`` (one model's checkpoints each, with ``step`` and
    ``id_accuracy``) at the ID accuracy both reached: the lower of their final accuracies, where each
    is read along its own trajectory (:func:`at_accuracy`: the first time the model was that
    accurate). NaN when a model was already more accurate at its first checkpoint."""
    a, b = a.sort_values("step"), b.sort_values("step")
    accuracy = min(a.id_accuracy.iloc[-1], b.id_accuracy.iloc[-1])
    value = at_accuracy(a.id_accuracy, a[column], accuracy) - at_accuracy(b.id_accuracy, b[column], accuracy)
    return {"delta_er": value, "accuracy": accuracy}


def final_difference(a: pd.DataFrame, b: pd.DataFrame, column: str = "er") -> dict:
    """``column`` of model ``a`` minus model ``b`` at their last checkpoints (the paper's reading)."""
    a, b = a.sort_values("step").iloc[-1], b.sort_values("step").iloc[-1]
    return {"delta_er": a[column] - b[column], "accuracy": min(a.id_accuracy, b.id_accuracy)}
