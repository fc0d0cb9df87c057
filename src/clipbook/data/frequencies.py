"""Class-frequency profiles: how many training examples each class gets.

Wen et al. (2024) compare pre-training sets by their class-frequency curves: ImageNet-Captions
is nearly balanced, LAION-derived sets are heavily long-tailed. A profile is ``"uniform"``,
``"power_law"`` (frequency of the class of rank ``r`` proportional to ``r ** -alpha``), or a
real frequency file (``classname<TAB>count``; three ship with the package, measured by
github.com/CVMI-Lab/clip-beyond-tail, MIT licence in ``resources/class_frequencies/LICENSE``).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

FREQUENCY_FILES = ("incaps_imagenet_ori", "laionet_thresh0.7_ori", "laion400m_imagenet_ori")
"""Shipped files, by name: ImageNet-Captions (slope about -0.4), LAIONet (about -1.9), LAION-400M."""


def _frequency_path(name_or_path: str | Path):
    name = str(name_or_path).removesuffix(".tsv")
    if name in FREQUENCY_FILES:
        return resources.files("clipbook") / "resources" / "class_frequencies" / f"{name}.tsv"
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"class-frequency file {name_or_path!r} not found: pass one of "
                                f"{', '.join(FREQUENCY_FILES)} or the path of a classname<TAB>count file")
    return path


def load_frequency_file(name_or_path: str | Path) -> pd.Series:
    """Class name -> count, in file order (for the shipped files: the standard ImageNet order).

    Each line is UTF-8 text ``classname<TAB>count`` with a non-negative integer count in ASCII digits;
    anything else is an error naming the file and the line."""
    path = _frequency_path(name_or_path)
    names, counts = [], []
    with path.open("rb") as f:  # importlib.resources paths may not be real files
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{name_or_path}, line {number}: not UTF-8 text (save the file as UTF-8)") from None
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 2 or not fields[0] or not re.fullmatch(r"[0-9]+", fields[1].strip()):
                raise ValueError(f"{name_or_path}, line {number}: expected 'classname<TAB>count' with a "
                                 f"non-negative integer count, got {line.rstrip()!r}")
            names.append(fields[0])
            counts.append(int(fields[1]))
    if not counts:
        raise ValueError(f"{name_or_path}: no 'classname<TAB>count' line")
    return pd.Series(counts, index=pd.Index(names, name="classname"), name="count")


def loglog_slope(counts, min_count: int = 1) -> float:
    """Least-squares slope of log(count) against log(rank): 0 is balanced, -1 is Zipf (Chapter 6
    compares the real profiles with it: ImageNet-Captions about -0.4, LAIONet about -1.9).

    Counts are ranked in decreasing order; classes below ``min_count`` (zeros have no logarithm)
    are left out of the fit.
    """
    ranked = np.sort(np.asarray(counts, dtype=float))[::-1]
    ranks = np.arange(1, len(ranked) + 1)
    keep = ranked >= min_count
    if keep.sum() < 2:
        raise ValueError("need at least two classes with a positive count to fit a slope")
    return float(stats.linregress(np.log(ranks[keep]), np.log(ranked[keep])).slope)


def profile_weights(profile: str, n_classes: int, alpha: float = 1.0) -> np.ndarray:
    """Relative frequency of each of ``n_classes`` classes under a profile (sums to 1).

    Uniform and power-law weights are head first (class 0 most frequent). A frequency file with
    exactly ``n_classes`` rows keeps its own order (row i is class i); a longer file is
    subsampled at evenly spaced ranks, head first, which transplants the shape of its tail onto
    fewer classes.
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    if profile == "uniform":
        weights = np.ones(n_classes)
    elif profile == "power_law":
        weights = np.arange(1, n_classes + 1, dtype=float) ** -alpha
    else:
        counts = load_frequency_file(profile).to_numpy(dtype=float)
        if n_classes > len(counts):
            raise ValueError(f"frequency file {profile!r} has {len(counts)} classes, fewer than {n_classes}")
        if n_classes < len(counts):
            ranked = np.sort(counts)[::-1]
            counts = ranked[np.round(np.linspace(0, len(ranked) - 1, n_classes)).astype(int)]
        weights = counts
    if weights.sum() <= 0:
        raise ValueError(f"profile {profile!r} gives every class a zero count")
    return weights / weights.sum()


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total`` (Hamilton's method)."""
    quota = np.asarray(weights, dtype=float) / np.sum(weights) * total
    counts = np.floor(quota).astype(np.int64)
    short = total - counts.sum()
    counts[np.argsort(-(quota - counts), kind="stable")[:short]] += 1
    return counts


def class_counts(profile: str, n_classes: int, n_total: int, alpha: float = 1.0,
                 min_count: int = 0) -> np.ndarray:
    """Exact number of examples per class: ``n_total`` split by the profile, each class at least ``min_count``.

    Exact counts (rather than sampled labels) keep the profile free of sampling noise, so a
    small data set still has the tail it was asked for.
    """
    spare = n_total - min_count * n_classes
    if spare < 0:
        raise ValueError(f"{n_total} examples cannot give each of {n_classes} classes {min_count}")
    return min_count + largest_remainder(profile_weights(profile, n_classes, alpha), spare)
